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
 *	A plugin section's options belong to the plugin. With a probe (the
 *	scanner program, which loads plugins) they are checked against the
 *	plugin's option table in the same pass, with their lines. Without
 *	one (holdscand's master and the holdscan tool, which never load a
 *	plugin) they are kept as written, unchecked: libconfuse cannot
 *	accept unknown names and tell them, so their names are learnt
 *	first, one parse per name, from its "no such option" complaints
 *	(at most CONFIG_PLUGIN_NAMES_MAX names).
 *
 *	This module must never exit or log: it returns errors to the caller,
 *	which decides (holdscand refuses to start, check-config prints them).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <confuse.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/mailhdr.h"
#include "common/ruleconf.h"
#include "common/template.h"
#include "common/xalloc.h"

enum ptype {
	P_STR,		/* any string */
	P_PATH,		/* absolute path */
	P_OPTPATH,	/* absolute path, or empty: none */
	P_NAME,		/* relative name without '/' */
	P_INT,		/* decimal integer in [min, max] */
	P_BOOL,		/* yes/no */
	P_TIME,		/* duration, stored in ms */
	P_SIZE,		/* byte count with k/M/G */
	P_ENUM,		/* one of choices, stored as its index */
	P_VERDICTS,	/* list of verdict names, stored as written */
	P_FIELDS,	/* list of header field names, stored as written */
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
	{ "state_region_directory", P_OPTPATH, "/run/holdscan/state",
	    F(state_region_directory), NOLIM, NULL,
	    "the state environment's shared memory, on a memory file system "
	    "(empty: in state_directory)" },
	{ "quarantine_directory", P_PATH, "/var/spool/holdscan/quarantine",
	    F(quarantine_directory), NOLIM, NULL,
	    "quarantined messages, sharded by date" },
	{ "archive_directory", P_OPTPATH, "", F(archive_directory), NOLIM,
	    NULL, "a copy of each delivered message, by date; empty: none" },
	{ "holdscan_queue_subdir", P_NAME, "holdscan",
	    F(holdscan_queue_subdir), NOLIM, NULL,
	    "holdscan's own directory inside queue_directory" },
	{ "pid_file", P_PATH, "/run/holdscan/holdscand.pid", F(pid_file), NOLIM, NULL,
	    "where holdscand writes its process id" },
	{ "metrics_file", P_PATH, "/var/lib/holdscan/metrics.prom",
	    F(metrics_file), NOLIM, NULL,
	    "counters in Prometheus text format, rewritten atomically" },
	{ "plugin_directory", P_PATH, paths_plugin_directory, F(plugin_directory),
	    NOLIM, NULL, "where scanner plugins are loaded from" },
	{ "scanner_program", P_PATH, paths_scanner_program,
	    F(scanner_program), NOLIM, NULL,
	    "the program that loads the plugins and scans, as worker_user" },
	{ "scanner_temp_directory", P_PATH, "/run/holdscan-scanner",
	    F(scanner_temp_directory), NOLIM, NULL,
	    "the scanners' private temporary files (worker_user's, 0700)" },
	/* logging */
	{ "syslog_name", P_STR, "holdscand", F(syslog_name), NOLIM, NULL,
	    "program name in log lines" },
	{ "syslog_facility", P_ENUM, "mail", F(syslog_facility), NOLIM,
	    "mail daemon local0 local1 local2 local3 local4 local5 local6 local7",
	    "syslog facility" },
	{ "log_file", P_OPTPATH, "", F(log_file), NOLIM, NULL,
	    "a file to log to instead of syslog (empty: syslog)" },
	{ "verbose", P_BOOL, "no", F(verbose), NOLIM, NULL,
	    "log debugging detail" },
	/* processes */
	{ "worker_user", P_STR, "holdscan", F(worker_user), NOLIM, NULL,
	    "unprivileged user the scanner workers run as" },
	{ "worker_count", P_INT, "0", F(worker_count), 0, 256, NULL,
	    "scanner worker processes; 0 means two per CPU" },
	{ "scan_time_limit", P_TIME, "60s", F(scan_time_limit), 100,
	    86400000L, NULL, "time a worker may spend on one message" },
	{ "scan_retry_limit", P_INT, "3", F(scan_retry_limit), 1, 100, NULL,
	    "worker failures on one message before it is set aside" },
	{ "worker_memory_limit", P_SIZE, "1G", F(worker_memory_limit), 0,
	    LONG_MAX, NULL,
	    "address space limit of each worker beyond the shared engine; 0: none" },
	{ "worker_max_scans", P_INT, "10000", F(worker_max_scans), 1, LONG_MAX,
	    NULL, "a worker is replaced after this many messages" },
	{ "worker_seccomp", P_BOOL, "yes", F(worker_seccomp), NOLIM, NULL,
	    "workers run under a seccomp filter: no exec, ptrace or sockets "
	    "(but for a plugin that needs the network)" },
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
	{ "daemon_timeout", P_TIME, "120s", F(daemon_timeout), 10000,
	    86400000L, NULL, "holdscand exits (for a restart) when one event "
	    "loop round takes longer" },
	{ "internal_networks", P_STR, "", F(internal_networks), NOLIM, NULL,
	    "client networks whose mail is outbound for a rule's direction "
	    "(as is mail of a SASL user or without a client address)" },
	{ "message_size_limit", P_SIZE, "0", F(message_size_limit), 0,
	    LONG_MAX, NULL,
	    "queue files larger than this are set aside unscanned; 0: no limit" },
	/* mail set aside unscanned */
	{ "set_aside_lifetime", P_TIME, "5d", F(set_aside_lifetime), 0,
	    3650L * 86400000L, NULL,
	    "how long mail that could not be scanned waits in hold; 0: forever" },
	{ "set_aside_expiry_action", P_ENUM, "quarantine",
	    F(set_aside_expiry_action), NOLIM, "quarantine bounce deliver-tagged",
	    "what then happens to it: quarantine, bounce or deliver-tagged" },
	{ "set_aside_rescan", P_BOOL, "yes", F(set_aside_rescan), NOLIM, NULL,
	    "scan it again each time the scanners load a new engine" },
	/* the message log */
	{ "message_log", P_BOOL, "yes", F(message_log), NOLIM, NULL,
	    "keep a record of every message holdscand finishes (holdscan log, trace)" },
	{ "message_log_retention", P_TIME, "30d", F(message_log_retention),
	    1000L, 36500L * 86400000L, NULL,
	    "how long a record is kept in the message log" },
	/* a farm: the message log shipped to PostgreSQL */
	{ "database", P_STR, "", F(database), NOLIM, NULL,
	    "PostgreSQL conninfo or URI the message log is shipped to; "
	    "empty: this host only" },
	{ "outbox_limit", P_INT, "1000000", F(outbox_limit), 1, 1000000000L,
	    NULL, "records waiting to be shipped to the database, at most" },
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
	{ "strip_header_names", P_FIELDS, "X-Holdscan-*, X-Spam-Status, "
	    "X-Spam-Score, X-Spam-Flag, X-Spam-Level, X-Spam-Report, "
	    "X-Spam-Checker-Version", F(strip_header_names), NOLIM, NULL,
	    "fields removed from the header of delivered mail before holdscan "
	    "adds its own; empty: none (holdscan's own are always replaced)" },
	/* notifications */
	{ "notify_postmaster", P_VERDICTS, "", F(notify_postmaster), NOLIM,
	    NULL, "verdicts that send a notice to postmaster_address" },
	{ "notify_recipients", P_VERDICTS, "", F(notify_recipients), NOLIM,
	    NULL, "verdicts that send the recipients of quarantined mail a notice" },
	{ "notify_senders", P_VERDICTS, "", F(notify_senders), NOLIM,
	    NULL, "verdicts that send the sender a notice (not spam: backscatter)" },
	{ "postmaster_address", P_STR, "postmaster", F(postmaster_address),
	    NOLIM, NULL, "where notices to the postmaster go" },
	{ "notify_postmaster_template", P_PATH,
	    paths_notify_postmaster,
	    F(notify_postmaster_template), NOLIM, NULL,
	    "the notice to the postmaster" },
	{ "notify_recipient_template", P_PATH,
	    paths_notify_recipient,
	    F(notify_recipient_template), NOLIM, NULL,
	    "the notice to a recipient of quarantined mail" },
	/* quarantine digests (holdscan digest) */
	{ "digest_url", P_STR, "", F(digest_url), NOLIM, NULL,
	    "the web console's address digest links start with "
	    "(https://HOST/PATH; links are URL/d/TOKEN); empty: no digests" },
	{ "digest_link_lifetime", P_TIME, "7d", F(digest_link_lifetime),
	    1000L, 365L * 86400000L, NULL,
	    "how long a digest's release and delete links work" },
	{ "digest_key_file", P_PATH, paths_digest_key_file,
	    F(digest_key_file), NOLIM, NULL,
	    "the key digest links are signed with (holdscan digest --init-key)" },
	{ "digest_used_file", P_PATH, "/var/lib/holdscan-web/digest-used",
	    F(digest_used_file), NOLIM, NULL,
	    "the links used already, written by holdscan-web's user" },
	{ "digest_from", P_STR, "postmaster", F(digest_from), NOLIM, NULL,
	    "the sender of digests (envelope and From:)" },
	{ "digest_recipients", P_STR, "", F(digest_recipients), NOLIM, NULL,
	    "domains whose recipients get digests; empty: every recipient" },
	{ "digest_html", P_BOOL, "no", F(digest_html), NOLIM, NULL,
	    "digests have an HTML alternative to their text" },
	{ "notify_sender_template", P_PATH,
	    paths_notify_sender,
	    F(notify_sender_template), NOLIM, NULL,
	    "the notice to the sender" },
};
#define NPARAMS	(sizeof(params) / sizeof(params[0]))

/* The web { } section: holdscan-web, and holdscand's control socket for it. */
static const struct param web_params[] = {
	{ "listen", P_STR, "127.0.0.1:8025", F(web_listen), NOLIM, NULL,
	    "ADDRESS:PORT holdscan-web listens on (IPv4 or [IPv6])" },
	{ "user", P_STR, "holdscan-web", F(web_user), NOLIM, NULL,
	    "the unprivileged user holdscan-web runs as; holdscand answers it "
	    "and root only" },
	{ "control_socket", P_OPTPATH, "", F(web_control_socket), NOLIM, NULL,
	    "holdscand's local socket that holdscan-web asks; empty: "
	    "control.sock beside pid_file" },
	{ "document_root", P_PATH, paths_web_root, F(web_document_root),
	    NOLIM, NULL, "the console's HTML, CSS and JavaScript files" },
	{ "accounts_file", P_PATH, paths_web_accounts, F(web_accounts_file),
	    NOLIM, NULL, "the console's accounts (holdscan web user)" },
	{ "session_lifetime", P_TIME, "8h", F(web_session_lifetime), 1000,
	    30L * 86400000L, NULL, "a login is valid this long" },
	{ "login_attempts", P_INT, "5", F(web_login_attempts), 1, 1000, NULL,
	    "failed logins per account name in 15 minutes before further "
	    "tries are refused (per client address: four times as many)" },
	{ "tls_certificate", P_OPTPATH, "", F(web_tls_certificate), NOLIM,
	    NULL, "PEM certificate (chain) for HTTPS; empty: plain HTTP" },
	{ "tls_key", P_OPTPATH, "", F(web_tls_key), NOLIM, NULL,
	    "its PEM private key" },
	{ "database", P_STR, "", F(web_database), NOLIM, NULL,
	    "on a farm (database set): the libpq conninfo or URI holdscan-web "
	    "reads the farm's tables with, as its own role; empty: database" },
};
#define NWEBPARAMS	(sizeof(web_params) / sizeof(web_params[0]))
_Static_assert(NPARAMS <= 64, "set_mask holds 64 parameters");

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
	const char *why;
	long	 v;
	int	 idx;

	switch (p->type) {
	case P_OPTPATH:
		if (value[0] != '\0' && value[0] != '/')
			return ("must be an absolute path, or empty");
		/* FALLTHROUGH */
	case P_PATH:
		if (p->type == P_PATH && value[0] != '/')
			return ("must be an absolute path");
		/* FALLTHROUGH */
	case P_STR:
		if (strlen(value) > 4096)
			return ("value too long");
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return (NULL);
	case P_VERDICTS:
		if (confword_verdicts_check(value, buf, size) != NULL)
			return (buf);
		if (p->off == F(notify_senders) && (confword_verdict_mask(value) &
		    ((1U << VERDICT_SPAM) | (1U << VERDICT_HIGH_SPAM))) != 0)
			return ("spam's senders are mostly forged: notices to "
			    "them are backscatter (leave spam and high-spam out)");
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return (NULL);
	case P_FIELDS:
		if (strlen(value) > 4096)
			return ("value too long");
		if ((why = mailhdr_names_check(value)) != NULL)
			return (why);
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

/* The parses of one load: see config_load_common(). */
enum pass {
	PASS_LENIENT,		/* scanners and plugin_directory; all else ignored */
	PASS_DISCOVER,		/* learn the option names of plugin sections */
	PASS_STRICT,		/* check and store everything */
};

/* Errors collected while parsing: one line each. */
struct load_state {
	struct buf	 errors;
	const char	*name;
	struct hs_config *scratch;	/* values stored as they are checked */
	enum pass	 pass;
	bool		 strict;	/* pass == PASS_STRICT */
	/* option tables of the plugins, from the probe */
	char		**pnames;
	const struct hs_plugin_option **ptables;
	size_t		 nprobed;
	/* without a probe: option names seen in plugin sections */
	bool		 raw;
	char		**found;
	size_t		 nfound;
	bool		 found_new;	/* this parse learnt one */
};

/*
 * libconfuse passes its callbacks no user data, so the parse in progress
 * is reachable through this pointer for the duration of one
 * config_load_common() call only; it is NULL at all other times.
 */
static __thread struct load_state *parsing;

/* Keys of the policy and domain sections: a verdict each, plus extras. */
static const char *const policy_keys[VERDICT_COUNT] = {
	[VERDICT_CLEAN] = "clean",
	[VERDICT_SPAM] = "spam",
	[VERDICT_HIGH_SPAM] = "high_spam",
	[VERDICT_BLOCKED] = "blocked",
	[VERDICT_INFECTED] = "infected",
	[VERDICT_FAILED] = "scan_failed",
};
static const enum policy_action policy_defaults_tab[VERDICT_COUNT] = {
	[VERDICT_CLEAN] = ACTION_DELIVER,
	[VERDICT_SPAM] = ACTION_TAG,
	[VERDICT_HIGH_SPAM] = ACTION_QUARANTINE,
	[VERDICT_BLOCKED] = ACTION_QUARANTINE,
	[VERDICT_INFECTED] = ACTION_QUARANTINE,
	[VERDICT_FAILED] = ACTION_HOLD,
};
static const char *const policy_default_names[VERDICT_COUNT] = {
	"deliver", "tag", "quarantine", "quarantine", "quarantine", "hold",
};

/*
 * Policy-section settings that are not verdicts: how tag and
 * deliver-cleaned mark a message. Each is a string with its default.
 */
enum extra_kind {
	X_TEMPLATE,		/* template.c's $verdict, $reason, $score */
	X_FIELD,		/* a header field name, or "" */
	X_VERDICTS,		/* a verdict list */
	X_MODE,			/* html_disarm_mode: disarm or text */
	X_ADDRS,		/* mail addresses, comma or space separated */
};
struct policy_extra {
	const char	*name;
	size_t		 off;
	const char	*def;
	enum extra_kind	 kind;
};
static const struct policy_extra policy_extras[] = {
	{ "subject_tag", F(subject_tag), "[SPAM]", X_TEMPLATE },
	{ "tag_header_name", F(tag_header_name), "X-Holdscan-Verdict",
	    X_FIELD },
	{ "tag_header_text", F(tag_header_text), "$verdict ($reason)",
	    X_TEMPLATE },
	{ "subject_tag_spam", F(subject_tags[VERDICT_SPAM]), "", X_TEMPLATE },
	{ "subject_tag_high_spam", F(subject_tags[VERDICT_HIGH_SPAM]), "",
	    X_TEMPLATE },
	{ "subject_tag_blocked", F(subject_tags[VERDICT_BLOCKED]), "",
	    X_TEMPLATE },
	{ "subject_tag_infected", F(subject_tags[VERDICT_INFECTED]), "",
	    X_TEMPLATE },
	{ "html_disarm", F(html_disarm), "", X_VERDICTS },
	{ "html_disarm_mode", F(html_disarm_mode), "disarm", X_MODE },
	{ "highlight_phishing", F(highlight_phishing), "", X_VERDICTS },
	{ "copy_clean", F(copy_to[VERDICT_CLEAN]), "", X_ADDRS },
	{ "copy_spam", F(copy_to[VERDICT_SPAM]), "", X_ADDRS },
	{ "copy_high_spam", F(copy_to[VERDICT_HIGH_SPAM]), "", X_ADDRS },
	{ "copy_blocked", F(copy_to[VERDICT_BLOCKED]), "", X_ADDRS },
	{ "copy_infected", F(copy_to[VERDICT_INFECTED]), "", X_ADDRS },
	{ "copy_scan_failed", F(copy_to[VERDICT_FAILED]), "", X_ADDRS },
};
#define NEXTRAS	(sizeof(policy_extras) / sizeof(policy_extras[0]))


/* A name learnt in a plugin section (PASS_DISCOVER). */
static void
found_add(struct load_state *ls, const char *name)
{
	size_t	 i;

	for (i = 0; i < ls->nfound; i++)
		if (strcmp(ls->found[i], name) == 0)
			return;
	ls->found = xreallocarray(ls->found, ls->nfound + 1,
	    sizeof(*ls->found));
	ls->found[ls->nfound++] = xstrdup(name);
	ls->found_new = true;
}

static void
config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct load_state *ls = parsing;
	char	 msg[512];

	if (ls == NULL)
		return;
	/*
	 * libconfuse stops at a name it does not know, and says which in
	 * this message (untranslated: nothing here calls setlocale(3)).
	 * A name it does not know elsewhere ends the learning; the strict
	 * pass reports it.
	 */
	if (ls->pass == PASS_DISCOVER) {
		if (strcmp(cfg_name(cfg), "plugin") == 0 &&
		    strcmp(fmt, "no such option '%s'") == 0)
			found_add(ls, va_arg(ap, const char *));
		return;
	}
	if (!ls->strict)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
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

/* The value libconfuse just stored for opt (the last one, for repeats). */
static const char *
opt_value(cfg_opt_t *opt)
{
	const char	*v = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);

	return (v ? v : "");
}

/*
 * libconfuse calls the validators as each value is parsed, while
 * cfg->line is the line the value came from; so each checks and stores
 * its value now, and a bad one is reported with its line. They return 0
 * even for a bad value so that every problem in the file is reported.
 */
static int
validate_param(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct param *p = param_find(cfg_opt_name(opt));
	const char	*value = opt_value(opt), *why;
	char		 buf[160];

	if (p == NULL || parsing == NULL || !parsing->strict)
		return (0);
	if ((why = param_store(p, value, parsing->scratch, buf,
	    sizeof(buf))) != NULL)
		cfg_error(cfg, "%s = \"%s\": %s", p->name, value, why);
	return (0);
}

static struct hs_config_plugin *
plugin_section(struct hs_config *conf, const char *name)
{
	struct hs_config_plugin *pc;
	size_t		 i;

	for (i = 0; i < conf->nplugin_sections; i++)
		if (strcmp(conf->plugin_sections[i].name, name) == 0)
			return (&conf->plugin_sections[i]);
	conf->plugin_sections = xreallocarray(conf->plugin_sections,
	    conf->nplugin_sections + 1, sizeof(*conf->plugin_sections));
	pc = &conf->plugin_sections[conf->nplugin_sections++];
	memset(pc, 0, sizeof(*pc));
	pc->name = xstrdup(name);
	return (pc);
}

static const struct hs_plugin_option *
probed_table(const struct load_state *ls, const char *plugin)
{
	size_t	 i;

	for (i = 0; i < ls->nprobed; i++)
		if (strcmp(ls->pnames[i], plugin) == 0)
			return (ls->ptables[i]);
	return (NULL);
}

static int
validate_plugin_opt(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct hs_plugin_option *t, *o;
	const char	*plugin = cfg_title(cfg), *name = cfg_opt_name(opt);
	const char	*value = opt_value(opt), *why;
	struct hs_config_plugin *pc;
	long		 num;

	if (parsing == NULL || !parsing->strict || plugin == NULL)
		return (0);
	if (parsing->raw)
		goto store;	/* the plugin's to check (scanner program) */
	if ((t = probed_table(parsing, plugin)) == NULL)
		return (0);	/* the probe failure is reported already */
	for (o = t; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			break;
	if (o->name == NULL) {
		cfg_error(cfg, "plugin %s has no option \"%s\"", plugin, name);
		return (0);
	}
	if ((why = config_check_value(o->type, value, &num)) != NULL) {
		cfg_error(cfg, "plugin %s: %s = \"%s\": %s", plugin, name, value,
		    why);
		return (0);
	}
store:
	pc = plugin_section(parsing->scratch, plugin);
	pc->opt_names = xreallocarray(pc->opt_names, pc->nopts + 1,
	    sizeof(*pc->opt_names));
	pc->opt_values = xreallocarray(pc->opt_values, pc->nopts + 1,
	    sizeof(*pc->opt_values));
	pc->opt_names[pc->nopts] = xstrdup(name);
	pc->opt_values[pc->nopts] = xstrdup(value);
	pc->nopts++;
	return (0);
}

static struct hs_config_domain *
domain_section(struct hs_config *conf, const char *domain)
{
	struct hs_config_domain *d;
	size_t		 i;

	for (i = 0; i < conf->ndomains; i++)
		if (strcasecmp(conf->domains[i].domain, domain) == 0)
			return (&conf->domains[i]);
	conf->domains = xreallocarray(conf->domains, conf->ndomains + 1,
	    sizeof(*conf->domains));
	d = &conf->domains[conf->ndomains++];
	memset(d, 0, sizeof(*d));
	d->domain = xstrdup(domain);
	return (d);
}

/* A header field name: printable ASCII other than ':'. */
static bool
is_field_name(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 || *s == ':')
			return (false);
	return (true);
}

static int
policy_extra_store(cfg_t *cfg, const struct policy_extra *x,
    const char *value, const char *domain)
{
	const char	*why = NULL;
	char		**field = (char **)((char *)parsing->scratch + x->off);
	char		 buf[200];

	if (domain != NULL)
		why = "belongs in the policy section, not in a domain section";
	else if (strlen(value) > 500)
		why = "too long (500 bytes at most)";
	else if (x->kind == X_FIELD && (strlen(value) > 76 ||
	    !is_field_name(value)))
		why = "not a header field name (printable ASCII without "
		    "spaces or ':', 76 characters at most; empty for none)";
	else if (x->kind == X_VERDICTS)
		why = confword_verdicts_check(value, buf, sizeof(buf));
	else if (x->kind == X_ADDRS)
		why = confword_addresses_check(value, buf, sizeof(buf));
	else if (x->kind == X_MODE && strcmp(value, "disarm") != 0 &&
	    strcmp(value, "text") != 0)
		why = "use disarm or text";
	else if (x->kind == X_TEMPLATE)
		why = template_check(value);
	if (why != NULL) {
		cfg_error(cfg, "%s = \"%s\": %s", x->name, value, why);
		return (0);
	}
	free(*field);
	*field = xstrdup(value);
	return (0);
}


static int
validate_policy_opt(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*name = cfg_opt_name(opt), *value = opt_value(opt);
	const char	*domain = cfg_title(cfg), *why;
	int		 v, a;

	if (parsing == NULL || !parsing->strict)
		return (0);
	for (v = 0; v < (int)NEXTRAS; v++)
		if (strcmp(name, policy_extras[v].name) == 0)
			return (policy_extra_store(cfg, &policy_extras[v], value,
			    domain));
	for (v = 0; v < VERDICT_COUNT; v++)
		if (strcmp(policy_keys[v], name) == 0)
			break;
	if (v == VERDICT_COUNT)
		return (0);
	if ((why = confword_policy_check(v, value, &a)) != NULL) {
		cfg_error(cfg, "%s = \"%s\": %s", name, value, why);
		return (0);
	}
	if (domain != NULL) {
		struct hs_config_domain *d = domain_section(parsing->scratch,
		    domain);

		d->action[v] = (enum policy_action)a;
		d->set[v] = true;
	} else {
		parsing->scratch->policy_action[v] = (enum policy_action)a;
	}
	return (0);
}

/* A parameter of the web section, checked and stored as a top-level one. */
static int
validate_web_opt(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*name = cfg_opt_name(opt), *value = opt_value(opt), *why;
	char		 buf[160];
	size_t		 i;

	if (parsing == NULL || !parsing->strict)
		return (0);
	for (i = 0; i < NWEBPARAMS; i++)
		if (strcmp(web_params[i].name, name) == 0)
			break;
	if (i == NWEBPARAMS)
		return (0);
	if ((why = param_store(&web_params[i], value, parsing->scratch, buf,
	    sizeof(buf))) != NULL)
		cfg_error(cfg, "%s = \"%s\": %s", name, value, why);
	return (0);
}

static cfg_opt_t
str_opt(const char *name, const char *def, cfg_validate_callback_t cb)
{
	cfg_opt_t o = CFG_STR(NULL, NULL, CFGF_NONE);

	o.name = (char *)name;
	o.def.string = def;
	o.validcb = cb;
	return (o);
}

/*
 * The libconfuse schema. Strings and option arrays point into static
 * tables and the load state, which outlive the cfg_t. In the lenient
 * pass everything unknown is ignored (only scanners and plugin_directory
 * are wanted); the discovering pass knows the names of plugin options
 * learnt so far; the strict one knows every plugin's options (or,
 * without a probe, every name the file uses in plugin sections).
 */
struct schema {
	cfg_opt_t	*root, *plugin, *policy, *domain, *web;
	cfg_opt_t	 ruleset[RULECONF_SCHEMA_MAX], rule[RULECONF_SCHEMA_MAX];
	cfg_opt_t	 rule_policy[RULECONF_SCHEMA_MAX];
};

/* Add name to the plugin section's options unless it is there. */
static void
schema_plugin_opt(struct schema *sc, size_t *k, const char *name)
{
	size_t	 j;

	for (j = 0; j < *k; j++)	/* the union: one of each name */
		if (strcmp(sc->plugin[j].name, name) == 0)
			return;
	sc->plugin[(*k)++] = str_opt(name, NULL, validate_plugin_opt);
}

static void
schema_build(struct schema *sc, const struct load_state *ls, enum pass pass)
{
	const struct hs_plugin_option *o;
	cfg_opt_t	 end = CFG_END();
	bool		 strict = pass != PASS_LENIENT;
	size_t		 i, n = 0, k;
	int		 v;

	/* params, scanners, 5 sections, __unknown, end */
	sc->root = xcalloc(NPARAMS + 8, sizeof(cfg_opt_t));
	for (i = 0; i < NPARAMS; i++)
		sc->root[n++] = str_opt(params[i].name, params[i].def,
		    validate_param);
	{
		cfg_opt_t s = CFG_STR("scanners", "", CFGF_NONE);

		sc->root[n++] = s;
	}

	for (k = ls->nfound, i = 0; i < ls->nprobed; i++)
		for (o = ls->ptables[i]; o->name != NULL; o++)
			k++;
	sc->plugin = xcalloc(k + 2, sizeof(cfg_opt_t));
	for (k = 0, i = 0; i < ls->nprobed; i++)
		for (o = ls->ptables[i]; o->name != NULL; o++)
			schema_plugin_opt(sc, &k, o->name);
	for (i = 0; i < ls->nfound; i++)
		schema_plugin_opt(sc, &k, ls->found[i]);
	if (!strict)
		sc->plugin[k++] = str_opt("__unknown", NULL, NULL);
	sc->plugin[k] = end;

	sc->policy = xcalloc(VERDICT_COUNT + NEXTRAS + 2, sizeof(cfg_opt_t));
	sc->domain = xcalloc(VERDICT_COUNT + 2, sizeof(cfg_opt_t));
	for (v = 0; v < VERDICT_COUNT; v++) {
		sc->policy[v] = str_opt(policy_keys[v], NULL, validate_policy_opt);
		sc->domain[v] = str_opt(policy_keys[v], NULL, validate_policy_opt);
	}
	for (i = 0; i < NEXTRAS; i++)
		sc->policy[VERDICT_COUNT + i] = str_opt(policy_extras[i].name,
		    NULL, validate_policy_opt);
	n = VERDICT_COUNT + NEXTRAS;
	if (!strict) {
		sc->policy[n] = str_opt("__unknown", NULL, NULL);
		sc->domain[VERDICT_COUNT] = str_opt("__unknown", NULL, NULL);
		sc->policy[n + 1] = end;
		sc->domain[VERDICT_COUNT + 1] = end;
	} else {
		sc->policy[n] = end;
		sc->domain[VERDICT_COUNT] = end;
	}

	sc->web = xcalloc(NWEBPARAMS + 2, sizeof(cfg_opt_t));
	for (i = 0; i < NWEBPARAMS; i++)
		sc->web[i] = str_opt(web_params[i].name, NULL, validate_web_opt);
	if (!strict) {
		sc->web[i] = str_opt("__unknown", NULL, NULL);
		sc->web[i + 1] = end;
	} else
		sc->web[i] = end;

	{
		cfg_flag_t	 f = strict ? CFGF_NONE : CFGF_IGNORE_UNKNOWN;
		cfg_opt_t	 ps = CFG_SEC("plugin", sc->plugin,
				    CFGF_TITLE | CFGF_MULTI | CFGF_NO_TITLE_DUPES | f);
		cfg_opt_t	 pol = CFG_SEC("policy", sc->policy, f);
		cfg_opt_t	 dom = CFG_SEC("domain", sc->domain,
				    CFGF_TITLE | CFGF_MULTI | CFGF_NO_TITLE_DUPES | f);

		sc->root[n = NPARAMS + 1] = ps;
		sc->root[++n] = pol;
		sc->root[++n] = dom;
		ruleconf_schema(sc->ruleset, sc->rule, sc->rule_policy,
		    policy_keys, !strict, &sc->root[++n]);
		{
			cfg_opt_t web = CFG_SEC("web", sc->web, f);

			sc->root[++n] = web;
		}
		if (!strict) {
			sc->root[++n] = str_opt("__unknown", NULL, NULL);
		}
		sc->root[++n] = end;
	}
}

static void
schema_free(struct schema *sc)
{
	free(sc->root);
	free(sc->plugin);
	free(sc->policy);
	free(sc->domain);
	free(sc->web);
}

static int
parse_pass(struct load_state *ls, const char *path, const char *text,
    enum pass pass, cfg_t **cfg_r)
{
	struct schema	 sc;
	cfg_t		*cfg;
	bool		 strict = pass == PASS_STRICT;
	int		 rc;

	schema_build(&sc, ls, pass);
	if ((cfg = cfg_init(sc.root, pass != PASS_LENIENT ? CFGF_NONE :
	    CFGF_IGNORE_UNKNOWN)) == NULL) {
		schema_free(&sc);
		buf_printf(&ls->errors, "%s: cannot initialise parser\n", ls->name);
		return (-1);
	}
	(void)cfg_set_error_function(cfg, config_errfunc);
	ls->pass = pass;
	ls->strict = strict;
	parsing = ls;
	rc = path ? cfg_parse(cfg, path) : cfg_parse_buf(cfg, text);
	parsing = NULL;
	if (strict && rc == CFG_FILE_ERROR)
		buf_printf(&ls->errors, "%s: cannot read: %s\n", ls->name,
		    strerror(errno));
	else if (strict && rc != CFG_SUCCESS && ls->errors.len == 0)
		buf_printf(&ls->errors, "%s: syntax error\n", ls->name);
	schema_free(&sc);
	if (rc != CFG_SUCCESS) {
		cfg_free(cfg);
		return (-1);
	}
	*cfg_r = cfg;
	return (0);
}

/* Split a scanners list ("a, b c") into words. */
static char **
split_words(const char *s, size_t *n_r)
{
	char	**v = NULL;
	size_t	 n = 0, len;

	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t");
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrndup(s, len);
		s += len;
	}
	*n_r = n;
	return (v);
}

static void
probe_add(struct load_state *ls, const char *plugin, config_probe_fn probe,
    void *arg)
{
	const struct hs_plugin_option *t;
	static const struct hs_plugin_option none[] = { { NULL, 0, NULL, NULL } };
	char		*error = NULL;
	size_t		 i;

	for (i = 0; i < ls->nprobed; i++)
		if (strcmp(ls->pnames[i], plugin) == 0)
			return;
	if (probe == NULL)
		return;		/* kept as written: see config_load() */
	if ((t = probe(arg, ls->scratch->plugin_directory, plugin,
	    &error)) == NULL) {
		buf_printf(&ls->errors, "%s: plugin %s: %s\n", ls->name, plugin,
		    error ? error : "cannot be loaded");
		free(error);
		return;
	}
	ls->pnames = xreallocarray(ls->pnames, ls->nprobed + 1,
	    sizeof(*ls->pnames));
	ls->ptables = xreallocarray(ls->ptables, ls->nprobed + 1,
	    sizeof(*ls->ptables));
	ls->pnames[ls->nprobed] = xstrdup(plugin);
	ls->ptables[ls->nprobed] = t ? t : none;
	ls->nprobed++;
}

/* Order the plugin sections as scanners lists them; each named plugin gets one. */
static void
resolve_scanners(struct load_state *ls, const char *list)
{
	struct hs_config *conf = ls->scratch;
	char		**words;
	size_t		 n, i, j;

	conf->scanners_text = xstrdup(list);
	words = split_words(list, &n);
	conf->scanners = xcalloc(n, sizeof(*conf->scanners));
	for (i = 0; i < n; i++) {
		struct hs_config_plugin *src = plugin_section(conf, words[i]);
		struct hs_config_plugin *dst = &conf->scanners[i];

		for (j = 0; j < i; j++)
			if (strcmp(conf->scanners[j].name, words[i]) == 0)
				buf_printf(&ls->errors, "%s: scanners: %s is "
				    "listed twice\n", ls->name, words[i]);
		dst->name = xstrdup(src->name);
		dst->nopts = src->nopts;
		dst->opt_names = xcalloc(src->nopts, sizeof(char *));
		dst->opt_values = xcalloc(src->nopts, sizeof(char *));
		for (j = 0; j < src->nopts; j++) {
			dst->opt_names[j] = xstrdup(src->opt_names[j]);
			dst->opt_values[j] = xstrdup(src->opt_values[j]);
		}
		free(words[i]);
	}
	conf->nscanners = n;
	free(words);
}

static void
load_state_clear(struct load_state *ls)
{
	size_t	 i;

	for (i = 0; i < ls->nprobed; i++)
		free(ls->pnames[i]);
	free(ls->pnames);
	free(ls->ptables);
	for (i = 0; i < ls->nfound; i++)
		free(ls->found[i]);
	free(ls->found);
	buf_free(&ls->errors);
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
	for (i = 0; i < VERDICT_COUNT; i++)
		conf->policy_action[i] = policy_defaults_tab[i];
	for (i = 0; i < NEXTRAS; i++)
		*(char **)((char *)conf + policy_extras[i].off) =
		    xstrdup(policy_extras[i].def);
	for (i = 0; i < NWEBPARAMS; i++)
		if (param_store(&web_params[i], web_params[i].def, conf, buf,
		    sizeof(buf)) != NULL)
			abort();
	return (conf);
}

/*
 * The names of the options of plugin sections, without a probe: parse
 * until libconfuse knows them all or stops for another reason.
 */
static void
discover_plugin_options(struct load_state *ls, const char *path,
    const char *text)
{
	cfg_t	*cfg;

	for (;;) {
		ls->found_new = false;
		if (parse_pass(ls, path, text, PASS_DISCOVER, &cfg) == 0) {
			cfg_free(cfg);
			return;
		}
		if (!ls->found_new)
			return;		/* the strict pass says what is wrong */
		if (ls->nfound > CONFIG_PLUGIN_NAMES_MAX) {
			buf_printf(&ls->errors, "%s: plugin sections use more "
			    "than %d different option names\n", ls->name,
			    CONFIG_PLUGIN_NAMES_MAX);
			return;
		}
	}
}

/* The ruleset sections, given the resolved scanners' names. */
static void
read_rulesets(cfg_t *cfg, struct hs_config *conf, const char *name,
    struct buf *errors)
{
	const char	**names;
	size_t		 i;

	names = xcalloc(conf->nscanners + 1, sizeof(*names));
	for (i = 0; i < conf->nscanners; i++)
		names[i] = conf->scanners[i].name;
	ruleconf_read(cfg, policy_keys, names, conf->nscanners,
	    conf->internal_networks, &conf->rulesets, name, errors);
	free(names);
}

static int
config_load_common(const char *path, const char *text, const char *name,
    config_probe_fn probe, void *probe_arg, bool keep,
    struct hs_config **conf_r, char **errors_r)
{
	struct load_state ls;
	struct hs_config *conf = config_new_defaults();
	cfg_t		*cfg = NULL;
	size_t		 i;

	memset(&ls, 0, sizeof(ls));
	ls.name = name;
	ls.scratch = conf;
	ls.raw = probe == NULL;
	*conf_r = NULL;

	/* Pass 1: which plugins, from where; nothing is checked yet. */
	if (parse_pass(&ls, path, text, PASS_LENIENT, &cfg) == 0) {
		const char	*dir = cfg_getstr(cfg, "plugin_directory");
		char		**words;
		size_t		 n;

		if (dir != NULL && dir[0] == '/') {
			free(conf->plugin_directory);
			conf->plugin_directory = xstrdup(dir);
		}
		words = split_words(cfg_getstr(cfg, "scanners"), &n);
		for (i = 0; i < n; i++) {
			probe_add(&ls, words[i], probe, probe_arg);
			free(words[i]);
		}
		free(words);
		for (i = 0; i < cfg_size(cfg, "plugin"); i++)
			probe_add(&ls, cfg_title(cfg_getnsec(cfg, "plugin", i)),
			    probe, probe_arg);
		cfg_free(cfg);
		cfg = NULL;
	}

	if (ls.raw)
		discover_plugin_options(&ls, path, text);

	/* Pass 2: everything, with line numbers. */
	if (parse_pass(&ls, path, text, PASS_STRICT, &cfg) == 0) {
		for (i = 0; i < NPARAMS; i++) {
			cfg_opt_t *o = cfg_getopt(cfg, params[i].name);

			if (o && (o->flags & CFGF_MODIFIED))
				conf->set_mask |= 1ULL << i;
		}
		resolve_scanners(&ls, cfg_getstr(cfg, "scanners"));
		for (i = 0; i < cfg_size(cfg, "plugin"); i++)
			(void)plugin_section(conf, cfg_title(cfg_getnsec(cfg,
			    "plugin", i)));
		for (i = 0; i < cfg_size(cfg, "domain"); i++)
			(void)domain_section(conf, cfg_title(cfg_getnsec(cfg,
			    "domain", i)));
		read_rulesets(cfg, conf, name, &ls.errors);
		cfg_free(cfg);
	}
	conf->file = xstrdup(name);

	if (ls.errors.len > 0) {
		ls.errors.data[--ls.errors.len] = '\0';	/* last newline */
		*errors_r = buf_steal(&ls.errors, NULL);
		load_state_clear(&ls);
		if (keep)
			*conf_r = conf;
		else
			config_free(&conf);
		return (-1);
	}
	load_state_clear(&ls);
	*conf_r = conf;
	return (0);
}

/*
 * Two things libconfuse 3.3 does differently from what a Postfix admin
 * expects, fixed before it sees the text, line for line:
 * - it counts each "#" comment as three lines, so every line number after
 *   a comment would be wrong: "#" comments (outside quoted strings) are
 *   blanked out, keeping every newline;
 * - "name =" with nothing after it is a syntax error, where main.cf means
 *   an empty value: it becomes name = "";
 * - a list written as main.cf has it, "scanners = clamav, attachments"
 *   (unquoted, commas or blanks between the words), is "unexpected token
 *   ','" to libconfuse: such a value is put in double quotes (a value
 *   with a quote, a backslash, a brace or an "=" is left as it is).
 */
static void
append_line(struct buf *b, const char *line, size_t len)
{
	const char	*eq, *v, *end = line + len;
	size_t		 i;

	eq = memchr(line, '=', len);
	i = strspn(line, " \t");
	if (eq == NULL || i == (size_t)(eq - line)) {
		buf_append(b, line, len);
		return;
	}
	/* a name before "=", as libconfuse reads one */
	for (; line + i < eq && line[i] != ' ' && line[i] != '\t'; i++)
		if (!isalnum((unsigned char)line[i]) && line[i] != '_' &&
		    line[i] != '-' && line[i] != '.') {
			buf_append(b, line, len);
			return;
		}
	for (; line + i < eq; i++)
		if (line[i] != ' ' && line[i] != '\t') {
			buf_append(b, line, len);
			return;
		}
	for (v = eq + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	if (v == end || memchr(v, ',', (size_t)(end - v)) == NULL) {
		const char *sp = v + strcspn(v, " \t");

		/* no comma: a blank between two words makes it a list too */
		if (sp >= end) {
			buf_append(b, line, len);
			return;
		}
	}
	for (i = 0; v + i < end; i++)
		if (strchr("\"'\\{}=", v[i]) != NULL) {
			buf_append(b, line, len);
			return;
		}
	buf_append(b, line, (size_t)(v - line));
	buf_putc(b, '"');
	buf_append(b, v, (size_t)(end - v));
	buf_putc(b, '"');
}

static char *
preprocess(const char *text)
{
	struct buf	 b = BUF_INIT;
	char		*out, *p, *q, *line;
	char		 quote = 0;

	out = xstrdup(text);
	for (p = out; *p; p++) {
		if (quote) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '#') {
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
			if (*p == '\0')
				break;
		}
	}
	quote = 0;
	for (line = out; *line != '\0'; line = p + (*p != '\0')) {
		size_t	 len;
		bool	 inside = quote != 0;	/* a string from an earlier line */

		p = line + strcspn(line, "\n");
		len = (size_t)(p - line);
		for (q = line; q < p; q++) {
			if (quote && *q == '\\' && q + 1 < p)
				q++;
			else if (quote && *q == quote)
				quote = 0;
			else if (!quote && (*q == '"' || *q == '\''))
				quote = *q;
		}
		while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
		    line[len - 1] == '\r'))
			len--;
		if (inside)
			buf_append(&b, line, len);
		else
			append_line(&b, line, len);
		buf_append(&b, line + len, (size_t)(p - line) - len);
		if (len > 0 && line[len - 1] == '=' &&
		    strspn(line, " \t") < len - 1)
			buf_append(&b, " \"\"", 3);
		if (*p == '\n')
			buf_putc(&b, '\n');
	}
	free(out);
	buf_reserve(&b, 0);
	return (buf_steal(&b, NULL));
}

#define CONFIG_FILE_MAX	(4 * 1024 * 1024)

static char *
read_text_file(const char *path, char **errors_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[8192];
	size_t		 n;
	FILE		*fp;

	if ((fp = fopen(path, "re")) == NULL) {
		*errors_r = xasprintf("%s: cannot read: %s", path, strerror(errno));
		return (NULL);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (b.len + n > CONFIG_FILE_MAX) {
			*errors_r = xasprintf("%s: larger than %d bytes; is it "
			    "really a configuration file?", path, CONFIG_FILE_MAX);
			(void)fclose(fp);
			buf_free(&b);
			return (NULL);
		}
		buf_append(&b, chunk, n);
	}
	if (ferror(fp)) {
		*errors_r = xasprintf("%s: read error: %s", path, strerror(errno));
		(void)fclose(fp);
		buf_free(&b);
		return (NULL);
	}
	(void)fclose(fp);
	if (memchr(b.data ? b.data : "", '\0', b.len) != NULL) {
		*errors_r = xasprintf("%s: contains a NUL byte", path);
		buf_free(&b);
		return (NULL);
	}
	buf_reserve(&b, 0);
	return (buf_steal(&b, NULL));
}

/*
 * The line of a "{" that no "}" closes (text as preprocess() leaves it:
 * no comments), or 0. libconfuse 3.3 takes the end of the file for the
 * missing "}" without a word.
 */
static int
unclosed_brace(const char *text)
{
	const char	*p;
	int		 line = 1, depth = 0, open_line[16];
	char		 quote = 0;

	for (p = text; *p; p++) {
		if (*p == '\n')
			line++;
		if (quote) {
			if (*p == '\\' && p[1] != '\0' && p[1] != '\n')
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '{') {
			if (depth < (int)(sizeof(open_line) / sizeof(open_line[0])))
				open_line[depth] = line;
			depth++;
		} else if (*p == '}' && depth > 0) {
			depth--;
		}
	}
	if (depth == 0)
		return (0);
	return (open_line[0]);
}

static int
load_text(const char *text, const char *name, config_probe_fn probe,
    void *probe_arg, bool keep, struct hs_config **conf_r, char **errors_r)
{
	char	*clean = preprocess(text), *more;
	int	 rc, line;

	rc = config_load_common(NULL, clean, name, probe, probe_arg, keep,
	    conf_r, errors_r);
	if ((line = unclosed_brace(clean)) > 0) {
		more = xasprintf("%s%s%s:%d: this section is not closed: a \"}\" "
		    "is missing before the end of the file", rc < 0 &&
		    *errors_r != NULL ? *errors_r : "", rc < 0 &&
		    *errors_r != NULL ? "\n" : "", name, line);
		if (rc < 0)
			free(*errors_r);
		*errors_r = more;
		if (rc == 0 && !keep)
			config_free(conf_r);
		rc = -1;
	}
	free(clean);
	if (*conf_r != NULL)
		(*conf_r)->text = xstrdup(text);
	return (rc);
}

static int
load_file(const char *path, config_probe_fn probe, void *probe_arg,
    bool keep, struct hs_config **conf_r, char **errors_r)
{
	char	*text;
	int	 rc;

	if (path == NULL)
		path = CONFIG_DEFAULT_FILE;
	*conf_r = NULL;
	if ((text = read_text_file(path, errors_r)) == NULL)
		return (-1);
	rc = load_text(text, path, probe, probe_arg, keep, conf_r, errors_r);
	free(text);
	return (rc);
}

int
config_load(const char *path, config_probe_fn probe, void *probe_arg,
    struct hs_config **conf_r, char **errors_r)
{
	return (load_file(path, probe, probe_arg, false, conf_r, errors_r));
}

int
config_load_anyway(const char *path, struct hs_config **conf_r,
    char **errors_r)
{
	return (load_file(path, NULL, NULL, true, conf_r, errors_r));
}

int
config_load_string(const char *text, const char *name, config_probe_fn probe,
    void *probe_arg, struct hs_config **conf_r, char **errors_r)
{
	return (load_text(text, name, probe, probe_arg, false, conf_r,
	    errors_r));
}

static void
plugin_cfg_clear(struct hs_config_plugin *pc)
{
	size_t	 j;

	for (j = 0; j < pc->nopts; j++) {
		free(pc->opt_names[j]);
		free(pc->opt_values[j]);
	}
	free(pc->opt_names);
	free(pc->opt_values);
	free(pc->name);
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
		    params[i].type == P_OPTPATH ||
		    params[i].type == P_NAME || params[i].type == P_VERDICTS ||
		    params[i].type == P_FIELDS ||
		    params[i].off == F(syslog_facility))
			free(*(char **)((char *)conf + params[i].off));
	}
	for (i = 0; i < conf->nscanners; i++)
		plugin_cfg_clear(&conf->scanners[i]);
	free(conf->scanners);
	for (i = 0; i < conf->nplugin_sections; i++)
		plugin_cfg_clear(&conf->plugin_sections[i]);
	free(conf->plugin_sections);
	for (i = 0; i < conf->ndomains; i++)
		free(conf->domains[i].domain);
	free(conf->domains);
	ruleconf_free(&conf->rulesets);
	free(conf->scanners_text);
	for (i = 0; i < NEXTRAS; i++)
		free(*(char **)((char *)conf + policy_extras[i].off));
	for (i = 0; i < NWEBPARAMS; i++)
		if (web_params[i].type == P_STR || web_params[i].type == P_PATH ||
		    web_params[i].type == P_OPTPATH)
			free(*(char **)((char *)conf + web_params[i].off));
	free(conf->file);
	free(conf->text);
	free(conf);
	*confp = NULL;
}

const char *
config_check_value(enum hs_opt_type type, const char *value, long *num_r)
{
	char	*end;
	long	 v = 0;

	switch (type) {
	case HS_OPT_STR:
	case HS_OPT_LIST:
		break;
	case HS_OPT_PATH:
		if (value[0] != '/')
			return ("must be an absolute path");
		break;
	case HS_OPT_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0' || v < 0)
			return ("not a whole number >= 0");
		break;
	case HS_OPT_BOOL:
		if (strcmp(value, "yes") == 0)
			v = 1;
		else if (strcmp(value, "no") != 0)
			return ("use yes or no");
		break;
	case HS_OPT_TIME:
		if (config_parse_time(value, &v) < 0)
			return ("bad time (use a number with ms, s, m, h or d)");
		break;
	case HS_OPT_SIZE:
		if (config_parse_size(value, &v) < 0)
			return ("bad size (use a number, optionally with k, M or G)");
		break;
	default:
		return ("unknown option type");
	}
	*num_r = v;
	return (NULL);
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
	case P_OPTPATH:
	case P_NAME:
	case P_VERDICTS:
	case P_FIELDS:
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
		else if (v % 86400000L == 0)
			(void)snprintf(buf, size, "%ldd", v / 86400000L);
		else if (v % 3600000L == 0)
			(void)snprintf(buf, size, "%ldh", v / 3600000L);
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

static void
print_value(FILE *fp, const char *indent, const char *name, const char *val)
{
	if (val[0] == '\0' || strpbrk(val, " \t#\"',$") != NULL)
		fprintf(fp, "%s%s = \"%s\"\n", indent, name, val);
	else
		fprintf(fp, "%s%s = %s\n", indent, name, val);
}

/*
 * A database conninfo or URI with its password replaced by "*****", so
 * that holdscand -n never shows it: "password=..." (up to a blank, or a
 * quoted value) and the password of "scheme://user:password@host".
 */
static void
hide_password(const char *in, char *out, size_t size)
{
	const char	*p, *end, *at, *colon;
	size_t		 n;

	(void)snprintf(out, size, "%s", in);
	if ((p = strstr(in, "://")) != NULL &&
	    (at = strchr(p + 3, '@')) != NULL &&
	    (colon = memchr(p + 3, ':', (size_t)(at - p - 3))) != NULL &&
	    memchr(p + 3, '/', (size_t)(at - p - 3)) == NULL) {
		n = (size_t)(colon + 1 - in);
		(void)snprintf(out, size, "%.*s*****%s", (int)n, in, at);
		return;
	}
	if ((p = strstr(in, "password")) == NULL ||
	    (p != in && !isspace((unsigned char)p[-1])))
		return;
	end = p + strlen("password");
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '=')
		return;
	end++;
	while (isspace((unsigned char)*end))
		end++;
	n = (size_t)(end - in);
	if (*end == '\'') {
		for (end++; *end != '\0' && *end != '\''; end++)
			if (*end == '\\' && end[1] != '\0')
				end++;
		if (*end == '\'')
			end++;
	} else {
		while (*end != '\0' && !isspace((unsigned char)*end))
			end++;
	}
	(void)snprintf(out, size, "%.*s*****%s", (int)n, in, end);
}

void
config_print(const struct hs_config *conf, FILE *fp, bool only_set)
{
	char	 val[4200];
	size_t	 i, j;
	int	 v;

	for (i = 0; i < NPARAMS; i++) {
		if (only_set && !(conf->set_mask & (1ULL << i)))
			continue;
		param_format(&params[i], conf, val, sizeof(val));
		if (params[i].off == F(database)) {
			char	 shown[sizeof(val)];

			hide_password(val, shown, sizeof(shown));
			print_value(fp, "", params[i].name, shown);
			continue;
		}
		print_value(fp, "", params[i].name, val);
	}
	if (!only_set || conf->nscanners > 0) {
		val[0] = '\0';
		for (i = 0; i < conf->nscanners; i++)
			(void)snprintf(val + strlen(val), sizeof(val) - strlen(val),
			    "%s%s", i ? ", " : "", conf->scanners[i].name);
		print_value(fp, "", "scanners", val);
	}
	for (i = 0; i < conf->nplugin_sections; i++) {
		const struct hs_config_plugin *pc = &conf->plugin_sections[i];

		fprintf(fp, "plugin %s {\n", pc->name);
		for (j = 0; j < pc->nopts; j++)
			print_value(fp, "    ", pc->opt_names[j], pc->opt_values[j]);
		fprintf(fp, "}\n");
	}
	fprintf(fp, "policy {\n");
	for (v = 0; v < VERDICT_COUNT; v++)
		if (!only_set || strcmp(policy_default_names[v],
		    confword_action_name(conf->policy_action[v])) != 0)
			print_value(fp, "    ", policy_keys[v],
			    confword_action_name(conf->policy_action[v]));
	for (i = 0; i < NEXTRAS; i++) {
		const char *cur = *(char *const *)((const char *)conf +
		    policy_extras[i].off);

		if (!only_set || strcmp(cur, policy_extras[i].def) != 0)
			print_value(fp, "    ", policy_extras[i].name, cur);
	}
	fprintf(fp, "}\n");
	{
		bool	 any = false;

		for (i = 0; i < NWEBPARAMS; i++) {
			param_format(&web_params[i], conf, val, sizeof(val));
			if (only_set && strcmp(val, web_params[i].def) == 0)
				continue;
			if (!any)
				fprintf(fp, "web {\n");
			any = true;
			print_value(fp, "    ", web_params[i].name, val);
		}
		if (any)
			fprintf(fp, "}\n");
	}
	for (i = 0; i < conf->ndomains; i++) {
		fprintf(fp, "domain %s {\n", conf->domains[i].domain);
		for (v = 0; v < VERDICT_COUNT; v++)
			if (conf->domains[i].set[v])
				print_value(fp, "    ", policy_keys[v],
				    confword_action_name(conf->domains[i].action[v]));
		fprintf(fp, "}\n");
	}
	ruleconf_print(&conf->rulesets, policy_keys, fp);
}

bool
config_copy_listed(const struct hs_config *conf, enum verdict v,
    const char *addr, size_t len)
{
	return ((unsigned)v < VERDICT_COUNT && ruleconf_copy_listed(
	    &conf->rulesets, conf->copy_to[v], v, addr, len));
}

int
config_control_socket(const struct hs_config *conf, char *buf, size_t size)
{
	const char	*slash;
	int		 n;

	if (conf->web_control_socket[0] != '\0')
		n = snprintf(buf, size, "%s", conf->web_control_socket);
	else if ((slash = strrchr(conf->pid_file, '/')) != NULL)
		n = snprintf(buf, size, "%.*s/control.sock",
		    (int)(slash - conf->pid_file), conf->pid_file);
	else
		n = snprintf(buf, size, "control.sock");
	return (n < 0 || (size_t)n >= size ? -1 : 0);
}

uint64_t
config_digest(const struct hs_config *conf, const char *extra)
{
	uint64_t	 h = 14695981039346656037ULL;	/* FNV-1a 64 */
	const char	*p;
	char		*text = NULL;
	size_t		 len = 0, i;
	FILE		*fp;

	if ((fp = open_memstream(&text, &len)) == NULL)
		return (0);
	config_print(conf, fp, false);
	if (extra != NULL)
		(void)fprintf(fp, "%s\n", extra);
	if (fclose(fp) != 0) {
		free(text);
		return (0);
	}
	for (i = 0, p = text; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	free(text);
	return (h);
}

const char *
config_name_at(size_t i)
{
	return (i < NPARAMS ? params[i].name : NULL);
}


int
config_syslog_facility(const struct hs_config *conf)
{
	static const struct {
		const char	*name;
		int		 fac;
	} tab[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, conf->syslog_facility) == 0)
			return (tab[i].fac);
	return (LOG_MAIL);
}

int
config_file_safe(const char *path, char **error_r)
{
	struct stat	 st;
	int		 fd;

	/* The file itself, not what a link points to... */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return (-1);
	}
	(void)close(fd);
	if (!S_ISREG(st.st_mode)) {
		*error_r = xasprintf("%s is not a regular file", path);
		return (-1);
	}
	if (geteuid() == 0 && st.st_uid != 0) {
		*error_r = xasprintf("%s is owned by uid %lu, not root; fix "
		    "with: chown root %s", path, (unsigned long)st.st_uid, path);
		return (-1);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		*error_r = xasprintf("%s is writable by group or others; fix "
		    "with: chmod go-w %s", path, path);
		return (-1);
	}
	return (0);
}
