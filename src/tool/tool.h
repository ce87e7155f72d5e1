/*
 * tool.h - the holdscan tool's context and what its commands share:
 * usage errors, the configuration, the mail owner's identity, the state
 * environment, the audit log, options and times.
 */
#ifndef HS_TOOL_H
#define HS_TOOL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "commit/commit.h"
#include "common/config.h"
#include "common/queue.h"
#include "quarantine/quarantine.h"
#include "state/journal.h"
#include "state/msglog.h"
#include "state/statedb.h"

struct command;

struct tool {
	const char	*config_path;
	struct hs_config *conf;
	struct queue_layout *ql;
	bool		 json;
	bool		 json_wanted;	/* --json given: tool_load()'s failure too */
	bool		 tty;		/* stdout is a terminal */
	int		 width;		/* its width; 0: do not cut lines */
	uid_t		 invoker;	/* real uid at start, for the log */
	/* the state, once opened */
	int		 qdirfd;
	struct statedb	*sdb;
	struct journal	*journal;
	struct quarantine *q;
	struct msglog	*msglog;	/* the message log (read always) */
	struct commit_ctx commit;
	bool		 have_commit;
	const struct command *cmd;	/* the command being run */
	/* a read-only command's configuration errors (it runs on anyway) */
	char		*config_errors;
};

/* One command of the table in holdscan.c. */
struct command {
	const char	*name;
	const char	*sub;		/* second word, or NULL */
	const char	*args;
	const char	*summary;
	int		 (*run)(struct tool *, int, char **);
	bool		 state;		/* opens the state environment */
	bool		 looks_only;	/* changes nothing: runs despite config errors */
};

/* "holdscan: what went wrong" on stderr; returns 1. */
int	 tool_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of the command being run: what, then its usage; exit 2. */
void	 tool_bad_usage(const struct tool *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
/* An unknown option or one argument too many; exit 2. */
void	 tool_bad_arg(const struct tool *t, const char *arg)
	    __attribute__((noreturn));
/*
 * The configuration and the Postfix instance's layout; exits on errors
 * (EX_CONFIG), with json_wanted also {"error": ...} on stdout.
 */
void	 tool_load(struct tool *t);
/* As root, become the mail owner (before touching the state). */
void	 tool_become_mail_owner(struct tool *t);
/* An audit line in the mail log: who did what to the quarantine. */
void	 tool_audit(struct tool *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Open the state environment, the quarantine and holdscan's directories
 * in the queue as the mail owner, and finish interrupted releases; exits
 * on errors. tool_close_state() closes them.
 */
void	 tool_open_state(struct tool *t);
void	 tool_close_state(struct tool *t);
/* "--name value" or "--name=value": the value when argv[*i] is name. */
const char *tool_opt_value(const struct tool *t, int argc, char **argv,
	    int *i, const char *name);
/* A point in time given to option opt; a usage error if it is none. */
time_t	 tool_when_arg(const struct tool *t, const char *opt, const char *v);
/* "<a@b>" as given to an option: "a@b" (a copy, kept until exit); NULL stays. */
const char *tool_address_arg(const char *v);
/* The filters holdscan log and quarantine list share. */
struct tool_filters {
	time_t		 since, until;
	const char	*rcpt, *sender;	/* without <> */
};
/*
 * tool_filter_opt() takes argv[*i] (and its value) into f when it is
 * --since, --until, --recipient or --sender: true, else false.
 */
bool	 tool_filter_opt(const struct tool *t, int argc, char **argv, int *i,
	    struct tool_filters *f);
/* The start of a list: "[" in JSON. */
void	 tool_list_begin(const struct tool *t);
/* The end of a list of n messages: "]" in JSON, their count on a terminal. */
void	 tool_list_end(const struct tool *t, size_t n);
/* holdscand's pid (it holds its pid file locked), 0 not running, -1 unknown. */
long	 tool_daemon_pid(const struct tool *t);

/* The commands (cmd_*.c). */
int	 cmd_status(struct tool *, int, char **);
int	 cmd_check_config(struct tool *, int, char **);
int	 cmd_scan(struct tool *, int, char **);
int	 cmd_learn(struct tool *, int, char **);
/*
 * cmd_learn_file() teaches the scanners that learn that the message in
 * path (a message or a queue file), named what, is class ("spam" or
 * "ham"): holdscan learn's work, also done by quarantine release
 * --learn-ham. Its output is the scanner program's; returns its status.
 */
int	 cmd_learn_file(struct tool *t, const char *class, const char *what,
	    const char *path);
int	 cmd_q_list(struct tool *, int, char **);
int	 cmd_q_show(struct tool *, int, char **);
int	 cmd_q_release(struct tool *, int, char **);
int	 cmd_q_delete(struct tool *, int, char **);
int	 cmd_q_expire(struct tool *, int, char **);
int	 cmd_q_check(struct tool *, int, char **);
int	 cmd_list_add(struct tool *, int, char **);
int	 cmd_list_del(struct tool *, int, char **);
int	 cmd_list_show(struct tool *, int, char **);
int	 cmd_log(struct tool *, int, char **);
int	 cmd_trace(struct tool *, int, char **);
int	 cmd_db_init(struct tool *, int, char **);
int	 cmd_db_upgrade(struct tool *, int, char **);
int	 cmd_db_status(struct tool *, int, char **);
int	 cmd_web_user(struct tool *, int, char **);
int	 cmd_digest(struct tool *, int, char **);
/*
 * tool_log_event() appends an event (kind "released", "deleted",
 * "expired") to the message log record of id; a failure is a warning.
 */
void	 tool_log_event(struct tool *t, const char *id, const char *kind,
	    const char *new_id, const char *detail);

#endif
