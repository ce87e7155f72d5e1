/*
 * cli.h - the one-shot commands of holdscan-scanner: "check" for
 * holdscand -n, holdscand's start and holdscan check-config, "scan" for
 * holdscan scan.
 *
 * They run as whoever started them (holdscand and holdscan start them as
 * worker_user when they run as root), read holdscan.conf's text from a
 * descriptor their caller gives them, and never touch the queue.
 */
#ifndef HS_CLI_H
#define HS_CLI_H

#include <stdbool.h>

struct cli_args {
	const char	*config_path;	/* names the configuration; read when
					   config_fd < 0 */
	int		 config_fd;	/* its text, or -1 */
	const char	*user;		/* whom we run as, for messages */
};

/*
 * cli_check() loads the configuration as the scanner parent does, every
 * plugin section checked against its plugin's option table. Errors go to
 * the standard output, one a line as config.c words them, and the result
 * is EX_CONFIG. With start, each plugin of scanners is then started as
 * the scanner parent would start it (load, options, init; in a child of
 * its own), and each one that fails is a line on the standard output,
 * "plugin NAME, started as worker_user USER: WHAT" (what it said, or
 * its error), and the result 1. 0 when all is well.
 */
int	 cli_check(const struct cli_args *a, bool start);

/*
 * cli_scan() is holdscan scan: the message is read from the standard
 * input (LF line ends), argv holds "[--sender S] [--rcpt R]... NAME";
 * every plugin of scanners scans it as a worker would and the verdicts,
 * the added headers and the policy's action go to the standard output.
 * 0; EX_CONFIG when the configuration or a plugin's start fails; 2 for
 * a usage error.
 */
int	 cli_scan(const struct cli_args *a, int argc, char **argv);

/*
 * cli_learn() is holdscan learn: argv holds "spam|ham NAME", the message
 * is read from the standard input; each plugin of scanners that can
 * learn (spamd) is started and taught, one line each on the standard
 * output, "NAME: PLUGIN: what it said". 0 when every one learnt (or
 * knew it), 1 when one failed, 3 when no plugin can learn, EX_CONFIG
 * when the configuration or a plugin's start fails, 2 for a usage error.
 */
int	 cli_learn(const struct cli_args *a, int argc, char **argv);

#endif
