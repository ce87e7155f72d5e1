/*
 * NAME
 *	test_hdrchecks - unit tests for reading header_checks tables (check-config's HOLD rule)
 * DESCRIPTION
 *	hdrchecks_first() must read regexp: and pcre: tables the way
 *	Postfix does (first match wins, if/endif, negation, continuation
 *	lines, case-insensitive by default, comments) and must say when it
 *	cannot tell rather than guess.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tool/hdrchecks.h"

static const char smtpd_hdr[] = "Received: from client.example.org "
    "(client.example.org [192.0.2.1])\n\tby mx.example.net (Postfix) with "
    "ESMTP id 4F3A21C0B7\n\tfor <user@example.net>; Mon,  6 Jan 2025 "
    "10:00:00 +0000 (UTC)";
static const char pickup_hdr[] = "Received: by mx.example.net (Postfix, "
    "from userid 0)\n\tid 4F3A21C0B7; Mon,  6 Jan 2025 10:00:00 +0000 (UTC)";

static enum hdrchecks_result
eval(const char *text, int pcre, const char *hdr, unsigned *line)
{
	*line = 0;
	return (hdrchecks_first(text, pcre, hdr, line));
}

static void
test_the_usual_rule_holds(void **state)
{
	unsigned	 line;

	(void)state;
	assert_int_equal(eval("/^Received:/ HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_HOLD);
	assert_int_equal(line, 1);
	assert_int_equal(eval("/^Received:/ HOLD\n", 1, pickup_hdr, &line),
	    HDRCHECKS_HOLD);
	/* action names and patterns ignore case, as in Postfix */
	assert_int_equal(eval("/^received:/ hold scan me\n", 0, smtpd_hdr,
	    &line), HDRCHECKS_HOLD);
	/* any delimiter; an escaped one inside */
	assert_int_equal(eval("#x\n\n|^Received: from [^\\|]*| HOLD\n", 0,
	    smtpd_hdr, &line), HDRCHECKS_HOLD);
	assert_int_equal(line, 3);
}

static void
test_no_rule_or_another_rule_first(void **state)
{
	unsigned	 line;

	(void)state;
	assert_int_equal(eval("", 0, smtpd_hdr, &line), HDRCHECKS_NONE);
	assert_int_equal(eval("/^From:/ HOLD\n/^Subject: x/ REJECT\n", 0,
	    smtpd_hdr, &line), HDRCHECKS_NONE);
	assert_int_equal(eval("# comment\n/^Received:/ OK\n/^Received:/ HOLD\n",
	    0, smtpd_hdr, &line), HDRCHECKS_OTHER);
	assert_int_equal(line, 2);
	/* HOLDING is not HOLD */
	assert_int_equal(eval("/^Received:/ HOLDING\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_OTHER);
	/* i toggles case sensitivity off: "received:" no longer matches */
	assert_int_equal(eval("/^received:/i HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_NONE);
	/* only what smtpd writes is held, not mail from sendmail */
	assert_int_equal(eval("/^Received: from / HOLD\n", 0, pickup_hdr,
	    &line), HDRCHECKS_NONE);
}

static void
test_if_endif_and_negation(void **state)
{
	unsigned	 line;

	(void)state;
	assert_int_equal(eval("if /^Received:/\n/by mx\\.example\\.net/ HOLD\n"
	    "endif\n", 0, smtpd_hdr, &line), HDRCHECKS_HOLD);
	assert_int_equal(line, 2);
	assert_int_equal(eval("IF /^Subject:/\n/./ REJECT\nif /x/\n/y/ OK\n"
	    "ENDIF\nendif\n/^Received:/ HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_HOLD);
	assert_int_equal(line, 7);
	assert_int_equal(eval("!/^Subject:/ HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_HOLD);
	assert_int_equal(eval("!/^Received:/ HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_NONE);
}

static void
test_continuation_lines_join(void **state)
{
	unsigned	 line;

	(void)state;
	/* an indented line continues the one before: here the action */
	assert_int_equal(eval("/^Received:/\n    HOLD\n", 0, smtpd_hdr, &line),
	    HDRCHECKS_HOLD);
	assert_int_equal(line, 1);
	/* so an indented rule after "if" belongs to the if line */
	assert_int_equal(eval("if /^Received:/\n  /^Received:/ HOLD\nendif\n",
	    0, smtpd_hdr, &line), HDRCHECKS_NONE);
}

static void
test_pcre_only_syntax_is_unknown(void **state)
{
	unsigned	 line;

	(void)state;
	assert_int_equal(eval("/^Subject:/ REJECT\n/^Received:(?=\\s)/ HOLD\n",
	    1, smtpd_hdr, &line), HDRCHECKS_UNKNOWN);
	assert_int_equal(line, 2);
	assert_int_equal(eval("/^Received:/s HOLD\n", 1, smtpd_hdr, &line),
	    HDRCHECKS_UNKNOWN);
	/* a rule that decides before the unknown one still decides */
	assert_int_equal(eval("/^Received:/ HOLD\n/(?=x)/ OK\n", 1, smtpd_hdr,
	    &line), HDRCHECKS_HOLD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_usual_rule_holds),
		cmocka_unit_test(test_no_rule_or_another_rule_first),
		cmocka_unit_test(test_if_endif_and_negation),
		cmocka_unit_test(test_continuation_lines_join),
		cmocka_unit_test(test_pcre_only_syntax_is_unknown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
