/*
 * NAME
 *	crashtest - a test-only scanner plugin that misbehaves on demand
 * DESCRIPTION
 *	For the robustness tests, never installed. A message whose text
 *	contains the configured marker makes the worker do what mode says:
 *	crash (SIGSEGV), abort, hang (endless loop: the time limit must end
 *	it), sleep (for sleep_ms, then answer), fail (return an error),
 *	allocate (until the memory limit stops it), give verdict (a named
 *	verdict with the marker as reason), or killparent (SIGKILL the
 *	scanner parent, as a worker taken over by a message could when
 *	worker_seccomp is off; under the filter the kill fails). Other
 *	messages are clean. With delay_ms, every message (marked or not)
 *	takes that long first.
 *
 *	It must never misbehave on a message without the marker.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "holdscan/plugin.h"

struct crashtest {
	const struct hs_host *host;
	const char	*marker;
	const char	*mode;
	long		 sleep_ms;
	const char	*verdict;
	long		 delay_ms;
};

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static const struct hs_plugin_option crashtest_options[] = {
	{ "marker", HS_OPT_STR, "HOLDSCAN-CRASHTEST-MARKER",
	    "text that triggers the behaviour" },
	{ "mode", HS_OPT_STR, "crash",
	    "crash, abort, hang, sleep, fail, allocate, verdict or killparent" },
	{ "sleep_ms", HS_OPT_TIME, "100ms", "how long mode sleep sleeps" },
	{ "verdict", HS_OPT_STR, "infected",
	    "the verdict mode verdict gives: spam, high-spam, blocked, infected" },
	{ "delay_ms", HS_OPT_TIME, "0ms", "every message takes this long first" },
	{ NULL, 0, NULL, NULL },
};

static int
crashtest_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct crashtest *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	c->host = host;
	c->marker = host->opt_str(host->host_ctx, "marker");
	c->mode = host->opt_str(host->host_ctx, "mode");
	c->sleep_ms = host->opt_num(host->host_ctx, "sleep_ms");
	c->verdict = host->opt_str(host->host_ctx, "verdict");
	c->delay_ms = host->opt_num(host->host_ctx, "delay_ms");
	*ctx_r = c;
	return (0);
}

static int
crashtest_reload(void *ctx, const char **error_r)
{
	struct crashtest *c = ctx;

	(void)error_r;
	c->marker = c->host->opt_str(c->host->host_ctx, "marker");
	c->mode = c->host->opt_str(c->host->host_ctx, "mode");
	c->sleep_ms = c->host->opt_num(c->host->host_ctx, "sleep_ms");
	c->verdict = c->host->opt_str(c->host->host_ctx, "verdict");
	c->delay_ms = c->host->opt_num(c->host->host_ctx, "delay_ms");
	return (0);
}

static int
crashtest_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct crashtest *c = ctx;
	volatile char	*p = NULL;

	res->verdict = HS_CLEAN;
	if (c->delay_ms > 0)
		sleep_ms(c->delay_ms);
	if (c->marker[0] == '\0' ||
	    memmem(msg->data, msg->len, c->marker, strlen(c->marker)) == NULL)
		return (0);
	if (strcmp(c->mode, "crash") == 0) {
		*p = 1;		/* SIGSEGV */
	} else if (strcmp(c->mode, "abort") == 0) {
		abort();
	} else if (strcmp(c->mode, "hang") == 0) {
		for (;;)
			;
	} else if (strcmp(c->mode, "sleep") == 0) {
		sleep_ms(c->sleep_ms);
	} else if (strcmp(c->mode, "killparent") == 0) {
		(void)kill(getppid(), SIGKILL);
		sleep_ms(10000);	/* the parent's death kills us */
	} else if (strcmp(c->mode, "fail") == 0) {
		(void)snprintf(res->reason, sizeof(res->reason), "crashtest fail");
		return (-1);
	} else if (strcmp(c->mode, "allocate") == 0) {
		for (;;) {
			char	*q = malloc(1 << 20);

			if (q == NULL)
				abort();
			memset(q, 1, 1 << 20);
		}
	} else if (strcmp(c->mode, "verdict") == 0) {
		res->verdict = strcmp(c->verdict, "spam") == 0 ? HS_SPAM :
		    strcmp(c->verdict, "high-spam") == 0 ? HS_HIGH_SPAM :
		    strcmp(c->verdict, "blocked") == 0 ? HS_BLOCKED : HS_INFECTED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", c->marker);
	}
	return (0);
}

static void
crashtest_fini(void *ctx)
{
	free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "crashtest",
	.version = "1",
	.options = crashtest_options,
	.init = crashtest_init,
	.reload = crashtest_reload,
	.scan = crashtest_scan,
	.fini = crashtest_fini,
};
