/*
 * NAME
 *	headers - header rules: regular expressions on header fields
 * DESCRIPTION
 *	In the spirit of Postfix's header_checks: a rules file (option
 *	rules_file) holds one rule a line,
 *
 *		/^Subject:.*lottery winner/i	blocked	"lottery spam"
 *
 *	a POSIX extended regular expression between slashes ("\/" stands
 *	for a slash inside it), optional flags (only "i": ignore case), a
 *	verdict (clean, spam, high-spam, blocked or infected) and an
 *	optional reason in double quotes ("\"" and "\\" inside), which is
 *	what the log and the quarantine show; without one the reason is
 *	"rule FILE:LINE". Blank lines and lines starting with "#" are
 *	comments.
 *
 *	Each rule is matched against each header field of the message as
 *	one unfolded line ("Name: value", continuation lines joined, their
 *	line breaks removed, the white space kept; a NUL byte reads as a
 *	space). Rules are tried in file order and the first rule that
 *	matches any header field decides the verdict, so a "clean" rule
 *	placed first exempts what it matches from the rules below it. No
 *	match: clean.
 *
 *	Only the first max_header_size bytes of the header block are
 *	examined (a header field that crosses that limit is examined up
 *	to it); the rest of a huge header block is ignored, so hostile
 *	input costs at most (number of rules) x max_header_size of
 *	matching and one buffer of that size.
 *
 *	The rules are read and compiled once in the scanner parent (init,
 *	reload); the workers share them. reload re-reads the file, and the
 *	directory holding it is watched, so an edit applies by itself a
 *	few seconds later. A file with an error is refused as a whole,
 *	with FILE:LINE and the reason: at start holdscand does not start,
 *	on reload the old rules stay in force.
 *
 *	This plugin must never write anything, never read beyond the
 *	header block, and never examine more than max_header_size bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holdscan/plugin.h"

#define HR_FILE_MAX	(4 * 1024 * 1024)	/* a rules file, at most */
#define HR_LINE_MAX	8192			/* one rules line, at most */
#define HR_RULES_MAX	10000
#define HR_REASON_MAX	200
#define HR_ERROR_SIZE	512

struct hr_rule {
	regex_t		 re;
	enum hs_verdict	 verdict;
	unsigned	 line;
	char		 reason[HR_REASON_MAX + 1];
};

struct hr_rules {
	struct hr_rule	*rule;
	size_t		 n;
};

struct headers {
	const struct hs_host *host;
	struct hr_rules	 rules;
	char		*path;		/* the rules file they came from */
	size_t		 max_header;	/* bytes of the header block examined */
	char		 error[HR_ERROR_SIZE];
};

static const struct hs_plugin_option headers_options[] = {
	{ "rules_file", HS_OPT_PATH, HS_SYSCONFDIR "/header_rules",
	    "the header rules (see etc/header_rules)" },
	{ "max_header_size", HS_OPT_SIZE, "256k",
	    "only this much of the header block is examined" },
	{ NULL, 0, NULL, NULL },
};

static const struct {
	const char	*name;
	enum hs_verdict	 verdict;
} hr_verdicts[] = {
	{ "clean", HS_CLEAN },
	{ "spam", HS_SPAM },
	{ "high-spam", HS_HIGH_SPAM },
	{ "blocked", HS_BLOCKED },
	{ "infected", HS_INFECTED },
};

static void
hr_rules_free(struct hr_rules *rs)
{
	size_t	 i;

	for (i = 0; i < rs->n; i++)
		regfree(&rs->rule[i].re);
	free(rs->rule);
	rs->rule = NULL;
	rs->n = 0;
}

static const char *
hr_basename(const char *path)
{
	const char	*slash = strrchr(path, '/');

	return (slash != NULL ? slash + 1 : path);
}

/* "PATH:LINE: what" into err. Always -1, for "return (hr_error(...))". */
static int __attribute__((format(printf, 5, 6)))
hr_error(char *err, size_t errsize, const char *path, unsigned line,
    const char *fmt, ...)
{
	va_list		 ap;
	int		 n;

	n = snprintf(err, errsize, "%s:%u: ", path, line);
	if (n < 0 || (size_t)n >= errsize)
		return (-1);
	va_start(ap, fmt);
	(void)vsnprintf(err + n, errsize - (size_t)n, fmt, ap);
	va_end(ap);
	return (-1);
}

static bool
hr_space(char c)
{
	return (c == ' ' || c == '\t');
}

/*
 * Parse one rule from s (a NUL-terminated line without its line break)
 * into r. 0; 1 if the line is blank or a comment; -1 with err filled.
 */
static int
hr_parse_line(const char *s, const char *path, unsigned line,
    struct hr_rule *r, char *err, size_t errsize)
{
	char		 pattern[HR_LINE_MAX], rerr[256];
	const char	*p = s, *w;
	size_t		 plen = 0, wlen, rlen = 0, i;
	int		 cflags = REG_EXTENDED | REG_NOSUB, rc;

	while (hr_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return (1);
	if (*p != '/')
		return (hr_error(err, errsize, path, line, "a rule starts with "
		    "/regular expression/"));
	for (p++; *p != '/'; p++) {
		if (*p == '\0')
			return (hr_error(err, errsize, path, line,
			    "unterminated regular expression (no closing /)"));
		if (p[0] == '\\' && p[1] == '/')
			p++;		/* "\/" is a slash */
		else if (p[0] == '\\' && p[1] != '\0')
			pattern[plen++] = *p++;
		pattern[plen++] = *p;
	}
	pattern[plen] = '\0';
	if (plen == 0)
		return (hr_error(err, errsize, path, line,
		    "empty regular expression"));
	for (p++; *p != '\0' && !hr_space(*p); p++) {
		if (*p != 'i')
			return (hr_error(err, errsize, path, line, "unknown flag "
			    "'%c' after the regular expression (only i: ignore "
			    "case)", *p));
		cflags |= REG_ICASE;
	}
	while (hr_space(*p))
		p++;
	w = p;
	while (*p != '\0' && !hr_space(*p))
		p++;
	if ((wlen = (size_t)(p - w)) == 0)
		return (hr_error(err, errsize, path, line, "missing verdict after "
		    "the regular expression (clean, spam, high-spam, blocked or "
		    "infected)"));
	for (i = 0; i < sizeof(hr_verdicts) / sizeof(hr_verdicts[0]); i++)
		if (strlen(hr_verdicts[i].name) == wlen &&
		    strncmp(hr_verdicts[i].name, w, wlen) == 0)
			break;
	if (i == sizeof(hr_verdicts) / sizeof(hr_verdicts[0]))
		return (hr_error(err, errsize, path, line, "unknown verdict "
		    "\"%.*s\" (use clean, spam, high-spam, blocked or infected)",
		    (int)(wlen > 40 ? 40 : wlen), w));
	r->verdict = hr_verdicts[i].verdict;
	r->line = line;
	while (hr_space(*p))
		p++;
	if (*p != '\0' && *p != '"')
		return (hr_error(err, errsize, path, line, "the reason must be "
		    "in double quotes"));
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return (hr_error(err, errsize, path, line,
				    "unterminated reason (no closing \")"));
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				return (hr_error(err, errsize, path, line,
				    "the reason may hold only printable ASCII"));
			if (rlen == HR_REASON_MAX)
				return (hr_error(err, errsize, path, line,
				    "reason longer than %d characters",
				    HR_REASON_MAX));
			r->reason[rlen++] = *p;
		}
		for (p++; hr_space(*p); p++)
			;
		if (*p != '\0')
			return (hr_error(err, errsize, path, line, "text after "
			    "the reason"));
	}
	r->reason[rlen] = '\0';
	if (rlen == 0)
		(void)snprintf(r->reason, sizeof(r->reason), "rule %s:%u",
		    hr_basename(path), line);
	if ((rc = regcomp(&r->re, pattern, cflags)) != 0) {
		(void)regerror(rc, &r->re, rerr, sizeof(rerr));
		return (hr_error(err, errsize, path, line, "bad regular "
		    "expression: %s", rerr));
	}
	return (0);
}

/* Read a whole (bounded) file into a NUL-terminated buffer. */
static char *
hr_slurp(const char *path, size_t *len_r, char *err, size_t errsize)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		(void)snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) < 0) {
		(void)snprintf(err, errsize, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errsize, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > HR_FILE_MAX) {
		(void)snprintf(err, errsize, "%s: larger than %d bytes", path,
		    HR_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		(void)snprintf(err, errsize, "%s: out of memory", path);
		goto fail;
	}
	/* A file that grows while we read it is read as far as it was. */
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)snprintf(err, errsize, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	*len_r = len;
	return (buf);
fail:
	free(buf);
	(void)close(fd);
	return (NULL);
}

/*
 * hr_rules_load() reads and compiles the rules of path into rs (empty
 * on entry). 0, or -1 with "PATH:LINE: why" (or "PATH: why") in err and
 * rs left empty.
 */
static int
hr_rules_load(const char *path, struct hr_rules *rs, char *err, size_t errsize)
{
	struct hr_rule	 r;
	char		 line[HR_LINE_MAX];
	char		*text;
	const char	*p, *nl;
	size_t		 len, llen, alloc = 0;
	unsigned	 lineno = 0;
	int		 rc;

	if ((text = hr_slurp(path, &len, err, errsize)) == NULL)
		return (-1);
	for (p = text; p < text + len; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(text + len - p))) == NULL)
			nl = text + len;
		llen = (size_t)(nl - p);
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (llen >= sizeof(line)) {
			(void)hr_error(err, errsize, path, lineno,
			    "line longer than %zu bytes", sizeof(line) - 1);
			goto fail;
		}
		if (memchr(p, '\0', llen) != NULL) {
			(void)hr_error(err, errsize, path, lineno, "NUL byte");
			goto fail;
		}
		memcpy(line, p, llen);
		line[llen] = '\0';
		memset(&r, 0, sizeof(r));
		if ((rc = hr_parse_line(line, path, lineno, &r, err,
		    errsize)) < 0)
			goto fail;
		if (rc > 0)
			continue;
		if (rs->n == HR_RULES_MAX) {
			regfree(&r.re);
			(void)hr_error(err, errsize, path, lineno,
			    "more than %d rules", HR_RULES_MAX);
			goto fail;
		}
		if (rs->n == alloc) {
			struct hr_rule	*nr;

			alloc = alloc ? alloc * 2 : 16;
			if ((nr = reallocarray(rs->rule, alloc,
			    sizeof(*nr))) == NULL) {
				regfree(&r.re);
				(void)snprintf(err, errsize, "%s: out of memory",
				    path);
				goto fail;
			}
			rs->rule = nr;
		}
		rs->rule[rs->n++] = r;
	}
	free(text);
	return (0);
fail:
	free(text);
	hr_rules_free(rs);
	return (-1);
}

/*
 * hr_unfold() copies the first max bytes of the header block hdr/len
 * into out (max + 1 bytes) as unfolded header fields, each ended by a
 * NUL. Returns the bytes used in out.
 */
static size_t
hr_unfold(const char *hdr, size_t len, size_t max, char *out)
{
	size_t	 i, o = 0;
	bool	 open = false;		/* a field is being built */

	if (len > max)
		len = max;
	for (i = 0; i < len; i++) {
		char	 c = hdr[i];

		if (c == '\n' || (c == '\r' && i + 1 < len && hdr[i + 1] == '\n')) {
			if (c == '\r')
				i++;
			/* The empty line ends the header block. */
			if (!open)
				break;
			/* A continuation line joins the field it follows. */
			if (i + 1 < len && (hdr[i + 1] == ' ' ||
			    hdr[i + 1] == '\t'))
				continue;
			out[o++] = '\0';
			open = false;
			continue;
		}
		out[o++] = c == '\0' ? ' ' : c;
		open = true;
	}
	if (open)
		out[o++] = '\0';
	return (o);
}

/*
 * hr_match() runs the rules over the unfolded fields (NUL-ended, total
 * len bytes). The first rule that matches any field, or NULL.
 */
static const struct hr_rule *
hr_match(const struct hr_rules *rs, const char *fields, size_t len)
{
	const char	*f;
	size_t		 i;

	for (i = 0; i < rs->n; i++)
		for (f = fields; f < fields + len; f += strlen(f) + 1)
			if (regexec(&rs->rule[i].re, f, 0, NULL, 0) == 0)
				return (&rs->rule[i]);
	return (NULL);
}

/* Load the rules named by the current options into h; on error keep h. */
static int
headers_load(struct headers *h)
{
	const char	*path;
	struct hr_rules	 rs = { NULL, 0 };
	char		*copy;
	long		 max;

	path = h->host->opt_str(h->host->host_ctx, "rules_file");
	max = h->host->opt_num(h->host->host_ctx, "max_header_size");
	if (path == NULL || path[0] != '/') {
		(void)snprintf(h->error, sizeof(h->error), "rules_file must be "
		    "an absolute path");
		return (-1);
	}
	if (max <= 0) {
		(void)snprintf(h->error, sizeof(h->error), "max_header_size "
		    "must be more than 0");
		return (-1);
	}
	if ((copy = strdup(path)) == NULL) {
		(void)snprintf(h->error, sizeof(h->error), "out of memory");
		return (-1);
	}
	if (hr_rules_load(path, &rs, h->error, sizeof(h->error)) < 0) {
		free(copy);
		return (-1);
	}
	hr_rules_free(&h->rules);
	h->rules = rs;
	free(h->path);
	h->path = copy;
	h->max_header = (size_t)max;
	return (0);
}

/* The directory of path, for watch_path: editors replace files by rename. */
static int
headers_watch(struct headers *h)
{
	char	 dir[4096];
	char	*slash;
	int	 n;

	n = snprintf(dir, sizeof(dir), "%s", h->path);
	if (n < 0 || (size_t)n >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		return (-1);
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return (h->host->watch_path(h->host->host_ctx, dir));
}

static void
headers_fini(void *ctx)
{
	struct headers	*h = ctx;

	if (h == NULL)
		return;
	hr_rules_free(&h->rules);
	free(h->path);
	free(h);
}

static int
headers_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct headers	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	h->host = host;
	if (headers_load(h) < 0) {
		/* The host copies *error_r only after we return: log it here. */
		host->log(host->host_ctx, 1, "%s", h->error);
		*error_r = "cannot load the header rules (the warning above "
		    "says why)";
		headers_fini(h);
		return (-1);
	}
	if (headers_watch(h) < 0)
		host->log(host->host_ctx, 1, "cannot watch the directory of %s; "
		    "reload holdscand after editing it", h->path);
	*ctx_r = h;
	return (0);
}

static int
headers_reload(void *ctx, const char **error_r)
{
	struct headers	*h = ctx;

	if (headers_load(h) < 0) {
		*error_r = h->error;
		return (-1);
	}
	return (0);
}

static int
headers_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	const struct headers *h = ctx;
	const struct hr_rule *r;
	size_t		 len = msg->header_len < msg->len ? msg->header_len :
			    msg->len;
	size_t		 max = len < h->max_header ? len : h->max_header;
	char		*fields;

	res->verdict = HS_CLEAN;
	if (h->rules.n == 0 || len == 0)
		return (0);
	if ((fields = malloc(max + 1)) == NULL) {
		(void)snprintf(res->reason, sizeof(res->reason),
		    "headers: out of memory");
		return (-1);
	}
	len = hr_unfold(msg->data, len, max, fields);
	if ((r = hr_match(&h->rules, fields, len)) != NULL) {
		res->verdict = r->verdict;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", r->reason);
	}
	free(fields);
	return (0);
}

static void
headers_info(void *ctx, char *buf, size_t size)
{
	const struct headers *h = ctx;

	(void)snprintf(buf, size, "%zu rule%s from %s", h->rules.n,
	    h->rules.n == 1 ? "" : "s", h->path);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "headers",
	.version = "1",
	.options = headers_options,
	.init = headers_init,
	.reload = headers_reload,
	.scan = headers_scan,
	.info = headers_info,
	.fini = headers_fini,
};
