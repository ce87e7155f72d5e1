/*
 * digestused.h - the used tokens of digest links, in a file of their own
 * (digest_used_file): a link works once.
 *
 * The file belongs to holdscan-web's user, which checks and claims
 * tokens: not in the state environment, which is the mail owner's. One
 * line per used token, "EXPIRY TOKID"; lines of expired tokens are
 * dropped when they are half of the file (an expired token is refused
 * before the store is asked). Writers serialise on an flock of
 * "FILE.lock"; every change is fsync'ed before the claim succeeds.
 */
#ifndef HS_DIGESTUSED_H
#define HS_DIGESTUSED_H

#include <time.h>

#include "web/digestlink.h"

struct digestused;

/* A store in path (nothing is created before the first claim). */
struct digestused *digestused_new(const char *path);
void	 digestused_free(struct digestused **u);
/* The store as digestlink_check() takes it (u borrowed while ops is used). */
void	 digestused_ops(struct digestused *u, struct digestlink_used *ops);

/*
 * digestused_claim() records tokid as used until expiry: 0 it was not
 * used (now it is), 1 it was, -1 with *error_r. digestused_seen(): 1
 * used, 0 not, -1. digestused_unclaim() forgets tokid again (the action
 * a claim was for failed before it did anything): 0, or -1.
 */
int	 digestused_claim(struct digestused *u, const char *tokid,
	    time_t expiry, time_t now, char **error_r);
int	 digestused_seen(struct digestused *u, const char *tokid, time_t now,
	    char **error_r);
int	 digestused_unclaim(struct digestused *u, const char *tokid,
	    time_t now, char **error_r);

#endif
