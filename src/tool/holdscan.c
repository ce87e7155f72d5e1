/*
 * NAME
 *	holdscan - holdscan administration (1)
 * SYNOPSIS
 *	holdscan [-c config_file] command [arguments]
 * DESCRIPTION
 *	One program for the admin: status, check-config, scan, and the
 *	quarantine commands (list, show, release, delete, expire, check),
 *	the allow and deny lists (list add, del, show), and quarantine
 *	digests (digest).
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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/log.h"
#include "tool/checkconf.h"
#include "tool/tool.h"

static const struct command commands[] = {
	{ "status", NULL, "[--json]", "daemon, queue depth, rates, engine, "
	    "set-aside and quarantined messages, last error", cmd_status, true, true },
	{ "check-config", NULL, "", "check holdscan.conf and the Postfix side",
	    cmd_check_config, false, false },
	{ "scan", NULL, "[--sender ADDR] [--client IP] [--sasl USER] "
	    "[--rcpt ADDR]... FILE.eml",
	    "run the configured scanners and policy on a message file; "
	    "changes nothing", cmd_scan, false, false },
	{ "learn", NULL, "spam|ham ID|FILE",
	    "teach the scanners that learn (spamd) what a quarantined message "
	    "or a file is", cmd_learn, false, false },
	{ "quarantine", "list", "[--since T] [--until T] [--recipient R] "
	    "[--sender S] [--reason X] [--state S] [--json] [--all-hosts "
	    "[--verdict V]]",
	    "quarantined messages, oldest first", cmd_q_list, true, true },
	{ "quarantine", "show", "[--body] [--json] ID",
	    "envelope, headers and reason of one message", cmd_q_show, true, true },
	{ "quarantine", "release", "ID... [--to ADDR...] [--again] [--wait DURATION] "
	    "[--learn-ham]",
	    "send to incoming, unscanned, exactly once (--to: other "
	    "recipients)", cmd_q_release, true, false },
	{ "quarantine", "delete", "ID... [--wait DURATION]", "remove messages from the quarantine",
	    cmd_q_delete, true, false },
	{ "quarantine", "expire", "--older-than DURATION",
	    "remove messages quarantined longer ago (cron, systemd timer)",
	    cmd_q_expire, true, false },
	{ "list", "add", "allow|deny sender|domain|network VALUE "
	    "[--comment TEXT]", "put an entry on the allow or deny list; "
	    "applies to the next message", cmd_list_add, true, false },
	{ "list", "del", "allow|deny sender|domain|network VALUE",
	    "remove an entry from the allow or deny list", cmd_list_del, true, false },
	{ "list", "show", "[--json]", "the allow and deny lists",
	    cmd_list_show, true, true },
	{ "log", NULL, "[--since T] [--until T] [--sender ADDR] "
	    "[--recipient ADDR] [--verdict V] [--action A] [--limit N] [--json]",
	    "the message log: one line per message, newest first", cmd_log,
	    true, true },
	{ "trace", NULL, "[--json] ID", "the story of one message by its old "
	    "or new queue id or its quarantine id", cmd_trace, true, true },
	{ "db", "init", "", "create the schema in the farm's database "
	    "(idempotent)", cmd_db_init, false, false },
	{ "db", "upgrade", "", "bring the farm's database schema up to this "
	    "version (idempotent)", cmd_db_upgrade, false, false },
	{ "db", "status", "", "the farm's database: connected, schema version, "
	    "this host's outbox", cmd_db_status, false, true },
	{ "web", "user", "add|del|passwd|list [NAME] [--role admin|domain|user] "
	    "[--domain D]... [--address A]...",
	    "the web console's accounts (password from the standard input)",
	    cmd_web_user, false, false },
	{ "quarantine", "check", "", "compare the files with the index; "
	    "repair what a crash left", cmd_q_check, true, false },
	{ "digest", NULL, "[--since T] [--recipient ADDR] [--link-lifetime "
	    "DURATION] [--dry-run] | --init-key [--group GROUP] | --check-link "
	    "URL [--action A] [--recipient ADDR]",
	    "mail each recipient of quarantined mail a list of it with "
	    "one-click release and delete links (cron, systemd timer)",
	    cmd_digest, true, false },
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void
usage_to(FILE *fp, int rc)
{
	size_t	 i;

	(void)fprintf(fp, "usage: holdscan [-c config_file] command "
	    "[arguments]\n       holdscan --help | --version\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		(void)fprintf(fp, "  %s%s%s%s%s\n      %s\n",
		    commands[i].name, commands[i].sub ? " " : "",
		    commands[i].sub ? commands[i].sub : "",
		    commands[i].args[0] ? " " : "", commands[i].args,
		    commands[i].summary);
	(void)fprintf(fp, "\nT: 2026-11-23, \"2026-11-23 10:15\", 2h or 7d "
	    "(ago), @EPOCH; DURATION: 30d, 12h, 90m\n"
	    "\"holdscan COMMAND --help\" shows one command; holdscan(1) all.\n");
	exit(rc);
}

static void
usage(void)
{
	usage_to(stderr, 2);
}

/* word is one of argv's */
static bool
has_word(int argc, char **argv, const char *word)
{
	int	 i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], word) == 0)
			return (true);
	return (false);
}

/* "holdscan COMMAND ... --help": that command's usage, no config needed. */
static bool
wants_help(int argc, char **argv)
{
	return (has_word(argc, argv, "--help") || has_word(argc, argv, "-h"));
}

static int
command_help(const struct command *c)
{
	(void)printf("usage: holdscan [-c config_file] %s%s%s%s%s\n  %s\n",
	    c->name, c->sub ? " " : "", c->sub ? c->sub : "",
	    c->args[0] ? " " : "", c->args, c->summary);
	return (0);
}

/* Problems one a line with their fix (checkconf.c); exit 1 if any. */
int
cmd_check_config(struct tool *t, int argc, char **argv)
{
	if (argc != 1)
		tool_bad_arg(t, argv[1]);
	return (checkconf_run(t->conf, t->ql, stderr) > 0 ? 1 : 0);
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
	return (tool_fail("%s%s%s: killed by signal %d", c->name, c->sub ? " " : "",
	    c->sub ? c->sub : "", WTERMSIG(status)));
}

int
main(int argc, char **argv)
{
	struct winsize	 ws;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
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
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			t.config_path = optarg;
			break;
		case 'h':
			usage_to(stdout, 0);
			break;
		case 'V':
			(void)printf("holdscan %s\n", HS_VERSION);
			return (0);
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
		if (wants_help(argc, argv))
			return (command_help(&commands[i]));
		t.json_wanted = strstr(commands[i].args, "--json") != NULL &&
		    has_word(argc, argv, "--json");
		tool_load(&t);
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
