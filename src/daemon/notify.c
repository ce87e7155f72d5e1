/*
 * NAME
 *	notify - notices about scanned mail, through Postfix's sendmail
 * DESCRIPTION
 *	notify_postmaster lists the verdicts that send postmaster_address a
 *	notice, whatever the action; notify_recipients those that send each
 *	envelope recipient of a quarantined message a notice of its own
 *	(one each, so that no recipient learns of another);
 *	notify_senders (off by default; never spam or high-spam, whose
 *	senders are mostly forged: config.c refuses them) those that send
 *	the envelope sender of a message not delivered as it was sent
 *	(any action but deliver) a notice, unless the sender is null or the
 *	message is a notice. A notice is the
 *	template (a message: header lines, an empty line, the body) with
 *	$queue_id, $sender, $recipients, $verdict, $reason, $action,
 *	$quarantine_id, $subject, $to, $postmaster, $myhostname and $date
 *	expanded, and three header lines added at the top:
 *	  X-Holdscan-Notification: QUEUEID (VERDICT)
 *	  Auto-Submitted: auto-generated
 *	  MIME-Version, Content-Type (UTF-8), Content-Transfer-Encoding
 *	(the last unless the template has its own MIME-Version).
 *
 *	Each notice is submitted with the null sender by the instance's
 *	sendmail_path: "sendmail -C postfix_config_directory -f <> -i --
 *	RECIPIENT". Postfix puts it on hold like any other mail, and
 *	holdscand scans it like any other mail; a message with the null
 *	sender and the notification header gets no notice itself, so
 *	notices cannot loop. (Set up for a Postfix instance other than the
 *	default one, postdrop needs alternate_config_directories in the
 *	default main.cf: Postfix's own rule for set-gid programs.)
 *
 *	notify_bounce() builds a non-delivery notice for the sender of a
 *	message that expired set aside (set_aside_expiry_action = bounce)
 *	in the form of Postfix's own bounces: a multipart/report with a
 *	text part, a message/delivery-status part (RFC 3464; one failed
 *	recipient with Status 5.7.0 for each whose DSN NOTIFY asks for
 *	failures) and the original's header lines, never its unscanned
 *	body. None is sent for the null sender or for a notice. Its caller
 *	learns through notify_done() when sendmail has taken it, and keeps
 *	it owed until then.
 *
 *	sendmail runs in child processes (posix_spawn, the message on a
 *	memfd as its standard input, its output on another memfd for the
 *	log), at most NOTIFY_PARALLEL at a time, each for at most
 *	NOTIFY_TIME_LIMIT; failures are logged. Notices are best effort:
 *	those queued when holdscand stops or crashes are not sent.
 *
 *	This module must never block the master (no waiting for a child
 *	except after killing it), never reap a child it did not start, and
 *	never put a control character from a message into a notice's
 *	header.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "daemon/notify.h"

#define NOTIFY_PARALLEL		4
#define NOTIFY_QUEUE_MAX	10000
#define NOTIFY_TIME_LIMIT_MS	60000
#define NOTIFY_TEMPLATE_MAX	(64 * 1024)
#define NOTIFY_VALUE_MAX	2000	/* bytes of one expanded value */
#define NOTIFY_RCPTS_SHOWN	50	/* recipients named in $recipients */
#define BOUNCE_RCPTS_MAX	1000	/* recipients reported in one bounce */
#define BOUNCE_HEADERS_MAX	50000	/* bytes of the original's header (Postfix's bounce_size_limit) */
#define DSN_NOTIFY_NEVER	(1 << 0)	/* Postfix's dsn_mask.h */
#define DSN_NOTIFY_FAILURE	(1 << 2)

extern char **environ;

struct job {
	TAILQ_ENTRY(job) entry;
	char		*text;		/* the notice */
	size_t		 len;
	char		*rcpt;		/* its one envelope recipient */
	char		*queue_id;	/* the message it is about, for the log */
	char		*key;		/* notify_done() reports it, or NULL */
	bool		 ok;		/* sendmail took it */
	pid_t		 pid;
	int		 outfd;		/* sendmail's stdout and stderr */
	long		 deadline_ms;
};

TAILQ_HEAD(job_list, job);

struct notify {
	char		*sendmail;	/* the instance's sendmail_path */
	char		*config_dir;
	char		*myhostname;
	unsigned	 to_postmaster;	/* verdict masks */
	unsigned	 to_recipients;
	unsigned	 to_senders;
	char		*postmaster;
	char		*tmpl_postmaster;	/* NULL when not needed */
	char		*tmpl_recipient;
	char		*tmpl_sender;
	struct job_list	 queued;
	struct job_list	 running;
	struct job_list	 done;		/* finished, with a key, not yet reported */
	size_t		 nqueued;
	size_t		 nrunning;
	size_t		 dropped;
};

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

/* --- set-up ------------------------------------------------------------------ */

/* Run "postconf -c dir -h name" (no shell) and return its one line. */
static char *
postconf_value(const char *dir, const char *name, char **error_r)
{
	posix_spawn_file_actions_t fa;
	char		*argv[] = { "postconf", "-c", (char *)dir, "-h",
			    (char *)name, NULL };
	char		 out[4096];
	size_t		 len = 0;
	ssize_t		 r;
	pid_t		 pid;
	int		 pfd[2], status, err;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*error_r = xasprintf("pipe: %s", strerror(errno));
		return (NULL);
	}
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO) != 0) {
		*error_r = xasprintf("posix_spawn: out of memory");
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		return (NULL);
	}
	err = posix_spawnp(&pid, "postconf", &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(pfd[1]);
	if (err != 0) {
		*error_r = xasprintf("cannot run postconf: %s", strerror(err));
		(void)close(pfd[0]);
		return (NULL);
	}
	while (len < sizeof(out) - 1) {
		r = read(pfd[0], out + len, sizeof(out) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out[len] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out[0] != '/') {
		*error_r = xasprintf("postconf -c %s -h %s: %s", dir, name,
		    out[0] ? out : "failed");
		return (NULL);
	}
	return (xstrdup(out));
}

static char *
read_template(const char *path, char **error_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[4096];
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = xasprintf("template %s: %s", path, strerror(errno));
		return (NULL);
	}
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b.len + (size_t)r > NOTIFY_TEMPLATE_MAX) {
			*error_r = xasprintf("template %s: %s", path, r < 0 ?
			    strerror(errno) : "larger than 64k");
			(void)close(fd);
			buf_free(&b);
			return (NULL);
		}
		buf_append(&b, chunk, (size_t)r);
	}
	(void)close(fd);
	buf_putc(&b, '\0');
	if (strstr(b.data, "\n\n") == NULL || memchr(b.data, '\0',
	    b.len - 1) != NULL || strchr(b.data, ':') == NULL ||
	    strchr(b.data, ':') > strchr(b.data, '\n')) {
		*error_r = xasprintf("template %s: not a message (header lines, "
		    "an empty line, the body)", path);
		buf_free(&b);
		return (NULL);
	}
	return (buf_steal(&b, NULL));
}

int
notify_configure(struct notify *n, const struct hs_config *conf,
    char **error_r)
{
	unsigned	 pm = confword_verdict_mask(conf->notify_postmaster);
	unsigned	 rc = confword_verdict_mask(conf->notify_recipients);
	unsigned	 sd = confword_verdict_mask(conf->notify_senders);
	char		*tp = NULL, *tr = NULL, *ts = NULL;

	if (pm != 0 && (tp = read_template(conf->notify_postmaster_template,
	    error_r)) == NULL)
		return (-1);
	if (rc != 0 && (tr = read_template(conf->notify_recipient_template,
	    error_r)) == NULL) {
		free(tp);
		return (-1);
	}
	if (sd != 0 && (ts = read_template(conf->notify_sender_template,
	    error_r)) == NULL) {
		free(tp);
		free(tr);
		return (-1);
	}
	if (((pm | rc | sd) != 0 ||
	    conf->set_aside_expiry_action == EXPIRE_BOUNCE) && n->sendmail == NULL &&
	    (n->sendmail = postconf_value(n->config_dir, "sendmail_path",
	    error_r)) == NULL) {
		free(tp);
		free(tr);
		free(ts);
		return (-1);
	}
	free(n->tmpl_postmaster);
	free(n->tmpl_recipient);
	free(n->tmpl_sender);
	n->tmpl_sender = ts;
	n->to_senders = sd;
	free(n->postmaster);
	n->tmpl_postmaster = tp;
	n->tmpl_recipient = tr;
	n->to_postmaster = pm;
	n->to_recipients = rc;
	n->postmaster = xstrdup(conf->postmaster_address);
	return (0);
}

int
notify_new(const struct hs_config *conf, const struct queue_layout *ql,
    struct notify **n_r, char **error_r)
{
	struct notify	*n = xcalloc(1, sizeof(*n));

	TAILQ_INIT(&n->queued);
	TAILQ_INIT(&n->running);
	TAILQ_INIT(&n->done);
	n->config_dir = xstrdup(conf->postfix_config_directory);
	n->myhostname = xstrdup(ql->myhostname);
	if (notify_configure(n, conf, error_r) < 0) {
		notify_free(&n);
		return (-1);
	}
	*n_r = n;
	return (0);
}

static void
job_free(struct job *j)
{
	if (j->outfd >= 0)
		(void)close(j->outfd);
	free(j->text);
	free(j->rcpt);
	free(j->queue_id);
	free(j->key);
	free(j);
}

/* A job is over: a keyed one waits for notify_done(), others go. */
static void
job_finish(struct notify *n, struct job *j, bool ok)
{
	if (j->key == NULL) {
		job_free(j);
		return;
	}
	if (j->outfd >= 0) {
		(void)close(j->outfd);
		j->outfd = -1;
	}
	j->ok = ok;
	TAILQ_INSERT_TAIL(&n->done, j, entry);
}

void
notify_free(struct notify **np)
{
	struct notify	*n = *np;
	struct job	*j;

	if (n == NULL)
		return;
	while ((j = TAILQ_FIRST(&n->queued)) != NULL) {
		TAILQ_REMOVE(&n->queued, j, entry);
		job_free(j);
	}
	while ((j = TAILQ_FIRST(&n->running)) != NULL) {
		TAILQ_REMOVE(&n->running, j, entry);
		job_free(j);	/* notify_drain() has reaped them */
	}
	while ((j = TAILQ_FIRST(&n->done)) != NULL) {
		TAILQ_REMOVE(&n->done, j, entry);
		job_free(j);
	}
	free(n->sendmail);
	free(n->config_dir);
	free(n->myhostname);
	free(n->postmaster);
	free(n->tmpl_postmaster);
	free(n->tmpl_recipient);
	free(n->tmpl_sender);
	free(n);
	*np = NULL;
}

/* --- building a notice -------------------------------------------------------- */

bool
notify_is_notice(const struct qfile *qf)
{
	struct buf	 block = BUF_INIT, v = BUF_INIT;
	bool		 is;

	if (qf->sender == NULL || qf->sender[0] != '\0')
		return (false);
	mailhdr_block(qf, &block);
	is = mailhdr_get(block.data ? block.data : "", block.len, NOTIFY_HEADER,
	    &v);
	buf_free(&block);
	buf_free(&v);
	return (is);
}

static bool
is_ascii(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return (false);
	return (true);
}

/* RFC 2047 B encoded words of at most 45 bytes of UTF-8 each, folded. */
static void
encode_words(const char *s, size_t n, struct buf *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		 i = 0, chunk, k;

	while (i < n) {
		chunk = n - i > 45 ? 45 : n - i;
		/* Never split a UTF-8 sequence between two words. */
		while (i + chunk < n && chunk > 1 &&
		    ((unsigned char)s[i + chunk] & 0xc0) == 0x80)
			chunk--;
		buf_printf(out, "%s=?UTF-8?B?", i ? "\n " : "");
		for (k = 0; k < chunk; k += 3) {
			unsigned char	 a = (unsigned char)s[i + k];
			unsigned char	 b = k + 1 < chunk ?
					    (unsigned char)s[i + k + 1] : 0;
			unsigned char	 c = k + 2 < chunk ?
					    (unsigned char)s[i + k + 2] : 0;

			buf_putc(out, b64[a >> 2]);
			buf_putc(out, b64[((a & 3) << 4) | (b >> 4)]);
			buf_putc(out, k + 1 < chunk ?
			    b64[((b & 15) << 2) | (c >> 6)] : '=');
			buf_putc(out, k + 2 < chunk ? b64[c & 63] : '=');
		}
		buf_append(out, "?=", 2);
		i += chunk;
	}
}

static const char *
var_value(const char *const *vars, const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; vars[i] != NULL; i += 2)
		if (strlen(vars[i]) == n && strncmp(vars[i], name, n) == 0)
			return (vars[i + 1]);
	return (NULL);
}

static void
put_value(const char *v, bool header, struct buf *out)
{
	struct buf	 clean = BUF_INIT;

	/* One line of text without control characters, bounded. */
	mailhdr_decode(v, strlen(v), NOTIFY_VALUE_MAX, &clean);
	if (header && !is_ascii(clean.data ? clean.data : "", clean.len))
		encode_words(clean.data, clean.len, out);
	else
		buf_append(out, clean.data ? clean.data : "", clean.len);
	buf_free(&clean);
}

void
notify_expand(const char *tmpl, size_t len, const char *const *vars,
    struct buf *out)
{
	const char	*v;
	size_t		 i = 0, n;
	bool		 header = true;

	while (i < len) {
		char	 c = tmpl[i];

		if (c == '\n' && header && i + 1 < len && tmpl[i + 1] == '\n')
			header = false;	/* the empty line ends the header */
		if (c != '$' || i + 1 >= len) {
			buf_putc(out, c);
			i++;
			continue;
		}
		if (tmpl[i + 1] == '$') {
			buf_putc(out, '$');
			i += 2;
			continue;
		}
		if (tmpl[i + 1] == '{') {
			const char	*end = memchr(tmpl + i + 2, '}',
					    len - i - 2);

			if (end != NULL && (v = var_value(vars, tmpl + i + 2,
			    (size_t)(end - tmpl - i - 2))) != NULL) {
				put_value(v, header, out);
				i = (size_t)(end - tmpl) + 1;
				continue;
			}
			buf_putc(out, c);
			i++;
			continue;
		}
		for (n = 0; i + 1 + n < len && ((tmpl[i + 1 + n] >= 'a' &&
		    tmpl[i + 1 + n] <= 'z') || tmpl[i + 1 + n] == '_'); n++)
			;
		if (n > 0 && (v = var_value(vars, tmpl + i + 1, n)) != NULL) {
			put_value(v, header, out);
			i += 1 + n;
			continue;
		}
		buf_putc(out, c);
		i++;
	}
}

static bool
template_has(const char *tmpl, const char *name)
{
	struct buf	 v = BUF_INIT;
	const char	*end = strstr(tmpl, "\n\n");
	bool		 has;

	has = mailhdr_get(tmpl, end ? (size_t)(end - tmpl) + 1 : strlen(tmpl),
	    name, &v);
	buf_free(&v);
	return (has);
}

static void
queue_job(struct notify *n, const char *tmpl, const char *const *vars,
    const struct notify_msg *m, const char *rcpt)
{
	struct buf	 text = BUF_INIT, ext = BUF_INIT;
	struct job	*j;

	if (n->nqueued >= NOTIFY_QUEUE_MAX) {
		if (n->dropped++ % 1000 == 0)
			hs_warnx("%s: notice to %s not sent: %zu notices "
			    "waiting already", m->queue_id, rcpt, n->nqueued);
		return;
	}
	buf_printf(&text, "%s: %s (%s)\n", NOTIFY_HEADER, m->queue_id,
	    verdict_name(m->verdict));
	if (!template_has(tmpl, "Auto-Submitted"))
		buf_printf(&text, "Auto-Submitted: auto-generated\n");
	if (!template_has(tmpl, "MIME-Version"))
		buf_printf(&text, "MIME-Version: 1.0\n"
		    "Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n");
	notify_expand(tmpl, strlen(tmpl), vars, &text);
	j = xcalloc(1, sizeof(*j));
	j->len = text.len;
	j->text = buf_steal(&text, NULL);
	/* One address for sendmail, which reads an argument as a list. */
	addr_external(rcpt, &ext);
	j->rcpt = buf_steal(&ext, NULL);
	j->queue_id = xstrdup(m->queue_id);
	j->outfd = -1;
	j->pid = -1;
	TAILQ_INSERT_TAIL(&n->queued, j, entry);
	n->nqueued++;
}

void
notify_message(struct notify *n, const struct notify_msg *m)
{
	const struct qfile *qf = m->qf;
	struct buf	 subj = BUF_INIT, rcpts = BUF_INIT, one = BUF_INIT;
	const char	*vars[32];
	char		 date[64];
	struct tm	 tm;
	time_t		 now = time(NULL);
	unsigned	 bit = 1U << m->verdict;
	size_t		 i, k, shown = 0;
	bool		 pm, rc, sd;

	pm = (n->to_postmaster & bit) != 0;
	rc = (n->to_recipients & bit) != 0 && m->quarantined;
	sd = (n->to_senders & bit) != 0 && qf != NULL &&
	    qf->sender[0] != '\0' && strcmp(m->action, "deliver") != 0;
	if ((!pm && !rc && !sd) || qf == NULL || notify_is_notice(qf))
		return;
	mailhdr_subject(qf, NOTIFY_VALUE_MAX, &subj);
	for (i = 0; i < qf->nrcpts; i++) {
		if (qf->rcpts[i].state != QREC_RCPT)
			continue;
		if (shown++ < NOTIFY_RCPTS_SHOWN) {
			addr_external(qf->rcpts[i].address, &one);
			buf_printf(&rcpts, "%s%s", rcpts.len ? ", " : "",
			    one.data);
		}
	}
	if (shown > NOTIFY_RCPTS_SHOWN)
		buf_printf(&rcpts, " and %zu more", shown - NOTIFY_RCPTS_SHOWN);
	(void)localtime_r(&now, &tm);
	(void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	k = 0;
	vars[k++] = "queue_id";		vars[k++] = m->queue_id;
	vars[k++] = "sender";		vars[k++] = qf->sender[0] ?
					    qf->sender : "<>";
	vars[k++] = "verdict";		vars[k++] = verdict_name(m->verdict);
	vars[k++] = "reason";		vars[k++] = m->reason ? m->reason : "";
	vars[k++] = "action";		vars[k++] = m->action;
	vars[k++] = "quarantine_id";	vars[k++] = m->quarantine_id[0] ?
					    m->quarantine_id : "(none)";
	vars[k++] = "subject";		vars[k++] = subj.data ? subj.data : "";
	vars[k++] = "postmaster";	vars[k++] = n->postmaster;
	vars[k++] = "myhostname";	vars[k++] = n->myhostname;
	vars[k++] = "date";		vars[k++] = date;
	vars[k++] = "recipients";	vars[k++] = rcpts.data ? rcpts.data : "";
	vars[k++] = "to";
	vars[k + 1] = NULL;
	if (pm) {
		vars[k] = n->postmaster;
		queue_job(n, n->tmpl_postmaster, vars, m, n->postmaster);
	}
	for (i = 0; rc && i < qf->nrcpts; i++) {
		if (qf->rcpts[i].state != QREC_RCPT)
			continue;
		/* Each recipient learns of itself only, by its external form. */
		addr_external(qf->rcpts[i].address, &one);
		vars[k] = one.data;			/* $to */
		vars[k - 2] = one.data;			/* $recipients */
		queue_job(n, n->tmpl_recipient, vars, m, qf->rcpts[i].address);
	}
	if (sd) {
		/* the sender is told of the recipients it gave, not others */
		vars[k - 2] = rcpts.data ? rcpts.data : "";
		addr_external(qf->sender, &one);
		vars[k] = one.data;			/* $to */
		queue_job(n, n->tmpl_sender, vars, m, qf->sender);
	}
	buf_free(&subj);
	buf_free(&rcpts);
	buf_free(&one);
}

/* --- bounces ----------------------------------------------------------------- */

/* Does this recipient want a failure notice (RFC 3461 NOTIFY)? */
static bool
wants_failure(const struct qfile_rcpt *r)
{
	if (r->state != QREC_RCPT)
		return (false);
	return (r->dsn_notify == 0 || (r->dsn_notify & DSN_NOTIFY_FAILURE));
}

/* An envelope value on one line, without control characters, bounded. */
static void
put_line(const char *label, const char *v, struct buf *out)
{
	buf_printf(out, "%s", label);
	put_value(v, false, out);
	buf_putc(out, '\n');
}

static void
rfc2822_date(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	buf[0] = '\0';
	if (localtime_r(&t, &tm) != NULL)
		(void)strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

size_t
notify_bounce_text(const char *myhostname, const char *postmaster,
    const struct notify_bounce *b, time_t now, struct buf *out)
{
	const struct qfile *qf = b->qf;
	struct buf	 block = BUF_INIT, to = BUF_INIT;
	char		 date[64], boundary[200];
	size_t		 i, due = 0, shown = 0, cut;

	if (qf == NULL || qf->sender == NULL || qf->sender[0] == '\0' ||
	    notify_is_notice(qf))
		return (0);
	for (i = 0; i < qf->nrcpts; i++)
		if (wants_failure(&qf->rcpts[i]))
			due++;
	if (due == 0)
		return (0);
	(void)snprintf(boundary, sizeof(boundary), "%s.%lld/%s", b->queue_id,
	    (long long)now, myhostname);
	rfc2822_date(now, date, sizeof(date));
	/* The header: Postfix's bounce, marked as a notice of ours. */
	buf_printf(out, "%s: %s (%s)\n", NOTIFY_HEADER, b->queue_id,
	    verdict_name(VERDICT_FAILED));
	buf_printf(out, "Auto-Submitted: auto-replied\n");
	buf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\n",
	    myhostname);
	buf_printf(out, "Subject: Undelivered Mail Returned to Sender\n");
	addr_external(qf->sender, &to);
	put_line("To: ", to.data, out);
	buf_free(&to);
	buf_printf(out, "Date: %s\n", date);
	buf_printf(out, "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"%s\"\n"
	    "Content-Transfer-Encoding: 8bit\n\n", boundary);
	buf_printf(out, "This is a MIME-encapsulated message.\n\n");

	/* 1. For people. */
	buf_printf(out, "--%s\n"
	    "Content-Description: Notification\n"
	    "Content-Type: text/plain; charset=utf-8\n\n", boundary);
	buf_printf(out, "This is the mail system at host %s.\n\n", myhostname);
	buf_printf(out, "I'm sorry to have to inform you that your message "
	    "could not\nbe delivered to one or more recipients: it could not "
	    "be scanned\nfor viruses, and it was not delivered unscanned. It "
	    "is kept\nin this system's quarantine");
	if (b->quarantine_id != NULL && b->quarantine_id[0] != '\0') {
		buf_printf(out, " as ");
		put_value(b->quarantine_id, false, out);
	}
	buf_printf(out, ".\n\nFor further assistance, please send mail to ");
	put_value(postmaster, false, out);
	buf_printf(out, ".\n\n                   The mail system\n\n");
	for (i = 0; i < qf->nrcpts && shown < BOUNCE_RCPTS_MAX; i++) {
		if (!wants_failure(&qf->rcpts[i]))
			continue;
		buf_putc(out, '<');
		put_value(qf->rcpts[i].address, false, out);
		buf_printf(out, ">: not delivered: ");
		put_value(b->reason, false, out);
		buf_printf(out, "\n");
		shown++;
	}
	if (due > shown)
		buf_printf(out, "(and %zu more recipients)\n", due - shown);
	buf_putc(out, '\n');

	/* 2. For programs (RFC 3464). */
	buf_printf(out, "--%s\n"
	    "Content-Description: Delivery report\n"
	    "Content-Type: message/delivery-status\n\n", boundary);
	buf_printf(out, "Reporting-MTA: dns; %s\n", myhostname);
	put_line("X-Postfix-Queue-ID: ", b->queue_id, out);
	if (b->quarantine_id != NULL && b->quarantine_id[0] != '\0')
		put_line("X-Holdscan-Quarantine-ID: ", b->quarantine_id, out);
	put_line("X-Postfix-Sender: rfc822; ", qf->sender, out);
	if (qf->envid != NULL && qf->envid[0] != '\0')
		put_line("Original-Envelope-Id: ", qf->envid, out);
	rfc2822_date((time_t)qf->arrival_sec, date, sizeof(date));
	buf_printf(out, "Arrival-Date: %s\n", date);
	for (i = 0, shown = 0; i < qf->nrcpts && shown < BOUNCE_RCPTS_MAX;
	    i++) {
		const struct qfile_rcpt *r = &qf->rcpts[i];

		if (!wants_failure(r))
			continue;
		buf_putc(out, '\n');
		put_line("Final-Recipient: rfc822; ", r->address, out);
		if (r->dsn_orcpt != NULL && r->dsn_orcpt[0] != '\0')
			put_line("Original-Recipient: ", r->dsn_orcpt, out);
		else if (r->orig_rcpt != NULL && r->orig_rcpt[0] != '\0')
			put_line("Original-Recipient: rfc822; ", r->orig_rcpt,
			    out);
		buf_printf(out, "Action: failed\nStatus: 5.7.0\n");
		put_line("Diagnostic-Code: X-Holdscan; ", b->reason, out);
		shown++;
	}
	buf_putc(out, '\n');

	/* 3. The original's header, never its (unscanned) body. */
	buf_printf(out, "--%s\n"
	    "Content-Description: Undelivered Message Headers\n"
	    "Content-Type: text/rfc822-headers\n\n", boundary);
	mailhdr_block(qf, &block);
	cut = block.len;
	if (cut > BOUNCE_HEADERS_MAX) {
		cut = BOUNCE_HEADERS_MAX;
		while (cut > 0 && block.data[cut - 1] != '\n')
			cut--;
	}
	buf_append(out, block.data ? block.data : "", cut);
	if (cut > 0 && block.data[cut - 1] != '\n')
		buf_putc(out, '\n');
	buf_free(&block);
	buf_printf(out, "\n--%s--\n", boundary);
	return (due);
}

int
notify_bounce(struct notify *n, const struct notify_bounce *b)
{
	struct buf	 text = BUF_INIT, ext = BUF_INIT;
	struct job	*j;

	if (n->nqueued >= NOTIFY_QUEUE_MAX) {
		hs_warnx("%s: notice to the sender not queued: %zu notices "
		    "waiting already", b->queue_id, n->nqueued);
		return (-1);
	}
	if (notify_bounce_text(n->myhostname, n->postmaster, b, time(NULL),
	    &text) == 0) {
		buf_free(&text);
		return (0);
	}
	if (n->sendmail == NULL) {
		hs_warnx("%s: notice to the sender not queued: Postfix's "
		    "sendmail_path is not known (the configuration that asked "
		    "for bounces did not load)", b->queue_id);
		buf_free(&text);
		return (-1);
	}
	j = xcalloc(1, sizeof(*j));
	j->len = text.len;
	j->text = buf_steal(&text, NULL);
	addr_external(b->qf->sender, &ext);
	j->rcpt = buf_steal(&ext, NULL);
	j->queue_id = xstrdup(b->queue_id);
	j->key = b->key != NULL ? xstrdup(b->key) : NULL;
	j->outfd = -1;
	j->pid = -1;
	TAILQ_INSERT_TAIL(&n->queued, j, entry);
	n->nqueued++;
	return (1);
}

bool
notify_done(struct notify *n, char *key, size_t size, bool *ok_r)
{
	struct job	*j;

	if ((j = TAILQ_FIRST(&n->done)) == NULL)
		return (false);
	TAILQ_REMOVE(&n->done, j, entry);
	(void)snprintf(key, size, "%s", j->key);
	*ok_r = j->ok;
	job_free(j);
	return (true);
}

/* --- running sendmail --------------------------------------------------------- */

static int
start_job(struct notify *n, struct job *j)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t	 none, dfl;
	char		*argv[] = { n->sendmail, "-C", n->config_dir, "-f", "<>",
			    "-i", "--", j->rcpt, NULL };
	int		 in = -1, err;
	ssize_t		 w;
	size_t		 off = 0;

	if ((in = memfd_create("holdscan-notice", MFD_CLOEXEC)) < 0 ||
	    (j->outfd = memfd_create("holdscan-sendmail", MFD_CLOEXEC)) < 0)
		goto fail;
	while (off < j->len) {
		if ((w = write(in, j->text + off, j->len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += (size_t)w;
	}
	if (lseek(in, 0, SEEK_SET) < 0)
		goto fail;
	(void)sigemptyset(&none);
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	(void)sigaddset(&dfl, SIGTERM);
	(void)sigaddset(&dfl, SIGHUP);
	(void)sigaddset(&dfl, SIGINT);
	(void)sigaddset(&dfl, SIGCHLD);
	if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
		errno = err;
		goto fail;
	}
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		errno = err;
		goto fail;
	}
	/* The master blocks signals for its signalfd: sendmail must not. */
	if ((err = posix_spawn_file_actions_adddup2(&fa, in, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, j->outfd, 1)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, j->outfd, 2)) != 0 ||
	    (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(&attr, &dfl)) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (err = posix_spawn(&j->pid, n->sendmail, &fa, &attr, argv,
	    environ)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		(void)posix_spawnattr_destroy(&attr);
		errno = err;
		goto fail;
	}
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	(void)close(in);
	j->deadline_ms = now_ms() + NOTIFY_TIME_LIMIT_MS;
	return (0);

fail:
	hs_warn("%s: notice to %s not sent: %s", j->queue_id, j->rcpt,
	    n->sendmail);
	if (in >= 0)
		(void)close(in);
	j->pid = -1;
	return (-1);
}

/* One line of what sendmail said, for the log. */
static void
job_output(struct job *j, char *line, size_t size)
{
	ssize_t	 r;

	line[0] = '\0';
	if (j->outfd < 0 || (r = pread(j->outfd, line, size - 1, 0)) <= 0)
		return;
	line[r] = '\0';
	line[strcspn(line, "\n")] = '\0';
	(void)text_safe(line, strlen(line), false);
}

static void
job_done(struct notify *n, struct job *j, int status)
{
	char	 line[256];

	bool	 ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	TAILQ_REMOVE(&n->running, j, entry);
	n->nrunning--;
	if (ok) {
		hs_info("%s: notice sent to %s", j->queue_id, j->rcpt);
	} else {
		job_output(j, line, sizeof(line));
		if (WIFEXITED(status))
			hs_warnx("%s: notice to %s failed: %s exited with status "
			    "%d%s%s", j->queue_id, j->rcpt, n->sendmail,
			    WEXITSTATUS(status), line[0] ? ": " : "", line);
		else
			hs_warnx("%s: notice to %s failed: %s killed by signal "
			    "%d", j->queue_id, j->rcpt, n->sendmail,
			    WTERMSIG(status));
	}
	job_finish(n, j, ok);
}

long
notify_tick(struct notify *n)
{
	struct job	*j, *next;
	long		 now = now_ms(), wait = -1;
	pid_t		 r;
	int		 status;

	for (j = TAILQ_FIRST(&n->running); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		r = waitpid(j->pid, &status, WNOHANG);
		if (r == j->pid) {
			job_done(n, j, status);
			continue;
		}
		if (r < 0 && errno != EINTR) {
			hs_warn("%s: notice to %s: waitpid", j->queue_id, j->rcpt);
			TAILQ_REMOVE(&n->running, j, entry);
			n->nrunning--;
			job_finish(n, j, false);
			continue;
		}
		if (now >= j->deadline_ms) {
			hs_warnx("%s: notice to %s: %s took longer than %d s; "
			    "killed", j->queue_id, j->rcpt, n->sendmail,
			    NOTIFY_TIME_LIMIT_MS / 1000);
			(void)kill(j->pid, SIGKILL);
			while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
				;
			job_done(n, j, status);
		}
	}
	while (n->nrunning < NOTIFY_PARALLEL &&
	    (j = TAILQ_FIRST(&n->queued)) != NULL) {
		TAILQ_REMOVE(&n->queued, j, entry);
		n->nqueued--;
		if (start_job(n, j) < 0) {
			job_finish(n, j, false);
			continue;
		}
		TAILQ_INSERT_TAIL(&n->running, j, entry);
		n->nrunning++;
	}
	TAILQ_FOREACH(j, &n->running, entry) {
		long	 left = j->deadline_ms - now;

		if (wait < 0 || left < wait)
			wait = left < 0 ? 0 : left;
	}
	/* SIGCHLD wakes the master when a child ends; this is the fallback. */
	if (wait > 1000 || (wait < 0 && n->nrunning > 0))
		wait = 1000;
	return (wait);
}

size_t
notify_busy(const struct notify *n)
{
	return (n->nqueued + n->nrunning);
}

void
notify_drain(struct notify *n, long ms)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	long		 until = now_ms() + ms;
	struct job	*j;
	int		 status;

	while (n->nrunning > 0 && now_ms() < until) {
		(void)notify_tick(n);
		if (n->nrunning > 0)
			(void)nanosleep(&ts, NULL);
	}
	while ((j = TAILQ_FIRST(&n->running)) != NULL) {
		(void)kill(j->pid, SIGKILL);
		while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
			;
		job_done(n, j, status);
	}
	if (n->nqueued > 0)
		hs_warnx("stopping: %zu notices not sent", n->nqueued);
}
