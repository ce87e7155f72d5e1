/*
 * verdict.h - what scanning concluded about one message.
 *
 * Ordered by severity: when several scanners disagree, the most severe
 * verdict wins (policy.c).
 */
#ifndef HS_VERDICT_H
#define HS_VERDICT_H

enum verdict {
	VERDICT_CLEAN = 0,
	VERDICT_SPAM,		/* score above the spam threshold */
	VERDICT_HIGH_SPAM,	/* score above the high-spam threshold */
	VERDICT_BLOCKED,	/* attachment or header rule */
	VERDICT_INFECTED,	/* virus found */
	VERDICT_FAILED,		/* could not be scanned */
};
#define VERDICT_COUNT	6

/* "clean", "spam", "high-spam", "blocked", "infected", "scan-failed" */
const char	*verdict_name(enum verdict v);
int		 verdict_parse(const char *name);

#endif
