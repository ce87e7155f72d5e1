/*
 * shipper.h - holdscand's thread that ships the message log to a farm's
 * PostgreSQL database from the outbox (state/outbox.h).
 */
#ifndef HS_SHIPPER_H
#define HS_SHIPPER_H

#include <stdbool.h>
#include <stdint.h>

struct statedb;
struct shipper;

/* Rows per PostgreSQL transaction. */
#define SHIPPER_BATCH	500

/*
 * shipper_start() opens its own handles on sdb's outbox and message log
 * (sdb must stay open until shipper_stop()) and starts the thread, which
 * connects to conninfo (copied) and ships the records of host. It never
 * fails for the database: a database that is down or a wrong conninfo
 * is one log line, and the thread tries again with growing pauses.
 * 0, or -1 with *error_r (the handles or the thread).
 */
int	 shipper_start(struct statedb *sdb, const char *conninfo,
	    const char *host, struct shipper **s_r, char **error_r);
/* Stops and joins the thread (within a second); *s is NULL afterwards. */
void	 shipper_stop(struct shipper **s);
/* For the metrics: records shipped so far, whether the database is up. */
uint64_t shipper_shipped(const struct shipper *s);
bool	 shipper_up(const struct shipper *s);
/* The last look at the outbox found it empty (the gauge is then 0). */
bool	 shipper_drained(const struct shipper *s);

#endif
