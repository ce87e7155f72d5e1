/*
 * hdrchecks.h - what a Postfix header_checks table (regexp: or pcre:)
 * does with one header, read as cleanup(8) reads it. Used by holdscan
 * check-config to find the HOLD rule holdscan depends on.
 */
#ifndef HS_HDRCHECKS_H
#define HS_HDRCHECKS_H

#include <stddef.h>

/*
 * hdrchecks_first() tells what the table in text (pcre false: regexp:,
 * true: pcre:) does with header: HDRCHECKS_HOLD when the first rule that
 * matches says HOLD, HDRCHECKS_OTHER when it says something else
 * (*line_r: that rule's line), HDRCHECKS_NONE when no rule matches,
 * HDRCHECKS_UNKNOWN when a rule that cannot be evaluated here comes
 * first (a PCRE-only pattern).
 */
enum hdrchecks_result {
	HDRCHECKS_HOLD,
	HDRCHECKS_OTHER,
	HDRCHECKS_NONE,
	HDRCHECKS_UNKNOWN,
};

enum hdrchecks_result hdrchecks_first(const char *text, int pcre,
	    const char *header, unsigned *line_r);
/* A table list ("a, b c") split, {inline} parts kept whole; owned. */
char	**hdrchecks_split_tables(const char *s, size_t *n_r);
/* An inline table's text ("{ {rule}, {rule} }") as one rule per line; owned. */
char	*hdrchecks_inline_rules(const char *name);

#endif
