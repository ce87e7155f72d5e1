/*
 * NAME
 *	reload - a reload's answer file, and "holdscand reload"
 * DESCRIPTION
 *	A SIGHUP carries no answer back: the sender cannot tell whether
 *	holdscand took the new configuration or refused it (a setting that
 *	needs a restart, a plugin that does not initialise). So the daemon
 *	keeps a status file beside its pid file, opened as root before it
 *	drops privileges (as holdscand opens its pid file: a file of its
 *	own, no link followed) and written through that descriptor: its pid, how
 *	many SIGHUPs it has seen, and, for the last reload it answered, how
 *	many it had seen when it read the file, taken or refused, and a
 *	line saying what or why.
 *
 *	reload_request() is the other side: it finds the daemon by its
 *	locked pid file, notes the count of SIGHUPs seen, sends one, and
 *	waits (bounded, a tenth of a second at a time) for an answer about
 *	a reading of the file made after that count went up: the daemon
 *	read the file after our signal arrived, so the answer covers the
 *	file as we checked it, even when reloads overlap.
 *
 *	The file is one "name=value" a line, ending with "end": a reader
 *	that finds no "end" caught it being written and reads again.
 *
 *	This module must never follow a symbolic link when it reads the
 *	file, never signal a process that does not hold the pid
 *	file's lock, and never wait without a bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "daemon/reload.h"

#define RELOAD_POLL_MS		100
#define RELOAD_FILE_MAX		4096

char *
reload_status_path(const char *pid_file)
{
	size_t	 len = strlen(pid_file);

	if (len > 4 && strcmp(pid_file + len - 4, ".pid") == 0)
		return (xasprintf("%.*s.reload", (int)(len - 4), pid_file));
	return (xasprintf("%s.reload", pid_file));
}

int
reload_status_write(int fd, const struct reload_status *st)
{
	char	 buf[RELOAD_FILE_MAX], msg[sizeof(st->message)];
	size_t	 i;
	int	 n;

	/* One line, whatever the message holds. */
	(void)snprintf(msg, sizeof(msg), "%s", st->message);
	for (i = 0; msg[i] != '\0'; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	n = snprintf(buf, sizeof(buf), "pid=%ld\nrequested=%lu\ndone=%lu\n"
	    "result=%s\nmessage=%s\nend\n", st->pid, st->requested, st->done,
	    st->done == 0 ? "none" : st->ok ? "ok" : "refused", msg);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		errno = EOVERFLOW;
		return (-1);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return (-1);
	return (0);
}

/* What fd holds (up to size - 1 bytes), terminated; fd is closed. */
static int
read_text(int fd, char *buf, size_t size)
{
	ssize_t	 r = read(fd, buf, size - 1);

	(void)close(fd);
	if (r < 0)
		return (-1);
	buf[r] = '\0';
	return (0);
}

/* A number after "name=", into *v. */
static int
number(const char *s, unsigned long *v)
{
	char	*end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return (-1);
	return (0);
}

int
reload_status_read(const char *path, struct reload_status *st)
{
	char	 buf[RELOAD_FILE_MAX], *line, *save = NULL;
	unsigned long v;
	bool	 end = false;
	int	 fd, seen = 0;

	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    read_text(fd, buf, sizeof(buf)) < 0)
		return (-1);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "end") == 0) {
			end = true;
			break;
		}
		if (strncmp(line, "message=", 8) == 0) {
			(void)snprintf(st->message, sizeof(st->message), "%s",
			    line + 8);
			continue;
		}
		if (strncmp(line, "result=", 7) == 0) {
			st->ok = strcmp(line + 7, "ok") == 0;
			continue;
		}
		if (strncmp(line, "pid=", 4) == 0 && number(line + 4, &v) == 0) {
			st->pid = (long)v;
			seen |= 1;
		} else if (strncmp(line, "requested=", 10) == 0 &&
		    number(line + 10, &v) == 0) {
			st->requested = v;
			seen |= 2;
		} else if (strncmp(line, "done=", 5) == 0 &&
		    number(line + 5, &v) == 0) {
			st->done = v;
			seen |= 4;
		}
	}
	if (!end) {
		errno = EAGAIN;
		return (-1);
	}
	if (seen != 7 || st->pid <= 0) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/*
 * The pid of the holdscand that holds pid_file locked: > 0; 0 when
 * nobody does (or there is no pid file); -1 with errno.
 */
static long
running_pid(const char *pid_file)
{
	char	 buf[32], *end;
	long	 pid;
	int	 fd;

	if ((fd = open(pid_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return (errno == ENOENT ? 0 : -1);
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		(void)close(fd);	/* the lock goes with it */
		return (0);
	}
	if (errno != EWOULDBLOCK) {
		(void)close(fd);
		return (-1);
	}
	if (read_text(fd, buf, sizeof(buf)) < 0)
		return (-1);
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || (*end != '\n' &&
	    *end != '\0')) {
		errno = EINVAL;
		return (-1);
	}
	return (pid);
}

/* Read path until it is complete (a writer may be at it): 0 or -1. */
static int
read_settled(const char *path, struct reload_status *st)
{
	struct timespec	 pause = { 0, 10 * 1000000L };
	int		 tries;

	for (tries = 0; tries < 50; tries++) {
		if (reload_status_read(path, st) == 0)
			return (0);
		if (errno != EAGAIN)
			return (-1);
		(void)nanosleep(&pause, NULL);
	}
	return (-1);
}

enum reload_result
reload_request(const char *pid_file, long timeout_ms, char **msg_r)
{
	struct reload_status st;
	struct timespec	 pause = { 0, RELOAD_POLL_MS * 1000000L };
	char		*path;
	unsigned long	 want;
	long		 pid, waited;

	*msg_r = NULL;
	if ((pid = running_pid(pid_file)) <= 0) {
		*msg_r = pid == 0 ? xasprintf("holdscand is not running (no "
		    "process holds its pid file %s)", pid_file) :
		    xasprintf("pid file %s: %s", pid_file, strerror(errno));
		return (pid == 0 ? RELOAD_NOT_RUNNING : RELOAD_NO_ANSWER);
	}
	path = reload_status_path(pid_file);
	if (read_settled(path, &st) < 0 || st.pid != pid) {
		*msg_r = xasprintf("holdscand (pid %ld) keeps no reload status "
		    "in %s (%s); it was not signalled: restart it", pid, path,
		    st.pid != pid && st.pid > 0 ? "another process's" :
		    strerror(errno));
		free(path);
		return (RELOAD_NO_ANSWER);
	}
	want = st.requested + 1;
	if (kill((pid_t)pid, SIGHUP) < 0) {
		*msg_r = xasprintf("cannot signal holdscand (pid %ld): %s", pid,
		    strerror(errno));
		free(path);
		return (RELOAD_NO_ANSWER);
	}
	for (waited = 0; waited <= timeout_ms; waited += RELOAD_POLL_MS) {
		if (read_settled(path, &st) == 0 && st.pid == pid &&
		    st.done >= want) {
			*msg_r = xstrdup(st.message);
			free(path);
			return (st.ok ? RELOAD_TAKEN : RELOAD_REFUSED);
		}
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			*msg_r = xasprintf("holdscand (pid %ld) exited before "
			    "it answered", pid);
			free(path);
			return (RELOAD_NO_ANSWER);
		}
		(void)nanosleep(&pause, NULL);
	}
	*msg_r = xasprintf("holdscand (pid %ld) did not answer within %ld s; "
	    "its log says what became of the reload", pid, timeout_ms / 1000);
	free(path);
	return (RELOAD_NO_ANSWER);
}
