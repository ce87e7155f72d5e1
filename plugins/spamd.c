/*
 * NAME
 *	spamd - ask SpamAssassin's spamd for a message's spam score
 * DESCRIPTION
 *	For each message a worker opens one connection to spamd (option
 *	address: "127.0.0.1:783", "[::1]:783" or "unix:/path"; numeric
 *	addresses only, nothing is looked up), sends
 *
 *		SYMBOLS SPAMC/1.5
 *		Content-length: N
 *		User: NAME		(only when the option user is set)
 *
 *	and the message, and reads spamd's answer: a status line, a
 *	"Spam: True ; 7.1 / 5.0" header and the names of the rules that
 *	hit. Only spamd's score matters: score >= high_spam_score is
 *	high-spam, >= spam_score spam, else clean (spamd's own required
 *	score is ignored). With add_headers, the message gets
 *	"X-Spam-Score: 7.1" and "X-Spam-Status: Yes, score=7.1
 *	required=5.0 tests=..." when it is delivered.
 *
 *	A message larger than max_size is not sent (as spamc does): it is
 *	clean, with "X-Spam-Status: No, skipped (...)". When spamd cannot
 *	be reached, does not answer within timeout (which bounds connect,
 *	send and answer together), or answers something that is not a
 *	valid spamd reply, on_error decides: "clean" (the default: spam
 *	scoring is a heuristic, and a spamd outage must not stop the mail;
 *	the message gets "X-Spam-Status: No, not checked (spamd error)")
 *	or "failed" (the message is "scan failed" and the policy's
 *	scan_failed action applies). Each worker logs such an error at most
 *	once a minute, with a count of those it did not log.
 *
 *	It declares HS_NEEDS_NETWORK: the workers' seccomp filter lets a
 *	worker create and connect a socket only when a plugin does.
 *
 *	The answer is parsed by sd_parse_reply(), which reads at most
 *	SD_REPLY_MAX bytes and accepts nothing it does not understand: a
 *	status line "SPAMD/x.y CODE TEXT" (CODE 0, else the error is
 *	spamd's), at most SD_HEADERS_MAX "Name: value" lines, exactly one
 *	valid Spam header, and a body of exactly Content-length bytes made
 *	of rule names and commas.
 *
 *	learn (holdscan learn spam|ham) teaches spamd's Bayes database
 *	what a message is with SpamAssassin's TELL command:
 *
 *		TELL SPAMC/1.5
 *		Message-class: spam		(or ham)
 *		Set: local
 *		Content-length: N
 *		User: NAME		(only when the option user is set)
 *
 *	spamd must run with --allow-tell (-l) and have Bayes on. Its answer
 *	is a status line (CODE 0, else spamd's error) and at most
 *	SD_HEADERS_MAX header lines, "DidSet: local" when it learnt the
 *	message, none when it knew it already, then empty lines up to the
 *	end of the connection (sd_parse_tell()).
 *
 *	This plugin must never block longer than timeout, never resolve
 *	names, never read more than SD_REPLY_MAX bytes of an answer, and
 *	never take anything but spamd's answer for a score (X-Spam headers
 *	already in the message count for nothing).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "holdscan/plugin.h"

#define SD_REPLY_MAX	65536	/* bytes of an answer, at most */
#define SD_LINE_MAX	1024	/* status or header line, at most */
#define SD_HEADERS_MAX	32
#define SD_SYMBOLS_MAX	400	/* rule names kept for headers and logs */
#define SD_WARN_EVERY	60	/* seconds between two error warnings */

enum sd_parse {
	SD_INCOMPLETE,		/* more bytes needed */
	SD_DONE,		/* a complete, valid, successful answer */
	SD_BAD,			/* an error: reply.error says which */
};

struct sd_reply {
	double		 score;
	double		 threshold;	/* spamd's required score */
	bool		 is_spam;	/* spamd's opinion, not used */
	bool		 timed_out;	/* error: the deadline passed */
	bool		 refused;	/* error: spamd's own (a non-zero code) */
	char		 symbols[SD_SYMBOLS_MAX + 8];
	char		 error[192];
};

struct sd_conf {
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	char		 address[128];	/* as configured, for messages */
	long		 timeout_ms;
	double		 spam_score;
	double		 high_score;
	size_t		 max_size;	/* 0: no limit */
	bool		 fail_on_error;
	bool		 add_headers;
	char		 user[65];
};

struct spamd {
	const struct hs_host *host;
	struct sd_conf	 conf;
	/* each worker's own copy: error warnings are rate-limited */
	time_t		 last_warn;
	unsigned long	 unwarned;
};

static const struct hs_plugin_option spamd_options[] = {
	{ "address", HS_OPT_STR, "127.0.0.1:783",
	    "spamd's address: IP:PORT, [IPv6]:PORT or unix:/path" },
	{ "timeout", HS_OPT_TIME, "30s",
	    "connect, send and answer, in all (keep it below scan_time_limit)" },
	{ "spam_score", HS_OPT_STR, "5.0", "from this score on: spam" },
	{ "high_spam_score", HS_OPT_STR, "10.0",
	    "from this score on: high-spam" },
	{ "max_size", HS_OPT_SIZE, "500k",
	    "larger messages are not sent (clean, with a header); 0: no limit" },
	{ "on_error", HS_OPT_STR, "clean",
	    "spamd down, slow or confused: clean or failed" },
	{ "add_headers", HS_OPT_BOOL, "yes",
	    "add X-Spam-Score and X-Spam-Status" },
	{ "user", HS_OPT_STR, "", "the User spamd is asked for; empty: none" },
	{ NULL, 0, NULL, NULL },
};

static enum sd_parse __attribute__((format(printf, 2, 3)))
sd_bad(struct sd_reply *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	return (SD_BAD);
}

/*
 * A decimal number as spamd writes scores: [-+]digits[.digits], at most
 * 7 digits before the point and 6 after; no exponent, no locale.
 */
static int
sd_number(const char *s, size_t n, double *v_r)
{
	double		 v = 0, scale = 1;
	size_t		 i = 0, ip = 0, fp = 0;
	bool		 neg = false;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, ip++)
		v = v * 10 + (s[i] - '0');
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, fp++)
			v += (s[i] - '0') * (scale /= 10);
	if (i != n || ip + fp == 0 || ip > 7 || fp > 6)
		return (-1);
	*v_r = neg ? -v : v;
	return (0);
}

/*
 * The line at *off: 1 with *line and *llen (without CR LF), *off moved
 * past it, 0 if it is not complete yet, -1 if longer than SD_LINE_MAX.
 */
static int
sd_getline(const char *buf, size_t len, size_t *off, const char **line,
    size_t *llen)
{
	size_t		 avail = len - *off;
	const char	*nl;

	if (avail > SD_LINE_MAX + 2)
		avail = SD_LINE_MAX + 2;
	if ((nl = memchr(buf + *off, '\n', avail)) == NULL)
		return (avail == SD_LINE_MAX + 2 ? -1 : 0);
	*line = buf + *off;
	*llen = (size_t)(nl - *line);
	*off += *llen + 1;
	if (*llen > 0 && (*line)[*llen - 1] == '\r')
		(*llen)--;
	return (*llen > SD_LINE_MAX ? -1 : 1);
}

/* Copy at most max bytes of text for a message: printable ASCII only. */
static void
sd_printable(char *out, size_t size, const char *s, size_t n)
{
	size_t	 i, o = 0;

	for (i = 0; i < n && o + 1 < size; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[o] = '\0';
}

/* "SPAMD/1.1 0 EX_OK": 0 if the code is 0, else SD_BAD's text in r. */
static int
sd_status(const char *l, size_t n, struct sd_reply *r)
{
	char		 text[100];
	size_t		 i = 6, d;
	long		 code = 0;

	if (n < 6 || memcmp(l, "SPAMD/", 6) != 0) {
		sd_printable(text, 40, l, n);
		(void)sd_bad(r, "not a spamd answer: \"%s\"", text);
		return (-1);
	}
	for (d = 0; i < n && isdigit((unsigned char)l[i]); i++)
		d++;
	if (d == 0 || d > 3 || i >= n || l[i++] != '.')
		goto bad;
	for (d = 0; i < n && isdigit((unsigned char)l[i]); i++)
		d++;
	if (d == 0 || d > 3 || i >= n || l[i++] != ' ')
		goto bad;
	for (d = 0; i < n && isdigit((unsigned char)l[i]); i++, d++)
		code = code * 10 + (l[i] - '0');
	if (d == 0 || d > 3 || (i < n && l[i] != ' '))
		goto bad;
	if (code != 0) {
		i += i < n;
		sd_printable(text, sizeof(text), l + i, n - i);
		(void)sd_bad(r, "spamd error %ld: %s", code, text);
		r->refused = true;
		return (-1);
	}
	return (0);
bad:
	sd_printable(text, 60, l, n);
	(void)sd_bad(r, "bad status line \"%s\"", text);
	return (-1);
}

/* The value of "Spam: True ; 7.1 / 5.0" into r. */
static int
sd_spam_header(const char *v, size_t n, struct sd_reply *r)
{
	size_t		 i = 0, w;

	for (w = 0; w < n && isalpha((unsigned char)v[w]); w++)
		;
	if ((w == 4 && strncasecmp(v, "True", 4) == 0) ||
	    (w == 3 && strncasecmp(v, "Yes", 3) == 0))
		r->is_spam = true;
	else if (!((w == 5 && strncasecmp(v, "False", 5) == 0) ||
	    (w == 2 && strncasecmp(v, "No", 2) == 0)))
		return (-1);
	for (i = w; i < n && v[i] == ' '; i++)
		;
	if (i >= n || v[i++] != ';')
		return (-1);
	for (; i < n && v[i] == ' '; i++)
		;
	for (w = i; w < n && v[w] != ' ' && v[w] != '/'; w++)
		;
	if (sd_number(v + i, w - i, &r->score) < 0)
		return (-1);
	for (i = w; i < n && v[i] == ' '; i++)
		;
	if (i >= n || v[i++] != '/')
		return (-1);
	for (; i < n && v[i] == ' '; i++)
		;
	for (w = n; w > i && v[w - 1] == ' '; w--)
		;
	return (sd_number(v + i, w - i, &r->threshold));
}

/*
 * Copy the comma-separated list s/n into out (size bytes); if it does
 * not fit, cut it after a whole name and end it with ",...".
 */
static void
sd_cut_list(char *out, size_t size, const char *s, size_t n)
{
	size_t	 keep;

	if (n < size) {
		memcpy(out, s, n);
		out[n] = '\0';
		return;
	}
	for (keep = size - 5; keep > 0 && s[keep] != ','; keep--)
		;
	memcpy(out, s, keep);
	(void)snprintf(out + keep, size - keep, "%s...", keep ? "," : "");
}

/* The rule names spamd sent (SYMBOLS): names and commas only. */
static int
sd_symbols(const char *b, size_t n, struct sd_reply *r)
{
	size_t	 i;

	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' '))
		n--;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)b[i]) && b[i] != '_' &&
		    b[i] != ',' && b[i] != '.' && b[i] != '-')
			return (-1);
	sd_cut_list(r->symbols, SD_SYMBOLS_MAX + 1, b, n);
	return (0);
}

/*
 * sd_parse_reply() parses spamd's answer, buf/len so far; eof says that
 * no more will come. SD_DONE with r filled, SD_INCOMPLETE, or SD_BAD
 * with r->error. Reads nothing beyond buf[len - 1].
 */
static enum sd_parse
sd_parse_reply(const char *buf, size_t len, bool eof, struct sd_reply *r)
{
	const char	*l, *v;
	size_t		 off = 0, ll, name, clen = 0, nhdr = 0, i;
	bool		 have_clen = false, have_spam = false;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if ((rc = sd_getline(buf, len, &off, &l, &ll)) < 0)
		return (sd_bad(r, "status line too long"));
	if (rc == 0)
		return (eof ? sd_bad(r, "answer ended before its status line") :
		    SD_INCOMPLETE);
	if (sd_status(l, ll, r) < 0)
		return (SD_BAD);
	for (;;) {
		if ((rc = sd_getline(buf, len, &off, &l, &ll)) < 0)
			return (sd_bad(r, "header line too long"));
		if (rc == 0)
			return (eof ? sd_bad(r, "answer ended in its headers") :
			    SD_INCOMPLETE);
		if (ll == 0)
			break;
		if (++nhdr > SD_HEADERS_MAX)
			return (sd_bad(r, "more than %d header lines",
			    SD_HEADERS_MAX));
		for (name = 0; name < ll && (isalnum((unsigned char)l[name]) ||
		    l[name] == '-' || l[name] == '_'); name++)
			;
		if (name == 0 || name >= ll || l[name] != ':')
			return (sd_bad(r, "header line %zu is not \"Name: "
			    "value\"", nhdr));
		for (v = l + name + 1; v < l + ll && *v == ' '; v++)
			;
		if (name == 4 && strncasecmp(l, "Spam", 4) == 0) {
			if (have_spam)
				return (sd_bad(r, "two Spam headers"));
			if (sd_spam_header(v, (size_t)(l + ll - v), r) < 0)
				return (sd_bad(r, "bad Spam header"));
			have_spam = true;
		} else if (name == 14 &&
		    strncasecmp(l, "Content-length", 14) == 0) {
			if (have_clen)
				return (sd_bad(r, "two Content-length headers"));
			if (v == l + ll || l + ll - v > 6)
				return (sd_bad(r, "bad Content-length"));
			for (; v < l + ll; v++) {
				if (!isdigit((unsigned char)*v))
					return (sd_bad(r, "bad Content-length"));
				clen = clen * 10 + (size_t)(*v - '0');
			}
			if (clen > SD_REPLY_MAX)
				return (sd_bad(r, "Content-length %zu is more "
				    "than %d", clen, SD_REPLY_MAX));
			have_clen = true;
		}
		/* Other headers are none of our business. */
	}
	if (!have_spam)
		return (sd_bad(r, "no Spam header"));
	i = len - off;
	if (have_clen && i > clen)
		return (sd_bad(r, "more data than Content-length says"));
	if ((have_clen && i < clen) || (!have_clen && !eof))
		return (eof ? sd_bad(r, "answer ended in its body") :
		    SD_INCOMPLETE);
	if (sd_symbols(buf + off, i, r) < 0)
		return (sd_bad(r, "the rule names hold other characters"));
	return (SD_DONE);
}

/*
 * sd_parse_tell() parses spamd's answer to TELL, buf/len so far: its
 * status line and header lines up to the empty line; r->symbols gets
 * DidSet's value ("local"), empty when it did nothing.
 */
static enum sd_parse
sd_parse_tell(const char *buf, size_t len, bool eof, struct sd_reply *r)
{
	const char	*l, *v;
	size_t		 off = 0, ll, nhdr = 0;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if ((rc = sd_getline(buf, len, &off, &l, &ll)) < 0)
		return (sd_bad(r, "status line too long"));
	if (rc == 0)
		return (eof ? sd_bad(r, "answer ended before its status line") :
		    SD_INCOMPLETE);
	if (sd_status(l, ll, r) < 0)
		return (SD_BAD);
	for (;;) {
		if ((rc = sd_getline(buf, len, &off, &l, &ll)) < 0)
			return (sd_bad(r, "header line too long"));
		if (rc == 0)
			return (eof ? SD_DONE : SD_INCOMPLETE);
		if (ll == 0) {
			/* spamd ends a TELL answer with more empty lines */
			for (; off < len; off++)
				if (buf[off] != '\r' && buf[off] != '\n')
					return (sd_bad(r, "data after the "
					    "answer"));
			return (eof ? SD_DONE : SD_INCOMPLETE);
		}
		if (++nhdr > SD_HEADERS_MAX)
			return (sd_bad(r, "more than %d header lines",
			    SD_HEADERS_MAX));
		if (ll > 7 && strncasecmp(l, "DidSet:", 7) == 0) {
			for (v = l + 7; v < l + ll && *v == ' '; v++)
				;
			sd_printable(r->symbols, sizeof(r->symbols), v,
			    (size_t)(l + ll - v));
		}
	}
}

/*
 * sd_address() parses "IP:PORT", "[IPv6]:PORT" or "unix:/path" into c.
 * NULL, or what is wrong.
 */
static const char *
sd_address(const char *s, struct sd_conf *c)
{
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*colon, *h = s, *p;
	size_t		 hlen;
	long		 port = 0;

	memset(&c->addr, 0, sizeof(c->addr));
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&c->addr;

		if (s[5] != '/')
			return ("address: unix: needs an absolute path");
		if (strlen(s + 5) >= sizeof(sun->sun_path))
			return ("address: the unix socket path is too long");
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s + 5, strlen(s + 5) + 1);
		c->addrlen = sizeof(*sun);
		goto done;
	}
	if ((colon = strrchr(s, ':')) == NULL)
		return ("address: use IP:PORT, [IPv6]:PORT or unix:/path");
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return ("address: an IPv6 address goes in brackets: "
			    "[::1]:783");
		h = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return ("address: use a numeric IP address (names are not "
		    "looked up)");
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535)
		return ("address: the port must be a number from 1 to 65535");
	if (h == s && inet_pton(AF_INET, host,
	    &((struct sockaddr_in *)&c->addr)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&c->addr;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		c->addrlen = sizeof(*sin);
	} else if (h != s && inet_pton(AF_INET6, host,
	    &((struct sockaddr_in6 *)&c->addr)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->addr;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		c->addrlen = sizeof(*sin6);
	} else {
		return ("address: use a numeric IP address (names are not "
		    "looked up; IPv6 in brackets)");
	}
done:
	(void)snprintf(c->address, sizeof(c->address), "%s", s);
	return (NULL);
}

/* Read and check every option into c. NULL, or what is wrong. */
static const char *
sd_configure(const struct hs_host *host, struct sd_conf *c)
{
	const char	*s, *why;
	size_t		 i;
	long		 n;

	memset(c, 0, sizeof(*c));
	if ((s = host->opt_str(host->host_ctx, "address")) == NULL)
		return ("address is not set");
	if (strlen(s) >= sizeof(c->address))
		return ("address is too long");
	if ((why = sd_address(s, c)) != NULL)
		return (why);
	if ((c->timeout_ms = host->opt_num(host->host_ctx, "timeout")) <= 0)
		return ("timeout must be more than 0");
	s = host->opt_str(host->host_ctx, "spam_score");
	if (s == NULL || sd_number(s, strlen(s), &c->spam_score) < 0)
		return ("spam_score must be a number such as 5.0");
	s = host->opt_str(host->host_ctx, "high_spam_score");
	if (s == NULL || sd_number(s, strlen(s), &c->high_score) < 0)
		return ("high_spam_score must be a number such as 10.0");
	if (c->high_score < c->spam_score)
		return ("high_spam_score must not be below spam_score");
	if ((n = host->opt_num(host->host_ctx, "max_size")) < 0)
		return ("max_size must not be negative");
	c->max_size = (size_t)n;
	s = host->opt_str(host->host_ctx, "on_error");
	if (s != NULL && strcmp(s, "failed") == 0)
		c->fail_on_error = true;
	else if (s == NULL || strcmp(s, "clean") != 0)
		return ("on_error must be clean or failed");
	c->add_headers = host->opt_num(host->host_ctx, "add_headers") != 0;
	s = host->opt_str(host->host_ctx, "user");
	if (s == NULL)
		s = "";
	if (strlen(s) >= sizeof(c->user))
		return ("user is longer than 64 characters");
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return ("user may hold only printable ASCII, no spaces");
	memcpy(c->user, s, i + 1);
	return (NULL);
}

static long
sd_ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long		 ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
	return (ms < 0 ? 0 : ms);
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int
sd_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd	 pfd;
	long		 ms;
	int		 n;

	for (;;) {
		if ((ms = sd_ms_left(deadline)) == 0)
			return (0);
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms > 60000 ? 60000 : (int)ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return (-1);
		if (n > 0)
			return (1);
	}
}

static void
sd_timeout_text(char *buf, size_t size, long ms)
{
	if (ms % 1000 == 0)
		(void)snprintf(buf, size, "%lds", ms / 1000);
	else
		(void)snprintf(buf, size, "%ldms", ms);
}

/* Connect fd to c's address before the deadline. 0, or -1 with r->error. */
static int
sd_connect(int fd, const struct sd_conf *c, const struct timespec *deadline,
    struct sd_reply *r)
{
	socklen_t	 elen = sizeof(int);
	int		 err = 0, rc;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)&c->addr,
		    c->addrlen) == 0)
			return (0);
		if (errno == EINPROGRESS || errno == EINTR)
			break;
		/* A unix socket whose listen queue is full: try again. */
		if (errno == EAGAIN && sd_ms_left(deadline) > 0) {
			(void)poll(NULL, 0, 10);
			continue;
		}
		r->timed_out = errno == EAGAIN;
		(void)sd_bad(r, "connect: %s", r->timed_out ? "timed out "
		    "(listen queue full)" : strerror(errno));
		return (-1);
	}
	if ((rc = sd_wait(fd, POLLOUT, deadline)) <= 0) {
		(void)sd_bad(r, "connect: %s", rc == 0 ? "timed out" :
		    strerror(errno));
		r->timed_out = rc == 0;
		return (-1);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err != 0) {
		(void)sd_bad(r, "connect: %s", strerror(err));
		return (-1);
	}
	return (0);
}

/*
 * Send all of data before the deadline. 0; 1 if the peer went away
 * (its answer may say why); -1 with r->error.
 */
static int
sd_send(int fd, const char *data, size_t len, const struct timespec *deadline,
    struct sd_reply *r)
{
	size_t		 off = 0;
	ssize_t		 n;
	int		 rc;

	while (off < len) {
		n = send(fd, data + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return (1);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			(void)sd_bad(r, "send: %s", strerror(errno));
			return (-1);
		}
		if ((rc = sd_wait(fd, POLLOUT, deadline)) <= 0) {
			(void)sd_bad(r, "send: %s", rc == 0 ? "timed out" :
			    strerror(errno));
			r->timed_out = rc == 0;
			return (-1);
		}
	}
	return (0);
}

/* Read the answer into buf (SD_REPLY_MAX bytes) and parse it. */
static int
sd_receive(int fd, char *buf, const struct timespec *deadline, bool tell,
    struct sd_reply *r)
{
	enum sd_parse	 p = SD_INCOMPLETE;
	size_t		 len = 0;
	ssize_t		 n;
	int		 rc;

	while (p == SD_INCOMPLETE) {
		if (len == SD_REPLY_MAX) {
			(void)sd_bad(r, "answer larger than %d bytes",
			    SD_REPLY_MAX);
			return (-1);
		}
		n = recv(fd, buf + len, SD_REPLY_MAX - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((rc = sd_wait(fd, POLLIN, deadline)) <= 0) {
				(void)sd_bad(r, "no answer: %s", rc == 0 ?
				    "timed out" : strerror(errno));
				r->timed_out = rc == 0;
				return (-1);
			}
			continue;
		}
		if (n < 0) {
			(void)sd_bad(r, "receive: %s", strerror(errno));
			return (-1);
		}
		len += (size_t)n;
		p = tell ? sd_parse_tell(buf, len, n == 0, r) :
		    sd_parse_reply(buf, len, n == 0, r);
	}
	return (p == SD_DONE ? 0 : -1);
}

/*
 * sd_exchange() asks spamd about the message data/len: 0 with r filled,
 * or -1 with r->error. Returns within c->timeout_ms. With tell (NULL:
 * none) "spam" or "ham", it teaches spamd instead (TELL).
 */
static int
sd_exchange(const struct sd_conf *c, const char *data, size_t len,
    const char *tell, struct sd_reply *r)
{
	struct timespec	 deadline;
	char		 req[256], t[32];
	char		*buf = NULL;
	int		 fd, n, rc = -1, sent;

	memset(r, 0, sizeof(*r));
	(void)clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += c->timeout_ms / 1000;
	deadline.tv_nsec += (c->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (tell != NULL)
		n = snprintf(req, sizeof(req), "TELL SPAMC/1.5\r\n"
		    "Message-class: %s\r\nSet: local\r\n"
		    "Content-length: %zu\r\n%s%s%s\r\n", tell, len,
		    c->user[0] ? "User: " : "", c->user,
		    c->user[0] ? "\r\n" : "");
	else
		n = snprintf(req, sizeof(req), "SYMBOLS SPAMC/1.5\r\n"
		    "Content-length: %zu\r\n%s%s%s\r\n", len,
		    c->user[0] ? "User: " : "", c->user,
		    c->user[0] ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		(void)sd_bad(r, "request too long");
		return (-1);
	}
	if ((buf = malloc(SD_REPLY_MAX)) == NULL) {
		(void)sd_bad(r, "out of memory");
		return (-1);
	}
	if ((fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		(void)sd_bad(r, "socket: %s", strerror(errno));
		free(buf);
		return (-1);
	}
	if (sd_connect(fd, c, &deadline, r) < 0)
		goto out;
	if ((sent = sd_send(fd, req, (size_t)n, &deadline, r)) == 0)
		sent = sd_send(fd, data, len, &deadline, r);
	if (sent < 0)
		goto out;
	/* Only the answer is left to come; spamd may have sent it already. */
	(void)shutdown(fd, SHUT_WR);
	if (sd_receive(fd, buf, &deadline, tell != NULL, r) == 0)
		rc = 0;
	else if (sent == 1 && !r->refused)
		(void)sd_bad(r, "spamd closed the connection while we sent");
out:
	if (rc < 0 && r->timed_out) {
		sd_timeout_text(t, sizeof(t), c->timeout_ms);
		n = (int)strlen(r->error);
		(void)snprintf(r->error + n, sizeof(r->error) - (size_t)n,
		    " (timeout %s)", t);
	}
	(void)close(fd);
	free(buf);
	return (rc);
}

static void
spamd_fini(void *ctx)
{
	free(ctx);
}

static int
spamd_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct spamd	*s;
	const char	*why;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	s->host = host;
	if ((why = sd_configure(host, &s->conf)) != NULL) {
		*error_r = why;
		free(s);
		return (-1);
	}
	*ctx_r = s;
	return (0);
}

static int
spamd_reload(void *ctx, const char **error_r)
{
	struct spamd	*s = ctx;
	struct sd_conf	 c;
	const char	*why;

	if ((why = sd_configure(s->host, &c)) != NULL) {
		*error_r = why;
		return (-1);
	}
	s->conf = c;
	return (0);
}

/* Log a spamd error, at most once every SD_WARN_EVERY seconds per worker. */
static void
spamd_warn(struct spamd *s, const char *why)
{
	struct timespec	 now;
	char		 more[80] = "";

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->last_warn != 0 && now.tv_sec - s->last_warn < SD_WARN_EVERY) {
		s->unwarned++;
		return;
	}
	if (s->unwarned > 0)
		(void)snprintf(more, sizeof(more), " (and %lu more since the "
		    "last warning)", s->unwarned);
	s->host->log(s->host->host_ctx, 1, "%s: %s; treated as %s%s",
	    s->conf.address, why, s->conf.fail_on_error ? "scan failed" :
	    "clean", more);
	s->last_warn = now.tv_sec > 0 ? now.tv_sec : 1;
	s->unwarned = 0;
}

static int
spamd_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct spamd	*s = ctx;
	const struct sd_conf *c = &s->conf;
	struct sd_reply	 r;
	char		 tests[200];

	res->verdict = HS_CLEAN;
	if (c->max_size > 0 && msg->len > c->max_size) {
		(void)snprintf(res->reason, sizeof(res->reason), "not checked: "
		    "%zu bytes, max_size %zu", msg->len, c->max_size);
		if (c->add_headers)
			(void)snprintf(res->headers, sizeof(res->headers),
			    "X-Spam-Status: No, skipped (larger than %zu "
			    "bytes)\n", c->max_size);
		return (0);
	}
	if (sd_exchange(c, msg->data, msg->len, NULL, &r) < 0) {
		spamd_warn(s, r.error);
		(void)snprintf(res->reason, sizeof(res->reason), "spamd %s: %s",
		    c->address, r.error);
		if (c->fail_on_error)
			res->verdict = HS_FAILED;
		else if (c->add_headers)
			(void)snprintf(res->headers, sizeof(res->headers),
			    "X-Spam-Status: No, not checked (spamd error)\n");
		return (0);
	}
	res->score = r.score;
	if (r.score >= c->high_score)
		res->verdict = HS_HIGH_SPAM;
	else if (r.score >= c->spam_score)
		res->verdict = HS_SPAM;
	sd_cut_list(tests, sizeof(tests), r.symbols, strlen(r.symbols));
	(void)snprintf(res->reason, sizeof(res->reason), "score=%.1f tests=%s",
	    r.score, tests[0] ? tests : "none");
	/* At most 21 + 60 + SD_SYMBOLS_MAX + 8 bytes: it fits. */
	if (c->add_headers)
		(void)snprintf(res->headers, sizeof(res->headers),
		    "X-Spam-Score: %.1f\nX-Spam-Status: %s, score=%.1f "
		    "required=%.1f tests=%s\n", r.score, res->verdict == HS_CLEAN ?
		    "No" : "Yes", r.score, c->spam_score, r.symbols[0] ?
		    r.symbols : "none");
	return (0);
}

static int
spamd_learn(void *ctx, const struct hs_msg *msg, int spam, char *answer,
    size_t size)
{
	struct spamd	*s = ctx;
	const struct sd_conf *c = &s->conf;
	struct sd_reply	 r;

	if (c->max_size > 0 && msg->len > c->max_size) {
		(void)snprintf(answer, size, "not sent: %zu bytes, max_size "
		    "%zu", msg->len, c->max_size);
		return (-1);
	}
	if (sd_exchange(c, msg->data, msg->len, spam ? "spam" : "ham",
	    &r) < 0) {
		(void)snprintf(answer, size, "spamd %s: %s", c->address,
		    r.error);
		return (-1);
	}
	(void)snprintf(answer, size, "%s", r.symbols[0] != '\0' ?
	    "learnt" : "known already (nothing to learn)");
	return (0);
}

static void
spamd_info(void *ctx, char *buf, size_t size)
{
	const struct spamd *s = ctx;
	char		 t[32];

	sd_timeout_text(t, sizeof(t), s->conf.timeout_ms);
	(void)snprintf(buf, size, "%s timeout=%s spam=%.1f high-spam=%.1f "
	    "on_error=%s", s->conf.address, t, s->conf.spam_score,
	    s->conf.high_score, s->conf.fail_on_error ? "failed" : "clean");
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "spamd",
	.version = "1",
	.options = spamd_options,
	/* a worker connects to spamd for each message */
	.needs = HS_NEEDS_NETWORK,
	.kind = HS_KIND_SPAM,
	.init = spamd_init,
	.reload = spamd_reload,
	.scan = spamd_scan,
	.info = spamd_info,
	.fini = spamd_fini,
	.learn = spamd_learn,
};
