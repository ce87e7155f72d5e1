/*
 * NAME
 *	accounts - the web console's accounts file
 * DESCRIPTION
 *	One account a line: name, role (admin, domain, user), the yescrypt
 *	hash, the domains (comma-separated, for domain admins), the
 *	addresses (comma-separated); ":" between the fields. Lines that are
 *	empty or start with "#" are ignored. The file is root's, group the
 *	web user's, mode 0640: holdscan-web reads it, holdscan web user
 *	writes it (temporary file, fsync, rename).
 *
 *	This module must never store or log a password, never accept a hash
 *	that is not yescrypt's, and never compare a hash but in constant
 *	time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crypt.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "web/accounts.h"

/* A hash to spend the time on for names that have no account. */
#define DUMMY_HASH	"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$" \
			"qr.E9aejq3SrMVHjvH50./5EqjuosjAXdy9uaPKfAZ5"

const char *
accounts_check_name(const char *name)
{
	size_t	 len = strlen(name);

	if (len == 0 || len > ACCOUNTS_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._@-") != len ||
	    name[0] == '.' || name[0] == '-')
		return ("use 1 to 64 of a-z 0-9 . _ @ - (not first . or -)");
	return (NULL);
}

static void
account_clear(struct account *ac)
{
	free(ac->name);
	free(ac->hash);
	access_scope_clear(&ac->scope);
	memset(ac, 0, sizeof(*ac));
}

void
accounts_free(struct accounts **ap)
{
	struct accounts	*a = *ap;
	size_t		 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->n; i++)
		account_clear(&a->v[i]);
	free(a->v);
	free(a);
	*ap = NULL;
}

/* Split s at sep into at most max fields (pointers into s). */
static size_t
split(char *s, int sep, char **f, size_t max)
{
	size_t	 n = 0;

	f[n++] = s;
	while (n < max && (s = strchr(s, sep)) != NULL) {
		*s++ = '\0';
		f[n++] = s;
	}
	if (n == max && strchr(f[n - 1], sep) != NULL)
		return (max + 1);
	return (n);
}

static const char *
parse_line(char *line, struct account *ac)
{
	char		*f[6], *w, *save = NULL;
	const char	*why;
	int		 role;

	memset(ac, 0, sizeof(*ac));
	if (split(line, ':', f, 5) != 5)
		return ("not name:role:hash:domains:addresses");
	if ((why = accounts_check_name(f[0])) != NULL)
		return (why);
	if ((role = access_role_parse(f[1])) < 0)
		return ("role: use admin, domain or user");
	if (strncmp(f[2], "$y$", 3) != 0 || strlen(f[2]) >= CRYPT_OUTPUT_SIZE)
		return ("not a yescrypt hash");
	ac->name = xstrdup(f[0]);
	ac->hash = xstrdup(f[2]);
	ac->scope.role = (enum access_role)role;
	for (w = strtok_r(f[3], ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		if ((why = access_check_domain(w)) != NULL)
			goto bad;
		access_add_domain(&ac->scope, w);
	}
	save = NULL;
	for (w = strtok_r(f[4], ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		if ((why = access_check_address(w)) != NULL)
			goto bad;
		access_add_address(&ac->scope, w);
	}
	return (NULL);
bad:
	account_clear(ac);
	return (why);
}

int
accounts_parse(const char *text, const char *name, struct accounts **a_r,
    char **error_r)
{
	struct accounts	*a = xcalloc(1, sizeof(*a));
	struct account	 ac;
	const char	*why, *p = text, *nl;
	char		*line;
	size_t		 lineno = 0;

	*a_r = NULL;
	for (; *p != '\0'; p = nl != NULL ? nl + 1 : p + strlen(p)) {
		lineno++;
		nl = strchr(p, '\n');
		line = xstrndup(p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		if (line[0] == '\0' || line[0] == '#') {
			free(line);
			continue;
		}
		why = parse_line(line, &ac);
		free(line);
		if (why == NULL && accounts_find(a, ac.name) != NULL) {
			account_clear(&ac);
			why = "the name is there twice";
		}
		if (why == NULL && a->n >= ACCOUNTS_MAX) {
			account_clear(&ac);
			why = "too many accounts";
		}
		if (why != NULL) {
			*error_r = xasprintf("%s:%zu: %s", name, lineno, why);
			accounts_free(&a);
			return (-1);
		}
		a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
		a->v[a->n++] = ac;
	}
	*a_r = a;
	return (0);
}

int
accounts_load(const char *path, bool missing_ok, struct accounts **a_r,
    char **error_r)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd, rc;

	*a_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT && missing_ok) {
			*a_r = xcalloc(1, sizeof(**a_r));
			return (0);
		}
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return (-1);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > 64 * 1024 * 1024) {
			(void)close(fd);
			buf_free(&b);
			*error_r = xasprintf("%s: larger than 64 MB", path);
			return (-1);
		}
		buf_append(&b, chunk, (size_t)n);
	}
	if (n < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		(void)close(fd);
		buf_free(&b);
		return (-1);
	}
	(void)close(fd);
	if (memchr(b.data != NULL ? b.data : "", '\0', b.len) != NULL) {
		*error_r = xasprintf("%s: holds a NUL byte", path);
		buf_free(&b);
		return (-1);
	}
	rc = accounts_parse(b.data != NULL ? b.data : "", path, a_r, error_r);
	buf_free(&b);
	return (rc);
}

const struct account *
accounts_find(const struct accounts *a, const char *name)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0)
			return (&a->v[i]);
	return (NULL);
}

bool
accounts_verify(const struct accounts *a, const char *name,
    const char *password)
{
	const struct account *ac = accounts_find(a, name);
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char	*hash = ac != NULL ? ac->hash : DUMMY_HASH, *out;
	bool		 ok = false;
	size_t		 len = strlen(hash);

	out = crypt_r(password, hash, cd);
	if (out != NULL && out[0] != '*' && strlen(out) == len &&
	    sodium_memcmp(out, hash, len) == 0)
		ok = ac != NULL;
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	return (ok);
}

char *
accounts_hash(const char *password, char **error_r)
{
	struct crypt_data *cd;
	char		*salt, *hash = NULL;
	const char	*out;

	if (password[0] == '\0' || strlen(password) > ACCOUNTS_PASSWORD_MAX) {
		*error_r = xasprintf("a password has 1 to %d bytes",
		    ACCOUNTS_PASSWORD_MAX);
		return (NULL);
	}
	if ((salt = crypt_gensalt_ra("$y$", 0, NULL, 0)) == NULL) {
		*error_r = xasprintf("crypt_gensalt_ra: %s", strerror(errno));
		return (NULL);
	}
	cd = xcalloc(1, sizeof(*cd));
	out = crypt_r(password, salt, cd);
	if (out == NULL || out[0] == '*')
		*error_r = xasprintf("crypt_r: yescrypt failed");
	else
		hash = xstrdup(out);
	sodium_memzero(cd, sizeof(*cd));
	free(cd);
	free(salt);
	return (hash);
}

void
accounts_put(struct accounts *a, struct account *ac)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, ac->name) == 0) {
			account_clear(&a->v[i]);
			a->v[i] = *ac;
			memset(ac, 0, sizeof(*ac));
			return;
		}
	a->v = xreallocarray(a->v, a->n + 1, sizeof(*a->v));
	a->v[a->n++] = *ac;
	memset(ac, 0, sizeof(*ac));
}

int
accounts_del(struct accounts *a, const char *name)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, name) == 0) {
			account_clear(&a->v[i]);
			memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) *
			    sizeof(*a->v));
			a->n--;
			return (0);
		}
	return (-1);
}

int
accounts_save(const struct accounts *a, const char *path, gid_t gid,
    char **error_r)
{
	struct buf	 b = BUF_INIT;
	char		*tmp;
	size_t		 i, j, off = 0;
	ssize_t		 n;
	int		 fd;

	buf_printf(&b, "# holdscan web console accounts: "
	    "name:role:hash:domains:addresses (holdscan web user)\n");
	for (i = 0; i < a->n; i++) {
		const struct account *ac = &a->v[i];

		buf_printf(&b, "%s:%s:%s:", ac->name,
		    access_role_name(ac->scope.role), ac->hash);
		for (j = 0; j < ac->scope.ndomains; j++)
			buf_printf(&b, "%s%s", j ? "," : "", ac->scope.domains[j]);
		buf_printf(&b, ":");
		for (j = 0; j < ac->scope.naddresses; j++)
			buf_printf(&b, "%s%s", j ? "," : "",
			    ac->scope.addresses[j]);
		buf_printf(&b, "\n");
	}
	tmp = xasprintf("%s.tmp", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) < 0)
		goto fail;
	if (gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0)
		goto fail_fd;
	if (fchmod(fd, 0640) < 0)
		goto fail_fd;
	while (off < b.len) {
		if ((n = write(fd, b.data + off, b.len - off)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail_fd;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail_fd;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_fd;
	}
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	buf_free(&b);
	return (0);
fail_fd:
	if (fd >= 0)
		(void)close(fd);
fail:
	*error_r = xasprintf("%s: %s", path, strerror(errno));
	(void)unlink(tmp);
	free(tmp);
	buf_free(&b);
	return (-1);
}
