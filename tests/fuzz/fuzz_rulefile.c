/*
 * NAME
 *	fuzz_rulefile - libFuzzer target for the attachments plugin's
 *	MailScanner-format rule files (filename_rules, filetype_rules)
 * DESCRIPTION
 *	The plugin's source is compiled in. Each line of the input is read
 *	as a rule-file line would be (fr_line(), lines cut at FR_MAX_LINE
 *	as the reader cuts them), every rule read is put in a rule list, and
 *	the list judges a few names and the input itself with PCRE2's limits
 *	(frules_judge()). It must never read outside a line (ASan), leak, or
 *	give a refusal without a reason or a denial without the rule's line.
 *
 *	Any broken invariant aborts, so libFuzzer reports it as a crash.
 */
#include "../../plugins/attachments.c"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"invoice.pdf.exe", "report.docm", "a.txt", "",
	"x{00000000-0000-0000-0000-000000000000}.doc",
	"PE32 executable (GUI) Intel 80386",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules	 r;
	struct frule	 fr, *nv;
	char		 line[FR_MAX_LINE + 2], why[400];
	size_t		 pos = 0, len, i;
	unsigned	 lineno = 0;
	int		 rc;

	memset(&r, 0, sizeof(r));
	if ((r.mctx = pcre2_match_context_create(NULL)) == NULL)
		return (0);
	(void)pcre2_set_match_limit(r.mctx, FR_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(r.mctx, FR_DEPTH_LIMIT);
	while (pos < size && r.fname.n < 64) {
		len = 0;
		while (pos + len < size && data[pos + len] != '\n' &&
		    len < FR_MAX_LINE)
			len++;
		memcpy(line, data + pos, len);
		line[len] = '\0';	/* a NUL ends the line, as fgets() */
		pos += len + (pos + len < size);
		lineno++;
		memset(&fr, 0, sizeof(fr));
		why[0] = '\0';
		rc = fr_line(line, lineno, &fr, why, sizeof(why));
		if (rc < 0 && why[0] == '\0')
			abort();
		if (rc != 0)
			continue;
		if (fr.re == NULL || fr.line != lineno)
			abort();
		if ((nv = realloc(r.fname.v, (r.fname.n + 1) *
		    sizeof(*nv))) == NULL) {
			pcre2_code_free(fr.re);
			free(fr.text);
			break;
		}
		r.fname.v = nv;
		r.fname.v[r.fname.n++] = fr;
	}
	for (i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
		const char *s = i < sizeof(names) / sizeof(names[0]) ?
		    names[i] : (const char *)data;
		size_t	 n = i < sizeof(names) / sizeof(names[0]) ?
		    strlen(names[i]) : (size > 256 ? 256 : size);

		why[0] = '\0';
		rc = frules_judge(&r, &r.fname, s, n, "filename", false, why,
		    sizeof(why));
		if ((rc == 1 || rc == 2) &&
		    strncmp(why, "filename rule line ", 19) != 0)
			abort();
		/* renamed already: never a rename answer */
		if (frules_judge(&r, &r.fname, s, n, "filename", true, why,
		    sizeof(why)) == 2)
			abort();
	}
	frules_free(&r.fname);
	pcre2_match_context_free(r.mctx);
	return (0);
}
