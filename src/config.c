/*
 * NAME
 *	config - holdscan.conf schema, parser and validators
 * DESCRIPTION
 *	The table params[] is the single description of every parameter:
 *	name, type, default, limits and a one-line summary. libconfuse reads
 *	the file ("name = value", # comments, double quotes for values with
 *	spaces); every value is read as a string and checked here, so that
 *	units ("200ms", "64M"), ranges and choices are reported with the
 *	file name and line number, Postfix style:
 *
 *	    /etc/holdscan/holdscan.conf:12: batch_max_wait: bad time "5x"
 *	    (use a number with ms, s, m, h or d)
 *
 *	All problems in a file are collected, not just the first.
 *
 *	This module must never exit or log: it returns errors to the caller,
 *	which decides (holdscand refuses to start, check-config prints them).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <confuse.h>

#include "buf.h"
#include "config.h"
#include "xalloc.h"

enum ptype {
	P_STR,		/* any string */
	P_PATH,		/* absolute path */
	P_NAME,		/* relative name without '/' */
	P_INT,		/* decimal integer in [min, max] */
	P_BOOL,		/* yes/no */
	P_TIME,		/* duration, stored in ms */
	P_SIZE,		/* byte count with k/M/G */
	P_ENUM,		/* one of choices, stored as its index */
};

struct param {
	const char	*name;
	enum ptype	 type;
	const char	*def;
	size_t		 off;
	long		 min, max;
	const char	*choices;	/* P_ENUM: space-separated */
	const char	*doc;
};

#define F(field)	offsetof(struct hs_config, field)
#define NOLIM		0, LONG_MAX

static const struct param params[] = {
	/* where things are */
	{ "postfix_config_directory", P_PATH, "/etc/postfix",
	    F(postfix_config_directory), NOLIM, NULL,
	    "the Postfix instance to serve (as postconf -c DIR)" },
	{ "state_directory", P_PATH, "/var/lib/holdscan",
	    F(state_directory), NOLIM, NULL,
	    "the intent journal and quarantine index (Berkeley DB)" },
	{ "quarantine_directory", P_PATH, "/var/spool/holdscan/quarantine",
	    F(quarantine_directory), NOLIM, NULL,
	    "quarantined messages, sharded by date" },
	{ "holdscan_queue_subdir", P_NAME, "holdscan",
	    F(holdscan_queue_subdir), NOLIM, NULL,
	    "holdscan's own directory inside queue_directory" },
	{ "pid_file", P_PATH, "/run/holdscand.pid", F(pid_file), NOLIM, NULL,
	    "where holdscand writes its process id" },
	{ "metrics_file", P_PATH, "/var/lib/holdscan/metrics.prom",
	    F(metrics_file), NOLIM, NULL,
	    "counters in Prometheus text format, rewritten atomically" },
	{ "plugin_directory", P_PATH, HS_PLUGINDIR, F(plugin_directory),
	    NOLIM, NULL, "where scanner plugins are loaded from" },
	/* logging */
	{ "syslog_name", P_STR, "holdscand", F(syslog_name), NOLIM, NULL,
	    "program name in log lines" },
	{ "syslog_facility", P_ENUM, "mail", F(syslog_facility), NOLIM,
	    "mail daemon local0 local1 local2 local3 local4 local5 local6 local7",
	    "syslog facility" },
	{ "verbose", P_BOOL, "no", F(verbose), NOLIM, NULL,
	    "log debugging detail" },
	/* processes */
	{ "worker_user", P_STR, "holdscan", F(worker_user), NOLIM, NULL,
	    "unprivileged user the scanner workers run as" },
	{ "worker_count", P_INT, "0", F(worker_count), 0, 256, NULL,
	    "scanner worker processes; 0 means one per CPU" },
	{ "scan_time_limit", P_TIME, "60s", F(scan_time_limit), 100,
	    86400000L, NULL, "time a worker may spend on one message" },
	{ "scan_retry_limit", P_INT, "3", F(scan_retry_limit), 1, 100, NULL,
	    "worker failures on one message before it is set aside" },
	{ "worker_memory_limit", P_SIZE, "1G", F(worker_memory_limit), 0,
	    LONG_MAX, NULL,
	    "address space limit of each worker beyond the shared engine; 0: none" },
	{ "worker_max_scans", P_INT, "10000", F(worker_max_scans), 1, LONG_MAX,
	    NULL, "a worker is replaced after this many messages" },
	/* batching */
	{ "batch_max_messages", P_INT, "200", F(batch_max_messages), 1, 100000,
	    NULL, "messages committed together at most" },
	{ "batch_max_bytes", P_SIZE, "64M", F(batch_max_bytes), 1024, LONG_MAX,
	    NULL, "bytes committed together at most" },
	{ "batch_max_wait", P_TIME, "100ms", F(batch_max_wait), 0, 3600000L,
	    NULL, "longest a message waits for its batch to fill" },
	{ "max_in_flight", P_INT, "1000", F(max_in_flight), 1, 1000000, NULL,
	    "messages claimed from hold and not yet committed, at most" },
	{ "rescan_interval", P_TIME, "60s", F(rescan_interval), 1000,
	    86400000L, NULL, "full rescan of the hold queue (inotify is the fast path)" },
	{ "message_size_limit", P_SIZE, "0", F(message_size_limit), 0,
	    LONG_MAX, NULL,
	    "queue files larger than this are set aside unscanned; 0: no limit" },
	/* commit */
	{ "fsync_method", P_ENUM, "syncfs", F(fsync_method), NOLIM,
	    "syncfs fsync",
	    "make a batch durable with one syncfs(2) or one fsync(2) per file" },
	/* the built-in header */
	{ "scan_header_name", P_STR, "X-Holdscan", F(scan_header_name), NOLIM,
	    NULL, "header added to every scanned message; empty: none" },
	{ "scan_header_text", P_STR,
	    "scanned by holdscan $version on $myhostname",
	    F(scan_header_text), NOLIM, NULL,
	    "its text ($version, $myhostname expanded)" },
};
#define NPARAMS	(sizeof(params) / sizeof(params[0]))
_Static_assert(NPARAMS <= 64, "set_mask holds 64 parameters");

/* Errors collected while parsing: one line each. */
struct load_state {
	struct buf	 errors;
	const char	*name;
	struct hs_config *scratch;	/* values stored as they are checked */
};

/*
 * libconfuse passes its callbacks no user data, so the parse in progress
 * is reachable through this pointer for the duration of one
 * config_load_common() call only; it is NULL at all other times.
 */
static __thread struct load_state *parsing;

static int
parse_scaled(const char *s, const char *const units[], const long mult[],
    long *v_r)
{
	char		*end;
	long		 v;
	size_t		 i;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno)
		return (-1);
	for (i = 0; units[i]; i++) {
		if (strcmp(end, units[i]) == 0) {
			if (mult[i] != 0 && v > LONG_MAX / mult[i])
				return (-1);
			*v_r = v * mult[i];
			return (0);
		}
	}
	return (-1);
}

int
config_parse_time(const char *s, long *ms_r)
{
	static const char *const units[] = { "ms", "s", "m", "h", "d", NULL };
	static const long mult[] = { 1, 1000, 60000, 3600000, 86400000 };

	return (parse_scaled(s, units, mult, ms_r));
}

int
config_parse_size(const char *s, long *bytes_r)
{
	static const char *const units[] = { "", "k", "K", "M", "G", NULL };
	static const long mult[] = { 1, 1024, 1024, 1048576, 1073741824 };

	return (parse_scaled(s, units, mult, bytes_r));
}

/* Index of word in a space-separated list, or -1. */
static int
choice_index(const char *choices, const char *word)
{
	size_t	 wlen = strlen(word), len;
	int	 i = 0;

	while (*choices) {
		len = strcspn(choices, " ");
		if (len == wlen && wlen && strncmp(choices, word, len) == 0)
			return (i);
		choices += len;
		choices += strspn(choices, " ");
		i++;
	}
	return (-1);
}

static const char *
choice_word(const char *choices, int index, char *buf, size_t size)
{
	size_t	 len;

	while (*choices) {
		len = strcspn(choices, " ");
		if (index-- == 0) {
			(void)snprintf(buf, size, "%.*s", (int)len, choices);
			return (buf);
		}
		choices += len;
		choices += strspn(choices, " ");
	}
	return ("?");
}

/*
 * Check value and store it into conf; on failure return a description of
 * what is wrong (static or in buf).
 */
static const char *
param_store(const struct param *p, const char *value, struct hs_config *conf,
    char *buf, size_t size)
{
	char	*field = (char *)conf + p->off;
	long	 v;
	int	 idx;

	switch (p->type) {
	case P_PATH:
		if (value[0] != '/')
			return ("must be an absolute path");
		/* FALLTHROUGH */
	case P_STR:
		if (strlen(value) > 4096)
			return ("value too long");
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return (NULL);
	case P_NAME:
		if (value[0] == '\0' || strchr(value, '/') != NULL ||
		    strcmp(value, ".") == 0 || strcmp(value, "..") == 0)
			return ("must be a plain directory name");
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return (NULL);
	case P_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			*(bool *)field = false;
		else
			return ("use yes or no");
		return (NULL);
	case P_INT:
	case P_TIME:
	case P_SIZE:
		if (p->type == P_INT) {
			char	*end;

			errno = 0;
			v = strtol(value, &end, 10);
			if (errno || end == value || *end != '\0')
				return ("not a whole number");
		} else if (p->type == P_TIME) {
			if (config_parse_time(value, &v) < 0)
				return ("bad time (use a number with ms, s, m, h or d)");
		} else {
			if (config_parse_size(value, &v) < 0)
				return ("bad size (use a number, optionally with k, M or G)");
		}
		if (v < p->min || v > p->max) {
			(void)snprintf(buf, size, "out of range (%ld..%ld%s)",
			    p->min, p->max, p->type == P_TIME ? " ms" :
			    p->type == P_SIZE ? " bytes" : "");
			return (buf);
		}
		*(long *)field = v;
		return (NULL);
	case P_ENUM:
		if ((idx = choice_index(p->choices, value)) < 0) {
			(void)snprintf(buf, size, "use one of: %s", p->choices);
			return (buf);
		}
		if (p->off == F(syslog_facility)) {
			free(*(char **)field);
			*(char **)field = xstrdup(value);
		} else {
			*(int *)field = idx;
		}
		return (NULL);
	}
	return ("internal error: unknown parameter type");
}

static void
config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct load_state *ls = parsing;
	char	 msg[512];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ls == NULL)
		return;
	if (cfg->line > 0)
		buf_printf(&ls->errors, "%s:%d: %s\n", ls->name, cfg->line, msg);
	else
		buf_printf(&ls->errors, "%s: %s\n", ls->name, msg);
}

static const struct param *
param_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NPARAMS; i++)
		if (strcmp(params[i].name, name) == 0)
			return (&params[i]);
	return (NULL);
}

/*
 * libconfuse calls this as each value is parsed, while cfg->line is the
 * line the value came from; check it now so the message names the line.
 */
static int
config_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	struct hs_config *scratch = parsing ? parsing->scratch : NULL;
	const struct param *p = param_find(cfg_opt_name(opt));
	const char	*value = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
	const char	*why;
	char		 buf[160];

	if (p == NULL || scratch == NULL)
		return (0);
	if ((why = param_store(p, value ? value : "", scratch, buf,
	    sizeof(buf))) != NULL)
		cfg_error(cfg, "%s = \"%s\": %s", p->name, value ? value : "", why);
	/* keep parsing: report every bad value, not just the first */
	return (0);
}

static struct hs_config *
config_new_defaults(void)
{
	struct hs_config *conf = xcalloc(1, sizeof(*conf));
	char		 buf[160];
	size_t		 i;

	for (i = 0; i < NPARAMS; i++)
		if (param_store(&params[i], params[i].def, conf, buf,
		    sizeof(buf)) != NULL)
			abort();	/* a bad default is a bug */
	return (conf);
}

static cfg_opt_t *
schema_new(void)
{
	cfg_opt_t	*opts = xcalloc(NPARAMS + 1, sizeof(*opts));
	size_t		 i;

	for (i = 0; i < NPARAMS; i++) {
		cfg_opt_t o = CFG_STR(NULL, NULL, CFGF_NONE);

		o.name = (char *)params[i].name;
		o.def.string = params[i].def;
		o.validcb = config_validate;
		opts[i] = o;
	}
	{
		cfg_opt_t e = CFG_END();

		opts[NPARAMS] = e;
	}
	return (opts);
}

static int
config_load_common(const char *path, const char *text, const char *name,
    struct hs_config **conf_r, char **errors_r)
{
	struct hs_config *conf = config_new_defaults();
	struct load_state ls = { BUF_INIT, name, conf };
	cfg_opt_t	*opts = schema_new();
	cfg_t		*cfg;
	int		 rc;
	size_t		 i;

	*conf_r = NULL;
	if ((cfg = cfg_init(opts, CFGF_NONE)) == NULL) {
		free(opts);
		config_free(&conf);
		*errors_r = xasprintf("%s: cannot initialise parser", name);
		return (-1);
	}
	(void)cfg_set_error_function(cfg, config_errfunc);

	parsing = &ls;
	rc = path ? cfg_parse(cfg, path) : cfg_parse_buf(cfg, text);
	parsing = NULL;
	if (rc == CFG_FILE_ERROR)
		buf_printf(&ls.errors, "%s: cannot read: %s\n", name,
		    strerror(errno));
	else if (rc != CFG_SUCCESS && ls.errors.len == 0)
		buf_printf(&ls.errors, "%s: syntax error\n", name);

	conf->file = xstrdup(name);
	for (i = 0; rc == CFG_SUCCESS && i < NPARAMS; i++) {
		cfg_opt_t *o = cfg_getopt(cfg, params[i].name);

		if (o && (o->flags & CFGF_MODIFIED))
			conf->set_mask |= 1ULL << i;
	}
	cfg_free(cfg);
	free(opts);

	if (ls.errors.len > 0) {
		ls.errors.data[--ls.errors.len] = '\0';	/* last newline */
		*errors_r = buf_steal(&ls.errors, NULL);
		config_free(&conf);
		return (-1);
	}
	buf_free(&ls.errors);
	*conf_r = conf;
	return (0);
}

int
config_load(const char *path, struct hs_config **conf_r, char **errors_r)
{
	if (path == NULL)
		path = CONFIG_DEFAULT_FILE;
	return (config_load_common(path, NULL, path, conf_r, errors_r));
}

int
config_load_string(const char *text, const char *name,
    struct hs_config **conf_r, char **errors_r)
{
	return (config_load_common(NULL, text, name, conf_r, errors_r));
}

void
config_free(struct hs_config **confp)
{
	struct hs_config *conf = *confp;
	size_t		 i;

	if (conf == NULL)
		return;
	for (i = 0; i < NPARAMS; i++) {
		if (params[i].type == P_STR || params[i].type == P_PATH ||
		    params[i].type == P_NAME || params[i].off == F(syslog_facility))
			free(*(char **)((char *)conf + params[i].off));
	}
	free(conf->file);
	free(conf);
	*confp = NULL;
}

static void
param_format(const struct param *p, const struct hs_config *conf, char *buf,
    size_t size)
{
	const char	*field = (const char *)conf + p->off;
	long		 v;

	switch (p->type) {
	case P_STR:
	case P_PATH:
	case P_NAME:
		(void)snprintf(buf, size, "%s", *(char *const *)field);
		return;
	case P_BOOL:
		(void)snprintf(buf, size, "%s", *(const bool *)field ? "yes" : "no");
		return;
	case P_INT:
		(void)snprintf(buf, size, "%ld", *(const long *)field);
		return;
	case P_TIME:
		v = *(const long *)field;
		if (v % 1000 != 0 || v == 0)
			(void)snprintf(buf, size, "%ldms", v);
		else
			(void)snprintf(buf, size, "%lds", v / 1000);
		return;
	case P_SIZE:
		v = *(const long *)field;
		if (v != 0 && v % 1073741824L == 0)
			(void)snprintf(buf, size, "%ldG", v / 1073741824L);
		else if (v != 0 && v % 1048576L == 0)
			(void)snprintf(buf, size, "%ldM", v / 1048576L);
		else if (v != 0 && v % 1024L == 0)
			(void)snprintf(buf, size, "%ldk", v / 1024L);
		else
			(void)snprintf(buf, size, "%ld", v);
		return;
	case P_ENUM:
		if (p->off == F(syslog_facility))
			(void)snprintf(buf, size, "%s", *(char *const *)field);
		else
			(void)choice_word(p->choices, *(const int *)field, buf, size);
		return;
	}
}

void
config_print(const struct hs_config *conf, FILE *fp, bool only_set)
{
	char	 val[4200];
	size_t	 i;

	for (i = 0; i < NPARAMS; i++) {
		if (only_set && !(conf->set_mask & (1ULL << i)))
			continue;
		param_format(&params[i], conf, val, sizeof(val));
		if (val[0] == '\0' || strpbrk(val, " \t#\"'") != NULL)
			fprintf(fp, "%s = \"%s\"\n", params[i].name, val);
		else
			fprintf(fp, "%s = %s\n", params[i].name, val);
	}
}

const char *
config_name_at(size_t i)
{
	return (i < NPARAMS ? params[i].name : NULL);
}

static const char *const action_names[] = {
	[ACTION_DELIVER] = "deliver",
	[ACTION_TAG] = "tag",
	[ACTION_CLEAN] = "deliver-cleaned",
	[ACTION_QUARANTINE] = "quarantine",
	[ACTION_DROP] = "drop",
	[ACTION_HOLD] = "hold",
};

const char *
config_action_name(enum policy_action a)
{
	if ((size_t)a >= sizeof(action_names) / sizeof(action_names[0]))
		return ("?");
	return (action_names[a]);
}

int
config_action_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(action_names[i], name) == 0)
			return ((int)i);
	return (-1);
}
