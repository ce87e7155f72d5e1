/*
 * NAME
 *	backoff - growing pauses while something keeps failing
 * DESCRIPTION
 *	Something failed that will likely fail again at once (disk full,
 *	I/O error, out of descriptors): the caller stops for a while,
 *	doubling the pause up to a minute. The first failure is a warning;
 *	repeats are counted (with a reminder every five minutes), and
 *	backoff_clear() says when things work again, so that a failure
 *	series is one warning and one "working again" line in the log,
 *	however long it lasts.
 *
 *	This module must never sleep, and never decide what is retried.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/backoff.h"
#include "common/log.h"

void
backoff_fail(struct backoff *b, const char *why, long t)
{
	int	 len = (int)strlen(why);

	/* Error texts may end in a full stop; "%.*s; pausing" drops it. */
	if (len > 0 && why[len - 1] == '.')
		len--;
	b->pause_ms = b->pause_ms ? b->pause_ms * 2 : BACKOFF_MIN_MS;
	if (b->pause_ms > BACKOFF_MAX_MS)
		b->pause_ms = BACKOFF_MAX_MS;
	b->until_ms = t + b->pause_ms;
	if (b->count++ == 0) {
		hs_warnx("%.*s; pausing, then retrying with growing pauses (up to "
		    "%d s) until it works", len, why, BACKOFF_MAX_MS / 1000);
		b->warned_ms = t;
	} else if (t - b->warned_ms >= BACKOFF_REMIND_MS) {
		hs_warnx("still failing after %lu attempts: %s", b->count, why);
		b->warned_ms = t;
	} else {
		hs_debug("still failing (%lu attempts): %.*s; pausing %ld ms",
		    b->count, len, why, b->pause_ms);
	}
	(void)snprintf(b->why, sizeof(b->why), "%s", why);
}

void
backoff_clear(struct backoff *b)
{
	if (b->count > 0)
		hs_info("working again after %lu failed attempt%s (last: %s)",
		    b->count, b->count == 1 ? "" : "s", b->why);
	b->pause_ms = 0;
	b->count = 0;
	b->why[0] = '\0';
}

bool
backoff_active(const struct backoff *b, long now_ms)
{
	return (now_ms < b->until_ms);
}
