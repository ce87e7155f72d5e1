/*
 * watch.h - find held messages that are ready to be scanned.
 *
 * inotify on the hold queue (and its hash directories) is the fast path;
 * a full rescan at start, periodically and after an event overflow is the
 * safety net. Knows queue layout, never message content.
 */
#ifndef HS_WATCH_H
#define HS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/queue.h"

struct watch_candidate {
	char		 id[QUEUE_ID_SIZE];
	char		 path[QUEUE_PATH_SIZE];	/* "hold/[h/]ID", relative to the queue dir */
};

struct watch;

/*
 * watch_open() watches ql's hold queue through qdirfd (the queue
 * directory); call watch_rescan() next (after watch_ignore() for what is
 * set aside) to queue what is already there. -1 with errno.
 */
int	 watch_open(const struct queue_layout *ql, int qdirfd,
	    struct watch **w_r);
void	 watch_close(struct watch **w);
/* The inotify descriptor to poll. */
int	 watch_fd(const struct watch *w);
/* Drain inotify events; an overflow triggers a rescan. */
void	 watch_handle(struct watch *w);
/*
 * Look at every file in hold again (start, timer, overflow, a change of
 * hold's hashing), watching every hash directory there is.
 */
void	 watch_rescan(struct watch *w);
/*
 * true (once) when hold was seen laid out otherwise than the layout says
 * (a one-character directory it does not use, a file where it would not
 * put it): main.cf may have changed. The layout is borrowed from
 * watch_open() on, and may change in place.
 */
bool	 watch_layout_hint(struct watch *w);
/*
 * watch_next() pops the next candidate (a regular, single-link, ready
 * file owned by the mail owner, with a valid queue id, not already in
 * flight and not set aside) and marks it in flight. false when none.
 */
bool	 watch_next(struct watch *w, struct watch_candidate *c);
/*
 * watch_defer() looks at c again after delay_ms (it was locked by
 * someone); watch_tick() requeues what is due and returns the ms until
 * the next one, or -1. Times are CLOCK_MONOTONIC milliseconds.
 */
void	 watch_defer(struct watch *w, const struct watch_candidate *c,
	    long now_ms, long delay_ms);
long	 watch_tick(struct watch *w, long now_ms);
/*
 * The master is done with id (committed, returned, set aside or gone);
 * if a file of that name was seen moving meanwhile, it is offered again
 * from there.
 */
void	 watch_done(struct watch *w, const char *id);
/* Candidates queued and not yet taken. */
size_t	 watch_pending(const struct watch *w);
/*
 * Set aside: never offer id while it is the file with inode ino
 * (watch_unignore() forgets it). The set is the master's copy of aside.db.
 */
void	 watch_ignore(struct watch *w, const char *id, ino_t ino);
void	 watch_unignore(struct watch *w, const char *id);
bool	 watch_is_ignored(const struct watch *w, const char *id, ino_t ino);

#endif
