/*
 * NAME
 *	test_sandbox - the seccomp filter of the scanner workers
 * DESCRIPTION
 *	A forked child puts itself under sandbox_apply() and tries, as a
 *	worker taken over would, to execute /bin/sh, trace, read and
 *	signal its parent, make sockets, enter a user namespace and set up
 *	io_uring; it writes what each returned to a pipe, and the test
 *	compares that text. Each must fail with EPERM (clone3 with ENOSYS),
 *	while what scanning needs still works in the same child: memory,
 *	files, a thread, a fork, a signal to itself. With a plugin that
 *	needs the network, AF_UNIX/AF_INET/AF_INET6 sockets can be made and
 *	connected (to a listener of the parent's), other families cannot,
 *	and bind, listen and exec stay denied. Runs under ASan (the child
 *	leaves with _exit(), as a worker does: LeakSanitizer's exit check
 *	would need ptrace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "scanner/sandbox.h"

/* "name=ok" or "name=ERRNO" appended to out. */
static void
note(char *out, size_t size, const char *name, long r, int err)
{
	size_t	 len = strlen(out);
	const char *e = strerrorname_np(err);

	(void)snprintf(out + len, size - len, "%s%s=%s", len ? " " : "", name,
	    r >= 0 ? "ok" : e != NULL ? e : "?");
}

static void *
thread_main(void *arg)
{
	return (arg);
}

/* What a worker needs: "mem=ok file=ok thread=ok self=ok". */
static void
still_works(char *out, size_t size, const char *dir)
{
	char	 path[256], buf[8];
	pthread_t t;
	void	*mem, *ret = NULL;
	int	 fd, r;

	mem = malloc(4 * 1024 * 1024);
	note(out, size, "mem", mem != NULL ? 0 : -1, ENOMEM);
	if (mem != NULL)
		memset(mem, 1, 4 * 1024 * 1024);
	free(mem);
	(void)snprintf(path, sizeof(path), "%s/part", dir);
	r = fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		r = write(fd, "part", 4) == 4 && lseek(fd, 0, SEEK_SET) == 0 &&
		    read(fd, buf, sizeof(buf)) == 4 && unlink(path) == 0 ? 0 : -1;
		(void)close(fd);
	}
	note(out, size, "file", r, errno);
	r = pthread_create(&t, NULL, thread_main, &r);
	if (r == 0)
		r = pthread_join(t, &ret);
	note(out, size, "thread", r == 0 && ret != NULL ? 0 : -1, r);
	note(out, size, "self", kill(getpid(), 0), errno);
}

/* What a worker taken over would try. */
static void
attacks(char *out, size_t size)
{
	char	*argv[] = { (char *)"sh", (char *)"-c", (char *)"exit 0", NULL };
	char	*envp[] = { NULL };
	char	 byte;
	struct iovec local = { &byte, 1 }, remote = { &byte, 1 };
	pid_t	 ppid = getppid();
	long	 r;

	pid_t	 pid;
	int	 status;

	/* A process that would outlive the worker (fork() is clone()). */
	if ((pid = fork()) == 0)
		_exit(7);
	r = pid;
	if (pid > 0)
		(void)waitpid(pid, &status, 0);
	note(out, size, "fork", r, errno);
	r = syscall(SYS_fork);
	if (r == 0)
		_exit(7);
	note(out, size, "sysfork", r, errno);
	r = execve("/bin/sh", argv, envp);
	note(out, size, "exec", r, errno);
	r = syscall(SYS_execveat, AT_FDCWD, "/bin/sh", argv, envp, 0);
	note(out, size, "execveat", r, errno);
	r = ptrace(PTRACE_ATTACH, ppid, NULL, NULL);
	note(out, size, "ptrace", r, errno);
	r = process_vm_readv(ppid, &local, 1, &remote, 1, 0);
	note(out, size, "vm_readv", r, errno);
	r = kill(ppid, 0);
	note(out, size, "kill", r, errno);
	r = syscall(SYS_tgkill, ppid, ppid, 0);
	note(out, size, "tgkill", r, errno);
	r = unshare(CLONE_NEWUSER);
	note(out, size, "unshare", r, errno);
	r = syscall(SYS_io_uring_setup, 1, NULL);
	note(out, size, "io_uring", r, errno);
	r = syscall(SYS_clone3, NULL, 0);
	note(out, size, "clone3", r, errno);
}

/* Sockets: "inet=... unix=... netlink=... bind=... connect=...". */
static void
sockets(char *out, size_t size, int port)
{
	struct sockaddr_in sin;
	long	 r;
	int	 fd;

	r = fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	note(out, size, "inet", r, errno);
	if (fd >= 0) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		note(out, size, "bind", r, errno);
		sin.sin_port = htons((uint16_t)port);
		r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		note(out, size, "connect", r, errno);
		(void)close(fd);
	}
	r = fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	note(out, size, "inet6", r == -1 && errno == EAFNOSUPPORT ? 0 : r,
	    errno);
	if (fd >= 0)
		(void)close(fd);
	r = fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	note(out, size, "unix", r, errno);
	if (fd >= 0)
		(void)close(fd);
	r = fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	note(out, size, "netlink", r, errno);
	if (fd >= 0)
		(void)close(fd);
	/* The upper half of the register must not smuggle a family past. */
	r = fd = syscall(SYS_socket, 0x100000000L | AF_INET, SOCK_STREAM, 0);
	note(out, size, "junk", r, errno);
	if (fd >= 0)
		(void)close(fd);
}

/*
 * In a child: sandbox_apply(network), then the checks; their text in
 * *out_r (the caller's to free).
 */
static void
run_child(bool network, int port, char **out_r)
{
	struct sandbox_needs needs = { network };
	char	 dir[] = "/tmp/test_sandbox.XXXXXX";
	char	 buf[1024];
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		char	 out[1024] = "";
		char	*error = NULL;

		(void)close(p[0]);
		if (sandbox_apply(&needs, &error) < 0) {
			(void)snprintf(out, sizeof(out), "sandbox: %s", error);
		} else {
			note(out, sizeof(out), "nnp",
			    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : -1,
			    EINVAL);
			still_works(out, sizeof(out), dir);
			attacks(out, sizeof(out));
			sockets(out, sizeof(out), port);
		}
		if (write(p[1], out, strlen(out)) < 0)
			_exit(1);
		_exit(0);
	}
	(void)close(p[1]);
	while (len < sizeof(buf) - 1 &&
	    (n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	(void)close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(rmdir(dir), 0);
	*out_r = xstrdup(buf);
}

/* A listener on 127.0.0.1: its descriptor, its port in *port_r. */
static int
listener(int *port_r)
{
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port_r = ntohs(sin.sin_port);
	return (fd);
}

#define WORKS	"nnp=ok mem=ok file=ok thread=ok self=ok "
#define DENIED	"fork=EPERM sysfork=EPERM exec=EPERM execveat=EPERM ptrace=EPERM vm_readv=EPERM " \
		"kill=EPERM tgkill=EPERM unshare=EPERM io_uring=EPERM " \
		"clone3=ENOSYS "

static void
test_no_network(void **state)
{
	char	*out = NULL;
	int	 port, fd;

	(void)state;
	fd = listener(&port);
	run_child(false, port, &out);
	assert_string_equal(out, WORKS DENIED "inet=EPERM inet6=EPERM "
	    "unix=EPERM netlink=EPERM junk=EPERM");
	free(out);
	(void)close(fd);
}

static void
test_network(void **state)
{
	char	*out = NULL;
	int	 port, fd;

	(void)state;
	fd = listener(&port);
	run_child(true, port, &out);
	assert_string_equal(out, WORKS DENIED "inet=ok bind=EPERM connect=ok "
	    "inet6=ok unix=ok netlink=EPERM junk=EPERM");
	free(out);
	(void)close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_network),
		cmocka_unit_test(test_network),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
