/*
 * NAME
 *	cmd_scan - holdscan scan: the scanners and the policy on a message file
 * DESCRIPTION
 *	Runs the scanner program ("holdscan-scanner scan") as worker_user
 *	(the content is untrusted), which runs the configured scanners and
 *	prints what holdscand would do (it decides through the workers'
 *	own scan_decide(), deliver-cleaned and its fallback included); its
 *	output and exit status are ours. This program loads no plugin
 *	itself. It needs no Postfix: tool_load() reads no queue layout for
 *	it (no main.cf, no postconf).
 *
 *	A Postfix queue file is scanned as its content with its envelope
 *	(sender, recipients, client_address, sasl_username: the rulesets'
 *	and the lists'), unless options say otherwise.
 *	With a sender or a client address it first looks the allow and deny lists
 *	up as holdscand's master would (state/listdb.c), in a child that
 *	became the state directory's owner and opens the state environment
 *	for that alone, and passes the entry that applies to the scanner
 *	program, which shows it and decides with it as a worker does.
 *
 *	cmd_learn() (holdscan learn spam|ham ID|FILE) reads a quarantined
 *	message (by its ID, from the quarantine's index) or a file and has
 *	the scanner program ("holdscan-scanner learn"), as worker_user, teach
 *	it to the scanners that learn (spamd).
 *
 *	This file must never change the queue or the state, never load a
 *	plugin, and never run the scanner program as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/lists.h"
#include "common/log.h"
#include "common/qfile.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "quarantine/quarantine.h"
#include "state/listdb.h"
#include "state/statedb.h"
#include "tool/tool.h"

#define SCAN_FILE_MAX	(256L * 1024 * 1024)

/* --- scan ------------------------------------------------------------------------ */

/* path's bytes (NUL-terminated) as they are; NULL with errno. */
static char *
read_message(const char *path, size_t max, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[65536];
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
	*len_r = b.len;
	buf_putc(&b, '\0');
	return (buf_steal(&b, NULL));
}

/* A message file as Postfix stores it: lines end in LF. */
static void
lf_lines(char *data, size_t *len)
{
	size_t	 i, k;

	for (i = k = 0; i < *len; i++)
		if (!(data[i] == '\r' && i + 1 < *len && data[i + 1] == '\n'))
			data[k++] = data[i];
	data[k] = '\0';
	*len = k;
}

/*
 * A Postfix queue file (from hold, or a quarantine's copy) is scanned
 * as its content, with its envelope: the sender, the recipients and
 * the client_address for the lists, unless options gave them. Returns
 * the content (the caller's), or NULL when data is no queue file.
 */
static char *
queue_file_content(char *data, size_t len, size_t *len_r, char ***argv_r,
    size_t *n, const char **sender, const char **client, const char **sasl)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 text = BUF_INIT;
	const char	*v;
	bool		 rcpts = false;
	size_t		 i;

	if (qfile_parse(data, len, &qf, &err) < 0)
		return (NULL);
	/* room for these, the list entry, the file and the NULL */
	*argv_r = xreallocarray(*argv_r, *n + 2 * qf->nrcpts + 16,
	    sizeof(**argv_r));
	for (i = 0; i < *n; i++)
		if (strcmp((*argv_r)[i], "--rcpt") == 0)
			rcpts = true;
	if (*sender == NULL) {
		*sender = xstrdup(qf->sender);
		(*argv_r)[(*n)++] = "--sender";
		(*argv_r)[(*n)++] = (char *)*sender;
	}
	if (*client == NULL && (v = qfile_attr(qf, "client_address")) != NULL)
		*client = xstrdup(v);
	if (*sasl == NULL && (v = qfile_attr(qf, "sasl_username")) != NULL)
		*sasl = xstrdup(v);
	if (!rcpts) {
		for (i = 0; i < qf->nrcpts; i++) {
			(*argv_r)[(*n)++] = "--rcpt";
			(*argv_r)[(*n)++] = xstrdup(qf->rcpts[i].address);
		}
	}
	qfile_content_text(qf->content, qf->ncontent, &text);
	qfile_free(&qf);
	*len_r = text.len;
	buf_putc(&text, '\0');
	return (buf_steal(&text, NULL));
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

/* The child's side of lookup(): the answer "KIND\tTEXT" on fd. */
static void
lookup_child(struct tool *t, const char *sender, const char *client, int fd)
{
	struct list_entry e;
	struct statedb	*sdb = NULL;
	struct listdb	*l = NULL;
	struct stat	 st;
	char		*error = NULL, desc[LIST_DESC_SIZE];
	struct buf	 out = BUF_INIT;
	int		 ret;

	if (stat(t->conf->state_directory, &st) < 0)
		error = xasprintf("%s: %s", t->conf->state_directory,
		    strerror(errno));
	else if (geteuid() == 0 && (setgroups(1, &st.st_gid) < 0 ||
	    setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0))
		error = xasprintf("cannot become the owner of %s: %s",
		    t->conf->state_directory, strerror(errno));
	else if (statedb_open_in(t->conf->state_directory,
	    t->conf->state_region_directory, &sdb, &error) == 0 &&
	    listdb_open(sdb, &l, &error) == 0) {
		if ((ret = listdb_lookup(l, sender, client, &e, &error)) == 1) {
			lists_describe(&e, desc, sizeof(desc));
			buf_printf(&out, "%s\t%s", lists_kind_name(e.kind), desc);
		} else if (ret == 0)
			buf_printf(&out, "none\t");
	}
	if (error != NULL)
		buf_printf(&out, "error\t%s", error);
	if (out.len > 0 && write(fd, out.data, out.len) < 0)
		_exit(1);
	listdb_close(&l);
	statedb_close(&sdb);
	_exit(0);
}

/*
 * The allow or deny list entry for sender and client: its kind ("allow",
 * "deny") into kind and its text into entry, or kind "" when none
 * applies; a lookup that fails is a warning, and the scan goes on.
 */
static void
lookup(struct tool *t, const char *sender, const char *client, char *kind,
    size_t ksize, char *entry, size_t esize)
{
	char	 answer[1024], *tab;
	ssize_t	 r;
	size_t	 len = 0;
	pid_t	 pid;
	int	 fds[2], status;

	kind[0] = entry[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		hs_fatal(EX_OSERR, "pipe");
	(void)fflush(stdout);
	(void)fflush(stderr);
	if ((pid = fork()) < 0)
		hs_fatal(EX_OSERR, "fork");
	if (pid == 0) {
		(void)close(fds[0]);
		lookup_child(t, sender, client, fds[1]);
	}
	(void)close(fds[1]);
	while (len + 1 < sizeof(answer) && (r = read(fds[0], answer + len,
	    sizeof(answer) - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		len += (size_t)r;
	}
	answer[len] = '\0';
	(void)close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			hs_fatal(EX_OSERR, "waitpid");
	if ((tab = strchr(answer, '\t')) == NULL) {
		hs_warnx("allow and deny lists not looked up");
		return;
	}
	*tab++ = '\0';
	if (strcmp(answer, "error") == 0) {
		hs_warnx("allow and deny lists not looked up: %s", tab);
		return;
	}
	if (strcmp(answer, "allow") != 0 && strcmp(answer, "deny") != 0)
		return;
	(void)snprintf(kind, ksize, "%s", answer);
	(void)snprintf(entry, esize, "%s", tab);
}

/*
 * The scanner program runs args, in a child that became worker_user,
 * given data[len] (freed here, with args) on its standard input and the
 * configuration's text on descriptor 3; its output and exit status are
 * ours.
 */
static int
run_scanner(struct tool *t, char **args, char *data, size_t len)
{
	pid_t		 pid;
	int		 cfd, mfd, status;
	const int	 three = 3;	/* the configuration's text */

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
		if (wire_close_all_but(&three, 1) < 0)
			hs_fatal(EX_OSERR, "close descriptors");
		(void)execv(t->conf->scanner_program, args);
		_exit(tool_fail("cannot run %s: %s", t->conf->scanner_program,
		    strerror(errno)));
	}
	(void)close(mfd);
	(void)close(cfd);
	free(args);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			hs_fatal(EX_OSERR, "waitpid");
	if (WIFSIGNALED(status))
		return (tool_fail("%s killed by signal %d",
		    t->conf->scanner_program, WTERMSIG(status)));
	return (WEXITSTATUS(status));
}

int
cmd_scan(struct tool *t, int argc, char **argv)
{
	const char	*sender = NULL, *client = NULL, *sasl = NULL;
	char		 kind[16], entry[LIST_DESC_SIZE];
	const char	*path = NULL, *v;
	char		**args, *data, *content;
	size_t		 len, clen, max, n = 0;
	int		 a;

	args = xcalloc((size_t)argc * 2 + 24, sizeof(*args));
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
		if ((v = tool_opt_value(t, argc, argv, &a, "--sender")) != NULL) {
			sender = tool_address_arg(v);
			args[n++] = "--sender";
			args[n++] = (char *)v;
		} else if ((v = tool_opt_value(t, argc, argv, &a,
		    "--client")) != NULL) {
			client = v;
		} else if ((v = tool_opt_value(t, argc, argv, &a,
		    "--sasl")) != NULL) {
			sasl = v;
		} else if ((v = tool_opt_value(t, argc, argv, &a,
		    "--rcpt")) != NULL) {
			args[n++] = "--rcpt";
			args[n++] = (char *)v;
		} else if (argv[a][0] == '-' || path != NULL)
			tool_bad_arg(t, argv[a]);
		else
			path = argv[a];
	}
	if (path == NULL)
		tool_bad_usage(t, "which message file?");
	max = t->conf->message_size_limit > 0 ?
	    (size_t)t->conf->message_size_limit : (size_t)SCAN_FILE_MAX;
	if ((data = read_message(path, max, &len)) == NULL) {
		free(args);
		return (tool_fail("%s: %s", path, strerror(errno)));
	}
	if ((content = queue_file_content(data, len, &clen, &args, &n,
	    &sender, &client, &sasl)) != NULL) {
		free(data);
		data = content;
		len = clen;
	} else
		lf_lines(data, &len);
	if (sender != NULL || client != NULL) {
		lookup(t, sender, client, kind, sizeof(kind), entry,
		    sizeof(entry));
		if (kind[0] != '\0') {
			args[n++] = "--list";
			args[n++] = kind;
			args[n++] = entry;
		}
	}
	/* for the rulesets: the client and SASL user, given or recorded */
	if (client != NULL) {
		args[n++] = "--client";
		args[n++] = (char *)client;
	}
	if (sasl != NULL) {
		args[n++] = "--sasl";
		args[n++] = (char *)sasl;
	}
	args[n++] = (char *)path;
	args[n] = NULL;
	return (run_scanner(t, args, data, len));
}

/* --- learn ------------------------------------------------------------------------ */

/*
 * holdscan learn spam|ham ID|FILE: the message (a quarantined one by its
 * ID, or a file: a message or a queue file) taught to the scanners that
 * learn (spamd: SpamAssassin's TELL), by "holdscan-scanner learn" run as
 * worker_user; its output and exit status are ours.
 */
int
cmd_learn(struct tool *t, int argc, char **argv)
{
	struct quarantine_entry e;
	enum quarantine_rc qrc;
	const char	*what;
	char		*path, *error = NULL;
	int		 rc;

	if (argc != 3 || (strcmp(argv[1], "spam") != 0 &&
	    strcmp(argv[1], "ham") != 0))
		tool_bad_usage(t, "spam or ham, then a quarantine ID or a file");
	what = argv[2];
	if (strchr(what, '/') != NULL || access(what, F_OK) == 0) {
		path = xstrdup(what);
	} else {
		tool_open_state(t);
		if ((qrc = quarantine_get(t->q, NULL, what, false, &e,
		    &error)) != QUARANTINE_OK) {
			rc = qrc == QUARANTINE_NOTFOUND ? tool_fail("%s: no such "
			    "file, nor message in the quarantine", what) :
			    tool_fail("%s", error);
			free(error);
			tool_close_state(t);
			return (rc);
		}
		path = xasprintf("%s/%s", quarantine_dir(t->q), e.relpath);
		quarantine_entry_clear(&e);
		tool_close_state(t);
	}
	rc = cmd_learn_file(t, argv[1], what, path);
	free(path);
	return (rc);
}

int
cmd_learn_file(struct tool *t, const char *class, const char *what,
    const char *path)
{
	const char	*sender = NULL, *client = NULL, *sasl = NULL;
	char		**args, *data, *content;
	size_t		 len, clen, max, n = 0;

	max = t->conf->message_size_limit > 0 ?
	    (size_t)t->conf->message_size_limit : (size_t)SCAN_FILE_MAX;
	if ((data = read_message(path, max, &len)) == NULL)
		return (tool_fail("%s: %s", path, strerror(errno)));
	args = xcalloc(16, sizeof(*args));
	if ((content = queue_file_content(data, len, &clen, &args, &n,
	    &sender, &client, &sasl)) != NULL) {
		free(data);
		data = content;
		len = clen;
	} else
		lf_lines(data, &len);
	/* the envelope queue_file_content() found is not needed here */
	n = 0;
	args[n++] = t->conf->scanner_program;
	args[n++] = "-l";
	args[n++] = "holdscan";
	args[n++] = "-c";
	args[n++] = (char *)t->config_path;
	args[n++] = "-d";
	args[n++] = "3";
	args[n++] = "-u";
	args[n++] = t->conf->worker_user;
	args[n++] = "learn";
	args[n++] = (char *)class;
	args[n++] = (char *)what;
	args[n] = NULL;
	return (run_scanner(t, args, data, len));
}
