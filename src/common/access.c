/*
 * NAME
 *	access - the scope of a web console account
 * DESCRIPTION
 *	An account's role and its domains and addresses decide which mail it
 *	may see: admin all; domain admin every message with a recipient in
 *	one of its domains (exactly the domain, not its subdomains) or at
 *	one of its addresses; user every message with a recipient at one of
 *	its addresses. Comparisons ignore case.
 *
 *	This module must never grant anything for an empty or malformed
 *	address (no "@", nothing after it): such a recipient matches no
 *	domain and no address but its exact text for a user, and a scope
 *	without domains and addresses sees nothing unless it is admin.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/access.h"
#include "common/xalloc.h"

static const char *const role_names[] = { "admin", "domain", "user" };

const char *
access_role_name(enum access_role r)
{
	if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
		return ("?");
	return (role_names[r]);
}

int
access_role_parse(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(role_names[i], name) == 0)
			return ((int)i);
	return (-1);
}

void
access_add_domain(struct access_scope *s, const char *domain)
{
	if (domain[0] == '@')
		domain++;
	s->domains = xreallocarray(s->domains, s->ndomains + 1,
	    sizeof(*s->domains));
	s->domains[s->ndomains++] = xstrdup_lower(domain);
}

void
access_add_address(struct access_scope *s, const char *addr)
{
	s->addresses = xreallocarray(s->addresses, s->naddresses + 1,
	    sizeof(*s->addresses));
	s->addresses[s->naddresses++] = xstrdup_lower(addr);
}

void
access_scope_clear(struct access_scope *s)
{
	size_t	 i;

	for (i = 0; i < s->ndomains; i++)
		free(s->domains[i]);
	for (i = 0; i < s->naddresses; i++)
		free(s->addresses[i]);
	free(s->domains);
	free(s->addresses);
	memset(s, 0, sizeof(*s));
}

bool
access_address_ok(const struct access_scope *s, const char *addr)
{
	const char	*at;
	size_t		 i;

	if (s->role == ACCESS_ADMIN)
		return (true);
	if (addr == NULL || addr[0] == '\0')
		return (false);
	for (i = 0; i < s->naddresses; i++)
		if (strcasecmp(s->addresses[i], addr) == 0)
			return (true);
	if (s->role != ACCESS_DOMAIN || (at = strrchr(addr, '@')) == NULL ||
	    at[1] == '\0')
		return (false);
	for (i = 0; i < s->ndomains; i++)
		if (strcasecmp(s->domains[i], at + 1) == 0)
			return (true);
	return (false);
}

bool
access_any_ok(const struct access_scope *s, const char *const *rcpts,
    size_t n)
{
	size_t	 i;

	if (s->role == ACCESS_ADMIN)
		return (true);
	for (i = 0; i < n; i++)
		if (access_address_ok(s, rcpts[i]))
			return (true);
	return (false);
}

bool
access_all_ok(const struct access_scope *s, const char *const *rcpts,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!access_address_ok(s, rcpts[i]))
			return (false);
	return (true);
}

static bool
domain_chars_ok(const char *d)
{
	size_t	 len = strlen(d);

	if (len == 0 || len > 253 || d[0] == '.' || d[0] == '-' ||
	    d[len - 1] == '.' || strstr(d, "..") != NULL)
		return (false);
	return (strspn(d, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == len);
}

const char *
access_check_domain(const char *d)
{
	if (d[0] == '@')
		d++;
	if (!domain_chars_ok(d))
		return ("not a domain name (letters, digits, dots, hyphens)");
	return (NULL);
}

const char *
access_check_address(const char *a)
{
	const char	*at = strrchr(a, '@');
	size_t		 i;

	if (at == NULL || at == a || strlen(a) > 320)
		return ("not an address (local-part@domain)");
	for (i = 0; a + i < at; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 127 ||
		    strchr("<>\",;\\:", a[i]) != NULL)
			return ("not an address (local-part@domain)");
	if (!domain_chars_ok(at + 1))
		return ("not an address (its domain)");
	return (NULL);
}
