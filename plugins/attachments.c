/*
 * NAME
 *	attachments - file name and file type rules for attachments
 * DESCRIPTION
 *	A scanner plugin (hs_plugin ABI). It has the host walk the message's
 *	MIME tree (hs_host.mime_walk, within max_depth and max_parts) and judges
 *	each leaf part; scan_part judges one part the same way, so that
 *	deliver-cleaned can remove just the offending ones. A part is
 *	blocked when
 *
 *	  - one of its names (Content-Disposition filename=, Content-Type
 *	    name=) ends in an extension of deny_extensions that
 *	    allow_extensions does not allow ("setup.scr");
 *	  - with deny_double_extensions, a document extension is followed by
 *	    one of deny_extensions, allowed or not ("invoice.pdf.exe");
 *	  - it is an attachment (it has a name, or is not text/...) and its
 *	    content starts like a type in deny_types (pe: "MZ", elf, macho,
 *	    script: "#!", lnk, ...), whatever its declared Content-Type;
 *	  - with scan_zip, a zip attachment holds an entry whose name (in the
 *	    central directory or its local header) or content start breaks
 *	    the same rules, in nested zips down to zip_max_depth; a zip that
 *	    cannot be read is blocked with deny_malformed_zip, one with
 *	    encrypted entries with deny_encrypted_zip.
 *
 *	Names are compared as Windows would use them: the last path
 *	component, lower case, trailing dots and blanks removed, cut at a NUL.
 *	Exceeding max_depth, max_parts, zip_max_depth, zip_max_entries or
 *	zip_max_size makes the verdict "scan failed" with the limit named.
 *
 *	The zip reader reads only the central directory, the local headers
 *	and, for each entry, at most its first 64 bytes, except for nested
 *	zips, which are inflated whole when they fit the remaining
 *	zip_max_size budget of the attachment. Every offset and length is
 *	checked against the bytes that hold it before use.
 *
 *	It must never read outside the part it was given, inflate more than
 *	zip_max_size bytes per attachment, recurse deeper than its limits, or
 *	say clean about a part it could not look at.
 */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "holdscan/plugin.h"

#define PEEK		64	/* bytes of an entry looked at for its type */
#define NAME_SHOWN	120	/* bytes of a name put in a reason */

static const struct hs_plugin_option att_options[] = {
	{ "deny_extensions", HS_OPT_LIST,
	    "exe com scr pif bat cmd vbs vbe js jse wsf wsh hta cpl msc msi "
	    "msp lnk reg ps1 scf inf gadget application",
	    "file name extensions that block an attachment" },
	{ "allow_extensions", HS_OPT_LIST, "",
	    "extensions allowed even if deny_extensions lists them" },
	{ "deny_double_extensions", HS_OPT_BOOL, "yes",
	    "block a document extension followed by a denied one (x.pdf.exe)" },
	{ "document_extensions", HS_OPT_LIST,
	    "pdf doc docx docm xls xlsx xlsm ppt pptx rtf odt ods odp txt csv "
	    "htm html xml jpg jpeg png gif bmp tif tiff zip rar 7z mp3 mp4 "
	    "avi mov wav",
	    "extensions that make the first half of a double extension" },
	{ "deny_types", HS_OPT_LIST, "pe elf macho script lnk",
	    "content types (by magic) that block an attachment: pe elf macho "
	    "script lnk ole zip rar 7z cab" },
	{ "scan_zip", HS_OPT_BOOL, "yes",
	    "apply the rules to the entries of zip attachments" },
	{ "zip_max_depth", HS_OPT_INT, "3",
	    "zips inside zips are opened down to this depth" },
	{ "zip_max_entries", HS_OPT_INT, "10000",
	    "entries of one zip looked at, at most" },
	{ "zip_max_size", HS_OPT_SIZE, "25M",
	    "bytes inflated per attachment to open nested zips, at most" },
	{ "deny_encrypted_zip", HS_OPT_BOOL, "no",
	    "block zips with encrypted entries (which cannot be looked into)" },
	{ "deny_malformed_zip", HS_OPT_BOOL, "yes",
	    "block zip attachments whose directory cannot be read" },
	{ "max_depth", HS_OPT_INT, "20",
	    "MIME nesting looked into; deeper is scan-failed (at most 32)" },
	{ "max_parts", HS_OPT_INT, "1000",
	    "MIME parts looked at; more is scan-failed (at most 5000)" },
	{ NULL, 0, NULL, NULL },
};

enum {
	T_PE = 1 << 0,
	T_ELF = 1 << 1,
	T_MACHO = 1 << 2,
	T_SCRIPT = 1 << 3,
	T_LNK = 1 << 4,
	T_OLE = 1 << 5,
	T_ZIP = 1 << 6,
	T_RAR = 1 << 7,
	T_7Z = 1 << 8,
	T_CAB = 1 << 9,
};

static const struct {
	const char	*name;
	unsigned	 bit;
} type_names[] = {
	{ "pe", T_PE }, { "elf", T_ELF }, { "macho", T_MACHO },
	{ "script", T_SCRIPT }, { "lnk", T_LNK }, { "ole", T_OLE },
	{ "zip", T_ZIP }, { "rar", T_RAR }, { "7z", T_7Z }, { "cab", T_CAB },
};
#define NTYPES	(sizeof(type_names) / sizeof(type_names[0]))

struct words {
	char		**w;
	size_t		 n;
};

struct rules {
	struct words	 deny, allow, docs;
	unsigned	 types;
	bool		 double_ext, scan_zip, deny_encrypted, deny_malformed;
	size_t		 zip_depth, zip_entries, zip_size;
	struct hs_mime_limits lim;
};

struct att {
	const struct hs_host *host;
	struct rules	*rules;
};

/* --- options --------------------------------------------------------------- */

static void
words_free(struct words *w)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		free(w->w[i]);
	free(w->w);
	w->w = NULL;
	w->n = 0;
}

/* Split a list into lower-case words without leading dots. */
static int
words_parse(const char *s, struct words *w)
{
	size_t	 len, i;
	char	**nw;

	w->w = NULL;
	w->n = 0;
	for (;;) {
		s += strspn(s, ", \t");
		if (*s == '\0')
			return (0);
		len = strcspn(s, ", \t");
		while (len > 0 && *s == '.') {
			s++;
			len--;
		}
		if (len == 0)
			continue;
		if ((nw = reallocarray(w->w, w->n + 1, sizeof(*w->w))) == NULL)
			return (-1);
		w->w = nw;
		if ((w->w[w->n] = strndup(s, len)) == NULL)
			return (-1);
		for (i = 0; i < len; i++)
			w->w[w->n][i] = (char)tolower((unsigned char)s[i]);
		w->n++;
		s += len;
	}
}

static bool
words_has(const struct words *w, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < w->n; i++)
		if (strlen(w->w[i]) == len && memcmp(w->w[i], s, len) == 0)
			return (true);
	return (false);
}

static void
rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	words_free(&r->deny);
	words_free(&r->allow);
	words_free(&r->docs);
	free(r);
}

static struct rules *
rules_new(const struct hs_host *h, const char **error_r)
{
	struct rules	*r = calloc(1, sizeof(*r));
	struct words	 types;
	size_t		 i, j;
	long		 v;

	if (r == NULL) {
		*error_r = "out of memory";
		return (NULL);
	}
	if (words_parse(h->opt_str(h->host_ctx, "deny_extensions"), &r->deny) < 0 ||
	    words_parse(h->opt_str(h->host_ctx, "allow_extensions"), &r->allow) < 0 ||
	    words_parse(h->opt_str(h->host_ctx, "document_extensions"),
	    &r->docs) < 0 ||
	    words_parse(h->opt_str(h->host_ctx, "deny_types"), &types) < 0) {
		*error_r = "out of memory";
		rules_free(r);
		return (NULL);
	}
	for (i = 0; i < types.n; i++) {
		for (j = 0; j < NTYPES; j++)
			if (strcmp(types.w[i], type_names[j].name) == 0)
				break;
		if (j == NTYPES) {
			*error_r = "deny_types: unknown type (use pe, elf, macho, "
			    "script, lnk, ole, zip, rar, 7z or cab)";
			words_free(&types);
			rules_free(r);
			return (NULL);
		}
		r->types |= type_names[j].bit;
	}
	words_free(&types);
	r->double_ext = h->opt_num(h->host_ctx, "deny_double_extensions") != 0;
	r->scan_zip = h->opt_num(h->host_ctx, "scan_zip") != 0;
	r->deny_encrypted = h->opt_num(h->host_ctx, "deny_encrypted_zip") != 0;
	r->deny_malformed = h->opt_num(h->host_ctx, "deny_malformed_zip") != 0;
	r->zip_depth = (size_t)h->opt_num(h->host_ctx, "zip_max_depth");
	r->zip_entries = (size_t)h->opt_num(h->host_ctx, "zip_max_entries");
	v = h->opt_num(h->host_ctx, "zip_max_size");
	r->zip_size = v > 1024L * 1024 * 1024 ? 1024UL * 1024 * 1024 : (size_t)v;
	r->lim.max_depth = (size_t)h->opt_num(h->host_ctx, "max_depth");
	r->lim.max_parts = (size_t)h->opt_num(h->host_ctx, "max_parts");
	if (r->lim.max_depth < 1 || r->lim.max_depth > HS_MIME_MAX_DEPTH)
		*error_r = "max_depth: use 1 to 32";
	else if (r->lim.max_parts < 1 || r->lim.max_parts > HS_MIME_MAX_PARTS)
		*error_r = "max_parts: use 1 to 5000";
	else if (r->zip_depth < 1 || r->zip_depth > 16)
		*error_r = "zip_max_depth: use 1 to 16";
	else
		return (r);
	rules_free(r);
	return (NULL);
}

/* --- names and types -------------------------------------------------------- */

/*
 * name, shown in a reason: printable ASCII, bounded, without quotes or
 * backslashes (reasons end up in reason="..." in the log).
 */
static void
shown(char *dst, size_t size, const char *name, size_t len)
{
	size_t	 i, o = 0;

	for (i = 0; i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)name[i];

		if (o >= NAME_SHOWN) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = c < 32 || c > 126 || c == '"' || c == '\\' ? '?' :
		    (char)c;
	}
	dst[o] = '\0';
}

/*
 * Check one name; where says where it was found ("" or " inside x.zip").
 * Returns true and fills why when it is blocked.
 */
static bool
name_blocked(const struct rules *r, const char *name, size_t len,
    const char *where, char *why, size_t size)
{
	char		 low[512], show[NAME_SHOWN + 8];
	const char	*base, *ext, *prev;
	size_t		 i, n, elen, plen;
	const char	*nul;

	if ((nul = memchr(name, '\0', len)) != NULL)
		len = (size_t)(nul - name);	/* what a file system would use */
	for (base = name, i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\\')
			base = name + i + 1;
	n = len - (size_t)(base - name);
	while (n > 0 && (base[n - 1] == '.' || base[n - 1] == ' ' ||
	    base[n - 1] == '\t'))
		n--;
	if (n == 0)
		return (false);
	if (n >= sizeof(low)) {	/* keep the end: that is where extensions are */
		base += n - (sizeof(low) - 1);
		n = sizeof(low) - 1;
	}
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)base[i]);
	low[n] = '\0';
	if ((ext = strrchr(low, '.')) == NULL)
		return (false);
	elen = n - (size_t)(ext - low) - 1;
	ext++;
	shown(show, sizeof(show), name, len);
	if (r->double_ext && words_has(&r->deny, ext, elen)) {
		/* the extension before, without blanks around it */
		for (plen = (size_t)(ext - 1 - low); plen > 0 &&
		    (low[plen - 1] == ' ' || low[plen - 1] == '\t'); plen--)
			;
		for (prev = low + plen; prev > low && prev[-1] != '.'; prev--)
			;
		if (prev > low && words_has(&r->docs, prev,
		    plen - (size_t)(prev - low))) {
			(void)snprintf(why, size, "blocked attachment name %s%s "
			    "(double extension)", show, where);
			return (true);
		}
	}
	if (words_has(&r->deny, ext, elen) && !words_has(&r->allow, ext, elen)) {
		(void)snprintf(why, size, "blocked attachment name %s%s "
		    "(denied extension .%s)", show, where, ext);
		return (true);
	}
	return (false);
}

static uint16_t
le16(const unsigned char *p)
{
	return ((uint16_t)(p[0] | p[1] << 8));
}

static uint32_t
le32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static uint64_t
le64(const unsigned char *p)
{
	return ((uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32);
}

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3]);
}

/* The type the first bytes of a file say, one T_ bit, or 0. */
static unsigned
detect_type(const unsigned char *d, size_t len)
{
	static const unsigned char lnk[20] = { 0x4c, 0, 0, 0, 0x01, 0x14, 0x02,
	    0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46 };
	static const unsigned char ole[8] = { 0xd0, 0xcf, 0x11, 0xe0, 0xa1,
	    0xb1, 0x1a, 0xe1 };
	uint32_t	 m;

	if (len >= 2 && d[0] == 'M' && d[1] == 'Z')
		return (T_PE);
	if (len >= 2 && d[0] == '#' && d[1] == '!')
		return (T_SCRIPT);
	if (len >= 4 && memcmp(d, "\177ELF", 4) == 0)
		return (T_ELF);
	if (len >= 4) {
		m = be32(d);
		if (m == 0xfeedface || m == 0xfeedfacf || m == 0xcefaedfe ||
		    m == 0xcffaedfe)
			return (T_MACHO);
		/* fat Mach-O; a Java class file has a version >= 45 there */
		if (m == 0xcafebabe && len >= 8 && be32(d + 4) > 0 &&
		    be32(d + 4) < 45)
			return (T_MACHO);
	}
	if (len >= sizeof(lnk) && memcmp(d, lnk, sizeof(lnk)) == 0)
		return (T_LNK);
	if (len >= sizeof(ole) && memcmp(d, ole, sizeof(ole)) == 0)
		return (T_OLE);
	if (len >= 4 && d[0] == 'P' && d[1] == 'K' && ((d[2] == 3 && d[3] == 4) ||
	    (d[2] == 5 && d[3] == 6) || (d[2] == 7 && d[3] == 8)))
		return (T_ZIP);
	if (len >= 6 && memcmp(d, "Rar!\032\007", 6) == 0)
		return (T_RAR);
	if (len >= 6 && memcmp(d, "7z\274\257\047\034", 6) == 0)
		return (T_7Z);
	if (len >= 4 && memcmp(d, "MSCF", 4) == 0)
		return (T_CAB);
	return (0);
}

static const char *
type_name(unsigned bit)
{
	size_t	 i;

	for (i = 0; i < NTYPES; i++)
		if (type_names[i].bit == bit)
			return (type_names[i].name);
	return ("?");
}

/* --- zip -------------------------------------------------------------------- */

enum zrc {
	Z_CLEAN,
	Z_BLOCKED,
	Z_MALFORMED,
	Z_LIMIT,
};

struct zipwalk {
	const struct rules *r;
	size_t		 budget;	/* bytes we may still inflate */
	bool		 encrypted;
	char		*why;
	size_t		 whysize;
};

/* Is [off, off + n) inside [0, len)? Overflow-safe. */
static bool
inside(uint64_t len, uint64_t off, uint64_t n)
{
	return (off <= len && n <= len - off);
}

/*
 * Unpack up to max bytes of an entry (stored or deflated) into out.
 * Returns the bytes produced, or -1 when the data are broken or the
 * method unknown.
 */
static long
unpack(const unsigned char *in, size_t inlen, unsigned method,
    unsigned char *out, size_t max)
{
	z_stream	 zs;
	long		 n;
	int		 rc;

	if (method == 0) {
		n = (long)(inlen < max ? inlen : max);
		memcpy(out, in, (size_t)n);
		return (n);
	}
	if (method != 8 || max == 0)
		return (method == 8 ? 0 : -1);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
		return (-1);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = inlen > UINT_MAX ? UINT_MAX : (uInt)inlen;
	zs.next_out = out;
	zs.avail_out = max > UINT_MAX ? UINT_MAX : (uInt)max;
	rc = inflate(&zs, Z_FINISH);
	n = (long)zs.total_out;
	(void)inflateEnd(&zs);
	if (rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK)
		return (-1);
	return (n);
}

static enum zrc zip_walk(struct zipwalk *zw, const unsigned char *d,
		    size_t len, size_t depth, const char *where);

/* One entry's content: its type, and a nested zip. */
static enum zrc
zip_entry_content(struct zipwalk *zw, const unsigned char *data, uint64_t csize,
    uint64_t usize, unsigned method, size_t depth, const char *show,
    const char *where)
{
	unsigned char	 head[PEEK], *buf;
	char		 inner[320];
	long		 n;
	unsigned	 t;
	enum zrc	 rc;

	if ((n = unpack(data, (size_t)csize, method, head, sizeof(head))) < 0) {
		(void)snprintf(zw->why, zw->whysize, "entry %s%s cannot be "
		    "unpacked", show, where);
		return (Z_MALFORMED);
	}
	t = detect_type(head, (size_t)n);
	if (t & zw->r->types) {
		(void)snprintf(zw->why, zw->whysize, "blocked attachment %s%s "
		    "(detected type %s)", show, where, type_name(t));
		return (Z_BLOCKED);
	}
	if (t != T_ZIP)
		return (Z_CLEAN);
	if (depth >= zw->r->zip_depth) {
		(void)snprintf(zw->why, zw->whysize, "zip %s%s nested deeper "
		    "than zip_max_depth %zu", show, where, zw->r->zip_depth);
		return (Z_LIMIT);
	}
	if (usize > zw->budget) {
		(void)snprintf(zw->why, zw->whysize, "nested zip %s%s: more than "
		    "zip_max_size to inflate", show, where);
		return (Z_LIMIT);
	}
	if ((buf = malloc(usize > 0 ? (size_t)usize : 1)) == NULL) {
		(void)snprintf(zw->why, zw->whysize, "out of memory");
		return (Z_LIMIT);
	}
	n = unpack(data, (size_t)csize, method, buf, (size_t)usize);
	if (n < 0 || (uint64_t)n != usize) {
		free(buf);
		(void)snprintf(zw->why, zw->whysize, "nested zip %s%s cannot be "
		    "unpacked", show, where);
		return (Z_MALFORMED);
	}
	zw->budget -= (size_t)usize;
	(void)snprintf(inner, sizeof(inner), " inside %s%s", show, where);
	rc = zip_walk(zw, buf, (size_t)usize, depth + 1, inner);
	free(buf);
	return (rc);
}

/* Zip64 extra field: the 64-bit values of the fields that are all ones. */
static bool
zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize,
    uint64_t *csize, uint64_t *loff)
{
	size_t	 p = 0, sz, q;

	while (p + 4 <= xlen) {
		sz = le16(x + p + 2);
		if (sz > xlen - p - 4)
			return (false);
		if (le16(x + p) == 0x0001) {
			q = p + 4;
			if (*usize == 0xffffffff) {
				if (q + 8 > p + 4 + sz)
					return (false);
				*usize = le64(x + q);
				q += 8;
			}
			if (*csize == 0xffffffff) {
				if (q + 8 > p + 4 + sz)
					return (false);
				*csize = le64(x + q);
				q += 8;
			}
			if (*loff == 0xffffffff) {
				if (q + 8 > p + 4 + sz)
					return (false);
				*loff = le64(x + q);
			}
			return (true);
		}
		p += 4 + sz;
	}
	return (false);
}

/*
 * The central directory: where it starts, its size, how many entries,
 * and how far the archive is shifted (a self-extractor's prefix).
 */
static bool
zip_directory(const unsigned char *d, size_t len, uint64_t *cd_r,
    uint64_t *cdsize_r, uint64_t *count_r, uint64_t *shift_r, const char **why)
{
	size_t		 pos, lo;
	uint64_t	 count, size, off, end, z;

	if (len < 22) {
		*why = "too short for a zip directory";
		return (false);
	}
	lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
	for (pos = len - 22;; pos--) {
		if (le32(d + pos) == 0x06054b50 &&
		    (uint64_t)pos + 22 + le16(d + pos + 20) <= len)
			break;
		if (pos == lo) {
			*why = "no end of central directory record";
			return (false);
		}
	}
	if ((le16(d + pos + 4) != 0 && le16(d + pos + 4) != 0xffff) ||
	    (le16(d + pos + 6) != 0 && le16(d + pos + 6) != 0xffff)) {
		*why = "a multi-volume zip";
		return (false);
	}
	count = le16(d + pos + 10);
	size = le32(d + pos + 12);
	off = le32(d + pos + 16);
	end = pos;
	if ((count == 0xffff || size == 0xffffffff || off == 0xffffffff) &&
	    pos >= 20 && le32(d + pos - 20) == 0x07064b50) {
		z = le64(d + pos - 20 + 8);
		if (!inside(pos, z, 56) || le32(d + z) != 0x06064b50) {
			*why = "bad zip64 end of central directory";
			return (false);
		}
		count = le64(d + z + 32);
		size = le64(d + z + 40);
		off = le64(d + z + 48);
		end = z;
	}
	if (size > end || off > end - size) {
		*why = "central directory outside the file";
		return (false);
	}
	*cd_r = end - size;
	*shift_r = end - size - off;
	*cdsize_r = size;
	*count_r = count;
	return (true);
}

static enum zrc
zip_walk(struct zipwalk *zw, const unsigned char *d, size_t len, size_t depth,
    const char *where)
{
	const struct rules *r = zw->r;
	const char	*bad = NULL;
	uint64_t	 cd, cdsize, count, shift, p, i;
	char		 show[NAME_SHOWN + 8];
	enum zrc	 rc;

	if (!zip_directory(d, len, &cd, &cdsize, &count, &shift, &bad)) {
		(void)snprintf(zw->why, zw->whysize, "%s", bad);
		return (Z_MALFORMED);
	}
	if (count > r->zip_entries) {
		(void)snprintf(zw->why, zw->whysize, "zip%s has more than "
		    "zip_max_entries %zu entries", where, r->zip_entries);
		return (Z_LIMIT);
	}
	for (p = cd, i = 0; i < count; i++) {
		uint64_t	 csize, usize, loff, data;
		unsigned	 flags, method;
		size_t		 nlen, xlen, clen, lnlen, lxlen;
		const unsigned char *name;

		if (!inside(cd + cdsize, p, 46) || le32(d + p) != 0x02014b50) {
			(void)snprintf(zw->why, zw->whysize, "bad central directory "
			    "entry %llu", (unsigned long long)i + 1);
			return (Z_MALFORMED);
		}
		flags = le16(d + p + 8);
		method = le16(d + p + 10);
		csize = le32(d + p + 20);
		usize = le32(d + p + 24);
		nlen = le16(d + p + 28);
		xlen = le16(d + p + 30);
		clen = le16(d + p + 32);
		loff = le32(d + p + 42);
		if (!inside(cd + cdsize, p + 46, (uint64_t)nlen + xlen + clen)) {
			(void)snprintf(zw->why, zw->whysize, "central directory "
			    "entry %llu runs past its end", (unsigned long long)i + 1);
			return (Z_MALFORMED);
		}
		name = d + p + 46;
		if ((csize == 0xffffffff || usize == 0xffffffff ||
		    loff == 0xffffffff) && !zip64_extra(name + nlen, xlen, &usize,
		    &csize, &loff)) {
			(void)snprintf(zw->why, zw->whysize, "entry %llu lacks its "
			    "zip64 sizes", (unsigned long long)i + 1);
			return (Z_MALFORMED);
		}
		p += 46 + nlen + xlen + clen;
		if (name_blocked(r, (const char *)name, nlen, where, zw->why,
		    zw->whysize))
			return (Z_BLOCKED);
		shown(show, sizeof(show), (const char *)name, nlen);
		/* The local header: its name counts too (some tools use it). */
		if (loff > UINT64_MAX - shift || !inside(len, loff + shift, 30) ||
		    le32(d + loff + shift) != 0x04034b50) {
			(void)snprintf(zw->why, zw->whysize, "entry %s%s: bad local "
			    "header", show, where);
			return (Z_MALFORMED);
		}
		loff += shift;
		lnlen = le16(d + loff + 26);
		lxlen = le16(d + loff + 28);
		if (!inside(len, loff + 30, (uint64_t)lnlen + lxlen)) {
			(void)snprintf(zw->why, zw->whysize, "entry %s%s: local "
			    "header runs past the end", show, where);
			return (Z_MALFORMED);
		}
		if (name_blocked(r, (const char *)d + loff + 30, lnlen, where,
		    zw->why, zw->whysize))
			return (Z_BLOCKED);
		data = loff + 30 + lnlen + lxlen;
		if (!inside(len, data, csize)) {
			(void)snprintf(zw->why, zw->whysize, "entry %s%s: data run "
			    "past the end", show, where);
			return (Z_MALFORMED);
		}
		if (flags & 1) {
			zw->encrypted = true;
			continue;
		}
		if (csize == 0 || (method != 0 && method != 8))
			continue;	/* empty, or packed in a way we do not read */
		if ((rc = zip_entry_content(zw, d + data, csize, usize, method,
		    depth, show, where)) != Z_CLEAN)
			return (rc);
	}
	return (Z_CLEAN);
}

/* --- one part ------------------------------------------------------------------ */

static bool
ends_with_zip(const char *name)
{
	size_t	 n = name != NULL ? strlen(name) : 0;

	return (n >= 4 && strcasecmp(name + n - 4, ".zip") == 0);
}

/*
 * Judge one part by its names (up to two), its content type and content.
 * Fills res; returns its verdict.
 */
static enum hs_verdict
judge(const struct rules *r, const char *name1, const char *name2,
    const char *ctype, const unsigned char *data, size_t len,
    struct hs_result *res)
{
	const char	*names[2] = { name1, name2 }, *label;
	char		 show[NAME_SHOWN + 8];
	struct zipwalk	 zw;
	unsigned	 t;
	size_t		 i;
	enum zrc	 zr;

	res->verdict = HS_CLEAN;
	for (i = 0; i < 2; i++)
		if (names[i] != NULL && name_blocked(r, names[i],
		    strlen(names[i]), "", res->reason, sizeof(res->reason)))
			return (res->verdict = HS_BLOCKED);
	label = name1 != NULL ? name1 : name2;
	if (label != NULL)
		shown(show, sizeof(show), label, strlen(label));
	else {
		char	 tmp[NAME_SHOWN];

		(void)snprintf(tmp, sizeof(tmp), "(unnamed %.60s part)", ctype);
		shown(show, sizeof(show), tmp, strlen(tmp));
	}
	t = detect_type(data, len);
	if ((label != NULL || strncmp(ctype, "text/", 5) != 0) &&
	    (t & r->types)) {
		(void)snprintf(res->reason, sizeof(res->reason),
		    "blocked attachment %s (detected type %s)", show,
		    type_name(t));
		return (res->verdict = HS_BLOCKED);
	}
	if (!r->scan_zip || (t != T_ZIP && !ends_with_zip(name1) &&
	    !ends_with_zip(name2)))
		return (HS_CLEAN);
	memset(&zw, 0, sizeof(zw));
	zw.r = r;
	zw.budget = r->zip_size;
	zw.why = res->reason;
	zw.whysize = sizeof(res->reason);
	{
		char	 where[NAME_SHOWN + 16];

		(void)snprintf(where, sizeof(where), " inside %s", show);
		zr = zip_walk(&zw, data, len, 1, where);
	}
	switch (zr) {
	case Z_BLOCKED:
		return (res->verdict = HS_BLOCKED);
	case Z_LIMIT:
		return (res->verdict = HS_FAILED);
	case Z_MALFORMED:
		if (!r->deny_malformed)
			break;
		{
			char	 detail[200];

			(void)snprintf(detail, sizeof(detail), "%s", res->reason);
			(void)snprintf(res->reason, sizeof(res->reason),
			    "blocked attachment %s (malformed zip: %s)", show,
			    detail);
		}
		return (res->verdict = HS_BLOCKED);
	case Z_CLEAN:
		break;
	}
	if (zw.encrypted && r->deny_encrypted) {
		(void)snprintf(res->reason, sizeof(res->reason),
		    "blocked attachment %s (encrypted zip)", show);
		return (res->verdict = HS_BLOCKED);
	}
	res->reason[0] = '\0';
	return (res->verdict = HS_CLEAN);
}

/* --- the plugin ------------------------------------------------------------------ */

struct walkstate {
	const struct rules *r;
	struct hs_result *res;
	bool		 failed;
	char		 failwhy[256];
};

static int
walk_part(void *arg, const struct hs_mime_part *p)
{
	struct walkstate *ws = arg;
	struct hs_result one;

	memset(&one, 0, sizeof(one));
	switch (judge(ws->r, p->filename, p->name, p->content_type, p->data,
	    p->len, &one)) {
	case HS_BLOCKED:
		ws->res->verdict = HS_BLOCKED;
		(void)snprintf(ws->res->reason, sizeof(ws->res->reason), "%s",
		    one.reason);
		return (1);
	case HS_FAILED:
		if (!ws->failed)
			(void)snprintf(ws->failwhy, sizeof(ws->failwhy), "%s",
			    one.reason);
		ws->failed = true;
		return (0);
	default:
		return (0);
	}
}

static int
att_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct att	*a = ctx;
	struct walkstate ws;
	char		 why[200];

	memset(&ws, 0, sizeof(ws));
	ws.r = a->rules;
	ws.res = res;
	res->verdict = HS_CLEAN;
	switch (a->host->mime_walk(a->host->host_ctx, msg->data, msg->len,
	    &a->rules->lim, walk_part, &ws, why, sizeof(why))) {
	case -1:
		res->verdict = HS_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", why);
		return (0);
	case 1:
		return (0);	/* blocked */
	default:
		break;
	}
	if (ws.failed) {
		res->verdict = HS_FAILED;
		(void)snprintf(res->reason, sizeof(res->reason), "%s", ws.failwhy);
	}
	return (0);
}

static int
att_scan_part(void *ctx, const struct hs_msg *msg, const struct hs_part *part,
    struct hs_result *res)
{
	struct att	*a = ctx;

	(void)msg;
	(void)judge(a->rules, part->filename, NULL, part->content_type ?
	    part->content_type : "application/octet-stream", part->data,
	    part->len, res);
	return (0);
}

static int
att_init(const struct hs_host *host, void **ctx_r, const char **error_r)
{
	struct att	*a = calloc(1, sizeof(*a));

	if (a == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	a->host = host;
	if ((a->rules = rules_new(host, error_r)) == NULL) {
		free(a);
		return (-1);
	}
	*ctx_r = a;
	return (0);
}

static int
att_reload(void *ctx, const char **error_r)
{
	struct att	*a = ctx;
	struct rules	*r;

	if ((r = rules_new(a->host, error_r)) == NULL)
		return (-1);
	rules_free(a->rules);
	a->rules = r;
	return (0);
}

static void
att_info(void *ctx, char *buf, size_t size)
{
	struct att	*a = ctx;

	(void)snprintf(buf, size, "%zu denied extensions, zip %s", a->rules->deny.n,
	    a->rules->scan_zip ? "on" : "off");
}

static void
att_fini(void *ctx)
{
	struct att	*a = ctx;

	rules_free(a->rules);
	free(a);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "attachments",
	.version = "1",
	.options = att_options,
	.init = att_init,
	.reload = att_reload,
	.scan = att_scan,
	.scan_part = att_scan_part,
	.info = att_info,
	.fini = att_fini,
};
