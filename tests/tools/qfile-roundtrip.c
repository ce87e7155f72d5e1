/*
 * NAME
 *	qfile-roundtrip - read a queue file and write it back through qfile(3)
 * SYNOPSIS
 *	qfile-roundtrip [-H 'Name: value']... IN OUT
 * DESCRIPTION
 *	Reads IN (at most 1 GiB), linearises it and writes it to OUT, which
 *	must not exist (O_CREAT|O_EXCL, mode 0600), with every C field
 *	recomputed. Each -H header is inserted, in the order given, at the
 *	end of the headers (before the empty line that separates them from
 *	the body); a header is split into records as Postfix stores text
 *	(one N a line, L records for parts of lines over QFILE_LINE_LIMIT).
 *	Without -H, a Postfix file without pointer records comes out byte
 *	for byte the same.
 *
 *	It must never leave a partial OUT behind: OUT is removed when
 *	writing fails.
 * DIAGNOSTICS
 *	Exit 0 on success; 1 with "qfile-roundtrip: IN: reason" (or OUT) on
 *	stderr; 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/qfile.h"
#include "common/xalloc.h"

#define RT_MAX_SIZE	(1UL << 30)

static void
usage(void)
{
	fprintf(stderr, "usage: qfile-roundtrip [-H 'Name: value']... IN OUT\n");
	exit(2);
}

/* Content with the headers' records inserted at the header end. */
static struct qfile_rec *
insert_headers(const struct qfile *qf, char **hdrs, size_t nhdrs, size_t *n_r)
{
	struct qfile_rec	*out, *recs;
	size_t			 i, n, at = qf->header_end, count = 0, total;

	total = qf->ncontent;
	out = xreallocarray(NULL, total, sizeof(*out));
	memcpy(out, qf->content, at * sizeof(*out));
	count = at;
	for (i = 0; i < nhdrs; i++) {
		n = qfile_text_records(hdrs[i], strlen(hdrs[i]),
		    QFILE_LINE_LIMIT, &recs);
		total += n;
		out = xreallocarray(out, total, sizeof(*out));
		memcpy(out + count, recs, n * sizeof(*out));
		count += n;
		free(recs);
	}
	memcpy(out + count, qf->content + at, (qf->ncontent - at) *
	    sizeof(*out));
	*n_r = total;
	return (out);
}

int
main(int argc, char **argv)
{
	struct qfile		*qf;
	struct qfile_error	 err;
	struct qfile_parts	 parts;
	struct qfile_rec	*content;
	char			**hdrs = NULL;
	size_t			 nhdrs = 0, ncontent;
	int			 ch, in, out;

	while ((ch = getopt(argc, argv, "H:")) != -1) {
		if (ch != 'H')
			usage();
		hdrs = xreallocarray(hdrs, nhdrs + 1, sizeof(*hdrs));
		hdrs[nhdrs++] = optarg;
	}
	if (argc - optind != 2)
		usage();
	const char *inpath = argv[optind], *outpath = argv[optind + 1];

	if ((in = open(inpath, O_RDONLY)) < 0) {
		fprintf(stderr, "qfile-roundtrip: %s: %s\n", inpath,
		    strerror(errno));
		return (1);
	}
	if (qfile_read_fd(in, RT_MAX_SIZE, &qf, &err) < 0) {
		fprintf(stderr, "qfile-roundtrip: %s: %s\n", inpath, err.text);
		return (1);
	}
	(void)close(in);
	content = insert_headers(qf, hdrs, nhdrs, &ncontent);
	qfile_parts_of(qf, &parts);
	parts.content = content;
	parts.ncontent = ncontent;
	if ((out = open(outpath, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		fprintf(stderr, "qfile-roundtrip: %s: %s\n", outpath,
		    strerror(errno));
		return (1);
	}
	memset(&err, 0, sizeof(err));
	if (qfile_write(out, &parts, &err) < 0 || close(out) < 0) {
		fprintf(stderr, "qfile-roundtrip: %s: %s\n", outpath,
		    err.code == QFILE_OK ? strerror(errno) : err.text);
		(void)unlink(outpath);
		return (1);
	}
	free(content);
	free(hdrs);
	qfile_free(&qf);
	return (0);
}
