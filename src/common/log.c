/*
 * NAME
 *	log - one-line diagnostics to syslog (LOG_MAIL) or stderr
 * DESCRIPTION
 *	Every function formats one complete line and hands it to the
 *	destination in a single call (one syslog(3) or one write(2)), so
 *	that lines from several processes never interleave.
 *
 *	The destination, ident and verbosity are chosen once by log_open()
 *	before the program does anything else; they are the only
 *	process-wide state in the project outside holdscand's context
 *	struct, in the same way as openlog(3)'s own.
 *
 *	This module must never allocate memory (it is called on the way out
 *	of out-of-memory and panic paths) and never block on a full disk:
 *	stderr writes that fail are dropped.
 * DIAGNOSTICS
 *	None of its own; hs_fatal() exits, hs_panic() aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/text.h"

#define LOG_LINE_MAX	2048

static struct {
	char		 ident[64];
	enum log_dest	 dest;
	int		 verbose;
	int		 facility;
	int		 fd;		/* LOG_DEST_FILE */
	int		 fatal_fd;	/* also gets a fatal error's line */
	char		 host[64];
	long		 gmtoff;	/* local time's offset, for signal handlers */
} log_state = { "holdscan", LOG_DEST_STDERR, 0, LOG_MAIL, -1, -1, "", 0 };

void
log_open(const char *ident, enum log_dest dest, int facility, int verbose)
{
	log_state.facility = facility;
	(void)snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	log_state.dest = dest;
	log_state.verbose = verbose;
	if (dest == LOG_DEST_SYSLOG)
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, log_state.facility);
}

/* The local time's offset from UTC now, for log_signal_fatal(). */
static long
local_gmtoff(void)
{
	struct tm	 tm;
	time_t		 now = time(NULL);

	return (localtime_r(&now, &tm) != NULL ? tm.tm_gmtoff : 0);
}

static void
short_hostname(char *host, size_t size)
{
	if (gethostname(host, size) < 0)
		(void)snprintf(host, size, "localhost");
	host[size - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
}

int
log_open_file(const char *ident, const char *path, int verbose, uid_t uid,
    gid_t gid)
{
	int	 fd, saved;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) < 0)
		return (-1);
	if (geteuid() == 0 && fchown(fd, uid, gid) < 0) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	if (log_state.fd >= 0)
		(void)close(log_state.fd);
	log_state.fd = fd;
	log_state.dest = LOG_DEST_FILE;
	log_state.verbose = verbose;
	(void)snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	short_hostname(log_state.host, sizeof(log_state.host));
	log_state.gmtoff = local_gmtoff();
	return (0);
}

int
log_file_fd(void)
{
	return (log_state.dest == LOG_DEST_FILE ? log_state.fd : -1);
}

void
log_open_fd(const char *ident, int fd, int verbose)
{
	if (log_state.fd >= 0 && log_state.fd != fd)
		(void)close(log_state.fd);
	log_state.fd = fd;
	log_state.dest = LOG_DEST_FILE;
	log_state.verbose = verbose;
	(void)snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	short_hostname(log_state.host, sizeof(log_state.host));
	log_state.gmtoff = local_gmtoff();
}

void
log_fatal_fd(int fd)
{
	log_state.fatal_fd = fd;
}

void
log_reopen(void)
{
	if (log_state.dest == LOG_DEST_SYSLOG) {
		closelog();
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, log_state.facility);
	}
}

void
log_set_verbose(int verbose)
{
	log_state.verbose = verbose;
}

bool
log_to_stderr(void)
{
	return (log_state.dest == LOG_DEST_STDERR);
}

/* Write one formatted line (n from snprintf into a buffer of size) to fd. */
static void
emit_line(int fd, char *out, int n, size_t size)
{
	size_t	 len;

	if (n <= 0)
		return;
	len = (size_t)n < size ? (size_t)n : size - 1;
	if (len == size - 1)
		out[len - 1] = '\n';
	/* A short or failed write of a log line is not worth dying for. */
	if (write(fd, out, len) < 0)
		errno = 0;
}

/* "Mon dd hh:mm:ss host ident[pid]: line" to fd, as syslog writes it. */
static void
file_line(int fd, const char *host, const char *ident, const char *line)
{
	char		 out[LOG_LINE_MAX + 192], stamp[32];
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n;

	stamp[0] = '\0';
	if (localtime_r(&now, &tm) != NULL)
		(void)strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(out, sizeof(out), "%s %s %s[%ld]: %s\n", stamp, host,
	    ident, (long)getpid(), line);
	emit_line(fd, out, n, sizeof(out));
}


int
log_file_line(const char *path, const char *ident, const char *text)
{
	char	 host[64], line[LOG_LINE_MAX];
	size_t	 len;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return (-1);
	short_hostname(host, sizeof(host));
	(void)snprintf(line, sizeof(line), "%s", text);
	len = text_safe(line, strlen(line), false);
	line[len] = '\0';
	file_line(fd, host, ident, line);
	return (close(fd));
}

/* Append s to out (of size) at *len, as far as it fits; signal-safe. */
static void
put_str(char *out, size_t size, size_t *len, const char *s)
{
	while (*s != '\0' && *len < size - 1)
		out[(*len)++] = *s++;
}

/* Append v in decimal, at least width digits (zero-padded); signal-safe. */
static void
put_num(char *out, size_t size, size_t *len, long v, int width, char pad)
{
	char	 d[24];
	int	 n = 0;

	if (v < 0)
		v = 0;
	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[n++] = pad;
	while (n > 0 && *len < size - 1)
		out[(*len)++] = d[--n];
}

/*
 * The one line of a fatal error from a signal handler (holdscand's
 * watchdog): only async-signal-safe calls (time(2), getpid(2), write(2));
 * the date is computed by hand from the offset log_open_file() noted.
 * The line itself must be plain text already. syslog(3), as before, is
 * the exception (it is what there is on that destination).
 */
void
log_signal_fatal(const char *line)
{
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char	 out[LOG_LINE_MAX];
	char	 m[4];
	size_t	 len = 0;
	long	 t, days, secs, doy, mp, dd, era, yoe, doe;

	if (log_state.dest == LOG_DEST_SYSLOG) {
		syslog(LOG_CRIT, "fatal: %s", line);
	} else {
		if (log_state.dest == LOG_DEST_FILE) {
			/* Civil date from days since 1970 (Hinnant's method). */
			t = (long)time(NULL) + log_state.gmtoff;
			days = t / 86400;
			secs = t % 86400;
			days += 719468;
			era = days / 146097;
			doe = days - era * 146097;
			yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) /
			    365;
			doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
			mp = (5 * doy + 2) / 153;
			dd = doy - (153 * mp + 2) / 5 + 1;
			mp = mp < 10 ? mp + 3 : mp - 9;
			m[0] = mon[(mp - 1) * 3];
			m[1] = mon[(mp - 1) * 3 + 1];
			m[2] = mon[(mp - 1) * 3 + 2];
			m[3] = '\0';
			put_str(out, sizeof(out), &len, m);
			put_str(out, sizeof(out), &len, " ");
			put_num(out, sizeof(out), &len, dd, 2, ' ');
			put_str(out, sizeof(out), &len, " ");
			put_num(out, sizeof(out), &len, secs / 3600, 2, '0');
			put_str(out, sizeof(out), &len, ":");
			put_num(out, sizeof(out), &len, secs / 60 % 60, 2, '0');
			put_str(out, sizeof(out), &len, ":");
			put_num(out, sizeof(out), &len, secs % 60, 2, '0');
			put_str(out, sizeof(out), &len, " ");
			put_str(out, sizeof(out), &len, log_state.host);
			put_str(out, sizeof(out), &len, " ");
		}
		put_str(out, sizeof(out), &len, log_state.ident);
		put_str(out, sizeof(out), &len, "[");
		put_num(out, sizeof(out), &len, (long)getpid(), 1, '0');
		put_str(out, sizeof(out), &len, "]: fatal: ");
		put_str(out, sizeof(out), &len, line);
		out[len++] = '\n';
		if (write(log_state.dest == LOG_DEST_FILE ? log_state.fd :
		    STDERR_FILENO, out, len) < 0)
			errno = 0;
	}
	if (log_state.fatal_fd >= 0) {
		len = 0;
		put_str(out, sizeof(out), &len, log_state.ident);
		put_str(out, sizeof(out), &len, ": fatal: ");
		put_str(out, sizeof(out), &len, line);
		out[len++] = '\n';
		if (write(log_state.fatal_fd, out, len) < 0)
			errno = 0;
	}
}

/*
 * Format "prefix" + message (+ ": strerror") into one line and emit it.
 * errno is captured by the caller before anything here can change it.
 */
static void
log_emit(int prio, const char *prefix, int saved_errno, const char *fmt,
    va_list ap)
{
	char	 line[LOG_LINE_MAX];
	size_t	 len;
	int	 n;

	n = snprintf(line, sizeof(line), "%s", prefix);
	len = n > 0 ? (size_t)n : 0;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	if (saved_errno != 0 && len < sizeof(line) - 1) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(saved_errno));
		if (n > 0)
			len += (size_t)n;
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	line[len] = '\0';
	/* A sender or Subject may carry escape sequences: '?' for them. */
	len = text_safe(line, len, false);

	if (log_state.dest == LOG_DEST_SYSLOG) {
		syslog(prio, "%s", line);
	} else if (log_state.dest == LOG_DEST_FILE) {
		file_line(log_state.fd, log_state.host, log_state.ident, line);
	} else {
		char	 out[LOG_LINE_MAX + 96];

		n = snprintf(out, sizeof(out), "%s[%ld]: %s\n",
		    log_state.ident, (long)getpid(), line);
		emit_line(STDERR_FILENO, out, n, sizeof(out));
	}
	if (prio == LOG_CRIT && log_state.fatal_fd >= 0) {
		char	 out[LOG_LINE_MAX + 96];

		n = snprintf(out, sizeof(out), "%s: %s\n", log_state.ident, line);
		emit_line(log_state.fatal_fd, out, n, sizeof(out));
	}
}

#define LOG_FN(name, prio, prefix, with_errno)			\
void									\
name(const char *fmt, ...)						\
{									\
	int	 saved = with_errno ? errno : 0;			\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	log_emit(prio, prefix, saved, fmt, ap);				\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(hs_info, LOG_INFO, "", 0)
LOG_FN(hs_notice, LOG_NOTICE, "", 0)
LOG_FN(hs_warn, LOG_WARNING, "warning: ", 1)
LOG_FN(hs_warnx, LOG_WARNING, "warning: ", 0)

void
hs_debug(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (log_state.verbose <= 0)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
hs_fatal(int status, const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", saved, fmt, ap);
	va_end(ap);
	exit(status);
}

void
hs_fatalx(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(status);
}

void
hs_panic(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "panic: ", 0, fmt, ap);
	va_end(ap);
	abort();
}
