/*
 * wire.h - messages between holdscand's processes: a type, a fixed-size
 * body and at most one file descriptor, over SOCK_SEQPACKET socketpairs.
 *
 * The peers are programs of the same build (holdscand, its supervisor,
 * holdscan-scanner), so bodies are plain structs; the receiver still
 * checks each body's size against its type and never trusts a string to
 * be terminated. Text too long for a body (a configuration, its errors)
 * travels in a sealed memfd (wire_memfd()).
 */
#ifndef HS_WIRE_H
#define HS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/verdict.h"

enum wire_type {
	/* master -> scanner parent */
	WIRE_SPAWN = 1,		/* no body: fork one more worker */
	WIRE_KILL,		/* struct wire_pid: SIGKILL one worker */
	WIRE_RELOAD,		/* struct wire_config + memfd: check this
				   configuration; if good, take it and
				   rebuild the plugins' state (engines) */
	/* scanner parent -> master */
	WIRE_SPAWNED,		/* struct wire_spawned + the worker's socket */
	WIRE_EXITED,		/* struct wire_exited */
	WIRE_ENGINE,		/* struct wire_engine: a generation is ready */
	/* master -> worker */
	WIRE_SCAN,		/* struct wire_scan + the queue file (read-only) */
	/* worker -> master */
	WIRE_RESULT,		/* struct wire_result [+ sealed memfd with content records] */
	/* master -> scanner supervisor */
	WIRE_START,		/* no body: start a scanner parent */
	/* scanner supervisor -> master (and WIRE_EXITED for a scanner parent) */
	WIRE_STARTED,		/* struct wire_started [+ the new parent's control socket] */
	/* master -> scanner parent, its first message */
	WIRE_CONFIG,		/* struct wire_config + memfd: the configuration
				   to start with */
	/* scanner parent -> master, for WIRE_CONFIG and WIRE_RELOAD */
	WIRE_CHECKED,		/* struct wire_checked [+ memfd: the errors] */
};

struct wire_pid {
	int32_t		 pid;
};

struct wire_spawned {
	int32_t		 pid;
	uint32_t	 generation;
};

struct wire_exited {
	int32_t		 pid;
	int32_t		 status;	/* as from waitpid() */
};

struct wire_started {
	int32_t		 pid;		/* > 0 with the socket; 0: not started */
	int32_t		 error;		/* errno when not started */
};

/*
 * A configuration for the scanner parent: the text of holdscan.conf as
 * the master read it comes in the memfd (the scanner parent checks the
 * plugin sections against the plugins, which the master cannot), and
 * Postfix's facts that scanning needs in the body.
 */
struct wire_config {
	uint32_t	 serial;	/* echoed in WIRE_CHECKED; 0 for WIRE_CONFIG */
	uint32_t	 line_limit;	/* Postfix's line_length_limit */
	char		 myhostname[256];
};

struct wire_checked {
	uint32_t	 serial;	/* of the WIRE_CONFIG or WIRE_RELOAD */
	uint32_t	 ok;		/* 0: the errors ("file:line: ...", one a
					   line) are in the memfd; nothing changed */
};

struct wire_engine {
	uint32_t	 generation;
	uint32_t	 ok;		/* 0: the reload failed, old generation stays */
	char		 info[480];	/* "clamav 1.4.6 sigs=1234; ..." or the error */
};

/*
 * The allow or deny list entry that applies to a message, looked up by
 * the master (state/listdb.c) from the queue file's envelope sender and
 * client_address: a worker never opens the lists. kind is enum
 * list_kind (common/lists.h); entry lists_describe()'s text.
 */
struct wire_list {
	int32_t		 kind;		/* 0: none, 1: allow, 2: deny */
	char		 entry[300];	/* "deny list: domain example.org (...)" */
};

struct wire_scan {
	uint64_t	 seq;
	uint64_t	 size_limit;	/* bytes; 0: none */
	uint32_t	 time_limit_ms;
	char		 queue_id[256];
	/*
	 * Appended for the lists: a body of WIRE_SCAN_MIN_SIZE bytes (a
	 * master without lists) is a message no list applies to.
	 */
	struct wire_list list;
};
#define WIRE_SCAN_MIN_SIZE	offsetof(struct wire_scan, list)
/*
 * wire_scan_check() takes a received WIRE_SCAN body of len bytes: either
 * size, the short one as no list entry; its strings terminated, an
 * unknown list kind refused. 0, or -1 (EPROTO).
 */
int	 wire_scan_check(struct wire_scan *req, size_t len);

enum wire_content {
	CONTENT_SAME = 0,	/* deliver the original content */
	CONTENT_NEW = 1,	/* memfd holds the new content as N/L records */
	/*
	 * Only header lines added: wire_result.headers holds them
	 * ("Name: value\n"...), and the master inserts them at the end of
	 * the header block of its own copy of the original (a message's
	 * bytes cross between the processes once, not three times).
	 */
	CONTENT_HEADERS = 2,
};

#define WIRE_HEADERS_SIZE	1536	/* bytes of wire_result.headers */

#define WIRE_COPY_SIZE	1024	/* bytes of wire_result.copy_to */

struct wire_result {
	uint64_t	 seq;
	int32_t		 verdict;	/* enum verdict */
	int32_t		 action;	/* enum policy_action */
	int32_t		 content;	/* enum wire_content */
	uint32_t	 scan_us;	/* time the scan took */
	uint32_t	 last;		/* the worker exits after this result */
	char		 reason[256];	/* "Eicar-Signature", "blocked name x.exe", ... */
	char		 detail[512];	/* "clamav=infected:Eicar headers=clean" */
	/*
	 * With copies_set, the copies the rules give the message (the
	 * policy's copy_<verdict> where no rule sets one): addresses,
	 * space-separated. The master adds only those its configuration
	 * lists for the verdict (ruleconf_copy_listed()), never another
	 * recipient. Without copies_set (zeroed), the policy's.
	 */
	char		 copy_to[WIRE_COPY_SIZE];
	uint32_t	 copies_set;
	uint32_t	 no_archive;	/* 1: the rules say archive = no */
	char		 headers[WIRE_HEADERS_SIZE];	/* CONTENT_HEADERS' lines */
};

/*
 * wire_send() sends one message (fd < 0: none). wire_recv() receives one
 * into body[size]; *len_r is the body length, *fd_r a received fd or -1.
 * wire_recv() returns 1 on a message, 0 on end of file, -1 on error
 * (EMSGSIZE: truncated message or descriptor, EPROTO: malformed).
 * Both retry on EINTR.
 */
int	 wire_send(int sock, enum wire_type type, const void *body, size_t len,
	    int fd);
int	 wire_recv(int sock, enum wire_type *type_r, void *body, size_t size,
	    size_t *len_r, int *fd_r);

/*
 * wire_memfd() makes a sealed (read-only for everybody) memfd holding
 * data[len], its offset at 0; -1 with errno. wire_memfd_read() reads one whole, from
 * offset 0 whoever read it before, into a NUL-terminated string (*text_r,
 * owned by the caller; a NUL inside is refused) of at most max bytes;
 * 0, or -1 with errno (EFBIG: larger, EINVAL: a NUL byte).
 */
int	 wire_memfd(const char *name, const void *data, size_t len);
/*
 * wire_fd_at() makes target a copy of fd that survives execve(2) (dup2(2)
 * clears close-on-exec, except when fd is target already); for a child
 * about to run another program. 0, or -1 with errno.
 */
int	 wire_fd_at(int fd, int target);
/*
 * wire_close_all_but() closes every descriptor from 3 up but the nkeep
 * (at most WIRE_KEEP_MAX, in any order; negative ones are ignored) in
 * keep, close-on-exec or not: for a child, so that nothing its parent
 * had open reaches it but what it is meant to have. close_range(2), or
 * what /proc/self/fd lists where the kernel has no close_range. 0, or -1
 * with errno.
 */
#define WIRE_KEEP_MAX	8
int	 wire_close_all_but(const int *keep, size_t nkeep);
/*
 * wire_loader_debug_fd() is the descriptor of the dynamic loader's
 * LD_DEBUG_OUTPUT file (NAME.PID), which ld.so goes on writing to, or
 * -1: none (no LD_DEBUG; the normal case). For a keep list, so that a
 * diagnostic run's loader lines neither stop nor land in a descriptor
 * opened later with the same number.
 */
int	 wire_loader_debug_fd(void);
int	 wire_memfd_read(int fd, size_t max, char **text_r, size_t *len_r);

#endif
