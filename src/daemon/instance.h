/*
 * instance.h - one holdscand per Postfix queue, and a state directory
 * that belongs to that queue.
 *
 * Used by holdscand's master at start.
 */
#ifndef HS_INSTANCE_H
#define HS_INSTANCE_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * instance_lock() takes an exclusive flock(2) on the queue's hold
 * directory (queue_dir/hold, opened below qdirfd), without blocking, and
 * returns its descriptor (close-on-exec) in *fd_r: held for the life of
 * the process, it makes a second holdscand on the same queue fail at
 * start, whatever its configuration says. On conflict *error_r names the
 * process that holds it (from /proc/locks) and errno is EWOULDBLOCK.
 */
int	 instance_lock(int qdirfd, const char *queue_dir, int *fd_r,
	    char **error_r);

/*
 * The binding between a queue and a state directory: the same random id
 * in QUEUE/SUBDIR/state.id and in STATE_DIR/queue.id, each with the
 * other's path. instance_bind() reads both before the state environment
 * is opened and says what it found:
 */
enum instance_binding {
	BINDING_NEW,		/* neither: first start; both written */
	BINDING_OK,		/* the same id on both sides */
	BINDING_STATE_LOST,	/* the queue has one, the state directory not:
				   the state was lost or replaced (adopted) */
	BINDING_QUEUE_LOST,	/* the state has one for this queue path, the
				   queue's holdscan directory not (rewritten) */
	BINDING_FOREIGN,	/* the state directory belongs to another queue:
				   refuse to start (*error_r says which) */
};

int	 instance_bind(int qdirfd, const char *subdir, const char *queue_dir,
	    const char *state_dir, uid_t uid, gid_t gid,
	    enum instance_binding *b_r, char **error_r);

#endif
