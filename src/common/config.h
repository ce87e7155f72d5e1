/*
 * config.h - holdscan.conf: schema, defaults, validation, printing.
 *
 * One table (config.c) names every parameter with its type, default,
 * limits and one-line description; the parser (libconfuse), the
 * validators, `holdscand -n` and the documentation checks all use it.
 * A loaded config is immutable; a reload builds a new one.
 */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/confword.h"
#include "common/paths.h"
#include "common/ruleconf.h"
#include "common/verdict.h"
#include "holdscan/plugin.h"

#define CONFIG_DEFAULT_FILE	paths_config_file	/* common/paths.h */

enum fsync_method {
	FSYNC_SYNCFS,		/* one syncfs(2) per batch step */
	FSYNC_FILE,		/* fsync(2) every file */
};

/* What happens to mail set aside unscanned when set_aside_lifetime ends. */
enum aside_expiry {
	EXPIRE_QUARANTINE,	/* into the quarantine, verdict scan-failed */
	EXPIRE_BOUNCE,		/* into the quarantine, and a notice to the sender */
	EXPIRE_DELIVER_TAGGED,	/* delivered with the not-scanned header */
};

/* A plugin's section: the options the file set, in file order. */
struct hs_config_plugin {
	char		*name;
	char		**opt_names;
	char		**opt_values;
	size_t		 nopts;
};

/* A domain "example.org" { } section: actions that override the policy. */
struct hs_config_domain {
	char		*domain;
	enum policy_action action[VERDICT_COUNT];
	bool		 set[VERDICT_COUNT];
};

struct hs_config {
	char	*file;			/* path it was read from */
	char	*text;			/* its text as read: the scanner program's */

	/* where things are */
	char	*postfix_config_directory;
	char	*state_directory;
	char	*state_region_directory; /* regions.c; "": in state_directory */
	char	*quarantine_directory;
	char	*holdscan_queue_subdir;	/* inside queue_directory */
	char	*pid_file;
	char	*metrics_file;
	char	*plugin_directory;
	char	*scanner_program;	/* holdscan-scanner */
	char	*scanner_temp_directory; /* BASE of scratch.c */

	/* logging */
	char	*syslog_name;
	char	*syslog_facility;
	char	*log_file;		/* "" : syslog */
	bool	 verbose;

	/* processes */
	char	*worker_user;
	long	 worker_count;		/* 0: two per CPU */
	long	 scan_time_limit;	/* ms */
	long	 scan_retry_limit;
	long	 worker_memory_limit;	/* bytes, RLIMIT_AS; 0: none */
	long	 worker_cpu_limit;	/* seconds, RLIMIT_CPU per worker life; 0: none */
	long	 worker_max_scans;	/* recycle a worker after this many */
	bool	 worker_seccomp;	/* workers under sandbox.c's filter */

	/* batching */
	long	 batch_max_messages;
	long	 batch_max_bytes;
	long	 batch_max_wait;	/* ms */
	long	 max_in_flight;		/* claimed and not yet committed */
	long	 rescan_interval;	/* ms */
	long	 daemon_timeout;	/* ms: the event loop's watchdog */
	long	 message_size_limit;	/* bytes; larger files are set aside */

	/* mail set aside unscanned */
	long	 set_aside_lifetime;	/* ms; 0: never expires */
	enum aside_expiry set_aside_expiry_action;
	bool	 set_aside_rescan;	/* scan again when the scanners change */

	/* the message log */
	bool	 message_log;
	long	 message_log_retention;	/* ms */

	/* a farm */
	char	*database;		/* libpq conninfo or URI; "": none */
	long	 outbox_limit;		/* records waiting to be shipped */

	/* commit */
	enum fsync_method fsync_method;

	/* the built-in header */
	char	*scan_header_name;
	char	*scan_header_text;	/* $version and $myhostname expanded */
	char	*strip_header_names;	/* removed before ours: mailhdr.h list */

	/* notifications (verdict lists: see confword_verdict_mask()) */
	char	*notify_postmaster;	/* verdicts that tell the postmaster */
	char	*notify_recipients;	/* verdicts that tell the recipients of quarantined mail */
	char	*postmaster_address;
	char	*notify_postmaster_template;
	char	*notify_recipient_template;
	char	*archive_directory;	/* "" for none */
	char	*notify_senders;	/* verdicts that tell the sender (no spam) */
	char	*notify_sender_template;

	/* quarantine digests */
	char	*digest_url;		/* "": no digests */
	long	 digest_link_lifetime;	/* ms */
	char	*digest_key_file;
	char	*digest_used_file;	/* holdscan-web's */
	char	*digest_from;
	char	*digest_recipients;	/* domains; "": all */
	bool	 digest_html;		/* a text/html alternative too */

	/* scanning: plugins in order, with their sections */
	char		*scanners_text;		/* as written */
	struct hs_config_plugin *scanners;
	size_t		 nscanners;
	struct hs_config_plugin *plugin_sections;	/* every plugin { } in the file */
	size_t		 nplugin_sections;

	/* policy { } and domain { } */
	enum policy_action policy_action[VERDICT_COUNT];
	char		*subject_tag;	/* tag: put in front of the subject */
	char		*tag_header_name;	/* tag, deliver-cleaned: "" for none */
	char		*tag_header_text;	/* $verdict, $reason, $score */
	/* delivered with that verdict: put in front of the subject ("": none) */
	char		*subject_tags[VERDICT_COUNT];
	char		*html_disarm;		/* verdicts whose HTML is disarmed */
	char		*html_disarm_mode;	/* "disarm" or "text" */
	char		*highlight_phishing;	/* verdicts whose phishing links get a warning */
	/* delivered with that verdict: a copy to these (checked addresses) */
	char		*copy_to[VERDICT_COUNT];
	struct hs_config_domain *domains;
	size_t		 ndomains;

	/* ruleset { } sections (common/ruleconf.h); internal_networks */
	struct ruleconf	 rulesets;
	char		*internal_networks;	/* as written */

	/* web { }: the web console (holdscan-web) and holdscand's control socket */
	char	*web_listen;		/* "ADDRESS:PORT" */
	char	*web_user;		/* holdscan-web's unprivileged user */
	char	*web_control_socket;	/* "": config_control_socket() */
	char	*web_document_root;	/* the UI's static files */
	char	*web_accounts_file;	/* holdscan web user add/del/passwd */
	long	 web_session_lifetime;	/* ms */
	long	 web_login_attempts;	/* failures per name and per address in 15 min */
	char	*web_tls_certificate;	/* PEM; "" : plain HTTP */
	char	*web_tls_key;
	char	*web_database;		/* holdscan-web's conninfo; "": database */

	/* private: which parameters the file set (bit i = params[i]) */
	unsigned long long set_mask;
};

/*
 * config_load() reads path (CONFIG_DEFAULT_FILE when NULL) and returns 0
 * with a new config, or -1 with every problem found, one per line
 * ("file:line: parameter: what is wrong"), in *errors_r (owned by the
 * caller). A missing file is an error; an empty one gives all defaults.
 * config_load_string() parses text (tests, fuzzing); name is used in messages.
 * Either keeps the text in conf->text.
 */
/*
 * A plugin section's options are the plugin's own. With a probe, the
 * loader asks it for the option table of each plugin named in scanners
 * or in a plugin section (NULL and *error_r set when the plugin cannot
 * be loaded) and checks each option against it: the scanner program's
 * way. With probe NULL (holdscand's master, the holdscan tool: they
 * never load a plugin) plugin sections are kept as written, unchecked;
 * the scanner program checks them.
 */
typedef const struct hs_plugin_option *(*config_probe_fn)(void *arg,
	    const char *plugin_dir, const char *plugin, char **error_r);

/* Different option names all plugin sections of a file may use, without a probe. */
#define CONFIG_PLUGIN_NAMES_MAX	256

int	 config_load(const char *path, config_probe_fn probe, void *probe_arg,
	    struct hs_config **conf_r, char **errors_r);
int	 config_load_string(const char *text, const char *name,
	    config_probe_fn probe, void *probe_arg, struct hs_config **conf_r,
	    char **errors_r);
/*
 * config_load_anyway() is config_load() without a probe that gives a
 * configuration even when the file has errors (-1 with *errors_r, and
 * *conf_r where each bad value kept its default; NULL only when the file
 * cannot be read): holdscand -n and holdscan check-config still run the
 * scanner program, as its worker_user, to report every error at once.
 */
int	 config_load_anyway(const char *path, struct hs_config **conf_r,
	    char **errors_r);
void	 config_free(struct hs_config **conf);
/*
 * config_file_safe() checks, before the file is read, that path is a
 * regular file that only root can change (when we run as root: owned by
 * root, not writable by group or others; as another user: not writable
 * by group or others). 0, or -1 with a sentence in *error_r that ends
 * with its fix.
 */
int	 config_file_safe(const char *path, char **error_r);

/*
 * config_print() writes "name = value" for each parameter, in table
 * order: all of them, or (only_set) those the file set, as postconf -n.
 */
void	 config_print(const struct hs_config *conf, FILE *fp, bool only_set);

/*
 * A 64-bit hash of the effective configuration (config_print() of all of
 * it) and of extra (may be NULL): equal for configurations that scan
 * alike, whatever their comments and layout. 0 if it cannot be made.
 */
uint64_t config_digest(const struct hs_config *conf, const char *extra);

/*
 * config_control_socket() puts the path of holdscand's control socket
 * into buf: web { control_socket }, or when it is empty control.sock in
 * pid_file's directory. 0, or -1 when it does not fit.
 */
int	 config_control_socket(const struct hs_config *conf, char *buf,
	    size_t size);

/* The name of parameter i in table order, or NULL past the last one. */
const char *config_name_at(size_t i);

/* Check a plugin option value by type: NULL if fine, else what is wrong. */
const char *config_check_value(enum hs_opt_type type, const char *value,
	    long *num_r);

/*
 * config_copy_listed() says whether addr[len] is in verdict v's copy list:
 * the policy section's copy_<v> or a rule's (ruleconf_copy_listed()).
 */
bool	 config_copy_listed(const struct hs_config *conf, enum verdict v,
	    const char *addr, size_t len);

/* syslog(3) facility of syslog_facility (LOG_MAIL, ...). */
int	 config_syslog_facility(const struct hs_config *conf);

/* Parse "200ms", "5s", "2m", "1h", "1d" into ms; "10k", "5M", "1G" into bytes. */
int	 config_parse_time(const char *s, long *ms_r);
int	 config_parse_size(const char *s, long *bytes_r);

#endif
