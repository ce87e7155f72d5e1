/*
 * NAME
 *	supervisor - start scanner parents for the master, and nothing else
 * DESCRIPTION
 *	holdscand forks the supervisor while it is still root, before the
 *	master drops to mail_owner. A scanner parent runs as worker_user,
 *	and any process of that user (a worker that a message took over,
 *	say) can kill it; the master cannot start a new one itself, because
 *	it can no longer change users. The supervisor can, and is out of the
 *	worker user's reach: it keeps root's user id, which nobody but root
 *	may signal, but gives up every capability except CAP_SETUID and
 *	CAP_SETGID (what it takes to make a process worker_user), and sets
 *	no_new_privs, so neither it nor anything it starts can gain one
 *	again. It closes every descriptor but its socket to the master.
 *
 *	On WIRE_START it starts a scanner parent on a new socketpair: the
 *	child becomes worker_user (groups, gid, uid, in Postfix's order)
 *	and executes the scanner program, "holdscan-scanner serve", with
 *	its end of the socket as descriptor 3 and everything else it needs
 *	on its command line (the configuration's name,
 *	the log's name and destination, the user's name); the master sends
 *	it the configuration over the socket. The supervisor gives the
 *	master its end and tells it how each scanner parent ended
 *	(WIRE_EXITED). So nothing of the master's address space, and none
 *	of its descriptors, reaches the process that loads the plugins.
 *
 *	It dies with the master (PR_SET_PDEATHSIG), and a scanner parent
 *	dies with it. When the master closes the socket (holdscand stops),
 *	it waits a few seconds for its scanner parents, which stop when
 *	their own control sockets close, and exits.
 *
 *	It must never open a queue file, a message, a plugin or the
 *	configuration, never take anything from the master but an empty
 *	WIRE_START (a descriptor sent along is closed unread), never act on
 *	a process it did not start, never start the scanner program as
 *	root, and never hold a capability beyond CAP_SETUID and CAP_SETGID
 *	once it serves the master.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/wire.h"
#include "common/xalloc.h"
#include "daemon/supervisor.h"

#define SUPERVISOR_STOP_MS	5000	/* for the scanner parents at stop */
#define SCANNER_CTL_FD		3	/* the scanner parent's control socket */
#define SCANNER_LOG_FD		4	/* log_file's, when holdscand logs there */

struct supervisor {
	const struct supervisor_setup *setup;
	int		 sock;		/* to the master */
	int		 sigfd;		/* SIGCHLD */
	pid_t		*children;	/* scanner parents not yet reaped */
	size_t		 nchildren;
};

/* The master is gone: nobody to serve (its scanner parents die with us). */
static void
exit_if_master_gone(void)
{
	if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
		_exit(0);
}

/*
 * Root's user id stays (the worker user cannot signal it), without its
 * supplementary groups; of root's powers only CAP_SETUID and CAP_SETGID
 * stay, in the bounding set too
 * where we may shrink it (without CAP_SETPCAP, e.g. under systemd's
 * CapabilityBoundingSet=, no_new_privs does that job for execve).
 */
static int
keep_setid_capabilities(void)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const uint32_t	 keep = (1U << CAP_SETUID) | (1U << CAP_SETGID);
	unsigned long	 cap;

	for (cap = 0; cap <= 63; cap++) {
		if (cap == CAP_SETUID || cap == CAP_SETGID)
			continue;
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;		/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM)
			return (-1);
	}
	if (setgroups(0, NULL) < 0)	/* root's supplementary groups */
		return (-1);
	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return (-1);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return (-1);
	return (0);
}

static void
send_exited(struct supervisor *sv, pid_t pid, int status)
{
	struct wire_exited ex;

	ex.pid = pid;
	ex.status = status;
	if (wire_send(sv->sock, WIRE_EXITED, &ex, sizeof(ex), -1) < 0) {
		exit_if_master_gone();
		hs_warn("supervisor: send to master");
	}
}

/* Reap what has ended; report the scanner parents (tell = false at stop). */
static void
reap(struct supervisor *sv, bool tell)
{
	size_t	 i;
	pid_t	 pid;
	int	 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sv->nchildren; i++)
			if (sv->children[i] == pid)
				break;
		if (i == sv->nchildren)
			continue;
		sv->children[i] = sv->children[--sv->nchildren];
		if (tell)
			send_exited(sv, pid, status);
	}
}

/*
 * In the child: become the worker user and run "PROGRAM serve" with the
 * control socket ctl as its descriptor 3. Never returns.
 */
static void HS_NORETURN
exec_scanner(const struct supervisor *sv, int ctl, pid_t supervisor)
{
	const struct supervisor_setup *s = sv->setup;
	char		 facility[16];
	char		*argv[24];
	sigset_t	 none;
	int		 n = 0, logfd = s->log_stderr ? -1 : log_file_fd();
	int		 keep[2], nul;

	/*
	 * log_file: the scanner program logs to the file holdscand opened
	 * (worker_user cannot open it), as descriptor 4. Out of the way
	 * first, so that placing the control socket cannot overwrite it.
	 */
	if (logfd >= 0 && (logfd = fcntl(logfd, F_DUPFD_CLOEXEC,
	    SCANNER_LOG_FD + 1)) < 0)
		hs_fatal(EX_OSERR, "supervisor: log_file descriptor");
	if (wire_fd_at(ctl, SCANNER_CTL_FD) < 0)
		hs_fatal(EX_OSERR, "supervisor: descriptor %d", SCANNER_CTL_FD);
	if (logfd >= 0 && wire_fd_at(logfd, SCANNER_LOG_FD) < 0)
		hs_fatal(EX_OSERR, "supervisor: descriptor %d", SCANNER_LOG_FD);
	/*
	 * The scanner program writes nothing to stdin or stdout; a library
	 * in a worker that prints there (libytnef prints what it finds in
	 * a broken winmail.dat) must reach neither our log nor a terminal.
	 * stderr stays: the scanner program logs there without log_file.
	 */
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0)
		hs_fatal(EX_OSERR, "supervisor: /dev/null");
	if (nul > STDERR_FILENO)
		(void)close(nul);
	/* 3 and 4 alone: nothing of ours is left for the scanner program. */
	keep[0] = SCANNER_CTL_FD;
	keep[1] = logfd >= 0 ? SCANNER_LOG_FD : -1;
	if (wire_close_all_but(keep, 2) < 0)
		hs_fatal(EX_OSERR, "supervisor: close descriptors");
	if (s->uid != (uid_t)-1 && (setgroups(1, &s->gid) < 0 ||
	    setgid(s->gid) < 0 || setuid(s->uid) < 0))
		hs_fatal(EX_NOPERM, "supervisor: cannot change to user %s",
		    s->user);
	if (geteuid() == 0 || getuid() == 0)
		hs_fatalx(EX_SOFTWARE, "supervisor: will not start the scanner "
		    "program as root");
	/* Changing users cleared it; the scanner program sets it again too. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		hs_fatal(EX_OSERR, "supervisor: prctl(PR_SET_PDEATHSIG)");
	if (getppid() != supervisor)
		_exit(0);
	(void)sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		hs_fatal(EX_OSERR, "supervisor: sigprocmask");
	(void)snprintf(facility, sizeof(facility), "%d", s->log_facility);
	argv[n++] = (char *)s->program;
	argv[n++] = "-l";
	argv[n++] = (char *)s->log_ident;
	argv[n++] = "-L";
	argv[n++] = s->log_stderr ? "stderr" : logfd >= 0 ? "file" : "syslog";
	argv[n++] = "-F";
	argv[n++] = facility;
	argv[n++] = "-c";
	argv[n++] = (char *)s->config_path;
	argv[n++] = "-u";
	argv[n++] = (char *)s->user;
	if (s->verbose > 0)
		argv[n++] = "-v";
	argv[n++] = "serve";
	argv[n] = NULL;
	(void)execv(s->program, argv);
	hs_fatal(EX_OSERR, "supervisor: cannot run %s", s->program);
}

static void
start_parent(struct supervisor *sv)
{
	struct wire_started st;
	int		 pair[2];
	pid_t		 pid;

	memset(&st, 0, sizeof(st));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		st.error = errno;
		hs_warn("supervisor: socketpair");
	} else if ((pid = fork()) < 0) {
		st.error = errno;
		hs_warn("supervisor: fork");
		(void)close(pair[0]);
		(void)close(pair[1]);
	} else if (pid == 0) {
		(void)close(sv->sock);
		(void)close(sv->sigfd);
		(void)close(pair[0]);
		log_reopen();
		exec_scanner(sv, pair[1], getppid());
	} else {
		(void)close(pair[1]);
		st.pid = pid;
		sv->children = xreallocarray(sv->children, sv->nchildren + 1,
		    sizeof(*sv->children));
		sv->children[sv->nchildren++] = pid;
	}
	if (wire_send(sv->sock, WIRE_STARTED, &st, sizeof(st),
	    st.pid > 0 ? pair[0] : -1) < 0) {
		exit_if_master_gone();
		hs_fatal(EX_OSERR, "supervisor: send to master");
	}
	if (st.pid > 0)
		(void)close(pair[0]);
}

/* The master stopped: let the scanner parents finish (bounded), then go. */
static void HS_NORETURN
finish(struct supervisor *sv)
{
	struct pollfd	 pfd;
	struct timespec	 t0, now;
	long		 left;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		reap(sv, false);
		if (sv->nchildren == 0)
			break;
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		left = SUPERVISOR_STOP_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			hs_warnx("supervisor: %zu scanner parent%s did not stop "
			    "in %d s; they die with this process",
			    sv->nchildren, sv->nchildren == 1 ? "" : "s",
			    SUPERVISOR_STOP_MS / 1000);
			break;
		}
		pfd.fd = sv->sigfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) > 0) {
			struct signalfd_siginfo si;

			while (read(sv->sigfd, &si, sizeof(si)) == sizeof(si))
				;
		}
	}
	_exit(0);
}

static void HS_NORETURN
supervisor_main(int sock, const struct supervisor_setup *setup, pid_t master)
{
	struct supervisor sv;
	struct pollfd	 pfd[2];
	char		 req[64];
	enum wire_type	 type;
	sigset_t	 mask, chld;
	size_t		 len;
	int		 fd, r, keep[3];

	memset(&sv, 0, sizeof(sv));
	sv.setup = setup;
	sv.sock = sock;
	(void)prctl(PR_SET_NAME, "holdscand-super");
	/*
	 * log_file stays open (its lines and the scanner program's go
	 * there); the pipe a detaching master's parent reads is closed.
	 */
	log_fatal_fd(-1);
	keep[0] = sock;
	keep[1] = log_file_fd();
	keep[2] = wire_loader_debug_fd();	/* LD_DEBUG's, if any */
	if (wire_close_all_but(keep, 3) < 0)
		hs_fatal(EX_OSERR, "supervisor: close descriptors");
	log_reopen();
	/* As the master's: these are the master's to act on. */
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGCHLD);
	(void)sigemptyset(&chld);
	(void)sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ||
	    (sv.sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		hs_fatal(EX_OSERR, "supervisor: signalfd");
	(void)signal(SIGPIPE, SIG_IGN);
	if (geteuid() == 0 && keep_setid_capabilities() < 0)
		hs_fatal(EX_OSERR, "supervisor: cannot give up capabilities");
	/* After the credentials changed (that resets it), and checked. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		hs_fatal(EX_OSERR, "supervisor: prctl(PR_SET_PDEATHSIG)");
	if (getppid() != master)
		_exit(0);	/* it died before the prctl took effect */

	for (;;) {
		pfd[0].fd = sv.sock;
		pfd[0].events = POLLIN;
		pfd[1].fd = sv.sigfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			hs_fatal(EX_OSERR, "supervisor: poll");
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sv.sigfd, &si, sizeof(si)) == sizeof(si))
				;
			reap(&sv, true);
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = wire_recv(sv.sock, &type, req, sizeof(req), &len, &fd);
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			finish(&sv);
		if (r < 0)
			hs_fatal(EX_PROTOCOL, "supervisor: receive from master");
		if (fd >= 0)
			(void)close(fd);
		if (type == WIRE_START && len == 0 && fd < 0)
			start_parent(&sv);
		else
			hs_warnx("supervisor: unexpected message %d (%zu bytes) "
			    "from master", type, len);
	}
}

int
supervisor_start(const struct supervisor_setup *setup, int *sock_r,
    pid_t *pid_r)
{
	int	 pair[2];
	pid_t	 pid, master = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return (-1);
	if ((pid = fork()) < 0) {
		int	 saved = errno;

		(void)close(pair[0]);
		(void)close(pair[1]);
		errno = saved;
		return (-1);
	}
	if (pid == 0) {
		(void)close(pair[0]);
		supervisor_main(pair[1], setup, master);
	}
	(void)close(pair[1]);
	*sock_r = pair[0];
	*pid_r = pid;
	return (0);
}
