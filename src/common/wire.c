/*
 * NAME
 *	wire - framed messages with descriptor passing between processes
 * DESCRIPTION
 *	One sendmsg(2) per message on a SOCK_SEQPACKET socket: a 4-byte
 *	type followed by the body, and an SCM_RIGHTS control message when
 *	a descriptor travels with it. Record boundaries are kept by the
 *	socket type, so a short read is a protocol error, not a partial
 *	message.
 *
 *	Longer text goes in a memfd sealed against any change before it is
 *	sent, so that a receiver (a scanner parent, which runs as
 *	worker_user) cannot alter what the sender reads back or sends again.
 *
 *	For a child (forked, or a program it runs), wire_fd_at() places a
 *	descriptor and wire_close_all_but() closes every descriptor not on
 *	the child's explicit list, whether close-on-exec or not.
 *
 *	This module must never leak a received descriptor: anything
 *	unexpected (more than one fd, a truncated control message) is
 *	closed and reported as an error. wire_close_all_but() must never
 *	close 0-2 or a descriptor on its list.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/wire.h"
#include "common/xalloc.h"

#define WIRE_MAX_BODY	4096

_Static_assert(sizeof(struct wire_result) <= WIRE_MAX_BODY,
    "a scan result fits in one message");

int
wire_send(int sock, enum wire_type type, const void *body, size_t len, int fd)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cmsg;
	struct msghdr	 msg;
	struct iovec	 iov[2];
	uint32_t	 t = (uint32_t)type;
	ssize_t		 n;

	if (len > WIRE_MAX_BODY) {
		errno = EMSGSIZE;
		return (-1);
	}
	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &t;
	iov[0].iov_len = sizeof(t);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = len;
	msg.msg_iov = iov;
	msg.msg_iovlen = len ? 2 : 1;
	if (fd >= 0) {
		memset(&cmsg, 0, sizeof(cmsg));
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
		cmsg.hdr.cmsg_level = SOL_SOCKET;
		cmsg.hdr.cmsg_type = SCM_RIGHTS;
		cmsg.hdr.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cmsg.hdr), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (-1);
	if ((size_t)n != sizeof(t) + len) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (0);
}

int
wire_recv(int sock, enum wire_type *type_r, void *body, size_t size,
    size_t *len_r, int *fd_r)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsg;
	struct msghdr	 msg;
	struct cmsghdr	*c;
	struct iovec	 iov[2];
	uint32_t	 t;
	ssize_t		 n;
	int		 fd = -1, bad = 0;

	/* Callers close *fd_r on every path; never leave it undefined. */
	*fd_r = -1;
	*len_r = 0;
	memset(&msg, 0, sizeof(msg));
	iov[0].iov_base = &t;
	iov[0].iov_len = sizeof(t);
	iov[1].iov_base = body;
	iov[1].iov_len = size;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cmsg.buf;
	msg.msg_controllen = sizeof(cmsg.buf);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (-1);

	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t	 nfds, i;
		int	 rfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0) {
				fd = rfd;
			} else {
				(void)close(rfd);
				bad = EPROTO;
			}
		}
	}
	if (n == 0 && fd < 0)
		return (0);
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		bad = EMSGSIZE;
	if ((size_t)n < sizeof(t))
		bad = EPROTO;
	if (bad) {
		if (fd >= 0)
			(void)close(fd);
		errno = bad;
		return (-1);
	}
	*type_r = (enum wire_type)t;
	*len_r = (size_t)n - sizeof(t);
	*fd_r = fd;
	return (1);
}

int
wire_memfd(const char *name, const void *data, size_t len)
{
	size_t	 off = 0;
	ssize_t	 w;
	int	 fd, saved;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
		return (-1);
	while (off < len) {
		w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	/* A reader with read(2), a standard input say, starts at the start. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return (fd);
fail:
	saved = errno ? errno : EIO;
	(void)close(fd);
	errno = saved;
	return (-1);
}

int
wire_memfd_read(int fd, size_t max, char **text_r, size_t *len_r)
{
	struct stat	 st;
	size_t		 off = 0, len;
	ssize_t		 r;
	char		*text;

	if (fstat(fd, &st) < 0)
		return (-1);
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((uint64_t)st.st_size > max) {
		errno = EFBIG;
		return (-1);
	}
	len = (size_t)st.st_size;
	text = xmalloc(len + 1);
	while (off < len) {
		r = pread(fd, text + off, len - off, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;	/* shorter than it said */
			free(text);
			return (-1);
		}
		off += (size_t)r;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		free(text);
		errno = EINVAL;
		return (-1);
	}
	*text_r = text;
	if (len_r != NULL)
		*len_r = len;
	return (0);
}

int
wire_fd_at(int fd, int target)
{
	if (fd == target)
		return (fcntl(fd, F_SETFD, 0) < 0 ? -1 : 0);
	return (dup2(fd, target) < 0 ? -1 : 0);
}

/* Without close_range(2) (Linux before 5.9): what /proc/self/fd lists. */
static int
close_listed_but(const int *keep, size_t nkeep)
{
	struct dirent	*de;
	DIR		*d;
	char		*end;
	long		 fd;
	size_t		 i;
	int		 rc = 0, err = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((errno = 0, de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, &end, 10);
		if (end == de->d_name || *end != '\0' || fd < 3 ||
		    fd == dirfd(d))
			continue;
		for (i = 0; i < nkeep && keep[i] != fd; i++)
			;
		/* EINTR: Linux has closed it all the same. */
		if (i == nkeep && close((int)fd) < 0 && errno != EINTR &&
		    errno != EBADF) {
			err = errno;
			rc = -1;
		}
	}
	if (errno != 0) {
		err = errno;
		rc = -1;
	}
	if (closedir(d) < 0 && rc == 0) {
		err = errno;
		rc = -1;
	}
	errno = err;
	return (rc);
}

int
wire_close_all_but(const int *keep, size_t nkeep)
{
	unsigned int	 from = 3;
	size_t		 i, j, n = 0;
	int		 k[WIRE_KEEP_MAX], t;

	if (nkeep > WIRE_KEEP_MAX) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < nkeep; i++) {
		if (keep[i] < 3)
			continue;
		t = keep[i];
		for (j = n; j > 0 && k[j - 1] > t; j--)
			k[j] = k[j - 1];
		k[j] = t;
		n++;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned int)k[i] < from)
			continue;	/* on the list twice */
		if ((unsigned int)k[i] > from &&
		    close_range(from, (unsigned int)k[i] - 1, 0) < 0)
			break;
		from = (unsigned int)k[i] + 1;
	}
	if (i == n && close_range(from, ~0U, 0) == 0)
		return (0);
	if (errno != ENOSYS)
		return (-1);
	return (close_listed_but(k, n));
}

int
wire_loader_debug_fd(void)
{
	const char	*out = getenv("LD_DEBUG_OUTPUT");
	char		 want[4096], proc[64], link[4096];
	size_t		 wlen;
	ssize_t		 n;
	int		 fd;

	if (getenv("LD_DEBUG") == NULL || out == NULL || *out == '\0')
		return (-1);
	if ((size_t)snprintf(want, sizeof(want), "%s.%ld", out,
	    (long)getpid()) >= sizeof(want))
		return (-1);
	wlen = strlen(want);
	for (fd = 3; fd < 256; fd++) {
		(void)snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if ((n = readlink(proc, link, sizeof(link) - 1)) < 0)
			continue;	/* not open */
		link[n] = '\0';
		/* A relative name: ld.so opened it in the current directory. */
		if (strcmp(link, want) == 0 || (want[0] != '/' &&
		    (size_t)n > wlen && link[n - wlen - 1] == '/' &&
		    strcmp(link + n - wlen, want) == 0))
			return (fd);
	}
	return (-1);
}

int
wire_scan_check(struct wire_scan *req, size_t len)
{
	if (len == WIRE_SCAN_MIN_SIZE)
		memset(&req->list, 0, sizeof(req->list));	/* no list */
	else if (len != sizeof(*req) || req->list.kind < 0 ||
	    req->list.kind > 2) {
		errno = EPROTO;
		return (-1);
	}
	req->queue_id[sizeof(req->queue_id) - 1] = '\0';
	req->list.entry[sizeof(req->list.entry) - 1] = '\0';
	return (0);
}
