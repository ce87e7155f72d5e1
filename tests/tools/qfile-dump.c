/*
 * NAME
 *	qfile-dump - show a Postfix queue file as qfile(3) reads it
 * SYNOPSIS
 *	qfile-dump FILE
 * DESCRIPTION
 *	Prints, one item a line:
 *
 *	    size: F1 F2 ...		the C record's fields as read
 *	    TYPE LEN PAYLOAD		each logical record in logical order,
 *					M, X and E included, p and w not
 *	    arrival: SEC USEC
 *	    create_time: N
 *	    sender: ADDRESS
 *	    envid: ID			("-" if none)
 *	    ret_flags: N
 *	    content_bytes: N
 *	    header_end: N		content index of the header/body separator
 *	    rcpt: STATE ADDRESS orig=X dsn_orcpt=X notify=N segment=envelope|extracted
 *
 *	Payloads and strings show bytes 0x20-0x7e as themselves, except
 *	'\' as "\\"; a tab as "\t" and any other byte as "\xHH". A payload
 *	longer than 200 bytes shows its first 160 followed by
 *	"... [N more bytes]". Absent strings print as "-".
 *
 *	It must never print a byte of the file unescaped.
 * DIAGNOSTICS
 *	Exit 0; 1 with "qfile-dump: FILE: reason" on stderr for a file that
 *	cannot be opened or parsed; 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qfile.h"

#define DUMP_MAX_SIZE	(1UL << 30)
#define DUMP_LONG	200
#define DUMP_HEAD	160

static void
put_escaped(const char *s, size_t len)
{
	size_t		 i;
	unsigned char	 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

static void
put_str(const char *s)
{
	if (s == NULL)
		putchar('-');
	else
		put_escaped(s, strlen(s));
}

static void
put_rec(int type, size_t len, const char *data)
{
	printf("%c %zu ", type, len);
	if (len > DUMP_LONG) {
		put_escaped(data, DUMP_HEAD);
		printf("... [%zu more bytes]", len - DUMP_HEAD);
	} else
		put_escaped(data, len);
	putchar('\n');
}

static void
put_seg(const struct qfile_rec *recs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		put_rec(recs[i].type, recs[i].len, recs[i].data);
}

static void
dump(const struct qfile *qf)
{
	const struct qfile_rcpt	*r;
	size_t			 i;
	int			 f;

	printf("size:");
	for (f = 0; f < qf->size_nfields; f++)
		printf(" %ld", qf->size_field[f]);
	putchar('\n');
	put_seg(qf->env, qf->nenv);
	put_rec(QREC_MESG, 0, "");
	put_seg(qf->content, qf->ncontent);
	put_rec(QREC_XTRA, 0, "");
	put_seg(qf->extra, qf->nextra);
	put_rec(QREC_END, 0, "");
	printf("arrival: %ld %ld\n", qf->arrival_sec, qf->arrival_usec);
	printf("create_time: %ld\n", qf->create_time);
	printf("sender: ");
	put_str(qf->sender);
	printf("\nenvid: ");
	put_str(qf->envid);
	printf("\nret_flags: %d\n", qf->ret_flags);
	printf("content_bytes: %zu\n", qf->content_bytes);
	printf("header_end: %zu\n", qf->header_end);
	for (i = 0; i < qf->nrcpts; i++) {
		r = &qf->rcpts[i];
		printf("rcpt: %c ", r->state);
		put_str(r->address);
		printf(" orig=");
		put_str(r->orig_rcpt);
		printf(" dsn_orcpt=");
		put_str(r->dsn_orcpt);
		printf(" notify=%d segment=%s\n", r->dsn_notify,
		    r->extracted ? "extracted" : "envelope");
	}
}

int
main(int argc, char **argv)
{
	struct qfile		*qf;
	struct qfile_error	 err;
	int			 fd;

	if (argc != 2) {
		fprintf(stderr, "usage: qfile-dump FILE\n");
		return (2);
	}
	if ((fd = open(argv[1], O_RDONLY)) < 0) {
		fprintf(stderr, "qfile-dump: %s: %s\n", argv[1],
		    strerror(errno));
		return (1);
	}
	if (qfile_read_fd(fd, DUMP_MAX_SIZE, &qf, &err) < 0) {
		fprintf(stderr, "qfile-dump: %s: %s\n", argv[1], err.text);
		(void)close(fd);
		return (1);
	}
	(void)close(fd);
	dump(qf);
	qfile_free(&qf);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "qfile-dump: write error: %s\n",
		    strerror(errno));
		return (1);
	}
	return (0);
}
