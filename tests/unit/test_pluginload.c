/*
 * NAME
 *	test_pluginload - unit tests for the host side of the plugin ABI
 * DESCRIPTION
 *	The plugins are the build's own (build/FLAVOUR/plugins), loaded the
 *	way the scanner program loads them. A plugin built for the old ABI
 *	(tests/plugins/oldabi.c says version 1) is refused by plugin_load()
 *	with a message that names its version and the one expected, and
 *	nothing of it runs. What the plugins used to take from holdscan's
 *	own code comes through struct hs_host: the MIME walk hands each leaf
 *	part over in the ABI's terms, and what a plugin logs can be
 *	collected for a check instead of going to the log; with a walk
 *	shared (plugin_share_walks(), as run_plugins() does for a message)
 *	GMime parses the message once for two plugins, each sees every part,
 *	and other text or limits are walked afresh. What a plugin
 *	needs of the workers' sandbox comes from its descriptor (spamd: the
 *	network), and from one built before the field was appended, nothing.
 */
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "scanner/mimecache.h"
#include "scanner/pluginload.h"

struct fixture {
	char		 dir[PATH_MAX];		/* the build's plugins */
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));
	char		 self[PATH_MAX], rel[PATH_MAX + 32];
	ssize_t		 n;

	if (f == NULL || (n = readlink("/proc/self/exe", self,
	    sizeof(self) - 1)) < 0)
		return (-1);
	self[n] = '\0';
	/* build/FLAVOUR/tests/unit/test_pluginload -> build/FLAVOUR/plugins */
	(void)snprintf(rel, sizeof(rel), "%s/../../plugins", dirname(self));
	if (realpath(rel, f->dir) == NULL) {
		fprintf(stderr, "no %s: build the plugins first\n", rel);
		free(f);
		return (-1);
	}
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	free(*state);
	return (0);
}

static void
test_old_abi_plugin_is_refused_naming_both_versions(void **state)
{
	struct fixture	*f = *state;
	struct plugin	*p = NULL;
	char		*error = NULL, want[PATH_MAX + 200];

	assert_int_equal(plugin_load(f->dir, "oldabi", &p, &error), -1);
	assert_null(p);
	assert_non_null(error);
	(void)snprintf(want, sizeof(want), "%s/oldabi.so: built for plugin ABI "
	    "version 1, but this holdscan expects version %d; rebuild the "
	    "plugin against this holdscan's holdscan/plugin.h", f->dir,
	    HS_PLUGIN_ABI_VERSION);
	assert_string_equal(error, want);
	free(error);
}

static void
test_current_plugin_gets_a_host_of_this_abi(void **state)
{
	struct fixture	*f = *state;
	struct plugin	*p = NULL;
	char		*error = NULL;

	assert_int_equal(HS_PLUGIN_ABI_VERSION, 2);
	assert_int_equal(plugin_load(f->dir, "crashtest", &p, &error), 0);
	assert_int_equal(p->desc->abi_version, HS_PLUGIN_ABI_VERSION);
	assert_int_equal(p->host.abi_version, HS_PLUGIN_ABI_VERSION);
	assert_int_equal(p->host.struct_size, sizeof(struct hs_host));
	assert_non_null(p->host.log);
	assert_non_null(p->host.opt_str);
	assert_non_null(p->host.opt_num);
	assert_non_null(p->host.watch_path);
	assert_non_null(p->host.mime_walk);
	plugin_free(&p);
	assert_null(p);
}

static void
test_needs_come_from_the_descriptor_when_it_has_them(void **state)
{
	struct fixture	*f = *state;
	struct plugin	*p = NULL, fake;
	struct hs_plugin early;
	char		*error = NULL;

	/* spamd connects to spamd from the workers; crashtest needs nothing. */
	assert_int_equal(plugin_load(f->dir, "spamd", &p, &error), 0);
	assert_int_equal(plugin_needs(p), HS_NEEDS_NETWORK);
	plugin_free(&p);
	assert_int_equal(plugin_load(f->dir, "crashtest", &p, &error), 0);
	assert_int_equal(plugin_needs(p), 0);
	plugin_free(&p);
	/*
	 * A descriptor built before needs was appended ends where it
	 * begins: whatever lies there is not read.
	 */
	memset(&early, 0, sizeof(early));
	early.needs = HS_NEEDS_NETWORK;
	early.struct_size = HS_PLUGIN_MIN_SIZE;
	memset(&fake, 0, sizeof(fake));
	fake.desc = &early;
	assert_int_equal(plugin_needs(&fake), 0);
	early.struct_size = sizeof(early);
	assert_int_equal(plugin_needs(&fake), HS_NEEDS_NETWORK);
}

struct seen {
	size_t		 n;
	char		 types[256];
	char		 names[256];
	size_t		 lens[8];
	int		 stop_at;	/* stop the walk at this part, or -1 */
};

static int
see_part(void *arg, const struct hs_mime_part *part)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->types);

	(void)snprintf(s->types + len, sizeof(s->types) - len, "%s%s",
	    len ? " " : "", part->content_type);
	len = strlen(s->names);
	(void)snprintf(s->names + len, sizeof(s->names) - len, "%s%s:%d",
	    len ? " " : "", part->filename ? part->filename : "-",
	    part->attachment);
	if (s->n < 8)
		s->lens[s->n] = part->len;
	s->n++;
	return ((int)s->n - 1 == s->stop_at ? 1 : 0);
}

static void
test_host_mime_walk_hands_over_each_leaf_part(void **state)
{
	static const char msg[] =
	    "Subject: parts\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"B\"\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "hello\n"
	    "--B\n"
	    "Content-Type: application/octet-stream\n"
	    "Content-Disposition: attachment; filename=\"a.bin\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAECAw==\n"
	    "--B--\n";
	struct fixture	*f = *state;
	struct hs_mime_limits lim = { 4, 10 };
	struct plugin	*p = NULL;
	struct seen	 s;
	char		*error = NULL, why[200] = "";

	assert_int_equal(plugin_load(f->dir, "crashtest", &p, &error), 0);
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(p->host.mime_walk(p->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s, why, sizeof(why)), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.types, "text/plain application/octet-stream");
	assert_string_equal(s.names, "-:0 a.bin:1");
	assert_int_equal(s.lens[1], 4);		/* decoded */
	/* The callback stops the walk. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 0;
	assert_int_equal(p->host.mime_walk(p->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s, why, sizeof(why)), 1);
	assert_int_equal(s.n, 1);
	/* Beyond the limits: refused before any part is seen. */
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	lim.max_parts = 1;
	assert_int_equal(p->host.mime_walk(p->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s, why, sizeof(why)), -1);
	assert_int_equal(s.n, 0);
	assert_true(why[0] != '\0');
	plugin_free(&p);
}

static void
test_shared_walk_parses_once_for_two_plugins(void **state)
{
	static const char msg[] =
	    "Subject: parts\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"B\"\n"
	    "\n"
	    "--B\n"
	    "Content-Type: text/html; charset=utf-8\n"
	    "\n"
	    "<p>hello</p>\n"
	    "--B\n"
	    "Content-Type: application/zip; name=\"x.zip\"\n"
	    "Content-Disposition: attachment; filename=\"a.bin\"\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "AAECAw==\n"
	    "--B--\n";
	static const char bad[] =
	    "Content-Type: multipart/mixed; boundary=\"B\"\n\n"
	    "--B\n\nx\n--B\n\ny\n--B\n\nz\n--B--\n";
	struct fixture	*f = *state;
	struct hs_mime_limits lim = { 4, 10 }, small = { 4, 2 };
	struct mimecache walks;
	struct plugin	*p1 = NULL, *p2 = NULL;
	struct seen	 s1, s2;
	char		*error = NULL, why1[200] = "", why2[200] = "";

	assert_int_equal(plugin_load(f->dir, "crashtest", &p1, &error), 0);
	assert_int_equal(plugin_load(f->dir, "html", &p2, &error), 0);
	mimecache_init(&walks);
	plugin_share_walks(p1, &walks);
	plugin_share_walks(p2, &walks);

	/* The first plugin stops at the first part; the second sees all. */
	memset(&s1, 0, sizeof(s1));
	s1.stop_at = 0;
	assert_int_equal(p1->host.mime_walk(p1->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s1, why1, sizeof(why1)), 1);
	assert_int_equal(s1.n, 1);
	memset(&s2, 0, sizeof(s2));
	s2.stop_at = -1;
	assert_int_equal(p2->host.mime_walk(p2->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s2, why2, sizeof(why2)), 0);
	assert_int_equal(s2.n, 2);
	assert_string_equal(s2.types, "text/html application/zip");
	assert_string_equal(s2.names, "-:0 a.bin:1");
	assert_int_equal(s2.lens[0], 12);	/* "<p>hello</p>" */
	assert_int_equal(s2.lens[1], 4);	/* decoded */
	assert_int_equal(walks.walks, 1);	/* one GMime parse */
	assert_int_equal(walks.replays, 1);

	/* Other limits: walked afresh, and refused as mime_walk() would. */
	memset(&s2, 0, sizeof(s2));
	s2.stop_at = -1;
	assert_int_equal(p2->host.mime_walk(p2->host.host_ctx, msg,
	    sizeof(msg) - 1, &small, see_part, &s2, why2, sizeof(why2)), -1);
	assert_int_equal(s2.n, 0);
	assert_int_equal(walks.walks, 2);

	/* A refused message: the same refusal for both, no part seen. */
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	s1.stop_at = s2.stop_at = -1;
	assert_int_equal(p1->host.mime_walk(p1->host.host_ctx, bad,
	    sizeof(bad) - 1, &small, see_part, &s1, why1, sizeof(why1)), -1);
	assert_int_equal(p2->host.mime_walk(p2->host.host_ctx, bad,
	    sizeof(bad) - 1, &small, see_part, &s2, why2, sizeof(why2)), -1);
	assert_int_equal(s1.n + s2.n, 0);
	assert_true(why1[0] != '\0');
	assert_string_equal(why1, why2);
	assert_int_equal(walks.walks, 3);
	assert_int_equal(walks.replays, 2);

	/* Cleared, or not shared: each walk parses for itself again. */
	mimecache_clear(&walks);
	assert_false(walks.valid);
	assert_int_equal(walks.nparts, 0);
	plugin_share_walks(p1, NULL);
	memset(&s1, 0, sizeof(s1));
	s1.stop_at = -1;
	assert_int_equal(p1->host.mime_walk(p1->host.host_ctx, msg,
	    sizeof(msg) - 1, &lim, see_part, &s1, why1, sizeof(why1)), 0);
	assert_int_equal(s1.n, 2);
	assert_int_equal(walks.walks, 3);
	plugin_share_walks(p2, NULL);
	plugin_free(&p1);
	plugin_free(&p2);
}

static void
test_host_log_can_be_collected(void **state)
{
	struct fixture	*f = *state;
	struct plugin	*p = NULL;
	struct buf	 said = BUF_INIT;
	char		*error = NULL;

	assert_int_equal(plugin_load(f->dir, "crashtest", &p, &error), 0);
	p->capture = &said;
	p->host.log(p->host.host_ctx, 1, "cannot read %s", "/nowhere");
	p->host.log(p->host.host_ctx, 0, "loaded %d rules", 3);
	buf_reserve(&said, 0);
	assert_string_equal(said.data, "warning: cannot read /nowhere\n"
	    "loaded 3 rules\n");
	buf_free(&said);
	plugin_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_old_abi_plugin_is_refused_naming_both_versions),
		cmocka_unit_test(test_current_plugin_gets_a_host_of_this_abi),
		cmocka_unit_test(
		    test_needs_come_from_the_descriptor_when_it_has_them),
		cmocka_unit_test(test_host_mime_walk_hands_over_each_leaf_part),
		cmocka_unit_test(test_shared_walk_parses_once_for_two_plugins),
		cmocka_unit_test(test_host_log_can_be_collected),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
