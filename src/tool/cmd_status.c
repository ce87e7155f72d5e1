/*
 * NAME
 *	cmd_status - holdscan status: the daemon, its figures, set-aside and quarantined mail
 * DESCRIPTION
 *	The figures come from metrics_file (metrics_read()), the set-aside
 *	list and the quarantine counts from the state environment, read as
 *	the mail owner.
 *
 *	This file must never change the state environment.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/duration.h"
#include "common/metrics.h"
#include "common/xalloc.h"
#include "tool/output.h"
#include "tool/tool.h"

static const char *
expiry_action_name(const struct hs_config *conf)
{
	switch (conf->set_aside_expiry_action) {
	case EXPIRE_BOUNCE:
		return ("bounce");
	case EXPIRE_DELIVER_TAGGED:
		return ("deliver-tagged");
	case EXPIRE_QUARANTINE:
	default:
		return ("quarantine");
	}
}

/* The second line of a set-aside message in status: what happens when. */
static void
aside_plan(const struct tool *t, const struct aside_entry *e, time_t now,
    char *buf, size_t size)
{
	long		 lifetime = t->conf->set_aside_lifetime / 1000;
	time_t		 ends = aside_expires(e, lifetime);
	char		 age[32], left[32], when[32];
	struct tm	 tm;
	size_t		 len;

	duration_format((long long)(now - e->when), age, sizeof(age));
	(void)snprintf(buf, size, "age %s, %u attempt%s; ", age, e->attempts,
	    e->attempts == 1 ? "" : "s");
	len = strlen(buf);
	if (e->phase == ASIDE_BOUNCE && e->qid[0] != '\0') {
		(void)snprintf(buf + len, size - len, "expired: in the "
		    "quarantine as %s, the notice to the sender is pending",
		    e->qid);
		return;
	}
	if (e->phase == ASIDE_BOUNCE) {
		(void)snprintf(buf + len, size - len, "expired: being "
		    "quarantined, then bounced");
		return;
	}
	if (!aside_failed(e)) {
		(void)snprintf(buf + len, size - len, "held by the policy: "
		    "yours to release or delete");
		return;
	}
	if (t->conf->set_aside_rescan) {
		(void)snprintf(buf + len, size - len, "scanned again when the "
		    "scanners change, ");
		len = strlen(buf);
	}
	if (ends == 0) {
		(void)snprintf(buf + len, size - len, "kept until you act");
		return;
	}
	(void)localtime_r(&ends, &tm);
	(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	duration_format((long long)(ends - now), left, sizeof(left));
	(void)snprintf(buf + len, size - len, "%s at %s (in %s)",
	    expiry_action_name(t->conf), when, ends > now ? left : "0s");
}

/*
 * "up", or "DOWN for 12 s: no mail is taken from hold", and after a
 * restart ", restarted 3 times (last: scanner parent 4712 killed by
 * signal 9 (Killed) at 10:15:02)".
 */
static void
scanners_line(const struct metrics *m, char *out, size_t size)
{
	char		 at[32] = "";
	size_t		 len;
	struct tm	 tm;

	if (m == NULL) {
		(void)snprintf(out, size, "unknown");
		return;
	}
	if (m->scanners_up > 0)
		(void)snprintf(out, size, "up");
	else
		(void)snprintf(out, size, "DOWN for %lld s: no mail is taken "
		    "from hold", m->scanners_since > 0 ?
		    (long long)(time(NULL) - m->scanners_since) : 0LL);
	len = strlen(out);
	if (m->scanner_restarts > 0 && len < size) {
		if (m->scanner_last_exit_time > 0 &&
		    localtime_r(&m->scanner_last_exit_time, &tm) != NULL)
			(void)strftime(at, sizeof(at), " at %H:%M:%S", &tm);
		(void)snprintf(out + len, size - len, ", restarted %llu time%s "
		    "(last: %s%s)", (unsigned long long)m->scanner_restarts,
		    m->scanner_restarts == 1 ? "" : "s",
		    m->scanner_last_exit[0] ? m->scanner_last_exit : "unknown",
		    at);
	}
}

/*
 * The ready files in hold and its hash directories, counted now (at most
 * HOLD_COUNT_MAX): while holdscand does not run, its gauge is stale.
 */
#define HOLD_COUNT_MAX	10000000
static size_t
count_hold(int dirfd, int depth)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	size_t		 n = 0;
	int		 fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (0);
	if ((dir = fdopendir(fd)) == NULL) {
		(void)close(fd);
		return (0);
	}
	while ((de = readdir(dir)) != NULL && n < HOLD_COUNT_MAX) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && strlen(de->d_name) == 1 && depth < 16) {
			int	 sub = openat(dirfd, de->d_name, O_RDONLY |
				    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				n += count_hold(sub, depth + 1);
				(void)close(sub);
			}
		} else if (queue_id_ok(de->d_name) && queue_stat_ready(&st)) {
			n++;
		}
	}
	(void)closedir(dir);
	return (n);
}

static size_t
hold_now(const struct tool *t)
{
	char	 path[QUEUE_PATH_SIZE + 1024];
	size_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", t->ql->queue_dir, QUEUE_HOLD);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (0);
	n = count_hold(fd, 0);
	(void)close(fd);
	return (n);
}

/* "label: text", the text made safe for the terminal. */
static void
status_line(const struct tool *t, const char *label, const char *text)
{
	char	*line = xasprintf("%s%s", label, text);

	out_line(t, line, strlen(line));
	free(line);
}

int
cmd_status(struct tool *t, int argc, char **argv)
{
	struct aside_entry *v = NULL;
	struct statedb	*sdb = NULL;
	struct aside	*a = NULL;
	struct quarantine *q = NULL;
	struct stat	 st;
	struct metrics	 mbuf, *m = NULL;
	char		*error = NULL, *qerror = NULL, scanners[400];
	char		 path[QUEUE_PATH_SIZE + 1024], sz[3][16];
	size_t		 n = 0, i, held = 0, owed = 0, qn[3] = { 0, 0, 0 };
	time_t		 now = time(NULL);
	uint64_t	 qb[3] = { 0, 0, 0 };
	long		 pid;
	time_t		 up, written = 0;
	size_t		 in_hold;
	char		 when[32];

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		t->json = true;
	else if (argc != 1)
		tool_bad_arg(t, strcmp(argv[1], "--json") == 0 ? argv[2] : argv[1]);
	pid = tool_daemon_pid(t);
	tool_become_mail_owner(t);
	if (metrics_read(t->conf->metrics_file, &mbuf, &written) == 0)
		m = &mbuf;
	if (statedb_open_in(t->conf->state_directory,
	    t->conf->state_region_directory, &sdb, &error) < 0 ||
	    aside_open(sdb, &a, &error) < 0 || aside_list(a, &v, &n, &error) < 0) {
		(void)fprintf(stderr, "holdscan: %s\n", error);
		aside_close(&a);
		statedb_close(&sdb);
		return (1);
	}
	aside_close(&a);
	if (quarantine_open(t->conf, sdb, t->ql->owner_uid, t->ql->owner_gid, &q,
	    &qerror) == 0 && quarantine_counts(q, qn, qb, &qerror) == 0) {
		free(qerror);
		qerror = NULL;
	}
	quarantine_close(&q);
	statedb_close(&sdb);
	/*
	 * Only entries still in hold count (the admin may have acted on
	 * them; holdscand forgets them at its next pass), first; then those
	 * expired with bounce whose notice to the sender is still owed.
	 */
	for (i = 0; i < n; i++) {
		char	 rel[QUEUE_PATH_SIZE];

		v[i].reason[sizeof(v[i].reason) - 1] = '\0';
		if (queue_path(t->ql, QUEUE_HOLD, v[i].id, rel) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", t->ql->queue_dir,
		    rel) < sizeof(path) && lstat(path, &st) == 0 &&
		    (uint64_t)st.st_ino == v[i].ino) {
			struct aside_entry tmp = v[held];

			v[held++] = v[i];
			v[i] = tmp;
		}
	}
	for (i = held; i < n; i++) {
		if (v[i].phase == ASIDE_BOUNCE) {
			struct aside_entry tmp = v[held + owed];

			v[held + owed++] = v[i];
			v[i] = tmp;
		}
	}
	if (m == NULL) {
		memset(&mbuf, 0, sizeof(mbuf));
		scanners_line(NULL, scanners, sizeof(scanners));
	} else {
		scanners_line(m, scanners, sizeof(scanners));
	}
	up = mbuf.started;
	/*
	 * While holdscand runs, its gauges are current; while it does not,
	 * hold is counted now (minus what is set aside), and the other
	 * figures are said to be those of its last run.
	 */
	in_hold = (size_t)mbuf.hold_depth;
	if (pid <= 0) {
		in_hold = hold_now(t);
		in_hold = in_hold > held ? in_hold - held : 0;
	}
	out_time(written, when, sizeof(when));
	if (t->json) {
		(void)printf("{\"running\":%s,\"pid\":%ld,", pid > 0 ? "true" :
		    "false", pid > 0 ? pid : 0);
		(void)printf("\"uptime_seconds\":%lld,", up > 0 && pid > 0 ?
		    (long long)(time(NULL) - up) : 0LL);
		(void)printf("\"hold_queue_depth\":%zu,\"in_flight\":%llu,",
		    in_hold, pid > 0 ? (unsigned long long)mbuf.in_flight : 0ULL);
		(void)printf("\"figures_from\":\"%s\",\"figures_time\":%lld,",
		    pid > 0 ? "running" : m != NULL ? "last-run" : "none",
		    (long long)written);
		(void)printf("\"claimed_total\":%llu,\"batches_total\":%llu,",
		    (unsigned long long)mbuf.claimed,
		    (unsigned long long)mbuf.batches);
		(void)printf("\"scanners\":{\"up\":%s,\"since\":%lld,"
		    "\"restarts\":%llu,\"last_exit\":", m != NULL && pid > 0 &&
		    mbuf.scanners_up > 0 ? "true" : "false",
		    (long long)mbuf.scanners_since,
		    (unsigned long long)mbuf.scanner_restarts);
		out_json_string(stdout, mbuf.scanner_last_exit);
		(void)printf(",\"last_exit_time\":%lld},",
		    (long long)mbuf.scanner_last_exit_time);
		(void)printf("\"engine\":");
		out_json_string(stdout, mbuf.engine_info);
		(void)printf(",\"last_error\":");
		out_json_string(stdout, mbuf.last_error);
		(void)printf(",\"config_errors\":");
		out_json_string(stdout, t->config_errors ? t->config_errors : "");
		(void)printf(",\"set_aside\":[");
		for (i = 0; i < held + owed; i++) {
			const struct aside_entry *e = &v[i];
			bool	 failed = aside_failed(e);

			(void)printf("%s{\"queue_id\":", i ? "," : "");
			out_json_string(stdout, e->id);
			(void)printf(",\"since\":%lld,\"last_attempt\":%lld,"
			    "\"attempts\":%u,\"age_seconds\":%lld,\"in_hold\":%s,"
			    "\"state\":\"%s\",\"expires\":%lld,"
			    "\"expiry_action\":\"%s\",\"rescan\":%s,\"reason\":",
			    (long long)e->when, (long long)(e->last ? e->last :
			    e->when), e->attempts, (long long)(now - e->when),
			    i < held ? "true" : "false",
			    e->phase == ASIDE_BOUNCE ? "bouncing" : failed ?
			    "scan-failed" : "held-by-policy",
			    (long long)aside_expires(e,
			    t->conf->set_aside_lifetime / 1000),
			    failed ? expiry_action_name(t->conf) : "",
			    failed && e->phase != ASIDE_BOUNCE &&
			    t->conf->set_aside_rescan ? "true" : "false");
			out_json_string(stdout, e->reason);
			(void)printf("}");
		}
		(void)printf("],\"quarantine\":{\"held\":%zu,\"released\":%zu,"
		    "\"deleted\":%zu,\"held_bytes\":%" PRIu64 ",\"released_bytes\":%"
		    PRIu64 ",\"error\":", qn[QSTATE_HELD], qn[QSTATE_RELEASED],
		    qn[QSTATE_DELETED], qb[QSTATE_HELD], qb[QSTATE_RELEASED]);
		out_json_string(stdout, qerror ? qerror : "");
		(void)printf("}}\n");
	} else {
		if (pid > 0)
			(void)printf("holdscand:        running, pid %ld, up %lld s\n",
			    pid, up > 0 ? (long long)(time(NULL) - up) : 0LL);
		else
			(void)printf("holdscand:        not running\n");
		if (pid > 0 && m != NULL)
			(void)printf("hold queue:       %zu waiting, %llu in "
			    "flight\n", in_hold, (unsigned long long)m->in_flight);
		else
			(void)printf("hold queue:       %zu waiting (counted now: "
			    "nothing takes them while holdscand is stopped)\n",
			    in_hold);
		if (m != NULL) {
			(void)printf("processed:        %llu messages in %llu "
			    "batches%s%s%s\n", (unsigned long long)m->claimed,
			    (unsigned long long)m->batches, pid > 0 ? "" :
			    " (its last run, figures of ", pid > 0 ? "" : when,
			    pid > 0 ? "" : ")");
			if (pid > 0)
				status_line(t, "scanners:         ", scanners);
			status_line(t, "engine:           ", m->engine_info[0] ?
			    m->engine_info : "(no scanners)");
		}
		if (m != NULL && m->last_error[0]) {
			char	*le;

			out_time(m->last_error_time, when, sizeof(when));
			le = xasprintf("%s (%s)", m->last_error, when);
			status_line(t, "last error:       ", le);
			free(le);
		} else {
			(void)printf("last error:       none\n");
		}
		if (qerror != NULL) {
			(void)printf("quarantine:       unavailable: %s\n", qerror);
		} else {
			for (i = 0; i < 3; i++)
				out_size(qb[i], sz[i], sizeof(sz[i]));
			(void)printf("quarantine:       %zu held (%s), %zu released "
			    "(%s), %zu deleted\n", qn[QSTATE_HELD], sz[0],
			    qn[QSTATE_RELEASED], sz[1], qn[QSTATE_DELETED]);
		}
		(void)printf("set aside:        %zu message%s in hold%s\n", held,
		    held == 1 ? "" : "s", held ? " (postsuper -H ID releases "
		    "unscanned, -d deletes)" : "");
		for (i = 0; i < held + owed; i++) {
			char	 since[32], plan[400], *line;
			struct tm tm;

			if (i == held)
				(void)printf("bounced:          %zu message%s "
				    "quarantined, the notice to the sender "
				    "not yet sent\n", owed, owed == 1 ? "" : "s");
			(void)localtime_r(&v[i].when, &tm);
			(void)strftime(since, sizeof(since), "%Y-%m-%d %H:%M", &tm);
			line = xasprintf("  %-20s %s  %s", v[i].id, since,
			    v[i].reason);
			out_line(t, line, strlen(line));
			free(line);
			aside_plan(t, &v[i], now, plan, sizeof(plan));
			(void)printf("  %-20s %s\n", "", plan);
		}
	}
	free(qerror);
	free(v);
	return (0);
}
