/*
 * ruleconf.h - the ruleset sections of holdscan.conf: their libconfuse
 * schema, reading them into a struct ruleconf (struct hs_config's
 * rulesets), the checks that need no regular expression library, and
 * printing them back. It knows the config's value words (confword.h),
 * not the config: what it needs of the rest (the scanners' names,
 * internal_networks) is given.
 *
 * Matching (PCRE2) is the scanner program's (scanner/ruleset.c): the
 * master and the tool keep the sections as read and never match.
 */
#ifndef HS_RULECONF_H
#define HS_RULECONF_H

#include <stdbool.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/confword.h"

/* libconfuse's (confuse.h), which only ruleconf.c and config.c include. */
struct cfg_t;
struct cfg_opt_t;

/*
 * A rule { } of a ruleset section (common/ruleconf.c): its conditions as
 * written (NULL: not set) and the settings it gives.
 */
enum rule_cond {
	RULE_SENDER, RULE_RECIPIENT, RULE_CLIENT, RULE_SASL, RULE_DIRECTION,
};
#define RULE_NCOND	5

struct ruleconf_rule {
	char		*name;
	char		*cond[RULE_NCOND];
	char		*scanners;	/* NULL: the scanners list's */
	bool		 spam_set, high_set;
	double		 spam_threshold, high_spam_threshold;
	enum policy_action action[VERDICT_COUNT];
	bool		 set[VERDICT_COUNT];
	/* its policy { }'s verdict lists; NULL: not set (the policy's) */
	char		*html_disarm;
	char		*highlight_phishing;
	/* its policy { }'s copy_<verdict> lists; NULL: not set */
	char		*copy_to[VERDICT_COUNT];
	int		 archive;	/* -1: not set; 0: no; 1: yes */
};

struct ruleconf_set {
	char		*name;
	struct ruleconf_rule *rules;	/* in file order: the first match wins */
	size_t		 nrules;
};

/* The ruleset { } sections of a config, in file order. */
struct ruleconf {
	struct ruleconf_set *sets;
	size_t		 nsets;
};


/* The condition keys of a rule, in struct ruleconf_rule's cond[] order. */
extern const char *const ruleconf_cond_names[RULE_NCOND];

/*
 * The verdict lists a rule's policy { } may set besides the actions:
 * html_disarm, highlight_phishing (struct ruleconf_rule's fields).
 */
#define RULECONF_NLISTS	2
extern const char *const ruleconf_list_names[RULECONF_NLISTS];
/* copy_clean, ..., copy_scan_failed: a rule's policy { } copy lists. */
extern const char *const ruleconf_copy_names[VERDICT_COUNT];

/*
 * ruleconf_copy_listed() says whether addr[len] is an address of verdict
 * v's copy list in policy_list (the policy section's copy_<v>) or in a
 * rule's of rc: the master's check of the copies a scanner worker names
 * (it may add those and no other recipient). Compared exactly, as
 * written.
 */
bool	 ruleconf_copy_listed(const struct ruleconf *rc,
	    const char *policy_list, enum verdict v, const char *addr,
	    size_t len);

/*
 * ruleconf_schema() writes the options of a "ruleset NAME { rule NAME {
 * ... policy { ... } } }" section into three arrays the caller owns
 * (room: RULECONF_SCHEMA_MAX each), with policy_keys[] the verdict keys;
 * lenient adds libconfuse's "__unknown" catch-alls. *ruleset_r is the
 * section itself, for the root table.
 */
#define RULECONF_SCHEMA_MAX	32
void	 ruleconf_schema(struct cfg_opt_t *ruleset, struct cfg_opt_t *rule,
	    struct cfg_opt_t *policy, const char *const *policy_keys,
	    bool lenient, struct cfg_opt_t *section_r);

/*
 * ruleconf_read() reads every ruleset section of cfg (a strict parse)
 * into rc, checking what it can without PCRE2: condition syntax,
 * networks, directions, scanner names (each one of scanners[0..
 * nscanners), the resolved scanners list), thresholds and actions. Each
 * problem is one "name:line: ..." line in errors. internal_networks (as
 * written, or NULL) is checked here too.
 */
void	 ruleconf_read(struct cfg_t *cfg, const char *const *policy_keys,
	    const char *const *scanners, size_t nscanners,
	    const char *internal_networks, struct ruleconf *rc,
	    const char *name, struct buf *errors);

/* rc's rulesets as holdscand -n prints them. */
void	 ruleconf_print(const struct ruleconf *rc,
	    const char *const *policy_keys, FILE *fp);

void	 ruleconf_free(struct ruleconf *rc);

/*
 * ruleconf_next_word() splits a condition list: the next word of *s
 * (separated by commas and white space; a "/.../" or "/.../i" regular
 * expression is one word, whatever it holds) into a new string, or NULL
 * at the end; *s moves past it.
 */
char	*ruleconf_next_word(const char **s);

#endif
