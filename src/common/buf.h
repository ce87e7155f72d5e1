/*
 * buf.h - a growable byte buffer (Postfix's VSTRING, smaller).
 *
 * The caller owns the struct; buf_free() releases its storage. data is
 * always NUL-terminated one byte past len, so text can be used as a C string.
 */
#ifndef HS_BUF_H
#define HS_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

void	buf_reserve(struct buf *b, size_t extra);
void	buf_append(struct buf *b, const void *p, size_t n);
void	buf_putc(struct buf *b, int c);
void	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_reset(struct buf *b);
/* Give the storage to the caller (free(3) it); the buf becomes empty. */
char	*buf_steal(struct buf *b, size_t *len_r);
void	buf_free(struct buf *b);
/*
 * Append the contents of the file path; 0, or -1 with errno (EFBIG when
 * the buffer would grow beyond max bytes; what was read stays in b).
 */
int	buf_read_file(struct buf *b, const char *path, size_t max);

#endif
