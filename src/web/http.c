/*
 * NAME
 *	http - holdscan-web's HTTP side: libmicrohttpd's request handler,
 *	the static files, the security headers, the dispatch to the API
 * DESCRIPTION
 *	Every answer carries a strict Content-Security-Policy (default-src
 *	'self', no inline script or style, no frames, no objects) and
 *	nosniff, no-referrer and frame headers; API answers are not cached.
 *	A request to /api/, or to any other path a route of api_routes[]
 *	names (a digest link's /d/TOKEN, say), goes to the first route
 *	whose method and pattern match; a route that needs a login gets the
 *	session from the hs_session cookie and the account from the
 *	accounts file, and a POST must also carry the session's CSRF token
 *	in X-CSRF-Token and be Content-Type application/json (so that no
 *	form of another site can post here). Bodies over WEB_BODY_MAX are
 *	refused (413), bodies that are not a JSON object too (400).
 *
 *	A handler answers JSON, or a redirect to a path of this site
 *	(c->location: 303).
 *
 *	Other GET requests are static files under document_root, opened
 *	with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): only names of
 *	letters, digits, ".", "-", "_" and "/", no segment starting with
 *	".", and only the types in the table below.
 *
 *	This module must never send a string it did not get from jansson
 *	or from a static file, never open a file outside document_root, and
 *	never answer an API route that needs a login without a live
 *	session.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/accounts.h"
#include "web/http.h"
#include "web/session.h"
#include "web/web.h"

#define CSP	"default-src 'self'; script-src 'self'; style-src 'self'; " \
		"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
		"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

struct upload {
	struct buf	 body;
	bool		 too_big;
};

static const struct {
	const char	*ext;
	const char	*type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static void
security_headers(struct web *w, struct MHD_Response *r, bool api)
{
	(void)MHD_add_response_header(r, "Content-Security-Policy", CSP);
	(void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	(void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
	(void)MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	(void)MHD_add_response_header(r, "Cross-Origin-Opener-Policy",
	    "same-origin");
	(void)MHD_add_response_header(r, "Cross-Origin-Resource-Policy",
	    "same-origin");
	if (api)
		(void)MHD_add_response_header(r, "Cache-Control", "no-store");
	if (w->tls)
		(void)MHD_add_response_header(r, "Strict-Transport-Security",
		    "max-age=31536000");
}

static enum MHD_Result
send_json(struct web *w, struct MHD_Connection *conn, int status, json_t *j,
    const char *cookie)
{
	struct MHD_Response *r;
	enum MHD_Result	 ret;
	char		*text = json_dumps(j, JSON_COMPACT);

	if (text == NULL)
		text = xstrdup("{\"error\":\"internal error\"}");
	r = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return (MHD_NO);
	}
	(void)MHD_add_response_header(r, "Content-Type",
	    "application/json; charset=utf-8");
	security_headers(w, r, true);
	if (cookie != NULL)
		(void)MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return (ret);
}

/* 303 to a path of this site (a route that answers a link with a page). */
static enum MHD_Result
send_redirect(struct web *w, struct MHD_Connection *conn, const char *location,
    const char *cookie)
{
	struct MHD_Response *r;
	enum MHD_Result	 ret;

	if (location[0] != '/' || location[1] == '/' ||
	    strpbrk(location, "\r\n") != NULL)
		location = "/";		/* never off-site, never a header split */
	if ((r = MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT)) == NULL)
		return (MHD_NO);
	(void)MHD_add_response_header(r, "Location", location);
	security_headers(w, r, true);
	if (cookie != NULL)
		(void)MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(conn, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return (ret);
}

static enum MHD_Result
send_error(struct web *w, struct MHD_Connection *conn, int status,
    const char *msg)
{
	json_t		*j = json_pack("{s:s}", "error", msg);
	enum MHD_Result	 ret = send_json(w, conn, status, j, NULL);

	json_decref(j);
	return (ret);
}

/* --- static files ------------------------------------------------------------------ */

static bool
static_name_ok(const char *rel)
{
	const char	*p;
	size_t		 len = strlen(rel);

	if (len == 0 || len > 200 || strspn(rel, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != len)
		return (false);
	for (p = rel; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (*p == '.' || *p == '/' || *p == '\0')
			return (false);
	}
	return (true);
}

static enum MHD_Result
serve_static(struct web *w, struct MHD_Connection *conn, const char *url)
{
	struct open_how	 how;
	struct MHD_Response *r;
	struct stat	 st;
	const char	*rel, *type = NULL, *dot;
	enum MHD_Result	 ret;
	size_t		 i;
	int		 fd;

	rel = strcmp(url, "/") == 0 ? "index.html" : url + 1;
	if (!static_name_ok(rel) || (dot = strrchr(rel, '.')) == NULL)
		return (send_error(w, conn, 404, "not found"));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			type = types[i].type;
	if (type == NULL)
		return (send_error(w, conn, 404, "not found"));
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	    RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, w->docroot_fd, rel, &how, sizeof(how));
	if (fd < 0)
		return (send_error(w, conn, 404, "not found"));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return (send_error(w, conn, 404, "not found"));
	}
	if ((r = MHD_create_response_from_fd((uint64_t)st.st_size, fd)) ==
	    NULL) {
		(void)close(fd);
		return (MHD_NO);
	}
	(void)MHD_add_response_header(r, "Content-Type", type);
	(void)MHD_add_response_header(r, "Cache-Control", "no-cache");
	security_headers(w, r, false);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return (ret);
}

/* --- the API ---------------------------------------------------------------------- */

/* Does url match pattern ("*": one non-empty segment)? Captures into c->arg. */
static bool
route_match(const char *pattern, const char *url, struct call *c)
{
	const char	*p = pattern, *u = url, *seg_end;
	size_t		 na = 0;

	while (*p != '\0' && *u != '\0') {
		if (*p == '*') {
			seg_end = u + strcspn(u, "/");
			if (seg_end == u || na == 4 ||
			    (size_t)(seg_end - u) >= sizeof(c->argbuf[0]))
				return (false);
			memcpy(c->argbuf[na], u, (size_t)(seg_end - u));
			c->argbuf[na][seg_end - u] = '\0';
			c->arg[na] = c->argbuf[na];
			na++;
			u = seg_end;
			p++;
			continue;
		}
		if (*p != *u)
			return (false);
		p++;
		u++;
	}
	return (*p == '\0' && *u == '\0');
}

static void
client_address(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	(void)snprintf(out, size, "?");
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, out, (socklen_t)size);
}

static enum MHD_Result
dispatch(struct web *w, struct MHD_Connection *conn, const char *url,
    const char *method, struct upload *up)
{
	const struct route *rt;
	struct call	 c;
	json_error_t	 jerr;
	const char	*ctype, *token;
	enum MHD_Result	 ret;
	bool		 post = strcmp(method, "POST") == 0;

	memset(&c, 0, sizeof(c));
	for (rt = api_routes; rt->method != NULL; rt++)
		if (route_match(rt->pattern, url, &c))
			break;
	if (rt->method == NULL)
		return (send_error(w, conn, 404, "no such API call"));
	if (strcmp(rt->method, method) != 0) {
		/* The same path with the other method? */
		const struct route *o;

		for (o = api_routes; o->method != NULL; o++)
			if (strcmp(o->method, method) == 0 &&
			    route_match(o->pattern, url, &c))
				break;
		if (o->method == NULL)
			return (send_error(w, conn, 405, "method not allowed"));
		rt = o;
	}
	c.w = w;
	c.conn = conn;
	c.method = method;
	c.url = url;
	c.status = 200;
	client_address(conn, c.client, sizeof(c.client));
	if (post) {
		if (up->too_big)
			return (send_error(w, conn, 413, "request body too large"));
		ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "Content-Type");
		if (ctype == NULL || strncasecmp(ctype, "application/json", 16)
		    != 0)
			return (send_error(w, conn, 415,
			    "use Content-Type: application/json"));
		buf_append(&up->body, "", 1);
		if (memchr(up->body.data, '\0', up->body.len - 1) != NULL ||
		    (c.body = json_loads(up->body.data, JSON_REJECT_DUPLICATES,
		    &jerr)) == NULL || !json_is_object(c.body)) {
			json_decref(c.body);
			return (send_error(w, conn, 400,
			    "the body is not a JSON object"));
		}
	}
	if (rt->login) {
		web_accounts_refresh(w);
		token = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
		    "hs_session");
		if ((c.session = sessions_find(w->sessions, token,
		    time(NULL))) == NULL ||
		    (c.account = accounts_find(w->accounts,
		    c.session->name)) == NULL) {
			json_decref(c.body);
			return (send_error(w, conn, 401,
			    "not logged in, or the session expired"));
		}
		if (post && !sessions_csrf_ok(c.session,
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    "X-CSRF-Token"))) {
			hs_warnx("web: refused a POST %s without the CSRF token "
			    "user=%s client=%s", url, c.account->name, c.client);
			json_decref(c.body);
			return (send_error(w, conn, 403, "CSRF token missing or "
			    "wrong; reload the page"));
		}
	}
	rt->fn(&c);
	if (c.location != NULL) {
		ret = send_redirect(w, conn, c.location, c.cookie);
		free(c.location);
		json_decref(c.reply);
		json_decref(c.body);
		free(c.cookie);
		return (ret);
	}
	if (c.reply == NULL)
		c.reply = json_object();
	ret = send_json(w, conn, c.status, c.reply, c.cookie);
	json_decref(c.reply);
	json_decref(c.body);
	free(c.cookie);
	return (ret);
}

/* Is url a route of the table (any method)? Then it is not a static file. */
static bool
is_route(const char *url)
{
	const struct route *rt;
	struct call	*c = xcalloc(1, sizeof(*c));
	bool		 found = false;

	for (rt = api_routes; rt->method != NULL && !found; rt++)
		found = route_match(rt->pattern, url, c);
	free(c);
	return (found);
}

enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct web	*w = cls;
	struct upload	*up = *con_cls;

	(void)version;
	if (up == NULL) {
		up = xcalloc(1, sizeof(*up));
		*con_cls = up;
		return (MHD_YES);
	}
	if (*upload_data_size > 0) {
		if (up->body.len + *upload_data_size > WEB_BODY_MAX)
			up->too_big = true;
		else
			buf_append(&up->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return (MHD_YES);
	}
	if (strncmp(url, "/api/", 5) == 0 || is_route(url)) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
			return (send_error(w, conn, 405, "method not allowed"));
		return (dispatch(w, conn, url, method, up));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return (send_error(w, conn, 405, "method not allowed"));
	return (serve_static(w, conn, url));
}

void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct upload	*up = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (up == NULL)
		return;
	buf_free(&up->body);
	free(up);
	*con_cls = NULL;
}
