/*
 * NAME
 *	test_rules - unit tests for the rulesets (ruleconf.c, ruleset.c)
 * DESCRIPTION
 *	Reading and refusing ruleset sections, every kind of condition
 *	word (address, domain, subdomains, null sender, regex, network,
 *	SASL, direction), first match within a ruleset, precedence between
 *	rulesets (the first that sets a setting decides, then the domain
 *	section, then the policy section), spam thresholds, scanners on and
 *	off, and the strictest combination for mixed recipients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/policy.h"
#include "common/ruleconf.h"
#include "scanner/ruleset.h"

struct fix {
	struct hs_config *conf;
	struct policy	 policy;
	struct ruleset	*rs;
};

static void
fix_load(struct fix *f, const char *text)
{
	char	*errors = NULL;

	memset(f, 0, sizeof(*f));
	if (config_load_string(text, "t.conf", NULL, NULL, &f->conf,
	    &errors) < 0)
		fail_msg("config: %s", errors);
	policy_from_config(&f->policy, f->conf);
	if (ruleset_new(f->conf, &f->rs, &errors) < 0)
		fail_msg("ruleset: %s", errors);
}

static void
fix_clear(struct fix *f)
{
	ruleset_free(&f->rs);
	assert_null(f->rs);
	policy_clear(&f->policy);
	config_free(&f->conf);
}

/* The errors text loads with (config or PCRE2), or NULL when it loads. */
static char *
load_errors(const char *text)
{
	struct hs_config *conf = NULL;
	struct ruleset	*rs = NULL;
	char		*errors = NULL;

	if (config_load_string(text, "t.conf", NULL, NULL, &conf,
	    &errors) < 0)
		return (errors);
	if (ruleset_new(conf, &rs, &errors) < 0) {
		config_free(&conf);
		return (errors);
	}
	ruleset_free(&rs);
	config_free(&conf);
	return (NULL);
}

static void
refused(const char *text, const char *want)
{
	char	*e = load_errors(text);

	if (e == NULL)
		fail_msg("accepted: %s", text);
	if (strstr(e, want) == NULL)
		fail_msg("errors \"%s\" do not say \"%s\"", e, want);
	free(e);
}

/* The action for verdict v of a message (sender, client, sasl, rcpts). */
static enum policy_action
action_of(const struct fix *f, enum verdict v, const char *sender,
    const char *client, const char *sasl, const char *r1, const char *r2,
    char *fired, size_t size)
{
	struct ruleset_env env = { sender, client, sasl };
	struct ruleset_choice c;
	const char	*rcpts[2] = { r1, r2 };
	enum policy_action a;

	ruleset_choose(f->rs, &f->policy, &env, rcpts, r2 ? 2 : 1, &c);
	a = c.rule.action[v];
	if (fired != NULL)
		(void)snprintf(fired, size, "%s", c.fired);
	ruleset_choice_clear(&c);
	return (a);
}

static void
test_refusals(void **state)
{
	(void)state;
	refused("ruleset a { rule r { client = 10.0.0.0/33 } }", "not a network");
	refused("ruleset a { rule r { direction = sideways } }",
	    "use inbound or outbound");
	refused("ruleset a { rule r { scanners = clamav } }",
	    "clamav is not in the scanners list");
	refused("ruleset a { rule r { policy { spam = deliver-cleaned } } }",
	    "deliver-cleaned removes");
	refused("ruleset a { rule r { policy { spam = bounce } } }",
	    "use deliver, tag");
	refused("ruleset a { rule r { spam_threshold = lots } }",
	    "spam_threshold = \"lots\"");
	refused("ruleset a { rule r { spam_threshold = 9\nhigh_spam_threshold = 4 } }",
	    "below spam_threshold");
	refused("ruleset a { rule r { sender = '/a(b/' } }",
	    "ruleset a rule r: sender: /a(b/: missing closing parenthesis");
	refused("ruleset a { rule r { sender = '/ab' } }", "/expression/");
	refused("ruleset a { rule r { recipient = \"\" } }", "empty");
	refused("ruleset a { rule r { sasl = 'yes, bob' } }", "stands alone");
	refused("ruleset a { rule r { colour = red } }", "colour");
	refused("ruleset a { }", "ruleset a has no rule");
	refused("internal_networks = 10.0.0.0/40\n", "internal_networks");
	assert_null(load_errors("ruleset a { rule r { sender = '/^a\\+b@/' } }"));
}

static void
test_words(void **state)
{
	struct fix	 f;

	(void)state;
	fix_load(&f,
	    "internal_networks = \"10.0.0.0/8\"\n"
	    "policy { spam = tag }\n"
	    "ruleset r {\n"
	    "  rule addr { sender = Boss@Example.ORG\n policy { spam = deliver } }\n"
	    "  rule null { sender = '<>'\n policy { spam = hold } }\n"
	    "  rule dom { recipient = '@dom.example'\n policy { spam = drop } }\n"
	    "  rule sub { recipient = .sub.example\n policy { spam = quarantine } }\n"
	    "  rule re { recipient = '/^list-[0-9]+@x\\.example$/'\n"
	    "    policy { spam = deliver } }\n"
	    "  rule net { client = 192.0.2.0/24\n policy { spam = quarantine } }\n"
	    "  rule sasl { sasl = '/^adm/'\n policy { spam = hold } }\n"
	    "  rule anysasl { sasl = yes\n policy { spam = drop } }\n"
	    "  rule out { direction = outbound\n policy { spam = deliver } }\n"
	    "}\n");
	/* an address, any case */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "boss@example.org",
	    "203.0.113.1", NULL, "a@z.example", NULL, NULL, 0), ACTION_DELIVER);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "<x>boss@example.org",
	    "203.0.113.1", NULL, "a@z.example", NULL, NULL, 0), ACTION_TAG);
	/* the null sender */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "", "203.0.113.1", NULL,
	    "a@z.example", NULL, NULL, 0), ACTION_HOLD);
	/* a domain, not its subdomains */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@DOM.example", NULL, NULL, 0), ACTION_DROP);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@x.dom.example", NULL, NULL, 0), ACTION_TAG);
	/* subdomains, not the domain, nor a domain that only ends like it */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@m.sub.example", NULL, NULL, 0),
	    ACTION_QUARANTINE);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@sub.example", NULL, NULL, 0), ACTION_TAG);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@nosub.example", NULL, NULL, 0), ACTION_TAG);
	/* a regex, caseless, on the whole address */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "LIST-42@x.example", NULL, NULL, 0),
	    ACTION_DELIVER);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "list-42@x.example.net", NULL, NULL, 0),
	    ACTION_TAG);
	/* a network; no client address is no match (and outbound) */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "192.0.2.77", NULL, "a@z.example", NULL, NULL, 0),
	    ACTION_QUARANTINE);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "::ffff:192.0.2.77", NULL, "a@z.example", NULL, NULL, 0),
	    ACTION_QUARANTINE);
	/* SASL: a regex on the user, then any user */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", "admin", "a@z.example", NULL, NULL, 0), ACTION_HOLD);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", "bob", "a@z.example", NULL, NULL, 0), ACTION_DROP);
	/* direction: internal_networks, or no client address */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "10.1.2.3", NULL, "a@z.example", NULL, NULL, 0), ACTION_DELIVER);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    NULL, NULL, "a@z.example", NULL, NULL, 0), ACTION_DELIVER);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example",
	    "203.0.113.1", NULL, "a@z.example", NULL, NULL, 0), ACTION_TAG);
	fix_clear(&f);
}

static void
test_first_match_and_precedence(void **state)
{
	struct fix	 f;
	char		 fired[256];

	(void)state;
	fix_load(&f,
	    "policy { spam = tag\n blocked = quarantine\n infected = quarantine }\n"
	    "domain d.example { blocked = drop }\n"
	    "ruleset first {\n"
	    "  rule a { recipient = a.example\n policy { spam = deliver } }\n"
	    "  rule b { recipient = a.example\n policy { spam = hold } }\n"
	    "  rule c { recipient = '*'\n policy { infected = hold } }\n"
	    "}\n"
	    "ruleset second {\n"
	    "  rule x { policy { spam = quarantine\n blocked = deliver-cleaned } }\n"
	    "}\n");
	/* first match within a ruleset: a, not b; c never for a.example */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example", NULL, NULL,
	    "u@a.example", NULL, fired, sizeof(fired)), ACTION_DELIVER);
	assert_string_equal(fired, "first/a,second/x");
	assert_int_equal(action_of(&f, VERDICT_INFECTED, "s@s.example", NULL,
	    NULL, "u@a.example", NULL, NULL, 0), ACTION_QUARANTINE);
	/* the earlier ruleset wins a setting; a later one fills the rest */
	assert_int_equal(action_of(&f, VERDICT_BLOCKED, "s@s.example", NULL,
	    NULL, "u@a.example", NULL, NULL, 0), ACTION_CLEAN);
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example", NULL, NULL,
	    "u@b.example", NULL, fired, sizeof(fired)), ACTION_QUARANTINE);
	assert_string_equal(fired, "first/c,second/x");
	assert_int_equal(action_of(&f, VERDICT_INFECTED, "s@s.example", NULL,
	    NULL, "u@b.example", NULL, NULL, 0), ACTION_HOLD);
	/* a rule beats the domain section, which beats the policy section */
	assert_int_equal(action_of(&f, VERDICT_BLOCKED, "s@s.example", NULL,
	    NULL, "u@d.example", NULL, NULL, 0), ACTION_CLEAN);
	fix_clear(&f);

	fix_load(&f,
	    "policy { blocked = quarantine }\n"
	    "domain d.example { blocked = drop }\n"
	    "ruleset only { rule r { recipient = x.example\n"
	    "  policy { spam = deliver } } }\n");
	assert_int_equal(action_of(&f, VERDICT_BLOCKED, "s@s.example", NULL,
	    NULL, "u@d.example", NULL, fired, sizeof(fired)), ACTION_DROP);
	assert_string_equal(fired, "");
	assert_int_equal(action_of(&f, VERDICT_BLOCKED, "s@s.example", NULL,
	    NULL, "u@e.example", NULL, NULL, 0), ACTION_QUARANTINE);
	fix_clear(&f);
}

static void
test_thresholds_scanners_and_strictest(void **state)
{
	struct ruleset_env env = { "s@s.example", "203.0.113.1", NULL };
	struct ruleset_choice c;
	struct fix	 f;
	const char	*one[1] = { "u@lax.example" };
	const char	*mixed[3] = { "u@lax.example", "v@strict.example",
			    "w@other.example" };
	char		 why[200];

	(void)state;
	fix_load(&f,
	    "scanners = \"a, b, c\"\n"
	    "policy { spam = tag\n high_spam = quarantine }\n"
	    "ruleset t {\n"
	    "  rule lax { recipient = lax.example\n spam_threshold = 8\n"
	    "    high_spam_threshold = 20\n scanners = a\n"
	    "    policy { spam = deliver } }\n"
	    "  rule strict { recipient = strict.example\n spam_threshold = 3\n"
	    "    scanners = \"b\"\n policy { spam = quarantine } }\n"
	    "}\n");
	ruleset_choose(f.rs, &f.policy, &env, one, 1, &c);
	assert_false(c.mixed);
	assert_int_equal(c.scanners, 0x1);
	/* the plugin said spam at 6.0: under 8, clean */
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_SPAM, 6.0, why,
	    sizeof(why)), VERDICT_CLEAN);
	assert_non_null(strstr(why, "clean by the rules' thresholds"));
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_HIGH_SPAM, 12.0,
	    NULL, 0), VERDICT_SPAM);
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_SPAM, 25.0, NULL, 0),
	    VERDICT_HIGH_SPAM);
	/* other verdicts are not the thresholds' */
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_FAILED, 25.0, NULL,
	    0), VERDICT_FAILED);
	ruleset_choice_clear(&c);

	/* strictest: scanners the union, actions the most careful ... */
	ruleset_choose(f.rs, &f.policy, &env, mixed, 3, &c);
	assert_true(c.mixed);
	assert_int_equal(c.scanners, 0x7);	/* other: every scanner */
	assert_int_equal(c.rule.action[VERDICT_SPAM], ACTION_QUARANTINE);
	assert_int_equal(c.rule.action[VERDICT_HIGH_SPAM], ACTION_QUARANTINE);
	assert_string_equal(c.fired, "strictest:t/lax,t/strict");
	/* ... thresholds the lowest: 4.0 is spam for strict (3) */
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_CLEAN, 4.0, NULL, 0),
	    VERDICT_SPAM);
	/* the plugin's own high-spam stays for the recipients without one */
	assert_int_equal(ruleset_spam_verdict(&c, VERDICT_HIGH_SPAM, 12.0, NULL,
	    0), VERDICT_HIGH_SPAM);
	assert_non_null(strstr(c.explain.data, "v@strict.example: ruleset t "
	    "rule strict spam=quarantine scanners=\"b\" spam_threshold=3"));
	assert_non_null(strstr(c.explain.data, "w@other.example: no rule"));
	ruleset_choice_clear(&c);

	/* a drop and a deliver disagree: quarantine (policy_combine) */
	fix_clear(&f);
	fix_load(&f,
	    "ruleset t {\n"
	    "  rule d { recipient = lax.example\n policy { spam = drop } }\n"
	    "  rule k { recipient = strict.example\n policy { spam = deliver } }\n"
	    "}\n");
	ruleset_choose(f.rs, &f.policy, &env, mixed, 2, &c);
	assert_int_equal(c.rule.action[VERDICT_SPAM], ACTION_QUARANTINE);
	ruleset_choice_clear(&c);
	fix_clear(&f);
}

/*
 * html_disarm and highlight_phishing per rule: a rule's own verdict list
 * over the policy's (an empty one switches it off), the first ruleset
 * that sets it deciding; mixed recipients get the union; explained.
 */
static void
test_html_disarm_and_highlight_per_rule(void **state)
{
	struct ruleset_env env = { "s@s.example", "203.0.113.1", NULL };
	struct ruleset_choice c;
	struct fix	 f;
	const char	*partner[1] = { "u@partner.example" };
	const char	*plain[1] = { "u@plain.example" };
	const char	*lax[1] = { "u@lax.example" };
	const char	*mixed[2] = { "u@partner.example", "v@plain.example" };

	(void)state;
	fix_load(&f,
	    "policy { html_disarm = spam\n highlight_phishing = clean }\n"
	    "ruleset a {\n"
	    "  rule partner { recipient = partner.example\n"
	    "    policy { html_disarm = \"clean, spam\"\n"
	    "      highlight_phishing = \"clean, spam\" } }\n"
	    "  rule lax { recipient = lax.example\n"
	    "    policy { html_disarm = \"\" } }\n"
	    "}\n"
	    "ruleset b {\n"
	    "  rule all { recipient = \"*\"\n policy { html_disarm = blocked } }\n"
	    "}\n");
	/* no rule of a: b's rule, the policy's highlighting */
	ruleset_choose(f.rs, &f.policy, &env, plain, 1, &c);
	assert_int_equal(c.rule.html_disarm, 1U << VERDICT_BLOCKED);
	assert_int_equal(c.rule.highlight, 1U << VERDICT_CLEAN);
	ruleset_choice_clear(&c);
	/* a's rule first, for both lists */
	ruleset_choose(f.rs, &f.policy, &env, partner, 1, &c);
	assert_int_equal(c.rule.html_disarm, (1U << VERDICT_CLEAN) |
	    (1U << VERDICT_SPAM));
	assert_int_equal(c.rule.highlight, (1U << VERDICT_CLEAN) |
	    (1U << VERDICT_SPAM));
	assert_non_null(strstr(c.explain.data, "u@partner.example: ruleset a "
	    "rule partner html_disarm=\"clean, spam\" highlight_phishing=\""
	    "clean, spam\"; ruleset b rule all\n"));
	ruleset_choice_clear(&c);
	/* an empty list switches it off */
	ruleset_choose(f.rs, &f.policy, &env, lax, 1, &c);
	assert_int_equal(c.rule.html_disarm, 0);
	assert_int_equal(c.rule.highlight, 1U << VERDICT_CLEAN);
	ruleset_choice_clear(&c);
	/* mixed: the union */
	ruleset_choose(f.rs, &f.policy, &env, mixed, 2, &c);
	assert_true(c.mixed);
	assert_int_equal(c.rule.html_disarm, (1U << VERDICT_CLEAN) |
	    (1U << VERDICT_SPAM) | (1U << VERDICT_BLOCKED));
	ruleset_choice_clear(&c);
	fix_clear(&f);
	/* without rulesets, the policy's and its domain sections' */
	fix_load(&f, "policy { html_disarm = spam\n highlight_phishing = "
	    "\"clean, blocked\" }\ndomain \"d.example\" { spam = tag }\n");
	assert_int_equal(f.policy.def.html_disarm, 1U << VERDICT_SPAM);
	assert_int_equal(f.policy.rules[0].html_disarm, 1U << VERDICT_SPAM);
	assert_int_equal(f.policy.rules[0].highlight, (1U << VERDICT_CLEAN) |
	    (1U << VERDICT_BLOCKED));
	fix_clear(&f);
	refused("ruleset a { rule r { policy { html_disarm = purple } } }",
	    "ruleset a rule r: policy: html_disarm = \"purple\": unknown "
	    "verdict");
	refused("ruleset a { rule r { policy { highlight_phishing = x } } }",
	    "highlight_phishing = \"x\": unknown verdict");
}

/*
 * copy_<verdict> and archive per rule: a rule's list over the policy's,
 * first ruleset first; mixed recipients get the union (each address
 * once) and are archived unless every rule says no; the master accepts
 * only addresses some copy list of the verdict names.
 */
static void
test_copies_and_archive_per_rule(void **state)
{
	struct ruleset_env env = { "s@s.example", NULL, NULL };
	struct ruleset_choice c;
	struct fix	 f;
	const char	*plain[1] = { "u@plain.example" };
	const char	*vip[1] = { "u@vip.example" };
	const char	*mixed[3] = { "u@plain.example", "v@vip.example",
			    "w@vip.example" };

	(void)state;
	fix_load(&f,
	    "policy { copy_clean = \"arch@example.org\"\n"
	    "  copy_spam = \"spam@example.org, arch@example.org\" }\n"
	    "ruleset a {\n"
	    "  rule vip { recipient = vip.example\n"
	    "    policy { copy_clean = \"vip@example.org, arch@example.org\"\n"
	    "      archive = no } }\n"
	    "}\n");
	ruleset_choose(f.rs, &f.policy, &env, plain, 1, &c);
	assert_string_equal(c.copy_to[VERDICT_CLEAN], "arch@example.org");
	assert_string_equal(c.copy_to[VERDICT_SPAM],
	    "spam@example.org, arch@example.org");
	assert_string_equal(c.copy_to[VERDICT_INFECTED], "");
	assert_false(c.no_archive);
	ruleset_choice_clear(&c);
	ruleset_choose(f.rs, &f.policy, &env, vip, 1, &c);
	assert_string_equal(c.copy_to[VERDICT_CLEAN],
	    "vip@example.org, arch@example.org");
	assert_string_equal(c.copy_to[VERDICT_SPAM],
	    "spam@example.org, arch@example.org");
	assert_true(c.no_archive);
	assert_non_null(strstr(c.explain.data, "rule vip copy_clean=\""
	    "vip@example.org, arch@example.org\" archive=no"));
	ruleset_choice_clear(&c);
	ruleset_choose(f.rs, &f.policy, &env, mixed, 3, &c);
	assert_true(c.mixed);
	assert_string_equal(c.copy_to[VERDICT_CLEAN],
	    "arch@example.org vip@example.org");
	assert_false(c.no_archive);
	ruleset_choice_clear(&c);

	/* what the master lets a worker name */
	assert_true(config_copy_listed(f.conf, VERDICT_CLEAN,
	    "vip@example.org", 15));
	assert_true(config_copy_listed(f.conf, VERDICT_SPAM,
	    "spam@example.org", 16));
	assert_false(config_copy_listed(f.conf, VERDICT_SPAM,
	    "vip@example.org", 15));
	assert_false(config_copy_listed(f.conf, VERDICT_CLEAN,
	    "vip@example.or", 14));
	assert_false(config_copy_listed(f.conf, VERDICT_CLEAN,
	    "evil@example.org", 16));
	assert_false(config_copy_listed(f.conf, VERDICT_COUNT,
	    "arch@example.org", 16));
	fix_clear(&f);
	refused("ruleset a { rule r { policy { copy_clean = nobody } } }",
	    "policy: copy_clean = \"nobody\": \"nobody\" is not a mail "
	    "address");
	refused("ruleset a { rule r { policy { archive = maybe } } }",
	    "policy: archive = \"maybe\": use yes or no");
}

static void
test_no_rulesets(void **state)
{
	struct fix	 f;

	(void)state;
	fix_load(&f, "policy { spam = tag }\n");
	assert_null(f.rs);
	/* without rulesets: the policy, all scanners, the plugin's verdicts */
	assert_int_equal(action_of(&f, VERDICT_SPAM, "s@s.example", NULL, NULL,
	    "u@a.example", NULL, NULL, 0), ACTION_TAG);
	fix_clear(&f);
}

static void
test_words_split(void **state)
{
	const char	*s = " a.example, /a, b\\/c/i  @x ";
	char		*w;

	(void)state;
	w = ruleconf_next_word(&s);
	assert_string_equal(w, "a.example");
	free(w);
	w = ruleconf_next_word(&s);
	assert_string_equal(w, "/a, b\\/c/i");
	free(w);
	w = ruleconf_next_word(&s);
	assert_string_equal(w, "@x");
	free(w);
	assert_null(ruleconf_next_word(&s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_first_match_and_precedence),
		cmocka_unit_test(test_thresholds_scanners_and_strictest),
		cmocka_unit_test(test_html_disarm_and_highlight_per_rule),
		cmocka_unit_test(test_copies_and_archive_per_rule),
		cmocka_unit_test(test_no_rulesets),
		cmocka_unit_test(test_words_split),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
