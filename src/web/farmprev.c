/*
 * NAME
 *	farmprev - the web console's preview of a message held on another
 *	host of the farm
 * DESCRIPTION
 *	The caller found the message in the farm's log within the
 *	account's scope (farmview_held_elsewhere()): a domain admin or user
 *	outside it got its 404 before anything is asked. A "preview" row
 *	(state/pgreq.c) asks the owning host's holdscand for the stored
 *	file; it copies at most PGREQ_PREVIEW_MAX bytes as they are, never
 *	parsing them (daemon/requests.c), and this side parses them with
 *	preview.c, as the file of one of this host's messages, so that the
 *	reply is the same. The answer is read every PGREQ_RECHECK_MS for at
 *	most FARMPREV_WAIT_MS; a host that let a wait (a preview's or a
 *	release's, farmact.c) run out is not asked again for
 *	FARMVIEW_SLOW_S. A preview is no action: no audit line, one log
 *	line here with the account and the request; the owning host
 *	deletes the row and its bytes after PGREQ_PREVIEW_KEEP_S.
 *
 *	This module must never ask for a message outside the account's
 *	scope, never wait without a bound, and never put the bytes it got
 *	into the reply but through preview.c (text_safe()).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "state/pgreq.h"
#include "web/farmprev.h"
#include "web/farmview.h"
#include "web/preview.h"

static void
say(json_t *out, const char *msg)
{
	(void)json_object_set_new(out, "preview_error", json_string(msg));
}

void
farmprev_add(struct farmview *f, const char *who, const char *qid,
    const json_t *entry, json_t *out)
{
	PGconn		**c;
	unsigned char	*data = NULL;
	const char	*host, *state;
	char		*by = NULL, *id = NULL, *error = NULL, *msg = NULL;
	char		*outcome = NULL, *new_id = NULL, *why = NULL;
	size_t		 len;
	bool		 truncated;
	int		 got;

	host = json_string_value(json_object_get(entry, "host"));
	state = json_string_value(json_object_get(entry, "state"));
	if (host == NULL || host[0] == '\0')
		return;
	if (state != NULL && strcmp(state, "deleted") == 0) {
		say(out, "Deleted: the file is gone.");
		return;
	}
	if (farmview_host_slow(f, host)) {
		msg = xasprintf("No preview: %s did not answer within the "
		    "last minute (is its holdscand running?); try again "
		    "later.", host);
		say(out, msg);
		free(msg);
		return;
	}
	by = xasprintf("web:%s@%s", who, farmview_host(f));
	if (farmview_db(f, &c, &error) < 0 ||
	    pgreq_submit(c, host, qid, "preview", NULL, 0, by, &id,
	    &error) < 0) {
		hs_warnx("web: preview id=%s user=%s host=%s: cannot write the "
		    "request: %s", qid, who, host, error);
		say(out, "No preview: the farm's database did not take the "
		    "request; try again.");
		goto out;
	}
	got = pgreq_wait(c, farmview_conninfo(f), "holdscan-web", id,
	    FARMPREV_WAIT_MS, &outcome, &new_id, &why);
	farmview_set_slow(f, host, got == 0);
	if (got == 0) {
		msg = xasprintf("No preview: %s did not answer in %d s (is its "
		    "holdscand running?).", host, FARMPREV_WAIT_MS / 1000);
		say(out, msg);
	} else if (strcmp(outcome, "previewed") != 0) {
		msg = xasprintf("No preview: %s: %s.", host, why[0] != '\0' ?
		    why : outcome);
		say(out, msg);
	} else if (pgreq_content(c, id, &data, &len, &truncated,
	    &error) < 0) {
		hs_warnx("web: preview id=%s user=%s host=%s request=%s: %s",
		    qid, who, host, id, error);
		say(out, "No preview: the farm's database did not give the "
		    "answer; try again.");
	} else if (preview_image(data, len, truncated, out, &error) < 0) {
		msg = xasprintf("No preview: %s.", error);
		say(out, msg);
	} else {
		(void)json_object_set_new(out, "file", json_true());
		if (truncated) {
			/* Said, as the page says a body cut at its bound. */
			msg = xasprintf("%s sent the first %d KiB of the "
			    "message: the body is cut there, and attachments "
			    "after it are not listed.", host,
			    PGREQ_PREVIEW_MAX / 1024);
			(void)json_object_set_new(out, "preview_cut",
			    json_string(msg));
		}
	}
	hs_info("web: preview id=%s user=%s host=%s request=%s outcome=%s%s%s",
	    qid, who, host, id, got == 0 ? "no answer" : outcome,
	    got == 1 && why[0] != '\0' ? ": " : "", got == 1 ? why : "");
out:
	free(error);
	free(msg);
	free(data);
	free(by);
	free(id);
	free(outcome);
	free(new_id);
	free(why);
}
