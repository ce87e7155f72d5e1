/*
 * web.h - holdscan-web's context and one HTTP request as the API's
 * handlers see it (http.c makes them, api.c answers them).
 *
 * Everything runs in libmicrohttpd's one polling thread: no locks.
 */
#ifndef HS_WEB_H
#define HS_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "common/access.h"

struct MHD_Connection;
struct accounts;
struct account;
struct hs_config;
struct session;
struct sessions;
struct digestused;
struct farmview;

/* Largest request body taken (a login, a bulk action). */
#define WEB_BODY_MAX	(64 * 1024)

struct web {
	const struct hs_config *conf;
	struct sessions	*sessions;
	struct accounts	*accounts;	/* reloaded when the file changes */
	struct timespec	 accounts_mtime;
	ino_t		 accounts_ino;
	off_t		 accounts_size;
	int		 docroot_fd;
	bool		 tls;
	char		 control_socket[108];	/* config_control_socket() */
	/* digest links (digestroute.c): on with digest_url and a key */
	bool		 digest_on;
	unsigned char	 digest_key[32];	/* DIGESTLINK_KEY_SIZE */
	struct digestused *digest_used;
	/* a farm (database set): every host's log and quarantine, or NULL */
	struct farmview	*farm;
	bool		 farm_down;	/* its last query failed (logged once) */
};

/* One request. Strings are borrowed for the request's life. */
struct call {
	struct web	*w;
	struct MHD_Connection *conn;
	const char	*method;
	const char	*url;
	const char	*arg[4];	/* the route's "*" segments, in order */
	char		 argbuf[4][256];
	json_t		*body;		/* a POST's JSON object, or NULL */
	char		 client[64];	/* the peer's address */
	const struct session *session;	/* when the route needs a login */
	const struct account *account;
	/* the answer */
	int		 status;
	json_t		*reply;
	char		*cookie;	/* a Set-Cookie value, or NULL */
	char		*location;	/* answer 303 to this path instead, or NULL */
};

/*
 * One route: method, path ("*" is one segment), login needed, handler.
 * Paths outside /api/ are routes too when the table names them (a
 * digest link's "/d/TOKEN", answered with a redirect to the page).
 */
struct route {
	const char	*method;
	const char	*pattern;
	bool		 login;
	void		 (*fn)(struct call *);
};

/* The API's routes (api.c), ended by { NULL }. */
extern const struct route api_routes[];

/* The accounts file as it is now (reloaded when it changed). */
void	 web_accounts_refresh(struct web *w);

/*
 * webapi_act() releases ("release", to the original recipients in
 * scope, or to: an array of addresses) or deletes ("delete") quarantined
 * message qid on behalf of who, within scope, through holdscand. Its
 * answer goes into *reply_r (a new object: outcome, new_id; or error)
 * with its HTTP status as the return value. The console's routes call
 * it; a digest link's route is to call it with the recipient's scope.
 */
int	 webapi_act(struct web *w, const char *who,
	    const struct access_scope *scope, const char *qid,
	    const char *action, json_t *to, json_t **reply_r);

/*
 * A digest's one-click link (digestroute.c): GET /d/TOKEN redirects to
 * the page, GET /api/digest/TOKEN says what it is for, POST acts once.
 */
void	 digestroute_page(struct call *c);
void	 digestroute_look(struct call *c);
void	 digestroute_use(struct call *c);

/* Set an error answer. */
void	 call_error(struct call *c, int status, const char *msg);

#endif
