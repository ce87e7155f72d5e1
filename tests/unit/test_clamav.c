/*
 * NAME
 *	test_clamav - the clamav plugin, loaded as holdscand loads it
 * DESCRIPTION
 *	Loads build/$(BUILD)/plugins/clamav.so (next to this binary's build
 *	directory, or $HS_PLUGIN_DIR) with plugin_load(), sets its options
 *	and runs init, scan, scan_part, reload, info and fini on signatures
 *	and messages that tests/tools/clamav-testdata.py writes into a
 *	temporary directory (EICAR body signature, hash signatures of
 *	clamav-testfiles computed now; messages with attachments, zips
 *	nested in zips, a zip with many members).
 *
 *	Shown: etc/holdscan.conf documents every option with its default;
 *	verdicts for clean text, EICAR plain and in a base64
 *	attachment, clam.zip, clam.exe in a nested zip, a message libclamav
 *	would not take for mail; each exceeded limit under each on_limit; a
 *	signature match beating a limit; clear init errors (missing,
 *	empty and unreadable directory, malformed database named, bad
 *	options); reload picking up a new signature, a failed reload keeping
 *	the old engine, and options re-read on reload; temporary files in
 *	the host's private directory, the worker's after worker_init, and a
 *	temporary_directory others may write refused.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "holdscan/plugin.h"
#include "scanner/pluginload.h"
#include "common/xalloc.h"

struct fixture {
	char	 dir[64];		/* temporary, removed at the end */
	char	*sigs;			/* DIR/sigs */
	char	*mail;			/* DIR/mail */
	char	*tmp;			/* DIR/tmp, 0700: the host's temp dir */
	char	*plugin_dir;
};

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char	 cmd[2048];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return (-1);
	return (system(cmd) == 0 ? 0 : -1);
}

static int
setup(void **state)
{
	struct fixture	*fx;
	char		 exe[PATH_MAX], *p;
	ssize_t		 n;
	int		 i;

	fx = xcalloc(1, sizeof(*fx));
	*state = fx;
	log_open("test_clamav", LOG_DEST_STDERR, 0, 0);
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_clamav.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return (-1);
	if (chmod(fx->dir, 0755) < 0)
		return (-1);
	fx->sigs = xasprintf("%s/sigs", fx->dir);
	fx->mail = xasprintf("%s/mail", fx->dir);
	fx->tmp = xasprintf("%s/tmp", fx->dir);
	if (mkdir(fx->tmp, 0700) < 0)
		return (-1);
	plugin_temp_dir(fx->tmp);
	if (run("python3 %s/tests/tools/clamav-testdata.py sigs %s", HS_SRCDIR,
	    fx->sigs) < 0 ||
	    run("python3 %s/tests/tools/clamav-testdata.py mail %s", HS_SRCDIR,
	    fx->mail) < 0)
		return (-1);
	if ((p = getenv("HS_PLUGIN_DIR")) != NULL) {
		fx->plugin_dir = xstrdup(p);
		return (0);
	}
	/* build/B/tests/unit/test_clamav -> build/B/plugins */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) < 0)
		return (-1);
	exe[n] = '\0';
	for (i = 0; i < 3; i++) {
		if ((p = strrchr(exe, '/')) == NULL)
			return (-1);
		*p = '\0';
	}
	fx->plugin_dir = xasprintf("%s/plugins", exe);
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	if (fx->dir[0] != '\0' && getenv("HS_KEEP") == NULL)
		(void)run("rm -rf '%s'", fx->dir);
	free(fx->sigs);
	free(fx->mail);
	free(fx->tmp);
	plugin_temp_dir(NULL);
	free(fx->plugin_dir);
	free(fx);
	return (0);
}

/* Load the plugin, apply NULL-terminated name, value pairs, no init. */
static struct plugin *
load(const struct fixture *fx, const char *first, ...)
{
	struct plugin	*p = NULL;
	char		*error = NULL;
	const char	*name, *value;
	va_list		 ap;

	if (plugin_load(fx->plugin_dir, "clamav", &p, &error) < 0)
		fail_msg("plugin_load: %s", error);
	va_start(ap, first);
	for (name = first; name != NULL; name = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (plugin_set_option(p, name, value, &error) < 0)
			fail_msg("option %s: %s", name, error);
	}
	va_end(ap);
	return (p);
}

static void
init_ok(struct plugin *p)
{
	char	*error = NULL;

	if (plugin_init(p, &error) < 0)
		fail_msg("init: %s", error);
}

/*
 * With database_directory dir and, if name is not NULL, one more option,
 * init must fail with an error that contains want.
 */
static void
init_fails(const struct fixture *fx, const char *dir, const char *name,
    const char *value, const char *want)
{
	struct plugin	*p;
	char		*error = NULL;

	p = load(fx, "database_directory", dir, name, value, NULL);
	assert_int_equal(plugin_init(p, &error), -1);
	assert_non_null(error);
	if (strstr(error, want) == NULL)
		fail_msg("init error \"%s\" lacks \"%s\"", error, want);
	free(error);
	plugin_free(&p);
}

/*
 * As the worker user would (nobody, in a child), init must fail with
 * want (a format with one %s: the directory). Only when run as root.
 */
static void
init_fails_as_nobody(const struct fixture *fx, const char *dir,
    const char *want)
{
	struct plugin	*p = NULL;
	char		*error = NULL, expected[1024];
	int		 status, ok;
	pid_t		 pid;

	if (geteuid() != 0)
		return;		/* cannot become nobody: not checked */
	(void)snprintf(expected, sizeof(expected), want, dir);
	if ((pid = fork()) == 0) {
		gid_t	 gid = 65534;

		/* Loaded first: nobody may not reach the checkout's build. */
		if (plugin_load(fx->plugin_dir, "clamav", &p, &error) < 0)
			_exit(4);
		if (setgroups(1, &gid) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(3);
		if (plugin_set_option(p, "database_directory", dir, &error) < 0)
			_exit(4);
		ok = plugin_init(p, &error) < 0 &&
		    strstr(error, expected) != NULL;
		if (!ok)
			(void)fprintf(stderr, "init error \"%s\" lacks "
			    "\"%s\"\n", error ? error : "(none)", expected);
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE	*fp;
	char	*data;
	long	 len;

	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	assert_true(len >= 0);
	rewind(fp);
	data = xmalloc((size_t)len + 1);
	assert_int_equal(fread(data, 1, (size_t)len, fp), (size_t)len);
	(void)fclose(fp);
	data[len] = '\0';
	*len_r = (size_t)len;
	return (data);
}

/* Scan test message NAME; returns the hook's return value, fills res. */
static int
scan_named(const struct fixture *fx, struct plugin *p, const char *name,
    struct hs_result *res)
{
	struct hs_msg	 msg;
	const char	*rcpts[] = { "rcpt@example.net" };
	const char	*sep;
	char		*path, *data;
	size_t		 len;
	int		 r;

	path = xasprintf("%s/%s.eml", fx->mail, name);
	data = slurp(path, &len);
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = "4XyZ1abcdE";
	msg.sender = "sender@example.org";
	msg.recipients = rcpts;
	msg.nrecipients = 1;
	msg.data = data;
	msg.len = len;
	sep = strstr(data, "\n\n");
	msg.header_len = sep ? (size_t)(sep - data) + 2 : len;
	memset(res, 0, sizeof(*res));
	r = p->desc->scan(p->ctx, &msg, res);
	free(data);
	free(path);
	return (r);
}

static void
expect(const struct fixture *fx, struct plugin *p, const char *name,
    enum hs_verdict v, const char *reason)
{
	struct hs_result res;
	int		 r;

	r = scan_named(fx, p, name, &res);
	if (r != 0)
		fail_msg("%s: scan returned %d (%s)", name, r, res.reason);
	if (res.verdict != v)
		fail_msg("%s: verdict %d, want %d (reason \"%s\")", name,
		    res.verdict, v, res.reason);
	if (reason != NULL && strstr(res.reason, reason) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", name, res.reason,
		    reason);
	if (reason == NULL && res.reason[0] != '\0')
		fail_msg("%s: unexpected reason \"%s\"", name, res.reason);
}

static void
expect_part(struct plugin *p, const char *file, const char *filename,
    enum hs_verdict v, const char *reason)
{
	struct hs_result res;
	struct hs_part	 part;
	struct hs_msg	 msg;
	char		*data;
	size_t		 len;

	data = slurp(file, &len);
	memset(&msg, 0, sizeof(msg));
	memset(&part, 0, sizeof(part));
	memset(&res, 0, sizeof(res));
	part.filename = filename;
	part.content_type = "application/octet-stream";
	part.data = (const unsigned char *)data;
	part.len = len;
	assert_int_equal(p->desc->scan_part(p->ctx, &msg, &part, &res), 0);
	free(data);
	if (res.verdict != v)
		fail_msg("part %s: verdict %d, want %d (%s)", file, res.verdict,
		    v, res.reason);
	if (reason != NULL && strstr(res.reason, reason) == NULL)
		fail_msg("part %s: reason \"%s\" lacks \"%s\"", file,
		    res.reason, reason);
}

static void
test_descriptor_and_options(void **state)
{
	const struct fixture *fx = *state;
	struct plugin	*p;
	char		*error = NULL;

	p = load(fx, NULL);
	assert_string_equal(p->desc->name, "clamav");
	assert_non_null(p->desc->reload);
	assert_non_null(p->desc->scan_part);
	assert_non_null(p->desc->info);
	assert_non_null(p->desc->fini);
	/* The host checks types with the table: a bad size is refused. */
	assert_int_equal(plugin_set_option(p, "max_file_size", "lots", &error),
	    -1);
	assert_non_null(strstr(error, "max_file_size"));
	free(error);
	error = NULL;
	assert_int_equal(plugin_set_option(p, "database_directory", "relative",
	    &error), -1);
	free(error);
	error = NULL;
	assert_int_equal(plugin_set_option(p, "nonsense", "1", &error), -1);
	assert_non_null(strstr(error, "on_limit"));	/* lists what exists */
	free(error);
	plugin_free(&p);
}

/* etc/holdscan.conf shows every option with its default, in its example. */
static void
test_example_config_documents_every_option(void **state)
{
	const struct fixture *fx = *state;
	const struct hs_plugin_option *o;
	struct plugin	*p;
	char		*text, *section, *end, line[256];
	size_t		 len;

	p = load(fx, NULL);
	text = slurp(HS_SRCDIR "/etc/holdscan.conf", &len);
	section = strstr(text, "\n#plugin clamav {\n");
	assert_non_null(section);
	end = strstr(section, "\n#}\n");
	assert_non_null(end);
	end[1] = '\0';
	for (o = p->desc->options; o->name != NULL; o++) {
		(void)snprintf(line, sizeof(line), "\n#    %s = %s\n", o->name,
		    o->def[0] != '\0' ? o->def : "\"\"");
		if (strstr(section, line) == NULL)
			fail_msg("etc/holdscan.conf: no \"%s\" in the clamav "
			    "example", line + 1);
	}
	free(text);
	plugin_free(&p);
}

/*
 * libclamav's temporary files: in the host's private directory (the
 * worker's once worker_init ran), never in one others may write.
 */
static void
test_temporary_directory(void **state)
{
	const struct fixture *fx = *state;
	struct plugin	*p;
	struct hs_result r;
	const char	*why = NULL;
	char		*wdir;

	init_fails(fx, fx->sigs, "temporary_directory", "/tmp",
	    "temporary_directory /tmp may be written by others");
	init_fails(fx, fx->sigs, "temporary_directory", "tmp",
	    "must be an absolute path");
	plugin_temp_dir(NULL);
	init_fails(fx, fx->sigs, NULL, NULL, "no private temporary directory");
	plugin_temp_dir(fx->tmp);

	/*
	 * A worker's own: libclamav unpacks there while it scans. Shown by
	 * one that is gone: the scan fails, where the parent's would do.
	 */
	p = load(fx, "database_directory", fx->sigs, NULL);
	init_ok(p);
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	wdir = xasprintf("%s/worker.1", fx->tmp);
	plugin_temp_dir(wdir);
	assert_non_null(p->desc->worker_init);
	assert_int_equal(p->desc->worker_init(p->ctx, &why), 0);
	assert_int_equal(scan_named(fx, p, "eicar-b64", &r), -1);
	assert_int_equal(r.verdict, HS_FAILED);
	assert_non_null(strstr(r.reason, "temporary directory"));
	assert_int_equal(mkdir(wdir, 0700), 0);
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	assert_int_equal(run("test -z \"$(ls -A '%s')\"", wdir), 0);
	plugin_temp_dir(fx->tmp);
	plugin_free(&p);
	assert_int_equal(rmdir(wdir), 0);
	free(wdir);
}

static void
test_verdicts(void **state)
{
	const struct fixture *fx = *state;
	struct plugin	*p;
	char		 info[256], *path;

	p = load(fx, "database_directory", fx->sigs, "cache", "no", NULL);
	init_ok(p);
	/* reload_on_change = yes: the directory is watched */
	assert_int_equal(p->nwatch, 1);
	assert_string_equal(p->watch[0], fx->sigs);

	expect(fx, p, "clean", HS_CLEAN, NULL);
	expect(fx, p, "clean-2k", HS_CLEAN, NULL);
	expect(fx, p, "clean-50k", HS_CLEAN, NULL);
	expect(fx, p, "many-files", HS_CLEAN, NULL);
	expect(fx, p, "reload", HS_CLEAN, NULL);
	expect(fx, p, "eicar-plain", HS_INFECTED, "Holdscan.Test.EICAR");
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	expect(fx, p, "clam-zip", HS_INFECTED, "Holdscan.Test.ClamExe");
	expect(fx, p, "nested-zip", HS_INFECTED, "Holdscan.Test.ClamExe");
	expect(fx, p, "both", HS_INFECTED, "Holdscan.Test.");
	/* Not typed as mail by libclamav: scanned as mail all the same. */
	expect(fx, p, "nohint-eicar", HS_INFECTED, "Holdscan.Test.EICAR");

	/* scan_part: decoded parts, as files */
	expect_part(p, "/usr/share/clamav-testfiles/clam.zip", "clam.zip",
	    HS_INFECTED, "Holdscan.Test.ClamExe");
	expect_part(p, "/usr/share/clamav-testfiles/clam.exe", "clam.exe",
	    HS_INFECTED, "Holdscan.Test.ClamExe");
	expect_part(p, "/usr/share/clamav-testfiles/clam.pdf", NULL,
	    HS_INFECTED, "Holdscan.Test.ClamPdf");
	path = xasprintf("%s/clean-2k.eml", fx->mail);
	expect_part(p, path, "note.txt", HS_CLEAN, NULL);
	free(path);

	p->desc->info(p->ctx, info, sizeof(info));
	if (strstr(info, "libclamav 1.") == NULL ||
	    strstr(info, ", 3 signatures, db 2") == NULL)
		fail_msg("info \"%s\"", info);
	plugin_free(&p);
}

/* Other settings of the options: the same verdicts. */
static void
test_other_options_give_the_same_verdicts(void **state)
{
	const struct fixture *fx = *state;
	static const char *const sets[][7] = {
		{ "cache", "yes", "reload_on_change", "no" },
		{ "heuristic_alerts", "yes", "detect_pua", "yes", "bytecode",
		    "no" },
		{ "parsers", "mail,archive" },
	};
	struct plugin	*p;
	char		*error = NULL;
	size_t		 i, j;
	int		 k;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		p = load(fx, "database_directory", fx->sigs, NULL);
		for (j = 0; sets[i][j] != NULL; j += 2)
			if (plugin_set_option(p, sets[i][j], sets[i][j + 1],
			    &error) < 0)
				fail_msg("set %zu: %s", i, error);
		init_ok(p);
		/* twice: the second time from libclamav's cache, if on */
		for (k = 0; k < 2; k++) {
			expect(fx, p, "clean", HS_CLEAN, NULL);
			expect(fx, p, "many-files", HS_CLEAN, NULL);
			expect(fx, p, "eicar-b64", HS_INFECTED,
			    "Holdscan.Test.EICAR");
			expect(fx, p, "nested-zip", HS_INFECTED,
			    "Holdscan.Test.ClamExe");
		}
		if (i == 0)
			assert_int_equal(p->nwatch, 0);
		plugin_free(&p);
	}
}

/*
 * Limits: options (with database_directory added), a message, the verdict
 * and reason it must get. A row per limit and per on_limit.
 */
static const struct limit_case {
	const char	*opts[7];	/* name, value, ..., NULL */
	const char	*msg;
	enum hs_verdict	 verdict;
	const char	*reason;	/* NULL: none */
} limit_cases[] = {
	/* mail > outer.zip > inner.zip > clam.exe needs depth 3 */
	{ { "max_recursion", "2" }, "nested-zip", HS_FAILED,
	    "Heuristics.Limits.Exceeded.MaxRecursion (not fully scanned)" },
	{ { "max_recursion", "2" }, "clean", HS_CLEAN, NULL },
	{ { "max_recursion", "2" }, "eicar-b64", HS_INFECTED,
	    "Holdscan.Test.EICAR" },
	/* a signature match beats a limit alert in the same message */
	{ { "max_recursion", "2" }, "both", HS_INFECTED,
	    "Holdscan.Test.EICAR" },
	{ { "max_recursion", "2", "on_limit", "infected" }, "nested-zip",
	    HS_INFECTED, "Heuristics.Limits.Exceeded.MaxRecursion" },
	{ { "max_recursion", "2", "on_limit", "clean" }, "nested-zip",
	    HS_CLEAN, "Heuristics.Limits.Exceeded.MaxRecursion (not fully "
	    "scanned)" },
	/* 300 members, 10 allowed */
	{ { "max_files", "10" }, "many-files", HS_FAILED,
	    "Heuristics.Limits.Exceeded.MaxFiles" },
	{ { "max_files", "10" }, "clam-zip", HS_INFECTED,
	    "Holdscan.Test.ClamExe" },
	/* The message itself over max_file_size: not scanned at all. */
	{ { "max_file_size", "1k", "on_limit", "infected" }, "nested-zip",
	    HS_INFECTED, "Heuristics.Limits.Exceeded.MaxFileSize" },
	{ { "max_file_size", "1k", "on_limit", "infected" }, "clean",
	    HS_CLEAN, NULL },
	/* A part over max_file_size inside a message under it. */
	{ { "max_file_size", "20k" }, "clean-50k", HS_FAILED,
	    "Heuristics.Limits.Exceeded.MaxFileSize" },
	{ { "max_scan_size", "10k", "max_file_size", "100k" }, "clean-50k",
	    HS_FAILED, "Heuristics.Limits.Exceeded.MaxScanSize" },
	/* 300 members take well over a millisecond */
	{ { "max_scan_time", "1ms" }, "many-files", HS_FAILED,
	    "Heuristics.Limits.Exceeded.MaxScanTime" },
	/* limit_verdicts: per limit, the first word that matches. */
	{ { "max_recursion", "2", "limit_verdicts", "MaxRecursion=clean" },
	    "nested-zip", HS_CLEAN, "Heuristics.Limits.Exceeded.MaxRecursion "
	    "(not fully scanned)" },
	{ { "max_recursion", "2", "on_limit", "clean", "limit_verdicts",
	    "MaxFiles=clean, Max*=infected" }, "nested-zip", HS_INFECTED,
	    "Heuristics.Limits.Exceeded.MaxRecursion" },
	{ { "max_files", "10", "limit_verdicts", "MaxRecursion=clean" },
	    "many-files", HS_FAILED, "Heuristics.Limits.Exceeded.MaxFiles" },
	/*
	 * The mail parser's own limit (256 parameters), compiled into
	 * libclamav: failed by default; counted clean, the message is
	 * scanned again without the alert, which finds what lies past it.
	 */
	{ { NULL }, "mime-args", HS_FAILED,
	    "Heuristics.Limits.Exceeded.EmailMIMEArguments (not fully "
	    "scanned)" },
	{ { "limit_verdicts", "EmailMIMEArguments=clean" }, "mime-args-clean",
	    HS_CLEAN, "Heuristics.Limits.Exceeded.EmailMIMEArguments (not "
	    "fully scanned)" },
	{ { "limit_verdicts", "Email*=clean" }, "mime-args", HS_INFECTED,
	    "Holdscan.Test.EICAR" },
	{ { "on_limit", "infected", "limit_verdicts", "MaxFiles=clean" },
	    "mime-args-clean", HS_INFECTED,
	    "Heuristics.Limits.Exceeded.EmailMIMEArguments" },
};

static void
test_limits_follow_on_limit(void **state)
{
	const struct fixture *fx = *state;
	const struct limit_case *c;
	struct plugin	*p;
	size_t		 i, j;
	char		*error = NULL;

	for (i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		c = &limit_cases[i];
		p = load(fx, "database_directory", fx->sigs, NULL);
		for (j = 0; c->opts[j] != NULL; j += 2)
			if (plugin_set_option(p, c->opts[j], c->opts[j + 1],
			    &error) < 0)
				fail_msg("row %zu: %s", i, error);
		init_ok(p);
		expect(fx, p, c->msg, c->verdict, c->reason);
		plugin_free(&p);
	}
}

static void
test_init_errors_are_clear(void **state)
{
	const struct fixture *fx = *state;
	char		*dir, *want;

	init_fails(fx, "/nonexistent/clamav", NULL, NULL, "database_directory "
	    "/nonexistent/clamav: No such file or directory");

	dir = xasprintf("%s/empty", fx->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(run("echo hello >%s/README", dir), 0);
	init_fails(fx, dir, NULL, NULL, "no signature databases in ");
	/* A database file with no signature in it */
	assert_int_equal(run("touch %s/empty.ndb", dir), 0);
	init_fails(fx, dir, NULL, NULL, "/empty.ndb: Malformed database");
	free(dir);

	/* One malformed file among good ones: named. */
	dir = xasprintf("%s/bad", fx->dir);
	assert_int_equal(run("cp -r %s %s && python3 "
	    "%s/tests/tools/clamav-testdata.py bad-sig %s", fx->sigs, dir,
	    HS_SRCDIR, dir), 0);
	want = xasprintf("bad database %s/holdscan-bad.ndb: Malformed "
	    "database", dir);
	init_fails(fx, dir, NULL, NULL, want);
	free(want);

	/* Unreadable for the worker user: the directory, then one file. */
	assert_int_equal(run("rm %s/holdscan-bad.ndb && chmod 0700 %s", dir,
	    dir), 0);
	init_fails_as_nobody(fx, dir,
	    "database_directory %s: Permission denied");
	assert_int_equal(run("chmod 0755 %s && chmod 0600 %s/holdscan-test.ndb",
	    dir, dir), 0);
	init_fails_as_nobody(fx, dir, "database %s/holdscan-test.ndb: "
	    "Permission denied");
	free(dir);

	/* Values the option table cannot check. */
	init_fails(fx, fx->sigs, "on_limit", "ignore",
	    "on_limit = \"ignore\": use clean, failed or infected");
	init_fails(fx, fx->sigs, "parsers", "archive pe",
	    "mail must be among them");
	init_fails(fx, fx->sigs, "parsers", "mail zip",
	    "unknown parser \"zip\"");
	init_fails(fx, fx->sigs, "max_recursion", "0", "max_recursion = 0");
	init_fails(fx, fx->sigs, "max_file_size", "4G", "must be below 4G");
	init_fails(fx, fx->sigs, "limit_verdicts", "MaxFiles",
	    "limit_verdicts: \"MaxFiles\": use NAME=VERDICT");
	init_fails(fx, fx->sigs, "limit_verdicts", "MaxFiles=ignore",
	    "use NAME=VERDICT, VERDICT clean, failed or infected");
	init_fails(fx, fx->sigs, "limit_verdicts", "MaxFile=clean",
	    "limit_verdicts: no limit is called \"MaxFile\"");
	init_fails(fx, fx->sigs, "limit_verdicts", "Foo*=clean",
	    "no limit is called \"Foo*\"");
	init_fails(fx, fx->sigs, "max_partitions", "5000000000",
	    "max_partitions = 5000000000: too large");

}

static void
reload_ok(struct plugin *p)
{
	const char	*why = NULL;

	if (p->desc->reload(p->ctx, &why) < 0)
		fail_msg("reload: %s", why ? why : "?");
}

static void
reload_fails(struct plugin *p, const char *want)
{
	const char	*why = NULL;

	assert_int_equal(p->desc->reload(p->ctx, &why), -1);
	assert_non_null(why);
	if (strstr(why, want) == NULL)
		fail_msg("reload error \"%s\" lacks \"%s\"", why, want);
}

static void
test_reload(void **state)
{
	const struct fixture *fx = *state;
	struct plugin	*p;
	char		*dir, *error = NULL, info[256];

	dir = xasprintf("%s/reload", fx->dir);
	assert_int_equal(run("cp -r %s %s", fx->sigs, dir), 0);
	p = load(fx, "database_directory", dir, "cache", "no", NULL);
	init_ok(p);
	expect(fx, p, "reload", HS_CLEAN, NULL);

	/* A new signature: picked up by reload. */
	assert_int_equal(run("python3 %s/tests/tools/clamav-testdata.py "
	    "reload-sig %s", HS_SRCDIR, dir), 0);
	expect(fx, p, "reload", HS_CLEAN, NULL);	/* not before reload */
	reload_ok(p);
	expect(fx, p, "reload", HS_INFECTED, "Holdscan.Test.Reload");
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	p->desc->info(p->ctx, info, sizeof(info));
	assert_non_null(strstr(info, ", 4 signatures"));

	/* A broken database: reload fails, the old engine stays. */
	assert_int_equal(run("python3 %s/tests/tools/clamav-testdata.py "
	    "bad-sig %s", HS_SRCDIR, dir), 0);
	reload_fails(p, "holdscan-bad.ndb: Malformed database");
	expect(fx, p, "reload", HS_INFECTED, "Holdscan.Test.Reload");
	expect(fx, p, "nested-zip", HS_INFECTED, "Holdscan.Test.ClamExe");
	expect(fx, p, "clean", HS_CLEAN, NULL);
	p->desc->info(p->ctx, info, sizeof(info));
	assert_non_null(strstr(info, ", 4 signatures"));

	/* Fixed: the next reload works again. */
	assert_int_equal(run("rm %s/holdscan-bad.ndb %s/holdscan-reload.ndb",
	    dir, dir), 0);
	reload_ok(p);
	expect(fx, p, "reload", HS_CLEAN, NULL);

	/* Options are re-read on reload; a bad one keeps everything. */
	assert_int_equal(plugin_set_option(p, "on_limit", "sometimes", &error),
	    0);
	reload_fails(p, "on_limit = \"sometimes\"");
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	assert_int_equal(plugin_set_option(p, "on_limit", "infected", &error),
	    0);
	assert_int_equal(plugin_set_option(p, "max_recursion", "2", &error), 0);
	reload_ok(p);
	expect(fx, p, "nested-zip", HS_INFECTED,
	    "Heuristics.Limits.Exceeded.MaxRecursion");

	/* The directory gone: reload fails, the engine stays. */
	assert_int_equal(run("rm -r %s", dir), 0);
	reload_fails(p, "No such file or directory");
	expect(fx, p, "eicar-b64", HS_INFECTED, "Holdscan.Test.EICAR");
	plugin_free(&p);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor_and_options),
		cmocka_unit_test(test_example_config_documents_every_option),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_temporary_directory),
		cmocka_unit_test(test_other_options_give_the_same_verdicts),
		cmocka_unit_test(test_limits_follow_on_limit),
		cmocka_unit_test(test_init_errors_are_clear),
		cmocka_unit_test(test_reload),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
