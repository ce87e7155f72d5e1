/*
 * NAME
 *	fuzz_attachments - libFuzzer target for the attachments plugin's
 *	archive walk (libarchive), type rules (libmagic) and uuencode scan
 * DESCRIPTION
 *	The plugin's source is compiled in (it is one file) so that its
 *	rules can be driven without dlopen: the input is one attachment,
 *	judged as "input.zip" with the default options, with every check
 *	on (archive_encrypted = block, archive_max_expansion 1 MiB to keep
 *	each run small), then as the text of a message (the uuencode scan
 *	and inline PGP, encrypted_message = block), then as an S/MIME part
 *	(its CMS content type), then as a winmail.dat (the TNEF framing
 *	check and libytnef).
 *	It must never read outside the input (ASan), decompress beyond
 *	the limit, or come back with a verdict other than clean, blocked
 *	or scan-failed; anything but clean must have a reason.
 *
 *	The plugin gets a host of its own here, as the scanner program
 *	gives it one: options, logging (dropped) and a MIME walk that must
 *	not be called, since judge() looks at one part.
 *
 *	Any broken invariant aborts, so libFuzzer reports it as a crash.
 */
#include "../../plugins/attachments.c"

#include "common/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
fz_opt_str(void *ctx, const char *name)
{
	const struct hs_plugin_option *o;

	(void)ctx;
	for (o = att_options; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return (strcmp(name, "deny_types") == 0 ?
			    "pe elf macho script lnk ole rar 7z cab" :
			    strcmp(name, "archive_encrypted") == 0 ||
			    strcmp(name, "encrypted_message") == 0 ? "block" :
			    o->def);
	return (NULL);
}

static long
fz_opt_num(void *ctx, const char *name)
{
	const char	*v = fz_opt_str(ctx, name);
	const struct hs_plugin_option *o;
	long		 n = 0;

	for (o = att_options; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0 &&
		    config_check_value(o->type, v, &n) == NULL)
			return (n);
	return (0);
}

static void __attribute__((format(printf, 3, 4)))
fz_log(void *ctx, int level, const char *fmt, ...)
{
	(void)ctx;
	(void)level;
	(void)fmt;
}

static int
fz_watch_path(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return (0);
}

static int
fz_mime_walk(void *ctx, const char *text, size_t len,
    const struct hs_mime_limits *lim, hs_mime_part_fn fn, void *arg,
    char *why, size_t whysize)
{
	(void)ctx;
	(void)text;
	(void)len;
	(void)lim;
	(void)fn;
	(void)arg;
	(void)why;
	(void)whysize;
	fprintf(stderr, "fuzz_attachments: judge() walked a MIME tree\n");
	abort();
}

/* One verdict's invariants; aborts when one is broken. */
static void
check_result(enum hs_verdict v, const struct hs_result *res)
{
	if ((v != HS_CLEAN && v != HS_BLOCKED && v != HS_FAILED) ||
	    v != res->verdict || (v != HS_CLEAN && res->reason[0] == '\0') ||
	    memchr(res->reason, '\0', sizeof(res->reason)) == NULL) {
		fprintf(stderr, "fuzz_attachments: bad result %d \"%.256s\"\n",
		    v, res->reason);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct att *a;
	static struct hs_host host;
	struct hs_result res;
	const char	*why = NULL;
	void		*ctx;
	bool		 rename;

	if (a == NULL) {
		host.abi_version = HS_PLUGIN_ABI_VERSION;
		host.struct_size = sizeof(host);
		host.log = fz_log;
		host.opt_str = fz_opt_str;
		host.opt_num = fz_opt_num;
		host.watch_path = fz_watch_path;
		host.mime_walk = fz_mime_walk;
		if (att_init(&host, &ctx, &why) < 0) {
			fprintf(stderr, "fuzz_attachments: %s\n", why);
			abort();
		}
		a = ctx;
		a->rules->arc_expansion = 1 << 20;	/* keep each run small */
	}
	memset(&res, 0, sizeof(res));
	check_result(judge(a, "input.zip", NULL, "application/zip", data, size,
	    &res, &rename), &res);
	memset(&res, 0, sizeof(res));
	check_result(judge(a, NULL, NULL, "text/plain", data, size, &res,
	    &rename), &res);
	memset(&res, 0, sizeof(res));
	check_result(judge(a, "smime.p7m", NULL, "application/pkcs7-mime", data,
	    size, &res, &rename), &res);
	memset(&res, 0, sizeof(res));
	check_result(judge(a, "winmail.dat", NULL, "application/ms-tnef", data,
	    size, &res, &rename), &res);
	return (0);
}
