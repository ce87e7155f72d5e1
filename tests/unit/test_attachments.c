/*
 * NAME
 *	test_attachments - unit tests for the attachments plugin
 * DESCRIPTION
 *	The plugin is loaded as holdscand loads it, with plugin_load() from
 *	build/asan/plugins/attachments.so (found next to this binary), its
 *	options set with plugin_set_option(), and called through its
 *	descriptor: scan() on whole messages, scan_part() on single parts.
 *	Zip archives are built here, stored or deflated with zlib, with
 *	helpers that can also break them on purpose; tar by hand, 7z with
 *	libarchive's writer.
 *
 *	The tests must never depend on each other or on the order they run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "common/buf.h"
#include "scanner/pluginload.h"

static char plugin_dir[PATH_MAX];

/* Load the plugin with options "name=value" ..., NULL-terminated. */
static struct plugin *
load(const char *opt, ...)
{
	struct plugin	*p = NULL;
	char		*error = NULL, *name, *eq;
	va_list		 ap;

	if (plugin_load(plugin_dir, "attachments", &p, &error) < 0)
		fail_msg("%s", error);
	va_start(ap, opt);
	for (; opt != NULL; opt = va_arg(ap, const char *)) {
		name = strdup(opt);
		eq = strchr(name, '=');
		*eq = '\0';
		if (plugin_set_option(p, name, eq + 1, &error) < 0)
			fail_msg("%s", error);
		free(name);
	}
	va_end(ap);
	if (plugin_init(p, &error) < 0)
		fail_msg("%s", error);
	return (p);
}

static enum hs_verdict
scan_part(struct plugin *p, const char *filename, const char *ctype,
    const void *data, size_t len, struct hs_result *res)
{
	struct hs_msg	 msg;
	struct hs_part	 part = { filename, ctype, data, len };

	memset(&msg, 0, sizeof(msg));
	memset(res, 0, sizeof(*res));
	msg.queue_id = "TEST";
	assert_int_equal(p->desc->scan_part(p->ctx, &msg, &part, res), 0);
	return (res->verdict);
}

static enum hs_verdict
scan_msg(struct plugin *p, const char *text, struct hs_result *res)
{
	struct hs_msg	 msg;

	memset(&msg, 0, sizeof(msg));
	memset(res, 0, sizeof(*res));
	msg.queue_id = "TEST";
	msg.data = text;
	msg.len = strlen(text);
	assert_int_equal(p->desc->scan(p->ctx, &msg, res), 0);
	return (res->verdict);
}

/* A part named name with harmless content: its verdict. */
static enum hs_verdict
name_verdict(struct plugin *p, const char *name, struct hs_result *res)
{
	return (scan_part(p, name, "application/octet-stream", "hello", 5, res));
}

#define assert_reason(res, text) do {					\
	if (strstr((res)->reason, (text)) == NULL)			\
		fail_msg("reason \"%s\" lacks \"%s\"", (res)->reason, (text)); \
} while (0)

/* --- names ------------------------------------------------------------------- */

static void
test_extension_lists(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;

	(void)state;
	assert_int_equal(name_verdict(p, "setup.scr", &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name setup.scr "
	    "(denied extension .scr)");
	assert_int_equal(name_verdict(p, "SETUP.EXE", &r), HS_BLOCKED);
	assert_int_equal(name_verdict(p, "run.exe. . ", &r), HS_BLOCKED);
	assert_int_equal(name_verdict(p, "C:\\temp\\run.bat", &r), HS_BLOCKED);
	assert_int_equal(name_verdict(p, "report.pdf", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "exe", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "notes.txt", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, NULL, &r), HS_CLEAN);
	plugin_free(&p);

	p = load("allow_extensions=.scr, js", "deny_extensions=scr exe js cab",
	    NULL);
	assert_int_equal(name_verdict(p, "setup.scr", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "a.js", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "a.cab", &r), HS_BLOCKED);
	assert_int_equal(name_verdict(p, "a.bat", &r), HS_CLEAN);
	plugin_free(&p);
}

static void
test_double_extensions(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;

	(void)state;
	assert_int_equal(name_verdict(p, "invoice.pdf.exe", &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name invoice.pdf.exe "
	    "(double extension)");
	assert_int_equal(name_verdict(p, "Invoice.PDF   .Exe", &r), HS_BLOCKED);
	assert_reason(&r, "(double extension)");
	assert_int_equal(name_verdict(p, "photo.jpg.scr", &r), HS_BLOCKED);
	assert_reason(&r, "(double extension)");
	assert_int_equal(name_verdict(p, "backup.tar.gz", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "v1.2.pdf", &r), HS_CLEAN);
	/* a name cut at a NUL is what a file system would use */
	assert_int_equal(scan_part(p, "a.pdf.exe\0.txt", "x", "", 0, &r),
	    HS_BLOCKED);
	plugin_free(&p);

	/* the double rule holds even for an allowed extension */
	p = load("allow_extensions=js", NULL);
	assert_int_equal(name_verdict(p, "a.js", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "a.doc.js", &r), HS_BLOCKED);
	plugin_free(&p);

	p = load("deny_double_extensions=no", NULL);
	assert_int_equal(name_verdict(p, "invoice.pdf.exe", &r), HS_BLOCKED);
	assert_reason(&r, "(denied extension .exe)");
	plugin_free(&p);
}

/* --- types ------------------------------------------------------------------- */

/*
 * Headers libmagic (5.44) recognises: it needs more than the first bytes
 * the old hand-written detector looked at ("MZ" alone is not a PE file
 * to it, nor 12 bytes of an ELF header, nor 8 of an OLE one).
 */
static const unsigned char elf[64] = "\177ELF\002\001\001\0\0\0\0\0\0\0\0\0"
	"\002\0\076\0";
static unsigned char ole[512] = { 0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a,
	0xe1 };
static const unsigned char lnk[] = { 0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0,
	0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46, 0x9b, 0 };
static const unsigned char macho[] = { 0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1 };
static const unsigned char jclass[] = { 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52 };

/* A PE file's headers (DOS stub, PE signature, COFF, optional header). */
static void
make_pe(struct buf *b)
{
	unsigned char	 h[0x40 + 4 + 20 + 0xe0];

	memset(h, 0, sizeof(h));
	h[0] = 'M';
	h[1] = 'Z';
	h[2] = 0x90;
	h[0x3c] = 0x40;
	memcpy(h + 0x40, "PE\0\0", 4);
	h[0x44] = 0x4c;		/* i386 */
	h[0x45] = 0x01;
	h[0x46] = 1;		/* one section */
	h[0x54] = 0xe0;		/* optional header size */
	h[0x56] = 0x02;		/* executable */
	h[0x58] = 0x0b;		/* PE32 */
	h[0x59] = 0x01;
	buf_reset(b);
	buf_append(b, h, sizeof(h));
}

static void
test_magic_detection(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 pe = BUF_INIT;

	(void)state;
	make_pe(&pe);
	assert_int_equal(scan_part(p, "report.txt", "text/plain", pe.data,
	    pe.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment report.txt (detected "
	    "type pe: application/vnd.microsoft.portable-executable)");
	assert_int_equal(scan_part(p, NULL, "application/octet-stream", elf,
	    sizeof(elf), &r), HS_BLOCKED);
	assert_reason(&r, "(unnamed application/octet-stream part)");
	assert_reason(&r, "type elf");
	assert_int_equal(scan_part(p, "x.dat", "image/png", lnk, sizeof(lnk),
	    &r), HS_BLOCKED);
	assert_reason(&r, "type lnk");
	assert_int_equal(scan_part(p, "x.dat", "image/png", macho, sizeof(macho),
	    &r), HS_BLOCKED);
	assert_reason(&r, "type macho");
	assert_int_equal(scan_part(p, "A.class", "application/java", jclass,
	    sizeof(jclass), &r), HS_CLEAN);
	assert_int_equal(scan_part(p, "run.sh.txt", "text/plain",
	    "#!/bin/sh\nrm -rf /\n", 19, &r), HS_BLOCKED);
	assert_reason(&r, "type script");
	/* the message text itself may start with anything */
	assert_int_equal(scan_part(p, NULL, "text/plain", "#!/bin/sh\n", 10,
	    &r), HS_CLEAN);
	assert_int_equal(scan_part(p, NULL, "text/plain", "MZ", 2, &r),
	    HS_CLEAN);
	plugin_free(&p);

	p = load("deny_types=ole", NULL);
	assert_int_equal(scan_part(p, "a.bin", "x/y", elf, sizeof(elf), &r),
	    HS_CLEAN);
	assert_int_equal(scan_part(p, "a.doc", "x/y", ole, sizeof(ole), &r),
	    HS_BLOCKED);
	assert_reason(&r, "type ole: application/x-ole-storage");
	plugin_free(&p);
	p = load("deny_types=", NULL);
	assert_int_equal(scan_part(p, "a.bin", "x/y", pe.data, pe.len, &r),
	    HS_CLEAN);
	plugin_free(&p);

	/* MIME types and prefixes beside the short names */
	p = load("deny_types=elf, application/pdf application/vnd.microsoft.*",
	    NULL);
	assert_int_equal(scan_part(p, "a.bin", "x/y", "%PDF-1.4\n%%EOF\n", 15,
	    &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment a.bin (detected type "
	    "application/pdf)");
	assert_int_equal(scan_part(p, "a.bin", "x/y", pe.data, pe.len, &r),
	    HS_BLOCKED);
	assert_reason(&r, "(detected type application/vnd.microsoft."
	    "portable-executable)");
	assert_int_equal(scan_part(p, "a.bin", "x/y", elf, sizeof(elf), &r),
	    HS_BLOCKED);
	assert_reason(&r, "type elf: application/x-");
	plugin_free(&p);

	/* plain text that claims to be a program is plain text */
	p = load(NULL);
	assert_int_equal(scan_part(p, "notes.txt", "application/x-msdownload",
	    "MZ is what a program starts with\n", 33, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&pe);
}

/* The value is taken by the host, and init refuses it saying want. */
static void
init_refuses(const char *name, const char *value, const char *want)
{
	struct plugin	*p = NULL;
	char		*error = NULL;

	assert_int_equal(plugin_load(plugin_dir, "attachments", &p, &error), 0);
	assert_int_equal(plugin_set_option(p, name, value, &error), 0);
	assert_int_equal(plugin_init(p, &error), -1);
	if (strstr(error, want) == NULL)
		fail_msg("%s=%s: \"%s\" lacks \"%s\"", name, value, error, want);
	free(error);
	plugin_free(&p);
}

static void
test_bad_options_are_refused(void **state)
{
	(void)state;
	init_refuses("deny_types", "pe exe", "deny_types: unknown type");
	init_refuses("deny_types", "application/*x", "may only end");
	init_refuses("max_parts", "9000", "max_parts");
	init_refuses("archive_encrypted", "maybe",
	    "archive_encrypted: use allow or block");
	init_refuses("archive_malformed", "no",
	    "archive_malformed: use allow or block");
	init_refuses("archive_max_depth", "17", "archive_max_depth: use 1 to 16");
	init_refuses("magic_bytes", "100", "magic_bytes: use 1K to 16M");
	init_refuses("partial_message", "yes",
	    "partial_message: use allow or block");
	init_refuses("external_body", "", "external_body: use allow or block");
	init_refuses("encrypted_message", "deny",
	    "encrypted_message: use allow or block");
	/* the zip reader's options are still read (and checked) */
	init_refuses("scan_zip", "maybe", "use yes or no");
	init_refuses("zip_max_size", "lots", "use a number");
}

/* --- zip ------------------------------------------------------------------------ */

struct zent {
	const char	*name;
	const void	*data;		/* NULL: len zero bytes (deflate them) */
	size_t		 len;
	bool		 deflate;
	const char	*local_name;	/* local header name, if different */
	bool		 encrypted;
};

static void
put16(struct buf *b, unsigned v)
{
	buf_putc(b, (int)(v & 0xff));
	buf_putc(b, (int)(v >> 8 & 0xff));
}

static void
put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

static const unsigned char zeros[65536];

/*
 * in[len] deflated (raw, or gzip with gz) onto out; in NULL: len zero
 * bytes, fed in pieces (a zip bomb's content is never held whole).
 */
static void
deflate_into(const void *in, size_t len, bool gz, struct buf *out)
{
	z_stream	 zs;
	unsigned char	 chunk[4096];
	size_t		 left = len;
	int		 rc, flush;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, gz ? 16 + MAX_WBITS :
	    -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = in != NULL ? (uInt)len : 0;
	do {
		if (in == NULL && zs.avail_in == 0 && left > 0) {
			zs.next_in = (Bytef *)(uintptr_t)zeros;
			zs.avail_in = (uInt)(left < sizeof(zeros) ? left :
			    sizeof(zeros));
			left -= zs.avail_in;
		}
		flush = in != NULL || left == 0 ? Z_FINISH : Z_NO_FLUSH;
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		rc = deflate(&zs, flush);
		buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
	} while (rc == Z_OK);
	assert_int_equal(rc, Z_STREAM_END);
	(void)deflateEnd(&zs);
}

static void
deflate_raw(const void *in, size_t len, struct buf *out)
{
	deflate_into(in, len, false, out);
}

/* The CRC-32 of in[len] (in NULL: len zero bytes). */
static uint32_t
crc_of(const void *in, size_t len)
{
	uLong	 crc = crc32(0, NULL, 0);
	size_t	 n;

	if (in != NULL)
		return ((uint32_t)crc32(crc, in, (uInt)len));
	for (; len > 0; len -= n) {
		n = len < sizeof(zeros) ? len : sizeof(zeros);
		crc = crc32(crc, zeros, (uInt)n);
	}
	return ((uint32_t)crc);
}

/* A zip of n entries, in out (reset first). */
static void
build_zip(const struct zent *e, size_t n, struct buf *out)
{
	struct buf	 cd = BUF_INIT, data = BUF_INIT;
	uint32_t	*off = calloc(n, sizeof(*off)), crc;
	size_t		 i, cdoff;
	const char	*ln;

	buf_reset(out);
	for (i = 0; i < n; i++) {
		buf_reset(&data);
		if (e[i].deflate)
			deflate_raw(e[i].data, e[i].len, &data);
		else
			buf_append(&data, e[i].data, e[i].len);
		crc = crc_of(e[i].data, e[i].len);
		ln = e[i].local_name ? e[i].local_name : e[i].name;
		off[i] = (uint32_t)out->len;
		put32(out, 0x04034b50);
		put16(out, 20);
		put16(out, e[i].encrypted ? 1 : 0);
		put16(out, e[i].deflate ? 8 : 0);
		put32(out, 0);
		put32(out, crc);
		put32(out, (uint32_t)data.len);
		put32(out, (uint32_t)e[i].len);
		put16(out, (unsigned)strlen(ln));
		put16(out, 0);
		buf_append(out, ln, strlen(ln));
		buf_append(out, data.data, data.len);

		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, e[i].encrypted ? 1 : 0);
		put16(&cd, e[i].deflate ? 8 : 0);
		put32(&cd, 0);
		put32(&cd, crc);
		put32(&cd, (uint32_t)data.len);
		put32(&cd, (uint32_t)e[i].len);
		put16(&cd, (unsigned)strlen(e[i].name));
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, off[i]);
		buf_append(&cd, e[i].name, strlen(e[i].name));
	}
	cdoff = out->len;
	buf_append(out, cd.data, cd.len);
	put32(out, 0x06054b50);
	put16(out, 0);
	put16(out, 0);
	put16(out, (unsigned)n);
	put16(out, (unsigned)n);
	put32(out, (uint32_t)cd.len);
	put32(out, (uint32_t)cdoff);
	put16(out, 0);
	buf_free(&cd);
	buf_free(&data);
	free(off);
}

static enum hs_verdict
zip_verdict(struct plugin *p, const char *name, const struct buf *zip,
    struct hs_result *res)
{
	return (scan_part(p, name, "application/zip", zip->data, zip->len, res));
}

static void
test_zip_names(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z = BUF_INIT;
	const struct zent clean[] = {
		{ "docs/readme.txt", "hello", 5, false, NULL, false },
		{ "docs/", "", 0, false, NULL, false },
		{ "report.pdf", "%PDF-1.4 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		    46, true, NULL, false },
	};
	const struct zent bad[] = {
		{ "readme.txt", "hello", 5, false, NULL, false },
		{ "x/invoice.pdf.exe", "hello hello hello", 17, true, NULL,
		    false },
	};
	const struct zent local[] = {
		{ "a.txt", "hello", 5, false, "a.exe", false },
	};
	struct zent	 typed[1];
	struct buf	 pe = BUF_INIT;

	(void)state;
	make_pe(&pe);
	typed[0] = (struct zent){ "a.txt", pe.data, pe.len, true, NULL, false };
	build_zip(clean, 3, &z);
	assert_int_equal(zip_verdict(p, "files.zip", &z, &r), HS_CLEAN);
	build_zip(bad, 2, &z);
	assert_int_equal(zip_verdict(p, "files.zip", &z, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name x/invoice.pdf.exe "
	    "inside files.zip (double extension)");
	/* found by its magic, whatever the name says */
	assert_int_equal(zip_verdict(p, "files.dat", &z, &r), HS_BLOCKED);
	/* a self-extractor's prefix shifts every offset */
	{
		struct buf	 sfx = BUF_INIT;

		buf_printf(&sfx, "#junk before the archive#");
		buf_append(&sfx, z.data, z.len);
		assert_int_equal(zip_verdict(p, "files.zip", &sfx, &r),
		    HS_BLOCKED);
		assert_reason(&r, "invoice.pdf.exe inside files.zip");
		buf_free(&sfx);
	}
	build_zip(local, 1, &z);
	assert_int_equal(zip_verdict(p, "files.zip", &z, &r), HS_BLOCKED);
	assert_reason(&r, "a.exe inside files.zip");
	build_zip(typed, 1, &z);
	assert_int_equal(zip_verdict(p, "files.zip", &z, &r), HS_BLOCKED);
	assert_reason(&r, "a.txt inside files.zip (detected type pe: ");
	plugin_free(&p);
	buf_free(&pe);

	p = load("scan_zip=no", NULL);
	build_zip(bad, 2, &z);
	assert_int_equal(zip_verdict(p, "files.zip", &z, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&z);
}

static void
test_zip_nested(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z1 = BUF_INIT, z2 = BUF_INIT, z3 = BUF_INIT,
			 z4 = BUF_INIT;
	struct zent	 e;

	(void)state;
	e = (struct zent){ "evil.exe", "MZ", 2, true, NULL, false };
	build_zip(&e, 1, &z1);
	e = (struct zent){ "inner.zip", z1.data, z1.len, true, NULL, false };
	build_zip(&e, 1, &z2);
	assert_int_equal(zip_verdict(p, "outer.zip", &z2, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name evil.exe inside "
	    "inner.zip inside outer.zip (denied extension .exe)");
	/* nested under a harmless name, stored */
	e = (struct zent){ "data.bin", z2.data, z2.len, false, NULL, false };
	build_zip(&e, 1, &z3);
	assert_int_equal(zip_verdict(p, "outer.zip", &z3, &r), HS_BLOCKED);
	assert_reason(&r, "evil.exe inside inner.zip inside data.bin inside "
	    "outer.zip");
	/*
	 * One level too deep (archive_max_depth 3): blocked, as every
	 * archive limit now is (the zip reader said "scan failed").
	 */
	e = (struct zent){ "l4.zip", z3.data, z3.len, true, NULL, false };
	build_zip(&e, 1, &z4);
	assert_int_equal(zip_verdict(p, "outer.zip", &z4, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment outer.zip (archive "
	    "too deep: inner.zip inside data.bin inside l4.zip inside outer.zip "
	    "is nested deeper than archive_max_depth 3)");
	plugin_free(&p);
	p = load("archive_max_depth=4", NULL);
	assert_int_equal(zip_verdict(p, "outer.zip", &z4, &r), HS_BLOCKED);
	assert_reason(&r, "evil.exe inside inner.zip inside data.bin inside "
	    "l4.zip inside outer.zip (denied extension .exe)");
	plugin_free(&p);
	/* the zip reader's name for it still works */
	p = load("zip_max_depth=2", NULL);
	assert_int_equal(zip_verdict(p, "outer.zip", &z3, &r), HS_BLOCKED);
	assert_reason(&r, "deeper than archive_max_depth 2");
	plugin_free(&p);

	/* too much to decompress, too many entries: blocked */
	p = load("zip_max_size=100", NULL);
	assert_int_equal(zip_verdict(p, "outer.zip", &z2, &r), HS_BLOCKED);
	assert_reason(&r, "zip bomb: expands beyond archive_max_expansion, "
	    "100 bytes");
	plugin_free(&p);
	p = load("archive_max_entries=1", NULL);
	assert_int_equal(zip_verdict(p, "outer.zip", &z2, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment outer.zip (more than "
	    "archive_max_entries 1 entries)");
	plugin_free(&p);
	buf_free(&z1);
	buf_free(&z2);
	buf_free(&z3);
	buf_free(&z4);
}

static void
test_zip_malformed(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z = BUF_INIT, t = BUF_INIT;
	const struct zent ok[] = {
		{ "a.txt", "hello", 5, false, NULL, false },
		{ "b.txt", "world world world", 17, true, NULL, false },
	};
	size_t		 cut, cdoff;

	(void)state;
	build_zip(ok, 2, &z);
	assert_int_equal(zip_verdict(p, "a.zip", &z, &r), HS_CLEAN);
	cdoff = (unsigned char)z.data[z.len - 6] |
	    (unsigned char)z.data[z.len - 5] << 8;
	/* every truncation is refused or clean, never out of bounds */
	for (cut = 0; cut < z.len; cut++) {
		buf_reset(&t);
		buf_append(&t, z.data, cut);
		buf_append(&t, "", 0);
		(void)scan_part(p, "a.zip", "application/zip", t.data ? t.data :
		    "", cut, &r);
		assert_true(r.verdict == HS_BLOCKED || r.verdict == HS_CLEAN);
	}
	/*
	 * Damaged directories: libarchive falls back on the local headers
	 * where it can (a zip whose directory is lost is read as a stream),
	 * so these are blocked or clean, never a crash or an overread
	 * (ASan), and what can be read is judged (test_zip_damaged_names).
	 */
	buf_reset(&t);
	buf_append(&t, z.data, z.len);
	t.data[t.len - 6] = (char)0xff;		/* the directory past the end */
	t.data[t.len - 5] = (char)0xff;
	t.data[t.len - 4] = (char)0xff;
	(void)zip_verdict(p, "a.zip", &t, &r);
	assert_true(r.verdict == HS_BLOCKED || r.verdict == HS_CLEAN);
	buf_reset(&t);
	buf_append(&t, z.data, z.len);
	t.data[cdoff + 28] = (char)0xff;	/* a name running past it */
	t.data[cdoff + 29] = (char)0x7f;
	(void)zip_verdict(p, "a.zip", &t, &r);
	assert_true(r.verdict == HS_BLOCKED || r.verdict == HS_CLEAN);
	buf_reset(&t);
	buf_append(&t, z.data, z.len);
	t.data[cdoff + 45] = (char)0x70;	/* a local header nowhere */
	(void)zip_verdict(p, "a.zip", &t, &r);
	assert_true(r.verdict == HS_BLOCKED || r.verdict == HS_CLEAN);
	buf_reset(&t);
	buf_append(&t, z.data, z.len);
	t.data[t.len - 12] = 100;		/* more entries than there are */
	t.data[t.len - 14] = 100;
	(void)zip_verdict(p, "a.zip", &t, &r);
	assert_true(r.verdict == HS_BLOCKED || r.verdict == HS_CLEAN);
	/* garbage named .zip */
	assert_int_equal(scan_part(p, "x.zip", "application/zip", "PK\3\4junk",
	    9, &r), HS_BLOCKED);
	assert_reason(&r, "blocked attachment x.zip (malformed archive: ");
	plugin_free(&p);

	p = load("archive_malformed=allow", NULL);
	assert_int_equal(scan_part(p, "x.zip", "application/zip", "PK\3\4junk",
	    9, &r), HS_CLEAN);
	plugin_free(&p);
	p = load("deny_malformed_zip=no", NULL);
	assert_int_equal(scan_part(p, "x.zip", "application/zip", "PK\3\4junk",
	    9, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&z);
	buf_free(&t);
}

/* A zip cut before its directory is still read, by its local headers. */
static void
test_zip_damaged_names(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z = BUF_INIT, t = BUF_INIT;
	const struct zent bad[] = {
		{ "a.txt", "hello", 5, false, NULL, false },
		{ "evil.exe", "hello hello hello", 17, true, NULL, false },
	};
	size_t		 cdoff;

	(void)state;
	build_zip(bad, 2, &z);
	cdoff = (unsigned char)z.data[z.len - 6] |
	    (unsigned char)z.data[z.len - 5] << 8;
	buf_append(&t, z.data, cdoff);
	assert_int_equal(zip_verdict(p, "cut.zip", &t, &r), HS_BLOCKED);
	assert_reason(&r, "evil.exe inside cut.zip");
	plugin_free(&p);
	buf_free(&z);
	buf_free(&t);
}

static void
test_zip_encrypted(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z = BUF_INIT;
	const struct zent enc[] = {
		{ "secret.doc", "\x12\x34\x56\x78garbage", 11, false, NULL, true },
	};

	(void)state;
	build_zip(enc, 1, &z);
	assert_int_equal(zip_verdict(p, "a.zip", &z, &r), HS_CLEAN);
	plugin_free(&p);
	p = load("archive_encrypted=block", NULL);
	assert_int_equal(zip_verdict(p, "a.zip", &z, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment a.zip (encrypted "
	    "archive: entry secret.doc inside a.zip)");
	plugin_free(&p);
	/* the zip reader's name for it */
	p = load("deny_encrypted_zip=yes", NULL);
	assert_int_equal(zip_verdict(p, "a.zip", &z, &r), HS_BLOCKED);
	plugin_free(&p);
	p = load("archive_encrypted=block", "deny_encrypted_zip=no", NULL);
	assert_int_equal(zip_verdict(p, "a.zip", &z, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&z);
}

/* --- other archives, bombs ------------------------------------------------------ */

/* A ustar archive of one file, name[len], onto out. */
static void
build_tar(const char *name, const void *data, size_t len, struct buf *out)
{
	unsigned char	 h[512];
	unsigned	 sum = 0;
	size_t		 i;

	memset(h, 0, sizeof(h));
	(void)snprintf((char *)h, 100, "%s", name);
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	(void)snprintf((char *)h + 124, 12, "%011zo", len);
	memcpy(h + 136, "15000000000", 12);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (i = 0; i < sizeof(h); i++)
		sum += h[i];
	(void)snprintf((char *)h + 148, 8, "%06o", sum);
	buf_append(out, h, sizeof(h));
	buf_append(out, data, len);
	memset(h, 0, sizeof(h));
	buf_append(out, h, (512 - len % 512) % 512);
	buf_append(out, h, sizeof(h));
	buf_append(out, h, sizeof(h));
}

static void
test_tar_and_gzip(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 t = BUF_INIT, g = BUF_INIT, pe = BUF_INIT;

	(void)state;
	build_tar("docs/readme.txt", "hello", 5, &t);
	deflate_into(t.data, t.len, true, &g);
	assert_int_equal(scan_part(p, "files.tar.gz", "application/gzip",
	    g.data, g.len, &r), HS_CLEAN);
	/* found by libmagic, whatever the name */
	buf_reset(&t);
	buf_reset(&g);
	build_tar("x/evil.exe", "hello", 5, &t);
	deflate_into(t.data, t.len, true, &g);
	assert_int_equal(scan_part(p, "files.dat", "application/octet-stream",
	    g.data, g.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name x/evil.exe "
	    "inside files.dat (denied extension .exe)");
	/* a plain tar, and a program by its type */
	make_pe(&pe);
	buf_reset(&t);
	build_tar("readme.txt", pe.data, pe.len, &t);
	assert_int_equal(scan_part(p, "files.tar", "application/x-tar",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_reason(&r, "blocked attachment readme.txt inside files.tar "
	    "(detected type pe: ");
	/* a lone gzipped program */
	buf_reset(&g);
	deflate_into(pe.data, pe.len, true, &g);
	assert_int_equal(scan_part(p, "tool.gz", "application/gzip",
	    g.data, g.len, &r), HS_BLOCKED);
	assert_reason(&r, "blocked attachment (compressed data) inside "
	    "tool.gz (detected type pe: ");
	plugin_free(&p);
	buf_free(&t);
	buf_free(&g);
	buf_free(&pe);
}

/* A 7z archive of one file, with libarchive's writer, in out. */
static void
build_7z(const char *name, const void *data, size_t len, struct buf *out)
{
	struct archive	*a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t		 size = 65536 + len * 2, used = 0;
	char		*mem = malloc(size);

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_7zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, mem, size, &used),
	    ARCHIVE_OK);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	assert_int_equal(archive_write_free(a), ARCHIVE_OK);
	buf_reset(out);
	buf_append(out, mem, used);
	free(mem);
}

static void
test_7z_and_office(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 a = BUF_INIT, pe = BUF_INIT;
	struct zent	 doc[4];

	(void)state;
	make_pe(&pe);
	build_7z("docs/readme.txt", "hello hello", 11, &a);
	assert_int_equal(scan_part(p, "files.7z", "application/x-7z-compressed",
	    a.data, a.len, &r), HS_CLEAN);
	build_7z("evil.exe", "hello", 5, &a);
	assert_int_equal(scan_part(p, "files.bin", "application/octet-stream",
	    a.data, a.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name evil.exe "
	    "inside files.bin (denied extension .exe)");
	build_7z("setup.dat", pe.data, pe.len, &a);
	assert_int_equal(scan_part(p, "files.7z", "application/x-7z-compressed",
	    a.data, a.len, &r), HS_BLOCKED);
	assert_reason(&r, "setup.dat inside files.7z (detected type pe: ");
	/* a 7z in a zip, and a 7z holding a zip */
	{
		struct buf	 z = BUF_INIT, in = BUF_INIT;
		struct zent	 e;

		build_7z("evil.exe", "hello", 5, &in);
		e = (struct zent){ "inner.7z", in.data, in.len, true, NULL,
		    false };
		build_zip(&e, 1, &z);
		assert_int_equal(zip_verdict(p, "outer.zip", &z, &r),
		    HS_BLOCKED);
		assert_reason(&r, "evil.exe inside inner.7z inside outer.zip");
		e = (struct zent){ "x/evil.exe", "hello", 5, true, NULL, false };
		build_zip(&e, 1, &in);
		build_7z("inner.zip", in.data, in.len, &z);
		assert_int_equal(scan_part(p, "outer.7z", "application/x-7z-"
		    "compressed", z.data, z.len, &r), HS_BLOCKED);
		assert_reason(&r, "x/evil.exe inside inner.zip inside outer.7z");
		buf_free(&z);
		buf_free(&in);
	}
	/* an Office file is a zip, looked into whatever libmagic calls it */
	doc[0] = (struct zent){ "[Content_Types].xml", "<Types/>", 8, true,
	    NULL, false };
	doc[1] = (struct zent){ "_rels/.rels", "<r/>", 4, true, NULL, false };
	doc[2] = (struct zent){ "word/document.xml", "<w/>", 4, true, NULL,
	    false };
	doc[3] = (struct zent){ "word/embeddings/x.bin", pe.data, pe.len, true,
	    NULL, false };
	build_zip(doc, 4, &a);
	assert_int_equal(scan_part(p, "report.docx", "application/vnd."
	    "openxmlformats-officedocument.wordprocessingml.document", a.data,
	    a.len, &r), HS_BLOCKED);
	assert_reason(&r, "word/embeddings/x.bin inside report.docx (detected "
	    "type pe: ");
	plugin_free(&p);
	buf_free(&a);
	buf_free(&pe);
}

static void
test_zip_bomb(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 z = BUF_INIT, z2 = BUF_INIT;
	struct zent	 e = { "zeros.txt", NULL, 100 * 1024 * 1024, true, NULL,
			    false };
	struct timespec	 t0, t1;
	double		 secs;

	(void)state;
	build_zip(&e, 1, &z);
	assert_true(z.len < 200 * 1024);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t0), 0);
	assert_int_equal(zip_verdict(p, "bomb.zip", &z, &r), HS_BLOCKED);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &t1), 0);
	assert_string_equal(r.reason, "blocked attachment bomb.zip (zip bomb: "
	    "expands beyond archive_max_ratio, 100 times its size)");
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 5)
		fail_msg("a zip bomb took %.1f s", secs);
	/* the same inside a zip: the bytes of every level count */
	e = (struct zent){ "inner.zip", z.data, z.len, false, NULL, false };
	build_zip(&e, 1, &z2);
	assert_int_equal(zip_verdict(p, "outer.zip", &z2, &r), HS_BLOCKED);
	assert_reason(&r, "blocked attachment outer.zip (zip bomb: ");
	plugin_free(&p);
	/* without a ratio, the total */
	p = load("archive_max_ratio=0", "archive_max_expansion=10M", NULL);
	assert_int_equal(zip_verdict(p, "bomb.zip", &z, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment bomb.zip (zip bomb: "
	    "expands beyond archive_max_expansion, 10485760 bytes)");
	plugin_free(&p);
	/* no limit at all: read through, in pieces, and clean */
	p = load("archive_max_ratio=0", "archive_max_expansion=200M", NULL);
	assert_int_equal(zip_verdict(p, "bomb.zip", &z, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&z);
	buf_free(&z2);
}

/* --- ClamAV's test files ---------------------------------------------------------- */

#define TESTFILES	"/usr/share/clamav-testfiles/"

/* The file at path into b; false when it cannot be read. */
static bool
slurp(const char *path, struct buf *b)
{
	FILE		*f = fopen(path, "rb");
	char		 chunk[8192];
	size_t		 n;

	buf_reset(b);
	if (f == NULL)
		return (false);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(b, chunk, n);
	(void)fclose(f);
	return (true);
}

/*
 * Archives made by other tools (clamav-testfiles, in DEB_PKGS; Debian's
 * has no rar): each holds clam.exe, a Windows program.
 */
static void
test_clamav_testfiles(void **state)
{
	static const struct {
		const char	*file, *ctype, *want;
	} t[] = {
		{ "clam.zip", "application/zip",
		    "blocked attachment name clam.exe inside clam.zip" },
		{ "clam.7z", "application/x-7z-compressed",
		    "blocked attachment name clam.exe inside clam.7z" },
		{ "clam.cab", "application/vnd.ms-cab-compressed",
		    "blocked attachment name clam.exe inside clam.cab" },
		{ "clam.tar.gz", "application/x-gzip",
		    "blocked attachment name clam.exe inside clam.tar.gz" },
		{ "clam.exe.bz2", "application/octet-stream",
		    "blocked attachment (compressed data) inside clam.exe.bz2 "
		    "(detected type pe: " },
		{ "clam.bz2.zip", "application/zip",
		    "inside clam.bz2.zip" },
		{ "clam.exe", "image/png",	/* named photo.png below */
		    "blocked attachment photo.png (detected type pe: " },
	};
	struct plugin	*p;
	struct hs_result r;
	struct buf	 b = BUF_INIT;
	char		 path[256];
	size_t		 i;

	(void)state;
	if (!slurp(TESTFILES "clam.zip", &b))
		skip();		/* make deps installs them */
	p = load(NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		(void)snprintf(path, sizeof(path), TESTFILES "%s", t[i].file);
		assert_true(slurp(path, &b));
		assert_int_equal(scan_part(p, strcmp(t[i].file, "clam.exe") == 0 ?
		    "photo.png" : t[i].file, t[i].ctype, b.data, b.len, &r),
		    HS_BLOCKED);
		assert_reason(&r, t[i].want);
	}
	/* a mail with a uuencoded part (Content-Transfer-Encoding: x-uuencode) */
	assert_true(slurp(TESTFILES "clam.exe.mbox.uu", &b));
	buf_putc(&b, '\0');
	assert_int_equal(scan_msg(p, b.data, &r), HS_BLOCKED);
	assert_reason(&r, "clam.exe");
	plugin_free(&p);
	buf_free(&b);
}

/* --- uuencode ------------------------------------------------------------------ */

/* Six bits as uuencode writes them ('`' for 0, not a blank). */
#define UUCHAR(v)	((v) & 63 ? (int)(32 + ((v) & 63)) : '`')

/* in[len] uuencoded as name onto out, with its begin and end lines. */
static void
uuencode(const char *name, const void *in, size_t len, struct buf *out)
{
	const unsigned char *d = in;
	size_t		 i, j, n;
	unsigned	 v;

	buf_printf(out, "begin 644 %s\n", name);
	for (i = 0; i < len; i += n) {
		n = len - i < 45 ? len - i : 45;
		buf_putc(out, (int)(32 + n));
		for (j = 0; j < n; j += 3) {
			v = (unsigned)d[i + j] << 16 |
			    (j + 1 < n ? (unsigned)d[i + j + 1] << 8 : 0) |
			    (j + 2 < n ? d[i + j + 2] : 0);
			buf_putc(out, UUCHAR(v >> 18));
			buf_putc(out, UUCHAR(v >> 12));
			buf_putc(out, UUCHAR(v >> 6));
			buf_putc(out, UUCHAR(v));
		}
		buf_putc(out, '\n');
	}
	buf_printf(out, "`\nend\n");
}

/* A text body (no name) of text: its verdict. */
static enum hs_verdict
text_verdict(struct plugin *p, const char *text, struct hs_result *res)
{
	return (scan_part(p, NULL, "text/plain", text, strlen(text), res));
}

static void
test_uuencoded_names(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	const char	*evil = "Hello,\nthe tool:\n\nbegin 644 evil.exe\n"
	    "#35IZ```\n`\nend\n\nbye\n";

	(void)state;
	assert_int_equal(text_verdict(p, evil, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name evil.exe "
	    "uuencoded in the text (denied extension .exe)");
	assert_int_equal(text_verdict(p,
	    "begin-base64 0755 C:\\tmp\\run.bat\r\nQUJD\r\n====\r\n", &r),
	    HS_BLOCKED);
	assert_reason(&r, "run.bat uuencoded in the text");
	/* harmless names, and lines that only look alike */
	assert_int_equal(text_verdict(p, "begin 644 notes.txt\n`\nend\n", &r),
	    HS_CLEAN);
	assert_int_equal(text_verdict(p, "we begin 644 evil.exe\nbegin 64 a.exe\n"
	    "begin 64488 a.exe\nbegin 644\nbegin 899 a.exe\nbegin 644 \n", &r),
	    HS_CLEAN);
	/* in a whole message's text body */
	{
		struct buf	 m = BUF_INIT;

		buf_printf(&m, "From: a\nSubject: s\n\n%s", evil);
		assert_int_equal(scan_msg(p, m.data, &r), HS_BLOCKED);
		assert_reason(&r, "evil.exe uuencoded in the text");
		buf_free(&m);
	}
	/* a program under a harmless name, by its decoded type */
	{
		struct buf	 pe = BUF_INIT, m = BUF_INIT;

		make_pe(&pe);
		buf_printf(&m, "Hi,\n\n");
		uuencode("photo.jpg", pe.data, pe.len, &m);
		assert_int_equal(text_verdict(p, m.data, &r), HS_BLOCKED);
		assert_string_equal(r.reason, "blocked attachment photo.jpg "
		    "uuencoded in the text (detected type pe: application/"
		    "vnd.microsoft.portable-executable)");
		/* cut short, or with broken lines: no overread (ASan) */
		m.data[m.len - 60] = '\0';
		(void)text_verdict(p, m.data, &r);
		buf_reset(&m);
		buf_printf(&m, "begin 644 a.jpg\nM\nMxx\n\xff\xff\n");
		assert_int_equal(text_verdict(p, m.data, &r), HS_CLEAN);
		buf_free(&pe);
		buf_free(&m);
	}
	plugin_free(&p);
	p = load("scan_uuencode=no", NULL);
	assert_int_equal(text_verdict(p, evil, &r), HS_CLEAN);
	plugin_free(&p);
}

/* --- whole messages ----------------------------------------------------------- */

static void
base64(const void *in, size_t len, struct buf *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t		 i, col = 0;
	uint32_t	 v;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		buf_putc(out, tab[v >> 18 & 63]);
		buf_putc(out, tab[v >> 12 & 63]);
		buf_putc(out, i + 1 < len ? tab[v >> 6 & 63] : '=');
		buf_putc(out, i + 2 < len ? tab[v & 63] : '=');
		if ((col += 4) >= 76) {
			buf_putc(out, '\n');
			col = 0;
		}
	}
	buf_putc(out, '\n');
}

static void
add_part(struct buf *m, const char *ctype, const char *fname, const void *data,
    size_t len)
{
	buf_printf(m, "--b\nContent-Type: %s\n", ctype);
	if (fname != NULL)
		buf_printf(m, "Content-Disposition: attachment; filename=\"%s\"\n",
		    fname);
	buf_printf(m, "Content-Transfer-Encoding: base64\n\n");
	base64(data, len, m);
}

static void
test_scan_whole_messages(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 m = BUF_INIT, z = BUF_INIT;
	const struct zent e = { "pay.scr", "x", 1, false, NULL, false };
	size_t		 i;

	(void)state;
	buf_printf(&m, "From: a\nSubject: s\nContent-Type: multipart/mixed; "
	    "boundary=b\n\n");
	add_part(&m, "text/plain", NULL, "#!/bin/sh is fine in text\n", 26);
	add_part(&m, "application/pdf", "report.pdf", "%PDF", 4);
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_CLEAN);

	/* a name only in Content-Type counts, and MIME-encoded names too */
	buf_reset(&m);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	add_part(&m, "application/octet-stream; name=\"=?utf-8?q?"
	    "invoice=2Epdf=2Eexe?=\"", NULL, "x", 1);
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name invoice.pdf.exe "
	    "(double extension)");

	/* nested in a multipart in a forwarded message, inside a zip */
	build_zip(&e, 1, &z);
	buf_reset(&m);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: message/rfc822\n\nFrom: c\n"
	    "Content-Type: multipart/mixed; boundary=c\n\n--c\n"
	    "Content-Type: application/zip; name=fwd.zip\n"
	    "Content-Transfer-Encoding: base64\n\n");
	base64(z.data, z.len, &m);
	buf_printf(&m, "--c--\n--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_BLOCKED);
	assert_reason(&r, "pay.scr inside fwd.zip");

	/* beyond the MIME limits: scan failed */
	buf_reset(&m);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 1001; i++)
		buf_printf(&m, "--b\n\nx\n");
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_FAILED);
	assert_string_equal(r.reason, "more than 1000 MIME parts");
	plugin_free(&p);

	p = load("max_depth=2", NULL);
	buf_reset(&m);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n"
	    "--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\n"
	    "Content-Type: multipart/mixed; boundary=d\n\n--d\n\nx\n--d--\n"
	    "--c--\n--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_FAILED);
	assert_string_equal(r.reason, "MIME nesting deeper than 2");
	plugin_free(&p);
	buf_free(&m);
	buf_free(&z);
}

/* --- what cannot be scanned ------------------------------------------------ */

/* The start of a CMS ContentInfo of the type whose OID ends in last. */
static void
make_cms(struct buf *b, unsigned last)
{
	static const unsigned char head[] = { 0x30, 0x82, 0x01, 0x00, 0x06,
	    0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07 };
	size_t	 i;

	buf_reset(b);
	for (i = 0; i < sizeof(head); i++)
		buf_putc(b, head[i]);
	buf_putc(b, (int)last);
	buf_putc(b, 0xa0);
	buf_putc(b, 0x80);
	for (i = 0; i < 64; i++)
		buf_putc(b, (int)(i * 7 & 0xff));
}

/* Messages whose content cannot be scanned, built here. */
static void
unscannable_msgs(struct buf *partial, struct buf *ext, struct buf *smime,
    struct buf *pgpmime, struct buf *inline_pgp, struct buf *signed_smime)
{
	struct buf	 der = BUF_INIT;

	buf_printf(partial, "From: a\nSubject: s\nMIME-Version: 1.0\n"
	    "Content-Type: message/partial; id=\"abc@example.org\"; "
	    "number=1; total=2\n\nFrom: a\nSubject: s\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
	    "Content-Type: application/octet-stream; name=evil.e\n");
	buf_printf(ext, "From: a\nMIME-Version: 1.0\nContent-Type: "
	    "multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
	    "see below\n--b\nContent-Type: message/external-body; "
	    "access-type=URL; URL=\"http://example.org/x.exe\"\n\n"
	    "Content-Type: application/octet-stream\n\n--b--\n");
	make_cms(&der, 3);
	buf_printf(smime, "From: a\nMIME-Version: 1.0\nContent-Type: "
	    "application/pkcs7-mime; smime-type=enveloped-data; "
	    "name=smime.p7m\nContent-Disposition: attachment; "
	    "filename=smime.p7m\nContent-Transfer-Encoding: base64\n\n");
	base64(der.data, der.len, smime);
	make_cms(&der, 2);
	buf_printf(signed_smime, "From: a\nMIME-Version: 1.0\nContent-Type: "
	    "application/x-pkcs7-mime; smime-type=signed-data; "
	    "name=smime.p7m\nContent-Transfer-Encoding: base64\n\n");
	base64(der.data, der.len, signed_smime);
	buf_printf(pgpmime, "From: a\nMIME-Version: 1.0\nContent-Type: "
	    "multipart/encrypted; protocol=\"application/pgp-encrypted\"; "
	    "boundary=b\n\n--b\nContent-Type: application/pgp-encrypted\n\n"
	    "Version: 1\n\n--b\nContent-Type: application/octet-stream; "
	    "name=encrypted.asc\n\n-----BEGIN PGP MESSAGE-----\n\n"
	    "hQEMA5Zx0Fx0Zm9vAQf/abc=\n=AbCd\n-----END PGP MESSAGE-----\n"
	    "--b--\n");
	buf_printf(inline_pgp, "From: a\nMIME-Version: 1.0\nContent-Type: "
	    "text/plain\n\nHi,\n\n-----BEGIN PGP MESSAGE-----\n\n"
	    "hQEMA5Zx0Fx0Zm9vAQf/abc=\n=AbCd\n-----END PGP MESSAGE-----\n");
	buf_free(&der);
}

static void
test_unscannable_messages(void **state)
{
	struct buf	 part = BUF_INIT, ext = BUF_INIT, smime = BUF_INIT,
			 pgp = BUF_INIT, inl = BUF_INIT, sig = BUF_INIT,
			 der = BUF_INIT;
	struct plugin	*p = load(NULL);
	struct hs_result r;
	const char	*text;

	(void)state;
	unscannable_msgs(&part, &ext, &smime, &pgp, &inl, &sig);
	/* the defaults: pieces and references blocked, encryption allowed */
	assert_int_equal(scan_msg(p, part.data, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "message/partial: a message sent in "
	    "pieces cannot be scanned (partial_message = block)");
	assert_int_equal(scan_msg(p, ext.data, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "message/external-body: content kept "
	    "elsewhere cannot be scanned (external_body = block)");
	assert_int_equal(scan_msg(p, smime.data, &r), HS_CLEAN);
	assert_int_equal(scan_msg(p, pgp.data, &r), HS_CLEAN);
	assert_int_equal(scan_msg(p, inl.data, &r), HS_CLEAN);
	/* a part on its own (deliver-cleaned) too */
	assert_int_equal(scan_part(p, NULL, "message/partial", "x", 1, &r),
	    HS_BLOCKED);
	plugin_free(&p);

	p = load("encrypted_message=block", NULL);
	assert_int_equal(scan_msg(p, smime.data, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "encrypted message (S/MIME "
	    "enveloped-data) cannot be scanned (encrypted_message = block)");
	assert_int_equal(scan_msg(p, pgp.data, &r), HS_BLOCKED);
	assert_reason(&r, "(PGP/MIME multipart/encrypted)");
	assert_int_equal(scan_msg(p, inl.data, &r), HS_BLOCKED);
	assert_reason(&r, "(inline PGP)");
	/* signed, not encrypted; the type is the DER's, not the header's */
	assert_int_equal(scan_msg(p, sig.data, &r), HS_CLEAN);
	make_cms(&der, 2);
	assert_int_equal(scan_part(p, "smime.p7m", "application/pkcs7-mime",
	    der.data, der.len, &r), HS_CLEAN);
	make_cms(&der, 6);
	assert_int_equal(scan_part(p, "smime.p7m", "application/pkcs7-mime",
	    der.data, der.len, &r), HS_BLOCKED);
	/* what cannot be read as CMS cannot be looked into either */
	assert_int_equal(scan_part(p, "smime.p7m", "application/pkcs7-mime",
	    "\x30\x84", 2, &r), HS_BLOCKED);
	/* signed text and a quoted armor line are not encryption */
	text = "-----BEGIN PGP SIGNED MESSAGE-----\nhi\n";
	assert_int_equal(scan_part(p, NULL, "text/plain", text, strlen(text),
	    &r), HS_CLEAN);
	text = "> -----BEGIN PGP MESSAGE-----\n";
	assert_int_equal(scan_part(p, NULL, "text/plain", text, strlen(text),
	    &r), HS_CLEAN);
	plugin_free(&p);

	p = load("partial_message=allow", "external_body=allow", NULL);
	assert_int_equal(scan_msg(p, part.data, &r), HS_CLEAN);
	assert_int_equal(scan_msg(p, ext.data, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&part);
	buf_free(&ext);
	buf_free(&smime);
	buf_free(&pgp);
	buf_free(&inl);
	buf_free(&sig);
	buf_free(&der);
}

/* --- sizes ------------------------------------------------------------------ */

static void
test_size_limits(void **state)
{
	struct plugin	*p = load("max_attachment_size=1K",
			    "max_total_attachment_size=2500", NULL);
	struct hs_result r;
	struct buf	 m = BUF_INIT;
	char		 data[1025], text[4000];

	(void)state;
	memset(data, 'a', sizeof(data));
	memset(text, 't', sizeof(text));
	/* one part: at the limit, and one byte beyond */
	assert_int_equal(scan_part(p, "a.bin", "application/octet-stream",
	    data, 1024, &r), HS_CLEAN);
	assert_int_equal(scan_part(p, "a.bin", "application/octet-stream",
	    data, 1025, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment a.bin (1025 bytes, "
	    "more than max_attachment_size 1024)");
	assert_int_equal(scan_part(p, NULL, "image/png", data, 1025, &r),
	    HS_BLOCKED);
	assert_reason(&r, "(unnamed image/png part)");
	/* a text body is not an attachment */
	assert_int_equal(scan_part(p, NULL, "text/plain", text, sizeof(text),
	    &r), HS_CLEAN);

	/* a message: 1000 + 1000 + 500 is at the total, one byte more beyond */
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	add_part(&m, "text/plain", NULL, text, sizeof(text));
	add_part(&m, "application/pdf", "a.pdf", data, 1000);
	add_part(&m, "application/pdf", "b.pdf", data, 1000);
	add_part(&m, "application/pdf", "c.pdf", data, 500);
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_CLEAN);
	buf_reset(&m);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	add_part(&m, "application/pdf", "a.pdf", data, 1000);
	add_part(&m, "application/pdf", "b.pdf", data, 1000);
	add_part(&m, "application/pdf", "c.pdf", data, 501);
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "attachments of more than "
	    "max_total_attachment_size 2500 bytes: 2501 with c.pdf");
	plugin_free(&p);

	/* 0, the default: no limit */
	p = load(NULL);
	assert_int_equal(scan_msg(p, m.data, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&m);
}

/* --- TNEF ------------------------------------------------------------------- */

/* One TNEF attribute (MS-OXTNEF 2.1.3.3): level, id, length, data, checksum. */
static void
tnef_attr(struct buf *b, int level, uint32_t id, const void *data, size_t len)
{
	const unsigned char *d = data;
	unsigned	 sum = 0;
	size_t		 i;

	buf_putc(b, level);
	put32(b, id);
	put32(b, (uint32_t)len);
	for (i = 0; i < len; i++) {
		buf_putc(b, d[i]);
		sum += d[i];
	}
	put16(b, sum & 0xffff);
}

/*
 * A winmail.dat holding files named names[i] with content data[i] (the
 * first n): the signature, a key, attTnefVersion and attOemCodepage,
 * then per file attAttachRenddata (which starts an attachment),
 * attAttachTitle and attAttachData.
 */
static void
build_tnef(struct buf *b, const char *const *names, const struct buf *data,
    size_t n)
{
	static const unsigned char version[] = { 0, 0, 1, 0 },
	    codepage[] = { 0xe4, 0x04, 0, 0, 0, 0, 0, 0 },
	    rend[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
	size_t		 i;

	buf_reset(b);
	put32(b, 0x223e9f78);
	put16(b, 0x0001);
	tnef_attr(b, 1, 0x00089006, version, sizeof(version));
	tnef_attr(b, 1, 0x00069007, codepage, sizeof(codepage));
	for (i = 0; i < n; i++) {
		tnef_attr(b, 2, 0x00069002, rend, sizeof(rend));
		tnef_attr(b, 2, 0x00018010, names[i], strlen(names[i]) + 1);
		tnef_attr(b, 2, 0x0006800f, data[i].data, data[i].len);
	}
}

/*
 * One file whose short name (attAttachTitle) is harmless and whose long
 * name, a MAPI property in attAttachment (MS-OXTNEF 2.1.3.4: a count of
 * properties; PR_ATTACH_LONG_FILENAME as PtypString8 or, with utf16,
 * PtypString: tag, one value, its size, the bytes padded to 4), is not.
 */
static void
build_tnef_long(struct buf *b, const char *shortname, const char *longname,
    bool utf16)
{
	static const unsigned char rend[] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0,
	    0, 0, 0, 0, 0, 0, 0 };
	struct buf	 props = BUF_INIT, name = BUF_INIT;
	size_t		 i;

	for (i = 0; i <= strlen(longname); i++) {
		buf_putc(&name, longname[i]);
		if (utf16)
			buf_putc(&name, 0);
	}
	put32(&props, 1);
	put32(&props, 0x3707u << 16 | (utf16 ? 0x1f : 0x1e));
	put32(&props, 1);
	put32(&props, (uint32_t)name.len);
	buf_append(&props, name.data, name.len);
	while (props.len % 4 != 0)
		buf_putc(&props, 0);
	buf_reset(b);
	put32(b, 0x223e9f78);
	put16(b, 0x0001);
	tnef_attr(b, 2, 0x00069002, rend, sizeof(rend));
	tnef_attr(b, 2, 0x00018010, shortname, strlen(shortname) + 1);
	tnef_attr(b, 2, 0x0006800f, "words\n", 6);
	tnef_attr(b, 2, 0x00069005, props.data, props.len);
	buf_free(&props);
	buf_free(&name);
}

static void
test_tnef(void **state)
{
	struct plugin	*p = load(NULL);
	struct hs_result r;
	struct buf	 t = BUF_INIT, m = BUF_INIT, d[2] = { BUF_INIT, BUF_INIT };
	const char	*evil[] = { "report.doc", "evil.exe" },
			*clean[] = { "report.doc", "notes.txt" },
			*typed[] = { "photo.jpg" };

	(void)state;
	buf_printf(&d[0], "plain words\n");
	buf_printf(&d[1], "more words\n");
	build_tnef(&t, clean, d, 2);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_CLEAN);
	build_tnef(&t, evil, d, 2);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name evil.exe inside "
	    "winmail.dat (denied extension .exe)");
	/* found by its name, or its signature, whatever its declared type */
	assert_int_equal(scan_part(p, "WINMAIL.DAT", "application/octet-stream",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_int_equal(scan_part(p, NULL, "application/octet-stream", t.data,
	    t.len, &r), HS_BLOCKED);
	assert_reason(&r, "evil.exe inside (unnamed application/octet-stream");
	/* a program named photo.jpg, by its type */
	buf_reset(&d[0]);
	make_pe(&d[0]);
	build_tnef(&t, typed, d, 1);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_reason(&r, "blocked attachment photo.jpg inside winmail.dat "
	    "(detected type pe: ");

	/* the long name (MAPI), 8-bit or UTF-16, wins over the short one */
	build_tnef_long(&t, "TOOL~1.TXT", "Tool Setup.exe", false);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name Tool Setup.exe "
	    "inside winmail.dat (denied extension .exe)");
	build_tnef_long(&t, "TOOL~1.TXT", "Tool Setup.scr", true);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_reason(&r, "Tool Setup.scr inside winmail.dat");
	build_tnef_long(&t, "TOOL~1.TXT", "Tool Setup.txt", true);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_CLEAN);

	/* in a message */
	buf_reset(&d[0]);
	buf_printf(&d[0], "plain words\n");
	build_tnef(&t, evil, d, 2);
	buf_printf(&m, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n");
	add_part(&m, "text/plain", NULL, "see the attachment\n", 19);
	add_part(&m, "application/ms-tnef", "winmail.dat", t.data, t.len);
	buf_printf(&m, "--b--\n");
	assert_int_equal(scan_msg(p, m.data, &r), HS_BLOCKED);
	assert_reason(&r, "evil.exe inside winmail.dat");

	/* malformed: the malformed policy (archive_malformed) */
	t.data[t.len - 1] ^= 1;	/* the last checksum */
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment winmail.dat "
	    "(malformed TNEF: bad checksum of the attribute at byte 155)");
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, 45, &r), HS_BLOCKED);
	assert_reason(&r, "(malformed TNEF: ");
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    "not tnef", 8, &r), HS_BLOCKED);
	assert_reason(&r, "(malformed TNEF: no TNEF signature)");
	/* what libytnef would drop and leak: a repeated name, a file before
	 * its attachment starts */
	build_tnef(&t, clean, d, 1);
	tnef_attr(&t, 2, 0x00018010, "again.exe", 10);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_reason(&r, "(malformed TNEF: attribute 0x00018010 at byte ");
	buf_reset(&t);
	put32(&t, 0x223e9f78);
	put16(&t, 1);
	tnef_attr(&t, 2, 0x00018010, "evil.exe", 9);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment winmail.dat "
	    "(malformed TNEF: attachment attribute at byte 6 before any "
	    "attAttachRenddata)");
	plugin_free(&p);

	p = load("archive_malformed=allow", NULL);
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_CLEAN);
	plugin_free(&p);
	p = load("scan_tnef=no", NULL);
	t.data[t.len - 1] ^= 1;
	assert_int_equal(scan_part(p, "winmail.dat", "application/ms-tnef",
	    t.data, t.len, &r), HS_CLEAN);
	plugin_free(&p);
	buf_free(&t);
	buf_free(&m);
	buf_free(&d[0]);
	buf_free(&d[1]);
}

/* --- rule files ------------------------------------------------------------- */

/* A rule file with text in a fresh temporary file; its path in path. */
static void
rule_file(char *path, size_t size, const char *text)
{
	int	 fd;

	(void)snprintf(path, size, "/tmp/test_attachments.rules.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void
test_rule_files(void **state)
{
	char		 names[PATH_MAX], types[PATH_MAX], o1[PATH_MAX + 20],
			 o2[PATH_MAX + 20];
	struct plugin	*p;
	struct hs_result r;

	(void)state;
	rule_file(names, sizeof(names),
	    "# MailScanner's filename.rules, tab-separated\n"
	    "\n"
	    "allow\t^ok\\.exe$\t-\t-\n"
	    "deny\t\\.exe$\tWindows executable\tExecutables are not allowed\n"
	    "deny+delete\t^invoice.*\\.zip$\tFake invoice\t-\n");
	rule_file(types, sizeof(types),
	    "allow\tELF 64-bit LSB pie executable\t-\t-\n"
	    "deny\tELF\tELF binary\tNo programs, please\n");
	(void)snprintf(o1, sizeof(o1), "filename_rules=%s", names);
	(void)snprintf(o2, sizeof(o2), "filetype_rules=%s", types);

	p = load(o1, NULL);
	/* an allow rule: the extension lists are not asked */
	assert_int_equal(name_verdict(p, "OK.EXE", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "run.exe", &r), HS_BLOCKED);
	assert_string_equal(r.reason, "blocked attachment name run.exe "
	    "(filename rule line 4: Executables are not allowed)");
	/* the log text when there is no report text */
	assert_int_equal(name_verdict(p, "Invoice-2026.zip", &r), HS_BLOCKED);
	assert_reason(&r, "filename rule line 5: Fake invoice");
	/* no rule matches: deny_extensions still applies */
	assert_int_equal(name_verdict(p, "setup.scr", &r), HS_BLOCKED);
	assert_reason(&r, "denied extension .scr");
	assert_int_equal(name_verdict(p, "notes.txt", &r), HS_CLEAN);
	plugin_free(&p);

	/* deny_types does not list elf: the filetype rule blocks it */
	p = load(o2, "deny_types=pe", NULL);
	assert_int_equal(scan_part(p, "data.bin", "application/octet-stream",
	    elf, sizeof(elf), &r), HS_BLOCKED);
	assert_reason(&r, "filetype rule line 2: No programs, please");
	assert_int_equal(scan_part(p, "notes.txt", "text/plain", "hello\n", 6,
	    &r), HS_CLEAN);
	plugin_free(&p);

	(void)unlink(names);
	(void)unlink(types);
	/* refused: a file that is not there, a relative path, bad lines */
	init_refuses("filename_rules", names, "cannot load a rule file");
	init_refuses("filetype_rules", "rules/filetype.rules",
	    "cannot load a rule file");
	rule_file(names, sizeof(names), "quarantine\t\\.exe$\t-\t-\n");
	init_refuses("filename_rules", names, "cannot load a rule file");
	(void)unlink(names);
	rule_file(names, sizeof(names), "deny\t(unclosed\t-\t-\n");
	init_refuses("filename_rules", names, "cannot load a rule file");
	(void)unlink(names);
	rule_file(names, sizeof(names), "deny\n");
	init_refuses("filename_rules", names, "cannot load a rule file");
	(void)unlink(names);
}

/* rewrite_part with HS_REWRITE_RENAME on a part: its return, the new name. */
static int
rename_part(struct plugin *p, const char *filename, const void *data,
    size_t len, char *newname, size_t size)
{
	struct hs_rewrite_in in;
	struct hs_rewrite_out out;
	struct hs_msg	 msg;
	int		 rc;

	memset(&msg, 0, sizeof(msg));
	msg.queue_id = "TEST";
	memset(&in, 0, sizeof(in));
	in.content_type = "application/octet-stream";
	in.data = data;
	in.len = len;
	in.how = HS_REWRITE_RENAME;
	in.filename = filename;
	memset(&out, 0, sizeof(out));
	assert_non_null(plugin_rewriter(p));
	rc = plugin_rewriter(p)(p->ctx, &msg, &in, &out);
	assert_null(out.data);
	(void)snprintf(newname, size, "%s", out.filename);
	return (rc);
}

/*
 * rename rules (MailScanner's third action): the part is blocked, its
 * reason says it is to be renamed, and rewrite_part gives the new name
 * (rename_pattern around the old one); a name the pattern made passes
 * the rename rules by (no renaming twice), and goes on to the lists; a
 * part blocked otherwise gets no new name; filetype rules rename too;
 * a bad rename_pattern is refused.
 */
static void
test_rename_rules(void **state)
{
	char		 names[PATH_MAX], types[PATH_MAX], o1[PATH_MAX + 20],
			 o2[PATH_MAX + 20], nn[256];
	struct plugin	*p;
	struct hs_result r;

	(void)state;
	rule_file(names, sizeof(names),
	    "rename\t\\.html?$\tHTML file\tHTML attachments are renamed\n"
	    "rename\t\\.exe\t-\t-\n");
	rule_file(types, sizeof(types), "rename\tELF\t-\tA program\n");
	(void)snprintf(o1, sizeof(o1), "filename_rules=%s", names);
	(void)snprintf(o2, sizeof(o2), "filetype_rules=%s", types);

	p = load(o1, NULL);
	assert_int_equal(name_verdict(p, "Page One.HTML", &r), HS_BLOCKED);
	assert_string_equal(r.reason, "attachment name Page One.HTML to be "
	    "renamed (filename rule line 1: rename: HTML attachments are "
	    "renamed)");
	assert_int_equal(rename_part(p, "dir/Page One.HTML", "x", 1, nn,
	    sizeof(nn)), 1);
	assert_string_equal(nn, "Page One.HTML.disarmed");
	assert_int_equal(rename_part(p, "a\"b;c.htm", "x", 1, nn,
	    sizeof(nn)), 1);
	assert_string_equal(nn, "a_b_c.htm.disarmed");
	/* renamed already: the rename rules pass it by, the lists do not */
	assert_int_equal(name_verdict(p, "Page One.HTML.disarmed", &r),
	    HS_CLEAN);
	assert_int_equal(name_verdict(p, "run.exe.disarmed", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "run.exe.scr.disarmed", &r), HS_CLEAN);
	assert_int_equal(name_verdict(p, "a.disarmed.scr", &r), HS_BLOCKED);
	/* blocked by the lists, not by a rename rule: no new name */
	assert_int_equal(name_verdict(p, "setup.scr", &r), HS_BLOCKED);
	assert_int_equal(rename_part(p, "setup.scr", "x", 1, nn, sizeof(nn)),
	    0);
	assert_int_equal(rename_part(p, "notes.txt", "x", 1, nn, sizeof(nn)),
	    0);
	plugin_free(&p);

	p = load(o1, "rename_pattern=blocked-__FILENAME__.txt", NULL);
	assert_int_equal(rename_part(p, "x.html", "x", 1, nn, sizeof(nn)), 1);
	assert_string_equal(nn, "blocked-x.html.txt");
	assert_int_equal(name_verdict(p, "blocked-x.html.txt", &r), HS_CLEAN);
	plugin_free(&p);

	/* filetype rename: renamed, the type is not asked again */
	p = load(o2, "deny_types=pe", NULL);
	assert_int_equal(scan_part(p, "data.bin", "application/octet-stream",
	    elf, sizeof(elf), &r), HS_BLOCKED);
	assert_reason(&r, "attachment data.bin to be renamed (detected type "
	    "filetype rule line 1: rename: A program)");
	assert_int_equal(rename_part(p, "data.bin", elf, sizeof(elf), nn,
	    sizeof(nn)), 1);
	assert_string_equal(nn, "data.bin.disarmed");
	assert_int_equal(scan_part(p, "data.bin.disarmed",
	    "application/octet-stream", elf, sizeof(elf), &r), HS_CLEAN);
	plugin_free(&p);
	(void)unlink(names);
	(void)unlink(types);

	init_refuses("rename_pattern", "nothing", "__FILENAME__ once");
	init_refuses("rename_pattern", "__FILENAME__", "__FILENAME__ once");
	init_refuses("rename_pattern", "__FILENAME____FILENAME__.x",
	    "__FILENAME__ once");
	init_refuses("rename_pattern", "__FILENAME__.\"x", "printable ASCII");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extension_lists),
		cmocka_unit_test(test_double_extensions),
		cmocka_unit_test(test_magic_detection),
		cmocka_unit_test(test_bad_options_are_refused),
		cmocka_unit_test(test_zip_names),
		cmocka_unit_test(test_zip_nested),
		cmocka_unit_test(test_zip_malformed),
		cmocka_unit_test(test_zip_damaged_names),
		cmocka_unit_test(test_zip_encrypted),
		cmocka_unit_test(test_tar_and_gzip),
		cmocka_unit_test(test_7z_and_office),
		cmocka_unit_test(test_zip_bomb),
		cmocka_unit_test(test_clamav_testfiles),
		cmocka_unit_test(test_uuencoded_names),
		cmocka_unit_test(test_scan_whole_messages),
		cmocka_unit_test(test_unscannable_messages),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_tnef),
		cmocka_unit_test(test_rule_files),
		cmocka_unit_test(test_rename_rules),
	};
	char		 self[PATH_MAX];
	ssize_t		 n;

	(void)argc;
	(void)argv;
	/* build/FLAVOUR/tests/unit/test_attachments -> build/FLAVOUR/plugins */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return (1);
	self[n] = '\0';
	(void)snprintf(plugin_dir, sizeof(plugin_dir), "%s/../../plugins",
	    dirname(self));
	if (realpath(plugin_dir, self) == NULL) {
		fprintf(stderr, "no %s: build the plugins first\n", plugin_dir);
		return (1);
	}
	(void)snprintf(plugin_dir, sizeof(plugin_dir), "%s", self);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
