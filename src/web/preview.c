/*
 * NAME
 *	preview - a quarantined message as the web console shows it
 * DESCRIPTION
 *	Runs in holdscan-web (its unprivileged user), never in holdscand:
 *	the stored queue file (the descriptor this host's holdscand passed,
 *	or the bytes another host's sent through the farm's requests
 *	table, farmprev.c) is parsed here with the queue-file reader
 *	(common/qfile.c, bounded), the header block taken as Postfix stored
 *	it, the body as text. Attachments are listed from the MIME part
 *	headers in the body (Content-Type name= and Content-Disposition
 *	filename=, unfolded), not decoded and never served.
 *
 *	This module must never decode or render content, never hand out
 *	anything that did not pass text_safe(), and never read more than
 *	PREVIEW_FILE_MAX bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/mailhdr.h"
#include "common/qfile.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "web/preview.h"

static json_t *
safe_string(const char *s, size_t len)
{
	char	*copy = xstrndup(s, len);
	json_t	*j;

	len = text_safe(copy, strlen(copy), true);
	j = json_stringn(copy, len);
	free(copy);
	return (j != NULL ? j : json_string(""));
}

/* The value of parameter name= in a header field (unfolded), or NULL. */
static char *
param_value(const char *field, const char *name)
{
	const char	*p = field, *v, *end;
	size_t		 nlen = strlen(name);

	while ((p = strcasestr(p, name)) != NULL) {
		if ((p == field || strchr("; \t", p[-1]) != NULL) &&
		    p[nlen] == '=') {
			v = p + nlen + 1;
			if (*v == '"') {
				v++;
				end = strchr(v, '"');
			} else
				end = v + strcspn(v, "; \t");
			if (end == NULL)
				end = v + strlen(v);
			if (end > v && end - v < 256)
				return (xstrndup(v, (size_t)(end - v)));
			return (NULL);
		}
		p += nlen;
	}
	return (NULL);
}

static void
add_attachment(json_t *list, const char *ctype, const char *cdisp)
{
	char	*name = NULL, *type = NULL;
	size_t	 i;
	json_t	*v;

	if (cdisp != NULL)
		name = param_value(cdisp, "filename");
	if (name == NULL && ctype != NULL)
		name = param_value(ctype, "name");
	if (name == NULL || json_array_size(list) >= PREVIEW_ATTACH_MAX) {
		free(name);
		return;
	}
	if (ctype != NULL) {
		const char *t = ctype + strspn(ctype, " \t");

		type = xstrndup(t, strcspn(t, "; \t"));
	}
	json_array_foreach(list, i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")),
		    name) == 0)
			goto done;
	(void)json_array_append_new(list, json_pack("{s:o, s:o}", "name",
	    safe_string(name, strlen(name)), "type",
	    safe_string(type != NULL ? type : "", type != NULL ?
	    strlen(type) : 0)));
done:
	free(name);
	free(type);
}

/*
 * Each block of header lines that follows a MIME boundary ("--...") up
 * to its empty line is a part's header: unfold it and look at its
 * Content-Type and Content-Disposition.
 */
json_t *
preview_attachments(const char *body, size_t len)
{
	json_t		*list = json_array();
	const char	*p = body, *end = body + len, *nl;
	struct buf	 ctype = BUF_INIT, cdisp = BUF_INIT;
	struct buf	*cur = NULL;
	bool		 in_part_header = false;
	size_t		 llen;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		llen = (size_t)(nl - p);
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (!in_part_header) {
			if (llen >= 3 && p[0] == '-' && p[1] == '-') {
				in_part_header = true;
				buf_free(&ctype);
				buf_free(&cdisp);
				cur = NULL;
			}
			continue;
		}
		if (llen == 0) {
			buf_append(&ctype, "", 1);
			buf_append(&cdisp, "", 1);
			add_attachment(list, ctype.len > 1 ? ctype.data : NULL,
			    cdisp.len > 1 ? cdisp.data : NULL);
			in_part_header = false;
			continue;
		}
		if ((p[0] == ' ' || p[0] == '\t') && cur != NULL) {
			if (cur->len < 4096)
				buf_append(cur, p, llen);
			continue;
		}
		cur = NULL;
		if (llen > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
			cur = &ctype;
			buf_append(cur, p + 13, llen - 13 < 4096 ? llen - 13 : 4096);
		} else if (llen > 20 &&
		    strncasecmp(p, "Content-Disposition:", 20) == 0) {
			cur = &cdisp;
			buf_append(cur, p + 20, llen - 20 < 4096 ? llen - 20 : 4096);
		}
	}
	buf_free(&ctype);
	buf_free(&cdisp);
	return (list);
}

/* The preview of a parsed queue file into out. */
static void
preview_qfile(const struct qfile *qf, json_t *out)
{
	struct buf	 hdr = BUF_INIT, body = BUF_INIT;
	size_t		 blen;

	mailhdr_block(qf, &hdr);
	qfile_content_text(qf->content + qf->header_end,
	    qf->ncontent - qf->header_end, &body);
	(void)json_object_set_new(out, "headers", safe_string(hdr.data != NULL ?
	    hdr.data : "", hdr.len));
	blen = body.len > PREVIEW_BODY_MAX ? PREVIEW_BODY_MAX : body.len;
	(void)json_object_set_new(out, "body", safe_string(body.data != NULL ?
	    body.data : "", blen));
	(void)json_object_set_new(out, "body_truncated",
	    json_boolean(blen < body.len));
	(void)json_object_set_new(out, "attachments", preview_attachments(
	    body.data != NULL ? body.data : "", body.len));
	buf_free(&hdr);
	buf_free(&body);
}

int
preview_fd(int fd, json_t *out, char **error_r)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;

	if (qfile_read_fd(fd, (size_t)PREVIEW_FILE_MAX, &qf, &err) < 0) {
		*error_r = xasprintf("the stored file: %s", err.text);
		return (-1);
	}
	preview_qfile(qf, out);
	qfile_free(&qf);
	return (0);
}

int
preview_image(const void *data, size_t len, bool cut, json_t *out,
    char **error_r)
{
	struct qfile_error err;
	struct qfile	*qf = NULL;

	if (len > (size_t)PREVIEW_FILE_MAX) {
		*error_r = xstrdup("the stored file is too large");
		return (-1);
	}
	if ((cut ? qfile_parse_prefix(data, len, &qf, &err) :
	    qfile_parse(data, len, &qf, &err)) < 0) {
		*error_r = xasprintf("the stored file%s: %s", cut ?
		    "'s first bytes" : "", err.text);
		return (-1);
	}
	preview_qfile(qf, out);
	if (cut)
		(void)json_object_set_new(out, "body_truncated", json_true());
	qfile_free(&qf);
	return (0);
}
