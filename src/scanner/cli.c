/*
 * NAME
 *	cli - holdscan-scanner's one-shot commands: check and scan
 * SYNOPSIS
 *	#include "scanner/cli.h"
 *
 *	int	cli_check(a, start);
 *	int	cli_scan(a, argc, argv);
 *	int	cli_learn(a, argc, argv);
 * DESCRIPTION
 *	holdscand's master and the holdscan tool load no plugin. When they
 *	need one loaded they run this program instead, as worker_user when
 *	they run as root: "check" for the plugin sections of holdscan.conf
 *	(holdscand -n, holdscand's start, holdscan check-config) and, with
 *	-s, for the plugins' start (check-config); "scan" for holdscan scan.
 *
 *	cli_check() loads the configuration with the same probe as the
 *	scanner parent, so its errors are word for word those the scanner
 *	parent would answer the master with. A plugin's start is tried in a
 *	child of its own, so that a plugin that crashes is named, and what
 *	the plugin logs while it fails is collected (pluginload.c's
 *	capture): that says why better than its error does.
 *
 *	cli_scan() scans as a worker does, through the worker's own
 *	scan_decide() (the plugins, the policy and deliver-cleaned tried for
 *	real, with its fallback), with every plugin's verdict shown: so the
 *	action it prints is the one holdscand takes, and why when the policy's
 *	action could not be taken. The output is holdscan scan's, which
 *	scripts read. It needs no Postfix: no queue, no postconf.
 *
 *	cli_learn() teaches the plugins of scanners that have a learn hook
 *	(spamd: SpamAssassin's TELL) that a message is spam or ham; the
 *	others are loaded to see whether they have one, never started.
 *
 *	The plugins started here get a private temporary directory
 *	(scratch.c), in scanner_temp_directory when holdscand made it, else
 *	in /dev/shm or /tmp; it is removed before the command ends.
 *
 *	This module must never write a file but in that directory, never
 *	run as root (main() refuses), and never print message content.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/lists.h"
#include "common/config.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/qfile.h"
#include "common/text.h"
#include "common/verdict.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "scanner/cli.h"
#include "scanner/pluginload.h"
#include "scanner/ruleset.h"
#include "scanner/scan.h"
#include "scanner/scratch.h"

#define CONFIG_TEXT_MAX		(4 * 1024 * 1024)	/* as config.c reads */
#define SCAN_INPUT_MAX		(256L * 1024 * 1024)	/* as holdscan scan reads */
#define START_SECONDS		300	/* a plugin's start, at most */
#define SAID_LINES		20	/* of what a failing start says, shown */
#define CLI_LINE_LIMIT		2048	/* Postfix's default line_length_limit */

/* The configuration, loaded and checked as the scanner parent does. */
static struct hs_config *
load(const struct cli_args *a, char **errors_r)
{
	struct plugin_probe probe = { NULL, 0 };
	struct hs_config *conf = NULL;
	char		*text = NULL;
	int		 rc;

	if (a->config_fd < 0) {
		rc = config_load(a->config_path, plugin_probe, &probe, &conf,
		    errors_r);
	} else {
		if (wire_memfd_read(a->config_fd, CONFIG_TEXT_MAX, &text,
		    NULL) < 0) {
			*errors_r = xasprintf("%s: cannot read: %s",
			    a->config_path, strerror(errno));
			return (NULL);
		}
		rc = config_load_string(text, a->config_path, plugin_probe,
		    &probe, &conf, errors_r);
		free(text);
	}
	plugin_probe_clear(&probe);
	if (rc == 0) {
		/* the rulesets' regular expressions, as the scanner parent */
		struct ruleset	*rules = NULL;

		if (ruleset_new(conf, &rules, errors_r) < 0) {
			config_free(&conf);
			return (NULL);
		}
		ruleset_free(&rules);
	}
	return (rc < 0 ? NULL : conf);
}

/* A private temporary directory for the plugins we start. */
static void
scratch_start(struct scratch *s, const struct hs_config *conf)
{
	char	*error = NULL;

	if (scratch_open(s, conf->scanner_temp_directory, true, &error) < 0)
		hs_fatalx(EX_CANTCREAT, "%s", error);
	plugin_temp_dir(s->path);
	if (setenv("TMPDIR", s->path, 1) < 0)
		hs_fatal(EX_OSERR, "setenv");
}

static void
scratch_end(struct scratch *s)
{
	char	*error = NULL;

	plugin_temp_dir(NULL);
	if (scratch_close(s, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
}

/* "plugin NAME: why" without its "plugin NAME: ". */
static const char *
without_name(const char *s, const char *name)
{
	size_t	 n = strlen(name);

	if (strncmp(s, "plugin ", 7) == 0 && strncmp(s + 7, name, n) == 0 &&
	    s[7 + n] == ':' && s[8 + n] == ' ')
		return (s + 9 + n);
	return (s);
}

/*
 * In a child: start pc's plugin as the scanner parent would; on failure
 * print what it said (its warnings, else its error), one problem a line.
 */
static void __attribute__((noreturn))
start_one(const struct hs_config *conf, const struct hs_config_plugin *pc,
    const char *user)
{
	struct buf	 said = BUF_INIT;
	struct plugin	*p = NULL;
	char		*error = NULL, *line, *save = NULL;
	int		 told = 0;
	size_t		 i;

	(void)alarm(START_SECONDS);
	if (plugin_load(conf->plugin_directory, pc->name, &p, &error) < 0) {
		(void)printf("plugin %s, started as worker_user %s: %s\n",
		    pc->name, user, without_name(error, pc->name));
		(void)fflush(stdout);
		_exit(1);
	}
	p->capture = &said;
	for (i = 0; i < pc->nopts && error == NULL; i++)
		(void)plugin_set_option(p, pc->opt_names[i], pc->opt_values[i],
		    &error);
	if (error == NULL && plugin_init(p, &error) == 0)
		_exit(0);	/* no fini: nothing of it outlives us */
	buf_reserve(&said, 0);
	for (line = strtok_r(said.data, "\n", &save); line != NULL &&
	    told < SAID_LINES; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "warning: ", 9) != 0)
			continue;
		(void)printf("plugin %s, started as worker_user %s: %s\n",
		    pc->name, user, line + 9);
		told++;
	}
	if (told == 0)
		(void)printf("plugin %s, started as worker_user %s: %s\n",
		    pc->name, user, without_name(error, pc->name));
	(void)fflush(stdout);
	_exit(1);
}

int
cli_check(const struct cli_args *a, bool start)
{
	struct hs_config *conf;
	struct scratch	 scratch;
	char		*errors = NULL;
	size_t		 i;
	int		 problems = 0, status;
	pid_t		 pid;

	if ((conf = load(a, &errors)) == NULL) {
		(void)printf("%s\n", errors);
		free(errors);
		return (EX_CONFIG);
	}
	if (start && conf->nscanners > 0)
		scratch_start(&scratch, conf);
	for (i = 0; start && i < conf->nscanners; i++) {
		(void)fflush(stdout);
		if ((pid = fork()) < 0) {
			(void)printf("plugin %s: cannot check its start: %s\n",
			    conf->scanners[i].name, strerror(errno));
			problems++;
			continue;
		}
		if (pid == 0)
			start_one(conf, &conf->scanners[i], a->user);
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				hs_fatal(EX_OSERR, "waitpid");
		if (WIFSIGNALED(status)) {
			(void)printf("plugin %s: killed by signal %d while it "
			    "started as worker_user %s\n", conf->scanners[i].name,
			    WTERMSIG(status), a->user);
			problems++;
		} else if (WEXITSTATUS(status) != 0) {
			problems++;
		}
	}
	if (start && conf->nscanners > 0)
		scratch_end(&scratch);
	config_free(&conf);
	(void)fflush(stdout);
	return (problems > 0 ? 1 : 0);
}

/* All of fd, at most max bytes (NULs and all); NULL with errno. */
static char *
read_all(int fd, size_t max, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[65536];
	ssize_t		 r;

	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b.len + (size_t)r > max) {
			if (r >= 0)
				errno = EFBIG;
			buf_free(&b);
			return (NULL);
		}
		buf_append(&b, chunk, (size_t)r);
	}
	*len_r = b.len;
	buf_putc(&b, '\0');
	return (buf_steal(&b, NULL));
}

/* One line for a person: "label text", through text.c's sanitiser. */
static void
print_safe(const char *label, const char *text)
{
	char	*line = xasprintf("%-14s %s", label, text);

	(void)text_safe(line, strlen(line), false);
	(void)printf("%s\n", line);
	free(line);
}

/* scan_ctx's report hook: one plugin's result, as holdscan scan shows it. */
static void
report_plugin(void *arg, const char *name, const struct hs_result *r)
{
	char	*h, *line, *save = NULL;

	(void)arg;
	(void)printf("%-14s %s%s%s", name, verdict_name((enum verdict)r->verdict),
	    r->reason[0] ? ": " : "", r->reason);
	if (r->score != 0)
		(void)printf(" (score %.1f)", r->score);
	(void)printf("\n");
	if (r->headers[0] != '\0') {
		h = xstrdup(r->headers);
		for (line = strtok_r(h, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			(void)printf("%-14s   adds %s\n", "", line);
		free(h);
	}
}

int
cli_scan(const struct cli_args *a, int argc, char **argv)
{
	struct policy	 policy;
	struct hs_msg	 msg;
	struct scan_ctx	 ctx;
	struct scan_decision d;
	struct wire_result res;
	struct qfile_rec *recs = NULL;
	struct plugin	**plugins;
	struct hs_config *conf;
	struct scratch	 scratch;
	struct buf	 headers = BUF_INIT;
	struct wire_list list;
	struct ruleset_env env = { "", NULL, NULL };
	struct ruleset	*rules = NULL;
	const char	*name = NULL, *sender = "", **rcpts = NULL, *why, *sep;
	char		*data, *errors = NULL;
	size_t		 len, nrcpts = 0, nrecs, i, header_len;
	int		 k;

	memset(&list, 0, sizeof(list));
	for (k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--sender") == 0 && k + 1 < argc) {
			sender = argv[++k];
		} else if (strcmp(argv[k], "--list") == 0 && k + 2 < argc) {
			/* the entry holdscan found: KIND TEXT */
			enum list_kind lk;

			if (lists_kind_parse(argv[++k], &lk) < 0) {
				(void)fprintf(stderr, "holdscan-scanner: scan: "
				    "--list %s: allow or deny\n", argv[k]);
				free(rcpts);
				return (2);
			}
			list.kind = (int32_t)lk;
			(void)snprintf(list.entry, sizeof(list.entry), "%s",
			    argv[++k]);
		} else if (strcmp(argv[k], "--client") == 0 && k + 1 < argc) {
			env.client = argv[++k];
		} else if (strcmp(argv[k], "--sasl") == 0 && k + 1 < argc) {
			env.sasl = argv[++k];
		} else if (strcmp(argv[k], "--rcpt") == 0 && k + 1 < argc) {
			rcpts = xreallocarray(rcpts, nrcpts + 1, sizeof(*rcpts));
			rcpts[nrcpts++] = argv[++k];
		} else if (argv[k][0] != '-' && name == NULL) {
			name = argv[k];
		} else {
			(void)fprintf(stderr, "holdscan-scanner: scan: unexpected "
			    "\"%s\"\n", argv[k]);
			free(rcpts);
			return (2);
		}
	}
	if (name == NULL) {
		(void)fprintf(stderr, "holdscan-scanner: scan: which message?\n");
		free(rcpts);
		return (2);
	}
	if ((conf = load(a, &errors)) == NULL) {
		(void)fprintf(stderr, "%s\n", errors);
		free(errors);
		free(rcpts);
		return (EX_CONFIG);
	}
	if ((data = read_all(STDIN_FILENO, SCAN_INPUT_MAX, &len)) == NULL)
		hs_fatal(EX_IOERR, "%s", name);
	sep = strstr(data, "\n\n");
	header_len = sep ? (size_t)(sep - data) + 2 : len;
	(void)printf("%s: %zu bytes, %zu header bytes\n", name, len,
	    header_len);
	scratch_start(&scratch, conf);
	plugins = xcalloc(conf->nscanners + 1, sizeof(*plugins));
	for (i = 0; i < conf->nscanners; i++) {
		struct plugin	*p;

		if (plugin_start(conf->plugin_directory, &conf->scanners[i], &p,
		    &errors) < 0)
			hs_fatalx(EX_CONFIG, "%s", errors);
		why = NULL;
		if (p->desc->worker_init != NULL &&
		    p->desc->worker_init(p->ctx, &why) < 0)
			hs_fatalx(EX_CONFIG, "plugin %s: %s", p->name, why ? why :
			    "worker_init failed");
		plugins[i] = p;
	}
	/*
	 * As a worker scans it (scan.c's scan_decide(), the decision
	 * included): the message as the content records cleanup(8) would
	 * store, Postfix's default line_length_limit.
	 */
	policy_from_config(&policy, conf);
	if (ruleset_new(conf, &rules, &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);	/* load() checked */
	scan_ctx_init(&ctx, conf, &policy, "localhost", CLI_LINE_LIMIT);
	ctx.rules = rules;
	ctx.plugins = plugins;
	ctx.nplugins = conf->nscanners;
	ctx.report = report_plugin;
	nrecs = qfile_text_records(data, len, CLI_LINE_LIMIT, &recs);
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = "scan";
	msg.sender = sender;
	msg.recipients = rcpts;
	msg.nrecipients = nrcpts;
	memset(&res, 0, sizeof(res));
	if (list.kind != LIST_NONE)
		(void)printf("list:          %s%s\n", list.entry,
		    list.kind == LIST_ALLOW ? " (spam checks skipped)" :
		    " (verdict at least blocked)");
	env.sender = sender;
	if (rules != NULL) {
		char	*e = xasprintf("sender <%s>, client %s, sasl %s",
		    sender, env.client != NULL ? env.client : "(none: a local "
		    "submission)", env.sasl != NULL && env.sasl[0] != '\0' ?
		    env.sasl : "(none)");

		print_safe("envelope:", e);
		free(e);
	}
	scan_decide(&ctx, recs, nrecs, &msg, &env, &list, &res, &headers, &d);
	if (d.rules.len > 0) {
		char	*line, *save = NULL;

		for (line = strtok_r(d.rules.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			print_safe("rule:", line);
	}
	(void)printf("verdict:       %s%s%s\n",
	    verdict_name((enum verdict)res.verdict), res.reason[0] ? ": " : "",
	    res.reason);
	if (d.outcome.action == ACTION_CLEAN && d.summary.len > 0)
		(void)printf("cleaned:       removed %s\n", d.summary.data);
	if (d.outcome.action == ACTION_CLEAN && d.renamed.len > 0)
		print_safe("renamed:", d.renamed.data);
	if (d.disarmed.n > 0)
		(void)printf("html:          %s\n", d.disarm_summary.data);
	(void)printf("action:        %s", confword_action_name(d.outcome.action));
	if (d.outcome.action != d.outcome.wanted)
		(void)printf(" (not %s: %s)", confword_action_name(d.outcome.wanted),
		    d.outcome.why);
	(void)printf("%s\n", conf->nscanners == 0 ?
	    " (no scanners configured)" : "");
	/* what holdscand's master adds for such a message (commit.c) */
	if ((d.outcome.action == ACTION_DELIVER || d.outcome.action ==
	    ACTION_TAG || d.outcome.action == ACTION_CLEAN) &&
	    d.copy_to != NULL && d.copy_to[0] != '\0')
		print_safe("copy to:", d.copy_to);
	if ((d.outcome.action == ACTION_DELIVER || d.outcome.action ==
	    ACTION_TAG || d.outcome.action == ACTION_CLEAN) &&
	    conf->archive_directory != NULL &&
	    conf->archive_directory[0] != '\0')
		(void)printf("archive:       %s\n", d.no_archive ?
		    "no (the rules say archive = no)" :
		    conf->archive_directory);
	(void)fflush(stdout);
	scan_decision_clear(&d);
	scan_ctx_clear(&ctx);
	policy_clear(&policy);
	ruleset_free(&rules);
	buf_free(&headers);
	free(recs);
	scratch_end(&scratch);
	free(plugins);
	free(rcpts);
	free(data);
	config_free(&conf);
	return (0);
}

int
cli_learn(const struct cli_args *a, int argc, char **argv)
{
	struct hs_config *conf;
	struct scratch	 scratch;
	struct plugin	*p;
	struct hs_msg	 msg;
	const char	*name, *sep, *why;
	char		*data, *errors = NULL, *line, answer[300];
	size_t		 len, i, taught = 0;
	int		 spam, rc = 0;
	bool		 failed;

	if (argc != 2 || (strcmp(argv[0], "spam") != 0 &&
	    strcmp(argv[0], "ham") != 0)) {
		(void)fprintf(stderr, "holdscan-scanner: learn: spam|ham NAME\n");
		return (2);
	}
	spam = strcmp(argv[0], "spam") == 0;
	name = argv[1];
	if ((conf = load(a, &errors)) == NULL) {
		(void)fprintf(stderr, "%s\n", errors);
		free(errors);
		return (EX_CONFIG);
	}
	if ((data = read_all(STDIN_FILENO, SCAN_INPUT_MAX, &len)) == NULL)
		hs_fatal(EX_IOERR, "%s", name);
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = "learn";
	msg.sender = "";
	msg.data = data;
	msg.len = len;
	sep = strstr(data, "\n\n");
	msg.header_len = sep ? (size_t)(sep - data) + 2 : len;
	scratch_start(&scratch, conf);
	for (i = 0; i < conf->nscanners; i++) {
		/* loaded only, to see whether it can learn */
		if (plugin_load(conf->plugin_directory, conf->scanners[i].name,
		    &p, &errors) < 0)
			hs_fatalx(EX_CONFIG, "%s", errors);
		if (plugin_learner(p) == NULL) {
			plugin_free(&p);
			continue;
		}
		plugin_free(&p);
		if (plugin_start(conf->plugin_directory, &conf->scanners[i], &p,
		    &errors) < 0)
			hs_fatalx(EX_CONFIG, "%s", errors);
		why = NULL;
		if (p->desc->worker_init != NULL &&
		    p->desc->worker_init(p->ctx, &why) < 0)
			hs_fatalx(EX_CONFIG, "plugin %s: %s", p->name, why ? why :
			    "worker_init failed");
		answer[0] = '\0';
		failed = plugin_learner(p)(p->ctx, &msg, spam, answer,
		    sizeof(answer)) < 0;
		answer[sizeof(answer) - 1] = '\0';
		if (failed)
			rc = 1;
		line = xasprintf("%s: %s: %s%s", name, p->name, failed ?
		    "not learnt: " : "", answer);
		(void)text_safe(line, strlen(line), false);
		(void)printf("%s\n", line);
		free(line);
		taught++;
		plugin_free(&p);
	}
	if (taught == 0) {
		line = xasprintf("%s: no scanner can learn (spamd is not in "
		    "scanners)", name);
		(void)text_safe(line, strlen(line), false);
		(void)printf("%s\n", line);
		free(line);
		rc = 3;
	}
	(void)fflush(stdout);
	scratch_end(&scratch);
	free(data);
	config_free(&conf);
	return (rc);
}
