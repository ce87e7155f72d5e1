/*
 * NAME
 *	clamav-rawscan - libclamav's own CPU per message, with nothing
 *	around it (benchmarks)
 * SYNOPSIS
 *	clamav-rawscan [-n runs] [-t tmpdir] DBDIR MESSAGE...
 * DESCRIPTION
 *	The CPU-bound ideal of make bench (issue 18): one process loads the
 *	signatures of DBDIR into one engine set up as the clamav plugin's
 *	defaults set it up (clean-file cache off, as the bench runs it;
 *	standard database options; every parser; told about exceeded
 *	limits), then scans each MESSAGE runs times (default 200) from
 *	memory (cl_fmap_open_memory + cl_scanmap_callback, as a worker
 *	does) and prints, per message, the CPU time (user + system, this
 *	process's) of one scan:
 *
 *	    rawscan: small.eml runs=200 cpu_ms=0.412 verdict=clean
 *
 *	The engine and the scan are tests/tools/lib/rawengine.c's, which
 *	protocol-floor -s uses too. The message is read once, before the
 *	clock starts: only libclamav is measured. Temporary files go to
 *	tmpdir (default: $TMPDIR or /tmp), where the bench puts the
 *	scanners' (a tmpfs).
 *
 *	It must never be given a message it cannot read whole into memory,
 *	and it measures nothing but the scan calls.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "lib/rawengine.h"

#define MESSAGE_MAX	(256UL * 1024 * 1024)	/* bytes of a MESSAGE */

static int
usage(void)
{
	(void)fprintf(stderr, "usage: clamav-rawscan [-n runs] [-t tmpdir] "
	    "DBDIR MESSAGE...\n");
	return (2);
}

static double
cpu_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return (0);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

/* Scan data runs times; CPU ms per scan in *ms_r, the last verdict. */
static int
scan_runs(struct cl_engine *e, const char *data, size_t len, long runs,
    double *ms_r, const char **verdict_r)
{
	double	 t0;
	long	 i;
	int	 r = 0;

	t0 = cpu_ms();
	for (i = 0; i < runs && r == 0; i++)
		r = rawengine_scan(e, data, len, verdict_r);
	*ms_r = (cpu_ms() - t0) / (double)runs;
	return (r);
}

int
main(int argc, char **argv)
{
	struct cl_engine *e;
	struct buf	 msg = BUF_INIT;
	const char	*tmpdir = NULL, *verdict, *base, *why;
	unsigned int	 sigs = 0;
	char		*end;
	double		 ms;
	long		 runs = 200;
	int		 ch, i, rc = 0;

	while ((ch = getopt(argc, argv, "n:t:")) != -1) {
		switch (ch) {
		case 'n':
			errno = 0;
			runs = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || runs < 1)
				return (usage());
			break;
		case 't':
			tmpdir = optarg;
			break;
		default:
			return (usage());
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		return (usage());
	if ((e = rawengine_new(argv[0], tmpdir, &sigs, &why)) == NULL) {
		(void)fprintf(stderr, "clamav-rawscan: %s: %s\n", argv[0], why);
		return (1);
	}
	for (i = 1; i < argc; i++) {
		buf_reset(&msg);
		if (buf_read_file(&msg, argv[i], MESSAGE_MAX) < 0) {
			(void)fprintf(stderr, "clamav-rawscan: %s: %s\n",
			    argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 :
		    argv[i];
		if (scan_runs(e, msg.data ? msg.data : "", msg.len, runs, &ms,
		    &verdict) < 0) {
			(void)fprintf(stderr, "clamav-rawscan: %s: %s\n",
			    argv[i], verdict);
			rc = 1;
		} else {
			(void)printf("rawscan: %s runs=%ld cpu_ms=%.3f "
			    "verdict=%s sigs=%u\n", base, runs, ms, verdict,
			    sigs);
		}
	}
	buf_free(&msg);
	rawengine_free(&e);
	return (rc);
}
