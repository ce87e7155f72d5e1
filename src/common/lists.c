/*
 * NAME
 *	lists - allow and deny list entries without the database
 * DESCRIPTION
 *	Names, normal forms, the database key and value of an entry, CIDR
 *	matching (inet_pton(3), by prefix) and the precedence between the
 *	entries that match one message (lists.h). The value stored is
 *
 *	    1 KIND ADDED BY COMMENT
 *
 *	(version 1, KIND "allow" or "deny", ADDED seconds since the epoch,
 *	BY the user who added it, COMMENT the rest of the line, maybe empty).
 *
 *	This module must never open a database or a file, and never accept
 *	a value with a control character, white space or an unbounded
 *	length: values end up in keys, log lines and a worker's reason.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lists.h"

static const char *const kind_names[] = { "none", "allow", "deny" };
static const char *const type_names[] = { "sender", "domain", "network" };
static const char type_tags[] = { 's', 'd', 'n' };

const char *
lists_kind_name(enum list_kind k)
{
	return ((unsigned)k <= LIST_DENY ? kind_names[k] : "none");
}

const char *
lists_type_name(enum list_type t)
{
	return ((unsigned)t <= LIST_NETWORK ? type_names[t] : "?");
}

int
lists_kind_parse(const char *s, enum list_kind *k_r)
{
	if (strcmp(s, "allow") == 0)
		*k_r = LIST_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*k_r = LIST_DENY;
	else
		return (-1);
	return (0);
}

int
lists_type_parse(const char *s, enum list_type *t_r)
{
	size_t	 i;

	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(s, type_names[i]) == 0) {
			*t_r = (enum list_type)i;
			return (0);
		}
	return (-1);
}

/* Lower-case in into out[LIST_VALUE_SIZE]; false on a bad byte or length. */
static bool
lower_word(const char *in, char *out)
{
	size_t	 i;

	for (i = 0; in[i] != '\0'; i++) {
		unsigned char c = (unsigned char)in[i];

		if (i + 1 >= LIST_VALUE_SIZE || c <= ' ' || c == 0x7f)
			return (false);
		out[i] = (char)tolower(c);
	}
	out[i] = '\0';
	return (i > 0);
}

static bool
domain_ok(const char *d)
{
	const char	*p;

	if (d[0] == '\0' || d[0] == '.' || d[strlen(d) - 1] == '.' ||
	    strstr(d, "..") != NULL)
		return (false);
	for (p = d; *p; p++)
		if (*p == '@' || *p == '/')
			return (false);
	return (true);
}

/* Parse "ADDR[/PREFIX]" into its family, bytes and prefix. */
static int
net_parse(const char *s, int *af_r, unsigned char addr[16], int *prefix_r)
{
	char		 host[64], *end;
	const char	*slash = strchr(s, '/');
	size_t		 hlen = slash ? (size_t)(slash - s) : strlen(s);
	long		 prefix;
	int		 max;

	if (hlen == 0 || hlen >= sizeof(host))
		return (-1);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1) {
		*af_r = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, addr) == 1) {
		*af_r = AF_INET6;
		max = 128;
	} else
		return (-1);
	if (slash == NULL) {
		*prefix_r = max;
		return (0);
	}
	if (!isdigit((unsigned char)slash[1]))
		return (-1);
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || prefix < 0 || prefix > max ||
	    end - (slash + 1) > 3)
		return (-1);
	*prefix_r = (int)prefix;
	return (0);
}

/* Clear the bits of addr past prefix. */
static void
net_mask(unsigned char *addr, size_t len, int prefix)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		int	 bits = prefix - (int)(i * 8);

		if (bits >= 8)
			continue;
		addr[i] &= bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
	}
}

int
lists_normalise(enum list_type t, const char *in, char *out, char *why,
    size_t whysize)
{
	unsigned char	 addr[16];
	char		 text[INET6_ADDRSTRLEN];
	const char	*at;
	int		 af, prefix;

	switch (t) {
	case LIST_SENDER:
		if (!lower_word(in, out) || (at = strrchr(out, '@')) == NULL ||
		    at == out || !domain_ok(at + 1)) {
			(void)snprintf(why, whysize, "not a sender address "
			    "(local@domain, no spaces): %.100s", in);
			return (-1);
		}
		return (0);
	case LIST_DOMAIN:
		while (in[0] == '.')
			in++;
		if (!lower_word(in, out) || !domain_ok(out)) {
			(void)snprintf(why, whysize, "not a domain "
			    "(example.org): %.100s", in);
			return (-1);
		}
		return (0);
	case LIST_NETWORK:
		if (net_parse(in, &af, addr, &prefix) < 0) {
			(void)snprintf(why, whysize, "not a network (CIDR such "
			    "as 192.0.2.0/24 or 2001:db8::/32): %.100s", in);
			return (-1);
		}
		net_mask(addr, af == AF_INET ? 4 : 16, prefix);
		if (inet_ntop(af, addr, text, sizeof(text)) == NULL) {
			(void)snprintf(why, whysize, "inet_ntop: %s",
			    strerror(errno));
			return (-1);
		}
		(void)snprintf(out, LIST_VALUE_SIZE, "%s/%d", text, prefix);
		return (0);
	}
	(void)snprintf(why, whysize, "unknown list type");
	return (-1);
}

void
lists_key(enum list_type t, const char *value, char out[LIST_KEY_SIZE])
{
	(void)snprintf(out, LIST_KEY_SIZE, "%c:%s",
	    type_tags[(unsigned)t <= LIST_NETWORK ? t : 0], value);
}

int
lists_encode(const struct list_entry *e, char *out, size_t size)
{
	int	 n;

	n = snprintf(out, size, "1 %s %lld %s %s", lists_kind_name(e->kind),
	    (long long)e->added, e->added_by[0] ? e->added_by : "-",
	    e->comment);
	return (n < 0 || (size_t)n >= size ? -1 : 0);
}

int
lists_decode(const void *key, size_t klen, const void *val, size_t vlen,
    struct list_entry *e)
{
	const char	*k = key;
	char		 v[1024], kindw[16], by[LIST_BY_SIZE];
	long long	 added;
	int		 off = 0;
	size_t		 i;

	memset(e, 0, sizeof(e[0]));
	if (klen < 3 || klen - 2 >= LIST_VALUE_SIZE || k[1] != ':' ||
	    vlen >= sizeof(v))
		return (-1);
	for (i = 0; i < sizeof(type_tags); i++)
		if (k[0] == type_tags[i])
			break;
	if (i == sizeof(type_tags))
		return (-1);
	e->type = (enum list_type)i;
	memcpy(e->value, k + 2, klen - 2);
	e->value[klen - 2] = '\0';
	if (strlen(e->value) != klen - 2)
		return (-1);
	memcpy(v, val, vlen);
	v[vlen] = '\0';
	if (strlen(v) != vlen ||
	    sscanf(v, "1 %15s %lld %63s %n", kindw, &added, by, &off) != 3 ||
	    lists_kind_parse(kindw, &e->kind) < 0)
		return (-1);
	if (off == 0) {
		/* no comment: sscanf stopped before "%n" at the end */
		off = (int)vlen;
	}
	e->added = (time_t)added;
	(void)snprintf(e->added_by, sizeof(e->added_by), "%s",
	    strcmp(by, "-") == 0 ? "" : by);
	(void)snprintf(e->comment, sizeof(e->comment), "%s", v + off);
	return (0);
}

bool
lists_net_match(const char *net, const char *addr, int *prefix_r)
{
	unsigned char	 n[16], a[16];
	int		 naf, aaf, prefix, aprefix;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (net_parse(net, &naf, n, &prefix) < 0 ||
	    net_parse(addr, &aaf, a, &aprefix) < 0 || strchr(addr, '/'))
		return (false);
	if (aaf == AF_INET6 && naf == AF_INET &&
	    memcmp(a, mapped, sizeof(mapped)) == 0) {
		memmove(a, a + 12, 4);
		aaf = AF_INET;
	}
	if (naf != aaf)
		return (false);
	net_mask(n, naf == AF_INET ? 4 : 16, prefix);
	net_mask(a, aaf == AF_INET ? 4 : 16, prefix);
	if (memcmp(n, a, naf == AF_INET ? 4 : 16) != 0)
		return (false);
	*prefix_r = prefix;
	return (true);
}

int
lists_rank(const struct list_entry *e)
{
	const char	*p;
	int		 labels = 1, prefix = 0;

	switch (e->type) {
	case LIST_SENDER:
		return (3000);
	case LIST_DOMAIN:
		for (p = e->value; *p; p++)
			labels += *p == '.';
		return (2000 + labels);
	case LIST_NETWORK:
		if ((p = strchr(e->value, '/')) != NULL)
			prefix = atoi(p + 1);
		return (1000 + prefix);
	}
	return (0);
}

bool
lists_beats(const struct list_entry *a, const struct list_entry *b)
{
	int	 ra, rb;

	if (a->kind == LIST_NONE)
		return (false);
	if (b->kind == LIST_NONE)
		return (true);
	ra = lists_rank(a);
	rb = lists_rank(b);
	if (ra != rb)
		return (ra > rb);
	return (a->kind == LIST_DENY && b->kind != LIST_DENY);
}

bool
lists_sender_domain(const char *sender, char *out)
{
	const char	*at = strrchr(sender, '@');

	if (at == NULL || !lower_word(at + 1, out) || !domain_ok(out))
		return (false);
	return (true);
}

const char *
lists_parent(const char *domain)
{
	const char	*dot = strchr(domain, '.');

	return (dot != NULL && dot[1] != '\0' ? dot + 1 : NULL);
}

void
lists_describe(const struct list_entry *e, char *out, size_t size)
{
	struct tm	 tm;
	char		 day[16] = "?";
	time_t		 t = e->added;
	size_t		 i;

	if (gmtime_r(&t, &tm) != NULL)
		(void)strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	(void)snprintf(out, size, "%s list: %s %s (added by %s %s%s%s)",
	    lists_kind_name(e->kind), lists_type_name(e->type), e->value,
	    e->added_by[0] ? e->added_by : "?", day,
	    e->comment[0] ? ": " : "", e->comment);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < ' ' || (unsigned char)out[i] >= 0x7f)
			out[i] = '?';
}
