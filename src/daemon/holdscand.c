/*
 * NAME
 *	holdscand - scan Postfix's hold queue and release what passes (8)
 * SYNOPSIS
 *	holdscand [-fv] [-c config_file]
 *	holdscand -n [-c config_file]
 * DESCRIPTION
 *	The master process. Started as root, it has the scanner program
 *	check the plugin sections of its configuration (it loads no plugin
 *	itself), forks the scanner supervisor (which keeps root's uid with
 *	CAP_SETUID and CAP_SETGID only, and starts the scanner parents: the
 *	scanner program, holdscan-scanner, as worker_user, which forks the
 *	scanner workers), drops to Postfix's mail_owner, finishes
 *	whatever a previous run left in progress (commit.c recovery), and
 *	then runs one event loop:
 *
 *	    watch -> claim -> batch -> workers scan -> commit
 *
 *	It is the only holdscan process that touches queue directories,
 *	the journal and the quarantine. Everything it knows lives in the
 *	one context struct below.
 *
 *	Mail set aside because it could not be scanned (aside.c) is offered
 *	to the same claim path again: once for each new engine generation
 *	(new signatures, SIGHUP; after a start only if the signatures or
 *	the configuration changed: the epochs of aside.h), and when
 *	set_aside_lifetime is over, to be decided without a scan
 *	(quarantine, bounce: quarantine and a notice to the sender, or
 *	deliver-tagged) and committed by the same commit_batch() as
 *	everything else. A bounce's notice is owed in aside.db from before
 *	that commit until sendmail has handed it to Postfix, so a crash
 *	delays it but cannot lose it.
 *
 *	SIGTERM: stop claiming, finish the messages already claimed, exit.
 *	SIGHUP: re-read the configuration; the scanner parent checks its
 *	plugin sections, and it is taken (and the scanners reload) only when
 *	they are right, else refused with the errors in the log.
 *	Postfix's queue hashing and queue id style are followed when main.cf
 *	changes (follow_layout()); no signal is needed.
 *	A failed batch commit (disk full, I/O error) returns its messages
 *	to hold and backs off, doubling the pause up to a minute, until a
 *	commit succeeds again. A dead scanner parent is replaced the same
 *	way (worker.c); meanwhile no mail is claimed, and the messages it
 *	was scanning are scanned again (scanner_lost()).
 *
 *	This program must never deliver a message twice, never lose one,
 *	and never exit with a message anywhere but in hold, in incoming (or
 *	deferred/active, Postfix's), in the quarantine, or accounted for in
 *	the journal.
 * DIAGNOSTICS
 *	Problems go to syslog (mail facility) or, with -f, to stderr.
 *	Exit status: 0 after SIGTERM, sysexits(3) codes otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "state/aside.h"
#include "daemon/batch.h"
#include "commit/claim.h"
#include "commit/commit.h"
#include "common/config.h"
#include "daemon/instance.h"
#include "state/journal.h"
#include "common/log.h"
#include "common/metrics.h"
#include "daemon/notify.h"
#include "common/policy.h"
#include "quarantine/quarantine.h"
#include "common/queue.h"
#include "common/qfile.h"
#include "common/scanprog.h"
#include "state/statedb.h"
#include "common/strmap.h"
#include "daemon/watch.h"
#include "common/wire.h"
#include "daemon/worker.h"
#include "common/xalloc.h"

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		60000
#define BACKOFF_REMIND_MS	300000
#define LAYOUT_CHECK_MS		1000	/* main.cf looked at, when idle */
#define LAYOUT_RETRY_MS		10000	/* after postconf failed */
#define LOCKED_RETRY_MS		1000
#define METRICS_EVERY_MS	1000
#define POLL_MAX_MS		1000
#define WATCHDOG_SECONDS	300	/* one loop iteration may take this long */

struct holdscand {
	const char	*config_path;
	bool		 foreground;
	int		 verbose;
	struct hs_config *conf;
	struct queue_layout *ql;
	struct policy	 policy;
	char		*unscanned_header;	/* for delivered unscanned mail */
	int		 qdirfd;
	int		 sigfd;
	int		 pidfd;
	int		 instance_fd;	/* our lock on the queue (instance.c) */
	int		 ready_fd;	/* the starting process waits on it, or -1 */
	struct statedb	*sdb;
	struct journal	*journal;
	struct aside	*aside;
	struct quarantine *quarantine;
	struct notify	*notify;
	struct commit_ctx commit;
	struct watch	*watch;
	struct pool	 pool;
	struct supervisor_setup setup;	/* strings are ours, freed at exit */
	struct hs_config *pending;	/* re-read, its plugin sections being
					   checked by the scanner parent */
	bool		 reload_again;	/* SIGHUP while they were */
	struct msg_list	 scanq;		/* waiting for a worker */
	struct batch	*open;		/* accepting messages */
	struct batch_list closed;	/* full, waiting for scans */
	uint64_t	 batch_seq;
	size_t		 in_flight;
	size_t		 suspects;	/* undecided messages with m->suspect */
	size_t		 aside_count;
	/* the set-aside life cycle */
	struct strmap	 aside_flight;	/* id -> ASIDE_FLIGHT_*: claimed again */
	struct strmap	 aside_owed;	/* id -> 1: the sender's notice is queued */
	char		 aside_epoch[ASIDE_EPOCH_SIZE];	/* "" until the scanners are ready */
	uint32_t	 aside_generation;	/* the generation aside_epoch names */
	long long	 aside_boot_us;	/* names this run in epochs */
	long		 next_aside_ms;
	bool		 stopping;
	long		 backoff_until_ms;
	long		 backoff_ms;
	unsigned long	 backoff_count;	/* failures since the last success */
	long		 backoff_warned_ms;
	char		 backoff_why[256];
	long		 next_rescan_ms;
	long		 next_metrics_ms;
	bool		 recovery_needed;
	/*
	 * Recovery retries what failed (an unlink, an fsync, itself): when
	 * it works, so does the disk. After a reopen of the state
	 * environment it proves nothing: only a commit that works does.
	 */
	bool		 recovery_retries;
	bool		 state_broken;	/* Berkeley DB could not be reopened yet */
	bool		 state_starting;	/* start_state() has not succeeded yet */
	struct metrics	 metrics;
	struct {			/* follow_layout() */
		long	 next_ms;	/* look at main.cf again */
		long	 retry_ms;	/* postconf failed: not before this */
		bool	 failing;
		char	 desc[512];	/* d->ql, as logged */
	}		 layout;
};

/* Why a set-aside message is claimed again (values of aside_flight). */
#define ASIDE_FLIGHT_RESCAN	1	/* the scanners changed: scan it again */
#define ASIDE_FLIGHT_EXPIRE	2	/* lifetime over: quarantine or deliver-tagged */
#define ASIDE_FLIGHT_BOUNCE	3	/* lifetime over: quarantine and bounce */
/* At most this many set-aside messages are claimed again at a time. */
#define ASIDE_FLIGHT_MAX	20

static void	backoff(struct holdscand *, const char *);
static void	backoff_clear(struct holdscand *);
static void	reopen_state(struct holdscand *);
static void	start_state(struct holdscand *);
static void	close_open_batch(struct holdscand *);

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static double
now_real(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
usage(void)
{
	(void)fprintf(stderr, "usage: holdscand [-fv] [-c config_file]\n"
	    "       holdscand -n [-c config_file]\n");
	exit(EX_USAGE);
}

static void
note_error(struct holdscand *d, const char *text)
{
	(void)snprintf(d->metrics.last_error, sizeof(d->metrics.last_error), "%s",
	    text);
	d->metrics.last_error_time = time(NULL);
}

/* Plugin sections are kept unchecked: the scanner program checks them. */
static struct hs_config *
load_config(const char *path, char **errors_r)
{
	struct hs_config *conf = NULL;

	if (config_load(path, NULL, NULL, &conf, errors_r) < 0)
		conf = NULL;
	return (conf);
}

/* How to run the scanner program for a check of conf. */
static void
scanprog_of(struct scanprog *sp, const struct hs_config *conf,
    const char *path)
{
	memset(sp, 0, sizeof(*sp));
	sp->program = conf->scanner_program;
	sp->config_path = path;
	sp->config_text = conf->text;
	sp->ident = conf->syslog_name;
}

/*
 * The plugin sections are the scanner program's to check: run it, as
 * worker_user, before anything starts, so that a bad plugin option stops
 * holdscand here with its file and line, as any configuration error does.
 */
static void
check_plugin_sections(struct holdscand *d)
{
	struct scanprog	 sp;
	char		*out = NULL;

	if (!scanprog_needed(d->conf))
		return;
	scanprog_of(&sp, d->conf, d->config_path);
	sp.uid = d->setup.uid;
	sp.gid = d->setup.gid;
	(void)snprintf(sp.user, sizeof(sp.user), "%s", d->setup.user);
	switch (scanprog_check(&sp, false, &out)) {
	case 0:
		break;
	case EX_CONFIG:
		(void)fprintf(stderr, "%s\n", out);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    d->config_path);
	default:
		hs_fatalx(EX_CONFIG, "cannot check the plugin sections of %s "
		    "with %s: %s", d->config_path, sp.program, out);
	}
	free(out);
}

/*
 * holdscand -n: the configuration as postconf -n shows main.cf's, after
 * every error it has is reported (the plugin sections' by the scanner
 * program, as worker_user when we are root).
 */
static int
print_config(const char *path)
{
	struct queue_layout *ql = NULL;
	struct hs_config *conf = NULL;
	struct scanprog	 sp;
	char		*errors = NULL, *out = NULL, *why = NULL;
	int		 loaded;

	loaded = config_load_anyway(path, &conf, &errors);
	if (conf != NULL && scanprog_needed(conf)) {
		uid_t	 owner = (uid_t)-1;

		scanprog_of(&sp, conf, path);
		if (geteuid() == 0 && queue_layout_load(
		    conf->postfix_config_directory, NULL, &ql, &why) == 0)
			owner = ql->owner_uid;
		free(why);
		why = NULL;
		queue_layout_free(&ql);
		if (scanprog_user(&sp, conf->worker_user, owner, &why) < 0) {
			hs_warnx("plugin sections not checked: %s", why);
			free(why);
		} else {
			switch (scanprog_check(&sp, false, &out)) {
			case 0:
				break;
			case EX_CONFIG:		/* every error, in file order */
				free(errors);
				errors = out;
				out = NULL;
				loaded = -1;
				break;
			default:
				hs_warnx("plugin sections not checked: %s", out);
				break;
			}
			free(out);
		}
	}
	if (loaded < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    path);
	}
	config_print(conf, stdout, true);
	config_free(&conf);
	return (0);
}

/* Create dir (root only) owned by the mail owner, mode 0700, if missing; check it. */
static void
ensure_dir(struct holdscand *d, const char *dir, const char *what)
{
	struct stat	 st;

	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || geteuid() != 0)
			hs_fatal(EX_CONFIG, "%s %s", what, dir);
		if (mkdir(dir, 0700) < 0 ||
		    chown(dir, d->ql->owner_uid, d->ql->owner_gid) < 0)
			hs_fatal(EX_CANTCREAT, "create %s %s", what, dir);
		hs_info("created %s %s", what, dir);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		hs_fatalx(EX_CONFIG, "%s %s: not a directory", what, dir);
	if (geteuid() == 0 && st.st_uid != d->ql->owner_uid)
		hs_fatalx(EX_CONFIG, "%s %s is owned by uid %lu, not by %s; fix "
		    "with: chown %s %s", what, dir, (unsigned long)st.st_uid,
		    d->ql->mail_owner, d->ql->mail_owner, dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		hs_fatalx(EX_CONFIG, "%s %s is writable by group or others; fix "
		    "with: chmod go-w %s", what, dir, dir);
}

/*
 * holdscan's directory inside queue_directory: the queue directory itself
 * is root's, so this must happen before privileges are dropped.
 */
static void
ensure_queue_subdirs(struct holdscand *d)
{
	char	 rel[QUEUE_PATH_SIZE];
	int	 fd;

	if ((fd = open(d->ql->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "queue_directory %s", d->ql->queue_dir);
	(void)snprintf(rel, sizeof(rel), "%s/claimed",
	    d->conf->holdscan_queue_subdir);
	if (queue_mkdirs(d->ql, fd, rel) < 0)
		hs_fatal(EX_CANTCREAT, "%s/%s", d->ql->queue_dir, rel);
	(void)snprintf(rel, sizeof(rel), "%s/staging",
	    d->conf->holdscan_queue_subdir);
	if (queue_mkdirs(d->ql, fd, rel) < 0)
		hs_fatal(EX_CANTCREAT, "%s/%s", d->ql->queue_dir, rel);
	(void)snprintf(rel, sizeof(rel), "%s/intent",
	    d->conf->holdscan_queue_subdir);
	if (queue_mkdirs(d->ql, fd, rel) < 0)
		hs_fatal(EX_CANTCREAT, "%s/%s", d->ql->queue_dir, rel);
	/* Queue files move only by rename: everything must be on hold's file system. */
	{
		const char	*sub[] = { "claimed", "staging", "intent", NULL };
		struct stat	 hold, st;
		size_t		 i;

		if (fstatat(fd, QUEUE_HOLD, &hold, 0) < 0)
			hs_fatal(EX_CONFIG, "%s/%s", d->ql->queue_dir, QUEUE_HOLD);
		for (i = 0; sub[i] != NULL; i++) {
			(void)snprintf(rel, sizeof(rel), "%s/%s",
			    d->conf->holdscan_queue_subdir, sub[i]);
			if (fstatat(fd, rel, &st, 0) < 0)
				hs_fatal(EX_CONFIG, "%s/%s", d->ql->queue_dir, rel);
			if (st.st_dev != hold.st_dev)
				hs_fatalx(EX_CONFIG, "%s/%s is not on the file system "
				    "of %s/%s; queue files can only move by rename: "
				    "make it a plain directory inside queue_directory",
				    d->ql->queue_dir, rel, d->ql->queue_dir,
				    QUEUE_HOLD);
			/* Only the mail owner may put files where we take them from. */
			if (geteuid() == 0 && st.st_uid != d->ql->owner_uid)
				hs_fatalx(EX_CONFIG, "%s/%s is owned by uid %lu, not "
				    "by %s; fix with: chown %s %s/%s",
				    d->ql->queue_dir, rel, (unsigned long)st.st_uid,
				    d->ql->mail_owner, d->ql->mail_owner,
				    d->ql->queue_dir, rel);
			if (st.st_mode & (S_IWGRP | S_IWOTH))
				hs_fatalx(EX_CONFIG, "%s/%s is writable by group or "
				    "others; fix with: chmod 0700 %s/%s",
				    d->ql->queue_dir, rel, d->ql->queue_dir, rel);
		}
	}
	(void)close(fd);
}

/* The configuration file must not be changeable by anyone but root. */
static void
check_config_file(const char *path)
{
	struct stat	 st;

	if (stat(path, &st) < 0)
		hs_fatal(EX_CONFIG, "%s", path);
	if (geteuid() == 0 && st.st_uid != 0)
		hs_fatalx(EX_CONFIG, "%s is owned by uid %lu, not root; fix with: "
		    "chown root %s", path, (unsigned long)st.st_uid, path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		hs_fatalx(EX_CONFIG, "%s is writable by group or others; fix "
		    "with: chmod go-w %s", path, path);
}

static void
write_pidfile(struct holdscand *d)
{
	char	 buf[32];
	int	 n;

	d->pidfd = open(d->conf->pid_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->pidfd < 0)
		hs_fatal(EX_CANTCREAT, "pid file %s", d->conf->pid_file);
	if (flock(d->pidfd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t	 r = read(d->pidfd, buf, sizeof(buf) - 1);

		buf[r > 0 ? r : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		hs_fatalx(EX_TEMPFAIL, "holdscand is already running (pid %s, %s)",
		    buf[0] ? buf : "?", d->conf->pid_file);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(d->pidfd, 0) < 0 || pwrite(d->pidfd, buf, (size_t)n, 0) != n)
		hs_fatal(EX_IOERR, "write pid file %s", d->conf->pid_file);
}

/*
 * Detach. The parent stays until the daemon is ready (it writes a byte
 * to the pipe whose write end is returned) or has died, so that whoever
 * started it (an init script, systemd's Type=forking) learns whether it
 * started, and finds the pid file in place when the parent exits.
 */
static int
daemonize(void)
{
	pid_t	 pid;
	ssize_t	 r;
	char	 c;
	int	 fd, pfd[2], status;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		hs_fatal(EX_OSERR, "pipe");
	if ((pid = fork()) < 0)
		hs_fatal(EX_OSERR, "fork");
	if (pid > 0) {
		(void)close(pfd[1]);
		while ((r = read(pfd[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (r == 1)
			_exit(0);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		(void)fprintf(stderr, "holdscand: fatal: exited while starting; "
		    "its reason is in the mail log\n");
		_exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
		    WEXITSTATUS(status) : EX_SOFTWARE);
	}
	(void)close(pfd[0]);
	if (setsid() < 0)
		hs_fatal(EX_OSERR, "setsid");
	if (chdir("/") < 0)
		hs_fatal(EX_OSERR, "chdir /");
	if ((fd = open("/dev/null", O_RDWR)) < 0)
		hs_fatal(EX_OSERR, "/dev/null");
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		(void)close(fd);
	return (pfd[1]);
}

/*
 * scanner_temp_directory, the base of the scanners' private temporary
 * directories (scratch.c): made if missing, mode 0700, worker_user's,
 * in a directory nobody but root (or we) may write, so that no other
 * user can take its name or put anything in it. Never through a
 * symbolic link. Said in the log when it shares its file system with
 * /tmp or /dev/shm, which anyone can fill.
 */
static void
ensure_scanner_tempdir(struct holdscand *d)
{
	const char	*dir = d->conf->scanner_temp_directory;
	const char	*shared[] = { "/tmp", "/dev/shm" };
	struct stat	 st, pst;
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();
	char		*parent, *slash;
	size_t		 i;
	int		 fd;

	if (d->setup.uid != (uid_t)-1) {
		uid = d->setup.uid;
		gid = d->setup.gid;
	}
	parent = xstrdup(dir);
	slash = strrchr(parent, '/');
	slash[slash == parent ? 1 : 0] = '\0';
	if (stat(parent, &pst) < 0)
		hs_fatal(EX_CONFIG, "scanner_temp_directory %s: %s", dir, parent);
	if (!S_ISDIR(pst.st_mode) || (pst.st_mode & (S_IWGRP | S_IWOTH)) ||
	    (pst.st_uid != 0 && pst.st_uid != geteuid()))
		hs_fatalx(EX_CONFIG, "scanner_temp_directory %s: %s may be "
		    "written by others (uid %lu, mode %04o), who could fill it "
		    "or take the name; use a directory in one only root may "
		    "write, such as /run", dir, parent,
		    (unsigned long)pst.st_uid, (unsigned)(pst.st_mode & 07777));
	free(parent);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		hs_fatal(EX_CANTCREAT, "create scanner_temp_directory %s", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "scanner_temp_directory %s (must be a "
		    "directory, not a symbolic link)", dir);
	if (fstat(fd, &st) < 0)
		hs_fatal(EX_OSERR, "scanner_temp_directory %s", dir);
	if (st.st_uid != uid && st.st_uid != 0)
		hs_fatalx(EX_CONFIG, "scanner_temp_directory %s is owned by uid "
		    "%lu, not by worker_user %s; fix with: rm -r %s", dir,
		    (unsigned long)st.st_uid, d->setup.user, dir);
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    fchown(fd, uid, gid) < 0)
		hs_fatal(EX_NOPERM, "scanner_temp_directory %s: chown", dir);
	if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		hs_fatal(EX_NOPERM, "scanner_temp_directory %s: chmod", dir);
	if (close(fd) < 0)
		hs_fatal(EX_OSERR, "scanner_temp_directory %s", dir);
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		struct stat	 sst;

		if (stat(shared[i], &sst) == 0 && sst.st_dev == st.st_dev &&
		    (sst.st_mode & S_IWOTH))
			hs_info("scanner_temp_directory %s is on the file "
			    "system of %s, which anyone may fill; scans then "
			    "fail (a tmpfs of its own, such as /run, is better)",
			    dir, shared[i]);
	}
}

/* Postfix's chroot_uid() order: groups, gid, uid; then prove root is gone. */
static void
drop_to_mail_owner(struct holdscand *d)
{
	gid_t	 gid = d->ql->owner_gid;

	if (geteuid() != 0)
		return;
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 ||
	    setuid(d->ql->owner_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot drop privileges to %s",
		    d->ql->mail_owner);
	if (setuid(0) == 0)
		hs_fatalx(EX_SOFTWARE, "could regain root after dropping it");
}

static void
resolve_worker_user(struct holdscand *d)
{
	struct passwd	*pw;

	/* The scanner parents' command line, for holdscand's whole life. */
	d->setup.program = xstrdup(d->conf->scanner_program);
	d->setup.config_path = d->config_path;
	d->setup.plugins = xstrdup(d->conf->scanners_text);
	d->setup.log_ident = xstrdup(d->conf->syslog_name);
	d->setup.log_stderr = d->foreground;
	d->setup.log_facility = config_syslog_facility(d->conf);
	d->setup.verbose = d->verbose || d->conf->verbose;
	if (geteuid() != 0) {
		d->setup.uid = (uid_t)-1;
		d->setup.user = "(unchanged)";
		hs_warnx("not started as root: master and workers keep uid %lu",
		    (unsigned long)geteuid());
		return;
	}
	errno = 0;
	if ((pw = getpwnam(d->conf->worker_user)) == NULL)
		hs_fatalx(EX_NOUSER, "worker_user %s: %s; create it with: adduser "
		    "--system --group --no-create-home %s", d->conf->worker_user,
		    errno ? strerror(errno) : "no such user",
		    d->conf->worker_user);
	if (pw->pw_uid == 0 || pw->pw_uid == d->ql->owner_uid)
		hs_fatalx(EX_CONFIG, "worker_user %s must be an unprivileged user "
		    "of its own (not root, not the mail owner %s)",
		    d->conf->worker_user, d->ql->mail_owner);
	d->setup.uid = pw->pw_uid;
	d->setup.gid = pw->pw_gid;
	d->setup.user = d->conf->worker_user;
}

static int
open_state_dbs(struct holdscand *d, char **error_r)
{
	if (journal_open(d->sdb, &d->journal, error_r) < 0 ||
	    aside_open(d->sdb, &d->aside, error_r) < 0 ||
	    quarantine_open(d->conf, d->sdb, d->ql->owner_uid, d->ql->owner_gid,
	    &d->quarantine, error_r) < 0) {
		int	 err = errno;	/* for statedb_retryable() */

		quarantine_close(&d->quarantine);
		aside_close(&d->aside);
		journal_close(&d->journal);
		errno = err;
		return (-1);
	}
	return (0);
}

/* The Berkeley DB side: environment, journal, set-aside list, quarantine. */
static int
open_state_db(struct holdscand *d, char **error_r)
{
	char	*error = NULL;

	if (statedb_open(d->conf->state_directory, &d->sdb, error_r) < 0)
		return (-1);
	if (d->sdb->logs_lost) {
		/*
		 * The log files were removed (by hand, or a disk that lost
		 * them): the journal cannot be trusted without them. Put it
		 * aside; the intent records in the queue say what an
		 * interrupted batch did (commit.c).
		 */
		hs_warnx("the log files of the state environment %s are gone: "
		    "the journal cannot be trusted without them; it is moved "
		    "aside and interrupted batches are finished from the intent "
		    "records; see RECOVERY in holdscand(8)",
		    d->conf->state_directory);
		if (statedb_forget_log(d->sdb, JOURNAL_DB_NAME, &error) < 0) {
			int	 err = errno;

			*error_r = error;
			statedb_close(&d->sdb);
			errno = err;
			return (-1);
		}
	}
	if (open_state_dbs(d, &error) < 0) {
		int	 err = errno;	/* for statedb_retryable() */

		*error_r = error;
		statedb_close(&d->sdb);
		errno = err;
		return (-1);
	}
	d->commit.journal = d->journal;
	d->commit.aside = d->aside;
	d->commit.quarantine = d->quarantine;
	return (0);
}

static void
close_state_db(struct holdscand *d)
{
	quarantine_close(&d->quarantine);
	aside_close(&d->aside);
	journal_close(&d->journal);
	statedb_close(&d->sdb);
	d->commit.journal = NULL;
	d->commit.aside = NULL;
	d->commit.quarantine = NULL;
}

/*
 * Berkeley DB panicked (a log write failed): close everything and open it
 * again, which runs recovery. Until that works no message is claimed; the
 * main loop retries at each end of the backoff pause.
 */
static void
reopen_state(struct holdscand *d)
{
	char	*error = NULL;

	if (d->state_starting) {
		start_state(d);
		return;
	}
	close_state_db(d);
	if (open_state_db(d, &error) < 0) {
		d->state_broken = true;
		backoff(d, error);
		free(error);
		return;
	}
	d->state_broken = false;
	/* While commits keep failing (a full disk), once is enough. */
	if (d->backoff_count <= 1)
		hs_info("state environment %s reopened and recovered",
		    d->conf->state_directory);
	else
		hs_debug("state environment %s reopened and recovered",
		    d->conf->state_directory);
	d->recovery_needed = true;
}

static void
check_report(void *arg, enum quarantine_finding kind, const char *line)
{
	(void)arg;
	if (kind == QCHECK_PROBLEM)
		hs_warnx("quarantine check: %s", line);
	else
		hs_info("quarantine check: %s", line);
}

/*
 * A holdscan tool that was killed (or crashed) with the environment open
 * makes the next opener run recovery, and our handles then fail with
 * DB_RUNRECOVERY. Everything committed is still there: open it all
 * again, and finish whatever an interrupted batch left in the journal.
 */
static bool
reopen_if_recovered(struct holdscand *d)
{
	if (d->state_broken || d->sdb == NULL || !statedb_panicked(d->sdb))
		return (false);
	hs_warnx("state environment %s was recovered by another process (one "
	    "died with it open); opening it again", d->conf->state_directory);
	reopen_state(d);
	return (!d->state_broken);
}

/*
 * One holdscand per queue: before anything in holdscan's queue directory
 * is touched.
 */
static void
lock_instance(struct holdscand *d)
{
	char		*error = NULL;

	if (instance_lock(d->qdirfd, d->ql->queue_dir, &d->instance_fd,
	    &error) < 0)
		hs_fatalx(errno == EWOULDBLOCK ? EX_TEMPFAIL : EX_UNAVAILABLE,
		    "%s", error);
}

/*
 * A state directory that belongs to this queue (instance.c): before the
 * state environment is opened. Another queue's is fatal; a failure to
 * write the binding (a full state file system) is the caller's to retry.
 */
static int
bind_state(struct holdscand *d, char **error_r)
{
	enum instance_binding b = BINDING_OK;

	if (instance_bind(d->qdirfd, d->conf->holdscan_queue_subdir,
	    d->ql->queue_dir, d->conf->state_directory, d->ql->owner_uid,
	    d->ql->owner_gid, &b, error_r) < 0) {
		int	 err = errno;
		char	*text;

		if (b == BINDING_FOREIGN)
			hs_fatalx(EX_CONFIG, "%s", *error_r);
		text = statedb_error_text(d->conf->state_directory, *error_r, err);
		free(*error_r);
		*error_r = text;
		errno = err;
		return (-1);
	}
	switch (b) {
	case BINDING_NEW:
		hs_info("state directory %s now belongs to the queue %s",
		    d->conf->state_directory, d->ql->queue_dir);
		break;
	case BINDING_STATE_LOST:
		hs_warnx("state directory %s has no record of the queue %s, "
		    "which holdscan has used before: the journal, the quarantine "
		    "index and the set-aside list were lost or are elsewhere. "
		    "Interrupted batches are finished from the intent records in "
		    "%s/%s/intent, and the quarantine index is rebuilt from the "
		    "store; see RECOVERY in holdscand(8)",
		    d->conf->state_directory, d->ql->queue_dir, d->ql->queue_dir,
		    d->conf->holdscan_queue_subdir);
		break;
	case BINDING_QUEUE_LOST:
		hs_warnx("%s/%s had no record of the state directory %s; "
		    "written again", d->ql->queue_dir,
		    d->conf->holdscan_queue_subdir, d->conf->state_directory);
		break;
	case BINDING_OK:
	case BINDING_FOREIGN:
		break;
	}
	return (0);
}

/*
 * The part of the start that needs the state environment: open it,
 * finish what a crash interrupted, compare the quarantine with its
 * index, learn which held messages are set aside, and look at hold.
 * A failure that may pass by itself (the state file system full, an I/O
 * error) does not stop holdscand: nothing is claimed, so held mail waits
 * in hold; backoff() logs it once (with reminders), and the event loop
 * calls this again at the end of each pause until it works. Any other
 * failure (permissions, a damaged environment) is fatal.
 */
static void
start_state(struct holdscand *d)
{
	struct aside_entry *v = NULL;
	char		*error = NULL, *why;
	size_t		 n = 0, i;
	int		 err;

	errno = 0;
	if ((d->state_starting && bind_state(d, &error) < 0) ||
	    open_state_db(d, &error) < 0 ||
	    commit_recover(&d->commit, true, &error) < 0 ||
	    /* Nothing is in flight: the store and the index must agree now. */
	    quarantine_check(d->quarantine, d->ql, d->qdirfd, d->commit.claimed,
	    false, check_report, NULL, &error) < 0 ||
	    aside_list(d->aside, &v, &n, &error) < 0) {
		err = errno;
		if (!statedb_retryable(d->conf->state_directory, err))
			hs_fatalx(EX_UNAVAILABLE, "%s; mail waits in hold. If the "
			    "state environment is damaged, see RECOVERY in "
			    "holdscand(8)", error);
		close_state_db(d);
		d->state_starting = d->state_broken = true;
		why = xasprintf("cannot open the state environment: %s; held "
		    "mail waits in hold", error);
		backoff(d, why);
		free(why);
		free(error);
		return;
	}
	/* Set-aside messages stay aside while they are the same file. */
	for (i = 0; i < n; i++)
		watch_ignore(d->watch, v[i].id, (ino_t)v[i].ino);
	d->aside_count = n;
	free(v);
	if (d->state_broken) {
		hs_info("state environment %s opened", d->conf->state_directory);
		backoff_clear(d);
	}
	d->state_starting = d->state_broken = false;
	watch_rescan(d->watch);
}

static void
open_state(struct holdscand *d)
{
	char		*error = NULL;

	if ((d->qdirfd = open(d->ql->queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "queue_directory %s", d->ql->queue_dir);
	lock_instance(d);
	if (commit_init(&d->commit, d->ql, d->conf, d->qdirfd, NULL, NULL,
	    &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
	if (watch_open(d->ql, d->qdirfd, &d->watch) < 0)
		hs_fatal(EX_UNAVAILABLE, "watch %s/%s", d->ql->queue_dir,
		    QUEUE_HOLD);
	d->state_starting = true;
	start_state(d);		/* or again from the event loop, until it works */
}

/*
 * Something failed that will likely fail again at once (disk full, I/O
 * error, out of descriptors): stop claiming for a while, doubling the
 * pause up to a minute. The first failure is a warning; repeats are
 * counted (with a reminder every five minutes), and backoff_clear() says
 * when things work again.
 */
static void
backoff(struct holdscand *d, const char *why)
{
	long	 t = now_ms();
	int	 len = (int)strlen(why);

	/* Error texts may end in a full stop; "%.*s; pausing" drops it. */
	if (len > 0 && why[len - 1] == '.')
		len--;
	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (d->backoff_ms > BACKOFF_MAX_MS)
		d->backoff_ms = BACKOFF_MAX_MS;
	d->backoff_until_ms = t + d->backoff_ms;
	if (d->backoff_count++ == 0) {
		hs_warnx("%.*s; pausing, then retrying with growing pauses (up to "
		    "%d s) until it works", len, why, BACKOFF_MAX_MS / 1000);
		d->backoff_warned_ms = t;
	} else if (t - d->backoff_warned_ms >= BACKOFF_REMIND_MS) {
		hs_warnx("still failing after %lu attempts: %s", d->backoff_count,
		    why);
		d->backoff_warned_ms = t;
	} else {
		hs_debug("still failing (%lu attempts): %.*s; pausing %ld ms",
		    d->backoff_count, len, why, d->backoff_ms);
	}
	(void)snprintf(d->backoff_why, sizeof(d->backoff_why), "%s", why);
	note_error(d, why);
}

static void
backoff_clear(struct holdscand *d)
{
	if (d->backoff_count > 0)
		hs_info("working again after %lu failed attempt%s (last: %s)",
		    d->backoff_count, d->backoff_count == 1 ? "" : "s",
		    d->backoff_why);
	d->backoff_ms = 0;
	d->backoff_count = 0;
	d->backoff_why[0] = '\0';
}

/* Delivered unscanned: the original with the not-scanned header. */
static int
tag_unscanned(struct holdscand *d, struct msg *m, const char *reason)
{
	struct buf	 recs = BUF_INIT;
	char		*hdr, why[256];
	int		 rc = 0;

	if (m->qf == NULL || d->unscanned_header == NULL)
		return (0);
	hdr = xasprintf("%s (%s)\n", d->unscanned_header, reason);
	qfile_insert_headers(m->qf->content, m->qf->ncontent, m->qf->header_end,
	    hdr, d->ql->line_limit, &recs);
	free(hdr);
	if (msg_set_built(m, &recs, why, sizeof(why)) < 0) {
		hs_warnx("%s: %s", m->id, why);
		rc = -1;
	}
	buf_free(&recs);
	return (rc);
}

/* The master decides alone: scan failed (crashes, too large) or corrupt. */
static void
decide_unscanned(struct holdscand *d, struct msg *m, const char *reason)
{
	if (m->generation == 0)
		m->generation = d->pool.generation;
	m->verdict = VERDICT_FAILED;
	(void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
	m->action = policy_decide(&d->policy, VERDICT_FAILED, NULL, 0);
	if (m->qf != NULL && m->qf->nrcpts > 0) {
		const char	**r = xcalloc(m->qf->nrcpts, sizeof(*r));
		size_t		 i;

		for (i = 0; i < m->qf->nrcpts; i++)
			r[i] = m->qf->rcpts[i].address;
		m->action = policy_decide(&d->policy, VERDICT_FAILED, r,
		    m->qf->nrcpts);
		free(r);
	}
	if (m->action == ACTION_DELIVER) {
		if (tag_unscanned(d, m, reason) < 0)
			m->action = ACTION_HOLD;
	} else if (m->action != ACTION_DELIVER && m->action != ACTION_DROP &&
	    m->action != ACTION_QUARANTINE) {
		m->action = ACTION_HOLD;
	}
	hs_info("%s: scan failed: %s; action=%s", m->id, reason,
	    config_action_name(m->action));
	m->decided = true;
	d->metrics.verdicts[VERDICT_FAILED]++;
	batch_decided(m->batch);
}

/* --- the set-aside life cycle --------------------------------------------------- */

/* "5d", "3h20m", "42s": an age or a lifetime, for the log and status. */
static void
fmt_duration(long long s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400 && s % 86400 == 0)
		(void)snprintf(buf, size, "%lldd", s / 86400);
	else if (s >= 86400)
		(void)snprintf(buf, size, "%lldd%lldh", s / 86400,
		    (s % 86400) / 3600);
	else if (s >= 3600)
		(void)snprintf(buf, size, "%lldh%lldm", s / 3600, (s % 3600) / 60);
	else if (s >= 60)
		(void)snprintf(buf, size, "%lldm%llds", s / 60, s % 60);
	else
		(void)snprintf(buf, size, "%llds", s);
}

/* The reason without its "scan-failed: " verdict prefix. */
static const char *
aside_why(const struct aside_entry *e)
{
	const char	*p = strchr(e->reason, ':');

	return (p != NULL && p[1] == ' ' ? p + 2 : e->reason);
}

/* Is the file of e where rel (hold, or claimed/) says, same inode? */
static bool
aside_file_at(struct holdscand *d, const struct aside_entry *e, bool hold)
{
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE];

	/* In hold: where the layout puts it, or where an earlier one did. */
	if (hold)
		return (queue_locate(d->ql, d->qdirfd, QUEUE_HOLD, e->id, path,
		    &st) == 0 && (uint64_t)st.st_ino == e->ino);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", d->commit.claimed,
	    e->id) >= sizeof(path))
		return (false);
	return (fstatat(d->qdirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uint64_t)st.st_ino == e->ino);
}

/* Offer a set-aside message to the claim path once more, for kind. */
static void
aside_claim_again(struct holdscand *d, const struct aside_entry *e,
    uint64_t kind)
{
	struct watch_candidate c;
	struct stat	 st;
	char		 age[32];

	memset(&c, 0, sizeof(c));
	(void)snprintf(c.id, sizeof(c.id), "%s", e->id);
	if (queue_locate(d->ql, d->qdirfd, QUEUE_HOLD, e->id, c.path, &st) < 0)
		return;
	fmt_duration((long long)(time(NULL) - e->when), age, sizeof(age));
	if (kind == ASIDE_FLIGHT_RESCAN)
		hs_info("%s: set aside %s ago, %u attempt%s: scanning it again "
		    "(new scanners: %s)", e->id, age, e->attempts,
		    e->attempts == 1 ? "" : "s", d->pool.engine_info[0] ?
		    d->pool.engine_info : "generation changed");
	else
		hs_info("%s: set aside %s ago, %u attempt%s: set_aside_lifetime "
		    "is over; expiry_action=%s", e->id, age, e->attempts,
		    e->attempts == 1 ? "" : "s", kind == ASIDE_FLIGHT_BOUNCE ?
		    "bounce" : d->conf->set_aside_expiry_action ==
		    EXPIRE_DELIVER_TAGGED ? "deliver-tagged" : "quarantine");
	strmap_put(&d->aside_flight, e->id, kind);
	watch_unignore(d->watch, e->id);
	watch_defer(d->watch, &c, now_ms(), 0);
}

/* Queue the sender's notice for an entry in phase bounce; qf is its message. */
static void
aside_send_notice(struct holdscand *d, struct aside_entry *e,
    const struct qfile *qf)
{
	struct notify_bounce b;
	char		 reason[400], age[32], *error = NULL;
	int		 r;

	fmt_duration((long long)(e->last > e->when ? e->last - e->when : 0),
	    age, sizeof(age));
	(void)snprintf(reason, sizeof(reason), "could not be scanned (%s); "
	    "held %s, %u attempt%s", aside_why(e), age, e->attempts,
	    e->attempts == 1 ? "" : "s");
	memset(&b, 0, sizeof(b));
	b.queue_id = e->id;
	b.qf = qf;
	b.reason = reason;
	b.quarantine_id = e->qid;
	b.key = e->id;
	r = notify_bounce(d->notify, &b);
	if (r > 0) {
		strmap_put(&d->aside_owed, e->id, 1);
		hs_info("%s: bounce: notice to <%s> queued (quarantine_id=%s)",
		    e->id, qf->sender, e->qid[0] ? e->qid : "?");
		return;
	}
	if (r < 0)
		return;		/* queue full: the next pass tries again */
	hs_info("%s: bounce: no notice is due (the null sender, a notice, or "
	    "DSN NOTIFY without FAILURE); kept in the quarantine as %s", e->id,
	    e->qid[0] ? e->qid : "?");
	if (aside_del(d->aside, e->id, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
}

struct aside_find {
	const struct aside_entry *e;
	char		 qid[QUARANTINE_ID_SIZE];
};

static int
aside_find_copy(void *arg, const struct quarantine_entry *qe)
{
	struct aside_find *f = arg;

	if (strcmp(qe->orig_id, f->e->id) == 0 &&
	    strcmp(qe->verdict, verdict_name(VERDICT_FAILED)) == 0) {
		(void)snprintf(f->qid, sizeof(f->qid), "%s", qe->qid);
		return (1);
	}
	return (0);
}

/*
 * An entry in phase bounce whose file has left hold: its quarantine
 * commit happened (or the admin removed it). The notice is owed: build
 * it from the quarantine copy (holdscand may have stopped since).
 */
static void
aside_owe_notice(struct holdscand *d, struct aside_entry *e)
{
	struct quarantine_entry qe;
	struct quarantine_query qq;
	struct qfile_error err;
	struct aside_find f;
	struct qfile	*qf = NULL;
	char		*error = NULL;
	uint64_t	 v;
	int		 fd;

	if (strmap_get(&d->aside_owed, e->id, &v))
		return;		/* queued, not finished */
	memset(&f, 0, sizeof(f));
	f.e = e;
	(void)snprintf(f.qid, sizeof(f.qid), "%s", e->qid);
	if (f.qid[0] == '\0') {
		memset(&qq, 0, sizeof(qq));
		qq.since = e->last > 3600 ? e->last - 3600 : 0;
		qq.state = -1;
		if (quarantine_list(d->quarantine, &qq, aside_find_copy, &f,
		    &error) < 0) {
			hs_warnx("%s: %s", e->id, error);
			free(error);
			return;
		}
	}
	memset(&qe, 0, sizeof(qe));
	if (f.qid[0] == '\0' || quarantine_get(d->quarantine, NULL, f.qid, false,
	    &qe, &error) != QUARANTINE_OK || (fd = quarantine_open_file(
	    d->quarantine, &qe)) < 0) {
		hs_warnx("%s: bounce: its quarantine copy %s is gone (deleted?); "
		    "no notice to the sender", e->id, f.qid[0] ? f.qid : "(none)");
		free(error);
		quarantine_entry_clear(&qe);
		if (aside_del(d->aside, e->id, &error) < 0) {
			hs_warnx("%s", error);
			free(error);
		}
		return;
	}
	if (qfile_read_fd(fd, SIZE_MAX, &qf, &err) < 0) {
		hs_warnx("%s: bounce: quarantine copy %s: %s", e->id, f.qid,
		    err.text);
		(void)close(fd);
		quarantine_entry_clear(&qe);
		return;
	}
	(void)close(fd);
	if (strcmp(e->qid, f.qid) != 0) {
		/* Found by its queue id: remember where, for the next time. */
		(void)snprintf(e->qid, sizeof(e->qid), "%s", f.qid);
		if (aside_update(d->aside, e, &error) < 0) {
			hs_warnx("%s", error);
			free(error);
		}
	}
	aside_send_notice(d, e, qf);
	qfile_free(&qf);
	quarantine_entry_clear(&qe);
}

/*
 * Everything the set-aside list asks for now: entries whose file left
 * hold are forgotten (postsuper -H, -d, -r), owed notices are sent, and
 * mail set aside unscanned is expired or scanned again. Runs every
 * rescan_interval, when the scanners change, and when an expiry is due.
 */
static void
aside_pass(struct holdscand *d)
{
	struct aside_entry *v = NULL;
	char		*error = NULL;
	size_t		 n = 0, i, kept = 0, flying;
	time_t		 now = time(NULL), soonest = 0, ends;
	long		 lifetime = d->conf->set_aside_lifetime / 1000, wait;
	const char	*epoch = d->pool.ready ? d->aside_epoch : "";
	bool		 more = false;

	d->next_aside_ms = now_ms() + d->conf->rescan_interval;
	if (d->state_broken || d->stopping)
		return;
	if (aside_list(d->aside, &v, &n, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
		return;
	}
	flying = d->aside_flight.used;
	for (i = 0; i < n; i++) {
		struct aside_entry *e = &v[i];
		enum aside_next next;
		uint64_t	 kind;
		bool		 in_hold = aside_file_at(d, e, true);

		if (strmap_get(&d->aside_flight, e->id, &kind)) {
			/* Claimed again: in hold (queued) or claimed/ (in flight). */
			if (in_hold || aside_file_at(d, e, false)) {
				kept++;
				continue;
			}
			(void)strmap_del(&d->aside_flight, e->id);
			flying--;
		}
		next = aside_next(e, now, lifetime, epoch, d->conf->set_aside_rescan);
		if (next == ASIDE_NOTICE && !in_hold) {
			aside_owe_notice(d, e);
			continue;
		}
		if (!in_hold) {
			watch_unignore(d->watch, e->id);
			if (aside_del(d->aside, e->id, &error) < 0) {
				hs_warnx("%s", error);
				free(error);
				error = NULL;
			}
			continue;
		}
		kept++;
		if (next == ASIDE_NOTICE || next == ASIDE_EXPIRE ||
		    next == ASIDE_RESCAN) {
			if (flying >= ASIDE_FLIGHT_MAX || !d->pool.ready) {
				more = true;
				continue;
			}
			if (next == ASIDE_RESCAN)
				kind = ASIDE_FLIGHT_RESCAN;
			else if (next == ASIDE_NOTICE ||
			    d->conf->set_aside_expiry_action == EXPIRE_BOUNCE)
				kind = ASIDE_FLIGHT_BOUNCE;
			else
				kind = ASIDE_FLIGHT_EXPIRE;
			aside_claim_again(d, e, kind);
			flying++;
			continue;
		}
		if ((ends = aside_expires(e, lifetime)) != 0 &&
		    (soonest == 0 || ends < soonest))
			soonest = ends;
	}
	d->aside_count = kept;
	free(v);
	if (more)
		wait = 1000;
	else if (soonest != 0)
		wait = (long)(soonest - now) * 1000 + 100;
	else
		wait = d->conf->rescan_interval;
	if (wait < d->conf->rescan_interval)
		d->next_aside_ms = now_ms() + (wait > 0 ? wait : 0);
}

/* Once each loop: a new engine means a new epoch; notices that ended. */
static void
aside_tick(struct holdscand *d, long t)
{
	struct aside_entry e;
	char		 key[QUEUE_ID_SIZE], *error = NULL;
	bool		 ok;

	if (d->pool.ready && (d->aside_epoch[0] == '\0' ||
	    d->pool.generation != d->aside_generation)) {
		if (d->aside_boot_us == 0) {
			struct timespec	 ts;

			(void)clock_gettime(CLOCK_REALTIME, &ts);
			d->aside_boot_us = (long long)ts.tv_sec * 1000000LL +
			    ts.tv_nsec / 1000;
		}
		d->aside_generation = d->pool.generation;
		aside_epoch_make(d->aside_epoch, config_digest(d->conf,
		    d->pool.engine_info), (unsigned long long)d->aside_boot_us,
		    d->aside_generation);
		d->next_aside_ms = t;
	}
	/* The state may have been reopened: the handle is new then. */
	if (d->aside != NULL)
		aside_set_epoch(d->aside, d->aside_epoch);
	while (notify_done(d->notify, key, sizeof(key), &ok)) {
		(void)strmap_del(&d->aside_owed, key);
		if (!ok || d->state_broken)
			continue;	/* the next pass tries again */
		if (aside_get(d->aside, key, &e, &error) == 1 &&
		    e.phase == ASIDE_BOUNCE && !aside_file_at(d, &e, true)) {
			hs_info("%s: bounce: the notice to the sender is queued "
			    "by Postfix; the message stays in the quarantine as "
			    "%s", key, e.qid[0] ? e.qid : "?");
			if (aside_del(d->aside, key, &error) < 0)
				hs_warnx("%s", error);
		}
		free(error);
		error = NULL;
	}
	if (t >= d->next_aside_ms)
		aside_pass(d);
}

/*
 * claim_one(): a set-aside message claimed for its expiry is decided
 * here, without a scan. true when it was.
 */
static bool
aside_expiring(struct holdscand *d, struct msg *m)
{
	struct aside_entry e;
	char		 age[32], life[32], *error = NULL;
	uint64_t	 kind;

	if (!strmap_get(&d->aside_flight, m->id, &kind) ||
	    kind == ASIDE_FLIGHT_RESCAN)
		return (false);
	if (aside_get(d->aside, m->id, &e, &error) != 1 ||
	    e.ino != (uint64_t)m->st.st_ino) {
		/* Not the file that was set aside: scan it like any other. */
		free(error);
		(void)strmap_del(&d->aside_flight, m->id);
		return (false);
	}
	fmt_duration((long long)(time(NULL) - e.when), age, sizeof(age));
	fmt_duration(d->conf->set_aside_lifetime / 1000, life, sizeof(life));
	m->generation = d->pool.generation;
	m->verdict = VERDICT_FAILED;
	(void)snprintf(m->reason, sizeof(m->reason), "%s; set aside %s, %u "
	    "attempt%s, set_aside_lifetime %s", aside_why(&e), age, e.attempts,
	    e.attempts == 1 ? "" : "s", life);
	m->action = ACTION_QUARANTINE;
	if (kind == ASIDE_FLIGHT_BOUNCE && e.phase != ASIDE_BOUNCE) {
		/* Durably owed before the commit: a crash cannot lose it. */
		e.phase = ASIDE_BOUNCE;
		e.last = time(NULL);
		if (aside_update(d->aside, &e, &error) < 0) {
			hs_warnx("%s: %s; left aside", m->id, error);
			free(error);
			m->action = ACTION_HOLD;
		}
	} else if (kind == ASIDE_FLIGHT_EXPIRE &&
	    d->conf->set_aside_expiry_action == EXPIRE_DELIVER_TAGGED) {
		m->action = ACTION_DELIVER;
		if (tag_unscanned(d, m, m->reason) < 0)
			m->action = ACTION_QUARANTINE;	/* nothing is lost */
	}
	m->decided = true;
	d->metrics.verdicts[VERDICT_FAILED]++;
	batch_decided(m->batch);
	return (true);
}

/*
 * commit_one_batch(): after the commit, the set-aside list follows what
 * happened to a message that was set aside (or is set aside now).
 */
static void
aside_committed(struct holdscand *d, const struct msg *m,
    const struct commit_item *it)
{
	struct aside_entry e;
	char		*error = NULL;
	uint64_t	 kind;
	time_t		 ends;
	bool		 again;

	again = strmap_get(&d->aside_flight, m->id, &kind);
	if (again)
		(void)strmap_del(&d->aside_flight, m->id);
	if (it->outcome == COMMIT_RETURNED) {
		/* Back in hold, its entry unchanged: the next pass retries. */
		if (again)
			watch_ignore(d->watch, m->id, m->st.st_ino);
		return;
	}
	if (it->outcome != COMMIT_DONE || d->aside == NULL || d->state_broken)
		return;		/* recovery decides; the pass follows */
	if (it->action == ACTION_HOLD) {
		/*
		 * Set aside (again): commit recorded the attempt with the
		 * current epoch. Scanned by scanners that were replaced
		 * meanwhile, it gets another scan by the new ones. The next
		 * pass is due by its expiry at the latest.
		 */
		if (again && d->aside_count > 0)
			d->aside_count--;	/* counted again below */
		if (m->verdict != VERDICT_FAILED ||
		    aside_get(d->aside, m->id, &e, &error) != 1) {
			if (error != NULL) {
				hs_warnx("%s", error);
				free(error);
			}
			return;
		}
		if (m->generation != d->pool.generation) {
			e.epoch[0] = '\0';
			if (aside_update(d->aside, &e, &error) < 0) {
				hs_warnx("%s", error);
				free(error);
			}
			d->next_aside_ms = 0;
		}
		ends = aside_expires(&e, d->conf->set_aside_lifetime / 1000);
		if (ends != 0) {
			long	 due = now_ms() + 100 + (ends > time(NULL) ?
				    (long)(ends - time(NULL)) * 1000 : 0);

			if (due < d->next_aside_ms)
				d->next_aside_ms = due;
		}
		return;
	}
	if (!again)
		return;
	if (kind == ASIDE_FLIGHT_BOUNCE && it->quarantine_id[0] != '\0') {
		/* Quarantined: now the sender's notice is owed. */
		switch (aside_get(d->aside, m->id, &e, &error)) {
		case 1:
			e.phase = ASIDE_BOUNCE;
			(void)snprintf(e.qid, sizeof(e.qid), "%s",
			    it->quarantine_id);
			if (aside_update(d->aside, &e, &error) < 0) {
				hs_warnx("%s", error);	/* the pass finds the copy */
				free(error);
			}
			aside_send_notice(d, &e, m->qf);
			break;
		case -1:
			hs_warnx("%s", error);	/* the next pass sends it */
			free(error);
			break;
		default:
			hs_warnx("%s: bounce: not in the set-aside list any "
			    "more; no notice to the sender", m->id);
			break;
		}
		return;
	}
	if (kind == ASIDE_FLIGHT_RESCAN)
		hs_info("%s: no longer set aside: action=%s verdict=%s", m->id,
		    config_action_name(it->action), verdict_name(m->verdict));
	if (aside_del(d->aside, m->id, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
}

static void
open_batch(struct holdscand *d)
{
	if (d->open == NULL)
		d->open = batch_new(++d->batch_seq, now_ms());
}

/* Claim one candidate: parse its envelope and put it in the open batch. */
static void
claim_one(struct holdscand *d, const struct watch_candidate *c)
{
	struct qfile_error err;
	struct stat	 st;
	struct msg	*m;
	char		 why[256] = "";
	int		 fd;
	size_t		 limit;
	char		 key[QUEUE_PATH_SIZE], *error = NULL;

	/*
	 * A journal entry for this name that was forgotten without a flush
	 * could come back after a crash and match this claim: flush first.
	 */
	(void)snprintf(key, sizeof(key), "%s/%s", d->commit.claimed, c->id);
	if (journal_settle(d->journal, key, &error) < 0) {
		watch_done(d->watch, c->id);
		watch_defer(d->watch, c, now_ms(), BACKOFF_MIN_MS);
		backoff(d, error);
		free(error);
		return;
	}
	switch (claim_take(d->qdirfd, c->path, d->commit.claimed, c->id, &fd,
	    &st, why, sizeof(why))) {
	case CLAIM_OK:
		break;
	case CLAIM_LOCKED:
		watch_done(d->watch, c->id);
		watch_defer(d->watch, c, now_ms(), LOCKED_RETRY_MS);
		return;
	case CLAIM_GONE:
		watch_done(d->watch, c->id);
		return;
	case CLAIM_SKIP:
		hs_warnx("%s: not claimed: %s", c->id, why);
		watch_done(d->watch, c->id);
		return;
	case CLAIM_ERROR:
		/* Out of descriptors, I/O error: it stays in hold; try later. */
		watch_done(d->watch, c->id);
		watch_defer(d->watch, c, now_ms(), BACKOFF_MIN_MS);
		{
			char	 msg[400];

			(void)snprintf(msg, sizeof(msg), "cannot claim held "
			    "messages: %s", why);
			backoff(d, msg);
		}
		return;
	}
	d->metrics.claimed++;
	d->in_flight++;
	m = msg_new(c->id, c->path, fd, &st, now_ms());
	limit = d->conf->message_size_limit > 0 &&
	    st.st_size > d->conf->message_size_limit ?
	    (size_t)st.st_size : SIZE_MAX;
	if (qfile_read_fd(fd, limit, &m->qf, &err) < 0) {
		if (err.code == QFILE_EIO) {
			hs_warnx("%s: %s; returned to hold", c->id, err.text);
			(void)claim_return(d->ql, d->qdirfd, d->commit.claimed, c->id);
			msg_free(&m);
			d->in_flight--;
			watch_done(d->watch, c->id);
			backoff(d, "cannot read queue files");
			return;
		}
		/* Postfix's own answer to a malformed queue file: the corrupt queue. */
		hs_warnx("%s: corrupt queue file: %s; moved to %s", c->id, err.text,
		    QUEUE_CORRUPT);
		{
			char	 dst[QUEUE_PATH_SIZE], src[QUEUE_PATH_SIZE];

			(void)snprintf(src, sizeof(src), "%s/%s", d->commit.claimed,
			    c->id);
			(void)snprintf(dst, sizeof(dst), "%s/%s", QUEUE_CORRUPT, c->id);
			if (queue_mkdirs(d->ql, d->qdirfd, QUEUE_CORRUPT) < 0 ||
			    renameat2(d->qdirfd, src, d->qdirfd, dst,
			    RENAME_NOREPLACE) < 0 ||
			    queue_fsync_dirat(d->qdirfd, QUEUE_CORRUPT) < 0) {
				hs_warn("%s: cannot move to %s; returned to hold",
				    c->id, QUEUE_CORRUPT);
				(void)claim_return(d->ql, d->qdirfd,
				    d->commit.claimed, c->id);
				watch_ignore(d->watch, c->id, st.st_ino);
			}
		}
		d->metrics.corrupt++;
		msg_free(&m);
		d->in_flight--;
		watch_done(d->watch, c->id);
		return;
	}
	hs_info("%s: claimed from=<%s> size=%lld nrcpt=%zu", m->id, m->qf->sender,
	    (long long)st.st_size, m->qf->nrcpts);
	open_batch(d);
	batch_add(d->open, m);
	if (aside_expiring(d, m))
		;	/* set aside too long: decided without a scan */
	else if (d->conf->message_size_limit > 0 &&
	    st.st_size > d->conf->message_size_limit)
		decide_unscanned(d, m, "message larger than message_size_limit");
	else
		TAILQ_INSERT_TAIL(&d->scanq, m, sentry);
	if (batch_full(d->open, d->conf))
		close_open_batch(d);
}

static void
claim_some(struct holdscand *d)
{
	struct watch_candidate c;

	/*
	 * Not while recovery is due: after the state environment was
	 * reopened, entries forgotten without a flush may be back, and must
	 * be dealt with before a file they name can be claimed again.
	 */
	if (d->stopping || now_ms() < d->backoff_until_ms || !d->pool.ready ||
	    d->state_broken || d->recovery_needed)
		return;
	while (d->in_flight < (size_t)d->conf->max_in_flight &&
	    watch_next(d->watch, &c))
		claim_one(d, &c);
}

/*
 * While there are suspects (messages that were being scanned when the
 * scanner parent died), they are scanned one at a time with nothing else
 * in scan, the others waiting behind them: see scanner_lost().
 */
static void
dispatch(struct holdscand *d)
{
	struct worker	*w;
	struct msg	*m;

	while ((m = TAILQ_FIRST(&d->scanq)) != NULL &&
	    (w = pool_idle(&d->pool)) != NULL) {
		if (d->suspects > 0) {
			if (pool_busy(&d->pool) > 0)
				return;
			TAILQ_FOREACH(m, &d->scanq, sentry)
				if (m->suspect)
					break;
			if (m == NULL) {
				/* Cannot be; if it were, scanning beats waiting. */
				hs_warnx("%zu suspects, none waiting and none in "
				    "scan; forgetting them", d->suspects);
				d->suspects = 0;
				m = TAILQ_FIRST(&d->scanq);
			}
		}
		if (pool_dispatch(&d->pool, w, m, m->fd, m->id,
		    (uint64_t)d->conf->message_size_limit,
		    (uint32_t)d->conf->scan_time_limit) < 0)
			continue;	/* that worker is gone; try another */
		TAILQ_REMOVE(&d->scanq, m, sentry);
		m->scanning = true;
		m->generation = w->generation;
	}
}

/* m has been scanned to the end, or is decided without: no suspect now. */
static void
unsuspect(struct holdscand *d, struct msg *m)
{
	if (!m->suspect)
		return;
	m->suspect = false;
	if (d->suspects > 0)
		d->suspects--;
}

static void
scan_failed_once(struct holdscand *d, struct msg *m, const char *why)
{
	m->scanning = false;
	m->failures++;
	hs_warnx("%s: scan attempt %d failed: %s", m->id, m->failures, why);
	if (m->failures >= d->conf->scan_retry_limit) {
		char	 reason[256];

		(void)snprintf(reason, sizeof(reason), "%d scan attempts failed, "
		    "last: %s", m->failures, why);
		unsuspect(d, m);
		decide_unscanned(d, m, reason);
		return;
	}
	TAILQ_INSERT_HEAD(&d->scanq, m, sentry);
}

/*
 * The scanner parent died (killed, crashed, out of memory), and its
 * workers with it; pool_lost() gives back what they were scanning, and
 * starts another scanner parent after a pause.
 *
 * Its death is not counted as a failed scan attempt of each message
 * that was in scan: the scanner parent never sees a message, so it is
 * most likely killed from outside, and counting it would make innocent
 * mail "scan failed" after a few kills. But a message can kill it too
 * (a worker it took over kills its parent, or the memory it makes a
 * worker take gets the parent killed by the kernel), and such a message
 * must not make it die again and again. So the messages in scan become
 * suspects: they are scanned again first, one at a time with nothing
 * else in scan, and a death while one suspect is scanned alone counts
 * as one failed attempt of that message (once per death). A message
 * that kills the scanner parent each time is "scan failed" after at
 * most scan_retry_limit + 1 deaths; an innocent one pays only if the
 * parent dies during the moments it is scanned alone.
 */
static void
scanner_lost(struct holdscand *d, const char *why)
{
	void	**jobs = NULL;
	size_t	 n, i;

	if (!d->pool.ever_ready)
		hs_fatalx(EX_SOFTWARE, "%s while starting; cannot scan without "
		    "it (see the lines above for its reason)", why);
	note_error(d, why);
	n = pool_lost(&d->pool, why, &jobs);
	for (i = 0; i < n; i++) {
		struct msg	*m = jobs[i];

		m->scanning = false;
		if (n == 1 && m->suspect) {
			scan_failed_once(d, m, "the scanner parent died while "
			    "only this message was being scanned");
			/* Other suspects go first: kills spread, poison stays. */
			if (!m->decided) {
				TAILQ_REMOVE(&d->scanq, m, sentry);
				TAILQ_INSERT_TAIL(&d->scanq, m, sentry);
			}
			continue;
		}
		if (!m->suspect) {
			m->suspect = true;
			d->suspects++;
		}
		hs_info("%s: the scanner parent died while it was being scanned; "
		    "scanning it again (not counted as a failed attempt)", m->id);
		TAILQ_INSERT_HEAD(&d->scanq, m, sentry);
	}
	free(jobs);
}

static void
scan_result(struct holdscand *d, struct msg *m, const struct wire_result *res,
    int memfd)
{
	char	 why[256];
	size_t	 max;

	m->scanning = false;
	unsuspect(d, m);
	m->res = *res;
	if (res->verdict < 0 || res->verdict >= VERDICT_COUNT ||
	    res->action < ACTION_DELIVER || res->action > ACTION_HOLD) {
		scan_failed_once(d, m, "worker sent an impossible verdict");
		return;
	}
	if (res->content == CONTENT_NEW) {
		/* Room for headers and cleaning; never unbounded. */
		max = (size_t)m->st.st_size * 2 + 16 * 1024 * 1024;
		if (memfd < 0 || msg_set_content(m, memfd, max, why,
		    sizeof(why)) < 0) {
			scan_failed_once(d, m, memfd < 0 ? "content missing" : why);
			return;
		}
	}
	m->verdict = (enum verdict)res->verdict;
	m->action = (enum policy_action)res->action;
	(void)snprintf(m->reason, sizeof(m->reason), "%s", res->reason);
	m->decided = true;
	m->t_scanned_ms = now_ms();
	d->metrics.verdicts[m->verdict]++;
	metrics_observe(&d->metrics.scan_time, res->scan_us / 1e6,
	    metrics_latency_bounds);
	hs_info("%s: scanned verdict=%s action=%s scan=%.1fms%s%s%s%s%s",
	    m->id, verdict_name(m->verdict), config_action_name(m->action),
	    res->scan_us / 1000.0, res->reason[0] ? " reason=\"" : "",
	    res->reason, res->reason[0] ? "\"" : "",
	    res->detail[0] ? " plugins=" : "", res->detail);
	batch_decided(m->batch);
}

static void
handle_worker(struct holdscand *d, struct worker *w)
{
	struct wire_result res;
	enum pool_event	 ev;
	char		 why[256];
	void		*job;
	int		 memfd;

	ev = pool_handle_worker(&d->pool, w, &res, &memfd, &job, why,
	    sizeof(why));
	if (ev == POOL_RESULT && job != NULL)
		scan_result(d, job, &res, memfd);
	else if (ev == POOL_FAILED && job != NULL)
		scan_failed_once(d, job, why);
	else if (ev == POOL_FAILED)
		hs_debug("%s", why);
	else if (ev == POOL_LOST)
		scanner_lost(d, why);
	if (memfd >= 0)
		(void)close(memfd);
}

static const char *
outcome_action(const struct commit_item *it)
{
	return (config_action_name(it->action));
}

/* Notices about a message whose batch has committed (queued, sent later). */
static void
notify_committed(struct holdscand *d, const struct msg *m,
    const struct commit_item *it)
{
	struct notify_msg nm;

	memset(&nm, 0, sizeof(nm));
	nm.queue_id = m->id;
	nm.qf = m->qf;
	nm.verdict = m->verdict;
	nm.reason = m->reason;
	nm.action = outcome_action(it);
	nm.quarantine_id = it->quarantine_id;
	nm.quarantined = it->quarantine_id[0] != '\0';
	notify_message(d->notify, &nm);
}

/*
 * The state environment is closed (it could not be reopened after a
 * failure): a batch cannot be journaled, so its messages go back to
 * hold, to be claimed and scanned again once it works. Returns -1 with
 * *error_r, as a failed commit_batch() does.
 */
static int
return_batch(struct holdscand *d, struct commit_item *items, size_t n,
    char **error_r)
{
	struct commit_item *it;
	size_t		 i;

	*error_r = xasprintf("state environment %s is not open",
	    d->conf->state_directory);
	for (i = 0; i < n; i++) {
		it = &items[i];
		it->outcome = COMMIT_RETURNED;
		it->new_id[0] = it->quarantine_id[0] = '\0';
		(void)snprintf(it->why, sizeof(it->why), "%s", *error_r);
		if (claim_return(d->ql, d->qdirfd, d->commit.claimed, it->id) < 0)
			/* Still safe in claimed/: the next start returns it. */
			(void)snprintf(it->why, sizeof(it->why), "%s; cannot "
			    "return it to hold, it stays in %s/%s until holdscand "
			    "starts again: %s", *error_r, d->ql->queue_dir,
			    d->commit.claimed, strerror(errno));
		if (it->fd >= 0) {
			(void)close(it->fd);	/* releases the lock */
			it->fd = -1;
		}
	}
	return (-1);
}

/* One batch through the commit protocol, then one log line per message. */
static void
commit_one_batch(struct holdscand *d, struct batch *b)
{
	struct commit_item *items = xcalloc(b->count, sizeof(*items));
	struct msg	*m;
	size_t		 i = 0, counts[6] = { 0 }, returned = 0;
	const char	*degraded = NULL;
	char		*error = NULL;
	double		 real;
	long		 t0 = now_ms(), t1;
	int		 published;

	TAILQ_FOREACH(m, &b->msgs, bentry) {
		struct commit_item *it = &items[i++];

		it->id = m->id;
		it->fd = m->fd;
		m->fd = -1;		/* commit closes it, releasing the lock */
		it->ino = (uint64_t)m->st.st_ino;
		it->extra_mode = m->st.st_mode & S_IXGRP;
		it->action = m->action;
		it->qf = m->qf;
		it->content = m->content;
		it->ncontent = m->ncontent;
		it->verdict = verdict_name(m->verdict);
		it->reason = m->reason;
	}
	if (d->state_broken)
		published = return_batch(d, items, b->count, &error);
	else
		published = commit_batch(&d->commit, items, b->count, &error);
	/* The messages entered incoming during the commit: measure after it. */
	real = now_real();
	t1 = now_ms();
	if (published < 0) {
		d->metrics.batch_failures++;
		if (d->state_broken) {
			/* Its pause runs already: the loop reopens it at the end. */
			note_error(d, error);
		} else if (!statedb_failed(d->sdb) && statedb_panicked(d->sdb)) {
			/*
			 * A holdscan tool died with the environment open and
			 * the next opener ran recovery: not a problem of the
			 * disk, so open it again and go on at once.
			 */
			hs_warnx("batch=%llu returned to hold: %s",
			    (unsigned long long)b->seq, error);
			note_error(d, error);
			(void)reopen_if_recovered(d);
		} else {
			backoff(d, error);
			if (statedb_failed(d->sdb))
				reopen_state(d);
		}
		free(error);
	}
	i = 0;
	TAILQ_FOREACH(m, &b->msgs, bentry) {
		struct commit_item *it = &items[i++];
		double	 in_flight = (t0 - m->t_claim_ms) / 1000.0;
		double	 entered = (double)m->st.st_ctim.tv_sec +
			    m->st.st_ctim.tv_nsec / 1e9;

		watch_done(d->watch, m->id);
		aside_committed(d, m, it);
		d->metrics.bytes += (uint64_t)m->st.st_size;
		if (it->outcome == COMMIT_RETURNED) {
			returned++;
			d->metrics.returned++;
			hs_info("%s: returned to hold: %s", m->id, it->why);
			continue;
		}
		counts[it->action]++;
		d->metrics.committed[it->action]++;
		if (it->action == ACTION_HOLD) {
			watch_ignore(d->watch, m->id, m->st.st_ino);
			d->aside_count++;
			hs_info("%s: action=hold verdict=%s reason=\"%s\"; left in "
			    "hold (postsuper -H %s releases it unscanned)", m->id,
			    verdict_name(m->verdict), m->reason, m->id);
			notify_committed(d, m, it);
			continue;
		}
		if (it->new_id[0] != '\0') {
			metrics_observe(&d->metrics.latency, real - entered,
			    metrics_latency_bounds);
			/* delays: in hold before the claim / scan and batch / commit */
			double	 commit = (t1 - t0) / 1000.0;
			double	 waited = real - entered - in_flight - commit;

			hs_info("%s: action=%s new_id=%s verdict=%s delay=%.3f "
			    "delays=%.3f/%.3f/%.3f%s", m->id, outcome_action(it),
			    it->new_id, verdict_name(m->verdict), real - entered,
			    waited > 0 ? waited : 0.0, in_flight, commit,
			    it->outcome == COMMIT_LEFT ? " (original left for "
			    "recovery)" : "");
		} else {
			hs_info("%s: action=%s verdict=%s%s%s%s%s%s", m->id,
			    outcome_action(it), verdict_name(m->verdict),
			    m->reason[0] ? " reason=\"" : "", m->reason,
			    m->reason[0] ? "\"" : "",
			    it->quarantine_id[0] ? " quarantine_id=" : "",
			    it->quarantine_id);
		}
		if (it->outcome == COMMIT_LEFT) {
			hs_info("%s: left for recovery: %s", m->id, it->why);
			d->recovery_needed = true;
			d->recovery_retries = true;
			degraded = it->why;
		}
		notify_committed(d, m, it);
	}
	/*
	 * A message back in hold after a failed write would come straight
	 * back, and an unfinished one needs recovery: either way, pause.
	 */
	for (i = 0; i < b->count && published >= 0 && degraded == NULL; i++)
		if (items[i].outcome == COMMIT_RETURNED)
			degraded = items[i].why;
	if (published >= 0 && degraded != NULL)
		backoff(d, degraded);
	else if (published >= 0)
		backoff_clear(d);
	d->in_flight -= b->count;
	d->metrics.batches++;
	metrics_observe(&d->metrics.batch_size, (double)b->count,
	    metrics_size_bounds);
	hs_info("batch=%llu messages=%zu bytes=%llu delivered=%zu tagged=%zu "
	    "cleaned=%zu quarantined=%zu dropped=%zu held=%zu returned=%zu "
	    "time=%ldms", (unsigned long long)b->seq, b->count,
	    (unsigned long long)b->bytes, counts[ACTION_DELIVER],
	    counts[ACTION_TAG], counts[ACTION_CLEAN], counts[ACTION_QUARANTINE],
	    counts[ACTION_DROP], counts[ACTION_HOLD], returned, t1 - t0);
	if (published > 0 && queue_trigger(d->ql, "qmgr", "I") < 0)
		hs_debug("cannot wake qmgr: %s", strerror(errno));
	free(items);
}

/* No more joins once a batch is full or has waited batch_max_wait. */
static void
close_open_batch(struct holdscand *d)
{
	d->open->closed = true;
	TAILQ_INSERT_TAIL(&d->closed, d->open, entry);
	d->open = NULL;
}

static void
commit_ready(struct holdscand *d)
{
	struct batch	*b;
	bool		 more;

	/*
	 * Under a steady stream some message of the open batch is always
	 * still being scanned: without this, it would only close when full
	 * and its first messages would wait for a whole batch to arrive.
	 */
	if (d->open != NULL && d->open->count > 0 &&
	    batch_wait_ms(d->open, d->conf, now_ms()) == 0)
		close_open_batch(d);
	while ((b = TAILQ_FIRST(&d->closed)) != NULL && b->undecided == 0) {
		TAILQ_REMOVE(&d->closed, b, entry);
		commit_one_batch(d, b);
		batch_free(&b);
	}
	/* More is coming if candidates wait and we may claim them. */
	more = watch_pending(d->watch) > 0 && !d->stopping &&
	    d->in_flight < (size_t)d->conf->max_in_flight;
	if (d->open != NULL && batch_ready(d->open, d->conf, now_ms(), more)) {
		b = d->open;
		d->open = NULL;
		commit_one_batch(d, b);
		batch_free(&b);
	}
}

/*
 * SIGHUP: read the file again; if it is right, have the scanner parent
 * check its plugin sections (config_checked() takes it or refuses it).
 */
static void
reload_config(struct holdscand *d)
{
	struct hs_config *conf;
	char		*errors = NULL;
	int		 fd;

	if (pool_reload_in_flight(&d->pool)) {
		d->reload_again = true;
		hs_info("reload: the scanners are still checking the last one; "
		    "%s is read again after that", d->config_path);
		return;
	}
	if ((conf = load_config(d->config_path, &errors)) == NULL) {
		hs_warnx("reload: %s has errors, keeping the running "
		    "configuration:\n%s", d->config_path, errors);
		free(errors);
		return;
	}
	if ((fd = wire_memfd("holdscan.conf", conf->text,
	    strlen(conf->text))) < 0) {
		hs_warn("reload: cannot hand %s to the scanners; keeping the "
		    "running configuration", d->config_path);
		config_free(&conf);
		return;
	}
	config_free(&d->pending);
	d->pending = conf;
	pool_reload(&d->pool, fd);
}

/* The scanner parent found the re-read configuration right: take it. */
static void
take_config(struct holdscand *d)
{
	struct hs_config *conf = d->pending, *old = d->conf;
	char		*errors = NULL;

	d->pending = NULL;
	/* Paths and identities need a restart; keep the running ones. */
#define KEEP(field) do { \
	if (strcmp(conf->field, old->field) != 0) \
		hs_warnx("reload: " #field " changed; restart holdscand to " \
		    "apply it"); \
	free(conf->field); \
	conf->field = xstrdup(old->field); \
} while (0)
	KEEP(postfix_config_directory);
	KEEP(state_directory);
	KEEP(quarantine_directory);
	KEEP(holdscan_queue_subdir);
	KEEP(pid_file);
	KEEP(worker_user);
	KEEP(plugin_directory);
	KEEP(scanner_program);
	KEEP(scanner_temp_directory);
	KEEP(syslog_name);		/* log_open() is done once */
	KEEP(syslog_facility);
#undef KEEP
	if (conf->worker_count != old->worker_count)
		hs_warnx("reload: worker_count changed; restart holdscand to "
		    "apply it");
	if (notify_configure(d->notify, conf, &errors) < 0) {
		hs_warnx("reload: %s; keeping the notification settings",
		    errors);
		free(errors);
	}
	policy_clear(&d->policy);
	policy_from_config(&d->policy, conf);
	d->conf = conf;
	d->commit.conf = conf;
	log_set_verbose(conf->verbose || d->verbose);
	config_free(&old);
	hs_info("reload: configuration %s re-read", d->config_path);
}

/*
 * pool_params.checked: the scanner parent's word on a configuration's
 * plugin sections. A reload is taken or refused; the configuration we
 * started with can only be refused here if the file's plugins changed
 * since check_plugin_sections() (a scanner parent started later says so
 * itself and exits, and the pool starts another after a pause).
 */
static void
config_checked(void *arg, bool reload, bool ok, const char *errors)
{
	struct holdscand *d = arg;

	if (!reload) {
		if (!d->pool.ever_ready)
			hs_fatalx(EX_CONFIG, "%s: configuration errors, not "
			    "started:\n%s", d->config_path, errors);
		return;
	}
	if (ok) {
		take_config(d);
	} else {
		hs_warnx("reload: %s has errors, keeping the running "
		    "configuration:\n%s", d->config_path, errors);
		config_free(&d->pending);
	}
	if (d->reload_again) {
		d->reload_again = false;
		reload_config(d);
	}
}

static void
handle_signals(struct holdscand *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!d->stopping)
				hs_info("stopping: finishing %zu messages in flight",
				    d->in_flight);
			d->stopping = true;
			break;
		case SIGHUP:
			reload_config(d);
			break;
		case SIGCHLD:
			/* The scanner parent; its socket tells us it is gone. */
			break;
		default:
			break;
		}
	}
}

static void
write_metrics(struct holdscand *d)
{
	d->metrics.hold_depth = watch_pending(d->watch);
	d->metrics.in_flight = d->in_flight;
	d->metrics.aside = d->aside_count;
	d->metrics.worker_crashes = d->pool.crashes;
	d->metrics.worker_timeouts = d->pool.timeouts;
	d->metrics.scanners_up = d->pool.ready;
	d->metrics.scanners_since = d->pool.state_since;
	d->metrics.scanner_restarts = d->pool.restarts;
	(void)snprintf(d->metrics.scanner_last_exit,
	    sizeof(d->metrics.scanner_last_exit), "%s", d->pool.last_exit);
	d->metrics.scanner_last_exit_time = d->pool.last_exit_time;
	d->metrics.engine_generation = d->pool.generation;
	(void)snprintf(d->metrics.engine_info, sizeof(d->metrics.engine_info),
	    "%s", d->pool.engine_info);
	if (metrics_write(&d->metrics, d->conf->metrics_file) < 0)
		hs_debug("metrics %s: %s", d->conf->metrics_file, strerror(errno));
}

/* Let the process that started us exit (daemonize()): scanners are up. */
static void
tell_ready(struct holdscand *d)
{
	if (d->ready_fd < 0 || !d->pool.ready)
		return;
	if (write(d->ready_fd, "", 1) != 1)
		hs_warn("cannot tell the starting process that we are ready");
	(void)close(d->ready_fd);
	d->ready_fd = -1;
}

/*
 * Follow Postfix's queue layout while we run (hash_queue_names,
 * hash_queue_depth, enable_long_queue_ids; postconf -e and postfix reload):
 * look at main.cf once a second, before every batch can commit (its new
 * files go where the layout says, and qmgr finds them nowhere else), and
 * when the watcher saw hold laid out otherwise. When main.cf changed, read
 * it again: queue.c updates d->ql in place, so the commit context, the
 * watcher and claim_return() follow at once; a change of hold's hashing
 * makes the watcher look at all of hold again.
 */
static void
follow_layout(struct holdscand *d, long t)
{
	char		 now[sizeof(d->layout.desc)], names[256], *error = NULL;
	unsigned	 diff;
	bool		 hint = watch_layout_hint(d->watch);

	if (t < d->layout.retry_ms)
		return;
	if (!hint && t < d->layout.next_ms && d->open == NULL &&
	    TAILQ_EMPTY(&d->closed))
		return;
	d->layout.next_ms = t + LAYOUT_CHECK_MS;
	if (d->layout.desc[0] == '\0')
		(void)queue_layout_describe(d->ql, d->layout.desc,
		    sizeof(d->layout.desc));
	/* One stat(2) of main.cf, unless it changed. */
	switch (queue_layout_refresh(d->ql, NULL, time(NULL), &diff, &error)) {
	case QUEUE_REFRESH_SAME:
	case QUEUE_REFRESH_UNSETTLED:	/* being edited: again in a moment */
		return;
	case QUEUE_REFRESH_FAILED:
		if (!d->layout.failing)
			hs_warnx("%s; keeping the queue layout %s and trying "
			    "again every %d s", error, d->layout.desc,
			    LAYOUT_RETRY_MS / 1000);
		else
			hs_debug("%s", error);
		free(error);
		d->layout.failing = true;
		d->layout.retry_ms = t + LAYOUT_RETRY_MS;
		return;
	case QUEUE_REFRESH_READ:
		break;
	}
	if (d->layout.failing)
		hs_info("%s/main.cf read again", d->ql->config_dir);
	d->layout.failing = false;
	(void)queue_layout_describe(d->ql, now, sizeof(now));
	if (diff & QUEUE_DIFF_FOLLOWED)
		hs_info("%s/main.cf changed: %s; following it (was: %s)",
		    d->ql->config_dir, now, d->layout.desc);
	(void)snprintf(d->layout.desc, sizeof(d->layout.desc), "%s", now);
	if (diff & QUEUE_DIFF_RESTART)
		hs_warnx("%s/main.cf: %s changed; restart holdscand to apply it",
		    d->ql->config_dir, queue_diff_names(diff & QUEUE_DIFF_RESTART,
		    names, sizeof(names)));
	if (diff & QUEUE_DIFF_HOLD)
		watch_rescan(d->watch);
}

static int
min_timeout(int cur, long ms)
{
	if (ms < 0)
		return (cur);
	if (ms > POLL_MAX_MS)
		ms = POLL_MAX_MS;
	return (cur < 0 || ms < cur ? (int)ms : cur);
}

static void
event_loop(struct holdscand *d)
{
	struct pollfd	*pfd = NULL;
	struct worker	**wv = NULL;
	size_t		 cap = 0, n, i;
	char		 why[256];
	int		 timeout;
	long		 t, scanner_timeout;

	for (;;) {
		struct timespec	 ts;
		struct worker	*w;
		void		*job;

		(void)alarm(WATCHDOG_SECONDS);
		t = now_ms();
		if (d->stopping && d->in_flight == 0)
			break;
		/* Not before the set-aside list is known (start_state()). */
		if (t >= d->next_rescan_ms && !d->state_starting) {
			watch_rescan(d->watch);
			d->next_rescan_ms = t + d->conf->rescan_interval;
		}
		follow_layout(d, t);
		aside_tick(d, t);
		claim_some(d);
		dispatch(d);
		commit_ready(d);
		scanner_timeout = pool_tick(&d->pool);
		if (d->state_broken && t >= d->backoff_until_ms)
			reopen_state(d);
		if (d->recovery_needed && !d->state_broken && d->open == NULL &&
		    TAILQ_EMPTY(&d->closed) && t >= d->backoff_until_ms) {
			char	*error = NULL;

			if (commit_recover(&d->commit, false, &error) < 0) {
				backoff(d, error);
				free(error);
				d->recovery_retries = true;
			} else {
				d->recovery_needed = false;
				if (d->recovery_retries)
					backoff_clear(d);
				d->recovery_retries = false;
			}
		}
		/* At once when the scanners come or go: status says so. */
		if (t >= d->next_metrics_ms ||
		    d->metrics.scanners_up != (uint32_t)d->pool.ready) {
			(void)reopen_if_recovered(d);
			write_metrics(d);
			d->next_metrics_ms = t + METRICS_EVERY_MS;
		}

		/* Sleep until something happens or a timer is due. */
		timeout = POLL_MAX_MS;
		timeout = min_timeout(timeout, watch_tick(d->watch, now_ms()));
		timeout = min_timeout(timeout, batch_wait_ms(d->open, d->conf,
		    now_ms()));
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		timeout = min_timeout(timeout, pool_next_deadline_ms(&d->pool, &ts));
		if (d->backoff_until_ms > now_ms())
			timeout = min_timeout(timeout, d->backoff_until_ms - now_ms());
		timeout = min_timeout(timeout, notify_tick(d->notify));
		timeout = min_timeout(timeout, scanner_timeout);
		if (watch_pending(d->watch) > 0 && !d->stopping &&
		    d->backoff_until_ms <= now_ms() &&
		    d->in_flight < (size_t)d->conf->max_in_flight && d->pool.ready)
			timeout = 0;

		n = 4 + d->pool.nworkers;
		if (n > cap) {
			cap = n;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			wv = xreallocarray(wv, cap, sizeof(*wv));
		}
		pfd[0].fd = d->sigfd;
		pfd[1].fd = watch_fd(d->watch);
		pfd[2].fd = d->pool.ctl;	/* -1 (ignored) while it is down */
		pfd[3].fd = d->pool.sup;
		n = 4;
		TAILQ_FOREACH(w, &d->pool.workers, entry) {
			wv[n] = w;
			pfd[n++].fd = w->sock;
		}
		for (i = 0; i < n; i++) {
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			hs_fatal(EX_OSERR, "poll");
		}
		if (pfd[0].revents & POLLIN)
			handle_signals(d);
		if (pfd[1].revents & POLLIN)
			watch_handle(d->watch);
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pool_handle_ctl(&d->pool, why, sizeof(why)) < 0)
				scanner_lost(d, why);
			pool_fill(&d->pool);
			tell_ready(d);
		}
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR) &&
		    pool_handle_sup(&d->pool, why, sizeof(why)) < 0)
			hs_fatalx(EX_SOFTWARE, "%s; no scanner parent can be "
			    "started without it", why);
		/* Worker sockets: the pool may free workers as we go, so check by pid. */
		for (i = 4; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			TAILQ_FOREACH(w, &d->pool.workers, entry)
				if (w == wv[i] && w->sock == pfd[i].fd)
					break;
			if (w != NULL)
				handle_worker(d, w);
		}
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		while ((job = pool_expire(&d->pool, &ts)) != NULL)
			scan_failed_once(d, job, "over scan_time_limit");
	}
	(void)alarm(0);
	free(pfd);
	free(wv);
}

/*
 * Berkeley DB 5.3 waits forever for a mutex whose holder died: a process
 * killed inside the state environment can leave us stuck in a database
 * call. Nothing is lost by exiting at any moment (recovery at start puts
 * everything right, and DB_REGISTER recovers the environment), so when
 * the event loop has not come round for WATCHDOG_SECONDS, say why and
 * exit for the service manager to restart us. (syslog(3) is not
 * async-signal-safe; this is the way out, and the loop is known stuck
 * elsewhere.)
 */
static void
watchdog(int sig)
{
	static const char msg[] = "fatal: the event loop has not run for 300 s; "
	    "a process that died inside the state environment may hold a "
	    "Berkeley DB mutex: exiting so that a restart recovers it";

	(void)sig;
	if (log_to_stderr()) {
		(void)write(STDERR_FILENO, "holdscand: ", 11);
		(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)write(STDERR_FILENO, "\n", 1);
	} else {
		syslog(LOG_CRIT, "%s", msg);
	}
	_exit(EX_SOFTWARE);
}

static void
setup_watchdog(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		hs_fatal(EX_OSERR, "sigaction(SIGALRM)");
}

static void
setup_signals(struct holdscand *d)
{
	sigset_t	 mask;

	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		hs_fatal(EX_OSERR, "signalfd");
	(void)signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
	struct holdscand d;
	char		*errors = NULL;
	bool		 print_conf = false;
	size_t		 nworkers;
	int		 ch;

	memset(&d, 0, sizeof(d));
	d.config_path = CONFIG_DEFAULT_FILE;
	d.pidfd = d.sigfd = d.qdirfd = d.ready_fd = d.instance_fd = -1;
	TAILQ_INIT(&d.scanq);
	TAILQ_INIT(&d.closed);
	while ((ch = getopt(argc, argv, "c:fnv")) != -1) {
		switch (ch) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'f':
			d.foreground = true;
			break;
		case 'n':
			print_conf = true;
			break;
		case 'v':
			d.verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_open("holdscand", d.foreground || print_conf ? LOG_DEST_STDERR :
	    LOG_DEST_SYSLOG, LOG_MAIL, d.verbose);
	if (print_conf)
		return (print_config(d.config_path));
	if ((d.conf = load_config(d.config_path, &errors)) == NULL) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    d.config_path);
	}
	log_open(d.conf->syslog_name, d.foreground ? LOG_DEST_STDERR :
	    LOG_DEST_SYSLOG, config_syslog_facility(d.conf),
	    d.verbose || d.conf->verbose);
	check_config_file(d.config_path);
	if (queue_layout_load(d.conf->postfix_config_directory, NULL, &d.ql,
	    &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);
	policy_from_config(&d.policy, d.conf);
	if (d.conf->scan_header_name[0] != '\0')
		d.unscanned_header = xasprintf("%s: not scanned by holdscan %s on %s",
		    d.conf->scan_header_name, HS_VERSION, d.ql->myhostname);
	resolve_worker_user(&d);
	check_plugin_sections(&d);
	ensure_dir(&d, d.conf->state_directory, "state_directory");
	ensure_dir(&d, d.conf->quarantine_directory, "quarantine_directory");
	ensure_scanner_tempdir(&d);
	ensure_queue_subdirs(&d);
	if (notify_new(d.conf, d.ql, &d.notify, &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);

	if (!d.foreground)
		d.ready_fd = daemonize();
	write_pidfile(&d);
	setup_signals(&d);
	/*
	 * Two per CPU by default: a worker waits for the master between
	 * messages, and with one per CPU the CPUs then idle (make bench:
	 * ~10 % faster drains with two).
	 */
	nworkers = d.conf->worker_count > 0 ? (size_t)d.conf->worker_count :
	    2 * (size_t)sysconf(_SC_NPROCESSORS_ONLN);
	if (nworkers < 1)
		nworkers = 1;
	/*
	 * While we are root: the supervisor it forks starts scanner parents
	 * as worker_user, this first one and any that replaces a dead one.
	 */
	{
		struct pool_params pp;

		memset(&pp, 0, sizeof(pp));
		pp.nworkers = nworkers;
		if ((pp.config_fd = wire_memfd("holdscan.conf", d.conf->text,
		    strlen(d.conf->text))) < 0)
			hs_fatal(EX_OSERR, "cannot hand the configuration to the "
			    "scanners");
		pp.myhostname = d.ql->myhostname;
		pp.line_limit = d.ql->line_limit;
		pp.checked = config_checked;
		pp.checked_arg = &d;
		if (pool_start(&d.pool, &d.setup, &pp) < 0)
			hs_fatal(EX_OSERR, "cannot start the scanners");
	}
	drop_to_mail_owner(&d);
	(void)prctl(PR_SET_DUMPABLE, 1);
	setup_watchdog();	/* after the scanners are forked: theirs is default */

	open_state(&d);
	d.metrics.started = time(NULL);
	hs_info("started: queue %s, %zu workers as %s, batches of up to %ld "
	    "messages%s", d.ql->queue_dir, nworkers, d.setup.user,
	    d.conf->batch_max_messages, d.state_starting ? "; nothing is "
	    "claimed until the state environment opens" : "");
	d.next_rescan_ms = now_ms() + d.conf->rescan_interval;
	event_loop(&d);

	write_metrics(&d);
	notify_drain(d.notify, 10000);
	notify_free(&d.notify);
	strmap_clear(&d.aside_flight);
	strmap_clear(&d.aside_owed);
	pool_stop(&d.pool);
	watch_close(&d.watch);
	commit_clear(&d.commit);
	close_state_db(&d);
	if (d.instance_fd >= 0)
		(void)close(d.instance_fd);	/* the last: our lock on the queue */
	policy_clear(&d.policy);
	free(d.unscanned_header);
	queue_layout_free(&d.ql);
	hs_info("stopped");
	config_free(&d.pending);
	config_free(&d.conf);
	free((char *)d.setup.program);
	free((char *)d.setup.plugins);
	free((char *)d.setup.log_ident);
	return (0);
}
