/*
 * NAME
 *	cmd_list - holdscan list add, del and show: the allow and deny lists
 * DESCRIPTION
 *	Entries live in lists.db in the state environment (state/listdb.c);
 *	holdscand's master reads it for each message it dispatches, so a
 *	change applies to the next message without a reload. Values are
 *	normalised (common/lists.c) before they are stored or looked for;
 *	an entry records who added it and when. add and del are audited
 *	like the quarantine commands.
 *
 *	This module must never write anything but lists.db, and never print
 *	an entry's text unsanitised (out_line(), out_json_string()).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/lists.h"
#include "common/text.h"
#include "common/xalloc.h"
#include "state/listdb.h"
#include "tool/output.h"
#include "tool/tool.h"

/* KIND TYPE VALUE from argv[1..3] into e; a usage error if malformed. */
static void
entry_args(struct tool *t, int argc, char **argv, struct list_entry *e)
{
	char	 why[200];

	memset(e, 0, sizeof(*e));
	if (argc < 4)
		tool_bad_usage(t, "name a list (allow or deny), a type (sender, "
		    "domain or network) and a value");
	if (lists_kind_parse(argv[1], &e->kind) < 0)
		tool_bad_usage(t, "%s: use allow or deny", argv[1]);
	if (lists_type_parse(argv[2], &e->type) < 0)
		tool_bad_usage(t, "%s: use sender, domain or network", argv[2]);
	if (lists_normalise(e->type, tool_address_arg(argv[3]), e->value, why,
	    sizeof(why)) < 0)
		tool_bad_usage(t, "%s", why);
}

static struct listdb *
open_lists(struct tool *t)
{
	struct listdb	*l = NULL;
	char		*error = NULL;

	tool_open_state(t);
	if (listdb_open(t->sdb, &l, &error) < 0) {
		(void)tool_fail("%s", error);
		free(error);
		tool_close_state(t);
		return (NULL);
	}
	return (l);
}

int
cmd_list_add(struct tool *t, int argc, char **argv)
{
	struct list_entry e;
	struct passwd	*pw;
	struct listdb	*l;
	enum list_kind	 old;
	const char	*v;
	char		*error = NULL;
	int		 i, rc = 0;

	entry_args(t, argc, argv, &e);
	for (i = 4; i < argc; i++) {
		if ((v = tool_opt_value(t, argc, argv, &i, "--comment")) == NULL)
			tool_bad_arg(t, argv[i]);
		if (strlen(v) >= sizeof(e.comment))
			tool_bad_usage(t, "--comment: at most %zu bytes",
			    sizeof(e.comment) - 1);
		(void)snprintf(e.comment, sizeof(e.comment), "%s", v);
		(void)text_safe(e.comment, strlen(e.comment), false);
	}
	e.added = time(NULL);
	pw = getpwuid(t->invoker);
	if (pw != NULL && pw->pw_name[0] != '\0' &&
	    strlen(pw->pw_name) < sizeof(e.added_by) &&
	    strpbrk(pw->pw_name, " \t\n") == NULL)
		(void)snprintf(e.added_by, sizeof(e.added_by), "%s",
		    pw->pw_name);
	else
		(void)snprintf(e.added_by, sizeof(e.added_by), "uid%lu",
		    (unsigned long)t->invoker);
	if ((l = open_lists(t)) == NULL)
		return (1);
	if (listdb_put(l, &e, &old, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	} else {
		tool_audit(t, "list add %s %s %s%s", lists_kind_name(e.kind),
		    lists_type_name(e.type), e.value, old != LIST_NONE &&
		    old != e.kind ? " (was on the other list)" : "");
		(void)printf("%s %s %s: added to the %s list%s\n",
		    lists_kind_name(e.kind), lists_type_name(e.type), e.value,
		    lists_kind_name(e.kind), old == LIST_NONE ? "" :
		    old == e.kind ? " (replaced)" : old == LIST_ALLOW ?
		    " (removed from the allow list)" :
		    " (removed from the deny list)");
	}
	listdb_close(&l);
	tool_close_state(t);
	return (rc);
}

int
cmd_list_del(struct tool *t, int argc, char **argv)
{
	struct list_entry e;
	struct listdb	*l;
	char		*error = NULL;
	int		 ret, rc = 0;

	entry_args(t, argc, argv, &e);
	if (argc > 4)
		tool_bad_arg(t, argv[4]);
	if ((l = open_lists(t)) == NULL)
		return (1);
	if ((ret = listdb_del(l, &e, &error)) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	} else if (ret == 0) {
		rc = tool_fail("%s %s %s: not on the %s list",
		    lists_kind_name(e.kind), lists_type_name(e.type), e.value,
		    lists_kind_name(e.kind));
	} else {
		tool_audit(t, "list del %s %s %s", lists_kind_name(e.kind),
		    lists_type_name(e.type), e.value);
		(void)printf("%s %s %s: removed\n", lists_kind_name(e.kind),
		    lists_type_name(e.type), e.value);
	}
	listdb_close(&l);
	tool_close_state(t);
	return (rc);
}

static void
show_json(const struct list_entry *e, size_t i)
{
	(void)printf("%s{\"list\":", i ? ",\n" : "");
	out_json_string(stdout, lists_kind_name(e->kind));
	(void)printf(",\"type\":");
	out_json_string(stdout, lists_type_name(e->type));
	(void)printf(",\"value\":");
	out_json_string(stdout, e->value);
	(void)printf(",\"added\":%lld,\"added_by\":", (long long)e->added);
	out_json_string(stdout, e->added_by);
	(void)printf(",\"comment\":");
	out_json_string(stdout, e->comment);
	(void)putchar('}');
}

static void
show_text(const struct tool *t, const struct list_entry *e, size_t i)
{
	struct buf	 line = BUF_INIT;
	char		 when[32];

	if (i == 0 && t->tty) {
		buf_printf(&line, "%-6s %-8s %-32s %-19s %-10s %s", "LIST",
		    "TYPE", "VALUE", "ADDED", "BY", "COMMENT");
		out_line(t, line.data, line.len);
		buf_reset(&line);
	}
	out_time(e->added, when, sizeof(when));
	buf_printf(&line, "%-6s %-8s %-32s %-19s %-10s %s",
	    lists_kind_name(e->kind), lists_type_name(e->type), e->value, when,
	    e->added_by[0] ? e->added_by : "-", e->comment);
	out_line(t, line.data, line.len);
	buf_free(&line);
}

int
cmd_list_show(struct tool *t, int argc, char **argv)
{
	struct list_entry *v = NULL;
	struct listdb	*l;
	char		*error = NULL;
	size_t		 i, n = 0;
	int		 j, rc = 0;

	for (j = 1; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			t->json = true;
		else
			tool_bad_arg(t, argv[j]);
	}
	if ((l = open_lists(t)) == NULL)
		return (1);
	if (listdb_all(l, &v, &n, &error) < 0) {
		rc = tool_fail("%s", error);
		free(error);
	} else {
		if (t->json)
			(void)printf("[");
		for (i = 0; i < n; i++) {
			if (t->json)
				show_json(&v[i], i);
			else
				show_text(t, &v[i], i);
		}
		if (t->json)
			(void)printf("%s]\n", n ? "\n" : "");
		else if (t->tty)
			(void)printf("%zu entr%s\n", n, n == 1 ? "y" : "ies");
	}
	free(v);
	listdb_close(&l);
	tool_close_state(t);
	return (rc);
}
