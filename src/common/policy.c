/*
 * NAME
 *	policy - decide what happens to a message from its verdict
 * DESCRIPTION
 *	A rule maps each verdict to an action. The default rule comes from
 *	the policy section of holdscan.conf; domain sections override it for
 *	mail whose recipients are in that domain. A message cannot be split,
 *	so when its recipients' domains disagree the most careful action
 *	wins: hold, then quarantine; drop only when all agree on it (a
 *	disagreement with drop quarantines, for the admin to decide); among
 *	the delivering actions, the one that changes the message most.
 *	When deliver-cleaned cannot clean, policy_fallback() names what
 *	happens instead: quarantine. policy_final() is the whole decision,
 *	the fallback included, that a scanner worker takes and that
 *	"holdscan scan" predicts: both call it, so they cannot disagree.
 *
 *	This module must never do I/O or allocate in policy_decide().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/policy.h"
#include "common/xalloc.h"

void
policy_defaults(struct policy *p)
{
	int	 v;

	memset(p, 0, sizeof(*p));
	for (v = 0; v < VERDICT_COUNT; v++)
		p->def.action[v] = ACTION_HOLD;
	p->def.action[VERDICT_CLEAN] = ACTION_DELIVER;
	p->subject_tag = xstrdup("[SPAM]");
	p->tag_header_name = xstrdup("X-Holdscan-Verdict");
	p->tag_header_text = xstrdup("$verdict ($reason)");
}

void
policy_from_config(struct policy *p, const struct hs_config *conf)
{
	size_t	 i;
	int	 v;

	policy_defaults(p);
	for (v = 0; v < VERDICT_COUNT; v++)
		p->def.action[v] = conf->policy_action[v];
	free(p->subject_tag);
	p->subject_tag = xstrdup(conf->subject_tag);
	free(p->tag_header_name);
	p->tag_header_name = xstrdup(conf->tag_header_name);
	free(p->tag_header_text);
	p->tag_header_text = xstrdup(conf->tag_header_text);
	for (v = 0; v < VERDICT_COUNT; v++)
		if (conf->subject_tags[v] != NULL &&
		    conf->subject_tags[v][0] != '\0')
			p->subject_tags[v] = xstrdup(conf->subject_tags[v]);
	p->html_disarm = confword_verdict_mask(conf->html_disarm != NULL ?
	    conf->html_disarm : "");
	for (v = 0; v < VERDICT_COUNT; v++)
		p->copy_to[v] = xstrdup(conf->copy_to[v] != NULL ?
		    conf->copy_to[v] : "");
	p->highlight = confword_verdict_mask(conf->highlight_phishing != NULL ?
	    conf->highlight_phishing : "");
	p->def.html_disarm = p->html_disarm;
	p->def.highlight = p->highlight;
	p->html_text = conf->html_disarm_mode != NULL &&
	    strcmp(conf->html_disarm_mode, "text") == 0;
	p->ndomains = conf->ndomains;
	p->domains = xcalloc(conf->ndomains, sizeof(*p->domains));
	p->rules = xcalloc(conf->ndomains, sizeof(*p->rules));
	for (i = 0; i < conf->ndomains; i++) {
		p->domains[i] = xstrdup(conf->domains[i].domain);
		p->rules[i] = p->def;
		for (v = 0; v < VERDICT_COUNT; v++)
			p->rules[i].action[v] = conf->domains[i].set[v] ?
			    conf->domains[i].action[v] : p->def.action[v];
	}
}

void
policy_clear(struct policy *p)
{
	size_t	 i;

	for (i = 0; i < p->ndomains; i++)
		free(p->domains[i]);
	free(p->domains);
	free(p->rules);
	free(p->subject_tag);
	free(p->tag_header_name);
	free(p->tag_header_text);
	for (i = 0; i < VERDICT_COUNT; i++)
		free(p->subject_tags[i]);
	for (i = 0; i < VERDICT_COUNT; i++)
		free(p->copy_to[i]);
	memset(p, 0, sizeof(*p));
}

const char *
policy_subject_tag(const struct policy *p, enum verdict v,
    enum policy_action a)
{
	if (a != ACTION_DELIVER && a != ACTION_TAG && a != ACTION_CLEAN)
		return (NULL);
	if ((unsigned)v < VERDICT_COUNT && p->subject_tags[v] != NULL)
		return (p->subject_tags[v]);
	if (a == ACTION_TAG && p->subject_tag != NULL &&
	    p->subject_tag[0] != '\0')
		return (p->subject_tag);
	return (NULL);
}

static const struct policy_rule *
rule_for(const struct policy *p, const char *rcpt)
{
	const char	*at = strrchr(rcpt, '@');
	size_t		 i;

	if (at == NULL)
		return (&p->def);
	for (i = 0; i < p->ndomains; i++)
		if (strcasecmp(at + 1, p->domains[i]) == 0)
			return (&p->rules[i]);
	return (&p->def);
}

/* Rank of the delivering actions: how much each changes the message. */
static int
deliver_rank(enum policy_action a)
{
	switch (a) {
	case ACTION_DELIVER:
		return (0);
	case ACTION_TAG:
		return (1);
	case ACTION_CLEAN:
		return (2);
	default:
		return (-1);
	}
}

enum policy_action
policy_combine(const enum policy_action *acts, size_t n)
{
	enum policy_action best = ACTION_DELIVER, a;
	bool		 any_hold = false, any_quar = false, any_drop = false;
	bool		 all_drop = true;
	size_t		 i;

	if (n == 0)
		return (ACTION_HOLD);
	for (i = 0; i < n; i++) {
		a = acts[i];
		any_hold |= a == ACTION_HOLD;
		any_quar |= a == ACTION_QUARANTINE;
		any_drop |= a == ACTION_DROP;
		all_drop &= a == ACTION_DROP;
		if (deliver_rank(a) > deliver_rank(best))
			best = a;
	}
	if (any_hold)
		return (ACTION_HOLD);
	if (any_quar || (any_drop && !all_drop))
		return (ACTION_QUARANTINE);
	if (all_drop)
		return (ACTION_DROP);
	return (best);
}

enum policy_action
policy_decide(const struct policy *p, enum verdict v, const char *const *rcpts,
    size_t nrcpts)
{
	enum policy_action best, a, pair[2];
	size_t		 i;

	if ((unsigned)v >= VERDICT_COUNT)
		return (ACTION_HOLD);
	if (p->ndomains == 0 || nrcpts == 0)
		return (p->def.action[v]);
	/* combining is associative: fold the recipients in one by one */
	best = rule_for(p, rcpts[0])->action[v];
	for (i = 1; i < nrcpts; i++) {
		a = rule_for(p, rcpts[i])->action[v];
		pair[0] = best;
		pair[1] = a;
		best = policy_combine(pair, 2);
	}
	return (best);
}

const struct policy_rule *
policy_rule_of(const struct policy *p, const char *rcpt)
{
	return (rcpt == NULL ? &p->def : rule_for(p, rcpt));
}

enum policy_action
policy_fallback(enum policy_action a)
{
	return (a == ACTION_CLEAN ? ACTION_QUARANTINE : a);
}

void
policy_final_rule(const struct policy_rule *r, enum verdict v,
    policy_clean_fn clean, void *arg, struct policy_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict = v;
	out->wanted = out->action = (unsigned)v < VERDICT_COUNT ?
	    r->action[v] : ACTION_HOLD;
	if (out->action != ACTION_CLEAN)
		return;
	if (clean == NULL) {
		(void)snprintf(out->why, sizeof(out->why), "nothing to clean "
		    "it with");
		out->action = policy_fallback(ACTION_CLEAN);
		return;
	}
	switch (clean(arg, out->why, sizeof(out->why))) {
	case POLICY_CLEANED:
		out->why[0] = '\0';
		break;
	case POLICY_CANNOT_CLEAN:
		out->action = policy_fallback(ACTION_CLEAN);
		break;
	case POLICY_CLEAN_FAILED:
		out->verdict = VERDICT_FAILED;
		out->action = r->action[VERDICT_FAILED];
		break;
	}
}

void
policy_final(const struct policy *p, enum verdict v, const char *const *rcpts,
    size_t nrcpts, policy_clean_fn clean, void *arg,
    struct policy_outcome *out)
{
	struct policy_rule r;
	int		 w;

	for (w = 0; w < VERDICT_COUNT; w++)
		r.action[w] = policy_decide(p, (enum verdict)w, rcpts, nrcpts);
	policy_final_rule(&r, v, clean, arg, out);
}
