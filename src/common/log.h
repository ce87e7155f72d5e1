/*
 * log.h - diagnostics in Postfix's style: one line per event, syslog or stderr.
 *
 * Four levels with fixed meanings (Postfix msg(3)):
 *	hs_info/hs_notice	normal events ("QUEUEID: key=value ...")
 *	hs_warn/hs_warnx	something failed; the caller goes on (hs_warn adds %m)
 *	hs_fatal/hs_fatalx	cannot run at all; exits with a sysexits(3) code
 *	hs_panic		internal inconsistency; logs and abort()s
 */
#ifndef HS_LOG_H
#define HS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#define HS_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define HS_NORETURN	__attribute__((noreturn))

enum log_dest {
	LOG_DEST_STDERR,	/* foreground, tests: "holdscand[pid]: text" */
	LOG_DEST_SYSLOG,	/* syslog(3), facility LOG_MAIL */
	LOG_DEST_FILE,		/* log_file: "Mon dd hh:mm:ss host ident[pid]: text" */
};

/*
 * log_open() chooses the destination and the program name once, before any
 * other call; nothing changes it afterwards (it is the one piece of
 * process-wide state, like openlog(3)'s own). verbose > 0 enables hs_debug().
 */
void	log_open(const char *ident, enum log_dest dest, int facility,
	    int verbose);
void	log_set_verbose(int verbose);
/* After fork(): reconnect to syslog so children never share a socket. */
void	log_reopen(void);
/*
 * log_open_file() sends what follows to the file path (appended, created
 * 0640 without following a link, given to uid/gid when we are root), as
 * Postfix's maillog_file does where there is no syslog. On SIGHUP (after
 * a rotation) call it again: if the file cannot be opened, the old one
 * stays. 0, or -1 with errno.
 */
int	log_open_file(const char *ident, const char *path, int verbose,
	    uid_t uid, gid_t gid);
/*
 * log_file_fd() is the descriptor of the file log_open_file() opened
 * while we log to it, else -1: holdscand hands it to the scanner program
 * (which, as worker_user, could not open it), and log_open_fd() there
 * logs to it as log_open_file() would.
 */
int	log_file_fd(void);
void	log_open_fd(const char *ident, int fd, int verbose);
/*
 * log_fatal_fd() names a descriptor that also gets the line of a fatal
 * error (the pipe a detaching holdscand's parent waits on, so that the
 * reason reaches the terminal or init script that started it); -1: none.
 */
void	log_fatal_fd(int fd);
/*
 * log_file_line() appends one line "Mon dd hh:mm:ss host ident[pid]: text"
 * to the log file path, for a program that otherwise logs to stderr (the
 * holdscan tool's audit lines when log_file is set). 0, or -1 with errno.
 */
int	log_file_line(const char *path, const char *ident, const char *text);
bool	log_to_stderr(void);
/*
 * log_signal_fatal() logs "fatal: line" from a signal handler, with
 * async-signal-safe calls only where the destination allows it (a file,
 * stderr; syslog(3) is called as it is).
 */
void	log_signal_fatal(const char *line);

void	hs_info(const char *fmt, ...) HS_PRINTF(1, 2);
void	hs_notice(const char *fmt, ...) HS_PRINTF(1, 2);
void	hs_debug(const char *fmt, ...) HS_PRINTF(1, 2);
/* "warning: text: strerror(errno)" */
void	hs_warn(const char *fmt, ...) HS_PRINTF(1, 2);
void	hs_warnx(const char *fmt, ...) HS_PRINTF(1, 2);
/* "fatal: text[: strerror(errno)]", then exit(status) */
void	hs_fatal(int status, const char *fmt, ...) HS_PRINTF(2, 3) HS_NORETURN;
void	hs_fatalx(int status, const char *fmt, ...) HS_PRINTF(2, 3) HS_NORETURN;
/* "panic: text", then abort() for a core dump */
void	hs_panic(const char *fmt, ...) HS_PRINTF(1, 2) HS_NORETURN;

#endif
