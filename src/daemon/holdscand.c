/*
 * NAME
 *	holdscand - scan Postfix's hold queue and release what passes (8)
 * SYNOPSIS
 *	holdscand [-fv] [-c config_file]
 *	holdscand -n | -t [-c config_file]
 *	holdscand [-c config_file] reload
 * DESCRIPTION
 *	The master process. Started as root, it has the scanner program
 *	check the plugin sections of its configuration (it loads no plugin
 *	itself), forks the scanner supervisor (which keeps root's uid with
 *	CAP_SETUID and CAP_SETGID only, and starts the scanner parents: the
 *	scanner program, holdscan-scanner, as worker_user, which forks the
 *	scanner workers), drops to Postfix's mail_owner, and opens the
 *	queue, its lock on it and the watcher. Then the pipeline
 *	(pipeline.c) finishes whatever a previous run left in progress
 *	(commit.c recovery), and one event loop runs:
 *
 *	    watch -> claim -> batch -> workers scan -> commit
 *
 *	This file keeps the start (configuration, directories, pid file,
 *	privileges), the signals, the reload, Postfix's queue layout
 *	followed while we run, the metrics file and the event loop: it
 *	polls the descriptors and hands each event to the watcher, the
 *	scanner pool (worker.c) or the pipeline, which holds each message's
 *	life from claim to commit, the back-off after failures, the state
 *	environment's reopen and the set-aside life cycle (setaside.c).
 *	Everything it knows lives in the one context struct below.
 *
 *	SIGTERM: stop claiming, finish the messages already claimed, exit.
 *	SIGHUP: re-read the configuration. A file with errors, or that
 *	changes a setting that needs a restart (restart_only()), is refused
 *	here; else the scanner parent checks its plugin sections and builds
 *	its scanners (a new set of plugins when the scanners list or their
 *	options changed), and it is taken only when that worked. Either way
 *	one log line says what became of it, and the reload status file
 *	(reload.c) too, where "holdscand reload" waits for the answer after
 *	checking the file and sending the signal.
 *	Postfix's queue hashing and queue id style are followed when main.cf
 *	changes (follow_layout()); no signal is needed.
 *	A dead scanner parent is replaced after a pause (worker.c);
 *	meanwhile no mail is claimed, and the messages it was scanning are
 *	scanned again (pipeline_scanner_lost()).
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
#include <getopt.h>
#include <grp.h>
#include <linux/magic.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/policy.h"
#include "common/queue.h"
#include "common/scanprog.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "daemon/instance.h"
#include "daemon/notify.h"
#include "daemon/pipeline.h"
#include "daemon/reload.h"
#include "daemon/requests.h"
#include "daemon/control.h"
#include "daemon/shipper.h"
#include "daemon/watch.h"
#include "daemon/worker.h"
#include "state/outbox.h"

#define LAYOUT_CHECK_MS		1000	/* main.cf looked at, when idle */
#define LAYOUT_RETRY_MS		10000	/* after postconf failed */
#define METRICS_EVERY_MS	1000
#define POLL_MAX_MS		1000
#define RELOAD_WAIT_MS		240000	/* holdscand reload: for the answer
					   (within systemd's 300 s) */

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
	struct notify	*notify;
	struct watch	*watch;
	struct pool	 pool;
	struct supervisor_setup setup;	/* strings are ours, freed at exit */
	struct hs_config *pending;	/* re-read, its plugin sections being
					   checked by the scanner parent */
	bool		 reload_again;	/* SIGHUP while they were */
	struct reload_status reload;	/* what reload.c's file says */
	unsigned long	 reload_reading;	/* SIGHUPs seen when the file
					   being reloaded was read */
	int		 reload_fd;	/* that file, opened as root */
	struct pipeline	*pipe;		/* each message's life (pipeline.c) */
	struct requests	*requests;	/* a farm's requests (requests.c), or NULL */
	struct control	*control;	/* the web console's socket (control.c), or NULL */
	long		 next_rescan_ms;
	long		 next_metrics_ms;
	struct metrics	 metrics;
	struct {			/* follow_layout() */
		long	 next_ms;	/* look at main.cf again */
		long	 retry_ms;	/* postconf failed: not before this */
		bool	 failing;
		char	 desc[512];	/* d->ql, as logged */
	}		 layout;
};

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static void
usage_to(FILE *fp, int rc)
{
	(void)fprintf(fp, "usage: holdscand [-fv] [-c config_file]\n"
	    "       holdscand -n | -t [-c config_file]\n"
	    "       holdscand [-c config_file] reload\n"
	    "       holdscand --help | --version\n"
	    "  -c FILE  configuration (default %s)\n"
	    "  -f       stay in the foreground, log to the standard error\n"
	    "  -n       print the parameters the file sets, check them, exit\n"
	    "  -t       check the file and start its plugins; print only errors\n"
	    "  reload   check the file, have the running holdscand reload it,\n"
	    "           and say whether it took it (exit status 0) or not\n"
	    "  -v       log debugging detail\n"
	    "see holdscand(8) and holdscan.conf(5)\n", CONFIG_DEFAULT_FILE);
	exit(rc);
}

static void
usage(void)
{
	usage_to(stderr, EX_USAGE);
}

/*
 * A warning, then each line of errors as a warning of its own: a log
 * line is one line (log.c turns control characters into '?').
 */
static void	warn_errors(const char *, const char *, ...) HS_PRINTF(2, 3);

static void
warn_errors(const char *errors, const char *fmt, ...)
{
	char		 head[512], *copy, *line, *save = NULL;
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	hs_warnx("%s", head);
	copy = xstrdup(errors != NULL ? errors : "");
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		hs_warnx("%s", line);
	free(copy);
}

/* errors ("file:line: ..." lines) as one line, "; " between them. */
static char *
one_line(const char *errors)
{
	char	*s = xstrdup(errors != NULL ? errors : ""), *p;
	size_t	 len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	for (p = s; (p = strchr(p, '\n')) != NULL; ) {
		char	*joined;

		*p = '\0';
		joined = xasprintf("%s; %s", s, p + 1);
		p = joined + (p - s) + 2;
		free(s);
		s = joined;
	}
	return (s);
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
 * The file checked as at start, every error it has reported (the plugin
 * sections' by the scanner program, as worker_user when we are root):
 * 0, or -1 with the errors in *errors_r. *conf_r as config_load_anyway()
 * gives it (NULL only when the file cannot be read). With start, each
 * scanner's plugin is also started as the scanner parent starts it (as
 * holdscand -t does), and one that does not start is an error too.
 */
static int
check_file(const char *path, bool start, struct hs_config **conf_r,
    char **errors_r)
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
			switch (scanprog_check(&sp, start, &out)) {
			case 0:
				break;
			case 1:			/* a plugin that does not start */
				if (!start) {
					hs_warnx("plugin sections not checked: "
					    "%s", out);
					break;
				}
				/* FALLTHROUGH */
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
	*conf_r = conf;
	if (loaded < 0) {
		*errors_r = errors;
		return (-1);
	}
	free(errors);
	return (0);
}

/*
 * holdscand -n: the configuration as postconf -n shows main.cf's.
 * holdscand -t (test): the file checked as a start would check it, each
 * scanner's plugin started too (as worker_user, in a child of the
 * scanner program, and stopped again), and nothing printed: 0 when
 * holdscand would start with it. The init script's restart runs it
 * before it stops a running holdscand. Errors: printed, EX_CONFIG.
 */
static int
print_config(const char *path, bool test)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	if (check_file(path, test, &conf, &errors) < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    path);
	}
	if (!test)
		config_print(conf, stdout, true);
	config_free(&conf);
	return (0);
}

/*
 * holdscand reload: the file checked as holdscand -n checks it, then the
 * running holdscand signalled, and its answer awaited (reload.c): exit
 * 0 when it took the file, non-zero with the reason when it did not.
 */
static int
request_reload(const char *path)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *msg = NULL;

	if (check_file(path, false, &conf, &errors) < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not reloaded; "
		    "holdscand runs on with the configuration it has", path);
	}
	switch (reload_request(conf->pid_file, RELOAD_WAIT_MS, &msg)) {
	case RELOAD_TAKEN:
		(void)printf("holdscand: %s\n", msg);
		break;
	case RELOAD_REFUSED:
		hs_fatalx(EX_CONFIG, "%s", msg);
	case RELOAD_NOT_RUNNING:
		hs_fatalx(EX_UNAVAILABLE, "reload: %s", msg);
	case RELOAD_NO_ANSWER:
		hs_fatalx(EX_TEMPFAIL, "reload: %s", msg);
	}
	free(msg);
	config_free(&conf);
	return (0);
}

/*
 * Make dir (its parent must exist), mode 0700, the mail owner's: 0, or
 * -1 with errno (EINVAL: not an absolute path of a directory).
 */
static int
make_owned_dir(struct holdscand *d, const char *dir)
{
	char		*parent, *slash;
	int		 pfd = -1, fd = -1, rc = -1, err;

	parent = xstrdup(dir);
	if ((slash = strrchr(parent, '/')) == NULL || slash[1] == '\0') {
		free(parent);
		errno = EINVAL;
		return (-1);
	}
	*slash = '\0';
	if ((pfd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) >= 0 && mkdirat(pfd, slash + 1, 0700) == 0 &&
	    (fd = openat(pfd, slash + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0 &&
	    fchown(fd, d->ql->owner_uid, d->ql->owner_gid) == 0)
		rc = 0;
	err = errno;
	if (fd >= 0)
		(void)close(fd);
	if (pfd >= 0)
		(void)close(pfd);
	free(parent);
	errno = err;
	return (rc);
}

/*
 * Create dir (root only) owned by the mail owner, mode 0700, if missing;
 * check it. A new directory is made and given away through descriptors
 * (mkdirat, then openat without following a link, then fchown), never
 * by name twice: a link swapped in between cannot make root chown
 * something else.
 */
static void
ensure_dir(struct holdscand *d, const char *dir, const char *what)
{
	struct stat	 st;

	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || geteuid() != 0)
			hs_fatal(EX_CONFIG, "%s %s", what, dir);
		if (make_owned_dir(d, dir) < 0) {
			if (errno == EINVAL)
				hs_fatalx(EX_CONFIG, "%s %s: not an absolute "
				    "path of a directory", what, dir);
			hs_fatal(EX_CANTCREAT, "create %s %s", what, dir);
		}
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

/* The pid file's directory, root's, 0755 (one level, as /run/holdscan). */
static int
make_parent(const char *path)
{
	char	*dir = xstrdup(path), *slash = strrchr(dir, '/');
	int	 rc = -1;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		rc = mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : 0;
	}
	free(dir);
	if (rc < 0 && errno == 0)
		errno = ENOENT;
	return (rc);
}

/*
 * state_region_directory (the state environment's shared memory, on a
 * memory file system): the mail owner's, 0700, made if missing (with
 * its parent, root's, as /run/holdscan without systemd). When it cannot
 * be, the regions stay in state_directory: slower, never unsafe, so a
 * warning and not a refusal to start. Not root: statedb decides alone.
 */
static void
ensure_region_dir(struct holdscand *d)
{
	const char	*dir = d->conf->state_region_directory;
	struct stat	 st;

	if (dir[0] == '\0' || geteuid() != 0)
		return;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT || make_parent(dir) < 0 ||
		    make_owned_dir(d, dir) < 0)
			hs_warn("create state_region_directory %s (the state "
			    "environment's shared memory stays in %s, which "
			    "costs disk writes)", dir, d->conf->state_directory);
		return;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != d->ql->owner_uid ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		hs_warnx("state_region_directory %s is not a directory of %s's "
		    "that only it may write (uid %lu, mode %04o): the state "
		    "environment's shared memory stays in %s; fix with: chown "
		    "%s %s; chmod 0700 %s", dir, d->ql->mail_owner,
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 07777),
		    d->conf->state_directory, d->ql->mail_owner, dir, dir);
}

/*
 * Open the pid file (what: its name in a warning; the reload status
 * file beside it is opened the same way) as a file of our own only: no
 * link followed, mode 0600, owned by us. One that anybody else could open (an older 0644
 * one, or one another user made) is replaced first, so that nobody but
 * a holdscand started by root can hold its lock and make us believe one
 * runs. -1 with errno.
 */
static int
open_pidfile(const char *path, const char *what)
{
	struct stat	 st, lst;
	int		 fd, tries;

	for (tries = 0; tries < 3; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT && make_parent(path) == 0)
			continue;	/* /run/holdscan without systemd's RuntimeDirectory= */
		if (fd < 0)
			return (-1);
		if (fstat(fd, &st) < 0) {
			(void)close(fd);
			return (-1);
		}
		if (S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    (st.st_mode & 077) == 0)
			return (fd);
		/* Still the file we looked at? Then it goes, and a new one. */
		(void)close(fd);
		if (lstat(path, &lst) == 0 && lst.st_ino == st.st_ino &&
		    lst.st_dev == st.st_dev && unlink(path) < 0)
			return (-1);
		hs_warnx("%s %s was not root's alone (owner uid %lu, "
		    "mode %04o): made again", what, path, (unsigned long)st.st_uid,
		    (unsigned)(st.st_mode & 07777));
	}
	errno = EEXIST;
	return (-1);
}

/*
 * The reload status file beside the pid file (reload.c), opened now, as
 * root, and written through its descriptor after we drop privileges.
 */
static void
open_reload_status(struct holdscand *d)
{
	char	*path = reload_status_path(d->conf->pid_file);

	if ((d->reload_fd = open_pidfile(path, "reload status file")) < 0)
		hs_fatal(EX_CANTCREAT, "reload status file %s", path);
	d->reload.pid = (long)getpid();
	if (reload_status_write(d->reload_fd, &d->reload) < 0)
		hs_fatal(EX_IOERR, "write reload status file %s", path);
	free(path);
}

static void
write_pidfile(struct holdscand *d)
{
	char	 buf[32];
	int	 n;

	if ((d->pidfd = open_pidfile(d->conf->pid_file, "pid file")) < 0)
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
daemonize(const char *logname)
{
	pid_t	 pid;
	ssize_t	 r;
	char	 buf[4096];
	size_t	 len = 0;
	int	 fd, pfd[2], status;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		hs_fatal(EX_OSERR, "pipe");
	if ((pid = fork()) < 0)
		hs_fatal(EX_OSERR, "fork");
	if (pid > 0) {
		/*
		 * A NUL byte: ready. Text: the line of a fatal error, which
		 * is shown here, where whoever started us can see it.
		 */
		(void)close(pfd[1]);
		while (len < sizeof(buf) - 1) {
			r = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (len == 0 && buf[0] == '\0')
				_exit(0);
			len += (size_t)r;
		}
		buf[len] = '\0';
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (len > 0)
			(void)fputs(buf, stderr);
		else
			(void)fprintf(stderr, "holdscand: fatal: exited while "
			    "starting; its reason is in %s\n", logname);
		_exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
		    WEXITSTATUS(status) : EX_SOFTWARE);
	}
	(void)close(pfd[0]);
	log_fatal_fd(pfd[1]);
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
	struct statfs	 sf;
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
	if (statfs(dir, &sf) == 0 && sf.f_type != TMPFS_MAGIC)
		hs_info("scanner_temp_directory %s is not on a tmpfs: ClamAV's "
		    "temporary files go to the disk, which costs the scanners "
		    "CPU and I/O (a tmpfs such as /run is better)", dir);
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
 * The queue, our lock on it, the watcher and the pipeline; then the part
 * of the start that needs the state environment (pipeline_start(), or
 * again from the event loop until it works).
 */
static void
open_state(struct holdscand *d)
{
	struct pipeline_setup ps;
	char		*error = NULL;

	if ((d->qdirfd = open(d->ql->queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "queue_directory %s", d->ql->queue_dir);
	lock_instance(d);
	if (watch_open(d->ql, d->qdirfd, &d->watch) < 0)
		hs_fatal(EX_UNAVAILABLE, "watch %s/%s", d->ql->queue_dir,
		    QUEUE_HOLD);
	memset(&ps, 0, sizeof(ps));
	ps.conf = d->conf;
	ps.ql = d->ql;
	ps.policy = &d->policy;
	ps.unscanned_header = d->unscanned_header;
	ps.qdirfd = d->qdirfd;
	ps.watch = d->watch;
	ps.pool = &d->pool;
	ps.notify = d->notify;
	ps.metrics = &d->metrics;
	ps.ops = &pipeline_ops_real;
	if (pipeline_new(&ps, &d->pipe, &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
	pipeline_start(d->pipe);
}

/* The scanner workers conf asks for: worker_count, or two per CPU. */
static size_t
workers_wanted(const struct hs_config *conf)
{
	long	 cpus;

	/*
	 * Two per CPU by default: a worker waits for the master between
	 * messages, and with one per CPU the CPUs then idle (make bench:
	 * ~10 % faster drains with two).
	 */
	if (conf->worker_count > 0)
		return ((size_t)conf->worker_count);
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return (cpus > 0 ? 2 * (size_t)cpus : 1);
}

/* The answer to the reload that read the file: logged, and in its file. */
static void	reload_answer(struct holdscand *, bool, const char *, ...)
		    HS_PRINTF(3, 4);

static void
reload_answer(struct holdscand *d, bool ok, const char *fmt, ...)
{
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(d->reload.message, sizeof(d->reload.message), fmt, ap);
	va_end(ap);
	d->reload.ok = ok;
	d->reload.done = d->reload_reading;
	if (ok)
		hs_info("%s", d->reload.message);
	else
		hs_warnx("%s", d->reload.message);
	if (d->reload_fd >= 0 && reload_status_write(d->reload_fd,
	    &d->reload) < 0)
		hs_warn("cannot write the reload status");
}

/* Add name to buf ("a, b") if was and now differ. */
static void
note_changed(char *buf, size_t size, const char *name, const char *was,
    const char *now)
{
	size_t	 len = strlen(buf);

	if (strcmp(was, now) != 0 && len + 1 < size)
		(void)snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
		    name);
}

/*
 * Settings that cannot change while we run: the queue and the state we
 * hold open and locked, the users and programs the supervisor (forked
 * as root) starts scanners as, the directories made as root, the log's
 * identity. The names of those that differ in conf, in buf ("" none).
 */
static void
restart_only(const struct hs_config *old, const struct hs_config *conf,
    char *buf, size_t size)
{
	buf[0] = '\0';
#define CHANGED(field) note_changed(buf, size, #field, old->field, conf->field)
	CHANGED(postfix_config_directory);
	CHANGED(state_directory);
	CHANGED(state_region_directory);
	CHANGED(quarantine_directory);
	CHANGED(holdscan_queue_subdir);
	CHANGED(pid_file);
	CHANGED(worker_user);
	CHANGED(scanner_program);
	CHANGED(scanner_temp_directory);
	CHANGED(syslog_name);
	CHANGED(syslog_facility);
	CHANGED(log_file);
	/* The shipper and the outbox live with the state environment. */
	CHANGED(database);
	/* The control socket is opened and its peer looked up at start. */
	CHANGED(web_control_socket);
	CHANGED(web_user);
	if (old->outbox_limit != conf->outbox_limit)
		note_changed(buf, size, "outbox_limit", "", "x");
#undef CHANGED
}

/*
 * SIGHUP: read the file again; refuse it when it has errors or changes
 * a setting that needs a restart; else have the scanner parent check
 * its plugin sections and build its scanners (config_checked() takes it
 * or refuses it). Every outcome is one log line and the status file.
 */
static void
reload_config(struct holdscand *d)
{
	struct hs_config *conf;
	char		*errors = NULL, *line, names[512];
	int		 fd;

	/*
	 * After a rotation: the file again (as the mail owner now), whatever
	 * becomes of the rest (log_file itself needs a restart).
	 */
	if (!d->foreground && d->conf->log_file[0] != '\0' &&
	    log_open_file(d->conf->syslog_name, d->conf->log_file,
	    d->conf->verbose || d->verbose, d->ql->owner_uid,
	    d->ql->owner_gid) < 0)
		hs_warn("reload: cannot open log_file %s again; logging on to "
		    "the file already open", d->conf->log_file);
	if (pool_reload_in_flight(&d->pool)) {
		d->reload_again = true;
		hs_info("reload: the scanners are still checking the last one; "
		    "%s is read again after that", d->config_path);
		return;
	}
	d->reload_reading = d->reload.requested;
	if ((conf = load_config(d->config_path, &errors)) == NULL) {
		line = one_line(errors);
		reload_answer(d, false, "reload: %s has errors, keeping the "
		    "running configuration: %s", d->config_path, line);
		free(line);
		free(errors);
		return;
	}
	restart_only(d->conf, conf, names, sizeof(names));
	if (names[0] != '\0') {
		reload_answer(d, false, "reload: %s: %s changed, which takes a "
		    "restart of holdscand; keeping the running configuration",
		    d->config_path, names);
		config_free(&conf);
		return;
	}
	if ((fd = wire_memfd("holdscan.conf", conf->text,
	    strlen(conf->text))) < 0) {
		reload_answer(d, false, "reload: cannot hand %s to the scanners "
		    "(%s); keeping the running configuration", d->config_path,
		    strerror(errno));
		config_free(&conf);
		return;
	}
	config_free(&d->pending);
	d->pending = conf;
	pool_reload(&d->pool, fd);
}

/* The scanner parent took the re-read configuration: so do we. */
static void
take_config(struct holdscand *d)
{
	struct hs_config *conf = d->pending, *old = d->conf;
	char		*errors = NULL;
	size_t		 was = workers_wanted(old), now = workers_wanted(conf);

	d->pending = NULL;
	if (notify_configure(d->notify, conf, &errors) < 0) {
		hs_warnx("reload: %s; keeping the notification settings",
		    errors);
		free(errors);
	}
	policy_clear(&d->policy);
	policy_from_config(&d->policy, conf);
	d->conf = conf;
	pipeline_reconfigure(d->pipe, conf);
	log_set_verbose(conf->verbose || d->verbose);
	if (now != was)
		pool_resize(&d->pool, now);
	config_free(&old);
	reload_answer(d, true, "reload: configuration %s re-read: scanners %s, "
	    "%zu workers", d->config_path, conf->nscanners ?
	    conf->scanners_text : "none", now);
}

/*
 * pool_params.checked: the scanner parent's word on a configuration's
 * plugin sections and its scanners. A reload is taken or refused; the
 * configuration we started with can only be refused here if the file's
 * plugins changed since check_plugin_sections() (a scanner parent
 * started later says so itself and exits, and the pool starts another
 * after a pause).
 */
static void
config_checked(void *arg, bool reload, bool ok, const char *errors)
{
	struct holdscand *d = arg;
	char		*line;

	if (!reload) {
		if (!d->pool.ever_ready) {
			warn_errors(errors, "%s: the scanner program found "
			    "configuration errors:", d->config_path);
			hs_fatalx(EX_CONFIG, "%s: configuration errors, not "
			    "started", d->config_path);
		}
		return;
	}
	if (ok) {
		take_config(d);
	} else {
		line = one_line(errors);
		reload_answer(d, false, "reload: %s refused by the scanners, "
		    "keeping the running configuration: %s", d->config_path,
		    line);
		free(line);
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
			if (!d->pipe->stopping)
				hs_info("stopping: finishing %zu messages in flight",
				    d->pipe->in_flight);
			pipeline_stop(d->pipe);
			break;
		case SIGHUP:
			d->reload.requested++;
			if (d->reload_fd >= 0 && reload_status_write(
			    d->reload_fd, &d->reload) < 0)
				hs_warn("cannot write the reload status");
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
	d->metrics.in_flight = d->pipe->in_flight;
	d->metrics.aside = d->pipe->setaside.count;
	d->metrics.worker_crashes = d->pool.crashes;
	d->metrics.worker_timeouts = d->pool.timeouts;
	d->metrics.scanners_up = d->pool.ready;
	d->metrics.scanners_since = d->pool.state_since;
	d->metrics.scanner_restarts = d->pool.restarts;
	(void)snprintf(d->metrics.scanner_last_exit,
	    sizeof(d->metrics.scanner_last_exit), "%s", d->pool.last_exit);
	d->metrics.scanner_last_exit_time = d->pool.last_exit_time;
	d->metrics.engine_generation = d->pool.generation;
	if (d->pipe->state.outbox != NULL) {
		d->metrics.outbox_pending = shipper_drained(
		    d->pipe->state.shipper) ? 0 :
		    outbox_pending(d->pipe->state.outbox);
		d->metrics.outbox_dropped = outbox_dropped(d->pipe->state.outbox);
	}
	d->metrics.shipped = shipper_shipped(d->pipe->state.shipper);
	d->metrics.database_up = shipper_up(d->pipe->state.shipper);
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
	log_fatal_fd(-1);
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
	if (!hint && t < d->layout.next_ms && !pipeline_batching(d->pipe))
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

/*
 * The scanner parent is gone: the pipeline scans again what it was
 * scanning. Before the first one ever came up there is nothing to go on
 * with.
 */
static void
scanner_lost(struct holdscand *d, const char *why)
{
	if (!d->pool.ever_ready && d->pool.start_error[0] != '\0')
		hs_fatalx(EX_SOFTWARE, "%s (%s while starting; cannot scan "
		    "without it)", d->pool.start_error, why);
	if (!d->pool.ever_ready)
		hs_fatalx(EX_SOFTWARE, "%s while starting; cannot scan without "
		    "it (see the lines above for its reason)", why);
	pipeline_scanner_lost(d->pipe, why);
}

static void
handle_worker(struct holdscand *d, struct worker *w)
{
	struct wire_result res;
	enum pool_event	 ev;
	char		 why[256];
	void		*job;
	pid_t		 pid;
	int		 memfd;

	pid = w->pid;		/* w may be gone after the call */
	ev = pool_handle_worker(&d->pool, w, &res, &memfd, &job, why,
	    sizeof(why));
	if (ev == POOL_RESULT && job != NULL) {
		/* A worker whose result is refused is not trusted again. */
		if (pipeline_scanned(d->pipe, job, &res, memfd) < 0)
			pool_kill_worker(&d->pool, pid, "its result was "
			    "refused; it may have been taken over");
	} else if (ev == POOL_FAILED && job != NULL)
		pipeline_scan_failed(d->pipe, job, why);
	else if (ev == POOL_FAILED)
		hs_debug("%s", why);
	else if (ev == POOL_LOST)
		scanner_lost(d, why);
	if (memfd >= 0)
		(void)close(memfd);
}

/* The state environment is open: a request can be carried out. */
static bool
state_usable(const struct pipeline *p)
{
	return (!p->state_starting && !p->state_broken &&
	    p->state.quarantine != NULL);
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

		/* daemon_timeout: one round may take this long (watchdog()). */
		(void)alarm((unsigned)((d->conf->daemon_timeout + 999) / 1000));
		t = now_ms();
		if (d->pipe->stopping && d->pipe->in_flight == 0)
			break;
		/* Not before the set-aside list is known (pipeline_start()). */
		if (t >= d->next_rescan_ms && !d->pipe->state_starting) {
			watch_rescan(d->watch);
			d->next_rescan_ms = t + d->conf->rescan_interval;
		}
		follow_layout(d, t);
		scanner_timeout = pool_tick(&d->pool);
		pipeline_tick(d->pipe, t);
		/* At once when the scanners come or go: status says so. */
		if (t >= d->next_metrics_ms ||
		    d->metrics.scanners_up != (uint32_t)d->pool.ready) {
			(void)pipeline_check_state(d->pipe);
			write_metrics(d);
			d->next_metrics_ms = t + METRICS_EVERY_MS;
		}

		/* Sleep until something happens or a timer is due. */
		timeout = POLL_MAX_MS;
		timeout = min_timeout(timeout, watch_tick(d->watch, now_ms()));
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		timeout = min_timeout(timeout, pool_next_deadline_ms(&d->pool, &ts));
		timeout = min_timeout(timeout, notify_tick(d->notify));
		timeout = min_timeout(timeout, scanner_timeout);
		timeout = min_timeout(timeout, pipeline_timeout(d->pipe,
		    now_ms()));

		n = 6 + d->pool.nworkers;
		if (n > cap) {
			cap = n;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			wv = xreallocarray(wv, cap, sizeof(*wv));
		}
		pfd[0].fd = d->sigfd;
		pfd[1].fd = watch_fd(d->watch);
		pfd[2].fd = d->pool.ctl;	/* -1 (ignored) while it is down */
		pfd[3].fd = d->pool.sup;
		/* A request waits for the state environment (not polled). */
		pfd[4].fd = d->requests != NULL && state_usable(d->pipe) ?
		    requests_fd(d->requests) : -1;
		pfd[5].fd = d->control != NULL ? control_fd(d->control) : -1;
		n = 6;
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
		if (pfd[4].fd >= 0 && (pfd[4].revents & POLLIN))
			requests_run(d->requests, &d->pipe->commit,
			    d->pipe->state.quarantine, d->pipe->state.msglog,
			    d->conf);
		if (pfd[5].fd >= 0 && (pfd[5].revents & POLLIN))
			control_run(d->control, &d->pipe->commit,
			    state_usable(d->pipe) ? d->pipe->state.quarantine :
			    NULL, d->pipe->state.msglog, d->conf);
		/* Worker sockets: the pool may free workers as we go, so check by pid. */
		for (i = 6; i < n; i++) {
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
			pipeline_scan_failed(d->pipe, job, "over scan_time_limit");
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
 * the event loop has not come round for daemon_timeout, say why and
 * exit for the service manager to restart us. The line goes where the
 * others go (log_signal_fatal(): a log_file too, which syslog(3) alone
 * missed; syslog(3) itself is not async-signal-safe, but this is the way
 * out, and the loop is known stuck elsewhere).
 */
static void
watchdog(int sig)
{
	static const char msg[] = "the event loop has not come round "
	    "for daemon_timeout; "
	    "a process that died inside the state environment may hold a "
	    "Berkeley DB mutex: exiting so that a restart recovers it";

	(void)sig;
	/* To the log file too (it went only to syslog or stderr). */
	log_signal_fatal(msg);
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
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct holdscand d;
	char		*errors = NULL, *error = NULL;
	bool		 print_conf = false, reload = false, test = false;
	size_t		 nworkers;
	int		 ch;

	memset(&d, 0, sizeof(d));
	d.config_path = CONFIG_DEFAULT_FILE;
	d.pidfd = d.sigfd = d.qdirfd = d.ready_fd = d.instance_fd = -1;
	d.reload_fd = -1;
	while ((ch = getopt_long(argc, argv, "c:fhntvV", longopts, NULL)) != -1) {
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
		case 't':
			test = true;
			break;
		case 'v':
			d.verbose++;
			break;
		case 'h':
			usage_to(stdout, 0);
			break;
		case 'V':
			(void)printf("holdscand %s\n", HS_VERSION);
			return (0);
		default:
			usage();
		}
	}
	if (optind + 1 == argc && strcmp(argv[optind], "reload") == 0 &&
	    !print_conf && !test && !d.foreground)
		reload = true;
	else if (optind != argc || (print_conf && test))
		usage();
	log_open("holdscand", d.foreground || print_conf || test || reload ?
	    LOG_DEST_STDERR :
	    LOG_DEST_SYSLOG, LOG_MAIL, d.verbose);
	/* Before it is read: only root may change what we run as root by. */
	if (config_file_safe(d.config_path, &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);
	if (print_conf || test)
		return (print_config(d.config_path, test));
	if (reload)
		return (request_reload(d.config_path));
	if ((d.conf = load_config(d.config_path, &errors)) == NULL) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    d.config_path);
	}
	log_open(d.conf->syslog_name, d.foreground ? LOG_DEST_STDERR :
	    LOG_DEST_SYSLOG, config_syslog_facility(d.conf),
	    d.verbose || d.conf->verbose);
	/* Until it detaches, a start that fails says why on the terminal too. */
	if (!d.foreground)
		log_fatal_fd(STDERR_FILENO);
	if (queue_layout_load(d.conf->postfix_config_directory, NULL, &d.ql,
	    &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", queue_layout_fix(errors,
		    d.config_path));
	if (!d.foreground && d.conf->log_file[0] != '\0' &&
	    log_open_file(d.conf->syslog_name, d.conf->log_file,
	    d.verbose || d.conf->verbose, d.ql->owner_uid, d.ql->owner_gid) < 0)
		hs_fatal(EX_CANTCREAT, "log_file %s", d.conf->log_file);
	policy_from_config(&d.policy, d.conf);
	if (d.conf->scan_header_name[0] != '\0')
		d.unscanned_header = xasprintf("%s: not scanned by holdscan %s on %s",
		    d.conf->scan_header_name, HS_VERSION, d.ql->myhostname);
	resolve_worker_user(&d);
	check_plugin_sections(&d);
	ensure_dir(&d, d.conf->state_directory, "state_directory");
	ensure_region_dir(&d);
	ensure_dir(&d, d.conf->quarantine_directory, "quarantine_directory");
	ensure_scanner_tempdir(&d);
	ensure_queue_subdirs(&d);
	if (notify_new(d.conf, d.ql, &d.notify, &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);

	if (!d.foreground)
		d.ready_fd = daemonize(d.conf->log_file[0] ? d.conf->log_file :
		    "the mail log");
	write_pidfile(&d);
	open_reload_status(&d);
	setup_signals(&d);
	nworkers = workers_wanted(d.conf);
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
	/* As root: the socket's directory may be root's (/run/holdscan). */
	if (control_open(d.conf, d.ql->owner_uid, d.ql->owner_gid, &d.control,
	    &error) < 0) {
		hs_warnx("%s; the web console cannot reach holdscand", error);
		free(error);
		error = NULL;
	}
	drop_to_mail_owner(&d);
	/*
	 * Not dumpable (setuid made it so): the mail owner's other
	 * processes must not ptrace us or read our memory through /proc.
	 */
	setup_watchdog();	/* after the scanners are forked: theirs is default */

	open_state(&d);
	d.metrics.started = time(NULL);
	hs_info("started: queue %s, %zu workers as %s, batches of up to %ld "
	    "messages%s", d.ql->queue_dir, nworkers, d.setup.user,
	    d.conf->batch_max_messages, d.pipe->state_starting ? "; nothing is "
	    "claimed until the state environment opens" : "");
	d.next_rescan_ms = now_ms() + d.conf->rescan_interval;
	if (d.conf->database != NULL && d.conf->database[0] != '\0' &&
	    d.ql->myhostname != NULL && requests_start(d.conf->database,
	    d.ql->myhostname, &d.requests, &error) < 0) {
		hs_warnx("%s; requests from other hosts are not carried out",
		    error);
		free(error);
	}
	event_loop(&d);
	requests_stop(&d.requests);
	control_close(&d.control);

	write_metrics(&d);
	notify_drain(d.notify, 10000);
	notify_free(&d.notify);
	pool_stop(&d.pool);
	pipeline_free(&d.pipe);
	watch_close(&d.watch);
	if (d.instance_fd >= 0)
		(void)close(d.instance_fd);	/* the last: our lock on the queue */
	policy_clear(&d.policy);
	free(d.unscanned_header);
	queue_layout_free(&d.ql);
	hs_info("stopped");
	config_free(&d.pending);
	config_free(&d.conf);
	free((char *)d.setup.program);
	free((char *)d.setup.log_ident);
	return (0);
}
