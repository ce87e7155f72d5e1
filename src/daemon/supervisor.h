/*
 * supervisor.h - the scanner supervisor: the one process that starts
 * scanner parents, so that a dead one can be replaced although the master
 * runs as mail_owner and cannot make a process worker_user.
 */
#ifndef HS_SUPERVISOR_H
#define HS_SUPERVISOR_H

#include <sys/types.h>

#include "scanner/scanner.h"

/*
 * supervisor_start() forks the supervisor. Call it as root, before the
 * master drops its privileges: the supervisor keeps root's user id with
 * CAP_SETUID and CAP_SETGID only. setup is copied with the process (the
 * configuration as it was at start). *sock_r is the master's end of the
 * supervisor's socket (SOCK_SEQPACKET, close-on-exec), *pid_r its pid.
 * 0, or -1 with errno.
 *
 * On the socket (wire.h): the master sends WIRE_START; the supervisor
 * answers WIRE_STARTED (struct wire_started) with the master's end of the
 * new scanner parent's control socket, or with an error and no socket,
 * and sends WIRE_EXITED when a scanner parent it started has ended. It
 * exits when the master closes the socket (after its scanner parents,
 * bounded) or dies.
 */
int	 supervisor_start(const struct scanner_setup *setup, int *sock_r,
	    pid_t *pid_r);

#endif
