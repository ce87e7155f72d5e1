/*
 * NAME
 *	cmd_digest - holdscan digest: quarantine digests with one-click links
 * SYNOPSIS
 *	holdscan digest [--since T] [--recipient ADDR] [--link-lifetime D]
 *	    [--dry-run]
 *	holdscan digest --init-key [--group GROUP]
 *	holdscan digest --check-link URL [--action A] [--recipient ADDR]
 * DESCRIPTION
 *	For cron or a systemd timer. Lists the messages held in the
 *	quarantine that were quarantined since the last digest (the time
 *	of the last run that sent every digest, in STATE/digest.last;
 *	the last 24 hours at the first run) or since --since; groups them
 *	by envelope recipient (only those in digest_recipients' domains,
 *	when set); and mails each recipient one text/plain digest listing
 *	its messages (date, sender, subject, verdict, reason), each with a
 *	release and a delete link (with digest_html, a multipart/alternative
 *	of that text and an HTML table), DIGEST_URL/d/TOKEN (web/digestlink.h),
 *	that expires after digest_link_lifetime (a recipient that a link
 *	cannot hold is skipped with a warning). Each digest is submitted
 *	with Postfix's sendmail, one recipient per submission, in its
 *	external form (tool/submit.h). --dry-run prints the digests
 *	instead and changes nothing. A digest lists at most
 *	DIGEST_MAX_ITEMS messages and says how many more there are.
 *
 *	--init-key makes digest_key_file; --check-link checks a link as
 *	holdscan-web would on GET (nothing is used), and the message it
 *	names: held, and addressed to the link's recipient.
 *
 *	Every text from a message (sender, subject, reason) is made one
 *	safe line (common/text.h) before it goes into a digest, and is
 *	escaped by text_html() in the HTML part; a digest
 *	printed by --dry-run passes text_safe() again for the terminal.
 *
 *	digest.last moves to the run's start unless every digest failed.
 *
 *	This command must never change the quarantine (links are answered
 *	by holdscan-web, through holdscand), send a recipient a message
 *	that is not addressed to it, print or log the key, or advance
 *	digest.last past a run in which no digest could be sent.
 * DIAGNOSTICS
 *	Exit 0; 1 when a digest could not be submitted or a link is
 *	refused; 2 usage; EX_CONFIG without digest_url or a usable key.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/strmap.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "tool/output.h"
#include "tool/submit.h"
#include "tool/tool.h"
#include "web/digestkey.h"
#include "web/digestlink.h"

#define DIGEST_MAX_ITEMS	500	/* messages listed in one digest */
#define DIGEST_SUBJECT_MAX	200	/* bytes of a subject shown */
#define DIGEST_URL_MAX		300
#define DIGEST_STAMP		"digest.last"
#define DIGEST_FIRST_WINDOW	86400	/* the first run: the last 24 hours */

/* One held message, as a digest shows it. */
struct item {
	char		 qid[QUARANTINE_ID_SIZE];
	time_t		 quarantined;
	char		*sender;	/* safe, external form, or "<>" */
	char		*subject;	/* safe, one line */
	char		*verdict;	/* safe */
	char		*reason;	/* safe */
};

/* One recipient and its messages (indices into items). */
struct rcpt {
	char		*addr;		/* internal form, as in the entry */
	size_t		*items;
	size_t		 n, cap;
};

struct digest {
	struct tool	*t;
	const char	*only;		/* --recipient */
	struct item	*items;
	size_t		 nitems, capitems;
	struct rcpt	*rcpts;
	size_t		 nrcpts, caprcpts;
	struct strmap	 byaddr;	/* lower-cased address -> index + 1 */
};

/* A copy of s as one safe line of at most max bytes. */
static char *
safe_line(const char *s, size_t max)
{
	size_t	 n = strlen(s);
	char	*c;

	if (n > max)
		n = max;
	c = xstrndup(s, n);
	(void)text_safe(c, n, false);
	return (c);
}

static char *
safe_addr(const char *internal)
{
	struct buf	 b = BUF_INIT;
	char		*c;

	if (internal[0] == '\0')
		return (xstrdup("<>"));
	addr_external(internal, &b);
	c = safe_line(b.data, DIGESTLINK_RCPT_MAX);
	buf_free(&b);
	return (c);
}

/* Is addr's domain one of digest_recipients' (empty: every domain)? */
static bool
domain_wanted(const char *list, const char *addr)
{
	const char	*at = strrchr(addr, '@'), *dom;
	size_t		 len, dlen;

	list += strspn(list, ", \t");
	if (*list == '\0')
		return (true);
	if (at == NULL)
		return (false);
	dom = at + 1;
	dlen = strlen(dom);
	while (*list != '\0') {
		len = strcspn(list, ", \t");
		if (len == dlen && strncasecmp(list, dom, len) == 0)
			return (true);
		list += len;
		list += strspn(list, ", \t");
	}
	return (false);
}

static void
add_to_rcpt(struct digest *d, const char *addr, size_t item)
{
	char		*key = xstrdup_lower(addr);
	uint64_t	 v;
	struct rcpt	*r;
	size_t		 k;

	if (!strmap_get(&d->byaddr, key, &v)) {
		if (d->nrcpts == d->caprcpts) {
			d->caprcpts = d->caprcpts ? 2 * d->caprcpts : 16;
			d->rcpts = xreallocarray(d->rcpts, d->caprcpts,
			    sizeof(*d->rcpts));
		}
		memset(&d->rcpts[d->nrcpts], 0, sizeof(*d->rcpts));
		d->rcpts[d->nrcpts].addr = xstrdup(addr);
		strmap_put(&d->byaddr, key, ++d->nrcpts);
		v = d->nrcpts;
	}
	free(key);
	r = &d->rcpts[v - 1];
	/* A recipient named twice in one message gets it listed once. */
	for (k = r->n; k > 0; k--)
		if (r->items[k - 1] == item)
			return;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 8;
		r->items = xreallocarray(r->items, r->cap, sizeof(*r->items));
	}
	r->items[r->n++] = item;
}

/* Does r get a digest: its domain, --recipient, and a token can hold it. */
static bool
rcpt_wanted(struct digest *d, const char *r)
{
	if (!domain_wanted(d->t->conf->digest_recipients, r) ||
	    (d->only != NULL && strcasecmp(d->only, r) != 0))
		return (false);
	if (!digestlink_rcpt_ok(r)) {
		char	*ext = safe_addr(r);

		hs_warnx("digest: to=<%s> skipped: the address cannot be put "
		    "in a link (longer than 320 bytes, or control characters)",
		    ext);
		free(ext);
		return (false);
	}
	return (true);
}

static int
collect_one(void *arg, const struct quarantine_entry *e)
{
	struct digest	*d = arg;
	struct item	*it;
	size_t		 i;
	bool		*want, any = false;

	want = xcalloc(e->nrcpts + 1, sizeof(*want));
	for (i = 0; i < e->nrcpts; i++)
		any |= want[i] = rcpt_wanted(d, e->rcpts[i]);
	if (!any) {
		free(want);
		return (0);
	}
	if (d->nitems == d->capitems) {
		d->capitems = d->capitems ? 2 * d->capitems : 64;
		d->items = xreallocarray(d->items, d->capitems,
		    sizeof(*d->items));
	}
	it = &d->items[d->nitems];
	(void)snprintf(it->qid, sizeof(it->qid), "%s", e->qid);
	it->quarantined = e->quarantined;
	it->sender = safe_addr(e->sender);
	it->subject = safe_line(e->subject ? e->subject : "",
	    DIGEST_SUBJECT_MAX);
	it->verdict = safe_line(e->verdict, sizeof(e->verdict));
	it->reason = safe_line(e->reason, sizeof(e->reason));
	for (i = 0; i < e->nrcpts; i++)
		if (want[i])
			add_to_rcpt(d, e->rcpts[i], d->nitems);
	d->nitems++;
	free(want);
	return (0);
}

static void
digest_clear(struct digest *d)
{
	size_t	 i;

	for (i = 0; i < d->nitems; i++) {
		free(d->items[i].sender);
		free(d->items[i].subject);
		free(d->items[i].verdict);
		free(d->items[i].reason);
	}
	free(d->items);
	for (i = 0; i < d->nrcpts; i++) {
		free(d->rcpts[i].addr);
		free(d->rcpts[i].items);
	}
	free(d->rcpts);
	strmap_clear(&d->byaddr);
}

static void
rfc2822_date(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	buf[0] = '\0';
	if (localtime_r(&t, &tm) != NULL)
		(void)strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static void
short_date(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	buf[0] = '\0';
	if (localtime_r(&t, &tm) != NULL)
		(void)strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
}

struct linkctx {
	const unsigned char *key;
	const char	*url;		/* without a trailing '/' */
	time_t		 expiry;
};

/* The link for (qid, a, rcpt): digest_url/d/TOKEN, owned by the caller. */
static char *
make_link(const struct linkctx *lc, const char *qid, enum digestlink_action a,
    const char *rcpt, char **error_r)
{
	struct buf	 b = BUF_INIT;

	buf_printf(&b, "%s/d/", lc->url);
	if (digestlink_make(lc->key, qid, a, rcpt, lc->expiry, &b,
	    error_r) < 0) {
		buf_free(&b);
		return (NULL);
	}
	return (buf_steal(&b, NULL));
}

/* The text/plain part's body. */
static void
text_part(const struct digest *d, const struct rcpt *r, char **links,
    size_t shown, const char *to, const char *since, const char *until,
    struct buf *out)
{
	char		 when[32];
	size_t		 i;

	buf_printf(out, "Messages to %s were held in quarantine since %s.\n"
	    "They are not delivered unless you release them.\n\n", to, since);
	for (i = 0; i < shown; i++) {
		const struct item *it = &d->items[r->items[i]];

		short_date(it->quarantined, when, sizeof(when));
		buf_printf(out, "%zu. %s  from %s\n", i + 1, when, it->sender);
		buf_printf(out, "   Subject: %s\n", it->subject);
		buf_printf(out, "   Verdict: %s%s%s%s\n", it->verdict,
		    it->reason[0] ? " (" : "", it->reason,
		    it->reason[0] ? ")" : "");
		buf_printf(out, "   Release: %s\n   Delete:  %s\n\n",
		    links[2 * i], links[2 * i + 1]);
	}
	if (r->n > shown)
		buf_printf(out, "... and %zu more, not listed here.\n\n",
		    r->n - shown);
	buf_printf(out, "Each link works once, until %s. It opens a page that "
	    "asks you\nto confirm; nothing happens before you do.\n", until);
}

/* The text/html part's body: every text through text_html(). */
static void
html_part(const struct digest *d, const struct rcpt *r, char **links,
    size_t shown, const char *to, const char *since, const char *until,
    struct buf *out)
{
	char		 when[32];
	size_t		 i;

	buf_printf(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Quarantine digest</title></head><body>\n<p>Messages to ");
	text_html(to, out);
	buf_printf(out, " were held in quarantine since ");
	text_html(since, out);
	buf_printf(out, ".<br>\nThey are not delivered unless you release "
	    "them.</p>\n<table border=\"1\" cellpadding=\"4\">\n<tr><th>"
	    "Quarantined</th><th>From</th><th>Subject</th><th>Verdict</th>"
	    "<th></th></tr>\n");
	for (i = 0; i < shown; i++) {
		const struct item *it = &d->items[r->items[i]];

		short_date(it->quarantined, when, sizeof(when));
		buf_printf(out, "<tr><td>");
		text_html(when, out);
		buf_printf(out, "</td>\n<td>");
		text_html(it->sender, out);
		buf_printf(out, "</td>\n<td>");
		text_html(it->subject, out);
		buf_printf(out, "</td>\n<td>");
		text_html(it->verdict, out);
		if (it->reason[0] != '\0') {
			buf_printf(out, " (");
			text_html(it->reason, out);
			buf_printf(out, ")");
		}
		buf_printf(out, "</td>\n<td><a href=\"");
		text_html(links[2 * i], out);
		buf_printf(out, "\">Release</a>\n<a href=\"");
		text_html(links[2 * i + 1], out);
		buf_printf(out, "\">Delete</a></td></tr>\n");
	}
	buf_printf(out, "</table>\n");
	if (r->n > shown)
		buf_printf(out, "<p>... and %zu more, not listed here.</p>\n",
		    r->n - shown);
	buf_printf(out, "<p>Each link works once, until ");
	text_html(until, out);
	buf_printf(out, ". It opens a page that asks you to confirm; nothing "
	    "happens before you do.</p>\n</body></html>\n");
}

/*
 * The digest for r: a message, its header and a text/plain body, or with
 * digest_html a multipart/alternative of text/plain and text/html.
 */
static int
digest_text(struct digest *d, const struct rcpt *r, const struct linkctx *lc,
    time_t now, time_t since, size_t serial, struct buf *out, char **error_r)
{
	const struct hs_config *conf = d->t->conf;
	char		 date[64], until[32], sincebuf[32], boundary[128];
	char		*to = safe_addr(r->addr), *from, **links;
	size_t		 i, shown = r->n > DIGEST_MAX_ITEMS ? DIGEST_MAX_ITEMS :
			    r->n;
	int		 rc = -1;

	links = xcalloc(2 * shown + 1, sizeof(*links));
	for (i = 0; i < shown; i++) {
		const struct item *it = &d->items[r->items[i]];

		if ((links[2 * i] = make_link(lc, it->qid, DIGESTLINK_RELEASE,
		    r->addr, error_r)) == NULL ||
		    (links[2 * i + 1] = make_link(lc, it->qid,
		    DIGESTLINK_DELETE, r->addr, error_r)) == NULL)
			goto out;
	}
	from = safe_line(conf->digest_from, 320);
	rfc2822_date(now, date, sizeof(date));
	short_date(lc->expiry, until, sizeof(until));
	short_date(since, sincebuf, sizeof(sincebuf));
	(void)snprintf(boundary, sizeof(boundary), "holdscan-digest.%lld.%ld.%zu",
	    (long long)now, (long)getpid(), serial);
	buf_printf(out, "From: %s\n", from);
	buf_printf(out, "To: %s\n", to);
	buf_printf(out, "Subject: Quarantine digest: %zu message%s held for "
	    "you\n", r->n, r->n == 1 ? "" : "s");
	buf_printf(out, "Date: %s\n", date);
	buf_printf(out, "Message-ID: <digest.%lld.%ld.%zu@%s>\n",
	    (long long)now, (long)getpid(), serial, d->t->ql->myhostname);
	buf_printf(out, "Auto-Submitted: auto-generated\n"
	    "Precedence: bulk\n"
	    "MIME-Version: 1.0\n");
	if (conf->digest_html)
		buf_printf(out, "Content-Type: multipart/alternative; "
		    "boundary=\"%s\"\n\nThis is a MIME message.\n\n--%s\n",
		    boundary, boundary);
	buf_printf(out, "Content-Type: text/plain; charset=utf-8\n"
	    "Content-Transfer-Encoding: 8bit\n\n");
	text_part(d, r, links, shown, to, sincebuf, until, out);
	if (conf->digest_html) {
		buf_printf(out, "\n--%s\nContent-Type: text/html; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n", boundary);
		html_part(d, r, links, shown, to, sincebuf, until, out);
		buf_printf(out, "\n--%s--\n", boundary);
	}
	free(from);
	rc = 0;
out:
	for (i = 0; i < 2 * shown; i++)
		free(links[i]);
	free(links);
	free(to);
	return (rc);
}

/* --- digest.last ---------------------------------------------------------- */

static char *
stamp_path(const struct tool *t)
{
	return (xasprintf("%s/%s", t->conf->state_directory, DIGEST_STAMP));
}

/* The time of the last complete run, or 0. */
static time_t
stamp_read(const struct tool *t)
{
	char		 buf[32], *end, *path = stamp_path(t);
	ssize_t		 n;
	long long	 v;
	int		 fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || v <= 0)
		return (0);
	return ((time_t)v);
}

static int
stamp_write(const struct tool *t, time_t when, char **error_r)
{
	char	*path = stamp_path(t), *tmp = xasprintf("%s.tmp", path);
	char	 line[32];
	int	 fd, rc = -1;

	(void)snprintf(line, sizeof(line), "%lld\n", (long long)when);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0 ||
	    write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    fsync(fd) < 0) {
		*error_r = xasprintf("%s: %s", tmp, strerror(errno));
		if (fd >= 0) {
			(void)close(fd);
			(void)unlink(tmp);
		}
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(path);
	free(tmp);
	return (rc);
}

/* --- the commands ----------------------------------------------------------- */

static int
init_key(struct tool *t, const char *group)
{
	struct group	*gr;
	gid_t		 gid = (gid_t)-1;
	char		*error = NULL;

	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			return (tool_fail("digest --init-key: no group \"%s\"",
			    group));
		gid = gr->gr_gid;
	}
	if (digestkey_create(t->conf->digest_key_file, gid, &error) < 0) {
		(void)tool_fail("digest --init-key: %s%s", error, errno == EEXIST ?
		    " (a new key makes every link sent stop working: remove "
		    "the file first to make one)" : "");
		free(error);
		return (1);
	}
	(void)printf("digest key written to %s (mode %s)\n",
	    t->conf->digest_key_file, group != NULL ? "0640" : "0600");
	return (0);
}

static void
print_field(const char *label, const char *v)
{
	char	*c = safe_line(v, 1024);

	(void)printf("%s: %s\n", label, c);
	free(c);
}

static int
check_link(struct tool *t, const unsigned char *key, const char *url,
    enum digestlink_action want, const char *rcpt)
{
	struct quarantine_entry e;
	struct digestlink l;
	enum digestlink_rc rc;
	enum quarantine_rc qrc;
	char		 tok[DIGESTLINK_TOKEN_MAX + 1], when[32];
	char		*error = NULL, *ext;
	size_t		 i;
	bool		 addressed = false;
	int		 status = 0;

	if (digestlink_token_of(url, tok, sizeof(tok)) == NULL) {
		(void)printf("link: refused: %s\n",
		    digestlink_reason(DIGESTLINK_MALFORMED));
		return (1);
	}
	rc = digestlink_check(key, tok, time(NULL), want, rcpt, NULL,
	    DIGESTLINK_LOOK, &l, &error);
	if (rc != DIGESTLINK_OK)
		(void)printf("link: refused: %s\n", digestlink_reason(rc));
	else
		(void)printf("link: valid\n");
	free(error);
	if (l.qid[0] == '\0')
		return (1);
	print_field("quarantine_id", l.qid);
	print_field("action", digestlink_action_name(l.action));
	ext = safe_addr(l.rcpt);
	print_field("recipient", ext);
	free(ext);
	out_time(l.expiry, when, sizeof(when));
	(void)printf("expires: %s\n", when);
	if (rc != DIGESTLINK_OK)
		return (1);
	/* The second guard: the message itself. */
	tool_open_state(t);
	memset(&e, 0, sizeof(e));
	qrc = quarantine_get(t->q, NULL, l.qid, false, &e, &error);
	if (qrc == QUARANTINE_NOTFOUND) {
		(void)printf("message: not in the quarantine\n");
		status = 1;
	} else if (qrc != QUARANTINE_OK) {
		status = tool_fail("%s", error ? error : "quarantine");
		free(error);
	} else {
		for (i = 0; i < e.nrcpts; i++)
			if (strcasecmp(e.rcpts[i], l.rcpt) == 0)
				addressed = true;
		(void)printf("message: %s%s\n", quarantine_state_name(e.state),
		    addressed ? "" : ", not addressed to the link's recipient");
		if (!addressed || e.state != QSTATE_HELD)
			status = 1;
		quarantine_entry_clear(&e);
	}
	tool_close_state(t);
	return (status);
}

/* digest_url without a trailing '/', or a usage error. */
static char *
check_url(const char *url)
{
	size_t	 n = strlen(url), i;

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0)
		hs_fatalx(EX_CONFIG, "digest: digest_url is empty: set it to "
		    "the web console's address (see holdscan.conf(5))");
	if (n > DIGEST_URL_MAX || (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0))
		hs_fatalx(EX_CONFIG, "digest: digest_url must be an http:// or "
		    "https:// address of at most %d characters",
		    DIGEST_URL_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >=
		    0x7f || strchr("\"<>\\^`{|}", url[i]) != NULL)
			hs_fatalx(EX_CONFIG, "digest: digest_url has a character "
			    "a link cannot carry (use %%-escapes)");
	return (xstrndup(url, n));
}

static char *
sendmail_path(const struct tool *t)
{
	static const char *const args[] = { "-h", "sendmail_path", NULL };
	struct buf	 out = BUF_INIT;
	char		*error = NULL;

	if (queue_postconf(t->conf->postfix_config_directory, NULL, args,
	    &out, &error) < 0)
		hs_fatalx(EX_CONFIG, "digest: %s", error);
	out.data[strcspn(out.data, "\n")] = '\0';
	if (out.data[0] != '/')
		hs_fatalx(EX_CONFIG, "digest: Postfix's sendmail_path is not "
		    "an absolute path");
	return (buf_steal(&out, NULL));
}

static int
send_digests(struct tool *t, const unsigned char *key, time_t since,
    bool since_given, const char *only, long lifetime_ms, bool dry_run)
{
	struct quarantine_query qq;
	struct digest	 d;
	struct linkctx	 lc;
	struct buf	 text = BUF_INIT;
	time_t		 now = time(NULL);
	char		*error = NULL, *sendmail = NULL, *url;
	size_t		 i, sent = 0, failed = 0;

	url = check_url(t->conf->digest_url);
	if (!dry_run)
		sendmail = sendmail_path(t);
	memset(&d, 0, sizeof(d));
	d.t = t;
	d.only = only;
	tool_open_state(t);
	if (!since_given && (since = stamp_read(t)) == 0)
		since = now - DIGEST_FIRST_WINDOW;
	memset(&qq, 0, sizeof(qq));
	qq.since = since;
	qq.state = QSTATE_HELD;
	if (quarantine_list(t->q, &qq, collect_one, &d, &error) < 0) {
		(void)tool_fail("digest: %s", error);
		free(error);
		tool_close_state(t);
		digest_clear(&d);
		free(url);
		free(sendmail);
		return (1);
	}
	lc.key = key;
	lc.url = url;
	lc.expiry = now + lifetime_ms / 1000;
	for (i = 0; i < d.nrcpts; i++) {
		struct rcpt	*r = &d.rcpts[i];
		char		*ext = safe_addr(r->addr);

		buf_reset(&text);
		if (digest_text(&d, r, &lc, now, since, i, &text, &error) < 0) {
			(void)tool_fail("digest: to=<%s> not made: %s", ext,
			    error);
			free(error);
			error = NULL;
			failed++;
		} else if (dry_run) {
			(void)printf("--- digest to %s, %zu message%s ---\n", ext,
			    r->n, r->n == 1 ? "" : "s");
			(void)text_safe(text.data, text.len, true);
			(void)fwrite(text.data, 1, strlen(text.data), stdout);
			(void)printf("\n");
		} else if (submit_mail(sendmail, t->conf->postfix_config_directory,
		    t->conf->digest_from, r->addr, text.data, text.len,
		    &error) < 0) {
			(void)tool_fail("digest: to=<%s> status=failed: %s", ext,
			    error);
			free(error);
			error = NULL;
			failed++;
		} else {
			(void)printf("digest: to=<%s> messages=%zu status=sent\n",
			    ext, r->n);
			tool_audit(t, "digest: to=<%s> messages=%zu status=sent",
			    ext, r->n);
			sent++;
		}
		free(ext);
	}
	/*
	 * The next run starts here, unless no digest could be sent (Postfix
	 * down: the next run sends them all). After some failures it moves
	 * on all the same: one address that always fails must not make
	 * everybody else's digests come again every day; the failures are
	 * reported (exit 1), and the messages stay in the quarantine.
	 */
	if (!dry_run && only == NULL && (sent > 0 || failed == 0) &&
	    stamp_write(t, now, &error) < 0) {
		(void)tool_fail("digest: %s", error);
		free(error);
		failed++;
	}
	if (!dry_run && d.nrcpts == 0)
		(void)printf("digest: nothing held since the last digest\n");
	tool_close_state(t);
	buf_free(&text);
	digest_clear(&d);
	free(url);
	free(sendmail);
	return (failed > 0 ? 1 : 0);
}

int
cmd_digest(struct tool *t, int argc, char **argv)
{
	unsigned char	 key[DIGESTLINK_KEY_SIZE];
	const char	*v, *group = NULL, *link = NULL, *only = NULL;
	enum digestlink_action want = DIGESTLINK_ANY;
	time_t		 since = 0;
	long		 lifetime = t->conf->digest_link_lifetime;
	char		*error = NULL;
	bool		 dry_run = false, initkey = false, since_given = false;
	int		 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "--init-key") == 0)
			initkey = true;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--group")) != NULL)
			group = v;
		else if ((v = tool_opt_value(t, argc, argv, &i,
		    "--check-link")) != NULL)
			link = v;
		else if ((v = tool_opt_value(t, argc, argv, &i, "--action")) != NULL) {
			if ((want = digestlink_action_parse(v)) == DIGESTLINK_ANY)
				tool_bad_usage(t, "--action %s: use release or "
				    "delete", v);
		} else if ((v = tool_opt_value(t, argc, argv, &i,
		    "--recipient")) != NULL)
			only = tool_address_arg(v);
		else if ((v = tool_opt_value(t, argc, argv, &i, "--since")) != NULL) {
			since = tool_when_arg(t, "--since", v);
			since_given = true;
		} else if ((v = tool_opt_value(t, argc, argv, &i,
		    "--link-lifetime")) != NULL) {
			if (config_parse_time(v, &lifetime) < 0 || lifetime < 1000)
				tool_bad_usage(t, "--link-lifetime %s: not a "
				    "duration of a second or more", v);
		} else
			tool_bad_arg(t, argv[i]);
	}
	if (initkey) {
		if (link != NULL || dry_run || since_given || only != NULL)
			tool_bad_usage(t, "--init-key takes --group only");
		return (init_key(t, group));
	}
	if (group != NULL)
		tool_bad_usage(t, "--group goes with --init-key");
	if (link == NULL && want != DIGESTLINK_ANY)
		tool_bad_usage(t, "--action goes with --check-link");
	if (link != NULL && (dry_run || since_given))
		tool_bad_usage(t, "--check-link takes --action and --recipient "
		    "only");
	/* Read as root, before the state makes us the mail owner. */
	if (digestkey_load(t->conf->digest_key_file, key, &error) < 0)
		hs_fatalx(EX_CONFIG, "digest: %s", error);
	if (link != NULL)
		rc = check_link(t, key, link, want, only);
	else
		rc = send_digests(t, key, since, since_given, only, lifetime,
		    dry_run);
	sodium_memzero(key, sizeof(key));
	return (rc);
}
