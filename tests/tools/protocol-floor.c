/*
 * NAME
 *	protocol-floor - the CPU that the design's own steps cost per message,
 *	with nothing else around them (benchmarks)
 * SYNOPSIS
 *	protocol-floor [-w] [-n messages] [-b batch] [-r runs]
 *	    [-s DBDIR [-t tmpdir]] DIR MESSAGE
 * DESCRIPTION
 *	What no holdscan built on design.md's batch commit protocol can spend
 *	less than (issue 18, "why it cannot go lower"). In DIR, on the file
 *	system under test, it makes hold/, claimed/, staging/ and incoming/,
 *	puts messages copies of MESSAGE into hold/ (mode 0700, as Postfix's
 *	ready files; not measured), and then, with the clock running, does
 *	for them only what the design requires, batch by batch:
 *
 *	    claim:   open, flock(LOCK_EX|LOCK_NB), fstat, rename into claimed/
 *	    scan:    the descriptor to a worker process over a SOCK_SEQPACKET
 *	             socketpair (wire_send, the daemon's own), which reads the
 *	             message whole and answers with a wire_result; the master
 *	             reads it too (it parses the envelope)
 *	    write:   a new file in staging/ (O_CREAT|O_EXCL, 0600), the
 *	             message's bytes, fchmod 0700
 *	    durable: one syncfs for the batch, one journal record of the
 *	             batch appended and fdatasync'ed (a plain file: Berkeley
 *	             DB costs more, so this stays a lower bound)
 *	    publish: rename (RENAME_NOREPLACE) into incoming/, fsync incoming/
 *	    finish:  unlink the originals, fsync claimed/, the journal record
 *	             dropped (an unsynced write), descriptors closed
 *
 *	No scanning, no parsing, no rewriting, no logging, no message log.
 *	With -s, the worker also scans each message it reads with libclamav,
 *	from memory, with the signatures of DBDIR and the engine and options
 *	that clamav-rawscan uses (temporary files in tmpdir, default $TMPDIR
 *	or /tmp), the engine loaded before the worker is forked, as the
 *	scanner parent does: the design's steps with the scan where the
 *	design puts it, in a process of its own between the master's steps,
 *	to set against clamav-rawscan's scans one after another in one
 *	process.
 *
 *	With -w it prints "ready" once the engine is loaded and DIR made,
 *	and waits for a line on its standard input before the first run, so
 *	that a caller can start other load (Postfix delivering) after the
 *	slow part.
 *
 *	The new files are removed between runs (Postfix would deliver and
 *	remove them, as it does without holdscan), not measured. It prints
 *	the CPU (user + system) of the master and its worker together per
 *	message, median over the runs, and each run's figure:
 *
 *	    floor: messages=2000 batch=64 runs=5 sigs=0 cpu_ms=0.083 runs_ms=...
 *
 *	The kernel's later write-back of the new files runs in its own
 *	threads and is not in the figure: one more reason it is a floor.
 *
 *	It must never touch anything outside DIR, and it measures nothing
 *	but the protocol's steps.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/wire.h"
#include "lib/rawengine.h"

#define RUNS_MAX	50
#define MESSAGE_MAX	(256UL * 1024 * 1024)	/* bytes of MESSAGE */

struct floor {
	const char	*dir;
	int		 hold, claimed, staging, incoming, journal;
	char		*data;		/* MESSAGE's bytes */
	size_t		 len;
	long		 n, batch;
	struct cl_engine *engine;	/* -s: the worker scans; or NULL */
};

static int
usage(void)
{
	(void)fprintf(stderr, "usage: protocol-floor [-w] [-n messages] "
	    "[-b batch] [-r runs] [-s DBDIR [-t tmpdir]] DIR MESSAGE\n");
	return (2);
}

static int
fail(const char *what)
{
	(void)fprintf(stderr, "protocol-floor: %s: %s\n", what,
	    strerror(errno));
	return (-1);
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		len -= (size_t)w;
	}
	return (0);
}

/* Read fd whole from offset 0 into buf[size]; -1 with errno. */
static int
read_whole(int fd, char *buf, size_t size)
{
	struct stat	 st;
	size_t		 got = 0;
	ssize_t		 r;

	if (fstat(fd, &st) < 0)
		return (-1);
	if ((size_t)st.st_size > size) {
		errno = EFBIG;
		return (-1);
	}
	while (got < (size_t)st.st_size) {
		r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return (-1);
		}
		got += (size_t)r;
	}
	return (0);
}

static int
open_dir(const char *name, int *fd_r)
{
	if (mkdir(name, 0700) < 0 && errno != EEXIST)
		return (fail(name));
	if ((*fd_r = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (fail(name));
	return (0);
}

/* The worker: a request in, the message read (and scanned), a result out. */
static void
worker(int sock, size_t len, struct cl_engine *engine)
{
	struct wire_scan	 req;
	struct wire_result	 res;
	enum wire_type		 type;
	const char		*verdict;
	size_t			 got;
	char			*buf;
	int			 fd, r;

	if ((buf = malloc(len + 1)) == NULL)
		_exit(1);
	memset(&res, 0, sizeof(res));
	while ((r = wire_recv(sock, &type, &req, sizeof(req), &got, &fd)) ==
	    1) {
		if (type != WIRE_SCAN || fd < 0 || read_whole(fd, buf, len) < 0 ||
		    close(fd) < 0)
			_exit(1);
		if (engine != NULL && rawengine_scan(engine, buf, len,
		    &verdict) < 0) {
			(void)fprintf(stderr, "protocol-floor: scan: %s\n",
			    verdict);
			_exit(1);
		}
		res.seq = req.seq;
		if (wire_send(sock, WIRE_RESULT, &res, sizeof(res), -1) < 0)
			_exit(1);
	}
	_exit(r == 0 ? 0 : 1);
}

static int
fill_hold(struct floor *f)
{
	char	 name[32];
	long	 i;
	int	 fd;

	for (i = 0; i < f->n; i++) {
		(void)snprintf(name, sizeof(name), "F%09ld", i);
		if ((fd = openat(f->hold, name, O_CREAT | O_EXCL | O_WRONLY |
		    O_CLOEXEC, 0600)) < 0 || write_all(fd, f->data, f->len) < 0 ||
		    fchmod(fd, 0700) < 0 || close(fd) < 0)
			return (fail("hold file"));
	}
	return (syncfs(f->hold) < 0 ? fail("syncfs") : 0);
}

static int
empty_incoming(struct floor *f)
{
	char	 name[32];
	long	 i;

	for (i = 0; i < f->n; i++) {
		(void)snprintf(name, sizeof(name), "N%09ld", i);
		if (unlinkat(f->incoming, name, 0) < 0)
			return (fail("incoming file"));
	}
	return (0);
}

/* One batch of messages first..first+count-1 through the protocol. */
static int
one_batch(struct floor *f, int sock, char *buf, long first, long count,
    int *orig, int *fresh)
{
	struct wire_scan	 req;
	struct wire_result	 res;
	enum wire_type		 type;
	struct stat		 st;
	char			 name[32], nname[32], rec[64];
	size_t			 got;
	long			 i;
	int			 fd;

	memset(&req, 0, sizeof(req));
	for (i = 0; i < count; i++) {
		(void)snprintf(name, sizeof(name), "F%09ld", first + i);
		if ((orig[i] = openat(f->hold, name, O_RDONLY | O_CLOEXEC)) < 0 ||
		    flock(orig[i], LOCK_EX | LOCK_NB) < 0 ||
		    fstat(orig[i], &st) < 0 ||
		    renameat(f->hold, name, f->claimed, name) < 0)
			return (fail("claim"));
		req.seq = (uint64_t)(first + i);
		if (wire_send(sock, WIRE_SCAN, &req, WIRE_SCAN_MIN_SIZE,
		    orig[i]) < 0 ||
		    wire_recv(sock, &type, &res, sizeof(res), &got, &fd) != 1 ||
		    type != WIRE_RESULT || res.seq != req.seq)
			return (fail("worker"));
		if (fd >= 0)
			(void)close(fd);
		if (read_whole(orig[i], buf, f->len) < 0)
			return (fail("read"));
		(void)snprintf(nname, sizeof(nname), "N%09ld", first + i);
		if ((fresh[i] = openat(f->staging, nname, O_CREAT | O_EXCL |
		    O_WRONLY | O_CLOEXEC, 0600)) < 0 ||
		    write_all(fresh[i], buf, f->len) < 0 ||
		    fchmod(fresh[i], 0700) < 0)
			return (fail("staging file"));
	}
	if (syncfs(f->staging) < 0)
		return (fail("syncfs"));
	memset(rec, 'j', sizeof(rec));
	for (i = 0; i < count; i++)
		if (write_all(f->journal, rec, sizeof(rec)) < 0)
			return (fail("journal"));
	if (fdatasync(f->journal) < 0)
		return (fail("journal"));
	for (i = 0; i < count; i++) {
		(void)snprintf(nname, sizeof(nname), "N%09ld", first + i);
		if (renameat2(f->staging, nname, f->incoming, nname,
		    RENAME_NOREPLACE) < 0)
			return (fail("publish"));
	}
	if (fsync(f->incoming) < 0)
		return (fail("fsync incoming"));
	for (i = 0; i < count; i++) {
		(void)snprintf(name, sizeof(name), "F%09ld", first + i);
		if (unlinkat(f->claimed, name, 0) < 0 || close(orig[i]) < 0 ||
		    close(fresh[i]) < 0)
			return (fail("finish"));
	}
	if (fsync(f->claimed) < 0 ||
	    write_all(f->journal, rec, sizeof(rec)) < 0)
		return (fail("finish"));
	return (0);
}

static double
self_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return (0);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static double
children_ms(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) < 0)
		return (0);
	return ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
}

/* One run; the CPU ms per message in *ms_r. */
static int
one_run(struct floor *f, double *ms_r)
{
	double	 t0, c0;
	char	*buf;
	int	*orig, *fresh, sv[2], status, rc = 0;
	pid_t	 pid;
	long	 i;

	if (fill_hold(f) < 0)
		return (-1);
	orig = calloc((size_t)f->batch, sizeof(*orig));
	fresh = calloc((size_t)f->batch, sizeof(*fresh));
	buf = malloc(f->len + 1);
	if (orig == NULL || fresh == NULL || buf == NULL ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		free(orig);
		free(fresh);
		free(buf);
		return (fail("setup"));
	}
	c0 = children_ms();
	t0 = self_ms();
	if ((pid = fork()) < 0) {
		rc = fail("fork");
	} else if (pid == 0) {
		(void)close(sv[0]);
		worker(sv[1], f->len, f->engine);
	} else {
		(void)close(sv[1]);
		for (i = 0; i < f->n && rc == 0; i += f->batch)
			rc = one_batch(f, sv[0], buf, i, f->n - i < f->batch ?
			    f->n - i : f->batch, orig, fresh);
		(void)close(sv[0]);
		if (waitpid(pid, &status, 0) < 0)
			rc = fail("waitpid");
		else if (rc == 0 && (!WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)) {
			(void)fprintf(stderr, "protocol-floor: the worker "
			    "failed\n");
			rc = -1;
		}
		*ms_r = (self_ms() - t0 + children_ms() - c0) / (double)f->n;
	}
	free(orig);
	free(fresh);
	free(buf);
	if (rc == 0 && (empty_incoming(f) < 0 || ftruncate(f->journal, 0) < 0))
		rc = -1;
	return (rc);
}

/*
 * In f->dir: the queue's directories, then (after a line on stdin if
 * wait) runs runs, each's figure in ms.
 */
static int
measure(struct floor *f, long runs, bool wait, double *ms)
{
	char	 line[64];
	long	 i;

	if (chdir(f->dir) < 0)
		return (fail(f->dir));
	if (open_dir("hold", &f->hold) < 0 ||
	    open_dir("claimed", &f->claimed) < 0 ||
	    open_dir("staging", &f->staging) < 0 ||
	    open_dir("incoming", &f->incoming) < 0)
		return (-1);
	if ((f->journal = open("journal", O_CREAT | O_WRONLY | O_APPEND |
	    O_CLOEXEC, 0600)) < 0)
		return (fail("journal"));
	if (wait && (printf("ready\n") < 0 || fflush(stdout) == EOF))
		return (fail("stdout"));
	if (wait && fgets(line, sizeof(line), stdin) == NULL) {
		(void)fprintf(stderr, "protocol-floor: no go on stdin\n");
		return (-1);
	}
	for (i = 0; i < runs; i++)
		if (one_run(f, &ms[i]) < 0)
			return (-1);
	return (0);
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static int
parse_long(const char *s, long lo, long hi, long *v_r)
{
	char	*end;

	errno = 0;
	*v_r = strtol(s, &end, 10);
	return (errno != 0 || *end != '\0' || end == s || *v_r < lo ||
	    *v_r > hi ? -1 : 0);
}

int
main(int argc, char **argv)
{
	struct floor	 f;
	struct buf	 msg = BUF_INIT;
	const char	*dbdir = NULL, *tmpdir = NULL, *why;
	double		 ms[RUNS_MAX], sorted[RUNS_MAX];
	unsigned int	 sigs = 0;
	long		 runs = 5, i;
	bool		 wait = false;
	int		 ch, rc;

	memset(&f, 0, sizeof(f));
	f.n = 2000;
	f.batch = 64;
	while ((ch = getopt(argc, argv, "b:n:r:s:t:w")) != -1) {
		switch (ch) {
		case 'b':
			if (parse_long(optarg, 1, 4096, &f.batch) < 0)
				return (usage());
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000, &f.n) < 0)
				return (usage());
			break;
		case 'r':
			if (parse_long(optarg, 1, RUNS_MAX, &runs) < 0)
				return (usage());
			break;
		case 's':
			dbdir = optarg;
			break;
		case 't':
			tmpdir = optarg;
			break;
		case 'w':
			wait = true;
			break;
		default:
			return (usage());
		}
	}
	if (argc - optind != 2 || (tmpdir != NULL && dbdir == NULL))
		return (usage());
	f.dir = argv[optind];
	if (buf_read_file(&msg, argv[optind + 1], MESSAGE_MAX) < 0) {
		(void)fail(argv[optind + 1]);
		buf_free(&msg);
		return (1);
	}
	f.data = buf_steal(&msg, &f.len);
	if (dbdir != NULL && (f.engine = rawengine_new(dbdir, tmpdir, &sigs,
	    &why)) == NULL) {
		(void)fprintf(stderr, "protocol-floor: %s: %s\n", dbdir, why);
		free(f.data);
		return (1);
	}
	rc = measure(&f, runs, wait, ms);
	free(f.data);
	rawengine_free(&f.engine);
	if (rc < 0)
		return (1);
	memcpy(sorted, ms, sizeof(ms[0]) * (size_t)runs);
	qsort(sorted, (size_t)runs, sizeof(sorted[0]), cmp_double);
	(void)printf("floor: messages=%ld batch=%ld runs=%ld sigs=%u "
	    "cpu_ms=%.4f runs_ms=", f.n, f.batch, runs, sigs,
	    runs % 2 ? sorted[runs / 2] :
	    (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2);
	for (i = 0; i < runs; i++)
		(void)printf("%s%.4f", i ? "," : "", ms[i]);
	(void)printf("\n");
	return (fflush(stdout) == EOF ? 1 : 0);
}
