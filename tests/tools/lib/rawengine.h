/*
 * rawengine - one libclamav engine as the clamav plugin's defaults build
 * it, and one scan from memory, for the benchmark tools (issue 18)
 */
#ifndef HS_TOOLS_RAWENGINE_H
#define HS_TOOLS_RAWENGINE_H

#include <stddef.h>

struct cl_engine;

/*
 * An engine with every signature of dbdir, temporary files in tmpdir
 * (NULL or "": $TMPDIR, else /tmp), compiled; NULL with *why_r set.
 */
struct cl_engine *rawengine_new(const char *dbdir, const char *tmpdir,
		    unsigned int *sigs_r, const char **why_r);
void		 rawengine_free(struct cl_engine **);

/*
 * One scan of data[len] from memory, the plugin's way; 0 with *verdict_r
 * "clean" or "infected", -1 with libclamav's error in *verdict_r.
 */
int		 rawengine_scan(struct cl_engine *, const char *data,
		    size_t len, const char **verdict_r);

#endif
