/*
 * scanner.h - the scanner parent and its workers (the processes that
 * touch untrusted content).
 *
 * The scanner supervisor (supervisor.c) forks the scanner parent; it
 * drops to the worker user, loads the plugins once (engines compiled here
 * are shared copy-on-write by every worker), and forks workers when the
 * master asks.
 */
#ifndef HS_SCANNER_H
#define HS_SCANNER_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/log.h"
#include "common/queue.h"

struct scanner_setup {
	const char	*config_path;	/* re-read on reload */
	const struct hs_config *conf;
	const struct queue_layout *ql;
	uid_t		 uid;		/* worker user; (uid_t)-1: keep ours */
	gid_t		 gid;
	const char	*user;
};

/*
 * scanner_parent_main() runs the scanner parent on the control socket
 * ctl and never returns: it exits when the master goes away. Plugins are
 * loaded and initialised before the first worker is forked; a failure
 * there is fatal (the master sees the parent exit: at start it refuses
 * to run, later it starts another one after a pause). reread: the
 * master has re-read the configuration since setup->conf was loaded, so
 * read the file again for the plugins' options and the policy (the set
 * of plugins stays the one of setup->conf), as a reload would.
 */
void	 scanner_parent_main(int ctl, const struct scanner_setup *setup,
	    bool reread) HS_NORETURN;

#endif
