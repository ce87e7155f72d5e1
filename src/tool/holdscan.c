/*
 * NAME
 *	holdscan - holdscan administration (1)
 * SYNOPSIS
 *	holdscan [-c config_file] command [arguments]
 * DESCRIPTION
 *	One program for the admin: status, check-config, scan, and the
 *	quarantine commands (list, show, release, delete, expire, check).
 *	Commands are a table: name (and second word), arguments, summary,
 *	handler. Run as root, it drops to Postfix's mail_owner before it
 *	opens the state environment or touches the queue, so that every
 *	file it creates belongs to the daemon. It loads no plugin: "scan"
 *	and check-config run the scanner program (holdscan-scanner) for
 *	that, as worker_user when run as root, because plugins parse
 *	untrusted content.
 *
 *	Every command that opens the quarantine first finishes releases
 *	that a crash interrupted (commit_recover_releases). Releases,
 *	deletions and expiry are logged to syslog (holdscan[pid]) as well as
 *	reported on the standard output.
 *
 *	Output fits a terminal (lines cut to its width, control characters
 *	shown as '?') and pipes (whole lines); --json gives the same as JSON.
 *
 *	This program must never modify the queue except through the same
 *	commit path holdscand uses, never print message bodies unless asked
 *	to (quarantine show --body), and never run plugins as root.
 * DIAGNOSTICS
 *	Errors name the problem on stderr; exit status 0 success, 1 a
 *	problem found (check-config, quarantine check) or an operation
 *	failed, 2 usage, sysexits(3) codes for configuration and
 *	environment errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "state/aside.h"
#include "common/buf.h"
#include "tool/checkconf.h"
#include "commit/commit.h"
#include "common/config.h"
#include "state/journal.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "daemon/notify.h"
#include "common/policy.h"
#include "quarantine/quarantine.h"
#include "common/queue.h"
#include "commit/release.h"
#include "common/scanprog.h"
#include "state/statedb.h"
#include "common/wire.h"
#include "common/xalloc.h"

#define SCAN_FILE_MAX	(256L * 1024 * 1024)

struct tool {
	const char	*config_path;
	struct hs_config *conf;
	struct queue_layout *ql;
	bool		 json;
	bool		 tty;		/* stdout is a terminal */
	int		 width;		/* its width; 0: do not cut lines */
	uid_t		 invoker;	/* real uid at start, for the log */
	/* the state, once opened */
	int		 qdirfd;
	struct statedb	*sdb;
	struct journal	*journal;
	struct quarantine *q;
	struct commit_ctx commit;
	bool		 have_commit;
	const struct command *cmd;	/* the command being run */
};

struct command {
	const char	*name;
	const char	*sub;		/* second word, or NULL */
	const char	*args;
	const char	*summary;
	int		 (*run)(struct tool *, int, char **);
	bool		 state;		/* opens the state environment */
};

static int cmd_status(struct tool *, int, char **);
static int cmd_check_config(struct tool *, int, char **);
static int cmd_scan(struct tool *, int, char **);
static int cmd_q_list(struct tool *, int, char **);
static int cmd_q_show(struct tool *, int, char **);
static int cmd_q_release(struct tool *, int, char **);
static int cmd_q_delete(struct tool *, int, char **);
static int cmd_q_expire(struct tool *, int, char **);
static int cmd_q_check(struct tool *, int, char **);

static const struct command commands[] = {
	{ "status", NULL, "[--json]", "daemon, queue depth, rates, engine, "
	    "set-aside and quarantined messages, last error", cmd_status, true },
	{ "check-config", NULL, "", "check holdscan.conf and the Postfix side",
	    cmd_check_config, false },
	{ "scan", NULL, "[--sender ADDR] [--rcpt ADDR]... FILE.eml",
	    "run the configured scanners and policy on a message file; "
	    "changes nothing", cmd_scan, false },
	{ "quarantine", "list", "[--since T] [--until T] [--recipient R] "
	    "[--sender S] [--reason X] [--state S] [--json]",
	    "quarantined messages, oldest first", cmd_q_list, true },
	{ "quarantine", "show", "[--body] [--json] ID",
	    "envelope, headers and reason of one message", cmd_q_show, true },
	{ "quarantine", "release", "ID... [--to ADDR...] [--again]",
	    "send to incoming, unscanned, exactly once (--to: other "
	    "recipients)", cmd_q_release, true },
	{ "quarantine", "delete", "ID...", "remove messages from the quarantine",
	    cmd_q_delete, true },
	{ "quarantine", "expire", "--older-than DURATION",
	    "remove messages quarantined longer ago (cron, systemd timer)",
	    cmd_q_expire, true },
	{ "quarantine", "check", "", "compare the files with the index; "
	    "repair what a crash left", cmd_q_check, true },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
usage(void)
{
	size_t	 i;

	(void)fprintf(stderr, "usage: holdscan [-c config_file] command "
	    "[arguments]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		(void)fprintf(stderr, "  %s%s%s%s%s\n      %s\n",
		    commands[i].name, commands[i].sub ? " " : "",
		    commands[i].sub ? commands[i].sub : "",
		    commands[i].args[0] ? " " : "", commands[i].args,
		    commands[i].summary);
	(void)fprintf(stderr, "\nT: 2026-11-23, \"2026-11-23 10:15\", 2h or 7d "
	    "(ago), @EPOCH; DURATION: 30d, 12h, 90m\n");
	exit(2);
}

static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, "holdscan: what went wrong"; returns 1. */
static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	(void)fprintf(stderr, "holdscan: ");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return (1);
}

static void
bad_usage(const struct tool *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/*
 * A usage error in a command: what is wrong, then that command's usage
 * (not the whole list); exit 2.
 */
static void
bad_usage(const struct tool *t, const char *fmt, ...)
{
	const struct command *c = t->cmd;
	va_list	 ap;

	(void)fprintf(stderr, "holdscan: %s%s%s: ", c->name, c->sub ? " " : "",
	    c->sub ? c->sub : "");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fprintf(stderr, "\nusage: holdscan [-c config_file] %s%s%s%s%s\n",
	    c->name, c->sub ? " " : "", c->sub ? c->sub : "",
	    c->args[0] ? " " : "", c->args);
	exit(2);
}

/* An argument no command takes: an unknown option, or one too many. */
static void
bad_arg(const struct tool *t, const char *arg) __attribute__((noreturn));

static void
bad_arg(const struct tool *t, const char *arg)
{
	if (arg[0] == '-')
		bad_usage(t, "unknown option \"%s\"", arg);
	bad_usage(t, "unexpected argument \"%s\"", arg);
}

/*
 * check-config: the plugin sections are the scanner program's to check,
 * as worker_user when we are root. EX_CONFIG with every error of the
 * file in *errors_r (file order, as the scanner program words them);
 * else 0, or -1 with why it could not be asked in *errors_r.
 */
static int
check_plugin_sections(struct tool *t, const struct hs_config *conf,
    char **errors_r)
{
	struct queue_layout *ql = NULL;
	struct scanprog	 sp;
	char		*why = NULL;
	uid_t		 owner = (uid_t)-1;
	int		 rc;

	memset(&sp, 0, sizeof(sp));
	sp.program = conf->scanner_program;
	sp.config_path = t->config_path;
	sp.config_text = conf->text;
	sp.ident = "holdscan";
	if (geteuid() == 0 && queue_layout_load(conf->postfix_config_directory,
	    NULL, &ql, &why) == 0)
		owner = ql->owner_uid;
	free(why);
	why = NULL;
	queue_layout_free(&ql);
	if (scanprog_user(&sp, conf->worker_user, owner, errors_r) < 0)
		return (-1);
	if ((rc = scanprog_check(&sp, false, errors_r)) == 0 || rc == 1) {
		free(*errors_r);
		*errors_r = NULL;
		return (0);
	}
	return (rc == EX_CONFIG ? EX_CONFIG : -1);
}

/*
 * The configuration, plugin sections unchecked: this program loads no
 * plugin. check-config reports the plugin sections' errors too, with
 * the others, as the scanner program finds them.
 */
static void
load(struct tool *t)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *all = NULL;
	int		 rc;

	if (t->cmd->run != cmd_check_config) {
		if (config_load(t->config_path, NULL, NULL, &t->conf,
		    &errors) < 0) {
			(void)fprintf(stderr, "%s\n", errors);
			exit(EX_CONFIG);
		}
	} else {
		rc = config_load_anyway(t->config_path, &conf, &errors);
		if (conf != NULL && scanprog_needed(conf)) {
			switch (check_plugin_sections(t, conf, &all)) {
			case EX_CONFIG:
				free(errors);
				errors = all;
				rc = -1;
				break;
			case -1:
				/* worker_user and the program: checkconf says why */
				free(all);
				break;
			default:
				break;
			}
		}
		if (rc < 0) {
			(void)fprintf(stderr, "%s\n", errors);
			exit(EX_CONFIG);
		}
		t->conf = conf;
	}
	if (queue_layout_load(t->conf->postfix_config_directory, NULL, &t->ql,
	    &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);
}

/* As root, become the mail owner before touching the state environment. */
static void
become_mail_owner(struct tool *t)
{
	gid_t	 gid = t->ql->owner_gid;

	if (geteuid() != 0)
		return;
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 ||
	    setuid(t->ql->owner_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot change to %s", t->ql->mail_owner);
}

/* An audit line in the mail log: who did what to the quarantine. */
static void
audit(struct tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
audit(struct tool *t, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mailhdr_sanitize(line, strlen(line));
	openlog("holdscan", LOG_PID, config_syslog_facility(t->conf));
	syslog(LOG_INFO, "%s uid=%lu", line, (unsigned long)t->invoker);
	closelog();
}

/*
 * Open the state environment, the quarantine and holdscan's directories
 * in the queue as the mail owner, and finish interrupted releases.
 */
static void
open_state(struct tool *t)
{
	char	 rel[QUEUE_PATH_SIZE], *error = NULL;

	if (geteuid() != 0 && geteuid() != t->ql->owner_uid)
		hs_fatalx(EX_NOPERM, "run this as root or as %s (Postfix's "
		    "mail_owner)", t->ql->mail_owner);
	if ((t->qdirfd = open(t->ql->queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "queue_directory %s", t->ql->queue_dir);
	/* The queue directory is root's: holdscan's own must exist first. */
	(void)snprintf(rel, sizeof(rel), "%s/release",
	    t->conf->holdscan_queue_subdir);
	if (geteuid() == 0 && queue_mkdirs(t->ql, t->qdirfd, rel) < 0)
		hs_fatal(EX_CANTCREAT, "%s/%s", t->ql->queue_dir, rel);
	become_mail_owner(t);
	if (statedb_open(t->conf->state_directory, &t->sdb, &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
	if (t->sdb->logs_lost)
		hs_fatalx(EX_UNAVAILABLE, "the log files of the state environment "
		    "%s are gone; holdscand repairs it at its next start (see "
		    "RECOVERY in holdscand(8))", t->conf->state_directory);
	if (journal_open(t->sdb, &t->journal, &error) < 0 ||
	    quarantine_open(t->conf, t->sdb, t->ql->owner_uid,
	    t->ql->owner_gid, &t->q, &error) < 0 ||
	    commit_init(&t->commit, t->ql, t->conf, t->qdirfd, t->journal, NULL,
	    &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
	t->have_commit = true;
	t->commit.quarantine = t->q;
	if (commit_recover_releases(&t->commit, &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
}

static void
close_state(struct tool *t)
{
	if (t->have_commit)
		commit_clear(&t->commit);
	quarantine_close(&t->q);
	journal_close(&t->journal);
	statedb_close(&t->sdb);
	if (t->qdirfd >= 0)
		(void)close(t->qdirfd);
	t->qdirfd = -1;
}

/* --- output helpers -------------------------------------------------------- */

/* A line: control characters shown as '?'; on a terminal, cut to its width. */
static void
put_line(const struct tool *t, const char *s, size_t len)
{
	char	*line = xmemdup(s, len + 1);
	size_t	 i, cols = 0;

	line[len] = '\0';
	mailhdr_sanitize(line, len);
	if (t->tty && t->width > 0) {
		for (i = 0; i < len; i++) {
			if (((unsigned char)line[i] & 0xc0) == 0x80)
				continue;	/* UTF-8 continuation: same column */
			if (cols++ == (size_t)t->width) {
				line[i] = '\0';
				break;
			}
		}
	}
	(void)printf("%s\n", line);
	free(line);
}

/* JSON string: bytes that are not UTF-8 become \u00XX (as Latin-1). */
static void
json_string(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 i, n;

	(void)fputc('"', fp);
	while (*p) {
		n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (*p == '"' || *p == '\\')
			(void)fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			(void)fprintf(fp, "\\u%04x", *p);
		else
			(void)fwrite(p, 1, n, fp);
		p += n ? n : 1;
	}
	(void)fputc('"', fp);
}

static void
fmt_time(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	if (t == 0) {
		(void)snprintf(buf, size, "-");
		return;
	}
	(void)localtime_r(&t, &tm);
	(void)strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
human_size(uint64_t n, char *buf, size_t size)
{
	if (n < 1024)
		(void)snprintf(buf, size, "%" PRIu64, n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, size, "%.1fK", n / 1024.0);
	else if (n < 1024ULL * 1024 * 1024)
		(void)snprintf(buf, size, "%.1fM", n / 1048576.0);
	else
		(void)snprintf(buf, size, "%.1fG", n / 1073741824.0);
}

/*
 * A point in time: @EPOCH, a duration ago ("2h", "7d"), "now", "today",
 * "yesterday", or a local date "YYYY-MM-DD[ HH:MM[:SS]]" ('T' too).
 */
static int
parse_when(const char *s, time_t *t_r)
{
	static const char *const formats[] = { "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
	    "%Y-%m-%d", NULL };
	struct tm	 tm;
	const char	*end;
	time_t		 now = time(NULL);
	long		 ms;
	size_t		 i;
	char		*e;

	if (s[0] == '@') {
		errno = 0;
		*t_r = (time_t)strtoll(s + 1, &e, 10);
		return (errno || e == s + 1 || *e != '\0' ? -1 : 0);
	}
	if (strcmp(s, "now") == 0) {
		*t_r = now;
		return (0);
	}
	if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
		(void)localtime_r(&now, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		if (s[0] == 'y')
			tm.tm_mday--;
		*t_r = mktime(&tm);
		return (0);
	}
	if (config_parse_time(s, &ms) == 0) {
		*t_r = now - ms / 1000;
		return (0);
	}
	for (i = 0; formats[i] != NULL; i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, formats[i], &tm)) != NULL && *end == '\0') {
			tm.tm_isdst = -1;
			*t_r = mktime(&tm);
			return (0);
		}
	}
	return (-1);
}

/*
 * Options of the quarantine commands: "--name value" or "--name=value".
 * Returns the value when argv[*i] is the option name, else NULL.
 */
static const char *
opt_value(const struct tool *t, int argc, char **argv, int *i,
    const char *name)
{
	size_t	 n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return (NULL);
	if (argv[*i][n] == '=')
		return (argv[*i] + n + 1);
	if (argv[*i][n] != '\0')
		return (NULL);
	if (*i + 1 >= argc)
		bad_usage(t, "%s needs a value", name);
	return (argv[++*i]);
}

static time_t
when_arg(const struct tool *t, const char *opt, const char *v)
{
	time_t	 when;

	if (parse_when(v, &when) < 0)
		bad_usage(t, "%s %s: not a time (use 2026-11-23, \"2026-11-23 "
		    "10:15\", 2h, 7d, @EPOCH)", opt, v);
	return (when);
}

/* --- status ------------------------------------------------------------------ */

/* The daemon holds an exclusive flock on its pid file while it runs. */
static long
daemon_pid(const struct tool *t)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;
	long	 pid = 0;

	if ((fd = open(t->conf->pid_file, O_RDONLY | O_CLOEXEC)) < 0)
		return (0);
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		(void)close(fd);
		return (0);	/* nobody holds it: not running */
	}
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	(void)close(fd);
	return (pid > 0 ? pid : -1);
}

/* "name value" or "name{labels} value" lines of the metrics file. */
static double
metric(const char *text, const char *name)
{
	const char	*p = text;
	size_t		 len = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[len] == ' ' ||
		    p[len] == '{')) {
			const char	*v = strchr(p, ' ');

			if (p[len] == '{')
				v = strstr(p, "} ");
			return (v ? strtod(v + (*v == '}' ? 2 : 1), NULL) : 0);
		}
		p += len;
	}
	return (0);
}

static char *
read_small_file(const char *path)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[4096];
	size_t		 n;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL)
		return (NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b.len < 1 << 20)
		buf_append(&b, chunk, n);
	(void)fclose(fp);
	buf_reserve(&b, 0);
	return (buf_steal(&b, NULL));
}

/* The value of label name in the first line of metric m: info="...". */
static void
metric_label(const char *text, const char *m, const char *label, char *out,
    size_t size)
{
	const char	*p = strstr(text, m), *q;
	char		 key[64];
	size_t		 i = 0;

	out[0] = '\0';
	(void)snprintf(key, sizeof(key), "%s=\"", label);
	while (p != NULL && p != text && p[-1] != '\n')
		p = strstr(p + 1, m);
	if (p == NULL || (q = strstr(p, key)) == NULL)
		return;
	for (q += strlen(key); *q && *q != '"' && i + 1 < size; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		out[i++] = *q;
	}
	out[i] = '\0';
}


/* "5d", "3h20m", "42s" */
static void
duration_text(long long s, char *buf, size_t size)
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

static const char *
expiry_action_name(const struct hs_config *conf)
{
	switch (conf->set_aside_expiry_action) {
	case EXPIRE_BOUNCE:
		return ("bounce");
	case EXPIRE_DELIVER_TAGGED:
		return ("deliver-tagged");
	case EXPIRE_QUARANTINE:
	default:
		return ("quarantine");
	}
}

/* The second line of a set-aside message in status: what happens when. */
static void
aside_plan(const struct tool *t, const struct aside_entry *e, time_t now,
    char *buf, size_t size)
{
	long		 lifetime = t->conf->set_aside_lifetime / 1000;
	time_t		 ends = aside_expires(e, lifetime);
	char		 age[32], left[32], when[32];
	struct tm	 tm;
	size_t		 len;

	duration_text((long long)(now - e->when), age, sizeof(age));
	(void)snprintf(buf, size, "age %s, %u attempt%s; ", age, e->attempts,
	    e->attempts == 1 ? "" : "s");
	len = strlen(buf);
	if (e->phase == ASIDE_BOUNCE && e->qid[0] != '\0') {
		(void)snprintf(buf + len, size - len, "expired: in the "
		    "quarantine as %s, the notice to the sender is pending",
		    e->qid);
		return;
	}
	if (e->phase == ASIDE_BOUNCE) {
		(void)snprintf(buf + len, size - len, "expired: being "
		    "quarantined, then bounced");
		return;
	}
	if (!aside_failed(e)) {
		(void)snprintf(buf + len, size - len, "held by the policy: "
		    "yours to release or delete");
		return;
	}
	if (t->conf->set_aside_rescan) {
		(void)snprintf(buf + len, size - len, "scanned again when the "
		    "scanners change, ");
		len = strlen(buf);
	}
	if (ends == 0) {
		(void)snprintf(buf + len, size - len, "kept until you act");
		return;
	}
	(void)localtime_r(&ends, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	duration_text((long long)(ends - now), left, sizeof(left));
	(void)snprintf(buf + len, size - len, "%s at %s (in %s)",
	    expiry_action_name(t->conf), when, ends > now ? left : "0s");
}

/*
 * "up", or "DOWN for 12 s: no mail is taken from hold", and after a
 * restart ", restarted 3 times (last: scanner parent 4712 killed by
 * signal 9 (Killed) at 10:15:02)".
 */
static void
scanners_line(const char *m, const char *last_exit, char *out, size_t size)
{
	double		 since, restarts, when;
	char		 at[32] = "";
	size_t		 len;
	time_t		 t;
	struct tm	 tm;

	if (m == NULL) {
		(void)snprintf(out, size, "unknown");
		return;
	}
	since = metric(m, "holdscan_scanners_since_seconds");
	restarts = metric(m, "holdscan_scanner_restarts_total");
	when = metric(m, "holdscan_scanner_last_exit_time_seconds");
	if (metric(m, "holdscan_scanners_up") > 0)
		(void)snprintf(out, size, "up");
	else
		(void)snprintf(out, size, "DOWN for %.0f s: no mail is taken "
		    "from hold", since > 0 ? (double)time(NULL) - since : 0);
	len = strlen(out);
	if (restarts > 0 && len < size) {
		t = (time_t)when;
		if (when > 0 && localtime_r(&t, &tm) != NULL)
			(void)strftime(at, sizeof(at), " at %H:%M:%S", &tm);
		(void)snprintf(out + len, size - len, ", restarted %.0f time%s "
		    "(last: %s%s)", restarts, restarts == 1 ? "" : "s",
		    last_exit[0] ? last_exit : "unknown", at);
	}
}

static int
cmd_status(struct tool *t, int argc, char **argv)
{
	struct aside_entry *v = NULL;
	struct statedb	*sdb = NULL;
	struct aside	*a = NULL;
	struct quarantine *q = NULL;
	struct stat	 st;
	char		*m, *error = NULL, *qerror = NULL, engine[480], lasterr[512];
	char		 scanexit[160], scanners[400];
	char		 path[QUEUE_PATH_SIZE + 1024], sz[3][16];
	size_t		 n = 0, i, held = 0, owed = 0, qn[3] = { 0, 0, 0 };
	time_t		 now = time(NULL);
	uint64_t	 qb[3] = { 0, 0, 0 };
	long		 pid;
	double		 up;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		t->json = true;
	else if (argc != 1)
		bad_arg(t, strcmp(argv[1], "--json") == 0 ? argv[2] : argv[1]);
	pid = daemon_pid(t);
	become_mail_owner(t);
	m = read_small_file(t->conf->metrics_file);
	if (statedb_open(t->conf->state_directory, &sdb, &error) < 0 ||
	    aside_open(sdb, &a, &error) < 0 || aside_list(a, &v, &n, &error) < 0) {
		(void)fprintf(stderr, "holdscan: %s\n", error);
		aside_close(&a);
		statedb_close(&sdb);
		free(m);
		return (1);
	}
	aside_close(&a);
	if (quarantine_open(t->conf, sdb, t->ql->owner_uid, t->ql->owner_gid, &q,
	    &qerror) == 0 && quarantine_counts(q, qn, qb, &qerror) == 0) {
		free(qerror);
		qerror = NULL;
	}
	quarantine_close(&q);
	statedb_close(&sdb);
	/*
	 * Only entries still in hold count (the admin may have acted on
	 * them; holdscand forgets them at its next pass), first; then those
	 * expired with bounce whose notice to the sender is still owed.
	 */
	for (i = 0; i < n; i++) {
		char	 rel[QUEUE_PATH_SIZE];

		v[i].reason[sizeof(v[i].reason) - 1] = '\0';
		if (queue_path(t->ql, QUEUE_HOLD, v[i].id, rel) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", t->ql->queue_dir,
		    rel) < sizeof(path) && lstat(path, &st) == 0 &&
		    (uint64_t)st.st_ino == v[i].ino) {
			struct aside_entry tmp = v[held];

			v[held++] = v[i];
			v[i] = tmp;
		}
	}
	for (i = held; i < n; i++) {
		if (v[i].phase == ASIDE_BOUNCE) {
			struct aside_entry tmp = v[held + owed];

			v[held + owed++] = v[i];
			v[i] = tmp;
		}
	}
	engine[0] = lasterr[0] = scanexit[0] = '\0';
	if (m != NULL) {
		metric_label(m, "holdscan_engine_info", "info", engine,
		    sizeof(engine));
		metric_label(m, "holdscan_last_error_time_seconds", "error",
		    lasterr, sizeof(lasterr));
		metric_label(m, "holdscan_scanner_last_exit_time_seconds", "exit",
		    scanexit, sizeof(scanexit));
	}
	scanners_line(m, scanexit, scanners, sizeof(scanners));
	up = m ? metric(m, "holdscan_start_time_seconds") : 0;
	if (t->json) {
		(void)printf("{\"running\":%s,\"pid\":%ld,", pid > 0 ? "true" :
		    "false", pid > 0 ? pid : 0);
		(void)printf("\"uptime_seconds\":%.0f,", up > 0 && pid > 0 ?
		    (double)time(NULL) - up : 0);
		(void)printf("\"hold_queue_depth\":%.0f,\"in_flight\":%.0f,",
		    m ? metric(m, "holdscan_hold_queue_depth") : 0,
		    m ? metric(m, "holdscan_in_flight") : 0);
		(void)printf("\"claimed_total\":%.0f,\"batches_total\":%.0f,",
		    m ? metric(m, "holdscan_claimed_total") : 0,
		    m ? metric(m, "holdscan_batches_total") : 0);
		(void)printf("\"scanners\":{\"up\":%s,\"since\":%.0f,"
		    "\"restarts\":%.0f,\"last_exit\":", m != NULL && pid > 0 &&
		    metric(m, "holdscan_scanners_up") > 0 ? "true" : "false",
		    m ? metric(m, "holdscan_scanners_since_seconds") : 0,
		    m ? metric(m, "holdscan_scanner_restarts_total") : 0);
		json_string(stdout, scanexit);
		(void)printf(",\"last_exit_time\":%.0f},",
		    m ? metric(m, "holdscan_scanner_last_exit_time_seconds") : 0);
		(void)printf("\"engine\":");
		json_string(stdout, engine);
		(void)printf(",\"last_error\":");
		json_string(stdout, lasterr);
		(void)printf(",\"set_aside\":[");
		for (i = 0; i < held + owed; i++) {
			const struct aside_entry *e = &v[i];
			bool	 failed = aside_failed(e);

			(void)printf("%s{\"queue_id\":", i ? "," : "");
			json_string(stdout, e->id);
			(void)printf(",\"since\":%lld,\"last_attempt\":%lld,"
			    "\"attempts\":%u,\"age_seconds\":%lld,\"in_hold\":%s,"
			    "\"state\":\"%s\",\"expires\":%lld,"
			    "\"expiry_action\":\"%s\",\"rescan\":%s,\"reason\":",
			    (long long)e->when, (long long)(e->last ? e->last :
			    e->when), e->attempts, (long long)(now - e->when),
			    i < held ? "true" : "false",
			    e->phase == ASIDE_BOUNCE ? "bouncing" : failed ?
			    "scan-failed" : "held-by-policy",
			    (long long)aside_expires(e,
			    t->conf->set_aside_lifetime / 1000),
			    failed ? expiry_action_name(t->conf) : "",
			    failed && e->phase != ASIDE_BOUNCE &&
			    t->conf->set_aside_rescan ? "true" : "false");
			json_string(stdout, e->reason);
			(void)printf("}");
		}
		(void)printf("],\"quarantine\":{\"held\":%zu,\"released\":%zu,"
		    "\"deleted\":%zu,\"held_bytes\":%" PRIu64 ",\"released_bytes\":%"
		    PRIu64 ",\"error\":", qn[QSTATE_HELD], qn[QSTATE_RELEASED],
		    qn[QSTATE_DELETED], qb[QSTATE_HELD], qb[QSTATE_RELEASED]);
		json_string(stdout, qerror ? qerror : "");
		(void)printf("}}\n");
	} else {
		if (pid > 0)
			(void)printf("holdscand:        running, pid %ld, up %.0f s\n",
			    pid, up > 0 ? (double)time(NULL) - up : 0);
		else
			(void)printf("holdscand:        not running\n");
		if (m != NULL) {
			(void)printf("hold queue:       %.0f waiting, %.0f in flight\n",
			    metric(m, "holdscan_hold_queue_depth"),
			    metric(m, "holdscan_in_flight"));
			(void)printf("processed:        %.0f messages in %.0f "
			    "batches\n", metric(m, "holdscan_claimed_total"),
			    metric(m, "holdscan_batches_total"));
			if (pid > 0)
				(void)printf("scanners:         %s\n", scanners);
			(void)printf("engine:           %s\n", engine[0] ? engine :
			    "(no scanners)");
			if (lasterr[0])
				(void)printf("last error:       %s\n", lasterr);
		}
		if (qerror != NULL) {
			(void)printf("quarantine:       unavailable: %s\n", qerror);
		} else {
			for (i = 0; i < 3; i++)
				human_size(qb[i], sz[i], sizeof(sz[i]));
			(void)printf("quarantine:       %zu held (%s), %zu released "
			    "(%s), %zu deleted\n", qn[QSTATE_HELD], sz[0],
			    qn[QSTATE_RELEASED], sz[1], qn[QSTATE_DELETED]);
		}
		(void)printf("set aside:        %zu message%s in hold%s\n", held,
		    held == 1 ? "" : "s", held ? " (postsuper -H ID releases "
		    "unscanned, -d deletes)" : "");
		for (i = 0; i < held + owed; i++) {
			char	 when[32], plan[400];
			struct tm tm;

			if (i == held)
				(void)printf("bounced:          %zu message%s "
				    "quarantined, the notice to the sender "
				    "not yet sent\n", owed, owed == 1 ? "" : "s");
			(void)localtime_r(&v[i].when, &tm);
			(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
			(void)printf("  %-20s %s  %s\n", v[i].id, when, v[i].reason);
			aside_plan(t, &v[i], now, plan, sizeof(plan));
			(void)printf("  %-20s %s\n", "", plan);
		}
	}
	free(qerror);
	free(v);
	free(m);
	return (0);
}

/* Problems one a line with their fix (checkconf.c); exit 1 if any. */
static int
cmd_check_config(struct tool *t, int argc, char **argv)
{
	if (argc != 1)
		bad_arg(t, argv[1]);
	return (checkconf_run(t->conf, t->ql, stderr) > 0 ? 1 : 0);
}


/* --- quarantine list ------------------------------------------------------------ */

struct lister {
	struct tool	*t;
	size_t		 n;
};

/* The index entry's fields, inside an object: "id":...,"released_to":... */
static void
json_entry_fields(const struct quarantine_entry *e)
{
	size_t	 i;

	(void)printf("\"id\":");
	json_string(stdout, e->qid);
	(void)printf(",\"queue_id\":");
	json_string(stdout, e->orig_id);
	(void)printf(",\"state\":\"%s\",\"quarantined\":%lld,\"arrival\":%lld,"
	    "\"size\":%" PRIu64 ",\"verdict\":", quarantine_state_name(e->state),
	    (long long)e->quarantined, (long long)e->arrival, e->size);
	json_string(stdout, e->verdict);
	(void)printf(",\"reason\":");
	json_string(stdout, e->reason);
	(void)printf(",\"sender\":");
	json_string(stdout, e->sender);
	(void)printf(",\"recipients\":[");
	for (i = 0; i < e->nrcpts; i++) {
		if (i)
			(void)putchar(',');
		json_string(stdout, e->rcpts[i]);
	}
	(void)printf("],\"subject\":");
	json_string(stdout, e->subject);
	(void)printf(",\"state_time\":%lld,\"releases\":%u,\"new_id\":",
	    (long long)e->state_time, e->releases);
	json_string(stdout, e->new_id);
	(void)printf(",\"released_to\":");
	json_string(stdout, e->released_to);
}

static void
json_entry(const struct quarantine_entry *e)
{
	(void)putchar('{');
	json_entry_fields(e);
	(void)putchar('}');
}

static int
list_one(void *arg, const struct quarantine_entry *e)
{
	struct lister	*l = arg;
	struct buf	 line = BUF_INIT;
	char		 when[32], size[16];
	struct tm	 tm;

	if (l->t->json) {
		(void)printf("%s", l->n ? ",\n" : "");
		json_entry(e);
		l->n++;
		return (0);
	}
	if (l->n == 0 && l->t->tty) {
		buf_printf(&line, "%-28s %-16s %-8s %-10s %6s  %-24s %-24s %s",
		    "QUARANTINE ID", "QUARANTINED", "STATE", "VERDICT", "SIZE",
		    "FROM", "TO", "SUBJECT");
		put_line(l->t, line.data, line.len);
		buf_reset(&line);
	}
	(void)localtime_r(&e->quarantined, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	human_size(e->size, size, sizeof(size));
	buf_printf(&line, "%-28s %-16s %-8s %-10s %6s  %-24s ", e->qid, when,
	    quarantine_state_name(e->state), e->verdict, size,
	    e->sender[0] ? e->sender : "<>");
	if (e->nrcpts > 1) {
		char	*first = xasprintf("%s +%zu", e->rcpts[0], e->nrcpts - 1);

		buf_printf(&line, "%-24s ", first);
		free(first);
	} else {
		buf_printf(&line, "%-24s ", e->nrcpts ? e->rcpts[0] : "-");
	}
	buf_printf(&line, "%s", e->subject);
	put_line(l->t, line.data, line.len);
	buf_free(&line);
	l->n++;
	return (0);
}

static int
cmd_q_list(struct tool *t, int argc, char **argv)
{
	struct quarantine_query qq;
	struct lister	 l = { t, 0 };
	const char	*v;
	char		*error = NULL;
	int		 i, rc = 0;

	memset(&qq, 0, sizeof(qq));
	qq.state = -1;
	for (i = 1; i < argc; i++) {
		if ((v = opt_value(t, argc, argv, &i, "--since")) != NULL)
			qq.since = when_arg(t, "--since", v);
		else if ((v = opt_value(t, argc, argv, &i, "--until")) != NULL)
			qq.until = when_arg(t, "--until", v);
		else if ((v = opt_value(t, argc, argv, &i, "--recipient")) != NULL)
			qq.rcpt = v;
		else if ((v = opt_value(t, argc, argv, &i, "--sender")) != NULL)
			qq.sender = v;
		else if ((v = opt_value(t, argc, argv, &i, "--reason")) != NULL)
			qq.reason = v;
		else if ((v = opt_value(t, argc, argv, &i, "--state")) != NULL) {
			for (qq.state = 0; qq.state < 3; qq.state++)
				if (strcmp(v, quarantine_state_name(qq.state)) == 0)
					break;
			if (qq.state == 3)
				bad_usage(t, "--state %s: use held, released "
				    "or deleted", v);
		} else if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else
			bad_arg(t, argv[i]);
	}
	if (qq.rcpt != NULL && qq.rcpt[0] == '<') {
		char	*r = xstrdup(qq.rcpt + 1);

		r[strcspn(r, ">")] = '\0';
		qq.rcpt = r;	/* freed at exit */
	}
	open_state(t);
	if (t->json)
		(void)printf("[");
	if (quarantine_list(t->q, &qq, list_one, &l, &error) < 0) {
		rc = fail("%s", error);
		free(error);
	}
	if (t->json)
		(void)printf("%s]\n", l.n ? "\n" : "");
	else if (t->tty)
		(void)printf("%zu message%s\n", l.n, l.n == 1 ? "" : "s");
	close_state(t);
	return (rc);
}

/* --- quarantine show ------------------------------------------------------------ */

static void
notify_words(int flags, char *buf, size_t size)
{
	/* Postfix's DSN NOTIFY bits: NEVER 1, SUCCESS 2, FAILURE 4, DELAY 8. */
	(void)snprintf(buf, size, "%s%s%s%s", flags & 1 ? "NEVER," : "",
	    flags & 2 ? "SUCCESS," : "", flags & 4 ? "FAILURE," : "",
	    flags & 8 ? "DELAY," : "");
	if (buf[0] != '\0')
		buf[strlen(buf) - 1] = '\0';
}

static void
show_text(const struct tool *t, const char *label, const char *value)
{
	char	*line = xasprintf("%-14s%s", label, value);

	put_line(t, line, strlen(line));
	free(line);
}

static int
cmd_q_show(struct tool *t, int argc, char **argv)
{
	struct quarantine_entry e;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 hdr = BUF_INIT, body = BUF_INIT;
	enum quarantine_rc qrc;
	const char	*id = NULL;
	char		*error = NULL, when[32], buf[1024], nf[64];
	bool		 with_body = false;
	size_t		 i;
	int		 fd, rc = 0;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--body") == 0)
			with_body = true;
		else if (strcmp(argv[i], "--json") == 0)
			t->json = true;
		else if (argv[i][0] == '-' || id != NULL)
			bad_arg(t, argv[i]);
		else
			id = argv[i];
	}
	if (id == NULL)
		bad_usage(t, "which message? (an ID from quarantine list)");
	open_state(t);
	qrc = quarantine_get(t->q, NULL, id, false, &e, &error);
	if (qrc != QUARANTINE_OK) {
		rc = qrc == QUARANTINE_NOTFOUND ? fail("%s: no such message in "
		    "the quarantine", id) : fail("%s", error);
		free(error);
		close_state(t);
		return (rc);
	}
	if ((fd = quarantine_open_file(t->q, &e)) >= 0) {
		if (qfile_read_fd(fd, SIZE_MAX, &qf, &err) < 0) {
			rc = fail("%s/%s: %s", quarantine_dir(t->q), e.relpath,
			    err.text);
			qf = NULL;
		}
		(void)close(fd);
	} else if (e.state != QSTATE_DELETED) {
		rc = fail("%s/%s: %s", quarantine_dir(t->q), e.relpath,
		    strerror(errno));
	}
	if (qf != NULL) {
		mailhdr_block(qf, &hdr);
		if (with_body)
			qfile_content_text(qf->content + qf->header_end,
			    qf->ncontent - qf->header_end, &body);
	}
	if (t->json) {
		/* One object: the index entry, and what the file says. */
		(void)putchar('{');
		json_entry_fields(&e);
		(void)snprintf(buf, sizeof(buf), "%s/%s", quarantine_dir(t->q),
		    e.relpath);
		(void)printf(",\"file\":");
		json_string(stdout, buf);
		if (qf != NULL) {
			(void)printf(",\"envelope\":{\"sender\":");
			json_string(stdout, qf->sender);
			(void)printf(",\"ret\":%d,\"envid\":", qf->ret_flags);
			json_string(stdout, qf->envid ? qf->envid : "");
			(void)printf(",\"recipients\":[");
			for (i = 0; i < qf->nrcpts; i++) {
				(void)printf("%s{\"address\":", i ? "," : "");
				json_string(stdout, qf->rcpts[i].address);
				(void)printf(",\"orcpt\":");
				json_string(stdout, qf->rcpts[i].dsn_orcpt ?
				    qf->rcpts[i].dsn_orcpt : "");
				(void)printf(",\"notify\":%d}",
				    qf->rcpts[i].dsn_notify);
			}
			(void)printf("]},\"headers\":");
			json_string(stdout, hdr.data ? hdr.data : "");
			if (with_body) {
				(void)printf(",\"body\":");
				json_string(stdout, body.data ? body.data : "");
			}
		}
		(void)printf("}\n");
		goto done;
	}
	show_text(t, "id:", e.qid);
	fmt_time(e.state_time, when, sizeof(when));
	if (e.state == QSTATE_RELEASED)
		(void)snprintf(buf, sizeof(buf), "released %s as %s%s%s (%u "
		    "release%s)", when, e.new_id[0] ? e.new_id : "?",
		    e.released_to[0] ? " to " : "", e.released_to, e.releases,
		    e.releases == 1 ? "" : "s");
	else if (e.state == QSTATE_DELETED)
		(void)snprintf(buf, sizeof(buf), "deleted %s", when);
	else
		(void)snprintf(buf, sizeof(buf), "held");
	show_text(t, "state:", buf);
	show_text(t, "queue id:", e.orig_id);
	fmt_time(e.quarantined, when, sizeof(when));
	show_text(t, "quarantined:", when);
	fmt_time(e.arrival, when, sizeof(when));
	show_text(t, "arrival:", when);
	(void)snprintf(buf, sizeof(buf), "%" PRIu64 " bytes (queue file)", e.size);
	show_text(t, "size:", buf);
	show_text(t, "verdict:", e.verdict);
	show_text(t, "reason:", e.reason);
	show_text(t, "subject:", e.subject);
	(void)snprintf(buf, sizeof(buf), "<%s>", qf ? qf->sender : e.sender);
	show_text(t, "sender:", buf);
	if (qf != NULL && (qf->ret_flags || qf->envid)) {
		(void)snprintf(buf, sizeof(buf), "RET=%s%s%s",
		    qf->ret_flags == 1 ? "FULL" : qf->ret_flags == 2 ? "HDRS" :
		    "-", qf->envid ? " ENVID=" : "", qf->envid ? qf->envid : "");
		show_text(t, "dsn:", buf);
	}
	for (i = 0; qf != NULL && i < qf->nrcpts; i++) {
		notify_words(qf->rcpts[i].dsn_notify, nf, sizeof(nf));
		(void)snprintf(buf, sizeof(buf), "<%s>%s%s%s%s%s",
		    qf->rcpts[i].address, nf[0] ? " NOTIFY=" : "", nf,
		    qf->rcpts[i].dsn_orcpt ? " ORCPT=" : "",
		    qf->rcpts[i].dsn_orcpt ? qf->rcpts[i].dsn_orcpt : "",
		    qf->rcpts[i].state == QREC_RCPT ? "" : " (done)");
		show_text(t, "recipient:", buf);
	}
	for (i = 0; qf == NULL && i < e.nrcpts; i++) {
		(void)snprintf(buf, sizeof(buf), "<%s>", e.rcpts[i]);
		show_text(t, "recipient:", buf);
	}
	(void)snprintf(buf, sizeof(buf), "%s/%s", quarantine_dir(t->q), e.relpath);
	show_text(t, "file:", buf);
	if (qf != NULL) {
		(void)printf("\n");
		if (t->tty)
			mailhdr_sanitize(hdr.data, hdr.len);
		(void)fwrite(hdr.data ? hdr.data : "", 1, hdr.len, stdout);
		if (with_body) {
			if (t->tty)
				mailhdr_sanitize(body.data, body.len);
			(void)fwrite(body.data ? body.data : "", 1, body.len,
			    stdout);
		} else {
			(void)printf("\n(body not shown: --body shows it)\n");
		}
	}
done:
	buf_free(&hdr);
	buf_free(&body);
	qfile_free(&qf);
	quarantine_entry_clear(&e);
	close_state(t);
	return (rc);
}

/* --- quarantine release, delete, expire, check ----------------------------------- */

/* An address for --to: no white space or control characters, no <>. */
static const char *
check_address(const char *a)
{
	const char	*p;

	if (a[0] == '\0' || a[0] == '-')
		return ("an empty address or an option");
	if (strlen(a) > 900)
		return ("longer than 900 characters");
	for (p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' ||
		    *p == '>')
			return ("white space, a control character or <>");
	return (NULL);
}

static int
cmd_q_release(struct tool *t, int argc, char **argv)
{
	struct release_opts o;
	const char	**ids = NULL, **to = NULL, *why;
	char		 new_id[QUEUE_ID_SIZE], *error = NULL, *joined;
	size_t		 nids = 0, nto = 0, i, done = 0;
	bool		 in_to = false;
	int		 a, rc = 0;

	memset(&o, 0, sizeof(o));
	for (a = 1; a < argc; a++) {
		const char	*v = argv[a];

		if (strcmp(v, "--again") == 0) {
			o.again = true;
			in_to = false;
			continue;
		}
		if (strcmp(v, "--to") == 0) {
			in_to = true;
			continue;
		}
		if (strncmp(v, "--to=", 5) == 0) {
			v += 5;
			in_to = true;
		} else if (v[0] == '-') {
			bad_arg(t, v);
		}
		if (in_to) {
			char	*addr = xstrdup(v[0] == '<' ? v + 1 : v);

			if (v[0] == '<')
				addr[strcspn(addr, ">")] = '\0';
			if ((why = check_address(addr)) != NULL)
				bad_usage(t, "--to %s: %s", v, why);
			to = xreallocarray(to, nto + 1, sizeof(*to));
			to[nto++] = addr;
		} else {
			ids = xreallocarray(ids, nids + 1, sizeof(*ids));
			ids[nids++] = v;
		}
	}
	if (nids == 0)
		bad_usage(t, "which messages? (IDs from quarantine list)");
	if (in_to && nto == 0)
		bad_usage(t, "--to needs an address");
	o.to = to;
	o.nto = nto;
	o.header_name = t->conf->scan_header_name;
	open_state(t);
	joined = NULL;
	if (nto > 0) {
		struct buf	 b = BUF_INIT;

		for (i = 0; i < nto; i++)
			buf_printf(&b, "%s%s", i ? "," : "", to[i]);
		joined = buf_steal(&b, NULL);
	}
	for (i = 0; i < nids; i++) {
		switch (release_message(&t->commit, t->q, ids[i], &o, new_id,
		    &error)) {
		case RELEASE_OK:
			(void)printf("%s: released as %s%s%s\n", ids[i], new_id,
			    joined ? " to " : "", joined ? joined : "");
			audit(t, "%s: action=release new_id=%s%s%s", ids[i],
			    new_id, joined ? " to=" : "", joined ? joined : "");
			done++;
			break;
		case RELEASE_NOTFOUND:
			rc = fail("%s: no such message in the quarantine", ids[i]);
			break;
		case RELEASE_ALREADY:
			rc = fail("%s: released already (as %s); --again releases "
			    "another copy", ids[i], new_id[0] ? new_id : "?");
			break;
		case RELEASE_DELETED:
			rc = fail("%s: deleted; there is nothing to release",
			    ids[i]);
			break;
		case RELEASE_TWIN:
			rc = fail("%s: %s; --again releases it all the same",
			    ids[i], error);
			free(error);
			error = NULL;
			break;
		case RELEASE_PENDING:
			done++;
			audit(t, "%s: action=release status=pending reason=\"%s\"",
			    ids[i], error);
			/* FALLTHROUGH */
		case RELEASE_FAILED:
			rc = fail("%s: not released: %s", ids[i], error);
			free(error);
			error = NULL;
			break;
		}
	}
	if (done > 0 && queue_trigger(t->ql, "qmgr", "I") < 0)
		(void)fail("cannot wake qmgr (%s); it finds the mail within 5 "
		    "minutes", strerror(errno));
	close_state(t);
	for (i = 0; i < nto; i++)
		free((char *)to[i]);
	free(to);
	free(ids);
	free(joined);
	return (rc);
}

static int
cmd_q_delete(struct tool *t, int argc, char **argv)
{
	char	*error = NULL;
	int	 i, rc = 0;

	if (argc < 2)
		bad_usage(t, "which messages? (IDs from quarantine list)");
	for (i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			bad_arg(t, argv[i]);
	open_state(t);
	for (i = 1; i < argc; i++) {
		switch (quarantine_delete(t->q, argv[i], &error)) {
		case QUARANTINE_OK:
			(void)printf("%s: deleted\n", argv[i]);
			audit(t, "%s: action=delete", argv[i]);
			break;
		case QUARANTINE_UNCHANGED:
			/* (A file an interrupted delete left is gone now.) */
			rc = fail("%s: deleted already", argv[i]);
			break;
		case QUARANTINE_NOTFOUND:
			rc = fail("%s: no such message in the quarantine", argv[i]);
			break;
		default:
			rc = fail("%s: not deleted: %s", argv[i], error);
			free(error);
			error = NULL;
			break;
		}
	}
	close_state(t);
	return (rc);
}

static int
cmd_q_expire(struct tool *t, int argc, char **argv)
{
	const char	*v = NULL;
	char		*error = NULL, size[16];
	uint64_t	 bytes = 0;
	size_t		 n = 0;
	long		 ms;
	int		 i, rc = 0;

	for (i = 1; i < argc; i++) {
		if ((v = opt_value(t, argc, argv, &i, "--older-than")) == NULL)
			bad_arg(t, argv[i]);
	}
	if (v == NULL)
		bad_usage(t, "--older-than is required");
	if (config_parse_time(v, &ms) < 0)
		bad_usage(t, "--older-than %s: not a duration (use 30d, 12h, "
		    "90m)", v);
	if (ms < 1000)
		bad_usage(t, "--older-than %s: less than a second", v);
	open_state(t);
	if (quarantine_expire(t->q, time(NULL) - ms / 1000, &n, &bytes,
	    &error) < 0)
		rc = fail("expire: %s", error);
	human_size(bytes, size, sizeof(size));
	(void)printf("expired %zu message%s (%s freed)\n", n, n == 1 ? "" : "s",
	    size);
	if (n > 0)
		audit(t, "expire: older_than=%s removed=%zu bytes=%" PRIu64, v,
		    n, bytes);
	free(error);
	close_state(t);
	return (rc);
}

struct checker {
	size_t	 repaired;
	size_t	 problems;
	size_t	 skipped;
};

static void
check_line(void *arg, enum quarantine_finding kind, const char *line)
{
	struct checker	*c = arg;
	const char	*tag = "repaired";

	switch (kind) {
	case QCHECK_REPAIRED:
		c->repaired++;
		break;
	case QCHECK_PROBLEM:
		c->problems++;
		tag = "problem";
		break;
	case QCHECK_SKIPPED:
		c->skipped++;
		tag = "skipped";
		break;
	}
	(void)printf("%s: %s\n", tag, line);
}

static int
cmd_q_check(struct tool *t, int argc, char **argv)
{
	struct checker	 c = { 0, 0, 0 };
	char		*error = NULL;
	bool		 live;
	int		 problems;

	if (argc != 1)
		bad_arg(t, argv[1]);
	live = daemon_pid(t) != 0;
	open_state(t);
	problems = quarantine_check(t->q, t->ql, t->qdirfd, t->commit.claimed,
	    live, check_line, &c, &error);
	close_state(t);
	if (problems < 0)
		return (fail("%s", error));
	/* Agreement is claimed only for what was judged. */
	if (c.skipped > 0)
		(void)printf("quarantine: %zu file%s skipped, too recent to judge "
		    "while holdscand runs; check again later\n",
		    c.skipped, c.skipped == 1 ? "" : "s");
	if (c.repaired + c.problems == 0)
		(void)printf("quarantine: %s\n", c.skipped > 0 ? "the other "
		    "files and the index agree" : "files and index agree");
	else
		audit(t, "quarantine check: repaired=%zu problems=%zu skipped=%zu",
		    c.repaired, c.problems, c.skipped);
	return (problems > 0 ? 1 : 0);
}

/* --- scan ------------------------------------------------------------------------ */

static char *
read_message(const char *path, size_t max, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[65536];
	size_t		 i, k;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (NULL);
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b.len + (size_t)r > max) {
			if (r >= 0)
				errno = EFBIG;
			(void)close(fd);
			buf_free(&b);
			return (NULL);
		}
		buf_append(&b, chunk, (size_t)r);
	}
	(void)close(fd);
	/* As Postfix stores it: lines end in LF. */
	for (i = k = 0; i < b.len; i++)
		if (!(b.data[i] == '\r' && i + 1 < b.len && b.data[i + 1] == '\n'))
			b.data[k++] = b.data[i];
	b.len = k;
	buf_putc(&b, '\0');
	*len_r = k;
	return (buf_steal(&b, NULL));
}

/* Never parse untrusted content as root: become worker_user. */
static void
become_worker(struct tool *t)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	errno = 0;
	if ((pw = getpwnam(t->conf->worker_user)) == NULL)
		hs_fatalx(EX_NOUSER, "worker_user %s: %s", t->conf->worker_user,
		    errno ? strerror(errno) : "no such user");
	if (pw->pw_uid == 0)
		hs_fatalx(EX_CONFIG, "worker_user %s is root", t->conf->worker_user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot change to %s", t->conf->worker_user);
}

static int
cmd_scan(struct tool *t, int argc, char **argv)
{
	const char	*path = NULL, *v;
	char		**args, *data;
	size_t		 len, max, n = 0;
	pid_t		 pid;
	int		 a, cfd, mfd, status;

	args = xcalloc((size_t)argc * 2 + 16, sizeof(*args));
	args[n++] = t->conf->scanner_program;
	args[n++] = "-l";
	args[n++] = "holdscan";
	args[n++] = "-c";
	args[n++] = (char *)t->config_path;
	args[n++] = "-d";
	args[n++] = "3";
	args[n++] = "-u";
	args[n++] = t->conf->worker_user;
	args[n++] = "scan";
	for (a = 1; a < argc; a++) {
		if ((v = opt_value(t, argc, argv, &a, "--sender")) != NULL) {
			args[n++] = "--sender";
			args[n++] = (char *)v;
		} else if ((v = opt_value(t, argc, argv, &a, "--rcpt")) != NULL) {
			args[n++] = "--rcpt";
			args[n++] = (char *)v;
		} else if (argv[a][0] == '-' || path != NULL)
			bad_arg(t, argv[a]);
		else
			path = argv[a];
	}
	if (path == NULL)
		bad_usage(t, "which message file?");
	args[n++] = (char *)path;
	args[n] = NULL;
	max = t->conf->message_size_limit > 0 ?
	    (size_t)t->conf->message_size_limit : (size_t)SCAN_FILE_MAX;
	if ((data = read_message(path, max, &len)) == NULL) {
		free(args);
		return (fail("%s: %s", path, strerror(errno)));
	}
	/*
	 * The scanner program scans it, in a child that became worker_user,
	 * given the message on its standard input and the configuration's
	 * text on descriptor 3; its output and exit status are ours.
	 */
	if ((mfd = wire_memfd("message", data, len)) < 0 ||
	    (cfd = wire_memfd("holdscan.conf", t->conf->text,
	    strlen(t->conf->text))) < 0)
		hs_fatal(EX_OSERR, "memfd");
	free(data);
	(void)fflush(stdout);
	(void)fflush(stderr);
	if ((pid = fork()) < 0)
		hs_fatal(EX_OSERR, "fork");
	if (pid == 0) {
		become_worker(t);
		if (wire_fd_at(mfd, STDIN_FILENO) < 0 || wire_fd_at(cfd, 3) < 0)
			hs_fatal(EX_OSERR, "dup2");
		(void)execv(t->conf->scanner_program, args);
		_exit(fail("cannot run %s: %s", t->conf->scanner_program,
		    strerror(errno)));
	}
	(void)close(mfd);
	(void)close(cfd);
	free(args);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			hs_fatal(EX_OSERR, "waitpid");
	if (WIFSIGNALED(status))
		return (fail("scan: %s killed by signal %d",
		    t->conf->scanner_program, WTERMSIG(status)));
	return (WEXITSTATUS(status));
}

/*
 * Berkeley DB 5.3 cannot release a mutex held by a process that died: a
 * holdscan killed inside a database call would leave holdscand (and every
 * other user of the environment) waiting for it forever. So the work is
 * done by a child in a session of its own that ignores the signals meant
 * to stop us: killing holdscan, or its process group, stops the waiting
 * parent, and the child finishes (a release, an expiry) and closes the
 * environment cleanly. Output goes where ours goes.
 */
static int
run_detached(struct tool *t, const struct command *c, int argc, char **argv)
{
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	    SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE };
	size_t	 i;
	pid_t	 pid;
	int	 status;

	(void)fflush(stdout);
	(void)fflush(stderr);
	if ((pid = fork()) < 0)
		hs_fatal(EX_OSERR, "fork");
	if (pid == 0) {
		(void)setsid();
		for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
			(void)signal(ignored[i], SIG_IGN);
		exit(c->run(t, argc, argv));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			hs_fatal(EX_OSERR, "waitpid");
	if (WIFEXITED(status))
		return (WEXITSTATUS(status));
	return (fail("%s%s%s: killed by signal %d", c->name, c->sub ? " " : "",
	    c->sub ? c->sub : "", WTERMSIG(status)));
}

int
main(int argc, char **argv)
{
	struct winsize	 ws;
	struct tool	 t;
	size_t		 i;
	int		 ch, rc;

	memset(&t, 0, sizeof(t));
	t.config_path = CONFIG_DEFAULT_FILE;
	t.qdirfd = -1;
	t.invoker = getuid();
	t.tty = isatty(STDOUT_FILENO) == 1;
	if (t.tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		t.width = ws.ws_col;
	log_open("holdscan", LOG_DEST_STDERR, 0, 0);
	while ((ch = getopt(argc, argv, "+c:")) != -1) {
		switch (ch) {
		case 'c':
			t.config_path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		if (commands[i].sub != NULL && (argc < 2 ||
		    strcmp(commands[i].sub, argv[1]) != 0))
			continue;
		t.cmd = &commands[i];
		load(&t);
		if (commands[i].sub != NULL) {
			argc--;
			argv++;
		}
		if (commands[i].state)
			rc = run_detached(&t, &commands[i], argc, argv);
		else
			rc = commands[i].run(&t, argc, argv);
		queue_layout_free(&t.ql);
		config_free(&t.conf);
		return (rc);
	}
	(void)fprintf(stderr, "holdscan: unknown command \"%s%s%s\"\n", argv[0],
	    argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
	usage();
}
