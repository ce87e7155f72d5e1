/*
 * duration.h - a duration as a person reads it in the log and in status.
 */
#ifndef HS_DURATION_H
#define HS_DURATION_H

#include <stddef.h>

/* "5d", "1d4h", "3h20m", "2m5s", "42s": s seconds (negative: 0). */
void	 duration_format(long long s, char *buf, size_t size);

#endif
