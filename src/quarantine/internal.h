/*
 * quarantine/internal.h - what the quarantine's files share (index.c,
 * store.c, check.c); not for anyone else.
 */
#ifndef HS_QUARANTINE_INTERNAL_H
#define HS_QUARANTINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <db.h>

#include "common/buf.h"
#include "common/qfile.h"
#include "quarantine/quarantine.h"

#define Q_DB		"quarantine.db"
#define Q_TIME_DB	"quarantine-time.db"
#define Q_RCPT_DB	"quarantine-rcpt.db"
#define Q_ORIG_DB	"quarantine-orig.db"
#define Q_SENDER_DB	"quarantine-sender.db"
#define Q_FORMAT	"1"
#define Q_NFIXED	16		/* lines before the recipients */
#define Q_TMP_SUFFIX	".tmp"
#define Q_RETRIES	500		/* a busy index: 500 x 10 ms at most */
#define Q_CHECK_GRACE	300		/* seconds a live batch may take */
#define Q_EXPIRE_CHUNK	256
#define Q_FILE_MAX	((size_t)1 << 31)

struct quarantine {
	char		*dir;
	int		 dirfd;
	uid_t		 uid;
	gid_t		 gid;
	struct statedb	*sdb;
	DB		*db;		/* by quarantine id */
	DB		*by_time;
	DB		*by_rcpt;
	DB		*by_orig;
	DB		*by_sender;
};

/* Index (index.c) */
enum quarantine_rc q_rc_of(int ret);
enum quarantine_rc q_db_fail(int ret, const char *what, char **error_r);
void	 q_pause(void);
void	 q_time_bytes(time_t t, unsigned char out[8]);
time_t	 q_bytes_time(const void *p);
void	 q_orig_keybuf(const char *id, size_t idlen, const char *arr,
	    size_t arrlen, struct buf *out);
/*
 * Change one entry in its own transaction, retrying while the index is
 * busy. mod returns QUARANTINE_OK to write the entry, anything else to
 * leave it (returned as is).
 */
typedef enum quarantine_rc (*q_modify_fn)(struct quarantine_entry *, void *);
enum quarantine_rc q_modify(struct quarantine *q, const char *qid,
	    q_modify_fn mod, void *arg, struct quarantine_entry *out,
	    char **error_r);
/*
 * Every entry of the original message (orig_id, arrival) but the one
 * named except, in txn (may be NULL): fn(arg, entry) until it returns
 * non-zero (the entry is borrowed). 0, or -1 with *error_r.
 */
typedef int	(*q_orig_fn)(void *, const struct quarantine_entry *);
int	 q_each_of_original(struct quarantine *q, DB_TXN *txn,
	    const char *orig_id, time_t arrival, const char *except,
	    q_orig_fn fn, void *arg, char **error_r);

/* Store (store.c) */
bool	 q_same_bytes(int fd, const struct stat *st, int dirfd,
	    const char *relpath);
void	 q_fill_from_qfile(struct quarantine_entry *e, const struct qfile *qf);
int	 q_quarantined_already(struct quarantine *q, int fd,
	    const char *orig_id, time_t arrival, const char *except,
	    char *qid_r, size_t size, char **error_r);

#endif
