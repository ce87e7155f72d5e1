/*
 * NAME
 *	cmd_db - holdscan db init, upgrade, status: a farm's database
 * DESCRIPTION
 *	holdscan db init creates the schema in the database that database
 *	names (state/pgdb.c holds it), holdscan db upgrade brings an older
 *	one up to this holdscan's version; both do it in one transaction
 *	and do nothing when the schema is there already, so that every host
 *	of a farm may run them. holdscan db status says whether the
 *	database answers, its schema version, and the outbox of this host
 *	(from holdscand's metrics file).
 *
 *	This file must never print the conninfo (it may hold a password),
 *	never touch the state environment, and never build SQL from data.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "state/pgdb.h"
#include "tool/tool.h"

static PGconn *
db_connect(struct tool *t)
{
	PGconn	*c = NULL;
	char	*error = NULL;

	if (t->conf->database == NULL || t->conf->database[0] == '\0') {
		(void)tool_fail("database is not set in %s: this host keeps its "
		    "message log alone (see farm.md)", t->config_path);
		return (NULL);
	}
	if (pgdb_connect(t->conf->database, "holdscan", -1, &c, &error) < 0) {
		(void)tool_fail("database: cannot connect: %s", error);
		free(error);
		return (NULL);
	}
	return (c);
}

/* init and upgrade: the same idempotent step, said differently. */
static int
apply(struct tool *t, int argc, char **argv, bool init)
{
	PGconn	*c;
	char	*error = NULL;
	int	 from = 0, rc = 0;

	if (argc != 1)
		tool_bad_arg(t, argv[1]);
	if ((c = db_connect(t)) == NULL)
		return (1);
	if (pgdb_schema_apply(&c, &from, &error) < 0) {
		rc = tool_fail("database: %s", error);
		free(error);
	} else if (from == PGDB_SCHEMA_VERSION) {
		(void)printf("schema version %d: already there\n", from);
	} else if (from == 0) {
		(void)printf("schema version %d: created\n", PGDB_SCHEMA_VERSION);
	} else {
		(void)printf("schema version %d: upgraded from version %d\n",
		    PGDB_SCHEMA_VERSION, from);
	}
	if (!init && rc == 0 && from == 0)
		(void)fprintf(stderr, "holdscan: there was no schema: created "
		    "(holdscan db init does the same)\n");
	if (c != NULL)
		PQfinish(c);
	return (rc);
}

int
cmd_db_init(struct tool *t, int argc, char **argv)
{
	return (apply(t, argc, argv, true));
}

int
cmd_db_upgrade(struct tool *t, int argc, char **argv)
{
	return (apply(t, argc, argv, false));
}

int
cmd_db_status(struct tool *t, int argc, char **argv)
{
	struct metrics	 m;
	PGconn		*c;
	char		*error = NULL;
	int		 version = 0, rc = 0;

	if (argc != 1)
		tool_bad_arg(t, argv[1]);
	if ((c = db_connect(t)) == NULL)
		return (1);
	if (pgdb_schema_version(&c, &version, &error) < 0) {
		rc = tool_fail("database: %s", error);
		free(error);
	} else {
		(void)printf("database: connected\nschema version: %d%s\n",
		    version, version == PGDB_SCHEMA_VERSION ? "" : version == 0 ?
		    " (none: run holdscan db init)" : version <
		    PGDB_SCHEMA_VERSION ? " (old: run holdscan db upgrade)" :
		    " (newer than this holdscan)");
	}
	if (c != NULL)
		PQfinish(c);
	memset(&m, 0, sizeof(m));
	if (metrics_read(t->conf->metrics_file, &m, NULL) == 0)
		(void)printf("outbox: %" PRIu64 " waiting, %" PRIu64 " dropped, "
		    "%" PRIu64 " shipped since holdscand started; shipper %s\n",
		    m.outbox_pending, m.outbox_dropped, m.shipped,
		    m.database_up ? "connected" : "not connected");
	else
		(void)printf("outbox: unknown (no metrics file %s)\n",
		    t->conf->metrics_file);
	return (rc);
}
