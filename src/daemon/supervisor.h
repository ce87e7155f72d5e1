/*
 * supervisor.h - the scanner supervisor: the one process that starts
 * scanner parents (the scanner program, holdscan-scanner), so that a dead
 * one can be replaced although the master runs as mail_owner and cannot
 * make a process worker_user.
 */
#ifndef HS_SUPERVISOR_H
#define HS_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * How a scanner parent is started: the scanner program, as whom, and
 * what its command line says. Fixed when holdscand starts (the copy the
 * supervisor takes at fork is the one it uses for its whole life).
 */
struct supervisor_setup {
	const char	*program;	/* scanner_program (holdscan-scanner) */
	const char	*config_path;	/* names the configuration in messages */
	uid_t		 uid;		/* worker user; (uid_t)-1: keep ours */
	gid_t		 gid;
	const char	*user;
	const char	*log_ident;	/* holdscand's syslog_name */
	bool		 log_stderr;	/* holdscand -f */
	int		 log_facility;
	int		 verbose;
};

/*
 * supervisor_start() forks the supervisor. Call it as root, before the
 * master drops its privileges: the supervisor keeps root's user id with
 * CAP_SETUID and CAP_SETGID only. setup is copied with the process.
 * *sock_r is the master's end of the supervisor's socket
 * (SOCK_SEQPACKET, close-on-exec), *pid_r its pid. 0, or -1 with errno.
 *
 * On the socket (wire.h): the master sends WIRE_START; the supervisor
 * starts "PROGRAM serve" as the worker user with the scanner parent's end
 * of a new control socket as its descriptor 3 and answers WIRE_STARTED
 * (struct wire_started) with the master's end, or with an error and no
 * socket; it sends WIRE_EXITED when a scanner parent it started has
 * ended. It exits when the master closes the socket (after its scanner
 * parents, bounded) or dies.
 */
int	 supervisor_start(const struct supervisor_setup *setup, int *sock_r,
	    pid_t *pid_r);

#endif
