/*
 * NAME
 *	digestlink - signed one-click links of quarantine digests
 * DESCRIPTION
 *	digestlink_make() signs (quarantine id, action, recipient, expiry)
 *	with HMAC-SHA256 (libsodium's crypto_auth_hmacsha256, never a
 *	hash of our own) and encodes it URL-safe (sodium_bin2base64, no
 *	padding); digestlink_check() decodes, verifies in constant time
 *	(crypto_auth_hmacsha256_verify), and refuses an altered, expired,
 *	wrong-action, wrong-recipient or used token with its reason. The
 *	token's id in the used store is the hex of the first 16 bytes of
 *	its MAC.
 *
 *	This module must never do I/O, read the clock, keep state between
 *	calls, trust a field of a token before its MAC is verified, or put
 *	the key anywhere but into libsodium.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "common/xalloc.h"
#include "web/digestlink.h"

#define TOKEN_VERSION	1
#define MAC_SIZE	crypto_auth_hmacsha256_BYTES
#define HEAD_SIZE	(1 + 1 + 8 + 1)
#define BIN_MAX		(HEAD_SIZE + DIGESTLINK_ID_MAX + 2 + \
			    DIGESTLINK_RCPT_MAX + MAC_SIZE)

_Static_assert(DIGESTLINK_KEY_SIZE == crypto_auth_hmacsha256_KEYBYTES,
    "the key is an HMAC-SHA256 key");
_Static_assert(DIGESTLINK_TOKEN_MAX >= (BIN_MAX + 2) / 3 * 4,
    "a token of the longest id and recipient fits");

const char *
digestlink_action_name(enum digestlink_action a)
{
	switch (a) {
	case DIGESTLINK_RELEASE:
		return ("release");
	case DIGESTLINK_DELETE:
		return ("delete");
	default:
		return (NULL);
	}
}

enum digestlink_action
digestlink_action_parse(const char *name)
{
	if (strcmp(name, "release") == 0)
		return (DIGESTLINK_RELEASE);
	if (strcmp(name, "delete") == 0)
		return (DIGESTLINK_DELETE);
	return (DIGESTLINK_ANY);
}

const char *
digestlink_reason(enum digestlink_rc rc)
{
	switch (rc) {
	case DIGESTLINK_OK:
		return ("the link is valid");
	case DIGESTLINK_MALFORMED:
		return ("this is not a digest link");
	case DIGESTLINK_FORGED:
		return ("the link was altered (its signature does not match)");
	case DIGESTLINK_EXPIRED:
		return ("the link has expired");
	case DIGESTLINK_WRONG_ACTION:
		return ("the link is for another action");
	case DIGESTLINK_WRONG_RECIPIENT:
		return ("the link is for another recipient");
	case DIGESTLINK_USED:
		return ("the link was used already");
	case DIGESTLINK_ERROR:
		break;
	}
	return ("the link cannot be checked now");
}

/* A quarantine id: letters, digits, '.', '_' and '-'. */
static bool
id_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > DIGESTLINK_ID_MAX)
		return (false);
	for (i = 0; i < n; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || c == '.' || c == '_' || c == '-'))
			return (false);
	}
	return (true);
}

/* A recipient: no control characters (C0, DEL), no NUL, not empty. */
static bool
rcpt_ok(const char *s, size_t n)
{
	size_t	 i;

	if (n == 0 || n > DIGESTLINK_RCPT_MAX)
		return (false);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return (false);
	return (true);
}

bool
digestlink_rcpt_ok(const char *rcpt)
{
	return (rcpt_ok(rcpt, strlen(rcpt)));
}

int
digestlink_make(const unsigned char key[DIGESTLINK_KEY_SIZE], const char *qid,
    enum digestlink_action action, const char *rcpt, time_t expiry,
    struct buf *out, char **error_r)
{
	unsigned char	 bin[BIN_MAX];
	char		 b64[DIGESTLINK_TOKEN_MAX + 1];
	size_t		 n = 0, idlen = strlen(qid), rlen = strlen(rcpt), i;
	uint64_t	 ex = (uint64_t)expiry;

	if (sodium_init() < 0) {
		*error_r = xstrdup("libsodium cannot be initialised");
		return (-1);
	}
	if (!id_ok(qid, idlen)) {
		*error_r = xstrdup("the quarantine id cannot be put in a link");
		return (-1);
	}
	if (!rcpt_ok(rcpt, rlen)) {
		*error_r = xstrdup("the recipient cannot be put in a link "
		    "(empty, longer than 320 bytes, or control characters)");
		return (-1);
	}
	if (digestlink_action_name(action) == NULL || expiry <= 0) {
		*error_r = xstrdup("no action or no expiry for a link");
		return (-1);
	}
	bin[n++] = TOKEN_VERSION;
	bin[n++] = (unsigned char)action;
	for (i = 0; i < 8; i++)
		bin[n++] = (unsigned char)(ex >> (56 - 8 * i));
	bin[n++] = (unsigned char)idlen;
	memcpy(bin + n, qid, idlen);
	n += idlen;
	bin[n++] = (unsigned char)(rlen >> 8);
	bin[n++] = (unsigned char)rlen;
	memcpy(bin + n, rcpt, rlen);
	n += rlen;
	(void)crypto_auth_hmacsha256(bin + n, bin, n, key);
	n += MAC_SIZE;
	(void)sodium_bin2base64(b64, sizeof(b64), bin, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	buf_append(out, b64, strlen(b64));
	return (0);
}

/* The fields of a verified token; false when they do not add up. */
static bool
parse(const unsigned char *bin, size_t n, struct digestlink *out)
{
	size_t		 off = 0, idlen, rlen, i;
	uint64_t	 ex = 0;

	if (n < HEAD_SIZE || bin[0] != TOKEN_VERSION)
		return (false);
	if (bin[1] != DIGESTLINK_RELEASE && bin[1] != DIGESTLINK_DELETE)
		return (false);
	out->action = (enum digestlink_action)bin[1];
	for (i = 0; i < 8; i++)
		ex = (ex << 8) | bin[2 + i];
	if (ex == 0 || ex > (uint64_t)INT64_MAX)
		return (false);
	out->expiry = (time_t)ex;
	off = 10;
	idlen = bin[off++];
	if (off + idlen + 2 > n || !id_ok((const char *)bin + off, idlen))
		return (false);
	memcpy(out->qid, bin + off, idlen);
	out->qid[idlen] = '\0';
	off += idlen;
	rlen = ((size_t)bin[off] << 8) | bin[off + 1];
	off += 2;
	if (off + rlen != n || !rcpt_ok((const char *)bin + off, rlen))
		return (false);
	memcpy(out->rcpt, bin + off, rlen);
	out->rcpt[rlen] = '\0';
	return (true);
}

enum digestlink_rc
digestlink_check(const unsigned char key[DIGESTLINK_KEY_SIZE],
    const char *token, time_t now, enum digestlink_action want,
    const char *rcpt, const struct digestlink_used *used,
    enum digestlink_mode mode, struct digestlink *out, char **error_r)
{
	unsigned char	 bin[BIN_MAX];
	size_t		 tlen = strlen(token), n = 0, i;
	const char	*end = NULL;
	int		 r;

	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0) {
		*error_r = xstrdup("libsodium cannot be initialised");
		return (DIGESTLINK_ERROR);
	}
	if (tlen == 0 || tlen > DIGESTLINK_TOKEN_MAX ||
	    sodium_base642bin(bin, sizeof(bin), token, tlen, NULL, &n, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != token + tlen || n < HEAD_SIZE + MAC_SIZE)
		return (DIGESTLINK_MALFORMED);
	if (crypto_auth_hmacsha256_verify(bin + n - MAC_SIZE, bin,
	    n - MAC_SIZE, key) != 0)
		return (DIGESTLINK_FORGED);
	if (!parse(bin, n - MAC_SIZE, out)) {
		/* Signed by us, yet not a token of this version. */
		memset(out, 0, sizeof(*out));
		return (DIGESTLINK_MALFORMED);
	}
	for (i = 0; i < 16; i++)
		(void)snprintf(out->tokid + 2 * i, 3, "%02x",
		    bin[n - MAC_SIZE + i]);
	if (now >= out->expiry)
		return (DIGESTLINK_EXPIRED);
	if (want != DIGESTLINK_ANY && want != out->action)
		return (DIGESTLINK_WRONG_ACTION);
	if (rcpt != NULL && strcasecmp(rcpt, out->rcpt) != 0)
		return (DIGESTLINK_WRONG_RECIPIENT);
	if (used == NULL)
		return (DIGESTLINK_OK);
	if (mode == DIGESTLINK_USE)
		r = used->claim(used->arg, out->tokid, out->expiry, now, error_r);
	else
		r = used->seen(used->arg, out->tokid, now, error_r);
	if (r < 0)
		return (DIGESTLINK_ERROR);
	return (r > 0 ? DIGESTLINK_USED : DIGESTLINK_OK);
}

const char *
digestlink_token_of(const char *s, char *buf, size_t size)
{
	const char	*p, *start = s;
	size_t		 n;

	for (p = s; (p = strstr(p, "/d/")) != NULL; p += 3)
		start = p + 3;
	n = strcspn(start, "?#");
	if (n == 0 || n > DIGESTLINK_TOKEN_MAX || n >= size)
		return (NULL);
	memcpy(buf, start, n);
	buf[n] = '\0';
	return (buf);
}
