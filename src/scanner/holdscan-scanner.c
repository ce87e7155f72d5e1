/*
 * NAME
 *	holdscan-scanner - holdscan's scanner program (8)
 * SYNOPSIS
 *	holdscan-scanner [-v] [-c config_file] [-d fd] [-l ident]
 *	    [-L stderr|syslog|file] [-F facility] [-u user] command
 *
 *	command: serve | check [-s] | scan [--sender S] [--rcpt R]... NAME
 * DESCRIPTION
 *	The only holdscan program that loads scanner plugins, and with them
 *	libclamav and GMime. Nobody runs it by hand: holdscand's scanner
 *	supervisor starts "serve" as worker_user for each scanner parent,
 *	and holdscand -n, holdscand's start, holdscan check-config and
 *	holdscan scan run "check" or "scan" (as worker_user when they run
 *	as root). Everything it needs is on its command line or comes from
 *	its caller's descriptors:
 *
 *	serve	the scanner parent (scanner.c) on the control socket that is
 *		descriptor 3; the configuration arrives over it, and
 *		with it the scanners to run (again with each reload).
 *	check	the configuration checked as the scanner parent checks it,
 *		plugin sections included; with -s, each plugin also started
 *		as the scanner parent starts it (cli.c). Output: the errors
 *		(exit 78) or the problems (exit 1), one a line.
 *	scan	holdscan scan's scan of the message on the standard input.
 *
 *	-c names the configuration file (in messages; check and scan read
 *	it unless -d gives a descriptor with its text), -l, -L, -F and -v
 *	set the log as the caller's (the program name, stderr, syslog or
 *	holdscand's log_file, open as descriptor 4, the facility's number,
 *	verbosity), -u names the user we run as.
 *
 *	It closes, first of all, every descriptor but 0-2 and those its
 *	command line names (3 for serve, 4 with -L file, -d's), and the
 *	dynamic loader's LD_DEBUG_OUTPUT file when LD_DEBUG is set.
 *
 *	It must never run as root (it refuses), never keep a descriptor its
 *	caller did not name, and it opens no queue file: it reads only what
 *	it is handed.
 * DIAGNOSTICS
 *	Logs as its caller says (holdscand's name and destination). Exit
 *	status: 0, 1 problems found (check), 2 usage, sysexits(3) codes.
 */
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/wire.h"
#include "holdscan/plugin.h"
#include "scanner/cli.h"
#include "scanner/scanner.h"

static void __attribute__((noreturn))
usage(void)
{
	(void)fprintf(stderr, "usage: holdscan-scanner [-v] [-c config_file] "
	    "[-d fd] [-l ident] [-L stderr|syslog|file]\n"
	    "           [-F facility] [-u user] "
	    "serve | check [-s] | scan [--sender S] [--rcpt R]... NAME |\n"
	    "           learn spam|ham NAME\n"
	    "holdscand and holdscan run this program; see holdscand(8).\n");
	exit(EX_USAGE);
}

/* A non-negative number from the command line, or usage(). */
static int
number(const char *s)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 0 || n > 1 << 20)
		usage();
	return ((int)n);
}

int
main(int argc, char **argv)
{
	struct scanner_args sa;
	struct cli_args	 ca;
	struct passwd	*pw;
	struct stat	 st;
	enum log_dest	 dest = LOG_DEST_STDERR;
	bool		 logfile = false;
	const char	*ident = "holdscan-scanner", *user = NULL;
	bool		 start = false;
	int		 ch, facility = LOG_MAIL, verbose = 0, keep[4];

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		(void)printf("holdscan-scanner %s (plugin ABI %d)\n", HS_VERSION,
		    HS_PLUGIN_ABI_VERSION);
		return (0);
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		usage();
	memset(&sa, 0, sizeof(sa));
	memset(&ca, 0, sizeof(ca));
	ca.config_path = CONFIG_DEFAULT_FILE;
	ca.config_fd = -1;
	while ((ch = getopt(argc, argv, "+c:d:F:l:L:u:v")) != -1) {
		switch (ch) {
		case 'c':
			ca.config_path = optarg;
			break;
		case 'd':
			ca.config_fd = number(optarg);
			break;
		case 'F':
			facility = number(optarg);
			break;
		case 'l':
			ident = optarg;
			break;
		case 'L':
			if (strcmp(optarg, "syslog") == 0)
				dest = LOG_DEST_SYSLOG;
			else if (strcmp(optarg, "file") == 0)
				logfile = true;
			else if (strcmp(optarg, "stderr") != 0)
				usage();
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	/*
	 * Whatever else our caller had open, close-on-exec or not, is not
	 * ours: 0-2 stay, and the descriptors our command line names.
	 */
	keep[0] = strcmp(argv[0], "serve") == 0 ? SCANNER_CTL_FD : -1;
	keep[1] = logfile ? SCANNER_LOG_FD : -1;
	keep[2] = ca.config_fd;
	keep[3] = wire_loader_debug_fd();	/* LD_DEBUG's, if any */
	if (wire_close_all_but(keep, 4) < 0) {
		(void)fprintf(stderr, "holdscan-scanner: cannot close "
		    "descriptors: %s\n", strerror(errno));
		return (EX_OSERR);
	}
	log_open(ident, dest, facility, verbose);
	if (logfile) {
		if (fstat(SCANNER_LOG_FD, &st) < 0 || !S_ISREG(st.st_mode))
			hs_fatalx(EX_USAGE, "-L file: descriptor %d is not "
			    "log_file; holdscand starts this", SCANNER_LOG_FD);
		log_open_fd(ident, SCANNER_LOG_FD, verbose);
	}
	if (geteuid() == 0 || getuid() == 0)
		hs_fatalx(EX_USAGE, "holdscan-scanner must not run as root: it "
		    "loads plugins and reads hostile mail; holdscand and "
		    "holdscan start it as worker_user");
	if (user == NULL)
		user = (pw = getpwuid(geteuid())) != NULL ? pw->pw_name : "?";
	sa.config_path = ca.config_path;
	sa.user = user;
	ca.user = user;

	if (strcmp(argv[0], "serve") == 0 && argc == 1) {
		if (fstat(SCANNER_CTL_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
			hs_fatalx(EX_USAGE, "serve: descriptor %d is not the "
			    "control socket; holdscand starts this", SCANNER_CTL_FD);
		scanner_parent_main(SCANNER_CTL_FD, &sa);
	}
	if (strcmp(argv[0], "check") == 0) {
		if (argc == 2 && strcmp(argv[1], "-s") == 0)
			start = true;
		else if (argc != 1)
			usage();
		return (cli_check(&ca, start));
	}
	if (strcmp(argv[0], "scan") == 0)
		return (cli_scan(&ca, argc - 1, argv + 1));
	if (strcmp(argv[0], "learn") == 0)
		return (cli_learn(&ca, argc - 1, argv + 1));
	usage();
}
