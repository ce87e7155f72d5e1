/*
 * ruleconf.h - the ruleset sections of holdscan.conf: their libconfuse
 * schema, reading them into struct hs_config, the checks that need no
 * regular expression library, and printing them back.
 *
 * Matching (PCRE2) is the scanner program's (scanner/ruleset.c): the
 * master and the tool keep the sections as read and never match.
 */
#ifndef HS_RULECONF_H
#define HS_RULECONF_H

#include <stdbool.h>
#include <stdio.h>

#include <confuse.h>

#include "common/buf.h"
#include "common/config.h"

/* The condition keys of a rule, in struct hs_config_rule's cond[] order. */
extern const char *const ruleconf_cond_names[RULE_NCOND];

/*
 * The verdict lists a rule's policy { } may set besides the actions:
 * html_disarm, highlight_phishing (struct hs_config_rule's fields).
 */
#define RULECONF_NLISTS	2
extern const char *const ruleconf_list_names[RULECONF_NLISTS];
/* copy_clean, ..., copy_scan_failed: a rule's policy { } copy lists. */
extern const char *const ruleconf_copy_names[VERDICT_COUNT];

/*
 * ruleconf_copy_listed() says whether addr[len] is an address of verdict
 * v's copy list in conf: the policy section's copy_<v> or a rule's (the
 * master's check of the copies a scanner worker names: it may add those
 * and no other recipient). Compared exactly, as written.
 */
bool	 ruleconf_copy_listed(const struct hs_config *conf, enum verdict v,
	    const char *addr, size_t len);

/*
 * ruleconf_schema() writes the options of a "ruleset NAME { rule NAME {
 * ... policy { ... } } }" section into three arrays the caller owns
 * (room: RULECONF_SCHEMA_MAX each), with policy_keys[] the verdict keys;
 * lenient adds libconfuse's "__unknown" catch-alls. *ruleset_r is the
 * section itself, for the root table.
 */
#define RULECONF_SCHEMA_MAX	32
void	 ruleconf_schema(cfg_opt_t *ruleset, cfg_opt_t *rule, cfg_opt_t *policy,
	    const char *const *policy_keys, bool lenient, cfg_opt_t *section_r);

/*
 * ruleconf_read() reads every ruleset section of cfg (a strict parse)
 * into conf (after the scanners list is resolved), checking what it can
 * without PCRE2: condition syntax, networks, directions, scanner names,
 * thresholds and actions. Each problem is one "name:line: ..." line in
 * errors. internal_networks is checked here too.
 */
void	 ruleconf_read(cfg_t *cfg, const char *const *policy_keys,
	    struct hs_config *conf, const char *name, struct buf *errors);

/* conf's rulesets as holdscand -n prints them. */
void	 ruleconf_print(const struct hs_config *conf,
	    const char *const *policy_keys, FILE *fp);

void	 ruleconf_free(struct hs_config *conf);

/*
 * ruleconf_next_word() splits a condition list: the next word of *s
 * (separated by commas and white space; a "/.../" or "/.../i" regular
 * expression is one word, whatever it holds) into a new string, or NULL
 * at the end; *s moves past it.
 */
char	*ruleconf_next_word(const char **s);

#endif
