/*
 * NAME
 *	sandbox - the seccomp filter of a scanner worker
 * DESCRIPTION
 *	A worker parses hostile mail with libclamav and GMime; code a
 *	message made run there has the worker's user, the read-only
 *	descriptor of the message and the socket to the master. This
 *	filter takes away what such code would use to reach further:
 *
 *	  - executing a program (execve, execveat);
 *	  - making a process (fork, vfork, clone without CLONE_THREAD): a
 *	    child would keep the filter but outlive its worker (it does not
 *	    die with the scanner parent); threads (libclamav's) still start;
 *	  - other processes: ptrace, process_vm_readv/writev, pidfd_getfd,
 *	    kcmp, and signals to any process but this one (kill, tgkill,
 *	    rt_sigqueueinfo, rt_tgsigqueueinfo with another pid; tkill,
 *	    pidfd_send_signal): the scanner parent and the other workers
 *	    run as the same user;
 *	  - sockets (socket, socketpair, connect, bind, listen, accept,
 *	    accept4, and sendto with an address): a worker talks to the
 *	    master over the socket it inherited and needs no other, unless
 *	    a loaded plugin declares HS_NEEDS_NETWORK (spamd), when it may
 *	    create AF_UNIX, AF_INET and AF_INET6 sockets and connect them
 *	    (client sockets: still no bind, listen or accept);
 *	  - what widens the kernel's attack surface or escapes a filter:
 *	    new namespaces (unshare, setns, clone with CLONE_NEW*; clone3
 *	    answers ENOSYS, so that glibc falls back to clone, whose flags
 *	    can be checked), io_uring (its operations bypass seccomp), bpf,
 *	    perf_event_open, userfaultfd, key rings, mounts, modules,
 *	    kexec, reboot, swap, clocks, handles (open_by_handle_at), ...
 *
 *	It is a deny list, not an allow list: libclamav, GMime, glibc and
 *	the sanitizers use many system calls, differently from one version
 *	to the next, and an allow list that misses one makes scans fail in
 *	ways nobody sees coming. The action is SCMP_ACT_ERRNO(EPERM), not a
 *	kill: a library that probes one of these calls (glibc's syslog()
 *	reconnecting, ASan starting a symbolizer) gets an error it already
 *	handles and the message is still scanned, and the attacker learns
 *	nothing from the errno it would not learn otherwise. System calls
 *	of another architecture (i386's int 0x80 on x86_64) kill the
 *	process (libseccomp's default for a foreign architecture).
 *
 *	PR_SET_NO_NEW_PRIVS is set first: the filter needs it, and a
 *	set-user-id program could not be run anyway.
 *
 *	This module must never be called in the scanner parent or a
 *	one-shot command (the filter is for life, and inherited), and never
 *	return 0 unless the whole filter is loaded.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "scanner/sandbox.h"

/*
 * The comparisons below give the second datum, unused by EQ, NE and GT,
 * as 0: libseccomp's SCMP_A* macros leave it out otherwise, which clang's
 * -Wmissing-field-initializers (the fuzz build) rejects.
 */

/* Denied whatever the plugins need. */
static const char *const deny_always[] = {
	/* running a program, making a process */
	"execve", "execveat", "fork", "vfork",
	/* other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	"kcmp", "tkill", "pidfd_send_signal",
	/* servers: a worker never is one */
	"bind", "listen", "accept", "accept4",
	/* namespaces, filters, kernel surface */
	"unshare", "setns", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"mount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr", "name_to_handle_at", "open_by_handle_at",
	"init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog",
	"quotactl", "quotactl_fd", "iopl", "ioperm", "uselib", "vhangup",
	"settimeofday", "clock_settime", "sethostname", "setdomainname",
	"lookup_dcookie", "fanotify_init",
};

/* Denied unless a plugin needs the network. */
static const char *const deny_network[] = {
	"socket", "socketpair", "connect",
};

/* The address families a plugin that needs the network may use. */
static const int allowed_af[] = { AF_UNIX, AF_INET, AF_INET6 };

static int
fail(char **error_r, const char *what, int rc)
{
	*error_r = xasprintf("seccomp: %s: %s", what, strerror(-rc));
	return (-1);
}

/* Deny each of names[n] outright (names unknown here are skipped). */
static int
deny_list(scmp_filter_ctx ctx, const char *const *names, size_t n,
    char **error_r)
{
	size_t	 i;
	int	 nr, rc;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) ==
		    __NR_SCMP_ERROR)
			continue;	/* not a system call of this architecture */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
			return (fail(error_r, names[i], rc));
	}
	return (0);
}

/* socket() only for allowed_af: any other domain, and 64-bit junk, fails. */
static int
deny_other_families(scmp_filter_ctx ctx, char **error_r)
{
	int	 af, rc;
	size_t	 i;
	bool	 ok;

	for (af = 0; af <= AF_INET6; af++) {
		ok = false;
		for (i = 0; i < sizeof(allowed_af) / sizeof(allowed_af[0]); i++)
			if (allowed_af[i] == af)
				ok = true;
		if (ok)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)af, 0))) < 0)
			return (fail(error_r, "socket", rc));
	}
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket),
	    1, SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)AF_INET6, 0))) < 0)
		return (fail(error_r, "socket", rc));
	/* socketpair() makes sockets of no use outside the process. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
	    SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE,
	    (scmp_datum_t)AF_UNIX, 0))) < 0)
		return (fail(error_r, "socketpair", rc));
	return (0);
}

/* Signals only to ourselves (pid: getpid()). */
static int
deny_signals_to_others(scmp_filter_ctx ctx, pid_t pid, char **error_r)
{
	static const char *const calls[] = {
		"kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	};
	size_t	 i;
	int	 nr, rc;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if ((nr = seccomp_syscall_resolve_name(calls[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
		    SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)pid, 0))) < 0)
			return (fail(error_r, calls[i], rc));
	}
	return (0);
}

/*
 * clone() of threads only, without new namespaces; clone3() (flags out of
 * reach) ENOSYS.
 */
static int
deny_namespaces(scmp_filter_ctx ctx, char **error_r)
{
	static const unsigned long flags[] = {
		CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
		CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
	};
	size_t	 i;
	int	 nr, rc;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
		    (scmp_datum_t)flags[i], (scmp_datum_t)flags[i]))) < 0)
			return (fail(error_r, "clone", rc));
	/* A new process, not a thread: nothing a worker needs. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
	    SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ,
	    (scmp_datum_t)CLONE_THREAD, 0))) < 0)
		return (fail(error_r, "clone", rc));
	if ((nr = seccomp_syscall_resolve_name("clone3")) != __NR_SCMP_ERROR &&
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) < 0)
		return (fail(error_r, "clone3", rc));
	return (0);
}

int
sandbox_apply(const struct sandbox_needs *needs, char **error_r)
{
	scmp_filter_ctx	 ctx;
	int		 rc;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*error_r = xasprintf("prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return (-1);
	}
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		*error_r = xstrdup("seccomp_init failed");
		return (-1);
	}
	if (deny_list(ctx, deny_always, sizeof(deny_always) /
	    sizeof(deny_always[0]), error_r) < 0 ||
	    deny_signals_to_others(ctx, getpid(), error_r) < 0 ||
	    deny_namespaces(ctx, error_r) < 0)
		goto out;
	if (needs->network) {
		if (deny_other_families(ctx, error_r) < 0)
			goto out;
	} else {
		if (deny_list(ctx, deny_network, sizeof(deny_network) /
		    sizeof(deny_network[0]), error_r) < 0)
			goto out;
		/* sendto() an address through a socket it holds (syslog's). */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
		    SCMP_SYS(sendto), 1, SCMP_A4(SCMP_CMP_NE, 0, 0))) < 0) {
			(void)fail(error_r, "sendto", rc);
			goto out;
		}
	}
	if ((rc = seccomp_load(ctx)) < 0) {
		(void)fail(error_r, "load", rc);
		goto out;
	}
	seccomp_release(ctx);
	return (0);
out:
	seccomp_release(ctx);
	return (-1);
}
