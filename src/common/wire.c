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
 *	This module must never leak a received descriptor: anything
 *	unexpected (more than one fd, a truncated control message) is
 *	closed and reported as an error.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/wire.h"

#define WIRE_MAX_BODY	2048

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
