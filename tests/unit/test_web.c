/*
 * NAME
 *	test_web - unit tests for the web console's pure parts
 * DESCRIPTION
 *	Access scopes (admin, domain admin, user: which recipients each may
 *	see, case, malformed addresses), the accounts file (parse, refusals
 *	with line numbers, yescrypt hash and verify, save and load), sessions
 *	(tokens, lookup, expiry, logout, CSRF), the login throttle, the
 *	attachment list of a preview, a preview from a queue file's bytes
 *	(another host's: the same answer as from a descriptor; cut bytes
 *	refused, never half read; every prefix of one read as the farm's
 *	cut preview), and the web { } section of
 *	holdscan.conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/access.h"
#include "common/config.h"
#include "common/qfile.h"
#include "common/xalloc.h"
#include "web/accounts.h"
#include "web/preview.h"
#include "web/session.h"

static void
test_access_roles(void **state)
{
	struct access_scope admin, dom, user;
	const char	*mixed[] = { "x@b.example", "Bob@A.Example" };
	const char	*other[] = { "x@b.example", "y@sub.a.example", "", "noat" };

	(void)state;
	memset(&admin, 0, sizeof(admin));
	memset(&dom, 0, sizeof(dom));
	memset(&user, 0, sizeof(user));
	admin.role = ACCESS_ADMIN;
	dom.role = ACCESS_DOMAIN;
	access_add_domain(&dom, "@A.example");
	user.role = ACCESS_USER;
	access_add_address(&user, "bob@a.example");

	assert_true(access_address_ok(&admin, "anyone@anywhere"));
	assert_true(access_address_ok(&dom, "someone@a.EXAMPLE"));
	assert_false(access_address_ok(&dom, "someone@b.example"));
	assert_false(access_address_ok(&dom, "someone@sub.a.example"));
	assert_false(access_address_ok(&dom, "a.example"));
	assert_false(access_address_ok(&dom, ""));
	assert_false(access_address_ok(&dom, NULL));
	assert_true(access_address_ok(&user, "BOB@a.example"));
	assert_false(access_address_ok(&user, "alice@a.example"));
	/* A user's address never grants its domain. */
	user.role = ACCESS_USER;
	access_add_domain(&user, "a.example");
	assert_false(access_address_ok(&user, "alice@a.example"));

	assert_true(access_any_ok(&dom, mixed, 2));
	assert_false(access_all_ok(&dom, mixed, 2));
	assert_true(access_all_ok(&dom, mixed + 1, 1));
	assert_false(access_any_ok(&dom, other, 4));
	assert_false(access_any_ok(&user, other, 4));
	assert_true(access_any_ok(&admin, other, 0));
	assert_false(access_any_ok(&dom, other, 0));

	assert_int_equal(access_role_parse("domain"), ACCESS_DOMAIN);
	assert_int_equal(access_role_parse("root"), -1);
	assert_string_equal(access_role_name(ACCESS_USER), "user");
	assert_null(access_check_domain("a.example"));
	assert_non_null(access_check_domain("a..example"));
	assert_non_null(access_check_domain("a example"));
	assert_null(access_check_address("bob@a.example"));
	assert_non_null(access_check_address("bob"));
	assert_non_null(access_check_address("<bob>@a.example"));
	assert_non_null(access_check_address("bob@a example"));
	access_scope_clear(&admin);
	access_scope_clear(&dom);
	access_scope_clear(&user);
	assert_int_equal(dom.ndomains, 0);
}

#define HASH	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$" \
		"qr.E9aejq3SrMVHjvH50./5EqjuosjAXdy9uaPKfAZ5"

static void
test_accounts_parse(void **state)
{
	struct accounts	*a = NULL;
	const struct account *ac;
	char		*error = NULL;
	const char	*text = "# comment\n\n"
	    "admin:admin:" HASH "::\n"
	    "alice:domain:" HASH ":a.example,b.example:\n"
	    "bob:user:" HASH "::bob@a.example\n";

	(void)state;
	assert_int_equal(accounts_parse(text, "t", &a, &error), 0);
	assert_int_equal(a->n, 3);
	ac = accounts_find(a, "alice");
	assert_non_null(ac);
	assert_int_equal(ac->scope.role, ACCESS_DOMAIN);
	assert_int_equal(ac->scope.ndomains, 2);
	assert_string_equal(ac->scope.domains[1], "b.example");
	assert_null(accounts_find(a, "carol"));
	/* The hash is of "not-a-password". */
	assert_true(accounts_verify(a, "bob", "not-a-password"));
	assert_false(accounts_verify(a, "bob", "not-a-passwore"));
	assert_false(accounts_verify(a, "bob", ""));
	assert_false(accounts_verify(a, "nobody", "not-a-password"));
	accounts_free(&a);
	assert_null(a);

	static const char *const bad[] = {
		"admin:admin:" HASH ":\n",			/* 4 fields */
		"admin:admin:" HASH ":::\n",			/* 6 fields */
		"Admin:admin:" HASH "::\n",			/* name */
		"admin:root:" HASH "::\n",			/* role */
		"admin:admin:$6$salt$abc::\n",			/* not yescrypt */
		"a:domain:" HASH ":bad..domain:\n",
		"a:user:" HASH "::not-an-address\n",
		"a:admin:" HASH "::\na:user:" HASH "::x@y.z\n",	/* twice */
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_int_equal(accounts_parse(bad[i], "f", &a, &error), -1);
		assert_null(a);
		assert_non_null(error);
		assert_true(strncmp(error, "f:", 2) == 0);
		free(error);
	}
	assert_null(accounts_check_name("alice.b-c_d@x"));
	assert_non_null(accounts_check_name(""));
	assert_non_null(accounts_check_name("-x"));
	assert_non_null(accounts_check_name("a:b"));
}

static void
test_accounts_hash_save(void **state)
{
	struct accounts	*a = calloc(1, sizeof(*a)), *b = NULL;
	struct account	 ac;
	char		 dir[] = "/tmp/test_web.XXXXXX", path[64], *error = NULL;
	struct stat	 st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/users", dir);
	memset(&ac, 0, sizeof(ac));
	ac.name = strdup("carol");
	ac.hash = accounts_hash("s3cret pass", &error);
	assert_non_null(ac.hash);
	assert_true(strncmp(ac.hash, "$y$", 3) == 0);
	ac.scope.role = ACCESS_USER;
	access_add_address(&ac.scope, "Carol@C.example");
	accounts_put(a, &ac);
	assert_null(ac.name);
	assert_null(accounts_hash("", &error));
	free(error);
	error = NULL;
	assert_int_equal(accounts_save(a, path, (gid_t)-1, &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(accounts_load(path, false, &b, &error), 0);
	assert_int_equal(b->n, 1);
	assert_true(accounts_verify(b, "carol", "s3cret pass"));
	assert_false(accounts_verify(b, "carol", "s3cret pas"));
	assert_string_equal(b->v[0].scope.addresses[0], "carol@c.example");
	assert_int_equal(accounts_del(b, "carol"), 0);
	assert_int_equal(accounts_del(b, "carol"), -1);
	accounts_free(&b);
	accounts_free(&a);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(accounts_load(path, true, &b, &error), 0);
	assert_int_equal(b->n, 0);
	accounts_free(&b);
	assert_int_equal(accounts_load(path, false, &b, &error), -1);
	free(error);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_sessions(void **state)
{
	struct sessions	*s = sessions_new(60);
	const struct session *se, *se2;
	char		 token[SESSION_TOKEN_LEN + 1], csrf[SESSION_TOKEN_LEN + 1];
	char		 wrong[SESSION_TOKEN_LEN + 1];

	(void)state;
	se = sessions_create(s, "alice", 1000);
	assert_int_equal(strlen(se->token), SESSION_TOKEN_LEN);
	assert_int_equal(strlen(se->csrf), SESSION_TOKEN_LEN);
	assert_string_not_equal(se->token, se->csrf);
	(void)strcpy(token, se->token);
	(void)strcpy(csrf, se->csrf);
	se2 = sessions_create(s, "bob", 1000);
	assert_string_not_equal(se2->token, token);

	se = sessions_find(s, token, 1059);
	assert_non_null(se);
	assert_string_equal(se->name, "alice");
	assert_true(sessions_csrf_ok(se, csrf));
	assert_false(sessions_csrf_ok(se, NULL));
	assert_false(sessions_csrf_ok(se, ""));
	assert_false(sessions_csrf_ok(se, token));
	(void)strcpy(wrong, csrf);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	assert_false(sessions_csrf_ok(se, wrong));
	assert_null(sessions_find(s, wrong, 1059));
	assert_null(sessions_find(s, NULL, 1059));
	assert_null(sessions_find(s, "short", 1059));
	/* Expired: gone, and removed. */
	assert_null(sessions_find(s, token, 1060));
	assert_int_equal(sessions_count(s), 0);

	se = sessions_create(s, "carol", 2000);
	(void)strcpy(token, se->token);
	sessions_destroy(s, token);
	assert_null(sessions_find(s, token, 2001));
	sessions_free(&s);
	assert_null(s);
}

static void
test_throttle(void **state)
{
	struct sessions	*s = sessions_new(60);
	int		 i;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_false(sessions_throttled(s, "name:carol", 5, 100));
		sessions_failed(s, "name:carol", 100 + i);
	}
	assert_false(sessions_throttled(s, "name:carol", 5, 104));
	sessions_failed(s, "name:carol", 104);
	assert_true(sessions_throttled(s, "name:carol", 5, 105));
	assert_false(sessions_throttled(s, "name:dave", 5, 105));
	assert_false(sessions_throttled(s, "name:carol", 20, 105));
	/* The window passes. */
	assert_false(sessions_throttled(s, "name:carol", 5,
	    100 + SESSION_WINDOW));
	/* Many keys: the table stays bounded, nothing crashes. */
	for (i = 0; i < 10000; i++) {
		char	 key[32];

		(void)snprintf(key, sizeof(key), "addr:%d", i);
		sessions_failed(s, key, 200);
	}
	sessions_free(&s);
}

static void
test_attachments(void **state)
{
	const char	*body =
	    "This is a multi-part message\n"
	    "--b1\n"
	    "Content-Type: text/plain\n\nhello\n"
	    "--b1\n"
	    "Content-Type: application/octet-stream;\n"
	    "\tname=\"invoice.exe\"\n"
	    "Content-Disposition: attachment;\n"
	    " filename=\"invoice.pdf.exe\"\n\nAAAA\n"
	    "--b1\n"
	    "Content-Type: image/png; name=logo.png\n\nBBBB\n"
	    "--b1\n"
	    "Content-Type: image/png; name=logo.png\n\nCCCC\n"
	    "--b1--\n";
	json_t		*a;

	(void)state;
	a = preview_attachments(body, strlen(body));
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "name")), "invoice.pdf.exe");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 0), "type")), "application/octet-stream");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(a, 1), "name")), "logo.png");
	json_decref(a);
	/* Hostile: no end, control characters, an unterminated quote. */
	a = preview_attachments("--x\nContent-Type: a/b; name=\"\x01q\n", 30);
	assert_true(json_array_size(a) <= 1);
	json_decref(a);
	a = preview_attachments("", 0);
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
}

static void
test_config_web(void **state)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	(void)state;
	assert_int_equal(config_load_string("", "t", NULL, NULL, &conf,
	    &errors), 0);
	assert_string_equal(conf->web_listen, "127.0.0.1:8025");
	assert_string_equal(conf->web_user, "holdscan-web");
	assert_int_equal(conf->web_session_lifetime, 8L * 3600 * 1000);
	assert_string_equal(conf->web_database, "");	/* the top-level one */
	{
		char	 path[108], tiny[8];

		assert_int_equal(config_control_socket(conf, path,
		    sizeof(path)), 0);
		assert_string_equal(path, "/run/holdscan/control.sock");
		assert_int_equal(config_control_socket(conf, tiny,
		    sizeof(tiny)), -1);
	}
	config_free(&conf);
	assert_int_equal(config_load_string("pid_file = /x/y/d.pid\n", "t",
	    NULL, NULL, &conf, &errors), 0);
	{
		char	 path[108];

		assert_int_equal(config_control_socket(conf, path,
		    sizeof(path)), 0);
		assert_string_equal(path, "/x/y/control.sock");
	}
	config_free(&conf);
	assert_int_equal(config_load_string("web {\n listen = [::1]:9000\n"
	    " session_lifetime = 30m\n login_attempts = 3\n"
	    " database = \"host=/run/postgresql user=holdscan_web\"\n}\n", "t",
	    NULL, NULL, &conf, &errors), 0);
	assert_string_equal(conf->web_listen, "[::1]:9000");
	assert_string_equal(conf->web_database,
	    "host=/run/postgresql user=holdscan_web");
	assert_int_equal(conf->web_session_lifetime, 30L * 60 * 1000);
	assert_int_equal(conf->web_login_attempts, 3);
	config_free(&conf);
	assert_int_equal(config_load_string("web {\n accounts_file = rel\n"
	    " login_attempts = 0\n}\n", "t", NULL, NULL, &conf, &errors), -1);
	assert_non_null(strstr(errors, "accounts_file"));
	assert_non_null(strstr(errors, "login_attempts"));
	free(errors);
	errors = NULL;
	assert_int_equal(config_load_string("web {\n nonsense = 1\n}\n", "t",
	    NULL, NULL, &conf, &errors), -1);
	free(errors);
}

/* A queue file's image: a hostile message with one attachment. */
static void
preview_msg(struct buf *img)
{
	static const char *const lines[] = {
		"X-Test-Token: t-0",
		"Subject: <img src=x onerror=alert(1)>",
		"Content-Type: multipart/mixed; boundary=\"b\"",
		"",
		"--b",
		"Content-Type: text/html",
		"",
		"<script>document.title='pwned'</script>\x01",
		"--b",
		"Content-Type: application/pdf; name=\"a.pdf\"",
		"",
		"JVBERi0=",
		"--b--",
	};
	struct qfile_rec env[3] = {
		{ QREC_TIME, 17, "1795430590 265925" },
		{ QREC_FROM, 5, "a@b.c" },
		{ QREC_RCPT, 5, "d@e.f" },
	};
	struct qfile_rec content[sizeof(lines) / sizeof(lines[0])];
	struct qfile_parts parts;
	struct qfile_error err;
	size_t		 i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		content[i].type = QREC_NORM;
		content[i].data = lines[i];
		content[i].len = strlen(lines[i]);
	}
	memset(&parts, 0, sizeof(parts));
	parts.env = env;
	parts.nenv = 3;
	parts.content = content;
	parts.ncontent = sizeof(lines) / sizeof(lines[0]);
	parts.nfields = 6;
	if (qfile_image(&parts, img, &err) < 0)
		fail_msg("%s", err.text);
}

static void
test_preview_image(void **state)
{
	struct buf	 img = BUF_INIT;
	json_t		*a = json_object(), *b = json_object(), *c;
	char		*error = NULL, path[] = "/tmp/test_web.XXXXXX";
	const char	*body;
	int		 fd;

	(void)state;
	preview_msg(&img);
	assert_int_equal(preview_image(img.data, img.len, false, a, &error), 0);
	assert_non_null(strstr(json_string_value(json_object_get(a,
	    "headers")), "X-Test-Token: t-0"));
	body = json_string_value(json_object_get(a, "body"));
	/* The script as its text; the control character made safe. */
	assert_non_null(strstr(body, "<script>document.title='pwned'"
	    "</script>"));
	assert_null(strchr(body, '\x01'));
	assert_int_equal(json_array_size(json_object_get(a, "attachments")), 1);
	assert_true(json_is_false(json_object_get(a, "body_truncated")));

	/* The same answer as from a descriptor (this host's file). */
	assert_true((fd = mkstemp(path)) >= 0);
	(void)unlink(path);
	assert_int_equal(write(fd, img.data, img.len), (ssize_t)img.len);
	assert_int_equal(preview_fd(fd, b, &error), 0);
	(void)close(fd);
	assert_true(json_equal(a, b));

	/* Cut short (the farm's bound): an error, nothing set. */
	c = json_object();
	assert_int_equal(preview_image(img.data, img.len - 7, false, c, &error), -1);
	assert_non_null(error);
	assert_int_equal(json_object_size(c), 0);
	free(error);
	error = NULL;
	assert_int_equal(preview_image("", 0, false, c, &error), -1);
	free(error);
	error = NULL;
	assert_int_equal(preview_image("\x43\x01\xff", 3, false, c, &error), -1);
	free(error);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	buf_free(&img);
}

/*
 * Every prefix of a queue file (a farm's preview cut at its bound), each
 * in a buffer of its own length (ASan sees a read past it): an error
 * while the envelope is cut, else the headers and body so far.
 */
static void
test_preview_prefix(void **state)
{
	struct buf	 img = BUF_INIT;
	json_t		*whole = json_object(), *o;
	char		*error = NULL, *p;
	const char	*h;
	size_t		 n, good = 0, first_ok = 0;

	(void)state;
	preview_msg(&img);
	assert_int_equal(preview_image(img.data, img.len, false, whole,
	    &error), 0);
	for (n = 1; n <= img.len; n++) {
		p = xmalloc(n);
		memcpy(p, img.data, n);
		o = json_object();
		if (preview_image(p, n, true, o, &error) == 0) {
			if (first_ok == 0)
				first_ok = n;
			good++;
			assert_true(json_is_true(json_object_get(o,
			    "body_truncated")));
			h = json_string_value(json_object_get(o, "headers"));
			assert_non_null(h);
			/* Never more than the whole file's. */
			assert_non_null(strstr(json_string_value(
			    json_object_get(whole, "headers")), h));
		} else {
			assert_non_null(error);
			assert_int_equal(json_object_size(o), 0);
			/* Once the envelope is whole, every prefix parses. */
			if (first_ok != 0)
				fail_msg("%zu of %zu bytes: %s", n, img.len, error);
			free(error);
			error = NULL;
		}
		json_decref(o);
		free(p);
	}
	assert_true(good > img.len / 2);
	/* The whole file as a prefix: the same as whole, but said cut. */
	o = json_object();
	assert_int_equal(preview_image(img.data, img.len, true, o, &error), 0);
	(void)json_object_set_new(o, "body_truncated", json_false());
	assert_true(json_equal(o, whole));
	json_decref(o);
	json_decref(whole);
	buf_free(&img);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access_roles),
		cmocka_unit_test(test_accounts_parse),
		cmocka_unit_test(test_accounts_hash_save),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_preview_image),
		cmocka_unit_test(test_preview_prefix),
		cmocka_unit_test(test_config_web),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
