/*
 * duration - seconds as "5d", "3h20m", "42s", for holdscand's log and the
 * holdscan tool's status alike (the set-aside ages and lifetimes).
 *
 * It must never write past size bytes, and never print a negative time.
 */
#include <stdio.h>

#include "common/duration.h"

void
duration_format(long long s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400 && s % 86400 == 0)
		(void)snprintf(buf, size, "%lldd", s / 86400);
	else if (s >= 86400)
		(void)snprintf(buf, size, "%lldd%lldh", s / 86400,
		    (s % 86400) / 3600);
	else if (s >= 3600)
		(void)snprintf(buf, size, "%lldh%lldm", s / 3600, (s % 3600) / 60);
	else if (s >= 60)
		(void)snprintf(buf, size, "%lldm%llds", s / 60, s % 60);
	else
		(void)snprintf(buf, size, "%llds", s);
}
