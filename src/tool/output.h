/*
 * output.h - what the holdscan tool prints: every text for a person and
 * every JSON string passes through here.
 */
#ifndef HS_OUTPUT_H
#define HS_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct tool;

/* A line: control characters shown as '?'; on a terminal, cut to its width. */
void	 out_line(const struct tool *t, const char *s, size_t len);
/* A JSON string: bytes that are not UTF-8 become \u00XX (as Latin-1). */
void	 out_json_string(FILE *fp, const char *s);
/* "2026-11-23 10:15:02" (local time), "-" for 0. */
void	 out_time(time_t t, char *buf, size_t size);
/* "512", "1.5K", "2.0M", "3.1G". */
void	 out_size(uint64_t n, char *buf, size_t size);
/* "5d", "3h20m", "42s". */

#endif
