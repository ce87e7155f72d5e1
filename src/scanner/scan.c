/*
 * NAME
 *	scan - the per-message pipeline inside a scanner worker
 * DESCRIPTION
 *	Reads the queue file the master passed (read-only descriptor),
 *	rebuilds the RFC 822 message from its content records, runs each
 *	configured plugin, takes the most severe verdict, asks the policy
 *	for the action and builds the new content (rewrite.c):
 *
 *	deliver		the original records with holdscan's header and the
 *			plugins' header lines (checked line by line) inserted
 *			at the end of the header block;
 *	tag		the same, the subject tagged and the verdict header
 *			added (a "Subject:" too when there was none);
 *	deliver-cleaned	condemned parts replaced (each leaf part goes through
 *			every plugin's scan_part), then the cleaned copy is
 *			scanned again and must come out better than blocked;
 *			the verdict header is added. When it cannot clean (a
 *			condemning plugin has no scan_part, no part could be
 *			blamed, the part is the whole body, or the copy is
 *			still blocked), the action becomes policy_fallback()'s
 *			(quarantine) and the worker logs why; beyond the MIME
 *			limits the message is "scan failed".
 *
 *	Whatever the action, delivered content first loses the fields of its
 *	header block named like holdscan's own headers (scan_header_name,
 *	the policy's tag_header_name) or listed in strip_header_names: a
 *	sender's forged verdicts, or holdscan's header from an earlier pass
 *	through hold, are replaced, never stacked under the real ones
 *	(mailhdr_strip(); one log line says how many and which). A notice
 *	of holdscand's (null sender) keeps its X-Holdscan-Notification.
 *
 *	The content goes back as N/L records in a sealed memfd; the master
 *	writes the envelope itself, so nothing a worker does can change who
 *	a message goes to.
 *
 *	This module must never write to the queue, never exit, and never
 *	report a verdict better than what a failed plugin allows: a plugin
 *	error makes the message VERDICT_FAILED.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/xalloc.h"
#include "scanner/mime.h"
#include "scanner/rewrite.h"
#include "common/template.h"
#include "scanner/scan.h"

/* Replace $version and $myhostname in text. */
static char *
expand_header(const char *name, const char *text, const char *myhostname)
{
	struct buf	 out = BUF_INIT;
	const char	*p;

	buf_printf(&out, "%s: ", name);
	for (p = text; *p; p++) {
		if (strncmp(p, "$version", 8) == 0) {
			buf_printf(&out, "%s", HS_VERSION);
			p += 7;
		} else if (strncmp(p, "$myhostname", 11) == 0) {
			buf_printf(&out, "%s", myhostname);
			p += 10;
		} else {
			buf_putc(&out, *p);
		}
	}
	return (buf_steal(&out, NULL));
}

void
scan_ctx_init(struct scan_ctx *ctx, const struct hs_config *conf,
    const struct policy *policy, const char *myhostname, size_t line_limit)
{
	memset(ctx, 0, sizeof(*ctx));
	mime_init();		/* GMime, for deliver-cleaned; counted, idempotent */
	ctx->conf = conf;
	ctx->line_limit = line_limit;
	ctx->policy = policy;
	if (conf->scan_header_name[0] != '\0')
		ctx->scan_header = expand_header(conf->scan_header_name,
		    conf->scan_header_text, myhostname);
	ctx->strip_names = mailhdr_strip_names(conf->scan_header_name,
	    policy->tag_header_name, conf->strip_header_names);
}

void
scan_ctx_clear(struct scan_ctx *ctx)
{
	free(ctx->scan_header);
	ctx->scan_header = NULL;
	free(ctx->strip_names);
	ctx->strip_names = NULL;
}

static long
elapsed_us(const struct timespec *t0)
{
	struct timespec	 t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0->tv_sec) * 1000000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000);
}

/* Append "name=verdict[:reason]" to the detail line, within its size. */
static void
detail_add(struct wire_result *res, const char *name, enum hs_verdict v,
    const char *reason)
{
	size_t	 len = strlen(res->detail);

	(void)snprintf(res->detail + len, sizeof(res->detail) - len,
	    "%s%s=%s%s%s", len ? " " : "", name, verdict_name((enum verdict)v),
	    reason[0] ? ":" : "", reason);
}

/* What the plugins said about one message. */
struct verdicts {
	enum verdict	 worst;
	double		 score;		/* of the plugin with the worst verdict */
	const char	*no_parts;	/* a condemning plugin without scan_part */
};

/* Run every plugin; collect the worst verdict and the plugins' headers. */
static void
run_plugins(const struct scan_ctx *ctx, const struct hs_msg *msg,
    struct wire_result *res, struct buf *headers, struct verdicts *vs)
{
	struct hs_result r;
	size_t		 i;

	memset(vs, 0, sizeof(*vs));
	vs->worst = VERDICT_CLEAN;
	for (i = 0; i < ctx->nplugins; i++) {
		struct plugin	*p = ctx->plugins[i];

		plugin_scan(p, msg, &r);
		detail_add(res, p->name, r.verdict, r.reason);
		if (headers != NULL && r.headers[0] != '\0' &&
		    rewrite_header_lines(r.headers, headers) > 0)
			hs_warnx("%s: plugin %s: malformed header lines dropped",
			    msg->queue_id, p->name);
		if (r.verdict >= HS_BLOCKED && p->desc->scan_part == NULL &&
		    vs->no_parts == NULL)
			vs->no_parts = p->name;
		if ((enum verdict)r.verdict > vs->worst) {
			vs->worst = (enum verdict)r.verdict;
			vs->score = r.score;
			(void)snprintf(res->reason, sizeof(res->reason), "%s",
			    r.reason);
		}
	}
}

/* msg's text and header length from content records. */
static void
msg_set_text(struct hs_msg *msg, const struct qfile_rec *recs, size_t n,
    struct buf *text)
{
	struct buf	 hdr = BUF_INIT;
	size_t		 end = qfile_header_end(recs, n);

	/* The header block, with its empty line if it has one. */
	if (end < n && recs[end].type == QREC_NORM && recs[end].len == 0)
		end++;
	qfile_content_text(recs, end, &hdr);
	msg->header_len = hdr.len;
	buf_free(&hdr);
	buf_reset(text);
	qfile_content_text(recs, n, text);
	msg->data = text->data ? text->data : "";
	msg->len = text->len;
}

/* Each part scanner on one part; the worst verdict wins. */
struct part_scan {
	const struct scan_ctx *ctx;
	const struct hs_msg *msg;
};

static void
scan_one_part(void *arg, const struct hs_part *part, struct hs_result *out)
{
	const struct part_scan *ps = arg;
	struct hs_result r;
	size_t		 i;

	for (i = 0; i < ps->ctx->nplugins; i++) {
		struct plugin	*p = ps->ctx->plugins[i];

		if (p->desc->scan_part == NULL)
			continue;
		memset(&r, 0, sizeof(r));
		if (p->desc->scan_part(p->ctx, ps->msg, part, &r) < 0) {
			r.verdict = HS_FAILED;
			if (r.reason[0] == '\0')
				(void)snprintf(r.reason, sizeof(r.reason),
				    "%s: plugin error", p->name);
		}
		r.reason[sizeof(r.reason) - 1] = '\0';
		if ((unsigned)r.verdict > HS_FAILED)
			r.verdict = HS_FAILED;
		if (r.verdict > out->verdict)
			*out = r;
	}
}

enum clean_outcome {
	CLEAN_DONE,		/* *out holds the cleaned content */
	CLEAN_FALLBACK,		/* cannot clean: policy_fallback() */
	CLEAN_FAILED,		/* beyond the MIME limits: scan failed */
};

/*
 * deliver-cleaned: replace what the part scanners condemn, then scan the
 * cleaned copy again; it must come out better than blocked.
 */
static enum clean_outcome
try_clean(const struct scan_ctx *ctx, const struct qfile *qf,
    const struct hs_msg *msg, const struct verdicts *vs,
    struct rewrite_recs *out, struct buf *summary, char *why, size_t size)
{
	struct mime_limits lim = { MIME_MAX_DEPTH, MIME_MAX_PARTS, true };
	struct part_scan ps = { ctx, msg };
	struct wire_result again;
	struct verdicts	 vs2;
	struct hs_msg	 m2;
	struct buf	 text = BUF_INIT;

	if (vs->no_parts != NULL) {
		(void)snprintf(why, size, "plugin %s cannot scan single parts",
		    vs->no_parts);
		return (CLEAN_FALLBACK);
	}
	switch (rewrite_clean(qf->content, qf->ncontent, msg->data, msg->len,
	    &lim, scan_one_part, &ps, ctx->line_limit, out, summary, why,
	    size)) {
	case REWRITE_FAILED:
		return (CLEAN_FAILED);
	case REWRITE_CANNOT:
		return (CLEAN_FALLBACK);
	case REWRITE_UNCHANGED:
		(void)snprintf(why, size, "the part scanners found no part to "
		    "remove");
		return (CLEAN_FALLBACK);
	case REWRITE_CLEANED:
		break;
	}
	m2 = *msg;
	msg_set_text(&m2, out->recs, out->n, &text);
	memset(&again, 0, sizeof(again));
	run_plugins(ctx, &m2, &again, NULL, &vs2);
	buf_free(&text);
	if (vs2.worst >= VERDICT_BLOCKED) {
		(void)snprintf(why, size, "the cleaned copy is still %s (%s)",
		    verdict_name(vs2.worst), again.reason);
		rewrite_recs_free(out);
		return (CLEAN_FALLBACK);
	}
	return (CLEAN_DONE);
}

/*
 * The content records of a delivered message: recs without the fields
 * named like holdscan's, with the subject tagged for ACTION_TAG, and
 * holdscan's header, the plugins' headers and (tag, deliver-cleaned) the
 * verdict header added at the end of the header block. Returns false
 * when nothing changes.
 */
static bool
build_content(const struct scan_ctx *ctx, const char *queue_id,
    bool null_sender, const struct qfile_rec *recs, size_t n,
    const struct wire_result *res, double score,
    const struct buf *plugin_headers, bool changed, struct buf *content)
{
	const struct policy *pol = ctx->policy;
	const char	*vname = verdict_name((enum verdict)res->verdict);
	struct rewrite_recs tagged = { NULL, 0, NULL, 0 };
	struct buf	 add = BUF_INIT, names = BUF_INIT;
	struct qfile_rec *kept = NULL;
	size_t		 removed;
	char		*s;

	removed = mailhdr_strip(recs, n, ctx->strip_names,
	    null_sender ? MAILHDR_NOTICE : NULL, &kept, &n, &names);
	recs = kept;
	if (removed > 0) {
		hs_info("%s: removed %zu header field%s named like holdscan's "
		    "(%s)", queue_id, removed, removed == 1 ? "" : "s",
		    names.data);
		changed = true;
	}
	if (ctx->scan_header != NULL)
		buf_printf(&add, "%s\n", ctx->scan_header);
	if (plugin_headers->len)
		buf_append(&add, plugin_headers->data, plugin_headers->len);
	if ((res->action == ACTION_TAG || res->action == ACTION_CLEAN) &&
	    pol->tag_header_name[0] != '\0') {
		s = template_expand(pol->tag_header_text, vname, res->reason,
		    score, 900);
		buf_printf(&add, "%s: %s\n", pol->tag_header_name, s);
		free(s);
	}
	if (res->action == ACTION_TAG && pol->subject_tag[0] != '\0') {
		s = template_expand(pol->subject_tag, vname, res->reason, score,
		    200);
		if (!rewrite_tag_subject(recs, n, s, ctx->line_limit, &tagged))
			buf_printf(&add, "Subject: %s\n", s);
		recs = tagged.recs;
		n = tagged.n;
		changed = true;
		free(s);
	}
	changed |= add.len > 0;
	if (changed)
		qfile_insert_headers(recs, n, qfile_header_end(recs, n), add.data,
		    ctx->line_limit, content);
	rewrite_recs_free(&tagged);
	free(kept);
	buf_free(&add);
	buf_free(&names);
	return (changed);
}

static bool
delivers(enum policy_action a)
{
	return (a == ACTION_DELIVER || a == ACTION_TAG || a == ACTION_CLEAN);
}

void
scan_message(const struct scan_ctx *ctx, int fd, const struct wire_scan *req,
    struct wire_result *res, int *memfd_r)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 text = BUF_INIT, headers = BUF_INIT, content = BUF_INIT;
	struct buf	 summary = BUF_INIT;
	struct rewrite_recs cleaned = { NULL, 0, NULL, 0 };
	struct verdicts	 vs;
	struct timespec	 t0;
	const char	**rcpts = NULL;
	struct hs_msg	 msg;
	char		 why[256];
	size_t		 i, len;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	*memfd_r = -1;
	res->content = CONTENT_SAME;
	res->reason[0] = res->detail[0] = '\0';
	memset(&vs, 0, sizeof(vs));

	if (qfile_read_fd(fd, req->size_limit ? req->size_limit : (size_t)-1,
	    &qf, &err) < 0) {
		res->verdict = VERDICT_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", err.text);
		goto decide;
	}
	rcpts = xcalloc(qf->nrcpts, sizeof(*rcpts));
	for (i = 0; i < qf->nrcpts; i++)
		rcpts[i] = qf->rcpts[i].address;
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = req->queue_id;
	msg.sender = qf->sender;
	msg.recipients = rcpts;
	msg.nrecipients = qf->nrcpts;
	msg_set_text(&msg, qf->content, qf->ncontent, &text);
	run_plugins(ctx, &msg, res, &headers, &vs);
	res->verdict = vs.worst;

decide:
	res->action = policy_decide(ctx->policy, (enum verdict)res->verdict,
	    rcpts, qf ? qf->nrcpts : 0);
	if (qf != NULL && res->action == ACTION_CLEAN) {
		switch (try_clean(ctx, qf, &msg, &vs, &cleaned, &summary, why,
		    sizeof(why))) {
		case CLEAN_DONE:
			len = strlen(res->detail);
			(void)snprintf(res->detail + len, sizeof(res->detail) - len,
			    " removed=\"%s\"", summary.data);
			break;
		case CLEAN_FALLBACK:
			res->action = policy_fallback(ACTION_CLEAN);
			hs_info("%s: cannot deliver cleaned: %s; action=%s instead",
			    req->queue_id, why, config_action_name(res->action));
			len = strlen(res->detail);
			(void)snprintf(res->detail + len, sizeof(res->detail) - len,
			    " not-cleaned=\"%s\"", why);
			break;
		case CLEAN_FAILED:
			res->verdict = VERDICT_FAILED;
			(void)snprintf(res->reason, sizeof(res->reason),
			    "deliver-cleaned: %s", why);
			res->action = policy_decide(ctx->policy, VERDICT_FAILED,
			    rcpts, qf->nrcpts);
			break;
		}
	}
	if (qf != NULL && delivers(res->action) && build_content(ctx,
	    req->queue_id, qf->sender != NULL && qf->sender[0] == '\0',
	    cleaned.n ? cleaned.recs : qf->content,
	    cleaned.n ? cleaned.n : qf->ncontent, res, vs.score, &headers,
	    cleaned.n > 0, &content)) {
		if ((*memfd_r = wire_memfd("holdscan-content", content.data,
		    content.len)) < 0) {
			hs_warn("%s: cannot pass new content", req->queue_id);
			res->verdict = VERDICT_FAILED;
			res->action = policy_decide(ctx->policy, VERDICT_FAILED,
			    rcpts, qf->nrcpts);
			(void)snprintf(res->reason, sizeof(res->reason),
			    "memfd: %s", strerror(errno));
		} else {
			res->content = CONTENT_NEW;
		}
	}
	res->scan_us = (uint32_t)elapsed_us(&t0);
	free(rcpts);
	rewrite_recs_free(&cleaned);
	buf_free(&text);
	buf_free(&headers);
	buf_free(&content);
	buf_free(&summary);
	qfile_free(&qf);
}
