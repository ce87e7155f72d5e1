/*
 * NAME
 *	control - holdscand's control socket for the web console
 * DESCRIPTION
 *	holdscan-web runs as its own unprivileged user and cannot open the
 *	state environment or the quarantine: it asks holdscand here. The
 *	master accepts a connection when its event loop finds the socket
 *	readable, checks the peer's credentials (SO_PEERCRED: root or
 *	web { user }), reads one request line (at most CONTROL_REQUEST_MAX
 *	bytes, within CONTROL_IO_MS), answers one JSON line and closes.
 *
 *	Every request names the account it is made for ("by") and that
 *	account's scope (role, domains, addresses; common/access.c); the
 *	scope is enforced here, on every answer: a message outside it is
 *	"not found" (404), as one that does not exist, so that its id tells
 *	nothing. Operations:
 *	  qlist    quarantine entries in time order, filtered, paged
 *	  qshow    one entry, and its stored file as a read-only descriptor
 *	           (SCM_RIGHTS) for holdscan-web to parse
 *	  release  through qaction_release() (the exactly-once path)
 *	  delete   through qaction_delete()
 *	  log      message log records, newest first, filtered, paged
 *	  trace    every record naming an id (old, new or quarantine id),
 *	           with its events
 *	  stats    messages per hour by verdict, top virus names, top
 *	           blocking reasons, top spam senders, and the metrics
 *
 *	The operations are ctlquar.c's (quarantine) and ctllog.c's (log,
 *	trace, stats); this file reads the request, checks the peer, and
 *	sends the answer. Strings leave as JSON through jansson, after
 *	text_safe() (jansson takes valid UTF-8 only; control characters
 *	never leave).
 *
 *	This module must never parse a message's content (the descriptor
 *	goes to holdscan-web), never answer a peer that is not root or the
 *	web user, never wait for a peer longer than CONTROL_IO_MS per
 *	step, and never change the quarantine but through qaction.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/access.h"
#include "common/config.h"
#include "common/log.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "daemon/control.h"
#include "daemon/ctlreq.h"
#include "quarantine/quarantine.h"
#include "state/msglog.h"

struct control {
	int		 fd;
	uid_t		 web_uid;
	bool		 have_web_uid;
	char		*path;
	struct ctl_stats_cache *stats;	/* the admins' settled hours */
};


/* --- the socket ------------------------------------------------------------------- */

int
control_open(const struct hs_config *conf, uid_t owner_uid, gid_t owner_gid,
    struct control **ctl_r, char **error_r)
{
	struct sockaddr_un sun;
	struct control	*ctl;
	struct passwd	*pw;
	struct stat	 st;
	char		*dir, *slash, path[sizeof(sun.sun_path)];

	*ctl_r = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (config_control_socket(conf, path, sizeof(sun.sun_path)) < 0) {
		*error_r = xasprintf("control_socket: path too long (%zu "
		    "bytes at most)", sizeof(sun.sun_path) - 1);
		return (-1);
	}
	(void)strcpy(sun.sun_path, path);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			*error_r = xasprintf("control_socket: mkdir %s: %s", dir,
			    strerror(errno));
			free(dir);
			return (-1);
		}
	}
	free(dir);
	/* Only a socket is replaced: never a file someone put there. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*error_r = xasprintf("control_socket %s exists and is not "
			    "a socket", path);
			return (-1);
		}
		if (unlink(path) < 0) {
			*error_r = xasprintf("control_socket: unlink %s: %s",
			    path, strerror(errno));
			return (-1);
		}
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->path = xstrdup(path);
	ctl->stats = ctl_stats_cache_new();
	if ((pw = getpwnam(conf->web_user)) != NULL) {
		ctl->web_uid = pw->pw_uid;
		ctl->have_web_uid = true;
	}
	if ((ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chown(ctl->path, owner_uid, owner_gid) < 0 ||
	    chmod(ctl->path, 0666) < 0 || listen(ctl->fd, 64) < 0) {
		*error_r = xasprintf("control_socket %s: %s", ctl->path,
		    strerror(errno));
		control_close(&ctl);
		return (-1);
	}
	*ctl_r = ctl;
	return (0);
}

void
control_close(struct control **ctlp)
{
	struct control	*ctl = *ctlp;

	if (ctl == NULL)
		return;
	if (ctl->fd >= 0)
		(void)close(ctl->fd);
	ctl_stats_cache_free(&ctl->stats);
	free(ctl->path);
	free(ctl);
	*ctlp = NULL;
}

int
control_fd(const struct control *ctl)
{
	return (ctl->fd);
}
/* The request's scope: admin only when it says so; anything odd sees nothing. */
static int
parse_scope(struct creq *r)
{
	json_t	*s = json_object_get(r->req, "scope"), *v;
	const char *role;
	size_t	 i;
	int	 ro;

	memset(&r->scope, 0, sizeof(r->scope));
	if (!json_is_object(s) || (role = ctlreq_str(s, "role")) == NULL ||
	    (ro = access_role_parse(role)) < 0)
		return (-1);
	r->scope.role = (enum access_role)ro;
	json_array_foreach(json_object_get(s, "domains"), i, v)
		if (json_is_string(v))
			access_add_domain(&r->scope, json_string_value(v));
	json_array_foreach(json_object_get(s, "addresses"), i, v)
		if (json_is_string(v))
			access_add_address(&r->scope, json_string_value(v));
	return (0);
}
/* --- one connection ----------------------------------------------------------------- */

static int
read_request(int fd, char **line_r)
{
	char	*buf = xmalloc(CONTROL_REQUEST_MAX + 1), *nl;
	size_t	 len = 0;
	ssize_t	 n;

	for (;;) {
		n = read(fd, buf + len, CONTROL_REQUEST_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			*line_r = buf;
			return (0);
		}
		if (len == CONTROL_REQUEST_MAX)
			break;
	}
	free(buf);
	return (-1);
}

static void
send_reply(int fd, const char *text, int pass_fd)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 cm;
	size_t		 len = strlen(text), off = 0;
	ssize_t		 n;

	while (off < len) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = (char *)text + off;
		iov.iov_len = len - off;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (off == 0 && pass_fd >= 0) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = sizeof(cm.buf);
			CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
			CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &pass_fd,
			    sizeof(int));
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			hs_warn("control: answer not sent");
			return;
		}
		off += (size_t)n;
	}
}

static void
serve(struct control *ctl, int fd, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	struct ucred	 cred;
	socklen_t	 clen = sizeof(cred);
	struct timeval	 tv;
	struct creq	 r;
	json_error_t	 jerr;
	const char	*op;
	char		*line = NULL, *text;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		hs_warn("control: SO_PEERCRED");
		return;
	}
	if (cred.uid != 0 && !(ctl->have_web_uid && cred.uid == ctl->web_uid)) {
		hs_warnx("control: refused a connection from uid %ld pid %ld "
		    "(only root and web user %s)", (long)cred.uid,
		    (long)cred.pid, conf->web_user);
		return;
	}
	tv.tv_sec = CONTROL_IO_MS / 1000;
	tv.tv_usec = (CONTROL_IO_MS % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		hs_warn("control: socket timeouts");
		return;
	}
	memset(&r, 0, sizeof(r));
	r.pass_fd = -1;
	r.reply = json_pack("{s:b}", "ok", 1);
	if (read_request(fd, &line) < 0) {
		ctlreq_fail(&r, 400, "no request line within %d ms and %d bytes",
		    CONTROL_IO_MS, CONTROL_REQUEST_MAX);
	} else if ((r.req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(r.req)) {
		ctlreq_fail(&r, 400, "the request is not a JSON object");
	} else if ((op = ctlreq_str(r.req, "op")) == NULL) {
		ctlreq_fail(&r, 400, "op: missing");
	} else if ((r.by = ctlreq_str(r.req, "by")) == NULL || strlen(r.by) > 64 ||
	    parse_scope(&r) < 0) {
		ctlreq_fail(&r, 400, "by, scope: missing or malformed");
	} else if (q == NULL) {
		ctlreq_fail(&r, 503, "the state environment is not open yet");
	} else if (strcmp(op, "qlist") == 0) {
		ctl_qlist(&r, q);
	} else if (strcmp(op, "qshow") == 0) {
		ctl_qshow(&r, q);
	} else if (strcmp(op, "release") == 0) {
		ctl_release(&r, c, q, ml, conf);
	} else if (strcmp(op, "delete") == 0) {
		ctl_delete(&r, q, ml);
	} else if (ml == NULL && (strcmp(op, "log") == 0 ||
	    strcmp(op, "trace") == 0 || strcmp(op, "stats") == 0)) {
		ctlreq_fail(&r, 404, "the message log is off (message_log = no)");
	} else if (strcmp(op, "log") == 0) {
		ctl_log(&r, ml);
	} else if (strcmp(op, "trace") == 0) {
		ctl_trace(&r, ml);
	} else if (strcmp(op, "stats") == 0) {
		ctl_stats(&r, ml, conf, ctl->stats);
	} else {
		ctlreq_fail(&r, 400, "op: unknown");
	}
	if (r.reply == NULL)	/* json_pack failed: a bug, not input */
		r.reply = json_pack("{s:b, s:i, s:s}", "ok", 0, "status", 500,
		    "error", "internal error");
	if ((text = json_dumps(r.reply, JSON_COMPACT)) != NULL) {
		size_t	 n = strlen(text);

		text = xreallocarray(text, n + 2, 1);
		text[n] = '\n';
		text[n + 1] = '\0';
		send_reply(fd, text, r.pass_fd);
		free(text);
	}
	if (r.pass_fd >= 0)
		(void)close(r.pass_fd);
	access_scope_clear(&r.scope);
	json_decref(r.req);
	json_decref(r.reply);
	free(line);
}

void
control_run(struct control *ctl, struct commit_ctx *c, struct quarantine *q,
    struct msglog *ml, const struct hs_config *conf)
{
	struct timespec	 t0, t;
	int		 fd, n;

	/* A bounded number and time per round: the loop has other work too. */
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (n = 0; n < 16; n++) {
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) /
		    1000000 > CONTROL_ROUND_MS)
			return;		/* the rest wait for the next round */
		if ((fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				hs_warn("control: accept");
			return;
		}
		serve(ctl, fd, c, q, ml, conf);
		(void)close(fd);
	}
}
