/*
 * NAME
 *	attachments - file name and file type rules for attachments and
 *	what archives hold
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
 *	  - it is an attachment (it has a name, or is not text/...) and
 *	    libmagic, given its first magic_bytes, names a type of deny_types
 *	    (a short name such as pe, elf or script standing for a list of
 *	    MIME types, or a MIME type, "application/x-msi", or a prefix,
 *	    "application/vnd.ms-*"), whatever its declared Content-Type;
 *	  - it is a text part with a uuencoded file ("begin 644 evil.exe")
 *	    whose name breaks the name rules, or whose first ENTRY_PEEK
 *	    bytes, decoded, are of a type of deny_types;
 *	  - with scan_archives, it is an archive libarchive reads (zip, tar,
 *	    gzip, bzip2, xz, 7z, rar, cab), found by its type, its name or a
 *	    zip header (Office and Java files are zips too), and
 *	    an entry's name or type (libmagic on its first ENTRY_PEEK bytes)
 *	    breaks the same rules, in nested archives down to
 *	    archive_max_depth; or it is nested deeper, has more than
 *	    archive_max_entries entries, expands beyond
 *	    archive_max_expansion or archive_max_ratio times its size
 *	    ("zip bomb"), has encrypted entries and archive_encrypted is
 *	    block, or cannot be read and archive_malformed is block;
 *	  - it cannot be scanned and its policy says block: a message/partial
 *	    part (partial_message), a message/external-body part
 *	    (external_body), or encrypted content (encrypted_message): an
 *	    application/pkcs7-mime part whose CMS content type is not
 *	    signed-data or compressed-data (the DER says, not the smime-type
 *	    parameter), the application/pgp-encrypted part of a
 *	    multipart/encrypted, or a text or octet-stream part with a line
 *	    "-----BEGIN PGP MESSAGE-----". The host's MIME walk gives all
 *	    of these to the plugin as leaf parts (GMime parses neither
 *	    message/partial nor message/external-body as a message), so no
 *	    header of the message is read here;
 *	  - with scan_tnef, it is a TNEF stream (winmail.dat: its type, its
 *	    name or its signature) and a file inside has a name or a type
 *	    (libmagic on its first ENTRY_PEEK bytes) the rules deny; or it
 *	    holds more than archive_max_entries files; or its framing is
 *	    broken or libytnef cannot read it and archive_malformed is block;
 *	  - it is an attachment (a name, or not text) larger, decoded, than
 *	    max_attachment_size; and scan blocks a message whose attachments
 *	    add up to more than max_total_attachment_size (scan_part sees one
 *	    part, and applies the first limit only).
 *
 *	Names are compared as Windows would use them: the last path
 *	component, lower case, trailing dots and blanks removed, cut at a NUL.
 *
 *	A rename rule of filename_rules or filetype_rules blocks the part
 *	too, its reason saying "to be renamed"; rewrite_part, asked with
 *	HS_REWRITE_RENAME in deliver-cleaned, gives such a part its new
 *	name (rename_pattern around its name, printable ASCII) and nothing
 *	else, so that the host renames it instead of removing it. Rename
 *	rules pass over a name rename_pattern made; inside archives,
 *	uuencoded text and TNEF, where nothing can be renamed, they deny.
 *	Exceeding max_depth or max_parts makes the verdict "scan failed".
 *
 *	libmagic's database is loaded in init, in the scanner parent, before
 *	the workers are forked and put under their seccomp filter; at scan
 *	time only magic_buffer() and libarchive's memory reader are used:
 *	no file is opened, no program run. Archive entries are read in
 *	CHUNK-byte pieces and every byte decompressed, at every level,
 *	counts against the attachment's expansion budget; a nested archive
 *	is read as a stream from its parent's entry, never copied whole.
 *
 *	TNEF is parsed by libytnef from a copy of the part in memory
 *	(TNEFParseMemory: no file is written), after the plugin has checked
 *	the stream's framing itself (every attribute within the part, its
 *	checksum, an attachment's attributes after its attAttachRenddata,
 *	none repeated): a broken stream never reaches libytnef.
 *
 *	It must never read outside the part it was given, decompress more
 *	than archive_max_expansion bytes per attachment, hold an entry whole
 *	in memory, recurse deeper than its limits, run a program, or say
 *	clean about a part it could not look at.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8

#include <archive.h>
#include <archive_entry.h>
#include <magic.h>
#include <pcre2.h>
/* last: its headers define BYTE, WORD, DWORD and ULONG as macros */
#include <ytnef.h>

#include "holdscan/plugin.h"

#define ENTRY_PEEK	4096	/* bytes of an archive entry given to libmagic */
#define CHUNK		65536	/* bytes read from an archive at a time */
#define RATIO_FLOOR	(1024 * 1024)	/* archive_max_ratio applies beyond */
#define NAME_SHOWN	120	/* bytes of a name put in a reason */
#define UU_MAX_NAMES	100	/* uuencoded files looked at in one part */
#define TNEF_SIGNATURE	0x223e9f78u	/* MS-OXTNEF 2.1.3.1, little-endian */
#define FR_MAX_RULES	10000	/* lines of a rule file */
#define FR_MAX_LINE	4096	/* bytes of one line */
#define FR_MATCH_LIMIT	100000	/* PCRE2's limits per match */
#define FR_DEPTH_LIMIT	1000
#define RENAME_MAX	100	/* bytes of rename_pattern */
#define RENAME_NAME_MAX	150	/* bytes of the original name kept in a new one */

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
	    "content types (by libmagic) that block an attachment: short names "
	    "pe elf macho script lnk ole msi zip rar 7z cab, MIME types "
	    "(application/x-msi) or prefixes (application/vnd.ms-*)" },
	{ "magic_bytes", HS_OPT_SIZE, "64K",
	    "bytes of a part given to libmagic (1K to 16M)" },
	{ "scan_uuencode", HS_OPT_BOOL, "yes",
	    "apply the name rules to uuencoded files in text parts" },
	{ "scan_archives", HS_OPT_BOOL, "yes",
	    "apply the rules to the entries of archives (zip, tar, gzip, "
	    "bzip2, xz, 7z, rar, cab)" },
	{ "scan_tnef", HS_OPT_BOOL, "yes",
	    "apply the name and type rules to the files inside TNEF "
	    "attachments (winmail.dat, application/ms-tnef)" },
	{ "archive_max_depth", HS_OPT_INT, "3",
	    "archives inside archives are opened down to this depth; deeper "
	    "is blocked (1 to 16)" },
	{ "archive_max_entries", HS_OPT_INT, "10000",
	    "entries of one attachment's archives, at every depth; more is "
	    "blocked" },
	{ "archive_max_expansion", HS_OPT_SIZE, "100M",
	    "bytes decompressed per attachment, at every depth; more is "
	    "blocked as a zip bomb" },
	{ "archive_max_ratio", HS_OPT_INT, "100",
	    "beyond 1M decompressed, more than this many times the "
	    "attachment's size is blocked as a zip bomb (0: no limit)" },
	{ "archive_encrypted", HS_OPT_STR, "allow",
	    "archives with encrypted entries (which cannot be looked into): "
	    "allow or block" },
	{ "archive_malformed", HS_OPT_STR, "block",
	    "archives that cannot be read: block or allow" },
	{ "partial_message", HS_OPT_STR, "block",
	    "message/partial parts (a message sent in pieces, reassembled "
	    "only by the reader): block or allow" },
	{ "external_body", HS_OPT_STR, "block",
	    "message/external-body parts (content fetched from elsewhere): "
	    "block or allow" },
	{ "encrypted_message", HS_OPT_STR, "allow",
	    "encrypted messages (S/MIME enveloped-data, PGP/MIME, inline "
	    "PGP), which cannot be looked into: allow or block" },
	{ "scan_zip", HS_OPT_STR, "",
	    "deprecated: scan_archives (yes or no; when set, it wins)" },
	{ "zip_max_depth", HS_OPT_STR, "",
	    "deprecated: archive_max_depth (when set, it wins)" },
	{ "zip_max_entries", HS_OPT_STR, "",
	    "deprecated: archive_max_entries (when set, it wins)" },
	{ "zip_max_size", HS_OPT_STR, "",
	    "deprecated: archive_max_expansion (when set, it wins)" },
	{ "deny_encrypted_zip", HS_OPT_STR, "",
	    "deprecated: archive_encrypted, yes for block (when set, it wins)" },
	{ "deny_malformed_zip", HS_OPT_STR, "",
	    "deprecated: archive_malformed, yes for block (when set, it wins)" },
	{ "max_attachment_size", HS_OPT_SIZE, "0",
	    "an attachment (a part with a name, or not text) larger than this, "
	    "decoded, is blocked (0: no limit)" },
	{ "max_total_attachment_size", HS_OPT_SIZE, "0",
	    "a message whose attachments, decoded, add up to more than this is "
	    "blocked (0: no limit)" },
	{ "filename_rules", HS_OPT_STR, "",
	    "a file of rules on attachment names in MailScanner's "
	    "filename.rules format (allow, deny or rename, a regular "
	    "expression, a log text, a report text; tab-separated); the first "
	    "match decides, before deny_extensions" },
	{ "rename_pattern", HS_OPT_STR, "__FILENAME__.disarmed",
	    "the new name of an attachment a rename rule matches, delivered "
	    "with blocked = deliver-cleaned (__FILENAME__: its name)" },
	{ "filetype_rules", HS_OPT_STR, "",
	    "the same on libmagic's description of an attachment's content "
	    "(as file(1) prints it); the first match decides, before "
	    "deny_types" },
	{ "max_depth", HS_OPT_INT, "20",
	    "MIME nesting looked into; deeper is scan-failed (at most 32)" },
	{ "max_parts", HS_OPT_INT, "1000",
	    "MIME parts looked at; more is scan-failed (at most 5000)" },
	{ NULL, 0, NULL, NULL },
};

/*
 * The short type names of deny_types and the MIME types libmagic (5.44)
 * gives for them; a pattern ending in '*' is a prefix.
 */
static const struct {
	const char	*name;
	const char	*mime[10];
} type_names[] = {
	{ "pe", { "application/vnd.microsoft.portable-executable",
	    "application/x-dosexec", "application/x-msdownload" } },
	{ "elf", { "application/x-executable", "application/x-sharedlib",
	    "application/x-pie-executable", "application/x-object" } },
	{ "macho", { "application/x-mach-binary" } },
	{ "script", { "text/x-shellscript", "text/x-script.*", "text/x-python",
	    "text/x-perl", "text/x-ruby", "text/x-php", "text/x-tcl",
	    "text/x-awk", "text/x-lua", "text/x-nawk" } },
	{ "lnk", { "application/x-ms-shortcut" } },
	{ "ole", { "application/x-ole-storage", "application/cdfv2*",
	    "application/msword", "application/vnd.ms-excel",
	    "application/vnd.ms-powerpoint", "application/vnd.ms-outlook",
	    "application/x-msi", "application/vnd.visio" } },
	{ "msi", { "application/x-msi" } },
	{ "zip", { "application/zip", "application/x-zip*" } },
	{ "rar", { "application/x-rar", "application/vnd.rar",
	    "application/x-rar-compressed" } },
	{ "7z", { "application/x-7z-compressed" } },
	{ "cab", { "application/vnd.ms-cab-compressed" } },
};
#define NTYPES	(sizeof(type_names) / sizeof(type_names[0]))

/* What libmagic calls the archives we open; gzip and co. may hold one file. */
static const struct {
	const char	*mime;
	bool		 stream;	/* a compressed stream: raw format too */
} archive_types[] = {
	{ "application/zip", false }, { "application/x-zip*", false },
	{ "application/java-archive", false }, { "application/x-tar", false },
	{ "application/x-7z-compressed", false }, { "application/x-rar", false },
	{ "application/vnd.rar", false },
	{ "application/vnd.ms-cab-compressed", false },
	{ "application/gzip", true }, { "application/x-gzip", true },
	{ "application/x-bzip2", true }, { "application/x-xz", true },
	{ "application/x-lzma", true }, { "application/zstd", true },
};

static const struct {
	const char	*ext;
	bool		 stream;
} archive_exts[] = {
	{ "zip", false }, { "tar", false }, { "7z", false }, { "rar", false },
	{ "cab", false }, { "jar", false }, { "gz", true }, { "tgz", true },
	{ "bz2", true }, { "tbz", true }, { "tbz2", true }, { "xz", true },
	{ "txz", true }, { "lzma", true }, { "zst", true },
};

struct words {
	char		**w;
	size_t		 n;
};

/* One deny_types pattern: a MIME type or prefix, and what to call it. */
struct typepat {
	char		*mime;		/* lower case; ends in '*': a prefix */
	const char	*label;		/* the short name, or NULL */
};

/* One line of a rule file: allow, deny or rename what the expression matches. */
struct frule {
	bool		 deny;
	bool		 rename;	/* deny, but deliver-cleaned renames */
	pcre2_code	*re;
	char		*text;		/* the report text, else the log text */
	unsigned	 line;
};

struct frules {
	struct frule	*v;
	size_t		 n;
};

struct rules {
	struct frules	 fname, ftype;
	magic_t		 describe;	/* libmagic in description mode, for
					   filetype_rules; loaded before any
					   fork */
	pcre2_match_context *mctx;
	struct words	 deny, allow, docs;
	struct typepat	*types;
	size_t		 ntypes;
	bool		 script_hashbang;	/* "script" denied: text with #! */
	bool		 double_ext, uuencode, archives, tnef, deny_encrypted,
			 deny_malformed, deny_partial, deny_external,
			 deny_crypted;
	char		 rn_prefix[RENAME_MAX], rn_suffix[RENAME_MAX];
					/* rename_pattern around __FILENAME__ */
	size_t		 magic_bytes, arc_depth, arc_entries;
	uint64_t	 arc_expansion, arc_ratio;
	uint64_t	 max_size, max_total;	/* 0: no limit */
	struct hs_mime_limits lim;
};

struct att {
	const struct hs_host *host;
	struct rules	*rules;
	char		 error[600];	/* a rule file's error, for error_r */
	magic_t		 magic;		/* loaded in init, before any fork */
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

/* --- rule files ------------------------------------------------------------ */

static void
frules_free(struct frules *f)
{
	size_t	 i;

	for (i = 0; i < f->n; i++) {
		pcre2_code_free(f->v[i].re);
		free(f->v[i].text);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* The next tab-separated field of *p (runs of tabs separate), or NULL. */
static char *
fr_field(char **p)
{
	char	*s = *p, *e;

	s += strspn(s, "\t");
	if (*s == '\0')
		return (NULL);
	e = s + strcspn(s, "\t");
	if (*e != '\0')
		*e++ = '\0';
	*p = e;
	return (s);
}

/*
 * One line: ACTION <tab> REGEX <tab> LOG-TEXT <tab> REPORT-TEXT, as
 * MailScanner's filename.rules and filetype.rules have them ("-" for no
 * text). 0, 1 for a line without a rule, or -1 with why filled.
 */
static int
fr_line(char *line, unsigned lineno, struct frule *fr, char *why, size_t size)
{
	char		*p = line, *action, *re, *logt, *report, *text;
	int		 err;
	PCRE2_SIZE	 off;

	line[strcspn(line, "\r\n")] = '\0';
	p += strspn(p, " \t");
	if (*p == '\0' || *p == '#')
		return (1);
	if ((action = fr_field(&p)) == NULL || (re = fr_field(&p)) == NULL) {
		(void)snprintf(why, size, "line %u: want ACTION, a tab and a "
		    "regular expression (then a log text and a report text)",
		    lineno);
		return (-1);
	}
	logt = fr_field(&p);
	report = fr_field(&p);
	action[strcspn(action, " ")] = '\0';
	if (strcasecmp(action, "allow") == 0)
		fr->deny = false;
	else if (strcasecmp(action, "deny") == 0 ||
	    strcasecmp(action, "deny+delete") == 0)
		fr->deny = true;
	else if (strcasecmp(action, "rename") == 0)
		fr->deny = fr->rename = true;
	else {
		(void)snprintf(why, size, "line %u: action \"%.40s\": use "
		    "allow, deny, deny+delete or rename", lineno, action);
		return (-1);
	}
	fr->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS, &err, &off, NULL);
	if (fr->re == NULL) {
		PCRE2_UCHAR	 msg[160];

		(void)pcre2_get_error_message(err, msg, sizeof(msg));
		(void)snprintf(why, size, "line %u: regular expression at "
		    "offset %zu: %s", lineno, (size_t)off, (char *)msg);
		return (-1);
	}
	text = report != NULL && strcmp(report, "-") != 0 ? report :
	    logt != NULL && strcmp(logt, "-") != 0 ? logt : NULL;
	fr->text = text != NULL ? strdup(text) : NULL;
	if (text != NULL && fr->text == NULL) {
		pcre2_code_free(fr->re);
		(void)snprintf(why, size, "out of memory");
		return (-1);
	}
	fr->line = lineno;
	return (0);
}

/* Read a rule file into f; -1 with "path: line N: why" in why. */
static int
frules_load(const char *path, struct frules *f, char *why, size_t size)
{
	FILE		*fp;
	char		 line[FR_MAX_LINE + 2], err[400];
	unsigned	 lineno = 0;
	struct frule	 fr, *nv;
	int		 rc;

	f->v = NULL;
	f->n = 0;
	if (path[0] != '/') {
		(void)snprintf(why, size, "%s: use an absolute path", path);
		return (-1);
	}
	if ((fp = fopen(path, "re")) == NULL) {
		(void)snprintf(why, size, "%s: %s", path, strerror(errno));
		return (-1);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			(void)snprintf(err, sizeof(err), "line %u: longer than "
			    "%d bytes", lineno, FR_MAX_LINE);
			goto bad;
		}
		memset(&fr, 0, sizeof(fr));
		if ((rc = fr_line(line, lineno, &fr, err, sizeof(err))) < 0)
			goto bad;
		if (rc > 0)
			continue;
		if (f->n >= FR_MAX_RULES ||
		    (nv = realloc(f->v, (f->n + 1) * sizeof(*nv))) == NULL) {
			pcre2_code_free(fr.re);
			free(fr.text);
			(void)snprintf(err, sizeof(err), "line %u: more than %d "
			    "rules, or out of memory", lineno, FR_MAX_RULES);
			goto bad;
		}
		f->v = nv;
		f->v[f->n++] = fr;
	}
	if (ferror(fp)) {
		(void)snprintf(err, sizeof(err), "read: %s", strerror(errno));
		goto bad;
	}
	(void)fclose(fp);
	return (0);
bad:
	(void)fclose(fp);
	frules_free(f);
	(void)snprintf(why, size, "%s: %s", path, err);
	return (-1);
}

/*
 * The first rule of f matching s: 1 denied (why filled), 2 to be renamed
 * (why filled), 0 allowed, -1 no rule matched; with skip_rename (the
 * name is a new name already) rename rules are passed over. An
 * expression that hits PCRE2's limits does not match.
 */
static int
frules_judge(const struct rules *r, const struct frules *f, const char *s,
    size_t len, const char *what, bool skip_rename, char *why, size_t size)
{
	pcre2_match_data *md;
	size_t		 i;
	int		 rc;

	if (f->n == 0)
		return (-1);
	for (i = 0; i < f->n; i++) {
		if ((md = pcre2_match_data_create_from_pattern(f->v[i].re,
		    NULL)) == NULL)
			return (-1);
		rc = pcre2_match(f->v[i].re, (PCRE2_SPTR)s, len, 0, 0, md,
		    r->mctx);
		pcre2_match_data_free(md);
		if (rc < 0 || (f->v[i].rename && skip_rename))
			continue;
		if (!f->v[i].deny)
			return (0);
		(void)snprintf(why, size, "%s rule line %u%s%s%s", what,
		    f->v[i].line, f->v[i].rename ? ": rename" : "",
		    f->v[i].text != NULL ? ": " : "",
		    f->v[i].text != NULL ? f->v[i].text : "");
		return (f->v[i].rename ? 2 : 1);
	}
	return (-1);
}

/* filename_rules and filetype_rules, with what filetype_rules needs. */
static int
frules_setup(struct rules *r, const struct hs_host *h, char *ebuf,
    size_t esize, const char **error_r)
{
	const char	*fname = h->opt_str(h->host_ctx, "filename_rules");
	const char	*ftype = h->opt_str(h->host_ctx, "filetype_rules");

	if ((fname == NULL || fname[0] == '\0') &&
	    (ftype == NULL || ftype[0] == '\0'))
		return (0);
	if ((r->mctx = pcre2_match_context_create(NULL)) == NULL) {
		*error_r = "out of memory";
		return (-1);
	}
	(void)pcre2_set_match_limit(r->mctx, FR_MATCH_LIMIT);
	(void)pcre2_set_depth_limit(r->mctx, FR_DEPTH_LIMIT);
	if (fname != NULL && fname[0] != '\0' &&
	    frules_load(fname, &r->fname, ebuf, esize) < 0) {
		*error_r = ebuf;
		return (-1);
	}
	if (ftype != NULL && ftype[0] != '\0') {
		if (frules_load(ftype, &r->ftype, ebuf, esize) < 0) {
			*error_r = ebuf;
			return (-1);
		}
		/* Loaded here, in the scanner parent, as the MIME one is. */
		if ((r->describe = magic_open(MAGIC_NONE |
		    MAGIC_NO_CHECK_COMPRESS)) == NULL ||
		    magic_load(r->describe, NULL) != 0) {
			*error_r = "cannot load libmagic's database for "
			    "filetype_rules (magic_open, magic_load)";
			return (-1);
		}
	}
	return (0);
}

/*
 * rename_pattern: printable ASCII without quotes, backslashes, slashes
 * or semicolons, with __FILENAME__ once and something around it (a new
 * name must differ from the old one, and be told apart from it).
 */
static int
rename_setup(struct rules *r, const char *pat, const char **error_r)
{
	const char	*at, *p;
	static const char tok[] = "__FILENAME__";

	if (strlen(pat) >= RENAME_MAX) {
		*error_r = "rename_pattern: 99 bytes at most";
		return (-1);
	}
	for (p = pat; *p != '\0'; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126 ||
		    strchr("\"\\/;", *p) != NULL) {
			*error_r = "rename_pattern: printable ASCII without "
			    "quotes, backslashes, slashes or semicolons";
			return (-1);
		}
	if ((at = strstr(pat, tok)) == NULL ||
	    strstr(at + 1, tok) != NULL || strlen(pat) == sizeof(tok) - 1) {
		*error_r = "rename_pattern: __FILENAME__ once, with text "
		    "before or after it (__FILENAME__.disarmed)";
		return (-1);
	}
	(void)snprintf(r->rn_prefix, sizeof(r->rn_prefix), "%.*s",
	    (int)(at - pat), pat);
	(void)snprintf(r->rn_suffix, sizeof(r->rn_suffix), "%s",
	    at + sizeof(tok) - 1);
	return (0);
}

/* Is base[n] a name rename_pattern made (rename rules pass it over)? */
static bool
is_renamed(const struct rules *r, const char *base, size_t n)
{
	size_t	 pl = strlen(r->rn_prefix), sl = strlen(r->rn_suffix);

	return (n > pl + sl && strncasecmp(base, r->rn_prefix, pl) == 0 &&
	    strncasecmp(base + n - sl, r->rn_suffix, sl) == 0);
}

/*
 * The new name of an attachment named name (NULL: unnamed):
 * rename_pattern around the last component of its name, made printable
 * ASCII ('_' for the rest, and for quotes, backslashes and semicolons),
 * at most RENAME_NAME_MAX bytes of it.
 */
static void
rename_name(const struct rules *r, const char *name, char *out, size_t size)
{
	char		 base[RENAME_NAME_MAX + 1];
	const char	*b = name != NULL ? name : "attachment", *p;
	size_t		 o = 0;

	for (p = b; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			b = p + 1;
	for (p = b; *p != '\0' && o < RENAME_NAME_MAX; p++)
		base[o++] = (unsigned char)*p < 32 || (unsigned char)*p > 126 ||
		    strchr("\"\\;", *p) != NULL ? '_' : *p;
	base[o] = '\0';
	if (o == 0)
		(void)snprintf(base, sizeof(base), "attachment");
	(void)snprintf(out, size, "%s%s%s", r->rn_prefix, base, r->rn_suffix);
}

static void
rules_free(struct rules *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	frules_free(&r->fname);
	frules_free(&r->ftype);
	if (r->describe != NULL)
		magic_close(r->describe);
	pcre2_match_context_free(r->mctx);
	words_free(&r->deny);
	words_free(&r->allow);
	words_free(&r->docs);
	for (i = 0; i < r->ntypes; i++)
		free(r->types[i].mime);
	free(r->types);
	free(r);
}

static int
types_add(struct rules *r, const char *mime, const char *label)
{
	struct typepat	*nt;

	if ((nt = reallocarray(r->types, r->ntypes + 1, sizeof(*nt))) == NULL)
		return (-1);
	r->types = nt;
	if ((nt[r->ntypes].mime = strdup(mime)) == NULL)
		return (-1);
	nt[r->ntypes].label = label;
	r->ntypes++;
	return (0);
}

/* deny_types: short names expand to their MIME types; a '/' is a MIME type. */
static int
types_parse(struct rules *r, const char *s, const char **error_r)
{
	struct words	 w;
	size_t		 i, j, k;
	int		 rc = -1;

	if (words_parse(s, &w) < 0) {
		*error_r = "out of memory";
		return (-1);
	}
	for (i = 0; i < w.n; i++) {
		if (strchr(w.w[i], '/') != NULL) {
			if (strchr(w.w[i], '*') != NULL &&
			    strchr(w.w[i], '*') != w.w[i] + strlen(w.w[i]) - 1) {
				*error_r = "deny_types: a '*' may only end a MIME "
				    "type (application/vnd.ms-*)";
				goto out;
			}
			if (types_add(r, w.w[i], NULL) < 0)
				goto oom;
			continue;
		}
		for (j = 0; j < NTYPES; j++)
			if (strcmp(w.w[i], type_names[j].name) == 0)
				break;
		if (j == NTYPES) {
			*error_r = "deny_types: unknown type (use pe, elf, macho, "
			    "script, lnk, ole, msi, zip, rar, 7z, cab or a MIME "
			    "type such as application/x-msi)";
			goto out;
		}
		if (strcmp(type_names[j].name, "script") == 0)
			r->script_hashbang = true;
		for (k = 0; k < 10 && type_names[j].mime[k] != NULL; k++)
			if (types_add(r, type_names[j].mime[k],
			    type_names[j].name) < 0)
				goto oom;
	}
	rc = 0;
	goto out;
oom:
	*error_r = "out of memory";
out:
	words_free(&w);
	return (rc);
}

/*
 * A deprecated option of the zip reader: "" when not set; else its
 * value, checked, in *v (a number with K, M or G; or yes/no as 1/0).
 */
static int
old_option(const struct hs_host *h, const char *name, bool boolean,
    uint64_t *v, bool *set, const char **error_r)
{
	const char	*s = h->opt_str(h->host_ctx, name);
	char		*end;
	unsigned long long n;

	*set = false;
	if (s == NULL || *s == '\0')
		return (0);
	*set = true;
	if (boolean) {
		if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
		    strcmp(s, "1") == 0)
			*v = 1;
		else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
		    strcmp(s, "0") == 0)
			*v = 0;
		else {
			*error_r = "scan_zip, deny_encrypted_zip, "
			    "deny_malformed_zip: use yes or no";
			return (-1);
		}
		return (0);
	}
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || end == s || !isdigit((unsigned char)*s)) {
		*error_r = "zip_max_depth, zip_max_entries, zip_max_size: "
		    "use a number";
		return (-1);
	}
	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0' || n > (1ULL << 40)) {
		*error_r = "zip_max_depth, zip_max_entries, zip_max_size: "
		    "use a number";
		return (-1);
	}
	*v = n;
	return (0);
}

/*
 * "allow" or "block" (with a deprecated yes/no option, or NULL, that
 * wins); bad is the error for anything else.
 */
static int
policy_option(const struct hs_host *h, const char *name, const char *old,
    const char *bad, bool *block, const char **error_r)
{
	const char	*s = h->opt_str(h->host_ctx, name);
	uint64_t	 v;
	bool		 set;

	if (strcasecmp(s, "block") == 0)
		*block = true;
	else if (strcasecmp(s, "allow") == 0)
		*block = false;
	else {
		*error_r = bad;
		return (-1);
	}
	if (old == NULL)
		return (0);
	if (old_option(h, old, true, &v, &set, error_r) < 0)
		return (-1);
	if (set)
		*block = v != 0;
	return (0);
}

static struct rules *
rules_new(const struct hs_host *h, char *ebuf, size_t esize,
    const char **error_r)
{
	struct rules	*r = calloc(1, sizeof(*r));
	uint64_t	 v;
	bool		 set;
	long		 n;

	if (r == NULL) {
		*error_r = "out of memory";
		return (NULL);
	}
	if (words_parse(h->opt_str(h->host_ctx, "deny_extensions"), &r->deny) < 0 ||
	    words_parse(h->opt_str(h->host_ctx, "allow_extensions"), &r->allow) < 0 ||
	    words_parse(h->opt_str(h->host_ctx, "document_extensions"),
	    &r->docs) < 0) {
		*error_r = "out of memory";
		goto fail;
	}
	if (types_parse(r, h->opt_str(h->host_ctx, "deny_types"), error_r) < 0 ||
	    frules_setup(r, h, ebuf, esize, error_r) < 0 ||
	    rename_setup(r, h->opt_str(h->host_ctx, "rename_pattern"),
	    error_r) < 0)
		goto fail;
	r->double_ext = h->opt_num(h->host_ctx, "deny_double_extensions") != 0;
	r->uuencode = h->opt_num(h->host_ctx, "scan_uuencode") != 0;
	r->archives = h->opt_num(h->host_ctx, "scan_archives") != 0;
	r->tnef = h->opt_num(h->host_ctx, "scan_tnef") != 0;
	r->magic_bytes = (size_t)h->opt_num(h->host_ctx, "magic_bytes");
	r->arc_depth = (size_t)h->opt_num(h->host_ctx, "archive_max_depth");
	r->arc_entries = (size_t)h->opt_num(h->host_ctx, "archive_max_entries");
	n = h->opt_num(h->host_ctx, "archive_max_expansion");
	r->arc_expansion = n > 0 ? (uint64_t)n : 0;
	r->arc_ratio = (uint64_t)h->opt_num(h->host_ctx, "archive_max_ratio");
	n = h->opt_num(h->host_ctx, "max_attachment_size");
	r->max_size = n > 0 ? (uint64_t)n : 0;
	n = h->opt_num(h->host_ctx, "max_total_attachment_size");
	r->max_total = n > 0 ? (uint64_t)n : 0;
	if (policy_option(h, "archive_encrypted", "deny_encrypted_zip",
	    "archive_encrypted: use allow or block", &r->deny_encrypted,
	    error_r) < 0 ||
	    policy_option(h, "archive_malformed", "deny_malformed_zip",
	    "archive_malformed: use allow or block", &r->deny_malformed,
	    error_r) < 0 ||
	    policy_option(h, "partial_message", NULL,
	    "partial_message: use allow or block", &r->deny_partial,
	    error_r) < 0 ||
	    policy_option(h, "external_body", NULL,
	    "external_body: use allow or block", &r->deny_external,
	    error_r) < 0 ||
	    policy_option(h, "encrypted_message", NULL,
	    "encrypted_message: use allow or block", &r->deny_crypted,
	    error_r) < 0)
		goto fail;
	if (old_option(h, "scan_zip", true, &v, &set, error_r) < 0)
		goto fail;
	if (set)
		r->archives = v != 0;
	if (old_option(h, "zip_max_depth", false, &v, &set, error_r) < 0)
		goto fail;
	if (set)
		r->arc_depth = (size_t)v;
	if (old_option(h, "zip_max_entries", false, &v, &set, error_r) < 0)
		goto fail;
	if (set)
		r->arc_entries = (size_t)v;
	if (old_option(h, "zip_max_size", false, &v, &set, error_r) < 0)
		goto fail;
	if (set)
		r->arc_expansion = v;
	r->lim.max_depth = (size_t)h->opt_num(h->host_ctx, "max_depth");
	r->lim.max_parts = (size_t)h->opt_num(h->host_ctx, "max_parts");
	if (r->lim.max_depth < 1 || r->lim.max_depth > HS_MIME_MAX_DEPTH)
		*error_r = "max_depth: use 1 to 32";
	else if (r->lim.max_parts < 1 || r->lim.max_parts > HS_MIME_MAX_PARTS)
		*error_r = "max_parts: use 1 to 5000";
	else if (r->arc_depth < 1 || r->arc_depth > 16)
		*error_r = "archive_max_depth: use 1 to 16";
	else if (r->magic_bytes < 1024 || r->magic_bytes > 16 * 1024 * 1024)
		*error_r = "magic_bytes: use 1K to 16M";
	else
		return (r);
fail:
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
 * Returns true and fills why when it is blocked. A rename rule blocks
 * too; with rename_r (a part's own name, which deliver-cleaned can
 * change) it sets *rename_r, and a name rename_pattern made is passed
 * over by rename rules.
 */
static bool
name_blocked(const struct rules *r, const char *name, size_t len,
    const char *where, bool *rename_r, char *why, size_t size)
{
	char		 low[512], show[NAME_SHOWN + 8], rule[300];
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
	shown(show, sizeof(show), name, len);
	switch (frules_judge(r, &r->fname, base, n, "filename",
	    is_renamed(r, base, n), rule, sizeof(rule))) {
	case 2:
		if (rename_r != NULL) {
			*rename_r = true;
			(void)snprintf(why, size, "attachment name %s to be "
			    "renamed (%s)", show, rule);
		} else
			(void)snprintf(why, size, "blocked attachment name "
			    "%s%s (%s; cannot be renamed there)", show, where,
			    rule);
		return (true);
	case 1:
		(void)snprintf(why, size, "blocked attachment name %s%s (%s)",
		    show, where, rule);
		return (true);
	case 0:
		return (false);	/* allowed by a rule: the lists are not asked */
	default:
		break;
	}
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

/*
 * What libmagic says of the first bytes of a part or an entry: its
 * description, for filetype_rules (only when there are some), and its
 * MIME type, lower case, for deny_types and the archive kinds.
 */
struct sniff {
	const char	*desc;		/* NULL: no filetype_rules */
	const char	*mime;
	char		 dbuf[256];
	char		 mbuf[128];
};

static void
lower_copy(char *out, size_t size, const char *t)
{
	size_t	 i;

	for (i = 0; t[i] != '\0' && i + 1 < size; i++)
		out[i] = (char)tolower((unsigned char)t[i]);
	out[i] = '\0';
}

/*
 * Would libmagic take d[len] for binary data, never text? It holds a NUL
 * byte, which no text encoding libmagic knows (ASCII, ISO-8859, UTF-8,
 * EBCDIC) holds, and it does not start with a mark of those that may
 * (UTF-16 and UTF-32 byte order marks, UTF-8's, UTF-7's "+/v").
 */
static bool
binary_data(const unsigned char *d, size_t len)
{
	if (len >= 2 && ((d[0] == 0xfe && d[1] == 0xff) ||
	    (d[0] == 0xff && d[1] == 0xfe)))
		return (false);
	if (len >= 3 && ((d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf) ||
	    (d[0] == '+' && d[1] == '/' && d[2] == 'v')))
		return (false);
	if (len >= 4 && d[0] == 0 && d[1] == 0 && d[2] == 0xfe && d[3] == 0xff)
		return (false);
	return (memchr(d, 0, len) != NULL);
}

/*
 * magic_buffer() on d[len]; for binary data without libmagic's text
 * checks (MAGIC_NO_CHECK_ENCODING, MAGIC_NO_CHECK_TEXT), which would only
 * find that it is not text, after copying it into two buffers of five
 * times its size (libmagic 5.44's file_encoding()): the answer is the
 * same (checked on 4,006 binary files in both modes), and the plugin's
 * instructions on 36 KB of random bytes a fifth fewer.
 */
static const char *
magic_ask(magic_t m, const unsigned char *d, size_t len)
{
	const char	*t;
	int		 flags;

	if (!binary_data(d, len))
		return (magic_buffer(m, d, len));
	flags = magic_getflags(m);
	if (magic_setflags(m, flags | MAGIC_NO_CHECK_ENCODING |
	    MAGIC_NO_CHECK_TEXT) < 0)
		return (magic_buffer(m, d, len));
	t = magic_buffer(m, d, len);
	(void)magic_setflags(m, flags);
	return (t);
}

/*
 * Ask libmagic about the first max bytes of d (the description from the
 * first magic_bytes of them at most). Each question walks libmagic's
 * whole database (some 0.2 ms on binary data, more on text), so it is
 * asked once where it can: when the description is "data" (libmagic
 * knows nothing of the bytes: no magic entry matched, and they are not
 * text), the MIME type is libmagic's answer for the same, its
 * application/octet-stream, without asking again.
 */
static void
sniff(magic_t m, const struct rules *r, const unsigned char *d, size_t len,
    size_t max, struct sniff *s)
{
	const char	*t;
	size_t		 dmax = max < r->magic_bytes ? max : r->magic_bytes;

	s->desc = NULL;
	if (r->ftype.n > 0 && r->describe != NULL) {
		if (len == 0)
			t = "empty";
		else if ((t = magic_ask(r->describe, d, len < dmax ? len :
		    dmax)) == NULL)
			t = "data";
		(void)snprintf(s->dbuf, sizeof(s->dbuf), "%s", t);
		s->desc = s->dbuf;
	}
	if (len == 0)
		t = "application/x-empty";
	else if (s->desc != NULL && strcmp(s->desc, "data") == 0 &&
	    (len < dmax ? len : dmax) == (len < max ? len : max))
		t = "application/octet-stream";
	else if ((t = magic_ask(m, d, len < max ? len : max)) == NULL)
		t = "application/octet-stream";	/* libmagic failed: unknown */
	lower_copy(s->mbuf, sizeof(s->mbuf), t);
	s->mime = s->mbuf;
}

/* Does mime match pat (a type, or a prefix ending in '*')? */
static bool
mime_match(const char *pat, const char *mime)
{
	size_t	 n = strlen(pat);

	if (n > 0 && pat[n - 1] == '*')
		return (strncmp(pat, mime, n - 1) == 0);
	return (strcmp(pat, mime) == 0);
}

/*
 * Is the content (s: what libmagic says of it, starting with d) denied
 * by filetype_rules or deny_types? Then desc says how: "pe:
 * application/x-dosexec", "application/x-msi". A filetype rename rule
 * denies too; with rename_r (a part of its own, named label or unnamed)
 * it sets *rename_r, unless label is a name rename_pattern made.
 */
static bool
type_denied(const struct rules *r, const struct sniff *s,
    const unsigned char *d, size_t len, const char *label, bool *rename_r,
    char *desc, size_t size)
{
	const char	*mime = s->mime;
	size_t	 i;

	if (s->desc != NULL) {
		switch (frules_judge(r, &r->ftype, s->desc, strlen(s->desc),
		    "filetype", label != NULL && is_renamed(r, label,
		    strlen(label)), desc, size)) {
		case 2:
			if (rename_r != NULL)
				*rename_r = true;
			return (true);
		case 1:
			return (true);
		case 0:
			return (false);	/* allowed by a rule */
		default:
			break;
		}
	}
	for (i = 0; i < r->ntypes; i++)
		if (mime_match(r->types[i].mime, mime)) {
			if (r->types[i].label != NULL)
				(void)snprintf(desc, size, "%s: %s",
				    r->types[i].label, mime);
			else
				(void)snprintf(desc, size, "%s", mime);
			return (true);
		}
	/* a script for an interpreter libmagic does not name */
	if (r->script_hashbang && strncmp(mime, "text/", 5) == 0 && len >= 2 &&
	    d[0] == '#' && d[1] == '!') {
		(void)snprintf(desc, size, "script: %s starting with #!", mime);
		return (true);
	}
	return (false);
}

static bool
has_ext(const char *name, const char *ext)
{
	size_t	 n, e = strlen(ext);

	if (name == NULL)
		return (false);
	n = strlen(name);
	return (n > e && name[n - e - 1] == '.' &&
	    strcasecmp(name + n - e, ext) == 0);
}

enum kind {
	K_NONE,
	K_ARCHIVE,
	K_STREAM,	/* a compressed stream: an archive or one file */
};

/*
 * Is this an archive we open, by its type or one of its names? Content
 * that starts with a zip local header is a zip whatever libmagic calls
 * it: Office, OpenDocument, Java and Android files are zips, and were
 * looked into as such before libmagic.
 */
static enum kind
archive_kind(const char *mime, const unsigned char *d, size_t len,
    const char *name1, const char *name2)
{
	size_t	 i;

	if (len >= 4 && memcmp(d, "PK\003\004", 4) == 0)
		return (K_ARCHIVE);
	for (i = 0; i < sizeof(archive_types) / sizeof(archive_types[0]); i++)
		if (mime_match(archive_types[i].mime, mime))
			return (archive_types[i].stream ? K_STREAM : K_ARCHIVE);
	for (i = 0; i < sizeof(archive_exts) / sizeof(archive_exts[0]); i++)
		if (has_ext(name1, archive_exts[i].ext) ||
		    has_ext(name2, archive_exts[i].ext))
			return (archive_exts[i].stream ? K_STREAM : K_ARCHIVE);
	return (K_NONE);
}

/* --- uuencode ------------------------------------------------------------------ */

/*
 * The line of d[len] at *p (p < len), its length without LF or CRLF in
 * *llen; *p moves past it.
 */
static const unsigned char *
next_line(const unsigned char *d, size_t len, size_t *p, size_t *llen)
{
	const unsigned char *line = d + *p, *eol;

	eol = memchr(line, '\n', len - *p);
	*llen = eol != NULL ? (size_t)(eol - line) : len - *p;
	*p += *llen + 1;
	if (*llen > 0 && line[*llen - 1] == '\r')
		(*llen)--;
	return (line);
}

/*
 * The first bytes of a uuencoded file, from the lines after its begin
 * line (d[len]), into out[size]; stops at a line that is not uuencode
 * ("end", a blank line, one too short). Returns the bytes decoded.
 */
static size_t
uu_decode(const unsigned char *d, size_t len, unsigned char *out, size_t size)
{
	const unsigned char *line, *g;
	size_t		 p = 0, o = 0, llen, n, i;
	unsigned	 c[4];

	while (p < len && o < size) {
		line = next_line(d, len, &p, &llen);
		if (llen == 0 || (n = (size_t)((line[0] - 32) & 63)) == 0 ||
		    llen < 1 + (n + 2) / 3 * 4)
			break;
		for (i = 0; i < n && o < size; i++) {
			g = line + 1 + i / 3 * 4;
			c[0] = (unsigned)(g[0] - 32) & 63;
			c[1] = (unsigned)(g[1] - 32) & 63;
			c[2] = (unsigned)(g[2] - 32) & 63;
			c[3] = (unsigned)(g[3] - 32) & 63;
			out[o++] = (unsigned char)(i % 3 == 0 ? c[0] << 2 | c[1] >> 4 :
			    i % 3 == 1 ? (c[1] & 15) << 4 | c[2] >> 2 :
			    (c[2] & 3) << 6 | c[3]);
		}
	}
	return (o);
}

/*
 * Uuencoded files in a text part ("begin 644 name", "begin-base64 644
 * name" at the start of a line): true with why filled when a name is
 * blocked, or when the first ENTRY_PEEK bytes of a (traditionally)
 * uuencoded file are of a denied type. One pass over the part; at most
 * UU_MAX_NAMES files.
 */
static bool
uu_blocked(const struct att *a, const unsigned char *d, size_t len,
    char *why, size_t size)
{
	const struct rules *r = a->rules;
	const unsigned char *line, *q;
	unsigned char	 head[ENTRY_PEEK];
	char		 desc[200], show[NAME_SHOWN + 8];
	struct sniff	 sn;
	size_t		 p = 0, llen, digits, seen = 0, hlen;
	bool		 b64;

	while (p < len && seen < UU_MAX_NAMES) {
		line = next_line(d, len, &p, &llen);
		if ((b64 = llen > 13 && memcmp(line, "begin-base64 ", 13) == 0))
			q = line + 13;
		else if (llen > 6 && memcmp(line, "begin ", 6) == 0)
			q = line + 6;
		else
			continue;
		for (digits = 0; q < line + llen && *q >= '0' && *q <= '7';
		    q++)
			digits++;
		if (digits < 3 || digits > 4 || q >= line + llen || *q != ' ')
			continue;
		while (q < line + llen && *q == ' ')
			q++;
		if (q == line + llen)
			continue;
		seen++;
		if (name_blocked(r, (const char *)q, (size_t)(line + llen - q),
		    " uuencoded in the text", NULL, why, size))
			return (true);
		if (b64 || p >= len)
			continue;
		hlen = uu_decode(d + p, len - p, head, sizeof(head));
		if (hlen > 0)
			sniff(a->magic, r, head, hlen, sizeof(head), &sn);
		if (hlen > 0 && type_denied(r, &sn, head, hlen, NULL, NULL,
		    desc, sizeof(desc))) {
			shown(show, sizeof(show), (const char *)q,
			    (size_t)(line + llen - q));
			(void)snprintf(why, size, "blocked attachment %s uuencoded "
			    "in the text (detected type %s)", show, desc);
			return (true);
		}
	}
	return (false);
}

/* --- archives ------------------------------------------------------------------ */

enum arc {
	A_CLEAN,
	A_BLOCKED,	/* why is the whole reason */
	A_LIMIT,	/* why says which limit (or encryption): blocked */
	A_MALFORMED,	/* why says what: blocked with archive_malformed */
};

/* One attachment's walk through its archives. */
struct awalk {
	const struct rules *r;
	magic_t		 magic;
	uint64_t	 expanded;	/* bytes decompressed, every level */
	uint64_t	 insize;	/* the attachment's size */
	size_t		 entries;	/* every level */
	bool		 limit;		/* a limit was hit: why says which */
	char		*why;
	size_t		 whysize;
};

/* Count n bytes decompressed; -1 (why filled) beyond a limit. */
static int
charge(struct awalk *w, size_t n)
{
	const struct rules *r = w->r;

	w->expanded += n;
	if (r->arc_expansion > 0 && w->expanded > r->arc_expansion) {
		(void)snprintf(w->why, w->whysize, "zip bomb: expands beyond "
		    "archive_max_expansion, %llu bytes",
		    (unsigned long long)r->arc_expansion);
		w->limit = true;
		return (-1);
	}
	if (r->arc_ratio > 0 && w->expanded > RATIO_FLOOR &&
	    w->expanded / r->arc_ratio > w->insize) {
		(void)snprintf(w->why, w->whysize, "zip bomb: expands beyond "
		    "archive_max_ratio, %llu times its size",
		    (unsigned long long)r->arc_ratio);
		w->limit = true;
		return (-1);
	}
	return (0);
}

/* A nested archive read as a stream from its parent's entry. */
struct src {
	struct awalk	*w;
	struct archive	*outer;
	const unsigned char *pre;	/* what was read for libmagic */
	size_t		 prelen;
	bool		 predone;
	unsigned char	*buf;		/* CHUNK bytes */
};

static la_ssize_t
src_read(struct archive *a, void *cd, const void **out)
{
	struct src	*s = cd;
	la_ssize_t	 n;

	if (!s->predone) {
		s->predone = true;
		if (s->prelen > 0) {
			*out = s->pre;
			return ((la_ssize_t)s->prelen);
		}
	}
	if ((n = archive_read_data(s->outer, s->buf, CHUNK)) < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(s->outer) ?
		    archive_error_string(s->outer) : "read error");
		return (-1);
	}
	if (n > 0 && charge(s->w, (size_t)n) < 0) {
		archive_set_error(a, EFBIG, "expansion limit");
		return (-1);
	}
	*out = s->buf;
	return (n);
}

/*
 * A reader for what we open: formats and filters built into libarchive
 * (none that would run an external program), raw for a lone compressed
 * file. NULL when out of memory.
 */
static struct archive *
arc_new(enum kind kind)
{
	struct archive	*a;

	if ((a = archive_read_new()) == NULL)
		return (NULL);
	(void)archive_read_support_filter_gzip(a);
	(void)archive_read_support_filter_bzip2(a);
	(void)archive_read_support_filter_xz(a);
	(void)archive_read_support_filter_lzma(a);
	(void)archive_read_support_filter_zstd(a);
	(void)archive_read_support_filter_compress(a);
	(void)archive_read_support_format_zip(a);
	(void)archive_read_support_format_tar(a);
	(void)archive_read_support_format_7zip(a);
	(void)archive_read_support_format_rar(a);
	(void)archive_read_support_format_rar5(a);
	(void)archive_read_support_format_cab(a);
	if (kind == K_STREAM)
		(void)archive_read_support_format_raw(a);
	return (a);
}

static enum arc arc_walk(struct awalk *w, struct archive *a, size_t depth,
		    const char *where);

/* Open the archive in the current entry of outer (head: its first bytes). */
static enum arc
arc_nested(struct awalk *w, struct archive *outer, enum kind kind,
    const unsigned char *head, size_t hlen, unsigned char *chunk,
    size_t depth, const char *show, const char *where)
{
	struct src	 s = { w, outer, head, hlen, false, chunk };
	struct archive	*in;
	char		 inner[NAME_SHOWN + 200];
	enum arc	 rc;

	if (depth >= w->r->arc_depth) {
		(void)snprintf(w->why, w->whysize, "archive too deep: %s%s is "
		    "nested deeper than archive_max_depth %zu", show, where,
		    w->r->arc_depth);
		return (A_LIMIT);
	}
	(void)snprintf(inner, sizeof(inner), " inside %s%s", show, where);
	if ((in = arc_new(kind)) == NULL) {
		(void)snprintf(w->why, w->whysize, "out of memory");
		return (A_LIMIT);
	}
	if (archive_read_open(in, &s, NULL, src_read, NULL) != ARCHIVE_OK) {
		if (!w->limit)
			(void)snprintf(w->why, w->whysize, "%s%s: %s", show,
			    where, archive_error_string(in) ?
			    archive_error_string(in) : "cannot be read");
		rc = w->limit ? A_LIMIT : A_MALFORMED;
	} else
		rc = arc_walk(w, in, depth + 1, inner);
	(void)archive_read_free(in);
	return (rc);
}

/* One entry's content: its type, a nested archive, and its size. */
static enum arc
arc_entry(struct awalk *w, struct archive *a, bool raw, const char *name,
    size_t depth, const char *show, const char *where, unsigned char *head,
    unsigned char *chunk)
{
	char		 desc[200];
	struct sniff	 sn;
	const char	*mime;
	size_t		 hlen = 0;
	la_ssize_t	 n;
	enum kind	 kind;
	enum arc	 rc;

	while (hlen < ENTRY_PEEK) {
		if ((n = archive_read_data(a, head + hlen, ENTRY_PEEK - hlen)) < 0)
			goto bad;
		if (n == 0)
			break;
		if (charge(w, (size_t)n) < 0)
			return (A_LIMIT);
		hlen += (size_t)n;
	}
	sniff(w->magic, w->r, head, hlen, ENTRY_PEEK, &sn);
	mime = sn.mime;
	if (type_denied(w->r, &sn, head, hlen, NULL, NULL, desc,
	    sizeof(desc))) {
		(void)snprintf(w->why, w->whysize, "blocked attachment %s%s "
		    "(detected type %s)", show, where, desc);
		return (A_BLOCKED);
	}
	kind = archive_kind(mime, head, hlen, raw ? NULL : name, NULL);
	if (kind != K_NONE && hlen > 0 && (rc = arc_nested(w, a, kind, head,
	    hlen, chunk, depth, show, where)) != A_CLEAN)
		return (rc);
	/* the rest, counted: a bomb is found by what it expands to */
	while ((n = archive_read_data(a, chunk, CHUNK)) > 0)
		if (charge(w, (size_t)n) < 0)
			return (A_LIMIT);
	if (n == 0)
		return (A_CLEAN);
bad:
	if (w->limit)
		return (A_LIMIT);
	if (archive_read_has_encrypted_entries(a) > 0) {
		/* found encrypted only when its data were read */
		if (!w->r->deny_encrypted)
			return (A_CLEAN);
		(void)snprintf(w->why, w->whysize, "encrypted archive: entry "
		    "%s%s", show, where);
		return (A_LIMIT);
	}
	(void)snprintf(w->why, w->whysize, "entry %s%s: %s", show, where,
	    archive_error_string(a) ? archive_error_string(a) : "read error");
	return (A_MALFORMED);
}

static enum arc
arc_walk(struct awalk *w, struct archive *a, size_t depth, const char *where)
{
	const struct rules *r = w->r;
	struct archive_entry *e;
	unsigned char	*mem;
	const char	*name;
	char		 show[NAME_SHOWN + 8];
	bool		 raw;
	int		 hrc;
	enum arc	 rc = A_CLEAN;

	if ((mem = malloc(ENTRY_PEEK + CHUNK)) == NULL) {
		(void)snprintf(w->why, w->whysize, "out of memory");
		return (A_LIMIT);
	}
	for (;;) {
		if ((hrc = archive_read_next_header(a, &e)) == ARCHIVE_EOF)
			break;
		if (hrc < ARCHIVE_WARN) {
			if (w->limit)
				rc = A_LIMIT;
			else if (archive_read_has_encrypted_entries(a) > 0) {
				if (r->deny_encrypted) {
					(void)snprintf(w->why, w->whysize,
					    "encrypted archive%s", where);
					rc = A_LIMIT;
				}
				/* else nothing more can be seen: allowed */
			} else {
				(void)snprintf(w->why, w->whysize, "archive%s: %s",
				    where, archive_error_string(a) ?
				    archive_error_string(a) : "cannot be read");
				rc = A_MALFORMED;
			}
			break;
		}
		if (++w->entries > r->arc_entries) {
			(void)snprintf(w->why, w->whysize, "more than "
			    "archive_max_entries %zu entries", r->arc_entries);
			rc = A_LIMIT;
			break;
		}
		raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
		if ((name = archive_entry_pathname(e)) == NULL &&
		    (name = archive_entry_pathname_utf8(e)) == NULL)
			name = "";
		if (raw)
			(void)snprintf(show, sizeof(show), "(compressed data)");
		else
			shown(show, sizeof(show), name, strlen(name));
		if (!raw && name_blocked(r, name, strlen(name), where, NULL,
		    w->why, w->whysize)) {
			rc = A_BLOCKED;
			break;
		}
		if (archive_entry_is_encrypted(e)) {
			if (r->deny_encrypted) {
				(void)snprintf(w->why, w->whysize, "encrypted "
				    "archive: entry %s%s", show, where);
				rc = A_LIMIT;
				break;
			}
			continue;	/* cannot be looked into: allowed */
		}
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		if ((rc = arc_entry(w, a, raw, name, depth, show, where, mem,
		    mem + ENTRY_PEEK)) != A_CLEAN)
			break;
	}
	free(mem);
	return (rc);
}

/* --- TNEF (winmail.dat) --------------------------------------------------------- */

static uint32_t
le32(const unsigned char *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

/* A TNEF stream, by its type, one of its names or its signature? */
static bool
is_tnef(const char *ctype, const char *name1, const char *name2,
    const unsigned char *d, size_t len)
{
	const char	*names[2] = { name1, name2 }, *base;
	size_t		 i;

	if (strcmp(ctype, "application/ms-tnef") == 0 ||
	    strcmp(ctype, "application/vnd.ms-tnef") == 0 ||
	    (len >= 4 && le32(d) == TNEF_SIGNATURE))
		return (true);
	for (i = 0; i < 2; i++) {
		if (names[i] == NULL)
			continue;
		base = strrchr(names[i], '/') != NULL ?
		    strrchr(names[i], '/') + 1 : names[i];
		if (strrchr(base, '\\') != NULL)
			base = strrchr(base, '\\') + 1;
		if (strcasecmp(base, "winmail.dat") == 0)
			return (true);
	}
	return (false);
}

#define TNEF_RENDDATA	0x00069002u	/* attAttachRenddata: starts an attachment */
#define TNEF_SCOPE_MAX	64		/* attributes of the message, of one attachment */

/* Is id new in seen[*n] (then added)? false when repeated or too many. */
static bool
tnef_once(uint32_t *seen, size_t *n, uint32_t id)
{
	size_t	 i;

	for (i = 0; i < *n; i++)
		if (seen[i] == id)
			return (false);
	if (*n == TNEF_SCOPE_MAX)
		return (false);
	seen[(*n)++] = id;
	return (true);
}

/*
 * Check a TNEF stream's framing before libytnef parses it (MS-OXTNEF
 * 2.1.3): the signature, the key, then attributes of a level (1 or 2),
 * an id, a length within what is left, the data and a checksum (the sum
 * of the data's bytes, 16 bits). An attachment's attributes follow its
 * attAttachRenddata, and no attribute appears twice in the message's or
 * in one attachment's (libytnef would drop, and leak, the first: found
 * by fuzz_attachments). 0, or -1 with why filled. libytnef prints what
 * it dislikes on the standard output; this keeps most of that from
 * happening too.
 */
static int
tnef_framing(const unsigned char *d, size_t len, char *why, size_t size)
{
	uint32_t	 msg[TNEF_SCOPE_MAX], att[TNEF_SCOPE_MAX], id;
	size_t		 p = 6, i, n, nmsg = 0, natt = 0;
	unsigned	 sum;
	bool		 in_att = false, fresh;

	if (len < 6 || le32(d) != TNEF_SIGNATURE) {
		(void)snprintf(why, size, "no TNEF signature");
		return (-1);
	}
	while (p < len) {
		if (len - p < 9) {
			(void)snprintf(why, size, "truncated attribute at byte "
			    "%zu", p);
			return (-1);
		}
		if (d[p] != 1 && d[p] != 2) {
			(void)snprintf(why, size, "bad attribute level %u at "
			    "byte %zu", d[p], p);
			return (-1);
		}
		id = le32(d + p + 1);
		n = le32(d + p + 5);
		if (n > len - p - 9 || len - p - 9 - n < 2) {
			(void)snprintf(why, size, "attribute at byte %zu longer "
			    "than the stream", p);
			return (-1);
		}
		for (sum = 0, i = 0; i < n; i++)
			sum += d[p + 9 + i];
		if ((sum & 0xffff) != ((unsigned)d[p + 9 + n] |
		    (unsigned)d[p + 10 + n] << 8)) {
			(void)snprintf(why, size, "bad checksum of the attribute "
			    "at byte %zu", p);
			return (-1);
		}
		if (d[p] == 2 && id == TNEF_RENDDATA) {
			in_att = true;
			natt = 0;
		}
		if (d[p] == 2 && !in_att) {
			(void)snprintf(why, size, "attachment attribute at byte "
			    "%zu before any attAttachRenddata", p);
			return (-1);
		}
		fresh = d[p] == 1 ? tnef_once(msg, &nmsg, id) :
		    tnef_once(att, &natt, id);
		if (!fresh) {
			(void)snprintf(why, size, "attribute 0x%08x at byte %zu "
			    "repeated (or more than %d)", (unsigned)id, p,
			    TNEF_SCOPE_MAX);
			return (-1);
		}
		p += 9 + n + 2;
	}
	return (0);
}

/*
 * An attachment's name in TNEF: its long file name (MAPI), or its title
 * (8.3); UTF-16 names are taken a byte per character, as the name rules
 * look at ASCII extensions. Into out[size]; false when it has none.
 */
static bool
tnef_name(Attachment *t, char *out, size_t size)
{
	static const ULONG tags[] = {
		PROP_TAG(PT_UNICODE, PR_ATTACH_LONG_FILENAME),
		PROP_TAG(PT_STRING8, PR_ATTACH_LONG_FILENAME),
	};
	variableLength	*v = NULL;
	const unsigned char *s;
	size_t		 i, o = 0, n;

	for (i = 0; i < 2; i++)
		if ((v = MAPIFindProperty(&t->MAPI, tags[i])) != MAPI_UNDEFINED &&
		    v != NULL && v->data != NULL && v->size > 0)
			break;
	if (i == 2)
		v = t->Title.data != NULL && t->Title.size > 0 ? &t->Title : NULL;
	if (v == NULL)
		return (false);
	s = v->data;
	n = (size_t)v->size;
	if (n >= 2 && s[0] != '\0' && s[1] == '\0') {
		/* UTF-16LE: a character outside ASCII is a '?' */
		for (i = 0; i + 1 < n && o + 1 < size; i += 2) {
			if (s[i] == '\0' && s[i + 1] == '\0')
				break;
			out[o++] = s[i + 1] != '\0' || s[i] > 127 ? '?' :
			    (char)s[i];
		}
	} else
		for (i = 0; i < n && o + 1 < size && s[i] != '\0'; i++)
			out[o++] = (char)s[i];
	out[o] = '\0';
	return (o > 0);
}

/*
 * The files in a TNEF stream (a winmail.dat), parsed by libytnef from a
 * copy of it: each one's name and type (libmagic on its data) against
 * the rules. Clean, blocked, or malformed (why filled).
 */
static enum arc
tnef_walk(const struct att *a, const unsigned char *d, size_t len,
    const char *show, char *why, size_t size)
{
	const struct rules *r = a->rules;
	TNEFStruct	 t;
	Attachment	*at;
	BYTE		*copy;
	struct sniff	 sn;
	char		 name[256], where[NAME_SHOWN + 16], desc[200],
			 inner[NAME_SHOWN + 8];
	size_t		 n = 0;
	enum arc	 rc = A_CLEAN;

	if (tnef_framing(d, len, why, size) < 0)
		return (A_MALFORMED);
	if (len > LONG_MAX || (copy = malloc(len)) == NULL) {
		(void)snprintf(why, size, "out of memory");
		return (A_LIMIT);
	}
	memcpy(copy, d, len);
	TNEFInitialize(&t);
	t.Debug = 0;
	if (TNEFParseMemory(copy, (long)len, &t) < 0) {
		(void)snprintf(why, size, "libytnef cannot read it");
		TNEFFree(&t);
		free(copy);
		return (A_MALFORMED);
	}
	(void)snprintf(where, sizeof(where), " inside %s", show);
	for (at = t.starting_attach.next; at != NULL; at = at->next) {
		if (++n > r->arc_entries) {
			(void)snprintf(why, size, "more than archive_max_entries "
			    "%zu files", r->arc_entries);
			rc = A_LIMIT;
			break;
		}
		if (tnef_name(at, name, sizeof(name))) {
			if (name_blocked(r, name, strlen(name), where, NULL,
			    why, size)) {
				rc = A_BLOCKED;
				break;
			}
			shown(inner, sizeof(inner), name, strlen(name));
		} else
			(void)snprintf(inner, sizeof(inner), "(unnamed file)");
		if (at->FileData.data == NULL || at->FileData.size <= 0)
			continue;
		sniff(a->magic, r, at->FileData.data,
		    (size_t)at->FileData.size, ENTRY_PEEK, &sn);
		if (type_denied(r, &sn, at->FileData.data,
		    (size_t)at->FileData.size, NULL, NULL, desc,
		    sizeof(desc))) {
			(void)snprintf(why, size, "blocked attachment %s%s "
			    "(detected type %s)", inner, where, desc);
			rc = A_BLOCKED;
			break;
		}
	}
	TNEFFree(&t);
	free(copy);
	return (rc);
}

/* --- what cannot be scanned ------------------------------------------------------ */

/*
 * The OIDs of a CMS ContentInfo (RFC 5652) that say its content is
 * encrypted: enveloped-data, encrypted-data, authEnvelopedData.
 */
static const struct {
	const unsigned char *der;	/* the OID's content octets */
	size_t		 len;
	bool		 encrypted;
} cms_types[] = {
	{ (const unsigned char *)"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03", 9, true },
	{ (const unsigned char *)"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x06", 9, true },
	{ (const unsigned char *)"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x17",
	    11, true },
	/* signed-data, compressed-data: not encrypted */
	{ (const unsigned char *)"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02", 9, false },
	{ (const unsigned char *)"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x10\x01\x09",
	    11, false },
};

/*
 * Is the application/pkcs7-mime content d[len] encrypted? Its
 * ContentInfo's type says (SEQUENCE, a length in any DER or BER form,
 * then the OID); content we cannot read as one counts as encrypted, since
 * it cannot be looked into either (the smime-type parameter is not ours
 * to see, and a sender may set it to anything).
 */
static bool
smime_encrypted(const unsigned char *d, size_t len)
{
	size_t	 p = 2, n, i;

	if (len < 4 || d[0] != 0x30)
		return (true);
	if (d[1] > 0x80) {
		n = d[1] & 0x7f;
		if (n > 4)
			return (true);
		p += n;
	}
	if (len < p + 2 || d[p] != 0x06)
		return (true);
	n = d[p + 1];
	p += 2;
	if (len < p + n)
		return (true);
	for (i = 0; i < sizeof(cms_types) / sizeof(cms_types[0]); i++)
		if (cms_types[i].len == n && memcmp(cms_types[i].der, d + p,
		    n) == 0)
			return (cms_types[i].encrypted);
	return (true);
}

/* Does a line of d[len] start with "-----BEGIN PGP MESSAGE-----"? */
static bool
pgp_armored(const unsigned char *d, size_t len)
{
	static const char tag[] = "-----BEGIN PGP MESSAGE-----";
	const unsigned char *q = d, *end = d + len;

	while ((size_t)(end - q) >= sizeof(tag) - 1) {
		if (memcmp(q, tag, sizeof(tag) - 1) == 0)
			return (true);
		if ((q = memchr(q, '\n', (size_t)(end - q))) == NULL)
			return (false);
		q++;
	}
	return (false);
}

/*
 * A part whose content cannot be scanned: a piece of a message
 * (message/partial: the reader's program puts the pieces together, so
 * what they hold is never seen whole here), a reference to content kept
 * elsewhere (message/external-body), or encrypted content (an S/MIME
 * enveloped-data part, the application/pgp-encrypted part of PGP/MIME's
 * multipart/encrypted, or a PGP message armored in a text or
 * octet-stream part). true with why filled when its policy blocks it.
 */
static bool
unscannable(const struct rules *r, const char *ctype,
    const unsigned char *d, size_t len, char *why, size_t size)
{
	const char	*what = NULL;

	if (strcmp(ctype, "message/partial") == 0) {
		if (r->deny_partial)
			(void)snprintf(why, size, "message/partial: a message "
			    "sent in pieces cannot be scanned (partial_message "
			    "= block)");
		return (r->deny_partial);
	}
	if (strcmp(ctype, "message/external-body") == 0) {
		if (r->deny_external)
			(void)snprintf(why, size, "message/external-body: "
			    "content kept elsewhere cannot be scanned "
			    "(external_body = block)");
		return (r->deny_external);
	}
	if (!r->deny_crypted)
		return (false);
	if (strcmp(ctype, "application/pkcs7-mime") == 0 ||
	    strcmp(ctype, "application/x-pkcs7-mime") == 0) {
		if (smime_encrypted(d, len))
			what = "S/MIME enveloped-data";
	} else if (strcmp(ctype, "application/pgp-encrypted") == 0)
		what = "PGP/MIME multipart/encrypted";
	else if ((strncmp(ctype, "text/", 5) == 0 ||
	    strcmp(ctype, "application/octet-stream") == 0) &&
	    pgp_armored(d, len))
		what = "inline PGP";
	if (what == NULL)
		return (false);
	(void)snprintf(why, size, "encrypted message (%s) cannot be scanned "
	    "(encrypted_message = block)", what);
	return (true);
}

/* --- one part ------------------------------------------------------------------ */

/* Is a part an attachment: has it a name, or is it not text? */
static bool
is_attachment(const char *name1, const char *name2, const char *ctype)
{
	return (name1 != NULL || name2 != NULL ||
	    strncmp(ctype, "text/", 5) != 0);
}

/* How a part is named in a reason: its name, or "(unnamed TYPE part)". */
static void
part_shown(char *dst, size_t size, const char *name1, const char *name2,
    const char *ctype)
{
	const char	*label = name1 != NULL ? name1 : name2;
	char		 tmp[NAME_SHOWN];

	if (label != NULL) {
		shown(dst, size, label, strlen(label));
		return;
	}
	(void)snprintf(tmp, sizeof(tmp), "(unnamed %.60s part)", ctype);
	shown(dst, size, tmp, strlen(tmp));
}

/*
 * Judge one part by its names (up to two), its content type and content.
 * Fills res; returns its verdict. *rename_r says whether a blocked
 * verdict is a rename rule's (the first reason found is the one given).
 */
static enum hs_verdict
judge(const struct att *a, const char *name1, const char *name2,
    const char *ctype, const unsigned char *data, size_t len,
    struct hs_result *res, bool *rename_r)
{
	const struct rules *r = a->rules;
	const char	*names[2] = { name1, name2 }, *label, *mime;
	struct sniff	 sn;
	char		 show[NAME_SHOWN + 8], desc[200], where[NAME_SHOWN + 16],
			 detail[sizeof(res->reason)];
	struct awalk	 w;
	struct archive	*ar;
	enum kind	 kind;
	size_t		 i;
	bool		 text = strncmp(ctype, "text/", 5) == 0, tnef = false;
	enum arc	 rc;

	*rename_r = false;
	res->verdict = HS_CLEAN;
	res->reason[0] = '\0';
	if (unscannable(r, ctype, data, len, res->reason, sizeof(res->reason)))
		return (res->verdict = HS_BLOCKED);
	for (i = 0; i < 2; i++)
		if (names[i] != NULL && name_blocked(r, names[i],
		    strlen(names[i]), "", rename_r, res->reason,
		    sizeof(res->reason)))
			return (res->verdict = HS_BLOCKED);
	if (text && r->uuencode && uu_blocked(a, data, len, res->reason,
	    sizeof(res->reason)))
		return (res->verdict = HS_BLOCKED);
	label = name1 != NULL ? name1 : name2;
	if (label == NULL && text)
		return (HS_CLEAN);	/* the text itself may start with anything */
	part_shown(show, sizeof(show), name1, name2, ctype);
	if (r->max_size > 0 && len > r->max_size) {
		(void)snprintf(res->reason, sizeof(res->reason), "blocked "
		    "attachment %s (%zu bytes, more than max_attachment_size "
		    "%llu)", show, len, (unsigned long long)r->max_size);
		return (res->verdict = HS_BLOCKED);
	}
	sniff(a->magic, r, data, len, r->magic_bytes, &sn);
	mime = sn.mime;
	if (type_denied(r, &sn, data, len, label, rename_r, desc,
	    sizeof(desc))) {
		(void)snprintf(res->reason, sizeof(res->reason), *rename_r ?
		    "attachment %s to be renamed (detected type %s)" :
		    "blocked attachment %s (detected type %s)", show, desc);
		return (res->verdict = HS_BLOCKED);
	}
	if (r->tnef && is_tnef(ctype, name1, name2, data, len)) {
		tnef = true;
		detail[0] = '\0';
		rc = tnef_walk(a, data, len, show, detail, sizeof(detail));
		goto verdict;
	}
	if (!r->archives ||
	    (kind = archive_kind(mime, data, len, name1, name2)) == K_NONE)
		return (HS_CLEAN);
	memset(&w, 0, sizeof(w));
	w.r = r;
	w.magic = a->magic;
	w.insize = len;
	w.why = detail;
	w.whysize = sizeof(detail);
	detail[0] = '\0';
	(void)snprintf(where, sizeof(where), " inside %s", show);
	if ((ar = arc_new(kind)) == NULL) {
		(void)snprintf(res->reason, sizeof(res->reason), "out of memory");
		return (res->verdict = HS_FAILED);
	}
	if (archive_read_open_memory(ar, data, len) != ARCHIVE_OK) {
		(void)snprintf(detail, sizeof(detail), "%s",
		    archive_error_string(ar) ? archive_error_string(ar) :
		    "cannot be read");
		rc = A_MALFORMED;
	} else
		rc = arc_walk(&w, ar, 1, where);
	(void)archive_read_free(ar);
verdict:
	switch (rc) {
	case A_BLOCKED:
		(void)snprintf(res->reason, sizeof(res->reason), "%s", detail);
		return (res->verdict = HS_BLOCKED);
	case A_LIMIT:
		(void)snprintf(res->reason, sizeof(res->reason),
		    "blocked attachment %s (%s)", show, detail);
		return (res->verdict = HS_BLOCKED);
	case A_MALFORMED:
		if (!r->deny_malformed)
			break;
		(void)snprintf(res->reason, sizeof(res->reason),
		    "blocked attachment %s (malformed %s: %s)", show,
		    tnef ? "TNEF" : "archive", detail);
		return (res->verdict = HS_BLOCKED);
	case A_CLEAN:
		break;
	}
	res->reason[0] = '\0';
	return (res->verdict = HS_CLEAN);
}

/* --- the plugin ------------------------------------------------------------------ */

struct walkstate {
	const struct att *a;
	struct hs_result *res;
	bool		 failed;
	char		 failwhy[256];
	uint64_t	 total;		/* attachments' bytes so far */
};

static int
walk_part(void *arg, const struct hs_mime_part *p)
{
	struct walkstate *ws = arg;
	struct hs_result one;
	bool		 rename;

	memset(&one, 0, sizeof(one));
	switch (judge(ws->a, p->filename, p->name, p->content_type, p->data,
	    p->len, &one, &rename)) {
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
		break;
	}
	if (!is_attachment(p->filename, p->name, p->content_type))
		return (0);
	ws->total += p->len;
	if (ws->a->rules->max_total > 0 && ws->total > ws->a->rules->max_total) {
		char	 show[NAME_SHOWN + 8];

		part_shown(show, sizeof(show), p->filename, p->name,
		    p->content_type);
		ws->res->verdict = HS_BLOCKED;
		(void)snprintf(ws->res->reason, sizeof(ws->res->reason),
		    "attachments of more than max_total_attachment_size %llu "
		    "bytes: %llu with %s", (unsigned long long)
		    ws->a->rules->max_total, (unsigned long long)ws->total,
		    show);
		return (1);
	}
	return (0);
}

static int
att_scan(void *ctx, const struct hs_msg *msg, struct hs_result *res)
{
	struct att	*a = ctx;
	struct walkstate ws;
	char		 why[200];

	memset(&ws, 0, sizeof(ws));
	ws.a = a;
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
	bool		 rename;

	(void)msg;
	(void)judge(a, part->filename, NULL, part->content_type ?
	    part->content_type : "application/octet-stream", part->data,
	    part->len, res, &rename);
	return (0);
}

/*
 * rewrite_part, HS_REWRITE_RENAME (a host that has it): a part a rename
 * rule blocks gets its new name; anything else stays (0).
 */
static int
att_rewrite_part(void *ctx, const struct hs_msg *msg,
    const struct hs_rewrite_in *in, struct hs_rewrite_out *out)
{
	struct att	*a = ctx;
	struct hs_result res;
	bool		 rename;

	(void)msg;
	if (!HS_HOST_HAS(a->host, rewrite_flags) || in->how !=
	    HS_REWRITE_RENAME)
		return (0);
	memset(&res, 0, sizeof(res));
	if (judge(a, in->filename, NULL, in->content_type != NULL ?
	    in->content_type : "application/octet-stream", in->data, in->len,
	    &res, &rename) != HS_BLOCKED || !rename)
		return (0);
	rename_name(a->rules, in->filename, out->filename,
	    sizeof(out->filename));
	return (1);
}

static void
att_free(struct att *a)
{
	if (a == NULL)
		return;
	rules_free(a->rules);
	if (a->magic != NULL)
		magic_close(a->magic);
	free(a);
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
	if ((a->rules = rules_new(host, a->error, sizeof(a->error),
	    error_r)) == NULL) {
		if (*error_r == a->error) {
			/* The host copies *error_r only after we return. */
			host->log(host->host_ctx, 1, "%s", a->error);
			*error_r = "cannot load a rule file (the warning above "
			    "says why)";
		}
		att_free(a);
		return (-1);
	}
	/*
	 * Loaded here, in the scanner parent: a worker, under its seccomp
	 * filter, only calls magic_buffer() on what it holds in memory.
	 */
	if ((a->magic = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS)) ==
	    NULL || magic_load(a->magic, NULL) != 0) {
		*error_r = "cannot load libmagic's database (magic_open, "
		    "magic_load): is libmagic-mgc installed?";
		att_free(a);
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

	if ((r = rules_new(a->host, a->error, sizeof(a->error), error_r)) ==
	    NULL)
		return (-1);
	rules_free(a->rules);
	a->rules = r;
	return (0);
}

static void
att_info(void *ctx, char *buf, size_t size)
{
	struct att	*a = ctx;

	(void)snprintf(buf, size, "%zu denied extensions, %zu denied types, "
	    "archives %s, libmagic %d, %s", a->rules->deny.n, a->rules->ntypes,
	    a->rules->archives ? "on" : "off", magic_version(),
	    archive_version_string());
}

static void
att_fini(void *ctx)
{
	att_free(ctx);
}

const struct hs_plugin hs_plugin = {
	HS_PLUGIN_HEADER,
	.name = "attachments",
	.version = "2",
	.options = att_options,
	.init = att_init,
	.reload = att_reload,
	.scan = att_scan,
	.scan_part = att_scan_part,
	.info = att_info,
	.fini = att_fini,
	.rewrite_part = att_rewrite_part,
};
