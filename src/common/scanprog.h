/*
 * scanprog.h - run the scanner program (holdscan-scanner) for a check.
 *
 * holdscand's master and the holdscan tool load no plugin, so what only
 * the plugins can say (is this plugin section right? does the plugin
 * start?) they ask of the scanner program: as worker_user when they run
 * as root, with the configuration's text on a descriptor, its output
 * collected.
 */
#ifndef HS_SCANPROG_H
#define HS_SCANPROG_H

#include <stdbool.h>
#include <sys/types.h>

struct scanprog {
	const char	*program;	/* scanner_program */
	const char	*config_path;	/* names the configuration */
	const char	*config_text;	/* as read (hs_config.text) */
	const char	*ident;		/* log name for what it logs ("holdscan") */
	uid_t		 uid;		/* (uid_t)-1: run it as ourselves */
	gid_t		 gid;
	char		 user[64];	/* whom it runs as, for its messages */
};

/*
 * scanprog_user() fills sp's uid, gid and user for worker_user: as root,
 * those of user, which must exist and be neither root nor the mail owner
 * (owner_uid; (uid_t)-1 when not known); not as root, (uid_t)-1, as
 * ourselves. 0, or -1 with a sentence in *error_r (owned by the caller).
 */
int	 scanprog_user(struct scanprog *sp, const char *user, uid_t owner_uid,
	    char **error_r);

/*
 * scanprog_check() runs "holdscan-scanner check" ("check -s" with start:
 * the plugins of scanners are started too) and returns its verdict: 0
 * all is well; EX_CONFIG the configuration has errors, in *out_r one a
 * line ("file:line: ..."); 1 problems, in *out_r one a line; -1 it could
 * not be run, a sentence in *out_r. *out_r is owned by the caller. What
 * it logs goes to our standard error.
 */
int	 scanprog_check(const struct scanprog *sp, bool start, char **out_r);

/* Does the configuration name any plugin (so that there is something to check)? */
struct hs_config;
bool	 scanprog_needed(const struct hs_config *conf);

#endif
