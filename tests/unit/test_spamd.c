/*
 * NAME
 *	test_spamd - unit tests for the spamd plugin
 * DESCRIPTION
 *	The answer parser on good answers, spamd's errors, garbage, every
 *	truncation and oversized input (each copied to a buffer of its
 *	exact size, so that ASan sees any read beyond it); numbers and
 *	addresses; option checking. Then the whole exchange against small
 *	fake spamds (a forked child on a loopback or unix socket, which
 *	also checks the request it gets): verdicts by score, the added
 *	headers, max_size, on_error clean and failed, connection refused,
 *	a spamd that never answers (the timeout holds), one that floods.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../plugins/spamd.c"
#include "fakehost.h"

#define GOOD_SPAM "SPAMD/1.1 0 EX_OK\r\nContent-length: 27\r\n" \
	"Spam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,NO_RECEIVED,NO_RELAYS"

/* Parse s as an answer held in a buffer of exactly its length. */
static enum sd_parse
parse_n(const char *s, size_t n, bool eof, struct sd_reply *r)
{
	enum sd_parse	 p;
	char		*copy = malloc(n ? n : 1);

	assert_non_null(copy);
	memcpy(copy, s, n);
	p = sd_parse_reply(copy, n, eof, r);
	free(copy);
	return (p);
}

static enum sd_parse
parse(const char *s, bool eof, struct sd_reply *r)
{
	return (parse_n(s, strlen(s), eof, r));
}

static void
test_parse_good_answers(void **state)
{
	struct sd_reply	 r;

	(void)state;
	assert_int_equal(parse(GOOD_SPAM, false, &r), SD_DONE);
	assert_true(r.score == 1000.0);
	assert_true(r.threshold == 5.0);
	assert_true(r.is_spam);
	assert_string_equal(r.symbols, "GTUBE,NO_RECEIVED,NO_RELAYS");

	assert_int_equal(parse("SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n"
	    "Spam: False ; 0.0 / 5.0\r\n\r\n", false, &r), SD_DONE);
	assert_true(r.score == 0.0);
	assert_false(r.is_spam);
	assert_string_equal(r.symbols, "");

	/* CHECK's answer has no Content-length: complete at the end. */
	assert_int_equal(parse("SPAMD/1.1 0 EX_OK\r\nSpam: No ; -2.5 / 5.0\r\n"
	    "\r\n", false, &r), SD_INCOMPLETE);
	assert_int_equal(parse("SPAMD/1.1 0 EX_OK\r\nSpam: No ; -2.5 / 5.0\r\n"
	    "\r\n", true, &r), SD_DONE);
	assert_true(r.score == -2.5);

	/* Bare LF, other headers, case, spaces, an old-style CR LF body. */
	assert_int_equal(parse("SPAMD/1.5 0 EX_OK\nX-Other: whatever: x\n"
	    "spam:yes;7.1/5\ncontent-LENGTH: 9\n\nA_B,C-D\r\n", false, &r),
	    SD_DONE);
	assert_true(r.score > 7.09 && r.score < 7.11);
	assert_true(r.is_spam);
	assert_string_equal(r.symbols, "A_B,C-D");
}

static void
test_parse_spamd_errors_and_garbage(void **state)
{
	static const struct {
		const char	*answer;
		const char	*why;
	} bad[] = {
		{ "", "answer ended before its status line" },
		{ "HTTP/1.1 200 OK\r\n", "not a spamd answer: \"HTTP/1.1 200 OK\"" },
		{ "SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n",
		    "spamd error 76: Bad header line: (EOF during headers)" },
		{ "SPAMD/1.0 79 Timeout: (30 second timeout)\r\n",
		    "spamd error 79: Timeout" },
		{ "SPAMD/1.0 69\r\n", "spamd error 69: " },
		{ "SPAMD/x 0 EX_OK\r\n", "bad status line" },
		{ "SPAMD/1.1 0EX_OK\r\n", "bad status line" },
		{ "SPAMD/1.1 1234 EX_OK\r\n", "bad status line" },
		{ "SPAMD/1.1  0 EX_OK\r\n", "bad status line" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam True\r\n\r\n", "header line 1 is not" },
		{ "SPAMD/1.1 0 EX_OK\r\n: x\r\n\r\n", "header line 1 is not" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n",
		    "no Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1.0 / 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e3 / 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; nan / 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 12345678.0 / 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / \r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True 1.0 / 5.0\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / 5.0 x\r\n\r\n",
		    "bad Spam header" },
		{ "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1 / 5\r\nSpam: True ; 9 / 5"
		    "\r\n\r\n", "two Spam headers" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: abc\r\nSpam: True ; 1 / "
		    "5\r\n\r\n", "bad Content-length" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\nSpam: True ; 1 / "
		    "5\r\n\r\n", "bad Content-length" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: \r\nSpam: True ; 1 / "
		    "5\r\n\r\n", "bad Content-length" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 99999999999\r\n",
		    "bad Content-length" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 100000\r\n",
		    "Content-length 100000 is more than 65536" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 1\r\nContent-length: 1"
		    "\r\n", "two Content-length headers" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 2\r\nSpam: True ; 1 / "
		    "5\r\n\r\nABC", "more data than Content-length says" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 12\r\nSpam: True ; 1 / "
		    "5\r\n\r\nGTUBE;rm -rf", "the rule names hold other" },
		{ "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1 / "
		    "5\r\n\r\nA\001B\n\n", "the rule names hold other" },
	};
	struct sd_reply	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].answer, true, &r) != SD_BAD)
			fail_msg("accepted: %s", bad[i].answer);
		if (strstr(r.error, bad[i].why) == NULL)
			fail_msg("for \"%s\": got \"%s\", want \"%s\"",
			    bad[i].answer, r.error, bad[i].why);
	}
}

static void
test_parse_every_truncation(void **state)
{
	const char	*full = GOOD_SPAM;
	struct sd_reply	 r;
	size_t		 n = strlen(full), k;

	(void)state;
	for (k = 0; k < n; k++) {
		if (parse_n(full, k, false, &r) != SD_INCOMPLETE)
			fail_msg("%zu bytes: not incomplete (%s)", k, r.error);
		if (parse_n(full, k, true, &r) != SD_BAD)
			fail_msg("%zu bytes at the end: accepted", k);
		assert_non_null(strstr(r.error, "answer ended"));
	}
	assert_int_equal(parse_n(full, n, true, &r), SD_DONE);
}

static void
test_parse_huge_answers(void **state)
{
	struct sd_reply	 r;
	char		*big;
	size_t		 i, n;

	(void)state;
	big = malloc(70000);
	assert_non_null(big);

	/* A status line that never ends: refused before its end comes. */
	memset(big, 'A', 2000);
	memcpy(big, "SPAMD/1.1 0 ", 12);
	assert_int_equal(parse_n(big, 2000, false, &r), SD_BAD);
	assert_string_equal(r.error, "status line too long");
	assert_int_equal(parse_n(big, SD_LINE_MAX + 1, false, &r),
	    SD_INCOMPLETE);

	/* A header line too long. */
	n = (size_t)sprintf(big, "SPAMD/1.1 0 EX_OK\r\nX-Long: ");
	memset(big + n, 'x', 3000);
	assert_int_equal(parse_n(big, n + 3000, false, &r), SD_BAD);
	assert_string_equal(r.error, "header line too long");

	/* Too many header lines. */
	n = (size_t)sprintf(big, "SPAMD/1.1 0 EX_OK\r\n");
	for (i = 0; i < 40; i++)
		n += (size_t)sprintf(big + n, "X-H%zu: v\r\n", i);
	assert_int_equal(parse_n(big, n, false, &r), SD_BAD);
	assert_string_equal(r.error, "more than 32 header lines");

	/* 60,000 bytes of rule names: accepted, cut after a whole name. */
	n = (size_t)sprintf(big, "SPAMD/1.1 0 EX_OK\r\nContent-length: 60000"
	    "\r\nSpam: True ; 55.5 / 5.0\r\n\r\n");
	for (i = 0; i < 60000; i += 10)
		memcpy(big + n + i, "RULE_NAME,", 10);
	big[n + 59999] = 'X';
	assert_int_equal(parse_n(big, n + 60000, true, &r), SD_DONE);
	assert_true(strlen(r.symbols) <= SD_SYMBOLS_MAX);
	assert_true(strlen(r.symbols) > SD_SYMBOLS_MAX - 20);
	assert_memory_equal(r.symbols, "RULE_NAME,RULE_NAME,", 20);
	assert_string_equal(r.symbols + strlen(r.symbols) - 13, "RULE_NAME,...");
	free(big);
}

static void
test_numbers(void **state)
{
	static const struct {
		const char	*s;
		int		 ok;
		double		 v;
	} t[] = {
		{ "0", 0, 0 }, { "5.0", 0, 5 }, { "-0.1", 0, -0.1 },
		{ "+3", 0, 3 }, { "1000.0", 0, 1000 }, { ".5", 0, 0.5 },
		{ "1.", 0, 1 }, { "1234567.123456", 0, 1234567.123456 },
		{ "", -1, 0 }, { "-", -1, 0 }, { ".", -1, 0 }, { "1e3", -1, 0 },
		{ "0x10", -1, 0 }, { "12345678", -1, 0 }, { "1.1234567", -1, 0 },
		{ " 1", -1, 0 }, { "1 ", -1, 0 }, { "inf", -1, 0 },
		{ "--1", -1, 0 }, { "1,5", -1, 0 },
	};
	size_t		 i;
	double		 v;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -99;
		if (sd_number(t[i].s, strlen(t[i].s), &v) != t[i].ok)
			fail_msg("\"%s\": wrong result", t[i].s);
		if (t[i].ok == 0 && (v < t[i].v - 1e-9 || v > t[i].v + 1e-9))
			fail_msg("\"%s\": %f", t[i].s, v);
	}
}

static void
test_addresses(void **state)
{
	static const struct {
		const char	*s;
		int		 family;	/* 0: refused */
	} t[] = {
		{ "127.0.0.1:783", AF_INET }, { "[::1]:783", AF_INET6 },
		{ "unix:/run/spamd.sock", AF_UNIX }, { "10.1.2.3:65535", AF_INET },
		{ "localhost:783", 0 }, { "127.0.0.1", 0 }, { "127.0.0.1:", 0 },
		{ "127.0.0.1:0", 0 }, { "127.0.0.1:65536", 0 },
		{ "127.0.0.1:99999999999999999999", 0 }, { "127.0.0.1:78a", 0 },
		{ "::1:783", 0 }, { "[127.0.0.1]:783", 0 }, { "[::1:783", 0 },
		{ "unix:run/spamd.sock", 0 }, { "unix:", 0 }, { ":783", 0 },
		{ "", 0 },
	};
	struct sd_conf	 c;
	char		 longpath[200];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char	*why = sd_address(t[i].s, &c);

		if ((why == NULL) != (t[i].family != 0))
			fail_msg("\"%s\": %s", t[i].s, why ? why : "accepted");
		if (why == NULL)
			assert_int_equal(c.addr.ss_family, t[i].family);
	}
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "unix:/", 6);
	assert_non_null(sd_address(longpath, &c));
}

static void
test_options_are_checked(void **state)
{
	static const struct {
		const char	*name;
		const char	*value;
		const char	*why;
	} bad[] = {
		{ "address", "localhost:783", "numeric IP address" },
		{ "timeout", "0ms", "timeout must be more than 0" },
		{ "spam_score", "five", "spam_score must be a number" },
		{ "spam_score", "20", "high_spam_score must not be below" },
		{ "high_spam_score", "1e2", "high_spam_score must be a number" },
		{ "on_error", "tempfail", "on_error must be clean or failed" },
		{ "user", "a b", "user may hold only printable ASCII" },
	};
	struct fake_host fh;
	const char	*why, *missing;
	void		*ctx = NULL;
	char		 info[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_host_init(&fh, &hs_plugin);
		assert_int_equal(fake_set(&fh, bad[i].name, bad[i].value), 0);
		why = NULL;
		if (hs_plugin.init(&fh.host, &ctx, &why) == 0)
			fail_msg("%s = %s accepted", bad[i].name, bad[i].value);
		if (why == NULL || strstr(why, bad[i].why) == NULL)
			fail_msg("%s = %s: got \"%s\"", bad[i].name,
			    bad[i].value, why ? why : "(null)");
	}
	/* The defaults are good; reload refuses a bad change, keeps the old. */
	fake_host_init(&fh, &hs_plugin);
	assert_int_equal(hs_plugin.init(&fh.host, &ctx, &why), 0);
	hs_plugin.info(ctx, info, sizeof(info));
	assert_string_equal(info, "127.0.0.1:783 timeout=30s spam=5.0 "
	    "high-spam=10.0 on_error=clean");
	assert_int_equal(fake_set(&fh, "high_spam_score", "2"), 0);
	assert_int_equal(hs_plugin.reload(ctx, &why), -1);
	assert_non_null(strstr(why, "high_spam_score must not be below"));
	hs_plugin.info(ctx, info, sizeof(info));
	assert_non_null(strstr(info, "high-spam=10.0"));
	assert_int_equal(fake_set(&fh, "high_spam_score", "8.5"), 0);
	assert_int_equal(fake_set(&fh, "timeout", "1500ms"), 0);
	assert_int_equal(hs_plugin.reload(ctx, &why), 0);
	hs_plugin.info(ctx, info, sizeof(info));
	assert_string_equal(info, "127.0.0.1:783 timeout=1500ms spam=5.0 "
	    "high-spam=8.5 on_error=clean");
	hs_plugin.fini(ctx);

	if ((missing = fake_undocumented(&hs_plugin)) != NULL)
		fail_msg("etc/holdscan.conf: plugin spamd: %s", missing);
}

/* --- fake spamds ---------------------------------------------------- */

enum fake_mode {
	FAKE_ANSWER,		/* read the request, check it, answer */
	FAKE_EARLY,		/* answer after the request line, close */
	FAKE_CLOSE,		/* accept and close at once */
	FAKE_FLOOD,		/* answer with endless header lines */
};

struct fake_spamd {
	int		 lfd;
	pid_t		 pid;
	char		 address[160];
	char		 sockpath[128];
};

/* A listening socket: loopback TCP on a free port, or a unix socket. */
static void
fake_listen(struct fake_spamd *f, bool unix_socket)
{
	memset(f, 0, sizeof(*f));
	f->pid = -1;
	if (unix_socket) {
		struct sockaddr_un sun;
		char	 dir[] = "/tmp/test_spamd.XXXXXX";

		assert_non_null(mkdtemp(dir));
		(void)snprintf(f->sockpath, sizeof(f->sockpath), "%s/spamd.sock",
		    dir);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
		    f->sockpath);
		f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(f->lfd >= 0);
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		(void)snprintf(f->address, sizeof(f->address), "unix:%s",
		    f->sockpath);
	} else {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f->lfd = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(f->lfd >= 0);
		assert_int_equal(bind(f->lfd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sin,
		    &len), 0);
		(void)snprintf(f->address, sizeof(f->address), "127.0.0.1:%u",
		    ntohs(sin.sin_port));
	}
	assert_int_equal(listen(f->lfd, 8), 0);
}

/*
 * Is req (n bytes) "SYMBOLS SPAMC/1.5", Content-length, [User], empty
 * line and exactly that many bytes of message?
 */
static bool
request_ok(const char *req, size_t n, const char *user)
{
	char		 head[256];
	const char	*end = memmem(req, n, "\r\n\r\n", 4);
	unsigned long	 clen;
	int		 hl;

	if (end == NULL || sscanf(req, "SYMBOLS SPAMC/1.5\r\nContent-length: "
	    "%lu\r\n", &clen) != 1)
		return (false);
	hl = snprintf(head, sizeof(head), "SYMBOLS SPAMC/1.5\r\nContent-length: "
	    "%lu\r\n%s%s%s\r\n", clen, user ? "User: " : "", user ? user : "",
	    user ? "\r\n" : "");
	return ((size_t)hl == (size_t)(end - req) + 4 &&
	    memcmp(req, head, (size_t)hl) == 0 && n - (size_t)hl == clen);
}

/* The child: serve one connection as mode says; exit 0 if all was well. */
static void __attribute__((noreturn))
fake_child(int lfd, enum fake_mode mode, const char *answer, const char *user)
{
	size_t	 cap = 8 << 20, n = 0;
	char	*req = malloc(cap);
	ssize_t	 r;
	int	 fd;

	if (req == NULL || (fd = accept(lfd, NULL, NULL)) < 0)
		_exit(3);
	switch (mode) {
	case FAKE_CLOSE:
		(void)close(fd);
		_exit(0);
	case FAKE_EARLY:
		if (read(fd, req, 20) <= 0)
			_exit(4);
		if (write(fd, answer, strlen(answer)) < 0)
			_exit(5);
		(void)close(fd);
		_exit(0);
	case FAKE_FLOOD:
		if (write(fd, "SPAMD/1.1 0 EX_OK\r\n", 19) < 0)
			_exit(5);
		for (;;)
			if (write(fd, "X-Flood: more\r\n", 15) < 0)
				_exit(0);
	case FAKE_ANSWER:
		while (n < cap && (r = read(fd, req + n, cap - n)) > 0)
			n += (size_t)r;
		if (write(fd, answer, strlen(answer)) < 0)
			_exit(5);
		(void)close(fd);
		_exit(request_ok(req, n, user) ? 0 : 2);
	}
	_exit(6);
}

static void
fake_serve(struct fake_spamd *f, enum fake_mode mode, const char *answer,
    const char *user)
{
	if ((f->pid = fork()) == 0)
		fake_child(f->lfd, mode, answer, user);
	assert_true(f->pid > 0);
}

/* Stop the fake; the child's exit status (-1 if killed or none). */
static int
fake_stop(struct fake_spamd *f)
{
	int	 status = 0, rc = -1;

	if (f->pid > 0) {
		(void)kill(f->pid, SIGKILL);
		if (waitpid(f->pid, &status, 0) == f->pid && WIFEXITED(status))
			rc = WEXITSTATUS(status);
	}
	(void)close(f->lfd);
	if (f->sockpath[0] != '\0') {
		char	*slash;

		(void)unlink(f->sockpath);
		if ((slash = strrchr(f->sockpath, '/')) != NULL) {
			*slash = '\0';
			(void)rmdir(f->sockpath);
		}
	}
	return (rc);
}

/* Wait for the child to finish by itself (it exits after one connection). */
static int
fake_wait(struct fake_spamd *f)
{
	int	 status = 0, rc = -1;

	if (waitpid(f->pid, &status, 0) == f->pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	f->pid = -1;
	(void)fake_stop(f);
	return (rc);
}

static struct hs_msg
test_msg(const char *text)
{
	struct hs_msg	 m;

	memset(&m, 0, sizeof(m));
	m.queue_id = "TEST";
	m.sender = "";
	m.data = text;
	m.len = strlen(text);
	m.header_len = strstr(text, "\n\n") ? (size_t)(strstr(text, "\n\n") -
	    text) + 2 : m.len;
	return (m);
}

/* init with address plus name=value pairs (NULL-ended). */
static void *
plugin_with(struct fake_host *fh, const char *address, ...)
{
	const char	*why = NULL, *name;
	void		*ctx = NULL;
	va_list		 ap;

	fake_host_init(fh, &hs_plugin);
	assert_int_equal(fake_set(fh, "address", address), 0);
	va_start(ap, address);
	while ((name = va_arg(ap, const char *)) != NULL)
		assert_int_equal(fake_set(fh, name, va_arg(ap, const char *)), 0);
	va_end(ap);
	if (hs_plugin.init(&fh->host, &ctx, &why) < 0)
		fail_msg("init: %s", why);
	return (ctx);
}

/* Scan m once with a fresh result. */
static void
scan_once(void *ctx, const struct hs_msg *m, struct hs_result *res)
{
	memset(res, 0, sizeof(*res));
	assert_int_equal(hs_plugin.scan(ctx, m, res), 0);
}

/* One scan against a fresh fake spamd that answers with score. */
static void
scan_with_score(bool unix_socket, const char *score, const char *symbols,
    struct hs_result *res)
{
	struct fake_spamd f;
	struct fake_host fh;
	struct hs_msg	 m = test_msg("Subject: hi\n\nbody\n");
	char		 answer[512];
	void		*ctx;

	fake_listen(&f, unix_socket);
	(void)snprintf(answer, sizeof(answer), "SPAMD/1.1 0 EX_OK\r\n"
	    "Content-length: %zu\r\nSpam: True ; %s / 5.0\r\n\r\n%s",
	    strlen(symbols), score, symbols);
	fake_serve(&f, FAKE_ANSWER, answer, NULL);
	ctx = plugin_with(&fh, f.address, NULL);
	scan_once(ctx, &m, res);
	assert_int_equal(fake_wait(&f), 0);
	assert_int_equal(fh.nlog, 0);
	hs_plugin.fini(ctx);
}

static void
test_verdicts_and_headers(void **state)
{
	struct hs_result res;

	(void)state;
	scan_with_score(false, "7.1", "BAYES_99,URIBL_BLACK", &res);
	assert_int_equal(res.verdict, HS_SPAM);
	assert_true(res.score > 7.09 && res.score < 7.11);
	assert_string_equal(res.reason, "score=7.1 tests=BAYES_99,URIBL_BLACK");
	assert_string_equal(res.headers, "X-Spam-Score: 7.1\nX-Spam-Status: "
	    "Yes, score=7.1 required=5.0 tests=BAYES_99,URIBL_BLACK\n");

	scan_with_score(true, "1000.0", "GTUBE", &res);
	assert_int_equal(res.verdict, HS_HIGH_SPAM);
	assert_string_equal(res.reason, "score=1000.0 tests=GTUBE");

	/* The thresholds count as reached; below them, clean. */
	scan_with_score(false, "10.0", "A", &res);
	assert_int_equal(res.verdict, HS_HIGH_SPAM);
	scan_with_score(false, "5.0", "A", &res);
	assert_int_equal(res.verdict, HS_SPAM);
	scan_with_score(false, "4.9", "", &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.headers, "X-Spam-Score: 4.9\nX-Spam-Status: "
	    "No, score=4.9 required=5.0 tests=none\n");
	scan_with_score(true, "-3.2", "ALL_TRUSTED", &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.reason, "score=-3.2 tests=ALL_TRUSTED");
}

static void
test_request_options_and_big_message(void **state)
{
	struct fake_spamd f;
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m;
	char		*big;
	void		*ctx;
	size_t		 n = 3 << 20;

	(void)state;
	/* User is sent; add_headers = no adds nothing. */
	fake_listen(&f, false);
	fake_serve(&f, FAKE_ANSWER, "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n"
	    "Spam: False ; 0.3 / 5.0\r\n\r\n", "alice");
	ctx = plugin_with(&fh, f.address, "user", "alice", "add_headers", "no",
	    NULL);
	m = test_msg("Subject: hi\n\nbody\n");
	scan_once(ctx, &m, &res);
	assert_int_equal(fake_wait(&f), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.headers, "");
	hs_plugin.fini(ctx);

	/* 3 MB goes through whole (more than the socket buffers hold). */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big, "Subject: big\n\n", 14);
	big[n] = '\0';
	fake_listen(&f, true);
	fake_serve(&f, FAKE_ANSWER, "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n"
	    "Spam: False ; 0.0 / 5.0\r\n\r\n", NULL);
	ctx = plugin_with(&fh, f.address, "max_size", "0", NULL);
	m = test_msg(big);
	scan_once(ctx, &m, &res);
	assert_int_equal(fake_wait(&f), 0);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.reason, "score=0.0 tests=none");
	hs_plugin.fini(ctx);

	/* Over max_size: not sent at all (nobody listens), clean, a header. */
	ctx = plugin_with(&fh, "unix:/nonexistent/spamd.sock", "max_size",
	    "1M", NULL);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_string_equal(res.headers, "X-Spam-Status: No, skipped (larger "
	    "than 1048576 bytes)\n");
	assert_string_equal(res.reason, "not checked: 3145728 bytes, max_size "
	    "1048576");
	assert_int_equal(fh.nlog, 0);
	hs_plugin.fini(ctx);
	free(big);
}

/* A port nobody listens on. */
static void
closed_port(char *address, size_t size)
{
	struct fake_spamd f;

	fake_listen(&f, false);
	(void)snprintf(address, size, "%s", f.address);
	(void)fake_stop(&f);
}

static void
test_on_error_clean_and_failed(void **state)
{
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m = test_msg("Subject: hi\n\nbody\n");
	char		 address[160], want[256];
	void		*ctx;

	(void)state;
	closed_port(address, sizeof(address));

	/* clean (the default): delivered with a header; one warning. */
	ctx = plugin_with(&fh, address, NULL);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	(void)snprintf(want, sizeof(want), "spamd %s: connect: Connection "
	    "refused", address);
	assert_string_equal(res.reason, want);
	assert_string_equal(res.headers, "X-Spam-Status: No, not checked "
	    "(spamd error)\n");
	(void)snprintf(want, sizeof(want), "warning: %s: connect: Connection "
	    "refused; treated as clean\n", address);
	assert_string_equal(fh.log, want);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_CLEAN);
	assert_int_equal(fh.nlog, 1);		/* at most once a minute */
	hs_plugin.fini(ctx);

	/* failed: the message is scan failed; no header. */
	ctx = plugin_with(&fh, address, "on_error", "failed", NULL);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_FAILED);
	assert_non_null(strstr(res.reason, "Connection refused"));
	assert_string_equal(res.headers, "");
	assert_non_null(strstr(fh.log, "treated as scan failed"));
	hs_plugin.fini(ctx);

	/* A unix socket that is not there. */
	ctx = plugin_with(&fh, "unix:/nonexistent/spamd.sock", "on_error",
	    "failed", NULL);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_FAILED);
	assert_non_null(strstr(res.reason, "No such file or directory"));
	hs_plugin.fini(ctx);
}

/*
 * A scan against a spamd that takes the connection (the kernel queues it)
 * and never answers: on_error's verdict, after the timeout, not later.
 */
static void
expect_timeout(bool unix_socket, const char *timeout, const char *on_error,
    const char *data)
{
	struct fake_spamd f;
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m = test_msg(data);
	struct timespec	 t0;
	char		 want[64];
	double		 limit, s;
	void		*ctx;

	fake_listen(&f, unix_socket);
	ctx = plugin_with(&fh, f.address, "timeout", timeout, "on_error",
	    on_error, "max_size", "0", NULL);
	limit = fake_opt_num(&fh, "timeout") / 1000.0;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	scan_once(ctx, &m, &res);
	s = test_seconds_since(&t0);
	assert_int_equal(res.verdict, strcmp(on_error, "failed") == 0 ?
	    HS_FAILED : HS_CLEAN);
	(void)snprintf(want, sizeof(want), "timed out (timeout %s)", timeout);
	if (strstr(res.reason, want) == NULL)
		fail_msg("reason: %s", res.reason);
	if (s < limit - 0.01 || s > limit + 1.2)
		fail_msg("took %.3f s for a %s timeout", s, timeout);
	hs_plugin.fini(ctx);
	(void)fake_stop(&f);
}

static void
test_timeout_holds(void **state)
{
	size_t	 n = 4 << 20;
	char	*big = malloc(n + 1);

	(void)state;
	expect_timeout(false, "300ms", "failed", "Subject: hi\n\nbody\n");
	/* A message larger than the socket buffers: stuck while sending. */
	assert_non_null(big);
	memset(big, 'y', n);
	big[n] = '\0';
	expect_timeout(true, "400ms", "clean", big);
	free(big);
}

/* One scan (on_error = failed) against a fake spamd; its reason. */
static void
failed_reason(bool unix_socket, enum fake_mode mode, const char *answer,
    const char *data, char *reason, size_t size)
{
	struct fake_spamd f;
	struct fake_host fh;
	struct hs_result res;
	struct hs_msg	 m = test_msg(data);
	void		*ctx;

	fake_listen(&f, unix_socket);
	fake_serve(&f, mode, answer, NULL);
	ctx = plugin_with(&fh, f.address, "on_error", "failed", "max_size",
	    "0", NULL);
	scan_once(ctx, &m, &res);
	assert_int_equal(res.verdict, HS_FAILED);
	(void)snprintf(reason, size, "%s", res.reason);
	(void)fake_stop(&f);
	hs_plugin.fini(ctx);
}

static void
test_broken_spamds(void **state)
{
	const char	*small = "Subject: hi\n\nbody\n";
	struct timespec	 t0;
	char		 reason[256], *big;
	size_t		 n = 4 << 20;

	(void)state;
	/* Closes without a word. */
	failed_reason(false, FAKE_CLOSE, NULL, small, reason, sizeof(reason));
	if (strstr(reason, "answer ended before its status line") == NULL &&
	    strstr(reason, "closed the connection") == NULL &&
	    strstr(reason, "Connection reset") == NULL)
		fail_msg("reason: %s", reason);

	/* Garbage. */
	failed_reason(true, FAKE_ANSWER, "220 smtp.example.org ESMTP\r\n",
	    small, reason, sizeof(reason));
	assert_non_null(strstr(reason, "not a spamd answer: \"220 smtp"));

	/* Endless headers: stopped at the limit, at once. */
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	failed_reason(false, FAKE_FLOOD, NULL, small, reason, sizeof(reason));
	assert_non_null(strstr(reason, "more than 32 header lines"));
	assert_true(test_seconds_since(&t0) < 5);

	/* spamd refuses a big request half way: its error comes through. */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'z', n);
	big[n] = '\0';
	failed_reason(false, FAKE_EARLY, "SPAMD/1.0 76 Bad header line: (too "
	    "big)\r\n", big, reason, sizeof(reason));
	if (strstr(reason, "spamd error 76: Bad header line") == NULL &&
	    strstr(reason, "closed the connection while we sent") == NULL)
		fail_msg("reason: %s", reason);
	free(big);
}

/* TELL's answers (learn): exact copies, so ASan sees any overread. */
static enum sd_parse
tell(const char *s, bool eof, struct sd_reply *r)
{
	enum sd_parse	 p;
	size_t		 n = strlen(s);
	char		*copy = malloc(n ? n : 1);

	assert_non_null(copy);
	memcpy(copy, s, n);
	p = sd_parse_tell(copy, n, eof, r);
	free(copy);
	return (p);
}

static void
test_parse_tell_answers(void **state)
{
	struct sd_reply	 r;

	(void)state;
	assert_int_equal(tell("SPAMD/1.1 0 EX_OK\r\nDidSet: local\r\n\r\n\r\n",
	    true, &r), SD_DONE);
	assert_string_equal(r.symbols, "local");
	assert_int_equal(tell("SPAMD/1.1 0 EX_OK\r\nDidSet: local\r\n\r\n",
	    false, &r), SD_INCOMPLETE);
	/* known already: no DidSet */
	assert_int_equal(tell("SPAMD/1.1 0 EX_OK\r\n\r\n", true, &r), SD_DONE);
	assert_string_equal(r.symbols, "");
	assert_int_equal(tell("SPAMD/1.1 0 EX_OK\r\nDidSet: lo", false, &r),
	    SD_INCOMPLETE);
	/* spamd's refusal (no --allow-tell), and garbage */
	assert_int_equal(tell("SPAMD/1.0 69 Bad header line: TELL commands "
	    "have not been enabled.\r\n", true, &r), SD_BAD);
	assert_non_null(strstr(r.error, "spamd error 69: Bad header line"));
	assert_int_equal(tell("HTTP/1.0 200 OK\r\n\r\n", true, &r), SD_BAD);
	assert_int_equal(tell("SPAMD/1.1 0 EX_OK\r\n\r\nmore\r\n", true, &r),
	    SD_BAD);
	assert_non_null(strstr(r.error, "data after the answer"));
	assert_int_equal(tell("", true, &r), SD_BAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good_answers),
		cmocka_unit_test(test_parse_spamd_errors_and_garbage),
		cmocka_unit_test(test_parse_every_truncation),
		cmocka_unit_test(test_parse_huge_answers),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_options_are_checked),
		cmocka_unit_test(test_verdicts_and_headers),
		cmocka_unit_test(test_request_options_and_big_message),
		cmocka_unit_test(test_on_error_clean_and_failed),
		cmocka_unit_test(test_timeout_holds),
		cmocka_unit_test(test_broken_spamds),
		cmocka_unit_test(test_parse_tell_answers),
	};

	(void)signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
