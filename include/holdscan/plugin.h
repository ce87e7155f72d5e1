/*
 * holdscan/plugin.h - the scanner plugin ABI (hs_plugin 2).
 *
 * The one header a plugin includes, and all it may use of holdscan: a
 * plugin is built on its own (-fvisibility=hidden, -Wl,--no-undefined),
 * linked with its own libraries only, and calls holdscan through
 * struct hs_host and nothing else. It exports exactly one symbol,
 * "hs_plugin", a const struct hs_plugin whose first two fields are the
 * ABI version and the struct size (the declaration at the end of this
 * file keeps it visible). The scanner program refuses a plugin built for
 * another ABI version (naming its version and the one expected), one
 * whose struct is too small, or one without the symbol.
 *
 * Life cycle, and the process each hook runs in (all of them are
 * holdscan-scanner, running as worker_user):
 *	init		scanner parent, once, before any worker is forked: read
 *			options, build shared state (e.g. a compiled engine that
 *			the workers then share copy-on-write)
 *	reload		scanner parent, on SIGHUP or when the plugin asks for it
 *			(watch_path): build new state; workers forked afterwards
 *			use it, old workers finish their message and are retired
 *	worker_init	each worker, once, after fork
 *	scan		a worker, once per message
 *	scan_part	a worker, once per MIME leaf part, only when the policy
 *			delivers a cleaned copy (optional)
 *	rewrite_part	a worker, once per text/html leaf part of a message
 *			the policy delivers with html_disarm or
 *			highlight_phishing (optional)
 *	fini		scanner parent at exit (optional)
 *
 * Plugins run with the workers' privileges (an unprivileged user), never
 * touch the queue, and are never loaded by holdscand's master or by a
 * process running as root.
 *
 * ABI history: 1, the first; 2, struct hs_host has a struct_size and the
 * MIME walk (plugins no longer link holdscan's own code); later in 2,
 * temp_directory appended to struct hs_host (HS_HOST_HAS() says whether
 * the host that loaded the plugin has it); later in 2, needs appended to
 * struct hs_plugin (what the plugin needs of the workers' sandbox; a
 * plugin built before has none: HS_PLUGIN_HAS()); later in 2, kind
 * appended after needs (HS_KIND_SPAM: a spam check, which an allow list
 * entry skips; a plugin built before is no spam check); later in 2,
 * rewrite_part appended after kind (new content for one part: HTML
 * disarmed or turned into text; a plugin built before has none); later
 * in 2, learn appended after rewrite_part (holdscan learn spam|ham);
 * later in 2, with no change to any struct, mime_walk in scan answers
 * from one walk per message shared by the plugins (see mime_walk);
 * later in 2, rewrite_flags appended to struct hs_host, flags and
 * filename to struct hs_rewrite_in, highlighted and filename to struct
 * hs_rewrite_out, with HS_REWRITE_KEEP (the policy's highlight_phishing:
 * a warning next to each suspicious link) and HS_REWRITE_RENAME (an
 * attachment's new name, for a rename rule, in deliver-cleaned); a
 * plugin reads and writes those fields only when HS_HOST_HAS(host,
 * rewrite_flags).
 *
 * Workers run under a seccomp filter (holdscand(8), SECURITY): no
 * program may be executed, no other process traced or signalled, and no
 * socket created or connected, unless a loaded plugin declares
 * HS_NEEDS_NETWORK in needs.
 */
#ifndef HS_PLUGIN_H
#define HS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define HS_PLUGIN_ABI_VERSION	2	/* bump on any incompatible change */

/* Verdicts, most severe last (same values as holdscan's enum verdict). */
enum hs_verdict {
	HS_CLEAN = 0,
	HS_SPAM = 1,
	HS_HIGH_SPAM = 2,
	HS_BLOCKED = 3,
	HS_INFECTED = 4,
	HS_FAILED = 5,		/* this plugin could not scan the message */
};

/* Option types; values are checked by the host with file and line. */
enum hs_opt_type {
	HS_OPT_STR,		/* any text */
	HS_OPT_PATH,		/* absolute path */
	HS_OPT_INT,		/* whole number >= 0 */
	HS_OPT_BOOL,		/* yes / no */
	HS_OPT_TIME,		/* "30s", "500ms": milliseconds */
	HS_OPT_SIZE,		/* "25M": bytes */
	HS_OPT_LIST,		/* comma/space separated words */
};

struct hs_plugin_option {
	const char	*name;
	enum hs_opt_type type;
	const char	*def;		/* default, as it would be written in the file */
	const char	*doc;		/* one line for holdscan.conf(5) */
};

/* The message as a worker sees it. Everything is borrowed for one call. */
struct hs_msg {
	const char	*queue_id;
	const char	*sender;	/* "" for the null sender */
	const char *const *recipients;
	size_t		 nrecipients;
	const char	*data;		/* RFC 822 message, LF line endings */
	size_t		 len;
	size_t		 header_len;	/* bytes up to and including the empty line */
};

/* One MIME leaf part, decoded (scan_part). */
struct hs_part {
	const char	*filename;	/* from Content-Disposition/Type, or NULL */
	const char	*content_type;	/* "application/zip" */
	const unsigned char *data;	/* transfer-decoded content */
	size_t		 len;
};

struct hs_result {
	enum hs_verdict	 verdict;
	char		 reason[256];	/* what was found: "Eicar-Signature" */
	double		 score;		/* spam score, when the plugin has one */
	/* header lines the plugin wants added ("X-Spam-Score: 7.1"), \n-separated */
	char		 headers[512];
};

/*
 * rewrite_part: what the host asks of one part, and the new content.
 * HS_REWRITE_DISARM: the same kind of content without what runs code;
 * HS_REWRITE_TEXT: the part as plain text.
 */
#define HS_REWRITE_DISARM	1
#define HS_REWRITE_TEXT		2
#define HS_REWRITE_KEEP		3	/* the same HTML, but what flags ask */
/*
 * HS_REWRITE_RENAME: any leaf part a scan_part hook judged blocked, in
 * deliver-cleaned: 1 with a new name in out->filename when renaming it
 * is what the plugin's rules ask (a rename rule), the content staying
 * as it is; the host then writes the part's Content-Type name= and
 * Content-Disposition filename= anew and judges the part again under
 * its new name (still blocked: removed, as any blocked part).
 */
#define HS_REWRITE_RENAME	4

/*
 * hs_rewrite_in.flags: what else the host asks, whatever how is.
 * HS_REWRITE_HIGHLIGHT_PHISHING: a visible warning next to each link
 * the plugin finds suspicious (MailScanner's "Highlight Phishing Fraud").
 */
#define HS_REWRITE_HIGHLIGHT_PHISHING	0x1u

/* One leaf part to rewrite. Everything is borrowed for one call. */
struct hs_rewrite_in {
	const char	*content_type;	/* "text/html", lower case */
	const char	*charset;	/* Content-Type charset=, or NULL */
	const unsigned char *data;	/* transfer-decoded content */
	size_t		 len;
	int		 how;		/* HS_REWRITE_DISARM, _TEXT, _KEEP or _RENAME */
	/*
	 * HS_REWRITE_* flags ORed; appended: only there when
	 * HS_HOST_HAS(host, rewrite_flags) (hs_host.rewrite_flags says which
	 * flags the host may set)
	 */
	unsigned	 flags;
	/* HS_REWRITE_RENAME: the part's name (filename=, else name=), or NULL */
	const char	*filename;
};

/*
 * The new content. data is allocated with malloc(3) by the plugin and
 * freed by the host with free(3); the host encodes it (quoted-printable)
 * and writes the part's Content-Type and Content-Transfer-Encoding
 * itself. content_type is "text/html" or "text/plain" and charset a MIME
 * charset name ("us-ascii", "utf-8"): the host refuses anything else.
 */
struct hs_rewrite_out {
	char		*data;
	size_t		 len;
	char		 content_type[32];
	char		 charset[32];
	size_t		 removed;	/* elements and attributes taken out */
	char		 reason[256];	/* why it cannot (-1), printable ASCII */
	/* links given a warning; appended, as hs_rewrite_in.flags */
	size_t		 highlighted;
	/*
	 * HS_REWRITE_RENAME: the new name, printable ASCII (the host makes
	 * it so, and refuses an empty one); appended, as highlighted
	 */
	char		 filename[256];
};

/*
 * The MIME walk (hs_host.mime_walk): the host parses an untrusted message
 * once, within bounds, and hands each leaf part to a callback. A message
 * that would exceed the bounds is refused before the first callback,
 * never walked in part.
 */
#define HS_MIME_MAX_DEPTH	32	/* hard cap of max_depth */
#define HS_MIME_MAX_PARTS	5000	/* hard cap of max_parts */

struct hs_mime_limits {
	size_t		 max_depth;	/* multipart/message nesting, 1..HS_MIME_MAX_DEPTH */
	size_t		 max_parts;	/* MIME entities (every node), 1..HS_MIME_MAX_PARTS */
};

/* One leaf part. Everything is borrowed for the duration of the callback. */
struct hs_mime_part {
	size_t		 index;		/* leaves in walk order, from 0 */
	size_t		 depth;		/* 0: the message body itself */
	const char	*content_type;	/* "application/zip", lower case */
	const char	*filename;	/* Content-Disposition filename=, or NULL */
	const char	*name;		/* Content-Type name=, or NULL */
	int		 attachment;	/* 1: Content-Disposition: attachment */
	const unsigned char *data;	/* transfer-decoded content */
	size_t		 len;
};

/* 0 to go on, 1 to stop the walk (mime_walk then returns 1). */
typedef int	(*hs_mime_part_fn)(void *arg, const struct hs_mime_part *part);

/* The host's services to plugins. */
struct hs_host {
	uint32_t	 abi_version;	/* HS_PLUGIN_ABI_VERSION of the host */
	uint32_t	 struct_size;	/* sizeof(struct hs_host) of the host */
	void		*host_ctx;
	/*
	 * One log line in the scanner program's log, prefixed with the
	 * plugin name; level: 0 info, 1 warning. Never message content.
	 */
	void		(*log)(void *host_ctx, int level, const char *fmt, ...)
			    __attribute__((format(printf, 3, 4)));
	/*
	 * option values (defaults applied), as checked against the table;
	 * a string is valid until the next reload (read them again there)
	 */
	const char	*(*opt_str)(void *host_ctx, const char *name);
	long		 (*opt_num)(void *host_ctx, const char *name);	/* INT, BOOL, TIME, SIZE */
	/* ask to be reloaded when something changes under path (inotify) */
	int		 (*watch_path)(void *host_ctx, const char *path);
	/*
	 * Walk the MIME tree of text[len] (an RFC 822 message, LF line
	 * ends) within lim, calling fn for each leaf part in order. 0 when
	 * every part was seen, 1 when fn stopped the walk, -1 with a
	 * sentence in why when the message exceeds the limits or its
	 * structure cannot be trusted. Workers only.
	 *
	 * In scan, for the message the hook was given (msg->data,
	 * msg->len), the host parses and decodes once for all the plugins
	 * scanning it: a plugin asking with the limits another plugin
	 * asked with gets the parts kept from that walk (the same parts,
	 * order, content and refusal), without a parse. Nothing changes
	 * for the plugin; the parts stay borrowed for the callback only.
	 */
	int		 (*mime_walk)(void *host_ctx, const char *text, size_t len,
			    const struct hs_mime_limits *lim, hs_mime_part_fn fn,
			    void *arg, char *why, size_t whysize);
	/*
	 * The calling process's private temporary directory: mode 0700,
	 * of the worker user, on a tmpfs nobody else can write where there
	 * is one. In a worker, the worker's own, emptied and removed when
	 * the worker ends (killed or not); in the scanner parent (init,
	 * reload) and the one-shot commands, the scanner's, removed when it
	 * stops. Temporary files go here, never to /tmp or /dev/shm. NULL
	 * when there is none. Appended in ABI 2: check with HS_HOST_HAS().
	 */
	const char	*(*temp_directory)(void *host_ctx);
	/*
	 * The HS_REWRITE_* flags this host may set in hs_rewrite_in.flags.
	 * Appended in ABI 2 (HS_HOST_HAS()): a host that has it passes
	 * hs_rewrite_in.flags and reads hs_rewrite_out.highlighted.
	 */
	uint32_t	 rewrite_flags;
};

/* Does host (any ABI 2 host) have the member field of struct hs_host? */
#define HS_HOST_HAS(host, field) \
	((host)->struct_size >= offsetof(struct hs_host, field) + \
	    sizeof((host)->field))

struct hs_plugin {
	uint32_t	 abi_version;	/* HS_PLUGIN_ABI_VERSION */
	uint32_t	 struct_size;	/* sizeof(struct hs_plugin) */
	const char	*name;		/* unique; the config section's title */
	const char	*version;
	const struct hs_plugin_option *options;	/* ends with a NULL name */

	/* 0, or -1 with a sentence in *error_r (plugin-owned, static is fine) */
	int		 (*init)(const struct hs_host *host, void **ctx_r,
			    const char **error_r);
	int		 (*reload)(void *ctx, const char **error_r);
	int		 (*worker_init)(void *ctx, const char **error_r);
	/* 0 with res filled, or -1 (treated as HS_FAILED) */
	int		 (*scan)(void *ctx, const struct hs_msg *msg,
			    struct hs_result *res);
	int		 (*scan_part)(void *ctx, const struct hs_msg *msg,
			    const struct hs_part *part, struct hs_result *res);
	/* one line for status/logs: "engine 1.4.6, 3 signatures" */
	void		 (*info)(void *ctx, char *buf, size_t size);
	void		 (*fini)(void *ctx);
	void		*spare[4];	/* must be NULL */
	/*
	 * What the plugin needs of a worker's sandbox, HS_NEEDS_* ORed (0:
	 * nothing beyond reading, writing its temporary files and computing).
	 * Appended in ABI 2: the host reads it when HS_PLUGIN_HAS(), and
	 * refuses a plugin with a bit it does not know.
	 */
	uint32_t	 needs;
	/*
	 * What kind of check the plugin is, HS_KIND_* ORed (0: none said).
	 * Appended after needs: the host reads it when HS_PLUGIN_HAS(), and
	 * ignores bits it does not know. An allow list entry skips the
	 * plugins that say HS_KIND_SPAM, and nothing else.
	 */
	uint32_t	 kind;
	/*
	 * New content for one part (optional): 1 with out filled, 0 when
	 * the part stays as it is (nothing to disarm, not a type the plugin
	 * rewrites), -1 with a sentence in out->reason when the part should
	 * change but cannot (too large, unparsable): the host then does not
	 * deliver the message as it is (holdscan.conf(5), html_disarm).
	 * Appended after kind: the host calls it when HS_PLUGIN_HAS().
	 */
	int		 (*rewrite_part)(void *ctx, const struct hs_msg *msg,
			    const struct hs_rewrite_in *in,
			    struct hs_rewrite_out *out);
	/*
	 * Teach the check what msg is, spam (1) or ham (0) (optional; run by
	 * "holdscan learn" in a one-shot process, never in a worker): 0
	 * with what happened in answer ("learnt"), or -1 with why not.
	 * Appended after rewrite_part: the host calls it when HS_PLUGIN_HAS().
	 */
	int		 (*learn)(void *ctx, const struct hs_msg *msg, int spam,
			    char *answer, size_t size);
};

/* A spam check (spamd): skipped for a sender on the allow list. */
#define HS_KIND_SPAM		0x1u
/*
 * Its rewrite_part rewrites text/html (html: html_disarm,
 * highlight_phishing); without one such plugin the host cannot.
 * Later in 2, with HS_REWRITE_RENAME: rewrite_part is no longer the
 * HTML plugins' alone.
 */
#define HS_KIND_HTML		0x2u

/* Client sockets (AF_UNIX, AF_INET, AF_INET6: socket, connect) in workers. */
#define HS_NEEDS_NETWORK	0x1u
#define HS_NEEDS_ALL		(HS_NEEDS_NETWORK)	/* known to this host */

/* The ABI 2 descriptor before needs: the smallest a host accepts. */
#define HS_PLUGIN_MIN_SIZE	offsetof(struct hs_plugin, needs)

/* Does desc (any ABI 2 plugin's) have the member field of struct hs_plugin? */
#define HS_PLUGIN_HAS(desc, field) \
	((desc)->struct_size >= offsetof(struct hs_plugin, field) + \
	    sizeof((desc)->field))

#define HS_PLUGIN_HEADER \
	.abi_version = HS_PLUGIN_ABI_VERSION, \
	.struct_size = sizeof(struct hs_plugin)

/*
 * The descriptor a plugin defines ("const struct hs_plugin hs_plugin =
 * { HS_PLUGIN_HEADER, ... };"): declared here with default visibility, so
 * that it stays the plugin's one exported symbol under -fvisibility=hidden.
 */
extern const struct hs_plugin hs_plugin __attribute__((visibility("default")));

#endif
