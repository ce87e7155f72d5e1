/*
 * NAME
 *	escape - a test-only scanner plugin that tries to leave its worker
 * DESCRIPTION
 *	For e2e 1390, never installed. Code that a message made run in a
 *	worker (a bug in GMime or libclamav) would try to reach beyond it;
 *	when a message holds the marker, this plugin's scan does what such
 *	code would, from inside the worker, and reports what each attempt
 *	returned, as one warning line in the log and as the verdict's
 *	reason:
 *
 *	fork	fork(): a process that would outlive the worker;
 *	exec	execve("/bin/sh", "-c", "echo escaped >FILE") (option
 *		exec_file), in the child, or in the worker itself when
 *		fork failed (a worker the shell replaced is found out by the
 *		file);
 *	ptrace	ptrace(PTRACE_ATTACH) on the scanner parent;
 *	procmem	open("/proc/PPID/mem", O_RDWR) of the scanner parent (the
 *		way around ptrace);
 *	kill	kill(PPID, 0): a signal to the scanner parent;
 *	socket	socket(AF_INET, SOCK_STREAM);
 *	connect	connect() of that socket to 127.0.0.1:PORT (option
 *		connect_port), where the test listens.
 *
 *	Each is "ok" when it worked, else the errno's name ("EPERM");
 *	connect is "-" when there was no socket to connect. The line:
 *
 *	    escape: fork=EPERM exec=EPERM ptrace=EPERM procmem=EACCES
 *	    kill=EPERM socket=EPERM connect=-
 *
 *	The verdict is clean either way: the message must still be
 *	delivered. A message without the marker is clean and nothing is
 *	tried. The plugin declares no needs (HS_NEEDS_*): whether a worker
 *	may connect depends on the other plugins loaded with it (spamd).
 *
 *	It must never be installed, and never try anything on a message
 *	without the marker.
 */
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "holdscan/plugin.h"

extern char **environ;

/* The options are read for each message: a reload may change them. */
struct escape {
	const struct hs_host *host;
	const char	*marker;
	const char	*exec_file;
	long		 port;
};

static int
escape_options_read(struct escape *e, const char **error_r)
{
	const struct hs_host *h = e->host;

	e->marker = h->opt_str(h->host_ctx, "marker");
	e->exec_file = h->opt_str(h->host_ctx, "exec_file");
	e->port = h->opt_num(h->host_ctx, "connect_port");
	if (e->marker == NULL || e->marker[0] == '\0' || e->port <= 0 ||
	    e->port > 65535) {
		*error_r = "marker must not be empty, connect_port a port";
		return (-1);
	}
	return (0);
}

static const struct hs_plugin_option escape_options[] = {
	{ "marker", HS_OPT_STR, "HOLDSCAN-ESCAPE-MARKER",
	    "text in a message that makes the worker try to escape" },
	{ "exec_file", HS_OPT_PATH, "/nonexistent/holdscan-escaped",
	    "the file the shell it tries to run would create" },
	{ "connect_port", HS_OPT_INT, "9", "the loopback port it connects to" },
	{ NULL, 0, NULL, NULL },
};

/* "ok" for r >= 0, else errno's name. */
static const char *
outcome(int r, int err)
{
	const char	*name;

	if (r >= 0)
		return ("ok");
	name = strerrorname_np(err);
	return (name != NULL ? name : "error");
}

static const char *
try_exec(const struct escape *e, const char **fork_r)
{
	char		 cmd[512];
	char		*argv[4];
	pid_t		 pid;
	int		 r;

	(void)snprintf(cmd, sizeof(cmd), "echo escaped >%s", e->exec_file);
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = cmd;
	argv[3] = NULL;
	/* A child execs, so that a worker without a filter goes on. */
	if ((pid = fork()) < 0) {
		*fork_r = outcome(-1, errno);
		r = execve("/bin/sh", argv, environ);
		return (outcome(r, errno));
	}
	*fork_r = "ok";
	if (pid == 0) {
		(void)execve("/bin/sh", argv, environ);
		_exit(errno == EPERM ? 101 : 102);
	}
	if (waitpid(pid, &r, 0) < 0)
		return (outcome(-1, errno));
	if (WIFEXITED(r) && WEXITSTATUS(r) == 101)
		return ("EPERM");
	if (WIFEXITED(r) && WEXITSTATUS(r) == 102)
		return ("error");
	return ("ok");
}

static int
escape_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct escape	*e = ctx;
	struct sockaddr_in sin;
	const char	*fk, *ex, *pt, *pm, *kl, *so, *co = "-", *why;
	char		 path[64];
	pid_t		 ppid = getppid();
	int		 r, fd;

	res->verdict = HS_CLEAN;
	if (escape_options_read(e, &why) < 0 ||
	    memmem(msg->data, msg->len, e->marker, strlen(e->marker)) == NULL)
		return (0);
	ex = try_exec(e, &fk);
	r = (int)ptrace(PTRACE_ATTACH, ppid, NULL, NULL);
	pt = outcome(r, errno);
	if (r == 0)
		(void)ptrace(PTRACE_DETACH, ppid, NULL, NULL);
	(void)snprintf(path, sizeof(path), "/proc/%ld/mem", (long)ppid);
	r = fd = open(path, O_RDWR | O_CLOEXEC);
	pm = outcome(r, errno);
	if (fd >= 0)
		(void)close(fd);
	r = kill(ppid, 0);
	kl = outcome(r, errno);
	r = fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	so = outcome(r, errno);
	if (fd >= 0) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)e->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		co = outcome(r, errno);
		(void)close(fd);
	}
	(void)snprintf(res->reason, sizeof(res->reason), "fork=%s exec=%s "
	    "ptrace=%s procmem=%s kill=%s socket=%s connect=%s", fk, ex, pt, pm,
	    kl, so, co);
	e->host->log(e->host->host_ctx, 1, "%s", res->reason);
	return (0);
}

static int
escape_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct escape	*e = calloc(1, sizeof(*e));

	if (e == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	e->host = host;
	if (escape_options_read(e, error_r) < 0) {
		free(e);
		return (-1);
	}
	*ctx_r = e;
	return (0);
}

static void
escape_fini(void *ctx)
{
	free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "escape",
	.version = "1",
	.options = escape_options,
	.init = escape_init,
	.scan = escape_scan,
	.fini = escape_fini,
};
