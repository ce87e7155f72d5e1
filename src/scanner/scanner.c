/*
 * NAME
 *	scanner - scanner parent process and scanner workers
 * DESCRIPTION
 *	The scanner parent is "holdscan-scanner serve", started by the
 *	scanner supervisor (holdscand's, supervisor.c) as the worker user
 *	with its control socket to the master as descriptor 3. The master
 *	sends the configuration first, as the text it read (WIRE_CONFIG):
 *	the scanner parent parses it, checks each plugin section against
 *	its plugin's option table (the master loads no plugin, so this is
 *	the only place that can), and answers with the errors, file and
 *	line, or that it is fine (WIRE_CHECKED). It then loads and
 *	initialises the plugins (so a signature database is compiled once
 *	and shared copy-on-write by all workers), and serves the master's
 *	requests: spawn a worker (its socket goes back to the master with
 *	SCM_RIGHTS), kill one, reload. It reaps its children and tells the
 *	master how each ended. A reload brings a new configuration text,
 *	checked the same way; then what it scans with is built here while
 *	the existing workers go on scanning with the old one, so mail keeps
 *	flowing: the plugins' state rebuilt in place when they and their
 *	options are the same, else a new set of plugins (another scanners
 *	list, order, plugin directory or options) loaded and initialised
 *	beside the old one. Only then is the configuration accepted, a new
 *	generation announced, and the master rolls its workers over to it;
 *	a configuration with errors, or whose plugins fail to load or
 *	initialise, is refused with the reason and nothing changes.
 *
 *	A worker scans one message at a time under resource limits (address
 *	space, CPU time per message, an alarm as a last resort) and exits
 *	after worker_max_scans messages or when the master closes its socket.
 *	After its plugins' worker_init and before its first message it puts
 *	itself under a seccomp filter (sandbox.c, worker_seccomp): no exec,
 *	no tracing, no sockets unless a plugin needs the network. The
 *	scanner parent is not dumpable, so that a worker cannot reach it
 *	through ptrace or /proc/PID/mem either.
 *
 *	Plugins write temporary files only in the scanner's private
 *	directory (scratch.c), never in one other users share: the scanner
 *	parent makes its own in scanner_temp_directory at start (removing
 *	what dead scanners left there), each worker makes worker.PID in it,
 *	and the scanner parent removes that when it reaps the worker, so
 *	that nothing a killed worker unpacked outlives it.
 *
 *	The scanner parent is started again whenever one dies. It and its
 *	workers die with their parent (PR_SET_PDEATHSIG), so a kill -9 of
 *	holdscand never leaves scanners behind. They must never run as
 *	root, and never open queue files themselves: they only read what
 *	the master passes them.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "scanner/pluginload.h"
#include "scanner/sandbox.h"
#include "scanner/ruleset.h"
#include "scanner/scan.h"
#include "scanner/scanner.h"
#include "scanner/scratch.h"

#define RELOAD_SETTLE_MS	2000	/* quiet time after a signature change */
#define CONFIG_TEXT_MAX		(4 * 1024 * 1024)	/* as config.c reads */

struct scanner {
	const struct scanner_args *args;
	int		 ctl;
	int		 sigfd;
	int		 inofd;		/* plugin watch paths, or -1 */
	uint32_t	 generation;
	struct plugin	**plugins;	/* conf's scanners, in its order */
	size_t		 nplugins;
	struct policy	 policy;
	struct ruleset	*rules;		/* compiled rulesets, or NULL */
	struct scan_ctx	 sctx;
	pid_t		*children;
	size_t		 nchildren;
	struct timespec	 reload_due;	/* pending inotify-triggered reload */
	bool		 reload_pending;
	struct hs_config *conf;		/* the configuration we run with */
	struct scratch	 scratch;	/* our private temporary directory */
	char		 myhostname[256];	/* Postfix's, from the master */
	size_t		 line_limit;
};

/* The master (or, for a worker, its peer) is gone: nothing to report to. */
static void
exit_if_peer_gone(void)
{
	if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
		_exit(0);
}

static void
die_with_parent(void)
{
	pid_t	 ppid = getppid();

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		hs_fatal(EX_OSERR, "prctl(PR_SET_PDEATHSIG)");
	/* The parent may have died before the prctl took effect. */
	if (getppid() != ppid || ppid == 1)
		_exit(EX_OSERR);
}

/* The section of plugin name in conf, or an empty one. */
static const struct hs_config_plugin *
section_of(const struct hs_config *conf, const char *name,
    struct hs_config_plugin *empty)
{
	size_t	 i;

	for (i = 0; i < conf->nplugin_sections; i++)
		if (strcmp(conf->plugin_sections[i].name, name) == 0)
			return (&conf->plugin_sections[i]);
	memset(empty, 0, sizeof(*empty));
	empty->name = (char *)name;
	return (empty);
}

/* Are a plugin's sections in a and b the same options, in the same order? */
static bool
same_section(const struct hs_config *a, const struct hs_config *b,
    const char *name)
{
	struct hs_config_plugin ea, eb;
	const struct hs_config_plugin *pa = section_of(a, name, &ea);
	const struct hs_config_plugin *pb = section_of(b, name, &eb);
	size_t	 i;

	if (pa->nopts != pb->nopts)
		return (false);
	for (i = 0; i < pa->nopts; i++)
		if (strcmp(pa->opt_names[i], pb->opt_names[i]) != 0 ||
		    strcmp(pa->opt_values[i], pb->opt_values[i]) != 0)
			return (false);
	return (true);
}

/*
 * Would conf run the plugins of sc->conf as they run: the same scanners
 * in the same order, from the same directory, with the same options?
 * Then a reload rebuilds their state in place; else it starts new ones.
 */
static bool
same_plugins(const struct scanner *sc, const struct hs_config *conf)
{
	size_t	 i;

	if (conf->nscanners != sc->conf->nscanners ||
	    strcmp(conf->plugin_directory, sc->conf->plugin_directory) != 0)
		return (false);
	for (i = 0; i < conf->nscanners; i++)
		if (strcmp(conf->scanners[i].name,
		    sc->conf->scanners[i].name) != 0 ||
		    !same_section(sc->conf, conf, conf->scanners[i].name))
			return (false);
	return (true);
}

static void
free_plugins(struct plugin ***plugins, size_t *n)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		plugin_free(&(*plugins)[i]);
	free(*plugins);
	*plugins = NULL;
	*n = 0;
}

/*
 * Start pc's plugin as plugin_start() does, with what it logs while it
 * starts collected: on success logged as it would have been, on failure
 * its warnings are the reason (they say why better than its error:
 * "cannot load the header rules (the warning above says why)"), so that
 * the master's one line and "holdscand reload" show it.
 */
static int
start_one(const struct hs_config *conf, const struct hs_config_plugin *pc,
    struct plugin **p_r, char **error_r)
{
	struct buf	 said = BUF_INIT;
	struct buf	 why = BUF_INIT;
	struct plugin	*p = NULL;
	char		*error = NULL, *line, *save = NULL;
	size_t		 i;

	if (plugin_load(conf->plugin_directory, pc->name, &p, error_r) < 0)
		return (-1);
	p->capture = &said;
	for (i = 0; i < pc->nopts && error == NULL; i++)
		if (plugin_set_option(p, pc->opt_names[i], pc->opt_values[i],
		    &error) < 0) {
			char	*e = xasprintf("plugin %s: %s", pc->name, error);

			free(error);
			error = e;
		}
	if (error == NULL && plugin_init(p, &error) == 0) {
		p->capture = NULL;
		buf_reserve(&said, 0);
		for (line = strtok_r(said.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			if (strncmp(line, "warning: ", 9) == 0)
				hs_warnx("%s: %s", p->name, line + 9);
			else
				hs_info("%s: %s", p->name, line);
		buf_free(&said);
		*p_r = p;
		return (0);
	}
	buf_reserve(&said, 0);
	for (line = strtok_r(said.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "warning: ", 9) == 0)
			buf_printf(&why, "%s%s", why.len ? "; " : "", line + 9);
	if (why.len > 0) {
		buf_reserve(&why, 0);
		*error_r = xasprintf("plugin %s: %s", pc->name, why.data);
		free(error);
	} else {
		*error_r = error;
	}
	buf_free(&why);
	buf_free(&said);
	p->capture = NULL;
	plugin_free(&p);
	return (-1);
}

/*
 * Load, set up and initialise conf's scanners, in its order: 0 with the
 * new plugins in *plugins_r, or -1 with the first failure in *error_r
 * (owned by the caller) and nothing left running.
 */
static int
start_plugins(const struct hs_config *conf, struct plugin ***plugins_r,
    size_t *n_r, char **error_r)
{
	struct hs_config_plugin empty;
	struct plugin	**plugins;
	size_t		 i, n = 0;

	plugins = xcalloc(conf->nscanners ? conf->nscanners : 1,
	    sizeof(*plugins));
	for (i = 0; i < conf->nscanners; i++) {
		if (start_one(conf, section_of(conf, conf->scanners[i].name,
		    &empty), &plugins[n], error_r) < 0) {
			free_plugins(&plugins, &n);
			return (-1);
		}
		n++;
	}
	*plugins_r = plugins;
	*n_r = n;
	return (0);
}

/* The scanners' names, "a, b" ("none" for none), in buf. */
static void
plugin_names(struct plugin **plugins, size_t n, char *buf, size_t size)
{
	size_t	 i, len = 0;

	(void)snprintf(buf, size, "%s", n == 0 ? "none" : "");
	for (i = 0; i < n && len + 1 < size; i++) {
		(void)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
		    plugins[i]->name);
		len = strlen(buf);
	}
}

static void
engine_info(struct scanner *sc, char *buf, size_t size)
{
	size_t	 i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < sc->nplugins && len + 1 < size; i++) {
		char	 one[256] = "";

		if (sc->plugins[i]->desc->info != NULL)
			sc->plugins[i]->desc->info(sc->plugins[i]->ctx, one,
			    sizeof(one));
		(void)snprintf(buf + len, size - len, "%s%s%s%s",
		    len ? "; " : "", sc->plugins[i]->name, one[0] ? " " : "", one);
		len = strlen(buf);
	}
}

static void
announce(struct scanner *sc, bool ok, const char *why)
{
	struct wire_engine e;

	memset(&e, 0, sizeof(e));
	e.generation = sc->generation;
	e.ok = ok;
	if (ok)
		engine_info(sc, e.info, sizeof(e.info));
	else
		(void)snprintf(e.info, sizeof(e.info), "%s", why);
	if (wire_send(sc->ctl, WIRE_ENGINE, &e, sizeof(e), -1) < 0) {
		exit_if_peer_gone();
		hs_fatal(EX_OSERR, "scanner: send to master");
	}
}

/*
 * The next message from the master must be type (WIRE_CONFIG at start,
 * WIRE_RELOAD later) with a configuration: its text in *text_r.
 */
static void
config_text(struct scanner *sc, const struct wire_config *wc, int fd,
    char **text_r)
{
	if (fd < 0)
		hs_fatalx(EX_PROTOCOL, "scanner: a configuration without its "
		    "text from the master");
	if (wire_memfd_read(fd, CONFIG_TEXT_MAX, text_r, NULL) < 0)
		hs_fatal(EX_PROTOCOL, "scanner: cannot read the configuration "
		    "from the master");
	(void)close(fd);
	(void)snprintf(sc->myhostname, sizeof(sc->myhostname), "%.*s",
	    (int)strnlen(wc->myhostname, sizeof(wc->myhostname)),
	    wc->myhostname);
	sc->line_limit = wc->line_limit;
}

/* Tell the master what we found in the configuration of serial. */
static void
answer(struct scanner *sc, uint32_t serial, const char *errors)
{
	struct wire_checked ck;
	int		 fd = -1;

	ck.serial = serial;
	ck.ok = errors == NULL;
	if (errors != NULL && (fd = wire_memfd("holdscan-errors", errors,
	    strlen(errors))) < 0)
		hs_fatal(EX_OSERR, "scanner: memfd");
	if (wire_send(sc->ctl, WIRE_CHECKED, &ck, sizeof(ck), fd) < 0) {
		exit_if_peer_gone();
		hs_fatal(EX_OSERR, "scanner: send to master");
	}
	if (fd >= 0)
		(void)close(fd);
}

/*
 * Parse and check text as the configuration (plugin sections against
 * the plugins' tables): a new one, or NULL with the errors in *errors_r.
 */
static struct hs_config *
check_config(struct scanner *sc, const char *text, char **errors_r)
{
	struct plugin_probe probe = { NULL, 0 };
	struct hs_config *conf = NULL;

	struct ruleset	*rules = NULL;

	if (config_load_string(text, sc->args->config_path, plugin_probe,
	    &probe, &conf, errors_r) < 0)
		conf = NULL;
	plugin_probe_clear(&probe);
	/* the rulesets' regular expressions: PCRE2's to check */
	if (conf != NULL && ruleset_new(conf, &rules, errors_r) < 0)
		config_free(&conf);
	ruleset_free(&rules);
	return (conf);
}

/* Policy and scan context of sc->conf. */
static void
apply_policy(struct scanner *sc)
{
	char	*errors = NULL;

	policy_clear(&sc->policy);
	policy_from_config(&sc->policy, sc->conf);
	ruleset_free(&sc->rules);
	/* check_config() compiled them already: a failure now is a bug */
	if (ruleset_new(sc->conf, &sc->rules, &errors) < 0)
		hs_panic("scanner: rulesets: %s", errors);
	scan_ctx_clear(&sc->sctx);
	scan_ctx_init(&sc->sctx, sc->conf, &sc->policy, sc->myhostname,
	    sc->line_limit);
	sc->sctx.rules = sc->rules;
	sc->sctx.plugins = sc->plugins;
	sc->sctx.nplugins = sc->nplugins;
}

/* Say how the workers will be confined (worker_seccomp): at start, on a change. */
static void
log_sandbox(const struct scanner *sc)
{
	char	 who[256] = "";
	size_t	 i, len = 0;

	if (!sc->conf->worker_seccomp) {
		hs_warnx("scanner: worker_seccomp = no: workers run without a "
		    "seccomp filter");
		return;
	}
	for (i = 0; i < sc->nplugins && len + 1 < sizeof(who); i++) {
		if ((plugin_needs(sc->plugins[i]) & HS_NEEDS_NETWORK) == 0)
			continue;
		(void)snprintf(who + len, sizeof(who) - len, "%s%s",
		    len ? "," : "", sc->plugins[i]->name);
		len = strlen(who);
	}
	hs_info("scanner: workers run under a seccomp filter network=%s",
	    len ? who : "none");
}

/* Rebuild every plugin's state: 0, or -1 with the reason in msg. */
static int
rebuild_plugins(struct scanner *sc, char *msg, size_t size)
{
	const char	*why = NULL;
	size_t		 i;

	for (i = 0; i < sc->nplugins; i++) {
		struct plugin	*p = sc->plugins[i];

		if (p->desc->reload == NULL)
			continue;
		if (p->desc->reload(p->ctx, &why) < 0) {
			(void)snprintf(msg, size, "%s: %s", p->name,
			    why ? why : "reload failed");
			return (-1);
		}
	}
	return (0);
}

static void	watch_plugin_paths(struct scanner *);

/*
 * A reload: check the master's new configuration, and build what it
 * scans with before saying yes. The same plugins with the same options:
 * their state is rebuilt in place (new signatures, say). Another list
 * (names, order, count), directory or options: a new set of plugins is
 * loaded and initialised beside the running one, which scans on until
 * it is ready. Either way a failure refuses the configuration with its
 * reason (WIRE_CHECKED, not ok), and everything stays as it was: the
 * master keeps its configuration too. On success the new generation is
 * announced (the master retires the older workers after their message).
 */
static void
take_config(struct scanner *sc, const struct wire_config *wc, int fd)
{
	struct hs_config *conf;
	struct plugin	**plugins = NULL;
	char		*text = NULL, *errors = NULL, msg[480];
	char		 was[256], now[256];
	size_t		 n = 0;
	bool		 confine;

	config_text(sc, wc, fd, &text);
	conf = check_config(sc, text, &errors);
	free(text);
	if (conf == NULL) {
		answer(sc, wc->serial, errors);
		free(errors);
		return;
	}
	if (same_plugins(sc, conf)) {
		if (rebuild_plugins(sc, msg, sizeof(msg)) < 0) {
			errors = xasprintf("reload failed, still using "
			    "generation %u: %s", sc->generation, msg);
			answer(sc, wc->serial, errors);
			free(errors);
			config_free(&conf);
			return;
		}
	} else {
		if (start_plugins(conf, &plugins, &n, &errors) < 0) {
			char	*why = xasprintf("the new scanners could not "
			    "start, still using generation %u: %s",
			    sc->generation, errors);

			answer(sc, wc->serial, why);
			free(why);
			free(errors);
			config_free(&conf);
			return;
		}
		plugin_names(sc->plugins, sc->nplugins, was, sizeof(was));
		plugin_names(plugins, n, now, sizeof(now));
		/* Our workers have their own copies: the old state goes. */
		free_plugins(&sc->plugins, &sc->nplugins);
		sc->plugins = plugins;
		sc->nplugins = n;
		if (sc->inofd >= 0)
			(void)close(sc->inofd);
		watch_plugin_paths(sc);
		hs_info("scanner: scanners %s (were %s)", now, was);
	}
	answer(sc, wc->serial, NULL);
	/*
	 * What the plugins watch was read just now: a change seen before
	 * (a signature file written, then SIGHUP) is in this generation,
	 * and building it again after the settle time would only keep the
	 * new generation's workers from being spawned meanwhile.
	 */
	sc->reload_pending = false;
	/* The workers of the new generation: say how they are confined. */
	confine = plugins != NULL ||
	    conf->worker_seccomp != sc->conf->worker_seccomp;
	config_free(&sc->conf);
	sc->conf = conf;
	apply_policy(sc);
	if (confine)
		log_sandbox(sc);
	sc->generation++;
	announce(sc, true, NULL);
}

/* All plugins must rebuild their state for a new generation. */
static void
reload_plugins(struct scanner *sc)
{
	char	 msg[480];

	if (rebuild_plugins(sc, msg, sizeof(msg)) < 0) {
		hs_warnx("reload failed, keeping the current engine: %s", msg);
		announce(sc, false, msg);
		return;
	}
	sc->generation++;
	announce(sc, true, NULL);
}

static void
watch_plugin_paths(struct scanner *sc)
{
	size_t	 i, j;

	sc->inofd = -1;
	for (i = 0; i < sc->nplugins; i++) {
		for (j = 0; j < sc->plugins[i]->nwatch; j++) {
			if (sc->inofd < 0 && (sc->inofd = inotify_init1(
			    IN_NONBLOCK | IN_CLOEXEC)) < 0)
				hs_fatal(EX_OSERR, "scanner: inotify_init1");
			if (inotify_add_watch(sc->inofd, sc->plugins[i]->watch[j],
			    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
			    IN_DELETE | IN_CREATE) < 0)
				hs_warn("scanner: cannot watch %s",
				    sc->plugins[i]->watch[j]);
		}
	}
}

/* rlimits for one worker: address space beyond what it inherited. */
static void
worker_limits(const struct hs_config *conf)
{
	struct rlimit	 rl;
	unsigned long	 vsize_pages = 0;
	FILE		*fp;

	if (conf->worker_memory_limit <= 0)
		return;
	if ((fp = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(fp, "%lu", &vsize_pages) != 1)
			vsize_pages = 0;
		(void)fclose(fp);
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)vsize_pages *
	    (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)conf->worker_memory_limit;
	if (setrlimit(RLIMIT_AS, &rl) < 0)
		hs_warn("worker: setrlimit(RLIMIT_AS)");
}

/*
 * Keep the heap a message grew for the next one: glibc gave the top of
 * the heap back whenever 128 KiB of it was free, so every message paid
 * for its memory again (perf, 2 KB messages: growing the heap, page
 * faults and zeroed pages were about a sixth of a worker's samples).
 * Up to WORKER_HEAP_KEEP of freed heap stays; what a large message grew
 * beyond it goes back after it; blocks of WORKER_MMAP_FROM and more
 * (glibc's own ceiling for its moving threshold) are mapped for
 * themselves.
 */
#define WORKER_HEAP_KEEP	(4 * 1024 * 1024)
#define WORKER_MMAP_FROM	(32 * 1024 * 1024)

/* Allow this message time_limit of CPU on top of what the worker used so far. */
static void
worker_cpu_limit(uint32_t time_limit_ms)
{
	struct rusage	 ru;
	struct rlimit	 rl;

	if (getrusage(RUSAGE_SELF, &ru) < 0 || getrlimit(RLIMIT_CPU, &rl) < 0)
		return;
	rl.rlim_cur = (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    time_limit_ms / 1000 + 2;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_CPU, &rl);
}

/* What the loaded plugins need of a worker's sandbox. */
static void
sandbox_needs_of(const struct scanner *sc, struct sandbox_needs *needs)
{
	size_t	 i;

	memset(needs, 0, sizeof(*needs));
	for (i = 0; i < sc->nplugins; i++)
		if (plugin_needs(sc->plugins[i]) & HS_NEEDS_NETWORK)
			needs->network = true;
}

/* The seccomp filter (sandbox.c); a worker that cannot have it never scans. */
static void
worker_sandbox(const struct scanner *sc)
{
	struct sandbox_needs needs;
	char		*error = NULL;

	sandbox_needs_of(sc, &needs);
	if (sandbox_apply(&needs, &error) < 0)
		hs_fatalx(EX_OSERR, "worker: %s", error);
}

static void
worker_main(struct scanner *sc, int sock)
{
	const struct hs_config *conf = sc->sctx.conf;
	struct wire_scan req;
	struct wire_result res;
	enum wire_type	 type;
	const char	*why;
	char		*dir = NULL, *error = NULL;
	size_t		 len, i;
	long		 scans = 0;
	int		 fd, memfd, r;

	die_with_parent();
	log_reopen();
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	/* Its own temporary directory, which the parent empties after it. */
	if (scratch_worker(&sc->scratch, getpid(), &dir, &error) < 0)
		hs_fatalx(EX_CANTCREAT, "worker: %s", error);
	/*
	 * The scanner's directory, and its lock, are the scanner parent's:
	 * a worker needs its own directory only, by name.
	 */
	if (close(sc->scratch.fd) < 0)
		hs_fatal(EX_OSERR, "worker: close %s", sc->scratch.path);
	sc->scratch.fd = -1;
	plugin_temp_dir(dir);
	if (setenv("TMPDIR", dir, 1) < 0)
		hs_fatal(EX_OSERR, "worker: setenv");
	free(dir);
	worker_limits(conf);
	if (xalloc_keep_heap(WORKER_HEAP_KEEP, WORKER_MMAP_FROM) < 0)
		hs_debug("worker: malloc keeps its own heap settings");
	for (i = 0; i < sc->nplugins; i++) {
		struct plugin	*p = sc->plugins[i];

		why = NULL;
		if (p->desc->worker_init != NULL &&
		    p->desc->worker_init(p->ctx, &why) < 0)
			hs_fatalx(EX_SOFTWARE, "worker: plugin %s: %s", p->name,
			    why ? why : "worker_init failed");
	}
	/* Nothing of a message has been read yet: the filter goes on now. */
	if (conf->worker_seccomp)
		worker_sandbox(sc);
	for (;;) {
		r = wire_recv(sock, &type, &req, sizeof(req), &len, &fd);
		if (r == 0)
			_exit(0);
		if (r < 0) {
			exit_if_peer_gone();
			hs_fatal(EX_PROTOCOL, "worker: receive");
		}
		if (type != WIRE_SCAN || wire_scan_check(&req, len) < 0 ||
		    fd < 0)
			hs_fatalx(EX_PROTOCOL, "worker: unexpected message %d", type);
		memset(&res, 0, sizeof(res));
		res.seq = req.seq;
		worker_cpu_limit(req.time_limit_ms);
		/* Last resort if a plugin hangs where the master's kill cannot reach. */
		(void)alarm(req.time_limit_ms / 1000 + 10);
		scan_message(&sc->sctx, fd, &req, &res, &memfd);
		(void)alarm(0);
		(void)close(fd);
		/*
		 * Say so with the last result: the master then sends nothing
		 * more, so no message meets a worker that is leaving.
		 */
		res.last = ++scans >= conf->worker_max_scans;
		if (wire_send(sock, WIRE_RESULT, &res, sizeof(res), memfd) < 0) {
			exit_if_peer_gone();
			hs_fatal(EX_PROTOCOL, "worker: send result");
		}
		if (memfd >= 0)
			(void)close(memfd);
		if (res.last)
			_exit(0);
	}
}

static void
spawn_worker(struct scanner *sc)
{
	struct wire_spawned sp;
	int		 sv[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		hs_warn("scanner: socketpair");
		return;
	}
	if ((pid = fork()) < 0) {
		hs_warn("scanner: fork");
		(void)close(sv[0]);
		(void)close(sv[1]);
		return;
	}
	if (pid == 0) {
		/* Nothing of the parent's control channel may reach a worker. */
		(void)close(sc->ctl);
		(void)close(sc->sigfd);
		if (sc->inofd >= 0)
			(void)close(sc->inofd);
		(void)close(sv[0]);
		{
			sigset_t	 none;

			(void)sigemptyset(&none);
			(void)sigprocmask(SIG_SETMASK, &none, NULL);
		}
		worker_main(sc, sv[1]);
		_exit(0);
	}
	(void)close(sv[1]);
	sp.pid = pid;
	sp.generation = sc->generation;
	if (wire_send(sc->ctl, WIRE_SPAWNED, &sp, sizeof(sp), sv[0]) < 0) {
		exit_if_peer_gone();
		hs_fatal(EX_OSERR, "scanner: send to master");
	}
	(void)close(sv[0]);
	sc->children = xreallocarray(sc->children, sc->nchildren + 1,
	    sizeof(*sc->children));
	sc->children[sc->nchildren++] = pid;
}

static bool
is_child(struct scanner *sc, pid_t pid, bool remove)
{
	size_t	 i;

	for (i = 0; i < sc->nchildren; i++) {
		if (sc->children[i] == pid) {
			if (remove)
				sc->children[i] = sc->children[--sc->nchildren];
			return (true);
		}
	}
	return (false);
}

/*
 * Reap the workers that ended, remove what they left in their temporary
 * directories (a killed one's decoded parts, say), tell the master.
 */
static void
reap(struct scanner *sc)
{
	struct wire_exited ex;
	char		*error = NULL;
	int		 status;
	pid_t		 pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!is_child(sc, pid, true))
			continue;
		if (scratch_worker_done(&sc->scratch, pid, &error) < 0) {
			hs_warnx("scanner: %s", error);
			free(error);
			error = NULL;
		}
		ex.pid = pid;
		ex.status = status;
		if (wire_send(sc->ctl, WIRE_EXITED, &ex, sizeof(ex), -1) < 0) {
			exit_if_peer_gone();
			hs_fatal(EX_OSERR, "scanner: send to master");
		}
	}
}

static void
shutdown_children(struct scanner *sc)
{
	size_t	 i;
	int	 tries;

	for (i = 0; i < sc->nchildren; i++)
		(void)kill(sc->children[i], SIGTERM);
	for (tries = 0; tries < 50 && sc->nchildren > 0; tries++) {
		pid_t	 pid = waitpid(-1, NULL, WNOHANG);

		if (pid > 0)
			(void)is_child(sc, pid, true);
		else
			(void)usleep(20000);
	}
	for (i = 0; i < sc->nchildren; i++)
		(void)kill(sc->children[i], SIGKILL);
}

/* The master is gone: stop the workers, remove our directory, exit. */
static void HS_NORETURN
leave(struct scanner *sc)
{
	char	*error = NULL;

	shutdown_children(sc);
	if (scratch_close(&sc->scratch, &error) < 0) {
		hs_warnx("scanner: %s", error);
		free(error);
	}
	_exit(0);
}

static int
ms_until(const struct timespec *due)
{
	struct timespec	 now;
	long		 ms;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (due->tv_sec - now.tv_sec) * 1000 +
	    (due->tv_nsec - now.tv_nsec) / 1000000;
	return (ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms);
}

static void
handle_ctl(struct scanner *sc)
{
	union {
		struct wire_pid	 pid;
		struct wire_config cfg;
		char		 raw[512];
	} body;
	enum wire_type	 type;
	size_t		 len;
	int		 fd, r;

	r = wire_recv(sc->ctl, &type, &body, sizeof(body), &len, &fd);
	if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
		leave(sc);
	if (r < 0)
		hs_fatal(EX_PROTOCOL, "scanner: receive from master");
	if (fd >= 0 && type != WIRE_RELOAD) {
		(void)close(fd);
		fd = -1;
	}
	switch (type) {
	case WIRE_SPAWN:
		spawn_worker(sc);
		break;
	case WIRE_KILL:
		if (len == sizeof(body.pid) && is_child(sc, body.pid.pid, false))
			(void)kill(body.pid.pid, SIGKILL);
		break;
	case WIRE_RELOAD:
		if (len != sizeof(body.cfg)) {
			if (fd >= 0)
				(void)close(fd);
			hs_fatalx(EX_PROTOCOL, "scanner: a reload of %zu bytes",
			    len);
		}
		take_config(sc, &body.cfg, fd);
		return;
	default:
		hs_warnx("scanner: unexpected message %d from master", type);
		break;
	}
}

/* The master's first message: the configuration to start with. */
static void
first_config(struct scanner *sc)
{
	struct wire_config wc;
	enum wire_type	 type;
	size_t		 len;
	char		*text = NULL, *errors = NULL;
	int		 fd, r;

	r = wire_recv(sc->ctl, &type, &wc, sizeof(wc), &len, &fd);
	if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
		_exit(0);
	if (r < 0)
		hs_fatal(EX_PROTOCOL, "scanner: receive from master");
	if (type != WIRE_CONFIG || len != sizeof(wc)) {
		if (fd >= 0)
			(void)close(fd);
		hs_fatalx(EX_PROTOCOL, "scanner: message %d (%zu bytes) from the "
		    "master before its configuration", type, len);
	}
	config_text(sc, &wc, fd, &text);
	sc->conf = check_config(sc, text, &errors);
	free(text);
	if (sc->conf == NULL) {
		answer(sc, wc.serial, errors);
		hs_fatalx(EX_CONFIG, "%s", errors);
	}
	answer(sc, wc.serial, NULL);
}

/*
 * Our private temporary directory in scanner_temp_directory, for the
 * plugins (and libraries that read TMPDIR) of this process; each worker
 * makes its own in it. What dead scanners left there goes first.
 */
static void
open_scratch(struct scanner *sc)
{
	char	*error = NULL;

	if (scratch_open(&sc->scratch, sc->conf->scanner_temp_directory, false,
	    &error) < 0)
		hs_fatalx(EX_CANTCREAT, "scanner: %s", error);
	plugin_temp_dir(sc->scratch.path);
	if (setenv("TMPDIR", sc->scratch.path, 1) < 0)
		hs_fatal(EX_OSERR, "scanner: setenv");
}

void
scanner_parent_main(int ctl, const struct scanner_args *args)
{
	struct scanner	 sc;
	struct pollfd	 pfd[3];
	sigset_t	 mask;
	char		*error = NULL;
	int		 n;

	memset(&sc, 0, sizeof(sc));
	sc.args = args;
	sc.ctl = ctl;
	sc.generation = 1;
	(void)prctl(PR_SET_NAME, "holdscand-scan");
	/*
	 * Not dumpable (nor, as they inherit it, the workers): other
	 * processes of worker_user, a worker taken over among them, can
	 * neither trace us nor open /proc/PID/mem, which would reach
	 * around a worker's seccomp filter into a process without one.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		hs_fatal(EX_OSERR, "scanner: prctl(PR_SET_DUMPABLE)");
	die_with_parent();
	(void)signal(SIGPIPE, SIG_IGN);

	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGCHLD);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sc.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		hs_fatal(EX_OSERR, "scanner: signalfd");

	first_config(&sc);
	open_scratch(&sc);
	if (start_plugins(sc.conf, &sc.plugins, &sc.nplugins, &error) < 0) {
		/*
		 * The master's fatal line says it, where an admin starting
		 * holdscand looks (its terminal, not only the log): one line.
		 */
		announce(&sc, false, error);
		exit(EX_CONFIG);
	}
	apply_policy(&sc);
	watch_plugin_paths(&sc);
	log_sandbox(&sc);
	announce(&sc, true, NULL);

	for (;;) {
		pfd[0].fd = sc.ctl;
		pfd[0].events = POLLIN;
		pfd[1].fd = sc.sigfd;
		pfd[1].events = POLLIN;
		pfd[2].fd = sc.inofd;
		pfd[2].events = POLLIN;
		n = poll(pfd, sc.inofd >= 0 ? 3 : 2,
		    sc.reload_pending ? ms_until(&sc.reload_due) : -1);
		if (n < 0 && errno != EINTR)
			hs_fatal(EX_OSERR, "scanner: poll");
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sc.sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(&sc);
				/* SIGTERM/SIGINT/SIGHUP: the master decides */
			}
		}
		if (n > 0 && sc.inofd >= 0 && (pfd[2].revents & POLLIN)) {
			char	 evbuf[4096];

			while (read(sc.inofd, evbuf, sizeof(evbuf)) > 0)
				;
			(void)clock_gettime(CLOCK_MONOTONIC, &sc.reload_due);
			sc.reload_due.tv_sec += RELOAD_SETTLE_MS / 1000;
			sc.reload_pending = true;
		}
		if (sc.reload_pending && ms_until(&sc.reload_due) == 0) {
			sc.reload_pending = false;
			hs_info("scanner: signatures changed, reloading");
			reload_plugins(&sc);
		}
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			handle_ctl(&sc);
	}
}
