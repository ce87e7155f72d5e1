/*
 * NAME
 *	queue - Postfix queue layout, queue ids, locks and triggers
 * DESCRIPTION
 *	Everything holdscan must agree on with the running Postfix about
 *	where queue files live and what they are called: the instance's
 *	settings (read with postconf -c, never guessed), queue ids derived
 *	from inode and time in the short or long style, hashed directory
 *	paths, the ready mode, the advisory lock style (flock on Linux),
 *	hash directories created level by level as the mail owner, and the
 *	public/qmgr trigger.
 *
 *	The layout follows the instance while holdscand runs: when main.cf
 *	changes, queue_layout_refresh() reads it again and updates the
 *	hashing and queue id style of the one layout struct everybody holds,
 *	in place. Files an earlier layout put somewhere else are still found
 *	(queue_locate()), as postsuper(1) finds them to move them.
 *
 *	This module must never look at message content, never build a path
 *	from an id that queue_id_ok() refuses, never block the caller on a
 *	lock or on a Postfix service, and never run postconf while main.cf
 *	is unchanged.
 * DIAGNOSTICS
 *	Functions return -1 with errno, or with a sentence in *error_r. The
 *	module does not log.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/queue.h"
#include "common/xalloc.h"

/* Postfix's safe alphabet (no vowels): base 52 for time, 51 (no 'z') for inodes. */
static const char safe_chars[] =
    "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";
#define LG_SEC_BASE	52
#define LG_SEC_PAD	6
#define LG_USEC_BASE	52
#define LG_USEC_PAD	4
#define LG_TIME_PAD	(LG_SEC_PAD + LG_USEC_PAD)
#define LG_INUM_SEP	'z'
#define LG_INUM_BASE	51
#define SH_USEC_PAD	5

#define POSTCONF_OUTPUT_MAX	65536

static const char *const layout_params[] = {
	"queue_directory", "mail_owner", "enable_long_queue_ids",
	"hash_queue_names", "hash_queue_depth", "myhostname",
	"line_length_limit",
};
#define NPARAMS	(sizeof(layout_params) / sizeof(layout_params[0]))

int
queue_postconf(const char *config_dir, const char *command_dir,
    const char *const *args, struct buf *out, char **error_r)
{
	const char	**argv;
	char		*postconf;
	int		 pfd[2], status;
	size_t		 i, n = 0;
	ssize_t		 r;
	pid_t		 pid;
	char		 chunk[4096];

	for (i = 0; args[i] != NULL; i++)
		;
	argv = xcalloc(i + 4, sizeof(*argv));
	postconf = command_dir ? xasprintf("%s/postconf", command_dir) :
	    xstrdup("postconf");
	argv[n++] = postconf;
	argv[n++] = "-c";
	argv[n++] = config_dir;
	for (i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		*error_r = xasprintf("pipe: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		*error_r = xasprintf("fork: %s", strerror(errno));
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		goto fail;
	}
	if (pid == 0) {
		if (dup2(pfd[1], STDOUT_FILENO) < 0 ||
		    dup2(pfd[1], STDERR_FILENO) < 0)
			_exit(127);
		execvp(postconf, (char *const *)argv);
		(void)fprintf(stderr, "cannot run %s: %s\n", postconf,
		    strerror(errno));
		_exit(127);
	}
	(void)close(pfd[1]);
	for (;;) {
		r = read(pfd[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out->len < POSTCONF_OUTPUT_MAX)
			buf_append(out, chunk, (size_t)r);
	}
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			*error_r = xasprintf("waitpid: %s", strerror(errno));
			goto fail;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		while (out->len > 0 && out->data[out->len - 1] == '\n')
			out->data[--out->len] = '\0';
		*error_r = xasprintf("postconf -c %s failed: %s", config_dir,
		    out->len ? out->data : "no output");
		goto fail;
	}
	free(argv);
	free(postconf);
	return (0);

fail:
	free(argv);
	free(postconf);
	return (-1);
}

/* Split "a, b c" (Postfix list syntax: commas and white space) into a NULL-terminated vector. */
static char **
split_list(const char *s)
{
	char	**v = xcalloc(1, sizeof(*v));
	size_t	 n = 0, len;

	for (;;) {
		s += strspn(s, ", \t\r\n");
		if (*s == '\0')
			break;
		len = strcspn(s, ", \t\r\n");
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = xstrndup(s, len);
		v[n] = NULL;
		s += len;
	}
	return (v);
}

static int
parse_posint(const char *s, long max, long *val_r)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < 0 || v > max)
		return (-1);
	*val_r = v;
	return (0);
}

char *
queue_layout_fix(const char *error, const char *config_path)
{
	return (xasprintf("%s; fix: set postfix_config_directory in %s to the "
	    "directory of the main.cf of a Postfix installed here (postconf -h "
	    "config_directory)", error, config_path));
}

int
queue_layout_load(const char *config_dir, const char *command_dir,
    struct queue_layout **ql_r, char **error_r)
{
	struct buf	 out = BUF_INIT;
	struct queue_conf_stamp stamp;
	struct queue_layout *ql;
	struct passwd	*pw;
	const char	*args[NPARAMS + 3];
	char		*line, *save = NULL;
	char		*val[NPARAMS];
	size_t		 i = 0;
	long		 depth, limit;

	/* Before postconf reads it: a change after this shows as a new stamp. */
	if (queue_conf_stamp(config_dir, &stamp) < 0) {
		*error_r = xasprintf("%s/main.cf: %s", config_dir,
		    strerror(errno));
		return (-1);
	}
	args[0] = "-x";
	args[1] = "-h";
	for (i = 0; i < NPARAMS; i++)
		args[i + 2] = layout_params[i];
	args[NPARAMS + 2] = NULL;
	i = 0;
	if (queue_postconf(config_dir, command_dir, args, &out, error_r) < 0) {
		buf_free(&out);
		return (-1);
	}
	/* stdout and stderr share the pipe; values are the lines without "postconf:" */
	for (line = strtok_r(out.data ? out.data : (char *)"", "\n", &save);
	    line && i < NPARAMS; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "postconf: ", 10) == 0)
			continue;
		val[i++] = line;
	}
	if (i != NPARAMS) {
		*error_r = xasprintf("postconf -c %s: expected %zu values, got %zu",
		    config_dir, NPARAMS, i);
		buf_free(&out);
		return (-1);
	}

	ql = xcalloc(1, sizeof(*ql));
	ql->stamp = stamp;
	ql->config_dir = xstrdup(config_dir);
	ql->queue_dir = xstrdup(val[0]);
	ql->mail_owner = xstrdup(val[1]);
	ql->long_ids = strcmp(val[2], "yes") == 0;
	ql->hashed = split_list(val[3]);
	ql->myhostname = xstrdup(val[5]);
	if (parse_posint(val[4], QUEUE_HASH_DEPTH_MAX, &depth) < 0 ||
	    depth < 1) {
		*error_r = xasprintf("%s/main.cf: bad hash_queue_depth: %s",
		    config_dir, val[4]);
		goto fail;
	}
	ql->hash_depth = (int)depth;
	if (parse_posint(val[6], 1L << 24, &limit) < 0 || limit < 1) {
		*error_r = xasprintf("%s/main.cf: bad line_length_limit: %s",
		    config_dir, val[6]);
		goto fail;
	}
	ql->line_limit = (size_t)limit;
	if (ql->queue_dir[0] != '/') {
		*error_r = xasprintf("%s/main.cf: queue_directory is not an "
		    "absolute path: %s", config_dir, ql->queue_dir);
		goto fail;
	}
	errno = 0;
	if ((pw = getpwnam(ql->mail_owner)) == NULL) {
		*error_r = xasprintf("%s/main.cf: mail_owner %s: %s", config_dir,
		    ql->mail_owner, errno ? strerror(errno) : "no such user");
		goto fail;
	}
	ql->owner_uid = pw->pw_uid;
	ql->owner_gid = pw->pw_gid;
	buf_free(&out);
	*ql_r = ql;
	return (0);

fail:
	buf_free(&out);
	queue_layout_free(&ql);
	return (-1);
}

struct queue_layout *
queue_layout_new(const char *queue_dir, uid_t uid, gid_t gid, bool long_ids,
    const char *hashed, int hash_depth)
{
	struct queue_layout *ql = xcalloc(1, sizeof(*ql));

	ql->config_dir = xstrdup("");
	ql->queue_dir = xstrdup(queue_dir);
	ql->mail_owner = xstrdup("");
	ql->myhostname = xstrdup("localhost");
	ql->owner_uid = uid;
	ql->owner_gid = gid;
	ql->long_ids = long_ids;
	ql->hashed = split_list(hashed);
	ql->hash_depth = hash_depth;
	ql->line_limit = 2048;
	return (ql);
}

void
queue_layout_free(struct queue_layout **qlp)
{
	struct queue_layout *ql = *qlp;
	size_t		 i;

	if (ql == NULL)
		return;
	free(ql->config_dir);
	free(ql->queue_dir);
	free(ql->mail_owner);
	free(ql->myhostname);
	for (i = 0; ql->hashed && ql->hashed[i]; i++)
		free(ql->hashed[i]);
	free(ql->hashed);
	free(ql);
	*qlp = NULL;
}

bool
queue_is_hashed(const struct queue_layout *ql, const char *queue)
{
	size_t	 i;

	/* mail_queue_dir() matches with strcasecmp(). */
	for (i = 0; ql->hashed[i]; i++)
		if (strcasecmp(ql->hashed[i], queue) == 0)
			return (true);
	return (false);
}

int
queue_hash_levels(const struct queue_layout *ql, const char *queue)
{
	return (queue_is_hashed(ql, queue) ? ql->hash_depth : 0);
}

int
queue_conf_stamp(const char *config_dir, struct queue_conf_stamp *st)
{
	struct stat	 sb;
	char		 path[4096];
	int		 n;

	memset(st, 0, sizeof(*st));
	n = snprintf(path, sizeof(path), "%s/main.cf", config_dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	/* Followed if a link: what postconf reads. */
	if (stat(path, &sb) < 0)
		return (errno == ENOENT ? 0 : -1);
	st->exists = true;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
	return (0);
}

bool
queue_conf_same(const struct queue_conf_stamp *a,
    const struct queue_conf_stamp *b)
{
	if (a->exists != b->exists)
		return (false);
	if (!a->exists)
		return (true);
	return (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec);
}

bool
queue_conf_settled(const struct queue_conf_stamp *st, time_t now)
{
	/* dict_load_file_xt() reads again while before - 1 <= mtime <= after. */
	return (!st->exists || st->mtime.tv_sec < now - 1 ||
	    st->mtime.tv_sec > now);
}

static bool
same_hashing(const struct queue_layout *a, const struct queue_layout *b,
    const char *queue)
{
	return (queue_hash_levels(a, queue) == queue_hash_levels(b, queue));
}

unsigned
queue_layout_diff(const struct queue_layout *a, const struct queue_layout *b)
{
	unsigned	 diff = 0;

	if (!same_hashing(a, b, QUEUE_HOLD))
		diff |= QUEUE_DIFF_HOLD;
	if (!same_hashing(a, b, QUEUE_INCOMING))
		diff |= QUEUE_DIFF_INCOMING;
	if (a->long_ids != b->long_ids)
		diff |= QUEUE_DIFF_IDS;
	if (strcmp(a->queue_dir, b->queue_dir) != 0)
		diff |= QUEUE_DIFF_QUEUE_DIR;
	if (strcmp(a->mail_owner, b->mail_owner) != 0 ||
	    a->owner_uid != b->owner_uid || a->owner_gid != b->owner_gid)
		diff |= QUEUE_DIFF_OWNER;
	if (strcmp(a->myhostname, b->myhostname) != 0)
		diff |= QUEUE_DIFF_HOSTNAME;
	if (a->line_limit != b->line_limit)
		diff |= QUEUE_DIFF_LINE_LIMIT;
	return (diff);
}

/* Append s to buf[size] (always NUL-terminated; cut off when full). */
static void
append(char *buf, size_t size, const char *s)
{
	size_t	 len = strnlen(buf, size);

	if (len + 1 < size)
		(void)snprintf(buf + len, size - len, "%s", s);
}

const char *
queue_diff_names(unsigned diff, char *buf, size_t size)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} names[] = {
		{ QUEUE_DIFF_HOLD | QUEUE_DIFF_INCOMING,
		    "hash_queue_names/hash_queue_depth" },
		{ QUEUE_DIFF_IDS, "enable_long_queue_ids" },
		{ QUEUE_DIFF_QUEUE_DIR, "queue_directory" },
		{ QUEUE_DIFF_OWNER, "mail_owner" },
		{ QUEUE_DIFF_HOSTNAME, "myhostname" },
		{ QUEUE_DIFF_LINE_LIMIT, "line_length_limit" },
	};
	size_t	 i;

	if (size == 0)
		return (buf);
	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((diff & names[i].bit) == 0)
			continue;
		if (buf[0] != '\0')
			append(buf, size, ", ");
		append(buf, size, names[i].name);
	}
	return (buf);
}

const char *
queue_layout_describe(const struct queue_layout *ql, char *buf, size_t size)
{
	char	 depth[32];
	size_t	 i;

	if (size == 0)
		return (buf);
	buf[0] = '\0';
	append(buf, size, "hash_queue_names=");
	for (i = 0; ql->hashed[i] != NULL; i++) {
		if (i > 0)
			append(buf, size, ",");
		append(buf, size, ql->hashed[i]);
	}
	(void)snprintf(depth, sizeof(depth), " hash_queue_depth=%d",
	    ql->hash_depth);
	append(buf, size, depth);
	append(buf, size, ql->long_ids ? " enable_long_queue_ids=yes" :
	    " enable_long_queue_ids=no");
	return (buf);
}

enum queue_refresh
queue_layout_refresh(struct queue_layout *ql, const char *command_dir,
    time_t now, unsigned *diff_r, char **error_r)
{
	struct queue_conf_stamp st;
	struct queue_layout *fresh = NULL;
	char		**old;

	*diff_r = 0;
	if (queue_conf_stamp(ql->config_dir, &st) < 0) {
		*error_r = xasprintf("%s/main.cf: %s", ql->config_dir,
		    strerror(errno));
		return (QUEUE_REFRESH_FAILED);
	}
	if (queue_conf_same(&st, &ql->stamp))
		return (QUEUE_REFRESH_SAME);
	/* postconf would wait for it, and so would the event loop. */
	if (!queue_conf_settled(&st, now))
		return (QUEUE_REFRESH_UNSETTLED);
	if (queue_layout_load(ql->config_dir, command_dir, &fresh, error_r) < 0)
		return (QUEUE_REFRESH_FAILED);
	*diff_r = queue_layout_diff(ql, fresh);
	/* Swap in what can change while we run; the rest needs a restart. */
	old = ql->hashed;
	ql->hashed = fresh->hashed;
	fresh->hashed = old;
	ql->hash_depth = fresh->hash_depth;
	ql->long_ids = fresh->long_ids;
	ql->stamp = fresh->stamp;
	queue_layout_free(&fresh);
	return (QUEUE_REFRESH_READ);
}

bool
queue_id_ok(const char *id)
{
	size_t	 i;

	for (i = 0; id[i]; i++) {
		if (i >= QUEUE_ID_MAXLEN)
			return (false);
		if (!isascii((unsigned char)id[i]) ||
		    !(isalnum((unsigned char)id[i]) || id[i] == '_'))
			return (false);
	}
	return (i > 0);
}

/* Most significant digit first, left-padded with '0' to at least pad digits. */
static void
encode_safe(unsigned long long v, unsigned base, size_t pad, char *out)
{
	char	 tmp[32];
	size_t	 n = 0, i;

	do {
		tmp[n++] = safe_chars[v % base];
		v /= base;
	} while (v != 0);
	while (n < pad)
		tmp[n++] = '0';
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

static int
decode_safe(const char *s, size_t len, unsigned base, unsigned long long *v_r)
{
	unsigned long long v = 0;
	const char	*p;
	size_t		 i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || (p = strchr(safe_chars, s[i])) == NULL ||
		    (unsigned)(p - safe_chars) >= base)
			return (-1);
		if (v > (~0ULL - (unsigned)(p - safe_chars)) / base)
			return (-1);
		v = v * base + (unsigned)(p - safe_chars);
	}
	*v_r = v;
	return (0);
}

void
queue_id_make(bool long_ids, ino_t ino, const struct timeval *tv, char *buf)
{
	if (long_ids) {
		size_t	 n;

		encode_safe((unsigned long long)tv->tv_sec, LG_SEC_BASE,
		    LG_SEC_PAD, buf);
		n = strlen(buf);
		encode_safe((unsigned long long)tv->tv_usec, LG_USEC_BASE,
		    LG_USEC_PAD, buf + n);
		n += strlen(buf + n);
		buf[n++] = LG_INUM_SEP;
		encode_safe((unsigned long long)ino, LG_INUM_BASE, 0, buf + n);
	} else {
		(void)snprintf(buf, QUEUE_ID_SIZE, "%05lX%llX",
		    (unsigned long)tv->tv_usec, (unsigned long long)ino);
	}
}

/* The long-id separator: the last 'z', at index >= 10 (Postfix MQID_FIND_LG_INUM_SEPARATOR). */
static const char *
long_id_sep(const char *id)
{
	const char	*z = strrchr(id, LG_INUM_SEP);

	return (z != NULL && z - id >= LG_TIME_PAD ? z : NULL);
}

int
queue_id_inode(const char *id, ino_t *ino_r)
{
	unsigned long long v;
	const char	*z;
	char		*end;

	if (!queue_id_ok(id))
		goto bad;
	if ((z = long_id_sep(id)) != NULL) {
		if (decode_safe(z + 1, strlen(z + 1), LG_INUM_BASE, &v) < 0)
			goto bad;
	} else {
		if (strlen(id) <= SH_USEC_PAD)
			goto bad;
		errno = 0;
		v = strtoull(id + SH_USEC_PAD, &end, 16);
		if (errno || *end != '\0' || !isxdigit((unsigned char)id[SH_USEC_PAD]))
			goto bad;
	}
	*ino_r = (ino_t)v;
	return (0);
bad:
	errno = EINVAL;
	return (-1);
}

/*
 * The characters the hash directories are taken from: the id itself for
 * short ids, the microseconds as five upper-case hex digits for long ids,
 * so that both styles spread over the same directories.
 */
static int
hash_key(const char *id, char *key, size_t size)
{
	unsigned long long usec;
	const char	*z;

	if ((z = long_id_sep(id)) == NULL) {
		(void)snprintf(key, size, "%s", id);
		return (0);
	}
	if (decode_safe(z - LG_USEC_PAD, LG_USEC_PAD, LG_USEC_BASE, &usec) < 0)
		return (-1);
	(void)snprintf(key, size, "%05llX", usec);
	return (0);
}

/* "queue[/h[/a]]" for id with levels hash levels, into buf[QUEUE_PATH_SIZE]. */
static int
subdir_at(const char *queue, const char *id, int levels, char *buf)
{
	char	 key[QUEUE_ID_SIZE + 8];
	size_t	 len, klen;
	int	 level, n;

	/* Ids from the disk are checked where they are read: this is a bug. */
	if (!queue_id_ok(id) || strchr(queue, '/') != NULL || *queue == '\0')
		hs_panic("queue path of \"%.40s\" in \"%.40s\": not a queue id "
		    "or not a queue", id, queue);
	if (hash_key(id, key, sizeof(key)) < 0) {
		errno = EINVAL;
		return (-1);
	}
	n = snprintf(buf, QUEUE_PATH_SIZE, "%s", queue);
	if (n < 0 || n >= QUEUE_PATH_SIZE)
		goto toolong;
	len = (size_t)n;
	klen = strlen(key);
	for (level = 0; level < levels; level++) {
		if (len + 3 >= QUEUE_PATH_SIZE)
			goto toolong;
		buf[len++] = '/';
		buf[len++] = (size_t)level < klen ? key[level] : '_';
		buf[len] = '\0';
	}
	return (0);
toolong:
	errno = ENAMETOOLONG;
	return (-1);
}

/* subdir_at() plus "/id". */
static int
path_at(const char *queue, const char *id, int levels, char *buf)
{
	size_t	 len;
	int	 n;

	if (subdir_at(queue, id, levels, buf) < 0)
		return (-1);
	len = strlen(buf);
	n = snprintf(buf + len, QUEUE_PATH_SIZE - len, "/%s", id);
	if (n < 0 || (size_t)n >= QUEUE_PATH_SIZE - len) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

int
queue_subdir(const struct queue_layout *ql, const char *queue, const char *id,
    char *buf)
{
	return (subdir_at(queue, id, queue_hash_levels(ql, queue), buf));
}

int
queue_path(const struct queue_layout *ql, const char *queue, const char *id,
    char *buf)
{
	return (path_at(queue, id, queue_hash_levels(ql, queue), buf));
}

int
queue_locate(const struct queue_layout *ql, int qdirfd, const char *queue,
    const char *id, char *buf, struct stat *st)
{
	int	 live = queue_hash_levels(ql, queue), levels;

	if (path_at(queue, id, live, buf) < 0)
		return (-1);
	if (fstatat(qdirfd, buf, st, AT_SYMLINK_NOFOLLOW) == 0)
		return (0);
	if (errno != ENOENT)
		return (-1);
	for (levels = 0; levels <= QUEUE_HASH_DEPTH_MAX; levels++) {
		if (levels == live)
			continue;
		if (path_at(queue, id, levels, buf) < 0)
			return (-1);
		if (fstatat(qdirfd, buf, st, AT_SYMLINK_NOFOLLOW) == 0)
			return (0);
		if (errno != ENOENT && errno != ENOTDIR)
			return (-1);
	}
	errno = ENOENT;
	return (-1);
}

bool
queue_stat_ready(const struct stat *st)
{
	return (S_ISREG(st->st_mode) &&
	    (st->st_mode & S_IRWXU) == QUEUE_MODE_READY);
}

int
queue_lock_try(int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return (0);
	if (errno == EWOULDBLOCK)
		errno = EAGAIN;
	return (-1);
}

int
queue_lock_test(int fd)
{
	int	 probe;
	char	 path[64];

	/*
	 * A flock lock belongs to an open file description, so probing
	 * through our own fd would find our own lock; open a new one.
	 */
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if ((probe = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (-1);
	if (flock(probe, LOCK_SH | LOCK_NB) < 0) {
		int	 saved = errno;

		(void)close(probe);
		if (saved == EWOULDBLOCK)
			return (1);
		errno = saved;
		return (-1);
	}
	(void)close(probe);
	return (0);
}

int
queue_mkdirs(const struct queue_layout *ql, int dirfd, const char *relpath)
{
	return (queue_mkdirs_owner(dirfd, relpath, ql->owner_uid,
	    ql->owner_gid));
}

int
queue_mkdirs_owner(int dirfd, const char *relpath, uid_t uid, gid_t gid)
{
	char	 path[QUEUE_PATH_SIZE * 2];
	char	*p;
	int	 n;

	n = snprintf(path, sizeof(path), "%s", relpath);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	for (p = path;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p == path) {
			if (*p == '\0')
				return (0);
			continue;
		}
		{
			char	 saved = *p;

			*p = '\0';
			if (mkdirat(dirfd, path, QUEUE_MODE_READY) == 0) {
				/* Root would leave root-owned levels Postfix cannot use. */
				if (geteuid() == 0 && fchownat(dirfd, path,
				    uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
					return (-1);
			} else if (errno != EEXIST) {
				return (-1);
			}
			*p = saved;
		}
		if (*p == '\0')
			return (0);
	}
}

int
queue_fsync_dir(int dirfd)
{
	return (fsync(dirfd));
}

int
queue_fsync_dirat(int dirfd, const char *relpath)
{
	int	 fd, rc, saved;

	if ((fd = openat(dirfd, relpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return (-1);
	rc = fsync(fd);
	saved = errno;
	(void)close(fd);
	errno = saved;
	return (rc);
}

int
queue_trigger(const struct queue_layout *ql, const char *service,
    const char *request)
{
	struct sockaddr_un sun;
	struct stat	 st;
	size_t		 len = strlen(request);
	ssize_t		 w;
	int		 fd, n, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/public/%s",
	    ql->queue_dir, service);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (stat(sun.sun_path, &st) < 0)
		return (-1);
	if (S_ISFIFO(st.st_mode)) {
		if ((fd = open(sun.sun_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			return (-1);
	} else {
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0)
			return (-1);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
		    errno != EINPROGRESS) {
			saved = errno;
			(void)close(fd);
			errno = saved;
			return (-1);
		}
	}
	w = write(fd, request, len);
	saved = errno;
	(void)close(fd);
	if (w != (ssize_t)len) {
		errno = w < 0 ? saved : EAGAIN;
		return (-1);
	}
	return (0);
}
