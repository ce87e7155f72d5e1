/*
 * NAME
 *	test_lists - unit tests for the allow and deny lists
 * DESCRIPTION
 *	Parsing and normal forms (addresses and domains lower-cased, no
 *	leading dot, networks as CIDR with host bits cleared), the stored
 *	value's round trip and refusals, CIDR matching for IPv4 and IPv6,
 *	precedence (most specific wins, deny at equal specificity), and
 *	the lookup in a real Berkeley DB environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/lists.h"
#include "state/listdb.h"
#include "state/statedb.h"

static void
norm_ok(enum list_type t, const char *in, const char *want)
{
	char	 out[LIST_VALUE_SIZE], why[200];

	if (lists_normalise(t, in, out, why, sizeof(why)) < 0)
		fail_msg("%s: %s", in, why);
	assert_string_equal(out, want);
}

static void
norm_bad(enum list_type t, const char *in)
{
	char	 out[LIST_VALUE_SIZE], why[200];

	assert_int_equal(lists_normalise(t, in, out, why, sizeof(why)), -1);
	assert_true(why[0] != '\0');
}

static void
test_parsing(void **state)
{
	enum list_kind	 k;
	enum list_type	 t;
	char		 longv[600];

	(void)state;
	assert_int_equal(lists_kind_parse("allow", &k), 0);
	assert_int_equal(k, LIST_ALLOW);
	assert_int_equal(lists_kind_parse("deny", &k), 0);
	assert_int_equal(k, LIST_DENY);
	assert_int_equal(lists_kind_parse("block", &k), -1);
	assert_int_equal(lists_type_parse("network", &t), 0);
	assert_int_equal(t, LIST_NETWORK);
	assert_int_equal(lists_type_parse("ip", &t), -1);
	norm_ok(LIST_SENDER, "Boss@Example.ORG", "boss@example.org");
	norm_bad(LIST_SENDER, "example.org");
	norm_bad(LIST_SENDER, "@example.org");
	norm_bad(LIST_SENDER, "a b@example.org");
	norm_bad(LIST_SENDER, "a@");
	norm_bad(LIST_SENDER, "");
	norm_ok(LIST_DOMAIN, ".Example.Org", "example.org");
	norm_bad(LIST_DOMAIN, "example.org.");
	norm_bad(LIST_DOMAIN, "a..b");
	norm_bad(LIST_DOMAIN, "a@b");
	norm_bad(LIST_DOMAIN, "a\nb");
	norm_bad(LIST_DOMAIN, "");
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	norm_bad(LIST_DOMAIN, longv);
	norm_ok(LIST_NETWORK, "192.0.2.77/24", "192.0.2.0/24");
	norm_ok(LIST_NETWORK, "10.1.2.3", "10.1.2.3/32");
	norm_ok(LIST_NETWORK, "0.0.0.0/0", "0.0.0.0/0");
	norm_ok(LIST_NETWORK, "2001:DB8::1/32", "2001:db8::/32");
	norm_ok(LIST_NETWORK, "::1", "::1/128");
	norm_ok(LIST_NETWORK, "2001:db8:ffff::/33", "2001:db8:8000::/33");
	norm_bad(LIST_NETWORK, "192.0.2.0/33");
	norm_bad(LIST_NETWORK, "2001:db8::/129");
	norm_bad(LIST_NETWORK, "192.0.2.0/");
	norm_bad(LIST_NETWORK, "192.0.2.0/-1");
	norm_bad(LIST_NETWORK, "192.0.2/24");
	norm_bad(LIST_NETWORK, "example.org");
}

static void
test_value_round_trip(void **state)
{
	struct list_entry e, got;
	char		 key[LIST_KEY_SIZE], val[1024], desc[LIST_DESC_SIZE];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.kind = LIST_DENY;
	e.type = LIST_SENDER;
	(void)snprintf(e.value, sizeof(e.value), "x@example.org");
	e.added = 1796256000;	/* 2026-12-03 */
	(void)snprintf(e.added_by, sizeof(e.added_by), "root");
	(void)snprintf(e.comment, sizeof(e.comment), "spam run, ticket 12");
	lists_key(e.type, e.value, key);
	assert_string_equal(key, "s:x@example.org");
	assert_int_equal(lists_encode(&e, val, sizeof(val)), 0);
	assert_int_equal(lists_decode(key, strlen(key), val, strlen(val), &got),
	    0);
	assert_int_equal(got.kind, LIST_DENY);
	assert_int_equal(got.type, LIST_SENDER);
	assert_string_equal(got.value, "x@example.org");
	assert_int_equal(got.added, e.added);
	assert_string_equal(got.added_by, "root");
	assert_string_equal(got.comment, "spam run, ticket 12");
	lists_describe(&got, desc, sizeof(desc));
	assert_string_equal(desc, "deny list: sender x@example.org (added by "
	    "root 2026-12-03: spam run, ticket 12)");
	/* no comment */
	e.comment[0] = '\0';
	assert_int_equal(lists_encode(&e, val, sizeof(val)), 0);
	assert_int_equal(lists_decode(key, strlen(key), val, strlen(val), &got),
	    0);
	assert_string_equal(got.comment, "");
	/* refused: unknown tag, version, kind, a NUL inside */
	assert_int_equal(lists_decode("x:a", 3, val, strlen(val), &got), -1);
	assert_int_equal(lists_decode(key, strlen(key), "2 deny 1 root", 13,
	    &got), -1);
	assert_int_equal(lists_decode(key, strlen(key), "1 maybe 1 root", 14,
	    &got), -1);
	assert_int_equal(lists_decode(key, strlen(key), "1 deny\0 1 root", 14,
	    &got), -1);
	assert_int_equal(lists_decode("s:", 2, val, strlen(val), &got), -1);
}

static void
test_cidr(void **state)
{
	int	 p;

	(void)state;
	assert_true(lists_net_match("192.0.2.0/24", "192.0.2.200", &p));
	assert_int_equal(p, 24);
	assert_false(lists_net_match("192.0.2.0/24", "192.0.3.1", &p));
	assert_true(lists_net_match("10.0.0.0/8", "10.255.1.1", &p));
	assert_true(lists_net_match("0.0.0.0/0", "203.0.113.9", &p));
	assert_true(lists_net_match("192.0.2.128/25", "192.0.2.129", &p));
	assert_false(lists_net_match("192.0.2.128/25", "192.0.2.127", &p));
	assert_true(lists_net_match("192.0.2.1/32", "192.0.2.1", &p));
	/* IPv4-mapped IPv6 clients are their IPv4 address */
	assert_true(lists_net_match("192.0.2.0/24", "::ffff:192.0.2.5", &p));
	assert_true(lists_net_match("2001:db8::/32", "2001:db8:1::5", &p));
	assert_int_equal(p, 32);
	assert_false(lists_net_match("2001:db8::/32", "2001:db9::5", &p));
	assert_true(lists_net_match("2001:db8:8000::/33", "2001:db8:ffff::1",
	    &p));
	assert_false(lists_net_match("2001:db8:8000::/33", "2001:db8:7fff::1",
	    &p));
	assert_true(lists_net_match("::1/128", "::1", &p));
	/* families never mix; garbage never matches */
	assert_false(lists_net_match("0.0.0.0/0", "2001:db8::1", &p));
	assert_false(lists_net_match("::/0", "192.0.2.1", &p));
	assert_false(lists_net_match("192.0.2.0/24", "unknown", &p));
	assert_false(lists_net_match("192.0.2.0/24", "192.0.2.0/24", &p));
	assert_false(lists_net_match("junk", "192.0.2.1", &p));
}

static struct list_entry
entry(enum list_kind k, enum list_type t, const char *v)
{
	struct list_entry e;

	memset(&e, 0, sizeof(e));
	e.kind = k;
	e.type = t;
	(void)snprintf(e.value, sizeof(e.value), "%s", v);
	e.added = 1796256000;
	(void)snprintf(e.added_by, sizeof(e.added_by), "root");
	return (e);
}

static void
test_precedence(void **state)
{
	struct list_entry none, s, d, sub, n24, n16, n24a;

	(void)state;
	memset(&none, 0, sizeof(none));
	s = entry(LIST_DENY, LIST_SENDER, "x@example.org");
	d = entry(LIST_ALLOW, LIST_DOMAIN, "example.org");
	sub = entry(LIST_DENY, LIST_DOMAIN, "mail.example.org");
	n24 = entry(LIST_DENY, LIST_NETWORK, "192.0.2.0/24");
	n24a = entry(LIST_ALLOW, LIST_NETWORK, "192.0.2.0/24");
	n16 = entry(LIST_ALLOW, LIST_NETWORK, "192.0.0.0/16");
	assert_true(lists_beats(&d, &none));
	assert_false(lists_beats(&none, &d));
	assert_true(lists_beats(&s, &d));	/* a sender beats its domain */
	assert_false(lists_beats(&d, &s));
	assert_true(lists_beats(&sub, &d));	/* the longer domain */
	assert_true(lists_beats(&d, &n24));	/* a domain beats a network */
	assert_true(lists_beats(&n24a, &n16));	/* the longer prefix */
	assert_true(lists_beats(&n24, &n24a));	/* deny at equal rank */
	assert_false(lists_beats(&n24a, &n24));
}

static void
test_lookup_in_berkeley_db(void **state)
{
	struct list_entry e, got, *v = NULL;
	struct statedb	*sdb = NULL;
	struct listdb	*l = NULL;
	enum list_kind	 old;
	char		 dir[] = "/tmp/test_listsXXXXXX", cmd[64], *error = NULL;
	size_t		 n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	if (statedb_open(dir, &sdb, &error) < 0 ||
	    listdb_open(sdb, &l, &error) < 0)
		fail_msg("%s", error);
	assert_int_equal(listdb_lookup(l, "a@example.org", "192.0.2.1", &got,
	    &error), 0);
	e = entry(LIST_ALLOW, LIST_DOMAIN, "example.org");
	assert_int_equal(listdb_put(l, &e, &old, &error), 0);
	assert_int_equal(old, LIST_NONE);
	/* the domain and its subdomains, case-insensitively */
	assert_int_equal(listdb_lookup(l, "A@Mail.Example.ORG", NULL, &got,
	    &error), 1);
	assert_int_equal(got.kind, LIST_ALLOW);
	assert_string_equal(got.value, "example.org");
	assert_int_equal(listdb_lookup(l, "a@badexample.org", NULL, &got,
	    &error), 0);
	assert_int_equal(listdb_lookup(l, "", "192.0.2.1", &got, &error), 0);
	/* the exact sender's deny beats its domain's allow */
	e = entry(LIST_DENY, LIST_SENDER, "x@example.org");
	assert_int_equal(listdb_put(l, &e, NULL, &error), 0);
	assert_int_equal(listdb_lookup(l, "X@example.org", NULL, &got,
	    &error), 1);
	assert_int_equal(got.kind, LIST_DENY);
	assert_int_equal(got.type, LIST_SENDER);
	/* networks: the longest prefix; v6 */
	e = entry(LIST_DENY, LIST_NETWORK, "192.0.0.0/16");
	assert_int_equal(listdb_put(l, &e, NULL, &error), 0);
	e = entry(LIST_ALLOW, LIST_NETWORK, "192.0.2.0/24");
	assert_int_equal(listdb_put(l, &e, NULL, &error), 0);
	e = entry(LIST_DENY, LIST_NETWORK, "2001:db8::/32");
	assert_int_equal(listdb_put(l, &e, NULL, &error), 0);
	assert_int_equal(listdb_lookup(l, "a@other.example", "192.0.2.9", &got,
	    &error), 1);
	assert_int_equal(got.kind, LIST_ALLOW);
	assert_int_equal(listdb_lookup(l, "a@other.example", "192.0.3.9", &got,
	    &error), 1);
	assert_int_equal(got.kind, LIST_DENY);
	assert_int_equal(listdb_lookup(l, NULL, "2001:db8::25", &got, &error),
	    1);
	assert_string_equal(got.value, "2001:db8::/32");
	assert_int_equal(listdb_lookup(l, NULL, "unknown", &got, &error), 0);
	/* a domain beats a network */
	assert_int_equal(listdb_lookup(l, "a@example.org", "192.0.3.9", &got,
	    &error), 1);
	assert_int_equal(got.kind, LIST_ALLOW);
	/* replacing the kind; del only of the kind named */
	e = entry(LIST_DENY, LIST_DOMAIN, "example.org");
	assert_int_equal(listdb_put(l, &e, &old, &error), 0);
	assert_int_equal(old, LIST_ALLOW);
	e.kind = LIST_ALLOW;
	assert_int_equal(listdb_del(l, &e, &error), 0);
	e.kind = LIST_DENY;
	assert_int_equal(listdb_del(l, &e, &error), 1);
	assert_int_equal(listdb_del(l, &e, &error), 0);
	assert_int_equal(listdb_all(l, &v, &n, &error), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].value, "192.0.0.0/16");	/* key order */
	assert_int_equal(v[3].type, LIST_SENDER);
	free(v);
	listdb_close(&l);
	assert_null(l);
	statedb_close(&sdb);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsing),
		cmocka_unit_test(test_value_round_trip),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_lookup_in_berkeley_db),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
