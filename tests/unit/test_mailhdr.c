/*
 * NAME
 *	test_mailhdr - unit tests for removing fields named like holdscan's
 * DESCRIPTION
 *	A sender puts "X-Holdscan: clean" and "X-Spam-Status: No" above the
 *	real verdict headers (security issue 13, item 8): mailhdr_strip()
 *	must take them out, with their continuation lines and the records of
 *	their long lines, in any case, by exact name or "Prefix*", and leave
 *	everything else byte for byte: other fields, the body (even lines in
 *	it that look like the fields), the headers of MIME parts and of
 *	attached messages. The list is checked as the configuration checks
 *	it, and strip_header_names is read and refused like any parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/mailhdr.h"
#include "common/qfile.h"

#define DEFAULT_LIST	"X-Holdscan, X-Holdscan-*, X-Spam-Status, " \
			"X-Spam-Score, X-Spam-Flag, X-Spam-Level, " \
			"X-Spam-Report, X-Spam-Checker-Version"

struct stripped {
	char	*text;		/* the content after stripping */
	char	*names;		/* the names removed, as logged */
	size_t	 removed;
	size_t	 nin, nout;	/* records before and after */
};

static void
stripped_free(struct stripped *s)
{
	free(s->text);
	free(s->names);
}

/* Strip list from text split at line_limit (keep: see mailhdr.h). */
static struct stripped
strip(const char *text, size_t line_limit, const char *list, const char *keep)
{
	struct stripped	 s;
	struct qfile_rec *recs = NULL, *out = NULL;
	struct buf	 b = BUF_INIT, names = BUF_INIT;
	size_t		 i;

	memset(&s, 0, sizeof(s));
	s.nin = qfile_text_records(text, strlen(text), line_limit, &recs);
	s.removed = mailhdr_strip(recs, s.nin, list, keep, &out, &s.nout,
	    &names);
	/* Every record left is one of the originals, in order. */
	for (i = 0; i < s.nout; i++) {
		assert_true(out[i].data >= text &&
		    out[i].data + out[i].len <= text + strlen(text));
		assert_true(out[i].type == QREC_NORM ||
		    out[i].type == QREC_CONT);
	}
	qfile_content_text(out, s.nout, &b);
	buf_putc(&b, '\0');
	s.text = buf_steal(&b, NULL);
	buf_putc(&names, '\0');
	s.names = buf_steal(&names, NULL);
	free(recs);
	free(out);
	return (s);
}

static void
test_forged_fields_are_removed(void **state)
{
	struct stripped	 s;

	(void)state;
	s = strip("X-Holdscan: clean\n"
	    "X-Spam-Status: No, score=-100\n"
	    "From: a@example.org\n"
	    "x-spam-score: -100\n"
	    "X-SPAM-FLAG: NO\n"
	    "Subject: hi\n"
	    "X-Holdscan-Verdict: clean (trust me)\n"
	    "X-Holdscan : spaced before the colon\n"
	    "\n"
	    "body\n", 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "From: a@example.org\n"
	    "Subject: hi\n"
	    "\n"
	    "body\n");
	assert_int_equal(s.removed, 6);
	/* Each name once, as the message wrote it first. */
	assert_string_equal(s.names, "X-Holdscan, X-Spam-Status, "
	    "x-spam-score, X-SPAM-FLAG, X-Holdscan-Verdict");
	stripped_free(&s);
}

static void
test_continuation_lines_go_with_their_field(void **state)
{
	struct stripped	 s;

	(void)state;
	s = strip("Received: from x\n"
	    "\tby y\n"
	    "X-Spam-Status: No,\n"
	    " score=-5.0\n"
	    "\ttests=NONE\n"
	    "X-Spam-Report:\n"
	    "\t* -100 FORGED\n"
	    "Subject: s\n"
	    " continued\n"
	    "\n"
	    "b\n", 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "Received: from x\n"
	    "\tby y\n"
	    "Subject: s\n"
	    " continued\n"
	    "\n"
	    "b\n");
	assert_int_equal(s.removed, 2);
	stripped_free(&s);
}

static void
test_long_lines_lose_all_their_records(void **state)
{
	struct stripped	 s;
	char		 text[600], want[200];

	(void)state;
	/* Records of 16 bytes: the forged field spans many L records. */
	(void)snprintf(text, sizeof(text), "From: a\n"
	    "X-Spam-Status: No, %0200d\n"
	    " and a folded line that is long too, %0100d\n"
	    "To: b\n"
	    "\n"
	    "X-Spam-Status: No, %0100d\n", 0, 0, 0);
	(void)snprintf(want, sizeof(want), "From: a\nTo: b\n\n"
	    "X-Spam-Status: No, %0100d\n", 0);
	s = strip(text, 16, DEFAULT_LIST, NULL);
	assert_int_equal(s.removed, 1);
	assert_true(s.nout < s.nin);
	assert_string_equal(s.text, want);
	stripped_free(&s);
	/* A name longer than any listed one still meets "Prefix*". */
	(void)snprintf(text, sizeof(text), "X-Holdscan-%0300d: x\nA: b\n\nc\n",
	    0);
	s = strip(text, 2048, DEFAULT_LIST, NULL);
	assert_int_equal(s.removed, 1);
	assert_string_equal(s.text, "A: b\n\nc\n");
	assert_true(strlen(s.names) <= MAILHDR_REMOVED_MAX + 10);
	stripped_free(&s);
	/*
	 * Its ':' beyond the first record: the body starts there, for
	 * cleanup(8) and qfile_header_end() alike, and the body stays.
	 */
	s = strip(text, 32, DEFAULT_LIST, NULL);
	assert_int_equal(s.removed, 0);
	assert_string_equal(s.text, text);
	stripped_free(&s);
}

static void
test_globs_and_exact_names(void **state)
{
	struct stripped	 s;

	(void)state;
	s = strip("X-Holdscan: a\n"
	    "X-Holdscanner: b\n"
	    "X-Holdscan-Anything: c\n"
	    "X-Spam-Statuses: d\n"
	    "X-Spam: e\n"
	    "X-Virus-Scanned: f\n"
	    "\n", 2048, "X-Holdscan-* X-Spam-Status,X-Virus*", NULL);
	/* "X-Holdscan-*" is not "X-Holdscan"; exact names are exact. */
	assert_string_equal(s.text, "X-Holdscan: a\n"
	    "X-Holdscanner: b\n"
	    "X-Spam-Statuses: d\n"
	    "X-Spam: e\n"
	    "\n");
	assert_int_equal(s.removed, 2);
	stripped_free(&s);
	assert_true(mailhdr_name_listed("a, X-B*", "x-bc", 4));
	assert_true(mailhdr_name_listed("a, X-B*", "X-B", 3));
	assert_false(mailhdr_name_listed("a, X-B*", "X-", 2));
	assert_true(mailhdr_name_listed("a, X-B*", "A", 1));
	assert_false(mailhdr_name_listed("a, X-B*", "ab", 2));
	assert_false(mailhdr_name_listed("", "a", 1));
	assert_false(mailhdr_name_listed(NULL, "a", 1));
}

static void
test_empty_list_strips_nothing(void **state)
{
	const char	*text = "X-Holdscan: clean\nX-Spam-Status: No\n\nb\n";
	struct stripped	 s;

	(void)state;
	s = strip(text, 2048, "", NULL);
	assert_string_equal(s.text, text);
	assert_int_equal(s.removed, 0);
	assert_string_equal(s.names, "");
	assert_int_equal(s.nout, s.nin);
	stripped_free(&s);
}

static void
test_body_and_mime_parts_are_left_alone(void **state)
{
	const char	*body =
	    "\n"
	    "X-Spam-Status: No (in the body)\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "X-Spam-Status: No (a part's header)\n"
	    "X-Holdscan: clean (a part's header)\n"
	    "\n"
	    "text\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "X-Holdscan: clean (an attached message)\n"
	    "X-Spam-Flag: NO\n"
	    "Subject: inner\n"
	    "\n"
	    "inner body\n"
	    "--b--\n";
	char		 text[1024], want[1024];
	struct stripped	 s;

	(void)state;
	(void)snprintf(text, sizeof(text), "MIME-Version: 1.0\n"
	    "X-Spam-Level: ****\n"
	    "Content-Type: multipart/mixed; boundary=b\n%s", body);
	(void)snprintf(want, sizeof(want), "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=b\n%s", body);
	s = strip(text, 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, want);
	assert_int_equal(s.removed, 1);
	assert_string_equal(s.names, "X-Spam-Level");
	stripped_free(&s);
	/* Without an empty line, the body starts at the first non-field. */
	s = strip("X-Spam-Flag: NO\nnot a field\nX-Spam-Flag: YES\n", 2048,
	    DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "not a field\nX-Spam-Flag: YES\n");
	stripped_free(&s);
	/* A header block that was nothing but forgeries. */
	s = strip("X-Holdscan: a\n\nX-Holdscan: b\n", 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "\nX-Holdscan: b\n");
	stripped_free(&s);
	s = strip("", 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "");
	assert_int_equal(s.removed, 0);
	stripped_free(&s);
}

static void
test_a_notice_keeps_its_header(void **state)
{
	const char	*text = "X-Holdscan-Notification: Q1 (infected)\n"
	    "X-Holdscan-Other: x\n\nb\n";
	struct stripped	 s;

	(void)state;
	s = strip(text, 2048, DEFAULT_LIST, MAILHDR_NOTICE);
	assert_string_equal(s.text, "X-Holdscan-Notification: Q1 (infected)\n"
	    "\nb\n");
	stripped_free(&s);
	s = strip(text, 2048, DEFAULT_LIST, NULL);
	assert_string_equal(s.text, "\nb\n");
	stripped_free(&s);
}

static void
test_lists_are_checked(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, longname[100];

	(void)state;
	assert_null(mailhdr_names_check(""));
	assert_null(mailhdr_names_check(DEFAULT_LIST));
	assert_null(mailhdr_names_check("X-A*\tX-B"));
	assert_non_null(mailhdr_names_check("*"));
	assert_non_null(mailhdr_names_check("X-A, *"));
	assert_non_null(mailhdr_names_check("X-*-B"));
	assert_non_null(mailhdr_names_check("X-A:"));
	assert_non_null(mailhdr_names_check("X-\001"));
	memset(longname, 'a', 77);
	longname[77] = '\0';
	assert_non_null(mailhdr_names_check(longname));
	longname[76] = '*';
	assert_null(mailhdr_names_check(longname));

	/* The parameter: its default, a list, empty, a mistake. */
	assert_int_equal(config_load_string("", "t.conf", NULL, NULL, &conf,
	    &errors), 0);
	assert_non_null(strstr(conf->strip_header_names, "X-Holdscan-*"));
	assert_non_null(strstr(conf->strip_header_names, "X-Spam-Status"));
	config_free(&conf);
	assert_int_equal(config_load_string("strip_header_names = \"A, B*\"\n",
	    "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_string_equal(conf->strip_header_names, "A, B*");
	config_free(&conf);
	assert_int_equal(config_load_string("strip_header_names =\n",
	    "t.conf", NULL, NULL, &conf, &errors), 0);
	assert_string_equal(conf->strip_header_names, "");
	config_free(&conf);
	assert_int_equal(config_load_string("\nstrip_header_names = \"A, *\"\n",
	    "t.conf", NULL, NULL, &conf, &errors), -1);
	assert_null(conf);
	assert_non_null(strstr(errors, "t.conf:2: strip_header_names"));
	free(errors);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_fields_are_removed),
		cmocka_unit_test(test_continuation_lines_go_with_their_field),
		cmocka_unit_test(test_long_lines_lose_all_their_records),
		cmocka_unit_test(test_globs_and_exact_names),
		cmocka_unit_test(test_empty_list_strips_nothing),
		cmocka_unit_test(test_body_and_mime_parts_are_left_alone),
		cmocka_unit_test(test_a_notice_keeps_its_header),
		cmocka_unit_test(test_lists_are_checked),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
