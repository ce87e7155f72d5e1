/*
 * policy.h - from verdict to action, per recipient domain.
 *
 * Pure: no I/O. Built from the configuration once; read-only afterwards.
 */
#ifndef HS_POLICY_H
#define HS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/verdict.h"

struct policy_rule {
	enum policy_action action[VERDICT_COUNT];
};

struct policy {
	struct policy_rule def;		/* the policy { } section */
	char		**domains;	/* domain "example.com" { } overrides */
	struct policy_rule *rules;
	size_t		 ndomains;
	char		*subject_tag;	/* ACTION_TAG: put in front of the subject */
	char		*tag_header_name;	/* ACTION_TAG, ACTION_CLEAN; "" for none */
	char		*tag_header_text;	/* template: $verdict $reason $score */
};

/* Built-in defaults: deliver clean mail, hold everything else. */
void	 policy_defaults(struct policy *p);
void	 policy_clear(struct policy *p);
/* The policy a configuration describes. */
void	 policy_from_config(struct policy *p, const struct hs_config *conf);
/*
 * The action for verdict v and a message to these recipients: the
 * default rule, or a domain rule when every recipient is in that domain
 * (mixed messages take the most careful of their domains' actions).
 */
enum policy_action policy_decide(const struct policy *p, enum verdict v,
	    const char *const *rcpts, size_t nrcpts);
/*
 * The next safer action, for when action a cannot be carried out: a
 * deliver-cleaned that cannot clean (no part scanner, not MIME, the bad
 * part is the whole body, or the cleaned copy still scans as blocked or
 * infected) becomes quarantine, the next action in holdscan's order of
 * caution (deliver, tag, deliver-cleaned, quarantine, hold). Other
 * actions are returned unchanged.
 */
enum policy_action policy_fallback(enum policy_action a);

#endif
