/*
 * NAME
 *	farmview - the web console's views of a farm: the message log, the
 *	quarantine, traces and statistics of every host, from PostgreSQL
 * DESCRIPTION
 *	holdscan-web connects with its own role (web { database }, else
 *	database), which needs SELECT on message_log and message_events
 *	(and, for farmact.c and farmprev.c, INSERT and SELECT on requests):
 *	nothing else
 *	(doc/farm.md). Each query is one fixed statement whose values are
 *	parameters; the account's scope is one of its conditions ($1 an
 *	admin, $2 the addresses, $3 the domains, one a line), so that paging
 *	counts what the account may see, and every row is checked again with
 *	access_any_ok(), the rule holdscand's control socket applies: a row
 *	the SQL let through by mistake is dropped, never shown. Answers have
 *	the shapes of the control socket's (doc/web.md), each record with
 *	its host.
 *
 *	This module must never build SQL from data, never write to the
 *	database, never show a row outside the account's scope, and never
 *	put a string into an answer but through text_safe().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/text.h"
#include "common/verdict.h"
#include "common/xalloc.h"
#include "state/pgdb.h"
#include "web/farmview.h"

#define PAGE_MAX	500
#define TOP_MAX		"10"

/*
 * Statistics answered in the last FARMVIEW_STATS_KEEP_S seconds, by
 * scope and period: a farm's week is 100-400 ms of PostgreSQL's time
 * (hundreds of thousands of index entries and the spam senders' rows),
 * and the page asks again on each visit. At most FARMVIEW_STATS_KEPT,
 * the oldest given up first.
 */
#define FARMVIEW_STATS_KEPT	16
struct kept_stats {
	char	*scope;		/* role, addresses and domains; NULL: empty */
	long	 hours;
	time_t	 at;
	json_t	*reply;
};

struct farmview {
	char	*conninfo;
	char	*myhost;
	PGconn	*conn;
	struct {
		char	*host;	/* did not answer a request in time */
		time_t	 until;
	} slow[FARMVIEW_SLOW_HOSTS];
	struct kept_stats kept[FARMVIEW_STATS_KEPT];
};

/* Every column of a record, as the queries below select it. */
enum col {
	C_HOST, C_SEQ, C_TIME, C_ORIG_ID, C_NEW_ID, C_QID, C_SENDER, C_RCPTS,
	C_SIZE, C_SUBJECT, C_CLIENT, C_SASL, C_VERDICT, C_ACTION, C_REASON,
	C_PLUGINS, C_HOLD_MS, C_SCAN_MS, C_LATER, C_STATE, C_TOTAL
};
#define COLUMNS \
    "m.host, m.seq, extract(epoch FROM m.time)::bigint, m.orig_id," \
    " m.new_id, m.quarantine_id, m.sender," \
    " array_to_string(m.recipients, E'\\n'), m.size, m.subject," \
    " m.client_address, m.sasl_username, m.verdict, m.action, m.reason," \
    " m.plugins, m.hold_ms, m.scan_ms, array_to_string(m.release_ids, ' ')"
/*
 * $1 admin, $2 addresses, $3 domains (access_address_ok()'s rule: a
 * recipient lowered is one of the addresses, or the part after its last
 * @ one of the domains), on the GIN indexes of schema versions 3 and 4.
 * An empty list's arm folds away (the statement is planned with its
 * values), so that a row walked in time order calls one function, not
 * two (a SQL function's call each).
 */
#define SCOPE \
    " ($1::bool" \
    " OR ($2::text <> '' AND holdscan_lower(m.recipients)" \
    " && string_to_array($2::text, E'\\n'))" \
    " OR ($3::text <> '' AND holdscan_domains(m.recipients)" \
    " && string_to_array($3::text, E'\\n')))"
/*
 * A substring of a column lowered, as a LIKE pattern (its %, _ and \
 * escaped) that a trigram index answers (schema version 5).
 */
#define CONTAINS(col, param) \
    " lower(" col ") LIKE '%' || replace(replace(replace(lower(" param \
    "), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"
/* $4 since, $5 until, $6 recipient, $7 subject, $8 host. */
#define FILTERS \
    " AND ($4::bigint IS NULL OR m.time >= to_timestamp($4::bigint))" \
    " AND ($5::bigint IS NULL OR m.time <= to_timestamp($5::bigint))" \
    " AND ($6::text IS NULL OR" \
    " holdscan_lower(m.recipients) @> ARRAY[lower($6::text)])" \
    " AND ($7::text IS NULL OR" CONTAINS("m.subject", "$7::text") ")" \
    " AND ($8::text IS NULL OR m.host = $8::text)"

/* $9 sender, $10 verdict, $11 action, $12 id, $13 offset, $14 limit. */
static const char select_log[] =
    "SELECT " COLUMNS " FROM message_log m WHERE" SCOPE FILTERS
    " AND ($9::text IS NULL OR lower(m.sender) = lower($9::text))"
    " AND ($10::text IS NULL OR lower(m.verdict) = lower($10::text))"
    " AND ($11::text IS NULL OR lower(m.action) = lower($11::text))"
    " AND ($12::text IS NULL OR m.orig_id = $12 OR m.new_id = $12"
    " OR (m.quarantine_id = $12 AND m.quarantine_id <> '')"
    " OR m.release_ids @> ARRAY[$12::text])"
    " ORDER BY m.time DESC, m.seq DESC, m.host"
    " OFFSET $13::bigint LIMIT $14::bigint";

#define STATE \
    "coalesce((SELECT e.kind FROM message_events e" \
    " WHERE e.host = m.host AND e.seq = m.seq" \
    " AND e.kind IN ('released', 'deleted', 'expired')" \
    " ORDER BY e.n DESC LIMIT 1), 'held')"
/*
 * The quarantine's list: $9 sender, $10 reason (substrings), $11 state,
 * $12 offset, $13 limit. The page's keys and the count (uncorrelated: an
 * InitPlan, run once; joined, a misestimate of one row ran it once per
 * row of the page) are two subqueries on the partial index of the
 * quarantined rows (schema
 * version 5), index only when no filter needs another column: the page
 * stops after offset + limit rows in the index's order, the count has no
 * row to carry (count(*) OVER () over the whole list took half a second
 * at 100,000 rows). The held state, the list's usual one, is "no
 * release, deletion or expiry": an anti join (select_held).
 */
#define QUARANTINED \
    " m.quarantine_id <> '' AND" SCOPE FILTERS \
    " AND ($9::text IS NULL OR" CONTAINS("m.sender", "$9::text") ")" \
    " AND ($10::text IS NULL OR" CONTAINS("m.reason", "$10::text") ")"
#define QLIST(in_state) \
    "SELECT " COLUMNS ", " STATE ", (SELECT count(*) FROM message_log m" \
    " WHERE" QUARANTINED in_state ") FROM (SELECT m.host, m.seq," \
    " m.time FROM message_log m WHERE" QUARANTINED in_state \
    " ORDER BY m.time DESC, m.seq DESC, m.host" \
    " OFFSET $12::bigint LIMIT $13::bigint) k" \
    " JOIN message_log m ON m.host = k.host AND m.seq = k.seq" \
    " ORDER BY m.time DESC, m.seq DESC, m.host"
/*
 * A domain admin's or a user's list: the scope's rows are a few per cent
 * of the quarantine, and a page walked in time order reads every
 * quarantined row before it to find them (page 5 of a domain with 3 % of
 * the quarantine: 8,300 rows for 250, 100 ms; tests/bench/webfarm.sh).
 * Their keys come from the scope's own GIN index instead (a bitmap of
 * the domain's or the addresses' rows, once), counted and sorted for the
 * page: the count needed that bitmap anyway.
 */
#define QLIST_SCOPED(in_state) \
    "WITH k AS MATERIALIZED (SELECT m.host, m.seq, m.time" \
    " FROM message_log m WHERE" QUARANTINED in_state ")" \
    " SELECT " COLUMNS ", " STATE ", (SELECT count(*) FROM k)" \
    " FROM (SELECT k.host, k.seq, k.time FROM k" \
    " ORDER BY k.time DESC, k.seq DESC, k.host" \
    " OFFSET $12::bigint LIMIT $13::bigint) p" \
    " JOIN message_log m ON m.host = p.host AND m.seq = p.seq" \
    " ORDER BY m.time DESC, m.seq DESC, m.host"
#define IN_STATE \
    " AND ($11::text IS NULL OR " STATE " = $11::text)"
#define IN_HELD \
    " AND $11::text = 'held' AND NOT EXISTS (SELECT 1" \
    " FROM message_events e WHERE e.host = m.host AND e.seq = m.seq" \
    " AND e.kind IN ('released', 'deleted', 'expired'))"
static const char select_quarantined[] = QLIST(IN_STATE);
static const char select_held[] = QLIST(IN_HELD);
static const char select_quarantined_scoped[] = QLIST_SCOPED(IN_STATE);
static const char select_held_scoped[] = QLIST_SCOPED(IN_HELD);
/* $4 the quarantine id, $5 this host. */
static const char select_elsewhere[] =
    "SELECT " COLUMNS ", " STATE " FROM message_log m"
    " WHERE m.quarantine_id = $4 AND m.quarantine_id <> '' AND m.host <> $5"
    " AND" SCOPE " ORDER BY m.time DESC, m.seq DESC LIMIT 1";
/* $4 any id of the message. */
static const char select_named[] =
    "SELECT " COLUMNS " FROM message_log m WHERE (m.orig_id = $4"
    " OR m.new_id = $4 OR (m.quarantine_id = $4 AND m.quarantine_id <> '')"
    " OR m.release_ids @> ARRAY[$4::text]) AND" SCOPE
    " ORDER BY m.time, m.seq, m.host LIMIT 100";
static const char select_events[] =
    "SELECT extract(epoch FROM time)::bigint, kind, new_id, detail"
    " FROM message_events WHERE host = $1 AND seq = $2::bigint ORDER BY n";
/* $4 since: messages per hour and verdict. */
static const char select_hours[] =
    "SELECT extract(epoch FROM date_trunc('hour', m.time))::bigint,"
    " lower(m.verdict), count(*) FROM message_log m"
    " WHERE m.time >= to_timestamp($4::bigint) AND" SCOPE " GROUP BY 1, 2";
/* $4 since, $5 the verdicts, $6 sender (1) or reason (0): a top ten. */
static const char select_top[] =
    "SELECT CASE WHEN $6::bool THEN coalesce(nullif(m.sender, ''), '<>')"
    " ELSE coalesce(nullif(m.reason, ''), '(none)') END, count(*)"
    " FROM message_log m WHERE m.time >= to_timestamp($4::bigint)"
    " AND lower(m.verdict) = ANY(string_to_array($5::text, ','))"
    " AND" SCOPE " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT " TOP_MAX;

struct farmview *
farmview_new(const char *conninfo, const char *myhost)
{
	struct farmview	*f = xcalloc(1, sizeof(*f));

	f->conninfo = xstrdup(conninfo);
	f->myhost = xstrdup(myhost);
	return (f);
}

void
farmview_free(struct farmview **fp)
{
	struct farmview	*f = *fp;
	size_t		 i;

	if (f == NULL)
		return;
	if (f->conn != NULL)
		PQfinish(f->conn);
	for (i = 0; i < FARMVIEW_STATS_KEPT; i++) {
		free(f->kept[i].scope);
		json_decref(f->kept[i].reply);
	}
	free(f->conninfo);
	free(f->myhost);
	for (i = 0; i < FARMVIEW_SLOW_HOSTS; i++)
		free(f->slow[i].host);
	free(f);
	*fp = NULL;
}

const char *
farmview_host(const struct farmview *f)
{
	return (f->myhost);
}

const char *
farmview_conninfo(const struct farmview *f)
{
	return (f->conninfo);
}

bool
farmview_host_slow(const struct farmview *f, const char *host)
{
	time_t	 now = time(NULL);
	size_t	 i;

	for (i = 0; i < FARMVIEW_SLOW_HOSTS; i++)
		if (f->slow[i].host != NULL &&
		    strcmp(f->slow[i].host, host) == 0 && now < f->slow[i].until)
			return (true);
	return (false);
}

void
farmview_set_slow(struct farmview *f, const char *host, bool slow)
{
	size_t	 i, k = 0;

	for (i = 0; i < FARMVIEW_SLOW_HOSTS; i++) {
		if (f->slow[i].host != NULL &&
		    strcmp(f->slow[i].host, host) == 0) {
			k = i;
			break;
		}
		/* Else the free slot, or the one noted longest ago. */
		if (f->slow[i].host == NULL ||
		    (f->slow[k].host != NULL &&
		    f->slow[i].until < f->slow[k].until))
			k = i;
	}
	if (!slow) {
		if (i < FARMVIEW_SLOW_HOSTS)
			f->slow[k].until = 0;
		return;
	}
	if (f->slow[k].host == NULL || strcmp(f->slow[k].host, host) != 0) {
		free(f->slow[k].host);
		f->slow[k].host = xstrdup(host);
	}
	f->slow[k].until = time(NULL) + FARMVIEW_SLOW_S;
}

int
farmview_db(struct farmview *f, PGconn ***c_r, char **error_r)
{
	int	 version = 0;

	if (f->conn != NULL && PQstatus(f->conn) != CONNECTION_OK) {
		PQfinish(f->conn);
		f->conn = NULL;
	}
	if (f->conn == NULL) {
		if (pgdb_connect(f->conninfo, "holdscan-web", -1, &f->conn,
		    error_r) < 0)
			return (-1);
		if (pgdb_schema_version(&f->conn, &version, error_r) < 0)
			goto fail;
		if (version != PGDB_SCHEMA_VERSION) {
			*error_r = xasprintf("the schema is version %d, not %d",
			    version, PGDB_SCHEMA_VERSION);
			goto fail;
		}
		/*
		 * No parallel workers: a page walked in time order stops
		 * after its rows, and workers racing ahead read several
		 * times as many (a domain admin's quarantine page: 175 ms
		 * with two workers, 75 ms without; tests/bench/webfarm.sh).
		 */
		if (pgdb_exec(&f->conn, -1, FARMVIEW_STATEMENT_MS,
		    "SET max_parallel_workers_per_gather = 0", 0, NULL, NULL,
		    error_r) < 0)
			goto fail;
	}
	*c_r = &f->conn;
	return (0);
fail:
	if (f->conn != NULL)
		PQfinish(f->conn);
	f->conn = NULL;
	return (-1);
}

/* Run a statement: 0 and *res_r, or -1 with *error_r. */
static int
run(struct farmview *f, const char *sql, int n, const char *const *p,
    PGresult **res_r, char **error_r)
{
	PGconn	**c;

	if (farmview_db(f, &c, error_r) < 0)
		return (-1);
	return (pgdb_exec(c, -1, FARMVIEW_STATEMENT_MS, sql, n, p, res_r,
	    error_r));
}

static json_t *
jstr(const char *s)
{
	char	*copy = xstrdup(s != NULL ? s : "");
	json_t	*j;

	(void)text_safe(copy, strlen(copy), false);
	j = json_string(copy);
	free(copy);
	return (j != NULL ? j : json_string(""));
}

static json_int_t
jint(const PGresult *res, int row, int col)
{
	return ((json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
}

/* The scope's three parameters into p[0..3); free *bufs_r[0..2). */
static void
scope_params(const struct access_scope *s, const char **p, char **bufs)
{
	struct buf	 a = BUF_INIT, d = BUF_INIT;
	size_t		 i;

	for (i = 0; i < s->naddresses; i++)
		buf_printf(&a, "%s%s", i ? "\n" : "", s->addresses[i]);
	for (i = 0; s->role == ACCESS_DOMAIN && i < s->ndomains; i++)
		buf_printf(&d, "%s%s", i ? "\n" : "", s->domains[i]);
	bufs[0] = buf_steal(&a, NULL);
	bufs[1] = buf_steal(&d, NULL);
	p[0] = s->role == ACCESS_ADMIN ? "t" : "f";
	p[1] = bufs[0] != NULL ? bufs[0] : "";
	p[2] = bufs[1] != NULL ? bufs[1] : "";
}

/* The recipients of a row, one a line, as a vector (free both). */
static const char **
rcpts(const PGresult *res, int row, char **store_r, size_t *n_r)
{
	const char	**v = NULL;
	char		 *s;
	size_t		  n = 0;

	*store_r = xstrdup(PQgetvalue(res, row, C_RCPTS));
	for (s = *store_r; *s != '\0'; ) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = s;
		if ((s = strchr(s, '\n')) == NULL)
			break;
		*s++ = '\0';
	}
	*n_r = n;
	return (v);
}

/* Whether the row is in scope (access_any_ok()): and its recipients. */
static bool
row_ok(const PGresult *res, int row, const struct access_scope *s,
    json_t **rcpts_r)
{
	const char	**v;
	char		 *store;
	size_t		  n, i;
	bool		  ok;

	v = rcpts(res, row, &store, &n);
	ok = access_any_ok(s, v, n);
	*rcpts_r = NULL;
	if (ok) {
		*rcpts_r = json_array();
		for (i = 0; i < n; i++)
			(void)json_array_append_new(*rcpts_r, jstr(v[i]));
	}
	free(v);
	free(store);
	return (ok);
}

static json_t *
rec_json(const PGresult *res, int row, json_t *rc, bool full)
{
	json_t	*j;

	j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:I, s:o}",
	    "seq", jint(res, row, C_SEQ), "time", jint(res, row, C_TIME),
	    "host", jstr(PQgetvalue(res, row, C_HOST)),
	    "orig_id", jstr(PQgetvalue(res, row, C_ORIG_ID)),
	    "new_id", jstr(PQgetvalue(res, row, C_NEW_ID)),
	    "quarantine_id", jstr(PQgetvalue(res, row, C_QID)),
	    "sender", jstr(PQgetvalue(res, row, C_SENDER)), "recipients", rc,
	    "subject", jstr(PQgetvalue(res, row, C_SUBJECT)),
	    "verdict", jstr(PQgetvalue(res, row, C_VERDICT)),
	    "action", jstr(PQgetvalue(res, row, C_ACTION)),
	    "size", jint(res, row, C_SIZE),
	    "reason", jstr(PQgetvalue(res, row, C_REASON)));
	if (full && j != NULL) {
		(void)json_object_set_new(j, "client",
		    jstr(PQgetvalue(res, row, C_CLIENT)));
		(void)json_object_set_new(j, "sasl_user",
		    jstr(PQgetvalue(res, row, C_SASL)));
		(void)json_object_set_new(j, "plugins",
		    jstr(PQgetvalue(res, row, C_PLUGINS)));
		(void)json_object_set_new(j, "queue_ms",
		    json_integer(jint(res, row, C_HOLD_MS)));
		(void)json_object_set_new(j, "scan_ms",
		    json_integer(jint(res, row, C_SCAN_MS)));
		(void)json_object_set_new(j, "later_ids",
		    jstr(PQgetvalue(res, row, C_LATER)));
	}
	return (j);
}

/* A quarantined row as the control socket's qlist item, with its host. */
static json_t *
entry_json(const PGresult *res, int row, json_t *rc)
{
	const char	*later = PQgetvalue(res, row, C_LATER);
	const char	*last = strrchr(later, ' ');
	size_t		 releases = later[0] != '\0';
	const char	*s;

	for (s = later; *s != '\0'; s++)
		releases += *s == ' ';
	return (json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:o,"
	    " s:o, s:o, s:o, s:o, s:o}",
	    "id", jstr(PQgetvalue(res, row, C_QID)),
	    "orig_id", jstr(PQgetvalue(res, row, C_ORIG_ID)),
	    "verdict", jstr(PQgetvalue(res, row, C_VERDICT)),
	    "reason", jstr(PQgetvalue(res, row, C_REASON)),
	    "arrival", jint(res, row, C_TIME),
	    "quarantined", jint(res, row, C_TIME),
	    "size", jint(res, row, C_SIZE),
	    "state", jstr(PQgetvalue(res, row, C_STATE)),
	    "releases", (json_int_t)releases,
	    "new_id", jstr(last != NULL ? last + 1 : later),
	    "sender", jstr(PQgetvalue(res, row, C_SENDER)), "recipients", rc,
	    "subject", jstr(PQgetvalue(res, row, C_SUBJECT)),
	    "released_to", jstr(""),
	    "host", jstr(PQgetvalue(res, row, C_HOST))));
}

static const char *
num(char *buf, long long v)
{
	if (v == 0)
		return (NULL);
	(void)snprintf(buf, 24, "%lld", v);
	return (buf);
}

/*
 * The scope and FILTERS' parameters, $1 to $8, and $9 the sender, into
 * p (bufs: scope_params()'s; since and until: 24 bytes each).
 */
static void
filter_params(const struct access_scope *s, const struct farmview_query *q,
    const char **p, char **bufs, char *since, char *until)
{
	scope_params(s, p, bufs);
	p[3] = num(since, q->since);
	p[4] = num(until, q->until);
	p[5] = q->recipient;
	p[6] = q->subject;
	p[7] = q->host;
	p[8] = q->sender;
}

static int
page_ok(const struct farmview_query *q, char **error_r)
{
	if (q->offset < 0 || q->limit < 1 || q->limit > PAGE_MAX) {
		*error_r = xstrdup("offset, limit: out of range");
		return (-2);
	}
	return (0);
}

/*
 * A page of a list: $1 to $9 (filter_params()), then the nextra
 * parameters of the statement, its offset and its limit (plus one, with
 * one_more: to tell whether there is more). 0 and *res_r, -1 or -2 with
 * *error_r.
 */
static int
page(struct farmview *f, const struct access_scope *s,
    const struct farmview_query *q, const char *sql, const char **extra,
    int nextra, bool one_more, PGresult **res_r, char **error_r)
{
	const char	*p[16];
	char		*bufs[2], since[24], until[24], off[24], lim[24];
	int		 i, n = 9, got;

	if (page_ok(q, error_r) < 0)
		return (-2);
	filter_params(s, q, p, bufs, since, until);
	for (i = 0; i < nextra; i++)
		p[n++] = extra[i];
	(void)snprintf(off, sizeof(off), "%lld", q->offset);
	(void)snprintf(lim, sizeof(lim), "%lld", q->limit + one_more);
	p[n++] = off;
	p[n++] = lim;
	got = run(f, sql, n, p, res_r, error_r);
	free(bufs[0]);
	free(bufs[1]);
	return (got);
}

int
farmview_log(struct farmview *f, const struct access_scope *s,
    const struct farmview_query *q, json_t **reply_r, char **error_r)
{
	PGresult	*res;
	const char	*extra[3] = { q->verdict, q->action, q->id };
	json_t		*items, *rc;
	int		 row, rows, got;

	*reply_r = NULL;
	if ((got = page(f, s, q, select_log, extra, 3, true, &res,
	    error_r)) < 0)
		return (got);
	items = json_array();
	rows = PQntuples(res);
	for (row = 0; row < rows && row < q->limit; row++)
		if (row_ok(res, row, s, &rc))
			(void)json_array_append_new(items,
			    rec_json(res, row, rc, false));
	*reply_r = json_pack("{s:I, s:b, s:b, s:o}", "offset",
	    (json_int_t)q->offset, "more", rows > q->limit, "partial", 0,
	    "items", items);
	PQclear(res);
	return (0);
}

int
farmview_qlist(struct farmview *f, const struct access_scope *s,
    const struct farmview_query *q, json_t **reply_r, char **error_r)
{
	PGresult	*res;
	const char	*extra[2] = { q->reason, q->state };
	json_t		*items, *rc;
	json_int_t	 total = 0;
	const char	*sql;
	bool		 held;
	int		 row, got;

	*reply_r = NULL;
	if (q->state != NULL && strcmp(q->state, "held") != 0 &&
	    strcmp(q->state, "released") != 0 &&
	    strcmp(q->state, "deleted") != 0 &&
	    strcmp(q->state, "expired") != 0) {
		*error_r = xstrdup("state: use held, released or deleted");
		return (-2);
	}
	held = q->state != NULL && strcmp(q->state, "held") == 0;
	if (s->role == ACCESS_ADMIN)
		sql = held ? select_held : select_quarantined;
	else
		sql = held ? select_held_scoped : select_quarantined_scoped;
	if ((got = page(f, s, q, sql, extra, 2, false, &res, error_r)) < 0)
		return (got);
	items = json_array();
	for (row = 0; row < PQntuples(res); row++) {
		total = jint(res, row, C_TOTAL);
		if (row_ok(res, row, s, &rc))
			(void)json_array_append_new(items,
			    entry_json(res, row, rc));
	}
	if (PQntuples(res) == 0 && q->offset > 0)
		total = q->offset;	/* past the end: at least that many */
	*reply_r = json_pack("{s:I, s:b, s:I, s:o}", "total", total,
	    "partial", 0, "offset", (json_int_t)q->offset, "items", items);
	PQclear(res);
	return (0);
}

int
farmview_held_elsewhere(struct farmview *f, const struct access_scope *s,
    const char *qid, json_t **entry_r, char **error_r)
{
	PGresult	*res;
	const char	*p[5];
	char		*bufs[2];
	json_t		*rc;
	int		 got;

	*entry_r = NULL;
	scope_params(s, p, bufs);
	p[3] = qid;
	p[4] = f->myhost;
	got = run(f, select_elsewhere, 5, p, &res, error_r);
	free(bufs[0]);
	free(bufs[1]);
	if (got < 0)
		return (-1);
	got = 0;
	if (PQntuples(res) == 1 && row_ok(res, 0, s, &rc)) {
		*entry_r = entry_json(res, 0, rc);
		got = 1;
	}
	PQclear(res);
	return (got);
}

static json_t *
events_json(struct farmview *f, const PGresult *rec, int row)
{
	PGresult	*res;
	const char	*p[2];
	char		*error = NULL;
	json_t		*a = json_array();
	int		 i;

	p[0] = PQgetvalue(rec, row, C_HOST);
	p[1] = PQgetvalue(rec, row, C_SEQ);
	if (run(f, select_events, 2, p, &res, &error) < 0) {
		free(error);
		return (a);
	}
	for (i = 0; i < PQntuples(res); i++)
		(void)json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:o}",
		    "time", jint(res, i, 0), "kind", jstr(PQgetvalue(res, i, 1)),
		    "new_id", jstr(PQgetvalue(res, i, 2)),
		    "detail", jstr(PQgetvalue(res, i, 3))));
	PQclear(res);
	return (a);
}

int
farmview_trace(struct farmview *f, const struct access_scope *s,
    const char *id, json_t **reply_r, char **error_r)
{
	PGresult	*res;
	const char	*p[4];
	char		*bufs[2];
	json_t		*items, *rc, *j;
	int		 row, got;

	*reply_r = NULL;
	scope_params(s, p, bufs);
	p[3] = id;
	got = run(f, select_named, 4, p, &res, error_r);
	free(bufs[0]);
	free(bufs[1]);
	if (got < 0)
		return (-1);
	items = json_array();
	for (row = 0; row < PQntuples(res); row++) {
		if (!row_ok(res, row, s, &rc))
			continue;
		j = rec_json(res, row, rc, true);
		(void)json_object_set_new(j, "events", events_json(f, res, row));
		(void)json_array_append_new(items, j);
	}
	PQclear(res);
	got = json_array_size(items) > 0;
	*reply_r = json_pack("{s:o}", "items", items);
	return (got);
}

/* A top ten of the verdicts (comma-separated), by sender or by reason. */
static json_t *
top(struct farmview *f, const char **p, const char *verdicts, bool senders,
    char **error_r)
{
	PGresult	*res;
	json_t		*a;
	int		 i;

	p[4] = verdicts;
	p[5] = senders ? "t" : "f";
	if (run(f, select_top, 6, p, &res, error_r) < 0)
		return (NULL);
	a = json_array();
	for (i = 0; i < PQntuples(res); i++)
		(void)json_array_append_new(a, json_pack("{s:o, s:I}", "name",
		    jstr(PQgetvalue(res, i, 0)), "count", jint(res, i, 1)));
	PQclear(res);
	return (a);
}

static int
stats_query(struct farmview *f, const struct access_scope *s, long hours,
    json_t **reply_r, char **error_r)
{
	PGresult	*res = NULL;
	const char	*p[6];
	char		*bufs[2], since[24], spam[64];
	json_t		*hv, *row, *tops[3] = { NULL, NULL, NULL };
	long long	(*per)[VERDICT_COUNT] = NULL, total = 0;
	time_t		 start;
	long		 h;
	int		 i, v, rc = -1;

	*reply_r = NULL;
	if (hours < 1 || hours > 24 * 31) {
		*error_r = xstrdup("hours: 1 to 744");
		return (-2);
	}
	start = time(NULL) / 3600 * 3600 - (hours - 1) * 3600;
	(void)snprintf(since, sizeof(since), "%lld", (long long)start);
	(void)snprintf(spam, sizeof(spam), "%s,%s", verdict_name(VERDICT_SPAM),
	    verdict_name(VERDICT_HIGH_SPAM));
	scope_params(s, p, bufs);
	p[3] = since;
	if (run(f, select_hours, 4, p, &res, error_r) < 0 ||
	    (tops[0] = top(f, p, verdict_name(VERDICT_INFECTED), false,
	    error_r)) == NULL ||
	    (tops[1] = top(f, p, verdict_name(VERDICT_BLOCKED), false,
	    error_r)) == NULL ||
	    (tops[2] = top(f, p, spam, true, error_r)) == NULL)
		goto out;
	per = xcalloc((size_t)hours, sizeof(*per));
	for (i = 0; i < PQntuples(res); i++) {
		h = (long)((jint(res, i, 0) - start) / 3600);
		if (h < 0)
			continue;
		if (h >= hours)
			h = hours - 1;
		if ((v = verdict_parse(PQgetvalue(res, i, 1))) < 0)
			v = VERDICT_FAILED;
		per[h][v] += jint(res, i, 2);
		total += jint(res, i, 2);
	}
	hv = json_array();
	for (h = 0; h < hours; h++) {
		row = json_object();
		(void)json_object_set_new(row, "start",
		    json_integer((json_int_t)(start + h * 3600)));
		for (v = 0; v < VERDICT_COUNT; v++)
			(void)json_object_set_new(row,
			    verdict_name((enum verdict)v), json_integer(per[h][v]));
		(void)json_array_append_new(hv, row);
	}
	*reply_r = json_pack("{s:o, s:I, s:b, s:o, s:o, s:o}", "hours", hv,
	    "total", (json_int_t)total, "partial", 0, "top_viruses", tops[0],
	    "top_blocked", tops[1], "top_spam_senders", tops[2]);
	tops[0] = tops[1] = tops[2] = NULL;
	rc = 0;
out:
	for (i = 0; i < 3; i++)
		json_decref(tops[i]);
	if (res != NULL)
		PQclear(res);
	free(per);
	free(bufs[0]);
	free(bufs[1]);
	return (rc);
}

/* The kept answer for scope and hours, fresh enough, or NULL. */
static struct kept_stats *
kept_find(struct farmview *f, const char *scope, long hours, time_t now)
{
	struct kept_stats *k;
	size_t		 i;

	for (i = 0; i < FARMVIEW_STATS_KEPT; i++) {
		k = &f->kept[i];
		if (k->scope != NULL && k->reply != NULL && k->hours == hours &&
		    strcmp(k->scope, scope) == 0 && now >= k->at &&
		    now - k->at < FARMVIEW_STATS_KEEP_S)
			return (k);
	}
	return (NULL);
}

/* Keep reply (owned from now on) for scope and hours, over the oldest. */
static void
kept_put(struct farmview *f, const char *scope, long hours, time_t now,
    json_t *reply)
{
	struct kept_stats *k = &f->kept[0];
	size_t		 i;

	for (i = 0; i < FARMVIEW_STATS_KEPT; i++) {
		if (f->kept[i].scope == NULL) {
			k = &f->kept[i];
			break;
		}
		if (f->kept[i].at < k->at)
			k = &f->kept[i];
	}
	free(k->scope);
	json_decref(k->reply);
	k->scope = xstrdup(scope);
	k->hours = hours;
	k->at = now;
	k->reply = reply;
}

int
farmview_stats(struct farmview *f, const struct access_scope *s, long hours,
    json_t **reply_r, char **error_r)
{
	struct kept_stats *k;
	const char	*p[3];
	char		*bufs[2], *scope;
	time_t		 now = time(NULL);
	int		 rc;

	*reply_r = NULL;
	scope_params(s, p, bufs);
	scope = xasprintf("%s\t%s\t%s", p[0], p[1], p[2]);
	free(bufs[0]);
	free(bufs[1]);
	if ((k = kept_find(f, scope, hours, now)) != NULL) {
		*reply_r = json_deep_copy(k->reply);
		(void)json_object_set_new(*reply_r, "as_of",
		    json_integer((json_int_t)k->at));
		free(scope);
		return (*reply_r != NULL ? 0 : -1);
	}
	if ((rc = stats_query(f, s, hours, reply_r, error_r)) == 0) {
		kept_put(f, scope, hours, now, json_deep_copy(*reply_r));
		(void)json_object_set_new(*reply_r, "as_of",
		    json_integer((json_int_t)now));
	}
	free(scope);
	return (rc);
}
