/*
 * checkconf.h - the checks of "holdscan check-config" (holdscan 1).
 *
 * Everything that can be checked about an installation before holdscand
 * runs, beyond what the configuration parser already checked: the
 * Postfix instance (queue directory, a HOLD rule in header_checks,
 * mail_owner, master.cf) and holdscan's own files, directories, users
 * and plugins.
 */
#ifndef HS_CHECKCONF_H
#define HS_CHECKCONF_H

#include <stdio.h>

struct hs_config;
struct queue_layout;

/*
 * checkconf_run() writes one line per problem to out, Postfix style
 * ("holdscan: warning: WHAT; fix with: COMMAND"), and one line per fact
 * worth knowing that is not a problem ("holdscan: WHAT"); nothing when
 * all is well. Returns the number of problems. conf and ql are borrowed.
 */
int	 checkconf_run(const struct hs_config *conf,
	    const struct queue_layout *ql, FILE *out);

/*
 * checkconf_plugin_sections() runs the scanner program (as worker_user
 * when we are root) on conf's text to check its plugin sections: this
 * program loads no plugin. EX_CONFIG with every error of the file in
 * *errors_r (file order, as the scanner program words them); else 0, or
 * -1 with why it could not be asked in *errors_r (then checkconf_run()
 * reports the cause). *errors_r is owned by the caller.
 */
int	 checkconf_plugin_sections(const char *config_path,
	    const struct hs_config *conf, char **errors_r);

#endif
