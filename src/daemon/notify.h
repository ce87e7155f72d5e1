/*
 * notify.h - notices to the postmaster and to recipients, submitted
 * through the Postfix instance's own sendmail(1).
 *
 * Used by holdscand's master only, after a batch has committed: it
 * queues notices and runs sendmail in child processes from its event
 * loop, never waiting for one.
 */
#ifndef HS_NOTIFY_H
#define HS_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "common/verdict.h"

/* The header that marks a notice; notices are never the subject of one. */
#define NOTIFY_HEADER	MAILHDR_NOTICE

/* What the master knows about a committed message. Borrowed. */
struct notify_msg {
	const char	*queue_id;
	const struct qfile *qf;		/* sender, recipients, headers */
	enum verdict	 verdict;
	const char	*reason;
	const char	*action;	/* "quarantine", "deliver", ... */
	const char	*quarantine_id;	/* "" unless quarantined */
	bool		 quarantined;
};

/*
 * A non-delivery notice to the sender of a message that will not be
 * delivered (set_aside_expiry_action = bounce). Borrowed.
 */
struct notify_bounce {
	const char	*queue_id;
	const struct qfile *qf;		/* sender, recipients, DSN records, headers */
	const char	*reason;	/* why it is not delivered, one line */
	const char	*quarantine_id;	/* where the original is kept */
	const char	*key;		/* reported by notify_done() once it ends */
};

struct notify;

/*
 * notify_new() reads the templates the configuration names (only those
 * it needs) and asks the Postfix instance for its sendmail_path. 0, or
 * -1 with *error_r. notify_configure() does the same for a reloaded
 * configuration; on error the old settings stay.
 */
int	 notify_new(const struct hs_config *conf, const struct queue_layout *ql,
	    struct notify **n_r, char **error_r);
int	 notify_configure(struct notify *n, const struct hs_config *conf,
	    char **error_r);
void	 notify_free(struct notify **n);

/* Is this queue file a notice of ours (null sender and NOTIFY_HEADER)? */
bool	 notify_is_notice(const struct qfile *qf);
/*
 * notify_message() queues the notices the configuration asks for (none
 * for a notice). Bounded: beyond a limit notices are dropped, with a
 * warning.
 */
void	 notify_message(struct notify *n, const struct notify_msg *m);
/*
 * notify_bounce() queues a delivery status notification (RFC 3464, the
 * form of Postfix's own bounces: a multipart/report with the reason, the
 * per-recipient report and the original's header lines, never its body)
 * to the envelope sender, with the null sender. Returns 1 when queued,
 * 0 when none is due (the null sender, a notice of ours, or no recipient
 * left whose DSN NOTIFY asks for failures), -1 when the queue is full.
 * A queued notice is reported once by notify_done() with its key.
 */
int	 notify_bounce(struct notify *n, const struct notify_bounce *b);
/*
 * notify_done() returns true for one finished notice that had a key:
 * the key (copied into key[size]) and whether sendmail took it (Postfix
 * then has it durably), or false when there is none.
 */
bool	 notify_done(struct notify *n, char *key, size_t size, bool *ok_r);
/*
 * The text of the notice notify_bounce() sends, exposed for the tests;
 * returns the number of recipients it reports (0: none is due).
 */
size_t	 notify_bounce_text(const char *myhostname, const char *postmaster,
	    const struct notify_bounce *b, time_t now, struct buf *out);

/*
 * notify_tick() reaps finished sendmail processes (logging failures),
 * kills those over their time limit, and starts queued ones. Returns ms
 * until it wants to be called again, or -1 when idle.
 */
long	 notify_tick(struct notify *n);
/* Notices queued or being sent. */
size_t	 notify_busy(const struct notify *n);
/* At exit: let running notices finish for at most ms; drop the rest. */
void	 notify_drain(struct notify *n, long ms);

/*
 * Template expansion, exposed for the tests: $name or ${name} from vars
 * (NULL-terminated name, value pairs), $$ for $; unknown names stay.
 * In the header block values are made single-line and, if not ASCII,
 * RFC 2047 encoded.
 */
void	 notify_expand(const char *tmpl, size_t len, const char *const *vars,
	    struct buf *out);

#endif
