/*
 * digestkey.h - the key of digest links (digest_key_file): 32 random
 * bytes, written as 64 hex digits and a newline, in a file that only its
 * owner and (optionally) one group can read.
 *
 * holdscan digest (root, cron) signs with it; holdscan-web (its own
 * user, in the file's group) checks with it.
 */
#ifndef HS_DIGESTKEY_H
#define HS_DIGESTKEY_H

#include <sys/types.h>

#include "web/digestlink.h"

/*
 * digestkey_load() reads the key from path. Refused: a symbolic link,
 * anything but a regular file, a file others can read or that anyone
 * but its owner can write, anything but 64 hex digits (and a newline).
 * 0, or -1 with a sentence in *error_r, a file's with its fix (never
 * the key's contents).
 */
int	 digestkey_load(const char *path,
	    unsigned char key[DIGESTLINK_KEY_SIZE], char **error_r);

/*
 * digestkey_create() makes a new random key in path, which must not
 * exist (O_EXCL): mode 0600, or 0640 and group gid when gid is not
 * (gid_t)-1; written and fsync'ed before it is complete. 0, or -1 with
 * *error_r (a partial file is removed).
 */
int	 digestkey_create(const char *path, gid_t gid, char **error_r);

#endif
