/*
 * sandbox.h - the seccomp filter a scanner worker runs under (sandbox.c).
 *
 * Used only in holdscan-scanner, by a worker after its plugins'
 * worker_init and before it takes its first message.
 */
#ifndef HS_SANDBOX_H
#define HS_SANDBOX_H

#include <stdbool.h>

/* What the loaded plugins need of the sandbox (their HS_NEEDS_* bits). */
struct sandbox_needs {
	bool	 network;	/* client sockets: AF_UNIX, AF_INET, AF_INET6 */
};

/*
 * sandbox_apply() sets PR_SET_NO_NEW_PRIVS and loads a seccomp filter
 * on the calling process (and all it forks from now on, for good) that
 * makes the dangerous system calls fail with EPERM: executing a program,
 * tracing or reading other processes, signalling any process but this
 * one, namespaces, io_uring, kernel modules and key rings, ...; and,
 * unless needs->network, creating or connecting a socket. Everything
 * else is allowed (a deny list: libclamav, GMime, glibc and ASan use
 * many system calls). 0, or -1 with a sentence in *error_r (the
 * caller's to free); on -1 no filter is loaded (no_new_privs may be
 * set) and the caller must not scan.
 */
int	 sandbox_apply(const struct sandbox_needs *needs, char **error_r);

#endif
