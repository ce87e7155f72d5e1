/*
 * NAME
 *	scan - the per-message pipeline inside a scanner worker
 * DESCRIPTION
 *	Reads the queue file the master passed (read-only descriptor),
 *	rebuilds the RFC 822 message from its content records, finds the
 *	rules for its envelope and its client_address and sasl_username
 *	records (ruleset.c: which plugins run, the spam thresholds, the
 *	actions; the strictest for mixed recipients), runs those plugins,
 *	takes the most severe verdict, asks the policy for the action and
 *	builds the new content (rewrite.c):
 *
 *	deliver		the original records with holdscan's header and the
 *			plugins' header lines (checked line by line) inserted
 *			at the end of the header block;
 *	tag		the same, the subject tagged and the verdict header
 *			added (a "Subject:" too when there was none);
 *	deliver-cleaned	condemned parts replaced (each leaf part goes through
 *			every plugin's scan_part), or renamed when only
 *			blocked and a plugin's rewrite_part gives a new name
 *			(HS_REWRITE_RENAME: the attachments plugin's rename
 *			rules), then the cleaned copy is
 *			scanned again and must come out better than blocked;
 *			the verdict header is added. When it cannot clean (a
 *			condemning plugin has no scan_part, no part could be
 *			blamed, the part is the whole body, or the copy is
 *			still blocked), the action becomes policy_fallback()'s
 *			(quarantine) and the worker logs why; beyond the MIME
 *			limits the message is "scan failed".
 *
 *	html_disarm	a message delivered (deliver, tag, deliver-cleaned)
 *			with a verdict the policy's html_disarm lists has
 *			each text/html part rewritten by the first plugin
 *			whose rewrite_part gives an answer (html: disarmed
 *			when it holds active content, or made text with
 *			html_disarm_mode = text; rewrite.c's rewrite_html()
 *			splices the new part, quoted-printable, with its own
 *			Content-Type and Content-Transfer-Encoding); one
 *			that cannot be (too large, inside an attached
 *			message, no plugin to do it) takes policy_fallback()'s
 *			action (quarantine), never delivered as it was.
 *	subject tags	a message delivered with verdict v gets the
 *			policy's subject_tag_v in front of its subject; a
 *			tagged one without it, subject_tag.
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
#include "common/lists.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/xalloc.h"
#include "scanner/mime.h"
#include "scanner/mimecache.h"
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

/* A plugin not run: say so to holdscan scan and in the detail. */
static void
not_run(const struct scan_ctx *ctx, struct wire_result *res,
    struct buf *headers, const char *name, const char *why, const char *tag)
{
	struct hs_result r;
	size_t		 len;

	if (headers != NULL && ctx->report != NULL) {
		memset(&r, 0, sizeof(r));
		(void)snprintf(r.reason, sizeof(r.reason), "%s", why);
		ctx->report(ctx->report_arg, name, &r);
	}
	len = strlen(res->detail);
	(void)snprintf(res->detail + len, sizeof(res->detail) - len, "%s%s=%s",
	    len ? " " : "", name, tag);
}

/*
 * Run every plugin the rules switch on (rc->scanners) but, for a message
 * on the allow list, those that are spam checks (HS_KIND_SPAM; never a
 * virus check); a spam check's verdict is the one the rules' spam
 * thresholds give its score. The plugins share one MIME walk of the
 * message (mimecache.h): GMime parses it once, whoever asks first. Collect
 * the worst verdict and the plugins' headers. A deny list entry makes the verdict at least blocked, its
 * reason the entry's.
 */
static void
run_plugins(const struct scan_ctx *ctx, const struct hs_msg *msg,
    const struct ruleset_choice *rc, const struct wire_list *list,
    struct wire_result *res, struct buf *headers, struct verdicts *vs)
{
	struct hs_result r;
	enum verdict	 rv;
	struct mimecache walks;
	char		 why[200];
	size_t		 i, len;

	memset(vs, 0, sizeof(*vs));
	vs->worst = VERDICT_CLEAN;
	mimecache_init(&walks);
	for (i = 0; i < ctx->nplugins; i++) {
		struct plugin	*p = ctx->plugins[i];

		if (i < 64 && (rc->scanners & (1ULL << i)) == 0) {
			not_run(ctx, res, headers, p->name,
			    "not run (switched off by the rules)", "off");
			continue;
		}

		if (list != NULL && list->kind == LIST_ALLOW &&
		    plugin_is_spam_check(p)) {
			not_run(ctx, res, headers, p->name,
			    "not run (a spam check; allow list)", "skipped");
			continue;
		}
		plugin_share_walks(p, &walks);
		plugin_scan(p, msg, &r);
		plugin_share_walks(p, NULL);
		if (plugin_is_spam_check(p) && (rv = ruleset_spam_verdict(rc,
		    (enum verdict)r.verdict, r.score, why, sizeof(why))) !=
		    (enum verdict)r.verdict) {
			r.verdict = (enum hs_verdict)rv;
			if (rv == VERDICT_CLEAN)
				r.reason[0] = '\0';
			len = strlen(r.reason);
			(void)snprintf(r.reason + len, sizeof(r.reason) - len,
			    "%s%s", len ? "; " : "", why);
		}
		if (headers != NULL && ctx->report != NULL)
			ctx->report(ctx->report_arg, p->name, &r);
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
	mimecache_clear(&walks);
	if (list != NULL && list->kind == LIST_DENY &&
	    vs->worst < VERDICT_BLOCKED) {
		vs->worst = VERDICT_BLOCKED;
		vs->score = 0;
		(void)snprintf(res->reason, sizeof(res->reason), "%.*s",
		    (int)sizeof(list->entry), list->entry);
	}
	if (list != NULL && list->kind != LIST_NONE) {
		len = strlen(res->detail);
		(void)snprintf(res->detail + len, sizeof(res->detail) - len,
		    "%slist=%s", len ? " " : "",
		    lists_kind_name((enum list_kind)list->kind));
	}
}

/* msg's text and header length from content records. */
static void
msg_set_text(struct hs_msg *msg, const struct qfile_rec *recs, size_t n,
    struct buf *text)
{
	size_t		 end = qfile_header_end(recs, n);

	/* The header block, with its empty line if it has one. */
	if (end < n && recs[end].type == QREC_NORM && recs[end].len == 0)
		end++;
	msg->header_len = qfile_content_text_len(recs, end);
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

/* rewrite_clean_rename()'s callback: the first plugin that renames. */
struct rename_arg {
	const struct scan_ctx *ctx;
	const struct hs_msg *msg;
};

static int
rename_one(void *arg, const struct hs_rewrite_in *in,
    struct hs_rewrite_out *out)
{
	const struct rename_arg *ra = arg;
	plugin_rewrite_fn fn;
	size_t		 i;

	for (i = 0; i < ra->ctx->nplugins; i++) {
		struct plugin	*p = ra->ctx->plugins[i];

		if ((fn = plugin_rewriter(p)) == NULL)
			continue;
		memset(out, 0, sizeof(*out));
		if (fn(p->ctx, ra->msg, in, out) == 1)
			return (1);
		free(out->data);
		out->data = NULL;
	}
	return (0);
}

/*
 * deliver-cleaned: replace what the part scanners condemn (or rename it,
 * when a plugin's rename rule asks), then scan the cleaned copy again;
 * it must come out better than blocked.
 */
static enum policy_clean
try_clean(const struct scan_ctx *ctx, const struct qfile_rec *recs, size_t n,
    const struct hs_msg *msg, const struct ruleset_choice *rc,
    const struct wire_list *list, const struct verdicts *vs,
    struct rewrite_recs *out, struct buf *summary, struct buf *renamed,
    char *why, size_t size)
{
	struct mime_limits lim = { MIME_MAX_DEPTH, MIME_MAX_PARTS, true };
	struct part_scan ps = { ctx, msg };
	struct rename_arg ra = { ctx, msg };
	struct rewrite_rename rn = { rename_one, &ra, renamed };
	struct wire_result again;
	struct verdicts	 vs2;
	struct hs_msg	 m2;
	struct buf	 text = BUF_INIT;

	if (vs->no_parts != NULL) {
		(void)snprintf(why, size, "plugin %s cannot scan single parts",
		    vs->no_parts);
		return (POLICY_CANNOT_CLEAN);
	}
	switch (rewrite_clean_rename(recs, n, msg->data, msg->len,
	    &lim, scan_one_part, &ps, &rn, ctx->line_limit, out, summary, why,
	    size)) {
	case REWRITE_FAILED:
		return (POLICY_CLEAN_FAILED);
	case REWRITE_CANNOT:
		return (POLICY_CANNOT_CLEAN);
	case REWRITE_UNCHANGED:
		(void)snprintf(why, size, "the part scanners found no part to "
		    "remove");
		return (POLICY_CANNOT_CLEAN);
	case REWRITE_CLEANED:
		break;
	}
	m2 = *msg;
	msg_set_text(&m2, out->recs, out->n, &text);
	memset(&again, 0, sizeof(again));
	run_plugins(ctx, &m2, rc, list, &again, NULL, &vs2);
	buf_free(&text);
	if (vs2.worst >= VERDICT_BLOCKED) {
		(void)snprintf(why, size, "the cleaned copy is still %s (%s)",
		    verdict_name(vs2.worst), again.reason);
		rewrite_recs_free(out);
		return (POLICY_CANNOT_CLEAN);
	}
	return (POLICY_CLEANED);
}

/*
 * The content records of a delivered message: recs without the fields
 * named like holdscan's, with the subject tagged for ACTION_TAG, and
 * holdscan's header, the plugins' headers and (tag, deliver-cleaned) the
 * verdict header added at the end of the header block. Returns
 * CONTENT_SAME when nothing changes; CONTENT_HEADERS when the one change
 * is lines added to the unchanged original's header block (they go in
 * res->headers, for the master to insert into its own copy); else
 * CONTENT_NEW, the whole new content in content.
 */
static enum wire_content
build_content(const struct scan_ctx *ctx, const char *queue_id,
    bool null_sender, const struct qfile_rec *recs, size_t n,
    struct wire_result *res, double score,
    const struct buf *plugin_headers, bool changed, struct buf *content)
{
	enum wire_content kind = CONTENT_SAME;
	const struct policy *pol = ctx->policy;
	const char	*vname = verdict_name((enum verdict)res->verdict), *tag;
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
	if ((tag = policy_subject_tag(pol, (enum verdict)res->verdict,
	    res->action)) != NULL) {
		s = template_expand(tag, vname, res->reason, score, 200);
		if (!rewrite_tag_subject(recs, n, s, ctx->line_limit, &tagged))
			buf_printf(&add, "Subject: %s\n", s);
		recs = tagged.recs;
		n = tagged.n;
		changed = true;
		free(s);
	}
	if (!changed && add.len > 0 && add.len < sizeof(res->headers)) {
		memcpy(res->headers, add.data, add.len);
		res->headers[add.len] = '\0';
		kind = CONTENT_HEADERS;
	} else if (changed || add.len > 0) {
		qfile_insert_headers(recs, n, qfile_header_end(recs, n), add.data,
		    ctx->line_limit, content);
		kind = CONTENT_NEW;
	}
	rewrite_recs_free(&tagged);
	free(kept);
	buf_free(&add);
	buf_free(&names);
	return (kind);
}

static bool
delivers(enum policy_action a)
{
	return (a == ACTION_DELIVER || a == ACTION_TAG || a == ACTION_CLEAN);
}

/* rewrite_html()'s callback: the first plugin with an answer gives it. */
struct html_arg {
	const struct scan_ctx *ctx;
	const struct hs_msg *msg;
};

static int
rewrite_one(void *arg, const struct hs_rewrite_in *in,
    struct hs_rewrite_out *out)
{
	const struct html_arg *ha = arg;
	plugin_rewrite_fn fn;
	bool		 any = false;
	size_t		 i;
	int		 rc;

	for (i = 0; i < ha->ctx->nplugins; i++) {
		struct plugin	*p = ha->ctx->plugins[i];

		if ((fn = plugin_rewriter(p)) == NULL)
			continue;
		any |= plugin_rewrites_html(p);
		memset(out, 0, sizeof(*out));
		if ((rc = fn(p->ctx, ha->msg, in, out)) != 0)
			return (rc < 0 ? -1 : 1);
		free(out->data);
		out->data = NULL;
	}
	if (!any) {
		(void)snprintf(out->reason, sizeof(out->reason), "no scanner "
		    "can rewrite HTML (add html to scanners)");
		return (-1);
	}
	return (0);
}

/*
 * html_disarm: the delivered content (the cleaned copy, or recs) with
 * its HTML parts rewritten into d->disarmed; when they cannot be, the
 * action falls back.
 */
static void
disarm(const struct scan_ctx *ctx, const struct qfile_rec *recs, size_t n,
    const struct hs_msg *msg, bool arm, bool highlight,
    struct scan_decision *d)
{
	struct mime_limits lim = { MIME_MAX_DEPTH, MIME_MAX_PARTS, true };
	struct html_arg	 ha = { ctx, msg };
	struct hs_msg	 m = *msg;
	struct buf	 text = BUF_INIT;
	char		 why[200];

	if (d->cleaned.n > 0) {
		recs = d->cleaned.recs;
		n = d->cleaned.n;
		msg_set_text(&m, recs, n, &text);
	}
	switch (rewrite_html(recs, n, m.data, m.len, &lim,
	    !arm ? HS_REWRITE_KEEP : ctx->policy->html_text ? HS_REWRITE_TEXT :
	    HS_REWRITE_DISARM, highlight ? HS_REWRITE_HIGHLIGHT_PHISHING : 0,
	    rewrite_one, &ha, ctx->line_limit, &d->disarmed,
	    &d->disarm_summary, why, sizeof(why))) {
	case REWRITE_CLEANED:
	case REWRITE_UNCHANGED:
		break;
	case REWRITE_CANNOT:
	case REWRITE_FAILED:
		(void)snprintf(d->outcome.why, sizeof(d->outcome.why),
		    "cannot disarm HTML: %s", why);
		d->outcome.action = policy_fallback(ACTION_CLEAN);
		break;
	}
	buf_free(&text);
}

/* policy_final()'s clean callback: try_clean() on one message. */
struct clean_arg {
	const struct scan_ctx *ctx;
	const struct qfile_rec *recs;
	size_t		 n;
	const struct hs_msg *msg;
	const struct ruleset_choice *rc;
	const struct wire_list *list;
	const struct verdicts *vs;
	struct scan_decision *d;
};

static enum policy_clean
clean_cb(void *arg, char *why, size_t size)
{
	struct clean_arg *ca = arg;

	return (try_clean(ca->ctx, ca->recs, ca->n, ca->msg, ca->rc, ca->list,
	    ca->vs, &ca->d->cleaned, &ca->d->summary, &ca->d->renamed, why,
	    size));
}

void
scan_decide(const struct scan_ctx *ctx, const struct qfile_rec *recs,
    size_t n, struct hs_msg *msg, const struct ruleset_env *env,
    const struct wire_list *list, struct wire_result *res,
    struct buf *headers, struct scan_decision *d)
{
	struct ruleset_choice rc;
	struct ruleset_env e = *env;
	struct clean_arg ca;
	struct verdicts	 vs;
	struct buf	 text = BUF_INIT;
	size_t		 len;
	unsigned	 vbit;

	memset(d, 0, sizeof(*d));
	msg_set_text(msg, recs, n, &text);
	e.sender = msg->sender != NULL ? msg->sender : "";
	ruleset_choose(ctx->rules, ctx->policy, &e, msg->recipients,
	    msg->nrecipients, &rc);
	run_plugins(ctx, msg, &rc, list, res, headers, &vs);
	res->verdict = vs.worst;
	d->score = vs.score;
	ca.ctx = ctx;
	ca.recs = recs;
	ca.n = n;
	ca.msg = msg;
	ca.rc = &rc;
	ca.list = list;
	ca.vs = &vs;
	ca.d = d;
	policy_final_rule(&rc.rule, vs.worst, clean_cb, &ca, &d->outcome);
	/* the rules' html_disarm and highlight_phishing, else the policy's */
	vbit = (unsigned)d->outcome.verdict < VERDICT_COUNT ?
	    1U << d->outcome.verdict : 0;
	if (delivers(d->outcome.action) && ((rc.rule.html_disarm |
	    rc.rule.highlight) & vbit) != 0)
		disarm(ctx, recs, n, msg, (rc.rule.html_disarm & vbit) != 0,
		    (rc.rule.highlight & vbit) != 0, d);
	res->action = d->outcome.action;
	len = strlen(res->detail);
	if (rc.fired[0] != '\0') {
		(void)snprintf(res->detail + len, sizeof(res->detail) - len,
		    "%srules=%s", len ? " " : "", rc.fired);
		len = strlen(res->detail);
	}
	if (d->outcome.wanted == ACTION_CLEAN &&
	    d->outcome.action == ACTION_CLEAN)
		(void)snprintf(res->detail + len, sizeof(res->detail) - len,
		    "%s%s%s%s%s%s", d->summary.len > 0 ? " removed=\"" : "",
		    d->summary.len > 0 ? d->summary.data : "",
		    d->summary.len > 0 ? "\"" : "",
		    d->renamed.len > 0 ? " renamed=\"" : "",
		    d->renamed.len > 0 ? d->renamed.data : "",
		    d->renamed.len > 0 ? "\"" : "");
	else if (d->outcome.verdict == VERDICT_FAILED &&
	    vs.worst != VERDICT_FAILED) {
		res->verdict = VERDICT_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason),
		    "deliver-cleaned: %s", d->outcome.why);
	} else if (d->outcome.why[0] != '\0')
		(void)snprintf(res->detail + len, sizeof(res->detail) - len,
		    " not-cleaned=\"%s\"", d->outcome.why);
	len = strlen(res->detail);
	if (d->disarmed.n > 0)
		(void)snprintf(res->detail + len, sizeof(res->detail) - len,
		    " disarmed=\"%s\"", d->disarm_summary.data);
	/* the copies and the archive for the final verdict: the rules' */
	if ((unsigned)d->outcome.verdict < VERDICT_COUNT) {
		d->copy_to = rc.copy_to[d->outcome.verdict];
		rc.copy_to[d->outcome.verdict] = NULL;
		if ((size_t)snprintf(res->copy_to, sizeof(res->copy_to), "%s",
		    d->copy_to != NULL ? d->copy_to : "") >= sizeof(res->copy_to))
			hs_warnx("%s: copies beyond %zu bytes left out",
			    msg->queue_id, sizeof(res->copy_to));
		res->copies_set = 1;
	}
	res->no_archive = rc.no_archive;
	d->no_archive = rc.no_archive;
	/* msg's text stays the caller's to read: it points into text */
	d->text = text;
	if (ctx->rules != NULL) {
		d->rules = rc.explain;
		memset(&rc.explain, 0, sizeof(rc.explain));
		if (rc.mixed)
			buf_printf(&d->rules, "recipients under different "
			    "rules: the strictest applies\n");
	}
	ruleset_choice_clear(&rc);
}

void
scan_decision_clear(struct scan_decision *d)
{
	rewrite_recs_free(&d->disarmed);
	buf_free(&d->disarm_summary);
	rewrite_recs_free(&d->cleaned);
	buf_free(&d->summary);
	buf_free(&d->renamed);
	buf_free(&d->text);
	buf_free(&d->rules);
	free(d->copy_to);
	d->copy_to = NULL;
}

void
scan_message(const struct scan_ctx *ctx, int fd, const struct wire_scan *req,
    struct wire_result *res, int *memfd_r)
{
	struct scan_decision d;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct ruleset_env env;
	struct buf	 headers = BUF_INIT, content = BUF_INIT;
	struct timespec	 t0;
	const char	**rcpts = NULL;
	const struct qfile_rec *newrecs;
	struct hs_msg	 msg;
	enum wire_content kind = CONTENT_SAME;
	size_t		 i, nnew;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	*memfd_r = -1;
	res->content = CONTENT_SAME;
	res->reason[0] = res->detail[0] = res->copy_to[0] = '\0';
	res->headers[0] = '\0';
	res->copies_set = res->no_archive = 0;
	memset(&d, 0, sizeof(d));

	if (qfile_read_fd(fd, req->size_limit ? req->size_limit : (size_t)-1,
	    &qf, &err) < 0) {
		res->verdict = VERDICT_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", err.text);
		res->action = policy_decide(ctx->policy, VERDICT_FAILED, NULL, 0);
		goto done;
	}
	rcpts = xcalloc(qf->nrcpts, sizeof(*rcpts));
	for (i = 0; i < qf->nrcpts; i++)
		rcpts[i] = qf->rcpts[i].address;
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = req->queue_id;
	msg.sender = qf->sender;
	msg.recipients = rcpts;
	msg.nrecipients = qf->nrcpts;
	/* the attribute records cleanup(8) wrote, never a Received: header */
	env.sender = qf->sender;
	env.client = qfile_attr(qf, "client_address");
	env.sasl = qfile_attr(qf, "sasl_username");
	scan_decide(ctx, qf->content, qf->ncontent, &msg, &env, &req->list,
	    res, &headers, &d);
	if (d.outcome.wanted == ACTION_CLEAN && d.outcome.action !=
	    ACTION_CLEAN && d.outcome.verdict != VERDICT_FAILED)
		hs_info("%s: cannot deliver cleaned: %s; action=%s instead",
		    req->queue_id, d.outcome.why,
		    confword_action_name(res->action));
	else if (d.outcome.action != d.outcome.wanted &&
	    strncmp(d.outcome.why, "cannot disarm", 13) == 0)
		hs_info("%s: %s; action=%s instead", req->queue_id,
		    d.outcome.why, confword_action_name(res->action));

	if (d.disarmed.n > 0) {
		newrecs = d.disarmed.recs;
		nnew = d.disarmed.n;
	} else if (d.cleaned.n > 0) {
		newrecs = d.cleaned.recs;
		nnew = d.cleaned.n;
	} else {
		newrecs = qf->content;
		nnew = qf->ncontent;
	}
	if (delivers(res->action))
		kind = build_content(ctx, req->queue_id, qf->sender != NULL &&
		    qf->sender[0] == '\0', newrecs, nnew, res, d.score,
		    &headers, newrecs != qf->content, &content);
	if (kind == CONTENT_HEADERS) {
		res->content = CONTENT_HEADERS;
	} else if (kind == CONTENT_NEW) {
		if ((*memfd_r = wire_memfd("holdscan-content", content.data,
		    content.len)) < 0) {
			hs_warn("%s: cannot pass new content", req->queue_id);
			res->verdict = VERDICT_FAILED;
			res->copies_set = 0;	/* the policy's, for scan-failed */
			res->action = policy_decide(ctx->policy, VERDICT_FAILED,
			    rcpts, qf->nrcpts);
			(void)snprintf(res->reason, sizeof(res->reason),
			    "memfd: %s", strerror(errno));
		} else {
			res->content = CONTENT_NEW;
		}
	}
done:
	res->scan_us = (uint32_t)elapsed_us(&t0);
	free(rcpts);
	scan_decision_clear(&d);
	buf_free(&headers);
	buf_free(&content);
	qfile_free(&qf);
}
