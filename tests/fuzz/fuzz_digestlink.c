/*
 * NAME
 *	fuzz_digestlink - libFuzzer target for digest link tokens
 * DESCRIPTION
 *	Mode by the first byte. Even: the rest is a link as it comes from a
 *	browser: digestlink_token_of() then digestlink_check(); the answer
 *	must be a refusal or OK, never a crash, and what a check fills in
 *	must be C strings within their arrays. Odd: the rest is a
 *	quarantine id and a recipient separated by a NUL: when
 *	digestlink_make() takes them, the token must check OK and give them
 *	back, and with any one character changed must not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "web/digestlink.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[DIGESTLINK_KEY_SIZE] = "fuzzing key, 32 bytes long.....";

static void
check_link(const char *s)
{
	char		 tok[DIGESTLINK_TOKEN_MAX + 1], *error = NULL;
	struct digestlink l;
	enum digestlink_rc rc;

	if (digestlink_token_of(s, tok, sizeof(tok)) == NULL)
		return;
	rc = digestlink_check(key, tok, 1000, DIGESTLINK_ANY, NULL, NULL,
	    DIGESTLINK_LOOK, &l, &error);
	free(error);
	if (rc > DIGESTLINK_ERROR || strlen(l.qid) > DIGESTLINK_ID_MAX ||
	    strlen(l.rcpt) > DIGESTLINK_RCPT_MAX)
		abort();
}

static void
round_trip(const char *qid, const char *rcpt)
{
	struct buf	 b = BUF_INIT;
	struct digestlink l;
	char		*error = NULL;
	size_t		 i;

	if (digestlink_make(key, qid, DIGESTLINK_DELETE, rcpt, 2000, &b,
	    &error) < 0) {
		free(error);
		return;
	}
	if (digestlink_check(key, b.data, 1000, DIGESTLINK_DELETE, rcpt, NULL,
	    DIGESTLINK_LOOK, &l, &error) != DIGESTLINK_OK ||
	    strcmp(l.qid, qid) != 0 || strcmp(l.rcpt, rcpt) != 0)
		abort();
	for (i = 0; i < b.len; i += 7) {
		char	 c = b.data[i];

		b.data[i] = c == 'A' ? 'B' : 'A';
		if (digestlink_check(key, b.data, 1000, DIGESTLINK_ANY, NULL,
		    NULL, DIGESTLINK_LOOK, &l, &error) == DIGESTLINK_OK)
			abort();
		b.data[i] = c;
	}
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size < 1 || size > 4096)
		return (0);
	s = malloc(size);
	if (s == NULL)
		return (0);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] % 2 == 0)
		check_link(s);
	else
		round_trip(s, s + strlen(s) + (strlen(s) < size - 1 ? 1 : 0));
	free(s);
	return (0);
}
