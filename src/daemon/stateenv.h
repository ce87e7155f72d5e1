/*
 * stateenv.h - the master's state environment: the Berkeley DB
 * environment in state_directory and the three databases in it (the
 * intent journal, the set-aside list, the quarantine index, the allow
 * and deny lists, the message log), opened and
 * closed together.
 *
 * When they are opened and what follows (recovery, back-off, a reopen
 * after a failure) is the pipeline's decision (pipeline.c).
 */
#ifndef HS_STATEENV_H
#define HS_STATEENV_H

#include "common/config.h"
#include "common/queue.h"

struct stateenv {
	struct statedb	*sdb;
	struct journal	*journal;
	struct aside	*aside;
	struct quarantine *quarantine;
	struct msglog	*msglog;	/* NULL: message_log = no */
	struct listdb	*lists;		/* the allow and deny lists */
	struct statewatch *watch;	/* ends lock waits on the dead */
	struct outbox	*outbox;	/* a farm: database set, else NULL */
	struct shipper	*shipper;	/* ships it (daemon/shipper.c) */
};

/*
 * stateenv_bind() checks, before the environment is first opened, that
 * the state directory belongs to this queue (instance.c), and says what
 * it found. A state directory of another queue is fatal. 0, or -1 with
 * *error_r and errno (a full state file system: the caller retries).
 */
int	 stateenv_bind(const struct hs_config *conf,
	    const struct queue_layout *ql, int qdirfd, char **error_r);
/*
 * stateenv_open() opens the environment (with recovery) and the three
 * databases; after log files were lost it first moves the journal
 * aside, as holdscand(8) says. 0, or -1 with *error_r and errno (for
 * statedb_retryable()); then nothing is open.
 */
int	 stateenv_open(struct stateenv *env, const struct hs_config *conf,
	    const struct queue_layout *ql, char **error_r);
/* Closes whatever is open; every handle is NULL afterwards. */
void	 stateenv_close(struct stateenv *env);

#endif
