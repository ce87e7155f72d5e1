/*
 * NAME
 *	ruleconf - ruleset sections of holdscan.conf: schema, reading, printing
 * DESCRIPTION
 *	A ruleset is a named list of rules; a rule has conditions on the
 *	envelope and the queue file's attribute records (sender, recipient,
 *	client, sasl, direction) and settings (a policy { } subsection:
 *	actions per verdict, html_disarm and highlight_phishing; scanners,
 *	spam_threshold, high_spam_threshold):
 *
 *	    ruleset thresholds {
 *	        rule partner {
 *	            recipient = "partner.example, .partner.example"
 *	            spam_threshold = 8
 *	            policy { spam = tag }
 *	        }
 *	    }
 *
 *	This module reads them from a libconfuse tree after the strict
 *	parse and checks all that needs no regular expression library:
 *	known keys (libconfuse), each condition word, networks (lists.c's
 *	normal form), directions, scanner names (which must be in the
 *	scanners list), thresholds and actions. Regular expressions are
 *	compiled, and their errors reported, by the scanner program
 *	(scanner/ruleset.c), the only process that matches.
 *
 *	It is given what it needs of the rest of the configuration (the
 *	scanners' names, internal_networks) and checks values with
 *	confword.c, so that config.c, which calls it, is never called back.
 *
 *	This module must never exit, log or match; it returns its errors.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <confuse.h>

#include "common/lists.h"
#include "common/ruleconf.h"
#include "common/xalloc.h"

const char *const ruleconf_cond_names[RULE_NCOND] = {
	[RULE_SENDER] = "sender",
	[RULE_RECIPIENT] = "recipient",
	[RULE_CLIENT] = "client",
	[RULE_SASL] = "sasl",
	[RULE_DIRECTION] = "direction",
};

const char *const ruleconf_list_names[RULECONF_NLISTS] = {
	"html_disarm", "highlight_phishing",
};

const char *const ruleconf_copy_names[VERDICT_COUNT] = {
	[VERDICT_CLEAN] = "copy_clean",
	[VERDICT_SPAM] = "copy_spam",
	[VERDICT_HIGH_SPAM] = "copy_high_spam",
	[VERDICT_BLOCKED] = "copy_blocked",
	[VERDICT_INFECTED] = "copy_infected",
	[VERDICT_FAILED] = "copy_scan_failed",
};

#define THRESHOLD_MAX	10000.0

static cfg_opt_t
plain(const char *name)
{
	cfg_opt_t o = CFG_STR(NULL, NULL, CFGF_NONE);

	o.name = (char *)name;
	return (o);
}

void
ruleconf_schema(cfg_opt_t *ruleset, cfg_opt_t *rule, cfg_opt_t *policy,
    const char *const *policy_keys, bool lenient, cfg_opt_t *section_r)
{
	cfg_opt_t	 end = CFG_END();
	cfg_flag_t	 f = lenient ? CFGF_IGNORE_UNKNOWN : CFGF_NONE;
	size_t		 n = 0, i;

	for (i = 0; i < VERDICT_COUNT; i++)
		policy[n++] = plain(policy_keys[i]);
	for (i = 0; i < RULECONF_NLISTS; i++)
		policy[n++] = plain(ruleconf_list_names[i]);
	for (i = 0; i < VERDICT_COUNT; i++)
		policy[n++] = plain(ruleconf_copy_names[i]);
	policy[n++] = plain("archive");
	if (lenient)
		policy[n++] = plain("__unknown");
	policy[n] = end;

	n = 0;
	for (i = 0; i < RULE_NCOND; i++)
		rule[n++] = plain(ruleconf_cond_names[i]);
	rule[n++] = plain("scanners");
	rule[n++] = plain("spam_threshold");
	rule[n++] = plain("high_spam_threshold");
	{
		cfg_opt_t pol = CFG_SEC("policy", policy, f);

		rule[n++] = pol;
	}
	if (lenient)
		rule[n++] = plain("__unknown");
	rule[n] = end;

	n = 0;
	{
		cfg_opt_t r = CFG_SEC("rule", rule,
		    CFGF_TITLE | CFGF_MULTI | CFGF_NO_TITLE_DUPES | f);

		ruleset[n++] = r;
	}
	if (lenient)
		ruleset[n++] = plain("__unknown");
	ruleset[n] = end;
	{
		cfg_opt_t s = CFG_SEC("ruleset", ruleset,
		    CFGF_TITLE | CFGF_MULTI | CFGF_NO_TITLE_DUPES | f);

		*section_r = s;
	}
}

char *
ruleconf_next_word(const char **sp)
{
	const char	*s = *sp, *e;

	s += strspn(s, ", \t\n");
	if (*s == '\0') {
		*sp = s;
		return (NULL);
	}
	if (*s == '/') {
		for (e = s + 1; *e != '\0' && *e != '/'; e++)
			if (*e == '\\' && e[1] != '\0')
				e++;
		if (*e == '/')
			e++;
		while (*e != '\0' && strchr(", \t\n", *e) == NULL)
			e++;	/* flags, or junk the caller refuses */
	} else {
		e = s + strcspn(s, ", \t\n");
	}
	*sp = e;
	return (xstrndup(s, (size_t)(e - s)));
}

/* A "/re/" or "/re/i" word: well formed (the pattern is PCRE2's to check). */
static const char *
check_regex_word(const char *w)
{
	size_t	 len = strlen(w);

	if (len < 3 || w[0] != '/')
		return ("a regular expression is written /expression/ or "
		    "/expression/i");
	if (w[len - 1] == '/' )
		return (NULL);
	if (len >= 4 && w[len - 2] == '/' && w[len - 1] == 'i')
		return (NULL);
	return ("a regular expression is written /expression/ or "
	    "/expression/i");
}

/* An address or domain word of sender or recipient. */
static const char *
check_address_word(const char *w)
{
	const char	*at;

	if (w[0] == '/')
		return (check_regex_word(w));
	if (strcmp(w, "<>") == 0 || strcmp(w, "*") == 0)
		return (NULL);
	if (strlen(w) >= LIST_VALUE_SIZE)
		return ("too long");
	if ((at = strrchr(w, '@')) != NULL && at[1] == '\0')
		return ("an address needs a domain after its '@'");
	if (strpbrk(w, "\"\\<>()[];") != NULL)
		return ("use an address (user@example.org), a domain "
		    "(example.org), its subdomains (.example.org), <> or "
		    "/regular expression/");
	if (strcmp(w, ".") == 0 || strcmp(w, "@") == 0 ||
	    (w[0] == '@' && w[1] == '.'))
		return ("an empty domain");
	return (NULL);
}

static const char *
check_word(enum rule_cond c, const char *w, char *why, size_t size)
{
	char	 norm[LIST_VALUE_SIZE];

	switch (c) {
	case RULE_SENDER:
	case RULE_RECIPIENT:
		return (check_address_word(w));
	case RULE_CLIENT:
		if (lists_normalise(LIST_NETWORK, w, norm, why, size) < 0)
			return (why);
		return (NULL);
	case RULE_SASL:
		if (w[0] == '/')
			return (check_regex_word(w));
		if (strlen(w) > 255)
			return ("too long");
		return (NULL);
	case RULE_DIRECTION:
		if (strcmp(w, "inbound") != 0 && strcmp(w, "outbound") != 0)
			return ("use inbound or outbound");
		return (NULL);
	}
	return ("unknown condition");
}

/* Check every word of a condition list; false when one is wrong. */
static bool
check_cond(enum rule_cond c, const char *value, char *why, size_t size)
{
	const char	*s = value, *w_why;
	char		*w;
	size_t		 n = 0;
	char		 buf[200];

	while ((w = ruleconf_next_word(&s)) != NULL) {
		n++;
		if ((w_why = check_word(c, w, buf, sizeof(buf))) != NULL) {
			if (w_why == buf)	/* lists.c's: names the word */
				(void)snprintf(why, size, "%s", w_why);
			else
				(void)snprintf(why, size, "\"%s\": %s", w,
				    w_why);
			free(w);
			return (false);
		}
		if (c == RULE_SASL && n > 0 && (strcmp(w, "yes") == 0 ||
		    strcmp(w, "no") == 0) && strcmp(value, w) != 0) {
			(void)snprintf(why, size, "\"%s\" stands alone (yes: "
			    "any SASL user, no: none)", w);
			free(w);
			return (false);
		}
		free(w);
	}
	if (n == 0) {
		(void)snprintf(why, size, "empty (leave the condition out to "
		    "match everything)");
		return (false);
	}
	if (c == RULE_DIRECTION && n > 1) {
		(void)snprintf(why, size, "one direction: inbound or outbound");
		return (false);
	}
	return (true);
}

static bool
parse_threshold(const char *s, double *d_r)
{
	char	*end;
	double	 d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    d < -THRESHOLD_MAX || d > THRESHOLD_MAX)
		return (false);
	*d_r = d;
	return (true);
}

/* The scanners a rule may choose: the resolved scanners list's names. */
struct scanners {
	const char *const *names;
	size_t		 n;
};

static bool
in_scanners(const struct scanners *sc, const char *name)
{
	size_t	 i;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->names[i], name) == 0)
			return (true);
	return (false);
}

#define RERR(...) do {							\
	buf_printf(errors, "%s: ruleset %s rule %s: ", name, rs->name,	\
	    r->name);							\
	buf_printf(errors, __VA_ARGS__);				\
	buf_putc(errors, '\n');						\
} while (0)

static void
read_rule(cfg_t *rc, const char *const *policy_keys, const struct scanners *sc,
    const struct ruleconf_set *rs, struct ruleconf_rule *r,
    const char *name, struct buf *errors)
{
	cfg_t		*pol;
	const char	*v, *why;
	char		 buf[256], *w;
	size_t		 i;
	int		 a;

	r->name = xstrdup(cfg_title(rc));
	r->archive = -1;
	for (i = 0; i < RULE_NCOND; i++) {
		if ((v = cfg_getstr(rc, ruleconf_cond_names[i])) == NULL)
			continue;
		if (!check_cond((enum rule_cond)i, v, buf, sizeof(buf)))
			RERR("%s = \"%s\": %s", ruleconf_cond_names[i], v, buf);
		else
			r->cond[i] = xstrdup(v);
	}
	if ((v = cfg_getstr(rc, "scanners")) != NULL) {
		const char	*s = v;
		bool		 ok = true;

		while ((w = ruleconf_next_word(&s)) != NULL) {
			if (!in_scanners(sc, w)) {
				RERR("scanners = \"%s\": %s is not in the "
				    "scanners list (a rule chooses among "
				    "them)", v, w);
				ok = false;
			}
			free(w);
		}
		if (ok)
			r->scanners = xstrdup(v);
		if (ok && sc->n > 64)
			RERR("scanners: rules choose among 64 scanners at most");
	}
	if ((v = cfg_getstr(rc, "spam_threshold")) != NULL) {
		if (!parse_threshold(v, &r->spam_threshold))
			RERR("spam_threshold = \"%s\": a score such as 5 or "
			    "7.5", v);
		else
			r->spam_set = true;
	}
	if ((v = cfg_getstr(rc, "high_spam_threshold")) != NULL) {
		if (!parse_threshold(v, &r->high_spam_threshold))
			RERR("high_spam_threshold = \"%s\": a score such as 10 "
			    "or 12.5", v);
		else
			r->high_set = true;
	}
	if (r->spam_set && r->high_set &&
	    r->high_spam_threshold < r->spam_threshold)
		RERR("high_spam_threshold %g is below spam_threshold %g",
		    r->high_spam_threshold, r->spam_threshold);
	if ((pol = cfg_getsec(rc, "policy")) == NULL)
		return;
	for (i = 0; i < VERDICT_COUNT; i++) {
		if ((v = cfg_getstr(pol, policy_keys[i])) == NULL)
			continue;
		if ((why = confword_policy_check((int)i, v, &a)) != NULL) {
			RERR("policy: %s = \"%s\": %s", policy_keys[i], v, why);
			continue;
		}
		r->action[i] = (enum policy_action)a;
		r->set[i] = true;
	}
	for (i = 0; i < RULECONF_NLISTS; i++) {
		char	**field = i == 0 ? &r->html_disarm :
		    &r->highlight_phishing;

		if ((v = cfg_getstr(pol, ruleconf_list_names[i])) == NULL)
			continue;
		if ((why = confword_verdicts_check(v, buf, sizeof(buf))) != NULL)
			RERR("policy: %s = \"%s\": %s", ruleconf_list_names[i],
			    v, why);
		else
			*field = xstrdup(v);
	}
	for (i = 0; i < VERDICT_COUNT; i++) {
		if ((v = cfg_getstr(pol, ruleconf_copy_names[i])) == NULL)
			continue;
		if (strlen(v) > 500)
			RERR("policy: %s: too long (500 bytes at most)",
			    ruleconf_copy_names[i]);
		else if ((why = confword_addresses_check(v, buf,
		    sizeof(buf))) != NULL)
			RERR("policy: %s = \"%s\": %s", ruleconf_copy_names[i],
			    v, why);
		else
			r->copy_to[i] = xstrdup(v);
	}
	if ((v = cfg_getstr(pol, "archive")) != NULL) {
		if (strcmp(v, "yes") == 0)
			r->archive = 1;
		else if (strcmp(v, "no") == 0)
			r->archive = 0;
		else
			RERR("policy: archive = \"%s\": use yes or no", v);
	}
}

/* Is addr[len] a word of the address list s? */
static bool
list_has(const char *s, const char *addr, size_t len)
{
	size_t	 n;

	for (; s != NULL && *s != '\0'; s += n) {
		s += strspn(s, ", \t");
		n = strcspn(s, ", \t");
		if (n == len && memcmp(s, addr, len) == 0)
			return (true);
	}
	return (false);
}

bool
ruleconf_copy_listed(const struct ruleconf *rc, const char *policy_list,
    enum verdict v, const char *addr, size_t len)
{
	size_t	 i, j;

	if ((unsigned)v >= VERDICT_COUNT || len == 0)
		return (false);
	if (list_has(policy_list, addr, len))
		return (true);
	for (i = 0; i < rc->nsets; i++)
		for (j = 0; j < rc->sets[i].nrules; j++)
			if (list_has(rc->sets[i].rules[j].copy_to[v],
			    addr, len))
				return (true);
	return (false);
}

void
ruleconf_read(cfg_t *cfg, const char *const *policy_keys,
    const char *const *scanners, size_t nscanners,
    const char *internal_networks, struct ruleconf *rc, const char *name,
    struct buf *errors)
{
	struct scanners	 sc;
	const char	*s;
	char		*w, norm[LIST_VALUE_SIZE], why[200];
	size_t		 i, j;

	sc.names = scanners;
	sc.n = nscanners;
	s = internal_networks != NULL ? internal_networks : "";
	while ((w = ruleconf_next_word(&s)) != NULL) {
		if (lists_normalise(LIST_NETWORK, w, norm, why,
		    sizeof(why)) < 0)
			buf_printf(errors, "%s: internal_networks: \"%s\": %s\n",
			    name, w, why);
		free(w);
	}
	rc->nsets = cfg_size(cfg, "ruleset");
	rc->sets = xcalloc(rc->nsets, sizeof(*rc->sets));
	for (i = 0; i < rc->nsets; i++) {
		cfg_t	*rsc = cfg_getnsec(cfg, "ruleset", (unsigned)i);
		struct ruleconf_set *rs = &rc->sets[i];

		rs->name = xstrdup(cfg_title(rsc));
		rs->nrules = cfg_size(rsc, "rule");
		rs->rules = xcalloc(rs->nrules, sizeof(*rs->rules));
		if (rs->nrules == 0)
			buf_printf(errors, "%s: ruleset %s has no rule\n",
			    name, rs->name);
		for (j = 0; j < rs->nrules; j++)
			read_rule(cfg_getnsec(rsc, "rule", (unsigned)j),
			    policy_keys, &sc, rs, &rs->rules[j], name, errors);
	}
}

static void
print_str(FILE *fp, const char *indent, const char *k, const char *v)
{
	const char	*p;

	fprintf(fp, "%s%s = \"", indent, k);
	for (p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', fp);
		fputc(*p, fp);
	}
	fprintf(fp, "\"\n");
}

void
ruleconf_print(const struct ruleconf *rc, const char *const *policy_keys,
    FILE *fp)
{
	size_t	 i, j, k;

	for (i = 0; i < rc->nsets; i++) {
		const struct ruleconf_set *rs = &rc->sets[i];

		fprintf(fp, "ruleset %s {\n", rs->name);
		for (j = 0; j < rs->nrules; j++) {
			const struct ruleconf_rule *r = &rs->rules[j];
			bool	 any = false;

			fprintf(fp, "    rule %s {\n", r->name);
			for (k = 0; k < RULE_NCOND; k++)
				if (r->cond[k] != NULL)
					print_str(fp, "        ",
					    ruleconf_cond_names[k], r->cond[k]);
			if (r->scanners != NULL)
				print_str(fp, "        ", "scanners",
				    r->scanners);
			if (r->spam_set)
				fprintf(fp, "        spam_threshold = %g\n",
				    r->spam_threshold);
			if (r->high_set)
				fprintf(fp, "        high_spam_threshold = %g\n",
				    r->high_spam_threshold);
			for (k = 0; k < VERDICT_COUNT; k++)
				any |= r->set[k];
			any |= r->html_disarm != NULL ||
			    r->highlight_phishing != NULL || r->archive >= 0;
			for (k = 0; k < VERDICT_COUNT; k++)
				any |= r->copy_to[k] != NULL;
			if (any) {
				fprintf(fp, "        policy {\n");
				for (k = 0; k < VERDICT_COUNT; k++)
					if (r->set[k])
						fprintf(fp, "            %s = %s\n",
						    policy_keys[k],
						    confword_action_name(
						    r->action[k]));
				if (r->html_disarm != NULL)
					print_str(fp, "            ",
					    "html_disarm", r->html_disarm);
				if (r->highlight_phishing != NULL)
					print_str(fp, "            ",
					    "highlight_phishing",
					    r->highlight_phishing);
				for (k = 0; k < VERDICT_COUNT; k++)
					if (r->copy_to[k] != NULL)
						print_str(fp, "            ",
						    ruleconf_copy_names[k],
						    r->copy_to[k]);
				if (r->archive >= 0)
					fprintf(fp, "            archive = %s\n",
					    r->archive ? "yes" : "no");
				fprintf(fp, "        }\n");
			}
			fprintf(fp, "    }\n");
		}
		fprintf(fp, "}\n");
	}
}

void
ruleconf_free(struct ruleconf *rc)
{
	size_t	 i, j, k;

	for (i = 0; i < rc->nsets; i++) {
		struct ruleconf_set *rs = &rc->sets[i];

		for (j = 0; j < rs->nrules; j++) {
			struct ruleconf_rule *r = &rs->rules[j];

			free(r->name);
			for (k = 0; k < RULE_NCOND; k++)
				free(r->cond[k]);
			free(r->scanners);
			free(r->html_disarm);
			free(r->highlight_phishing);
			for (k = 0; k < VERDICT_COUNT; k++)
				free(r->copy_to[k]);
		}
		free(rs->rules);
		free(rs->name);
	}
	free(rc->sets);
	rc->sets = NULL;
	rc->nsets = 0;
}
