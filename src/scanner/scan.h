/*
 * scan.h - scan one message in a worker: plugins, policy, rewrite.
 *
 * Runs only in scanner workers (unprivileged, untrusted content). Its
 * output is a verdict, an action and, when the content changes, the new
 * content as N/L records in a sealed memfd for the master.
 */
#ifndef HS_SCAN_H
#define HS_SCAN_H

#include <stddef.h>

#include "common/config.h"
#include "common/policy.h"
#include "common/qfile.h"
#include "common/wire.h"
#include "scanner/pluginload.h"
#include "scanner/rewrite.h"
#include "scanner/ruleset.h"

struct scan_ctx {
	const struct hs_config *conf;
	const struct policy *policy;
	const struct ruleset *rules;	/* the rulesets, or NULL: none */
	struct plugin	**plugins;	/* in configured order */
	size_t		 nplugins;
	char		*scan_header;	/* "X-Holdscan: scanned by ..." or NULL */
	char		*strip_names;	/* fields removed first (mailhdr.h list) */
	size_t		 line_limit;	/* Postfix's line_length_limit */
	/* each plugin's result as it comes (holdscan scan), or NULL */
	void		(*report)(void *arg, const char *plugin,
			    const struct hs_result *r);
	void		*report_arg;
};

/* What the plugins and the policy made of one message. */
struct scan_decision {
	struct policy_outcome outcome;	/* policy_final()'s */
	double		 score;		/* of the plugin with the worst verdict */
	struct rewrite_recs cleaned;	/* deliver-cleaned: the copy */
	struct buf	 summary;	/* deliver-cleaned: what was removed */
	struct buf	 renamed;	/* deliver-cleaned: what was renamed */
	struct rewrite_recs disarmed;	/* html_disarm: the copy, or empty */
	struct buf	 disarm_summary;	/* html_disarm: what changed */
	struct buf	 text;		/* the message's text msg points into */
	struct buf	 rules;		/* which rules fired, per recipient */
	char		*copy_to;	/* the copies for the verdict, owned, or NULL */
	bool		 no_archive;	/* the rules say archive = no */
};

/*
 * scan_ctx_init() prepares the per-process parts (the expanded header,
 * the names of the fields to remove).
 * scan_message() reads the queue file on fd, scans it and fills res; on
 * CONTENT_NEW *memfd_r is a sealed memfd the caller sends and closes,
 * else -1. It never exits: any failure is VERDICT_FAILED with a reason.
 */
void	 scan_ctx_init(struct scan_ctx *ctx, const struct hs_config *conf,
	    const struct policy *policy, const char *myhostname,
	    size_t line_limit);
void	 scan_ctx_clear(struct scan_ctx *ctx);
void	 scan_message(const struct scan_ctx *ctx, int fd,
	    const struct wire_scan *req, struct wire_result *res, int *memfd_r);
/*
 * scan_decide() is the decision scan_message() takes, and holdscan scan
 * (cli.c) shows: the rules for msg's envelope and env's client_address
 * and sasl_username (ruleset.c: which plugins run, spam thresholds,
 * actions), the plugins on the message of content records recs
 * (msg: its sender and recipients; its text is set here; list, or NULL:
 * the allow or deny list entry the master found for it: an allow entry
 * skips the spam checks, a deny entry makes it at least blocked), then
 * policy_final() with deliver-cleaned tried for real. res gets the
 * verdict, action, reason and detail; headers (or NULL) the plugins'
 * header lines. A message the policy delivers with a verdict of
 * html_disarm has its text/html parts disarmed (or made text) by the
 * plugins' rewrite_part (d->disarmed); when that cannot be done the
 * action becomes policy_fallback()'s (quarantine). d is the caller's to clear with scan_decision_clear()
 * once done with msg and d.
 */
void	 scan_decide(const struct scan_ctx *ctx, const struct qfile_rec *recs,
	    size_t n, struct hs_msg *msg, const struct ruleset_env *env,
	    const struct wire_list *list,
	    struct wire_result *res, struct buf *headers,
	    struct scan_decision *d);
void	 scan_decision_clear(struct scan_decision *d);

#endif
