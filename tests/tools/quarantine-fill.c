/*
 * NAME
 *	quarantine-fill - fill a quarantine with synthetic messages (benchmarks)
 * SYNOPSIS
 *	quarantine-fill -c config_file [-n count] [-s seed]
 * DESCRIPTION
 *	Quarantines count (default 10000) generated messages through the
 *	quarantine module, as holdscand would: a queue file per message
 *	(copied into quarantine_directory and fsync'ed by quarantine_store),
 *	indexed 200 to a transaction. Senders and recipients come from a
 *	pool of 2,000 addresses in 40 domains, one to three recipients a
 *	message; "abuse@domain0.example" is a recipient of about one message
 *	in twenty. Quarantine times are spread over the last 30 days.
 *	Prints "typical ADDRESS COUNT" and "heavy ADDRESS COUNT": a recipient
 *	with an ordinary number of messages (the mean, about 2 * count /
 *	2000) and the frequent one, each with the number of messages it is a
 *	recipient of.
 *
 *	Run it as the mail owner, on a state and quarantine directory of its
 *	own: it must never be pointed at a live holdscand's.
 * DIAGNOSTICS
 *	Exit 0, or 1 with a reason on stderr; 2 for a usage error.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "state/journal.h"
#include "common/qfile.h"
#include "quarantine/quarantine.h"
#include "state/statedb.h"
#include "common/xalloc.h"

#define POOL_DOMAINS	40
#define POOL_USERS	50
#define PER_TXN		200

static void
usage(void)
{
	fprintf(stderr, "usage: quarantine-fill -c config_file [-n count] "
	    "[-s seed]\n");
	exit(2);
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "quarantine-fill: %s: %s\n", what, why);
	exit(1);
}

static char *
address(unsigned r)
{
	static const char *const users[] = { "anna", "ben", "chris", "dora",
	    "eli", "fay", "gus", "hana", "ivo", "jo" };

	/* r < POOL_DOMAINS * POOL_USERS: ten names, five numbers, a domain */
	return (xasprintf("%s.%u@domain%u.example", users[r % 10],
	    (r / 10) % (POOL_USERS / 10), (r / POOL_USERS) % POOL_DOMAINS));
}

/* One generated queue file, as Postfix would have held it. */
static struct qfile *
message(unsigned n, unsigned *seed, unsigned *rcpt_ids, size_t *nrcpt)
{
	struct qfile_rec env[8], content[40];
	struct qfile_parts parts;
	struct qfile_error err;
	struct qfile	*qf = NULL;
	struct buf	 img = BUF_INIT, text = BUF_INIT;
	char		*s[40], *rcpts[3], tbuf[40];
	size_t		 ne = 0, nc = 0, i, ns = 0;
	time_t		 now = time(NULL);

	*nrcpt = 1 + (size_t)(rand_r(seed) % 3);
	for (i = 0; i < *nrcpt; i++) {
		rcpt_ids[i] = (unsigned)rand_r(seed) % (POOL_DOMAINS * POOL_USERS);
		if (i == 0 && rand_r(seed) % 20 == 0)
			rcpt_ids[i] = (unsigned)-1;	/* the frequent one */
		rcpts[i] = rcpt_ids[i] == (unsigned)-1 ?
		    xstrdup("abuse@domain0.example") : address(rcpt_ids[i]);
	}
	(void)snprintf(tbuf, sizeof(tbuf), "%lld 0", (long long)now);
	env[ne++] = (struct qfile_rec){ QREC_TIME, strlen(tbuf), tbuf };
	s[ns] = address((unsigned)rand_r(seed) % (POOL_DOMAINS * POOL_USERS));
	env[ne++] = (struct qfile_rec){ QREC_FROM, strlen(s[ns]), s[ns] };
	ns++;
	for (i = 0; i < *nrcpt; i++)
		env[ne++] = (struct qfile_rec){ QREC_RCPT, strlen(rcpts[i]),
		    rcpts[i] };
	s[ns++] = xasprintf("Received: from client%u.example (client [192.0.2.%u])",
	    n % 97, n % 250);
	s[ns++] = xasprintf("\tby mx.example (Postfix) with ESMTP id Q%08X", n);
	s[ns++] = xasprintf("From: <%s>", env[1].data);
	s[ns++] = xasprintf("To: <%s>", rcpts[0]);
	s[ns++] = n % 3 ? xasprintf("Subject: invoice %u attached", n) :
	    xasprintf("Subject: =?UTF-8?Q?Rechnung_Nr=2E_%u_f=C3=BCr_Sie?=", n);
	s[ns++] = xasprintf("Message-Id: <%u.%u@client.example>", n, *seed);
	s[ns++] = xstrdup("");
	for (i = 0; i < 20; i++)
		s[ns++] = xasprintf("line %zu of a message body that looks like "
		    "text, more or less, to pad it to a few kilobytes", i);
	for (i = 2; i < ns; i++)
		content[nc++] = (struct qfile_rec){ QREC_NORM, strlen(s[i]), s[i] };
	memset(&parts, 0, sizeof(parts));
	parts.env = env;
	parts.nenv = ne;
	parts.content = content;
	parts.ncontent = nc;
	parts.nfields = 6;
	if (qfile_image(&parts, &img, &err) < 0 ||
	    qfile_parse(img.data, img.len, &qf, &err) < 0)
		die("generate", err.text);
	for (i = 0; i < ns; i++)
		free(s[i]);
	for (i = 0; i < *nrcpt; i++)
		free(rcpts[i]);
	buf_free(&img);
	buf_free(&text);
	return (qf);
}

int
main(int argc, char **argv)
{
	struct hs_config *conf = NULL;
	struct statedb	*sdb = NULL;
	struct journal	*journal = NULL;
	struct quarantine *q = NULL;
	struct quarantine_entry e;
	struct buf	 img = BUF_INIT;
	struct qfile_parts parts;
	struct qfile_error err;
	const char	*path = NULL;
	DB_TXN		*txn = NULL;
	unsigned	 seed = 1, rcpt_ids[3], *counts, heavy = 0;
	char		*error = NULL, id[32], *typical;
	size_t		 n = 10000, i, k, nrcpt, best = SIZE_MAX, mean;
	time_t		 now = time(NULL);
	int		 ch, fd;

	while ((ch = getopt(argc, argv, "c:n:s:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc || n == 0)
		usage();
	if (config_load(path, NULL, NULL, &conf, &error) < 0)
		die(path, error);
	if (statedb_open_in(conf->state_directory,
	    conf->state_region_directory, &sdb, &error) < 0 ||
	    journal_open(sdb, &journal, &error) < 0 ||
	    quarantine_open(conf, sdb, getuid(), getgid(), &q, &error) < 0)
		die(conf->state_directory, error);
	counts = xcalloc(POOL_DOMAINS * POOL_USERS, sizeof(*counts));
	for (i = 0; i < n; i++) {
		struct qfile	*qf = message((unsigned)i, &seed, rcpt_ids, &nrcpt);

		/* Messages per address (an address twice in one counts once). */
		for (k = 0; k < nrcpt; k++) {
			if (k > 0 && rcpt_ids[k] == rcpt_ids[0])
				continue;
			if (k > 1 && rcpt_ids[k] == rcpt_ids[1])
				continue;
			if (rcpt_ids[k] == (unsigned)-1)
				heavy++;
			else
				counts[rcpt_ids[k]]++;
		}
		qfile_parts_of(qf, &parts);
		buf_reset(&img);
		if (qfile_image(&parts, &img, &err) < 0)
			die("image", err.text);
		if ((fd = memfd_create("fill", MFD_CLOEXEC)) < 0 ||
		    write(fd, img.data, img.len) != (ssize_t)img.len)
			die("memfd", "write failed");
		(void)snprintf(id, sizeof(id), "%05X%06zX", (unsigned)(i * 7919 %
		    0xFFFFF), i + 1);
		if (quarantine_store(q, fd, qf, id, i % 7 ? "infected" : "blocked",
		    i % 7 ? "Win.Test.EICAR_HDB-1" : "attachment invoice.pdf.exe",
		    &e, &error) < 0)
			die("store", error);
		(void)close(fd);
		qfile_free(&qf);
		e.quarantined = now - (time_t)((n - i) * (30 * 86400 / n));
		if (txn == NULL && journal_begin(journal, &txn, &error) < 0)
			die("begin", error);
		if (quarantine_index(q, txn, &e, &error) < 0)
			die("index", error);
		quarantine_entry_clear(&e);
		if ((i + 1) % PER_TXN == 0 || i + 1 == n) {
			if (journal_commit(journal, txn, &error) < 0)
				die("commit", error);
			txn = NULL;
		}
	}
	/* An ordinary recipient: the first whose count is nearest the mean. */
	mean = n * 2 / (POOL_DOMAINS * POOL_USERS);
	for (i = 0; i < POOL_DOMAINS * POOL_USERS; i++)
		if (counts[i] > 0 && (best == SIZE_MAX ||
		    labs((long)counts[i] - (long)mean) <
		    labs((long)counts[best] - (long)mean)))
			best = i;
	if (best == SIZE_MAX)
		best = 0;
	typical = address((unsigned)best);
	printf("typical %s %u\n", typical, counts[best]);
	printf("heavy abuse@domain0.example %u\n", heavy);
	free(typical);
	free(counts);
	buf_free(&img);
	quarantine_close(&q);
	journal_close(&journal);
	statedb_close(&sdb);
	config_free(&conf);
	return (0);
}
