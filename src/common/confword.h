/*
 * confword.h - the words of holdscan.conf's values: the actions, verdict
 * lists and copy address lists that the policy, domain and rule sections
 * say (common/confword.c).
 */
#ifndef HS_CONFWORD_H
#define HS_CONFWORD_H

#include <stddef.h>

#include "common/verdict.h"

/* Policy action for one verdict. */
enum policy_action {
	ACTION_DELIVER,
	ACTION_TAG,		/* deliver with headers and subject tag */
	ACTION_CLEAN,		/* deliver-cleaned */
	ACTION_QUARANTINE,
	ACTION_DROP,
	ACTION_HOLD,		/* leave aside for the admin */
};

/* Addresses in one copy_<verdict> list, at most. */
#define CONFWORD_ADDRESSES_MAX	10

/* "deliver", "quarantine", ... and back; -1 for an unknown name. */
const char *confword_action_name(enum policy_action a);
int	 confword_action_parse(const char *name);

/*
 * confword_policy_check() checks value as the action for the policy key
 * of verdict v: NULL with the action in *a_r, or what is wrong.
 */
const char *confword_policy_check(int v, const char *value, int *a_r);

/*
 * A verdict list ("infected, blocked"; the names of verdict.h, or with
 * "_" for "-" as in the policy section) as a bit mask, bit v for verdict
 * v; 0 for an empty list. The list was checked when it was loaded.
 */
unsigned confword_verdict_mask(const char *list);
/* NULL if every word of list is a verdict, else the problem (in buf). */
const char *confword_verdicts_check(const char *list, char *buf, size_t size);
/*
 * NULL if list holds at most CONFWORD_ADDRESSES_MAX mail addresses
 * (copy_<verdict>: "local@domain", printable ASCII without quotes,
 * brackets, commas or semicolons), else the problem (in buf).
 */
const char *confword_addresses_check(const char *list, char *buf,
	    size_t size);

#endif
