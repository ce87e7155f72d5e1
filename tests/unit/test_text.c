/*
 * NAME
 *	test_text - unit tests for the sanitiser of text shown to people
 * DESCRIPTION
 *	Escape sequences (ESC, C1 controls such as U+009B CSI in UTF-8, DEL)
 *	become '?'; valid UTF-8 stays; bytes that are not UTF-8 become '?';
 *	a block keeps newlines and tabs, a line does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/text.h"

static void
expect(const char *in, bool block, const char *want)
{
	char	 buf[256];
	size_t	 n;

	(void)snprintf(buf, sizeof(buf), "%s", in);
	n = text_safe(buf, strlen(buf), block);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	assert_int_equal(buf[n], '\0');
}

static void
test_escape_sequences_are_shown_as_question_marks(void **state)
{
	(void)state;
	/* The review's sender: a title change and a colour. */
	expect("\x1b]0;pwned\a\x1b[31mred", false, "?]0;pwned??[31mred");
	/* U+009B, CSI, as UTF-8: one character, one '?'. */
	expect("a\xc2\x9b" "2J", false, "a?2J");
	expect("\xc2\x85next line", false, "?next line");
	expect("del\x7f", false, "del?");
	expect("tab\there\nnl", false, "tab?here?nl");
	expect("tab\there\nnl", true, "tab\there\nnl");
}

static void
test_utf8_stays_and_other_bytes_do_not(void **state)
{
	(void)state;
	expect("gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x93\xa7", false,
	    "gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x93\xa7");
	expect("latin1 \xe9t\xe9", false, "latin1 ?t?");
	expect("overlong \xc0\xaf", false, "overlong ??");
	expect("surrogate \xed\xa0\x80", false, "surrogate ???");
	expect("cut \xe2\x82", false, "cut ??");
	expect("", false, "");
}

static void
test_html_escapes_markup_and_controls(void **state)
{
	struct buf	 b = BUF_INIT;

	(void)state;
	text_html("<script>alert(\"x\" & 'y')</script>\x1b[31m\n", &b);
	assert_string_equal(b.data, "&lt;script&gt;alert(&quot;x&quot; &amp; "
	    "&#39;y&#39;)&lt;/script&gt;?[31m?");
	buf_reset(&b);
	text_html("gr\xc3\xbc\xc3\x9f" "e", &b);
	assert_string_equal(b.data, "gr\xc3\xbc\xc3\x9f" "e");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_sequences_are_shown_as_question_marks),
		cmocka_unit_test(test_utf8_stays_and_other_bytes_do_not),
		cmocka_unit_test(test_html_escapes_markup_and_controls),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
