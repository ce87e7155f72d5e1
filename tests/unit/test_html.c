/*
 * NAME
 *	test_html - unit tests for the html plugin (phishing net, disarming)
 * DESCRIPTION
 *	The plugin's source is included, so that its hosts, its bounded
 *	walk and html_disarm() can be called directly; the hooks are called
 *	through its descriptor with fakehost.h's host, whose mime_walk is
 *	holdscan's own (scanner/mime.c), as the scanner program gives it.
 *
 *	The tests must never depend on each other or on the order they run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "../../plugins/html.c"
#include "fakehost.h"
#include "common/buf.h"
#include "scanner/mime.h"

/* html_disarm_hl() disarming alone, as html_disarm = clean asks. */
static int
html_disarm(const char *in, size_t len, const char *charset, char **out_r,
    size_t *outlen_r, size_t *removed_r, const char **error_r)
{
	size_t	 hl;

	return (html_disarm_hl(in, len, charset, NULL, true, out_r, outlen_r,
	    removed_r, &hl, error_r));
}

/* hs_host.mime_walk over scanner/mime.c, as pluginload.c does it. */
struct tw {
	hs_mime_part_fn	 fn;
	void		*arg;
};

static int
tw_part(void *arg, const struct mime_part *mp)
{
	struct tw	*tw = arg;
	struct hs_mime_part p;

	memset(&p, 0, sizeof(p));
	p.index = mp->index;
	p.depth = mp->depth;
	p.content_type = mp->content_type;
	p.filename = mp->filename;
	p.name = mp->name;
	p.attachment = mp->attachment;
	p.data = mp->data;
	p.len = mp->len;
	return (tw->fn(tw->arg, &p));
}

static int
test_mime_walk(void *hc, const char *text, size_t len,
    const struct hs_mime_limits *lim, hs_mime_part_fn fn, void *arg,
    char *why, size_t whysize)
{
	struct mime_limits ml;
	struct tw	 tw = { fn, arg };

	(void)hc;
	memset(&ml, 0, sizeof(ml));
	ml.max_depth = lim->max_depth;
	ml.max_parts = lim->max_parts;
	return (mime_walk(text, len, &ml, tw_part, &tw, why, whysize));
}

/* The plugin with options "name=value" ..., NULL-terminated. */
static void *
start(struct fake_host *fh, const char *opt, ...)
{
	const char	*why = NULL;
	char		 name[64];
	void		*ctx = NULL;
	va_list		 ap;
	size_t		 n;

	fake_host_init(fh, &hs_plugin);
	fh->host.mime_walk = test_mime_walk;
	va_start(ap, opt);
	for (; opt != NULL; opt = va_arg(ap, const char *)) {
		n = strcspn(opt, "=");
		(void)snprintf(name, sizeof(name), "%.*s", (int)n, opt);
		assert_int_equal(fake_set(fh, name, opt + n + 1), 0);
	}
	va_end(ap);
	if (hs_plugin.init(&fh->host, &ctx, &why) < 0)
		fail_msg("init: %s", why);
	return (ctx);
}

/* scan_part on one HTML text. */
static enum hs_verdict
part(void *ctx, const char *html, struct hs_result *res)
{
	struct hs_msg	 m;
	struct hs_part	 p = { NULL, "text/html", (const unsigned char *)html,
	    strlen(html) };

	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	memset(res, 0, sizeof(*res));
	assert_int_equal(hs_plugin.scan_part(ctx, &m, &p, res), 0);
	return (res->verdict);
}

#define assert_contains(hay, needle) do {				\
	if (strstr((hay), (needle)) == NULL)				\
		fail_msg("\"%s\" not in \"%s\"", (needle), (hay));	\
} while (0)

static void
test_link_text_host_differs_from_href(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, NULL);

	(void)state;
	assert_int_equal(part(ctx, "<p>Log in at <a href=\"http://evil.example/"
	    "login\">https://www.bank.example/login</a></p>", &res), HS_CLEAN);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "text shows www.bank.example, goes to evil.example)");
	assert_string_equal(res.reason, "phishing suspected: link text shows "
	    "www.bank.example, goes to evil.example");
	/* a bare domain as text; user@host in the href; upper case */
	assert_int_equal(part(ctx, "<a href='HTTPS://bank.example@Evil.Example:8"
	    "443/x'> Bank.Example </a>", &res), HS_CLEAN);
	assert_contains(res.headers, "link text shows bank.example, goes to "
	    "evil.example)");
	/* the text spread over several nodes */
	assert_int_equal(part(ctx, "<a href=http://evil.example><b>www.</b>"
	    "<i>bank</i>.example</a>", &res), HS_CLEAN);
	assert_contains(res.headers, "shows www.bank.example, goes to evil");
	/* browsers read http:\\ as http:// */
	assert_int_equal(part(ctx, "<a href='http:\\\\evil.example\\x'>"
	    "bank.example</a>", &res), HS_CLEAN);
	assert_contains(res.headers, "goes to evil.example");
	hs_plugin.fini(ctx);
}

static void
test_same_site_and_subdomains_are_fine(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, NULL);
	const char	*ok[] = {
		"<a href='https://shop.example/a'>https://shop.example/b</a>",
		"<a href='https://www.shop.example/'>shop.example</a>",
		"<a href='https://shop.example/'>www.shop.example</a>",
		"<a href='https://click.mail.shop.example/t?u=1'>www.shop.example"
		    "</a>",
		"<a href='https://news.bbc.co.uk/'>www.bbc.co.uk</a>",
		"<a href='https://evil.example/'>Read more</a>",
		"<a href='https://evil.example/'>click here: bank.example</a>",
		"<a href='mailto:a@bank.example'>a@bank.example</a>",
		"<a href='/relative/path'>bank.example</a>",
		"<a href='https://files.example/r.pdf'>report.pdf</a>",
		"<a href='https://x.example/'>3.5</a>",
		"<a>bank.example</a>",
		"<p>bank.example and https://evil.example/ in the text</p>",
	};
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (part(ctx, ok[i], &res) != HS_CLEAN || res.headers[0] ||
		    res.reason[0])
			fail_msg("%s: %s / %s", ok[i], res.headers, res.reason);
	}
	/* a different site under the same country code is not the same */
	assert_int_equal(part(ctx, "<a href='https://evil.co.uk/'>www.bbc.co.uk"
	    "</a>", &res), HS_CLEAN);
	assert_contains(res.headers, "shows www.bbc.co.uk, goes to evil.co.uk");
	hs_plugin.fini(ctx);
}

static void
test_numeric_and_punycode_hosts(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, NULL);

	(void)state;
	part(ctx, "<a href='http://192.0.2.7/login'>Log in</a>", &res);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "to numeric address 192.0.2.7)");
	part(ctx, "<a href='http://3221226247/'>Log in</a>", &res);
	assert_contains(res.headers, "numeric address 3221226247");
	part(ctx, "<a href='http://0xc0.0x0.0x2.0x7/'>x</a>", &res);
	assert_contains(res.headers, "numeric address 0xc0.0x0.0x2.0x7");
	part(ctx, "<a href='https://[2001:db8::1]:8080/'>x</a>", &res);
	assert_contains(res.headers, "numeric address [2001:db8::1])");
	part(ctx, "<a href='https://www.xn--pypal-4ve.com/'>Pay now</a>", &res);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "to punycode host www.xn--pypal-4ve.com)");
	/* the text/href mismatch is named first */
	part(ctx, "<a href='http://192.0.2.7/'>www.bank.example</a>", &res);
	assert_contains(res.headers, "shows www.bank.example, goes to "
	    "192.0.2.7)");
	/* a version number is not an address */
	part(ctx, "<a href='https://example.com/1.2.3'>v1.2.3</a>", &res);
	assert_string_equal(res.headers, "");
	hs_plugin.fini(ctx);
}

static void
test_forms_and_active_content(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, NULL);

	(void)state;
	part(ctx, "<form action='https://evil.example/p' method=post><input "
	    "name=pw type=password></form>", &res);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (form "
	    "posting to evil.example)");
	part(ctx, "<form><input name=pw></form>", &res);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected "
	    "(form)");
	part(ctx, "<p>hi<iframe src=x></iframe><script>x()</script><object>"
	    "</object><embed src=y>", &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: active content "
	    "(iframe, object, embed, script)");
	assert_string_equal(res.reason, "active content: iframe, object, embed,"
	    " script");
	/* everything together, more than three signs */
	part(ctx, "<a href=http://a.example>b.example</a><a href=http://1.2.3.4>"
	    "x</a><a href=http://xn--a.example>y</a><form></form><iframe>",
	    &res);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "text shows b.example, goes to a.example; link to numeric address "
	    "1.2.3.4; link to punycode host xn--a.example; 1 more; iframe)");
	assert_string_equal(res.reason, "phishing suspected: link text shows "
	    "b.example, goes to a.example (and more); iframe");
	hs_plugin.fini(ctx);
}

static void
test_block_action_blocks_phishing_only(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, "phishing_action=block", NULL);

	(void)state;
	assert_int_equal(part(ctx, "<a href=http://evil.example>bank.example"
	    "</a>", &res), HS_BLOCKED);
	assert_contains(res.reason, "goes to evil.example");
	assert_int_equal(part(ctx, "<form action=/x></form>", &res), HS_BLOCKED);
	assert_int_equal(part(ctx, "<script>x</script>", &res), HS_CLEAN);
	assert_contains(res.headers, "active content (script)");
	assert_int_equal(part(ctx, "<a href=https://bank.example>bank.example"
	    "</a>", &res), HS_CLEAN);
	hs_plugin.fini(ctx);
}

static void
test_safe_sites_are_never_reported(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, "phishing_action=block",
	    "phishing_safe_sites=.Tracker.example, 192.0.2.9 xn--bcher-kva.example",
	    NULL);

	(void)state;
	assert_int_equal(ctx != NULL, 1);
	assert_int_equal(part(ctx, "<a href=https://click.tracker.example/r>"
	    "www.shop.example</a><a href=http://192.0.2.9/>x</a><a href="
	    "http://www.xn--bcher-kva.example/>y</a><form action="
	    "https://tracker.example/f></form>", &res), HS_CLEAN);
	assert_string_equal(res.headers, "");
	/* only the href's host counts: a safe site in the text is not */
	assert_int_equal(part(ctx, "<a href=https://evil.example/>"
	    "tracker.example</a>", &res), HS_BLOCKED);
	/* a name that merely ends like a safe site is not under it */
	assert_int_equal(part(ctx, "<a href=https://eviltracker.example/>"
	    "www.shop.example</a>", &res), HS_BLOCKED);
	hs_plugin.fini(ctx);
}

/* HTML that is broken or hostile: answers, no crash, no unbounded cost. */
static void
test_malformed_html(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, NULL);
	struct hs_msg	 m;
	struct hs_part	 p;
	unsigned char	 bin[4096];
	size_t		 i;
	const char	*bad[] = {
		"<a href='http://evil.example/>bank.example",
		"<a href=http://evil.example>bank.example<a href=x>",
		"<<<<a href=\"\"\"\"></a",
		"<html><body><table><tr><td><a href=http://evil.example>"
		    "bank.example",
		"<!-- <a href=http://evil.example>bank.example</a>",
		"<a href='\x01\x02javascript:x'>bank.example</a>",
		"<a href='http://'>bank.example</a><a href='http://@'>x</a>"
		    "<a href='http://:80'>y</a><a href='http://[::1'>z</a>",
		"",
	};

	(void)state;
	assert_int_equal(part(ctx, bad[0], &res), HS_CLEAN);
	assert_int_equal(part(ctx, bad[1], &res), HS_CLEAN);
	assert_contains(res.headers, "goes to evil.example");
	for (i = 2; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(part(ctx, bad[i], &res), HS_CLEAN);
	part(ctx, bad[3], &res);
	assert_contains(res.headers, "goes to evil.example");
	/* a control byte libxml2 would drop cannot end a style early */
	part(ctx, "<style>p{}<\a/style><a href=http://evil.example>"
	    "bank.example</a>", &res);
	assert_string_equal(res.headers, "");	/* style text for a browser too */
	part(ctx, "<style>p{}</\astyle><a href=http://evil.example>"
	    "bank.example</a>", &res);
	assert_string_equal(res.headers, "");	/* "</ style": no end tag */
	/* the comment hides it from a reader too */
	part(ctx, bad[4], &res);
	assert_string_equal(res.headers, "");
	/* bytes of every value, NULs included */
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i * 7 + (i >> 3));
	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	p.filename = NULL;
	p.content_type = "text/html";
	p.data = bin;
	p.len = sizeof(bin);
	memset(&res, 0, sizeof(res));
	assert_int_equal(hs_plugin.scan_part(ctx, &m, &p, &res), 0);
	assert_true(res.verdict == HS_CLEAN);
	/* not HTML: not looked at */
	p.content_type = "text/plain";
	p.data = (const unsigned char *)"<a href=http://evil.example>"
	    "bank.example</a>";
	p.len = strlen((const char *)p.data);
	assert_int_equal(hs_plugin.scan_part(ctx, &m, &p, &res), 0);
	assert_string_equal(res.headers, "");
	hs_plugin.fini(ctx);
}

/* libxml2's encoding errors do not reach stderr (the log). */
static void
test_encoding_errors_say_nothing(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	char		 path[] = "/tmp/test_html.XXXXXX";
	void		*ctx = start(&fh, NULL);
	int		 fd, saved;
	off_t		 size;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(unlink(path), 0);
	assert_true((saved = dup(2)) >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	part(ctx, "<html><head><meta charset=\"shift_jis\"></head><body>"
	    "\xff\xfe\x01\x02<a href=http://evil.example>bank.example</a>"
	    "</body></html>", &res);
	assert_int_equal(dup2(saved, 2), 2);
	assert_int_equal(close(saved), 0);
	size = lseek(fd, 0, SEEK_END);
	assert_int_equal(close(fd), 0);
	assert_int_equal(size, 0);
	/* and the bytes did not end the parse before the link */
	assert_contains(res.headers, "shows bank.example, goes to evil.example");
	hs_plugin.fini(ctx);
}

/* UTF-16 (no BOM, either order) is read as such, not as ASCII. */
static void
test_utf16_parts_are_read(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m;
	struct hs_part	 p;
	void		*ctx = start(&fh, NULL);
	const char	*html = "<p>Hello <a href=http://evil.example>"
	    "bank.example</a></p>";
	unsigned char	 buf[256];
	size_t		 i, n = strlen(html);
	int		 be;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	for (be = 0; be < 2; be++) {
		for (i = 0; i < n; i++) {
			buf[2 * i + be] = (unsigned char)html[i];
			buf[2 * i + !be] = 0;
		}
		p.filename = NULL;
		p.content_type = "text/html";
		p.data = buf;
		p.len = 2 * n;
		memset(&res, 0, sizeof(res));
		assert_int_equal(hs_plugin.scan_part(ctx, &m, &p, &res), 0);
		assert_contains(res.headers, "goes to evil.example");
	}
	hs_plugin.fini(ctx);
}

/* 10 MB of nested divs: 2 MiB parsed, the rest said, in bounded time. */
static void
test_ten_megabytes_of_nested_divs_are_bounded(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	struct timespec	 t0;
	void		*ctx = start(&fh, NULL);
	const char	*tail = "<a href=http://evil.example>bank.example</a>";
	size_t		 size = 10 * 1024 * 1024, i;
	char		*html = malloc(size + 64);

	(void)state;
	assert_non_null(html);
	for (i = 0; i + 5 <= size; i += 5)
		memcpy(html + i, "<div>", 5);
	strcpy(html + i, tail);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(part(ctx, html, &res), HS_CLEAN);
	assert_string_equal(res.headers, "");	/* the link is beyond 2 MiB */
	assert_string_equal(res.reason, "HTML beyond 2097152 bytes not "
	    "examined");
	assert_true(test_seconds_since(&t0) < 20.0);

	/* within the limit, the same link at the end is found */
	hs_plugin.fini(ctx);
	ctx = start(&fh, "max_html_size=20M", NULL);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(part(ctx, html, &res), HS_CLEAN);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "text shows bank.example, goes to evil.example)");
	assert_true(test_seconds_since(&t0) < 60.0);

	/* deeper than libxml2's own limit (256) is still looked at */
	strcpy(html + 5 * 300, tail);
	assert_int_equal(part(ctx, html, &res), HS_CLEAN);
	assert_contains(res.headers, "goes to evil.example");
	free(html);
	hs_plugin.fini(ctx);
}

static void
test_max_links_is_a_bound(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, "max_links=3", NULL);

	(void)state;
	part(ctx, "<a href=x>1</a><a href=x>2</a><a href=x>3</a>"
	    "<a href=http://evil.example>bank.example</a>", &res);
	assert_string_equal(res.headers, "");
	assert_string_equal(res.reason, "links beyond 3 not examined");
	part(ctx, "<a href=x>1</a><a href=http://evil.example>bank.example</a>"
	    "<a href=x>3</a><a href=x>4</a>", &res);
	assert_string_equal(res.reason, "phishing suspected: link text shows "
	    "bank.example, goes to evil.example; links beyond 3 not examined");
	hs_plugin.fini(ctx);
}

/* Long host names: the header and the reason are cut, never malformed. */
static void
test_long_reports_are_cut_to_fit(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	void		*ctx = start(&fh, "max_links=4", NULL);
	char		 html[4096], host[120];
	size_t		 i, len = 0;

	(void)state;
	memset(host, 'a', 100);
	memcpy(host + 100, ".example", 9);
	for (i = 0; i < 4; i++)
		len += (size_t)snprintf(html + len, sizeof(html) - len,
		    "<a href=http://%zu%s>www.%zu%s</a>", i, host, i + 5, host);
	(void)snprintf(html + len, sizeof(html) - len, "<a href=x>y</a>"
	    "<iframe></iframe>");
	part(ctx, html, &res);
	assert_true(strlen(res.headers) < sizeof(res.headers));
	assert_non_null(strstr(res.headers, "X-Holdscan-Phishing: suspected "
	    "(link text shows www.5aaaa"));
	assert_string_equal(res.headers + strlen(res.headers) - 4, "...)");
	assert_null(strchr(res.headers, '\n'));
	/* the host names are cut too: printable, with "..." */
	assert_non_null(strstr(res.headers, "aaa..., goes to 0aaa"));
	len = strlen(res.reason);
	assert_true(len < sizeof(res.reason));
	assert_string_equal(res.reason + len - 29, "; links beyond 4 not "
	    "examined");
	hs_plugin.fini(ctx);
}

/* scan(): every text/html part of the MIME tree, nothing else. */
static void
test_scan_walks_the_html_parts(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m;
	void		*ctx = start(&fh, NULL);
	const char	*text =
	    "From: a@bank.example\n"
	    "Subject: verify\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/alternative; boundary=\"b\"\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "<a href=http://other.example>plain.example</a>\n"
	    "--b\n"
	    "Content-Type: text/html; charset=utf-8\n"
	    "Content-Transfer-Encoding: quoted-printable\n"
	    "\n"
	    "<a href=3D\"http://evil.example/\">https://www.bank.exa=\n"
	    "mple/</a>\n"
	    "--b--\n";

	(void)state;
	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	m.data = text;
	m.len = strlen(text);
	memset(&res, 0, sizeof(res));
	mime_init();
	assert_int_equal(hs_plugin.scan(ctx, &m, &res), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.headers, "X-Holdscan-Phishing: suspected (link "
	    "text shows www.bank.example, goes to evil.example)");
	hs_plugin.fini(ctx);
}

static void
test_options_and_info(void **state)
{
	struct fake_host fh;
	const char	*why = NULL, *missing;
	void		*ctx = NULL;
	char		 info[200];

	(void)state;
	fake_host_init(&fh, &hs_plugin);
	assert_int_equal(fake_set(&fh, "phishing_action", "highlight"), 0);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), -1);
	assert_string_equal(why, "phishing_action: use tag or block");
	assert_int_equal(fake_set(&fh, "phishing_action", "block"), 0);
	assert_int_equal(fake_set(&fh, "max_html_size", "100"), 0);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), -1);
	assert_string_equal(why, "max_html_size: use at least 1K");
	assert_int_equal(fake_set(&fh, "max_html_size", "1M"), 0);
	assert_int_equal(fake_set(&fh, "phishing_safe_sites", "a.example b"),
	    0);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), 0);
	hs_plugin.info(ctx, info, sizeof(info));
	assert_contains(info, "phishing block, 2 safe sites");
	assert_int_equal(fake_set(&fh, "phishing_action", "x"), 0);
	assert_int_equal(hs_plugin.reload(ctx, &why), -1);
	assert_int_equal(fake_set(&fh, "phishing_action", "tag"), 0);
	assert_int_equal(hs_plugin.reload(ctx, &why), 0);
	hs_plugin.info(ctx, info, sizeof(info));
	assert_contains(info, "phishing tag");
	hs_plugin.fini(ctx);
	if ((missing = fake_undocumented(&hs_plugin)) != NULL)
		fail_msg("etc/holdscan.conf does not show %s", missing);
}

/* Disarming: what runs code goes, the rest stays. */
static void
test_disarm_removes_active_content(void **state)
{
	const char	*in =
	    "<html><body onload=\"steal()\"><p class=x onclick='x()'>Hello "
	    "<b>world</b></p><script>alert(1)</script>"
	    "<iframe src=http://evil.example></iframe>"
	    "<object data=x.swf><param name=a value=b>fallback</object>"
	    "<embed src=y>"
	    "<form action=http://evil.example><input name=pw></form>"
	    "<a href=' JaVa\tScript:alert(2)'>js</a>"
	    "<a href='https://ok.example/'>ok</a>"
	    "<img src='data:image/png;base64,AAAA' alt=pic>"
	    "<img src='https://ok.example/i.png'>"
	    "<div OnMouseOver=x>kept</div></body></html>";
	const char	*why = NULL;
	char		*out = NULL;
	size_t		 len = 0, removed = 0;

	(void)state;
	assert_int_equal(html_disarm(in, strlen(in), NULL, &out, &len, &removed,
	    &why), 0);
	assert_int_equal(strlen(out), len);
	assert_null(strcasestr(out, "script"));
	assert_null(strstr(out, "iframe"));
	assert_null(strstr(out, "object"));
	assert_null(strstr(out, "embed"));
	assert_null(strstr(out, "form"));
	assert_null(strstr(out, "param"));
	assert_null(strcasestr(out, "onload"));
	assert_null(strcasestr(out, "onclick"));
	assert_null(strcasestr(out, "onmouseover"));
	assert_null(strstr(out, "data:"));
	assert_contains(out, "<p class=\"x\">Hello <b>world</b></p>");
	assert_contains(out, "<a>js</a>");
	assert_contains(out, "<a href=\"https://ok.example/\">ok</a>");
	assert_contains(out, "<img src=\"https://ok.example/i.png\">");
	assert_contains(out, "<div>kept</div>");
	assert_contains(out, "</b></p>fallback<input name=\"pw\"><a>js</a>");
	/* 6 elements (embed holds the rest: libxml2 does not know it as
	 * empty, and its content stays), 5 attributes */
	assert_int_equal(removed, 6 + 5);
	free(out);

	/* nothing to remove: the same text; hostile input: an answer */
	assert_int_equal(html_disarm("<p>plain</p>", 12, NULL, &out, &len, &removed,
	    &why), 0);
	assert_int_equal(removed, 0);
	assert_contains(out, "<p>plain</p>");
	free(out);
	assert_int_equal(html_disarm("<scr<script>ipt>x</script", 25, NULL, &out,
	    &len, &removed, &why), 0);
	assert_null(strstr(out, "<script"));
	free(out);
	assert_int_equal(html_disarm("", 0, NULL, &out, &len, &removed, &why), 0);
	free(out);

	/*
	 * libxml2 drops a control byte that a browser keeps: "<\a/style>"
	 * must not come out as "</style>", ending the style before the
	 * script for a browser (found by fuzz_html).
	 */
	in = "<style>p{}<\a/style><script>alert(1)</script>";
	assert_int_equal(html_disarm(in, strlen(in), NULL, &out, &len, &removed,
	    &why), 0);
	assert_null(strstr(out, "<script"));
	assert_null(strstr(out, "</style>"));
	free(out);
	in = "<style>p { color: red }</style><p>x</p>";
	assert_int_equal(html_disarm(in, strlen(in), NULL, &out, &len, &removed,
	    &why), 0);
	assert_contains(out, "<style>p { color: red }</style>");
	assert_int_equal(removed, 0);
	free(out);
}

/* rewrite_part on one part: its return, out filled. */
static int
rewrite(void *ctx, const char *ctype, const char *charset, const char *data,
    int how, struct hs_rewrite_out *out)
{
	struct hs_rewrite_in in = { ctype, charset,
	    (const unsigned char *)data, strlen(data), how, 0, NULL };
	struct hs_msg	 m;

	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	memset(out, 0, sizeof(*out));
	return (hs_plugin.rewrite_part(ctx, &m, &in, out));
}

/* The rewrite_part hook: disarm, text, charsets, bounds. */
static void
test_rewrite_part_disarms_and_converts(void **state)
{
	struct fake_host fh;
	struct hs_rewrite_out out;
	void		*ctx;
	size_t		 i;
	char		*big;

	(void)state;
	ctx = start(&fh, "max_html_size=4k", NULL);
	assert_true(HS_PLUGIN_HAS(&hs_plugin, rewrite_part));

	/* UTF-8 text by the part's charset, written in ASCII references;
	 * the <meta> that said otherwise goes */
	assert_int_equal(rewrite(ctx, "text/html", "utf-8",
	    "<html><head><meta charset=\"iso-8859-1\"></head><body>"
	    "<p onclick=\"x()\">Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac</p>"
	    "<script>alert(1)</script></body></html>",
	    HS_REWRITE_DISARM, &out), 1);
	assert_string_equal(out.content_type, "text/html");
	assert_string_equal(out.charset, "us-ascii");
	assert_int_equal(out.removed, 2);
	assert_int_equal(strlen(out.data), out.len);
	for (i = 0; i < out.len; i++)
		assert_true((unsigned char)out.data[i] < 128);
	assert_contains(out.data, "<p>Gr&uuml;&szlig;e &euro;</p>");
	assert_null(strstr(out.data, "meta"));
	assert_null(strstr(out.data, "script"));
	free(out.data);

	/* ISO-8859-1 by the part's charset */
	assert_int_equal(rewrite(ctx, "text/html", "iso-8859-1",
	    "<p>caf\xe9</p><iframe src=x></iframe>", HS_REWRITE_DISARM,
	    &out), 1);
	assert_contains(out.data, "<p>caf&eacute;</p>");
	free(out.data);

	/* nothing to disarm, or not HTML: the part stays */
	assert_int_equal(rewrite(ctx, "text/html", NULL,
	    "<p><a href=\"https://ok.example/\">ok</a></p>",
	    HS_REWRITE_DISARM, &out), 0);
	assert_null(out.data);
	assert_int_equal(rewrite(ctx, "text/plain", NULL, "<script>",
	    HS_REWRITE_DISARM, &out), 0);
	assert_int_equal(rewrite(ctx, "text/html", NULL, "<p>x</p>", 77,
	    &out), 0);

	/* text: what a reader sees, in UTF-8, links' addresses shown */
	assert_int_equal(rewrite(ctx, "text/html", "utf-8",
	    "<html><head><title>T</title><style>p{}</style></head><body>"
	    "<h1>News</h1><p>Hello   <b>w\xc3\xb6rld</b></p>"
	    "<script>alert(1)</script><ul><li>one</li><li>two</li></ul>"
	    "<p>See <a href=\"http://evil.example/\">bank.example</a>.</p>"
	    "</body></html>", HS_REWRITE_TEXT, &out), 1);
	assert_string_equal(out.content_type, "text/plain");
	assert_string_equal(out.charset, "utf-8");
	assert_string_equal(out.data, "News\n\nHello w\xc3\xb6rld\n"
	    "* one\n* two\n\nSee bank.example <http://evil.example/>.\n");
	free(out.data);

	/* larger than max_html_size: not parsed, cannot */
	big = malloc(8192);
	assert_non_null(big);
	memset(big, 'a', 8191);
	big[8191] = '\0';
	assert_int_equal(rewrite(ctx, "text/html", NULL, big,
	    HS_REWRITE_DISARM, &out), -1);
	assert_contains(out.reason, "larger than max_html_size");
	assert_null(out.data);
	free(big);
	hs_plugin.fini(ctx);
}

/* rewrite_part with flags (HS_REWRITE_HIGHLIGHT_PHISHING). */
static int
rewrite_flags(void *ctx, const char *data, int how, unsigned flags,
    struct hs_rewrite_out *out)
{
	struct hs_rewrite_in in = { "text/html", NULL,
	    (const unsigned char *)data, strlen(data), how, flags, NULL };
	struct hs_msg	 m;

	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	memset(out, 0, sizeof(*out));
	return (hs_plugin.rewrite_part(ctx, &m, &in, out));
}

/*
 * highlight_phishing: a warning after each suspicious link (text shows
 * another host, numeric or punycode host), never after a fine one or a
 * safe site's; the hosts escaped for HTML; alone (HS_REWRITE_KEEP), with
 * disarming and in text; bounded by max_links; nothing without the flag.
 */
static void
test_rewrite_part_highlights_phishing(void **state)
{
	struct fake_host fh;
	struct hs_rewrite_out out;
	void		*ctx;
	struct buf	 many = BUF_INIT;
	const char	*mail =
	    "<p>Log in at <a href=\"http://evil.example/login\">"
	    "www.mybank.example</a> now.</p>"
	    "<p><a href=\"http://192.0.2.7/x\">here</a></p>"
	    "<p><a href=\"https://xn--mybnk-gra.example/\">bank</a></p>"
	    "<p><a href=\"https://www.shop.example/\">www.shop.example</a>"
	    "<a href=\"https://safe.example/\">www.other.example</a></p>";
	const char	*w1 = "<a href=\"http://evil.example/login\">"
	    "www.mybank.example</a><span class=\"holdscan-phishing\" "
	    "style=\"color:#b00000;font-weight:bold\"> [holdscan: this link "
	    "may be fraud: shows www.mybank.example, goes to evil.example]"
	    "</span>";
	size_t		 i;

	(void)state;
	ctx = start(&fh, "phishing_safe_sites=safe.example", "max_links=50",
	    NULL);

	/* alone: three warnings, the fine and the safe link without */
	assert_int_equal(rewrite_flags(ctx, mail, HS_REWRITE_KEEP,
	    HS_REWRITE_HIGHLIGHT_PHISHING, &out), 1);
	assert_int_equal(out.highlighted, 3);
	assert_int_equal(out.removed, 0);
	assert_string_equal(out.content_type, "text/html");
	assert_contains(out.data, w1);
	assert_contains(out.data, "[holdscan: this link may be fraud: goes "
	    "to numeric host 192.0.2.7]");
	assert_contains(out.data, "[holdscan: this link may be fraud: goes "
	    "to punycode host xn--mybnk-gra.example]");
	assert_contains(out.data, "www.shop.example</a><a href=");
	assert_contains(out.data, "www.other.example</a></p>");
	free(out.data);

	/* without the flag, KEEP changes nothing */
	assert_int_equal(rewrite_flags(ctx, mail, HS_REWRITE_KEEP, 0, &out),
	    0);
	assert_null(out.data);
	/* nothing suspicious: the part keeps its bytes */
	assert_int_equal(rewrite_flags(ctx, "<a href=\"https://a.example/\">"
	    "a.example</a>", HS_REWRITE_KEEP, HS_REWRITE_HIGHLIGHT_PHISHING,
	    &out), 0);
	assert_null(out.data);

	/* a text that would be markup stays text: escaped */
	assert_int_equal(rewrite_flags(ctx, "<a href=\"http://a&lt;b&gt;"
	    "&amp;c.example/\">www.mybank.example</a>", HS_REWRITE_KEEP,
	    HS_REWRITE_HIGHLIGHT_PHISHING, &out), 1);
	assert_null(strstr(out.data, "<b>"));
	assert_contains(out.data, "shows www.mybank.example, goes to "
	    "a&lt;b&gt;&amp;c.example]");
	free(out.data);

	/* with disarming: both, counted apart */
	assert_int_equal(rewrite_flags(ctx, "<script>x()</script><a href=\""
	    "http://evil.example/\">www.mybank.example</a>", HS_REWRITE_DISARM,
	    HS_REWRITE_HIGHLIGHT_PHISHING, &out), 1);
	assert_int_equal(out.removed, 1);
	assert_int_equal(out.highlighted, 1);
	assert_null(strstr(out.data, "script"));
	assert_contains(out.data, "goes to evil.example]</span>");
	free(out.data);

	/* as text: the warning is part of it */
	assert_int_equal(rewrite_flags(ctx, mail, HS_REWRITE_TEXT,
	    HS_REWRITE_HIGHLIGHT_PHISHING, &out), 1);
	assert_contains(out.data, "Log in at www.mybank.example "
	    "<http://evil.example/login> [holdscan: this link may be fraud: "
	    "shows www.mybank.example, goes to evil.example] now.");
	free(out.data);

	/* bounded: links beyond max_links are not looked at */
	for (i = 0; i < 80; i++)
		buf_printf(&many, "<a href=\"http://192.0.2.%zu/\">x</a>", i);
	assert_int_equal(rewrite_flags(ctx, many.data, HS_REWRITE_KEEP,
	    HS_REWRITE_HIGHLIGHT_PHISHING, &out), 1);
	assert_int_equal(out.highlighted, 50);
	free(out.data);
	buf_free(&many);
	hs_plugin.fini(ctx);
}

/*
 * The worst HTML rewrite_part takes: max_html_size (2 MiB) of nested
 * <div>s around a script and an onclick: disarmed (and made text) in
 * bounded time, nothing active left; the serialiser does not recurse.
 */
static void
test_rewrite_part_worst_nesting_is_bounded(void **state)
{
	struct fake_host fh;
	struct hs_rewrite_out out;
	struct timespec	 t0;
	void		*ctx = start(&fh, NULL);
	const char	*tail = "<p onclick=x()>end</p><script>alert(1)</script>";
	size_t		 size = 2 * 1024 * 1024 - 100, i;
	char		*html = malloc(size + 64);

	(void)state;
	assert_non_null(html);
	for (i = 0; i + 5 <= size; i += 5)
		memcpy(html + i, "<div>", 5);
	strcpy(html + i, tail);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rewrite(ctx, "text/html", NULL, html,
	    HS_REWRITE_DISARM, &out), 1);
	assert_true(test_seconds_since(&t0) < 60.0);
	assert_int_equal(out.removed, 2);
	assert_null(strstr(out.data, "<script"));
	assert_null(strstr(out.data, "onclick"));
	assert_non_null(strstr(out.data, "<p>end</p>"));
	free(out.data);
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rewrite(ctx, "text/html", NULL, html,
	    HS_REWRITE_TEXT, &out), 1);
	assert_true(test_seconds_since(&t0) < 60.0);
	assert_string_equal(out.data, "end\n");
	free(out.data);
	free(html);
	hs_plugin.fini(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_text_host_differs_from_href),
		cmocka_unit_test(test_same_site_and_subdomains_are_fine),
		cmocka_unit_test(test_numeric_and_punycode_hosts),
		cmocka_unit_test(test_forms_and_active_content),
		cmocka_unit_test(test_block_action_blocks_phishing_only),
		cmocka_unit_test(test_safe_sites_are_never_reported),
		cmocka_unit_test(test_malformed_html),
		cmocka_unit_test(test_encoding_errors_say_nothing),
		cmocka_unit_test(test_utf16_parts_are_read),
		cmocka_unit_test(test_ten_megabytes_of_nested_divs_are_bounded),
		cmocka_unit_test(test_max_links_is_a_bound),
		cmocka_unit_test(test_long_reports_are_cut_to_fit),
		cmocka_unit_test(test_scan_walks_the_html_parts),
		cmocka_unit_test(test_options_and_info),
		cmocka_unit_test(test_disarm_removes_active_content),
		cmocka_unit_test(test_rewrite_part_disarms_and_converts),
		cmocka_unit_test(test_rewrite_part_highlights_phishing),
		cmocka_unit_test(test_rewrite_part_worst_nesting_is_bounded),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
