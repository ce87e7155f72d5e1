/*
 * NAME
 *	fuzz_qfile - libFuzzer target for the queue-file reader and writer
 * DESCRIPTION
 *	Parses the input as a queue file. A file that parses is written back
 *	with qfile_image(); the image must parse again, hold the same logical
 *	records and envelope, and write back to the very same bytes (the
 *	round trip is stable). A refused file must come with an error code
 *	and a sentence. The same input also goes through the plain record
 *	decoder and the text splitter, whose round trips must be exact, and
 *	through the prefix reader (a farm's preview), whole and halved.
 *
 *	Any broken invariant aborts, so libFuzzer reports it as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/qfile.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_qfile: invariant broken: %s\n", what);
		abort();
	}
}

static int
same_records(const struct qfile_rec *a, size_t na, const struct qfile_rec *b,
    size_t nb)
{
	size_t	 i;

	if (na != nb)
		return (0);
	for (i = 0; i < na; i++)
		if (a[i].type != b[i].type || a[i].len != b[i].len ||
		    memcmp(a[i].data, b[i].data, a[i].len) != 0)
			return (0);
	return (1);
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0);
}

static int
same_envelope(const struct qfile *a, const struct qfile *b)
{
	size_t	 i;

	if (a->arrival_sec != b->arrival_sec ||
	    a->arrival_usec != b->arrival_usec ||
	    a->create_time != b->create_time || a->ret_flags != b->ret_flags ||
	    !same_str(a->sender, b->sender) || !same_str(a->envid, b->envid) ||
	    a->nrcpts != b->nrcpts || a->content_bytes != b->content_bytes ||
	    a->header_end != b->header_end)
		return (0);
	for (i = 0; i < a->nrcpts; i++)
		if (!same_str(a->rcpts[i].address, b->rcpts[i].address) ||
		    a->rcpts[i].state != b->rcpts[i].state ||
		    !same_str(a->rcpts[i].orig_rcpt, b->rcpts[i].orig_rcpt) ||
		    !same_str(a->rcpts[i].dsn_orcpt, b->rcpts[i].dsn_orcpt) ||
		    a->rcpts[i].dsn_notify != b->rcpts[i].dsn_notify ||
		    a->rcpts[i].extracted != b->rcpts[i].extracted)
			return (0);
	return (1);
}

static void
image(const struct qfile *qf, struct buf *out)
{
	struct qfile_parts	 parts;
	struct qfile_error	 err;

	qfile_parts_of(qf, &parts);
	check(qfile_image(&parts, out, &err) == 0, "a parsed file writes");
}

static void
fuzz_queue_file(const uint8_t *data, size_t size)
{
	struct qfile		*qf, *again;
	struct qfile_error	 err;
	struct buf		 one = BUF_INIT, two = BUF_INIT;

	if (qfile_parse(data, size, &qf, &err) < 0) {
		check(err.code != QFILE_OK && qf == NULL, "error has a code");
		check(memchr(err.text, '\0', sizeof(err.text)) != NULL &&
		    strlen(err.text) > 10, "error has a sentence");
		return;
	}
	check(qf->content_bytes >= qf->ncontent, "content_bytes");
	check(qf->header_end <= qf->ncontent, "header_end");
	image(qf, &one);
	check(qfile_parse(one.data, one.len, &again, &err) == 0,
	    "the image parses");
	check(same_records(qf->env, qf->nenv, again->env, again->nenv),
	    "same envelope records");
	check(same_records(qf->content, qf->ncontent, again->content,
	    again->ncontent), "same content records");
	check(same_records(qf->extra, qf->nextra, again->extra, again->nextra),
	    "same extracted records");
	check(same_envelope(qf, again), "same envelope fields");
	check(again->size_field[0] == again->size_field[4],
	    "content length is the data size");
	image(again, &two);
	check(one.len == two.len && memcmp(one.data, two.data, one.len) == 0,
	    "the round trip is stable");
	qfile_free(&again);
	qfile_free(&qf);
	buf_free(&one);
	buf_free(&two);
}

static void
fuzz_record_stream(const uint8_t *data, size_t size)
{
	struct qfile_rec	*recs, *back;
	struct qfile_error	 err;
	struct buf		 enc = BUF_INIT;
	size_t			 n, nback;

	if (qfile_records_decode((const char *)data, size, "NLX", &recs, &n,
	    &err) < 0) {
		check(recs == NULL && n == 0, "failed decode returns nothing");
		return;
	}
	qfile_records_encode(recs, n, &enc);
	check(enc.len <= size, "minimal encoding is not longer");
	check(qfile_records_decode(enc.data, enc.len, "NLX", &back, &nback,
	    &err) == 0, "encoded records decode");
	check(same_records(recs, n, back, nback), "same decoded records");
	free(recs);
	free(back);
	buf_free(&enc);
}

static void
fuzz_text(const uint8_t *data, size_t size)
{
	struct qfile_rec	*recs;
	struct buf		 text = BUF_INIT;
	size_t			 n, i, limit = size % 97;

	n = qfile_text_records((const char *)data, size, limit, &recs);
	for (i = 0; i < n; i++)
		check(limit == 0 || recs[i].len <= limit, "records fit limit");
	qfile_content_text(recs, n, &text);
	check(text.len == size + (size > 0 && data[size - 1] != '\n'),
	    "text length");
	check(size == 0 || memcmp(text.data, data, size) == 0, "same text");
	check(qfile_header_end(recs, n) <= n, "header end");
	free(recs);
	buf_free(&text);
}

/*
 * The input as a file's first bytes (a farm's preview): parsed or
 * refused with a reason; a file that parses whole parses as a prefix of
 * itself to the same content, and so does its first half, to no more.
 */
static void
fuzz_prefix(const uint8_t *data, size_t size)
{
	struct qfile_error err;
	struct qfile	*whole = NULL, *qf = NULL;
	uint8_t		*half;

	memset(&err, 0, sizeof(err));
	if (qfile_parse_prefix(data, size, &qf, &err) < 0) {
		check(err.code != QFILE_OK && err.text[0] != '\0',
		    "a refused prefix has a reason");
		check(qfile_parse(data, size, &whole, &err) < 0,
		    "a file that parses whole parses as a prefix");
		return;
	}
	if (qfile_parse(data, size, &whole, &err) == 0) {
		check(same_records(whole->content, whole->ncontent,
		    qf->content, qf->ncontent), "a whole file as a prefix: "
		    "the same content");
		qfile_free(&whole);
	}
	qfile_free(&qf);
	if (size < 2)
		return;
	/* A buffer of its own: a read past the half is a read past it. */
	half = malloc(size / 2);
	check(half != NULL, "malloc");
	memcpy(half, data, size / 2);
	if (qfile_parse_prefix(half, size / 2, &qf, &err) == 0) {
		check(qf->content_bytes <= size, "a half is no more");
		qfile_free(&qf);
	}
	free(half);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_queue_file(data, size);
	fuzz_prefix(data, size);
	fuzz_record_stream(data, size);
	fuzz_text(data, size);
	return (0);
}
