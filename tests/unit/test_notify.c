/*
 * NAME
 *	test_notify - unit tests for header decoding, notice templates and
 *	the notification parameters
 * DESCRIPTION
 *	What a notice says and what the quarantine shows as a subject come
 *	from untrusted headers: decoding must be right and must never let a
 *	control character (a header injection, a terminal escape) through.
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
#include "daemon/notify.h"
#include "common/qfile.h"
#include "common/verdict.h"

static char *
decode(const char *s, size_t max)
{
	struct buf	 out = BUF_INIT;

	mailhdr_decode(s, strlen(s), max, &out);
	buf_putc(&out, '\0');
	return (buf_steal(&out, NULL));
}

static void
check_decode(const char *in, const char *want)
{
	char	*got = decode(in, 1000);

	assert_string_equal(got, want);
	free(got);
}

static void
test_rfc2047_words_are_decoded(void **state)
{
	(void)state;
	check_decode("plain text", "plain text");
	check_decode("=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße");
	check_decode("=?iso-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=", "Grüße aus Köln");
	/* White space between two encoded words goes, other white space stays. */
	check_decode("=?UTF-8?Q?a?= =?UTF-8?Q?b?= c =?UTF-8?Q?d?=", "ab c d");
	/* RFC 2231 language, lower-case encoding letter. */
	check_decode("=?utf-8*en?q?hello_world?=", "hello world");
	/* Unknown charsets and broken words stay as written. */
	check_decode("=?x-no-such-charset?Q?abc?=", "=?x-no-such-charset?Q?abc?=");
	check_decode("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
	check_decode("=?UTF-8?B?abc", "=?UTF-8?B?abc");
}

static void
test_decoded_text_is_safe_to_show(void **state)
{
	char	*got;

	(void)state;
	/* Control characters, raw or encoded, become spaces. */
	check_decode("a\033[31mred\tb", "a [31mred b");
	check_decode("=?UTF-8?Q?x=0D=0AInjected:_yes?=", "x  Injected: yes");
	/* Raw 8-bit that is not UTF-8 is Latin-1. */
	check_decode("caf\xe9", "café");
	/* C1 controls encoded in UTF-8 are not text. */
	check_decode("a\xc2\x9b" "b", "a b");
	/* The limit never cuts a UTF-8 sequence. */
	got = decode("ééé", 5);
	assert_string_equal(got, "éé");
	free(got);
}

static void
test_header_fields_are_found_and_unfolded(void **state)
{
	const char	*h = "Received: from x\n\tby y\nSubject: first\n part\n"
			    "subject: second\nX-Other: z\n";
	struct buf	 out = BUF_INIT;

	(void)state;
	assert_true(mailhdr_get(h, strlen(h), "SUBJECT", &out));
	assert_string_equal(out.data, "first part");
	buf_reset(&out);
	assert_true(mailhdr_get(h, strlen(h), "x-other", &out));
	assert_string_equal(out.data, "z");
	buf_reset(&out);
	assert_false(mailhdr_get(h, strlen(h), "X-Oth", &out));
	buf_free(&out);
}

static char *
expand(const char *tmpl, const char *const *vars)
{
	struct buf	 out = BUF_INIT;

	notify_expand(tmpl, strlen(tmpl), vars, &out);
	buf_putc(&out, '\0');
	return (buf_steal(&out, NULL));
}

static void
test_templates_expand_safely(void **state)
{
	const char	*vars[] = { "subject", "hi\nBcc: victim@example.org",
			    "verdict", "infected", "sender", "Grüße <a@b>",
			    "queue_id", "ABC", NULL };
	char		*got;

	(void)state;
	got = expand("Subject: [$verdict] $subject\nX-Id: ${queue_id}x\n\n"
	    "From $sender, $$5, $unknown, $subject\n", vars);
	/* No header can be injected; the body gets the text as is. */
	assert_string_equal(got, "Subject: [infected] hi Bcc: victim@example.org\n"
	    "X-Id: ABCx\n\nFrom Grüße <a@b>, $5, $unknown, "
	    "hi Bcc: victim@example.org\n");
	free(got);
	/* Non-ASCII in the header is MIME-encoded, in the body it is not. */
	got = expand("From: $sender\n\n$sender\n", vars);
	assert_string_equal(got, "From: =?UTF-8?B?R3LDvMOfZSA8YUBiPg==?=\n\n"
	    "Grüße <a@b>\n");
	free(got);
}

static void
test_verdict_lists_are_checked(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	(void)state;
	assert_int_equal(config_load_string("notify_postmaster = \"infected, "
	    "high_spam scan-failed\"\nnotify_recipients = blocked\n", "t.conf",
	    NULL, NULL, &conf, &errors), 0);
	assert_int_equal(confword_verdict_mask(conf->notify_postmaster),
	    1U << VERDICT_INFECTED | 1U << VERDICT_HIGH_SPAM |
	    1U << VERDICT_FAILED);
	assert_int_equal(confword_verdict_mask(conf->notify_recipients),
	    1U << VERDICT_BLOCKED);
	assert_string_equal(conf->postmaster_address, "postmaster");
	config_free(&conf);
	assert_int_equal(config_load_string("\n\nnotify_postmaster = virus\n",
	    "t.conf", NULL, NULL, &conf, &errors), -1);
	assert_non_null(strstr(errors, "t.conf:3: notify_postmaster = \"virus\": "
	    "unknown verdict \"virus\""));
	free(errors);
	assert_int_equal(confword_verdict_mask(""), 0);
}

/* A queue file from a sender and header lines (and a one-line body). */
static struct qfile *
queue_file(const char *sender, const char *const *lines, size_t n)
{
	struct qfile_rec env[3] = {
		{ QREC_TIME, 17, "1795430590 265925" },
		{ QREC_FROM, 0, NULL },
		{ QREC_RCPT, 3, "a@b" },
	};
	struct qfile_rec content[8];
	struct qfile_parts parts;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 img = BUF_INIT;
	size_t		 i;

	env[1].data = sender;
	env[1].len = strlen(sender);
	for (i = 0; i < n; i++) {
		content[i].type = QREC_NORM;
		content[i].data = lines[i];
		content[i].len = strlen(lines[i]);
	}
	memset(&parts, 0, sizeof(parts));
	parts.env = env;
	parts.nenv = 3;
	parts.content = content;
	parts.ncontent = n;
	parts.nfields = 6;
	if (qfile_image(&parts, &img, &err) < 0 ||
	    qfile_parse(img.data, img.len, &qf, &err) < 0)
		fail_msg("%s", err.text);
	buf_free(&img);
	return (qf);
}

static void
test_notices_are_recognised(void **state)
{
	const char	*notice[] = { "X-Holdscan-Notification: ABC (infected)",
			    "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "", "hi" };
	struct qfile	*qf;
	struct buf	 subj = BUF_INIT;

	(void)state;
	qf = queue_file("", notice, 4);
	assert_true(notify_is_notice(qf));
	mailhdr_subject(qf, 100, &subj);
	assert_string_equal(subj.data, "Grüße");
	buf_free(&subj);
	qfile_free(&qf);
	/* The header alone is not enough: a notice comes from the null sender. */
	qf = queue_file("mallory@example.org", notice, 4);
	assert_false(notify_is_notice(qf));
	qfile_free(&qf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2047_words_are_decoded),
		cmocka_unit_test(test_decoded_text_is_safe_to_show),
		cmocka_unit_test(test_header_fields_are_found_and_unfolded),
		cmocka_unit_test(test_templates_expand_safely),
		cmocka_unit_test(test_verdict_lists_are_checked),
		cmocka_unit_test(test_notices_are_recognised),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
