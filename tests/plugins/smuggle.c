/*
 * NAME
 *	smuggle - a test-only scanner plugin that plays a worker taken over
 * DESCRIPTION
 *	For e2e 1380, never installed. The plugin ABI gives a plugin no way
 *	to put raw bytes into the content records a worker returns (the
 *	header lines a plugin adds are checked and neutralised by the host,
 *	scanner/rewrite.c), but code that a message made run in a worker
 *	(a bug in GMime or libclamav) can do whatever the worker can. So in
 *	worker_init, when it runs in a worker of holdscand (a worker's one
 *	SOCK_SEQPACKET socket is its line to the master), this plugin takes
 *	the worker over the way such code would: it never returns, and
 *	answers the master itself. It reads each queue file it is given,
 *	and when the content holds the marker, returns the content with
 *	what mode says added to its last line, verdict clean, action
 *	deliver:
 *
 *	smuggle	"\r\n.\r\nMAIL FROM:<w@evil.example>\r\nRCPT
 *		TO:<injected@victim.example>\r\nDATA\r\n..." (SMTP
 *		smuggling: Postfix's smtp(8) sends a record as it is);
 *	cr	"\r.\r" (a bare CR end of data some servers accept);
 *	type	an R (recipient) record after the content;
 *	copy	the content unchanged, but copies (wire_result.copy_to) to
 *		"injected@victim.example" besides the configured
 *		"archive@sink.test": the master must add only the latter;
 *	headers	no content, but header lines for the master to insert
 *		(CONTENT_HEADERS) with the SMTP of mode smuggle after
 *		the first.
 *
 *	Each time it returns such content it logs "returning smuggled
 *	content for QUEUEID" (the line carries the worker's pid). Other
 *	messages it returns unchanged (content same, clean). It
 *	speaks common/wire.h, the one header of ours it sees besides
 *	holdscan/plugin.h (the Makefile's TPLUGIN_CFLAGS_smuggle), and links
 *	nothing of ours.
 *
 *	It must never be installed, and never take over anything but a
 *	worker (in `holdscan scan` it is a clean scanner).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "holdscan/plugin.h"
#include "common/wire.h"

#define INJECT	"\r\n.\r\nMAIL FROM:<w@evil.example>\r\n" \
		"RCPT TO:<injected@victim.example>\r\nDATA\r\n" \
		"From: w@evil.example\r\nTo: injected@victim.example\r\n" \
		"Subject: injected\r\n\r\nHOLDSCAN-SMUGGLED\r\n"

struct smuggle {
	const struct hs_host *host;
	const char	*marker;
	const char	*mode;
};

struct out {
	char		*data;
	size_t		 len, cap;
};

static const struct hs_plugin_option smuggle_options[] = {
	{ "marker", HS_OPT_STR, "HOLDSCAN-SMUGGLE-MARKER",
	    "text in a message that makes the worker misbehave" },
	{ "mode", HS_OPT_STR, "smuggle",
	    "smuggle, cr, type, copy or headers" },
	{ NULL, 0, NULL, NULL },
};

static int
put(struct out *o, const void *p, size_t len)
{
	char	*n;

	if (o->len + len > o->cap) {
		size_t	 cap = (o->len + len) * 2 + 4096;

		if ((n = realloc(o->data, cap)) == NULL)
			return (-1);
		o->data = n;
		o->cap = cap;
	}
	memcpy(o->data + o->len, p, len);
	o->len += len;
	return (0);
}

/* One record as Postfix encodes it: type, 7-bit length groups, payload. */
static int
put_rec(struct out *o, int type, const char *p, size_t len)
{
	unsigned char	 h[8];
	size_t		 n = 0, l = len;

	h[n++] = (unsigned char)type;
	do {
		h[n++] = (unsigned char)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
		l >>= 7;
	} while (l != 0);
	if (put(o, h, n) < 0)
		return (-1);
	return (put(o, p, len));
}

/* Read one record at *pos of q[len]; -1 at the end or when malformed. */
static int
get_rec(const unsigned char *q, size_t len, size_t *pos, int *type,
    const char **data, size_t *dlen)
{
	size_t	 p = *pos, l = 0;
	int	 shift = 0;

	if (p >= len)
		return (-1);
	*type = q[p++];
	for (;;) {
		if (p >= len || shift > 28)
			return (-1);
		l |= (size_t)(q[p] & 0x7f) << shift;
		shift += 7;
		if ((q[p++] & 0x80) == 0)
			break;
	}
	if (l > len - p)
		return (-1);
	*data = (const char *)q + p;
	*dlen = l;
	*pos = p + l;
	return (0);
}

/*
 * The content records of the queue file at fd, re-encoded into o, the
 * last line with what mode says appended. 1 when the marker was there,
 * 0 when not, -1 on error.
 */
static int
build(struct smuggle *s, int fd, struct out *o)
{
	struct stat	 st;
	unsigned char	*q;
	const char	*d, *last = NULL;
	size_t		 pos = 0, dl, lastlen = 0, hops = 0;
	int		 type, lasttype = 'N', in = 0, found = 0, rc = -1;

	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return (-1);
	q = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (q == MAP_FAILED)
		return (-1);
	while (get_rec(q, (size_t)st.st_size, &pos, &type, &d, &dl) == 0) {
		if (type == 'p') {
			long	 to = strtol(d, NULL, 10);

			if (to > 0 && to < st.st_size && ++hops < 10000)
				pos = (size_t)to;
			continue;
		}
		if (type == 'M') {
			in = 1;
			continue;
		}
		if (type == 'X' || type == 'E')
			break;
		if (!in || (type != 'N' && type != 'L'))
			continue;
		if (memmem(d, dl, s->marker, strlen(s->marker)) != NULL)
			found = 1;
		/* Each record but the last goes out at once. */
		if (last != NULL && put_rec(o, lasttype, last, lastlen) < 0)
			goto out;
		last = d;
		lastlen = dl;
		lasttype = type;
	}
	if (last != NULL) {
		struct out	 line = { NULL, 0, 0 };

		if (put(&line, last, lastlen) < 0)
			goto out;
		if (found && strcmp(s->mode, "smuggle") == 0 &&
		    put(&line, INJECT, sizeof(INJECT) - 1) < 0)
			goto out;
		if (found && strcmp(s->mode, "cr") == 0 &&
		    put(&line, "\r.\r", 3) < 0)
			goto out;
		if (put_rec(o, 'N', line.data, line.len) < 0) {
			free(line.data);
			goto out;
		}
		free(line.data);
	}
	if (found && strcmp(s->mode, "type") == 0 &&
	    put_rec(o, 'R', "injected@victim.example", 23) < 0)
		goto out;
	rc = found;
out:
	(void)munmap(q, (size_t)st.st_size);
	return (rc);
}

/* The worker's line to the master: its one SOCK_SEQPACKET socket, or -1. */
static int
master_socket(void)
{
	socklen_t	 len;
	int		 fd, type;

	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    type == SOCK_SEQPACKET)
			return (fd);
	}
	return (-1);
}

/* Receive one WIRE_SCAN with its descriptor; 0, or -1 at the end. */
static int
recv_scan(int sock, struct wire_scan *req, int *fd_r)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	struct cmsghdr	*c;
	uint32_t	 t;
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &t;
	iov[0].iov_len = sizeof(t);
	iov[1].iov_base = req;
	iov[1].iov_len = sizeof(*req);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(t) + sizeof(*req)) || t != WIRE_SCAN)
		return (-1);
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return (-1);
	memcpy(fd_r, CMSG_DATA(c), sizeof(int));
	return (0);
}

static int
send_result(int sock, const struct wire_result *res, int fd)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	uint32_t	 t = WIRE_RESULT;

	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &t;
	iov[0].iov_len = sizeof(t);
	iov[1].iov_base = (void *)res;
	iov[1].iov_len = sizeof(*res);
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	if (fd >= 0) {
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
		cmsg.hdr.cmsg_level = SOL_SOCKET;
		cmsg.hdr.cmsg_type = SCM_RIGHTS;
		cmsg.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cmsg.hdr), &fd, sizeof(int));
	}
	return (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0);
}

/* A sealed memfd holding o, as the real worker makes one. */
static int
sealed(const struct out *o)
{
	int	 fd;

	if ((fd = memfd_create("holdscan-content", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		return (-1);
	if (write(fd, o->data, o->len) != (ssize_t)o->len ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		(void)close(fd);
		return (-1);
	}
	return (fd);
}

/* The worker is ours from here: answer the master until it hangs up. */
static void
take_over(struct smuggle *s, int sock)
{
	struct wire_scan req;
	struct wire_result res;
	struct out	 o;
	int		 fd, memfd, found;

	s->host->log(s->host->host_ctx, 1, "taking this worker over (mode %s)",
	    s->mode);
	while (recv_scan(sock, &req, &fd) == 0) {
		memset(&res, 0, sizeof(res));
		memset(&o, 0, sizeof(o));
		res.seq = req.seq;
		res.verdict = 0;	/* clean */
		res.action = 0;		/* deliver */
		res.content = CONTENT_SAME;
		memfd = -1;
		found = build(s, fd, &o);
		(void)close(fd);
		if (found == 1 && strcmp(s->mode, "copy") == 0) {
			(void)snprintf(res.copy_to, sizeof(res.copy_to),
			    "injected@victim.example archive@sink.test "
			    "archive@sink.test");
			res.copies_set = 1;
			s->host->log(s->host->host_ctx, 1, "returning forged "
			    "copies for %.*s", (int)sizeof(req.queue_id),
			    req.queue_id);
		} else if (found == 1 && strcmp(s->mode, "headers") == 0) {
			res.content = CONTENT_HEADERS;
			(void)snprintf(res.headers, sizeof(res.headers),
			    "X-Smuggle: 1%s\n", INJECT);
			s->host->log(s->host->host_ctx, 1, "returning smuggled "
			    "content for %.*s", (int)sizeof(req.queue_id),
			    req.queue_id);
		} else if (found == 1 && (memfd = sealed(&o)) >= 0) {
			res.content = CONTENT_NEW;
			(void)snprintf(res.detail, sizeof(res.detail),
			    "smuggle=%s", s->mode);
			/* e2e 1380 checks that this worker is killed for it. */
			s->host->log(s->host->host_ctx, 1, "returning smuggled "
			    "content for %.*s", (int)sizeof(req.queue_id),
			    req.queue_id);
		}
		free(o.data);
		if (send_result(sock, &res, memfd) < 0)
			_exit(1);
		if (memfd >= 0)
			(void)close(memfd);
	}
	_exit(0);
}

static int
smuggle_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct smuggle	*s = calloc(1, sizeof(*s));

	if (s == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	s->host = host;
	s->marker = host->opt_str(host->host_ctx, "marker");
	s->mode = host->opt_str(host->host_ctx, "mode");
	if (strcmp(s->mode, "smuggle") != 0 && strcmp(s->mode, "cr") != 0 &&
	    strcmp(s->mode, "type") != 0 && strcmp(s->mode, "copy") != 0 &&
	    strcmp(s->mode, "headers") != 0) {
		*error_r = "mode must be smuggle, cr, type, copy or headers";
		free(s);
		return (-1);
	}
	*ctx_r = s;
	return (0);
}

static int
smuggle_worker_init(void *ctx, const char **error_r)
{
	struct smuggle	*s = ctx;
	int		 sock;

	(void)error_r;
	if (s->marker[0] != '\0' && (sock = master_socket()) >= 0)
		take_over(s, sock);
	return (0);
}

static int
smuggle_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	(void)ctx;
	(void)msg;
	res->verdict = HS_CLEAN;
	return (0);
}

static void
smuggle_fini(void *ctx)
{
	free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "smuggle",
	.version = "1",
	.options = smuggle_options,
	.init = smuggle_init,
	.worker_init = smuggle_worker_init,
	.scan = smuggle_scan,
	.fini = smuggle_fini,
};
