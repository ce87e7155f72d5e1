/*
 * backoff.h - pause after a failure that will likely fail again at once.
 *
 * Used by the pipeline (pipeline.c) for failed commits, claims, reads and
 * a state environment that cannot be opened.
 */
#ifndef HS_BACKOFF_H
#define HS_BACKOFF_H

#include <stdbool.h>

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		60000
#define BACKOFF_REMIND_MS	300000

struct backoff {
	long		 until_ms;	/* CLOCK_MONOTONIC; 0: not pausing */
	long		 pause_ms;	/* the last pause, 0 after a success */
	unsigned long	 count;		/* failures since the last success */
	long		 warned_ms;
	char		 why[256];	/* the last failure */
};

/*
 * backoff_fail() starts a pause of 1 s, doubling up to a minute while
 * failures follow each other, and says so: a warning at the first
 * failure, a reminder every five minutes, debug lines in between.
 * backoff_clear() ends the series, saying "working again" if there was
 * one. backoff_active() tells whether now_ms is inside the pause.
 */
void	 backoff_fail(struct backoff *b, const char *why, long now_ms);
void	 backoff_clear(struct backoff *b);
bool	 backoff_active(const struct backoff *b, long now_ms);

#endif
