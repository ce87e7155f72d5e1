/*
 * NAME
 *	scan - the per-message pipeline inside a scanner worker
 * DESCRIPTION
 *	Reads the queue file the master passed (read-only descriptor),
 *	rebuilds the RFC 822 message from its content records, runs each
 *	configured plugin, takes the most severe verdict, asks the policy
 *	for the action and builds the new content: the original records
 *	with holdscan's header (and the plugins' headers) inserted at the
 *	end of the header block. The content goes back as N/L records in a
 *	sealed memfd; the master writes the envelope itself, so nothing a
 *	worker does can change who a message goes to.
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

#include "buf.h"
#include "log.h"
#include "qfile.h"
#include "scan.h"
#include "xalloc.h"

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
	ctx->conf = conf;
	ctx->line_limit = line_limit;
	ctx->policy = policy;
	if (conf->scan_header_name[0] != '\0')
		ctx->scan_header = expand_header(conf->scan_header_name,
		    conf->scan_header_text, myhostname);
}

void
scan_ctx_clear(struct scan_ctx *ctx)
{
	free(ctx->scan_header);
	ctx->scan_header = NULL;
}

void
scan_build_content(const struct qfile_rec *recs, size_t n, size_t header_end,
    const char *add_headers, size_t line_limit, struct buf *out)
{
	struct qfile_rec *hrecs = NULL;
	size_t		 nh = 0;

	if (header_end > n)
		header_end = n;
	qfile_records_encode(recs, header_end, out);
	if (add_headers != NULL && *add_headers != '\0') {
		nh = qfile_text_records(add_headers, strlen(add_headers),
		    line_limit, &hrecs);
		qfile_records_encode(hrecs, nh, out);
		free(hrecs);
	}
	qfile_records_encode(recs + header_end, n - header_end, out);
}

int
scan_memfd(const char *data, size_t len)
{
	size_t	 off = 0;
	ssize_t	 w;
	int	 fd, saved;

	if ((fd = memfd_create("holdscan-content", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		return (-1);
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	return (fd);
fail:
	saved = errno ? errno : EIO;
	(void)close(fd);
	errno = saved;
	return (-1);
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

/* Run every plugin; collect the worst verdict and the plugins' headers. */
static enum verdict
run_plugins(const struct scan_ctx *ctx, const struct hs_msg *msg,
    struct wire_result *res, struct buf *headers)
{
	enum verdict	 worst = VERDICT_CLEAN;
	struct hs_result r;
	size_t		 i;

	for (i = 0; i < ctx->nplugins; i++) {
		struct plugin	*p = ctx->plugins[i];

		memset(&r, 0, sizeof(r));
		if (p->desc->scan(p->ctx, msg, &r) < 0) {
			r.verdict = HS_FAILED;
			if (r.reason[0] == '\0')
				(void)snprintf(r.reason, sizeof(r.reason),
				    "plugin error");
		}
		r.reason[sizeof(r.reason) - 1] = '\0';
		r.headers[sizeof(r.headers) - 1] = '\0';
		if ((unsigned)r.verdict >= VERDICT_COUNT)
			r.verdict = HS_FAILED;
		detail_add(res, p->name, r.verdict, r.reason);
		if (r.headers[0] != '\0') {
			buf_printf(headers, "%s", r.headers);
			if (r.headers[strlen(r.headers) - 1] != '\n')
				buf_putc(headers, '\n');
		}
		if ((enum verdict)r.verdict > worst) {
			worst = (enum verdict)r.verdict;
			(void)snprintf(res->reason, sizeof(res->reason), "%s",
			    r.reason);
		}
	}
	return (worst);
}

void
scan_message(const struct scan_ctx *ctx, int fd, const struct wire_scan *req,
    struct wire_result *res, int *memfd_r)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 text = BUF_INIT, headers = BUF_INIT, content = BUF_INIT;
	struct timespec	 t0;
	const char	**rcpts = NULL;
	struct hs_msg	 msg;
	enum verdict	 v;
	size_t		 i;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	*memfd_r = -1;
	res->content = CONTENT_SAME;
	res->reason[0] = res->detail[0] = '\0';

	if (qfile_read_fd(fd, req->size_limit ? req->size_limit : (size_t)-1,
	    &qf, &err) < 0) {
		res->verdict = VERDICT_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", err.text);
		goto decide;
	}
	qfile_content_text(qf->content, qf->ncontent, &text);
	rcpts = xcalloc(qf->nrcpts, sizeof(*rcpts));
	for (i = 0; i < qf->nrcpts; i++)
		rcpts[i] = qf->rcpts[i].address;
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = req->queue_id;
	msg.sender = qf->sender;
	msg.recipients = rcpts;
	msg.nrecipients = qf->nrcpts;
	msg.data = text.data ? text.data : "";
	msg.len = text.len;
	{
		struct buf	 hdr = BUF_INIT;

		size_t	 end = qf->header_end;

		/* The header block, with its empty line if it has one. */
		if (end < qf->ncontent && qf->content[end].type == QREC_NORM &&
		    qf->content[end].len == 0)
			end++;
		qfile_content_text(qf->content, end, &hdr);
		msg.header_len = hdr.len;
		buf_free(&hdr);
	}
	v = run_plugins(ctx, &msg, res, &headers);
	res->verdict = v;

decide:
	res->action = policy_decide(ctx->policy, (enum verdict)res->verdict,
	    rcpts, qf ? qf->nrcpts : 0);
	if (qf != NULL && (res->action == ACTION_DELIVER ||
	    res->action == ACTION_TAG || res->action == ACTION_CLEAN)) {
		struct buf	 add = BUF_INIT;

		if (ctx->scan_header != NULL)
			buf_printf(&add, "%s\n", ctx->scan_header);
		if (headers.len)
			buf_append(&add, headers.data, headers.len);
		if (add.len > 0) {
			scan_build_content(qf->content, qf->ncontent,
			    qf->header_end, add.data, ctx->line_limit, &content);
			if ((*memfd_r = scan_memfd(content.data,
			    content.len)) < 0) {
				hs_warn("%s: cannot pass new content", req->queue_id);
				res->verdict = VERDICT_FAILED;
				res->action = policy_decide(ctx->policy,
				    VERDICT_FAILED, rcpts, qf->nrcpts);
				(void)snprintf(res->reason, sizeof(res->reason),
				    "memfd: %s", strerror(errno));
			} else {
				res->content = CONTENT_NEW;
			}
		}
		buf_free(&add);
	}
	res->scan_us = (uint32_t)elapsed_us(&t0);
	free(rcpts);
	buf_free(&text);
	buf_free(&headers);
	buf_free(&content);
	qfile_free(&qf);
}
