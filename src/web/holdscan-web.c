/*
 * NAME
 *	holdscan-web - the web console: quarantine, message log and
 *	statistics in the browser (holdscan-web(8))
 * SYNOPSIS
 *	holdscan-web [-f] [-v] [-c config_file]
 * DESCRIPTION
 *	Reads the web { } section of holdscan.conf, opens the listening
 *	socket, document_root and the TLS files as root, becomes web { user }
 *	(setgroups, setgid, setuid, and proves root is gone), then serves
 *	the API and the static UI with libmicrohttpd in one polling thread
 *	(http.c, api.c) while this thread waits for SIGTERM or SIGINT.
 *	Everything it knows of the mail it asks holdscand over its control
 *	socket; it never opens Postfix's queue, the quarantine or the state
 *	environment. It stays in the foreground (systemd, or the SysV
 *	script's start-stop-daemon --background); it logs to syslog, with
 *	-f to the standard error.
 *
 *	This program must never run as root after start-up, and never hold
 *	a mutable global: its state is struct web.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "common/config.h"
#include "common/log.h"
#include "common/queue.h"
#include "common/xalloc.h"
#include "web/accounts.h"
#include "web/digestkey.h"
#include "web/digestused.h"
#include "web/farmview.h"
#include "web/http.h"
#include "web/session.h"
#include "web/web.h"

static void
usage(int rc)
{
	(void)fprintf(rc ? stderr : stdout,
	    "usage: holdscan-web [-fv] [-c config_file]\n"
	    "       holdscan-web --help | --version\n"
	    "  -c FILE  configuration (default %s): its web { } section\n"
	    "  -f       log to the standard error, not syslog\n"
	    "  -v       log debugging detail\n"
	    "see holdscan-web(8) and doc/web.md\n", CONFIG_DEFAULT_FILE);
	exit(rc);
}

/* "127.0.0.1:8025", "[::1]:8025": a listening socket, or exit. */
static int
listen_on(const char *spec)
{
	struct addrinfo	 hints, *res = NULL;
	char		*host, *port;
	int		 fd, one = 1, rc;

	host = xstrdup(spec);
	if ((port = strrchr(host, ':')) == NULL || port[1] == '\0')
		hs_fatalx(EX_CONFIG, "web listen = %s: use ADDRESS:PORT", spec);
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host[strlen(host) - 1] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0)
		hs_fatalx(EX_CONFIG, "web listen = %s: %s", spec,
		    gai_strerror(rc));
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0)
		hs_fatal(EX_OSERR, "web listen = %s", spec);
	freeaddrinfo(res);
	free(host);
	return (fd);
}

static char *
read_pem(const char *path)
{
	char	 buf[65536];
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "web tls: %s", path);
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		hs_fatal(EX_IOERR, "web tls: %s", path);
	(void)close(fd);
	buf[len] = '\0';
	return (xstrdup(buf));
}

/* Postfix's order: groups, gid, uid; then prove root is gone. */
static void
become_web_user(const char *user)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		hs_fatalx(EX_NOUSER, "web user %s does not exist (make install "
		    "creates holdscan-web)", user);
	if (pw->pw_uid == 0)
		hs_fatalx(EX_CONFIG, "web user %s is root; use an unprivileged "
		    "user of its own", user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot become %s", user);
	if (setuid(0) == 0)
		hs_fatalx(EX_SOFTWARE, "could regain root after dropping it");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct hs_config *conf = NULL;
	struct MHD_Daemon *mhd;
	struct web	 w;
	const char	*config_path = CONFIG_DEFAULT_FILE;
	char		*errors = NULL, *cert = NULL, *key = NULL;
	bool		 foreground = false;
	sigset_t	 set;
	unsigned	 flags;
	int		 ch, sig, verbose = 0, lfd;

	while ((ch = getopt_long(argc, argv, "c:fhvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(0);
			break;
		case 'V':
			(void)printf("holdscan-web %s\n", HS_VERSION);
			return (0);
		default:
			usage(EX_USAGE);
		}
	}
	if (optind != argc)
		usage(EX_USAGE);
	log_open("holdscan-web", foreground ? LOG_DEST_STDERR : LOG_DEST_SYSLOG,
	    LOG_MAIL, verbose);
	if (config_file_safe(config_path, &errors) < 0)
		hs_fatalx(EX_CONFIG, "%s", errors);
	if (config_load(config_path, NULL, NULL, &conf, &errors) < 0) {
		(void)fprintf(stderr, "%s\n", errors);
		hs_fatalx(EX_CONFIG, "%s: configuration errors, not started",
		    config_path);
	}
	log_open("holdscan-web", foreground ? LOG_DEST_STDERR : LOG_DEST_SYSLOG,
	    config_syslog_facility(conf), verbose || conf->verbose);

	memset(&w, 0, sizeof(w));
	w.conf = conf;
	if (config_control_socket(conf, w.control_socket,
	    sizeof(w.control_socket)) < 0)
		hs_fatalx(EX_CONFIG, "web control_socket: path too long");
	if ((w.docroot_fd = open(conf->web_document_root, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) < 0)
		hs_fatal(EX_CONFIG, "web document_root %s",
		    conf->web_document_root);
	if ((conf->web_tls_certificate[0] != '\0') !=
	    (conf->web_tls_key[0] != '\0'))
		hs_fatalx(EX_CONFIG, "web: tls_certificate and tls_key go "
		    "together");
	if (conf->web_tls_certificate[0] != '\0') {
		cert = read_pem(conf->web_tls_certificate);
		key = read_pem(conf->web_tls_key);
		w.tls = true;
	}
	lfd = listen_on(conf->web_listen);
	/* Digest links: the key is read as root (0600 or 0640 root's). */
	if (conf->digest_url[0] != '\0') {
		char	*error = NULL;

		if (digestkey_load(conf->digest_key_file, w.digest_key,
		    &error) < 0) {
			hs_warnx("web: digest links do not work: %s (fix with: "
			    "holdscan digest --init-key)", error);
			free(error);
		} else {
			w.digest_used = digestused_new(conf->digest_used_file);
			w.digest_on = true;
		}
	}
	/* A farm: this host's name (Postfix's myhostname, as holdscand's). */
	if (conf->database[0] != '\0') {
		struct queue_layout *ql = NULL;
		char	*error = NULL;

		if (queue_layout_load(conf->postfix_config_directory, NULL,
		    &ql, &error) < 0) {
			hs_warnx("web: the farm's view is off: %s", error);
			free(error);
		} else {
			w.farm = farmview_new(conf->web_database[0] != '\0' ?
			    conf->web_database : conf->database,
			    ql->myhostname);
			queue_layout_free(&ql);
		}
	}
	become_web_user(conf->web_user);
	w.sessions = sessions_new(conf->web_session_lifetime / 1000);
	web_accounts_refresh(&w);
	if (w.accounts == NULL || w.accounts->n == 0)
		hs_warnx("web: no accounts in %s yet (holdscan web user add)",
		    conf->web_accounts_file);

	/* Signals for sigwait() here, blocked in every thread. */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	(void)sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		hs_fatalx(EX_OSERR, "pthread_sigmask");

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	if (w.tls)
		flags |= MHD_USE_TLS;
	mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, &w,
	    MHD_OPTION_LISTEN_SOCKET, lfd,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, &w,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    w.tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_END);
	if (mhd == NULL)
		hs_fatalx(EX_SOFTWARE, "libmicrohttpd did not start on %s",
		    conf->web_listen);
	hs_info("started: %s://%s as %s, holdscand at %s%s%s", w.tls ?
	    "https" : "http", conf->web_listen, conf->web_user,
	    w.control_socket, w.farm != NULL ? ", the farm's database as host " :
	    "", w.farm != NULL ? farmview_host(w.farm) : "");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	MHD_stop_daemon(mhd);
	hs_info("stopped");
	sessions_free(&w.sessions);
	farmview_free(&w.farm);
	accounts_free(&w.accounts);
	digestused_free(&w.digest_used);
	sodium_memzero(w.digest_key, sizeof(w.digest_key));
	(void)close(w.docroot_fd);
	free(cert);
	free(key);
	config_free(&conf);
	return (0);
}
