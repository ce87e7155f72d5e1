/*
 * NAME
 *	config-defaults - every parameter and plugin option with its default
 * SYNOPSIS
 *	config-defaults [-d plugin_dir] [PLUGIN...]
 * DESCRIPTION
 *	Prints the configuration an empty holdscan.conf gives, in the file's
 *	own syntax (config_print() of every parameter, the scanners list
 *	and the policy section), then, for each PLUGIN loaded from
 *	plugin_dir (default: the plugins directory of the build this
 *	program belongs to), a section with each of its options and their
 *	defaults:
 *
 *	    plugin NAME {
 *	        option = default
 *	    }
 *
 *	Three comment lines come first, "# sysconfdir DIR", "# plugindir
 *	DIR" and "# libexecdir DIR": the paths compiled in, which some
 *	defaults contain.
 *
 *	The documentation test (tests/e2e/0930-docs.t) checks that
 *	holdscan.conf(5) describes each of these with this default, so that
 *	no parameter or option can be added without its documentation.
 * DIAGNOSTICS
 *	Exit 0; 1 when a plugin does not load (the reason on stderr); 2 for
 *	a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "scanner/pluginload.h"
#include "common/xalloc.h"

static void
usage(void)
{
	(void)fprintf(stderr, "usage: config-defaults [-d plugin_dir] "
	    "[PLUGIN...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const struct hs_plugin_option *o;
	struct hs_config *conf = NULL;
	struct plugin	*p;
	char		*errors = NULL, *dir = NULL;
	int		 ch, i;

	log_open("config-defaults", LOG_DEST_STDERR, 0, 0);
	while ((ch = getopt(argc, argv, "d:")) != -1) {
		switch (ch) {
		case 'd':
			dir = xstrdup(optarg);
			break;
		default:
			usage();
		}
	}
	if (dir == NULL) {
		char	 self[4096];
		ssize_t	 n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char	*slash;

		if (n < 0)
			usage();
		self[n] = '\0';
		/* build/FLAVOUR/tests/tools/config-defaults -> build/FLAVOUR/plugins */
		for (i = 0; i < 3 && (slash = strrchr(self, '/')) != NULL; i++)
			*slash = '\0';
		dir = xasprintf("%s/plugins", self);
	}
	if (config_load_string("", "(defaults)", NULL, NULL, &conf,
	    &errors) < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		return (1);
	}
	(void)printf("# sysconfdir %s\n# plugindir %s\n# libexecdir %s\n",
	    paths_sysconfdir, paths_plugin_directory, paths_libexecdir);
	config_print(conf, stdout, false);
	config_free(&conf);
	for (i = optind; i < argc; i++) {
		if (plugin_load(dir, argv[i], &p, &errors) < 0) {
			(void)fprintf(stderr, "%s\n", errors);
			return (1);
		}
		(void)printf("plugin %s {\n", argv[i]);
		for (o = p->desc->options; o != NULL && o->name != NULL; o++)
			(void)printf("    %s = %s\n", o->name, o->def);
		(void)printf("}\n");
		plugin_free(&p);
	}
	free(dir);
	return (0);
}
