/*
 * NAME
 *	cmd_scan - holdscan scan: the scanners and the policy on a message file
 * DESCRIPTION
 *	Runs the configured scanners as worker_user (the content is
 *	untrusted) and prints what the policy would do.
 *
 *	This file must never change the queue or the state, and never run a
 *	plugin as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sysexits.h>
#include <unistd.h>

#include "common/log.h"
#include "common/policy.h"
#include "common/xalloc.h"
#include "scanner/pluginload.h"
#include "tool/tool.h"

#define SCAN_FILE_MAX	(256L * 1024 * 1024)

/* --- scan ------------------------------------------------------------------------ */

static char *
read_message(const char *path, size_t max, size_t *len_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[65536];
	size_t		 i, k;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (NULL);
	while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || b.len + (size_t)r > max) {
			if (r >= 0)
				errno = EFBIG;
			(void)close(fd);
			buf_free(&b);
			return (NULL);
		}
		buf_append(&b, chunk, (size_t)r);
	}
	(void)close(fd);
	/* As Postfix stores it: lines end in LF. */
	for (i = k = 0; i < b.len; i++)
		if (!(b.data[i] == '\r' && i + 1 < b.len && b.data[i + 1] == '\n'))
			b.data[k++] = b.data[i];
	b.len = k;
	buf_putc(&b, '\0');
	*len_r = k;
	return (buf_steal(&b, NULL));
}

/* Never parse untrusted content as root: become worker_user. */
static void
become_worker(struct tool *t)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return;
	errno = 0;
	if ((pw = getpwnam(t->conf->worker_user)) == NULL)
		hs_fatalx(EX_NOUSER, "worker_user %s: %s", t->conf->worker_user,
		    errno ? strerror(errno) : "no such user");
	if (pw->pw_uid == 0)
		hs_fatalx(EX_CONFIG, "worker_user %s is root", t->conf->worker_user);
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		hs_fatal(EX_NOPERM, "cannot change to %s", t->conf->worker_user);
}

int
cmd_scan(struct tool *t, int argc, char **argv)
{
	struct policy	 policy;
	struct hs_msg	 msg;
	struct hs_result r;
	struct plugin	**plugins;
	const char	*path = NULL, *sender = "", **rcpts = NULL, *v, *why;
	const char	*sep;
	enum verdict	 worst = VERDICT_CLEAN;
	char		*data, *error = NULL, worst_reason[256] = "";
	size_t		 len, nrcpts = 0, i, max;
	int		 a;

	for (a = 1; a < argc; a++) {
		if ((v = tool_opt_value(t, argc, argv, &a, "--sender")) != NULL)
			sender = v;
		else if ((v = tool_opt_value(t, argc, argv, &a, "--rcpt")) != NULL) {
			rcpts = xreallocarray(rcpts, nrcpts + 1, sizeof(*rcpts));
			rcpts[nrcpts++] = v;
		} else if (argv[a][0] == '-' || path != NULL)
			tool_bad_arg(t, argv[a]);
		else
			path = argv[a];
	}
	if (path == NULL)
		tool_bad_usage(t, "which message file?");
	max = t->conf->message_size_limit > 0 ?
	    (size_t)t->conf->message_size_limit : (size_t)SCAN_FILE_MAX;
	if ((data = read_message(path, max, &len)) == NULL)
		return (tool_fail("%s: %s", path, strerror(errno)));
	become_worker(t);
	memset(&msg, 0, sizeof(msg));
	msg.queue_id = "scan";
	msg.sender = sender;
	msg.recipients = rcpts;
	msg.nrecipients = nrcpts;
	msg.data = data;
	msg.len = len;
	sep = strstr(data, "\n\n");
	msg.header_len = sep ? (size_t)(sep - data) + 2 : len;
	(void)printf("%s: %zu bytes, %zu header bytes\n", path, len,
	    msg.header_len);
	plugins = xcalloc(t->conf->nscanners + 1, sizeof(*plugins));
	for (i = 0; i < t->conf->nscanners; i++) {
		struct plugin	*p;

		if (plugin_start(t->conf->plugin_directory, &t->conf->scanners[i],
		    &p, &error) < 0)
			hs_fatalx(EX_CONFIG, "%s", error);
		why = NULL;
		if (p->desc->worker_init != NULL &&
		    p->desc->worker_init(p->ctx, &why) < 0)
			hs_fatalx(EX_CONFIG, "plugin %s: %s", p->name, why ? why :
			    "worker_init failed");
		plugins[i] = p;
	}
	for (i = 0; i < t->conf->nscanners; i++) {
		struct plugin	*p = plugins[i];

		plugin_scan(p, &msg, &r);
		(void)printf("%-14s %s%s%s", p->name,
		    verdict_name((enum verdict)r.verdict), r.reason[0] ? ": " : "",
		    r.reason);
		if (r.score != 0)
			(void)printf(" (score %.1f)", r.score);
		(void)printf("\n");
		if (r.headers[0] != '\0') {
			char	*h = xstrdup(r.headers), *line, *save = NULL;

			for (line = strtok_r(h, "\n", &save); line != NULL;
			    line = strtok_r(NULL, "\n", &save))
				(void)printf("%-14s   adds %s\n", "", line);
			free(h);
		}
		if ((enum verdict)r.verdict > worst) {
			worst = (enum verdict)r.verdict;
			(void)snprintf(worst_reason, sizeof(worst_reason), "%s",
			    r.reason);
		}
	}
	policy_from_config(&policy, t->conf);
	(void)printf("verdict:       %s%s%s\n", verdict_name(worst),
	    worst_reason[0] ? ": " : "", worst_reason);
	(void)printf("action:        %s%s\n", config_action_name(policy_decide(
	    &policy, worst, rcpts, nrcpts)), t->conf->nscanners == 0 ?
	    " (no scanners configured)" : "");
	policy_clear(&policy);
	free(plugins);
	free(rcpts);
	free(data);
	return (0);
}
