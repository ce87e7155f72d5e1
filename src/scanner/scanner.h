/*
 * scanner.h - the scanner parent and its workers (the processes that
 * touch untrusted content), in holdscan-scanner.
 *
 * holdscand's scanner supervisor starts "holdscan-scanner serve" as
 * worker_user with its control socket as descriptor 3 (SCANNER_CTL_FD).
 * The scanner parent takes its configuration from the master over that
 * socket, loads the plugins once (engines compiled here are shared
 * copy-on-write by every worker), and forks workers when the master asks.
 */
#ifndef HS_SCANNER_H
#define HS_SCANNER_H

#include "common/log.h"

#define SCANNER_CTL_FD	3	/* the control socket of "serve" */
#define SCANNER_LOG_FD	4	/* holdscand's log_file, with -L file */

/* What the command line of "holdscan-scanner serve" says. */
struct scanner_args {
	const char	*config_path;	/* names the configuration in messages */
	const char	*user;		/* whom we run as, for messages */
};

/*
 * scanner_parent_main() runs the scanner parent on the control socket
 * ctl and never returns: it exits when the master goes away. The first
 * message must be WIRE_CONFIG; its configuration is checked (the plugin
 * sections against the plugins' option tables) and answered with
 * WIRE_CHECKED: errors end the process (EX_CONFIG). Plugins are loaded
 * and initialised before the first worker is forked; a failure there is
 * fatal (the master sees the parent exit: at start it refuses to run,
 * later it starts another one after a pause). The plugins are the
 * configuration's scanners. A WIRE_RELOAD brings a new configuration:
 * taken (answered WIRE_CHECKED ok, then a new generation announced)
 * once what it scans with is ready: the same plugins' state rebuilt, or
 * a new set of plugins started when the scanners list, their directory
 * or their options changed; refused with errors, and nothing changes,
 * when it is wrong or its plugins fail to load or initialise.
 */
void	 scanner_parent_main(int ctl, const struct scanner_args *args)
	    HS_NORETURN;

#endif
