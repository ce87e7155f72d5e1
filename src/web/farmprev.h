/*
 * farmprev.h - holdscan-web on a farm: the preview (headers, text,
 * attachment list) of a message that another host holds, asked of that
 * host's holdscand through the requests table (a "preview" row), its
 * answer waited for with a bound, and parsed here (preview.c).
 */
#ifndef HS_FARMPREV_H
#define HS_FARMPREV_H

#include <jansson.h>

struct farmview;

/* The longest wait for the owning host's bytes (ms). */
#define FARMPREV_WAIT_MS	10000

/*
 * farmprev_add() asks the host that holds qid (entry: the row
 * farmview_held_elsewhere() found within the account's scope; its
 * "host" and "state") for the file's first bytes, for "web:WHO@THISHOST",
 * and sets in out what preview_fd() sets for this host's messages
 * ("headers", "body", "body_truncated", "attachments"; "file": true),
 * or "preview_error" with the reason: deleted (no request), the host
 * did not answer in FARMPREV_WAIT_MS (or did not within
 * FARMVIEW_SLOW_S: not asked again), its refusal, a file larger than
 * the farm's bound, the database. Never an action: nothing changes on
 * the owning host but the request row, which it deletes soon.
 */
void	 farmprev_add(struct farmview *f, const char *who, const char *qid,
	    const json_t *entry, json_t *out);

#endif
