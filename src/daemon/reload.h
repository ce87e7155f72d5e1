/*
 * reload.h - a reload's answer, where the administrator can wait for it.
 *
 * holdscand keeps a small file beside its pid file (reload_status_path())
 * that says how many reloads it was asked for (SIGHUP) and what became
 * of the last one it read the configuration for: taken or refused, and
 * why. "holdscand reload" (reload_request()) signals the running daemon
 * and waits there for the answer to its own signal, so that the init
 * script and systemd's ExecReload= fail when the daemon refused the file.
 */
#ifndef HS_RELOAD_H
#define HS_RELOAD_H

#include <stdbool.h>
#include <sys/types.h>

struct reload_status {
	long		 pid;		/* the daemon's */
	unsigned long	 requested;	/* SIGHUPs seen */
	unsigned long	 done;		/* requested when the last answered
					   reload read the file; 0: none yet */
	bool		 ok;		/* that reload was taken */
	char		 message[1024];	/* one line: what was taken, or why not */
};

/*
 * The status file of the daemon whose pid file is pid_file: its name
 * with ".pid" replaced by (or, without it, followed by) ".reload".
 * Owned by the caller.
 */
char	*reload_status_path(const char *pid_file);

/*
 * Write st into fd (the status file, opened by the daemon as root, as its
 * pid file), replacing what was there. 0, or -1 with errno.
 */
int	 reload_status_write(int fd, const struct reload_status *st);
/*
 * Read path into *st. 0; -1 with errno (ENOENT: no file; EAGAIN: being
 * written or incomplete, try again; EINVAL: not a status file).
 */
int	 reload_status_read(const char *path, struct reload_status *st);

enum reload_result {
	RELOAD_TAKEN,		/* the daemon took the configuration */
	RELOAD_REFUSED,		/* it refused it, keeping the one it runs */
	RELOAD_NOT_RUNNING,	/* no daemon holds pid_file */
	RELOAD_NO_ANSWER,	/* no answer within timeout_ms, or it died */
};

/*
 * reload_request() sends SIGHUP to the holdscand that holds pid_file
 * locked and waits (up to timeout_ms) until its status file answers a
 * reload that read the configuration after the signal arrived. *msg_r
 * (owned by the caller) is the daemon's message, or what went wrong.
 */
enum reload_result reload_request(const char *pid_file, long timeout_ms,
	    char **msg_r);

#endif
