/*
 * NAME
 *	test_rewrite - unit tests for the subject tag, header texts and
 *	deliver-cleaned (rewrite.c, mime.c)
 * DESCRIPTION
 *	Messages are built as text and turned into content records the way
 *	Postfix stores them (qfile_text_records). A fake part scanner
 *	condemns parts named *.exe and parts whose content holds "EVIL".
 *	Cleaned messages are checked byte for byte against the expected
 *	text, re-parsed (mime_walk), and the records outside the replaced
 *	parts are checked to be the very same records. Hostile messages
 *	(100,000 parts, deep nesting, huge header blocks, broken base64)
 *	must fail fast or pass, never crash.
 *
 *	The tests must never depend on each other or on the order they run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "scanner/mime.h"
#include "common/qfile.h"
#include "scanner/rewrite.h"
#include "common/template.h"

#define LIMIT	2048

/* Content records for text; text must outlive them. */
struct msg {
	const char	*text;
	struct qfile_rec *recs;
	size_t		 n;
};

static void
msg_init(struct msg *m, const char *text)
{
	m->text = text;
	m->n = qfile_text_records(text, strlen(text), LIMIT, &m->recs);
}

static char *
recs_text(const struct qfile_rec *recs, size_t n)
{
	struct buf	 b = BUF_INIT;

	qfile_content_text(recs, n, &b);
	buf_putc(&b, '\0');
	return (buf_steal(&b, NULL));
}

/* --- tag ------------------------------------------------------------------- */

static char *
tag(const char *text, const char *t, bool *had_r)
{
	struct rewrite_recs out;
	struct msg	 m;
	char		*s;

	msg_init(&m, text);
	*had_r = rewrite_tag_subject(m.recs, m.n, t, LIMIT, &out);
	s = recs_text(out.recs, out.n);
	rewrite_recs_free(&out);
	free(m.recs);
	return (s);
}

static void
test_tag_simple_subject(void **state)
{
	bool	 had;
	char	*s;

	(void)state;
	s = tag("From: a@b\nSubject: hello there\nTo: c@d\n\nSubject: body\n",
	    "[SPAM]", &had);
	assert_true(had);
	assert_string_equal(s, "From: a@b\nSubject: [SPAM] hello there\n"
	    "To: c@d\n\nSubject: body\n");
	free(s);
	s = tag("SUBJECT :hi\n\nx\n", "[SPAM]", &had);
	assert_true(had);
	assert_string_equal(s, "SUBJECT : [SPAM] hi\n\nx\n");
	free(s);
}

static void
test_tag_folded_subject(void **state)
{
	bool	 had;
	char	*s;

	(void)state;
	s = tag("From: a\nSubject: a long\n\tsubject line\n folded\nTo: b\n\n"
	    "body\n", "[SPAM]", &had);
	assert_true(had);
	assert_string_equal(s, "From: a\nSubject: [SPAM] a long\n\tsubject line\n"
	    " folded\nTo: b\n\nbody\n");
	free(s);
	/* value only on the continuation line */
	s = tag("Subject:\n  only here\n\nbody\n", "[SPAM]", &had);
	assert_string_equal(s, "Subject: [SPAM]\n  only here\n\nbody\n");
	free(s);
	/* the tag on a continuation line counts as present */
	s = tag("Subject: Re:\n [SPAM] x\n\nbody\n", "[SPAM]", &had);
	assert_string_equal(s, "Subject: Re:\n [SPAM] x\n\nbody\n");
	free(s);
}

static void
test_tag_missing_subject(void **state)
{
	bool	 had;
	char	*s;

	(void)state;
	s = tag("From: a\nTo: b\n\nSubject: in the body\n", "[SPAM]", &had);
	assert_false(had);
	assert_string_equal(s, "From: a\nTo: b\n\nSubject: in the body\n");
	free(s);
	/* a header block ended by a non-header line, as cleanup sees it */
	s = tag("From: a\nnot a header\nSubject: x\n", "[SPAM]", &had);
	assert_false(had);
	free(s);
}

static void
test_tag_is_idempotent(void **state)
{
	struct rewrite_recs one, two;
	struct msg	 m;
	char		*a, *b;
	bool		 had;

	(void)state;
	msg_init(&m, "From: a\nSubject: hello\n\nbody\n");
	assert_true(rewrite_tag_subject(m.recs, m.n, "[SPAM]", LIMIT, &one));
	assert_true(rewrite_tag_subject(one.recs, one.n, "[SPAM]", LIMIT, &two));
	a = recs_text(one.recs, one.n);
	b = recs_text(two.recs, two.n);
	assert_string_equal(a, b);
	assert_string_equal(a, "From: a\nSubject: [SPAM] hello\n\nbody\n");
	free(a);
	free(b);
	rewrite_recs_free(&one);
	rewrite_recs_free(&two);
	free(m.recs);
	a = tag("Subject: Re: [SPAM] hello\n\nx\n", "[SPAM]", &had);
	assert_string_equal(a, "Subject: Re: [SPAM] hello\n\nx\n");
	free(a);
	a = tag("Subject: hello\n\nx\n", "", &had);
	assert_string_equal(a, "Subject: hello\n\nx\n");
	free(a);
}

static void
test_tag_long_subject_keeps_other_records(void **state)
{
	struct rewrite_recs out;
	struct msg	 m;
	struct buf	 t = BUF_INIT;
	size_t		 i;

	(void)state;
	buf_printf(&t, "From: a\nSubject: ");
	for (i = 0; i < 3000; i++)
		buf_putc(&t, 'a' + (char)(i % 26));
	buf_printf(&t, "\nTo: b\n\nbody\n");
	msg_init(&m, t.data);
	assert_int_equal(m.recs[1].type, QREC_CONT);
	assert_true(rewrite_tag_subject(m.recs, m.n, "[SPAM]", LIMIT, &out));
	/* From, the subject as L + N, To, empty line, body */
	assert_int_equal(out.n, m.n);
	assert_ptr_equal(out.recs[0].data, m.recs[0].data);
	assert_int_equal(out.recs[1].type, QREC_CONT);
	assert_int_equal(out.recs[1].len, LIMIT);
	assert_memory_equal(out.recs[1].data, "Subject: [SPAM] abc", 19);
	assert_int_equal(out.recs[2].type, QREC_NORM);
	assert_int_equal(out.recs[1].len + out.recs[2].len,
	    m.recs[1].len + m.recs[2].len + 7);
	for (i = 3; i < m.n; i++)
		assert_ptr_equal(out.recs[i].data, m.recs[i].data);
	rewrite_recs_free(&out);
	free(m.recs);
	buf_free(&t);
}

/* --- templates and header lines --------------------------------------------- */

static void
test_expand_template(void **state)
{
	char	*s;

	(void)state;
	s = template_expand("$verdict ($reason) score=$score $other $", "spam",
	    "BAYES_99\nInjected: yes", 7.125, 900);
	assert_string_equal(s, "spam (BAYES_99 Injected: yes) score=7.1 "
	    "$other $");
	free(s);
	s = template_expand("$verdict: $reason", "blocked", "", 0, 900);
	assert_string_equal(s, "blocked: no reason given");
	free(s);
	s = template_expand("$reason", "x", "\xff\xfe long", 0, 6);
	assert_string_equal(s, "?? lon");
	free(s);
	assert_null(template_check("$verdict $reason $score 10$"));
	assert_non_null(template_check("$verdikt"));
	assert_non_null(template_check("a\nb"));
}

static void
test_plugin_header_lines_are_checked(void **state)
{
	struct buf	 out = BUF_INIT;

	(void)state;
	assert_int_equal(rewrite_header_lines("X-Spam-Score: 7.1\n"
	    "X-Spam-Report: a\n\tb\n"
	    "\n"
	    "not a header\n"
	    " orphan continuation\n"
	    "X-Ok: 1\r\n"
	    "Bad Name: x\n"
	    "X-Last: no newline", &out), 4);
	buf_putc(&out, '\0');
	assert_string_equal(out.data, "X-Spam-Score: 7.1\n"
	    "X-Spam-Report: a\n\tb\nX-Ok: 1\nX-Last: no newline\n");
	buf_free(&out);
}

/* --- deliver-cleaned ---------------------------------------------------------- */

struct seen {
	int		 calls;
	char		 names[16][64];
};

static void
fake_part_scanner(void *arg, const struct hs_part *part, struct hs_result *res)
{
	struct seen	*s = arg;
	size_t		 n = part->filename ? strlen(part->filename) : 0;

	if (s != NULL && s->calls < 16)
		(void)snprintf(s->names[s->calls], sizeof(s->names[0]), "%s",
		    part->filename ? part->filename : "-");
	if (s != NULL)
		s->calls++;
	res->verdict = HS_CLEAN;
	if (n > 4 && strcmp(part->filename + n - 4, ".exe") == 0) {
		res->verdict = HS_BLOCKED;
		(void)snprintf(res->reason, sizeof(res->reason),
		    "executable file name");
	} else if (memmem(part->data, part->len, "EVIL", 4) != NULL) {
		res->verdict = HS_INFECTED;
		(void)snprintf(res->reason, sizeof(res->reason), "Evil-Sig");
	}
}

static const struct mime_limits lim = { 20, 1000, false };

/* HS_REWRITE_RENAME: ".exe" names get ".disarmed", "keep.exe" ".exe" again. */
static int
fake_renamer(void *arg, const struct hs_rewrite_in *in,
    struct hs_rewrite_out *out)
{
	(void)arg;
	if (in->how != HS_REWRITE_RENAME || in->filename == NULL)
		return (0);
	if (strcmp(in->filename, "keep.exe") == 0)
		(void)snprintf(out->filename, sizeof(out->filename), "k.exe");
	else
		(void)snprintf(out->filename, sizeof(out->filename),
		    "%s.disarmed\"\n", in->filename);
	return (1);
}

/*
 * deliver-cleaned with renaming: a blocked part a plugin renames gets
 * its Content-Type name= (RFC 2231 continuations too) and
 * Content-Disposition filename= replaced, its other parameters, fields
 * and content kept; a name that plugin's judge still blocks, and an
 * infected part, are removed; the new name is made safe for a quoted
 * parameter; the summaries say which was which.
 */
static void
test_clean_renames_blocked_parts(void **state)
{
	const char	*text =
	    "From: a@example.org\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"B\"\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "hello\n"
	    "--B\n"
	    "Content-Type: application/octet-stream;\n"
	    " name*0*=utf-8''to%20ol;\n"
	    " name*1=\".exe\"; x-mac-type=\"a;b\"\n"
	    "Content-Disposition: attachment; filename=\"tool.exe\"; size=8\n"
	    "Content-ID: <c@d>\n"
	    "\n"
	    "harmless\n"
	    "--B\n"
	    "Content-Type: application/octet-stream; name=\"keep.exe\"\n"
	    "\n"
	    "bytes\n"
	    "--B\n"
	    "Content-Type: application/octet-stream; name=\"v.exe\"\n"
	    "\n"
	    "EVIL\n"
	    "--B\n"
	    "Content-Type: application/octet-stream; name=\"w.bin\"\n"
	    "\n"
	    "EVIL\n"
	    "--B--\n";
	struct rewrite_recs out;
	struct buf	 summary = BUF_INIT, renamed = BUF_INIT;
	struct rewrite_rename rn = { fake_renamer, NULL, &renamed };
	struct msg	 m;
	char		 why[200], *got;

	(void)state;
	msg_init(&m, text);
	assert_int_equal(rewrite_clean_rename(m.recs, m.n, text, strlen(text),
	    &lim, fake_part_scanner, NULL, &rn, LIMIT, &out, &summary, why,
	    sizeof(why)), REWRITE_CLEANED);
	got = recs_text(out.recs, out.n);
	assert_non_null(strstr(got, "--B\n"
	    "Content-Type: application/octet-stream;\n"
	    "\tx-mac-type=\"a;b\";\n"
	    "\tname=\"tool.exe.disarmed__\"\n"
	    "Content-Disposition: attachment;\n"
	    "\tsize=8;\n"
	    "\tfilename=\"tool.exe.disarmed__\"\n"
	    "Content-ID: <c@d>\n"
	    "\n"
	    "harmless\n"
	    "--B\n"));
	assert_null(strstr(got, "name*"));
	assert_non_null(strstr(got, "holdscan removed attachment keep.exe: "
	    "blocked: executable file name"));
	/* blocked, renamed, then infected under the new name: removed */
	assert_non_null(strstr(got, "holdscan removed attachment v.exe: "
	    "blocked: executable file name"));
	assert_non_null(strstr(got, "holdscan removed attachment w.bin: "
	    "infected: Evil-Sig"));
	buf_putc(&summary, '\0');
	buf_putc(&renamed, '\0');
	assert_string_equal(renamed.data, "tool.exe to tool.exe.disarmed__: "
	    "executable file name");
	assert_string_equal(summary.data, "keep.exe: blocked: executable file "
	    "name; v.exe: blocked: executable file name; w.bin: infected: "
	    "Evil-Sig");
	free(got);
	rewrite_recs_free(&out);
	free(m.recs);
	buf_free(&summary);
	buf_free(&renamed);
}

/* Clean text; returns the result and the new text in *out_r. */
static enum rewrite_clean_result
clean(const char *text, char **out_r, char **summary_r, char *why,
    size_t size)
{
	struct rewrite_recs out;
	struct buf	 summary = BUF_INIT;
	struct msg	 m;
	enum rewrite_clean_result r;

	msg_init(&m, text);
	r = rewrite_clean(m.recs, m.n, text, strlen(text), &lim,
	    fake_part_scanner, NULL, LIMIT, &out, &summary, why, size);
	*out_r = r == REWRITE_CLEANED ? recs_text(out.recs, out.n) : NULL;
	if (summary_r != NULL) {
		buf_putc(&summary, '\0');
		*summary_r = buf_steal(&summary, NULL);
	}
	buf_free(&summary);
	rewrite_recs_free(&out);
	free(m.recs);
	return (r);
}

#define NOTE(name, verdict, reason) \
	"Content-Type: text/plain; charset=us-ascii\n" \
	"Content-Transfer-Encoding: 7bit\n" \
	"Content-Disposition: inline\n" \
	"\n" \
	"holdscan removed attachment " name ": " verdict ": " reason

static const char single_head[] =
    "Received: from x by y\n"
    "From: a@example.org\n"
    "Subject: invoice\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"=_b1\"\n"
    "\n"
    "This is a MIME message.\n"
    "--=_b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Please find the invoice attached.=0A\n"
    "--=_b1\n";
static const char single_bad[] =
    "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\n"
    "Content-Disposition: attachment; filename=\"invoice.pdf.exe\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    "AAAAAAAAAAAAAAAAgAAAAA==";
static const char single_tail[] =
    "\n--=_b1--\n"
    "epilogue text\n";

static void
test_clean_single_attachment(void **state)
{
	struct buf	 in = BUF_INIT, want = BUF_INIT;
	char		*out, *summary, why[256];

	(void)state;
	buf_printf(&in, "%s%s%s", single_head, single_bad, single_tail);
	buf_printf(&want, "%s%s%s", single_head,
	    NOTE("invoice.pdf.exe", "blocked", "executable file name"),
	    single_tail);
	assert_int_equal(clean(in.data, &out, &summary, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_string_equal(out, want.data);
	assert_string_equal(summary, "invoice.pdf.exe: blocked: executable "
	    "file name");
	free(out);
	free(summary);
	buf_free(&in);
	buf_free(&want);
}

static int
count_leaf(void *arg, const struct mime_part *p)
{
	int	*n = arg;

	(void)p;
	(*n)++;
	return (0);
}

/* The message parses, with this many leaves. */
static void
assert_leaves(const char *text, int want)
{
	char	 why[256];
	int	 n = 0;

	if (mime_walk(text, strlen(text), &lim, count_leaf, &n, why,
	    sizeof(why)) != 0)
		fail_msg("does not re-parse: %s", why);
	assert_int_equal(n, want);
}

static const char nested[] =
    "From: a\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain\n"
    "\n"
    "plain text\n"
    "--alt\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--alt--\n"
    "--outer\n"
    "Content-Type: multipart/mixed; boundary=\"inner\"\n"
    "\n"
    "inner preamble\n"
    "--inner\n"
    "Content-Type: application/pdf; name=clean.pdf\n"
    "\n"
    "%PDF-1.4 clean\r\n"
    "--inner\r\n"
    "Content-Type: application/x-msdownload; name=evil.exe\r\n"
    "\r\n"
    "MZ payload\r\n"
    "--inner\n"
    "\n"
    "a part without headers, content EVIL\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner@example.org\n"
    "Subject: forwarded\n"
    "Content-Type: application/octet-stream; name=\"fwd.exe\"\n"
    "\n"
    "forwarded payload\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: inner2@example.org\n"
    "Content-Type: multipart/mixed; boundary=m2\n"
    "\n"
    "--m2\n"
    "Content-Type: text/plain\n"
    "\n"
    "keep me\n"
    "--m2\n"
    "Content-Type: application/octet-stream; name=deep.exe\n"
    "\n"
    "deep\n"
    "--m2--\n"
    "--outer--\n";

static void
test_clean_nested_multipart(void **state)
{
	char	*out, *summary, why[256];
	const char *keep[] = {
		"From: a\nContent-Type: multipart/mixed; boundary=outer\n\n"
		    "--outer\n",
		"--alt\nContent-Type: text/plain\n\nplain text\n--alt\n"
		    "Content-Type: text/html\n\n<p>html</p>\n--alt--\n--outer\n",
		"inner preamble\n--inner\nContent-Type: application/pdf; "
		    "name=clean.pdf\n\n%PDF-1.4 clean\r\n--inner\r\n",
		"--m2\nContent-Type: text/plain\n\nkeep me\n--m2\n",
		"\n--m2--\n--outer--\n",
	};
	size_t	 i;

	(void)state;
	if (clean(nested, &out, &summary, why, sizeof(why)) != REWRITE_CLEANED) {
		fprintf(stderr, "not cleaned: %s\n", why);
		fail();
	}
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (strstr(out, keep[i]) == NULL)
			fail_msg("clean bytes changed: %s", keep[i]);
	/* the CRLF line end before the next boundary is kept */
	assert_non_null(strstr(out, "--inner\r\n" NOTE("evil.exe", "blocked",
	    "executable file name") "\r\n--inner\n"));
	/* a part without headers */
	assert_non_null(strstr(out, "--inner\n" NOTE("(unnamed text/plain part)",
	    "infected", "Evil-Sig") "\n--inner--\n"));
	/* a forwarded message whose body is the bad part: all of it goes */
	assert_non_null(strstr(out, "--outer\n" NOTE("fwd.exe", "blocked",
	    "executable file name") "\n--outer\n"));
	assert_null(strstr(out, "forwarded payload"));
	assert_non_null(strstr(out, "--m2\n" NOTE("deep.exe", "blocked",
	    "executable file name") "\n--m2--\n"));
	assert_string_equal(summary, "evil.exe: blocked: executable file name; "
	    "(unnamed text/plain part): infected: Evil-Sig; fwd.exe: blocked: "
	    "executable file name; deep.exe: blocked: executable file name");
	assert_leaves(nested, 8);
	assert_leaves(out, 8);
	free(out);
	free(summary);
}

static void
test_clean_parts_without_content(void **state)
{
	char	*out, why[256];

	(void)state;
	/* headers ended by the boundary, and an empty body */
	assert_int_equal(clean("From: a\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\nContent-Type: x/y; name=a.exe\n--b\n"
	    "Content-Type: x/y; name=b.exe\n\n--b\nContent-Type: text/plain\n\n"
	    "keep\n--b--\n", &out, NULL, why, sizeof(why)), REWRITE_CLEANED);
	assert_string_equal(out, "From: a\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\n" NOTE("a.exe", "blocked", "executable file "
	    "name") "\n--b\n" NOTE("b.exe", "blocked", "executable file name")
	    "\n--b\nContent-Type: text/plain\n\nkeep\n--b--\n");
	assert_leaves(out, 3);
	free(out);
}

static void
test_clean_keeps_records_outside_parts(void **state)
{
	struct rewrite_recs out;
	struct buf	 in = BUF_INIT, summary = BUF_INIT;
	struct msg	 m;
	char		 why[256];
	size_t		 i, j, same = 0;

	(void)state;
	/* a clean part with a line longer than the record limit */
	buf_printf(&in, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: text/plain\n\n");
	for (i = 0; i < 5000; i++)
		buf_putc(&in, 'x');
	buf_printf(&in, "\n--b\nContent-Type: application/x-foo; name=a.exe\n\n"
	    "bad\n--b--\n");
	msg_init(&m, in.data);
	assert_int_equal(rewrite_clean(m.recs, m.n, in.data, in.len, &lim,
	    fake_part_scanner, NULL, LIMIT, &out, &summary, why, sizeof(why)),
	    REWRITE_CLEANED);
	/* every original record up to the bad part is there, unchanged */
	for (i = 0; i < m.n && i < out.n; i++) {
		if (out.recs[i].data != m.recs[i].data)
			break;
		assert_int_equal(out.recs[i].type, m.recs[i].type);
		assert_int_equal(out.recs[i].len, m.recs[i].len);
		same++;
	}
	assert_int_equal(same, 10);	/* 4 + 3 (L L N) + "--b" + ... */
	/* and so is the closing boundary */
	j = out.n - 1;
	assert_ptr_equal(out.recs[j].data, m.recs[m.n - 1].data);
	rewrite_recs_free(&out);
	buf_free(&summary);
	buf_free(&in);
	free(m.recs);
}

static void
test_clean_cannot_and_unchanged(void **state)
{
	char	*out, why[256];

	(void)state;
	/* the bad part is the message body itself */
	assert_int_equal(clean("From: a\nContent-Type: application/x-foo; "
	    "name=a.exe\n\nMZ\n", &out, NULL, why, sizeof(why)), REWRITE_CANNOT);
	assert_non_null(strstr(why, "a.exe"));
	/* a plain message with EVIL in its body */
	assert_int_equal(clean("From: a\nSubject: x\n\nEVIL\n", &out, NULL, why,
	    sizeof(why)), REWRITE_CANNOT);
	/* nothing to remove */
	assert_int_equal(clean(single_head, &out, NULL, why, sizeof(why)),
	    REWRITE_UNCHANGED);
	assert_null(out);
}

static void
test_clean_calls_scanner_with_both_names(void **state)
{
	struct rewrite_recs out;
	struct buf	 summary = BUF_INIT;
	struct seen	 seen;
	struct msg	 m;
	const char	*text = "From: a\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\nContent-Type: application/octet-stream; "
	    "name=\"real.exe\"\nContent-Disposition: attachment; "
	    "filename=\"harmless.txt\"\n\nx\n--b--\n";
	char		 why[256];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	msg_init(&m, text);
	assert_int_equal(rewrite_clean(m.recs, m.n, text, strlen(text), &lim,
	    fake_part_scanner, &seen, LIMIT, &out, &summary, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_int_equal(seen.calls, 2);
	assert_string_equal(seen.names[0], "harmless.txt");
	assert_string_equal(seen.names[1], "real.exe");
	rewrite_recs_free(&out);
	buf_free(&summary);
	free(m.recs);
}

/* --- hostile input ------------------------------------------------------------ */

static double
seconds_since(const struct timespec *t0)
{
	struct timespec	 t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
}

static void
expect_failed(const char *text, const char *why_part)
{
	struct timespec	 t0;
	char		*out, why[256];

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(clean(text, &out, NULL, why, sizeof(why)),
	    REWRITE_FAILED);
	if (strstr(why, why_part) == NULL)
		fail_msg("why: %s (expected %s)", why, why_part);
	if (seconds_since(&t0) > 5.0)
		fail_msg("took %.1f s", seconds_since(&t0));
}

static void
test_hostile_many_parts(void **state)
{
	struct buf	 t = BUF_INIT;
	size_t		 i;

	(void)state;
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 100000; i++)
		buf_append(&t, "--b\n\nx\n", 7);
	buf_printf(&t, "--b--\n");
	expect_failed(t.data, "MIME boundary lines");
	/* an RFC 2231 boundary the pre-scan cannot read: every -- line counts */
	buf_reset(&t);
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; "
	    "boundary*0=b\n\n");
	for (i = 0; i < 100000; i++)
		buf_append(&t, "--b\n\nx\n", 7);
	expect_failed(t.data, "MIME boundary lines");
	/* just over the limit on parts, under the pre-scan's bound */
	buf_reset(&t);
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 1000; i++)
		buf_printf(&t, "--b\nContent-Type: text/plain\n\nx\n");
	buf_printf(&t, "--b--\n");
	expect_failed(t.data, "more than 1000 MIME parts");
	buf_free(&t);
}

static void
test_hostile_deep_nesting(void **state)
{
	struct buf	 t = BUF_INIT;
	size_t		 i;

	(void)state;
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b0\n\n");
	for (i = 1; i < 5000; i++)
		buf_printf(&t, "--b%zu\nContent-Type: multipart/mixed; "
		    "boundary=b%zu\n\n", i - 1, i);
	buf_printf(&t, "--b4999\nContent-Type: application/x; name=a.exe\n\n"
	    "x\n");
	expect_failed(t.data, "MIME");
	/* messages in messages */
	buf_reset(&t);
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n");
	for (i = 0; i < 3000; i++)
		buf_printf(&t, "Content-Type: message/rfc822\n\nFrom: x\n");
	buf_printf(&t, "Content-Type: text/plain; name=a.exe\n\nx\n--b--\n");
	expect_failed(t.data, "nesting deeper than 20");
	/* deep nesting and many "--" lines: GMime would compare each with all */
	buf_reset(&t);
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b0\n\n");
	for (i = 1; i < 1000; i++)
		buf_printf(&t, "--b%zu\nContent-Type: multipart/mixed; "
		    "boundary=b%zu\n\n", i - 1, i);
	for (i = 0; i < 1000000; i++)
		buf_append(&t, "--zz\n", 5);
	expect_failed(t.data, "too many \"--\" lines");
	buf_free(&t);
}

static void
test_many_dash_lines_are_fine(void **state)
{
	struct buf	 t = BUF_INIT;
	char		*out, why[256];
	size_t		 i;

	(void)state;
	/* a patch full of SQL comments is not a MIME bomb */
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: text/plain\n\n");
	for (i = 0; i < 100000; i++)
		buf_append(&t, "--- a comment: x\n", 17);
	buf_printf(&t, "--b\nContent-Type: text/plain; name=a.exe\n\nx\n--b--\n");
	assert_int_equal(clean(t.data, &out, NULL, why, sizeof(why)),
	    REWRITE_CLEANED);
	free(out);
	buf_free(&t);
}

static void
test_hostile_huge_header_block(void **state)
{
	struct buf	 t = BUF_INIT;
	size_t		 i;

	(void)state;
	buf_printf(&t, "From: a\n");
	for (i = 0; i < 1000000; i++)
		buf_append(&t, "a:b\n", 4);
	buf_printf(&t, "\nbody\n");
	expect_failed(t.data, "MIME header fields");
	/* the same in a part's header block */
	buf_reset(&t);
	buf_printf(&t, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n");
	for (i = 0; i < 1000000; i++)
		buf_append(&t, "a:b\n", 4);
	buf_printf(&t, "\nx\n--b--\n");
	expect_failed(t.data, "MIME header fields");
	/* one very long header line is fine */
	buf_reset(&t);
	buf_printf(&t, "From: a\nX-Long: ");
	buf_reserve(&t, 2000000);
	memset(t.data + t.len, 'x', 2000000);
	t.len += 2000000;
	buf_printf(&t, "\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: text/plain; name=a.exe\n\nx\n--b--\n");
	{
		char	*out, why[256];

		assert_int_equal(clean(t.data, &out, NULL, why, sizeof(why)),
		    REWRITE_CLEANED);
		free(out);
	}
	buf_free(&t);
}

static void
test_hostile_broken_base64(void **state)
{
	char		*out, why[256];
	const char	*text = "From: a\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\nContent-Type: application/x; name=x.bin\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "RV\x01Z\xffJ!!\nTA==\n!!!!\n--b\nContent-Type: text/plain\n"
	    "Content-Transfer-Encoding: base64\n\n=\n--b--\n";

	(void)state;
	/* "RVZJTA==" decodes to EVIL despite the junk in it */
	assert_int_equal(clean(text, &out, NULL, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_non_null(strstr(out, "removed attachment x.bin: infected"));
	free(out);
}

static void
test_hostile_names_stay_in_their_line(void **state)
{
	char		*out, why[256];
	const char	*text = "From: a\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n--b\nContent-Type: application/x; "
	    "name=\"=?utf-8?q?a=0A--b--=0Ab.exe?=\"\n\nx\n--b--\n";

	(void)state;
	assert_int_equal(clean(text, &out, NULL, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_non_null(strstr(out, "removed attachment a?--b--?b.exe: blocked"));
	assert_leaves(out, 1);
	free(out);
}

/* --- HTML disarming ---------------------------------------------------------- */

/*
 * A fake rewrite_part: parts holding "<script" become what fake_html
 * says; "FAIL" cannot; "BADTYPE" answers a type the host refuses. It
 * records the charset it was given.
 */
static const char *fake_html = "<p>safe = kept</p>";
static char fake_charset[32];

static int
fake_rewriter(void *arg, const struct hs_rewrite_in *in,
    struct hs_rewrite_out *out)
{
	(void)arg;
	assert_string_equal(in->content_type, "text/html");
	assert_int_equal(in->how, HS_REWRITE_DISARM);
	(void)snprintf(fake_charset, sizeof(fake_charset), "%s",
	    in->charset != NULL ? in->charset : "(none)");
	if (memmem(in->data, in->len, "FAIL", 4) != NULL) {
		(void)snprintf(out->reason, sizeof(out->reason), "too\nlarge");
		return (-1);
	}
	if (memmem(in->data, in->len, "<script", 7) == NULL)
		return (0);
	out->data = strdup(fake_html);
	out->len = strlen(fake_html);
	(void)snprintf(out->content_type, sizeof(out->content_type), "%s",
	    memmem(in->data, in->len, "BADTYPE", 7) != NULL ?
	    "text/html\nX-Evil: 1" : "text/html");
	(void)snprintf(out->charset, sizeof(out->charset), "us-ascii");
	out->removed = 2;
	return (1);
}

static enum rewrite_clean_result
disarm(const char *text, char **out_r, char **summary_r, char *why,
    size_t size)
{
	struct rewrite_recs out;
	struct buf	 summary = BUF_INIT;
	struct msg	 m;
	enum rewrite_clean_result r;

	msg_init(&m, text);
	r = rewrite_html(m.recs, m.n, text, strlen(text), &lim,
	    HS_REWRITE_DISARM, 0, fake_rewriter, NULL, LIMIT, &out, &summary,
	    why, size);
	*out_r = r == REWRITE_CLEANED ? recs_text(out.recs, out.n) : NULL;
	if (summary_r != NULL) {
		buf_putc(&summary, '\0');
		*summary_r = buf_steal(&summary, NULL);
	}
	buf_free(&summary);
	rewrite_recs_free(&out);
	free(m.recs);
	return (r);
}

/* The decoded content of leaf i, as a NUL-terminated string. */
struct leaf_get {
	size_t		 want;
	char		*data;
	char		 type[64];
};

static int
get_leaf(void *arg, const struct mime_part *p)
{
	struct leaf_get	*g = arg;

	if (p->index == g->want) {
		g->data = strndup((const char *)p->data, p->len);
		(void)snprintf(g->type, sizeof(g->type), "%s; %s",
		    p->content_type, p->charset ? p->charset : "-");
	}
	return (0);
}

static const char alt_head[] =
    "From: a@example.org\n"
    "Subject: news\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "--alt\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Hello, see the HTML.\n"
    "--alt\n";
static const char alt_tail[] =
    "\n--alt--\n";

static void
test_disarm_replaces_html_part(void **state)
{
	struct buf	 in = BUF_INIT, want = BUF_INIT;
	struct leaf_get	 g = { 1, NULL, "" };
	char		*out, *summary, why[256];

	(void)state;
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: text/html;\n"
	    "\tcharset=\"utf-8\"\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "Content-ID: <p1@example.org>\n"
	    "\n"
	    "<p onclick=3D\"x()\">Hi</p><script>alert(1)</script>", alt_tail);
	buf_printf(&want, "%s%s%s", alt_head,
	    "Content-ID: <p1@example.org>\n"
	    "Content-Type: text/html; charset=us-ascii\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "<p>safe =3D kept</p>", alt_tail);
	assert_int_equal(disarm(in.data, &out, &summary, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_string_equal(out, want.data);
	assert_string_equal(fake_charset, "utf-8");
	assert_string_equal(summary, "1 HTML part disarmed (2 elements "
	    "or attributes removed)");
	/* what a reader of the result gets */
	assert_int_equal(mime_walk(out, strlen(out), &lim, get_leaf, &g, why,
	    sizeof(why)), 0);
	/* the last line end is the boundary's */
	assert_string_equal(g.data, "<p>safe = kept</p>");
	assert_string_equal(g.type, "text/html; us-ascii");
	free(g.data);
	free(out);
	free(summary);

	/* nothing to disarm, or no HTML: unchanged */
	assert_int_equal(disarm(single_head, &out, NULL, why, sizeof(why)),
	    REWRITE_UNCHANGED);
	buf_reset(&in);
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: text/html\n\n<p>fine</p>", alt_tail);
	assert_int_equal(disarm(in.data, &out, NULL, why, sizeof(why)),
	    REWRITE_UNCHANGED);
	buf_free(&in);
	buf_free(&want);
}

static void
test_disarm_single_part_body(void **state)
{
	struct leaf_get	 g = { 0, NULL, "" };
	char		*out, why[256];
	const char	*long_line;
	const char	*text =
	    "From: a@example.org\n"
	    "Content-Type: text/html; charset=iso-8859-1\n"
	    "Subject: hi\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pjxw\n"
	    "PmNhZuk8L3A+\n";

	(void)state;
	assert_int_equal(disarm(text, &out, NULL, why, sizeof(why)),
	    REWRITE_CLEANED);
	assert_string_equal(fake_charset, "iso-8859-1");
	assert_string_equal(out,
	    "From: a@example.org\n"
	    "Subject: hi\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/html; charset=us-ascii\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "<p>safe =3D kept</p>\n");
	free(out);

	/* long lines and '=' come out encoded and decode to the same */
	long_line = "<p>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaa==</p>\n<p>\tb  </p>";
	fake_html = long_line;
	assert_int_equal(disarm(text, &out, NULL, why, sizeof(why)),
	    REWRITE_CLEANED);
	fake_html = "<p>safe = kept</p>";
	assert_int_equal(mime_walk(out, strlen(out), &lim, get_leaf, &g, why,
	    sizeof(why)), 0);
	assert_non_null(g.data);
	assert_int_equal(strncmp(g.data, long_line, strlen(long_line)), 0);
	free(g.data);
	free(out);
}

static void
test_disarm_cannot(void **state)
{
	struct buf	 in = BUF_INIT;
	char		*out, *big, why[256];

	(void)state;
	/* the plugin cannot: its reason, made one line */
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: text/html\n\n<script>FAIL", alt_tail);
	assert_int_equal(disarm(in.data, &out, NULL, why, sizeof(why)),
	    REWRITE_CANNOT);
	assert_string_equal(why, "HTML part 2: too large");
	assert_null(out);

	/* a type the host does not write */
	buf_reset(&in);
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: text/html\n\n<script>BADTYPE", alt_tail);
	assert_int_equal(disarm(in.data, &out, NULL, why, sizeof(why)),
	    REWRITE_CANNOT);
	assert_non_null(strstr(why, "not text/html or text/plain"));

	/* inside an attached message */
	buf_reset(&in);
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: message/rfc822\n\n"
	    "From: b@example.org\nContent-Type: text/html\n\n"
	    "<script>x</script>\n", alt_tail);
	assert_int_equal(disarm(in.data, &out, NULL, why, sizeof(why)),
	    REWRITE_CANNOT);
	assert_non_null(strstr(why, "inside an attached message"));

	/* a rewrite that would make the message grow beyond the bound */
	big = malloc(REWRITE_MAX_GROWTH + 2);
	assert_non_null(big);
	memset(big, '=', REWRITE_MAX_GROWTH / 2);	/* "=3D": 3 bytes each */
	big[REWRITE_MAX_GROWTH / 2] = '\0';
	fake_html = big;
	buf_reset(&in);
	buf_printf(&in, "%s%s%s", alt_head,
	    "Content-Type: text/html\n\n<script>x</script>", alt_tail);
	assert_int_equal(disarm(in.data, &out, NULL, why, sizeof(why)),
	    REWRITE_CANNOT);
	assert_non_null(strstr(why, "would be too large"));
	fake_html = "<p>safe = kept</p>";
	free(big);
	buf_free(&in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag_simple_subject),
		cmocka_unit_test(test_tag_folded_subject),
		cmocka_unit_test(test_tag_missing_subject),
		cmocka_unit_test(test_tag_is_idempotent),
		cmocka_unit_test(test_tag_long_subject_keeps_other_records),
		cmocka_unit_test(test_expand_template),
		cmocka_unit_test(test_plugin_header_lines_are_checked),
		cmocka_unit_test(test_clean_single_attachment),
		cmocka_unit_test(test_clean_nested_multipart),
		cmocka_unit_test(test_clean_parts_without_content),
		cmocka_unit_test(test_clean_keeps_records_outside_parts),
		cmocka_unit_test(test_clean_cannot_and_unchanged),
		cmocka_unit_test(test_clean_calls_scanner_with_both_names),
		cmocka_unit_test(test_hostile_many_parts),
		cmocka_unit_test(test_hostile_deep_nesting),
		cmocka_unit_test(test_many_dash_lines_are_fine),
		cmocka_unit_test(test_hostile_huge_header_block),
		cmocka_unit_test(test_hostile_broken_base64),
		cmocka_unit_test(test_hostile_names_stay_in_their_line),
		cmocka_unit_test(test_clean_renames_blocked_parts),
		cmocka_unit_test(test_disarm_replaces_html_part),
		cmocka_unit_test(test_disarm_single_part_body),
		cmocka_unit_test(test_disarm_cannot),
	};

	mime_init();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
