/*
 * setaside.h - the life cycle of mail set aside unscanned (state/aside.c
 * is the list itself): scanned again when the scanners change, expired
 * when set_aside_lifetime is over (quarantine, bounce, deliver-tagged),
 * the sender's notice of a bounce owed until Postfix has it.
 *
 * Hooks of the pipeline (pipeline.c), which calls them with its context:
 * setaside_tick() once per event loop iteration, setaside_expiring() for
 * each message it claims, setaside_committed() for each message of a
 * committed batch.
 */
#ifndef HS_SETASIDE_H
#define HS_SETASIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/aside.h"
#include "common/strmap.h"

struct msg;
struct pipeline;

struct setaside {
	struct strmap	 flight;	/* id -> SETASIDE_*: claimed again */
	struct strmap	 owed;		/* id -> 1: the sender's notice is queued */
	char		 epoch[ASIDE_EPOCH_SIZE];	/* "" until the scanners are ready */
	uint32_t	 generation;	/* the generation epoch names */
	long long	 boot_us;	/* names this run in epochs */
	long		 next_ms;	/* the next pass (CLOCK_MONOTONIC) */
	size_t		 count;		/* set aside in hold: the gauge */
};

/* Why a set-aside message is claimed again (values of flight). */
#define SETASIDE_RESCAN		1	/* the scanners changed: scan it again */
#define SETASIDE_EXPIRE		2	/* lifetime over: quarantine or deliver-tagged */
#define SETASIDE_BOUNCE		3	/* lifetime over: quarantine and bounce */
/* At most this many set-aside messages are claimed again at a time. */
#define SETASIDE_FLIGHT_MAX	20

/* Frees what s holds (a zeroed struct setaside needs no set-up). */
void	 setaside_clear(struct setaside *s);
/*
 * Once each loop: a new engine means a new epoch; notices that ended;
 * and, when due, a pass over the list: entries whose file left hold
 * are forgotten, owed notices are sent, and mail set aside unscanned
 * is expired or scanned again (offered to the claim path again).
 */
void	 setaside_tick(struct pipeline *p, long now_ms);
/*
 * A message just claimed: if it is a set-aside message claimed again
 * for its expiry, decide it without a scan (verdict scan-failed; action
 * quarantine, hold if its notice could not be made owed, or deliver for
 * deliver-tagged: the caller tags it) and return true.
 */
bool	 setaside_expiring(struct pipeline *p, struct msg *m);
/*
 * After its batch's commit: the set-aside list follows what happened
 * to a message that was set aside (or is set aside now).
 */
void	 setaside_committed(struct pipeline *p, const struct msg *m);

#endif
