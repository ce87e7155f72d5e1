/*
 * pgreq.h - a farm's requests table (schema version 2, the preview
 * version 4, state/pgdb.c) as the side that asks sees it: write a
 * release, delete or preview request for the host that holds the
 * message, wake that host, read its answer (a preview's: the file's
 * first bytes). The
 * owning host's holdscand claims and answers (daemon/requests.c).
 * Used by holdscan (tool/remote.c) and holdscan-web (web/farmact.c).
 */
#ifndef HS_PGREQ_H
#define HS_PGREQ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/*
 * pgreq_submit() writes a request for host to release (to[0..nto), or
 * its original recipients when nto is 0), delete or preview ("release",
 * "delete", "preview") quarantine id qid, asked by by (a name for the owner's audit
 * line), and sends NOTIFY holdscan_requests (its poll finds the row if
 * the NOTIFY is lost). Addresses hold no white space (the caller checked
 * them). 0 and the row's id in *id_r (the caller frees it), or -1 with
 * a one-line *error_r.
 */
int	 pgreq_submit(PGconn **c, const char *host, const char *qid,
	    const char *action, const char *const *to, size_t nto,
	    const char *by, char **id_r, char **error_r);
/*
 * pgreq_answer() reads the answer of request id: 1 and its outcome
 * ("released", "deleted", "already", "previewed", "failed"), new queue id and error
 * text (each the caller's) when it is answered, 0 when not yet, -1 with
 * *error_r.
 */
int	 pgreq_answer(PGconn **c, const char *id, char **outcome_r,
	    char **new_id_r, char **error_text_r, char **error_r);
/* How often pgreq_wait() reads the answer (ms). */
#define PGREQ_RECHECK_MS	200
/*
 * pgreq_wait() reads the answer of request id every PGREQ_RECHECK_MS
 * for at most wait_ms, connecting again to conninfo (as app) when *c
 * is NULL or was lost; errors meanwhile are waited out. 1 and the
 * answer (pgreq_answer()'s), or 0 when there is none in wait_ms.
 */
int	 pgreq_wait(PGconn **c, const char *conninfo, const char *app,
	    const char *id, long wait_ms, char **outcome_r, char **new_id_r,
	    char **error_text_r);

/*
 * A preview's answer: at most PGREQ_PREVIEW_MAX bytes of the quarantined
 * file, as they are (the owning host never parses them); its row (and
 * one nobody answered) is deleted by the owning host PGREQ_PREVIEW_KEEP_S
 * after it was asked, long after the asking side stopped waiting.
 */
#define PGREQ_PREVIEW_MAX	(1024 * 1024)
#define PGREQ_PREVIEW_KEEP_S	60
/*
 * pgreq_content() reads the bytes of answered preview request id: 0 with
 * *data_r (the caller frees it with free(); *len_r bytes) and
 * *truncated_r (the file had more), or -1 with *error_r (the row is
 * gone, or has no content).
 */
int	 pgreq_content(PGconn **c, const char *id, unsigned char **data_r,
	    size_t *len_r, bool *truncated_r, char **error_r);

#endif
