/*
 * NAME
 *	output - what the holdscan tool prints: lines, JSON strings, times, sizes
 * DESCRIPTION
 *	Every text the tool prints for a person goes through out_line()
 *	(control characters shown as '?'; on a terminal, cut to its width);
 *	every string in JSON through out_json_string() (bytes that are not
 *	UTF-8 become \u00XX).
 *
 *	This file must never print a control character to a terminal.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/text.h"
#include "common/xalloc.h"
#include "tool/output.h"
#include "tool/tool.h"

/* --- output helpers -------------------------------------------------------- */

/* A line: control characters shown as '?'; on a terminal, cut to its width. */
void
out_line(const struct tool *t, const char *s, size_t len)
{
	char	*line = xmemdup(s, len + 1);
	size_t	 i, cols = 0;

	line[len] = '\0';
	len = text_safe(line, len, false);
	if (t->tty && t->width > 0) {
		for (i = 0; i < len; i++) {
			if (((unsigned char)line[i] & 0xc0) == 0x80)
				continue;	/* UTF-8 continuation: same column */
			if (cols++ == (size_t)t->width) {
				line[i] = '\0';
				break;
			}
		}
	}
	(void)printf("%s\n", line);
	free(line);
}

/* JSON string: bytes that are not UTF-8 become \u00XX (as Latin-1). */
void
out_json_string(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 i, n;

	(void)fputc('"', fp);
	while (*p) {
		n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 :
		    (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		for (i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (*p == '"' || *p == '\\')
			(void)fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			(void)fprintf(fp, "\\u%04x", *p);
		else
			(void)fwrite(p, 1, n, fp);
		p += n ? n : 1;
	}
	(void)fputc('"', fp);
}

void
out_time(time_t t, char *buf, size_t size)
{
	struct tm	 tm;

	if (t == 0) {
		(void)snprintf(buf, size, "-");
		return;
	}
	(void)localtime_r(&t, &tm);
	(void)strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

void
out_size(uint64_t n, char *buf, size_t size)
{
	if (n < 1024)
		(void)snprintf(buf, size, "%" PRIu64, n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, size, "%.1fK", n / 1024.0);
	else if (n < 1024ULL * 1024 * 1024)
		(void)snprintf(buf, size, "%.1fM", n / 1048576.0);
	else
		(void)snprintf(buf, size, "%.1fG", n / 1073741824.0);
}
