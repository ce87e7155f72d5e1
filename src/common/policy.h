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
	unsigned	 html_disarm;	/* bit v: verdict v's HTML is disarmed */
	unsigned	 highlight;	/* bit v: verdict v's phishing links get a warning */
};

struct policy {
	struct policy_rule def;		/* the policy { } section */
	char		**domains;	/* domain "example.com" { } overrides */
	struct policy_rule *rules;
	size_t		 ndomains;
	char		*subject_tag;	/* ACTION_TAG: put in front of the subject */
	char		*tag_header_name;	/* ACTION_TAG, ACTION_CLEAN; "" for none */
	char		*tag_header_text;	/* template: $verdict $reason $score */
	/* a delivered message with that verdict: its subject tag, or NULL */
	char		*subject_tags[VERDICT_COUNT];
	unsigned	 html_disarm;	/* bit v: verdict v's HTML is disarmed */
	unsigned	 highlight;	/* highlight_phishing: bit v as html_disarm */
	/* delivered with that verdict: a copy to these ("" for none) */
	char		*copy_to[VERDICT_COUNT];
	bool		 html_text;	/* html_disarm_mode = text */
};

/*
 * policy_subject_tag() is the subject tag (a template) of a message
 * delivered with verdict v by action a, or NULL: the verdict's own
 * (subject_tag_spam, ...) for any delivering action, else subject_tag
 * for tag.
 */
const char *policy_subject_tag(const struct policy *p, enum verdict v,
	    enum policy_action a);

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
 * policy_combine() is the most careful of the actions acts[n] (n > 0):
 * hold, then quarantine; drop only when all are drop (a disagreement
 * with drop quarantines); among the delivering actions, the one that
 * changes the message most. policy_decide() combines its recipients'
 * actions with it, and so does a ruleset's "strictest rule".
 */
enum policy_action policy_combine(const enum policy_action *acts, size_t n);
/* The rule for one recipient: its domain section's, or the default (NULL: the default). */
const struct policy_rule *policy_rule_of(const struct policy *p,
	    const char *rcpt);
/*
 * The next safer action, for when action a cannot be carried out: a
 * deliver-cleaned that cannot clean (no part scanner, not MIME, the bad
 * part is the whole body, or the cleaned copy still scans as blocked or
 * infected) becomes quarantine, the next action in holdscan's order of
 * caution (deliver, tag, deliver-cleaned, quarantine, hold). Other
 * actions are returned unchanged.
 */
enum policy_action policy_fallback(enum policy_action a);

/* What became of deliver-cleaned (policy_final()'s clean callback). */
enum policy_clean {
	POLICY_CLEANED,		/* a cleaned copy can be delivered */
	POLICY_CANNOT_CLEAN,	/* falls back: policy_fallback() */
	POLICY_CLEAN_FAILED,	/* beyond the MIME limits: scan failed */
};
typedef enum policy_clean (*policy_clean_fn)(void *arg, char *why,
	    size_t size);

/* The final decision on one message. */
struct policy_outcome {
	enum verdict	 verdict;	/* v, or VERDICT_FAILED */
	enum policy_action action;	/* what holdscand does */
	enum policy_action wanted;	/* the policy's, before a fallback */
	char		 why[256];	/* why action is not wanted, or "" */
};

/*
 * The one decision holdscand's workers and "holdscan scan" both take
 * (scanner/scan.c's scan_decide()): policy_decide() for verdict v; for
 * deliver-cleaned, clean(arg, why, size) tries to clean the message (NULL:
 * it cannot be cleaned); one that cannot be cleaned takes
 * policy_fallback()'s action, one beyond the limits becomes
 * VERDICT_FAILED and takes that verdict's action. out->why says why.
 */
void	 policy_final(const struct policy *p, enum verdict v,
	    const char *const *rcpts, size_t nrcpts, policy_clean_fn clean,
	    void *arg, struct policy_outcome *out);

/*
 * policy_final_rule() is policy_final() with the actions of rule r (a
 * message's combined rule: scanner/ruleset.c's), in place of the
 * policy's for its recipients.
 */
void	 policy_final_rule(const struct policy_rule *r, enum verdict v,
	    policy_clean_fn clean, void *arg, struct policy_outcome *out);

#endif
