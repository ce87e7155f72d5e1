/*
 * NAME
 *	session - the web console's sessions and login throttle
 * DESCRIPTION
 *	A session token and its CSRF token are 32 random bytes each from
 *	libsodium (randombytes_buf, the kernel's getrandom), in hex. The
 *	token is the cookie (HttpOnly, SameSite=Strict); the CSRF token is
 *	told to the page, which sends it in a header with every POST.
 *	Sessions end SESSION_LIFETIME after login, at logout, or when the
 *	account goes (the caller looks the name up on each use).
 *
 *	Failed logins are counted per key (the name tried, the client
 *	address) in a window of SESSION_WINDOW seconds; at the limit every
 *	try is refused, the right password too, until the window passes.
 *	The table of counts is bounded: when full, the oldest count goes.
 *
 *	This module must never compare a token but in constant time, and
 *	never log one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/xalloc.h"
#include "web/session.h"

#define ATTEMPTS_MAX	4096

struct attempt {
	char		 key[96];
	time_t		 first;
	long		 n;
};

struct sessions {
	struct session	*v;
	size_t		 n;
	long		 lifetime;
	struct attempt	 att[ATTEMPTS_MAX];
	size_t		 natt;
};

struct sessions *
sessions_new(long lifetime_s)
{
	struct sessions	*s = xcalloc(1, sizeof(*s));

	if (sodium_init() < 0)
		abort();	/* no source of randomness: nothing is safe */
	s->lifetime = lifetime_s;
	return (s);
}

static void
drop(struct sessions *s, size_t i)
{
	sodium_memzero(s->v[i].token, sizeof(s->v[i].token));
	sodium_memzero(s->v[i].csrf, sizeof(s->v[i].csrf));
	free(s->v[i].name);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

void
sessions_free(struct sessions **sp)
{
	struct sessions	*s = *sp;

	if (s == NULL)
		return;
	while (s->n > 0)
		drop(s, s->n - 1);
	free(s->v);
	free(s);
	*sp = NULL;
}

static void
random_hex(char *out)
{
	unsigned char	 b[SESSION_TOKEN_BYTES];

	randombytes_buf(b, sizeof(b));
	(void)sodium_bin2hex(out, SESSION_TOKEN_LEN + 1, b, sizeof(b));
	sodium_memzero(b, sizeof(b));
}

const struct session *
sessions_create(struct sessions *s, const char *name, time_t now)
{
	struct session	*se;

	if (s->n >= SESSION_MAX)
		drop(s, 0);	/* the oldest */
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	se = &s->v[s->n++];
	memset(se, 0, sizeof(*se));
	random_hex(se->token);
	random_hex(se->csrf);
	se->name = xstrdup(name);
	se->expires = now + s->lifetime;
	return (se);
}

static bool
token_eq(const char *a, const char *b)
{
	return (strlen(b) == SESSION_TOKEN_LEN &&
	    sodium_memcmp(a, b, SESSION_TOKEN_LEN) == 0);
}

const struct session *
sessions_find(struct sessions *s, const char *token, time_t now)
{
	size_t	 i;

	if (token == NULL)
		return (NULL);
	for (i = 0; i < s->n; ) {
		if (s->v[i].expires <= now) {
			drop(s, i);
			continue;
		}
		if (token_eq(s->v[i].token, token))
			return (&s->v[i]);
		i++;
	}
	return (NULL);
}

void
sessions_destroy(struct sessions *s, const char *token)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (token_eq(s->v[i].token, token)) {
			drop(s, i);
			return;
		}
}

bool
sessions_csrf_ok(const struct session *se, const char *header)
{
	return (header != NULL && token_eq(se->csrf, header));
}

static struct attempt *
attempt_find(struct sessions *s, const char *key, time_t now)
{
	size_t	 i;

	for (i = 0; i < s->natt; ) {
		if (now - s->att[i].first >= SESSION_WINDOW) {
			s->att[i] = s->att[--s->natt];
			continue;
		}
		if (strcmp(s->att[i].key, key) == 0)
			return (&s->att[i]);
		i++;
	}
	return (NULL);
}

bool
sessions_throttled(struct sessions *s, const char *key, long limit, time_t now)
{
	struct attempt	*a = attempt_find(s, key, now);

	return (a != NULL && a->n >= limit);
}

void
sessions_failed(struct sessions *s, const char *key, time_t now)
{
	struct attempt	*a = attempt_find(s, key, now);
	size_t		 i, oldest = 0;

	if (a == NULL) {
		if (s->natt == ATTEMPTS_MAX) {
			for (i = 1; i < s->natt; i++)
				if (s->att[i].first < s->att[oldest].first)
					oldest = i;
			a = &s->att[oldest];
		} else
			a = &s->att[s->natt++];
		memset(a, 0, sizeof(*a));
		(void)snprintf(a->key, sizeof(a->key), "%s", key);
		a->first = now;
	}
	a->n++;
}

size_t
sessions_count(const struct sessions *s)
{
	return (s->n);
}
