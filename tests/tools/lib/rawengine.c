/*
 * NAME
 *	rawengine - one libclamav engine and one scan from memory, as the
 *	clamav plugin does them, for clamav-rawscan and protocol-floor
 * DESCRIPTION
 *	rawengine_new() sets an engine up as the clamav plugin's defaults
 *	set it up under make bench: clean-file cache off, standard database
 *	options, temporary files in the given directory; rawengine_scan()
 *	scans a message in memory (cl_fmap_open_memory +
 *	cl_scanmap_callback) with every parser and exceeded limits
 *	reported, as a worker does. Both tools measure the same scan so.
 *
 *	It must never write anywhere but the temporary directory it is
 *	given, and never print: the callers report.
 */
#include <clamav.h>
#include <stdlib.h>
#include <string.h>

#include "rawengine.h"

struct cl_engine *
rawengine_new(const char *dbdir, const char *tmpdir, unsigned int *sigs_r,
    const char **why_r)
{
	struct cl_engine *e;
	cl_error_t	 r;

	*sigs_r = 0;
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	if ((r = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		*why_r = cl_strerror(r);
		return (NULL);
	}
	if ((e = cl_engine_new()) == NULL) {
		*why_r = "cl_engine_new failed";
		return (NULL);
	}
	if ((r = cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE, 1)) !=
	    CL_SUCCESS ||
	    (r = cl_engine_set_str(e, CL_ENGINE_TMPDIR, tmpdir)) != CL_SUCCESS ||
	    (r = cl_load(dbdir, e, sigs_r, CL_DB_STDOPT)) != CL_SUCCESS ||
	    (r = cl_engine_compile(e)) != CL_SUCCESS) {
		*why_r = cl_strerror(r);
		(void)cl_engine_free(e);
		return (NULL);
	}
	return (e);
}

void
rawengine_free(struct cl_engine **ep)
{
	if (*ep != NULL)
		(void)cl_engine_free(*ep);
	*ep = NULL;
}

int
rawengine_scan(struct cl_engine *e, const char *data, size_t len,
    const char **verdict_r)
{
	struct cl_scan_options opts;
	const char	*virname = NULL;
	unsigned long	 scanned = 0;
	cl_fmap_t	*map;
	cl_error_t	 r;

	memset(&opts, 0, sizeof(opts));
	opts.parse = ~0u;	/* every parser: the plugin's "all" */
	opts.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	if ((map = cl_fmap_open_memory(data, len)) == NULL) {
		*verdict_r = "cannot map the message";
		return (-1);
	}
	r = cl_scanmap_callback(map, NULL, &virname, &scanned, e, &opts, NULL);
	cl_fmap_close(map);
	*verdict_r = r == CL_CLEAN ? "clean" : r == CL_VIRUS ? "infected" :
	    cl_strerror(r);
	return (r == CL_CLEAN || r == CL_VIRUS ? 0 : -1);
}
