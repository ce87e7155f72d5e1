/*
 * NAME
 *	rewrite - subject tag, verdict headers and part replacement
 * DESCRIPTION
 *	The changes a policy action makes to a message, at the level of
 *	content records so that untouched lines keep their records:
 *
 *	tag		the first line of the Subject field gets the tag in
 *			front of its value (folded subjects keep their
 *			continuation lines; an already tagged subject is left
 *			alone);
 *	headers		header lines from plugins are checked line by line
 *			(the verdict header's template is template.c's);
 *	deliver-cleaned	the MIME tree is walked with GMime (mime.c); each
 *			leaf part goes to the part scanners, and each part
 *			they condemn is replaced, from just after the boundary
 *			line before it to the end of its content, by a short
 *			text/plain part saying what was removed and why. The
 *			byte ranges come from GMime's own offsets, checked
 *			against the text; the new records are spliced between
 *			the original ones, line for line. A part that is only
 *			blocked (not infected or unscannable) and that a
 *			plugin's rewrite_part would rename (HS_REWRITE_RENAME:
 *			a rename rule) is renamed instead, when the part
 *			scanners pass it under its new name: its
 *			Content-Type name= and Content-Disposition filename=
 *			parameters (RFC 2231 forms too: name*, name*0*, ...)
 *			are replaced by one quoted new name, printable ASCII,
 *			its other fields and its content keep their bytes.
 *
 *	This module must never write a partial clean (every part to remove
 *	is located before anything is built), never copy untrusted text
 *	into a header or note without neutralising line ends and control
 *	characters, and never let a removed part's name break the MIME
 *	structure around the note. The line end before the next boundary
 *	belongs to that boundary and is kept, CR included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/verdict.h"
#include "common/xalloc.h"
#include "scanner/rewrite.h"

#define NOTE_NAME_MAX	200	/* bytes of a removed part's name in the note */

void
rewrite_recs_free(struct rewrite_recs *rr)
{
	size_t	 i;

	for (i = 0; i < rr->nstore; i++)
		free(rr->store[i]);
	free(rr->store);
	free(rr->recs);
	memset(rr, 0, sizeof(*rr));
}

/* Keep s (owned from now on) with the records. */
static void
store_add(struct rewrite_recs *rr, char *s)
{
	rr->store = xreallocarray(rr->store, rr->nstore + 1, sizeof(*rr->store));
	rr->store[rr->nstore++] = s;
}

static void
recs_push(struct rewrite_recs *rr, size_t *cap, const struct qfile_rec *r,
    size_t k)
{
	if (k == 0)
		return;
	if (rr->n + k > *cap) {
		*cap = (rr->n + k) * 2 + 16;
		rr->recs = xreallocarray(rr->recs, *cap, sizeof(*rr->recs));
	}
	memcpy(rr->recs + rr->n, r, k * sizeof(*r));
	rr->n += k;
}

/* Records of text (owned from now on), split as Postfix splits lines. */
static void
recs_push_text(struct rewrite_recs *rr, size_t *cap, char *text,
    size_t line_limit)
{
	struct qfile_rec *nr = NULL;
	size_t		 k;

	store_add(rr, text);
	k = qfile_text_records(text, strlen(text), line_limit, &nr);
	recs_push(rr, cap, nr, k);
	free(nr);
}

/* Index after the logical line that starts at record i. */
static size_t
line_next(const struct qfile_rec *recs, size_t n, size_t i)
{
	while (i < n && recs[i].type != QREC_NORM)
		i++;
	return (i < n ? i + 1 : n);
}

/* --- tag ----------------------------------------------------------------- */

/* Length of "Subject<blanks>:" at the start of a record, or 0. */
static size_t
subject_name_len(const struct qfile_rec *r)
{
	size_t	 i = 7;

	if (r->len < 8 || strncasecmp(r->data, "subject", 7) != 0)
		return (0);
	while (i < r->len && (r->data[i] == ' ' || r->data[i] == '\t'))
		i++;
	return (i < r->len && r->data[i] == ':' ? i + 1 : 0);
}

bool
rewrite_tag_subject(const struct qfile_rec *recs, size_t n, const char *tag,
    size_t line_limit, struct rewrite_recs *out)
{
	struct buf	 line = BUF_INIT, value = BUF_INIT, nl = BUF_INIT;
	size_t		 hend = qfile_header_end(recs, n), i, j, k, cap = 0;
	size_t		 name, ws, tlen = strlen(tag);

	memset(out, 0, sizeof(*out));
	for (i = 0; i < hend; i = line_next(recs, hend, i))
		if ((name = subject_name_len(&recs[i])) > 0)
			break;
	if (i >= hend) {
		recs_push(out, &cap, recs, n);
		return (false);
	}
	j = line_next(recs, n, i);	/* after the first line */
	for (k = i; k < j; k++)
		buf_append(&line, recs[k].data, recs[k].len);
	/* The unfolded value: first line, then continuation lines. */
	buf_append(&value, line.data + name, line.len - name);
	for (k = j; k < hend && recs[k].len > 0 &&
	    (recs[k].data[0] == ' ' || recs[k].data[0] == '\t');
	    k = line_next(recs, hend, k)) {
		size_t	 e = line_next(recs, hend, k), m;

		for (m = k; m < e; m++)
			buf_append(&value, recs[m].data, recs[m].len);
	}
	if (tlen == 0 || (value.len >= tlen &&
	    memmem(value.data, value.len, tag, tlen) != NULL)) {
		recs_push(out, &cap, recs, n);
	} else {
		for (ws = name; ws < line.len && (line.data[ws] == ' ' ||
		    line.data[ws] == '\t'); ws++)
			;
		buf_append(&nl, line.data, ws);
		if (ws == name)
			buf_putc(&nl, ' ');
		buf_append(&nl, tag, tlen);
		if (ws < line.len) {
			buf_putc(&nl, ' ');
			buf_append(&nl, line.data + ws, line.len - ws);
		}
		recs_push(out, &cap, recs, i);
		recs_push_text(out, &cap, buf_steal(&nl, NULL), line_limit);
		recs_push(out, &cap, recs + j, n - j);
	}
	buf_free(&line);
	buf_free(&value);
	buf_free(&nl);
	return (true);
}

/* --- header lines --------------------------------------------------------- */

/* Append s, neutralised for a header line. */
static void
put_safe(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		buf_putc(b, c < 32 || c == 127 ? ' ' : c > 127 ? '?' : c);
	}
}

size_t
rewrite_header_lines(const char *in, struct buf *out)
{
	const char	*p = in, *nl;
	size_t		 len, dropped = 0, k;
	bool		 kept = false, keep, blank;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		for (blank = true, k = 0; k < len; k++)
			if (p[k] != ' ' && p[k] != '\t')
				blank = false;
		if (blank)
			keep = false;	/* would end the header block */
		else if (p[0] == ' ' || p[0] == '\t')
			keep = kept;	/* continues the previous field */
		else
			keep = qfile_is_header_line(p, len);
		if (keep) {
			for (k = 0; k < len; k++) {
				unsigned char c = (unsigned char)p[k];

				buf_putc(out, c < 32 && c != '\t' ? ' ' : c);
			}
			buf_putc(out, '\n');
		} else {
			dropped++;
		}
		kept = keep;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return (dropped);
}

/* --- deliver-cleaned -------------------------------------------------------- */

struct splice {
	size_t		 start, end;
	char		*text;		/* the replacement, owned */
};

struct clean {
	const char	*text;
	size_t		 len;
	rewrite_part_fn	 fn;
	void		*arg;
	const struct rewrite_rename *rn;	/* NULL: no renaming */
	struct splice	*sp;
	size_t		 nsp;
	struct buf	*summary;
	bool		 cannot;
	char		*why;
	size_t		 whysize;
};

/* The name to show for a part: printable ASCII, bounded. */
static void
safe_name(char *dst, size_t size, const char *name)
{
	size_t	 i, o = 0;

	for (i = 0; name[i] != '\0' && o + 4 < size; i++) {
		unsigned char c = (unsigned char)name[i];

		if (o >= NOTE_NAME_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = c < 32 || c > 126 ? '?' : (char)c;
	}
	dst[o] = '\0';
}

/*
 * Add the splice [start, e) -> note (taken). The line end before the
 * next boundary belongs to it: keep it, and keep a CR there when the
 * boundary line has one, as GMime then takes two bytes for it.
 */
static void
splice_add(struct splice **sp, size_t *nsp, const char *text, size_t len,
    size_t start, size_t e, struct buf *note)
{
	const char	*nl;
	size_t		 next;
	bool		 at_start, cr;

	at_start = e == 0 || text[e - 1] == '\n';
	next = at_start ? e : e + 1;
	nl = next < len ? memchr(text + next, '\n', len - next) : NULL;
	cr = (nl != NULL && nl > text + next && nl[-1] == '\r') ||
	    (e > 0 && text[e - 1] == '\r') ||
	    (at_start && e > 1 && text[e - 2] == '\r');
	buf_printf(note, "%s%s", cr ? "\r" : "", at_start ? "\n" : "");
	*sp = xreallocarray(*sp, *nsp + 1, sizeof(**sp));
	(*sp)[*nsp].start = start;
	(*sp)[*nsp].end = e;
	(*sp)[*nsp].text = buf_steal(note, NULL);
	(*nsp)++;
}

static void
scan_one(struct clean *c, const struct mime_part *p, const char *filename,
    struct hs_result *worst)
{
	struct hs_part	 hp;
	struct hs_result r;

	hp.filename = filename;
	hp.content_type = p->content_type;
	hp.data = p->data;
	hp.len = p->len;
	memset(&r, 0, sizeof(r));
	c->fn(c->arg, &hp, &r);
	r.reason[sizeof(r.reason) - 1] = '\0';
	if ((unsigned)r.verdict > HS_FAILED)
		r.verdict = HS_FAILED;
	if (r.verdict > worst->verdict)
		*worst = r;
}

/* Is the field on the line s[len] named name (then: its value's offset)? */
static size_t
field_is(const char *s, size_t len, const char *name)
{
	size_t	 k = strlen(name);

	if (len <= k || strncasecmp(s, name, k) != 0)
		return (0);
	while (k < len && (s[k] == ' ' || s[k] == '\t'))
		k++;
	return (k < len && s[k] == ':' ? k + 1 : 0);
}

/*
 * Append "Field: value" to out with the parameters param, param*,
 * param*N and param*N* (RFC 2231) of value[vlen] (an unfolded field
 * value) taken out and param="newname" added, one parameter a line.
 * Semicolons inside quoted strings do not split.
 */
static void
param_rewrite(struct buf *out, const char *field, const char *value,
    size_t vlen, const char *param, const char *newname)
{
	size_t	 i = 0, s, e, k, plen = strlen(param), tok = 0;
	bool	 quoted;

	buf_printf(out, "%s:", field);
	while (i <= vlen) {
		for (s = i, quoted = false; i < vlen && (quoted ||
		    value[i] != ';'); i++) {
			if (value[i] == '\\' && quoted && i + 1 < vlen)
				i++;
			else if (value[i] == '"')
				quoted = !quoted;
		}
		e = i++;
		while (s < e && (value[s] == ' ' || value[s] == '\t'))
			s++;
		while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
			e--;
		if (tok++ > 0) {
			if (s == e)
				continue;
			for (k = s; k < e && value[k] != '=' &&
			    value[k] != ' ' && value[k] != '\t'; k++)
				;
			if (k - s >= plen && strncasecmp(value + s, param,
			    plen) == 0 && (k - s == plen || value[s + plen] ==
			    '*'))
				continue;
			buf_printf(out, ";\n\t");
		} else
			buf_putc(out, ' ');
		for (k = s; k < e; k++)	/* a bare CR or other control: a space */
			buf_putc(out, (unsigned char)value[k] < 32 &&
			    value[k] != '\t' ? ' ' : value[k]);
	}
	buf_printf(out, ";\n\t%s=\"%s\"\n", param, newname);
}

/*
 * The new name a plugin gave, as it goes into a header parameter:
 * printable ASCII without quotes, backslashes or semicolons, at most
 * NOTE_NAME_MAX bytes; false when there is nothing left.
 */
static bool
new_name_ok(const char *in, size_t insize, char *out, size_t size)
{
	size_t	 i, o = 0;

	for (i = 0; i < insize && in[i] != '\0' && o + 1 < size &&
	    o < NOTE_NAME_MAX; i++) {
		unsigned char c = (unsigned char)in[i];

		out[o++] = c < 32 || c > 126 || c == '"' || c == '\\' ||
		    c == ';' ? '_' : (char)c;
	}
	out[o] = '\0';
	return (o > 0 && o < insize);
}

/* Has s[len] no control byte but tab, LF, and CR before LF? */
static bool
plain_block(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 32 || c == '\t' || c == '\n' ||
		    (c == '\r' && i + 1 < len && s[i + 1] == '\n'))
			continue;
		return (false);
	}
	return (true);
}

/*
 * Rename part p (blocked by worst) when a plugin's rewrite_part gives it
 * a new name and the part scanners pass it under that name: its entity
 * with the two fields written anew, spliced in. False: not renamed.
 */
static bool
rename_part(struct clean *c, const struct mime_part *p, const char *name,
    const char *shown, const struct hs_result *worst)
{
	struct hs_rewrite_in in;
	struct hs_rewrite_out o;
	struct hs_result again;
	struct buf	 ent = BUF_INIT, fld = BUF_INIT, reason = BUF_INIT;
	const char	*t = c->text, *nl;
	char		 newname[NOTE_NAME_MAX + 8];
	size_t		 ls, le, body, e = p->cut_end, fe, voff;
	int		 rc;
	bool		 any = false, ended = false;

	memset(&in, 0, sizeof(in));
	in.content_type = p->content_type;
	in.charset = p->charset;
	in.data = p->data;
	in.len = p->len;
	in.how = HS_REWRITE_RENAME;
	in.filename = name;
	memset(&o, 0, sizeof(o));
	rc = c->rn->fn(c->rn->arg, &in, &o);
	free(o.data);
	if (rc != 1 || !new_name_ok(o.filename, sizeof(o.filename), newname,
	    sizeof(newname)))
		return (false);
	memset(&again, 0, sizeof(again));
	scan_one(c, p, newname, &again);
	if (again.verdict >= HS_BLOCKED)
		return (false);
	/* the header fields, a field (with its continuation lines) at a time */
	for (ls = p->cut_start; ls < e; ls = fe) {
		nl = memchr(t + ls, '\n', e - ls);
		le = nl != NULL ? (size_t)(nl - t) + 1 : e;
		body = le - ls - (nl != NULL);
		if (body > 0 && t[ls + body - 1] == '\r')
			body--;
		if (body == 0) {
			ls = le;	/* the empty line: the content follows */
			ended = true;
			break;
		}
		/* the field's continuation lines, unfolded */
		buf_reset(&fld);
		buf_append(&fld, t + ls, body);
		for (fe = le; fe < e && (t[fe] == ' ' || t[fe] == '\t'); fe = le) {
			nl = memchr(t + fe, '\n', e - fe);
			le = nl != NULL ? (size_t)(nl - t) + 1 : e;
			body = le - fe - (nl != NULL);
			if (body > 0 && t[fe + body - 1] == '\r')
				body--;
			buf_append(&fld, t + fe, body);
		}
		if ((voff = field_is(fld.data, fld.len, "content-type")) > 0) {
			param_rewrite(&ent, "Content-Type", fld.data + voff,
			    fld.len - voff, "name", newname);
			any = true;
		} else if ((voff = field_is(fld.data, fld.len,
		    "content-disposition")) > 0) {
			param_rewrite(&ent, "Content-Disposition", fld.data +
			    voff, fld.len - voff, "filename", newname);
			any = true;
		} else {
			/* as it was, line by line */
			for (; ls < fe; ls = le) {
				nl = memchr(t + ls, '\n', fe - ls);
				le = nl != NULL ? (size_t)(nl - t) + 1 : fe;
				body = le - ls - (nl != NULL);
				if (body > 0 && t[ls + body - 1] == '\r')
					body--;
				buf_append(&ent, t + ls, body);
				buf_putc(&ent, '\n');
			}
		}
	}
	buf_free(&fld);
	/*
	 * Only the header block is replaced, up to and with its empty line:
	 * the content keeps its records, whatever bytes they hold. A block
	 * with a control byte (but tab, and CR before LF: a NUL could not be
	 * carried, and where a bare CR ends the block is GMime's to say) or
	 * without its empty line: not renamed, removed.
	 */
	if (!any || !ended || ls > e || !plain_block(t + p->cut_start,
	    ls - p->cut_start)) {
		buf_free(&ent);
		return (false);
	}
	buf_putc(&ent, '\n');
	c->sp = xreallocarray(c->sp, c->nsp + 1, sizeof(*c->sp));
	c->sp[c->nsp].start = p->cut_start;
	c->sp[c->nsp].end = ls;		/* a line start: ent ends with "\n" */
	c->sp[c->nsp].text = buf_steal(&ent, NULL);
	c->nsp++;
	put_safe(&reason, worst->reason[0] ? worst->reason : "no reason given");
	buf_printf(c->rn->renamed, "%s%s to %s: %s", c->rn->renamed->len ?
	    "; " : "", shown, newname, reason.data);
	buf_free(&reason);
	return (true);
}

static int
clean_part(void *arg, const struct mime_part *p)
{
	struct clean	*c = arg;
	struct hs_result worst;
	struct buf	 note = BUF_INIT, reason = BUF_INIT;
	const char	*name = p->filename != NULL ? p->filename : p->name;
	char		 shown[NOTE_NAME_MAX + 8];
	size_t		 e = p->cut_end;

	memset(&worst, 0, sizeof(worst));
	scan_one(c, p, name, &worst);
	if (p->filename != NULL && p->name != NULL &&
	    strcmp(p->filename, p->name) != 0)
		scan_one(c, p, p->name, &worst);
	if (worst.verdict < HS_BLOCKED)
		return (0);
	if (name != NULL)
		safe_name(shown, sizeof(shown), name);
	else
		(void)snprintf(shown, sizeof(shown), "(unnamed %.100s part)",
		    p->content_type);
	if (!p->cut_ok) {
		(void)snprintf(c->why, c->whysize, "part %s is the body of the "
		    "message itself, not a part of a multipart", shown);
		c->cannot = true;
		return (1);
	}
	if (worst.verdict == HS_BLOCKED && c->rn != NULL && p->cut_own &&
	    rename_part(c, p, name, shown, &worst))
		return (0);
	put_safe(&reason, worst.reason[0] ? worst.reason : "no reason given");
	buf_printf(&note, "Content-Type: text/plain; charset=us-ascii\n"
	    "Content-Transfer-Encoding: 7bit\n"
	    "Content-Disposition: inline\n"
	    "\n"
	    "holdscan removed attachment %s: %s: %s", shown,
	    verdict_name((enum verdict)worst.verdict), reason.data);
	splice_add(&c->sp, &c->nsp, c->text, c->len, p->cut_start, e, &note);
	buf_printf(c->summary, "%s%s: %s: %s", c->summary->len ? "; " : "",
	    shown, verdict_name((enum verdict)worst.verdict), reason.data);
	buf_free(&reason);
	return (0);
}

/*
 * Build out from recs with each splice's lines replaced. A splice starts
 * at a line start; it ends at a line start (its text then ends with a
 * newline) or at a line's newline (which its last line then stands for).
 */
static int
apply_splices(const struct qfile_rec *recs, size_t n, const char *text,
    size_t len, struct splice *sp, size_t nsp, size_t line_limit,
    struct rewrite_recs *out, char *why, size_t whysize)
{
	size_t	 i = 0, off = 0, k, j, cap = 0, prev_end = 0;
	bool	 at_start;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < nsp; k++) {
		if (sp[k].start < prev_end || sp[k].end < sp[k].start ||
		    sp[k].end > len)
			goto bad;
		prev_end = sp[k].end;
		while (i < n && off < sp[k].start) {	/* lines before it */
			j = line_next(recs, n, i);
			recs_push(out, &cap, recs + i, j - i);
			for (; i < j; i++)
				off += recs[i].len + (recs[i].type == QREC_NORM);
		}
		if (off != sp[k].start)
			goto bad;
		at_start = sp[k].end == 0 || text[sp[k].end - 1] == '\n';
		if (!at_start && sp[k].end < len && text[sp[k].end] != '\n')
			goto bad;
		while (i < n && (off < sp[k].end || (!at_start &&
		    off == sp[k].end))) {		/* its lines */
			j = line_next(recs, n, i);
			for (; i < j; i++)
				off += recs[i].len + (recs[i].type == QREC_NORM);
		}
		if (at_start ? off != sp[k].end : off != sp[k].end + 1 &&
		    !(i == n && sp[k].end == len))
			goto bad;
		recs_push_text(out, &cap, sp[k].text, line_limit);
		sp[k].text = NULL;
	}
	if (i < n)
		recs_push(out, &cap, recs + i, n - i);
	return (0);
bad:
	(void)snprintf(why, whysize, "part %zu does not fall on line "
	    "boundaries of the queue file", k + 1);
	rewrite_recs_free(out);
	return (-1);
}

enum rewrite_clean_result
rewrite_clean(const struct qfile_rec *recs, size_t n, const char *text,
    size_t len, const struct mime_limits *lim, rewrite_part_fn fn, void *arg,
    size_t line_limit, struct rewrite_recs *out, struct buf *summary,
    char *why, size_t whysize)
{
	return (rewrite_clean_rename(recs, n, text, len, lim, fn, arg, NULL,
	    line_limit, out, summary, why, whysize));
}

enum rewrite_clean_result
rewrite_clean_rename(const struct qfile_rec *recs, size_t n, const char *text,
    size_t len, const struct mime_limits *lim, rewrite_part_fn fn, void *arg,
    const struct rewrite_rename *rn, size_t line_limit,
    struct rewrite_recs *out, struct buf *summary, char *why, size_t whysize)
{
	struct mime_limits l = *lim;
	struct clean	 c;
	enum rewrite_clean_result res;
	size_t		 k;
	int		 rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.text = text;
	c.len = len;
	c.fn = fn;
	c.arg = arg;
	c.rn = rn;
	c.summary = summary;
	c.why = why;
	c.whysize = whysize;
	l.want_cut = true;
	why[0] = '\0';
	rc = mime_walk(text, len, &l, clean_part, &c, why, whysize);
	if (rc < 0)
		res = REWRITE_FAILED;
	else if (c.cannot)
		res = REWRITE_CANNOT;
	else if (c.nsp == 0)
		res = REWRITE_UNCHANGED;
	else if (apply_splices(recs, n, text, len, c.sp, c.nsp, line_limit,
	    out, why, whysize) < 0)
		res = REWRITE_FAILED;
	else
		res = REWRITE_CLEANED;
	for (k = 0; k < c.nsp; k++)
		free(c.sp[k].text);
	free(c.sp);
	if (res != REWRITE_CLEANED) {
		buf_reset(summary);
		if (rn != NULL)
			buf_reset(rn->renamed);
	}
	return (res);
}

/* --- HTML disarming ------------------------------------------------------- */

struct html_rw {
	const char	*text;
	size_t		 len;
	int		 how;
	unsigned	 flags;
	rewrite_html_fn	 fn;
	void		*arg;
	struct splice	*sp;
	size_t		 nsp;
	char		*body;		/* a single-part message's new body */
	char		*body_fields;	/* and its Content-* fields */
	size_t		 parts, removed, highlighted;
	size_t		 added, dropped;	/* bytes of new and old entities */
	char		*why;
	size_t		 whysize;
	bool		 cannot;
};

/* Is the field on the line s[len] one rewrite_html() writes itself? */
static bool
replaced_field(const char *s, size_t len)
{
	static const char *const names[] = {
		"content-type", "content-transfer-encoding", "content-length",
	};
	size_t	 i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		k = strlen(names[i]);
		if (len > k && strncasecmp(s, names[i], k) == 0) {
			while (k < len && (s[k] == ' ' || s[k] == '\t'))
				k++;
			if (k < len && s[k] == ':')
				return (true);
		}
	}
	return (false);
}

/* A plugin's type and charset: "text/html" or "text/plain", a token. */
static bool
good_type(const struct hs_rewrite_out *o)
{
	size_t	 i, n = strnlen(o->charset, sizeof(o->charset));

	if (strcmp(o->content_type, "text/html") != 0 &&
	    strcmp(o->content_type, "text/plain") != 0)
		return (false);
	if (n == 0 || n >= sizeof(o->charset))
		return (false);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)o->charset[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == ':' || c == '+'))
			return (false);
	}
	return (true);
}

static int
html_cannot(struct html_rw *c, const struct mime_part *p, const char *what)
{
	struct buf	 safe = BUF_INIT;

	put_safe(&safe, what);
	(void)snprintf(c->why, c->whysize, "HTML part %zu: %s", p->index + 1,
	    safe.data);
	buf_free(&safe);
	c->cannot = true;
	return (1);
}

static int
html_part(void *arg, const struct mime_part *p)
{
	struct html_rw	*c = arg;
	struct hs_rewrite_in in;
	struct hs_rewrite_out o;
	struct buf	 ent = BUF_INIT, fields = BUF_INIT;
	const char	*t = c->text, *nl;
	size_t		 ls, le, e, body;
	bool		 skip = false;
	int		 rc;

	if (strcmp(p->content_type, "text/html") != 0)
		return (0);
	memset(&in, 0, sizeof(in));
	in.content_type = p->content_type;
	in.charset = p->charset;
	in.data = p->data;
	in.len = p->len;
	in.how = c->how;
	in.flags = c->flags;
	memset(&o, 0, sizeof(o));
	rc = c->fn(c->arg, &in, &o);
	o.reason[sizeof(o.reason) - 1] = '\0';
	if (rc == 0) {
		free(o.data);
		return (0);
	}
	if (rc < 0) {
		free(o.data);
		return (html_cannot(c, p, o.reason[0] ? o.reason :
		    "cannot be rewritten"));
	}
	if (!good_type(&o) || (o.data == NULL && o.len > 0)) {
		free(o.data);
		return (html_cannot(c, p, "the plugin's new content is not "
		    "text/html or text/plain with a charset"));
	}
	buf_printf(&fields, "Content-Type: %s; charset=%s\n"
	    "Content-Transfer-Encoding: quoted-printable\n", o.content_type,
	    o.charset);
	/* a hard line end last, which the boundary's line end then is */
	mime_encode_qp((const unsigned char *)(o.data ? o.data : ""), o.len,
	    &ent);
	if (o.len == 0 || o.data[o.len - 1] != '\n')
		mime_encode_qp((const unsigned char *)"\n", 1, &ent);
	free(o.data);
	c->parts++;
	c->removed += o.removed;
	c->highlighted += o.highlighted;
	/* an entity replaces at least the part's content */
	c->added += ent.len + fields.len;
	c->dropped += p->cut_ok ? p->cut_end - p->cut_start : p->len;
	if (c->added > c->dropped && c->added - c->dropped >
	    REWRITE_MAX_GROWTH) {
		buf_free(&ent);
		buf_free(&fields);
		return (html_cannot(c, p, "the rewritten message would be too "
		    "large"));
	}
	if (!p->cut_ok && p->depth == 0) {
		c->body_fields = buf_steal(&fields, NULL);
		c->body = buf_steal(&ent, NULL);
		return (0);
	}
	if (!p->cut_ok || !p->cut_own) {
		buf_free(&ent);
		buf_free(&fields);
		return (html_cannot(c, p, "it is inside an attached message "
		    "and cannot be rewritten on its own"));
	}
	/* the part's own fields but those written anew, then the new ones */
	e = p->cut_end;
	{
		struct buf	 out = BUF_INIT;

		for (ls = p->cut_start; ls < e; ls = le) {
			nl = memchr(t + ls, '\n', e - ls);
			le = nl != NULL ? (size_t)(nl - t) + 1 : e;
			body = le - ls - (nl != NULL);
			if (body > 0 && t[ls + body - 1] == '\r')
				body--;
			if (body == 0)
				break;		/* the empty line */
			if (t[ls] != ' ' && t[ls] != '\t')
				skip = replaced_field(t + ls, body);
			if (!skip) {
				buf_append(&out, t + ls, body);
				buf_putc(&out, '\n');
			}
		}
		buf_append(&out, fields.data, fields.len);
		buf_putc(&out, '\n');
		/* without its last line end: that is the boundary's */
		buf_append(&out, ent.data, ent.len - 1);
		splice_add(&c->sp, &c->nsp, t, c->len, p->cut_start, e, &out);
		buf_free(&out);
	}
	buf_free(&ent);
	buf_free(&fields);
	return (0);
}

/* A single-part message: its header block's new fields, its new body. */
static void
html_body(const struct qfile_rec *recs, size_t n, struct html_rw *c,
    size_t line_limit, struct rewrite_recs *out)
{
	struct buf	 add = BUF_INIT, line = BUF_INIT;
	size_t		 hend = qfile_header_end(recs, n), i, j, k, cap = 0;
	bool		 skip = false, mime_version = false;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < hend; i = j) {
		j = line_next(recs, hend, i);
		buf_reset(&line);
		for (k = i; k < j; k++)
			buf_append(&line, recs[k].data, recs[k].len);
		if (line.len > 0 && line.data[0] != ' ' && line.data[0] != '\t') {
			skip = replaced_field(line.data, line.len);
			mime_version |= line.len > 12 &&
			    strncasecmp(line.data, "mime-version", 12) == 0;
		}
		if (!skip)
			recs_push(out, &cap, recs + i, j - i);
	}
	if (!mime_version)
		buf_printf(&add, "MIME-Version: 1.0\n");
	buf_printf(&add, "%s\n%s", c->body_fields, c->body);
	recs_push_text(out, &cap, buf_steal(&add, NULL), line_limit);
	buf_free(&line);
}

enum rewrite_clean_result
rewrite_html(const struct qfile_rec *recs, size_t n, const char *text,
    size_t len, const struct mime_limits *lim, int how, unsigned flags,
    rewrite_html_fn fn, void *arg, size_t line_limit,
    struct rewrite_recs *out, struct buf *summary, char *why,
    size_t whysize)
{
	struct mime_limits l = *lim;
	struct html_rw	 c;
	enum rewrite_clean_result res;
	size_t		 k;
	int		 rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.text = text;
	c.len = len;
	c.how = how;
	c.flags = flags;
	c.fn = fn;
	c.arg = arg;
	c.why = why;
	c.whysize = whysize;
	l.want_cut = true;
	why[0] = '\0';
	rc = mime_walk(text, len, &l, html_part, &c, why, whysize);
	if (rc < 0)
		res = REWRITE_FAILED;
	else if (c.cannot)
		res = REWRITE_CANNOT;
	else if (c.nsp == 0 && c.body == NULL)
		res = REWRITE_UNCHANGED;
	else if (c.body != NULL) {
		html_body(recs, n, &c, line_limit, out);
		res = REWRITE_CLEANED;
	} else if (apply_splices(recs, n, text, len, c.sp, c.nsp, line_limit,
	    out, why, whysize) < 0)
		res = REWRITE_FAILED;
	else
		res = REWRITE_CLEANED;
	if (res == REWRITE_CLEANED && how == HS_REWRITE_TEXT)
		buf_printf(summary, "%zu HTML part%s made text", c.parts,
		    c.parts == 1 ? "" : "s");
	else if (res == REWRITE_CLEANED && how == HS_REWRITE_DISARM)
		buf_printf(summary, "%zu HTML part%s disarmed (%zu element%s "
		    "or attribute%s removed)", c.parts, c.parts == 1 ? "" : "s",
		    c.removed, c.removed == 1 ? "" : "s",
		    c.removed == 1 ? "" : "s");
	if (res == REWRITE_CLEANED && (c.highlighted > 0 ||
	    how == HS_REWRITE_KEEP))
		buf_printf(summary, "%s%zu suspicious link%s highlighted",
		    summary->len ? "; " : "", c.highlighted,
		    c.highlighted == 1 ? "" : "s");
	for (k = 0; k < c.nsp; k++)
		free(c.sp[k].text);
	free(c.sp);
	free(c.body);
	free(c.body_fields);
	return (res);
}
