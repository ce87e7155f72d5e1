/*
 * NAME
 *	checkconf - the checks of holdscan check-config
 * SYNOPSIS
 *	#include "tool/checkconf.h"
 *
 *	int	checkconf_run(const struct hs_config *conf,
 *		    const struct queue_layout *ql, FILE *out);
 *	int	checkconf_plugin_sections(const char *config_path,
 *		    const struct hs_config *conf, char **errors_r);
 * DESCRIPTION
 *	checkconf_plugin_sections() has the scanner program check the
 *	plugin sections of the file, with the parser's errors: this program
 *	loads no plugin.
 *
 *	checkconf_run() looks at an installation the way holdscand will
 *	find it when it starts, and at the Postfix instance it serves, and
 *	reports each problem on one line with its fix, in the manner of
 *	"postfix check":
 *
 *	    holdscan: warning: /var/lib/holdscan does not exist; fix with:
 *	    install -d -o postfix -g postfix -m 0700 /var/lib/holdscan
 *
 *	(one line in reality). In order: the configuration file (owned by
 *	root, not writable by others); queue_directory (readable), its hold
 *	directory (owned by mail_owner) and holdscan's claimed/ and
 *	staging/ directories (on hold's file system: queue files move only
 *	by rename(2)); header_checks (a HOLD rule that every message
 *	matches, judged by evaluating regexp: and pcre: tables against the
 *	Received: headers that smtpd(8) and pickup(8) write, and not turned
 *	off by receive_override_options); state_directory and
 *	quarantine_directory; the directories of pid_file and metrics_file;
 *	worker_user; the scanner program; each plugin of scanners, started
 *	by the scanner program as worker_user the way a scanner parent
 *	starts it (this program loads no plugin); for information,
 *	master.cf's qmgr service and per-service overrides; and with
 *	digest_url set, its form and digest_key_file (there, a key, not
 *	readable by others).
 *
 *	Facts that are not problems (a table type that cannot be verified,
 *	local mail that is not held) are reported without "warning:" and
 *	are not counted.
 *
 *	The configuration file itself was checked by the parser before this
 *	module runs (unknown names, bad values), its plugin sections by the
 *	scanner program.
 *
 *	This module must never change anything: it creates, moves and
 *	removes nothing, and it runs no Postfix command but postconf(1).
 *	It must never print message content.
 * DIAGNOSTICS
 *	Problems and facts go to the stream given; the return value counts
 *	the problems.
 * SEE ALSO
 *	holdscan(1), holdscand(8), postconf(1), header_checks(5),
 *	regexp_table(5), pcre_table(5)
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/queue.h"
#include "common/scanprog.h"
#include "common/xalloc.h"
#include "tool/checkconf.h"
#include "tool/hdrchecks.h"
#include "web/digestkey.h"

#define PROGNAME		"holdscan"
#define DEFAULT_POSTFIX_DIR	"/etc/postfix"
#define TABLE_FILE_MAX		(4 * 1024 * 1024)
#define HOLD_RULE		"/^Received:/ HOLD"

struct cc {
	const struct hs_config *conf;
	const struct queue_layout *ql;
	FILE		*out;
	int		 problems;
	char		 group[64];	/* mail_owner's group */
	char		*postconf;	/* "postconf" or "postconf -c DIR" */
	char		*postfix;	/* "postfix" or "postfix -c DIR" */
	char		*reload;	/* "postfix reload" or "postfix -c DIR reload" */
};

static void	problem(struct cc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	fact(struct cc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
say(struct cc *cc, const char *level, const char *fmt, va_list ap)
{
	(void)fprintf(cc->out, "%s: %s", PROGNAME, level);
	(void)vfprintf(cc->out, fmt, ap);
	(void)fputc('\n', cc->out);
}

/* A problem: counted, with its fix. */
static void
problem(struct cc *cc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	say(cc, "warning: ", fmt, ap);
	va_end(ap);
	cc->problems++;
}

/* The fix for an error of a file or directory holdscan looked at. */
static const char *
errno_fix(int err)
{
	if (err == EACCES && geteuid() != 0)
		return ("run holdscan check-config as root");
	if (err == ENOENT || err == ENOTDIR)
		return ("create it, or set the path in holdscan.conf to one that "
		    "exists");
	return ("repair the file system, or set the path in holdscan.conf "
	    "to another");
}

/*
 * What the scanner program said of a plugin, one problem a line: with the
 * plugin's fix when it gave one, else with where to fix it.
 */
static void
plugin_problem(struct cc *cc, const char *line)
{
	const char	*name = line, *end;

	if (strstr(line, "; fix: ") != NULL ||
	    strstr(line, "; fix with: ") != NULL) {
		problem(cc, "%s", line);
		return;
	}
	if (strncmp(line, "plugin ", 7) == 0) {
		name = line + 7;
		end = name + strcspn(name, ",: ");
	} else {
		end = name;
	}
	if (end > name)
		problem(cc, "%s; fix: correct what it names in the plugin %.*s "
		    "section of %s or its files (the plugin's options: "
		    "holdscan.conf(5), section %.*s PLUGIN)", line,
		    (int)(end - name), name, cc->conf->file, (int)(end - name),
		    name);
	else
		problem(cc, "%s; fix: correct the plugin sections of %s "
		    "(holdscan.conf(5))", line, cc->conf->file);
}

/* Worth knowing, not a problem. */
static void
fact(struct cc *cc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	say(cc, "", fmt, ap);
	va_end(ap);
}

static const char *
user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd	*pw = getpwuid(uid);

	if (pw != NULL)
		(void)snprintf(buf, size, "%s", pw->pw_name);
	else
		(void)snprintf(buf, size, "uid %lu", (unsigned long)uid);
	return (buf);
}

/* --- the configuration file ---------------------------------------------- */

static void
check_config_file(struct cc *cc)
{
	const char	*path = cc->conf->file;
	struct stat	 st;
	char		 who[64];

	if (stat(path, &st) < 0) {
		problem(cc, "%s: %s; fix: %s", path, strerror(errno),
		    errno_fix(errno));
		return;
	}
	if (st.st_uid != 0)
		problem(cc, "%s is owned by %s, not by root, and holdscand "
		    "refuses to start with it; fix with: chown root %s", path,
		    user_name(st.st_uid, who, sizeof(who)), path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		problem(cc, "%s is writable by group or others, and holdscand "
		    "refuses to start with it; fix with: chmod go-w %s", path,
		    path);
}

/* --- the queue ------------------------------------------------------------ */

/* Open queue_directory and check hold; -1 if the queue cannot be looked at. */
static int
check_queue(struct cc *cc, struct stat *hold)
{
	const struct queue_layout *ql = cc->ql;
	char		 who[64];
	int		 fd;

	if ((fd = open(ql->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		problem(cc, "queue_directory %s (of the Postfix instance in %s): "
		    "%s; fix: set postfix_config_directory to the instance to "
		    "serve%s", ql->queue_dir, ql->config_dir, strerror(errno),
		    errno == EACCES && geteuid() != 0 ?
		    ", and run holdscan check-config as root" : "");
		return (-1);
	}
	if (fstatat(fd, QUEUE_HOLD, hold, 0) < 0) {
		problem(cc, "%s/%s: %s; postfix check creates missing queue "
		    "directories; fix with: %s check", ql->queue_dir, QUEUE_HOLD,
		    strerror(errno), cc->postfix);
		(void)close(fd);
		return (-1);
	}
	if (!S_ISDIR(hold->st_mode)) {
		problem(cc, "%s/%s is not a directory; fix: move it away and run "
		    "%s check", ql->queue_dir, QUEUE_HOLD, cc->postfix);
		(void)close(fd);
		return (-1);
	}
	if (hold->st_uid != ql->owner_uid)
		problem(cc, "%s/%s is owned by %s, not by mail_owner %s; fix "
		    "with: chown %s %s/%s", ql->queue_dir, QUEUE_HOLD,
		    user_name(hold->st_uid, who, sizeof(who)), ql->mail_owner,
		    ql->mail_owner, ql->queue_dir, QUEUE_HOLD);
	return (fd);
}

/*
 * holdscan's directory and its claimed/, staging/ and intent/ must be on hold's
 * file system (design rule 2). A missing one is fine: holdscand creates
 * it inside queue_directory, where it belongs.
 */
static void
check_queue_subdirs(struct cc *cc, int qfd, const struct stat *hold)
{
	const struct queue_layout *ql = cc->ql;
	const char	*sub = cc->conf->holdscan_queue_subdir;
	const char	*parts[] = { "", "/claimed", "/staging", "/intent", NULL };
	struct stat	 st, lst;
	char		 rel[QUEUE_PATH_SIZE], who[64];
	size_t		 i;

	for (i = 0; parts[i] != NULL; i++) {
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s", sub, parts[i]) >=
		    sizeof(rel))
			return;
		if (fstatat(qfd, rel, &st, 0) < 0) {
			if (errno == ENOENT) {
				if (i == 0)
					return;	/* all of it made at start */
				continue;
			}
			problem(cc, "%s/%s: %s; fix: %s", ql->queue_dir, rel,
			    strerror(errno), errno_fix(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			problem(cc, "%s/%s is not a directory, and holdscand "
			    "creates the directory when it is gone; fix with: "
			    "rm %s/%s", ql->queue_dir, rel, ql->queue_dir, rel);
			continue;
		}
		if (st.st_dev != hold->st_dev) {
			if (fstatat(qfd, rel, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(lst.st_mode))
				problem(cc, "%s/%s is a symbolic link to another "
				    "file system than %s/%s, and queue files can "
				    "move only by rename(2) within one; holdscand "
				    "creates it again as a directory when the link "
				    "is gone; fix with: rm %s/%s", ql->queue_dir,
				    rel, ql->queue_dir, QUEUE_HOLD, ql->queue_dir,
				    rel);
			else
				problem(cc, "%s/%s is on another file system "
				    "than %s/%s (a mount point?), and queue files "
				    "can move only by rename(2) within one; fix: "
				    "unmount it, so that it is a plain directory "
				    "inside queue_directory", ql->queue_dir, rel,
				    ql->queue_dir, QUEUE_HOLD);
			if (i == 0)
				return;
			continue;
		}
		if (st.st_uid != ql->owner_uid)
			problem(cc, "%s/%s is owned by %s, not by mail_owner %s; "
			    "fix with: chown -R %s:%s %s/%s", ql->queue_dir, rel,
			    user_name(st.st_uid, who, sizeof(who)),
			    ql->mail_owner, ql->mail_owner, cc->group,
			    ql->queue_dir, rel);
		else if (st.st_mode & 077)
			problem(cc, "%s/%s has mode %04o, not 0700; fix with: "
			    "chmod 0700 %s/%s", ql->queue_dir, rel,
			    (unsigned)(st.st_mode & 07777), ql->queue_dir, rel);
	}
}

/* --- header_checks ---------------------------------------------------------- */

/* The postconf(1) values asked for, one line each (empty lines kept). */
static int
postconf_values(struct cc *cc, const char *const *args, char **val,
    size_t nval, struct buf *out)
{
	char	*error = NULL, *p, *nl;
	size_t	 i = 0;

	if (queue_postconf(cc->ql->config_dir, NULL, args, out, &error) < 0) {
		problem(cc, "%s; fix: set postfix_config_directory in %s to "
		    "the directory of the main.cf of a Postfix installed here",
		    error, cc->conf->file);
		free(error);
		return (-1);
	}
	buf_reserve(out, 0);
	for (p = out->data; p != NULL && *p != '\0' && i < nval; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		else
			*nl = '\0';
		if (strncmp(p, "postconf: ", 10) == 0)
			continue;
		val[i++] = p;
	}
	if (i != nval) {
		problem(cc, "postconf -c %s: expected %zu values, got %zu; "
		    "fix: run postconf -c %s and correct what it complains of",
		    cc->ql->config_dir, nval, i, cc->ql->config_dir);
		return (-1);
	}
	return (0);
}

/* Is word one of the list s (commas and white space)? */
static bool
list_has(const char *s, const char *word)
{
	size_t	 len, wlen = strlen(word);

	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			return (false);
		len = strcspn(s, ", \t");
		if (len == wlen && strncmp(s, word, len) == 0)
			return (true);
		s += len;
	}
}

/* s without word, Postfix list style. */
static char *
list_without(const char *s, const char *word)
{
	struct buf	 b = BUF_INIT;
	size_t		 len, wlen = strlen(word);

	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t");
		if (!(len == wlen && strncmp(s, word, len) == 0)) {
			if (b.len > 0)
				buf_append(&b, ", ", 2);
			buf_append(&b, s, len);
		}
		s += len;
	}
	buf_reserve(&b, 0);
	return (buf_steal(&b, NULL));
}

struct hold_outcome {
	enum hdrchecks_result result;
	char		*table;		/* the table that decided, or NULL */
	unsigned	 line;
	bool		 unverifiable;	/* a table whose rules we cannot read */
	char		*first_file;	/* first regexp:/pcre: file, for the fix */
};

/*
 * What header_checks does with header: the tables are searched in order
 * and the first one that has an answer decides (maps(3)).
 */
static void
hold_outcome(struct cc *cc, char **tables, size_t n, const char *header,
    bool report, struct hold_outcome *o)
{
	size_t	 i;

	memset(o, 0, sizeof(*o));
	o->result = HDRCHECKS_NONE;
	for (i = 0; i < n; i++) {
		const char	*t = tables[i], *colon;
		struct buf	 b = BUF_INIT;
		char		*text;
		bool		 pcre;

		if (strncmp(t, "regexp:", 7) == 0)
			pcre = false;
		else if (strncmp(t, "pcre:", 5) == 0)
			pcre = true;
		else {
			if (report)
				fact(cc, "header_checks: cannot verify that %s "
				    "holds every message; make sure it has a rule "
				    "like %s", t, HOLD_RULE);
			o->unverifiable = true;
			continue;
		}
		colon = strchr(t, ':');
		if (colon[1] == '{') {
			text = hdrchecks_inline_rules(colon + 1);
		} else {
			if (o->first_file == NULL)
				o->first_file = xstrdup(colon + 1);
			if (buf_read_file(&b, colon + 1, TABLE_FILE_MAX) < 0) {
				if (report)
					problem(cc, "header_checks: %s: %s, and "
					    "Postfix's cleanup(8) cannot run without "
					    "it; fix with: echo '%s' >>%s && %s",
					    t, strerror(errno), HOLD_RULE, colon + 1,
					    cc->reload);
				buf_free(&b);
				o->unverifiable = true;
				continue;
			}
			text = buf_steal(&b, NULL);
		}
		o->result = hdrchecks_first(text, pcre, header, &o->line);
		free(text);
		if (o->result == HDRCHECKS_UNKNOWN) {
			if (report)
				fact(cc, "header_checks: %s, line %u: cannot "
				    "evaluate this pattern here (PCRE syntax?); "
				    "make sure the table holds every message", t,
				    o->line);
			o->unverifiable = true;
			o->result = HDRCHECKS_NONE;
			continue;
		}
		if (o->result != HDRCHECKS_NONE) {
			o->table = xstrdup(t);
			return;
		}
	}
}

static void
hold_outcome_clear(struct hold_outcome *o)
{
	free(o->table);
	free(o->first_file);
}

static void
check_hold_rule(struct cc *cc)
{
	static const char *const args[] = { "-x", "-h", "header_checks",
	    "receive_override_options", NULL };
	struct hold_outcome o;
	struct buf	 out = BUF_INIT;
	char		*val[2], **tables, *smtpd_hdr, *pickup_hdr, *fixed;
	const char	*host = cc->ql->myhostname;
	size_t		 n, i;

	if (postconf_values(cc, args, val, 2, &out) < 0) {
		buf_free(&out);
		return;
	}
	if (list_has(val[1], "no_header_body_checks")) {
		fixed = list_without(val[1], "no_header_body_checks");
		problem(cc, "%s/main.cf: receive_override_options = %s turns "
		    "header_checks off, so no mail is held for holdscand; fix "
		    "with: %s -e 'receive_override_options = %s' && %s",
		    cc->ql->config_dir, val[1], cc->postconf, fixed, cc->reload);
		free(fixed);
	}
	tables = hdrchecks_split_tables(val[0], &n);
	if (n == 0) {
		problem(cc, "%s/main.cf: header_checks is empty, so no mail is "
		    "held for holdscand; fix with: echo '%s' >>%s/header_checks "
		    "&& %s -e 'header_checks = regexp:%s/header_checks' && %s",
		    cc->ql->config_dir, HOLD_RULE, cc->ql->config_dir,
		    cc->postconf, cc->ql->config_dir, cc->reload);
		free(tables);
		buf_free(&out);
		return;
	}

	/* What smtpd(8) writes into every message it receives. */
	smtpd_hdr = xasprintf("Received: from client.example.org "
	    "(client.example.org [192.0.2.1])\n\tby %s (Postfix) with ESMTP "
	    "id 4F3A21C0B7\n\tfor <user@example.net>; Mon,  6 Jan 2025 "
	    "10:00:00 +0000 (UTC)", host);
	/* What pickup(8) writes for mail from sendmail(1). */
	pickup_hdr = xasprintf("Received: by %s (Postfix, from userid 0)\n\t"
	    "id 4F3A21C0B7; Mon,  6 Jan 2025 10:00:00 +0000 (UTC)", host);

	hold_outcome(cc, tables, n, smtpd_hdr, true, &o);
	if (o.result == HDRCHECKS_OTHER) {
		problem(cc, "header_checks: %s, line %u matches every Received: "
		    "header before any HOLD rule does, so mail is not held for "
		    "holdscand; fix: put the line %s before line %u, then run "
		    "%s", o.table, o.line, HOLD_RULE, o.line, cc->reload);
	} else if (o.result == HDRCHECKS_NONE && o.unverifiable) {
		;	/* said so already, table by table */
	} else if (o.result == HDRCHECKS_NONE && o.first_file != NULL) {
		problem(cc, "header_checks = %s has no HOLD rule that every "
		    "message matches, so holdscand never sees mail; fix: add "
		    "this line before any other rule in %s: %s (then run %s)",
		    val[0], o.first_file, HOLD_RULE, cc->reload);
	} else if (o.result == HDRCHECKS_NONE) {
		problem(cc, "header_checks = %s has no HOLD rule that every "
		    "message matches, so holdscand never sees mail; fix: make "
		    "{%s} the first rule of the table, then run %s", val[0],
		    HOLD_RULE, cc->reload);
	} else {
		struct hold_outcome p;

		hold_outcome(cc, tables, n, pickup_hdr, false, &p);
		if (p.result != HDRCHECKS_HOLD && !p.unverifiable)
			fact(cc, "header_checks holds mail received by smtpd(8) "
			    "but not mail submitted on this host with "
			    "sendmail(1): that mail is delivered unscanned");
		hold_outcome_clear(&p);
	}
	hold_outcome_clear(&o);
	for (i = 0; i < n; i++)
		free(tables[i]);
	free(tables);
	free(smtpd_hdr);
	free(pickup_hdr);
	buf_free(&out);
}

/* --- master.cf --------------------------------------------------------------- */

/*
 * qmgr must listen on public/qmgr for holdscand's wake-up; a master.cf
 * service that turns header checks off lets its mail bypass the scanner.
 * Neither is counted as a problem: both can be deliberate.
 */
static void
check_master_cf(struct cc *cc)
{
	static const char *const margs[] = { "-M", NULL };
	static const char *const pargs[] = { "-P", NULL };
	struct buf	 out = BUF_INIT;
	char		*error = NULL, *line, *save = NULL;
	bool		 found = false;
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE + 64];

	if (queue_postconf(cc->ql->config_dir, NULL, margs, &out, &error) < 0) {
		fact(cc, "%s", error);
		free(error);
		buf_free(&out);
		return;
	}
	buf_reserve(&out, 0);
	for (line = strtok_r(out.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char	 name[64], type[16], priv[8], unpriv[8], chroot[8];
		char	 wakeup[16];

		if (sscanf(line, "%63s %15s %7s %7s %7s %15s", name, type, priv,
		    unpriv, chroot, wakeup) != 6 || strcmp(name, "qmgr") != 0 ||
		    (strcmp(type, "unix") != 0 && strcmp(type, "fifo") != 0))
			continue;
		found = true;
		if (strcmp(priv, "n") != 0)
			fact(cc, "%s/master.cf: qmgr is a private service, so "
			    "holdscand cannot wake it through public/qmgr and "
			    "released mail waits for qmgr's wakeup (%s s); fix: "
			    "set the private column of the qmgr line to n",
			    cc->ql->config_dir, wakeup);
	}
	if (!found)
		fact(cc, "%s/master.cf has no qmgr service (unix or fifo), so "
		    "holdscand cannot wake the queue manager",
		    cc->ql->config_dir);
	else if ((size_t)snprintf(path, sizeof(path), "%s/public/qmgr",
	    cc->ql->queue_dir) < sizeof(path) && stat(path, &st) < 0)
		fact(cc, "%s: %s; is Postfix running?", path, strerror(errno));

	buf_reset(&out);
	if (queue_postconf(cc->ql->config_dir, NULL, pargs, &out, &error) < 0) {
		fact(cc, "%s", error);
		free(error);
		buf_free(&out);
		return;
	}
	buf_reserve(&out, 0);
	save = NULL;
	for (line = strtok_r(out.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char	*eq = strstr(line, " = ");
		const char	*slash = strrchr(line, '/');
		const char	*value;

		if (eq == NULL || slash == NULL || slash > eq)
			continue;
		value = eq + 3;
		if (strncmp(slash + 1, "receive_override_options ", 25) == 0 &&
		    list_has(value, "no_header_body_checks"))
			fact(cc, "%s/master.cf: %.*s sets receive_override_options "
			    "= %s: mail it receives is not held, and holdscand "
			    "does not scan it", cc->ql->config_dir,
			    (int)(slash - line), line, value);
		else if (strncmp(slash + 1, "header_checks ", 14) == 0)
			fact(cc, "%s/master.cf: %.*s overrides header_checks = "
			    "%s: mail that passes through it may not be held",
			    cc->ql->config_dir, (int)(slash - line), line, value);
	}
	buf_free(&out);
}

/* --- holdscan's own directories and users ------------------------------------ */

static void
check_owned_dir(struct cc *cc, const char *what, const char *dir)
{
	const struct queue_layout *ql = cc->ql;
	struct stat	 st;
	char		 who[64];

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			problem(cc, "%s %s does not exist; fix with: install -d "
			    "-o %s -g %s -m 0700 %s", what, dir, ql->mail_owner,
			    cc->group, dir);
		else
			problem(cc, "%s %s: %s; fix: %s", what, dir,
			    strerror(errno), errno_fix(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		problem(cc, "%s %s is not a directory; fix: move it away, or set "
		    "%s to a directory", what, dir, what);
		return;
	}
	if (st.st_uid != ql->owner_uid)
		problem(cc, "%s %s is owned by %s, not by mail_owner %s, and "
		    "holdscand refuses to start with it; fix with: chown -R "
		    "%s:%s %s", what, dir, user_name(st.st_uid, who, sizeof(who)),
		    ql->mail_owner, ql->mail_owner, cc->group, dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		problem(cc, "%s %s is writable by group or others, and holdscand "
		    "refuses to start with it; fix with: chmod go-w %s", what,
		    dir, dir);
}

/*
 * state_region_directory: holdscand makes it when it is missing; one that
 * is not mail_owner's alone keeps the regions in state_directory (slower).
 */
static void
check_region_dir(struct cc *cc, const char *dir)
{
	const struct queue_layout *ql = cc->ql;
	struct stat	 st;
	char		 who[64];

	if (dir[0] == '\0' || (stat(dir, &st) < 0 && errno == ENOENT))
		return;
	if (!S_ISDIR(st.st_mode) || st.st_uid != ql->owner_uid ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)))
		problem(cc, "state_region_directory %s is not a directory of "
		    "mail_owner %s's alone (owner %s, mode %04o): the state "
		    "environment's shared memory stays in state_directory, "
		    "which costs disk writes; fix with: chown %s:%s %s; chmod "
		    "0700 %s", dir, ql->mail_owner, user_name(st.st_uid, who,
		    sizeof(who)), (unsigned)(st.st_mode & 07777),
		    ql->mail_owner, cc->group, dir, dir);
}

/* Is path a file directly in dir? */
static bool
in_dir(const char *path, const char *dir)
{
	size_t	 len = strlen(dir);
	const char *slash = strrchr(path, '/');

	while (len > 1 && dir[len - 1] == '/')
		len--;
	return (slash != NULL && (size_t)(slash - path) == len &&
	    strncmp(path, dir, len) == 0);
}

/* The directory a file goes into must exist; writable by who writes it. */
static void
check_file_dir(struct cc *cc, const char *what, const char *path,
    bool as_mail_owner)
{
	const struct queue_layout *ql = cc->ql;
	struct stat	 st;
	char		*dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	if (stat(dir, &st) < 0) {
		if (as_mail_owner)
			problem(cc, "%s %s: directory %s: %s; fix with: install "
			    "-d -o %s -g %s %s", what, path, dir, strerror(errno),
			    ql->mail_owner, cc->group, dir);
		else
			problem(cc, "%s %s: directory %s: %s; fix with: mkdir -p "
			    "%s", what, path, dir, strerror(errno), dir);
	} else if (as_mail_owner && !((st.st_uid == ql->owner_uid &&
	    (st.st_mode & S_IWUSR)) || (st.st_gid == ql->owner_gid &&
	    (st.st_mode & S_IWGRP)) || (st.st_mode & S_IWOTH))) {
		problem(cc, "%s %s: holdscand writes it as mail_owner %s, who "
		    "cannot write to %s; fix: set %s to a file in "
		    "state_directory, or run: chown %s %s", what, path,
		    ql->mail_owner, dir, what, ql->mail_owner, dir);
	}
	free(dir);
}

static void
check_worker_user(struct cc *cc)
{
	const char	*user = cc->conf->worker_user;
	struct passwd	*pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0)
			problem(cc, "worker_user %s: %s; fix: make the user "
			    "database readable (getent passwd %s)", user,
			    strerror(errno), user);
		else
			problem(cc, "worker_user %s does not exist; fix with: "
			    "adduser --system --group --no-create-home %s", user,
			    user);
		return;
	}
	if (pw->pw_uid == 0)
		problem(cc, "worker_user %s is root; the scanners parse hostile "
		    "mail and must not run as root; fix: create a user of "
		    "their own with: adduser --system --group --no-create-home "
		    "holdscan, and set worker_user = holdscan", user);
	else if (pw->pw_uid == cc->ql->owner_uid)
		problem(cc, "worker_user %s is Postfix's mail_owner; the scanners "
		    "parse hostile mail and must not be able to touch the "
		    "queue; fix: create a user of their own with: adduser "
		    "--system --group --no-create-home holdscan, and set "
		    "worker_user = holdscan", user);
}

/*
 * The scanner program, as holdscand starts it: a root-owned program that
 * nobody else can change, which worker_user can run.
 */
static int
check_scanner_program(struct cc *cc)
{
	const char	*prog = cc->conf->scanner_program;
	struct stat	 st;

	if (stat(prog, &st) < 0) {
		problem(cc, "scanner_program %s: %s; fix: install holdscan "
		    "again (make install), or set scanner_program to where "
		    "holdscan-scanner is", prog, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXOTH)) {
		problem(cc, "scanner_program %s is not a program everybody may "
		    "run, and worker_user runs it; fix with: chmod 0755 %s",
		    prog, prog);
		return (-1);
	}
	if ((geteuid() == 0 && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		problem(cc, "scanner_program %s can be changed by others than "
		    "root, and it reads all mail; fix with: chown root %s && "
		    "chmod go-w %s", prog, prog, prog);
		return (-1);
	}
	return (0);
}

/*
 * Each plugin of scanners is started by the scanner program, as
 * worker_user, the way a scanner parent starts it: so a rules file with
 * an error, a signature database worker_user cannot read or a bad
 * address are found now. What each one that fails said is a problem.
 */
static void
check_plugins(struct cc *cc)
{
	struct scanprog	 sp;
	char		*out = NULL, *why = NULL, *line, *save = NULL;

	if (!scanprog_needed(cc->conf) || check_scanner_program(cc) < 0)
		return;
	memset(&sp, 0, sizeof(sp));
	sp.program = cc->conf->scanner_program;
	sp.config_path = cc->conf->file;
	sp.config_text = cc->conf->text;
	sp.ident = PROGNAME;
	if (scanprog_user(&sp, cc->conf->worker_user, cc->ql->owner_uid,
	    &why) < 0) {
		free(why);
		return;			/* reported by check_worker_user() */
	}
	switch (scanprog_check(&sp, true, &out)) {
	case 0:
		break;
	case 1:
	case EX_CONFIG:		/* the file changed since it was read */
		for (line = strtok_r(out, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			plugin_problem(cc, line);
		break;
	default:
		problem(cc, "plugins: cannot start %s as worker_user %s to "
		    "check them: %s; fix: make scanner_program a program "
		    "worker_user may run (ls -l %s)", sp.program, sp.user, out,
		    sp.program);
		break;
	}
	free(out);
}

/*
 * html_disarm and highlight_phishing need a plugin that rewrites HTML
 * (html): without one, every message they would change is quarantined
 * instead.
 */
static void
check_html_disarm(struct cc *cc)
{
	const char	*names[2] = { "html_disarm", "highlight_phishing" };
	const char	*lists[2] = { cc->conf->html_disarm,
			    cc->conf->highlight_phishing };
	size_t		 i, k;

	for (i = 0; i < cc->conf->nscanners; i++)
		if (strcmp(cc->conf->scanners[i].name, "html") == 0)
			return;
	for (k = 0; k < 2; k++) {
		if (lists[k] == NULL || confword_verdict_mask(lists[k]) == 0)
			continue;
		problem(cc, "policy: %s = \"%s\" but html is not in "
		    "scanners: HTML parts cannot be %s, and mail with HTML "
		    "parts is quarantined instead; fix: add html to scanners, "
		    "or leave %s empty", names[k], lists[k], k == 0 ?
		    "disarmed" : "highlighted", names[k]);
	}
}

/*
 * The plugin sections are the scanner program's to check, as worker_user
 * when we are root.
 */
int
checkconf_plugin_sections(const char *config_path,
    const struct hs_config *conf, char **errors_r)
{
	struct queue_layout *ql = NULL;
	struct scanprog	 sp;
	char		*why = NULL;
	uid_t		 owner = (uid_t)-1;
	int		 rc;

	*errors_r = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.program = conf->scanner_program;
	sp.config_path = config_path;
	sp.config_text = conf->text;
	sp.ident = PROGNAME;
	if (geteuid() == 0 && queue_layout_load(conf->postfix_config_directory,
	    NULL, &ql, &why) == 0)
		owner = ql->owner_uid;
	free(why);
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

/* Digests: digest_url's form and the key (only when digest_url is set). */
static void
check_digest(struct cc *cc)
{
	unsigned char	 key[DIGESTLINK_KEY_SIZE];
	const char	*url = cc->conf->digest_url, *path;
	struct stat	 st;
	char		*error = NULL;

	if (url[0] == '\0')
		return;
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		problem(cc, "digest_url \"%s\" is not an http:// or https:// "
		    "address; fix: set it to the web console's address, or "
		    "empty for no digests", url);
	path = cc->conf->digest_key_file;
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		problem(cc, "digest_url is set and digest_key_file %s does not "
		    "exist; fix with: holdscan digest --init-key", path);
		return;
	}
	if (digestkey_load(path, key, &error) < 0) {
		problem(cc, "%s", error);	/* it gives the fix with the error */
		free(error);
	}
	sodium_memzero(key, sizeof(key));
}

int
checkconf_run(const struct hs_config *conf, const struct queue_layout *ql,
    FILE *out)
{
	struct cc	 cc;
	struct group	*gr;
	struct stat	 hold;
	int		 qfd;

	memset(&cc, 0, sizeof(cc));
	cc.conf = conf;
	cc.ql = ql;
	cc.out = out;
	if ((gr = getgrgid(ql->owner_gid)) != NULL)
		(void)snprintf(cc.group, sizeof(cc.group), "%s", gr->gr_name);
	else
		(void)snprintf(cc.group, sizeof(cc.group), "%lu",
		    (unsigned long)ql->owner_gid);
	if (strcmp(ql->config_dir, DEFAULT_POSTFIX_DIR) == 0) {
		cc.postconf = xstrdup("postconf");
		cc.postfix = xstrdup("postfix");
	} else {
		cc.postconf = xasprintf("postconf -c %s", ql->config_dir);
		cc.postfix = xasprintf("postfix -c %s", ql->config_dir);
	}
	cc.reload = xasprintf("%s reload", cc.postfix);
	if (geteuid() != 0)
		fact(&cc, "not run as root: what only root may look at is "
		    "reported as a problem");

	check_config_file(&cc);
	if ((qfd = check_queue(&cc, &hold)) >= 0) {
		check_queue_subdirs(&cc, qfd, &hold);
		(void)close(qfd);
	}
	check_hold_rule(&cc);
	check_owned_dir(&cc, "state_directory", conf->state_directory);
	check_region_dir(&cc, conf->state_region_directory);
	check_owned_dir(&cc, "quarantine_directory", conf->quarantine_directory);
	check_file_dir(&cc, "pid_file", conf->pid_file, false);
	if (!in_dir(conf->metrics_file, conf->state_directory))
		check_file_dir(&cc, "metrics_file", conf->metrics_file, true);
	check_worker_user(&cc);
	check_plugins(&cc);
	check_html_disarm(&cc);
	check_master_cf(&cc);
	check_digest(&cc);

	free(cc.postconf);
	free(cc.postfix);
	free(cc.reload);
	return (cc.problems);
}
