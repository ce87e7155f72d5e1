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
#include <time.h>

#define QUEUE_HOLD		"hold"
#define QUEUE_INCOMING		"incoming"
#define QUEUE_DEFERRED		"deferred"
#define QUEUE_CORRUPT		"corrupt"

/* Longest queue id Postfix accepts (mail_queue_id_ok), plus NUL. */
#define QUEUE_ID_SIZE		256
/*
 * A quarantine id, "20261123T101502-" and a queue id, plus NUL: the
 * quarantine's (quarantine/) and the set-aside list's (state/) name.
 */
#define QUARANTINE_ID_SIZE	320
/* Longest relative path "queue/H/A/S/H/id" we handle, plus NUL. */
#define QUEUE_PATH_SIZE		512
/* Postfix's mail_queue_id_ok() length limit. */
#define QUEUE_ID_MAXLEN		255
/*
 * Deepest hashing holdscan accepts (hash_queue_depth) and the deepest
 * one-character directories it looks into below a queue. Postfix itself
 * has no limit but the length of a path.
 */
#define QUEUE_HASH_DEPTH_MAX	16
/* Ready mode: owner rwx (MAIL_QUEUE_STAT_READY); everything else not yet committed. */
#define QUEUE_MODE_READY	0700
#define QUEUE_MODE_NEW		0600

struct buf;

/*
 * What main.cf looked like when the layout was read from it: a different
 * stamp later means that the file was edited or replaced since.
 */
struct queue_conf_stamp {
	bool		 exists;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;
};

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
	struct queue_conf_stamp stamp;	/* main.cf, taken before postconf ran */
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
 * queue_layout_fix() is error, a queue_layout_load() error about the
 * postfix_config_directory that config_path sets, with its fix appended
 * ("; fix: set postfix_config_directory in ..."): a new string, owned by
 * the caller. check-config and holdscand say the same.
 */
char	*queue_layout_fix(const char *error, const char *config_path);
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
/* Is queue listed in hash_queue_names (case-insensitively, as Postfix matches)? */
bool	 queue_is_hashed(const struct queue_layout *ql, const char *queue);
/* Levels of hash directories queue has: hash_queue_depth, or 0. */
int	 queue_hash_levels(const struct queue_layout *ql, const char *queue);

/*
 * Following a running Postfix. Its programs read main.cf when they start,
 * and "postfix reload" restarts the long-running ones (qmgr); so a change
 * of hash_queue_names, hash_queue_depth or enable_long_queue_ids takes
 * effect for new queue files as soon as main.cf has it.
 *
 * queue_conf_stamp() takes the stamp of config_dir/main.cf (exists is
 * false when there is none): 0, or -1 with errno.
 * queue_conf_same() compares two stamps.
 * queue_conf_settled() is false while postconf would not read the file
 * yet: Postfix reads a file modified within the last second again and
 * again until it is older (util/dict.c, dict_load_file_xt).
 */
int	 queue_conf_stamp(const char *config_dir, struct queue_conf_stamp *st);
bool	 queue_conf_same(const struct queue_conf_stamp *a,
	    const struct queue_conf_stamp *b);
bool	 queue_conf_settled(const struct queue_conf_stamp *st, time_t now);

/* What differs between two layouts: queue_layout_diff(). */
#define QUEUE_DIFF_HOLD		0x01	/* hold's hashing (names, depth) */
#define QUEUE_DIFF_INCOMING	0x02	/* incoming's hashing */
#define QUEUE_DIFF_IDS		0x04	/* enable_long_queue_ids */
#define QUEUE_DIFF_QUEUE_DIR	0x10	/* queue_directory */
#define QUEUE_DIFF_OWNER	0x20	/* mail_owner, or its uid or gid */
#define QUEUE_DIFF_HOSTNAME	0x40	/* myhostname */
#define QUEUE_DIFF_LINE_LIMIT	0x80	/* line_length_limit */
/* Followed while running: */
#define QUEUE_DIFF_FOLLOWED	(QUEUE_DIFF_HOLD | QUEUE_DIFF_INCOMING | \
				    QUEUE_DIFF_IDS)
/* Applied only by a restart of holdscand: */
#define QUEUE_DIFF_RESTART	(QUEUE_DIFF_QUEUE_DIR | QUEUE_DIFF_OWNER | \
				    QUEUE_DIFF_HOSTNAME | QUEUE_DIFF_LINE_LIMIT)

unsigned queue_layout_diff(const struct queue_layout *a,
	    const struct queue_layout *b);
/*
 * queue_diff_names() writes the Postfix parameter names behind the bits
 * of diff, comma-separated, into buf[size] and returns buf.
 * queue_layout_describe() writes "hash_queue_names=a,b hash_queue_depth=N
 * enable_long_queue_ids=yes|no" into buf[size] and returns buf.
 */
const char *queue_diff_names(unsigned diff, char *buf, size_t size);
const char *queue_layout_describe(const struct queue_layout *ql, char *buf,
	    size_t size);

enum queue_refresh {
	QUEUE_REFRESH_SAME,		/* main.cf is as it was read */
	QUEUE_REFRESH_UNSETTLED,	/* changed, modified < 1 s ago: ask again */
	QUEUE_REFRESH_READ,		/* read again; *diff_r says what differed */
	QUEUE_REFRESH_FAILED,		/* *error_r says why; ql is unchanged */
};
/*
 * queue_layout_refresh() looks at ql's main.cf: when it has changed and
 * settled it asks postconf again (in command_dir, or on PATH when NULL)
 * and takes the hashing and the queue id style into ql in place, so that
 * everyone holding ql follows at once; the rest (QUEUE_DIFF_RESTART) keeps
 * its running value and is only reported in *diff_r. now is time(NULL).
 * This runs postconf (tens of milliseconds) only when the stamp changed.
 */
enum queue_refresh queue_layout_refresh(struct queue_layout *ql,
	    const char *command_dir, time_t now, unsigned *diff_r,
	    char **error_r);

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
 * id must be a queue id (queue_id_ok(): check ids read from the disk
 * first) and queue a plain queue name: anything else is a caller's bug
 * and panics. Both return -1 with ENAMETOOLONG if it does not fit, or
 * EINVAL for a long id whose time part does not decode.
 */
int	 queue_path(const struct queue_layout *ql, const char *queue,
	    const char *id, char *buf);
int	 queue_subdir(const struct queue_layout *ql, const char *queue,
	    const char *id, char *buf);
/*
 * queue_locate() finds the file named id below queue where ql puts it or,
 * failing that, where any other hashing (none, or 1 to
 * QUEUE_HASH_DEPTH_MAX levels) would have put it: files stay where an
 * earlier layout put them until postsuper moves them. Writes the path
 * found into buf[QUEUE_PATH_SIZE] and lstat()s it into *st. 0, or -1 with
 * errno (ENOENT: nowhere).
 */
int	 queue_locate(const struct queue_layout *ql, int qdirfd,
	    const char *queue, const char *id, char *buf, struct stat *st);

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
