/*
 * NAME
 *	fuzz_html - libFuzzer target for the html plugin's phishing net and
 *	html_disarm()
 * DESCRIPTION
 *	The plugin's source is compiled in (it is one file) so that its walk
 *	can be driven without dlopen or a MIME tree: the input is one
 *	text/html part, examined with phishing_action = block and one safe
 *	site, within a 64 KiB budget, then disarmed. It must never read
 *	outside the input (ASan), come back with a verdict other than clean
 *	or blocked (blocked with a reason), or put anything but printable
 *	ASCII in its header line and reason; and what html_disarm() gives
 *	back, parsed again, must hold no element it removes, no on*
 *	attribute and no URL that runs code, and must be ASCII. It is
 *	then disarmed read as UTF-8 (a charset from Content-Type) and made
 *	text (html_text()), which must give a NUL-terminated answer.
 *
 *	Any broken invariant aborts, so libFuzzer reports it as a crash.
 */
#include "../../plugins/html.c"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_BUDGET	(64 * 1024)

static void
fz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_html: %s: \"%.600s\"\n", what, detail);
	abort();
}

/* Printable ASCII up to the NUL, which must be within size. */
static void
fz_printable(const char *what, const char *s, size_t size)
{
	size_t	 i;

	if (memchr(s, '\0', size) == NULL)
		fz_fail(what, "not terminated");
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
			fz_fail(what, s);
}

/* The disarmed text, parsed again: nothing of what disarming removes. */
static void
fz_check_disarmed(const char *out, size_t len)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n;
	xmlAttrPtr	 a;
	size_t		 i;

	if (len == 0 || len > INT_MAX)
		return;
	if ((doc = htmlReadMemory(out, (int)len, NULL, NULL, HTML_OPTS)) == NULL)
		return;
	root = (xmlNodePtr)doc;
	for (n = root->children; n != NULL; n = next_node(n, root, true)) {
		if (n->type != XML_ELEMENT_NODE || n->name == NULL)
			continue;
		for (i = 0; i < sizeof(disarm_elements) /
		    sizeof(disarm_elements[0]); i++)
			if (named(n, disarm_elements[i]))
				fz_fail("element left", out);
		for (i = 0; i < sizeof(unwrap_elements) /
		    sizeof(unwrap_elements[0]); i++)
			if (named(n, unwrap_elements[i]))
				fz_fail("element left", out);
		for (a = n->properties; a != NULL; a = a->next)
			if (attr_dangerous(a))
				fz_fail("attribute left", out);
	}
	xmlFreeDoc(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	*safe[] = { "safe.example" };
	struct cfg	 c;
	struct findings	 f;
	struct hs_result res;
	const char	*why = NULL;
	char		*out = NULL;
	size_t		 outlen = 0, removed = 0, highlighted = 0;

	xmlSetGenericErrorFunc(NULL, html_quiet);	/* as html_init() does */
	memset(&c, 0, sizeof(c));
	c.block = true;
	c.safe = safe;
	c.nsafe = 1;
	c.max_html = FUZZ_BUDGET;
	c.max_links = 1000;
	findings_init(&f, &c);
	examine_html(&f, data, size);
	memset(&res, 0, sizeof(res));
	report(&f, &res);
	if ((res.verdict != HS_CLEAN && res.verdict != HS_BLOCKED) ||
	    (res.verdict == HS_BLOCKED && res.reason[0] == '\0') ||
	    (res.verdict == HS_BLOCKED && res.headers[0] == '\0'))
		fz_fail("bad verdict", res.reason);
	fz_printable("reason", res.reason, sizeof(res.reason));
	fz_printable("header", res.headers, sizeof(res.headers));
	if (res.headers[0] != '\0' &&
	    strncmp(res.headers, "X-Holdscan-Phishing: ", 21) != 0)
		fz_fail("header", res.headers);

	if (size > FUZZ_BUDGET)
		size = FUZZ_BUDGET;
	if (html_disarm_hl((const char *)data, size, NULL, &c, true, &out,
	    &outlen, &removed, &highlighted, &why) == 0) {
		if (out[outlen] != '\0')
			fz_fail("disarm length", out);
		fz_check_disarmed(out, outlen);
		for (size_t i = 0; i < outlen; i++)
			if ((unsigned char)out[i] > 127)
				fz_fail("disarmed output not ASCII", out);
		free(out);
	}
	if (html_disarm_hl((const char *)data, size, "utf-8", NULL, true, &out,
	    &outlen, &removed, &highlighted, &why) == 0) {
		fz_check_disarmed(out, outlen);
		free(out);
	}
	/* highlighting alone: ASCII, and never more warnings than max_links */
	if (html_disarm_hl((const char *)data, size, NULL, &c, false, &out,
	    &outlen, &removed, &highlighted, &why) == 0) {
		if (out[outlen] != '\0' || removed != 0 ||
		    highlighted > c.max_links)
			fz_fail("highlight", out);
		free(out);
	}
	if (html_text_hl((const char *)data, size, NULL, &c, &out, &outlen,
	    &highlighted, &why) == 0) {
		if (out[outlen] != '\0' || strlen(out) > outlen)
			fz_fail("text length", out);
		free(out);
	}
	return (0);
}
