/*
 * control.h - holdscand's control socket for the web console: a local
 * stream socket (web { control_socket }) answered by the master between
 * two rounds of its event loop, for root and web { user } only.
 *
 * The protocol (doc/web.md): one JSON object a line each way, one
 * request per connection; a quarantined file comes back as a descriptor
 * (SCM_RIGHTS), read-only, so that its content is parsed by holdscan-web
 * and never by the master.
 */
#ifndef HS_CONTROL_H
#define HS_CONTROL_H

#include <sys/types.h>

struct commit_ctx;
struct control;
struct hs_config;
struct msglog;
struct quarantine;

/* Longest request line; longer ones are refused. */
#define CONTROL_REQUEST_MAX	(64 * 1024)
/* A peer has this long to send its request, and to take the answer (ms). */
#define CONTROL_IO_MS		1000
/* No new connection is taken in a round of the loop after this long (ms). */
#define CONTROL_ROUND_MS	500
/*
 * control_open() (as root, before the privileges are dropped) creates the
 * socket's directory when missing, replaces a stale socket, binds and
 * listens; the socket is mode 0666 (the peer's credentials decide), owned
 * by owner_uid. The web user is looked up now: when it does not exist
 * only root is answered. 0, or -1 with *error_r.
 */
int	 control_open(const struct hs_config *conf, uid_t owner_uid,
	    gid_t owner_gid, struct control **ctl_r, char **error_r);
void	 control_close(struct control **ctl);
int	 control_fd(const struct control *ctl);
/*
 * control_run() accepts the connections waiting and answers each. With
 * q NULL (the state environment is not open) every request is answered
 * "unavailable".
 */
void	 control_run(struct control *ctl, struct commit_ctx *c,
	    struct quarantine *q, struct msglog *ml,
	    const struct hs_config *conf);

#endif
