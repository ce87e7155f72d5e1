/*
 * NAME
 *	verdict - names of scan verdicts
 * DESCRIPTION
 *	The names appear in logs, the quarantine index and the config file,
 *	so they never change. This module must never return NULL.
 */
#include <string.h>

#include "common/verdict.h"

static const char *const verdict_names[VERDICT_COUNT] = {
	[VERDICT_CLEAN] = "clean",
	[VERDICT_SPAM] = "spam",
	[VERDICT_HIGH_SPAM] = "high-spam",
	[VERDICT_BLOCKED] = "blocked",
	[VERDICT_INFECTED] = "infected",
	[VERDICT_FAILED] = "scan-failed",
};

const char *
verdict_name(enum verdict v)
{
	if ((unsigned)v >= VERDICT_COUNT)
		return ("unknown");
	return (verdict_names[v]);
}

int
verdict_parse(const char *name)
{
	int	 i;

	for (i = 0; i < VERDICT_COUNT; i++)
		if (strcmp(verdict_names[i], name) == 0)
			return (i);
	return (-1);
}
