/*
 * NAME
 *	buf - growable byte buffer
 * DESCRIPTION
 *	Appends never fail (allocation goes through xalloc) and keep a NUL
 *	byte after the data. Growth is geometric. The module must never
 *	read or write outside [data, data + cap).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"

void
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		hs_panic("buf_reserve: size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
	b->data[b->len] = '\0';	/* a new buffer is an empty string too */
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_putc(struct buf *b, int c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = (char)c;
	b->data[b->len] = '\0';
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		hs_panic("buf_printf: bad format");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *
buf_steal(struct buf *b, size_t *len_r)
{
	char	*p;

	buf_reserve(b, 0);
	p = b->data;
	if (len_r)
		*len_r = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return (p);
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
buf_read_file(struct buf *b, const char *path, size_t max)
{
	char	 chunk[8192];
	size_t	 n;
	FILE	*fp;
	int	 saved;

	if ((fp = fopen(path, "re")) == NULL)
		return (-1);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (n > max || b->len > max - n) {
			(void)fclose(fp);
			errno = EFBIG;
			return (-1);
		}
		buf_append(b, chunk, n);
	}
	if (ferror(fp)) {
		saved = errno ? errno : EIO;
		(void)fclose(fp);
		errno = saved;
		return (-1);
	}
	(void)fclose(fp);
	buf_reserve(b, 0);
	return (0);
}
