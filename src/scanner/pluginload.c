/*
 * NAME
 *	pluginload - load scanner plugins and check their descriptor
 * DESCRIPTION
 *	A plugin is loaded only from a file and directory that nobody but
 *	root (or the running user) can change, with RTLD_NOW | RTLD_LOCAL
 *	so that a missing symbol fails now and plugins cannot see each
 *	other. Its descriptor is checked before anything in it is called:
 *	the ABI version first (from a fixed place), then the struct size,
 *	what it needs of the workers' sandbox, the name and the required
 *	hooks (init, scan).
 *
 *	The host services a plugin gets (struct hs_host) log through log.h
 *	with the plugin's name as prefix (or, while a check collects what
 *	the plugins say, into the plugin's capture buffer), read the
 *	checked option values, walk a message's MIME tree (mime.c; once
 *	per message for all the plugins scanning it, when the caller shares
 *	a mimecache.c walk with plugin_share_walks()), and
 *	name the process's private temporary directory (scratch.c makes
 *	it; the one static here, set with plugin_temp_dir() in the scanner
 *	parent and again in each worker).
 *	They are all a plugin may use of holdscan: plugins link none of its
 *	code.
 *
 *	This module must never call into a plugin whose descriptor failed a
 *	check, and never dlclose() a plugin whose init succeeded but whose
 *	state may still be in use.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "scanner/mime.h"
#include "scanner/mimecache.h"
#include "scanner/pluginload.h"

_Static_assert(HS_MIME_MAX_DEPTH == MIME_MAX_DEPTH &&
    HS_MIME_MAX_PARTS == MIME_MAX_PARTS, "plugin.h and mime.h disagree");

static int
safe_owner(const char *path, char **error_r)
{
	struct stat	 st;

	if (stat(path, &st) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return (-1);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		*error_r = xasprintf("%s: owned by uid %lu, not by root; refusing "
		    "to load code others can change", path,
		    (unsigned long)st.st_uid);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*error_r = xasprintf("%s: writable by group or others (mode %04o); "
		    "fix with chmod go-w", path, (unsigned)(st.st_mode & 07777));
		return (-1);
	}
	return (0);
}

static void
host_log(void *host_ctx, int level, const char *fmt, ...)
{
	struct plugin	*p = host_ctx;
	char		 line[1024];
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->capture != NULL) {
		buf_printf(p->capture, "%s%s\n", level > 0 ? "warning: " : "",
		    line);
		return;
	}
	if (level > 0)
		hs_warnx("%s: %s", p->name, line);
	else
		hs_info("%s: %s", p->name, line);
}

static struct plugin_optval *
optval_find(struct plugin *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nopts; i++)
		if (strcmp(p->opts[i].name, name) == 0)
			return (&p->opts[i]);
	return (NULL);
}

static const char *
host_opt_str(void *host_ctx, const char *name)
{
	struct plugin_optval *v = optval_find(host_ctx, name);

	return (v ? v->text : NULL);
}

static long
host_opt_num(void *host_ctx, const char *name)
{
	struct plugin_optval *v = optval_find(host_ctx, name);

	return (v ? v->num : 0);
}

static int
host_watch_path(void *host_ctx, const char *path)
{
	struct plugin	*p = host_ctx;

	p->watch = xreallocarray(p->watch, p->nwatch + 1, sizeof(*p->watch));
	p->watch[p->nwatch++] = xstrdup(path);
	return (0);
}

/* The calling process's private temporary directory (plugin_temp_dir()). */
static char	*temp_dir;

void
plugin_temp_dir(const char *dir)
{
	free(temp_dir);
	temp_dir = dir != NULL ? xstrdup(dir) : NULL;
}

static const char *
host_temp_directory(void *host_ctx)
{
	(void)host_ctx;
	return (temp_dir);
}

/* mime_walk()'s parts as the ABI shows them. */
struct host_walk {
	hs_mime_part_fn	 fn;
	void		*arg;
};

static int
host_walk_part(void *arg, const struct mime_part *mp)
{
	struct host_walk *hw = arg;
	struct hs_mime_part part;

	memset(&part, 0, sizeof(part));
	part.index = mp->index;
	part.depth = mp->depth;
	part.content_type = mp->content_type;
	part.filename = mp->filename;
	part.name = mp->name;
	part.attachment = mp->attachment ? 1 : 0;
	part.data = mp->data;
	part.len = mp->len;
	return (hw->fn(hw->arg, &part));
}

static int
host_mime_walk(void *host_ctx, const char *text, size_t len,
    const struct hs_mime_limits *lim, hs_mime_part_fn fn, void *arg,
    char *why, size_t whysize)
{
	struct plugin	*p = host_ctx;
	struct mime_limits ml;
	struct host_walk hw;

	if (!p->mime_ready) {
		mime_init();		/* counted: once per plugin is fine */
		p->mime_ready = true;
	}
	memset(&ml, 0, sizeof(ml));
	ml.max_depth = lim != NULL ? lim->max_depth : 0;
	ml.max_parts = lim != NULL ? lim->max_parts : 0;
	hw.fn = fn;
	hw.arg = arg;
	if (p->walks != NULL)
		return (mimecache_walk(p->walks, text, len, &ml, host_walk_part,
		    &hw, why, whysize));
	return (mime_walk(text, len, &ml, host_walk_part, &hw, why, whysize));
}

void
plugin_share_walks(struct plugin *p, struct mimecache *c)
{
	p->walks = c;
}

static int
check_descriptor(const struct hs_plugin *d, const char *path, const char *name,
    char **error_r)
{
	const struct hs_plugin_option *o;
	size_t		 i;

	if (d->abi_version != HS_PLUGIN_ABI_VERSION) {
		*error_r = xasprintf("%s: built for plugin ABI version %u, but "
		    "this holdscan expects version %u; rebuild the plugin "
		    "against this holdscan's holdscan/plugin.h", path,
		    d->abi_version, HS_PLUGIN_ABI_VERSION);
		return (-1);
	}
	/* A plugin built before needs was appended has none. */
	if (d->struct_size < HS_PLUGIN_MIN_SIZE) {
		*error_r = xasprintf("%s: descriptor is %u bytes, expected %zu; "
		    "rebuild the plugin", path, d->struct_size,
		    sizeof(struct hs_plugin));
		return (-1);
	}
	if (HS_PLUGIN_HAS(d, needs) && (d->needs & ~HS_NEEDS_ALL) != 0) {
		*error_r = xasprintf("%s: the plugin needs what this holdscan "
		    "does not know (needs %#x); rebuild the plugin against this "
		    "holdscan's holdscan/plugin.h", path, d->needs);
		return (-1);
	}
	if (d->name == NULL || strcmp(d->name, name) != 0) {
		*error_r = xasprintf("%s: plugin calls itself \"%s\", expected \"%s\"",
		    path, d->name ? d->name : "(null)", name);
		return (-1);
	}
	if (d->init == NULL || d->scan == NULL) {
		*error_r = xasprintf("%s: descriptor lacks the %s hook", path,
		    d->init == NULL ? "init" : "scan");
		return (-1);
	}
	for (i = 0; i < sizeof(d->spare) / sizeof(d->spare[0]); i++) {
		if (d->spare[i] != NULL) {
			*error_r = xasprintf("%s: descriptor sets reserved fields",
			    path);
			return (-1);
		}
	}
	for (o = d->options; o != NULL && o->name != NULL; o++) {
		long	 n;

		if (o->def == NULL || config_check_value(o->type, o->def, &n)) {
			*error_r = xasprintf("%s: option %s has a bad default",
			    path, o->name);
			return (-1);
		}
	}
	return (0);
}

int
plugin_load(const char *dir, const char *name, struct plugin **p_r,
    char **error_r)
{
	const struct hs_plugin_option *o;
	const struct hs_plugin *d;
	struct plugin	*p;
	char		*path;
	void		*dl;
	size_t		 n = 0;

	if (name[0] == '\0' || strchr(name, '/') != NULL || name[0] == '.') {
		*error_r = xasprintf("bad plugin name \"%s\"", name);
		return (-1);
	}
	path = xasprintf("%s/%s.so", dir, name);
	if (safe_owner(dir, error_r) < 0 || safe_owner(path, error_r) < 0) {
		free(path);
		return (-1);
	}
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		*error_r = xasprintf("%s: %s", path, dlerror());
		free(path);
		return (-1);
	}
	if ((d = dlsym(dl, "hs_plugin")) == NULL) {
		*error_r = xasprintf("%s: no hs_plugin descriptor (is it a "
		    "holdscan plugin?)", path);
		(void)dlclose(dl);
		free(path);
		return (-1);
	}
	if (check_descriptor(d, path, name, error_r) < 0) {
		(void)dlclose(dl);
		free(path);
		return (-1);
	}

	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	p->path = path;
	p->dl = dl;
	p->desc = d;
	for (o = d->options; o != NULL && o->name != NULL; o++)
		n++;
	p->opts = xcalloc(n, sizeof(*p->opts));
	p->nopts = n;
	for (n = 0, o = d->options; o != NULL && o->name != NULL; o++, n++) {
		p->opts[n].name = o->name;
		p->opts[n].text = xstrdup(o->def);
		(void)config_check_value(o->type, o->def, &p->opts[n].num);
	}
	p->host.abi_version = HS_PLUGIN_ABI_VERSION;
	p->host.struct_size = sizeof(p->host);
	p->host.host_ctx = p;
	p->host.log = host_log;
	p->host.opt_str = host_opt_str;
	p->host.opt_num = host_opt_num;
	p->host.watch_path = host_watch_path;
	p->host.mime_walk = host_mime_walk;
	p->host.temp_directory = host_temp_directory;
	p->host.rewrite_flags = HS_REWRITE_HIGHLIGHT_PHISHING;
	*p_r = p;
	return (0);
}

int
plugin_set_option(struct plugin *p, const char *name, const char *value,
    char **error_r)
{
	const struct hs_plugin_option *o;
	const char	*why;
	long		 num;
	size_t		 i;

	for (i = 0, o = p->desc->options; o != NULL && o->name != NULL; o++, i++) {
		if (strcmp(o->name, name) != 0)
			continue;
		if ((why = config_check_value(o->type, value, &num)) != NULL) {
			*error_r = xasprintf("%s = \"%s\": %s", name, value, why);
			return (-1);
		}
		free(p->opts[i].text);
		p->opts[i].text = xstrdup(value);
		p->opts[i].num = num;
		return (0);
	}
	{
		struct buf	 known = BUF_INIT;

		for (o = p->desc->options; o != NULL && o->name != NULL; o++)
			buf_printf(&known, "%s%s", known.len ? ", " : "", o->name);
		*error_r = xasprintf("plugin %s has no option \"%s\"%s%s%s", p->name,
		    name, known.len ? " (it has: " : "",
		    known.len ? known.data : "", known.len ? ")" : "");
		buf_free(&known);
	}
	return (-1);
}

int
plugin_init(struct plugin *p, char **error_r)
{
	const char	*why = NULL;

	if (p->desc->init(&p->host, &p->ctx, &why) < 0) {
		*error_r = xasprintf("plugin %s: %s", p->name,
		    why ? why : "init failed");
		return (-1);
	}
	p->inited = true;
	return (0);
}

int
plugin_start(const char *dir, const struct hs_config_plugin *pc,
    struct plugin **p_r, char **error_r)
{
	struct plugin	*p;
	char		*error = NULL;
	size_t		 i;

	if (plugin_load(dir, pc->name, &p, error_r) < 0)
		return (-1);
	for (i = 0; i < pc->nopts; i++)
		if (plugin_set_option(p, pc->opt_names[i], pc->opt_values[i],
		    &error) < 0) {
			*error_r = xasprintf("plugin %s: %s", pc->name, error);
			free(error);
			plugin_free(&p);
			return (-1);
		}
	if (plugin_init(p, error_r) < 0) {
		plugin_free(&p);
		return (-1);
	}
	*p_r = p;
	return (0);
}

void
plugin_scan(struct plugin *p, const struct hs_msg *msg, struct hs_result *r)
{
	memset(r, 0, sizeof(*r));
	if (p->desc->scan(p->ctx, msg, r) < 0) {
		r->verdict = HS_FAILED;
		if (r->reason[0] == '\0')
			(void)snprintf(r->reason, sizeof(r->reason),
			    "plugin error");
	}
	r->reason[sizeof(r->reason) - 1] = '\0';
	r->headers[sizeof(r->headers) - 1] = '\0';
	if ((unsigned)r->verdict >= VERDICT_COUNT)
		r->verdict = HS_FAILED;
}

void
plugin_free(struct plugin **pp)
{
	struct plugin	*p = *pp;
	size_t		 i;

	if (p == NULL)
		return;
	if (p->inited && p->desc->fini != NULL)
		p->desc->fini(p->ctx);
	/* A plugin's libraries may keep threads or handlers; never unmap it once run. */
	if (!p->inited)
		(void)dlclose(p->dl);
	for (i = 0; i < p->nopts; i++)
		free(p->opts[i].text);
	free(p->opts);
	for (i = 0; i < p->nwatch; i++)
		free(p->watch[i]);
	free(p->watch);
	free(p->name);
	free(p->path);
	free(p);
	*pp = NULL;
}

const struct hs_plugin_option *
plugin_probe(void *arg, const char *dir, const char *name, char **error_r)
{
	static const struct hs_plugin_option none[] = { { NULL, 0, NULL, NULL } };
	struct plugin_probe *probe = arg;
	struct plugin	*p;

	if (plugin_load(dir, name, &p, error_r) < 0)
		return (NULL);
	probe->loaded = xreallocarray(probe->loaded, probe->n + 1,
	    sizeof(*probe->loaded));
	probe->loaded[probe->n++] = p;
	return (p->desc->options ? p->desc->options : none);
}

void
plugin_probe_clear(struct plugin_probe *probe)
{
	size_t	 i;

	for (i = 0; i < probe->n; i++)
		plugin_free(&probe->loaded[i]);
	free(probe->loaded);
	probe->loaded = NULL;
	probe->n = 0;
}

uint32_t
plugin_needs(const struct plugin *p)
{
	return (HS_PLUGIN_HAS(p->desc, needs) ? p->desc->needs : 0);
}

bool
plugin_is_spam_check(const struct plugin *p)
{
	return (HS_PLUGIN_HAS(p->desc, kind) &&
	    (p->desc->kind & HS_KIND_SPAM) != 0);
}

bool
plugin_rewrites_html(const struct plugin *p)
{
	return (HS_PLUGIN_HAS(p->desc, kind) &&
	    (p->desc->kind & HS_KIND_HTML) != 0);
}

plugin_rewrite_fn
plugin_rewriter(const struct plugin *p)
{
	return (HS_PLUGIN_HAS(p->desc, rewrite_part) ?
	    p->desc->rewrite_part : NULL);
}

plugin_learn_fn
plugin_learner(const struct plugin *p)
{
	return (HS_PLUGIN_HAS(p->desc, learn) ? p->desc->learn : NULL);
}
