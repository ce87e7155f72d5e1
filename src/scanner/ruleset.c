/*
 * NAME
 *	ruleset - match the rulesets of holdscan.conf against a message
 * DESCRIPTION
 *	A rule matches when every condition it has holds (a rule without
 *	conditions matches everything); a condition holds when one of its
 *	words matches:
 *
 *	sender, recipient
 *		user@example.org (that address), example.org or
 *		@example.org (that domain), .example.org (its subdomains,
 *		not itself), <> (the null sender), * (any), /regex/ (PCRE2
 *		on the whole address); all without regard to case;
 *	client	a network or address (the queue file's client_address
 *		record: never a Received: header); no record, no match;
 *	sasl	yes (a SASL user), no (none), a user name or /regex/ (the
 *		sasl_username record);
 *	direction
 *		outbound (a SASL user, a client in internal_networks, or no
 *		client address: a local submission) or inbound (the rest).
 *
 *	Within a ruleset the first matching rule wins. Every ruleset is
 *	consulted, in file order; for each setting (an action per verdict,
 *	html_disarm, highlight_phishing, scanners, spam_threshold,
 *	high_spam_threshold) the first ruleset
 *	whose matching rule sets it decides; what no matching rule sets
 *	comes from the recipient's domain section, then the policy section.
 *
 *	A message is not split: when its recipients get different settings
 *	the strictest applies (scanners: the union; actions: the most
 *	careful per verdict, as policy_combine() orders them; html_disarm
 *	and highlight_phishing: the union of their verdicts; spam
 *	thresholds: the lowest, by taking the most severe verdict any
 *	recipient's thresholds give).
 *
 *	Regular expressions run with PCRE2's match and depth limits; one
 *	that hits a limit does not match. This module must never do I/O,
 *	never log (out of memory is fatal, as xalloc.h's), and never read a
 *	header of the message.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "common/lists.h"
#include "common/log.h"
#include "common/ruleconf.h"
#include "common/xalloc.h"
#include "scanner/ruleset.h"

#define MATCH_LIMIT	100000
#define DEPTH_LIMIT	1000

enum word_type {
	W_ANY,
	W_NULL,		/* <> */
	W_ADDRESS,	/* user@domain */
	W_DOMAIN,	/* domain, @domain */
	W_SUBDOMAIN,	/* .domain */
	W_REGEX,
	W_NET,
	W_SASL_YES,
	W_SASL_NO,
	W_NAME,		/* a SASL user name */
	W_INBOUND,
	W_OUTBOUND,
};

struct word {
	enum word_type	 type;
	char		*text;		/* lower-cased; a network's normal form */
	pcre2_code	*re;
};

struct cond {
	struct word	*words;
	size_t		 nwords;
};

struct rule {
	const struct ruleconf_rule *conf;	/* borrowed from the config */
	struct cond	 cond[RULE_NCOND];
	bool		 has[RULE_NCOND];
	uint64_t	 scanners;
};

struct rset {
	const char	*name;
	struct rule	*rules;
	size_t		 nrules;
};

struct ruleset {
	struct rset	*sets;
	size_t		 nsets;
	char		**internal;	/* normalised networks */
	size_t		 ninternal;
	size_t		 nscanners;
	pcre2_match_context *mctx;
};

static void
word_clear(struct word *w)
{
	free(w->text);
	if (w->re != NULL)
		pcre2_code_free(w->re);
}

/* One word of condition c into w: 0, or -1 with a sentence in errors. */
static int
word_compile(enum rule_cond c, const char *s, struct word *w, struct buf *err)
{
	char		 why[200], norm[LIST_VALUE_SIZE];
	PCRE2_UCHAR	 msg[160];
	PCRE2_SIZE	 off;
	size_t		 len = strlen(s), plen;
	int		 code;

	memset(w, 0, sizeof(*w));
	if (s[0] == '/' && c != RULE_CLIENT && c != RULE_DIRECTION) {
		plen = s[len - 1] == 'i' ? len - 3 : len - 2;
		w->type = W_REGEX;
		w->re = pcre2_compile((PCRE2_SPTR)s + 1, plen, PCRE2_CASELESS,
		    &code, &off, NULL);
		if (w->re == NULL) {
			(void)pcre2_get_error_message(code, msg, sizeof(msg));
			buf_printf(err, "%s: %s at offset %zu", s, (char *)msg,
			    (size_t)off);
			return (-1);
		}
		return (0);
	}
	switch (c) {
	case RULE_SENDER:
	case RULE_RECIPIENT:
		if (strcmp(s, "*") == 0)
			w->type = W_ANY;
		else if (strcmp(s, "<>") == 0)
			w->type = W_NULL;
		else if (s[0] == '.')
			w->type = W_SUBDOMAIN;
		else if (s[0] == '@')
			w->type = W_DOMAIN;
		else if (strchr(s, '@') != NULL)
			w->type = W_ADDRESS;
		else
			w->type = W_DOMAIN;
		w->text = xstrdup_lower(w->type == W_DOMAIN && s[0] == '@' ?
		    s + 1 : w->type == W_SUBDOMAIN ? s + 1 : s);
		return (0);
	case RULE_CLIENT:
		if (lists_normalise(LIST_NETWORK, s, norm, why,
		    sizeof(why)) < 0) {
			buf_printf(err, "%s", why);
			return (-1);
		}
		w->type = W_NET;
		w->text = xstrdup(norm);
		return (0);
	case RULE_SASL:
		w->type = strcmp(s, "yes") == 0 ? W_SASL_YES :
		    strcmp(s, "no") == 0 ? W_SASL_NO : W_NAME;
		w->text = xstrdup(s);
		return (0);
	case RULE_DIRECTION:
		w->type = strcmp(s, "outbound") == 0 ? W_OUTBOUND : W_INBOUND;
		return (0);
	}
	buf_printf(err, "%s: unknown condition", s);
	return (-1);
}

static uint64_t
scanner_mask(const struct hs_config *conf, const char *list)
{
	const char	*s = list;
	uint64_t	 m = 0;
	char		*w;
	size_t		 i;

	while ((w = ruleconf_next_word(&s)) != NULL) {
		for (i = 0; i < conf->nscanners && i < 64; i++)
			if (strcmp(conf->scanners[i].name, w) == 0)
				m |= 1ULL << i;
		free(w);
	}
	return (m);
}

static uint64_t
all_scanners(size_t n)
{
	return (n >= 64 ? ~0ULL : (1ULL << n) - 1);
}

int
ruleset_new(const struct hs_config *conf, struct ruleset **rs_r,
    char **errors_r)
{
	struct ruleset	*rs;
	struct buf	 err = BUF_INIT, one = BUF_INIT;
	const char	*s;
	char		*w, norm[LIST_VALUE_SIZE], why[200];
	size_t		 i, j, k;

	*rs_r = NULL;
	rs = xcalloc(1, sizeof(*rs));
	rs->nscanners = conf->nscanners;
	s = conf->internal_networks != NULL ? conf->internal_networks : "";
	while ((w = ruleconf_next_word(&s)) != NULL) {
		if (lists_normalise(LIST_NETWORK, w, norm, why,
		    sizeof(why)) < 0) {
			buf_printf(&err, "internal_networks: %s\n", why);
		} else {
			rs->internal = xreallocarray(rs->internal,
			    rs->ninternal + 1, sizeof(*rs->internal));
			rs->internal[rs->ninternal++] = xstrdup(norm);
		}
		free(w);
	}
	if ((rs->mctx = pcre2_match_context_create(NULL)) == NULL)
		hs_fatalx(EX_OSERR, "pcre2: out of memory");
	(void)pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
	(void)pcre2_set_depth_limit(rs->mctx, DEPTH_LIMIT);
	rs->nsets = conf->rulesets.nsets;
	rs->sets = xcalloc(rs->nsets, sizeof(*rs->sets));
	for (i = 0; i < conf->rulesets.nsets; i++) {
		const struct ruleconf_set *cs = &conf->rulesets.sets[i];
		struct rset	*set = &rs->sets[i];

		set->name = cs->name;
		set->nrules = cs->nrules;
		set->rules = xcalloc(cs->nrules, sizeof(*set->rules));
		for (j = 0; j < cs->nrules; j++) {
			struct rule	*r = &set->rules[j];

			r->conf = &cs->rules[j];
			r->scanners = r->conf->scanners != NULL ?
			    scanner_mask(conf, r->conf->scanners) :
			    all_scanners(conf->nscanners);
			for (k = 0; k < RULE_NCOND; k++) {
				struct cond	*c = &r->cond[k];

				if ((s = r->conf->cond[k]) == NULL)
					continue;
				r->has[k] = true;
				while ((w = ruleconf_next_word(&s)) != NULL) {
					c->words = xreallocarray(c->words,
					    c->nwords + 1, sizeof(*c->words));
					buf_reset(&one);
					if (word_compile((enum rule_cond)k, w,
					    &c->words[c->nwords], &one) == 0)
						c->nwords++;
					else
						buf_printf(&err, "ruleset %s "
						    "rule %s: %s: %s\n",
						    cs->name, r->conf->name,
						    ruleconf_cond_names[k],
						    one.data);
					free(w);
				}
			}
		}
	}
	buf_free(&one);
	if (err.len > 0) {
		err.data[--err.len] = '\0';
		*errors_r = buf_steal(&err, NULL);
		ruleset_free(&rs);
		return (-1);
	}
	buf_free(&err);
	if (rs->nsets == 0) {
		ruleset_free(&rs);
		return (0);
	}
	*rs_r = rs;
	return (0);
}

void
ruleset_free(struct ruleset **rsp)
{
	struct ruleset	*rs = *rsp;
	size_t		 i, j, k, l;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->nsets; i++) {
		for (j = 0; j < rs->sets[i].nrules; j++) {
			struct rule	*r = &rs->sets[i].rules[j];

			for (k = 0; k < RULE_NCOND; k++) {
				for (l = 0; l < r->cond[k].nwords; l++)
					word_clear(&r->cond[k].words[l]);
				free(r->cond[k].words);
			}
		}
		free(rs->sets[i].rules);
	}
	free(rs->sets);
	for (i = 0; i < rs->ninternal; i++)
		free(rs->internal[i]);
	free(rs->internal);
	if (rs->mctx != NULL)
		pcre2_match_context_free(rs->mctx);
	free(rs);
	*rsp = NULL;
}

static bool
regex_match(const struct ruleset *rs, const pcre2_code *re, const char *s)
{
	pcre2_match_data *md;
	int		 rc;

	if ((md = pcre2_match_data_create_from_pattern(re, NULL)) == NULL)
		hs_fatalx(EX_OSERR, "pcre2: out of memory");
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, rs->mctx);
	pcre2_match_data_free(md);
	return (rc >= 0);	/* no match, or a limit: no match */
}

/* Is domain d (lower case) w's domain, or (sub) one of its subdomains? */
static bool
domain_match(const char *d, const char *want, bool sub)
{
	size_t	 dl = strlen(d), wl = strlen(want);

	if (!sub)
		return (strcasecmp(d, want) == 0);
	return (dl > wl + 1 && d[dl - wl - 1] == '.' &&
	    strcasecmp(d + dl - wl, want) == 0);
}

static bool
address_word(const struct ruleset *rs, const struct word *w, const char *a)
{
	const char	*at = strrchr(a, '@');

	switch (w->type) {
	case W_ANY:
		return (true);
	case W_NULL:
		return (a[0] == '\0');
	case W_ADDRESS:
		return (strcasecmp(a, w->text) == 0);
	case W_DOMAIN:
		return (at != NULL && domain_match(at + 1, w->text, false));
	case W_SUBDOMAIN:
		return (at != NULL && domain_match(at + 1, w->text, true));
	case W_REGEX:
		return (regex_match(rs, w->re, a));
	default:
		return (false);
	}
}

static bool
word_match(const struct ruleset *rs, enum rule_cond c, const struct word *w,
    const struct ruleset_env *env, const char *rcpt, bool outbound)
{
	const char	*sasl = env->sasl != NULL ? env->sasl : "";
	int		 prefix;

	switch (c) {
	case RULE_SENDER:
		return (address_word(rs, w, env->sender != NULL ?
		    env->sender : ""));
	case RULE_RECIPIENT:
		return (rcpt != NULL && address_word(rs, w, rcpt));
	case RULE_CLIENT:
		return (env->client != NULL && env->client[0] != '\0' &&
		    lists_net_match(w->text, env->client, &prefix));
	case RULE_SASL:
		if (w->type == W_SASL_YES)
			return (sasl[0] != '\0');
		if (w->type == W_SASL_NO)
			return (sasl[0] == '\0');
		if (sasl[0] == '\0')
			return (false);
		if (w->type == W_REGEX)
			return (regex_match(rs, w->re, sasl));
		return (strcmp(sasl, w->text) == 0);
	case RULE_DIRECTION:
		return (w->type == W_OUTBOUND ? outbound : !outbound);
	}
	return (false);
}

static bool
rule_match(const struct ruleset *rs, const struct rule *r,
    const struct ruleset_env *env, const char *rcpt, bool outbound)
{
	size_t	 k, i;
	bool	 any;

	for (k = 0; k < RULE_NCOND; k++) {
		if (!r->has[k])
			continue;
		any = false;
		for (i = 0; i < r->cond[k].nwords && !any; i++)
			any = word_match(rs, (enum rule_cond)k,
			    &r->cond[k].words[i], env, rcpt, outbound);
		if (!any)
			return (false);
	}
	return (true);
}

static bool
is_outbound(const struct ruleset *rs, const struct ruleset_env *env)
{
	size_t	 i;
	int	 prefix;

	if (env->sasl != NULL && env->sasl[0] != '\0')
		return (true);
	if (env->client == NULL || env->client[0] == '\0')
		return (true);		/* a local submission */
	for (i = 0; rs != NULL && i < rs->ninternal; i++)
		if (lists_net_match(rs->internal[i], env->client, &prefix))
			return (true);
	return (false);
}

/* One recipient's settings. */
struct eff {
	struct policy_rule rule;
	bool		 set[VERDICT_COUNT];
	bool		 disarm_set, highlight_set;
	const char	*copy[VERDICT_COUNT];
	bool		 copy_set[VERDICT_COUNT];
	int		 archive;	/* -1: not set */
	uint64_t	 scanners;
	bool		 scanners_set;
	struct ruleset_thr thr;
};

static bool
thr_equal(const struct ruleset_thr *a, const struct ruleset_thr *b)
{
	return (a->spam_set == b->spam_set && a->high_set == b->high_set &&
	    (!a->spam_set || a->spam == b->spam) &&
	    (!a->high_set || a->high == b->high));
}

static bool
eff_equal(const struct eff *a, const struct eff *b)
{
	return (memcmp(a->rule.action, b->rule.action,
	    sizeof(a->rule.action)) == 0 && a->scanners == b->scanners &&
	    a->rule.html_disarm == b->rule.html_disarm &&
	    a->rule.highlight == b->rule.highlight &&
	    memcmp(a->copy, b->copy, sizeof(a->copy)) == 0 &&
	    (a->archive == 0) == (b->archive == 0) &&
	    thr_equal(&a->thr, &b->thr));
}

static void
fired_add(struct ruleset_choice *c, const char *set, const char *rule)
{
	char	 one[160];
	size_t	 len = strlen(c->fired), n;
	const char *p;

	(void)snprintf(one, sizeof(one), "%s/%s", set, rule);
	n = strlen(one);
	for (p = c->fired; (p = strstr(p, one)) != NULL; p += n)
		if ((p == c->fired || p[-1] == ',' || p[-1] == ':') &&
		    (p[n] == ',' || p[n] == '\0'))
			return;
	(void)snprintf(c->fired + len, sizeof(c->fired) - len, "%s%s",
	    len ? "," : "", one);
}

/* *to (owned, NULL: empty) with the addresses of list it lacks added. */
static void
copy_union(char **to, const char *list)
{
	struct buf	 b = BUF_INIT;
	const char	*s, *t;
	size_t		 n, m;
	bool		 have;

	if (*to == NULL) {	/* the first: as written */
		*to = xstrdup(list != NULL ? list : "");
		return;
	}
	buf_printf(&b, "%s", *to);
	for (s = list; s != NULL && *s != '\0'; s += n) {
		s += strspn(s, ", \t");
		if ((n = strcspn(s, ", \t")) == 0)
			break;
		have = false;
		for (t = b.data; t != NULL && *t != '\0' && !have; t += m) {
			t += strspn(t, ", \t");
			m = strcspn(t, ", \t");
			have = m == n && memcmp(t, s, n) == 0;
		}
		if (!have)
			buf_printf(&b, "%s%.*s", b.len ? " " : "", (int)n, s);
	}
	free(*to);
	*to = buf_steal(&b, NULL);
}

/* The settings for one recipient, and what fired, in c's texts. */
static void
choose_one(const struct ruleset *rs, const struct policy *p,
    const struct ruleset_env *env, const char *rcpt, bool outbound,
    struct eff *e, struct ruleset_choice *c)
{
	size_t		 i, j;
	int		 v;
	bool		 any = false;

	memset(e, 0, sizeof(*e));
	e->rule = *policy_rule_of(p, rcpt);
	e->archive = -1;
	for (v = 0; v < VERDICT_COUNT; v++)
		e->copy[v] = p->copy_to[v];
	e->scanners = all_scanners(rs != NULL ? rs->nscanners : 64);
	buf_printf(&c->explain, "%s:", rcpt != NULL ? rcpt :
	    "(no recipient)");
	for (i = 0; rs != NULL && i < rs->nsets; i++) {
		const struct rset *set = &rs->sets[i];

		for (j = 0; j < set->nrules; j++) {
			const struct rule *r = &set->rules[j];
			const struct ruleconf_rule *cr = r->conf;

			if (!rule_match(rs, r, env, rcpt, outbound))
				continue;
			buf_printf(&c->explain, "%s ruleset %s rule %s",
			    any ? ";" : "", set->name, cr->name);
			any = true;
			fired_add(c, set->name, cr->name);
			for (v = 0; v < VERDICT_COUNT; v++)
				if (cr->set[v] && !e->set[v]) {
					e->set[v] = true;
					e->rule.action[v] = cr->action[v];
					buf_printf(&c->explain, " %s=%s",
					    verdict_name((enum verdict)v),
					    confword_action_name(cr->action[v]));
				}
			if (cr->html_disarm != NULL && !e->disarm_set) {
				e->disarm_set = true;
				e->rule.html_disarm =
				    confword_verdict_mask(cr->html_disarm);
				buf_printf(&c->explain, " html_disarm=\"%s\"",
				    cr->html_disarm);
			}
			if (cr->highlight_phishing != NULL &&
			    !e->highlight_set) {
				e->highlight_set = true;
				e->rule.highlight =
				    confword_verdict_mask(cr->highlight_phishing);
				buf_printf(&c->explain,
				    " highlight_phishing=\"%s\"",
				    cr->highlight_phishing);
			}
			for (v = 0; v < VERDICT_COUNT; v++)
				if (cr->copy_to[v] != NULL && !e->copy_set[v]) {
					e->copy_set[v] = true;
					e->copy[v] = cr->copy_to[v];
					buf_printf(&c->explain, " %s=\"%s\"",
					    ruleconf_copy_names[v],
					    cr->copy_to[v]);
				}
			if (cr->archive >= 0 && e->archive < 0) {
				e->archive = cr->archive;
				buf_printf(&c->explain, " archive=%s",
				    cr->archive ? "yes" : "no");
			}
			if (cr->scanners != NULL && !e->scanners_set) {
				e->scanners_set = true;
				e->scanners = r->scanners;
				buf_printf(&c->explain, " scanners=\"%s\"",
				    cr->scanners);
			}
			if (cr->spam_set && !e->thr.spam_set) {
				e->thr.spam_set = true;
				e->thr.spam = cr->spam_threshold;
				buf_printf(&c->explain, " spam_threshold=%g",
				    cr->spam_threshold);
			}
			if (cr->high_set && !e->thr.high_set) {
				e->thr.high_set = true;
				e->thr.high = cr->high_spam_threshold;
				buf_printf(&c->explain,
				    " high_spam_threshold=%g",
				    cr->high_spam_threshold);
			}
			break;		/* the first match of this ruleset */
		}
	}
	if (!any)
		buf_printf(&c->explain, " no rule (the %s)",
		    policy_rule_of(p, rcpt) == &p->def ? "policy section" :
		    "domain section");
	buf_putc(&c->explain, '\n');
}

void
ruleset_choose(const struct ruleset *rs, const struct policy *p,
    const struct ruleset_env *env, const char *const *rcpts, size_t nrcpts,
    struct ruleset_choice *c)
{
	struct eff	 e, first;
	enum policy_action pair[2];
	size_t		 i, k, n = nrcpts > 0 ? nrcpts : 1;
	int		 v;

	memset(c, 0, sizeof(*c));
	c->outbound = is_outbound(rs, env);
	c->no_archive = true;
	for (i = 0; i < n; i++) {
		choose_one(rs, p, env, nrcpts > 0 ? rcpts[i] : NULL,
		    c->outbound, &e, c);
		/* copies: the union; archived unless every rule says no */
		for (v = 0; v < VERDICT_COUNT; v++)
			copy_union(&c->copy_to[v], e.copy[v]);
		c->no_archive &= e.archive == 0;
		if (i == 0) {
			first = e;
			c->rule = e.rule;
			c->scanners = e.scanners;
		} else {
			if (!eff_equal(&e, &first))
				c->mixed = true;
			c->scanners |= e.scanners;
			/* the strictest: what any recipient's rule disarms */
			c->rule.html_disarm |= e.rule.html_disarm;
			c->rule.highlight |= e.rule.highlight;
			for (v = 0; v < VERDICT_COUNT; v++) {
				pair[0] = c->rule.action[v];
				pair[1] = e.rule.action[v];
				c->rule.action[v] = policy_combine(pair, 2);
			}
		}
		for (k = 0; k < c->nthr; k++)
			if (thr_equal(&c->thr[k], &e.thr))
				break;
		if (k == c->nthr) {
			c->thr = xreallocarray(c->thr, c->nthr + 1,
			    sizeof(*c->thr));
			c->thr[c->nthr++] = e.thr;
		}
	}
	if (c->mixed && c->fired[0] != '\0') {
		char	 tmp[sizeof(c->fired)];

		(void)snprintf(tmp, sizeof(tmp), "strictest:%s", c->fired);
		(void)snprintf(c->fired, sizeof(c->fired), "%s", tmp);
	}
}

void
ruleset_choice_clear(struct ruleset_choice *c)
{
	int	 v;

	for (v = 0; v < VERDICT_COUNT; v++) {
		free(c->copy_to[v]);
		c->copy_to[v] = NULL;
	}
	free(c->thr);
	c->thr = NULL;
	c->nthr = 0;
	buf_free(&c->explain);
}

enum verdict
ruleset_spam_verdict(const struct ruleset_choice *c, enum verdict pv,
    double score, char *why, size_t size)
{
	enum verdict	 best = VERDICT_CLEAN, v;
	bool		 spam, high, any = false;
	size_t		 k;

	if (why != NULL && size > 0)
		why[0] = '\0';
	if (pv > VERDICT_HIGH_SPAM)
		return (pv);
	for (k = 0; k < c->nthr; k++) {
		const struct ruleset_thr *t = &c->thr[k];

		any |= t->spam_set || t->high_set;
		spam = t->spam_set ? score >= t->spam : pv >= VERDICT_SPAM;
		high = t->high_set ? score >= t->high : pv == VERDICT_HIGH_SPAM;
		v = high ? VERDICT_HIGH_SPAM : spam ? VERDICT_SPAM :
		    VERDICT_CLEAN;
		if (v > best)
			best = v;
	}
	if (!any)
		return (pv);
	if (best != pv && why != NULL)
		(void)snprintf(why, size, "%s by the rules' thresholds "
		    "(score %.1f; the plugin said %s)", verdict_name(best),
		    score, verdict_name(pv));
	return (best);
}
