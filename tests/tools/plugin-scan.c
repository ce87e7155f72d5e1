/*
 * NAME
 *	plugin-scan - run one scanner plugin on message files, as a worker would
 * SYNOPSIS
 *	plugin-scan [-d plugin_dir] [-n count] [-o name=value]... PLUGIN FILE...
 * DESCRIPTION
 *	Loads PLUGIN from plugin_dir (default: the plugins directory of the
 *	build this program belongs to), sets the options, runs init, then
 *	scans each FILE (an RFC 822 message with LF line ends) count times
 *	(default 1) through the plugin's scan hook, and prints:
 *
 *	    init: MS ms, rss KB kB, info: TEXT
 *	    FILE: VERDICT[ REASON] (mean US us over COUNT scans, cpu US us)
 *
 *	It is for measurements and for looking at verdicts by hand; the
 *	tests call the plugins through plugin_load() themselves.
 *
 *	The plugin's temporary files go to a private directory in /dev/shm
 *	or /tmp (scratch.c), removed at exit.
 *
 *	It must never modify a FILE.
 * DIAGNOSTICS
 *	Exit 0; 1 when loading, an option, init or a scan fails (with the
 *	reason on stderr); 2 for a usage error.
 */
#include <errno.h>
#include <limits.h>
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
#include "scanner/pluginload.h"
#include "scanner/scratch.h"
#include "common/verdict.h"
#include "common/xalloc.h"

static void
usage(void)
{
	(void)fprintf(stderr, "usage: plugin-scan [-d plugin_dir] [-n count] "
	    "[-o name=value]... PLUGIN FILE...\n");
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

int
main(int argc, char **argv)
{
	struct plugin	*p = NULL;
	struct hs_result res;
	struct hs_msg	 msg;
	const char	*rcpts[] = { "rcpt@example.net" };
	char		*dir = NULL, *error = NULL, *eq, info[256] = "";
	char		**optv = NULL;
	size_t		 nopt = 0, i;
	long		 count = 1, k;
	double		 t0, c0, t1;
	int		 ch, rc = 0;

	log_open("plugin-scan", LOG_DEST_STDERR, 0, 0);
	while ((ch = getopt(argc, argv, "d:n:o:")) != -1) {
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
	if (plugin_load(dir, argv[0], &p, &error) < 0) {
		(void)fprintf(stderr, "plugin-scan: %s\n", error);
		return (1);
	}
	for (i = 0; i < nopt; i++) {
		if ((eq = strchr(optv[i], '=')) == NULL)
			usage();
		*eq = '\0';
		if (plugin_set_option(p, optv[i], eq + 1, &error) < 0) {
			(void)fprintf(stderr, "plugin-scan: %s\n", error);
			return (1);
		}
	}
	if (scratch_open(&scratch, "", true, &error) < 0) {
		(void)fprintf(stderr, "plugin-scan: %s\n", error);
		return (1);
	}
	(void)atexit(scratch_cleanup);
	plugin_temp_dir(scratch.path);
	t0 = now_us(CLOCK_MONOTONIC);
	if (plugin_init(p, &error) < 0) {
		(void)fprintf(stderr, "plugin-scan: %s\n", error);
		return (1);
	}
	t1 = now_us(CLOCK_MONOTONIC);
	if (p->desc->info != NULL)
		p->desc->info(p->ctx, info, sizeof(info));
	(void)printf("init: %.0f ms, rss %ld kB, info: %s\n", (t1 - t0) / 1e3,
	    rss_kb(), info);

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
		t0 = now_us(CLOCK_MONOTONIC);
		c0 = now_us(CLOCK_PROCESS_CPUTIME_ID);
		for (k = 0; k < count; k++) {
			memset(&res, 0, sizeof(res));
			if (p->desc->scan(p->ctx, &msg, &res) < 0) {
				res.verdict = HS_FAILED;
				rc = 1;
			}
		}
		t1 = now_us(CLOCK_MONOTONIC);
		(void)printf("%s: %s%s%s (mean %.0f us over %ld scans, "
		    "cpu %.0f us)\n", argv[i],
		    verdict_name((enum verdict)res.verdict),
		    res.reason[0] ? " " : "", res.reason, (t1 - t0) / count,
		    count, (now_us(CLOCK_PROCESS_CPUTIME_ID) - c0) / count);
		buf_free(&text);
	}
	plugin_free(&p);
	free(optv);
	free(dir);
	return (rc);
}
