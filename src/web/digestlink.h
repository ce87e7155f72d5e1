/*
 * digestlink.h - one-click links of quarantine digests: signed tokens
 * that name one quarantined message, one action (release or delete), the
 * recipient the digest went to and an expiry.
 *
 * A token is URL-safe base64 (no padding) of
 *	version (1) | action (1) | expiry (8, big-endian seconds) |
 *	id length (1) | id | recipient length (2, big-endian) | recipient |
 *	HMAC-SHA256 (32) over everything before it
 * made and checked with libsodium (crypto_auth_hmacsha256), the MAC
 * compared in constant time. Pure: no I/O, no clock; the caller passes
 * the key, the time and the store of used tokens.
 */
#ifndef HS_DIGESTLINK_H
#define HS_DIGESTLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"

#define DIGESTLINK_KEY_SIZE	32	/* crypto_auth_hmacsha256_KEYBYTES */
#define DIGESTLINK_ID_MAX	64	/* bytes of a quarantine id */
#define DIGESTLINK_RCPT_MAX	320	/* bytes of a recipient (RFC 5321: 64 + 255 + 1) */
/* Characters of a token at most, and of its id (hex) with the NUL. */
#define DIGESTLINK_TOKEN_MAX	600
#define DIGESTLINK_TOKID_SIZE	33

enum digestlink_action {
	DIGESTLINK_ANY = 0,	/* for digestlink_check(): either */
	DIGESTLINK_RELEASE = 1,
	DIGESTLINK_DELETE = 2,
};

/* A token, parsed. */
struct digestlink {
	char		 qid[DIGESTLINK_ID_MAX + 1];
	enum digestlink_action action;
	char		 rcpt[DIGESTLINK_RCPT_MAX + 1];
	time_t		 expiry;	/* valid while now < expiry */
	char		 tokid[DIGESTLINK_TOKID_SIZE];	/* names it in the used store */
};

enum digestlink_rc {
	DIGESTLINK_OK = 0,
	DIGESTLINK_MALFORMED,		/* not a token of ours */
	DIGESTLINK_FORGED,		/* the signature does not match: altered */
	DIGESTLINK_EXPIRED,
	DIGESTLINK_WRONG_ACTION,
	DIGESTLINK_WRONG_RECIPIENT,
	DIGESTLINK_USED,		/* it worked once already */
	DIGESTLINK_ERROR,		/* the used store failed: *error_r */
};

/* "release" or "delete" (NULL for ANY), and back (DIGESTLINK_ANY: unknown). */
const char *digestlink_action_name(enum digestlink_action a);
enum digestlink_action digestlink_action_parse(const char *name);
/* One sentence for a person, e.g. "the link has expired". */
const char *digestlink_reason(enum digestlink_rc rc);

/*
 * The store of used tokens (digestused.h has one in a file). claim()
 * records tokid as used until expiry: 0 it was not used before, 1 it
 * was, -1 with *error_r; seen() says whether it is used: 1, 0 or -1.
 */
struct digestlink_used {
	int	(*claim)(void *arg, const char *tokid, time_t expiry,
		    time_t now, char **error_r);
	int	(*seen)(void *arg, const char *tokid, time_t now,
		    char **error_r);
	void	*arg;
};

/* Can rcpt be put in a token (not empty, at most 320 bytes, no controls)? */
bool	 digestlink_rcpt_ok(const char *rcpt);

/*
 * digestlink_make() appends the token for (qid, action, rcpt, expiry) to
 * out. 0, or -1 with *error_r (an id or a recipient that cannot be put
 * in a token: too long, control characters; libsodium not usable).
 */
int	 digestlink_make(const unsigned char key[DIGESTLINK_KEY_SIZE],
	    const char *qid, enum digestlink_action action, const char *rcpt,
	    time_t expiry, struct buf *out, char **error_r);

/*
 * What a check does with the used store.
 *	DIGESTLINK_LOOK	GET /d/TOKEN: a used token is refused, nothing is
 *			recorded (mail scanners fetch links: never act on GET)
 *	DIGESTLINK_USE	POST /d/TOKEN: the token is claimed; a second use
 *			is refused
 */
enum digestlink_mode {
	DIGESTLINK_LOOK,
	DIGESTLINK_USE,
};

/*
 * digestlink_check() checks token (the path component after /d/) at
 * time now and fills *out. In order: the form (MALFORMED), the signature
 * in constant time (FORGED), now < expiry (EXPIRED), the action when
 * want is not ANY (WRONG_ACTION), the recipient when rcpt is not NULL,
 * compared without regard to case (WRONG_RECIPIENT), then the used store
 * when used is not NULL (USED, or ERROR with *error_r). *out is filled
 * from a token whose signature matched, even when it is refused later
 * (so that a page can say which message); else it is zeroed.
 *
 * The caller then checks the message itself: that the quarantine entry
 * out->qid exists, names out->rcpt among its recipients, and is still
 * held (the second guard: a message released or deleted already is not
 * released again).
 */
enum digestlink_rc digestlink_check(const unsigned char key[DIGESTLINK_KEY_SIZE],
	    const char *token, time_t now, enum digestlink_action want,
	    const char *rcpt, const struct digestlink_used *used,
	    enum digestlink_mode mode, struct digestlink *out, char **error_r);

/*
 * The token in a link: what follows the last "/d/" up to '?', '#' or
 * the end (the whole of s when it has no "/d/"); NULL when empty or
 * longer than DIGESTLINK_TOKEN_MAX. Written into buf (size bytes).
 */
const char *digestlink_token_of(const char *s, char *buf, size_t size);

#endif
