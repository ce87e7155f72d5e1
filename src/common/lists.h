/*
 * lists.h - allow and deny list entries: parsing, normalising, matching
 * and precedence, without any database (state/listdb.c stores them, the
 * master looks them up, a worker only ever sees the result).
 *
 * An entry is a sender address, a sender domain (it matches the domain
 * and its subdomains) or a client network (CIDR, IPv4 or IPv6). The most
 * specific matching entry wins: a sender before any domain, a longer
 * domain before a shorter one, any domain before a network, a longer
 * prefix before a shorter one; at equal specificity deny wins. Each
 * (type, value) is one entry, allow or deny: adding the other kind
 * replaces it.
 */
#ifndef HS_LISTS_H
#define HS_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum list_kind {
	LIST_NONE = 0,
	LIST_ALLOW = 1,		/* spam checks skipped, never virus checks */
	LIST_DENY = 2,		/* verdict blocked */
};

enum list_type {
	LIST_SENDER = 0,
	LIST_DOMAIN,
	LIST_NETWORK,
};

#define LIST_VALUE_SIZE		320	/* a normalised value and its NUL */
#define LIST_COMMENT_SIZE	200
#define LIST_BY_SIZE		64
#define LIST_KEY_SIZE		(LIST_VALUE_SIZE + 4)
#define LIST_DESC_SIZE		300	/* lists_describe()'s text */

struct list_entry {
	enum list_kind	 kind;
	enum list_type	 type;
	char		 value[LIST_VALUE_SIZE];
	time_t		 added;
	char		 added_by[LIST_BY_SIZE];
	char		 comment[LIST_COMMENT_SIZE];
};

/* Names ("allow", "sender", ...) and back: 0, or -1 for an unknown name. */
const char	*lists_kind_name(enum list_kind k);
const char	*lists_type_name(enum list_type t);
int		 lists_kind_parse(const char *s, enum list_kind *k_r);
int		 lists_type_parse(const char *s, enum list_type *t_r);

/*
 * lists_normalise() checks a value of type t and writes its normal form
 * to out[LIST_VALUE_SIZE]: an address lower-cased (it must have one '@'
 * with something on both sides), a domain lower-cased without a leading
 * or trailing dot, a network as ADDRESS/PREFIX with the host bits cleared
 * (a bare address is its /32 or /128). 0, or -1 with a sentence in why.
 */
int		 lists_normalise(enum list_type t, const char *in, char *out,
		    char *why, size_t whysize);

/* The database key of (t, value): "s:", "d:" or "n:" and the value. */
void		 lists_key(enum list_type t, const char *value,
		    char out[LIST_KEY_SIZE]);
/*
 * lists_encode() writes e's kind, time, author and comment as a database
 * value; lists_decode() reads one back for the entry of key (from the
 * disk: checked). 0, or -1 (too long / malformed).
 */
int		 lists_encode(const struct list_entry *e, char *out,
		    size_t size);
int		 lists_decode(const void *key, size_t klen, const void *val,
		    size_t vlen, struct list_entry *e);

/*
 * lists_net_match() says whether the client address addr (text, IPv4 or
 * IPv6; an IPv4-mapped IPv6 address counts as its IPv4 address) is in
 * the normalised network net; *prefix_r gets the prefix length.
 */
bool		 lists_net_match(const char *net, const char *addr,
		    int *prefix_r);

/* How specific e is: higher wins (see above). */
int		 lists_rank(const struct list_entry *e);
/* Does a beat b (b may have kind LIST_NONE: anything beats it)? */
bool		 lists_beats(const struct list_entry *a,
		    const struct list_entry *b);

/*
 * lists_sender_domain() is the lower-cased domain of sender (after the
 * last '@') in out[LIST_VALUE_SIZE], or false when it has none.
 * lists_parent() steps a domain to its parent ("a.b.c" -> "b.c"), NULL
 * after the last label.
 */
bool		 lists_sender_domain(const char *sender, char *out);
const char	*lists_parent(const char *domain);

/*
 * lists_describe(): "deny list: sender a@b (added by root 2026-12-03:
 * comment)" - the reason a deny entry gives, the text an allow entry
 * logs; printable ASCII only.
 */
void		 lists_describe(const struct list_entry *e, char *out,
		    size_t size);

#endif
