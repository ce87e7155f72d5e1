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
 *	The message is read once, before the clock starts: only libclamav
 *	is measured. Temporary files go to tmpdir (default: $TMPDIR or
 *	/tmp), where the bench puts the scanners' (a tmpfs).
 *
 *	It must never be given a message it cannot read whole into memory,
 *	and it measures nothing but the scan calls.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
usage(void)
{
	(void)fprintf(stderr, "usage: clamav-rawscan [-n runs] [-t tmpdir] "
	    "DBDIR MESSAGE...\n");
	return (2);
}

/* The whole file in *data_r (the caller's to free), or -1. */
static int
slurp(const char *path, char **data_r, size_t *len_r)
{
	struct stat	 st;
	char		*data;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-1);
	if (fstat(fd, &st) < 0 || (data = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		(void)close(fd);
		return (-1);
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, data + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	(void)close(fd);
	if (got != (size_t)st.st_size) {
		free(data);
		errno = EIO;
		return (-1);
	}
	*data_r = data;
	*len_r = got;
	return (0);
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
	struct cl_scan_options opts;
	const char	*virname;
	unsigned long	 scanned;
	cl_fmap_t	*map;
	cl_error_t	 r = CL_CLEAN;
	double		 t0;
	long		 i;

	*verdict_r = "cannot map the message";
	*ms_r = 0;
	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0u;	/* every parser: the plugin's "all" */
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	t0 = cpu_ms();
	for (i = 0; i < runs; i++) {
		if ((map = cl_fmap_open_memory(data, len)) == NULL)
			return (-1);
		virname = NULL;
		scanned = 0;
		r = cl_scanmap_callback(map, NULL, &virname, &scanned, e, &opts,
		    NULL);
		cl_fmap_close(map);
		if (r != CL_CLEAN && r != CL_VIRUS)
			break;
	}
	*ms_r = (cpu_ms() - t0) / (double)runs;
	*verdict_r = r == CL_CLEAN ? "clean" : r == CL_VIRUS ? "infected" :
	    cl_strerror(r);
	return (r == CL_CLEAN || r == CL_VIRUS ? 0 : -1);
}

int
main(int argc, char **argv)
{
	struct cl_engine *e;
	const char	*tmpdir = getenv("TMPDIR"), *verdict, *base;
	unsigned int	 sigs = 0;
	cl_error_t	 r;
	char		*data, *end;
	size_t		 len;
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
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	if ((r = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS ||
	    (e = cl_engine_new()) == NULL) {
		(void)fprintf(stderr, "clamav-rawscan: cl_init: %s\n",
		    cl_strerror(r));
		return (1);
	}
	if ((r = cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE, 1)) !=
	    CL_SUCCESS ||
	    (r = cl_engine_set_str(e, CL_ENGINE_TMPDIR, tmpdir)) != CL_SUCCESS ||
	    (r = cl_load(argv[0], e, &sigs, CL_DB_STDOPT)) != CL_SUCCESS ||
	    (r = cl_engine_compile(e)) != CL_SUCCESS) {
		(void)fprintf(stderr, "clamav-rawscan: %s: %s\n", argv[0],
		    cl_strerror(r));
		(void)cl_engine_free(e);
		return (1);
	}
	for (i = 1; i < argc; i++) {
		if (slurp(argv[i], &data, &len) < 0) {
			(void)fprintf(stderr, "clamav-rawscan: %s: %s\n",
			    argv[i], strerror(errno));
			rc = 1;
			continue;
		}
		base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 :
		    argv[i];
		if (scan_runs(e, data, len, runs, &ms, &verdict) < 0) {
			(void)fprintf(stderr, "clamav-rawscan: %s: %s\n",
			    argv[i], verdict);
			rc = 1;
		} else {
			(void)printf("rawscan: %s runs=%ld cpu_ms=%.3f "
			    "verdict=%s sigs=%u\n", base, runs, ms, verdict,
			    sigs);
		}
		free(data);
	}
	(void)cl_engine_free(e);
	return (rc);
}
