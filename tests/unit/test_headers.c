/*
 * NAME
 *	test_headers - unit tests for the headers plugin (header rules)
 * DESCRIPTION
 *	The rules file: a good one loads with its verdicts, flags and
 *	reasons; each kind of mistake is refused with FILE:LINE and what is
 *	wrong. Matching: on unfolded header fields only (never the body),
 *	first matching rule wins, the i flag, NUL bytes; a 10 MB header
 *	block is examined only up to max_header_size, quickly, and each
 *	field only up to max_field_size. Pathological rules (unanchored
 *	.*, nested repeats) on a 128 KiB header: PCRE2 stops them with its
 *	match or depth limit, the rule counts as no match with a warning,
 *	the rules after it still decide; too many such hits fail the scan.
 *	The hooks: init, scan, reload (a broken file keeps the old rules),
 *	watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../plugins/headers.c"
#include "fakehost.h"

struct tmp {
	char	 dir[64];
	char	 path[128];
};

static void
tmp_rules(struct tmp *t, const char *text)
{
	FILE	*fp;

	if (t->dir[0] == '\0') {
		(void)snprintf(t->dir, sizeof(t->dir), "/tmp/test_headers.XXXXXX");
		assert_non_null(mkdtemp(t->dir));
		(void)snprintf(t->path, sizeof(t->path), "%s/header_rules",
		    t->dir);
	}
	fp = fopen(t->path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
tmp_clean(struct tmp *t)
{
	(void)unlink(t->path);
	(void)rmdir(t->dir);
}

/* A message whose header block ends at the first empty line. */
static struct hs_msg
msg_of(const char *text, size_t len)
{
	struct hs_msg	 m;
	const char	*e = memmem(text, len, "\n\n", 2);
	const char	*crlf = memmem(text, len, "\r\n\r\n", 4);

	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	m.sender = "";
	m.data = text;
	m.len = len;
	if (crlf != NULL && (e == NULL || crlf < e))
		m.header_len = (size_t)(crlf - text) + 4;
	else
		m.header_len = e ? (size_t)(e - text) + 2 : len;
	return (m);
}

/* Run a compiled rule on s as the plugin does: its limits, no JIT. */
static int
re_match(pcre2_code *re, const char *s, size_t len)
{
	pcre2_match_context *mc = hr_match_context();
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int		 rc;

	assert_non_null(mc);
	assert_non_null(md);
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, mc);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return (rc);
}

/* Load rules text and scan one message with them. */
static enum hs_verdict
verdict_for(const char *rules, const char *message, char *reason,
    size_t size)
{
	struct hr_rules	 rs = { NULL, 0 };
	struct headers	 h;
	struct hs_result res;
	struct hs_msg	 m = msg_of(message, strlen(message));
	struct tmp	 t = { "", "" };
	char		 err[HR_ERROR_SIZE];

	tmp_rules(&t, rules);
	if (hr_rules_load(t.path, &rs, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	tmp_clean(&t);
	memset(&h, 0, sizeof(h));
	h.rules = rs;
	h.max_header = 256 * 1024;
	h.max_field = 64 * 1024;
	memset(&res, 0, sizeof(res));
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	if (reason != NULL)
		(void)snprintf(reason, size, "%s", res.reason);
	hr_rules_free(&h.rules);
	return (res.verdict);
}

static void
test_good_rules_file(void **state)
{
	struct hr_rules	 rs = { NULL, 0 };
	struct tmp	 t = { "", "" };
	char		 err[HR_ERROR_SIZE];

	(void)state;
	tmp_rules(&t,
	    "# header rules\n"
	    "\n"
	    "   # an indented comment\n"
	    "/^Subject:.*lottery winner/i  blocked  \"lottery spam\"\n"
	    "/^From:.*@trusted\\.example/\tclean\r\n"
	    "/^X-Mailer: Mass\\/Mailer/ spam \"mass \\\"mailer\\\" \\\\o/\"\n"
	    "/^X-Virus: yes$/ infected \"\"\n"
	    "/^X-Score: high/ high-spam   \n");
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n, 5);
	assert_int_equal(rs.rule[0].verdict, HS_BLOCKED);
	assert_string_equal(rs.rule[0].reason, "lottery spam");
	assert_int_equal(rs.rule[0].line, 4);
	assert_int_equal(rs.rule[1].verdict, HS_CLEAN);
	assert_string_equal(rs.rule[1].reason, "rule header_rules:5");
	assert_int_equal(rs.rule[2].verdict, HS_SPAM);
	assert_string_equal(rs.rule[2].reason, "mass \"mailer\" \\o/");
	assert_int_equal(rs.rule[3].verdict, HS_INFECTED);
	assert_string_equal(rs.rule[3].reason, "rule header_rules:7");
	assert_int_equal(rs.rule[4].verdict, HS_HIGH_SPAM);
	/* "\/" is a slash inside the expression. */
	assert_true(re_match(rs.rule[2].re, "X-Mailer: Mass/Mailer 2", 23) > 0);
	hr_rules_free(&rs);
	tmp_clean(&t);
}

static void
test_rule_errors_name_file_and_line(void **state)
{
	static const struct {
		const char	*line;
		const char	*why;
	} bad[] = {
		{ "Subject: lottery  blocked", "a rule starts with /regular "
		    "expression/" },
		{ "/lottery blocked", "unterminated regular expression" },
		{ "/lottery\\/ blocked", "unterminated regular expression" },
		{ "// blocked", "empty regular expression" },
		{ "/lottery/x blocked", "unknown flag 'x'" },
		{ "/lottery/", "missing verdict" },
		{ "/lottery/i   ", "missing verdict" },
		{ "/lottery/ burn", "unknown verdict \"burn\"" },
		{ "/lottery/ scan-failed", "unknown verdict \"scan-failed\"" },
		{ "/lottery/ blocked lottery spam", "the reason must be in "
		    "double quotes" },
		{ "/lottery/ blocked \"lottery", "unterminated reason" },
		{ "/lottery/ blocked \"lottery\" spam", "text after the reason" },
		{ "/lot(tery/ blocked", "bad regular expression: missing "
		    "closing parenthesis" },
		{ "/[[.a.]]/ blocked", "bad regular expression: POSIX "
		    "collating elements are not supported" },
		{ "/\\<lottery\\>/ blocked", "bad regular expression: \\< is "
		    "no word boundary in PCRE2: write \\b" },
		{ "/(*UTF)x/ blocked", "bad regular expression: using UTF is "
		    "disabled" },
		{ "/\\((?:[^()]|(?R))*\\)/ blocked", "bad regular expression: "
		    "(?R) (recursion into the whole expression) needs ^ or a "
		    "leading .*" },
		{ "/(*LIMIT_MATCH=10)x/ blocked", "bad regular expression: it "
		    "cannot be searched for as (?s:.*?)(?:...)" },
		{ "/lottery/ blocked \"a\tb\"", "the reason may hold only "
		    "printable ASCII" },
	};
	char		 text[1024], err[HR_ERROR_SIZE], want[600], *big;
	struct hr_rules	 rs = { NULL, 0 };
	struct tmp	 t = { "", "" };
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "# comment\n/ok/ spam\n%s\n"
		    "/fine/ blocked\n", bad[i].line);
		tmp_rules(&t, text);
		if (hr_rules_load(t.path, &rs, err, sizeof(err)) == 0)
			fail_msg("accepted: %s", bad[i].line);
		assert_int_equal(rs.n, 0);
		assert_null(rs.rule);
		(void)snprintf(want, sizeof(want), "%s:3: %s", t.path,
		    bad[i].why);
		if (strstr(err, want) == NULL)
			fail_msg("for \"%s\": got \"%s\", want \"%s\"",
			    bad[i].line, err, want);
	}

	/* A reason of 201 characters; a line of 9,000 bytes. */
	big = malloc(9100);
	assert_non_null(big);
	(void)snprintf(big, 9100, "/x/ spam \"%0201d\"\n", 0);
	tmp_rules(&t, big);
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":1: reason longer than 200 characters"));
	memset(big, 'a', 9000);
	memcpy(big, "\n/", 2);
	memcpy(big + 8990, "/ spam\n", 8);
	tmp_rules(&t, big);
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":2: line longer than 8191 bytes"));
	free(big);

	/* A missing file. */
	tmp_clean(&t);
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), -1);
	(void)snprintf(want, sizeof(want), "%s: No such file", t.path);
	assert_non_null(strstr(err, want));
}

static void
test_flags_and_anchors(void **state)
{
	const char	*msg = "From: a@example.org\nSubject: You are a Lottery "
			    "Winner\n\nbody\n";

	(void)state;
	assert_int_equal(verdict_for("/^Subject:.*lottery winner/ blocked\n",
	    msg, NULL, 0), HS_CLEAN);
	assert_int_equal(verdict_for("/^Subject:.*lottery winner/i blocked\n",
	    msg, NULL, 0), HS_BLOCKED);
	assert_int_equal(verdict_for("/^subject:/ blocked\n", msg, NULL, 0),
	    HS_CLEAN);
	/* ^ is the start of a field, $ its end. */
	assert_int_equal(verdict_for("/^Winner/i blocked\n", msg, NULL, 0),
	    HS_CLEAN);
	assert_int_equal(verdict_for("/Winner$/ spam\n", msg, NULL, 0),
	    HS_SPAM);
}

static void
test_folded_headers_are_unfolded(void **state)
{
	char		 reason[256];

	(void)state;
	/* Folded over three lines, CR LF or LF, tab or space. */
	assert_int_equal(verdict_for("/^Subject: Congratulations, you are a "
	    "lottery winner$/i blocked \"lottery\"\n",
	    "From: a@example.org\r\nSubject: Congratulations,\r\n you are a "
	    "LOTTERY\r\n winner\r\nTo: b@example.net\r\n\r\nbody\r\n", reason,
	    sizeof(reason)), HS_BLOCKED);
	assert_string_equal(reason, "lottery");
	assert_int_equal(verdict_for("/^Subject:.*a\tlottery winner/ blocked\n",
	    "Subject: a\n\tlottery winner\n\n", NULL, 0), HS_BLOCKED);
	/* A continuation line is not a field of its own. */
	assert_int_equal(verdict_for("/^From: evil/ blocked\n",
	    "X-Note: quoted\n From: evil@example.org\n\nbody\n", NULL, 0),
	    HS_CLEAN);
	/* The body is never examined, not even a header-like line in it. */
	assert_int_equal(verdict_for("/^Subject: lottery/ blocked\n",
	    "Subject: hello\n\nSubject: lottery\n", NULL, 0), HS_CLEAN);
	/* A NUL byte reads as a space: it hides nothing. */
	{
		static const char m[] = "Subject: lottery\0winner\n\nbody\n";
		struct hr_rules	 rs = { NULL, 0 };
		struct headers	 h;
		struct hs_result res;
		struct hs_msg	 msg = msg_of(m, sizeof(m) - 1);
		struct tmp	 t = { "", "" };
		char		 err[HR_ERROR_SIZE];

		tmp_rules(&t, "/lottery winner/ blocked\n");
		assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
		tmp_clean(&t);
		memset(&h, 0, sizeof(h));
		h.rules = rs;
		h.max_header = 1024;
		h.max_field = 1024;
		memset(&res, 0, sizeof(res));
		assert_int_equal(headers_scan(&h, &msg, &res), 0);
		assert_int_equal(res.verdict, HS_BLOCKED);
		hr_rules_free(&h.rules);
	}
}

static void
test_first_matching_rule_wins(void **state)
{
	const char	*rules =
	    "/^From:.*@trusted\\.example>?$/ clean \"trusted sender\"\n"
	    "/^Subject:.*viagra/i spam \"pills\"\n"
	    "/^Subject:.*lottery/i blocked \"lottery\"\n"
	    "/^Subject:/ high-spam \"any subject\"\n";
	char		 reason[256];

	(void)state;
	/* Rule order, not header order: From comes after Subject here. */
	assert_int_equal(verdict_for(rules, "Subject: lottery\nFrom: "
	    "<boss@trusted.example>\n\n", reason, sizeof(reason)), HS_CLEAN);
	assert_string_equal(reason, "trusted sender");
	assert_int_equal(verdict_for(rules, "Subject: lottery viagra\nFrom: "
	    "<x@elsewhere.example>\n\n", reason, sizeof(reason)), HS_SPAM);
	assert_string_equal(reason, "pills");
	assert_int_equal(verdict_for(rules, "Subject: lottery\n\n", reason,
	    sizeof(reason)), HS_BLOCKED);
	assert_string_equal(reason, "lottery");
	assert_int_equal(verdict_for(rules, "Subject: hello\n\n", reason,
	    sizeof(reason)), HS_HIGH_SPAM);
	assert_int_equal(verdict_for(rules, "To: x@example.org\n\n", reason,
	    sizeof(reason)), HS_CLEAN);
	assert_string_equal(reason, "");
}

static void
test_huge_header_block_is_bounded(void **state)
{
	const size_t	 size = 10 * 1024 * 1024;
	struct hr_rules	 rs = { NULL, 0 };
	struct headers	 h;
	struct hs_result res;
	struct hs_msg	 m;
	struct timespec	 t0;
	struct tmp	 t = { "", "" };
	char		 err[HR_ERROR_SIZE], *text;
	size_t		 i;

	(void)state;
	tmp_rules(&t, "/^X-Early: bad/ blocked \"early\"\n"
	    "/^Subject:.*lottery/i blocked \"late\"\n"
	    "/(a|b)*c$/ spam\n/x.*y.*z.*w/i spam\n");
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
	tmp_clean(&t);
	memset(&h, 0, sizeof(h));
	h.rules = rs;
	h.max_header = 256 * 1024;
	h.max_field = 64 * 1024;

	/* 10 MB of header lines with the bad Subject at the very end. */
	text = malloc(size + 64);
	assert_non_null(text);
	for (i = 0; i + 80 < size; i += 80) {
		memcpy(text + i, "X-Pad: ", 7);
		memset(text + i + 7, 'a', 72);
		text[i + 79] = '\n';
	}
	i += (size_t)sprintf(text + i, "Subject: lottery\n\nbody\n");
	m = msg_of(text, i);
	assert_true(m.header_len > size - 100);
	memset(&res, 0, sizeof(res));
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_true(test_seconds_since(&t0) < 2.0);

	/* One folded 10 MB field: examined up to the limit only. */
	memcpy(text, "Subject: ", 9);
	for (i = 80; i + 80 < size; i += 80)
		text[i] = ' ';
	m = msg_of(text, strlen(text));
	memset(&res, 0, sizeof(res));
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_true(test_seconds_since(&t0) < 2.0);

	/* Within the limit it is found. */
	memcpy(text, "X-Early: bad\n", 13);
	memset(&res, 0, sizeof(res));
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	assert_int_equal(res.verdict, HS_BLOCKED);
	assert_string_equal(res.reason, "early");

	/* No header block at all. */
	m = msg_of("\nbody only\n", 11);
	memset(&res, 0, sizeof(res));
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	free(text);
	hr_rules_free(&h.rules);
}

/* Append the header field "NAME: " and n bytes of fill at p; its end. */
static char *
put_field(char *p, const char *name, const char *fill, size_t n)
{
	size_t		 fl = strlen(fill), i;

	p += sprintf(p, "%s: ", name);
	for (i = 0; i < n; i++)
		*p++ = fill[i % fl];
	*p++ = '\n';
	*p = '\0';
	return (p);
}

static void
test_unanchored_rules_still_search_everywhere(void **state)
{
	struct hr_rules	 rs = { NULL, 0 };
	struct tmp	 t = { "", "" };
	char		 err[HR_ERROR_SIZE];
	uint32_t	 all;

	(void)state;
	/* Anchored by PCRE2 itself (^, leading .*): compiled as written. */
	tmp_rules(&t, "/^Subject:.*lottery/i spam\n/.*lottery/ spam\n"
	    "/lottery|^From:/ spam\n/(?<=a )lottery\\b/ spam\n");
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
	tmp_clean(&t);
	assert_int_equal(pcre2_pattern_info(rs.rule[0].re,
	    PCRE2_INFO_ALLOPTIONS, &all), 0);
	assert_true((all & PCRE2_ANCHORED) != 0);
	assert_true((all & PCRE2_CASELESS) != 0);
	assert_int_equal(pcre2_pattern_info(rs.rule[1].re,
	    PCRE2_INFO_ALLOPTIONS, &all), 0);
	assert_true((all & PCRE2_ANCHORED) != 0);
	/* Unanchored: still found anywhere in the field, and only there. */
	assert_true(re_match(rs.rule[2].re, "Subject: a lottery win", 22) > 0);
	assert_true(re_match(rs.rule[2].re, "X-Note: From: x", 15) ==
	    PCRE2_ERROR_NOMATCH);
	assert_true(re_match(rs.rule[2].re, "From: x", 7) > 0);
	assert_true(re_match(rs.rule[3].re, "Subject: a lottery!", 19) > 0);
	assert_true(re_match(rs.rule[3].re, "Subject: lottery", 16) ==
	    PCRE2_ERROR_NOMATCH);
	assert_true(re_match(rs.rule[3].re, "Subject: a lottery2", 19) ==
	    PCRE2_ERROR_NOMATCH);
	hr_rules_free(&rs);
}

/*
 * The attack of issue 13: a 128 KiB header field against rules that
 * backtrack without end. PCRE2 stops each with its limit (no clock is
 * looked at: the limits are what bound the time), the rule counts as
 * no match with a warning naming it, and the next rule still decides.
 */
static void
test_pathological_rules_hit_limits(void **state)
{
	struct fake_host fh;
	struct hr_rules	 rs = { NULL, 0 };
	struct hs_result res;
	struct hs_msg	 m;
	struct tmp	 t = { "", "" };
	const char	*why = NULL;
	char		 err[HR_ERROR_SIZE], want[512], *text, *p;
	void		*ctx = NULL;
	size_t		 len;

	(void)state;
	tmp_rules(&t,
	    "/x.*z!!/ blocked \"unanchored dot-star\"\n"
	    "/^Subject:.*x.*z!!/ blocked \"anchored dot-star\"\n"
	    "/(a|b)*%/ blocked \"nested repeat\"\n"
	    "/.*.*=.*;/ blocked \"dot-star dot-star\"\n"
	    "/^Subject: lottery/ high-spam \"lottery\"\n");

	/* Each rule on a 128 KiB field: PCRE2's own limit errors. */
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
	text = malloc(512 * 1024);
	assert_non_null(text);
	len = (size_t)(put_field(text, "Subject", "xyz!", 128 * 1024) - text);
	assert_int_equal(re_match(rs.rule[0].re, text, len - 1),
	    PCRE2_ERROR_MATCHLIMIT);
	assert_int_equal(re_match(rs.rule[1].re, text, len - 1),
	    PCRE2_ERROR_MATCHLIMIT);
	len = (size_t)(put_field(text, "X-Ab", "ab", 128 * 1024) - text);
	assert_int_equal(re_match(rs.rule[2].re, text, len - 1),
	    PCRE2_ERROR_DEPTHLIMIT);
	len = (size_t)(put_field(text, "Subject", "a=", 128 * 1024) - text);
	assert_int_equal(re_match(rs.rule[3].re, text, len - 1),
	    PCRE2_ERROR_MATCHLIMIT);
	hr_rules_free(&rs);

	/* Through the plugin: no match and a warning each, lottery wins. */
	fake_host_init(&fh, &hs_plugin);
	assert_int_equal(fake_set(&fh, "rules_file", t.path), 0);
	assert_int_equal(fake_set(&fh, "max_header_size", "1M"), 0);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), 0);
	p = put_field(text, "Subject", "xyz!", 128 * 1024);
	p = put_field(p, "X-Ab", "ab", 60 * 1024);
	p = put_field(p, "X-Eq", "a=", 60 * 1024);
	p += sprintf(p, "Subject: lottery\n\nbody\n");
	len = (size_t)(p - text);
	m = msg_of(text, len);
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_HIGH_SPAM);
	assert_string_equal(res.reason, "lottery");
	(void)snprintf(want, sizeof(want), "warning: TEST: %s:1: the regular "
	    "expression exceeded PCRE2's match limit on 1 header field; "
	    "treated as no match there\n", t.path);
	if (strstr(fh.log, want) == NULL)
		fail_msg("log: %s", fh.log);
	(void)snprintf(want, sizeof(want), "%s:2: the regular expression "
	    "exceeded PCRE2's match limit on 1 header field;", t.path);
	assert_non_null(strstr(fh.log, want));
	(void)snprintf(want, sizeof(want), "%s:3: the regular expression "
	    "exceeded PCRE2's depth limit on 1 header field;", t.path);
	assert_non_null(strstr(fh.log, want));
	(void)snprintf(want, sizeof(want), "%s:4: the regular expression "
	    "exceeded PCRE2's match limit on ", t.path);
	assert_non_null(strstr(fh.log, want));
	assert_null(strstr(fh.log, ":5:"));

	/* Without the lottery field: clean, the same warnings. */
	memcpy(strstr(text, "\nSubject: lottery") + 1, "X-Other", 7);
	fh.log[0] = '\0';
	fh.nlog = 0;
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_int_equal(fh.nlog, 4);
	free(text);
	hs_plugin.fini(ctx);
	tmp_clean(&t);
}

/* Limits exceeded HR_LIMIT_HITS_MAX times: the scan fails, and says why. */
static void
test_too_many_limit_hits_fail_the_scan(void **state)
{
	struct hr_rules	 rs = { NULL, 0 };
	struct headers	 h;
	struct hs_result res;
	struct hs_msg	 m;
	struct tmp	 t = { "", "" };
	char		 err[HR_ERROR_SIZE], *text, *p;
	size_t		 i, j;

	(void)state;
	tmp_rules(&t, "/(a|b)*%/ blocked \"nested repeat\"\n");
	assert_int_equal(hr_rules_load(t.path, &rs, err, sizeof(err)), 0);
	tmp_clean(&t);
	memset(&h, 0, sizeof(h));
	h.rules = rs;
	h.path = t.path;
	h.max_header = 1024 * 1024;
	h.max_field = 64 * 1024;

	/* HR_LIMIT_HITS_MAX fields of 12,000 "ab": each over the depth limit. */
	p = text = malloc(HR_LIMIT_HITS_MAX * 12100 + 16);
	assert_non_null(text);
	for (i = 0; i < HR_LIMIT_HITS_MAX; i++) {
		p += sprintf(p, "X-%03zu: ", i);
		for (j = 0; j < 12000; j++)
			*p++ = j % 2 ? 'b' : 'a';
		*p++ = '\n';
	}
	p += sprintf(p, "\nbody\n");
	m = msg_of(text, (size_t)(p - text));
	memset(&res, 0, sizeof(res));
	assert_int_equal(headers_scan(&h, &m, &res), -1);
	assert_string_equal(res.reason, "headers: rules exceeded PCRE2's "
	    "limits 32 times (rule header_rules:1, depth limit)");

	/* One fewer: no match, clean. */
	m.header_len -= 12008;
	memset(&res, 0, sizeof(res));
	assert_int_equal(headers_scan(&h, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	free(text);
	hr_rules_free(&h.rules);
}

static void
test_unfold_never_writes_past_its_limit(void **state)
{
	char		 out[17];
	size_t		 n;

	(void)state;
	memset(out, 'Z', sizeof(out));
	n = hr_unfold("Subject: abcdefghijklmnopqrstuvwxyz\n\n", 37, 16, 100,
	    out);
	assert_int_equal(n, 17);
	assert_memory_equal(out, "Subject: abcdefg", 17);
	n = hr_unfold("A: 1\nB: 2\n 3\n\nC: 4\n", 19, 100, 100, out);
	assert_int_equal(n, 12);
	assert_memory_equal(out, "A: 1\0B: 2 3", 12);
	/* Each field is cut to max_field bytes, folded lines included. */
	n = hr_unfold("A: 12345\nB: 1\n 2345\nC: 1\n\n", 28, 100, 5, out);
	assert_int_equal(n, 17);
	assert_memory_equal(out, "A: 12\0B: 1 \0C: 1", 17);
}

static void
test_hooks_init_scan_reload(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m = msg_of("Subject: lottery\n\n", 18);
	struct tmp	 t = { "", "" };
	const char	*why = NULL;
	char		 info[256], want[256];
	void		*ctx = NULL;

	(void)state;
	fake_host_init(&fh, &hs_plugin);

	/* The default is a path under the configuration directory. */
	assert_string_equal(fake_opt_str(&fh, "rules_file"),
	    HS_SYSCONFDIR "/header_rules");

	tmp_rules(&t, "/^Subject: lottery/ blocked \"lottery\"\n");
	assert_int_equal(fake_set(&fh, "rules_file", t.path), 0);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), 0);
	assert_string_equal(fh.watched, t.dir);
	hs_plugin.info(ctx, info, sizeof(info));
	(void)snprintf(want, sizeof(want), "1 rule from %s", t.path);
	assert_string_equal(info, want);
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_BLOCKED);

	/* A broken file on reload: refused, the old rules stay. */
	tmp_rules(&t, "/^Subject: lottery/ spam\n/broken\n");
	assert_int_equal(hs_plugin.reload(ctx, &why), -1);
	(void)snprintf(want, sizeof(want), "%s:2: unterminated", t.path);
	assert_non_null(strstr(why, want));
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_BLOCKED);

	/* Fixed: the new rules apply. */
	tmp_rules(&t, "# none\n/^Subject: lottery/ spam \"now spam\"\n"
	    "/other/ blocked\n");
	assert_int_equal(hs_plugin.reload(ctx, &why), 0);
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_SPAM);
	assert_string_equal(res.reason, "now spam");
	hs_plugin.info(ctx, info, sizeof(info));
	assert_non_null(strstr(info, "2 rules from "));
	hs_plugin.fini(ctx);

	/* init with a broken file: refused, the log names file and line. */
	tmp_rules(&t, "\n\n/x/ blockd\n");
	ctx = NULL;
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), -1);
	assert_null(ctx);
	(void)snprintf(want, sizeof(want), "warning: %s:3: unknown verdict "
	    "\"blockd\"", t.path);
	if (strstr(fh.log, want) == NULL)
		fail_msg("log: %s", fh.log);
	assert_non_null(strstr(why, "cannot load the header rules"));
	tmp_clean(&t);

	/* A missing file too. */
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), -1);
	assert_non_null(strstr(fh.log, "No such file or directory"));
}

static void
test_example_rules_and_config(void **state)
{
	struct hr_rules	 rs = { NULL, 0 };
	char		 err[HR_ERROR_SIZE];
	const char	*missing;

	(void)state;
	/* etc/header_rules loads, and holdscan.conf documents every option. */
	if (hr_rules_load(HS_SRCDIR "/etc/header_rules", &rs, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(rs.n > 0);
	hr_rules_free(&rs);
	if ((missing = fake_undocumented(&hs_plugin)) != NULL)
		fail_msg("etc/holdscan.conf: plugin headers: %s", missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_rules_file),
		cmocka_unit_test(test_rule_errors_name_file_and_line),
		cmocka_unit_test(test_flags_and_anchors),
		cmocka_unit_test(test_folded_headers_are_unfolded),
		cmocka_unit_test(test_first_matching_rule_wins),
		cmocka_unit_test(test_huge_header_block_is_bounded),
		cmocka_unit_test(test_unanchored_rules_still_search_everywhere),
		cmocka_unit_test(test_pathological_rules_hit_limits),
		cmocka_unit_test(test_too_many_limit_hits_fail_the_scan),
		cmocka_unit_test(test_unfold_never_writes_past_its_limit),
		cmocka_unit_test(test_hooks_init_scan_reload),
		cmocka_unit_test(test_example_rules_and_config),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
