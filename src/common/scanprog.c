/*
 * NAME
 *	scanprog - run holdscan-scanner check for the master and the tool
 * SYNOPSIS
 *	#include "common/scanprog.h"
 *
 *	int	scanprog_user(sp, user, owner_uid, error_r);
 *	int	scanprog_check(sp, start, out_r);
 *	bool	scanprog_needed(conf);
 * DESCRIPTION
 *	The child gets the configuration's text as a sealed memfd on
 *	descriptor 3 and a pipe as its standard output; it becomes the
 *	worker user (groups, gid, uid, in Postfix's order) before it runs
 *	the program, and keeps nothing else of ours. So holdscand -n, a
 *	starting holdscand and holdscan check-config learn what the plugins
 *	think of their sections without loading one themselves.
 *
 *	This module must never load a plugin, never run the program as root
 *	or as the mail owner, and never leave a child behind: it waits for
 *	the one it started (whose own checks are bounded in time).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/scanprog.h"
#include "common/wire.h"
#include "common/xalloc.h"

#define SCANPROG_FD	3		/* the configuration's text */
#define OUTPUT_MAX	(1024 * 1024)	/* of its output, kept */
#define EXEC_FAILED	127		/* the child could not run it */

int
scanprog_user(struct scanprog *sp, const char *user, uid_t owner_uid,
    char **error_r)
{
	struct passwd	*pw;

	if (geteuid() != 0) {
		sp->uid = (uid_t)-1;
		sp->gid = (gid_t)-1;
		(void)snprintf(sp->user, sizeof(sp->user), "%s",
		    (pw = getpwuid(geteuid())) != NULL ? pw->pw_name : "?");
		return (0);
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		*error_r = xasprintf("worker_user %s: %s", user,
		    errno ? strerror(errno) : "no such user");
		return (-1);
	}
	if (pw->pw_uid == 0 || (owner_uid != (uid_t)-1 &&
	    pw->pw_uid == owner_uid)) {
		*error_r = xasprintf("worker_user %s is %s", user,
		    pw->pw_uid == 0 ? "root" : "the mail owner");
		return (-1);
	}
	sp->uid = pw->pw_uid;
	sp->gid = pw->pw_gid;
	(void)snprintf(sp->user, sizeof(sp->user), "%s", user);
	return (0);
}

bool
scanprog_needed(const struct hs_config *conf)
{
	return (conf->nscanners > 0 || conf->nplugin_sections > 0);
}

/* In the child: become the worker user, then run the program. */
static void __attribute__((noreturn))
child(const struct scanprog *sp, bool start, int cfd, int out)
{
	const int keep = SCANPROG_FD;
	char	*argv[16];
	int	 n = 0;

	if (wire_fd_at(out, STDOUT_FILENO) < 0 ||
	    wire_fd_at(cfd, SCANPROG_FD) < 0)
		goto fail;
	if (wire_close_all_but(&keep, 1) < 0)
		goto fail;
	if (sp->uid != (uid_t)-1 && (setgroups(1, &sp->gid) < 0 ||
	    setgid(sp->gid) < 0 || setuid(sp->uid) < 0))
		goto fail;
	(void)signal(SIGPIPE, SIG_DFL);
	argv[n++] = (char *)sp->program;
	argv[n++] = "-l";
	argv[n++] = (char *)sp->ident;
	argv[n++] = "-c";
	argv[n++] = (char *)sp->config_path;
	argv[n++] = "-d";
	argv[n++] = "3";
	argv[n++] = "-u";
	argv[n++] = (char *)sp->user;
	argv[n++] = "check";
	if (start)
		argv[n++] = "-s";
	argv[n] = NULL;
	(void)execv(sp->program, argv);
fail:
	(void)printf("cannot run %s as %s: %s\n", sp->program, sp->user,
	    strerror(errno));
	(void)fflush(stdout);
	_exit(EXEC_FAILED);
}

int
scanprog_check(const struct scanprog *sp, bool start, char **out_r)
{
	struct buf	 out = BUF_INIT;
	char		 chunk[4096];
	ssize_t		 r;
	pid_t		 pid;
	int		 cfd, pfd[2], status, rc;

	*out_r = NULL;
	if ((cfd = wire_memfd("holdscan.conf", sp->config_text,
	    strlen(sp->config_text))) < 0) {
		*out_r = xasprintf("memfd: %s", strerror(errno));
		return (-1);
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*out_r = xasprintf("pipe: %s", strerror(errno));
		(void)close(cfd);
		return (-1);
	}
	(void)fflush(stdout);
	(void)fflush(stderr);
	if ((pid = fork()) < 0) {
		*out_r = xasprintf("fork: %s", strerror(errno));
		(void)close(cfd);
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		return (-1);
	}
	if (pid == 0) {
		(void)close(pfd[0]);
		child(sp, start, cfd, pfd[1]);
	}
	(void)close(cfd);
	(void)close(pfd[1]);
	while ((r = read(pfd[0], chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (out.len < OUTPUT_MAX)
			buf_append(&out, chunk, (size_t)r);
	}
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			buf_free(&out);
			*out_r = xasprintf("waitpid: %s", strerror(errno));
			return (-1);
		}
	}
	while (out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	buf_reserve(&out, 0);		/* data is a string, even empty */
	if (WIFSIGNALED(status)) {
		*out_r = xasprintf("%s was killed by signal %d%s%s", sp->program,
		    WTERMSIG(status), out.len ? ": " : "", out.data);
		buf_free(&out);
		return (-1);
	}
	rc = WEXITSTATUS(status);
	if (rc == 0 || rc == 1 || rc == EX_CONFIG) {
		*out_r = buf_steal(&out, NULL);
		return (rc);
	}
	*out_r = out.len > 0 ? buf_steal(&out, NULL) : xasprintf("%s exited "
	    "with status %d", sp->program, rc);
	buf_free(&out);
	return (-1);
}
