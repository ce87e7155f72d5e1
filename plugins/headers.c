/*
 * NAME
 *	headers - header rules: regular expressions on header fields
 * DESCRIPTION
 *	In the spirit of Postfix's header_checks: a rules file (option
 *	rules_file) holds one rule a line,
 *
 *		/^Subject:.*lottery winner/i	blocked	"lottery spam"
 *
 *	a Perl-compatible regular expression (PCRE2, as in Postfix's pcre:
 *	tables) between slashes ("\/" stands for a slash inside it),
 *	optional flags (only "i": ignore case), a
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
 *	to it), and of each field only its first max_field_size bytes;
 *	the rest is ignored.
 *
 *	What one rule may cost on one field is bounded by PCRE2's match,
 *	depth and heap limits. The match limit counts backtracking per
 *	start position, so a rule that PCRE2 does not anchor by itself
 *	(no ^ or leading .*) is run as (?s:.*?)(?:RULE), anchored: one
 *	start position, whose limit then bounds the whole search. A rule
 *	that exceeds a limit does not match that field, with a warning
 *	(what Postfix's pcre: tables do); a message on which rules exceed
 *	limits HR_LIMIT_HITS_MAX times fails its scan. So one rule on one
 *	field costs at most one match limit (some 15 ms), a message at
 *	most (rules) x (fields) of that, and a field must be a few KiB
 *	long to come near the limit: max_header_size holds few of them.
 *	No JIT: the limits then mean the same everywhere, and no memory
 *	is ever writable and executable.
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH	8
#include <pcre2.h>

#include "holdscan/plugin.h"

#define HR_FILE_MAX	(4 * 1024 * 1024)	/* a rules file, at most */
#define HR_LINE_MAX	8192			/* one rules line, at most */
#define HR_RULES_MAX	10000
#define HR_REASON_MAX	200
#define HR_ERROR_SIZE	512

/*
 * Per rule and header field. A field of 64 KiB costs an unanchored rule
 * about that many steps of the match limit to search; the pathological
 * ones stop at the limit after some 15 ms.
 */
#define HR_MATCH_LIMIT	1000000		/* backtracking steps */
#define HR_DEPTH_LIMIT	10000		/* nested backtracking points */
#define HR_HEAP_LIMIT	(8 * 1024)	/* KiB of backtracking memory */
#define HR_LIMIT_HITS_MAX 32		/* per message, then the scan fails */

struct hr_rule {
	pcre2_code	*re;
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
	size_t		 max_field;	/* bytes of one field a rule sees */
	char		 error[HR_ERROR_SIZE];
};

static const struct hs_plugin_option headers_options[] = {
	{ "rules_file", HS_OPT_PATH, HS_SYSCONFDIR "/header_rules",
	    "the header rules (see etc/header_rules)" },
	{ "max_header_size", HS_OPT_SIZE, "256k",
	    "only this much of the header block is examined" },
	{ "max_field_size", HS_OPT_SIZE, "64k",
	    "a rule sees only this much of each header field" },
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
		pcre2_code_free(rs->rule[i].re);
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

/*
 * hr_compile() compiles the expression pattern[len] into *re_r: as it is
 * when PCRE2 anchors it by itself, else as (?s:.*?)(?:pattern),
 * anchored (see the top of this file). 0, or -1 with why in err.
 */
static int
hr_compile(const char *pattern, size_t len, uint32_t flags, pcre2_code **re_r,
    char *err, size_t errsize)
{
	/* Recursion into the whole expression would take in the .*?. */
	static const char *const whole[] = {
		"(?R)", "(?0)", "\\g<0>", "\\g'0'",
	};
	char		 wrapped[HR_LINE_MAX + 32];
	PCRE2_UCHAR	 msg[256];
	PCRE2_SIZE	 off;
	pcre2_code	*re;
	uint32_t	 all = 0;
	size_t		 i;
	int		 ec, n;

	/* GNU regex's word boundaries would be a plain < and > in PCRE2. */
	for (i = 0; i + 1 < len; i++)
		if (pattern[i] == '\\' && (pattern[i + 1] == '<' ||
		    pattern[i + 1] == '>')) {
			(void)snprintf(err, errsize, "\\%c is no word boundary "
			    "in PCRE2: write \\b, or %c alone for the character",
			    pattern[i + 1], pattern[i + 1]);
			return (-1);
		} else if (pattern[i] == '\\')
			i++;
	/* A field has no line break: DOTALL changes only what PCRE2 anchors. */
	flags |= PCRE2_DOTALL | PCRE2_NEVER_UTF;
	re = pcre2_compile((PCRE2_SPTR)pattern, len, flags, &ec, &off, NULL);
	if (re == NULL) {
		(void)pcre2_get_error_message(ec, msg, sizeof(msg));
		(void)snprintf(err, errsize, "%s (at offset %zu)", (char *)msg,
		    (size_t)off);
		return (-1);
	}
	if (pcre2_pattern_info(re, PCRE2_INFO_ALLOPTIONS, &all) == 0 &&
	    (all & PCRE2_ANCHORED) != 0) {
		*re_r = re;
		return (0);
	}
	pcre2_code_free(re);
	for (i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (memmem(pattern, len, whole[i], strlen(whole[i])) != NULL) {
			(void)snprintf(err, errsize, "%s (recursion into the "
			    "whole expression) needs ^ or a leading .*",
			    whole[i]);
			return (-1);
		}
	n = snprintf(wrapped, sizeof(wrapped), "(?s:.*?)(?:%.*s)", (int)len,
	    pattern);
	if (n < 0 || (size_t)n >= sizeof(wrapped)) {
		(void)snprintf(err, errsize, "too long");
		return (-1);
	}
	re = pcre2_compile((PCRE2_SPTR)wrapped, (size_t)n,
	    flags | PCRE2_ANCHORED, &ec, &off, NULL);
	if (re == NULL) {
		(void)pcre2_get_error_message(ec, msg, sizeof(msg));
		(void)snprintf(err, errsize, "it cannot be searched for as "
		    "(?s:.*?)(?:...): %s (start-of-pattern settings such as "
		    "(*LIMIT_MATCH=) need ^ or a leading .*)", (char *)msg);
		return (-1);
	}
	*re_r = re;
	return (0);
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
	char		 pattern[HR_LINE_MAX], rerr[400];
	const char	*p = s, *w;
	size_t		 plen = 0, wlen, rlen = 0, i;
	uint32_t	 cflags = 0;

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
		cflags |= PCRE2_CASELESS;
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
	if (hr_compile(pattern, plen, cflags, &r->re, rerr, sizeof(rerr)) < 0)
		return (hr_error(err, errsize, path, line, "bad regular "
		    "expression: %s", rerr));
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
			pcre2_code_free(r.re);
			(void)hr_error(err, errsize, path, lineno,
			    "more than %d rules", HR_RULES_MAX);
			goto fail;
		}
		if (rs->n == alloc) {
			struct hr_rule	*nr;

			alloc = alloc ? alloc * 2 : 16;
			if ((nr = reallocarray(rs->rule, alloc,
			    sizeof(*nr))) == NULL) {
				pcre2_code_free(r.re);
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
 * into out (max + 1 bytes) as unfolded header fields, each cut to its
 * first max_field bytes and ended by a NUL. Returns the bytes used in
 * out.
 */
static size_t
hr_unfold(const char *hdr, size_t len, size_t max, size_t max_field,
    char *out)
{
	size_t	 i, o = 0, flen = 0;
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
			flen = 0;
			continue;
		}
		if (flen < max_field) {
			out[o++] = c == '\0' ? ' ' : c;
			flen++;
		}
		open = true;
	}
	if (open)
		out[o++] = '\0';
	return (o);
}

/* A limit of PCRE2's, by name; NULL for any other error. */
static const char *
hr_limit_name(int rc)
{
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
		return ("match limit");
	case PCRE2_ERROR_DEPTHLIMIT:
		return ("depth limit");
	case PCRE2_ERROR_HEAPLIMIT:
		return ("heap limit");
	default:
		return (NULL);
	}
}

/* A match context with the limits of the top of this file, or NULL. */
static pcre2_match_context *
hr_match_context(void)
{
	pcre2_match_context *mc;

	if ((mc = pcre2_match_context_create(NULL)) == NULL)
		return (NULL);
	(void)pcre2_set_match_limit(mc, HR_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(mc, HR_DEPTH_LIMIT);
	(void)pcre2_set_heap_limit(mc, HR_HEAP_LIMIT);
	return (mc);
}

/*
 * hr_match() runs the rules of h over the unfolded fields of msg
 * (NUL-ended, total len bytes). 1 with *rule_r the first rule that
 * matches any field; 0 when none does; -1 with why filled when the
 * message cannot be judged: too many limits exceeded, or PCRE2 fails.
 * A rule that exceeds a limit on a field does not match that field; a
 * warning per rule and message says so.
 */
static int
hr_match(const struct headers *h, const struct hs_msg *msg,
    const char *fields, size_t len, const struct hr_rule **rule_r,
    char *why, size_t whysize)
{
	const struct hr_rule *r;
	pcre2_match_context *mc;
	pcre2_match_data *md;
	PCRE2_UCHAR	 pmsg[128];
	const char	*f, *limit = NULL, *path = h->path ? h->path : "rules";
	size_t		 i, flen;
	unsigned	 hits = 0, rhits;
	int		 rc, ret = 0;

	mc = hr_match_context();
	md = pcre2_match_data_create(1, NULL);
	if (mc == NULL || md == NULL) {
		(void)snprintf(why, whysize, "headers: out of memory");
		ret = -1;
		goto done;
	}
	for (i = 0; i < h->rules.n && ret == 0; i++) {
		r = &h->rules.rule[i];
		rhits = 0;
		for (f = fields; f < fields + len; f += flen + 1) {
			flen = strlen(f);
			rc = pcre2_match(r->re, (PCRE2_SPTR)f, flen, 0, 0, md,
			    mc);
			if (rc >= 0) {
				*rule_r = r;
				ret = 1;
				break;
			}
			if (rc == PCRE2_ERROR_NOMATCH)
				continue;
			if ((limit = hr_limit_name(rc)) == NULL) {
				(void)pcre2_get_error_message(rc, pmsg,
				    sizeof(pmsg));
				(void)snprintf(why, whysize, "headers: rule "
				    "%s:%u: %s", hr_basename(path), r->line,
				    (char *)pmsg);
				ret = -1;
				break;
			}
			rhits++;
			if (++hits == HR_LIMIT_HITS_MAX) {
				(void)snprintf(why, whysize, "headers: rules "
				    "exceeded PCRE2's limits %u times (rule "
				    "%s:%u, %s)", hits, hr_basename(path),
				    r->line, limit);
				ret = -1;
				break;
			}
		}
		if (rhits > 0 && h->host != NULL)
			h->host->log(h->host->host_ctx, 1, "%s: %s:%u: the "
			    "regular expression exceeded PCRE2's %s on %u "
			    "header field%s; treated as no match there",
			    msg->queue_id, path, r->line, limit, rhits,
			    rhits == 1 ? "" : "s");
	}
done:
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return (ret);
}

/* Load the rules named by the current options into h; on error keep h. */
static int
headers_load(struct headers *h)
{
	const char	*path;
	struct hr_rules	 rs = { NULL, 0 };
	char		*copy;
	long		 max, max_field;

	path = h->host->opt_str(h->host->host_ctx, "rules_file");
	max = h->host->opt_num(h->host->host_ctx, "max_header_size");
	max_field = h->host->opt_num(h->host->host_ctx, "max_field_size");
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
	if (max_field <= 0) {
		(void)snprintf(h->error, sizeof(h->error), "max_field_size "
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
	h->max_field = (size_t)max_field;
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
	const struct hr_rule *r = NULL;
	size_t		 len = msg->header_len < msg->len ? msg->header_len :
			    msg->len;
	size_t		 max = len < h->max_header ? len : h->max_header;
	char		*fields;
	int		 rc;

	res->verdict = HS_CLEAN;
	if (h->rules.n == 0 || len == 0)
		return (0);
	if ((fields = malloc(max + 1)) == NULL) {
		(void)snprintf(res->reason, sizeof(res->reason),
		    "headers: out of memory");
		return (-1);
	}
	len = hr_unfold(msg->data, len, max, h->max_field, fields);
	rc = hr_match(h, msg, fields, len, &r, res->reason,
	    sizeof(res->reason));
	free(fields);
	if (rc < 0)
		return (-1);
	if (rc > 0) {
		res->verdict = r->verdict;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", r->reason);
	}
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
