/*
 * NAME
 *	test_core - unit tests for policy, wire, strmap, batch and backoff
 * DESCRIPTION
 *	The small modules holdscand's master is built from: the policy's
 *	domain rules, descriptor passing between processes (including end
 *	of file, which once left a descriptor undefined), the closing of
 *	what a child must not keep (issue 13, item 3), the hash map, the
 *	rule that decides when a batch is committed, and the pauses after
 *	failures (doubling to a minute, a reminder after five minutes, a
 *	fresh start after a success), and a heap kept between messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "commit/msg.h"
#include "daemon/backoff.h"
#include "daemon/batch.h"
#include "common/config.h"
#include "common/policy.h"
#include "common/strmap.h"
#include "common/wire.h"
#include "common/xalloc.h"

static struct hs_config *
conf_of(const char *text)
{
	struct hs_config *conf = NULL;
	char		*errors = NULL;

	if (config_load_string(text, "t.conf", NULL, NULL, &conf, &errors) < 0)
		fail_msg("%s", errors);
	return (conf);
}

static void
test_policy_default_and_domain_rules(void **state)
{
	struct hs_config *conf = conf_of("policy {\n infected = quarantine\n"
	    " spam = tag\n}\ndomain \"lab.example\" {\n infected = drop\n}\n"
	    "domain \"ok.example\" {\n infected = deliver-cleaned\n}\n");
	const char	*lab[] = { "a@lab.example", "b@LAB.example" };
	const char	*mixed[] = { "a@lab.example", "c@other.example" };
	const char	*clean[] = { "a@ok.example", "b@example.com" };
	struct policy	 p;

	(void)state;
	policy_from_config(&p, conf);
	assert_int_equal(policy_decide(&p, VERDICT_CLEAN, lab, 2), ACTION_DELIVER);
	assert_int_equal(policy_decide(&p, VERDICT_INFECTED, NULL, 0),
	    ACTION_QUARANTINE);
	/* every recipient in the domain: its rule (case-insensitive) */
	assert_int_equal(policy_decide(&p, VERDICT_INFECTED, lab, 2), ACTION_DROP);
	/* drop for some, quarantine for others: the careful one */
	assert_int_equal(policy_decide(&p, VERDICT_INFECTED, mixed, 2),
	    ACTION_QUARANTINE);
	/* deliver-cleaned vs quarantine: quarantine */
	assert_int_equal(policy_decide(&p, VERDICT_INFECTED, clean, 2),
	    ACTION_QUARANTINE);
	assert_int_equal(policy_decide(&p, VERDICT_SPAM, mixed, 2), ACTION_TAG);
	assert_int_equal(policy_decide(&p, 99, lab, 2), ACTION_HOLD);
	policy_clear(&p);
	config_free(&conf);
}

/* policy_final()'s clean callback, answering what the test asks. */
static enum policy_clean
clean_as_told(void *arg, char *why, size_t size)
{
	enum policy_clean *c = arg;

	(void)snprintf(why, size, "told %d", (int)*c);
	return (*c);
}

static void
test_policy_final_is_the_whole_decision(void **state)
{
	static const struct {
		enum verdict	 v;
		enum policy_clean clean;
		enum policy_action action, wanted;
		enum verdict	 verdict;
		const char	*why;
	} t[] = {
		/* not deliver-cleaned: policy_decide()'s, nothing tried */
		{ VERDICT_INFECTED, POLICY_CLEAN_FAILED, ACTION_QUARANTINE,
		    ACTION_QUARANTINE, VERDICT_INFECTED, "" },
		{ VERDICT_BLOCKED, POLICY_CLEANED, ACTION_CLEAN, ACTION_CLEAN,
		    VERDICT_BLOCKED, "" },
		/* cannot clean: the fallback, and why */
		{ VERDICT_BLOCKED, POLICY_CANNOT_CLEAN, ACTION_QUARANTINE,
		    ACTION_CLEAN, VERDICT_BLOCKED, "told 1" },
		/* beyond the limits: scan failed, and that verdict's action */
		{ VERDICT_BLOCKED, POLICY_CLEAN_FAILED, ACTION_HOLD,
		    ACTION_CLEAN, VERDICT_FAILED, "told 2" },
	};
	struct hs_config *conf = conf_of("policy {\n blocked = deliver-cleaned\n"
	    " infected = quarantine\n scan_failed = hold\n}\n");
	struct policy_outcome o;
	enum policy_clean c;
	struct policy	 p;
	size_t		 i;

	(void)state;
	policy_from_config(&p, conf);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = t[i].clean;
		policy_final(&p, t[i].v, NULL, 0, clean_as_told, &c, &o);
		assert_int_equal(o.action, t[i].action);
		assert_int_equal(o.wanted, t[i].wanted);
		assert_int_equal(o.verdict, t[i].verdict);
		assert_string_equal(o.why, t[i].why);
	}
	/* nothing to clean with: the fallback */
	policy_final(&p, VERDICT_BLOCKED, NULL, 0, NULL, NULL, &o);
	assert_int_equal(o.action, ACTION_QUARANTINE);
	assert_true(o.why[0] != '\0');
	policy_clear(&p);
	config_free(&conf);
}

/* The list entry appended to WIRE_SCAN: both sizes are taken. */
static void
test_wire_scan_with_and_without_a_list(void **state)
{
	struct wire_scan req, got;
	enum wire_type	 type;
	size_t		 len;
	int		 sv[2], fd = -1;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(&req, 0, sizeof(req));
	req.seq = 7;
	(void)snprintf(req.queue_id, sizeof(req.queue_id), "ABC");
	req.list.kind = 1;
	(void)snprintf(req.list.entry, sizeof(req.list.entry),
	    "allow list: sender a@b (added by root 2026-12-03)");
	assert_int_equal(wire_send(sv[0], WIRE_SCAN, &req, sizeof(req), -1), 0);
	assert_int_equal(wire_recv(sv[1], &type, &got, sizeof(got), &len, &fd),
	    1);
	assert_int_equal(wire_scan_check(&got, len), 0);
	assert_int_equal(got.list.kind, 1);
	assert_string_equal(got.list.entry, req.list.entry);
	/* A master without lists sends the short body: no entry. */
	assert_int_equal(wire_send(sv[0], WIRE_SCAN, &req, WIRE_SCAN_MIN_SIZE,
	    -1), 0);
	memset(&got, 0x55, sizeof(got));
	assert_int_equal(wire_recv(sv[1], &type, &got, sizeof(got), &len, &fd),
	    1);
	assert_int_equal(len, WIRE_SCAN_MIN_SIZE);
	assert_int_equal(wire_scan_check(&got, len), 0);
	assert_int_equal(got.seq, 7);
	assert_int_equal(got.list.kind, 0);
	assert_string_equal(got.list.entry, "");
	/* Any other size, or an unknown kind, is refused; strings end. */
	assert_int_equal(wire_scan_check(&got, WIRE_SCAN_MIN_SIZE - 1), -1);
	memset(&got, 'x', sizeof(got));
	got.list.kind = 1;
	assert_int_equal(wire_scan_check(&got, sizeof(got)), 0);
	assert_int_equal(strlen(got.list.entry), sizeof(got.list.entry) - 1);
	assert_int_equal(strlen(got.queue_id), sizeof(got.queue_id) - 1);
	got.list.kind = 3;
	assert_int_equal(wire_scan_check(&got, sizeof(got)), -1);
	close(sv[0]);
	close(sv[1]);
}

static void
test_wire_passes_a_descriptor(void **state)
{
	struct wire_scan req, got;
	enum wire_type	 type;
	struct stat	 a, b;
	size_t		 len;
	int		 sv[2], fd, r;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	memset(&req, 0, sizeof(req));
	req.seq = 42;
	(void)snprintf(req.queue_id, sizeof(req.queue_id), "ABC");
	fd = open("/dev/null", O_RDONLY);
	assert_int_equal(wire_send(sv[0], WIRE_SCAN, &req, sizeof(req), fd), 0);
	r = wire_recv(sv[1], &type, &got, sizeof(got), &len, &fd);
	assert_int_equal(r, 1);
	assert_int_equal(type, WIRE_SCAN);
	assert_int_equal(len, sizeof(got));
	assert_int_equal(got.seq, 42);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat("/dev/null", &b), 0);
	assert_int_equal(a.st_rdev, b.st_rdev);
	close(fd);
	close(sv[0]);
	/* End of file: 0, and the descriptor out-parameter is -1, not garbage. */
	fd = 12345;
	assert_int_equal(wire_recv(sv[1], &type, &got, sizeof(got), &len, &fd), 0);
	assert_int_equal(fd, -1);
	close(sv[1]);
}

/* In a child, so that the test's own descriptors stay: 0 if all is right. */
static int
close_all_but_child(void)
{
	const int	 keep[] = { 30, 21, -1, 21, 1 };
	int		 many[WIRE_KEEP_MAX + 1], fd, i;

	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return (1);
	for (i = 20; i <= 23; i++)
		if (dup2(fd, i) < 0)	/* not close-on-exec */
			return (2);
	if (dup2(fd, 30) < 0 || dup2(fd, 1000) < 0)
		return (3);
	for (i = 0; i < WIRE_KEEP_MAX + 1; i++)
		many[i] = 30;
	if (wire_close_all_but(many, WIRE_KEEP_MAX + 1) == 0 || errno != EINVAL)
		return (4);
	if (fcntl(20, F_GETFD) < 0)
		return (5);		/* refused: nothing closed */
	if (wire_close_all_but(keep, sizeof(keep) / sizeof(keep[0])) < 0)
		return (6);
	/* 0-2, 21 and 30 stay; 20, 22, 23, 1000 and fd are closed. */
	for (i = 0; i <= 2; i++)
		if (fcntl(i, F_GETFD) < 0)
			return (7);
	if (fcntl(21, F_GETFD) < 0 || fcntl(30, F_GETFD) < 0)
		return (8);
	if (fcntl(20, F_GETFD) >= 0 || fcntl(22, F_GETFD) >= 0 ||
	    fcntl(23, F_GETFD) >= 0 || fcntl(1000, F_GETFD) >= 0 ||
	    (fd != 21 && fd != 30 && fcntl(fd, F_GETFD) >= 0))
		return (9);
	return (0);
}

static void
test_wire_close_all_but_keeps_the_list_alone(void **state)
{
	pid_t	 pid;
	int	 status;

	(void)state;
	assert_true((pid = fork()) >= 0);
	if (pid == 0)
		_exit(close_all_but_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_wire_loader_debug_fd_finds_ld_so_s_file(void **state)
{
	char	 base[] = "/tmp/test_coreXXXXXX", name[64];
	int	 fd;

	(void)state;
	assert_non_null(mkdtemp(base));
	assert_int_equal(unsetenv("LD_DEBUG"), 0);
	assert_int_equal(wire_loader_debug_fd(), -1);
	(void)snprintf(name, sizeof(name), "%s/dbg.%ld", base, (long)getpid());
	assert_true((fd = open(name, O_WRONLY | O_CREAT | O_CLOEXEC,
	    0600)) >= 0);
	assert_int_equal(setenv("LD_DEBUG_OUTPUT", "x", 1), 0);
	assert_int_equal(setenv("LD_DEBUG", "files", 1), 0);
	assert_int_equal(wire_loader_debug_fd(), -1);	/* another name */
	(void)snprintf(name, sizeof(name), "%s/dbg", base);
	assert_int_equal(setenv("LD_DEBUG_OUTPUT", name, 1), 0);
	assert_int_equal(wire_loader_debug_fd(), fd);
	assert_int_equal(unsetenv("LD_DEBUG"), 0);
	assert_int_equal(unsetenv("LD_DEBUG_OUTPUT"), 0);
	assert_int_equal(close(fd), 0);
	(void)snprintf(name, sizeof(name), "%s/dbg.%ld", base, (long)getpid());
	assert_int_equal(unlink(name), 0);
	assert_int_equal(rmdir(base), 0);
}

static void
test_wire_refuses_a_truncated_message(void **state)
{
	char		 big[1024] = { 0 }, small[16];
	enum wire_type	 type;
	size_t		 len;
	int		 sv[2], fd = 7;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(wire_send(sv[0], WIRE_RESULT, big, sizeof(big), -1), 0);
	assert_int_equal(wire_recv(sv[1], &type, small, sizeof(small), &len, &fd),
	    -1);
	assert_int_equal(fd, -1);
	close(sv[0]);
	close(sv[1]);
}

static void
test_strmap_put_get_delete_grow(void **state)
{
	struct strmap	 m = STRMAP_INIT;
	char		 key[32];
	uint64_t	 v;
	const char	*k;
	size_t		 pos = 0, n = 0;
	int		 i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		(void)snprintf(key, sizeof(key), "K%d", i);
		strmap_put(&m, key, (uint64_t)i);
	}
	for (i = 0; i < 5000; i += 2) {
		(void)snprintf(key, sizeof(key), "K%d", i);
		assert_true(strmap_del(&m, key));
	}
	assert_int_equal(m.used, 2500);
	assert_true(strmap_get(&m, "K4999", &v));
	assert_int_equal(v, 4999);
	assert_false(strmap_get(&m, "K4998", NULL));
	strmap_put(&m, "K4999", 1);
	assert_true(strmap_get(&m, "K4999", &v));
	assert_int_equal(v, 1);
	while (strmap_iter(&m, &pos, &k, &v))
		n++;
	assert_int_equal(n, 2500);
	strmap_clear(&m);
	assert_false(strmap_get(&m, "K1", NULL));
}

static struct msg *
fake_msg(long now, off_t size)
{
	struct stat	 st;

	memset(&st, 0, sizeof(st));
	st.st_size = size;
	return (msg_new("ABCDEF", "hold/ABCDEF", -1, &st, now));
}

static void
test_batch_commits_when_nothing_more_is_coming(void **state)
{
	struct hs_config *conf = conf_of("batch_max_messages = 3\n"
	    "batch_max_wait = 100ms\nbatch_max_bytes = 2k\n");
	struct batch	*b = batch_new(1, 1000);

	(void)state;
	batch_add(b, fake_msg(1000, 100));
	/* undecided: never */
	assert_false(batch_ready(b, conf, 1000, false));
	batch_decided(b);
	/* a lone message goes as soon as it is decided */
	assert_true(batch_ready(b, conf, 1001, false));
	/* while more are coming it waits, up to batch_max_wait */
	assert_false(batch_ready(b, conf, 1050, true));
	assert_true(batch_ready(b, conf, 1100, true));
	assert_int_equal(batch_wait_ms(b, conf, 1050), 50);
	/* full by count */
	batch_add(b, fake_msg(1001, 100));
	batch_add(b, fake_msg(1002, 100));
	batch_decided(b);
	batch_decided(b);
	assert_true(batch_full(b, conf));
	assert_true(batch_ready(b, conf, 1003, true));
	batch_free(&b);
	assert_null(b);
	/* full by bytes */
	b = batch_new(2, 0);
	batch_add(b, fake_msg(0, 4096));
	assert_true(batch_full(b, conf));
	batch_free(&b);
	config_free(&conf);
}

static void
test_backoff_doubles_to_a_minute_reminds_and_clears(void **state)
{
	struct backoff	 b;
	long		 t = 1000000, want = 1000;
	int		 i;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_false(backoff_active(&b, t));
	for (i = 0; i < 9; i++) {
		backoff_fail(&b, "disk full.", t);
		assert_int_equal(b.pause_ms, want);
		assert_int_equal(b.until_ms, t + want);
		assert_true(backoff_active(&b, t + want - 1));
		assert_false(backoff_active(&b, t + want));
		assert_int_equal(b.count, (unsigned long)i + 1);
		assert_string_equal(b.why, "disk full.");
		t += want;
		want = want * 2 > 60000 ? 60000 : want * 2;
	}
	assert_int_equal(b.pause_ms, 60000);
	/* Warned at the first failure; reminded five minutes later. */
	assert_int_equal(b.warned_ms, 1000000);
	backoff_fail(&b, "disk full.", 1000000 + 300000);
	assert_int_equal(b.warned_ms, 1000000 + 300000);
	backoff_clear(&b);
	assert_int_equal(b.count, 0);
	assert_int_equal(b.pause_ms, 0);
	assert_string_equal(b.why, "");
	/* A new series starts from a second again. */
	backoff_fail(&b, "I/O error", t);
	assert_int_equal(b.pause_ms, 1000);
}

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_IS_GLIBCS	0	/* AddressSanitizer's allocator ignores mallopt */
#else
#define HEAP_IS_GLIBCS	1
#endif

/*
 * xalloc_keep_heap(): a block below map_from comes from the heap and the
 * heap keeps it when it is freed; with glibc's defaults the same block
 * is mapped for itself (the control, in the same child, not freed:
 * glibc would then raise its threshold past the block's size).
 */
static void
test_xalloc_keep_heap_keeps_freed_memory(void **state)
{
	struct mallinfo2 a, b;
	size_t		 big = 2 * 1024 * 1024;
	char		*p;
	pid_t		 pid;
	int		 status;

	(void)state;
	assert_int_equal(xalloc_keep_heap((size_t)1 << 40, 1), -1);
	if (!HEAP_IS_GLIBCS)
		return;	/* make check runs this file's release build too */
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		/* Defaults: mapped on its own, the heap not grown by it. */
		a = mallinfo2();
		p = xmalloc(big);
		memset(p, 1, big);
		b = mallinfo2();
		if (b.hblks != a.hblks + 1 || b.arena >= a.arena + big)
			_exit(2);
		/* Not freed: that would move glibc's own threshold past it. */
		if (xalloc_keep_heap(8 * 1024 * 1024, 4 * 1024 * 1024) < 0)
			_exit(3);
		a = mallinfo2();
		p = xmalloc(big);
		memset(p, 1, big);
		b = mallinfo2();
		if (b.hblks != a.hblks || b.arena < a.arena + big)
			_exit(4);	/* not from the heap */
		free(p);
		a = mallinfo2();
		if (a.arena != b.arena || a.fordblks < big)
			_exit(5);	/* given back */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_default_and_domain_rules),
		cmocka_unit_test(test_policy_final_is_the_whole_decision),
		cmocka_unit_test(test_wire_passes_a_descriptor),
		cmocka_unit_test(test_wire_scan_with_and_without_a_list),
		cmocka_unit_test(test_wire_refuses_a_truncated_message),
		cmocka_unit_test(test_wire_close_all_but_keeps_the_list_alone),
		cmocka_unit_test(test_wire_loader_debug_fd_finds_ld_so_s_file),
		cmocka_unit_test(test_strmap_put_get_delete_grow),
		cmocka_unit_test(test_batch_commits_when_nothing_more_is_coming),
		cmocka_unit_test(
		    test_backoff_doubles_to_a_minute_reminds_and_clears),
		cmocka_unit_test(test_xalloc_keep_heap_keeps_freed_memory),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
