/*
 * NAME
 *	test_config - unit tests for holdscan.conf parsing and validation
 * DESCRIPTION
 *	Errors must name file and line; every problem in a file is reported;
 *	plugin sections are checked against the plugin's own option table;
 *	etc/holdscan.conf documents every parameter and parses as defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/policy.h"

static const struct hs_plugin_option fake_options[] = {
	{ "database_directory", HS_OPT_PATH, "/var/lib/clamav", "sigs" },
	{ "max_scan_size", HS_OPT_SIZE, "100M", "limit" },
	{ "timeout", HS_OPT_TIME, "30s", "time" },
	{ NULL, 0, NULL, NULL },
};

static const struct hs_plugin_option *
fake_probe(void *arg, const char *dir, const char *name, char **error_r)
{
	(void)arg;
	(void)dir;
	if (strcmp(name, "fake") == 0)
		return (fake_options);
	*error_r = strdup("no such plugin");
	return (NULL);
}

static char *
load_errors(const char *text)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	if (config_load_string(text, "t.conf", fake_probe, NULL, &conf,
	    &errors) == 0) {
		config_free(&conf);
		return (NULL);
	}
	assert_null(conf);
	return (errors);
}

static void
test_empty_file_gives_defaults(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	(void)state;
	assert_int_equal(config_load_string("", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	assert_string_equal(conf->postfix_config_directory, "/etc/postfix");
	assert_int_equal(conf->batch_max_wait, 100);
	assert_int_equal(conf->batch_max_bytes, 64L * 1024 * 1024);
	assert_int_equal(conf->scan_retry_limit, 3);
	assert_int_equal(conf->fsync_method, FSYNC_SYNCFS);
	assert_int_equal(conf->policy_action[VERDICT_CLEAN], ACTION_DELIVER);
	assert_int_equal(conf->policy_action[VERDICT_INFECTED], ACTION_QUARANTINE);
	assert_int_equal(conf->policy_action[VERDICT_FAILED], ACTION_HOLD);
	assert_int_equal(conf->nscanners, 0);
	config_free(&conf);
	assert_null(conf);
}

static void
test_values_are_parsed_with_units(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	(void)state;
	assert_int_equal(config_load_string(
	    "batch_max_wait = 250ms\n"
	    "scan_time_limit = 2m\n"
	    "batch_max_bytes = 10M\n"
	    "fsync_method = fsync\n"
	    "verbose = yes\n"
	    "scan_header_text = \"hello world\"\n", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	assert_int_equal(conf->batch_max_wait, 250);
	assert_int_equal(conf->scan_time_limit, 120000);
	assert_int_equal(conf->batch_max_bytes, 10L * 1024 * 1024);
	assert_int_equal(conf->fsync_method, FSYNC_FILE);
	assert_true(conf->verbose);
	assert_string_equal(conf->scan_header_text, "hello world");
	config_free(&conf);
}

static void
test_bad_values_are_reported_with_line_numbers(void **state)
{
	char	*e;

	(void)state;
	e = load_errors("# comment\n"
	    "batch_max_wait = 5x\n"
	    "worker_count = abc\n"
	    "state_directory = relative/path\n"
	    "fsync_method = sometimes\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2: batch_max_wait = \"5x\": bad time"));
	assert_non_null(strstr(e, "t.conf:3: worker_count = \"abc\": not a whole number"));
	assert_non_null(strstr(e, "t.conf:4: state_directory = \"relative/path\": must be an absolute path"));
	assert_non_null(strstr(e, "t.conf:5: fsync_method = \"sometimes\": use one of: syncfs fsync"));
	free(e);
}

static void
test_comments_do_not_shift_line_numbers(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *e;

	(void)state;
	e = load_errors("# one\n# two\n\nverbose = yes # trailing\n"
	    "scan_header_text = \"keep # this\"\nworker_count = x\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:6: worker_count = \"x\""));
	free(e);
	assert_int_equal(config_load_string("scan_header_text = \"a # b\" # c\n",
	    "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_string_equal(conf->scan_header_text, "a # b");
	config_free(&conf);
}

static void
test_empty_value_as_in_main_cf(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	(void)state;
	if (config_load_string("scanners =\nscan_header_name =   # none\n"
	    "verbose = yes\n", "t.conf", NULL, NULL, &conf, &errors) < 0)
		fail_msg("%s", errors);
	assert_int_equal(conf->nscanners, 0);
	assert_string_equal(conf->scan_header_name, "");
	assert_true(conf->verbose);
	config_free(&conf);
}

static void
test_unquoted_lists_as_in_main_cf(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *e;

	(void)state;
	if (config_load_string("scanners = fake, fake2\n"
	    "notify_postmaster = infected,blocked   # a comment\n"
	    "strip_header_names = X-Spam-Status X-Other-*\n"
	    "scan_header_text = \"a, b\"\n"
	    "plugin fake {\n  name = a, b\n}\n"
	    "policy { infected = quarantine }\n",
	    "t.conf", NULL, NULL, &conf, &errors) < 0)
		fail_msg("%s", errors);
	assert_int_equal(conf->nscanners, 2);
	assert_string_equal(conf->scanners[0].name, "fake");
	assert_string_equal(conf->scanners[1].name, "fake2");
	assert_string_equal(conf->notify_postmaster, "infected,blocked");
	assert_string_equal(conf->strip_header_names, "X-Spam-Status X-Other-*");
	assert_string_equal(conf->scan_header_text, "a, b");
	assert_int_equal(conf->scanners[0].nopts, 1);
	assert_string_equal(conf->scanners[0].opt_values[0], "a, b");
	config_free(&conf);
	/* a quoted string over two lines is left as it is */
	if (config_load_string("scan_header_text = \"x\ny = a, b\"\n",
	    "t.conf", NULL, NULL, &conf, &errors) < 0)
		fail_msg("%s", errors);
	assert_string_equal(conf->scan_header_text, "x\ny = a, b");
	config_free(&conf);
	/* and a bad word in the list is still named with its line */
	e = load_errors("\nnotify_postmaster = infected, nonsense\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2: "));
	free(e);
}

static void
test_unclosed_section_is_an_error_with_its_line(void **state)
{
	struct hs_config *conf = NULL;
	char		*e, *errors = NULL;

	(void)state;
	e = load_errors("scanners = fake\n# a comment\nplugin fake {\n"
	    "  name = x\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:3: this section is not closed"));
	free(e);
	e = load_errors("policy {\n  infected = quarantine\n}\n"
	    "domain \"example.com\" {\n  infected = \"{ not a brace\"\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:4: this section is not closed"));
	free(e);
	/* without a probe too, and nothing is returned */
	assert_int_equal(config_load_string("policy {\n", "t.conf", NULL, NULL,
	    &conf, &errors), -1);
	assert_null(conf);
	assert_non_null(strstr(errors, "t.conf:1: this section is not closed"));
	free(errors);
}

static void
test_out_of_range_names_the_range(void **state)
{
	char	*e = load_errors("scan_retry_limit = 0\n");

	(void)state;
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:1: scan_retry_limit = \"0\": out of range (1..100)"));
	free(e);
}

static void
test_unknown_option_is_an_error_with_its_line(void **state)
{
	char	*e = load_errors("verbose = no\n\nbatch_max_wiat = 1s\n");

	(void)state;
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:3:"));
	assert_non_null(strstr(e, "batch_max_wiat"));
	free(e);
}

static void
test_plugin_section_is_checked_against_its_options(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *e;

	(void)state;
	assert_int_equal(config_load_string(
	    "scanners = fake\n"
	    "plugin fake {\n"
	    "    max_scan_size = 25M\n"
	    "    timeout = 5s\n"
	    "}\n", "t.conf", fake_probe, NULL, &conf, &errors), 0);
	assert_int_equal(conf->nscanners, 1);
	assert_string_equal(conf->scanners[0].name, "fake");
	assert_int_equal(conf->scanners[0].nopts, 2);
	assert_string_equal(conf->scanners[0].opt_names[0], "max_scan_size");
	assert_string_equal(conf->scanners[0].opt_values[0], "25M");
	config_free(&conf);

	e = load_errors("scanners = fake\n"
	    "plugin fake {\n"
	    "    max_scan_size = lots\n"
	    "}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:3: plugin fake: max_scan_size = \"lots\": bad size"));
	free(e);
}

static void
test_missing_plugin_is_reported(void **state)
{
	char	*e = load_errors("scanners = nosuch\n");

	(void)state;
	assert_non_null(e);
	assert_non_null(strstr(e, "plugin nosuch: no such plugin"));
	free(e);
}

static void
test_without_a_probe_plugin_sections_are_kept_unchecked(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *out = NULL;
	size_t		 outlen = 0;
	FILE		*fp;

	(void)state;
	/* Names no plugin has, and values no plugin would take: kept. */
	assert_int_equal(config_load_string(
	    "scanners = \"fake, other\"\n"
	    "plugin fake {\n"
	    "    max_scan_size = lots\n"
	    "    no_such_option = 1\n"
	    "    timeout = \"5 s\"\n"
	    "}\n"
	    "plugin unlisted {\n"
	    "    max_scan_size = 2M\n"
	    "    mode = x\n"
	    "}\n"
	    "batch_max_wait = 50ms\n", "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_int_equal(conf->nscanners, 2);
	assert_string_equal(conf->scanners[0].name, "fake");
	assert_int_equal(conf->scanners[0].nopts, 3);
	assert_string_equal(conf->scanners[0].opt_names[0], "max_scan_size");
	assert_string_equal(conf->scanners[0].opt_values[0], "lots");
	assert_string_equal(conf->scanners[0].opt_names[1], "no_such_option");
	assert_string_equal(conf->scanners[0].opt_names[2], "timeout");
	assert_string_equal(conf->scanners[0].opt_values[2], "5 s");
	assert_string_equal(conf->scanners[1].name, "other");
	assert_int_equal(conf->scanners[1].nopts, 0);
	assert_int_equal(conf->nplugin_sections, 3);
	assert_int_equal(conf->batch_max_wait, 50);
	/* holdscand -n shows them as written. */
	fp = open_memstream(&out, &outlen);
	config_print(conf, fp, true);
	fclose(fp);
	assert_non_null(strstr(out, "plugin fake {\n    max_scan_size = lots\n"
	    "    no_such_option = 1\n    timeout = \"5 s\"\n}\n"));
	assert_non_null(strstr(out, "plugin unlisted {\n    max_scan_size = 2M\n"
	    "    mode = x\n}\n"));
	free(out);
	/* The text as read, for the scanner program to check. */
	assert_non_null(conf->text);
	assert_int_equal(strncmp(conf->text, "scanners = \"fake, other\"\n", 25), 0);
	config_free(&conf);

	/* What is wrong outside plugin sections is still found, with lines. */
	assert_int_equal(config_load_string(
	    "plugin fake {\n    a = 1\n}\n"
	    "batch_max_wait = soon\n"
	    "plugin fake2 {\n    b = 2\n    a = 3\n}\n"
	    "policy {\n    infected = burn\n}\n", "t.conf", NULL, NULL, &conf,
	    &errors), -1);
	assert_null(conf);
	assert_string_equal(errors, "t.conf:4: batch_max_wait = \"soon\": bad "
	    "time (use a number with ms, s, m, h or d)\n"
	    "t.conf:10: infected = \"burn\": use deliver, tag, "
	    "deliver-cleaned, quarantine, drop or hold");
	free(errors);
	errors = NULL;
	/* An unknown name outside a plugin section stops the parse, as ever. */
	assert_int_equal(config_load_string(
	    "plugin fake {\n    a = 1\n}\nbatch_max_wiat = 1s\n"
	    "plugin fake2 {\n    b = 2\n}\n", "t.conf", NULL, NULL, &conf,
	    &errors), -1);
	assert_non_null(strstr(errors, "t.conf:4:"));
	assert_non_null(strstr(errors, "batch_max_wiat"));
	free(errors);
}

static void
test_without_a_probe_option_names_are_bounded(void **state)
{
	struct hs_config *conf = NULL;
	struct buf	 text = BUF_INIT;
	char		*errors = NULL;
	int		 i;

	(void)state;
	buf_printf(&text, "plugin many {\n");
	for (i = 0; i <= CONFIG_PLUGIN_NAMES_MAX; i++)
		buf_printf(&text, "    o%d = %d\n", i, i);
	buf_printf(&text, "}\n");
	assert_int_equal(config_load_string(text.data, "t.conf", NULL, NULL,
	    &conf, &errors), -1);
	assert_non_null(strstr(errors, "t.conf: plugin sections use more than "
	    "256 different option names"));
	free(errors);
	buf_free(&text);
}

static void
test_load_anyway_gives_what_is_right(void **state)
{
	struct hs_config *conf = NULL;
	char		 path[] = "/tmp/test_config.XXXXXX", *errors = NULL;
	int		 fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(dprintf(fd, "worker_user = scanner\n"
	    "batch_max_wait = soon\n"
	    "scanner_program = /opt/hs/holdscan-scanner\n") > 0);
	(void)close(fd);
	assert_int_equal(config_load_anyway(path, &conf, &errors), -1);
	assert_non_null(strstr(errors, ":2: batch_max_wait"));
	assert_non_null(conf);
	assert_string_equal(conf->worker_user, "scanner");
	assert_string_equal(conf->scanner_program, "/opt/hs/holdscan-scanner");
	assert_int_equal(conf->batch_max_wait, 100);	/* its default */
	assert_non_null(strstr(conf->text, "batch_max_wait = soon"));
	config_free(&conf);
	free(errors);
	errors = NULL;
	(void)unlink(path);
	assert_int_equal(config_load_anyway(path, &conf, &errors), -1);
	assert_null(conf);
	assert_non_null(strstr(errors, "cannot read"));
	free(errors);
}

static void
test_policy_and_domain_sections(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *e;

	(void)state;
	assert_int_equal(config_load_string(
	    "policy {\n"
	    "    spam = deliver\n"
	    "    infected = drop\n"
	    "    subject_tag = \"***SPAM***\"\n"
	    "}\n"
	    "domain \"example.org\" {\n"
	    "    infected = deliver-cleaned\n"
	    "}\n", "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_int_equal(conf->policy_action[VERDICT_SPAM], ACTION_DELIVER);
	assert_int_equal(conf->policy_action[VERDICT_INFECTED], ACTION_DROP);
	assert_string_equal(conf->subject_tag, "***SPAM***");
	assert_int_equal(conf->ndomains, 1);
	assert_string_equal(conf->domains[0].domain, "example.org");
	assert_true(conf->domains[0].set[VERDICT_INFECTED]);
	assert_int_equal(conf->domains[0].action[VERDICT_INFECTED], ACTION_CLEAN);
	assert_false(conf->domains[0].set[VERDICT_SPAM]);
	config_free(&conf);

	e = load_errors("policy {\n    infected = burn\n}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2: infected = \"burn\": use deliver"));
	free(e);
	e = load_errors("policy {\n    scan_failed = tag\n}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2: scan_failed = \"tag\""));
	free(e);
}

static void
test_tag_settings(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *e, *out = NULL;
	size_t		 outlen = 0;
	FILE		*fp;

	(void)state;
	assert_int_equal(config_load_string("", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	assert_string_equal(conf->subject_tag, "[SPAM]");
	assert_string_equal(conf->tag_header_name, "X-Holdscan-Verdict");
	assert_string_equal(conf->tag_header_text, "$verdict ($reason)");
	config_free(&conf);

	assert_int_equal(config_load_string(
	    "policy {\n"
	    "    spam = tag\n"
	    "    blocked = deliver-cleaned\n"
	    "    subject_tag = \"[$verdict]\"\n"
	    "    tag_header_name = X-Verdict\n"
	    "    tag_header_text = \"$verdict score=$score: $reason\"\n"
	    "}\n", "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_int_equal(conf->policy_action[VERDICT_BLOCKED], ACTION_CLEAN);
	assert_string_equal(conf->subject_tag, "[$verdict]");
	assert_string_equal(conf->tag_header_name, "X-Verdict");
	assert_string_equal(conf->tag_header_text, "$verdict score=$score: $reason");
	fp = open_memstream(&out, &outlen);
	config_print(conf, fp, true);
	fclose(fp);
	assert_non_null(strstr(out, "    tag_header_name = X-Verdict\n"));
	assert_non_null(strstr(out, "    subject_tag = \"[$verdict]\"\n"));
	free(out);
	config_free(&conf);
	/* empty name: no header */
	assert_int_equal(config_load_string("policy {\n tag_header_name = \"\"\n"
	    "}\n", "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_string_equal(conf->tag_header_name, "");
	config_free(&conf);

	e = load_errors("# tags\n"
	    "policy {\n"
	    "    tag_header_name = \"X Verdict\"\n"
	    "    tag_header_text = \"$verdict $virus\"\n"
	    "    subject_tag = \"$spam\"\n"
	    "    tag_header_name = \"X-A:B\"\n"
	    "}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:3: tag_header_name = \"X Verdict\": "
	    "not a header field name"));
	assert_non_null(strstr(e, "t.conf:4: tag_header_text = \"$verdict "
	    "$virus\": unknown variable"));
	assert_non_null(strstr(e, "t.conf:5: subject_tag = \"$spam\": unknown "
	    "variable"));
	assert_non_null(strstr(e, "t.conf:6: tag_header_name = \"X-A:B\""));
	free(e);
	e = load_errors("domain \"example.org\" {\n"
	    "    subject_tag = x\n"
	    "}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2:"));
	free(e);
}

/* Issue 17 items 4 and 6: html_disarm, per-verdict tags, copies. */
static void
test_action_settings(void **state)
{
	struct hs_config *conf = NULL;
	struct policy	 pol;
	char		*errors = NULL, *e;

	(void)state;
	assert_int_equal(config_load_string("", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	assert_string_equal(conf->html_disarm, "");
	assert_string_equal(conf->html_disarm_mode, "disarm");
	assert_string_equal(conf->copy_to[VERDICT_CLEAN], "");
	assert_string_equal(conf->subject_tags[VERDICT_SPAM], "");
	policy_from_config(&pol, conf);
	assert_int_equal(pol.html_disarm, 0);
	assert_false(pol.html_text);
	assert_string_equal(policy_subject_tag(&pol, VERDICT_SPAM,
	    ACTION_TAG), "[SPAM]");
	assert_null(policy_subject_tag(&pol, VERDICT_SPAM, ACTION_DELIVER));
	policy_clear(&pol);
	config_free(&conf);

	assert_int_equal(config_load_string(
	    "policy {\n"
	    "    spam = deliver\n"
	    "    html_disarm = \"clean, high_spam\"\n"
	    "    html_disarm_mode = text\n"
	    "    subject_tag_spam = \"[SPAM $score]\"\n"
	    "    copy_clean = \"a@example.org, b@example.org\"\n"
	    "}\n", "t.conf", NULL, NULL, &conf, &errors), 0);
	policy_from_config(&pol, conf);
	assert_int_equal(pol.html_disarm, (1U << VERDICT_CLEAN) |
	    (1U << VERDICT_HIGH_SPAM));
	assert_true(pol.html_text);
	assert_string_equal(policy_subject_tag(&pol, VERDICT_SPAM,
	    ACTION_DELIVER), "[SPAM $score]");
	assert_string_equal(policy_subject_tag(&pol, VERDICT_SPAM,
	    ACTION_TAG), "[SPAM $score]");
	assert_null(policy_subject_tag(&pol, VERDICT_SPAM, ACTION_QUARANTINE));
	assert_null(policy_subject_tag(&pol, VERDICT_CLEAN, ACTION_DELIVER));
	assert_string_equal(conf->copy_to[VERDICT_CLEAN],
	    "a@example.org, b@example.org");
	policy_clear(&pol);
	config_free(&conf);

	e = load_errors("policy {\n"
	    "    html_disarm = \"clean, purple\"\n"
	    "    html_disarm_mode = strip\n"
	    "    copy_spam = \"<a@example.org>\"\n"
	    "    copy_blocked = \"a@b@c\"\n"
	    "    copy_infected = \"@example.org\"\n"
	    "    subject_tag_blocked = \"$what\"\n"
	    "    copy_clean = \"1@x 2@x 3@x 4@x 5@x 6@x 7@x 8@x 9@x 10@x 11@x\"\n"
	    "}\n"
	    "domain \"example.org\" {\n"
	    "    copy_clean = a@example.org\n"
	    "}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "t.conf:2: html_disarm = \"clean, purple\": "
	    "unknown verdict \"purple\""));
	assert_non_null(strstr(e, "t.conf:3: html_disarm_mode = \"strip\": use "
	    "disarm or text"));
	assert_non_null(strstr(e, "t.conf:4: copy_spam = \"<a@example.org>\": "
	    "\"<a@example.org>\" is not a mail address"));
	assert_non_null(strstr(e, "t.conf:5: copy_blocked"));
	assert_non_null(strstr(e, "t.conf:6: copy_infected"));
	assert_non_null(strstr(e, "t.conf:7: subject_tag_blocked = \"$what\": "
	    "unknown variable"));
	assert_non_null(strstr(e, "t.conf:8: copy_clean = \"1@x 2@x 3@x 4@x "
	    "5@x 6@x 7@x 8@x 9@x 10@x 11@x\": more than 10 addresses"));
	assert_non_null(strstr(e, "t.conf:11:"));
	free(e);
}

static void
test_deliver_cleaned_only_for_parts(void **state)
{
	char	*e;

	(void)state;
	e = load_errors("policy {\n"
	    "    infected = deliver-cleaned\n"
	    "    spam = deliver-cleaned\n"
	    "}\n"
	    "domain \"example.org\" {\n"
	    "    high_spam = deliver-cleaned\n"
	    "    blocked = deliver-cleaned\n"
	    "}\n");
	assert_non_null(e);
	assert_null(strstr(e, "t.conf:2:"));
	assert_non_null(strstr(e, "t.conf:3: spam = \"deliver-cleaned\": "
	    "deliver-cleaned removes blocked or infected parts"));
	assert_non_null(strstr(e, "t.conf:6: high_spam = \"deliver-cleaned\""));
	assert_null(strstr(e, "t.conf:7:"));
	free(e);
}

static void
test_example_config_documents_every_parameter(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *text, name[128];
	const char	*p;
	FILE		*fp;
	long		 len;
	size_t		 i;

	(void)state;
	fp = fopen(HS_SRCDIR "/etc/holdscan.conf", "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	text = malloc((size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, fp), (size_t)len);
	text[len] = '\0';
	fclose(fp);
	for (i = 0; (p = config_name_at(i)) != NULL; i++) {
		(void)snprintf(name, sizeof(name), "#%s = ", p);
		if (strstr(text, name) == NULL)
			fail_msg("etc/holdscan.conf does not document %s", p);
	}
	if (config_load_string(text, "etc/holdscan.conf", NULL, NULL, &conf,
	    &errors) < 0)
		fail_msg("%s", errors);
	config_free(&conf);
	free(text);
}

static void
test_print_only_set_shows_what_changed(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *out = NULL;
	size_t		 outlen = 0;
	FILE		*fp;

	(void)state;
	assert_int_equal(config_load_string("worker_count = 4\n"
	    "scan_header_text = \"a b\"\n", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	fp = open_memstream(&out, &outlen);
	config_print(conf, fp, true);
	fclose(fp);
	assert_non_null(strstr(out, "worker_count = 4\n"));
	assert_non_null(strstr(out, "scan_header_text = \"a b\"\n"));
	assert_null(strstr(out, "batch_max_wait"));
	free(out);
	config_free(&conf);
}

/* holdscand -n never shows the database's password. */
static void
test_print_hides_the_database_password(void **state)
{
	static const char *const in[] = {
		"database = \"postgresql://hs:s3cret@db.example/holdscan\"\n",
		"database = \"host=/run/pg dbname=hs password=s3cret user=hs\"\n",
		"database = \"host=/run/pg password = s3cret\"\n",
	};
	static const char *const want[] = {
		"database = postgresql://hs:*****@db.example/holdscan\n",
		"database = \"host=/run/pg dbname=hs password=***** user=hs\"\n",
		"database = \"host=/run/pg password = *****\"\n",
	};
	struct hs_config *conf;
	char		*errors = NULL, *out;
	size_t		 outlen, i;
	FILE		*fp;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		conf = NULL;
		out = NULL;
		outlen = 0;
		assert_int_equal(config_load_string(in[i], "t.conf", NULL, NULL,
		    &conf, &errors), 0);
		assert_non_null(fp = open_memstream(&out, &outlen));
		config_print(conf, fp, true);
		fclose(fp);
		assert_non_null(strstr(out, want[i]));
		assert_null(strstr(out, "s3cret"));
		free(out);
		config_free(&conf);
	}
}

/* The digest of the set-aside epochs: what scans alike, hashes alike. */
static void
test_digest_follows_the_effective_configuration(void **state)
{
	struct hs_config *a = NULL, *b = NULL, *c = NULL;
	char		*errors = NULL;

	(void)state;
	assert_int_equal(config_load_string("message_size_limit = 1k\n",
	    "a", NULL, NULL, &a, &errors), 0);
	assert_int_equal(config_load_string("# the same, written otherwise\n"
	    "message_size_limit   =   1024\n\n", "b", NULL, NULL, &b, &errors),
	    0);
	assert_int_equal(config_load_string("message_size_limit = 2k\n", "c",
	    NULL, NULL, &c, &errors), 0);
	assert_true(config_digest(a, NULL) != 0);
	assert_true(config_digest(a, NULL) == config_digest(b, NULL));
	assert_true(config_digest(a, NULL) != config_digest(c, NULL));
	assert_true(config_digest(a, "engine 1") == config_digest(b,
	    "engine 1"));
	assert_true(config_digest(a, "engine 1") != config_digest(a,
	    "engine 2"));
	config_free(&a);
	config_free(&b);
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_file_gives_defaults),
		cmocka_unit_test(test_values_are_parsed_with_units),
		cmocka_unit_test(test_bad_values_are_reported_with_line_numbers),
		cmocka_unit_test(test_comments_do_not_shift_line_numbers),
		cmocka_unit_test(test_empty_value_as_in_main_cf),
		cmocka_unit_test(test_unquoted_lists_as_in_main_cf),
		cmocka_unit_test(test_unclosed_section_is_an_error_with_its_line),
		cmocka_unit_test(test_out_of_range_names_the_range),
		cmocka_unit_test(test_unknown_option_is_an_error_with_its_line),
		cmocka_unit_test(test_plugin_section_is_checked_against_its_options),
		cmocka_unit_test(test_missing_plugin_is_reported),
		cmocka_unit_test(
		    test_without_a_probe_plugin_sections_are_kept_unchecked),
		cmocka_unit_test(test_without_a_probe_option_names_are_bounded),
		cmocka_unit_test(test_load_anyway_gives_what_is_right),
		cmocka_unit_test(test_policy_and_domain_sections),
		cmocka_unit_test(test_tag_settings),
		cmocka_unit_test(test_action_settings),
		cmocka_unit_test(test_deliver_cleaned_only_for_parts),
		cmocka_unit_test(test_example_config_documents_every_parameter),
		cmocka_unit_test(test_print_only_set_shows_what_changed),
		cmocka_unit_test(test_print_hides_the_database_password),
		cmocka_unit_test(test_digest_follows_the_effective_configuration),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
