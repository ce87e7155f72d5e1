/*
 * NAME
 *	digestkey - the key file of digest links
 * DESCRIPTION
 *	Loads and creates the HMAC key digest links are signed with
 *	(digest_key_file): 64 hex digits and a newline, made from
 *	libsodium's randombytes_buf(), stored 0600 (or 0640 for the group
 *	holdscan-web runs in).
 *
 *	This module must never log, print or put into an error message any
 *	byte of the key, follow a symbolic link, accept a key file others
 *	can read or anyone but its owner can change, or leave a partial key
 *	file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/xalloc.h"
#include "web/digestkey.h"

#define KEY_HEX		(2 * DIGESTLINK_KEY_SIZE)

/* A key file that cannot be read (errno err), with its fix. */
static char *
unreadable(const char *path, int err)
{
	if (err == ENOENT)
		return (xasprintf("digest_key_file %s: %s; fix with: holdscan "
		    "digest --init-key", path, strerror(err)));
	return (xasprintf("digest_key_file %s: %s; fix: make %s a regular "
	    "file (not a symbolic link) that holdscan can read, or make a new "
	    "key with: rm %s && holdscan digest --init-key (links sent with "
	    "the old key stop working)", path, strerror(err), path, path));
}

int
digestkey_load(const char *path, unsigned char key[DIGESTLINK_KEY_SIZE],
    char **error_r)
{
	char		 text[KEY_HEX + 2];
	struct stat	 st;
	size_t		 n = 0, bin = 0;
	ssize_t		 r;
	int		 fd;

	if (sodium_init() < 0) {
		*error_r = xstrdup("libsodium cannot be initialised");
		return (-1);
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		*error_r = unreadable(path, errno);
		return (-1);
	}
	if (fstat(fd, &st) < 0) {
		*error_r = unreadable(path, errno);
		(void)close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IRWXO)) != 0) {
		*error_r = xasprintf("digest_key_file %s: not a regular file "
		    "that only its owner can change and others cannot read; "
		    "fix with: chmod 0640 %s", path, path);
		(void)close(fd);
		return (-1);
	}
	while (n < sizeof(text)) {
		r = read(fd, text + n, sizeof(text) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*error_r = unreadable(path, errno);
			(void)close(fd);
			sodium_memzero(text, sizeof(text));
			return (-1);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(void)close(fd);
	if (n == KEY_HEX + 1 && text[KEY_HEX] == '\n')
		n--;
	if (n != KEY_HEX || sodium_hex2bin(key, DIGESTLINK_KEY_SIZE, text,
	    KEY_HEX, NULL, &bin, NULL) != 0 || bin != DIGESTLINK_KEY_SIZE) {
		sodium_memzero(text, sizeof(text));
		sodium_memzero(key, DIGESTLINK_KEY_SIZE);
		*error_r = xasprintf("digest_key_file %s is not a key (64 hex "
		    "digits; a new key makes the links sent with the old one "
		    "stop working); fix with: rm %s && holdscan digest "
		    "--init-key", path, path);
		return (-1);
	}
	sodium_memzero(text, sizeof(text));
	return (0);
}

int
digestkey_create(const char *path, gid_t gid, char **error_r)
{
	unsigned char	 key[DIGESTLINK_KEY_SIZE];
	char		 text[KEY_HEX + 2];
	size_t		 off = 0, len;
	ssize_t		 w;
	int		 fd;

	if (sodium_init() < 0) {
		*error_r = xstrdup("libsodium cannot be initialised");
		return (-1);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return (-1);
	}
	randombytes_buf(key, sizeof(key));
	(void)sodium_bin2hex(text, sizeof(text), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	len = strlen(text);
	text[len++] = '\n';
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	sodium_memzero(text, sizeof(text));
	if (off < len || fsync(fd) < 0 || (gid != (gid_t)-1 &&
	    (fchown(fd, (uid_t)-1, gid) < 0 || fchmod(fd, 0640) < 0))) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		return (-1);
	}
	if (close(fd) < 0) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		(void)unlink(path);
		return (-1);
	}
	return (0);
}
