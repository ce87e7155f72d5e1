/*
 * NAME
 *	test_addr - unit tests for addresses from internal to external form
 * DESCRIPTION
 *	A local part that is a dot-atom stays as it is; one that could be
 *	read as several addresses, or as a display name, is quoted, so that
 *	Postfix's sendmail (which reads each argument as an address list)
 *	sees exactly one address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/addr.h"

static void
expect(const char *internal, const char *external)
{
	struct buf	 b = BUF_INIT;

	addr_external(internal, &b);
	assert_string_equal(b.data ? b.data : "", external);
	buf_free(&b);
}

static void
test_dot_atoms_stay(void **state)
{
	(void)state;
	expect("user@example.org", "user@example.org");
	expect("first.last+tag@example.org", "first.last+tag@example.org");
	expect("o'brien@example.org", "o'brien@example.org");
	expect("postmaster", "postmaster");
	expect("\xc3\xa9t\xc3\xa9@example.org", "\xc3\xa9t\xc3\xa9@example.org");
	expect("", "");
}

static void
test_lists_and_names_are_quoted(void **state)
{
	(void)state;
	/* The review's two: each would have sent notices to its victims. */
	expect("attacker@evil.example,v1@victim1.example,x@gw-domain",
	    "\"attacker@evil.example,v1@victim1.example,x\"@gw-domain");
	expect("Any <v3@victim3.example>@gw-domain",
	    "\"Any <v3@victim3.example>\"@gw-domain");
	expect("a b@example.org", "\"a b\"@example.org");
	expect(".lead@example.org", "\".lead\"@example.org");
	expect("trail.@example.org", "\"trail.\"@example.org");
	expect("two..dots@example.org", "\"two..dots\"@example.org");
	expect("a;b@example.org", "\"a;b\"@example.org");
	expect("q\"uo\\te@example.org", "\"q\\\"uo\\\\te\"@example.org");
	expect("@example.org", "\"\"@example.org");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dot_atoms_stay),
		cmocka_unit_test(test_lists_and_names_are_quoted),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
