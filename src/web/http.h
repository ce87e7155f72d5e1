/*
 * http.h - holdscan-web's libmicrohttpd callbacks: static files, the
 * security headers, and the API's dispatch (struct web is the cls).
 */
#ifndef HS_HTTP_H
#define HS_HTTP_H

#include <microhttpd.h>

enum MHD_Result http_handler(void *cls, struct MHD_Connection *conn,
	    const char *url, const char *method, const char *version,
	    const char *upload_data, size_t *upload_data_size, void **con_cls);
void	 http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	    enum MHD_RequestTerminationCode toe);

#endif
