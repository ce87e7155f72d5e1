/*
 * text.h - the one sanitiser for text that leaves a process for a person:
 * log lines, terminal output, audit lines.
 *
 * (JSON strings are escaped by the tool's output module; HTML text by
 * text_html() below, after text_safe(): the same characters are unsafe.)
 */
#ifndef HS_TEXT_H
#define HS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/*
 * text_safe() makes s[0..len) safe to show, in place, and returns its new
 * length (when shorter, s[new length] is set to NUL, so that a C string
 * stays one; it never writes past len): every control character (C0,
 * DEL, and the C1 controls U+0080..U+009F that terminals act on, in their
 * UTF-8 form), and every byte that is not part of valid UTF-8, becomes
 * one '?'. With block, newline and tab are kept (a header block, a body);
 * without, they are replaced too (one log or terminal line).
 */
size_t	 text_safe(char *s, size_t len, bool block);

/*
 * text_html() appends s, made one safe line (text_safe() without block)
 * and escaped for HTML text and double-quoted attribute values (&, <,
 * >, " and ' as character references), to out.
 */
void	 text_html(const char *s, struct buf *out);

#endif
