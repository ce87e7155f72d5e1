/*
 * NAME
 *	qaction - release or delete a quarantined message on behalf of
 *	someone, in holdscand's master
 * DESCRIPTION
 *	The web console's control socket (ctlquar.c) calls it for each
 *	release and deletion a console account or a digest link asks for,
 *	and the farm's requests (requests.c) for each request another host
 *	wrote for this one. Each change is one audit
 *	line in the mail log ("QID: action=release new_id=... by=alice
 *	via=web") and one event in the message log, so that "holdscan trace"
 *	tells who did it.
 *
 *	This module must never release a message but through
 *	release_message() (the exactly-once path), never delete one but
 *	through quarantine_delete(), and never decide who may act: the
 *	caller checked that (access.c).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit/release.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/mailhdr.h"
#include "common/xalloc.h"
#include "daemon/qaction.h"
#include "quarantine/quarantine.h"
#include "state/msglog.h"

const char *
qaction_outcome_name(enum qaction_outcome o)
{
	switch (o) {
	case QACTION_DONE:
		return ("done");
	case QACTION_ALREADY:
		return ("already");
	case QACTION_NOTFOUND:
		return ("not-found");
	case QACTION_REFUSED:
		return ("refused");
	case QACTION_PENDING:
		return ("pending");
	case QACTION_FAILED:
		break;
	}
	return ("failed");
}

void
qaction_event(struct msglog *ml, const char *qid, const char *kind,
    const char *new_id, const char *detail)
{
	struct msglog_event e;
	char		*error = NULL;

	if (ml == NULL)
		return;
	e.time = time(NULL);
	e.kind = kind;
	e.new_id = new_id;
	e.detail = detail;
	if (msglog_append_event(ml, NULL, qid, &e, &error) < 0) {
		hs_warnx("%s: message log: %s", qid, error);
		free(error);
	}
}

enum qaction_outcome
qaction_release(struct commit_ctx *c, struct quarantine *q, struct msglog *ml,
    const struct hs_config *conf, const char *qid, const char *const *to,
    size_t nto, const char *who, const char *via, char new_id[QUEUE_ID_SIZE],
    char **error_r)
{
	struct release_opts o;
	struct buf	 b = BUF_INIT;
	enum qaction_outcome rc = QACTION_FAILED;
	char		*strip, *error = NULL, *detail;
	size_t		 i;

	*error_r = NULL;
	new_id[0] = '\0';
	memset(&o, 0, sizeof(o));
	o.to = nto > 0 ? to : NULL;
	o.nto = nto;
	o.header_name = conf->scan_header_name;
	strip = mailhdr_strip_names(conf->scan_header_name,
	    conf->tag_header_name, conf->strip_header_names);
	o.strip_names = strip;
	for (i = 0; i < nto; i++)
		buf_printf(&b, "%s%s", i ? "," : "", to[i]);
	switch (release_message(c, q, qid, &o, new_id, &error)) {
	case RELEASE_OK:
		rc = QACTION_DONE;
		hs_info("%s: action=release new_id=%s%s%s by=%s via=%s", qid,
		    new_id, nto ? " to=" : "", nto ? b.data : "", who, via);
		detail = xasprintf("%s%s%s via %s", who, nto ? " to " : "",
		    nto ? b.data : "", via);
		qaction_event(ml, qid, "released", new_id, detail);
		free(detail);
		break;
	case RELEASE_ALREADY:
	case RELEASE_TWIN:
		rc = QACTION_ALREADY;
		break;
	case RELEASE_NOTFOUND:
		rc = QACTION_NOTFOUND;
		break;
	case RELEASE_DELETED:
		rc = QACTION_REFUSED;
		*error_r = xstrdup("deleted; there is nothing to release");
		break;
	case RELEASE_PENDING:
		/* Decided and durable: recovery finishes it. */
		rc = QACTION_PENDING;
		hs_info("%s: release by=%s via=%s not finished yet: %s", qid,
		    who, via, error != NULL ? error : "recovery finishes it");
		*error_r = error != NULL ? error :
		    xstrdup("not finished yet; recovery finishes it");
		error = NULL;
		break;
	case RELEASE_FAILED:
		hs_warnx("%s: release by=%s via=%s failed: %s", qid, who, via,
		    error != NULL ? error : "unknown error");
		*error_r = error != NULL ? error : xstrdup("unknown error");
		error = NULL;
		break;
	}
	free(error);
	free(strip);
	buf_free(&b);
	return (rc);
}

enum qaction_outcome
qaction_delete(struct quarantine *q, struct msglog *ml, const char *qid,
    const char *who, const char *via, char **error_r)
{
	enum qaction_outcome rc = QACTION_FAILED;
	char		*error = NULL, *detail;

	*error_r = NULL;
	switch (quarantine_delete(q, qid, &error)) {
	case QUARANTINE_OK:
		rc = QACTION_DONE;
		hs_info("%s: action=delete by=%s via=%s", qid, who, via);
		detail = xasprintf("%s via %s", who, via);
		qaction_event(ml, qid, "deleted", "", detail);
		free(detail);
		break;
	case QUARANTINE_UNCHANGED:
		rc = QACTION_ALREADY;
		break;
	case QUARANTINE_NOTFOUND:
		rc = QACTION_NOTFOUND;
		break;
	case QUARANTINE_BUSY:
		rc = QACTION_PENDING;
		*error_r = error != NULL ? error : xstrdup("busy, try again");
		error = NULL;
		break;
	default:
		hs_warnx("%s: delete by=%s via=%s failed: %s", qid, who, via,
		    error != NULL ? error : "busy, try again");
		*error_r = error != NULL ? error : xstrdup("busy, try again");
		error = NULL;
		break;
	}
	free(error);
	return (rc);
}
