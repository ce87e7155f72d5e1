/*
 * queue.h - Postfix queue layout: ids, hashed paths, locks, modes, triggers.
 *
 * Knows the queue directory as the running Postfix instance describes it
 * (postconf -c DIR), and nothing of message content.
 */
#ifndef HS_QUEUE_H
#define HS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>

#define QUEUE_HOLD		"hold"
#define QUEUE_INCOMING		"incoming"
#define QUEUE_DEFERRED		"deferred"
#define QUEUE_CORRUPT		"corrupt"

/* Longest queue id Postfix accepts (mail_queue_id_ok), plus NUL. */
#define QUEUE_ID_SIZE		256
/* Longest relative path "queue/H/A/S/H/id" we handle, plus NUL. */
#define QUEUE_PATH_SIZE		512
/* Postfix's mail_queue_id_ok() length limit. */
#define QUEUE_ID_MAXLEN		255
/* Ready mode: owner rwx (MAIL_QUEUE_STAT_READY); everything else not yet committed. */
#define QUEUE_MODE_READY	0700
#define QUEUE_MODE_NEW		0600

struct buf;

/* What holdscan needs to know about one Postfix instance. */
struct queue_layout {
	char	*config_dir;		/* postconf -c argument */
	char	*queue_dir;		/* queue_directory */
	char	*mail_owner;		/* mail_owner */
	uid_t	 owner_uid;
	gid_t	 owner_gid;		/* mail_owner's primary group */
	char	*myhostname;		/* myhostname */
	bool	 long_ids;		/* enable_long_queue_ids */
	int	 hash_depth;		/* hash_queue_depth */
	char	**hashed;		/* hash_queue_names, NULL-terminated */
	size_t	 line_limit;		/* line_length_limit */
};

/*
 * queue_layout_load() asks postconf(1) (the one in command_dir, or on PATH
 * when NULL) about the instance whose configuration is in config_dir, and
 * looks up mail_owner in the password database. Returns 0 and a new layout,
 * or -1 with a complete sentence in *error_r (owned by the caller).
 * queue_layout_new() builds one from given values (tests, tools).
 */
int	 queue_layout_load(const char *config_dir, const char *command_dir,
	    struct queue_layout **ql_r, char **error_r);
/*
 * queue_postconf() runs "postconf -c config_dir ARGS..." (args ends with
 * NULL; the postconf in command_dir, or on PATH when NULL) without a shell
 * and appends what it writes, standard output and error together, to out.
 * Returns 0, or -1 with a sentence in *error_r (owned by the caller) when
 * it cannot run or exits non-zero.
 */
int	 queue_postconf(const char *config_dir, const char *command_dir,
	    const char *const *args, struct buf *out, char **error_r);
struct queue_layout *queue_layout_new(const char *queue_dir, uid_t uid,
	    gid_t gid, bool long_ids, const char *hashed, int hash_depth);
void	 queue_layout_free(struct queue_layout **ql);
bool	 queue_is_hashed(const struct queue_layout *ql, const char *queue);

/* Postfix's mail_queue_id_ok(): 1..255 chars of [A-Za-z0-9_]. */
bool	 queue_id_ok(const char *id);
/*
 * queue_id_make() writes the id Postfix would give a file with inode ino
 * created at time tv, in the instance's style, into buf[QUEUE_ID_SIZE].
 * queue_id_inode() decodes the inode an id claims (either style, as
 * Postfix's MQID_GET_INUM does); -1 with EINVAL if it has none.
 */
void	 queue_id_make(bool long_ids, ino_t ino, const struct timeval *tv,
	    char *buf);
int	 queue_id_inode(const char *id, ino_t *ino_r);
/*
 * queue_path() writes "queue/[h/[a/]]id" (relative to the queue directory)
 * into buf[QUEUE_PATH_SIZE], hashing as the instance does for that queue
 * (long ids hash on their microseconds as five hex digits). queue_subdir()
 * writes only the directory part, "queue[/h[/a]]".
 * Both return -1 with EINVAL for a bad id, ENAMETOOLONG if it does not fit.
 */
int	 queue_path(const struct queue_layout *ql, const char *queue,
	    const char *id, char *buf);
int	 queue_subdir(const struct queue_layout *ql, const char *queue,
	    const char *id, char *buf);

/* Regular file, owner rwx: what mail_open_ok() requires. */
bool	 queue_stat_ready(const struct stat *st);
/*
 * queue_lock_try() takes Postfix's advisory lock (flock on Linux, the style
 * Debian's Postfix is built with) exclusively without blocking: 0 when
 * held, -1 with EAGAIN when someone else holds it, -1 other errno on error.
 * queue_lock_test() tells whether a lock is held by someone, without
 * keeping one: 1 locked, 0 free, -1 error.
 */
int	 queue_lock_try(int fd);
int	 queue_lock_test(int fd);

/*
 * queue_mkdirs() creates every missing level of relpath (relative to the
 * directory dirfd) as Postfix does: one level at a time, mode 0700, owned
 * by the mail owner (chowned when running as root). Existing levels are
 * left alone. Returns 0 or -1 with errno.
 */
int	 queue_mkdirs(const struct queue_layout *ql, int dirfd,
	    const char *relpath);
/* The same for any owner (the quarantine's directories). */
int	 queue_mkdirs_owner(int dirfd, const char *relpath, uid_t uid,
	    gid_t gid);
/* fsync(2) a directory by fd, or by path relative to dirfd. */
int	 queue_fsync_dir(int dirfd);
int	 queue_fsync_dirat(int dirfd, const char *relpath);

/*
 * queue_trigger() asks a Postfix service to act, e.g. ("qmgr", "I") to
 * scan incoming: public/SERVICE as a UNIX socket or, in old master.cf
 * files, a FIFO. Never blocks for long (non-blocking connect and write).
 * Returns 0, or -1 with errno (best effort: qmgr also wakes every 300 s).
 */
int	 queue_trigger(const struct queue_layout *ql, const char *service,
	    const char *request);

#endif
