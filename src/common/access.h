/*
 * access.h - what a web console account may see and act on: an admin
 * everything, a domain admin the mail of recipients in its domains (and
 * its own addresses), a user the mail addressed to its addresses.
 *
 * Used by holdscand's control socket (which enforces it on every request
 * it answers) and by holdscan-web (which says whose request it is).
 */
#ifndef HS_ACCESS_H
#define HS_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

enum access_role {
	ACCESS_ADMIN,
	ACCESS_DOMAIN,		/* domain admin */
	ACCESS_USER,
};

/* Strings and arrays owned by the scope (access_scope_clear()). */
struct access_scope {
	enum access_role role;
	char		**domains;	/* lower case, without "@" */
	size_t		 ndomains;
	char		**addresses;	/* lower case */
	size_t		 naddresses;
};

/* "admin", "domain", "user"; and back (-1: none of them). */
const char *access_role_name(enum access_role r);
int	 access_role_parse(const char *name);
/* Add a domain or an address (copied, lower-cased; "@d" is d). */
void	 access_add_domain(struct access_scope *s, const char *domain);
void	 access_add_address(struct access_scope *s, const char *addr);
void	 access_scope_clear(struct access_scope *s);
/* Whether s may see mail addressed to addr (any case). */
bool	 access_address_ok(const struct access_scope *s, const char *addr);
/* Whether s may see mail with these recipients: one in scope suffices. */
bool	 access_any_ok(const struct access_scope *s, const char *const *rcpts,
	    size_t n);
/* Whether every one is in scope (a release to the original recipients). */
bool	 access_all_ok(const struct access_scope *s, const char *const *rcpts,
	    size_t n);
/*
 * access_check_domain() / access_check_address(): NULL when the text is
 * a plausible domain / address for an account, else what is wrong.
 */
const char *access_check_domain(const char *d);
const char *access_check_address(const char *a);

#endif
