/*
 * accounts.h - the web console's accounts file: one account a line,
 * "name:role:yescrypt-hash:domain,domain:address,address", read by
 * holdscan-web and changed by holdscan web user (add, del, passwd).
 *
 * Passwords are hashed with libcrypt's yescrypt ("$y$", a fresh salt
 * from crypt_gensalt_ra()) and checked with crypt_r(); nothing else.
 */
#ifndef HS_ACCOUNTS_H
#define HS_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "common/access.h"

#define ACCOUNTS_NAME_MAX	64
#define ACCOUNTS_PASSWORD_MAX	1024
#define ACCOUNTS_MAX		100000

struct account {
	char		*name;
	char		*hash;
	struct access_scope scope;
};

struct accounts {
	struct account	*v;
	size_t		 n;
};

/*
 * accounts_load() reads path into a new set (a missing file: none, when
 * missing_ok). A malformed line is an error naming the line: an accounts
 * file is not guessed at. 0, or -1 with *error_r.
 */
int	 accounts_load(const char *path, bool missing_ok, struct accounts **a_r,
	    char **error_r);
/* accounts_parse(): the same from text (tests). */
int	 accounts_parse(const char *text, const char *name,
	    struct accounts **a_r, char **error_r);
void	 accounts_free(struct accounts **a);
/* The account called name, borrowed from a, or NULL. */
const struct account *accounts_find(const struct accounts *a,
	    const char *name);
/*
 * accounts_verify() is true when password is name's. Without such an
 * account a hash is computed all the same, so that the time taken does
 * not say which names exist.
 */
bool	 accounts_verify(const struct accounts *a, const char *name,
	    const char *password);
/* A yescrypt hash of password (owned by the caller), or NULL with *error_r. */
char	*accounts_hash(const char *password, char **error_r);
/* NULL when name is a good account name ([a-z0-9._@-], 1..64), else why. */
const char *accounts_check_name(const char *name);
/*
 * Changes, in memory: accounts_put() adds or replaces (takes ownership
 * of ac's strings and scope), accounts_del() removes (-1: no such one).
 */
void	 accounts_put(struct accounts *a, struct account *ac);
int	 accounts_del(struct accounts *a, const char *name);
/*
 * accounts_save() writes a to path atomically (a temporary file in the
 * same directory, fsync, rename), mode 0640, group gid (-1: unchanged).
 * 0, or -1 with *error_r.
 */
int	 accounts_save(const struct accounts *a, const char *path, gid_t gid,
	    char **error_r);

#endif
