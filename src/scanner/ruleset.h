/*
 * ruleset.h - rulesets compiled and matched: which rule applies to each
 * recipient of a message, and the message's strictest combination.
 *
 * Runs in the scanner program only (workers, holdscan scan, the check):
 * the one process that matches. Built from a configuration once,
 * read-only afterwards (workers share it copy-on-write).
 */
#ifndef HS_RULESET_H
#define HS_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/policy.h"
#include "common/verdict.h"

struct ruleset;

/*
 * ruleset_new() compiles conf's rulesets (PCRE2 for /regex/ words; the
 * rest conf's loader checked): 0 with *rs_r (NULL when there is none),
 * or -1 with one line per problem in *errors_r (the caller's).
 */
int	 ruleset_new(const struct hs_config *conf, struct ruleset **rs_r,
	    char **errors_r);
void	 ruleset_free(struct ruleset **rs);

/* What a rule may look at besides the recipient. */
struct ruleset_env {
	const char	*sender;	/* "" for the null sender */
	const char	*client;	/* client_address record, or NULL */
	const char	*sasl;		/* sasl_username record, or NULL */
};

/* Spam thresholds of one recipient: unset ones leave the plugin's verdict. */
struct ruleset_thr {
	bool		 spam_set, high_set;
	double		 spam, high;
};

/* What the rules make of one message. */
struct ruleset_choice {
	struct policy_rule rule;	/* the recipients' actions, combined */
	uint64_t	 scanners;	/* bit i: conf->scanners[i] runs */
	struct ruleset_thr *thr;	/* the recipients' distinct thresholds */
	size_t		 nthr;
	/*
	 * delivered with verdict v: a copy to copy_to[v] (addresses, space
	 * separated, "" for none; owned): the union of the recipients' rules'
	 * copy_<v>, each the policy's when no rule sets it
	 */
	char		*copy_to[VERDICT_COUNT];
	bool		 no_archive;	/* every recipient's rule says archive = no */
	bool		 mixed;		/* recipients under different settings */
	bool		 outbound;	/* the message's direction */
	char		 fired[256];	/* "ruleset/rule,...", for the log */
	struct buf	 explain;	/* one line per recipient, for a person */
};

/*
 * ruleset_choose() finds, for each recipient, the first matching rule of
 * each ruleset (rs may be NULL: none) and the settings they give, over
 * the recipient's domain section and the policy section of p; then the
 * strictest combination for the message: the union of the scanners and
 * of the html_disarm and highlight_phishing verdicts (rule.html_disarm,
 * rule.highlight), the most careful action per verdict (policy_combine()), and each
 * recipient's thresholds kept, so that the lowest decides. c is the
 * caller's to clear with ruleset_choice_clear().
 */
void	 ruleset_choose(const struct ruleset *rs, const struct policy *p,
	    const struct ruleset_env *env, const char *const *rcpts,
	    size_t nrcpts, struct ruleset_choice *c);
void	 ruleset_choice_clear(struct ruleset_choice *c);

/*
 * The verdict of a spam check (HS_KIND_SPAM) that said pv with score
 * under c's thresholds: the most severe over the recipients' thresholds
 * (an unset threshold keeps pv's side of it). Verdicts other than clean,
 * spam and high-spam are returned as they are. why (may be NULL) says
 * what changed, "" when nothing did.
 */
enum verdict ruleset_spam_verdict(const struct ruleset_choice *c,
	    enum verdict pv, double score, char *why, size_t size);

#endif
