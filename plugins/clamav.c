/*
 * NAME
 *	clamav - scanner plugin: libclamav in process, engine shared by workers
 * DESCRIPTION
 *	init (scanner parent, before any worker exists) reads the options,
 *	loads every signature database in database_directory into a new
 *	libclamav engine with the configured limits and compiles it. The
 *	workers are forked afterwards and share the compiled engine
 *	copy-on-write: nothing here is done per worker.
 *
 *	scan gets the message as RFC 822 text in memory and hands it to
 *	libclamav as a memory map (cl_fmap_open_memory + cl_scanmap_callback)
 *	with mail parsing on, so MIME parts are transfer-decoded and
 *	archives unpacked down to max_recursion. libclamav recognises mail
 *	by its first header; a message that does not begin with one it knows
 *	(Postfix always puts its Received: first, so only odd local
 *	submissions) is shown to it behind a one-line "Received:" header, read
 *	through cl_fmap_open_handle, still without copying the message.
 *	scan_part scans one decoded MIME part the same way, as a file.
 *
 *	Verdicts: a signature match is HS_INFECTED with the signature name
 *	as reason. An exceeded limit (libclamav's Heuristics.Limits.Exceeded
 *	alerts, which this plugin always turns on, or a message larger than
 *	max_file_size) means that part of the message was not scanned; what
 *	that counts as is on_limit: "failed" by default, so that the policy
 *	for unscanned mail decides (nesting or padding past a limit is a
 *	known way to smuggle malware past a scanner that calls it clean,
 *	and calling it infected would throw away big legitimate archives).
 *	limit_verdicts names exceptions, one limit at a time (the name after
 *	Heuristics.Limits.Exceeded.: MaxFileSize=clean, Email*=failed, ...),
 *	for the engine limits set here and for the mail parser's own, which
 *	libclamav 1.4 compiles in (EmailMIMEArguments: 256 parameters in one
 *	header line; EmailHeaders, EmailMIMEPartsPerMessage: 1024;
 *	EmailHeaderBytes: 256 kB; EmailLineFoldCnt) and which no option can
 *	raise. A real signature match elsewhere in the message still wins
 *	over a limit alert. Any other libclamav error makes scan return -1
 *	with the error as reason (HS_FAILED). The limits libclamav does not
 *	report when exceeded (max_embedded_pe, max_html_normalize, ...) only
 *	bound how much of such content is normalized and scanned.
 *
 *	reload (scanner parent; SIGHUP, or a change in database_directory
 *	when reload_on_change is set) re-reads the options and builds and
 *	compiles a complete new engine; only when that has fully succeeded
 *	is it swapped in and the old one freed. On failure the old engine
 *	and options stay and the reason is returned. Workers forked later
 *	get the new engine; running workers keep their copy of the old one.
 *
 *	libclamav's own messages are dropped (its message callback is
 *	process-wide and gets no context, and they would otherwise go to a
 *	stderr that is /dev/null for the daemon); this plugin reports errors
 *	itself and, when loading fails, loads the databases one by one to
 *	name the file at fault.
 *
 *	libclamav writes decoded parts and unpacked archive members to
 *	temporary files. They go to the host's private temporary directory
 *	(hs_host.temp_directory: 0700, the worker user's, one per worker,
 *	emptied by the scanner parent when the worker ends, killed or not),
 *	never to a directory other users share, where anyone could fill the
 *	file system so that scans fail, or read what a killed worker left:
 *	init builds the engine with the scanner parent's, and worker_init
 *	points the engine's copy in each worker at the worker's own (one
 *	string, not engine work). temporary_directory, when set, names a
 *	directory to use instead; one that others may write is refused.
 *
 *	This plugin must never write the message to a file (libclamav keeps
 *	its own temporary files, see above, and removes them), never do
 *	per-worker engine work beyond naming the worker's temporary
 *	directory, never let a failed
 *	reload replace a working engine, and never report a message clean
 *	that it did not scan, unless on_limit = clean says so. Its only
 *	static state is the text of the last failed init (the ABI wants it to
 *	outlive the failed call, when no context exists).
 * DIAGNOSTICS
 *	init and reload failures name the directory or database file and
 *	libclamav's reason; a successful load logs the signature count and
 *	the time it took.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <clamav.h>

#include "holdscan/plugin.h"

#define LIMIT_PREFIX	"Heuristics.Limits.Exceeded."
/* What to do without signatures, online or not (doc/quickstart.md). */
#define NO_SIGS_FIX	"run freshclam; offline, put signature files " \
	"there: a .hdb made with sigtool --md5 FILE or a hand-written .ndb, " \
	"main/daily/bytecode .cvd copied from a host that has them, or " \
	"freshclam from a private mirror (PrivateMirror); see \"Signatures " \
	"offline\" in the quick start; holdscand starts once they load"

/* Put before a message whose first line libclamav does not take for mail. */
static const char mail_hint[] =
    "Received: by holdscan (libclamav mail type hint)\n";

enum on_limit {
	ON_LIMIT_CLEAN,
	ON_LIMIT_FAILED,
	ON_LIMIT_INFECTED,
};

/* The limits libclamav reports (Heuristics.Limits.Exceeded.NAME). */
static const char *const limit_names[] = {
	"MaxScanSize", "MaxFileSize", "MaxRecursion", "MaxFiles", "MaxScanTime",
	"EmailHeaders", "EmailHeaderBytes", "EmailLineFoldCnt",
	"EmailMIMEArguments", "EmailMIMEPartsPerMessage",
};
#define NLIMITS		(sizeof(limit_names) / sizeof(limit_names[0]))

/* One exception to on_limit: a limit name, or a prefix ending in '*'. */
struct limit_rule {
	char		 name[48];
	enum on_limit	 verdict;
};
#define LIMIT_RULES_MAX	16

/* The engine's other size and count limits (CL_ENGINE_*), as options. */
static const struct {
	const char	*option;
	enum cl_engine_field field;
	bool		 size;		/* uint64_t bytes, else uint32_t count */
} more_limits[] = {
	{ "max_embedded_pe", CL_ENGINE_MAX_EMBEDDEDPE, true },
	{ "max_html_normalize", CL_ENGINE_MAX_HTMLNORMALIZE, true },
	{ "max_html_notags", CL_ENGINE_MAX_HTMLNOTAGS, true },
	{ "max_script_normalize", CL_ENGINE_MAX_SCRIPTNORMALIZE, true },
	{ "max_zip_type_rcg", CL_ENGINE_MAX_ZIPTYPERCG, true },
	{ "max_partitions", CL_ENGINE_MAX_PARTITIONS, false },
	{ "max_icons_pe", CL_ENGINE_MAX_ICONSPE, false },
	{ "max_rec_hwp3", CL_ENGINE_MAX_RECHWP3, false },
};
#define NMORE		(sizeof(more_limits) / sizeof(more_limits[0]))

/* The options, checked; strings owned. */
struct settings {
	char		*dbdir;
	char		*tmpdir;
	bool		 host_tmpdir;		/* tmpdir is the host's */
	uint64_t	 max_scan_size;
	uint64_t	 max_file_size;
	uint32_t	 max_recursion;
	uint32_t	 max_files;
	uint32_t	 max_scan_time;		/* ms */
	uint64_t	 more[NMORE];		/* more_limits[i] */
	enum on_limit	 on_limit;
	struct limit_rule rules[LIMIT_RULES_MAX];	/* limit_verdicts */
	size_t		 nrules;
	bool		 cache;
	bool		 heuristic_alerts;
	bool		 detect_pua;
	bool		 bytecode;
	bool		 reload_on_change;
	uint32_t	 parse;			/* CL_SCAN_PARSE_* */
};

/* One compiled engine and what it was built from. */
struct engine {
	struct cl_engine *cl;
	unsigned int	 sigs;
	unsigned int	 dbversion;	/* of official databases, or 0 */
	time_t		 dbtime;	/* of official databases, or 0 */
	time_t		 newest;	/* newest database file */
	long		 load_ms;
};

struct clamav {
	const struct hs_host *host;
	struct settings	 set;
	struct engine	 eng;
	char		 error[1024];	/* the last reload's failure */
};

static const struct hs_plugin_option clamav_options[] = {
	{ "database_directory", HS_OPT_PATH, "/var/lib/clamav",
	    "signature databases (freshclam's directory, or your own)" },
	{ "max_scan_size", HS_OPT_SIZE, "100M",
	    "at most this much data is scanned per message, all parts "
	    "together" },
	{ "max_file_size", HS_OPT_SIZE, "25M",
	    "the message, or a part or archive member, larger than this is "
	    "not scanned" },
	{ "max_recursion", HS_OPT_INT, "17",
	    "how deep nested parts and archives are unpacked" },
	{ "max_files", HS_OPT_INT, "10000",
	    "at most this many parts and archive members per message" },
	{ "max_scan_time", HS_OPT_TIME, "30s",
	    "libclamav gives up on a message after this (keep it below "
	    "scan_time_limit)" },
	{ "on_limit", HS_OPT_STR, "failed",
	    "an exceeded limit counts as: clean, failed or infected" },
	{ "limit_verdicts", HS_OPT_LIST, "",
	    "exceptions to on_limit, per limit: NAME=VERDICT words "
	    "(MaxFileSize=clean, Email*=infected)" },
	{ "max_embedded_pe", HS_OPT_SIZE, "40M",
	    "executables embedded in other files larger than this are not "
	    "scanned" },
	{ "max_html_normalize", HS_OPT_SIZE, "40M",
	    "at most this much of an HTML part is normalized" },
	{ "max_html_notags", HS_OPT_SIZE, "8M",
	    "at most this much of an HTML part is scanned as text without "
	    "tags" },
	{ "max_script_normalize", HS_OPT_SIZE, "20M",
	    "at most this much of a script is normalized" },
	{ "max_zip_type_rcg", HS_OPT_SIZE, "1M",
	    "zip members larger than this are not type-recognised" },
	{ "max_partitions", HS_OPT_INT, "50",
	    "at most this many partitions of a disk image are scanned" },
	{ "max_icons_pe", HS_OPT_INT, "100",
	    "at most this many icons of an executable are scanned" },
	{ "max_rec_hwp3", HS_OPT_INT, "16",
	    "how deep HWP3 documents are followed" },
	{ "cache", HS_OPT_BOOL, "yes",
	    "libclamav's cache of content already found clean" },
	{ "reload_on_change", HS_OPT_BOOL, "yes",
	    "reload when database_directory changes" },
	{ "heuristic_alerts", HS_OPT_BOOL, "no",
	    "libclamav's heuristic detections (Heuristics.*)" },
	{ "detect_pua", HS_OPT_BOOL, "no",
	    "load the potentially-unwanted-application signatures (PUA.*)" },
	{ "bytecode", HS_OPT_BOOL, "yes",
	    "run the (signed) bytecode signatures" },
	{ "parsers", HS_OPT_LIST, "all",
	    "content parsers: all, or mail plus any of archive, pe, elf, ole2, "
	    "pdf, html, xmldocs, swf, hwp3, onenote, image" },
	{ "temporary_directory", HS_OPT_STR, "",
	    "where libclamav unpacks parts while scanning; empty: the "
	    "scanner's private directory, one per worker" },
	{ NULL, 0, NULL, NULL },
};

static const struct {
	const char	*name;
	uint32_t	 flags;
} parsers[] = {
	{ "mail", CL_SCAN_PARSE_MAIL },
	{ "archive", CL_SCAN_PARSE_ARCHIVE },
	{ "pe", CL_SCAN_PARSE_PE },
	{ "elf", CL_SCAN_PARSE_ELF },
	{ "ole2", CL_SCAN_PARSE_OLE2 },
	{ "pdf", CL_SCAN_PARSE_PDF },
	{ "html", CL_SCAN_PARSE_HTML },
	{ "xmldocs", CL_SCAN_PARSE_XMLDOCS },
	{ "swf", CL_SCAN_PARSE_SWF },
	{ "hwp3", CL_SCAN_PARSE_HWP3 },
	{ "onenote", CL_SCAN_PARSE_ONENOTE },
	{ "image", CL_SCAN_PARSE_IMAGE | CL_SCAN_PARSE_IMAGE_FUZZY_HASH },
};
#define NPARSERS	(sizeof(parsers) / sizeof(parsers[0]))

/* Database file name endings libclamav loads from a directory. */
static const char *const db_exts[] = {
	".cvd", ".cld", ".cud", ".db", ".hdb", ".hdu", ".hsb", ".hsu", ".mdb",
	".mdu", ".msb", ".msu", ".ndb", ".ndu", ".ldb", ".ldu", ".sdb", ".zmd",
	".rmd", ".pdb", ".gdb", ".wdb", ".cbc", ".ftm", ".cfg", ".cdb", ".cat",
	".crb", ".idb", ".ioc", ".yar", ".yara", ".pwdb", ".ign", ".ign2",
	".imp", ".info", ".sfp", ".fp",
};

/* First header lines libclamav's file typing takes for mail (0:0 magic). */
static const char *const mail_magic[] = {
	"Received: ", "Return-Path: ", "Return-path: ", "From: ", "From ",
	"Date: ", "Subject: ", "To: ", "Message-ID: ", "Message-Id: ",
	"Delivered-To: ",
};

static void
discard_message(enum cl_msg severity, const char *fullmsg, const char *msg,
    void *context)
{
	(void)severity;
	(void)fullmsg;
	(void)msg;
	(void)context;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	 t1;

	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0->tv_sec) * 1000L +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000L);
}

static void
settings_clear(struct settings *s)
{
	free(s->dbdir);
	free(s->tmpdir);
	memset(s, 0, sizeof(*s));
}

static int
parse_parsers(const char *text, uint32_t *flags_r, char *err, size_t errsize)
{
	char		*copy, *word, *save = NULL;
	uint32_t	 flags = 0;
	size_t		 i;
	int		 rc = 0;

	if ((copy = strdup(text)) == NULL) {
		(void)snprintf(err, errsize, "parsers: out of memory");
		return (-1);
	}
	for (word = strtok_r(copy, ", \t", &save); word != NULL;
	    word = strtok_r(NULL, ", \t", &save)) {
		if (strcmp(word, "all") == 0) {
			for (i = 0; i < NPARSERS; i++)
				flags |= parsers[i].flags;
			continue;
		}
		for (i = 0; i < NPARSERS; i++)
			if (strcmp(word, parsers[i].name) == 0)
				break;
		if (i == NPARSERS) {
			(void)snprintf(err, errsize, "parsers: unknown parser "
			    "\"%s\" (use all, or mail plus any of archive, "
			    "pe, elf, ole2, pdf, html, xmldocs, swf, hwp3, "
			    "onenote, image)", word);
			rc = -1;
			break;
		}
		flags |= parsers[i].flags;
	}
	free(copy);
	if (rc == 0 && !(flags & CL_SCAN_PARSE_MAIL)) {
		(void)snprintf(err, errsize, "parsers = \"%s\": mail must be "
		    "among them, or attachments are never decoded", text);
		rc = -1;
	}
	*flags_r = flags;
	return (rc);
}

static int
verdict_word(const char *w, enum on_limit *v_r)
{
	if (strcmp(w, "clean") == 0)
		*v_r = ON_LIMIT_CLEAN;
	else if (strcmp(w, "failed") == 0)
		*v_r = ON_LIMIT_FAILED;
	else if (strcmp(w, "infected") == 0)
		*v_r = ON_LIMIT_INFECTED;
	else
		return (-1);
	return (0);
}

/* Does rule name (a limit, or a prefix and '*') cover limit? */
static bool
rule_matches(const char *rule, const char *limit)
{
	size_t	 n = strlen(rule);

	if (n > 0 && rule[n - 1] == '*')
		return (strncmp(rule, limit, n - 1) == 0);
	return (strcmp(rule, limit) == 0);
}

/* limit_verdicts: "NAME=VERDICT" words, each NAME a limit or a prefix*. */
static int
parse_limit_verdicts(const char *text, struct settings *s, char *err,
    size_t errsize)
{
	char		*copy, *w, *save = NULL, *eq;
	size_t		 i;
	int		 rc = 0;

	if ((copy = strdup(text)) == NULL) {
		(void)snprintf(err, errsize, "limit_verdicts: out of memory");
		return (-1);
	}
	for (w = strtok_r(copy, ", \t", &save); w != NULL;
	    w = strtok_r(NULL, ", \t", &save)) {
		struct limit_rule *r;

		if (s->nrules == LIMIT_RULES_MAX) {
			(void)snprintf(err, errsize, "limit_verdicts: more than "
			    "%d words", LIMIT_RULES_MAX);
			rc = -1;
			break;
		}
		r = &s->rules[s->nrules];
		if ((eq = strchr(w, '=')) == NULL || eq == w ||
		    (size_t)(eq - w) >= sizeof(r->name) ||
		    verdict_word(eq + 1, &r->verdict) < 0) {
			(void)snprintf(err, errsize, "limit_verdicts: \"%s\": "
			    "use NAME=VERDICT, VERDICT clean, failed or "
			    "infected", w);
			rc = -1;
			break;
		}
		*eq = '\0';
		(void)snprintf(r->name, sizeof(r->name), "%s", w);
		for (i = 0; i < NLIMITS; i++)
			if (rule_matches(r->name, limit_names[i]))
				break;
		if (i == NLIMITS) {
			(void)snprintf(err, errsize, "limit_verdicts: no limit "
			    "is called \"%s\" (use MaxScanSize, MaxFileSize, "
			    "MaxRecursion, MaxFiles, MaxScanTime, EmailHeaders, "
			    "EmailHeaderBytes, EmailLineFoldCnt, "
			    "EmailMIMEArguments, EmailMIMEPartsPerMessage, or "
			    "a prefix and *)", r->name);
			rc = -1;
			break;
		}
		s->nrules++;
	}
	free(copy);
	return (rc);
}

/* The host's temporary directory, or NULL. */
static const char *
host_tmpdir(const struct hs_host *host)
{
	if (!HS_HOST_HAS(host, temp_directory) || host->temp_directory == NULL)
		return (NULL);
	return (host->temp_directory(host->host_ctx));
}

/*
 * temporary_directory, or the host's private directory when it is not
 * set. One others may write is refused: they could fill it, so that
 * scans fail, and read or replace what libclamav unpacks there.
 */
static int
tmpdir_read(const struct hs_host *host, struct settings *s, char *err,
    size_t errsize)
{
	const char	*dir = host->opt_str(host->host_ctx,
			    "temporary_directory");
	struct stat	 st;

	if (dir[0] == '\0') {
		if ((dir = host_tmpdir(host)) == NULL) {
			(void)snprintf(err, errsize, "the scanner has no private "
			    "temporary directory to offer; set "
			    "temporary_directory");
			return (-1);
		}
		s->host_tmpdir = true;
	} else if (dir[0] != '/') {
		(void)snprintf(err, errsize, "temporary_directory = \"%s\": "
		    "must be an absolute path", dir);
		return (-1);
	} else if (stat(dir, &st) < 0) {
		(void)snprintf(err, errsize, "temporary_directory %s: %s", dir,
		    strerror(errno));
		return (-1);
	} else if (!S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		(void)snprintf(err, errsize, "temporary_directory %s may be "
		    "written by others (mode %04o): anyone could fill it so "
		    "that scans fail, or read what is unpacked there; leave "
		    "temporary_directory unset to use the scanner's private "
		    "directory", dir, (unsigned)(st.st_mode & 07777));
		return (-1);
	}
	if ((s->tmpdir = strdup(dir)) == NULL) {
		(void)snprintf(err, errsize, "out of memory");
		return (-1);
	}
	return (0);
}

/* Read and check the options the host holds now. */
static int
settings_read(const struct hs_host *host, struct settings *s, char *err,
    size_t errsize)
{
	void		*h = host->host_ctx;
	const char	*onl;
	size_t		 i;
	long		 n;

	memset(s, 0, sizeof(*s));
	if ((s->dbdir = strdup(host->opt_str(h, "database_directory"))) ==
	    NULL) {
		(void)snprintf(err, errsize, "out of memory");
		goto fail;
	}
	if (tmpdir_read(host, s, err, errsize) < 0)
		goto fail;
	s->max_scan_size = (uint64_t)host->opt_num(h, "max_scan_size");
	s->max_file_size = (uint64_t)host->opt_num(h, "max_file_size");
	if (s->max_scan_size > UINT32_MAX || s->max_file_size > UINT32_MAX) {
		(void)snprintf(err, errsize, "max_scan_size and max_file_size "
		    "must be below 4G (libclamav cannot scan more)");
		goto fail;
	}
	n = host->opt_num(h, "max_recursion");
	if (n < 1 || n > 255) {
		(void)snprintf(err, errsize, "max_recursion = %ld: use 1 to "
		    "255", n);
		goto fail;
	}
	s->max_recursion = (uint32_t)n;
	n = host->opt_num(h, "max_files");
	if (n > (long)UINT32_MAX) {
		(void)snprintf(err, errsize, "max_files = %ld: too large", n);
		goto fail;
	}
	s->max_files = (uint32_t)n;
	n = host->opt_num(h, "max_scan_time");
	if (n > (long)UINT32_MAX) {
		(void)snprintf(err, errsize, "max_scan_time: too long");
		goto fail;
	}
	s->max_scan_time = (uint32_t)n;
	onl = host->opt_str(h, "on_limit");
	if (verdict_word(onl, &s->on_limit) < 0) {
		(void)snprintf(err, errsize, "on_limit = \"%s\": use clean, "
		    "failed or infected", onl);
		goto fail;
	}
	if (parse_limit_verdicts(host->opt_str(h, "limit_verdicts"), s, err,
	    errsize) < 0)
		goto fail;
	for (i = 0; i < NMORE; i++) {
		n = host->opt_num(h, more_limits[i].option);
		if (!more_limits[i].size && n > (long)UINT32_MAX) {
			(void)snprintf(err, errsize, "%s = %ld: too large",
			    more_limits[i].option, n);
			goto fail;
		}
		s->more[i] = (uint64_t)n;
	}
	s->cache = host->opt_num(h, "cache") != 0;
	s->heuristic_alerts = host->opt_num(h, "heuristic_alerts") != 0;
	s->detect_pua = host->opt_num(h, "detect_pua") != 0;
	s->bytecode = host->opt_num(h, "bytecode") != 0;
	s->reload_on_change = host->opt_num(h, "reload_on_change") != 0;
	if (parse_parsers(host->opt_str(h, "parsers"), &s->parse, err,
	    errsize) < 0)
		goto fail;
	return (0);
fail:
	settings_clear(s);
	return (-1);
}

static bool
is_db_file(const char *name)
{
	size_t	 len = strlen(name), i, el;

	if (name[0] == '.')
		return (false);
	for (i = 0; i < sizeof(db_exts) / sizeof(db_exts[0]); i++) {
		el = strlen(db_exts[i]);
		if (len > el && strcmp(name + len - el, db_exts[i]) == 0)
			return (true);
	}
	return (false);
}

struct dbfile {
	char	*name;
	off_t	 size;
};

static int
dbfile_cmp(const void *a, const void *b)
{
	const struct dbfile *x = a, *y = b;

	return (x->size < y->size ? -1 : x->size > y->size);
}

static void
dbfiles_free(struct dbfile *f, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(f[i].name);
	free(f);
}

/* The database files in dir, smallest first; -1 if dir cannot be read. */
static int
dbfiles_list(const char *dir, struct dbfile **files_r, size_t *n_r,
    time_t *newest_r, char *err, size_t errsize)
{
	struct dbfile	*files = NULL, *more;
	struct dirent	*de;
	struct stat	 st;
	size_t		 n = 0;
	DIR		*d;
	int		 dfd;

	*newest_r = 0;
	if ((d = opendir(dir)) == NULL) {
		(void)snprintf(err, errsize, "database_directory %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	dfd = dirfd(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_db_file(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if ((more = reallocarray(files, n + 1, sizeof(*files))) ==
		    NULL || (more[n].name = strdup(de->d_name)) == NULL) {
			if (more != NULL)
				files = more;
			(void)snprintf(err, errsize, "database_directory %s: "
			    "out of memory", dir);
			(void)closedir(d);
			dbfiles_free(files, n);
			return (-1);
		}
		files = more;
		files[n].size = st.st_size;
		n++;
		if (st.st_mtime > *newest_r)
			*newest_r = st.st_mtime;
	}
	if (errno != 0) {
		(void)snprintf(err, errsize, "database_directory %s: %s", dir,
		    strerror(errno));
		(void)closedir(d);
		dbfiles_free(files, n);
		return (-1);
	}
	(void)closedir(d);
	if (n > 1)
		qsort(files, n, sizeof(*files), dbfile_cmp);
	*files_r = files;
	*n_r = n;
	return (0);
}

static unsigned int
db_options(const struct settings *s)
{
	unsigned int	 o = CL_DB_STDOPT;

	if (!s->bytecode)
		o &= ~(unsigned int)CL_DB_BYTECODE;
	if (s->detect_pua)
		o |= CL_DB_PUA;
	return (o);
}

/*
 * A new engine with the limits applied, nothing loaded. NULL with the
 * reason in err.
 */
static struct cl_engine *
engine_new(const struct settings *s, char *err, size_t errsize)
{
	struct cl_engine *e;
	cl_error_t	 r;
	size_t		 i;

	if ((e = cl_engine_new()) == NULL) {
		(void)snprintf(err, errsize, "cannot create an engine");
		return (NULL);
	}
	if ((r = cl_engine_set_num(e, CL_ENGINE_MAX_SCANSIZE,
	    (long long)s->max_scan_size)) != CL_SUCCESS ||
	    (r = cl_engine_set_num(e, CL_ENGINE_MAX_FILESIZE,
	    (long long)s->max_file_size)) != CL_SUCCESS ||
	    (r = cl_engine_set_num(e, CL_ENGINE_MAX_RECURSION,
	    s->max_recursion)) != CL_SUCCESS ||
	    (r = cl_engine_set_num(e, CL_ENGINE_MAX_FILES,
	    s->max_files)) != CL_SUCCESS ||
	    (r = cl_engine_set_num(e, CL_ENGINE_MAX_SCANTIME,
	    s->max_scan_time)) != CL_SUCCESS ||
	    (r = cl_engine_set_num(e, CL_ENGINE_DISABLE_CACHE,
	    s->cache ? 0 : 1)) != CL_SUCCESS ||
	    (r = cl_engine_set_str(e, CL_ENGINE_TMPDIR,
	    s->tmpdir)) != CL_SUCCESS) {
		(void)snprintf(err, errsize, "setting engine limits: %s",
		    cl_strerror(r));
		(void)cl_engine_free(e);
		return (NULL);
	}
	for (i = 0; i < NMORE; i++) {
		if ((r = cl_engine_set_num(e, more_limits[i].field,
		    (long long)s->more[i])) != CL_SUCCESS) {
			(void)snprintf(err, errsize, "setting %s: %s",
			    more_limits[i].option, cl_strerror(r));
			(void)cl_engine_free(e);
			return (NULL);
		}
	}
	return (e);
}

/*
 * Loading the whole directory failed: load the files one at a time, the
 * smallest first, into scratch engines to find the one at fault.
 */
static void
diagnose_load(const struct settings *s, const struct dbfile *files, size_t n,
    cl_error_t whole, char *err, size_t errsize)
{
	struct cl_engine *e;
	unsigned int	 sigs;
	cl_error_t	 r;
	char		 path[4096];
	size_t		 i;
	int		 fd;

	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", s->dbdir,
		    files[i].name) >= (int)sizeof(path))
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			(void)snprintf(err, errsize, "database %s: %s", path,
			    strerror(errno));
			return;
		}
		(void)close(fd);
		if ((e = engine_new(s, err, errsize)) == NULL)
			return;
		sigs = 0;
		r = cl_load(path, e, &sigs, db_options(s));
		(void)cl_engine_free(e);
		if (r != CL_SUCCESS) {
			(void)snprintf(err, errsize, "bad database %s: %s",
			    path, cl_strerror(r));
			return;
		}
	}
	(void)snprintf(err, errsize, "loading %s: %s", s->dbdir,
	    cl_strerror(whole));
}

/* Load and compile a complete engine; 0, or -1 with the reason in err. */
static int
engine_build(const struct settings *s, struct engine *eng, char *err,
    size_t errsize)
{
	struct dbfile	*files = NULL;
	struct cl_engine *e;
	struct timespec	 t0;
	unsigned int	 sigs = 0;
	size_t		 nfiles = 0;
	cl_error_t	 r;
	time_t		 newest;
	int		 lerr = 0;

	memset(eng, 0, sizeof(*eng));
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	if (dbfiles_list(s->dbdir, &files, &nfiles, &newest, err, errsize) < 0)
		return (-1);
	if (nfiles == 0) {
		(void)snprintf(err, errsize, "no signature databases in %s "
		    "(freshclam's *.cvd/*.cld, or *.ndb, *.hdb, *.ldb ...); "
		    "fix: %s", s->dbdir, NO_SIGS_FIX);
		dbfiles_free(files, nfiles);
		return (-1);
	}
	if ((e = engine_new(s, err, errsize)) == NULL) {
		dbfiles_free(files, nfiles);
		return (-1);
	}
	if ((r = cl_load(s->dbdir, e, &sigs, db_options(s))) != CL_SUCCESS) {
		diagnose_load(s, files, nfiles, r, err, errsize);
		goto fail;
	}
	if (sigs == 0) {
		(void)snprintf(err, errsize, "no signatures found in %s; "
		    "fix: %s", s->dbdir, NO_SIGS_FIX);
		goto fail;
	}
	if ((r = cl_engine_compile(e)) != CL_SUCCESS) {
		(void)snprintf(err, errsize, "compiling the signatures of "
		    "%s: %s", s->dbdir, cl_strerror(r));
		goto fail;
	}
	eng->cl = e;
	eng->sigs = sigs;
	eng->newest = newest;
	eng->dbversion = (unsigned int)cl_engine_get_num(e,
	    CL_ENGINE_DB_VERSION, &lerr);
	if (lerr != 0)
		eng->dbversion = 0;
	eng->dbtime = (time_t)cl_engine_get_num(e, CL_ENGINE_DB_TIME, &lerr);
	if (lerr != 0)
		eng->dbtime = 0;
	eng->load_ms = ms_since(&t0);
	dbfiles_free(files, nfiles);
	return (0);
fail:
	(void)cl_engine_free(e);
	dbfiles_free(files, nfiles);
	return (-1);
}

static void
engine_free(struct engine *eng)
{
	if (eng->cl != NULL)
		(void)cl_engine_free(eng->cl);
	memset(eng, 0, sizeof(*eng));
}

static void
clamav_free(struct clamav *c)
{
	engine_free(&c->eng);
	settings_clear(&c->set);
	free(c);
}

static int
clamav_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	static char	 init_error[1024];	/* outlives the failed call */
	struct clamav	*c;
	cl_error_t	 r;

	*ctx_r = NULL;
	cl_set_clcb_msg(discard_message);
	if ((r = cl_init(CL_INIT_DEFAULT)) != CL_SUCCESS) {
		(void)snprintf(init_error, sizeof(init_error),
		    "libclamav initialisation failed: %s", cl_strerror(r));
		*error_r = init_error;
		return (-1);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	c->host = host;
	if (settings_read(host, &c->set, c->error, sizeof(c->error)) < 0 ||
	    engine_build(&c->set, &c->eng, c->error, sizeof(c->error)) < 0)
		goto fail;
	if (c->set.reload_on_change &&
	    host->watch_path(host->host_ctx, c->set.dbdir) < 0) {
		(void)snprintf(c->error, sizeof(c->error), "cannot watch %s",
		    c->set.dbdir);
		goto fail;
	}
	host->log(host->host_ctx, 0, "loaded %u signatures from %s in %ld ms",
	    c->eng.sigs, c->set.dbdir, c->eng.load_ms);
	*ctx_r = c;
	return (0);
fail:
	(void)snprintf(init_error, sizeof(init_error), "%s", c->error);
	*error_r = init_error;
	clamav_free(c);
	return (-1);
}

static int
clamav_reload(void *ctx, const char **error_r)
{
	struct clamav	*c = ctx;
	struct settings	 set;
	struct engine	 eng;

	if (settings_read(c->host, &set, c->error, sizeof(c->error)) < 0) {
		*error_r = c->error;
		return (-1);
	}
	if (engine_build(&set, &eng, c->error, sizeof(c->error)) < 0) {
		settings_clear(&set);
		*error_r = c->error;
		return (-1);
	}
	if (strcmp(set.dbdir, c->set.dbdir) != 0 && set.reload_on_change)
		c->host->log(c->host->host_ctx, 1, "database_directory is now "
		    "%s; it is watched for changes after a restart", set.dbdir);
	engine_free(&c->eng);
	settings_clear(&c->set);
	c->eng = eng;
	c->set = set;
	c->host->log(c->host->host_ctx, 0, "reloaded %u signatures from %s in "
	    "%ld ms", c->eng.sigs, c->set.dbdir, c->eng.load_ms);
	return (0);
}

/*
 * A worker: the engine's copy here unpacks into the worker's own
 * temporary directory, which the scanner parent empties after it.
 */
static int
clamav_worker_init(void *ctx, const char **error_r)
{
	struct clamav	*c = ctx;
	const char	*dir;
	cl_error_t	 r;

	if (!c->set.host_tmpdir || c->eng.cl == NULL)
		return (0);
	if ((dir = host_tmpdir(c->host)) == NULL) {
		*error_r = "the worker has no private temporary directory";
		return (-1);
	}
	if ((r = cl_engine_set_str(c->eng.cl, CL_ENGINE_TMPDIR, dir)) !=
	    CL_SUCCESS) {
		(void)snprintf(c->error, sizeof(c->error), "temporary directory "
		    "%s: %s", dir, cl_strerror(r));
		*error_r = c->error;
		return (-1);
	}
	return (0);
}

static void
scan_options(const struct settings *s, struct cl_scan_options *o)
{
	memset(o, 0, sizeof(*o));
	o->parse = s->parse;
	/* Always told about exceeded limits: on_limit says what they mean. */
	o->heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
	if (s->heuristic_alerts)
		o->general |= CL_SCAN_GENERAL_HEURISTICS;
}

static void
set_reason(struct hs_result *res, const char *fmt, const char *name)
{
	(void)snprintf(res->reason, sizeof(res->reason), fmt, name);
}

/* An exceeded limit (name: which), as on_limit says. */
static int
limit_result(const struct clamav *c, const char *name, struct hs_result *res)
{
	const char	*limit = name;
	enum on_limit	 v = c->set.on_limit;
	size_t		 i;

	if (strncmp(limit, LIMIT_PREFIX, sizeof(LIMIT_PREFIX) - 1) == 0)
		limit += sizeof(LIMIT_PREFIX) - 1;
	for (i = 0; i < c->set.nrules; i++) {
		if (rule_matches(c->set.rules[i].name, limit)) {
			v = c->set.rules[i].verdict;
			break;
		}
	}
	switch (v) {
	case ON_LIMIT_CLEAN:
		res->verdict = HS_CLEAN;
		set_reason(res, "%s (not fully scanned)", name);
		break;
	case ON_LIMIT_INFECTED:
		res->verdict = HS_INFECTED;
		set_reason(res, "%s", name);
		break;
	case ON_LIMIT_FAILED:
	default:
		res->verdict = HS_FAILED;
		set_reason(res, "%s (not fully scanned)", name);
		break;
	}
	return (0);
}

static int
map_result(const struct clamav *c, cl_error_t r, const char *virname,
    struct hs_result *res)
{
	switch (r) {
	case CL_CLEAN:
		res->verdict = HS_CLEAN;
		return (0);
	case CL_VIRUS:
		/* The top-level size alert has no name without a callback. */
		if (virname == NULL)
			return (limit_result(c, LIMIT_PREFIX "MaxFileSize",
			    res));
		if (strncmp(virname, LIMIT_PREFIX,
		    sizeof(LIMIT_PREFIX) - 1) == 0)
			return (limit_result(c, virname, res));
		res->verdict = HS_INFECTED;
		set_reason(res, "%s", virname);
		return (0);
	case CL_ETIMEOUT:
		return (limit_result(c, LIMIT_PREFIX "MaxScanTime", res));
	case CL_EMAXREC:
		return (limit_result(c, LIMIT_PREFIX "MaxRecursion", res));
	case CL_EMAXSIZE:
		return (limit_result(c, LIMIT_PREFIX "MaxScanSize", res));
	case CL_EMAXFILES:
		return (limit_result(c, LIMIT_PREFIX "MaxFiles", res));
	default:
		res->verdict = HS_FAILED;
		set_reason(res, "libclamav: %s", cl_strerror(r));
		return (-1);
	}
}

/* The message behind mail_hint, served to libclamav without a copy. */
struct hinted {
	const char	*data;
	size_t		 len;
};

static off_t
hinted_pread(void *handle, void *buf, size_t count, off_t offset)
{
	const struct hinted *h = handle;
	size_t		 hl = sizeof(mail_hint) - 1, off, done = 0, n;

	if (offset < 0)
		return (-1);
	off = (size_t)offset;
	if (off < hl) {
		n = hl - off < count ? hl - off : count;
		memcpy(buf, mail_hint + off, n);
		done = n;
		off += n;
	}
	if (done < count && off >= hl && off - hl < h->len) {
		n = h->len - (off - hl);
		if (n > count - done)
			n = count - done;
		memcpy((char *)buf + done, h->data + (off - hl), n);
		done += n;
	}
	return ((off_t)done);
}

static bool
looks_like_mail(const char *data, size_t len)
{
	size_t	 i, ml;

	for (i = 0; i < sizeof(mail_magic) / sizeof(mail_magic[0]); i++) {
		ml = strlen(mail_magic[i]);
		if (len >= ml && memcmp(data, mail_magic[i], ml) == 0)
			return (true);
	}
	return (false);
}

/*
 * Without its temporary directory libclamav does not fail: it scans the
 * message without the parts it cannot unpack, and may call it clean.
 * So a scan does not start without it.
 */
static bool
tmpdir_gone(const struct clamav *c, struct hs_result *res)
{
	const char	*dir = c->set.tmpdir;
	struct stat	 st;

	if (c->set.host_tmpdir && (dir = host_tmpdir(c->host)) == NULL)
		dir = c->set.tmpdir;
	if (stat(dir, &st) < 0) {
		(void)snprintf(res->reason, sizeof(res->reason), "temporary "
		    "directory %s: %s", dir, strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		(void)snprintf(res->reason, sizeof(res->reason), "temporary "
		    "directory %s: not a directory", dir);
	} else {
		return (false);
	}
	res->verdict = HS_FAILED;
	return (true);
}

static int
scan_data(const struct clamav *c, const char *data, size_t len, bool mail,
    const char *filename, struct hs_result *res)
{
	struct cl_scan_options opts;
	struct hinted	 h;
	cl_fmap_t	*map;
	const char	*virname = NULL;
	unsigned long	 scanned = 0;
	cl_error_t	 r;
	int		 rc;

	res->verdict = HS_CLEAN;
	if (c->eng.cl == NULL) {
		set_reason(res, "%s", "no engine");
		return (-1);
	}
	if (len == 0)
		return (0);
	if (tmpdir_gone(c, res))
		return (-1);
	if (c->set.max_file_size > 0 && len > c->set.max_file_size)
		return (limit_result(c, LIMIT_PREFIX "MaxFileSize", res));
	if (!mail || looks_like_mail(data, len)) {
		map = cl_fmap_open_memory(data, len);
	} else {
		h.data = data;
		h.len = len;
		map = cl_fmap_open_handle(&h, 0, len + sizeof(mail_hint) - 1,
		    hinted_pread, 0);
	}
	if (map == NULL) {
		set_reason(res, "%s", "libclamav: cannot map the message");
		res->verdict = HS_FAILED;
		return (-1);
	}
	scan_options(&c->set, &opts);
	r = cl_scanmap_callback(map, filename, &virname, &scanned, c->eng.cl,
	    &opts, NULL);
	rc = map_result(c, r, virname, res);
	if (rc == 0 && res->verdict == HS_CLEAN && res->reason[0] != '\0') {
		/*
		 * A limit that counts as clean: libclamav stopped at its
		 * alert. Scan again as clamd does by default (AlertExceedsMax
		 * no), which goes on past the limit with what it can parse,
		 * so that a signature match there is still found.
		 */
		char	 limit[sizeof(res->reason)];

		(void)snprintf(limit, sizeof(limit), "%s", res->reason);
		opts.heuristic &= ~(uint32_t)CL_SCAN_HEURISTIC_EXCEEDS_MAX;
		virname = NULL;
		r = cl_scanmap_callback(map, filename, &virname, &scanned,
		    c->eng.cl, &opts, NULL);
		if (r == CL_CLEAN) {
			res->verdict = HS_CLEAN;
			set_reason(res, "%s", limit);
		} else {
			rc = map_result(c, r, virname, res);
		}
	}
	cl_fmap_close(map);
	return (rc);
}

static int
clamav_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	return (scan_data(ctx, msg->data, msg->len, true, NULL, res));
}

static int
clamav_scan_part(void *ctx, const struct hs_msg *msg,
    const struct hs_part *part, struct hs_result *res)
{
	(void)msg;
	return (scan_data(ctx, (const char *)part->data, part->len, false,
	    part->filename, res));
}

static void
clamav_info(void *ctx, char *buf, size_t size)
{
	const struct clamav *c = ctx;
	struct tm	 tm;
	char		 when[32] = "?";
	time_t		 t;

	t = c->eng.dbtime ? c->eng.dbtime : c->eng.newest;
	if (gmtime_r(&t, &tm) != NULL)
		(void)strftime(when, sizeof(when), c->eng.dbtime ? "%Y-%m-%d" :
		    "%Y-%m-%d %H:%M UTC", &tm);
	if (c->eng.dbversion > 0)
		(void)snprintf(buf, size, "libclamav %s, %u signatures, db "
		    "version %u of %s", cl_retver(), c->eng.sigs,
		    c->eng.dbversion, when);
	else
		(void)snprintf(buf, size, "libclamav %s, %u signatures, db %s",
		    cl_retver(), c->eng.sigs, when);
}

static void
clamav_fini(void *ctx)
{
	if (ctx != NULL)
		clamav_free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "clamav",
	.version = "1",
	.options = clamav_options,
	.init = clamav_init,
	.reload = clamav_reload,
	.worker_init = clamav_worker_init,
	.scan = clamav_scan,
	.scan_part = clamav_scan_part,
	.info = clamav_info,
	.fini = clamav_fini,
};
