/*
 * ctlclient.h - holdscan-web's side of holdscand's control socket
 * (daemon/control.c): one request, one answer, maybe a descriptor.
 */
#ifndef HS_CTLCLIENT_H
#define HS_CTLCLIENT_H

#include <jansson.h>

/* Longest answer taken (bytes), and how long it may take (ms). */
#define CTLCLIENT_REPLY_MAX	(32 * 1024 * 1024)
#define CTLCLIENT_WAIT_MS	15000

/*
 * ctlclient_call() sends req (a JSON object) to the socket at path and
 * returns holdscand's answer in *reply_r (a new reference), and in
 * *fd_r a descriptor passed with it, or -1 (fd_r may be NULL: one is
 * closed). 0, or -1 with *error_r (holdscand not reachable, or an
 * answer that is not JSON).
 */
int	 ctlclient_call(const char *path, json_t *req, json_t **reply_r,
	    int *fd_r, char **error_r);

#endif
