/*
 * NAME
 *	test_digestlink - unit tests for digest links, their key and the
 *	used store
 * DESCRIPTION
 *	Round trip of a token; every refusal (malformed, altered, expired,
 *	wrong action, wrong recipient, used); tampering with each field of
 *	a decoded token and with its MAC; the expiry boundary; a link that
 *	works once (GET looks, POST claims) with the file store, its
 *	pruning and unclaim; the key file's creation, modes and format.
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
#include <sodium.h>

#include "common/buf.h"
#include "web/digestkey.h"
#include "web/digestlink.h"
#include "web/digestused.h"

#define QID	"20261203T101502-3F2A1C0B7"
#define RCPT	"Anna.Bell@example.org"
#define NOW	((time_t)1764756000)
#define EXPIRY	(NOW + 7 * 86400)

static unsigned char key[DIGESTLINK_KEY_SIZE];

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	memset(key, 0x5a, sizeof(key));
	return (0);
}

static char *
make(const char *qid, enum digestlink_action a, const char *rcpt, time_t ex)
{
	struct buf	 b = BUF_INIT;
	char		*error = NULL;

	if (digestlink_make(key, qid, a, rcpt, ex, &b, &error) < 0)
		fail_msg("make: %s", error);
	return (buf_steal(&b, NULL));
}

static enum digestlink_rc
check(const char *tok, time_t now, enum digestlink_action want,
    const char *rcpt, struct digestlink *out)
{
	char	*error = NULL;

	return (digestlink_check(key, tok, now, want, rcpt, NULL,
	    DIGESTLINK_LOOK, out, &error));
}

static void
test_round_trip(void **state)
{
	struct digestlink l;
	char		*t = make(QID, DIGESTLINK_RELEASE, RCPT, EXPIRY);
	char		*d = make(QID, DIGESTLINK_DELETE, RCPT, EXPIRY);
	size_t		 i;

	(void)state;
	assert_true(strlen(t) < DIGESTLINK_TOKEN_MAX);
	for (i = 0; t[i]; i++)	/* URL-safe, no padding */
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789-_", t[i]));
	assert_int_equal(check(t, NOW, DIGESTLINK_ANY, NULL, &l), DIGESTLINK_OK);
	assert_string_equal(l.qid, QID);
	assert_string_equal(l.rcpt, RCPT);
	assert_int_equal(l.action, DIGESTLINK_RELEASE);
	assert_int_equal(l.expiry, EXPIRY);
	assert_int_equal(strlen(l.tokid), 32);
	assert_int_equal(check(t, NOW, DIGESTLINK_RELEASE, "anna.bell@EXAMPLE.org",
	    &l), DIGESTLINK_OK);
	assert_int_equal(check(d, NOW, DIGESTLINK_DELETE, RCPT, &l),
	    DIGESTLINK_OK);
	assert_int_equal(l.action, DIGESTLINK_DELETE);
	/* Release and delete links of one message are different tokens. */
	assert_string_not_equal(t, d);
	free(t);
	free(d);
}

static void
test_refusals(void **state)
{
	struct digestlink l;
	char		*t = make(QID, DIGESTLINK_RELEASE, RCPT, EXPIRY);
	unsigned char	 other[DIGESTLINK_KEY_SIZE];
	char		*error = NULL;

	(void)state;
	assert_int_equal(check(t, NOW, DIGESTLINK_DELETE, NULL, &l),
	    DIGESTLINK_WRONG_ACTION);
	assert_string_equal(l.qid, QID);	/* filled: the page can say which */
	assert_int_equal(check(t, NOW, DIGESTLINK_ANY, "ben@example.org", &l),
	    DIGESTLINK_WRONG_RECIPIENT);
	assert_int_equal(check(t, EXPIRY + 1, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_EXPIRED);
	memset(other, 0x5b, sizeof(other));
	assert_int_equal(digestlink_check(other, t, NOW, DIGESTLINK_ANY, NULL,
	    NULL, DIGESTLINK_LOOK, &l, &error), DIGESTLINK_FORGED);
	assert_string_equal(l.qid, "");		/* nothing from a forged one */
	assert_int_equal(check("", NOW, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_MALFORMED);
	assert_int_equal(check("not a token!", NOW, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_MALFORMED);
	assert_int_equal(check("QUJD", NOW, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_MALFORMED);
	t[strlen(t) - 3] = '\0';		/* cut */
	assert_true(check(t, NOW, DIGESTLINK_ANY, NULL, &l) ==
	    DIGESTLINK_MALFORMED || check(t, NOW, DIGESTLINK_ANY, NULL, &l) ==
	    DIGESTLINK_FORGED);
	free(t);
	/* Reasons are sentences. */
	assert_string_equal(digestlink_reason(DIGESTLINK_EXPIRED),
	    "the link has expired");
	assert_non_null(strstr(digestlink_reason(DIGESTLINK_FORGED), "altered"));
}

/* Decode, flip one byte at off, encode: a signed-looking altered token. */
static char *
tampered(const char *tok, size_t off, unsigned char flip)
{
	unsigned char	 bin[1024];
	char		 out[2048];
	size_t		 n = 0;

	assert_int_equal(sodium_base642bin(bin, sizeof(bin), tok, strlen(tok),
	    NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_true(off < n);
	bin[off] ^= flip;
	(void)sodium_bin2base64(out, sizeof(out), bin, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return (strdup(out));
}

static void
test_tamper_each_field(void **state)
{
	struct digestlink l;
	char		*t = make(QID, DIGESTLINK_RELEASE, RCPT, EXPIRY), *x;
	size_t		 idoff = 11, roff = 11 + strlen(QID) + 2, n, i;
	/* version, action, expiry (high and low byte), id length, id,
	 * recipient length, recipient, MAC (first and last byte) */
	size_t		 offs[10];
	unsigned char	 bin[1024];

	(void)state;
	assert_int_equal(sodium_base642bin(bin, sizeof(bin), t, strlen(t),
	    NULL, &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	offs[0] = 0;
	offs[1] = 1;
	offs[2] = 2;
	offs[3] = 9;
	offs[4] = 10;
	offs[5] = idoff + 5;
	offs[6] = roff - 1;
	offs[7] = roff + 2;
	offs[8] = n - 32;
	offs[9] = n - 1;
	for (i = 0; i < 10; i++) {
		x = tampered(t, offs[i], i == 1 ? 3 : 1);	/* release -> delete */
		assert_int_equal(check(x, NOW, DIGESTLINK_ANY, NULL, &l),
		    DIGESTLINK_FORGED);
		free(x);
	}
	/* A changed character of the text (not only a decoded byte). */
	x = strdup(t);
	x[5] = x[5] == 'A' ? 'B' : 'A';
	assert_int_equal(check(x, NOW, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_FORGED);
	free(x);
	free(t);
}

static void
test_expiry_boundary(void **state)
{
	struct digestlink l;
	char		*t = make(QID, DIGESTLINK_DELETE, RCPT, EXPIRY);

	(void)state;
	assert_int_equal(check(t, EXPIRY - 1, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_OK);
	assert_int_equal(check(t, EXPIRY, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_EXPIRED);
	assert_int_equal(check(t, EXPIRY + 86400, DIGESTLINK_ANY, NULL, &l),
	    DIGESTLINK_EXPIRED);
	/* Expiry is checked before the action and the recipient. */
	assert_int_equal(check(t, EXPIRY, DIGESTLINK_RELEASE, "x@y", &l),
	    DIGESTLINK_EXPIRED);
	free(t);
}

static void
test_make_refuses(void **state)
{
	struct buf	 b = BUF_INIT;
	char		 longr[400], *error = NULL;

	(void)state;
	assert_int_equal(digestlink_make(key, "", DIGESTLINK_RELEASE, RCPT,
	    EXPIRY, &b, &error), -1);
	free(error);
	assert_int_equal(digestlink_make(key, "../etc", DIGESTLINK_RELEASE,
	    RCPT, EXPIRY, &b, &error), -1);
	free(error);
	assert_int_equal(digestlink_make(key, QID, DIGESTLINK_RELEASE,
	    "a@b\nBcc: c@d", EXPIRY, &b, &error), -1);
	free(error);
	memset(longr, 'a', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	assert_int_equal(digestlink_make(key, QID, DIGESTLINK_RELEASE, longr,
	    EXPIRY, &b, &error), -1);
	free(error);
	assert_int_equal(digestlink_make(key, QID, DIGESTLINK_ANY, RCPT,
	    EXPIRY, &b, &error), -1);
	free(error);
	assert_int_equal(b.len, 0);
	/* The longest recipient fits a token. */
	longr[DIGESTLINK_RCPT_MAX] = '\0';
	assert_int_equal(digestlink_make(key, QID, DIGESTLINK_RELEASE, longr,
	    EXPIRY, &b, &error), 0);
	assert_true(b.len <= DIGESTLINK_TOKEN_MAX);
	buf_free(&b);
}

static void
test_token_of(void **state)
{
	char	 buf[DIGESTLINK_TOKEN_MAX + 1];

	(void)state;
	assert_string_equal(digestlink_token_of("https://mx.example/hs/d/AbC-_9",
	    buf, sizeof(buf)), "AbC-_9");
	assert_string_equal(digestlink_token_of("https://x/d/y/d/Tok?x=1#f",
	    buf, sizeof(buf)), "Tok");
	assert_string_equal(digestlink_token_of("Tok", buf, sizeof(buf)), "Tok");
	assert_null(digestlink_token_of("https://x/d/", buf, sizeof(buf)));
}

static char *
tmpdir(void)
{
	char	 tmpl[] = "/tmp/test_digestlink.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	return (strdup(tmpl));
}

static void
rmtree(const char *dir)
{
	char	 cmd[300];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_once_only(void **state)
{
	struct digestlink_used ops;
	struct digestused *u;
	struct digestlink l;
	struct stat	 st;
	char		*dir = tmpdir(), *path, *error = NULL;
	char		 dtok[DIGESTLINK_TOKID_SIZE];
	char		*t = make(QID, DIGESTLINK_RELEASE, RCPT, EXPIRY);
	char		*d = make(QID, DIGESTLINK_DELETE, RCPT, EXPIRY);

	(void)state;
	path = NULL;
	assert_true(asprintf(&path, "%s/used", dir) > 0);
	u = digestused_new(path);
	digestused_ops(u, &ops);
	/* GET looks, as often as a scanner likes: nothing is used. */
	assert_int_equal(digestlink_check(key, t, NOW, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_LOOK, &l, &error), DIGESTLINK_OK);
	assert_int_equal(digestlink_check(key, t, NOW, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_LOOK, &l, &error), DIGESTLINK_OK);
	/* POST uses it, once. */
	assert_int_equal(digestlink_check(key, t, NOW, DIGESTLINK_RELEASE, RCPT,
	    &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(digestlink_check(key, t, NOW + 1, DIGESTLINK_RELEASE,
	    RCPT, &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_USED);
	assert_int_equal(digestlink_check(key, t, NOW + 1, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_LOOK, &l, &error), DIGESTLINK_USED);
	/* Another store object on the same file (another process) agrees. */
	digestused_free(&u);
	u = digestused_new(path);
	digestused_ops(u, &ops);
	assert_int_equal(digestlink_check(key, t, NOW + 2, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_USED);
	/* The delete link of the same message is a link of its own. */
	assert_int_equal(digestlink_check(key, d, NOW, DIGESTLINK_DELETE, RCPT,
	    &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_OK);
	(void)snprintf(dtok, sizeof(dtok), "%s", l.tokid);
	/* Expired is refused as expired, whether used or not. */
	assert_int_equal(digestlink_check(key, t, EXPIRY, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_EXPIRED);
	/* Unclaim (the action failed before it did anything): usable again. */
	assert_int_equal(digestused_unclaim(u, dtok, NOW, &error), 0);
	assert_int_equal(digestlink_check(key, t, NOW, DIGESTLINK_ANY, RCPT,
	    &ops, DIGESTLINK_LOOK, &l, &error), DIGESTLINK_USED);
	assert_int_equal(digestlink_check(key, d, NOW, DIGESTLINK_DELETE, RCPT,
	    &ops, DIGESTLINK_USE, &l, &error), DIGESTLINK_OK);
	assert_int_equal(digestused_seen(u, "not hex", NOW, &error), -1);
	free(error);
	digestused_free(&u);
	free(t);
	free(d);
	free(path);
	rmtree(dir);
	free(dir);
}

static size_t
lines_of(const char *path)
{
	FILE	*fp = fopen(path, "r");
	size_t	 n = 0;
	int	 c;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	(void)fclose(fp);
	return (n);
}

static void
test_used_prune(void **state)
{
	struct digestused *u;
	char		*dir = tmpdir(), *path = NULL, *error = NULL, id[40];
	FILE		*fp;
	int		 i;

	(void)state;
	assert_true(asprintf(&path, "%s/used", dir) > 0);
	/* 300 expired lines, 10 live ones, and garbage */
	assert_non_null(fp = fopen(path, "w"));
	for (i = 0; i < 300; i++)
		fprintf(fp, "%lld %032x\n", (long long)NOW - 10, i);
	for (i = 0; i < 10; i++)
		fprintf(fp, "%lld %032x\n", (long long)NOW + 100, 1000 + i);
	fprintf(fp, "garbage\n\n99999999999999999999999 x\n");
	assert_int_equal(fclose(fp), 0);
	u = digestused_new(path);
	(void)snprintf(id, sizeof(id), "%032x", 1003);
	assert_int_equal(digestused_seen(u, id, NOW, &error), 1);
	assert_int_equal(digestused_claim(u, id, NOW + 100, NOW, &error), 1);
	(void)snprintf(id, sizeof(id), "%032x", 5);	/* expired: not used */
	assert_int_equal(digestused_seen(u, id, NOW, &error), 0);
	(void)snprintf(id, sizeof(id), "%032x", 7777);
	assert_int_equal(digestused_claim(u, id, NOW + 100, NOW, &error), 0);
	/* Pruned: the 10 live ones and the new one are left. */
	assert_int_equal(lines_of(path), 11);
	assert_int_equal(digestused_seen(u, id, NOW, &error), 1);
	(void)snprintf(id, sizeof(id), "%032x", 1009);
	assert_int_equal(digestused_seen(u, id, NOW, &error), 1);
	digestused_free(&u);
	/* A symbolic link is not followed. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	u = digestused_new(path);
	assert_int_equal(digestused_claim(u, id, NOW + 100, NOW, &error), -1);
	free(error);
	digestused_free(&u);
	free(path);
	rmtree(dir);
	free(dir);
}

static void
test_key_file(void **state)
{
	unsigned char	 k1[DIGESTLINK_KEY_SIZE], k2[DIGESTLINK_KEY_SIZE];
	struct stat	 st;
	char		*dir = tmpdir(), *path = NULL, *error = NULL;
	FILE		*fp;

	(void)state;
	assert_true(asprintf(&path, "%s/digest.key", dir) > 0);
	assert_int_equal(digestkey_create(path, (gid_t)-1, &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(digestkey_load(path, k1, &error), 0);
	/* Never overwritten. */
	assert_int_equal(digestkey_create(path, (gid_t)-1, &error), -1);
	free(error);
	assert_int_equal(digestkey_load(path, k2, &error), 0);
	assert_memory_equal(k1, k2, sizeof(k1));
	/* With a group: 0640. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(digestkey_create(path, getgid(), &error), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(digestkey_load(path, k2, &error), 0);
	assert_memory_not_equal(k1, k2, sizeof(k1));	/* random */
	/* Readable by others, or writable by the group: refused. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(digestkey_load(path, k2, &error), -1);
	assert_non_null(strstr(error, "chmod 0640"));
	free(error);
	assert_int_equal(chmod(path, 0660), 0);
	assert_int_equal(digestkey_load(path, k2, &error), -1);
	free(error);
	/* Not a key; the message does not show the contents. */
	assert_int_equal(unlink(path), 0);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "secretsecretsecret\n");
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(digestkey_load(path, k2, &error), -1);
	assert_null(strstr(error, "secret"));
	free(error);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(digestkey_load(path, k2, &error), -1);
	assert_non_null(strstr(error, "--init-key"));
	free(error);
	free(path);
	rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tamper_each_field),
		cmocka_unit_test(test_expiry_boundary),
		cmocka_unit_test(test_make_refuses),
		cmocka_unit_test(test_token_of),
		cmocka_unit_test(test_once_only),
		cmocka_unit_test(test_used_prune),
		cmocka_unit_test(test_key_file),
	};

	return (cmocka_run_group_tests(tests, setup, NULL));
}
