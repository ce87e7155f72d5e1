/*
 * NAME
 *	paths - the installed paths compiled in, in one small object
 * DESCRIPTION
 *	The default configuration file, plugin directory, scanner program
 *	and notice templates, from make's SYSCONFDIR, PLUGINDIR and LIBDIR.
 *	Only this file (and the headers plugin, for its rules_file) is
 *	compiled with them, so only it is rebuilt when PREFIX changes: "make"
 *	then "make install PREFIX=/usr" recompiles this file and relinks.
 *
 *	This file must never hold anything but constant strings; other
 *	files must never use HS_SYSCONFDIR, HS_PLUGINDIR or HS_LIBEXECDIR
 *	(the build gives them to this file alone).
 */
#include "common/paths.h"

const char paths_config_file[] = HS_SYSCONFDIR "/holdscan.conf";
const char paths_sysconfdir[] = HS_SYSCONFDIR;
const char paths_plugin_directory[] = HS_PLUGINDIR;
const char paths_libexecdir[] = HS_LIBEXECDIR;
const char paths_scanner_program[] = HS_LIBEXECDIR "/holdscan-scanner";
const char paths_notify_postmaster[] = HS_SYSCONFDIR "/notify-postmaster.txt";
const char paths_notify_recipient[] = HS_SYSCONFDIR "/notify-recipient.txt";
const char paths_web_accounts[] = HS_SYSCONFDIR "/web-users";
const char paths_web_root[] = HS_WEBDIR;
const char paths_digest_key_file[] = HS_SYSCONFDIR "/digest.key";
const char paths_notify_sender[] = HS_SYSCONFDIR "/notify-sender.txt";
