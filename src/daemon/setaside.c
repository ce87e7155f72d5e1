/*
 * NAME
 *	setaside - the life cycle of mail set aside unscanned
 * DESCRIPTION
 *	Mail set aside because it could not be scanned (state/aside.c) is
 *	offered to the pipeline's claim path again: once for each new
 *	engine generation (new signatures, SIGHUP; after a start only if
 *	the signatures or the configuration changed: the epochs of
 *	aside.h), and when set_aside_lifetime is over, to be decided
 *	without a scan (quarantine, bounce: quarantine and a notice to the
 *	sender, or deliver-tagged) and committed by the same commit_batch()
 *	as everything else. A bounce's notice is owed in aside.db from
 *	before that commit until sendmail has handed it to Postfix, so a
 *	crash delays it but cannot lose it. Entries whose file left hold
 *	(postsuper -H, -d, -r) are forgotten.
 *
 *	At most SETASIDE_FLIGHT_MAX set-aside messages are claimed again
 *	at a time, and none while the scanners are down or the state
 *	environment is closed.
 *
 *	This module must never move, open for writing or remove a queue
 *	file (the pipeline's claim and commit do), and never forget an
 *	entry whose notice is owed before Postfix has the notice.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commit/msg.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/qfile.h"
#include "common/queue.h"
#include "daemon/notify.h"
#include "daemon/pipeline.h"
#include "daemon/setaside.h"
#include "daemon/watch.h"
#include "quarantine/quarantine.h"
#include "state/aside.h"

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

void
setaside_clear(struct setaside *s)
{
	strmap_clear(&s->flight);
	strmap_clear(&s->owed);
}

/* The reason without its "scan-failed: " verdict prefix. */
static const char *
aside_why(const struct aside_entry *e)
{
	const char	*p = strchr(e->reason, ':');

	return (p != NULL && p[1] == ' ' ? p + 2 : e->reason);
}

/* Is the file of e where rel (hold, or claimed/) says, same inode? */
static bool
file_at(struct pipeline *p, const struct aside_entry *e, bool hold)
{
	struct stat	 st;
	char		 path[QUEUE_PATH_SIZE];

	/* In hold: where the layout puts it, or where an earlier one did. */
	if (hold)
		return (queue_locate(p->ql, p->qdirfd, QUEUE_HOLD, e->id, path,
		    &st) == 0 && (uint64_t)st.st_ino == e->ino);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", p->commit.claimed,
	    e->id) >= sizeof(path))
		return (false);
	return (fstatat(p->qdirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uint64_t)st.st_ino == e->ino);
}

/* Offer a set-aside message to the claim path once more, for kind. */
static void
claim_again(struct pipeline *p, const struct aside_entry *e,
    uint64_t kind)
{
	struct watch_candidate c;
	struct stat	 st;
	char		 age[32];

	memset(&c, 0, sizeof(c));
	(void)snprintf(c.id, sizeof(c.id), "%s", e->id);
	if (queue_locate(p->ql, p->qdirfd, QUEUE_HOLD, e->id, c.path, &st) < 0)
		return;
	duration_format((long long)(time(NULL) - e->when), age, sizeof(age));
	if (kind == SETASIDE_RESCAN)
		hs_info("%s: set aside %s ago, %u attempt%s: scanning it again "
		    "(new scanners: %s)", e->id, age, e->attempts,
		    e->attempts == 1 ? "" : "s", p->pool->engine_info[0] ?
		    p->pool->engine_info : "generation changed");
	else
		hs_info("%s: set aside %s ago, %u attempt%s: set_aside_lifetime "
		    "is over; expiry_action=%s", e->id, age, e->attempts,
		    e->attempts == 1 ? "" : "s", kind == SETASIDE_BOUNCE ?
		    "bounce" : p->conf->set_aside_expiry_action ==
		    EXPIRE_DELIVER_TAGGED ? "deliver-tagged" : "quarantine");
	strmap_put(&p->setaside.flight, e->id, kind);
	watch_unignore(p->watch, e->id);
	watch_defer(p->watch, &c, now_ms(), 0);
}

/* Queue the sender's notice for an entry in phase bounce; qf is its message. */
static void
send_notice(struct pipeline *p, struct aside_entry *e,
    const struct qfile *qf)
{
	struct notify_bounce b;
	char		 reason[400], age[32], *error = NULL;
	int		 r;

	duration_format((long long)(e->last > e->when ? e->last - e->when : 0),
	    age, sizeof(age));
	(void)snprintf(reason, sizeof(reason), "could not be scanned (%s); "
	    "held %s, %u attempt%s", aside_why(e), age, e->attempts,
	    e->attempts == 1 ? "" : "s");
	memset(&b, 0, sizeof(b));
	b.queue_id = e->id;
	b.qf = qf;
	b.reason = reason;
	b.quarantine_id = e->qid;
	b.key = e->id;
	r = notify_bounce(p->notify, &b);
	if (r > 0) {
		strmap_put(&p->setaside.owed, e->id, 1);
		hs_info("%s: bounce: notice to <%s> queued (quarantine_id=%s)",
		    e->id, qf->sender, e->qid[0] ? e->qid : "?");
		return;
	}
	if (r < 0)
		return;		/* queue full: the next pass tries again */
	hs_info("%s: bounce: no notice is due (the null sender, a notice, or "
	    "DSN NOTIFY without FAILURE); kept in the quarantine as %s", e->id,
	    e->qid[0] ? e->qid : "?");
	if (aside_del(p->state.aside, e->id, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
}

struct aside_find {
	const struct aside_entry *e;
	char		 qid[QUARANTINE_ID_SIZE];
};

static int
aside_find_copy(void *arg, const struct quarantine_entry *qe)
{
	struct aside_find *f = arg;

	if (strcmp(qe->orig_id, f->e->id) == 0 &&
	    strcmp(qe->verdict, verdict_name(VERDICT_FAILED)) == 0) {
		(void)snprintf(f->qid, sizeof(f->qid), "%s", qe->qid);
		return (1);
	}
	return (0);
}

/*
 * An entry in phase bounce whose file has left hold: its quarantine
 * commit happened (or the admin removed it). The notice is owed: build
 * it from the quarantine copy (holdscand may have stopped since).
 */
static void
owe_notice(struct pipeline *p, struct aside_entry *e)
{
	struct quarantine_entry qe;
	struct quarantine_query qq;
	struct qfile_error err;
	struct aside_find f;
	struct qfile	*qf = NULL;
	char		*error = NULL;
	uint64_t	 v;
	int		 fd;

	if (strmap_get(&p->setaside.owed, e->id, &v))
		return;		/* queued, not finished */
	memset(&f, 0, sizeof(f));
	f.e = e;
	(void)snprintf(f.qid, sizeof(f.qid), "%s", e->qid);
	if (f.qid[0] == '\0') {
		memset(&qq, 0, sizeof(qq));
		qq.since = e->last > 3600 ? e->last - 3600 : 0;
		qq.state = -1;
		if (quarantine_list(p->state.quarantine, &qq, aside_find_copy,
		    &f, &error) < 0) {
			hs_warnx("%s: %s", e->id, error);
			free(error);
			return;
		}
	}
	memset(&qe, 0, sizeof(qe));
	if (f.qid[0] == '\0' || quarantine_get(p->state.quarantine, NULL,
	    f.qid, false, &qe, &error) != QUARANTINE_OK ||
	    (fd = quarantine_open_file(p->state.quarantine, &qe)) < 0) {
		hs_warnx("%s: bounce: its quarantine copy %s is gone (deleted?); "
		    "no notice to the sender", e->id, f.qid[0] ? f.qid : "(none)");
		free(error);
		quarantine_entry_clear(&qe);
		if (aside_del(p->state.aside, e->id, &error) < 0) {
			hs_warnx("%s", error);
			free(error);
		}
		return;
	}
	if (qfile_read_fd(fd, SIZE_MAX, &qf, &err) < 0) {
		hs_warnx("%s: bounce: quarantine copy %s: %s", e->id, f.qid,
		    err.text);
		(void)close(fd);
		quarantine_entry_clear(&qe);
		return;
	}
	(void)close(fd);
	if (strcmp(e->qid, f.qid) != 0) {
		/* Found by its queue id: remember where, for the next time. */
		(void)snprintf(e->qid, sizeof(e->qid), "%s", f.qid);
		if (aside_update(p->state.aside, e, &error) < 0) {
			hs_warnx("%s", error);
			free(error);
		}
	}
	send_notice(p, e, qf);
	qfile_free(&qf);
	quarantine_entry_clear(&qe);
}

/*
 * Everything the set-aside list asks for now: entries whose file left
 * hold are forgotten (postsuper -H, -d, -r), owed notices are sent, and
 * mail set aside unscanned is expired or scanned again. Runs every
 * rescan_interval, when the scanners change, and when an expiry is due.
 */
static void
pass(struct pipeline *p)
{
	struct aside_entry *v = NULL;
	char		*error = NULL;
	size_t		 n = 0, i, kept = 0, flying;
	time_t		 now = time(NULL), soonest = 0, ends;
	long		 lifetime = p->conf->set_aside_lifetime / 1000, wait;
	const char	*epoch = p->pool->ready ? p->setaside.epoch : "";
	bool		 more = false;

	p->setaside.next_ms = now_ms() + p->conf->rescan_interval;
	if (p->state_broken || p->stopping)
		return;
	if (aside_list(p->state.aside, &v, &n, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
		return;
	}
	flying = p->setaside.flight.used;
	for (i = 0; i < n; i++) {
		struct aside_entry *e = &v[i];
		enum aside_next next;
		uint64_t	 kind;
		bool		 in_hold = file_at(p, e, true);

		if (strmap_get(&p->setaside.flight, e->id, &kind)) {
			/* Claimed again: in hold (queued) or claimed/ (in flight). */
			if (in_hold || file_at(p, e, false)) {
				kept++;
				continue;
			}
			(void)strmap_del(&p->setaside.flight, e->id);
			flying--;
		}
		next = aside_next(e, now, lifetime, epoch,
		    p->conf->set_aside_rescan);
		if (next == ASIDE_NOTICE && !in_hold) {
			owe_notice(p, e);
			continue;
		}
		if (!in_hold) {
			watch_unignore(p->watch, e->id);
			if (aside_del(p->state.aside, e->id, &error) < 0) {
				hs_warnx("%s", error);
				free(error);
				error = NULL;
			}
			continue;
		}
		kept++;
		if (next == ASIDE_NOTICE || next == ASIDE_EXPIRE ||
		    next == ASIDE_RESCAN) {
			if (flying >= SETASIDE_FLIGHT_MAX || !p->pool->ready) {
				more = true;
				continue;
			}
			if (next == ASIDE_RESCAN)
				kind = SETASIDE_RESCAN;
			else if (next == ASIDE_NOTICE ||
			    p->conf->set_aside_expiry_action == EXPIRE_BOUNCE)
				kind = SETASIDE_BOUNCE;
			else
				kind = SETASIDE_EXPIRE;
			claim_again(p, e, kind);
			flying++;
			continue;
		}
		if ((ends = aside_expires(e, lifetime)) != 0 &&
		    (soonest == 0 || ends < soonest))
			soonest = ends;
	}
	p->setaside.count = kept;
	free(v);
	if (more)
		wait = 1000;
	else if (soonest != 0)
		wait = (long)(soonest - now) * 1000 + 100;
	else
		wait = p->conf->rescan_interval;
	if (wait < p->conf->rescan_interval)
		p->setaside.next_ms = now_ms() + (wait > 0 ? wait : 0);
}

void
setaside_tick(struct pipeline *p, long t)
{
	struct aside_entry e;
	char		 key[QUEUE_ID_SIZE], *error = NULL;
	bool		 ok;

	if (p->pool->ready && (p->setaside.epoch[0] == '\0' ||
	    p->pool->generation != p->setaside.generation)) {
		if (p->setaside.boot_us == 0) {
			struct timespec	 ts;

			(void)clock_gettime(CLOCK_REALTIME, &ts);
			p->setaside.boot_us = (long long)ts.tv_sec * 1000000LL +
			    ts.tv_nsec / 1000;
		}
		p->setaside.generation = p->pool->generation;
		aside_epoch_make(p->setaside.epoch, config_digest(p->conf,
		    p->pool->engine_info),
		    (unsigned long long)p->setaside.boot_us,
		    p->setaside.generation);
		p->setaside.next_ms = t;
	}
	/* The state may have been reopened: the handle is new then. */
	if (p->state.aside != NULL)
		aside_set_epoch(p->state.aside, p->setaside.epoch);
	while (notify_done(p->notify, key, sizeof(key), &ok)) {
		(void)strmap_del(&p->setaside.owed, key);
		if (!ok || p->state_broken)
			continue;	/* the next pass tries again */
		if (aside_get(p->state.aside, key, &e, &error) == 1 &&
		    e.phase == ASIDE_BOUNCE && !file_at(p, &e, true)) {
			hs_info("%s: bounce: the notice to the sender is queued "
			    "by Postfix; the message stays in the quarantine as "
			    "%s", key, e.qid[0] ? e.qid : "?");
			if (aside_del(p->state.aside, key, &error) < 0)
				hs_warnx("%s", error);
		}
		free(error);
		error = NULL;
	}
	if (t >= p->setaside.next_ms)
		pass(p);
}

bool
setaside_expiring(struct pipeline *p, struct msg *m)
{
	struct aside_entry e;
	char		 age[32], life[32], *error = NULL;
	uint64_t	 kind;

	if (!strmap_get(&p->setaside.flight, m->id, &kind) ||
	    kind == SETASIDE_RESCAN)
		return (false);
	if (aside_get(p->state.aside, m->id, &e, &error) != 1 ||
	    e.ino != (uint64_t)m->st.st_ino) {
		/* Not the file that was set aside: scan it like any other. */
		free(error);
		(void)strmap_del(&p->setaside.flight, m->id);
		return (false);
	}
	duration_format((long long)(time(NULL) - e.when), age, sizeof(age));
	duration_format(p->conf->set_aside_lifetime / 1000, life, sizeof(life));
	m->generation = p->pool->generation;
	m->verdict = VERDICT_FAILED;
	(void)snprintf(m->reason, sizeof(m->reason), "%s; set aside %s, %u "
	    "attempt%s, set_aside_lifetime %s", aside_why(&e), age, e.attempts,
	    e.attempts == 1 ? "" : "s", life);
	m->action = ACTION_QUARANTINE;
	if (kind == SETASIDE_BOUNCE && e.phase != ASIDE_BOUNCE) {
		/* Durably owed before the commit: a crash cannot lose it. */
		e.phase = ASIDE_BOUNCE;
		e.last = time(NULL);
		if (aside_update(p->state.aside, &e, &error) < 0) {
			hs_warnx("%s: %s; left aside", m->id, error);
			free(error);
			m->action = ACTION_HOLD;
		}
	} else if (kind == SETASIDE_EXPIRE &&
	    p->conf->set_aside_expiry_action == EXPIRE_DELIVER_TAGGED) {
		m->action = ACTION_DELIVER;	/* the caller tags it */
	}
	return (true);
}

void
setaside_committed(struct pipeline *p, const struct msg *m)
{
	struct aside_entry e;
	char		*error = NULL;
	uint64_t	 kind;
	time_t		 ends;
	bool		 again;

	again = strmap_get(&p->setaside.flight, m->id, &kind);
	if (again)
		(void)strmap_del(&p->setaside.flight, m->id);
	if (m->outcome == COMMIT_RETURNED) {
		/* Back in hold, its entry unchanged: the next pass retries. */
		if (again)
			watch_ignore(p->watch, m->id, m->st.st_ino);
		return;
	}
	if (m->outcome != COMMIT_DONE || p->state.aside == NULL ||
	    p->state_broken)
		return;		/* recovery decides; the pass follows */
	if (m->action == ACTION_HOLD) {
		/*
		 * Set aside (again): commit recorded the attempt with the
		 * current epoch. Scanned by scanners that were replaced
		 * meanwhile, it gets another scan by the new ones. The next
		 * pass is due by its expiry at the latest.
		 */
		if (again && p->setaside.count > 0)
			p->setaside.count--;	/* counted again below */
		if (m->verdict != VERDICT_FAILED ||
		    aside_get(p->state.aside, m->id, &e, &error) != 1) {
			if (error != NULL) {
				hs_warnx("%s", error);
				free(error);
			}
			return;
		}
		if (m->generation != p->pool->generation) {
			e.epoch[0] = '\0';
			if (aside_update(p->state.aside, &e, &error) < 0) {
				hs_warnx("%s", error);
				free(error);
			}
			p->setaside.next_ms = 0;
		}
		ends = aside_expires(&e, p->conf->set_aside_lifetime / 1000);
		if (ends != 0) {
			long	 due = now_ms() + 100 + (ends > time(NULL) ?
				    (long)(ends - time(NULL)) * 1000 : 0);

			if (due < p->setaside.next_ms)
				p->setaside.next_ms = due;
		}
		return;
	}
	if (!again)
		return;
	if (kind == SETASIDE_BOUNCE && m->quarantine_id[0] != '\0') {
		/* Quarantined: now the sender's notice is owed. */
		switch (aside_get(p->state.aside, m->id, &e, &error)) {
		case 1:
			e.phase = ASIDE_BOUNCE;
			(void)snprintf(e.qid, sizeof(e.qid), "%s",
			    m->quarantine_id);
			if (aside_update(p->state.aside, &e, &error) < 0) {
				hs_warnx("%s", error);	/* the pass finds the copy */
				free(error);
			}
			send_notice(p, &e, m->qf);
			break;
		case -1:
			hs_warnx("%s", error);	/* the next pass sends it */
			free(error);
			break;
		default:
			hs_warnx("%s: bounce: not in the set-aside list any "
			    "more; no notice to the sender", m->id);
			break;
		}
		return;
	}
	if (kind == SETASIDE_RESCAN)
		hs_info("%s: no longer set aside: action=%s verdict=%s", m->id,
		    confword_action_name(m->action), verdict_name(m->verdict));
	if (aside_del(p->state.aside, m->id, &error) < 0) {
		hs_warnx("%s", error);
		free(error);
	}
}

