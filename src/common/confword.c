/*
 * NAME
 *	confword - the words of holdscan.conf's values: actions, verdict
 *	lists, address lists
 * DESCRIPTION
 *	What an action, a list of verdicts or a list of copy addresses may
 *	say, for every part that reads a config (config.c, ruleconf.c) and
 *	every part that acts on one (the master, the scanner, the tool).
 *
 *	This module must never read a file, allocate or keep state: each
 *	answer comes from its arguments alone.
 */
#include <stdio.h>
#include <string.h>

#include "common/confword.h"

static const char *const action_names[] = {
	[ACTION_DELIVER] = "deliver",
	[ACTION_TAG] = "tag",
	[ACTION_CLEAN] = "deliver-cleaned",
	[ACTION_QUARANTINE] = "quarantine",
	[ACTION_DROP] = "drop",
	[ACTION_HOLD] = "hold",
};

const char *
confword_action_name(enum policy_action a)
{
	if ((size_t)a >= sizeof(action_names) / sizeof(action_names[0]))
		return ("?");
	return (action_names[a]);
}

int
confword_action_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(action_names[i], name) == 0)
			return ((int)i);
	return (-1);
}

/* The verdict a name in a verdict list means, or -1. */
static int
verdict_word(const char *w, size_t n)
{
	char	 name[32];
	size_t	 i;

	if (n == 0 || n >= sizeof(name))
		return (-1);
	for (i = 0; i < n; i++)
		name[i] = w[i] == '_' ? '-' : w[i];
	name[n] = '\0';
	return (verdict_parse(name));
}

unsigned
confword_verdict_mask(const char *list)
{
	unsigned	 mask = 0;
	size_t		 len;
	int		 v;

	for (;;) {
		list += strspn(list, ", \t");
		if (*list == '\0')
			return (mask);
		len = strcspn(list, ", \t");
		if ((v = verdict_word(list, len)) >= 0)
			mask |= 1U << v;
		list += len;
	}
}

/* NULL if every word of a verdict list is a verdict, else the problem. */
const char *
confword_verdicts_check(const char *list, char *buf, size_t size)
{
	size_t	 len;

	for (;;) {
		list += strspn(list, ", \t");
		if (*list == '\0')
			return (NULL);
		len = strcspn(list, ", \t");
		if (verdict_word(list, len) < 0) {
			(void)snprintf(buf, size, "unknown verdict \"%.*s\" (use "
			    "clean, spam, high-spam, blocked, infected, "
			    "scan-failed)", (int)(len > 40 ? 40 : len), list);
			return (buf);
		}
		list += len;
	}
}

/*
 * NULL if list holds at most CONFWORD_ADDRESSES_MAX addresses, each one
 * "local@domain" of printable ASCII without quotes, brackets, commas or
 * semicolons (an envelope recipient the master writes as it is), else
 * the problem in buf.
 */
const char *
confword_addresses_check(const char *list, char *buf, size_t size)
{
	const char	*at;
	size_t		 len, i, n = 0;

	for (;;) {
		list += strspn(list, ", \t");
		if (*list == '\0')
			return (NULL);
		len = strcspn(list, ", \t");
		at = memchr(list, '@', len);
		for (i = 0; i < len; i++)
			if ((unsigned char)list[i] < 33 ||
			    (unsigned char)list[i] > 126 ||
			    strchr("\"<>()[];:\\", list[i]) != NULL)
				break;
		if (i < len || len > 254 || at == NULL || at == list ||
		    at == list + len - 1 || memchr(at + 1, '@', len -
		    (size_t)(at + 1 - list)) != NULL) {
			(void)snprintf(buf, size, "\"%.*s\" is not a mail "
			    "address (local@domain)", (int)(len > 60 ? 60 : len),
			    list);
			return (buf);
		}
		if (++n > CONFWORD_ADDRESSES_MAX) {
			(void)snprintf(buf, size, "more than %d addresses",
			    CONFWORD_ADDRESSES_MAX);
			return (buf);
		}
		list += len;
	}
}

const char *
confword_policy_check(int v, const char *value, int *a_r)
{
	static char	 why[200];
	int		 a;

	if ((a = confword_action_parse(value)) < 0)
		return ("use deliver, tag, deliver-cleaned, quarantine, drop or "
		    "hold");
	if (a == ACTION_CLEAN && v != VERDICT_BLOCKED && v != VERDICT_INFECTED) {
		(void)snprintf(why, sizeof(why), "deliver-cleaned removes "
		    "blocked or infected parts, and a %s message has none (use "
		    "tag or deliver)", verdict_name((enum verdict)v));
		return (why);
	}
	if (v == VERDICT_FAILED && (a == ACTION_TAG || a == ACTION_CLEAN))
		return ("a message that could not be scanned can only be "
		    "delivered, quarantined, dropped or held");
	*a_r = a;
	return (NULL);
}
