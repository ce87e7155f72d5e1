/*
 * pluginload.h - the host side of the plugin ABI: load, check, call.
 *
 * Used by the scanner parent (load, init, reload) and its workers
 * (worker_init, scan); holdscan check-config loads without init.
 */
#ifndef HS_PLUGINLOAD_H
#define HS_PLUGINLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "plugin.h"

/* An option's value after checking: text as written, number if numeric. */
struct plugin_optval {
	const char	*name;		/* borrowed from the plugin's table */
	char		*text;
	long		 num;
};

struct plugin {
	char		*name;
	char		*path;
	void		*dl;
	const struct hs_plugin *desc;
	void		*ctx;		/* the plugin's, from init */
	bool		 inited;
	struct hs_host	 host;
	struct plugin_optval *opts;	/* one per entry of desc->options */
	size_t		 nopts;
	char		**watch;	/* paths the plugin asked to be watched */
	size_t		 nwatch;
};

/*
 * plugin_load() dlopen()s dir/NAME.so after checking that the file and
 * its directory are owned by root or by us and not writable by group or
 * others, then checks the descriptor (symbol, ABI version, struct size,
 * name, required hooks). Nothing of the plugin runs but its constructors.
 * Returns 0, or -1 with a sentence in *error_r (owned by the caller).
 */
int	 plugin_load(const char *dir, const char *name, struct plugin **p_r,
	    char **error_r);
/*
 * plugin_set_option() checks value against the option's type; unknown
 * names and bad values give -1 and a sentence (no file/line: the caller
 * adds those). Options not set keep their defaults.
 */
int	 plugin_set_option(struct plugin *p, const char *name,
	    const char *value, char **error_r);
/* Run init (scanner parent). */
int	 plugin_init(struct plugin *p, char **error_r);
void	 plugin_free(struct plugin **p);

/*
 * A config_probe_fn for config_load(): loads each plugin (without init)
 * to get its option table. The tables stay valid until plugin_probe_clear().
 */
struct plugin_probe {
	struct plugin	**loaded;
	size_t		 n;
};
const struct hs_plugin_option *plugin_probe(void *probe, const char *dir,
	    const char *name, char **error_r);
void	 plugin_probe_clear(struct plugin_probe *probe);

#endif
