/*
 * NAME
 *	ctlclient - ask holdscand over its control socket
 * DESCRIPTION
 *	Connects to web { control_socket }, writes the request as one JSON
 *	line, reads the answer line (at most CTLCLIENT_REPLY_MAX bytes,
 *	within CTLCLIENT_WAIT_MS per read) and takes a descriptor that comes
 *	with it (SCM_RIGHTS; any more are closed).
 *
 *	This module must never wait without a bound, and never keep a
 *	descriptor it was not asked for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "web/ctlclient.h"

static void
take_fds(struct msghdr *mh, int *fd_r)
{
	struct cmsghdr	*c;
	int		 fds[8];
	size_t		 n, i;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n > 8)
			n = 8;
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (i = 0; i < n; i++) {
			if (fd_r != NULL && *fd_r < 0)
				*fd_r = fds[i];
			else
				(void)close(fds[i]);
		}
	}
}

int
ctlclient_call(const char *path, json_t *req, json_t **reply_r, int *fd_r,
    char **error_r)
{
	struct sockaddr_un sun;
	struct timeval	 tv;
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(8 * sizeof(int))];
	}		 cm;
	struct buf	 b = BUF_INIT;
	json_error_t	 jerr;
	char		*text = NULL, chunk[65536];
	size_t		 len, off = 0;
	ssize_t		 n;
	int		 s = -1;

	*reply_r = NULL;
	if (fd_r != NULL)
		*fd_r = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*error_r = xasprintf("%s: path too long", path);
		return (-1);
	}
	(void)strcpy(sun.sun_path, path);
	tv.tv_sec = CTLCLIENT_WAIT_MS / 1000;
	tv.tv_usec = 0;
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*error_r = xasprintf("holdscand's control socket %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL) {
		*error_r = xstrdup("cannot encode the request");
		goto fail;
	}
	len = strlen(text);
	text[len++] = '\n';	/* over the NUL: written by length */
	while (off < len) {
		if ((n = send(s, text + off, len - off, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			*error_r = xasprintf("control socket: send: %s",
			    strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = chunk;
		iov.iov_len = sizeof(chunk);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		if ((n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC)) < 0) {
			if (errno == EINTR)
				continue;
			*error_r = xasprintf("control socket: %s",
			    errno == EAGAIN ? "holdscand did not answer in time" :
			    strerror(errno));
			goto fail;
		}
		take_fds(&mh, fd_r);
		if (n == 0)
			break;
		buf_append(&b, chunk, (size_t)n);
		if (b.len > CTLCLIENT_REPLY_MAX) {
			*error_r = xstrdup("control socket: answer too long");
			goto fail;
		}
		if (memchr(chunk, '\n', (size_t)n) != NULL)
			break;
	}
	buf_append(&b, "", 1);
	if ((*reply_r = json_loads(b.data, 0, &jerr)) == NULL ||
	    !json_is_object(*reply_r)) {
		json_decref(*reply_r);
		*reply_r = NULL;
		*error_r = xstrdup("control socket: the answer is not JSON");
		goto fail;
	}
	free(text);
	buf_free(&b);
	(void)close(s);
	return (0);
fail:
	if (fd_r != NULL && *fd_r >= 0) {
		(void)close(*fd_r);
		*fd_r = -1;
	}
	free(text);
	buf_free(&b);
	if (s >= 0)
		(void)close(s);
	return (-1);
}
