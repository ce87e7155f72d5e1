/*
 * session.h - the web console's logins: random session tokens (the
 * cookie), a CSRF token each, an absolute expiry; and the count of
 * failed logins that refuses further tries for a while.
 *
 * Used by holdscan-web's HTTP thread only (no locks).
 */
#ifndef HS_SESSION_H
#define HS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SESSION_TOKEN_BYTES	32
#define SESSION_TOKEN_LEN	(2 * SESSION_TOKEN_BYTES)	/* hex */
#define SESSION_MAX		10000
#define SESSION_WINDOW		(15 * 60)	/* failed logins counted this long */

struct session {
	char		 token[SESSION_TOKEN_LEN + 1];
	char		 csrf[SESSION_TOKEN_LEN + 1];
	char		*name;		/* the account; looked up on each use */
	time_t		 expires;
};

struct sessions;

struct sessions *sessions_new(long lifetime_s);
void	 sessions_free(struct sessions **s);
/*
 * sessions_create() starts a session for name (the oldest is dropped
 * when SESSION_MAX are open); borrowed until the next call.
 */
const struct session *sessions_create(struct sessions *s, const char *name,
	    time_t now);
/* The live session with this token (constant-time compares), or NULL. */
const struct session *sessions_find(struct sessions *s, const char *token,
	    time_t now);
void	 sessions_destroy(struct sessions *s, const char *token);
/* Whether header is the session's CSRF token (constant time). */
bool	 sessions_csrf_ok(const struct session *se, const char *header);
/*
 * Failed logins, by key ("name:alice", "addr:192.0.2.1"):
 * sessions_throttled() is true when key failed limit times or more in
 * the last SESSION_WINDOW seconds; sessions_failed() counts one more.
 */
bool	 sessions_throttled(struct sessions *s, const char *key, long limit,
	    time_t now);
void	 sessions_failed(struct sessions *s, const char *key, time_t now);
/* Sessions open now (tests). */
size_t	 sessions_count(const struct sessions *s);

#endif
