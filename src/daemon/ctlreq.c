/*
 * ctlreq - the JSON helpers the control socket's operations share
 * (control.c, ctlquar.c, ctllog.c): strings made safe for JSON, request
 * fields read, a failure answered.
 *
 * It must never put a string into an answer but through ctlreq_jstr().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/text.h"
#include "common/xalloc.h"
#include "daemon/ctlreq.h"

/* A string for JSON: valid UTF-8, no control characters. */
json_t *
ctlreq_jstr(const char *s)
{
	char	*copy;
	json_t	*j;

	if (s == NULL)
		s = "";
	copy = xstrdup(s);
	(void)text_safe(copy, strlen(copy), false);
	j = json_string(copy);
	free(copy);
	return (j != NULL ? j : json_string(""));
}

const char *
ctlreq_str(const json_t *req, const char *name)
{
	const char	*s = json_string_value(json_object_get(req, name));

	return (s != NULL && s[0] != '\0' ? s : NULL);
}

long long
ctlreq_int(const json_t *req, const char *name, long long def)
{
	json_t	*v = json_object_get(req, name);

	return (json_is_integer(v) ? json_integer_value(v) : def);
}

void
ctlreq_fail(struct creq *r, int status, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->reply);
	r->reply = json_pack("{s:b, s:i, s:o}", "ok", 0, "status", status,
	    "error", ctlreq_jstr(msg));
}

json_t *
ctlreq_strs(const char *const *v, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		(void)json_array_append_new(a, ctlreq_jstr(v[i]));
	return (a);
}
