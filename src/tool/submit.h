/*
 * submit.h - hand one message for one recipient to Postfix's sendmail,
 * and wait for it (the holdscan tool's way; holdscand's notices are
 * asynchronous, daemon/notify.c).
 */
#ifndef HS_SUBMIT_H
#define HS_SUBMIT_H

#include <stddef.h>

#define SUBMIT_TIME_LIMIT_MS	60000

/*
 * submit_mail() runs "SENDMAIL -C config_dir -f SENDER -i -- RCPT" with
 * text on its standard input, sender and rcpt in Postfix's internal form
 * (each is given to sendmail in its external form, quoted where needed,
 * so that no address can become several: sendmail reads an argument as
 * an address list). It waits at most SUBMIT_TIME_LIMIT_MS (then kills
 * it). 0 when sendmail exited 0, or -1 with a sentence in *error_r that
 * includes sendmail's first line of output.
 */
int	 submit_mail(const char *sendmail, const char *config_dir,
	    const char *sender, const char *rcpt, const char *text,
	    size_t len, char **error_r);

#endif
