/*
 * NAME
 *	holdscan - holdscan administration (1)
 * SYNOPSIS
 *	holdscan [-c config_file] command [arguments]
 * DESCRIPTION
 *	One program for the admin: status, check-config, and the quarantine
 *	commands. Commands are a table: name, summary, handler. Run as
 *	root, it drops to Postfix's mail_owner before it opens the state
 *	environment, so that every file it creates there belongs to the
 *	daemon.
 *
 *	This program must never modify the queue except through the same
 *	commit path holdscand uses, and never print message bodies.
 * DIAGNOSTICS
 *	Errors name the problem on stderr; exit status 0 success, 1 a
 *	problem found (check-config) or an operation failed, 2 usage,
 *	sysexits(3) codes for configuration and environment errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "aside.h"
#include "buf.h"
#include "checkconf.h"
#include "config.h"
#include "log.h"
#include "pluginload.h"
#include "queue.h"
#include "statedb.h"
#include "xalloc.h"

struct tool {
	const char	*config_path;
	struct hs_config *conf;
	struct queue_layout *ql;
	bool		 json;
};

struct command {
	const char	*name;
	const char	*args;
	const char	*summary;
	int		 (*run)(struct tool *, int, char **);
};

static int cmd_status(struct tool *, int, char **);
static int cmd_check_config(struct tool *, int, char **);

static const struct command commands[] = {
	{ "status", "[--json]", "daemon, queue depth, rates, engine, set-aside "
	    "messages, last error", cmd_status },
	{ "check-config", "", "check holdscan.conf and the Postfix side",
	    cmd_check_config },
};

static void
usage(void)
{
	size_t	 i;

	(void)fprintf(stderr, "usage: holdscan [-c config_file] command "
	    "[arguments]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		(void)fprintf(stderr, "  %-14s %-12s %s\n", commands[i].name,
		    commands[i].args, commands[i].summary);
	exit(2);
}

static void
load(struct tool *t)
{
	struct plugin_probe probe = { NULL, 0 };
	char		*errors = NULL;

	if (config_load(t->config_path, plugin_probe, &probe, &t->conf,
	    &errors) < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		plugin_probe_clear(&probe);
		exit(EX_CONFIG);
	}
	plugin_probe_clear(&probe);
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

static void
json_string(FILE *fp, const char *s)
{
	(void)fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			(void)fprintf(fp, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			(void)fprintf(fp, "\\u%04x", (unsigned char)*s);
		else
			(void)fputc(*s, fp);
	}
	(void)fputc('"', fp);
}

static int
cmd_status(struct tool *t, int argc, char **argv)
{
	struct aside_entry *v = NULL;
	struct statedb	*sdb = NULL;
	struct aside	*a = NULL;
	struct stat	 st;
	char		*m, *error = NULL, engine[480], lasterr[512];
	char		 path[QUEUE_PATH_SIZE + 1024];
	size_t		 n = 0, i, held = 0;
	long		 pid;
	double		 up;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		t->json = true;
	else if (argc != 1)
		usage();
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
	statedb_close(&sdb);
	/* Only entries still in hold count: the admin may have acted on them. */
	for (i = 0; i < n; i++) {
		char	 rel[QUEUE_PATH_SIZE];

		v[i].reason[sizeof(v[i].reason) - 1] = '\0';
		if (queue_path(t->ql, QUEUE_HOLD, v[i].id, rel) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", t->ql->queue_dir,
		    rel) < sizeof(path) && lstat(path, &st) == 0 &&
		    (uint64_t)st.st_ino == v[i].ino)
			v[held++] = v[i];
	}
	engine[0] = lasterr[0] = '\0';
	if (m != NULL) {
		metric_label(m, "holdscan_engine_info", "info", engine,
		    sizeof(engine));
		metric_label(m, "holdscan_last_error_time_seconds", "error",
		    lasterr, sizeof(lasterr));
	}
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
		(void)printf("\"engine\":");
		json_string(stdout, engine);
		(void)printf(",\"last_error\":");
		json_string(stdout, lasterr);
		(void)printf(",\"set_aside\":[");
		for (i = 0; i < held; i++) {
			(void)printf("%s{\"queue_id\":", i ? "," : "");
			json_string(stdout, v[i].id);
			(void)printf(",\"since\":%lld,\"reason\":",
			    (long long)v[i].when);
			json_string(stdout, v[i].reason);
			(void)printf("}");
		}
		(void)printf("]}\n");
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
			(void)printf("engine:           %s\n", engine[0] ? engine :
			    "(no scanners)");
			if (lasterr[0])
				(void)printf("last error:       %s\n", lasterr);
		}
		(void)printf("set aside:        %zu message%s in hold%s\n", held,
		    held == 1 ? "" : "s", held ? " (postsuper -H ID releases "
		    "unscanned, -d deletes)" : "");
		for (i = 0; i < held; i++) {
			char	 when[32];
			struct tm tm;

			(void)localtime_r(&v[i].when, &tm);
			(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
			(void)printf("  %-20s %s  %s\n", v[i].id, when, v[i].reason);
		}
	}
	free(v);
	free(m);
	return (0);
}

/* Problems one a line with their fix (checkconf.c); exit 1 if any. */
static int
cmd_check_config(struct tool *t, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		usage();
	return (checkconf_run(t->conf, t->ql, stderr) > 0 ? 1 : 0);
}

int
main(int argc, char **argv)
{
	struct tool	 t;
	size_t		 i;
	int		 ch, rc;

	memset(&t, 0, sizeof(t));
	t.config_path = CONFIG_DEFAULT_FILE;
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
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, argv[0]) != 0)
			continue;
		load(&t);
		rc = commands[i].run(&t, argc, argv);
		queue_layout_free(&t.ql);
		config_free(&t.conf);
		return (rc);
	}
	(void)fprintf(stderr, "holdscan: unknown command \"%s\"\n", argv[0]);
	usage();
}
