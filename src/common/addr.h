/*
 * addr.h - mail addresses from Postfix's internal form to the external
 * (RFC 5321/5322) form.
 *
 * Postfix keeps envelope addresses unquoted ("internal form"): a local
 * part like a,b@c of RCPT TO:<"a,b@c"@example.org> is stored as
 * a,b@c@example.org. Handed to a program that parses addresses (Postfix's
 * sendmail reads each argument as an address list), it must be quoted
 * again, or it is several addresses.
 */
#ifndef HS_ADDR_H
#define HS_ADDR_H

#include "common/buf.h"

/*
 * addr_external() writes internal's external form into out: the local
 * part (everything before the last '@') quoted, with '"' and '\' escaped,
 * when it is not a dot-atom (as Postfix's quote_822_local() does); the
 * domain as it is. The empty address stays empty.
 */
void	 addr_external(const char *internal, struct buf *out);

#endif
