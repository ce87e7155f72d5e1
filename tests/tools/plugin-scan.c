/*
 * NAME
 *	plugin-scan - run scanner plugins on message files, as a worker would
 * SYNOPSIS
 *	plugin-scan [-w] [-d plugin_dir] [-n count] [-o [plugin:]name=value]...
 *	    PLUGIN[,PLUGIN...] FILE...
 * DESCRIPTION
 *	Loads each PLUGIN from plugin_dir (default: the plugins directory of
 *	the build this program belongs to), sets the options (name=value
 *	sets it in every plugin that has the option, plugin:name=value in
 *	that one), runs init, then scans each FILE (an RFC 822 message with
 *	LF line ends) count times (default 1) through the plugins' scan
 *	hooks in the order given, sharing one MIME walk per scan as a
 *	worker's run_plugins() does (mimecache.h; -w: each plugin walks for
 *	itself, as before the walk was shared), and prints:
 *
 *	    init: MS ms, rss KB kB, info: TEXT
 *	    FILE: VERDICT[ REASON] (mean US us over COUNT scans, cpu US us,
 *	        median US us, p10 US us)
 *
 *	and with more than one plugin, after each FILE line, one line per
 *	plugin with its own verdict and CPU per scan (mean, median), then
 *	the walks:
 *
 *	    PLUGIN: VERDICT[ REASON] (cpu US us, median US us, p10 US us)
 *	    walks: N parsed, M shared
 *
 *	The VERDICT of the FILE line is the worst; the CPU is the process's,
 *	all plugins together: the mean over the scans, the median scan
 *	(steadier on a loaded machine, where other processes' bursts land
 *	on a few scans) and the 10th percentile (the scans that ran with
 *	the CPU and its caches to themselves, as on a quiet machine). It is for measurements (tests/bench/content.py)
 *	and for looking at verdicts by hand; the tests call the plugins
 *	through plugin_load() themselves.
 *
 *	The plugins' temporary files go to a private directory in /dev/shm
 *	or /tmp (scratch.c), removed at exit.
 *
 *	It must never modify a FILE.
 * DIAGNOSTICS
 *	Exit 0; 1 when loading, an option, init or a scan fails (with the
 *	reason on stderr); 2 for a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/paths.h"
#include "holdscan/plugin.h"
#include "scanner/mimecache.h"
#include "scanner/pluginload.h"
#include "scanner/scratch.h"
#include "common/verdict.h"
#include "common/xalloc.h"

static void
usage(void)
{
	(void)fprintf(stderr, "usage: plugin-scan [-w] [-d plugin_dir] "
	    "[-n count] [-o [plugin:]name=value]... PLUGIN[,PLUGIN...] "
	    "FILE...\n");
	exit(2);
}

static double
now_us(clockid_t clock)
{
	struct timespec	 ts;

	(void)clock_gettime(clock, &ts);
	return (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
}

static long
rss_kb(void)
{
	char	 line[256];
	long	 kb = -1;
	FILE	*fp;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	(void)fclose(fp);
	return (kb);
}

static int
read_file(const char *path, struct buf *b)
{
	char	 chunk[65536];
	size_t	 n;
	FILE	*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return (-1);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(b, chunk, n);
	if (ferror(fp)) {
		(void)fclose(fp);
		return (-1);
	}
	return (fclose(fp) == 0 ? 0 : -1);
}

/* build/B/tests/tools/plugin-scan -> build/B/plugins */
static char *
default_plugin_dir(void)
{
	char	 exe[PATH_MAX], *p;
	ssize_t	 n;
	int	 i;

	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return (xstrdup(paths_plugin_directory));
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {
		if ((p = strrchr(exe, '/')) == NULL)
			return (xstrdup(paths_plugin_directory));
		*p = '\0';
	}
	return (xasprintf("%s/plugins", exe));
}

static struct scratch scratch = { -1, NULL, false };

static void
scratch_cleanup(void)
{
	char	*error = NULL;

	if (scratch_close(&scratch, &error) < 0)
		(void)fprintf(stderr, "plugin-scan: %s\n", error);
}

#define MAX_PLUGINS	16

/* -o [plugin:]name=value: 0, or -1 with a sentence in *error_r. */
static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* The median of v[n] (sorted here). */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

/* The 10th percentile of v[n], sorted (median() sorts it). */
static double
p10(const double *v, size_t n)
{
	return (v[n / 10]);
}

static int
set_option(struct plugin **ps, size_t np, char *opt, char **error_r)
{
	char	*eq = strchr(opt, '='), *colon, *name = opt;
	size_t	 i, done = 0;

	if (eq == NULL)
		usage();
	*eq = '\0';
	colon = strchr(opt, ':');
	if (colon != NULL) {
		*colon = '\0';
		name = colon + 1;
	}
	for (i = 0; i < np; i++) {
		const struct hs_plugin_option *o;

		if (colon != NULL && strcmp(ps[i]->name, opt) != 0)
			continue;
		for (o = ps[i]->desc->options; o != NULL && o->name != NULL;
		    o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (o == NULL || o->name == NULL)
			continue;
		if (plugin_set_option(ps[i], name, eq + 1, error_r) < 0)
			return (-1);
		done++;
	}
	if (done == 0) {
		*error_r = xasprintf("no plugin given has an option %s%s%s",
		    colon != NULL ? opt : "", colon != NULL ? ":" : "", name);
		return (-1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct plugin	*ps[MAX_PLUGINS];
	struct hs_result res, one[MAX_PLUGINS];
	struct hs_msg	 msg;
	struct mimecache walks;
	const char	*rcpts[] = { "rcpt@example.net" };
	char		*dir = NULL, *error = NULL, info[256] = "", *list, *tok,
			*save = NULL;
	char		**optv = NULL;
	size_t		 nopt = 0, np = 0, i, j;
	double		 cpu[MAX_PLUGINS], *each[MAX_PLUGINS], *whole;
	long		 count = 1, k;
	double		 t0, c0, t1, pc;
	bool		 share = true;
	int		 ch, rc = 0;

	log_open("plugin-scan", LOG_DEST_STDERR, 0, 0);
	while ((ch = getopt(argc, argv, "d:n:o:w")) != -1) {
		switch (ch) {
		case 'd':
			free(dir);
			dir = xstrdup(optarg);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			if (count < 1)
				usage();
			break;
		case 'o':
			optv = xreallocarray(optv, nopt + 1, sizeof(*optv));
			optv[nopt++] = optarg;
			break;
		case 'w':
			share = false;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if (dir == NULL)
		dir = default_plugin_dir();
	list = xstrdup(argv[0]);
	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (np == MAX_PLUGINS)
			usage();
		if (plugin_load(dir, tok, &ps[np], &error) < 0) {
			(void)fprintf(stderr, "plugin-scan: %s\n", error);
			return (1);
		}
		np++;
	}
	free(list);
	if (np == 0)
		usage();
	for (i = 0; i < nopt; i++)
		if (set_option(ps, np, optv[i], &error) < 0) {
			(void)fprintf(stderr, "plugin-scan: %s\n", error);
			return (1);
		}
	if (scratch_open(&scratch, "", true, &error) < 0) {
		(void)fprintf(stderr, "plugin-scan: %s\n", error);
		return (1);
	}
	(void)atexit(scratch_cleanup);
	plugin_temp_dir(scratch.path);
	t0 = now_us(CLOCK_MONOTONIC);
	for (j = 0; j < np; j++)
		if (plugin_init(ps[j], &error) < 0) {
			(void)fprintf(stderr, "plugin-scan: %s\n", error);
			return (1);
		}
	t1 = now_us(CLOCK_MONOTONIC);
	if (ps[0]->desc->info != NULL)
		ps[0]->desc->info(ps[0]->ctx, info, sizeof(info));
	(void)printf("init: %.0f ms, rss %ld kB, info: %s\n", (t1 - t0) / 1e3,
	    rss_kb(), info);

	mimecache_init(&walks);
	whole = xcalloc((size_t)count, sizeof(*whole));
	for (j = 0; j < np; j++)
		each[j] = xcalloc((size_t)count, sizeof(*each[j]));
	for (i = 1; i < (size_t)argc; i++) {
		struct buf	 text = BUF_INIT;
		const char	*sep;

		if (read_file(argv[i], &text) < 0) {
			(void)fprintf(stderr, "plugin-scan: %s: %s\n", argv[i],
			    strerror(errno));
			buf_free(&text);
			rc = 1;
			continue;
		}
		memset(&msg, 0, sizeof(msg));
		msg.queue_id = "PLUGINSCAN";
		msg.sender = "sender@example.org";
		msg.recipients = rcpts;
		msg.nrecipients = 1;
		msg.data = text.data ? text.data : "";
		msg.len = text.len;
		sep = text.data ? strstr(text.data, "\n\n") : NULL;
		msg.header_len = sep ? (size_t)(sep - text.data) + 2 : text.len;
		memset(cpu, 0, sizeof(cpu));
		walks.walks = walks.replays = 0;
		t0 = now_us(CLOCK_MONOTONIC);
		c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
		for (k = 0; k < count; k++) {
			whole[k] = now_us(CLOCK_PROCESS_CPUTIME_ID);
			for (j = 0; j < np; j++) {
				memset(&one[j], 0, sizeof(one[j]));
				pc = now_us(CLOCK_PROCESS_CPUTIME_ID);
				plugin_share_walks(ps[j], share ? &walks : NULL);
				if (ps[j]->desc->scan(ps[j]->ctx, &msg,
				    &one[j]) < 0) {
					one[j].verdict = HS_FAILED;
					rc = 1;
				}
				plugin_share_walks(ps[j], NULL);
				each[j][k] = now_us(CLOCK_PROCESS_CPUTIME_ID) -
				    pc;
				cpu[j] += each[j][k];
			}
			mimecache_clear(&walks);
			whole[k] = now_us(CLOCK_PROCESS_CPUTIME_ID) - whole[k];
		}
		t1 = now_us(CLOCK_MONOTONIC);
		res = one[0];
		for (j = 1; j < np; j++)
			if (one[j].verdict > res.verdict)
				res = one[j];
		pc = (now_us(CLOCK_PROCESS_CPUTIME_ID) - c0) / count;
		(void)printf("%s: %s%s%s (mean %.0f us over %ld scans, "
		    "cpu %.0f us, median %.0f us, p10 %.0f us)\n", argv[i],
		    verdict_name((enum verdict)res.verdict),
		    res.reason[0] ? " " : "", res.reason, (t1 - t0) / count,
		    count, pc, median(whole, (size_t)count),
		    p10(whole, (size_t)count));
		for (j = 0; np > 1 && j < np; j++) {
			double	 med = median(each[j], (size_t)count);

			(void)printf("    %s: %s%s%s (cpu %.0f us, median "
			    "%.0f us, p10 %.0f us)\n", ps[j]->name,
			    verdict_name((enum verdict)one[j].verdict),
			    one[j].reason[0] ? " " : "", one[j].reason,
			    cpu[j] / count, med, p10(each[j], (size_t)count));
		}
		if (np > 1)
			(void)printf("    walks: %u parsed, %u shared\n",
			    walks.walks, walks.replays);
		buf_free(&text);
	}
	for (j = 0; j < np; j++) {
		plugin_free(&ps[j]);
		free(each[j]);
	}
	free(whole);
	free(optv);
	free(dir);
	return (rc);
}
