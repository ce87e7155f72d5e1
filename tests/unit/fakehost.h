/*
 * fakehost.h - for the unit tests of plugins (which include the plugin's
 * .c file): a stand-in for holdscand's side of the plugin ABI, and a clock.
 *
 * The options start at the plugin's defaults and are checked with the
 * host's own config_check_value(); log lines and watched paths are kept
 * for the test to look at.
 */
#ifndef HS_TEST_FAKEHOST_H
#define HS_TEST_FAKEHOST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "holdscan/plugin.h"

#define FAKE_MAX_OPTS	16

struct fake_host {
	struct hs_host	 host;
	const struct hs_plugin_option *table;
	char		 text[FAKE_MAX_OPTS][512];
	long		 num[FAKE_MAX_OPTS];
	char		 log[4096];	/* every line, each ended by \n */
	int		 nlog;
	char		 watched[512];
	int		 nwatch;
};

static int
fake_index(const struct fake_host *fh, const char *name)
{
	int	 i;

	for (i = 0; fh->table[i].name != NULL; i++)
		if (strcmp(fh->table[i].name, name) == 0)
			return (i);
	return (-1);
}

static void __attribute__((format(printf, 3, 4)))
fake_log(void *hc, int level, const char *fmt, ...)
{
	struct fake_host *fh = hc;
	size_t		 len = strlen(fh->log);
	va_list		 ap;

	(void)snprintf(fh->log + len, sizeof(fh->log) - len, "%s: ",
	    level ? "warning" : "info");
	len = strlen(fh->log);
	va_start(ap, fmt);
	(void)vsnprintf(fh->log + len, sizeof(fh->log) - len, fmt, ap);
	va_end(ap);
	len = strlen(fh->log);
	(void)snprintf(fh->log + len, sizeof(fh->log) - len, "\n");
	fh->nlog++;
}

static const char *
fake_opt_str(void *hc, const char *name)
{
	struct fake_host *fh = hc;
	int		 i = fake_index(fh, name);

	return (i < 0 ? NULL : fh->text[i]);
}

static long
fake_opt_num(void *hc, const char *name)
{
	struct fake_host *fh = hc;
	int		 i = fake_index(fh, name);

	return (i < 0 ? 0 : fh->num[i]);
}

static int
fake_watch_path(void *hc, const char *path)
{
	struct fake_host *fh = hc;

	(void)snprintf(fh->watched, sizeof(fh->watched), "%s", path);
	fh->nwatch++;
	return (0);
}

/* Set an option as holdscan.conf would; -1 if the host would refuse it. */
static int
fake_set(struct fake_host *fh, const char *name, const char *value)
{
	int	 i = fake_index(fh, name);

	if (i < 0 || config_check_value(fh->table[i].type, value,
	    &fh->num[i]) != NULL)
		return (-1);
	(void)snprintf(fh->text[i], sizeof(fh->text[i]), "%s", value);
	return (0);
}

static void
fake_host_init(struct fake_host *fh, const struct hs_plugin *desc)
{
	int	 i;

	memset(fh, 0, sizeof(*fh));
	fh->table = desc->options;
	for (i = 0; fh->table[i].name != NULL && i < FAKE_MAX_OPTS; i++)
		if (fake_set(fh, fh->table[i].name, fh->table[i].def) < 0)
			fprintf(stderr, "bad default for %s\n",
			    fh->table[i].name);
	fh->host.abi_version = HS_PLUGIN_ABI_VERSION;
	fh->host.struct_size = sizeof(fh->host);
	fh->host.host_ctx = fh;
	fh->host.log = fake_log;
	fh->host.opt_str = fake_opt_str;
	fh->host.opt_num = fake_opt_num;
	fh->host.watch_path = fake_watch_path;
	fh->host.rewrite_flags = HS_REWRITE_HIGHLIGHT_PHISHING;
}

/*
 * fake_undocumented() returns the first option of desc that the
 * "plugin NAME { }" example in etc/holdscan.conf does not show with its
 * default ("#    name = default", quoted when empty or with spaces; any
 * absolute path for a path), or NULL when all are there.
 */
static const char *
fake_undocumented(const struct hs_plugin *desc)
{
	const struct hs_plugin_option *o;
	const char	*missing = NULL;
	char		 want[600], head[128], *text;
	const char	*sec, *end = NULL;
	FILE		*fp;
	size_t		 n;

	if ((fp = fopen(HS_SRCDIR "/etc/holdscan.conf", "r")) == NULL)
		return ("(etc/holdscan.conf cannot be read)");
	if ((text = calloc(1, 1 << 20)) == NULL) {
		(void)fclose(fp);
		return ("(out of memory)");
	}
	n = fread(text, 1, (1 << 20) - 1, fp);
	(void)fclose(fp);
	text[n] = '\0';
	(void)snprintf(head, sizeof(head), "#plugin %s {\n", desc->name);
	if ((sec = strstr(text, head)) == NULL)
		missing = "(no plugin section)";
	else if ((end = strstr(sec, "\n#}")) == NULL)
		missing = "(plugin section does not end)";
	for (o = desc->options; missing == NULL && o->name != NULL; o++) {
		const char	*q = o->def[0] == '\0' || strchr(o->def, ' ') ?
			    "\"" : "";
		const char	*at;

		/* Paths depend on PREFIX: only the name is checked. */
		if (o->type == HS_OPT_PATH)
			(void)snprintf(want, sizeof(want), "#    %s = /", o->name);
		else
			(void)snprintf(want, sizeof(want), "#    %s = %s%s%s\n",
			    o->name, q, o->def, q);
		if ((at = strstr(sec, want)) == NULL || at > end)
			missing = o->name;
	}
	free(text);
	return (missing);
}

/* Seconds since t0 (CLOCK_MONOTONIC). */
static double
test_seconds_since(const struct timespec *t0)
{
	struct timespec	 t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9);
}

#endif
