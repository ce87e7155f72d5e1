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

struct scan_ctx {
	const struct hs_config *conf;
	const struct policy *policy;
	struct plugin	**plugins;	/* in configured order */
	size_t		 nplugins;
	char		*scan_header;	/* "X-Holdscan: scanned by ..." or NULL */
	char		*strip_names;	/* fields removed first (mailhdr.h list) */
	size_t		 line_limit;	/* Postfix's line_length_limit */
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

#endif
