/*
 * ctlreq.h - one request on holdscand's control socket as its operations
 * see it (control.c reads and answers it; ctlquar.c and ctllog.c carry
 * out the operations), and the JSON helpers they share.
 *
 * Used by holdscand's master only, between two rounds of its loop.
 */
#ifndef HS_CTLREQ_H
#define HS_CTLREQ_H

#include <jansson.h>

#include "common/access.h"

struct commit_ctx;
struct hs_config;
struct msglog;
struct quarantine;

/*
 * Records (or quarantine entries) one request may walk, at most: an
 * answer past it says "partial", and mail never waits long for the
 * console.
 */
#define CONTROL_WALK_MAX	200000

/* One request being answered. */
struct creq {
	json_t		*req;
	json_t		*reply;
	int		 pass_fd;	/* a descriptor to send with it, or -1 */
	struct access_scope scope;
	const char	*by;
};

/* A JSON string of s: valid UTF-8, no control characters (text_safe()). */
json_t	*ctlreq_jstr(const char *s);
/* An array of such strings. */
json_t	*ctlreq_strs(const char *const *v, size_t n);
/* The request's string field (NULL when missing or empty). */
const char *ctlreq_str(const json_t *req, const char *name);
/* The request's integer field, or def. */
long long ctlreq_int(const json_t *req, const char *name, long long def);
/* Make the answer an error with an HTTP-like status. */
void	 ctlreq_fail(struct creq *r, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* The operations (ctlquar.c): the quarantine. */
void	 ctl_qlist(struct creq *r, struct quarantine *q);
void	 ctl_qshow(struct creq *r, struct quarantine *q);
void	 ctl_release(struct creq *r, struct commit_ctx *c,
	    struct quarantine *q, struct msglog *ml,
	    const struct hs_config *conf);
void	 ctl_delete(struct creq *r, struct quarantine *q, struct msglog *ml);
/* (ctllog.c): the message log and the statistics. */
void	 ctl_log(struct creq *r, struct msglog *ml);
void	 ctl_trace(struct creq *r, struct msglog *ml);
/*
 * The admins' statistics of settled hours, kept between requests
 * (ctllog.c); ctl_stats() takes it (or NULL: no keeping).
 */
struct ctl_stats_cache;
struct ctl_stats_cache *ctl_stats_cache_new(void);
void	 ctl_stats_cache_free(struct ctl_stats_cache **c);
void	 ctl_stats(struct creq *r, struct msglog *ml,
	    const struct hs_config *conf, struct ctl_stats_cache *cache);

#endif
