/*
 * pluginload.h - the host side of the plugin ABI: load, check, call.
 *
 * Used only in holdscan-scanner: by the scanner parent (load, init,
 * reload), its workers (worker_init, scan) and its one-shot commands
 * (check, scan); the configuration loader's probe loads without init.
 */
#ifndef HS_PLUGINLOAD_H
#define HS_PLUGINLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "holdscan/plugin.h"

struct buf;
struct mimecache;

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
	bool		 mime_ready;	/* GMime initialised for its walks */
	/*
	 * Not NULL: the message's walk, shared with the other plugins
	 * scanning it (mimecache.h); the caller's, set with
	 * plugin_share_walks() for one message.
	 */
	struct mimecache *walks;
	/*
	 * Not NULL: what the plugin logs goes here, one line each
	 * ("warning: " in front of warnings), instead of to the log. The
	 * caller's, for a check that reports what a plugin said.
	 */
	struct buf	*capture;
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
/*
 * plugin_start() is plugin_load(), plugin_set_option() for each option of
 * the configuration's section and plugin_init(): the scanner parent's
 * start and "holdscan scan". -1 with a sentence in *error_r, nothing left.
 */
struct hs_config_plugin;
int	 plugin_start(const char *dir, const struct hs_config_plugin *pc,
	    struct plugin **p_r, char **error_r);
/*
 * plugin_scan() runs p's scan hook on msg and makes *r safe to use: a
 * failed hook is HS_FAILED ("plugin error" unless it said why), the
 * strings are terminated, a verdict out of range is HS_FAILED.
 */
void	 plugin_scan(struct plugin *p, const struct hs_msg *msg,
	    struct hs_result *r);
void	 plugin_free(struct plugin **p);
/*
 * plugin_share_walks() makes p's hs_host.mime_walk answer from c (one
 * message's walk, shared by the plugins that scan it), or walk for
 * itself again (NULL). The caller sets it around the scan of one
 * message and clears it before c goes.
 */
void	 plugin_share_walks(struct plugin *p, struct mimecache *c);
/* What p needs of a worker's sandbox: HS_NEEDS_* bits (0 for older plugins). */
uint32_t plugin_needs(const struct plugin *p);
/* Does p say its rewrite_part rewrites HTML (HS_KIND_HTML)? */
bool	 plugin_rewrites_html(const struct plugin *p);
/* Does p say it is a spam check (HS_KIND_SPAM)? Older plugins do not. */
bool	 plugin_is_spam_check(const struct plugin *p);
/* p's rewrite_part hook (HS_PLUGIN_HAS), or NULL: older plugins have none. */
typedef int (*plugin_rewrite_fn)(void *ctx, const struct hs_msg *msg,
	    const struct hs_rewrite_in *in, struct hs_rewrite_out *out);
plugin_rewrite_fn plugin_rewriter(const struct plugin *p);
/* p's learn hook (HS_PLUGIN_HAS), or NULL. */
typedef int (*plugin_learn_fn)(void *ctx, const struct hs_msg *msg, int spam,
	    char *answer, size_t size);
plugin_learn_fn plugin_learner(const struct plugin *p);

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
/*
 * plugin_temp_dir() sets what hs_host.temp_directory answers every
 * plugin of this process from now on (copied; NULL: none).
 */
void	 plugin_temp_dir(const char *dir);

#endif
