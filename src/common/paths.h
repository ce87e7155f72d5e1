/*
 * paths.h - the installed paths holdscan's programs know by default.
 *
 * The only names that depend on make's PREFIX (SYSCONFDIR, PLUGINDIR,
 * LIBDIR, WEBDIR): they are compiled into paths.c alone, so that "make install
 * PREFIX=/usr" after "make" recompiles that one file and relinks.
 */
#ifndef HS_PATHS_H
#define HS_PATHS_H

extern const char paths_config_file[];		/* SYSCONFDIR/holdscan.conf */
extern const char paths_sysconfdir[];		/* SYSCONFDIR */
extern const char paths_plugin_directory[];	/* PLUGINDIR */
extern const char paths_libexecdir[];		/* LIBDIR */
extern const char paths_scanner_program[];	/* LIBDIR/holdscan-scanner */
extern const char paths_notify_postmaster[];	/* SYSCONFDIR/notify-postmaster.txt */
extern const char paths_notify_recipient[];	/* SYSCONFDIR/notify-recipient.txt */
extern const char paths_web_accounts[];		/* SYSCONFDIR/web-users */
extern const char paths_web_root[];		/* WEBDIR: the web console's files */
extern const char paths_digest_key_file[];	/* SYSCONFDIR/digest.key */
extern const char paths_notify_sender[];	/* SYSCONFDIR/notify-sender.txt */

#endif
