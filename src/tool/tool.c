/*
 * NAME
 *	tool - what the holdscan tool's commands share
 * DESCRIPTION
 *	Usage errors name the command and show its usage; the configuration
 *	is read once; as root the tool becomes the mail owner before it
 *	opens the state environment, so that every file it creates belongs
 *	to the daemon; opening the state finishes releases a crash
 *	interrupted; quarantine changes are logged to syslog (holdscan[pid])
 *	with the invoking user.
 *
 *	This file must never modify the queue, and never leave the state
 *	environment half open.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/scanprog.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "tool/checkconf.h"
#include "tool/output.h"
#include "tool/tool.h"

/* One line on stderr, "holdscan: what went wrong"; returns 1. */
int
tool_fail(const char *fmt, ...)
{
	va_list	 ap;

	(void)fprintf(stderr, "holdscan: ");
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	return (1);
}


/*
 * A usage error in a command: what is wrong, then that command's usage
 * (not the whole list); exit 2.
 */
void
tool_bad_usage(const struct tool *t, const char *fmt, ...)
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

void
tool_bad_arg(const struct tool *t, const char *arg)
{
	if (arg[0] == '-')
		tool_bad_usage(t, "unknown option \"%s\"", arg);
	tool_bad_usage(t, "unexpected argument \"%s\"", arg);
}

/*
 * The command cannot start: errors (a line each) on stderr, with
 * "holdscan: fatal: " when fatal, and exit EX_CONFIG. With --json
 * (json_wanted), also one JSON object naming them on stdout, so that
 * monitoring reading status --json gets JSON whatever went wrong.
 */
static void __attribute__((noreturn))
load_failed(const struct tool *t, bool fatal, const char *errors)
{
	if (t->json_wanted) {
		(void)printf("{\"error\":");
		out_json_string(stdout, errors);
		(void)printf("}\n");
	}
	if (fatal)
		hs_fatalx(EX_CONFIG, "%s", errors);
	(void)fprintf(stderr, "%s\n", errors);
	exit(EX_CONFIG);
}

/*
 * The configuration, plugin sections unchecked: this program loads no
 * plugin. check-config reports the plugin sections' errors too, with
 * the others, as the scanner program finds them.
 */
void
tool_load(struct tool *t)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL, *all = NULL;
	bool		 checking;
	int		 rc;

	/*
	 * Before it is read, as holdscand does: it says what runs as root.
	 * check-config reads it all the same, to report this with the rest.
	 */
	checking = t->cmd != NULL && t->cmd->run == cmd_check_config;
	if (config_file_safe(t->config_path, &errors) < 0) {
		if (!checking)
			load_failed(t, true, errors);
		free(errors);
		errors = NULL;
	}
	if (!checking && t->cmd != NULL && t->cmd->looks_only) {
		/*
		 * A typo must not blind the admin (nor monitoring): what only
		 * looks runs on with the defaults for the bad settings, and
		 * says so; holdscand keeps its running configuration.
		 */
		if (config_load_anyway(t->config_path, &t->conf, &errors) < 0) {
			if (t->conf == NULL)
				load_failed(t, false, errors);
			(void)fprintf(stderr, "holdscan: warning: %s has errors "
			    "(holdscan check-config shows each with its fix); "
			    "the defaults stand in for the bad settings:\n%s\n",
			    t->config_path, errors);
			t->config_errors = errors;
			errors = NULL;
		}
	} else if (!checking) {
		if (config_load(t->config_path, NULL, NULL, &t->conf,
		    &errors) < 0)
			load_failed(t, false, errors);
	} else {
		rc = config_load_anyway(t->config_path, &conf, &errors);
		if (conf != NULL && scanprog_needed(conf)) {
			switch (checkconf_plugin_sections(t->config_path, conf,
			    &all)) {
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
	/* scan and db need no Postfix: no queue, no main.cf, no postconf */
	if (t->cmd != NULL && (t->cmd->run == cmd_scan ||
	    strcmp(t->cmd->name, "db") == 0))
		return;
	if (queue_layout_load(t->conf->postfix_config_directory, NULL, &t->ql,
	    &errors) < 0)
		load_failed(t, true, queue_layout_fix(errors, t->config_path));
}

/* As root, become the mail owner before touching the state environment. */
void
tool_become_mail_owner(struct tool *t)
{
	gid_t	 gid = t->ql->owner_gid;

	if (geteuid() != 0)
		return;
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 ||
	    setuid(t->ql->owner_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot change to %s", t->ql->mail_owner);
}

void
tool_audit(struct tool *t, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)text_safe(line, strlen(line), false);
	if (t->conf->log_file[0] != '\0') {
		char	*full = xasprintf("%s uid=%lu", line,
			    (unsigned long)t->invoker);

		if (log_file_line(t->conf->log_file, "holdscan", full) < 0)
			hs_warn("audit line to %s", t->conf->log_file);
		free(full);
		return;
	}
	openlog("holdscan", LOG_PID, config_syslog_facility(t->conf));
	syslog(LOG_INFO, "%s uid=%lu", line, (unsigned long)t->invoker);
	closelog();
}

/*
 * Open the state environment, the quarantine and holdscan's directories
 * in the queue as the mail owner, and finish interrupted releases.
 */
void
tool_open_state(struct tool *t)
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
	tool_become_mail_owner(t);
	if (statedb_open_in(t->conf->state_directory,
	    t->conf->state_region_directory, &t->sdb, &error) < 0)
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
	/* A damaged message log must not stand in the quarantine's way. */
	if (msglog_open(t->sdb, &t->msglog, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
		error = NULL;
	}
	t->commit.quarantine = t->q;
	if (commit_recover_releases(&t->commit, &error) < 0)
		hs_fatalx(EX_UNAVAILABLE, "%s", error);
}

void
tool_close_state(struct tool *t)
{
	if (t->have_commit)
		commit_clear(&t->commit);
	msglog_close(&t->msglog);
	quarantine_close(&t->q);
	journal_close(&t->journal);
	statedb_close(&t->sdb);
	if (t->qdirfd >= 0)
		(void)close(t->qdirfd);
	t->qdirfd = -1;
}

const char *
tool_address_arg(const char *v)
{
	char	*r;

	if (v == NULL || v[0] != '<')
		return (v);
	r = xstrdup(v + 1);
	r[strcspn(r, ">")] = '\0';
	return (r);
}

bool
tool_filter_opt(const struct tool *t, int argc, char **argv, int *i,
    struct tool_filters *f)
{
	const char	*v;

	if ((v = tool_opt_value(t, argc, argv, i, "--since")) != NULL)
		f->since = tool_when_arg(t, "--since", v);
	else if ((v = tool_opt_value(t, argc, argv, i, "--until")) != NULL)
		f->until = tool_when_arg(t, "--until", v);
	else if ((v = tool_opt_value(t, argc, argv, i, "--recipient")) != NULL)
		f->rcpt = tool_address_arg(v);
	else if ((v = tool_opt_value(t, argc, argv, i, "--sender")) != NULL)
		f->sender = tool_address_arg(v);
	else
		return (false);
	return (true);
}

void
tool_list_begin(const struct tool *t)
{
	if (t->json)
		(void)printf("[");
}

void
tool_list_end(const struct tool *t, size_t n)
{
	if (t->json)
		(void)printf("%s]\n", n ? "\n" : "");
	else if (t->tty)
		(void)printf("%zu message%s\n", n, n == 1 ? "" : "s");
}

void
tool_log_event(struct tool *t, const char *id, const char *kind,
    const char *new_id, const char *detail)
{
	struct msglog_event e;
	char		*error = NULL;

	if (!t->conf->message_log || t->msglog == NULL)
		return;
	e.time = time(NULL);
	e.kind = kind;
	e.new_id = new_id != NULL ? new_id : "";
	e.detail = detail != NULL ? detail : "";
	if (msglog_append_event(t->msglog, NULL, id, &e, &error) < 0) {
		hs_warnx("%s: message log: %s", id, error);
		free(error);
	}
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
const char *
tool_opt_value(const struct tool *t, int argc, char **argv, int *i,
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
		tool_bad_usage(t, "%s needs a value", name);
	return (argv[++*i]);
}

time_t
tool_when_arg(const struct tool *t, const char *opt, const char *v)
{
	time_t	 when;

	if (parse_when(v, &when) < 0)
		tool_bad_usage(t, "%s %s: not a time (use 2026-11-23, \"2026-11-23 "
		    "10:15\", 2h, 7d, @EPOCH)", opt, v);
	return (when);
}

/* --- status ------------------------------------------------------------------ */

/* The daemon holds an exclusive flock on its pid file while it runs. */
long
tool_daemon_pid(const struct tool *t)
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
