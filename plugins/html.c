/*
 * NAME
 *	html - phishing net and active content in HTML parts
 * DESCRIPTION
 *	A scanner plugin (hs_plugin ABI). It has the host walk the message's
 *	MIME tree (hs_host.mime_walk, within max_depth and max_parts) and
 *	parses each text/html leaf part with libxml2's HTML parser
 *	(recovering, no network, no messages), then walks the tree it
 *	built, without recursion. It reports
 *
 *	  - a link (<a href>, <area href>) whose visible text shows a host
 *	    ("www.bank.example", "https://bank.example/login") that is not
 *	    the host of its href: the same host, one a subdomain of the
 *	    other, or the same registrable domain (roughly: the last two
 *	    labels, three under a two-letter country code whose second
 *	    level is short, as co.uk) is not a mismatch;
 *	  - a link to a numeric host (IPv4 in any of its spellings, IPv6);
 *	  - a link to a punycode host (a label starting with xn--);
 *	  - a form (<form>), with the host of its action when it has one;
 *	  - active content: iframe, frame, object, embed, applet, script.
 *
 *	A part is parsed as ISO-8859-1 whatever charset it declares (UTF-16
 *	when its NULs say so: guess_encoding()), so that bytes that break
 *	the declared charset cannot end the parse before a link, and its
 *	control bytes are read as spaces (parse_copy()), so that libxml2
 *	sees the elements a browser sees. Only http, https and ftp links
 *	(and scheme-relative ones) have a host here. A href host equal to,
 *	or under, a site of phishing_safe_sites is never reported, nor is
 *	a form posting there. A part libxml2 cannot parse at all fails the
 *	scan.
 *
 *	With phishing_action = tag (the default) the verdict stays clean
 *	and the plugin adds one header line, "X-Holdscan-Phishing:
 *	suspected (link text shows bank.example, goes to evil.example)",
 *	which the host adds to delivered mail; with block, a message with
 *	a phishing sign (link, numeric or punycode host, form) is blocked
 *	and the policy decides. Active content alone is reported in the
 *	header and never blocks. scan_part judges one part the same way,
 *	so that deliver-cleaned can replace a blocked HTML part.
 *
 *	Bounds: at most max_html_size bytes of HTML are parsed per message
 *	(all parts together; the rest is not examined, and the reason says
 *	so), at most max_links links and forms are examined (the reason
 *	says so too), and a link's visible text is read from at most
 *	LINK_TEXT_NODES nodes, LINK_TEXT_MAX bytes. What libxml2 builds is
 *	freed before the next part is parsed.
 *
 *	rewrite_part (the policy's html_disarm) gives a text/html part
 *	disarmed by html_disarm_hl(): without script, iframe, frame, frameset,
 *	applet, noscript and param elements, without the object, embed and
 *	form elements around their content, without a style whose text
 *	holds "</", without on* attributes and without javascript:,
 *	vbscript:, livescript: and data: URLs, written in ASCII (character
 *	references for the rest); only when something went, so that a part
 *	with nothing to disarm keeps its bytes. With html_disarm_mode =
 *	text, html_text_hl() gives the part's visible text instead. A part
 *	larger than max_html_size is not parsed: the hook says it cannot.
 *
 *	With HS_REWRITE_HIGHLIGHT_PHISHING in the request's flags (the
 *	policy's highlight_phishing; a host that has rewrite_flags),
 *	highlight_doc() first puts a visible warning after each link the
 *	scan would report ("[holdscan: this link may be fraud: shows X,
 *	goes to Y]"), as a text node libxml2 escapes, at most max_links
 *	links looked at; HS_REWRITE_KEEP asks for that alone, the HTML
 *	otherwise as it was.
 *
 *	libxml2's generic error handler, in the scanner program's process,
 *	is set to one that says nothing (init): its messages would carry
 *	bytes of the message to the log.
 *
 *	This plugin must never parse HTML by other means than libxml2,
 *	fetch anything (HTML_PARSE_NONET; nothing else opens a file or a
 *	socket), recurse over the document tree, parse more than
 *	max_html_size bytes per message, or put untrusted bytes other than
 *	printable ASCII into a header line or a reason.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>

#include "holdscan/plugin.h"

#define HOST_MAX	256	/* bytes of a host name kept */
#define HOST_SHOWN	80	/* bytes of a host name put in a report */
#define LINK_TEXT_MAX	512	/* bytes of a link's visible text read */
#define LINK_TEXT_NODES	1000	/* nodes of a link's subtree looked at */
#define SIGNS_SHOWN	3	/* phishing signs named in the header */
#define SIGN_MAX	200

/*
 * XML_PARSE_HUGE lifts libxml2's nesting limit (256), past which it
 * stops parsing: a link after 300 <div> would not be seen. The input is
 * bounded by max_html_size instead: 2 MiB of the worst nesting builds
 * some 150 MB in about a second, and libxml2 frees a tree without
 * recursion.
 */
#define HTML_OPTS	(HTML_PARSE_NONET | HTML_PARSE_NOERROR | \
			    HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER | \
			    XML_PARSE_HUGE)

static const struct hs_plugin_option html_options[] = {
	{ "phishing_action", HS_OPT_STR, "tag",
	    "tag: deliver with an X-Holdscan-Phishing header; block: the "
	    "blocked verdict, the policy decides" },
	{ "phishing_safe_sites", HS_OPT_LIST, "",
	    "sites (and their subdomains) whose links are never reported" },
	{ "max_html_size", HS_OPT_SIZE, "2M",
	    "bytes of HTML parsed per message; the rest is not examined" },
	{ "max_links", HS_OPT_INT, "1000",
	    "links and forms examined per message; the rest are not" },
	{ "max_depth", HS_OPT_INT, "20",
	    "MIME nesting looked into; deeper is scan-failed (at most 32)" },
	{ "max_parts", HS_OPT_INT, "1000",
	    "MIME parts looked at; more is scan-failed (at most 5000)" },
	{ NULL, 0, NULL, NULL },
};

/* Active content, by element name. */
static const char *const active_names[] = {
	"iframe", "frame", "object", "embed", "applet", "script",
};
#define NACTIVE	(sizeof(active_names) / sizeof(active_names[0]))
/*
 * The first letters of the elements sax_start() looks at (the active
 * ones, a, area, form; libxml2's HTML parser gives names in lower
 * case): most elements of a page (div, td, p, img, span) are passed
 * over on their first byte.
 */
#define WATCHED_FIRST	"aefios"

struct cfg {
	bool		 block;
	char		**safe;		/* lower case, no leading or trailing dot */
	size_t		 nsafe;
	size_t		 max_html;
	size_t		 max_links;
	struct hs_mime_limits lim;
};

struct html {
	const struct hs_host *host;
	struct cfg	*cfg;
};

/* What one message (or one part) shows. */
struct findings {
	const struct cfg *cfg;
	size_t		 nsigns;	/* phishing signs */
	char		 sign[SIGNS_SHOWN][SIGN_MAX];
	size_t		 sign_seq[SIGNS_SHOWN];	/* the links' and forms' places */
	unsigned	 active;	/* bit i: active_names[i] seen */
	size_t		 links;		/* links and forms examined */
	size_t		 budget;	/* bytes of HTML that may still be parsed */
	bool		 links_cut;	/* max_links reached */
	bool		 size_cut;	/* HTML beyond max_html_size */
	bool		 parse_failed;	/* libxml2 gave no document for a part */
};

/* --- options ----------------------------------------------------------------- */

static void
cfg_free(struct cfg *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nsafe; i++)
		free(c->safe[i]);
	free(c->safe);
	free(c);
}

/* Split the safe sites into lower-case names without surrounding dots. */
static int
safe_parse(struct cfg *c, const char *s)
{
	size_t	 len, i;
	char	**n;

	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			return (0);
		len = strcspn(s, ", \t");
		while (len > 0 && *s == '.') {
			s++;
			len--;
		}
		while (len > 0 && s[len - 1] == '.')
			len--;
		if (len == 0 || len >= HOST_MAX) {
			s += strcspn(s, ", \t");
			continue;
		}
		if ((n = reallocarray(c->safe, c->nsafe + 1, sizeof(*n))) == NULL)
			return (-1);
		c->safe = n;
		if ((c->safe[c->nsafe] = strndup(s, len)) == NULL)
			return (-1);
		for (i = 0; i < len; i++)
			c->safe[c->nsafe][i] =
			    (char)tolower((unsigned char)s[i]);
		c->nsafe++;
		s += strcspn(s, ", \t");
	}
}

static struct cfg *
cfg_new(const struct hs_host *h, const char **error_r)
{
	struct cfg	*c = calloc(1, sizeof(*c));
	const char	*action;
	long		 v;

	if (c == NULL) {
		*error_r = "out of memory";
		return (NULL);
	}
	action = h->opt_str(h->host_ctx, "phishing_action");
	if (strcmp(action, "block") == 0)
		c->block = true;
	else if (strcmp(action, "tag") != 0) {
		*error_r = "phishing_action: use tag or block";
		cfg_free(c);
		return (NULL);
	}
	if (safe_parse(c, h->opt_str(h->host_ctx, "phishing_safe_sites")) < 0) {
		*error_r = "out of memory";
		cfg_free(c);
		return (NULL);
	}
	v = h->opt_num(h->host_ctx, "max_html_size");
	c->max_html = v > INT_MAX ? INT_MAX : (size_t)v;
	c->max_links = (size_t)h->opt_num(h->host_ctx, "max_links");
	c->lim.max_depth = (size_t)h->opt_num(h->host_ctx, "max_depth");
	c->lim.max_parts = (size_t)h->opt_num(h->host_ctx, "max_parts");
	if (c->lim.max_depth < 1 || c->lim.max_depth > HS_MIME_MAX_DEPTH)
		*error_r = "max_depth: use 1 to 32";
	else if (c->lim.max_parts < 1 || c->lim.max_parts > HS_MIME_MAX_PARTS)
		*error_r = "max_parts: use 1 to 5000";
	else if (c->max_html < 1024)
		*error_r = "max_html_size: use at least 1K";
	else
		return (c);
	cfg_free(c);
	return (NULL);
}

/* --- hosts ------------------------------------------------------------------- */

/* s shown in a report: printable ASCII, bounded, no quotes or backslashes. */
static void
shown(char *dst, size_t size, const char *s)
{
	size_t	 i, o = 0;

	for (i = 0; s[i] != '\0' && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o >= HOST_SHOWN) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = c <= 32 || c > 126 || c == '"' || c == '\\' ||
		    c == ';' || c == '(' || c == ')' ? '?' : (char)c;
	}
	dst[o] = '\0';
}

/*
 * The host of a URL s[len] into host (lower case, without user, port or
 * trailing dot): 1, or 0 when s has no host (relative, mailto:, ...).
 */
static int
url_host(const char *s, size_t len, char *host, size_t size)
{
	size_t	 i = 0, start, end, at, n, k;

	while (i < len && (unsigned char)s[i] <= 32)
		i++;
	for (start = i; i < len && (isalnum((unsigned char)s[i]) ||
	    s[i] == '+' || s[i] == '-' || s[i] == '.'); i++)
		;
	if (i < len && s[i] == ':' && i > start) {
		n = i - start;
		if (!((n == 4 && strncasecmp(s + start, "http", 4) == 0) ||
		    (n == 5 && strncasecmp(s + start, "https", 5) == 0) ||
		    (n == 3 && strncasecmp(s + start, "ftp", 3) == 0)))
			return (0);
		i++;
	} else {
		i = start;
		if (len - i < 2 || (s[i] != '/' && s[i] != '\\') ||
		    (s[i + 1] != '/' && s[i + 1] != '\\'))
			return (0);	/* relative */
	}
	while (i < len && (s[i] == '/' || s[i] == '\\'))	/* as browsers do */
		i++;
	start = i;
	for (end = i; end < len && s[end] != '/' && s[end] != '\\' &&
	    s[end] != '?' && s[end] != '#' && (unsigned char)s[end] > 32; end++)
		;
	for (at = start; at < end; at++)	/* user@host: the last @ */
		if (s[at] == '@')
			start = at + 1;
	if (start < end && s[start] == '[') {	/* IPv6 literal */
		for (k = start; k < end && s[k] != ']'; k++)
			;
		end = k < end ? k + 1 : end;
	} else {
		for (k = start; k < end && s[k] != ':'; k++)
			;
		end = k;
	}
	while (end > start && s[end - 1] == '.')
		end--;
	n = end - start;
	if (n == 0 || n >= size)
		return (0);
	for (k = 0; k < n; k++)
		host[k] = (char)tolower((unsigned char)s[start + k]);
	host[n] = '\0';
	return (1);
}

static bool
is_file_ext(const char *tld)
{
	static const char *const ext[] = { "pdf", "doc", "docx", "xls",
	    "xlsx", "ppt", "pptx", "htm", "html", "php", "asp", "aspx", "jpg",
	    "jpeg", "png", "gif", "txt", "csv", "exe", "js", "css" };
	size_t	 i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strcmp(tld, ext[i]) == 0)
			return (true);
	return (false);
}

/*
 * The host a link's visible text shows: a URL ("https://bank.example/x")
 * or one word that looks like a domain ("www.bank.example",
 * "bank.example/login"). 1 with host filled, 0 when it shows none.
 */
static int
text_host(const char *t, char *host, size_t size)
{
	size_t	 len, n, labels = 0, lab = 0, i;
	const char *tld;

	t += strspn(t, " \t\r\n\f\v");
	len = strlen(t);
	while (len > 0 && isspace((unsigned char)t[len - 1]))
		len--;
	if (len == 0 || len >= LINK_TEXT_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if (isspace((unsigned char)t[i]))
			return (0);		/* words, not an address */
	if (memchr(t, ':', len) != NULL && strstr(t, "://") != NULL)
		return (url_host(t, len, host, size));
	if (memchr(t, '@', len) != NULL)
		return (0);			/* an e-mail address */
	n = strcspn(t, "/?#:");
	if (n > len)
		n = len;
	while (n > 0 && t[n - 1] == '.')
		n--;
	if (n == 0 || n >= size)
		return (0);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '.') {
			if (lab == 0)
				return (0);
			labels++;
			lab = 0;
		} else if (isalnum(c) || c == '-') {
			lab++;
		} else
			return (0);
		host[i] = (char)tolower(c);
	}
	host[n] = '\0';
	if (lab == 0 || labels == 0)
		return (0);
	tld = strrchr(host, '.') + 1;
	for (i = 0; tld[i] != '\0'; i++)
		if (!isalpha((unsigned char)tld[i]) && strncmp(tld, "xn--", 4) != 0)
			return (0);
	if (strlen(tld) < 2 || (is_file_ext(tld) && strncmp(host, "www.", 4) != 0))
		return (0);
	return (1);
}

/* Is host a numeric address (IPv4 in any spelling, IPv6)? */
static bool
host_numeric(const char *host)
{
	unsigned char	 a[16];
	size_t		 i;
	bool		 hex = false;

	if (host[0] == '[')
		return (true);
	if (inet_pton(AF_INET, host, a) == 1)
		return (true);
	/* 3232235777, 0xc0a80001, 0300.0250.0.1: browsers take them all */
	for (i = 0; host[i] != '\0'; i++) {
		char	 c = host[i];

		if (c == 'x' && i > 0 && host[i - 1] == '0')
			hex = true;
		else if (!(isdigit((unsigned char)c) || c == '.' ||
		    (hex && isxdigit((unsigned char)c))))
			return (false);
	}
	return (i > 0 && isdigit((unsigned char)host[0]));
}

static bool
host_punycode(const char *host)
{
	const char	*p = host;

	for (;;) {
		if (strncmp(p, "xn--", 4) == 0)
			return (true);
		if ((p = strchr(p, '.')) == NULL)
			return (false);
		p++;
	}
}

/* Is sub equal to dom, or a subdomain of it? */
static bool
host_under(const char *sub, const char *dom)
{
	size_t	 ls = strlen(sub), ld = strlen(dom);

	if (ls == ld)
		return (strcmp(sub, dom) == 0);
	return (ls > ld && sub[ls - ld - 1] == '.' &&
	    strcmp(sub + ls - ld, dom) == 0);
}

/* The registrable domain of host, roughly: a pointer into host. */
static const char *
host_site(const char *host)
{
	const char	*p = host + strlen(host), *last = NULL, *second = NULL;
	size_t		 want;

	if (host_numeric(host))
		return (host);
	while (p > host) {
		p--;
		if (*p != '.')
			continue;
		if (last == NULL)
			last = p + 1;
		else if (second == NULL)
			second = p + 1;
		else
			break;
	}
	if (last == NULL)
		return (host);
	/* "example.co.uk": a short second level under a country code */
	want = strlen(last) == 2 && second != NULL &&
	    (size_t)(last - 1 - second) <= 3 ? 3 : 2;
	p = host + strlen(host);
	for (; p > host; p--)
		if (p[-1] == '.' && --want == 0)
			return (p);
	return (host);
}

/* Do a link text's host and its href's host name the same site? */
static bool
hosts_match(const char *a, const char *b)
{
	return (host_under(a, b) || host_under(b, a) ||
	    strcmp(host_site(a), host_site(b)) == 0);
}

static bool
host_safe(const struct cfg *c, const char *host)
{
	size_t	 i;

	for (i = 0; i < c->nsafe; i++)
		if (host_under(host, c->safe[i]))
			return (true);
	return (false);
}

/* --- the tree ------------------------------------------------------------------ */

/* The node after n in document order, below root; its children with descend. */
static xmlNodePtr
next_node(xmlNodePtr n, xmlNodePtr root, bool descend)
{
	if (descend && n->children != NULL && n->type == XML_ELEMENT_NODE)
		return (n->children);
	while (n != NULL && n != root) {
		if (n->next != NULL)
			return (n->next);
		n = n->parent;
	}
	return (NULL);
}

static bool
named(xmlNodePtr n, const char *name)
{
	return (n->type == XML_ELEMENT_NODE && n->name != NULL &&
	    strcmp((const char *)n->name, name) == 0);
}

/* A link's visible text, bounded. */
static void
link_text(xmlNodePtr a, char *buf, size_t size)
{
	xmlNodePtr	 n;
	size_t		 len = 0, nodes = 0, k;

	buf[0] = '\0';
	for (n = a->children; n != NULL && nodes < LINK_TEXT_NODES &&
	    len + 1 < size; n = next_node(n, a, true), nodes++) {
		if (n->type != XML_TEXT_NODE || n->content == NULL)
			continue;
		k = strlen((const char *)n->content);
		if (k > size - 1 - len)
			k = size - 1 - len;
		memcpy(buf + len, n->content, k);
		len += k;
	}
	buf[len] = '\0';
}

/*
 * A phishing sign of the link or form that is the seq-th examined (in
 * document order): the first SIGNS_SHOWN by that order are kept, whatever
 * the order they are found in (a link's is found at its end).
 */
static void
add_sign(struct findings *f, size_t seq, const char *fmt, const char *h1,
    const char *h2)
{
	char	 s1[HOST_SHOWN + 8], s2[HOST_SHOWN + 8];
	size_t	 kept = f->nsigns < SIGNS_SHOWN ? f->nsigns : SIGNS_SHOWN, i;

	f->nsigns++;
	if (kept == SIGNS_SHOWN && seq > f->sign_seq[kept - 1])
		return;
	if (kept == SIGNS_SHOWN)
		kept--;		/* the last kept one goes */
	for (i = kept; i > 0 && f->sign_seq[i - 1] > seq; i--) {
		memcpy(f->sign[i], f->sign[i - 1], SIGN_MAX);
		f->sign_seq[i] = f->sign_seq[i - 1];
	}
	shown(s1, sizeof(s1), h1);
	shown(s2, sizeof(s2), h2 != NULL ? h2 : "");
	(void)snprintf(f->sign[i], SIGN_MAX, fmt, s1, s2);
	f->sign_seq[i] = seq;
}

/* One link, the seq-th: its href's host hh and its visible text. */
static void
examine_link(struct findings *f, size_t seq, const char *hh,
    const char *text)
{
	char	 th[HOST_MAX];

	if (text_host(text, th, sizeof(th)) && !hosts_match(th, hh))
		add_sign(f, seq, "link text shows %s, goes to %s", th, hh);
	else if (host_numeric(hh))
		add_sign(f, seq, "link to numeric address %s%s", hh, NULL);
	else if (host_punycode(hh))
		add_sign(f, seq, "link to punycode host %s%s", hh, NULL);
}

/* What is suspicious about a link, if anything. */
enum link_sign {
	LINK_FINE,
	LINK_MISMATCH,		/* th: the host its text shows; hh: its href's */
	LINK_NUMERIC,		/* hh: a numeric host */
	LINK_PUNYCODE,		/* hh: a punycode host */
};

/*
 * Judge the link a (href its href) as the scan and the highlighting both
 * do: hh gets its href's host, th the host its text shows (when
 * LINK_MISMATCH).
 */
static enum link_sign
link_judge(const struct cfg *c, xmlNodePtr a, const char *href, char *hh,
    char *th)
{
	char	 text[LINK_TEXT_MAX];

	if (!url_host(href, strlen(href), hh, HOST_MAX) || host_safe(c, hh))
		return (LINK_FINE);
	link_text(a, text, sizeof(text));
	if (text_host(text, th, HOST_MAX) && !hosts_match(th, hh))
		return (LINK_MISMATCH);
	if (host_numeric(hh))
		return (LINK_NUMERIC);
	if (host_punycode(hh))
		return (LINK_PUNYCODE);
	return (LINK_FINE);
}

static void
examine_form(struct findings *f, size_t seq, const char *action)
{
	char	 h[HOST_MAX];

	if (action != NULL && url_host(action, strlen(action), h, sizeof(h))) {
		if (!host_safe(f->cfg, h))
			add_sign(f, seq, "form posting to %s%s", h, NULL);
	} else
		add_sign(f, seq, "form%s%s", "", NULL);
}

/*
 * --- the walk: libxml2's HTML parser with SAX callbacks ---------------------
 *
 * The parser calls back for each element start and end, text, CDATA,
 * comment and processing instruction in document order, the order of
 * the tree it would build (its SAX2 tree builder makes one node of each,
 * and of consecutive text, or CDATA, one node): a link's subtree is the
 * events between its start and its end. Nothing is built: a link's
 * visible text is gathered while it is open, as link_text() reads it from
 * a tree (the text of its first LINK_TEXT_NODES nodes, at most
 * LINK_TEXT_MAX - 1 bytes), and the link is judged at its end.
 */

/* What the last node of the current element is (a text node grows). */
enum lastnode { LAST_OTHER, LAST_TEXT, LAST_CDATA };

struct openlink {
	size_t		 seq;		/* its place among links and forms */
	char		 host[HOST_MAX];	/* of its href */
	char		 text[LINK_TEXT_MAX];
	size_t		 len;
	size_t		 nodes;		/* nodes of its subtree read */
	bool		 stopped;	/* LINK_TEXT_NODES, or text full */
	bool		 reading;	/* its last node is a text node read */
	size_t		 depth;		/* element depth at its start */
};

/*
 * The open links, and those of them still reading (live: not stopped),
 * by index into open; each event looks at the live ones only, so that a
 * link costs at most LINK_TEXT_NODES nodes' work, nested or not, as
 * link_text() on a tree does.
 */
struct sax {
	struct findings	*f;
	size_t		 depth;		/* open elements */
	enum lastnode	 last;
	struct openlink	*open;		/* links open, innermost last */
	size_t		 nopen, aopen;
	size_t		*live;		/* indexes into open, aopen of them */
	size_t		 nlive;
	bool		 oom;
};

/* Stop live link number i (it reads no more). */
static void
sax_stop(struct sax *x, size_t i)
{
	x->open[x->live[i]].stopped = true;
	x->open[x->live[i]].reading = false;
	x->live[i] = x->live[--x->nlive];
}

/* A new node in the subtree of every open link; text: a text node's. */
static void
sax_node(struct sax *x, bool text)
{
	struct openlink	*l;
	size_t		 i = 0;

	while (i < x->nlive) {
		l = &x->open[x->live[i]];
		if (l->nodes >= LINK_TEXT_NODES ||
		    l->len + 1 >= sizeof(l->text)) {
			sax_stop(x, i);
			continue;
		}
		l->nodes++;
		l->reading = text;
		i++;
	}
}

/* Text for the open links whose last node read is a text node. */
static void
sax_text(struct sax *x, const xmlChar *t, int n)
{
	struct openlink	*l;
	size_t		 i = 0, k;

	while (n > 0 && i < x->nlive) {
		l = &x->open[x->live[i]];
		if (!l->reading) {
			i++;
			continue;
		}
		k = (size_t)n;
		if (k > sizeof(l->text) - 1 - l->len)
			k = sizeof(l->text) - 1 - l->len;
		memcpy(l->text + l->len, t, k);
		l->len += k;
		l->text[l->len] = '\0';
		if (l->len + 1 >= sizeof(l->text))
			sax_stop(x, i);	/* full: nothing more is read */
		else
			i++;
	}
}

static const char *
sax_attr(const xmlChar **atts, const char *name)
{
	size_t	 i;

	for (i = 0; atts != NULL && atts[i] != NULL; i += 2)
		if (strcmp((const char *)atts[i], name) == 0)
			/* no value: the tree's attribute is empty */
			return (atts[i + 1] != NULL ? (const char *)atts[i + 1] :
			    "");
	return (NULL);
}

static void
sax_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	struct sax	*x = ((htmlParserCtxtPtr)ctx)->_private;
	struct findings	*f = x->f;
	struct openlink	*l;
	const char	*n = (const char *)name, *v;
	char		 hh[HOST_MAX];
	size_t		 i;

	sax_node(x, false);
	x->depth++;
	x->last = LAST_OTHER;
	if (n == NULL || strchr(WATCHED_FIRST, n[0]) == NULL)
		return;
	for (i = 0; i < NACTIVE; i++)
		if (strcmp(n, active_names[i]) == 0)
			f->active |= 1u << i;
	if (strcmp(n, "a") != 0 && strcmp(n, "area") != 0 &&
	    strcmp(n, "form") != 0)
		return;
	if (f->links >= f->cfg->max_links) {
		f->links_cut = true;
		return;
	}
	f->links++;
	if (n[0] == 'f') {
		examine_form(f, f->links, sax_attr(atts, "action"));
		return;
	}
	if ((v = sax_attr(atts, "href")) == NULL ||
	    !url_host(v, strlen(v), hh, sizeof(hh)) || host_safe(f->cfg, hh))
		return;
	if (x->nopen == x->aopen) {
		size_t	 na = x->aopen ? x->aopen * 2 : 4, *lv;

		if ((l = reallocarray(x->open, na, sizeof(*l))) == NULL) {
			x->oom = true;
			return;
		}
		x->open = l;
		if ((lv = reallocarray(x->live, na, sizeof(*lv))) == NULL) {
			x->oom = true;
			return;
		}
		x->live = lv;
		x->aopen = na;
	}
	l = &x->open[x->nopen];
	memset(l, 0, sizeof(*l));
	l->seq = f->links;
	memcpy(l->host, hh, sizeof(hh));
	l->depth = x->depth;
	x->live[x->nlive++] = x->nopen++;
}

static void
sax_end(void *ctx, const xmlChar *name)
{
	struct sax	*x = ((htmlParserCtxtPtr)ctx)->_private;
	struct openlink	*l;
	size_t		 i;

	(void)name;
	if (x->nopen > 0 && x->open[x->nopen - 1].depth == x->depth) {
		l = &x->open[--x->nopen];
		for (i = 0; !l->stopped && i < x->nlive; i++)
			if (x->live[i] == x->nopen) {
				x->live[i] = x->live[--x->nlive];
				break;
			}
		examine_link(x->f, l->seq, l->host, l->text);
	}
	if (x->depth > 0)
		x->depth--;
	x->last = LAST_OTHER;	/* the parent's last node: this element */
}

static void
sax_characters(void *ctx, const xmlChar *t, int n)
{
	struct sax	*x = ((htmlParserCtxtPtr)ctx)->_private;

	if (x->depth == 0)
		return;		/* no element: the tree keeps no text here */
	if (x->last != LAST_TEXT)
		sax_node(x, true);
	x->last = LAST_TEXT;
	sax_text(x, t, n);
}

static void
sax_cdata(void *ctx, const xmlChar *t, int n)
{
	struct sax	*x = ((htmlParserCtxtPtr)ctx)->_private;

	(void)t;
	(void)n;
	if (x->depth == 0)
		return;
	if (x->last != LAST_CDATA)
		sax_node(x, false);	/* counted, its text not read */
	x->last = LAST_CDATA;
}

static void
sax_other(struct sax *x)
{
	if (x->depth == 0)
		return;
	sax_node(x, false);
	x->last = LAST_OTHER;
}

static void
sax_comment(void *ctx, const xmlChar *t)
{
	(void)t;
	sax_other(((htmlParserCtxtPtr)ctx)->_private);
}

static void
sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	(void)target;
	(void)data;
	sax_other(((htmlParserCtxtPtr)ctx)->_private);
}

/*
 * Parse text[len] in enc with the callbacks above; false when libxml2
 * cannot be set up for it.
 */
static bool
examine_parse(struct findings *f, const char *text, size_t len,
    const char *enc)
{
	htmlParserCtxtPtr ctxt;
	xmlCharEncodingHandlerPtr h;
	struct sax	 x;
	size_t		 i;

	if ((ctxt = htmlCreateMemoryParserCtxt(text, (int)len)) == NULL)
		return (false);
	if ((h = xmlFindCharEncodingHandler(enc)) == NULL ||
	    xmlSwitchToEncoding(ctxt, h) < 0) {
		htmlFreeParserCtxt(ctxt);
		return (false);
	}
	memset(&x, 0, sizeof(x));
	x.f = f;
	memset(ctxt->sax, 0, sizeof(*ctxt->sax));
	ctxt->sax->startElement = sax_start;
	ctxt->sax->endElement = sax_end;
	ctxt->sax->characters = sax_characters;
	ctxt->sax->cdataBlock = sax_cdata;
	ctxt->sax->comment = sax_comment;
	ctxt->sax->processingInstruction = sax_pi;
	ctxt->_private = &x;
	(void)htmlCtxtUseOptions(ctxt, HTML_OPTS | HTML_PARSE_IGNORE_ENC);
	(void)htmlParseDocument(ctxt);
	/* links left open at the end (not reached: the parser closes all) */
	for (i = x.nopen; i > 0; i--)
		examine_link(f, x.open[i - 1].seq, x.open[i - 1].host,
		    x.open[i - 1].text);
	free(x.open);
	free(x.live);
	if (ctxt->myDoc != NULL)
		xmlFreeDoc(ctxt->myDoc);
	ctxt->myDoc = NULL;
	htmlFreeParserCtxt(ctxt);
	return (!x.oom);
}

/*
 * The encoding the detector parses a part in. Not the one it declares
 * (<meta charset>; the host does not pass Content-Type's): libxml2 stops
 * at the first byte that breaks the declared charset, so a few bad bytes
 * before a link would hide it. ISO-8859-1 maps every byte, and the tags,
 * attribute names and host names the detector reads are ASCII, so that
 * ASCII-compatible charsets read the same. Text with many NULs at odd
 * (even) offsets is taken for UTF-16LE (BE), which ASCII is not.
 */
static const char *
guess_encoding(const unsigned char *d, size_t len)
{
	size_t	 i, n = len < 4096 ? len : 4096, even = 0, odd = 0;

	for (i = 0; i < n; i++)
		if (d[i] == 0) {
			if (i & 1)
				odd++;
			else
				even++;
		}
	if (n >= 8 && odd >= n / 8 && odd > even * 4)
		return ("UTF-16LE");
	if (n >= 8 && even >= n / 8 && even > odd * 4)
		return ("UTF-16BE");
	return ("ISO-8859-1");
}

/*
 * A copy of d[len] for libxml2, with controls = true its control bytes
 * but tab, line feed and carriage return made spaces, or NULL (out of
 * memory). libxml2 drops such bytes where a browser keeps them: it reads
 * "<style>..<\a/style><a href=..>" as style text to the end, where a
 * browser shows the link (and html_disarm_hl() would write "</style>" out
 * of it, ending the style early for a browser). A space is what both
 * read alike.
 */
static char *
parse_copy(const unsigned char *d, size_t len, bool controls)
{
	char	*t;
	size_t	 i;

	if ((t = malloc(len + 1)) == NULL)
		return (NULL);
	memcpy(t, d, len);
	t[len] = '\0';
	for (i = 0; controls && i < len; i++)
		if ((unsigned char)t[i] < 32 && t[i] != '\t' && t[i] != '\n' &&
		    t[i] != '\r')
			t[i] = ' ';
	return (t);
}

/*
 * Has d[len] a byte parse_copy() would make a space (*controls), or one
 * beyond ASCII (*high)?
 */
static void
scan_bytes(const unsigned char *d, size_t len, bool *controls, bool *high)
{
	size_t	 i;

	*controls = *high = false;
	for (i = 0; i < len; i++) {
		if (d[i] < 32 && d[i] != '\t' && d[i] != '\n' && d[i] != '\r')
			*controls = true;
		else if (d[i] >= 0x80)
			*high = true;
	}
}

/* Parse and examine one HTML part, within what is left of the budget. */
static void
examine_html(struct findings *f, const unsigned char *data, size_t len)
{
	const char	*enc;
	char		*text;
	bool		 controls, high;

	if (len > f->budget) {
		len = f->budget;
		f->size_cut = true;
	}
	if (len == 0)
		return;
	f->budget -= len;
	enc = guess_encoding(data, len);
	/*
	 * A copy only when there are control bytes to make spaces; ASCII
	 * read as UTF-8 is the same text, without libxml2's conversion.
	 */
	controls = high = false;
	if (strcmp(enc, "ISO-8859-1") == 0) {
		scan_bytes(data, len, &controls, &high);
		if (!high)
			enc = "UTF-8";
	}
	if (!controls)
		text = NULL;
	else if ((text = parse_copy(data, len, true)) == NULL) {
		f->parse_failed = true;
		return;
	}
	if (!examine_parse(f, text != NULL ? text : (const char *)data, len,
	    enc))
		f->parse_failed = true;
	free(text);
}

static void
findings_init(struct findings *f, const struct cfg *c)
{
	memset(f, 0, sizeof(*f));
	f->cfg = c;
	f->budget = c->max_html;
}

/* dst = head then tail, head cut short with "..." so that tail fits. */
static void
fit(char *dst, size_t size, const char *head, const char *tail)
{
	size_t	 hl = strlen(head), tl = strlen(tail);

	if (tl + 4 > size)
		tl = 0;		/* not with this file's tails */
	if (hl + tl >= size) {
		hl = size - 1 - tl - 3;
		memcpy(dst, head, hl);
		memcpy(dst + hl, "...", 3);
		hl += 3;
	} else
		memcpy(dst, head, hl);
	memcpy(dst + hl, tail, tl);
	dst[hl + tl] = '\0';
}

/* The verdict, the reason and the header line for what f found. */
static void
report(const struct findings *f, struct hs_result *res)
{
	char	 act[120] = "", more[40] = "", cut[120] = "";
	char	 hdr[SIGNS_SHOWN * SIGN_MAX + 300], rsn[SIGN_MAX + 300];
	size_t	 i, len;

	for (i = 0; i < NACTIVE; i++)
		if (f->active & (1u << i)) {
			len = strlen(act);
			(void)snprintf(act + len, sizeof(act) - len, "%s%s",
			    len ? ", " : "", active_names[i]);
		}
	if (f->nsigns > SIGNS_SHOWN)
		(void)snprintf(more, sizeof(more), "; %zu more",
		    f->nsigns - SIGNS_SHOWN);
	if (f->size_cut)
		(void)snprintf(cut, sizeof(cut), "; HTML beyond %zu bytes not "
		    "examined", f->cfg->max_html);
	if (f->links_cut) {
		len = strlen(cut);
		(void)snprintf(cut + len, sizeof(cut) - len, "; links beyond "
		    "%zu not examined", f->cfg->max_links);
	}
	res->verdict = HS_CLEAN;
	hdr[0] = rsn[0] = '\0';
	if (f->nsigns > 0) {
		(void)snprintf(hdr, sizeof(hdr),
		    "X-Holdscan-Phishing: suspected (%s%s%s%s%s%s%s%s",
		    f->sign[0], f->nsigns > 1 ? "; " : "",
		    f->nsigns > 1 ? f->sign[1] : "", f->nsigns > 2 ? "; " : "",
		    f->nsigns > 2 ? f->sign[2] : "", more, act[0] ? "; " : "",
		    act);
		(void)snprintf(rsn, sizeof(rsn), "phishing suspected: %s%s%s%s",
		    f->sign[0], f->nsigns > 1 ? " (and more)" : "",
		    act[0] ? "; " : "", act);
		if (f->cfg->block)
			res->verdict = HS_BLOCKED;
	} else if (act[0] != '\0') {
		(void)snprintf(hdr, sizeof(hdr),
		    "X-Holdscan-Phishing: active content (%s", act);
		(void)snprintf(rsn, sizeof(rsn), "active content: %s", act);
	}
	if (f->parse_failed && res->verdict == HS_CLEAN) {
		res->verdict = HS_FAILED;
		(void)snprintf(rsn, sizeof(rsn), "libxml2 could not parse an HTML "
		    "part");
	}
	if (hdr[0] != '\0')
		fit(res->headers, sizeof(res->headers), hdr, ")");
	else
		res->headers[0] = '\0';
	/* what was not examined is always said: cut starts with "; " */
	fit(res->reason, sizeof(res->reason), rsn, rsn[0] || !cut[0] ? cut :
	    cut + 2);
}

/* --- disarming ----------------------------------------------------------------- */

/* Removed with what they hold (browsers do not show it as text). */
static const char *const disarm_elements[] = {
	"script", "iframe", "frame", "frameset", "applet", "noscript", "param",
};

/*
 * Removed, what they hold kept: libxml2 does not know <embed> as empty
 * and puts what follows inside it, and an object's or a form's content
 * is what a reader sees.
 */
static const char *const unwrap_elements[] = {
	"object", "embed", "form",
};

static const char *const url_attrs[] = {
	"href", "src", "action", "formaction", "background", "lowsrc",
	"dynsrc", "data", "codebase", "poster", "xlink:href",
};

/* Does the URL v run code or carry its own content (javascript:, ...)? */
static bool
url_dangerous(const char *v)
{
	char	 s[16];
	size_t	 o = 0;

	for (; *v != '\0' && o + 1 < sizeof(s); v++)
		if ((unsigned char)*v > 32)	/* "java\tscript:" counts */
			s[o++] = (char)tolower((unsigned char)*v);
	s[o] = '\0';
	return (strncmp(s, "javascript:", 11) == 0 ||
	    strncmp(s, "vbscript:", 9) == 0 || strncmp(s, "data:", 5) == 0 ||
	    strncmp(s, "livescript:", 11) == 0);
}

static bool
attr_dangerous(xmlAttrPtr a)
{
	const char	*name = (const char *)a->name;
	xmlChar		*v;
	size_t		 i;
	bool		 bad = false;

	if (name == NULL)
		return (false);
	if (strncasecmp(name, "on", 2) == 0)
		return (true);
	for (i = 0; i < sizeof(url_attrs) / sizeof(url_attrs[0]); i++)
		if (strcasecmp(name, url_attrs[i]) == 0)
			break;
	if (i == sizeof(url_attrs) / sizeof(url_attrs[0]))
		return (false);
	if ((v = xmlNodeListGetString(a->doc, a->children, 1)) != NULL) {
		bad = url_dangerous((const char *)v);
		xmlFree(v);
	}
	return (bad);
}

/*
 * Parse in[len] for disarming or text: in charset when libxml2 knows it
 * (the part's Content-Type says it, and it wins over a <meta>), else as
 * libxml2 guesses (a <meta>, else UTF-8, else ISO-8859-1); control bytes
 * as parse_copy() makes them. NULL with *error_r set when it cannot.
 */
static xmlDocPtr
parse_for_rewrite(const char *in, size_t len, const char *charset,
    const char **error_r)
{
	xmlCharEncodingHandlerPtr h = NULL;
	xmlDocPtr	 doc;
	const char	*enc = NULL, *guess;
	char		*text;
	int		 opts = HTML_OPTS;

	if (len > INT_MAX) {
		*error_r = "HTML too large";
		return (NULL);
	}
	guess = guess_encoding((const unsigned char *)in, len);
	if (strcmp(guess, "ISO-8859-1") != 0)
		enc = guess;		/* UTF-16 by its NULs */
	else if (charset != NULL && charset[0] != '\0' &&
	    (h = xmlFindCharEncodingHandler(charset)) != NULL)
		enc = charset;
	if (h != NULL)
		(void)xmlCharEncCloseFunc(h);
	if (enc != NULL)
		opts |= HTML_PARSE_IGNORE_ENC;
	if ((text = parse_copy((const unsigned char *)in, len,
	    strcmp(guess, "ISO-8859-1") == 0)) == NULL) {
		*error_r = "out of memory";
		return (NULL);
	}
	doc = htmlReadMemory(len ? text : " ", len ? (int)len : 1, NULL, enc,
	    opts);
	free(text);
	if (doc == NULL)
		*error_r = "libxml2 cannot parse the HTML";
	return (doc);
}

/* Does the meta element n declare a charset (the output has its own)? */
static bool
meta_charset(xmlNodePtr n)
{
	xmlChar	*v;
	bool	 yes;

	if (!named(n, "meta"))
		return (false);
	if (xmlHasProp(n, (const xmlChar *)"charset") != NULL)
		return (true);
	if ((v = xmlGetProp(n, (const xmlChar *)"http-equiv")) == NULL)
		return (false);
	yes = strcasecmp((const char *)v, "content-type") == 0;
	xmlFree(v);
	return (yes);
}

/* Copy libxml2's mem[size] into a malloc(3)ed string for the host. */
static int
take_output(xmlChar *mem, int size, char **out_r, size_t *outlen_r,
    const char **error_r)
{
	if (mem == NULL || size < 0) {
		xmlFree(mem);
		*error_r = "libxml2 cannot serialise the HTML";
		return (-1);
	}
	if ((*out_r = malloc((size_t)size + 1)) == NULL) {
		xmlFree(mem);
		*error_r = "out of memory";
		return (-1);
	}
	memcpy(*out_r, mem, (size_t)size);
	(*out_r)[size] = '\0';
	*outlen_r = (size_t)size;
	xmlFree(mem);
	return (0);
}

/* --- highlighting ------------------------------------------------------------ */

/*
 * highlight_doc() puts a warning after each link (<a href>, <area href>)
 * of doc that link_judge() finds suspicious, at most c->max_links links
 * looked at: a <span> whose one text node says what the link shows and
 * where it goes ("[holdscan: this link may be fraud: shows
 * www.bank.example, goes to evil.example]"). The host names are shown()
 * (printable ASCII, bounded) and the text is a text node, which libxml2
 * escapes when it writes the document (&, <, >): nothing in the message
 * can make it markup. *count_r counts the warnings.
 */
static void
highlight_doc(const struct cfg *c, xmlDocPtr doc, size_t *count_r)
{
	xmlNodePtr	 root = (xmlNodePtr)doc, n, span, t;
	xmlChar		*href;
	char		 hh[HOST_MAX], th[HOST_MAX], s1[HOST_SHOWN + 8],
			 s2[HOST_SHOWN + 8], warn[2 * HOST_SHOWN + 120];
	enum link_sign	 sign;
	size_t		 links = 0;

	*count_r = 0;
	for (n = root->children; n != NULL; n = next_node(n, root, true)) {
		if (!named(n, "a") && !named(n, "area"))
			continue;
		if (links++ >= c->max_links)
			break;
		if ((href = xmlGetProp(n, (const xmlChar *)"href")) == NULL)
			continue;
		sign = link_judge(c, n, (const char *)href, hh, th);
		xmlFree(href);
		if (sign == LINK_FINE)
			continue;
		shown(s1, sizeof(s1), hh);
		shown(s2, sizeof(s2), th);
		if (sign == LINK_MISMATCH)
			(void)snprintf(warn, sizeof(warn), " [holdscan: this "
			    "link may be fraud: shows %s, goes to %s]", s2, s1);
		else
			(void)snprintf(warn, sizeof(warn), " [holdscan: this "
			    "link may be fraud: goes to %s host %s]",
			    sign == LINK_NUMERIC ? "numeric" : "punycode", s1);
		if ((span = xmlNewDocNode(doc, NULL, (const xmlChar *)"span",
		    NULL)) == NULL)
			continue;
		(void)xmlSetProp(span, (const xmlChar *)"class",
		    (const xmlChar *)"holdscan-phishing");
		(void)xmlSetProp(span, (const xmlChar *)"style",
		    (const xmlChar *)"color:#b00000;font-weight:bold");
		/* a text node: written escaped, never read as markup */
		if ((t = xmlNewDocText(doc, (const xmlChar *)warn)) == NULL ||
		    xmlAddChild(span, t) == NULL) {
			xmlFreeNode(t);
			xmlFreeNode(span);
			continue;
		}
		if (xmlAddNextSibling(n, span) == NULL) {
			xmlFreeNode(span);
			continue;
		}
		(*count_r)++;
	}
}

/*
 * html_disarm_hl() parses in[len] (in charset, or NULL: see
 * parse_for_rewrite()) and gives in *out_r (owned by the caller,
 * NUL-terminated, *outlen_r bytes) the document serialised again without
 * the elements of disarm_elements (with their content) and of
 * unwrap_elements (their content kept), on* attributes and URL
 * attributes that run code or carry data; *removed_r counts what went.
 * The output is ASCII whatever the input's charset: other characters
 * are written as character references, and a <meta> that declares a
 * charset is left out (not counted), so that the part is us-ascii and
 * nothing in it says otherwise. With hl, first highlight_doc() with hl's
 * options (*highlighted_r counts the warnings); without disarm, nothing
 * is removed (the policy's highlight_phishing alone). 0, or -1 with a
 * sentence in *error_r.
 */
static int
html_disarm_hl(const char *in, size_t len, const char *charset,
    const struct cfg *hl, bool disarm, char **out_r, size_t *outlen_r,
    size_t *removed_r, size_t *highlighted_r, const char **error_r)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n, nx, parent, prev, c;
	xmlAttrPtr	 a, an;
	xmlChar		*mem = NULL, *css;
	int		 size = 0;
	size_t		 i;
	bool		 drop, unwrap, meta;

	*out_r = NULL;
	*outlen_r = *removed_r = *highlighted_r = 0;
	if ((doc = parse_for_rewrite(in, len, charset, error_r)) == NULL)
		return (-1);
	root = (xmlNodePtr)doc;
	if (hl != NULL)
		highlight_doc(hl, doc, highlighted_r);
	for (n = disarm ? root->children : NULL; n != NULL; n = nx) {
		nx = next_node(n, root, true);
		if (n->type != XML_ELEMENT_NODE || n->name == NULL)
			continue;
		for (a = n->properties; a != NULL; a = an) {
			an = a->next;
			if (attr_dangerous(a)) {
				(void)xmlRemoveProp(a);
				(*removed_r)++;
			}
		}
		drop = unwrap = false;
		for (i = 0; i < sizeof(disarm_elements) /
		    sizeof(disarm_elements[0]); i++)
			drop |= named(n, disarm_elements[i]);
		for (i = 0; i < sizeof(unwrap_elements) /
		    sizeof(unwrap_elements[0]); i++)
			unwrap |= named(n, unwrap_elements[i]);
		/*
		 * libxml2 writes a style's text as it is: text that holds
		 * "</" could end it early for a browser. CSS has no use for it.
		 */
		if (named(n, "style") && (css = xmlNodeGetContent(n)) != NULL) {
			drop |= strstr((const char *)css, "</") != NULL;
			xmlFree(css);
		}
		meta = !drop && !unwrap && meta_charset(n);
		if (!drop && !unwrap && !meta)
			continue;
		parent = n->parent;
		prev = n->prev;
		/* the children go before n (text may merge with prev) */
		while (unwrap && (c = n->children) != NULL) {
			xmlUnlinkNode(c);
			if (xmlAddPrevSibling(n, c) == NULL)
				xmlFreeNode(c);
		}
		xmlUnlinkNode(n);
		xmlFreeNode(n);
		if (!meta)
			(*removed_r)++;
		/* go on with what came in n's place, or after it */
		if (prev != NULL)
			nx = prev->next != NULL ? prev->next :
			    next_node(prev, root, false);
		else
			nx = parent->children != NULL ? parent->children :
			    next_node(parent, root, false);
	}
	/* no charset declared: libxml2 writes ASCII and references */
	htmlDocDumpMemoryFormat(doc, &mem, &size, 0);
	xmlFreeDoc(doc);
	return (take_output(mem, size, out_r, outlen_r, error_r));
}

/* --- text ------------------------------------------------------------------------- */

/* Elements whose text a reader never sees. */
static const char *const hidden_elements[] = {
	"script", "style", "head", "title", "noscript", "template",
	"iframe", "frame", "frameset", "applet", "object", "param",
};

/* Elements that start a new line. */
static const char *const block_elements[] = {
	"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
	"table", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "hr",
	"section", "article", "header", "footer", "address", "form",
};

static bool
in_list(xmlNodePtr n, const char *const *list, size_t nlist)
{
	size_t	 i;

	for (i = 0; i < nlist; i++)
		if (named(n, list[i]))
			return (true);
	return (false);
}

/* Append a newline unless out is empty or already ends with two. */
static void
text_newline(xmlBufferPtr out, bool blank_line)
{
	const xmlChar	*c = xmlBufferContent(out);
	int		 len = xmlBufferLength(out);

	if (len == 0 || (len >= 2 && c[len - 1] == '\n' && c[len - 2] == '\n'))
		return;
	if (blank_line && c[len - 1] == '\n')
		xmlBufferCCat(out, "\n");
	else if (c[len - 1] != '\n')
		xmlBufferCCat(out, blank_line ? "\n\n" : "\n");
}

/* Append the text t with runs of white space made one space. */
static void
text_append(xmlBufferPtr out, const xmlChar *t)
{
	const xmlChar	*c;
	int		 len;
	bool		 space;

	for (; *t != '\0'; t++) {
		space = *t == ' ' || *t == '\t' || *t == '\n' || *t == '\r' ||
		    *t == '\f';
		if (!space) {
			xmlBufferAdd(out, t, 1);
			continue;
		}
		c = xmlBufferContent(out);
		len = xmlBufferLength(out);
		if (len > 0 && c[len - 1] != ' ' && c[len - 1] != '\n')
			xmlBufferCCat(out, " ");
	}
}

/*
 * html_text_hl() parses in[len] as html_disarm_hl() does and gives in *out_r
 * (owned by the caller, NUL-terminated, *outlen_r bytes) its visible
 * text in UTF-8: what scripts, styles, the head and embedded frames
 * hold is left out, block elements start a line, white space is folded,
 * and a link whose href is a web or mail address different from its
 * text is followed by that address in angle brackets; with hl, the
 * warnings of highlight_doc() are part of the text. 0, or -1 with a
 * sentence in *error_r.
 */
static int
html_text_hl(const char *in, size_t len, const char *charset,
    const struct cfg *hl, char **out_r, size_t *outlen_r,
    size_t *highlighted_r, const char **error_r)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n, nx;
	xmlBufferPtr	 out;
	xmlChar		*href;
	char		 text[LINK_TEXT_MAX];
	int		 size;

	*out_r = NULL;
	*outlen_r = *highlighted_r = 0;
	if ((doc = parse_for_rewrite(in, len, charset, error_r)) == NULL)
		return (-1);
	if (hl != NULL)
		highlight_doc(hl, doc, highlighted_r);
	if ((out = xmlBufferCreate()) == NULL) {
		xmlFreeDoc(doc);
		*error_r = "out of memory";
		return (-1);
	}
	root = (xmlNodePtr)doc;
	for (n = root->children; n != NULL; n = nx) {
		if (n->type == XML_ELEMENT_NODE && in_list(n, hidden_elements,
		    sizeof(hidden_elements) / sizeof(hidden_elements[0]))) {
			nx = next_node(n, root, false);
			continue;
		}
		nx = next_node(n, root, true);
		if ((n->type == XML_TEXT_NODE || n->type ==
		    XML_CDATA_SECTION_NODE) && n->content != NULL) {
			text_append(out, n->content);
			/* after a link's last text node: its address */
			if (n->next == NULL && n->parent != NULL &&
			    named(n->parent, "a") && (href = xmlGetProp(
			    n->parent, (const xmlChar *)"href")) != NULL) {
				link_text(n->parent, text, sizeof(text));
				if ((strncasecmp((char *)href, "http", 4) == 0 ||
				    strncasecmp((char *)href, "mailto:", 7) ==
				    0) && strstr(text, (char *)href) == NULL) {
					xmlBufferCCat(out, " <");
					text_append(out, href);
					xmlBufferCCat(out, ">");
				}
				xmlFree(href);
			}
		} else if (n->type == XML_ELEMENT_NODE && in_list(n,
		    block_elements, sizeof(block_elements) /
		    sizeof(block_elements[0]))) {
			text_newline(out, named(n, "p") || named(n, "table") ||
			    n->name[0] == 'h');
			if (named(n, "li"))
				xmlBufferCCat(out, "* ");
		}
	}
	xmlFreeDoc(doc);
	text_newline(out, false);
	if (xmlBufferLength(out) == 0)
		xmlBufferCCat(out, "\n");
	size = xmlBufferLength(out);
	if ((*out_r = malloc((size_t)size + 1)) == NULL) {
		xmlBufferFree(out);
		*error_r = "out of memory";
		return (-1);
	}
	memcpy(*out_r, xmlBufferContent(out), (size_t)size);
	(*out_r)[size] = '\0';
	*outlen_r = (size_t)size;
	xmlBufferFree(out);
	return (0);
}


/* --- the plugin ------------------------------------------------------------------ */

static bool
is_html(const char *ctype)
{
	return (ctype != NULL && strcasecmp(ctype, "text/html") == 0);
}

static int
walk_part(void *arg, const struct hs_mime_part *p)
{
	struct findings	*f = arg;

	if (is_html(p->content_type))
		examine_html(f, p->data, p->len);
	return (0);
}

static int
html_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct html	*h = ctx;
	struct findings	 f;
	char		 why[200];

	findings_init(&f, h->cfg);
	if (h->host->mime_walk(h->host->host_ctx, msg->data, msg->len,
	    &h->cfg->lim, walk_part, &f, why, sizeof(why)) < 0) {
		res->verdict = HS_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", why);
		return (0);
	}
	report(&f, res);
	if (f.size_cut || f.links_cut)
		h->host->log(h->host->host_ctx, 0, "%s: %s", msg->queue_id,
		    res->reason);
	return (0);
}

static int
html_scan_part(void *ctx, const struct hs_msg *msg, const struct hs_part *part,
    struct hs_result *res)
{
	struct html	*h = ctx;
	struct findings	 f;

	(void)msg;
	findings_init(&f, h->cfg);
	if (is_html(part->content_type))
		examine_html(&f, part->data, part->len);
	report(&f, res);
	return (0);
}

/*
 * libxml2's messages without a parser context (encoding errors: "input
 * conversion failed", with the bytes) ignore HTML_PARSE_NOERROR and go
 * to its generic handler, stderr: a message could fill the log with
 * them. They say nothing the verdict needs.
 */
/*
 * rewrite_part: a text/html part disarmed (only when something went),
 * or made text; with HS_REWRITE_HIGHLIGHT_PHISHING (a host that has
 * flags), its suspicious links highlighted first, and HS_REWRITE_KEEP
 * does that alone. A part larger than max_html_size is not parsed: -1.
 */
static int
html_rewrite_part(void *ctx, const struct hs_msg *msg,
    const struct hs_rewrite_in *in, struct hs_rewrite_out *out)
{
	struct html	*h = ctx;
	const struct cfg *hl = NULL;
	const char	*why = NULL;
	size_t		 removed = 0, highlighted = 0;
	bool		 flags = HS_HOST_HAS(h->host, rewrite_flags);
	int		 rc;

	(void)msg;
	if (flags && (in->flags & HS_REWRITE_HIGHLIGHT_PHISHING) != 0)
		hl = h->cfg;
	if (!is_html(in->content_type) || (in->how != HS_REWRITE_DISARM &&
	    in->how != HS_REWRITE_TEXT && in->how != HS_REWRITE_KEEP))
		return (0);
	if (in->how == HS_REWRITE_KEEP && hl == NULL)
		return (0);
	if (in->len > h->cfg->max_html) {
		(void)snprintf(out->reason, sizeof(out->reason), "HTML part of "
		    "%zu bytes is larger than max_html_size (%zu)", in->len,
		    h->cfg->max_html);
		return (-1);
	}
	if (in->how == HS_REWRITE_TEXT) {
		rc = html_text_hl((const char *)in->data, in->len, in->charset,
		    hl, &out->data, &out->len, &highlighted, &why);
		(void)snprintf(out->content_type, sizeof(out->content_type),
		    "text/plain");
		(void)snprintf(out->charset, sizeof(out->charset), "utf-8");
	} else {
		rc = html_disarm_hl((const char *)in->data, in->len,
		    in->charset, hl, in->how == HS_REWRITE_DISARM, &out->data,
		    &out->len, &removed, &highlighted, &why);
		(void)snprintf(out->content_type, sizeof(out->content_type),
		    "text/html");
		(void)snprintf(out->charset, sizeof(out->charset), "us-ascii");
	}
	if (rc < 0) {
		(void)snprintf(out->reason, sizeof(out->reason), "%s", why);
		return (-1);
	}
	out->removed = removed;
	if (flags)
		out->highlighted = highlighted;
	if (in->how != HS_REWRITE_TEXT && removed == 0 && highlighted == 0) {
		free(out->data);
		out->data = NULL;
		out->len = 0;
		return (0);
	}
	return (1);
}

static void
html_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static int
html_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct html	*h = calloc(1, sizeof(*h));

	if (h == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	xmlInitParser();	/* before the workers are forked */
	xmlSetGenericErrorFunc(NULL, html_quiet);	/* the process's, inherited */
	h->host = host;
	if ((h->cfg = cfg_new(host, error_r)) == NULL) {
		free(h);
		return (-1);
	}
	*ctx_r = h;
	return (0);
}

static int
html_reload(void *ctx, const char **error_r)
{
	struct html	*h = ctx;
	struct cfg	*c;

	if ((c = cfg_new(h->host, error_r)) == NULL)
		return (-1);
	cfg_free(h->cfg);
	h->cfg = c;
	return (0);
}

static void
html_info(void *ctx, char *buf, size_t size)
{
	struct html	*h = ctx;

	(void)snprintf(buf, size, "libxml2 %s, phishing %s, %zu safe sites",
	    xmlParserVersion, h->cfg->block ? "block" : "tag", h->cfg->nsafe);
}

static void
html_fini(void *ctx)
{
	struct html	*h = ctx;

	cfg_free(h->cfg);
	free(h);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "html",
	.version = "1",
	.options = html_options,
	.init = html_init,
	.reload = html_reload,
	.scan = html_scan,
	.scan_part = html_scan_part,
	.info = html_info,
	.fini = html_fini,
	.kind = HS_KIND_HTML,
	.rewrite_part = html_rewrite_part,
};
