/*
 * preview.h - what the console shows of a quarantined message: its
 * header block and body as text, and the names of its attachments,
 * from the stored queue file holdscand passed (a read-only descriptor).
 */
#ifndef HS_PREVIEW_H
#define HS_PREVIEW_H

#include <stdbool.h>

#include <jansson.h>

#define PREVIEW_FILE_MAX	(64L * 1024 * 1024)
#define PREVIEW_BODY_MAX	(256 * 1024)
#define PREVIEW_ATTACH_MAX	100

/*
 * preview_fd() reads the queue file on fd and sets "headers" (text),
 * "body" (text, at most PREVIEW_BODY_MAX bytes, "body_truncated" when
 * cut) and "attachments" ([{name, type}]) in out. The text is the
 * message as it is, made safe (text_safe(): valid UTF-8, no control
 * characters but newline and tab): HTML is shown as its source, never
 * rendered, and nothing is decoded. 0, or -1 with *error_r.
 */
int	 preview_fd(int fd, json_t *out, char **error_r);
/*
 * preview_image() does the same for a queue file's image of len bytes
 * (another host's, farmprev.c): the same keys. cut says the image is the
 * file's first bytes only (qfile_parse_prefix(): its envelope whole, its
 * content up to the last whole record in them; "body_truncated" is then
 * true). 0, or -1 with *error_r.
 */
int	 preview_image(const void *data, size_t len, bool cut, json_t *out,
	    char **error_r);
/* preview_attachments(): the attachment list of a body text (tests). */
json_t	*preview_attachments(const char *body, size_t len);

#endif
