/*
 * NAME
 *	fuzz_rewrite - libFuzzer target for the MIME walk and deliver-cleaned
 * DESCRIPTION
 *	The input is a message (LF line ends). It is split into content
 *	records as Postfix stores them and cleaned with a fake part scanner
 *	that condemns parts named *.exe and parts holding "EVIL". The walk
 *	must not crash or refuse without a reason; every located range must
 *	lie in the text and start a line; a cleaned message must differ from
 *	the input, hold a note for each removed part, re-parse, and keep the
 *	text before the first replaced range byte for byte. The subject tag
 *	runs on the same records and must be idempotent.
 *
 *	Any broken invariant aborts, so libFuzzer reports it as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "scanner/mime.h"
#include "common/qfile.h"
#include "scanner/rewrite.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_rewrite: invariant broken: %s\n", what);
		abort();
	}
}

struct ctx {
	const char	*text;
	size_t		 len;
	size_t		 first_cut;	/* lowest cut_start seen */
};

static int
each_part(void *arg, const struct mime_part *p)
{
	struct ctx	*c = arg;

	check(p->content_type != NULL, "content type");
	check(p->len == 0 || p->data != NULL, "data");
	if (p->cut_ok) {
		check(p->cut_start <= p->cut_end && p->cut_end <= c->len,
		    "cut range inside the text");
		check(p->cut_start > 0 && c->text[p->cut_start - 1] == '\n',
		    "cut starts a line");
		if (p->cut_start < c->first_cut)
			c->first_cut = p->cut_start;
	}
	return (0);
}

static void
judge(void *arg, const struct hs_part *part, struct hs_result *res)
{
	size_t	 n = part->filename ? strlen(part->filename) : 0;

	(void)arg;
	if (n > 4 && strcmp(part->filename + n - 4, ".exe") == 0)
		res->verdict = HS_BLOCKED;
	else if (memmem(part->data, part->len, "EVIL", 4) != NULL)
		res->verdict = HS_INFECTED;
	(void)snprintf(res->reason, sizeof(res->reason), "fuzz");
}

/* HS_REWRITE_RENAME: every named part gets NAME.disarmed (quotes too). */
static int
renamer(void *arg, const struct hs_rewrite_in *in, struct hs_rewrite_out *out)
{
	(void)arg;
	if (in->how != HS_REWRITE_RENAME || in->filename == NULL)
		return (0);
	(void)snprintf(out->filename, sizeof(out->filename), "%s\";.disarmed",
	    in->filename);
	return (1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 inited;
	struct mime_limits lim = { 8, 200, true };
	struct rewrite_recs out, t1, t2;
	struct qfile_rec *recs = NULL;
	struct buf	 summary = BUF_INIT, text = BUF_INIT, a = BUF_INIT,
			 b = BUF_INIT;
	struct ctx	 c;
	char		 why[256], *msg;
	size_t		 n;
	int		 rc;

	if (!inited) {
		mime_init();
		inited = 1;
	}
	if (size > 1 << 20)
		return (0);
	msg = malloc(size + 1);
	memcpy(msg, data, size);
	msg[size] = '\0';
	n = qfile_text_records(msg, size, QFILE_LINE_LIMIT, &recs);
	qfile_content_text(recs, n, &text);	/* what the worker sees */

	memset(&c, 0, sizeof(c));
	c.text = text.data ? text.data : "";
	c.len = text.len;
	c.first_cut = text.len;
	why[0] = '\0';
	rc = mime_walk(c.text, c.len, &lim, each_part, &c, why, sizeof(why));
	check(rc == 0 || (rc == -1 && why[0] != '\0'), "refusal has a reason");

	switch (rewrite_clean(recs, n, c.text, c.len, &lim, judge, NULL,
	    QFILE_LINE_LIMIT, &out, &summary, why, sizeof(why))) {
	case REWRITE_CLEANED:
		check(rc == 0, "cleaned what the walk refused");
		qfile_content_text(out.recs, out.n, &a);
		check(a.len != c.len || memcmp(a.data, c.text, c.len) != 0,
		    "cleaned copy differs");
		check(memmem(a.data, a.len, "holdscan removed attachment",
		    27) != NULL, "note present");
		check(summary.len > 0, "summary");
		check(c.first_cut <= a.len &&
		    memcmp(a.data, c.text, c.first_cut) == 0,
		    "text before the first part kept");
		{
			struct ctx	 c2 = { a.data, a.len, a.len };

			check(mime_walk(a.data, a.len, &lim, each_part, &c2, why,
			    sizeof(why)) == 0, "cleaned copy re-parses");
		}
		rewrite_recs_free(&out);
		break;
	case REWRITE_UNCHANGED:
	case REWRITE_CANNOT:
		check(out.n == 0, "no output");
		break;
	case REWRITE_FAILED:
		check(why[0] != '\0', "failure has a reason");
		check(out.n == 0, "no partial output");
		break;
	}

	/* renaming: all or nothing, and a copy that parses again */
	{
		struct buf	 renamed = BUF_INIT, s2 = BUF_INIT, r = BUF_INIT;
		struct rewrite_rename rn = { renamer, NULL, &renamed };

		switch (rewrite_clean_rename(recs, n, c.text, c.len, &lim,
		    judge, NULL, &rn, QFILE_LINE_LIMIT, &out, &s2, why,
		    sizeof(why))) {
		case REWRITE_CLEANED:
			qfile_content_text(out.recs, out.n, &r);
			{
				struct ctx	 c3 = { r.data, r.len, r.len };

				check(mime_walk(r.data, r.len, &lim, each_part,
				    &c3, why, sizeof(why)) == 0,
				    "renamed copy re-parses");
			}
			check(renamed.len > 0 || s2.len > 0, "rename summary");
			rewrite_recs_free(&out);
			break;
		default:
			check(out.n == 0 && renamed.len == 0, "no output");
			break;
		}
		buf_free(&renamed);
		buf_free(&s2);
		buf_free(&r);
	}

	(void)rewrite_tag_subject(recs, n, "[SPAM]", QFILE_LINE_LIMIT, &t1);
	(void)rewrite_tag_subject(t1.recs, t1.n, "[SPAM]", QFILE_LINE_LIMIT, &t2);
	buf_reset(&a);
	qfile_content_text(t1.recs, t1.n, &a);
	qfile_content_text(t2.recs, t2.n, &b);
	check(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data,
	    a.len) == 0), "tag is idempotent");
	rewrite_recs_free(&t1);
	rewrite_recs_free(&t2);

	buf_free(&summary);
	buf_free(&text);
	buf_free(&a);
	buf_free(&b);
	free(recs);
	free(msg);
	return (0);
}
