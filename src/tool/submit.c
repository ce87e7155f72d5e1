/*
 * NAME
 *	submit - one message to Postfix's sendmail, synchronously
 * DESCRIPTION
 *	As holdscand's notices (daemon/notify.c): posix_spawn of the
 *	instance's sendmail_path with "-C config_dir -f SENDER -i --
 *	RCPT", the message on a memfd as its standard input, its output on
 *	another memfd (its first line goes into the error), SIGPIPE and
 *	the like at their defaults in the child. The addresses go to
 *	sendmail in their external form (common/addr.h), one recipient per
 *	submission. The wait is bounded: after SUBMIT_TIME_LIMIT_MS the
 *	child is killed.
 *
 *	This module must never run a shell, pass an address that sendmail
 *	could read as more than one, wait without bound, or reap a child
 *	it did not start.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/buf.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "tool/submit.h"

extern char **environ;

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

/* sendmail's first line of output, made safe for a terminal and a log. */
static void
first_line(int fd, char *line, size_t size)
{
	ssize_t	 r;

	line[0] = '\0';
	if ((r = pread(fd, line, size - 1, 0)) <= 0)
		return;
	line[r] = '\0';
	line[strcspn(line, "\n")] = '\0';
	(void)text_safe(line, strlen(line), false);
}

int
submit_mail(const char *sendmail, const char *config_dir, const char *sender,
    const char *rcpt, const char *text, size_t len, char **error_r)
{
	struct timespec	 pause = { 0, 20 * 1000 * 1000 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct buf	 from = BUF_INIT, to = BUF_INIT;
	sigset_t	 none, dfl;
	char		 line[256];
	char		*argv[9];
	long		 deadline;
	pid_t		 pid = -1, r;
	int		 in = -1, out = -1, err, status = 0, rc = -1;
	bool		 killed = false;

	addr_external(sender, &from);
	addr_external(rcpt, &to);
	argv[0] = (char *)sendmail;
	argv[1] = "-C";
	argv[2] = (char *)config_dir;
	argv[3] = "-f";
	argv[4] = from.len ? from.data : "<>";
	argv[5] = "-i";
	argv[6] = "--";
	argv[7] = to.data ? to.data : "";
	argv[8] = NULL;
	if ((in = memfd_create("holdscan-digest", MFD_CLOEXEC)) < 0 ||
	    (out = memfd_create("holdscan-sendmail", MFD_CLOEXEC)) < 0 ||
	    write_all(in, text, len) < 0 || lseek(in, 0, SEEK_SET) < 0) {
		*error_r = xasprintf("memfd: %s", strerror(errno));
		goto done;
	}
	(void)sigemptyset(&none);
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	(void)sigaddset(&dfl, SIGTERM);
	(void)sigaddset(&dfl, SIGHUP);
	(void)sigaddset(&dfl, SIGINT);
	(void)sigaddset(&dfl, SIGCHLD);
	if ((err = posix_spawn_file_actions_init(&fa)) != 0) {
		*error_r = xasprintf("posix_spawn: %s", strerror(err));
		goto done;
	}
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		*error_r = xasprintf("posix_spawn: %s", strerror(err));
		goto done;
	}
	if ((err = posix_spawn_file_actions_adddup2(&fa, in, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, out, 1)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(&fa, out, 2)) != 0 ||
	    (err = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(&attr, &dfl)) != 0 ||
	    (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) != 0)
		pid = -1;
	else
		err = posix_spawn(&pid, sendmail, &fa, &attr, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (err != 0) {
		*error_r = xasprintf("cannot run %s: %s", sendmail,
		    strerror(err));
		goto done;
	}
	deadline = now_ms() + SUBMIT_TIME_LIMIT_MS;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			*error_r = xasprintf("waitpid: %s", strerror(errno));
			goto done;
		}
		if (now_ms() >= deadline && !killed) {
			(void)kill(pid, SIGKILL);
			killed = true;
		}
		(void)nanosleep(&pause, NULL);
	}
	first_line(out, line, sizeof(line));
	if (killed)
		*error_r = xasprintf("%s took longer than %d s; killed",
		    sendmail, SUBMIT_TIME_LIMIT_MS / 1000);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = 0;
	else if (WIFEXITED(status))
		*error_r = xasprintf("%s exited with status %d%s%s", sendmail,
		    WEXITSTATUS(status), line[0] ? ": " : "", line);
	else
		*error_r = xasprintf("%s killed by signal %d", sendmail,
		    WTERMSIG(status));
done:
	if (in >= 0)
		(void)close(in);
	if (out >= 0)
		(void)close(out);
	buf_free(&from);
	buf_free(&to);
	return (rc);
}
