/*
 * NAME
 *	faultshim - LD_PRELOAD library that makes chosen system calls fail
 * SYNOPSIS
 *	HS_FAULT_FILE=/path/to/rules LD_PRELOAD=libfaultshim.so program
 * DESCRIPTION
 *	For the fault-injection tests only, never installed. The rules file
 *	is re-read when it changes (checked at most every 100 ms), so a test
 *	can switch faults on and off while the program runs. One rule per
 *	line, "#" comments:
 *
 *	    CALL ERRNO WHEN [PATH-SUBSTRING]
 *
 *	CALL is one of open (also openat, creat), write (also pwrite,
 *	writev), fsync (also fdatasync), syncfs, rename (also renameat,
 *	renameat2), unlink (also unlinkat), mkdir (also mkdirat).
 *	ERRNO is EIO, ENOSPC, EMFILE, EACCES or EROFS; or KILL, which
 *	sends the process SIGKILL instead of making the call, or KILLAFTER,
 *	which makes the call and then sends SIGKILL (a crash at one exact
 *	system call, before or after it took effect). WHEN is "always", a
 *	number N (fail the Nth matching call after the rule appeared, once),
 *	or "pP" (fail with probability P, e.g. p0.2). PATH-SUBSTRING limits
 *	the rule to calls whose path (for descriptor calls, the file the
 *	descriptor refers to) contains it: "/log.00" targets Berkeley DB's
 *	log, "/holdscan/staging/" the staging files.
 *
 *	Every injected failure is appended to HS_FAULT_LOG if set.
 *
 *	It must never fail a call no rule matches, and never recurse into
 *	itself (its own file access uses the real functions).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXRULES	32

struct rule {
	char		 call[16];
	int		 err;
	long		 nth;		/* > 0: the Nth call; 0: always or by probability */
	double		 prob;		/* 0: not probabilistic */
	char		 path[200];
	long		 seen;
	int		 fired;
};

/* The shim's state: one process, set up lazily, private to this library. */
static struct {
	struct rule	 rules[MAXRULES];
	int		 nrules;
	struct timespec	 mtime;
	struct timespec	 checked;
	int		 inside;
	int		 kill_after;	/* the call being made is the fatal one */
	unsigned int	 seed;
} fs;

/* Not errno values: what a KILL or KILLAFTER rule asks for. */
#define FAULT_KILL		(-1)
#define FAULT_KILL_AFTER	(-2)

static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_read)(int, void *, size_t);
static int (*real_close)(int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_syncfs)(int);
static int (*real_renameat2)(int, const char *, int, const char *,
    unsigned int);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdirat)(int, const char *, mode_t);

#define REAL(name) do { \
	if (real_##name == NULL) \
		real_##name = dlsym(RTLD_NEXT, #name); \
} while (0)

static int
errno_of(const char *s)
{
	static const struct { const char *n; int e; } tab[] = {
		{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EMFILE", EMFILE },
		{ "EACCES", EACCES }, { "EROFS", EROFS },
	};
	size_t	 i;

	if (strcmp(s, "KILL") == 0)
		return (FAULT_KILL);
	if (strcmp(s, "KILLAFTER") == 0)
		return (FAULT_KILL_AFTER);
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].n, s) == 0)
			return (tab[i].e);
	return (EIO);
}

/* Re-read the rules file when it changed; keep counters of unchanged rules. */
static void
load_rules(void)
{
	const char	*path = getenv("HS_FAULT_FILE");
	struct timespec	 now;
	struct stat	 st;
	char		 buf[8192], *line, *save = NULL;
	ssize_t		 n;
	int		 fd;

	if (path == NULL)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - fs.checked.tv_sec) * 1000 +
	    (now.tv_nsec - fs.checked.tv_nsec) / 1000000 < 100 &&
	    fs.checked.tv_sec != 0)
		return;
	fs.checked = now;
	if (stat(path, &st) < 0) {
		fs.nrules = 0;
		return;
	}
	if (st.st_mtim.tv_sec == fs.mtime.tv_sec &&
	    st.st_mtim.tv_nsec == fs.mtime.tv_nsec)
		return;
	fs.mtime = st.st_mtim;
	REAL(openat);
	REAL(read);
	REAL(close);
	if ((fd = real_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = real_read(fd, buf, sizeof(buf) - 1);
	(void)real_close(fd);
	if (n < 0)
		return;
	buf[n] = '\0';
	fs.nrules = 0;
	for (line = strtok_r(buf, "\n", &save); line != NULL &&
	    fs.nrules < MAXRULES; line = strtok_r(NULL, "\n", &save)) {
		struct rule	*r = &fs.rules[fs.nrules];
		char		 call[16], err[16], when[32], p[200];
		int		 k;

		if (line[0] == '#')
			continue;
		p[0] = '\0';
		k = sscanf(line, "%15s %15s %31s %199s", call, err, when, p);
		if (k < 3)
			continue;
		memset(r, 0, sizeof(*r));
		(void)snprintf(r->call, sizeof(r->call), "%s", call);
		r->err = errno_of(err);
		if (when[0] == 'p')
			r->prob = strtod(when + 1, NULL);
		else if (strcmp(when, "always") != 0)
			r->nth = strtol(when, NULL, 10);
		(void)snprintf(r->path, sizeof(r->path), "%s", k == 4 ? p : "");
		fs.nrules++;
	}
}

static void
log_fault(const char *call, const char *path, int err)
{
	const char	*logpath = getenv("HS_FAULT_LOG");
	char		 line[512];
	int		 fd, len;

	if (logpath == NULL)
		return;
	len = snprintf(line, sizeof(line), "%ld %s %s %s\n", (long)getpid(),
	    call, err == FAULT_KILL ? "KILL" : err == FAULT_KILL_AFTER ?
	    "KILLAFTER" : strerror(err), path ? path : "");
	if (len <= 0)
		return;
	REAL(openat);
	REAL(write);
	REAL(close);
	if ((fd = real_openat(AT_FDCWD, logpath, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) < 0)
		return;
	(void)real_write(fd, line, (size_t)(len < (int)sizeof(line) ? len :
	    (int)sizeof(line) - 1));
	(void)real_close(fd);
}

/* SIGKILL cannot be caught: the process ends here, as with kill -9. */
static void
kill_now(void)
{
	(void)kill(getpid(), SIGKILL);
	for (;;)
		(void)pause();
}

/*
 * Should this call fail? path may be NULL (then fd names the file).
 * Returns the errno to fail with, 0, or FAULT_KILL / FAULT_KILL_AFTER.
 */
static int
should_fail(const char *call, int dirfd, const char *path, int fd)
{
	char	 resolved[512], link[64];
	int	 i, err = 0;

	if (fs.inside)
		return (0);
	fs.inside = 1;
	load_rules();
	resolved[0] = '\0';
	for (i = 0; i < fs.nrules && err == 0; i++) {
		struct rule	*r = &fs.rules[i];

		if (strcmp(r->call, call) != 0)
			continue;
		if (r->path[0] != '\0') {
			if (resolved[0] == '\0') {
				ssize_t	 n = -1;

				if (path != NULL && (path[0] == '/' ||
				    dirfd == AT_FDCWD)) {
					(void)snprintf(resolved, sizeof(resolved),
					    "%s", path);
					n = 0;
				} else {
					(void)snprintf(link, sizeof(link),
					    "/proc/self/fd/%d", path ? dirfd : fd);
					n = readlink(link, resolved,
					    sizeof(resolved) - 1);
					if (n >= 0) {
						resolved[n] = '\0';
						if (path != NULL)
							(void)snprintf(resolved + n,
							    sizeof(resolved) - (size_t)n,
							    "/%s", path);
					}
				}
				if (n < 0)
					continue;
			}
			if (strstr(resolved, r->path) == NULL)
				continue;
		}
		r->seen++;
		if (r->nth > 0) {
			if (r->seen == r->nth && !r->fired) {
				r->fired = 1;
				err = r->err;
			}
		} else if (r->prob > 0) {
			if (fs.seed == 0)
				fs.seed = (unsigned)getpid() ^ (unsigned)time(NULL);
			if ((double)rand_r(&fs.seed) / RAND_MAX < r->prob)
				err = r->err;
		} else {
			err = r->err;
		}
	}
	if (err)
		log_fault(call, resolved[0] ? resolved : path, err);
	fs.inside = 0;
	return (err);
}

#define FAIL_IF(call, dirfd, path, fd) do { \
	int _e = should_fail(call, dirfd, path, fd); \
	if (_e == FAULT_KILL) \
		kill_now(); \
	if (_e == FAULT_KILL_AFTER) \
		fs.kill_after = 1; \
	else if (_e) { \
		errno = _e; \
		return (-1); \
	} \
} while (0)

/* Make the real call; die after it if a KILLAFTER rule chose this call. */
#define AFTER(x) ({ \
	__typeof__(x) _r = (x); \
	if (fs.kill_after) \
		kill_now(); \
	_r; \
})

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t	 mode = 0;
	va_list	 ap;

	REAL(openat);
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	FAIL_IF("open", dirfd, path, -1);
	return (AFTER(real_openat(dirfd, path, flags, mode)));
}

int
open(const char *path, int flags, ...)
{
	mode_t	 mode = 0;
	va_list	 ap;

	REAL(openat);
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	FAIL_IF("open", AT_FDCWD, path, -1);
	return (AFTER(real_openat(AT_FDCWD, path, flags, mode)));
}

int
open64(const char *path, int flags, ...)
{
	mode_t	 mode = 0;
	va_list	 ap;

	REAL(openat);
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	FAIL_IF("open", AT_FDCWD, path, -1);
	return (AFTER(real_openat(AT_FDCWD, path, flags, mode)));
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	REAL(write);
	FAIL_IF("write", AT_FDCWD, NULL, fd);
	return (AFTER(real_write(fd, buf, len)));
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	FAIL_IF("write", AT_FDCWD, NULL, fd);
	return (AFTER(real_pwrite(fd, buf, len, off)));
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	FAIL_IF("write", AT_FDCWD, NULL, fd);
	return (AFTER(real_pwrite(fd, buf, len, off)));
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);
	FAIL_IF("write", AT_FDCWD, NULL, fd);
	return (AFTER(real_writev(fd, iov, n)));
}

int
fsync(int fd)
{
	REAL(fsync);
	FAIL_IF("fsync", AT_FDCWD, NULL, fd);
	return (AFTER(real_fsync(fd)));
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	FAIL_IF("fsync", AT_FDCWD, NULL, fd);
	return (AFTER(real_fdatasync(fd)));
}

int
syncfs(int fd)
{
	REAL(syncfs);
	FAIL_IF("syncfs", AT_FDCWD, NULL, fd);
	return (AFTER(real_syncfs(fd)));
}

int
renameat2(int ofd, const char *old, int nfd, const char *new,
    unsigned int flags)
{
	REAL(renameat2);
	FAIL_IF("rename", nfd, new, -1);
	return (AFTER(real_renameat2(ofd, old, nfd, new, flags)));
}

int
renameat(int ofd, const char *old, int nfd, const char *new)
{
	REAL(renameat2);
	FAIL_IF("rename", nfd, new, -1);
	return (AFTER(real_renameat2(ofd, old, nfd, new, 0)));
}

int
rename(const char *old, const char *new)
{
	REAL(renameat2);
	FAIL_IF("rename", AT_FDCWD, new, -1);
	return (AFTER(real_renameat2(AT_FDCWD, old, AT_FDCWD, new, 0)));
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat);
	FAIL_IF("unlink", dirfd, path, -1);
	return (AFTER(real_unlinkat(dirfd, path, flags)));
}

int
unlink(const char *path)
{
	REAL(unlinkat);
	FAIL_IF("unlink", AT_FDCWD, path, -1);
	return (AFTER(real_unlinkat(AT_FDCWD, path, 0)));
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	REAL(mkdirat);
	FAIL_IF("mkdir", dirfd, path, -1);
	return (AFTER(real_mkdirat(dirfd, path, mode)));
}

int
mkdir(const char *path, mode_t mode)
{
	REAL(mkdirat);
	FAIL_IF("mkdir", AT_FDCWD, path, -1);
	return (AFTER(real_mkdirat(AT_FDCWD, path, mode)));
}
