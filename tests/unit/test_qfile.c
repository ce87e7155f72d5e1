/*
 * NAME
 *	test_qfile - unit tests for the queue-file reader and writer
 * DESCRIPTION
 *	Queue files are assembled record by record with the qb_ helpers
 *	below, which compute the C record the way cleanup(8) does (a
 *	placeholder first, the real offsets written over it at the end),
 *	independently of qfile's writer. Files captured from a real Postfix
 *	3.7 are in tests/data/ (read relative to the current directory, the
 *	top of the tree under "make check-unit").
 *
 *	The tests must never depend on each other or on the order they run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/qfile.h"

#define DATA_DIR	"tests/data/"
#define PTR_REC_SIZE	17	/* p + 1 length byte + "%15ld" */
#define SIZE_PAYLOAD	95	/* six "%15ld" fields and five blanks */

/* A queue file under construction. */
struct qb {
	struct buf	 b;
	size_t		 m_off;		/* offset of the M record */
	size_t		 x_off;		/* offset of the X record */
	long		 nrcpt;		/* R, D and / records added */
};

/* Append one record, encoding its length as rec_put() does. */
static size_t
qb_rec(struct qb *q, int type, const void *data, size_t len)
{
	size_t	 off = q->b.len, rest = len;

	buf_putc(&q->b, type);
	do {
		buf_putc(&q->b, (int)((rest & 0x7f) | (rest > 0x7f ? 0x80 : 0)));
		rest >>= 7;
	} while (rest != 0);
	buf_append(&q->b, data, len);
	if (type == 'M')
		q->m_off = off;
	if (type == 'X')
		q->x_off = off;
	if (type == 'R' || type == 'D' || type == '/')
		q->nrcpt++;
	return (off);
}

static size_t
qb_str(struct qb *q, int type, const char *s)
{
	return (qb_rec(q, type, s, strlen(s)));
}

/* Records given as strings: the first character is the type. */
static void
qb_list(struct qb *q, const char *const *list)
{
	for (; *list != NULL; list++)
		(void)qb_str(q, (*list)[0], *list + 1);
}

static size_t
qb_ptr(struct qb *q, long target)
{
	char	 p[16];

	(void)snprintf(p, sizeof(p), "%15ld", target);
	return (qb_rec(q, 'p', p, 15));
}

static void
qb_patch_ptr(struct qb *q, size_t off, long target)
{
	char	 p[16];

	(void)snprintf(p, sizeof(p), "%15ld", target);
	memcpy(q->b.data + off + 2, p, 15);
}

/* A C record of blanks, to be filled in by qb_fix() or qb_set_size(). */
static void
qb_begin(struct qb *q)
{
	char	 blanks[SIZE_PAYLOAD];

	memset(q, 0, sizeof(*q));
	memset(blanks, ' ', sizeof(blanks));
	(void)qb_rec(q, 'C', blanks, sizeof(blanks));
}

/* Overwrite the C payload, padded with blanks to its 95 bytes. */
static void
qb_set_size(struct qb *q, const char *fmt, ...)
{
	char	 p[SIZE_PAYLOAD + 1];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && n <= SIZE_PAYLOAD);
	memset(p + n, ' ', SIZE_PAYLOAD - (size_t)n);
	memcpy(q->b.data + 2, p, SIZE_PAYLOAD);
}

/* The C record cleanup(8) would write for what was added. */
static void
qb_fix(struct qb *q)
{
	long	 data_offset = (long)q->m_off + 2;
	long	 data_size = (long)q->x_off - data_offset;

	qb_set_size(q, "%15ld %15ld %15ld %15ld %15ld %15ld", data_size,
	    data_offset, q->nrcpt, 0L, data_size, 0L);
}

/* A whole linear file from three record lists (extra may be NULL). */
static void
qb_file(struct qb *q, const char *const *env, const char *const *content,
    const char *const *extra)
{
	static const char *const none[] = { NULL };

	qb_begin(q);
	qb_list(q, env);
	(void)qb_rec(q, 'M', "", 0);
	qb_list(q, content);
	(void)qb_rec(q, 'X', "", 0);
	qb_list(q, extra != NULL ? extra : none);
	(void)qb_rec(q, 'E', "", 0);
	qb_fix(q);
}

static const char *const env_std[] = {
	"T1795430570 285997",
	"Acreate_time=1795430570",
	"Alog_ident=ABCDE12345",
	"Salice@example.org",
	"Adsn_orig_rcpt=rfc822;bob@example.net",
	"Obob@example.net",
	"Rbob@example.net",
	NULL
};

static const char *const content_std[] = {
	"NReceived: from client.example",
	"N\tby mx.example",
	"NSubject: test",
	"N",
	"NHello.",
	NULL
};

/*
 * The standard file with nptr dummy pointer records after the envelope;
 * their offsets go to ptr[].
 */
static void
qb_std_ptrs(struct qb *q, size_t nptr, size_t *ptr)
{
	size_t	 i;

	qb_begin(q);
	qb_list(q, env_std);
	for (i = 0; i < nptr; i++)
		ptr[i] = qb_ptr(q, 0);
	(void)qb_rec(q, 'M', "", 0);
	qb_list(q, content_std);
	(void)qb_rec(q, 'X', "", 0);
	(void)qb_rec(q, 'E', "", 0);
	qb_fix(q);
}

static struct qfile *
parse_ok(const struct buf *b)
{
	struct qfile		*qf = NULL;
	struct qfile_error	 err;

	memset(&err, 0, sizeof(err));
	if (qfile_parse(b->data, b->len, &qf, &err) < 0)
		fail_msg("parse failed: %s", err.text);
	assert_non_null(qf);
	return (qf);
}

/* Parse a file that must be refused; returns the error. */
static struct qfile_error
parse_err(const struct buf *b, enum qfile_errcode want)
{
	struct qfile		*qf = NULL;
	struct qfile_error	 err;

	memset(&err, 0, sizeof(err));
	assert_int_equal(qfile_parse(b->data, b->len, &qf, &err), -1);
	assert_null(qf);
	if (err.code != want)
		fail_msg("want code %d (%s), got %d: %s", want,
		    qfile_strerror(want), err.code, err.text);
	assert_true(strlen(err.text) > 20);
	assert_true(err.text[strlen(err.text) - 1] == '.');
	if (err.offset >= 0)
		assert_non_null(strstr(err.text, "offset"));
	return (err);
}

static void
read_data(const char *name, struct buf *b)
{
	char	 path[256], chunk[4096];
	ssize_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s%s", DATA_DIR, name);
	if ((fd = open(path, O_RDONLY)) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(b, chunk, (size_t)n);
	assert_int_equal(n, 0);
	(void)close(fd);
}

static void
image_of(const struct qfile *qf, struct buf *out)
{
	struct qfile_parts	 parts;
	struct qfile_error	 err;

	qfile_parts_of(qf, &parts);
	if (qfile_image(&parts, out, &err) < 0)
		fail_msg("image failed: %s", err.text);
}

/* Layout of a linear file, found by a plain sequential scan. */
struct layout {
	long	 m_off, x_off, e_off, nrcpt, nptr;
};

static void
scan_linear(const char *img, size_t len, struct layout *l)
{
	size_t		 pos = 0, dlen;
	unsigned	 shift;
	unsigned char	 c;
	int		 type;

	memset(l, 0, sizeof(*l));
	l->m_off = l->x_off = l->e_off = -1;
	while (pos < len) {
		type = (unsigned char)img[pos];
		if (type == 'M' && l->m_off < 0)
			l->m_off = (long)pos;
		if (type == 'X' && l->x_off < 0)
			l->x_off = (long)pos;
		if (type == 'E' && l->e_off < 0)
			l->e_off = (long)pos;
		l->nrcpt += type == 'R' || type == 'D' || type == '/';
		l->nptr += type == 'p' || type == 'w';
		pos++;
		for (dlen = 0, shift = 0;; shift += 7) {
			assert_true(pos < len);
			c = (unsigned char)img[pos++];
			dlen |= (size_t)(c & 0x7f) << shift;
			if ((c & 0x80) == 0)
				break;
		}
		pos += dlen;
	}
	assert_int_equal(pos, len);
}

/* The C fields of a written file against an independent computation. */
static void
assert_size_fields_right(const struct buf *img)
{
	struct layout	 l;
	struct qfile	*qf;

	scan_linear(img->data, img->len, &l);
	assert_true(l.m_off > 0 && l.x_off > l.m_off && l.e_off > l.x_off);
	assert_int_equal(l.nptr, 0);
	assert_int_equal(l.e_off + 2, (long)img->len);
	qf = parse_ok(img);
	assert_int_equal(qf->size_field[1], l.m_off + 2);
	assert_int_equal(qf->size_field[0], l.x_off - (l.m_off + 2));
	assert_int_equal(qf->size_field[2], l.nrcpt);
	assert_int_equal(qf->size_field[4], qf->size_field[0]);
	/* cleanup's fixed width: the C record is always 97 bytes */
	assert_int_equal(img->data[1], SIZE_PAYLOAD);
	qfile_free(&qf);
}

static void
assert_rec(const struct qfile_rec *r, int type, const char *data)
{
	assert_int_equal(r->type, type);
	assert_int_equal(r->len, strlen(data));
	assert_memory_equal(r->data, data, r->len);
}

static void
assert_same_records(const struct qfile_rec *a, size_t na,
    const struct qfile_rec *b, size_t nb)
{
	size_t	 i;

	assert_int_equal(na, nb);
	for (i = 0; i < na; i++) {
		assert_int_equal(a[i].type, b[i].type);
		assert_int_equal(a[i].len, b[i].len);
		assert_memory_equal(a[i].data, b[i].data, a[i].len);
	}
}

static void
assert_round_trip_identical(const struct buf *file)
{
	struct qfile	*qf = parse_ok(file);
	struct buf	 img = BUF_INIT;

	image_of(qf, &img);
	assert_int_equal(img.len, file->len);
	assert_memory_equal(img.data, file->data, file->len);
	buf_free(&img);
	qfile_free(&qf);
}

/* Parse, write, re-parse: same logical records, right C fields. */
static void
assert_linearises(const struct buf *file)
{
	struct qfile	*qf = parse_ok(file), *again;
	struct buf	 img = BUF_INIT;

	image_of(qf, &img);
	assert_size_fields_right(&img);
	again = parse_ok(&img);
	assert_same_records(qf->env, qf->nenv, again->env, again->nenv);
	assert_same_records(qf->content, qf->ncontent, again->content,
	    again->ncontent);
	assert_same_records(qf->extra, qf->nextra, again->extra, again->nextra);
	qfile_free(&again);
	qfile_free(&qf);
	buf_free(&img);
}

/* ---- round trips ------------------------------------------------------ */

static void
test_crafted_file_round_trips_byte_identical(void **state)
{
	static const char *const extra[] = { "Aencoding=7bit", NULL };
	struct qb	 q;

	(void)state;
	qb_file(&q, env_std, content_std, extra);
	assert_round_trip_identical(&q.b);
	buf_free(&q.b);
}

static void
test_held_plain_sample_round_trips_byte_identical(void **state)
{
	struct buf	 b = BUF_INIT;
	struct qfile	*qf;

	(void)state;
	read_data("held-plain.qf", &b);
	assert_round_trip_identical(&b);
	qf = parse_ok(&b);
	assert_string_equal(qf->sender, "alice@example.org");
	assert_int_equal(qf->nrcpts, 1);
	assert_string_equal(qf->rcpts[0].address, "bob@example.net");
	assert_string_equal(qf->rcpts[0].orig_rcpt, "bob@example.net");
	assert_string_equal(qf->rcpts[0].dsn_orcpt, "rfc822;bob@example.net");
	assert_int_equal(qf->arrival_sec, 1795430570);
	assert_int_equal(qf->create_time, 1795430570);
	assert_string_equal(qfile_attr(qf, "log_ident"), "492D2A7213D");
	/* C says 319 bytes of records; the RFC 822 size is what they hold */
	assert_int_equal(qf->size_field[0], 319);
	assert_int_equal(qf->content_bytes, 319 - 2 * qf->ncontent +
	    qf->ncontent);
	assert_int_equal(qf->content[qf->header_end].len, 0);
	assert_rec(&qf->content[qf->header_end + 1], 'N', "Hello Bob.");
	qfile_free(&qf);
	buf_free(&b);
}

static void
test_held_dsn_sample_round_trips_byte_identical(void **state)
{
	struct buf	 b = BUF_INIT;

	(void)state;
	read_data("held-dsn.qf", &b);
	assert_round_trip_identical(&b);
	buf_free(&b);
}

static void
test_held_dsn_sample_gives_each_recipient_its_own_qualifiers(void **state)
{
	struct buf	 b = BUF_INIT;
	struct qfile	*qf;

	(void)state;
	read_data("held-dsn.qf", &b);
	qf = parse_ok(&b);
	assert_string_equal(qf->envid, "QF-ENVID-42");
	assert_int_equal(qf->ret_flags, 2);		/* RET=HDRS */
	assert_int_equal(qf->nrcpts, 3);
	assert_string_equal(qf->rcpts[0].address, "bob@example.net");
	assert_string_equal(qf->rcpts[0].dsn_orcpt, "rfc822;bob@orig.example");
	assert_int_equal(qf->rcpts[0].dsn_notify, 2 | 4);  /* SUCCESS,FAILURE */
	assert_string_equal(qf->rcpts[1].address, "carol@example.net");
	assert_int_equal(qf->rcpts[1].dsn_notify, 1);	/* NEVER */
	assert_string_equal(qf->rcpts[2].address, "dave@example.net");
	assert_int_equal(qf->rcpts[2].dsn_notify, 0);
	assert_string_equal(qf->rcpts[2].dsn_orcpt, "rfc822;dave@example.net");
	assert_false(qf->rcpts[2].extracted);
	qfile_free(&qf);
	buf_free(&b);
}

static void
test_held_longline_sample_keeps_long_lines_as_L_records_then_N(void **state)
{
	struct buf	 b = BUF_INIT, text = BUF_INIT;
	struct qfile	*qf;
	size_t		 i, first = 0;
	const char	*line;

	(void)state;
	read_data("held-longline.qf", &b);
	assert_round_trip_identical(&b);
	qf = parse_ok(&b);
	while (qf->content[first].type != QREC_CONT)
		first++;
	for (i = first; i < first + 5; i++)
		assert_int_equal(qf->content[i].len, QFILE_LINE_LIMIT);
	assert_int_equal(qf->content[first + 5].type, QREC_NORM);
	assert_true(qf->header_end > first + 5);
	qfile_content_text(qf->content, qf->ncontent, &text);
	assert_int_equal(text.len, qf->content_bytes);
	line = strstr(text.data, "X-Long: ");
	assert_non_null(line);
	assert_int_equal(strcspn(line, "\n"), 8 + 12000);
	qfile_free(&qf);
	buf_free(&text);
	buf_free(&b);
}

static void
test_parse_keeps_its_own_copy_of_the_image(void **state)
{
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	qf = parse_ok(&q.b);
	memset(q.b.data, 'Z', q.b.len);
	buf_free(&q.b);
	assert_string_equal(qf->sender, "alice@example.org");
	assert_string_equal(qfile_attr(qf, "log_ident"), "ABCDE12345");
	assert_rec(&qf->content[2], 'N', "Subject: test");
	qfile_free(&qf);
}

/* ---- pointer records ---------------------------------------------------- */

static void
test_held_milter_sample_linearises_dummy_pointers(void **state)
{
	struct buf	 b = BUF_INIT;
	struct layout	 l;

	(void)state;
	read_data("held-milter.qf", &b);
	scan_linear(b.data, b.len, &l);
	assert_int_equal(l.nptr, 4);	/* cleanup's four dummy pointers */
	assert_linearises(&b);
	buf_free(&b);
}

static void
test_held_milter_pad_sample_drops_padding_records(void **state)
{
	struct buf	 b = BUF_INIT;
	struct qfile	*qf;
	size_t		 i;

	(void)state;
	read_data("held-milter-pad.qf", &b);
	qf = parse_ok(&b);
	for (i = 0; i < qf->ncontent; i++)
		assert_true(qf->content[i].type == 'N');
	assert_rec(&qf->content[5], 'N', "X-A: 1");
	assert_string_equal(qf->sender, "a@b.c");	/* padded with a p */
	qfile_free(&qf);
	assert_linearises(&b);
	buf_free(&b);
}

static void
test_held_milter_edit_sample_follows_pointers_into_the_heap(void **state)
{
	struct buf	 b = BUF_INIT, text = BUF_INIT;
	struct qfile	*qf;

	(void)state;
	read_data("held-milter-edit.qf", &b);
	qf = parse_ok(&b);
	assert_rec(&qf->content[0], 'N', "X-Milter-Top: inserted first");
	assert_rec(&qf->content[6], 'N',
	    "Subject: changed by milter, a rather longer subject than before");
	assert_rec(&qf->content[qf->header_end - 1], 'N',
	    "X-Milter-Tail: appended");
	qfile_content_text(qf->content + qf->header_end + 1,
	    qf->ncontent - qf->header_end - 1, &text);
	assert_string_equal(text.data,
	    "Replaced body line 1.\nReplaced body line 2.\n");
	assert_int_equal(qf->nrcpts, 2);
	assert_string_equal(qf->rcpts[1].address, "extra@example.net");
	/* field 5 (content length) differs from field 1 after a body edit */
	assert_int_not_equal(qf->size_field[0], qf->size_field[4]);
	qfile_free(&qf);
	assert_linearises(&b);
	buf_free(&text);
	buf_free(&b);
}

static void
test_dummy_pointers_are_skipped_in_every_segment(void **state)
{
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_ptr(&q, 0);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	(void)qb_ptr(&q, 0);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_ptr(&q, 0);
	(void)qb_rec(&q, 'E', "", 0);
	qb_fix(&q);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->nenv, 7);
	assert_int_equal(qf->ncontent, 5);
	assert_int_equal(qf->nextra, 0);
	qfile_free(&qf);
	assert_linearises(&q.b);
	buf_free(&q.b);
}

/*
 * As a Milter header insertion leaves it: the dummy pointer after the
 * last header points to a heap after E holding the new header and a
 * pointer back to the record after the dummy.
 */
static void
test_pointer_into_heap_after_end_inserts_a_header(void **state)
{
	struct qb	 q;
	struct qfile	*qf;
	size_t		 dummy, heap;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	(void)qb_str(&q, 'N', "Subject: test");
	dummy = qb_ptr(&q, 0);
	(void)qb_str(&q, 'N', "");
	(void)qb_str(&q, 'N', "body");
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	heap = qb_str(&q, 'N', "X-Inserted: yes");
	(void)qb_ptr(&q, (long)(dummy + PTR_REC_SIZE));
	qb_patch_ptr(&q, dummy, (long)heap);
	qb_fix(&q);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->ncontent, 4);
	assert_rec(&qf->content[1], 'N', "X-Inserted: yes");
	assert_int_equal(qf->header_end, 2);
	qfile_free(&qf);
	assert_linearises(&q.b);
	buf_free(&q.b);
}

/*
 * As a Milter header change leaves it: the old header record is
 * overwritten by a pointer, leaving a gap of stale bytes behind it.
 */
static void
test_pointer_over_a_replaced_header_skips_the_stale_gap(void **state)
{
	struct qb	 q;
	struct qfile	*qf;
	size_t		 old, after, heap;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	old = qb_str(&q, 'N', "Subject: the original subject line");
	after = qb_str(&q, 'N', "");
	(void)qb_str(&q, 'N', "body");
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	heap = qb_str(&q, 'N', "Subject: new");
	(void)qb_rec(&q, 'w', "      0", 7);
	(void)qb_ptr(&q, (long)after);
	/* overwrite the old record's start with "p" + len 15 + target */
	q.b.data[old] = 'p';
	q.b.data[old + 1] = 15;
	qb_patch_ptr(&q, old, (long)heap);
	qb_fix(&q);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->ncontent, 3);
	assert_rec(&qf->content[0], 'N', "Subject: new");
	qfile_free(&qf);
	assert_linearises(&q.b);
	buf_free(&q.b);
}

static void
test_padding_records_in_the_content_are_skipped(void **state)
{
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	(void)qb_str(&q, 'N', "X: y");
	(void)qb_str(&q, 'w', "         0");
	(void)qb_str(&q, 'N', "");
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	qb_fix(&q);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->ncontent, 2);
	assert_int_equal(qf->header_end, 1);
	qfile_free(&qf);
	assert_linearises(&q.b);
	buf_free(&q.b);
}

static void
test_pointer_just_before_X_is_followed_when_checking_data_size(void **state)
{
	struct qb	 q;
	size_t		 p;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	p = qb_ptr(&q, 0);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	/* C's data size ends at the dummy pointer, not at X itself */
	q.x_off = p;
	qb_fix(&q);
	assert_linearises(&q.b);
	buf_free(&q.b);
}

/* ---- text records -------------------------------------------------------- */

static void
test_text_records_split_long_lines_into_L_records_then_N(void **state)
{
	struct qfile_rec	*r;
	size_t			 n;

	(void)state;
	n = qfile_text_records("abcdefghij\nxy\n", 14, 4, &r);
	assert_int_equal(n, 4);
	assert_rec(&r[0], 'L', "abcd");
	assert_rec(&r[1], 'L', "efgh");
	assert_rec(&r[2], 'N', "ij");
	assert_rec(&r[3], 'N', "xy");
	free(r);
}

static void
test_text_records_keep_a_line_of_exactly_the_limit_in_one_N(void **state)
{
	struct qfile_rec	*r;
	size_t			 n;

	(void)state;
	n = qfile_text_records("abcd\nabcdefgh\n", 14, 4, &r);
	assert_int_equal(n, 3);
	assert_rec(&r[0], 'N', "abcd");
	assert_rec(&r[1], 'L', "abcd");
	assert_rec(&r[2], 'N', "efgh");
	free(r);
}

static void
test_text_records_make_a_last_line_without_newline_an_N(void **state)
{
	struct qfile_rec	*r;
	size_t			 n;

	(void)state;
	n = qfile_text_records("a\n\nlast", 7, 0, &r);
	assert_int_equal(n, 3);
	assert_rec(&r[0], 'N', "a");
	assert_rec(&r[1], 'N', "");
	assert_rec(&r[2], 'N', "last");
	free(r);
	assert_int_equal(qfile_text_records("", 0, 10, &r), 0);
	free(r);
}

static void
test_content_text_gives_back_the_text_records_came_from(void **state)
{
	static const char text[] = "H: v\n\tfolded\n\nbody line that is long\n\n";
	struct qfile_rec	*r;
	struct buf		 out = BUF_INIT;
	size_t			 n;

	(void)state;
	n = qfile_text_records(text, sizeof(text) - 1, 5, &r);
	qfile_content_text(r, n, &out);
	assert_int_equal(out.len, sizeof(text) - 1);
	assert_memory_equal(out.data, text, out.len);
	assert_int_equal(qfile_content_text_len(r, n), sizeof(text) - 1);
	/* A record of another type adds nothing, as in the text. */
	r[0].type = QREC_XTRA;	/* was the N of "H: v" */
	assert_int_equal(qfile_content_text_len(r, n),
	    sizeof(text) - 1 - r[0].len - 1);
	free(r);
	buf_free(&out);
}

static void
test_header_end_ignores_an_empty_N_that_ends_a_long_line(void **state)
{
	static const struct qfile_rec r[] = {
		{ 'N', 4, "A: b" }, { 'L', 3, "C: " }, { 'N', 0, "" },
		{ 'N', 0, "" }, { 'N', 4, "body" },
	};

	(void)state;
	assert_int_equal(qfile_header_end(r, 5), 3);
	assert_int_equal(qfile_header_end(r, 2), 2);
	assert_int_equal(qfile_header_end(r + 2, 3), 0);
}

static void
test_insert_headers_puts_lines_before_the_separator(void **state)
{
	static const char text[] = "A: b\n\nbody\n";
	static const char want[] = "A: b\nX-One: 1\nX-Two: 123456789\n\nbody\n";
	struct qfile_rec	*r, *got;
	struct buf		 out = BUF_INIT, back = BUF_INIT;
	struct qfile_error	 err;
	size_t			 n, ngot;

	(void)state;
	n = qfile_text_records(text, sizeof(text) - 1, 0, &r);
	qfile_insert_headers(r, n, qfile_header_end(r, n),
	    "X-One: 1\nX-Two: 123456789\n", 8, &out);
	assert_int_equal(qfile_records_decode(out.data, out.len, "NL", &got,
	    &ngot, &err), 0);
	qfile_content_text(got, ngot, &back);
	assert_int_equal(back.len, strlen(want));
	assert_memory_equal(back.data, want, back.len);
	/* The long line is split as Postfix does: an L record, then an N. */
	assert_int_equal(ngot, 6);
	assert_int_equal(got[2].type, 'L');
	assert_int_equal(got[3].type, 'N');
	free(got);
	buf_free(&back);
	buf_free(&out);
	/* Nothing to add, or past the end: the content as it was. */
	qfile_insert_headers(r, n, n + 5, "", 8, &out);
	assert_int_equal(qfile_records_decode(out.data, out.len, "NL", &got,
	    &ngot, &err), 0);
	qfile_content_text(got, ngot, &back);
	assert_int_equal(back.len, sizeof(text) - 1);
	assert_memory_equal(back.data, text, back.len);
	free(got);
	free(r);
	buf_free(&back);
	buf_free(&out);
}

/* ---- recipients and envelope fields ---------------------------------- */

static void
test_recipient_qualifiers_apply_to_the_next_recipient_only(void **state)
{
	static const char *const env[] = {
		"T1 0", "Sfrom@example.org",
		"Oorig1@example.net", "orfc822;dsn1@example.net", "n6",
		"Rone@example.net",
		"Rtwo@example.net",
		"Anotify_flags=8", "Adsn_orig_rcpt = rfc822;dsn3@example.net ",
		"Dthree@example.net",
		"Oorig4@example.net", "/four@example.net",
		NULL
	};
	static const char *const extra[] = {
		"n1", "Rfive@example.net", NULL
	};
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_file(&q, env, content_std, extra);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->nrcpts, 5);
	assert_string_equal(qf->rcpts[0].address, "one@example.net");
	assert_int_equal(qf->rcpts[0].state, QREC_RCPT);
	assert_string_equal(qf->rcpts[0].orig_rcpt, "orig1@example.net");
	assert_string_equal(qf->rcpts[0].dsn_orcpt, "rfc822;dsn1@example.net");
	assert_int_equal(qf->rcpts[0].dsn_notify, 6);
	assert_null(qf->rcpts[1].orig_rcpt);
	assert_null(qf->rcpts[1].dsn_orcpt);
	assert_int_equal(qf->rcpts[1].dsn_notify, 0);
	assert_int_equal(qf->rcpts[2].state, QREC_DONE);
	assert_int_equal(qf->rcpts[2].dsn_notify, 8);
	assert_string_equal(qf->rcpts[2].dsn_orcpt, "rfc822;dsn3@example.net");
	assert_int_equal(qf->rcpts[3].state, QREC_DRCP);
	assert_string_equal(qf->rcpts[3].orig_rcpt, "orig4@example.net");
	assert_true(qf->rcpts[4].extracted);
	assert_int_equal(qf->rcpts[4].dsn_notify, 1);
	assert_int_equal(q.nrcpt, 5);
	qfile_free(&qf);
	buf_free(&q.b);
}

static void
test_envelope_fields_come_from_records_and_mapped_attributes(void **state)
{
	static const char *const env[] = {
		"T1795430570 285997", "T1795430999 1",
		"c1700000000", "Acreate_time=1800000000",
		"S", "Sother@example.org",
		"iENVID-1", "Aenvelope_id=ENVID-2",
		"<1", "Aret_flags=2",
		"W            -1",
		"Rr@example.net", NULL
	};
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_file(&q, env, content_std, NULL);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->arrival_sec, 1795430570);	/* first T wins */
	assert_int_equal(qf->arrival_usec, 285997);
	assert_int_equal(qf->create_time, 1700000000);	/* first c wins */
	assert_string_equal(qf->sender, "");		/* null sender */
	assert_string_equal(qf->envid, "ENVID-2");	/* last i wins */
	assert_int_equal(qf->ret_flags, 2);		/* last < wins */
	assert_int_equal(qf->content_bytes, strlen("Received: from "
	    "client.example\n\tby mx.example\nSubject: test\n\nHello.\n"));
	qfile_free(&qf);
	buf_free(&q.b);
}

static void
test_attr_returns_the_first_value_without_surrounding_blanks(void **state)
{
	static const char *const env[] = {
		"T1 0", "S", "A  name =  value  ", "Aname=second",
		"Aempty=", NULL
	};
	static const char *const extra[] = { "Aencoding=8bit", NULL };
	struct qb	 q;
	struct qfile	*qf;

	(void)state;
	qb_file(&q, env, content_std, extra);
	qf = parse_ok(&q.b);
	assert_string_equal(qfile_attr(qf, "name"), "value");
	assert_string_equal(qfile_attr(qf, "empty"), "");
	assert_string_equal(qfile_attr(qf, "encoding"), "8bit");
	assert_null(qfile_attr(qf, "nam"));
	assert_null(qfile_attr(qf, "Subject"));
	qfile_free(&qf);
	assert_round_trip_identical(&q.b);
	buf_free(&q.b);
}

/* ---- errors ---------------------------------------------------------- */

static void
test_file_ending_inside_a_record_length_is_truncated(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	q.b.len -= 1;		/* E without its length byte */
	err = parse_err(&q.b, QFILE_ETRUNC);
	assert_int_equal(err.offset, (long)q.b.len - 1);
	buf_free(&q.b);
}

static void
test_length_running_past_the_end_of_file_is_refused(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;
	char			 want[64];

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	q.b.data[q.m_off - 1 - (long)strlen("bob@example.net")] = 0x7f;
	err = parse_err(&q.b, QFILE_EBADLEN);
	(void)snprintf(want, sizeof(want), "offset %zu claims 127 bytes",
	    q.m_off - 2 - strlen("bob@example.net"));
	assert_non_null(strstr(err.text, want));
	buf_free(&q.b);
}

static void
test_five_length_bytes_are_refused(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;
	size_t			 at;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	at = q.b.len;
	buf_append(&q.b, "A\x80\x80\x80\x80\x01", 6);
	buf_append(&q.b, "name=value", 10);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	qb_fix(&q);
	err = parse_err(&q.b, QFILE_EBADLEN);
	assert_int_equal(err.offset, (long)at);
	buf_free(&q.b);
}

static void
test_four_length_bytes_are_accepted(void **state)
{
	struct qfile_rec	*out;
	size_t			 n;
	struct qfile_error	 err;

	(void)state;
	/* length 3 written with redundant continuation bytes */
	assert_int_equal(qfile_records_decode("N\x83\x80\x80\x00" "abc", 8,
	    "N", &out, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_rec(&out[0], 'N', "abc");
	free(out);
}

static void
test_unknown_record_type_is_refused(void **state)
{
	static const char *const env[] = { "T1 0", "S", "Qquestion", NULL };
	struct qb	 q;

	(void)state;
	qb_file(&q, env, content_std, NULL);
	(void)parse_err(&q.b, QFILE_EBADTYPE);
	buf_free(&q.b);
}

static void
test_text_record_in_the_envelope_is_refused(void **state)
{
	static const char *const env[] = { "T1 0", "S", "NSubject: x", NULL };
	struct qb	 q;

	(void)state;
	qb_file(&q, env, content_std, NULL);
	(void)parse_err(&q.b, QFILE_ESEGMENT);
	buf_free(&q.b);
}

static void
test_envelope_record_in_the_content_is_refused(void **state)
{
	static const char *const content[] = { "NA: b", "Rr@example.net", NULL };
	struct qb	 q;

	(void)state;
	qb_file(&q, env_std, content, NULL);
	(void)parse_err(&q.b, QFILE_ESEGMENT);
	buf_free(&q.b);
}

static void
test_records_qmgr_does_not_expect_are_refused_outside_the_content(void **state)
{
	static const char *const bad[] = { "w   0", "Nx", "fflags", "m1",
	    "d5", "Csize", NULL };
	const char	*env[] = { "T1 0", "S", NULL, NULL };
	const char	*extra[] = { NULL, NULL };
	struct qb	 q;
	size_t		 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		env[2] = bad[i];
		qb_file(&q, env, content_std, NULL);
		(void)parse_err(&q.b, QFILE_ESEGMENT);
		buf_free(&q.b);
		extra[0] = bad[i];
		qb_file(&q, env_std, content_std, extra);
		(void)parse_err(&q.b, QFILE_ESEGMENT);
		buf_free(&q.b);
	}
}

static void
test_end_record_before_the_content_is_refused(void **state)
{
	struct qb	 q;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'E', "", 0);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	qb_fix(&q);
	(void)parse_err(&q.b, QFILE_ESEGMENT);
	buf_free(&q.b);
}

static void
test_missing_end_record_is_refused(void **state)
{
	struct qb	 q;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	q.b.len -= 2;
	(void)parse_err(&q.b, QFILE_ENOEND);
	buf_free(&q.b);
}

static void
test_file_that_does_not_start_with_C_is_refused(void **state)
{
	struct buf	 b = BUF_INIT;

	(void)state;
	(void)parse_err(&b, QFILE_ESIZE);
	buf_append(&b, "T\x03" "1 0", 5);
	(void)parse_err(&b, QFILE_ESIZE);
	buf_free(&b);
}

static void
test_pre_1_0_one_field_size_record_is_refused(void **state)
{
	struct qb	 q;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	qb_set_size(&q, "%15d", 1234);
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "1 2");
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "1 2 3 4 5 6 7");
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "1 2x 3");
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

static void
test_three_field_size_record_is_read_and_written_as_five(void **state)
{
	struct qb	 q;
	struct qfile	*qf;
	struct buf	 img = BUF_INIT;
	long		 data_size;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	data_size = (long)q.x_off - ((long)q.m_off + 2);
	qb_set_size(&q, "%ld %ld 1", data_size, (long)q.m_off + 2);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->size_nfields, 3);
	image_of(qf, &img);
	qfile_free(&qf);
	qf = parse_ok(&img);
	assert_int_equal(qf->size_nfields, 5);
	assert_int_equal(qf->size_field[4], qf->size_field[0]);
	qfile_free(&qf);
	buf_free(&img);
	buf_free(&q.b);
}

static void
test_data_offset_that_misses_the_M_record_is_refused(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;
	long			 off, size;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	off = (long)q.m_off + 2;
	size = (long)q.x_off - off;
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", size + 2, off - 2, size);
	err = parse_err(&q.b, QFILE_ESIZE);
	assert_int_equal(err.offset, off - 4);
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", size, off + 1, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

static void
test_data_size_that_misses_the_X_record_is_refused(void **state)
{
	struct qb	 q;
	long		 off, size;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	off = (long)q.m_off + 2;
	size = (long)q.x_off - off;
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", size - 1, off, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", size + 1000, off, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", 0L, off, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "%ld %ld 1 0 %ld 0", size, off, -1L);
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

/* An X record inside the content (where C does not put it) is refused. */
static void
test_X_record_before_the_end_of_the_data_is_refused(void **state)
{
	struct qb	 q;
	size_t		 x;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_str(&q, 'N', "more");
	x = qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	q.x_off = x;
	qb_fix(&q);
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

static void
test_qmgr_flags_outside_0x1f_are_refused(void **state)
{
	struct qb	 q;
	struct qfile	*qf;
	long		 off, size;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	off = (long)q.m_off + 2;
	size = (long)q.x_off - off;
	qb_set_size(&q, "%ld %ld 1 31 %ld 0", size, off, size);
	qf = parse_ok(&q.b);
	assert_int_equal(qf->size_field[3], 31);
	qfile_free(&qf);
	qb_set_size(&q, "%ld %ld 1 32 %ld 0", size, off, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	qb_set_size(&q, "%ld %ld 1 -1 %ld 0", size, off, size);
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

static void
test_content_without_text_records_is_refused(void **state)
{
	struct qb	 q;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	(void)qb_ptr(&q, 0);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_rec(&q, 'E', "", 0);
	qb_fix(&q);
	(void)parse_err(&q.b, QFILE_ESIZE);
	buf_free(&q.b);
}

static void
test_pointer_loop_is_refused(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;
	size_t			 p[2];

	(void)state;
	qb_std_ptrs(&q, 2, p);
	qb_patch_ptr(&q, p[1], (long)p[0]);	/* p0 -> p1 -> p0 ... */
	err = parse_err(&q.b, QFILE_EPTR);
	assert_non_null(strstr(err.text, "loop"));
	qb_patch_ptr(&q, p[0], (long)p[0]);	/* p0 -> p0 */
	(void)parse_err(&q.b, QFILE_EPTR);
	buf_free(&q.b);
}

static void
test_pointer_past_the_end_of_file_is_refused(void **state)
{
	struct qb		 q;
	struct qfile_error	 err;
	size_t			 p;

	(void)state;
	qb_std_ptrs(&q, 1, &p);
	qb_patch_ptr(&q, p, (long)q.b.len);
	err = parse_err(&q.b, QFILE_EPTR);
	assert_int_equal(err.offset, (long)p);
	qb_patch_ptr(&q, p, 999999999999999L);
	(void)parse_err(&q.b, QFILE_EPTR);
	qb_patch_ptr(&q, p, 50);		/* inside the C record */
	(void)parse_err(&q.b, QFILE_EPTR);
	buf_free(&q.b);
}

static void
test_pointer_into_the_middle_of_a_record_is_refused(void **state)
{
	struct qb	 q;
	size_t		 p;

	(void)state;
	qb_std_ptrs(&q, 1, &p);
	/* into "1795430570 285997": '7' is not a record type */
	qb_patch_ptr(&q, p, 100);
	(void)parse_err(&q.b, QFILE_EBADTYPE);
	buf_free(&q.b);
}

static void
test_malformed_pointer_payload_is_refused(void **state)
{
	struct qb	 q;
	size_t		 p;

	(void)state;
	qb_std_ptrs(&q, 1, &p);
	q.b.data[p + 2 + 14] = 'x';
	(void)parse_err(&q.b, QFILE_EBADREC);
	q.b.data[p + 2 + 14] = '-';
	(void)parse_err(&q.b, QFILE_EBADREC);
	buf_free(&q.b);
}

static void
test_missing_arrival_time_is_refused(void **state)
{
	static const char *const env[] = { "Sa@example.org", "T0 5", NULL };
	struct qb	 q;

	(void)state;
	qb_file(&q, env, content_std, NULL);
	(void)parse_err(&q.b, QFILE_EMISSING);
	buf_free(&q.b);
}

static void
test_missing_sender_is_refused(void **state)
{
	static const char *const env[] = { "T1 0", "Rr@example.net", NULL };
	struct qb		 q;
	struct qfile_error	 err;

	(void)state;
	qb_file(&q, env, content_std, NULL);
	err = parse_err(&q.b, QFILE_EMISSING);
	assert_non_null(strstr(err.text, "sender"));
	buf_free(&q.b);
}

static void
test_malformed_payloads_are_refused(void **state)
{
	static const char *const bad[] = {
		"T", "Tnow", "T1 2 3", "T-1 0",
		"Wsoon", "W",
		"n0", "n16", "n3", "nx",
		"<3", "<0", "<",
		"Anovalue", "A=value", "Anotify_flags=99", "Aret_flags=x",
		NULL
	};
	const char	*env[] = { "T1 0", "S", NULL, NULL };
	struct qb	 q;
	size_t		 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		env[2] = bad[i];
		qb_file(&q, env, content_std, NULL);
		(void)parse_err(&q.b, QFILE_EBADREC);
		buf_free(&q.b);
	}
}

static void
test_non_empty_X_or_E_record_is_refused(void **state)
{
	struct qb	 q;

	(void)state;
	qb_begin(&q);
	qb_list(&q, env_std);
	(void)qb_rec(&q, 'M', "", 0);
	qb_list(&q, content_std);
	(void)qb_rec(&q, 'X', "", 0);
	(void)qb_str(&q, 'E', "junk");
	qb_fix(&q);
	(void)parse_err(&q.b, QFILE_EBADREC);
	buf_free(&q.b);
}

static void
test_read_fd_refuses_a_file_over_the_limit(void **state)
{
	struct qb		 q;
	struct qfile		*qf;
	struct qfile_error	 err;
	char			 path[] = "/tmp/test_qfile.XXXXXX";
	int			 fd;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	assert_true((fd = mkstemp(path)) >= 0);
	(void)unlink(path);
	assert_int_equal(write(fd, q.b.data, q.b.len), (ssize_t)q.b.len);
	assert_int_equal(qfile_read_fd(fd, q.b.len - 1, &qf, &err), -1);
	assert_int_equal(err.code, QFILE_ETOOBIG);
	assert_null(qf);
	assert_int_equal(qfile_read_fd(fd, q.b.len, &qf, &err), 0);
	/* pread leaves the file offset where the caller had it */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)q.b.len);
	qfile_free(&qf);
	assert_null(qf);
	(void)close(fd);
	buf_free(&q.b);
}

/*
 * qfile_read_fd_stat() trusts the caller's fstat() for the first read
 * only: a file that grew since is read to its new end, one that shrank
 * to its real end, and the message is the same.
 */
static void
test_read_fd_stat_reads_to_the_end_whatever_st_said(void **state)
{
	struct qb		 q;
	struct qfile		*qf;
	struct qfile_error	 err;
	struct stat		 st, big;
	char			 path[] = "/tmp/test_qfile.XXXXXX";
	size_t			 half;
	int			 fd;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	half = q.b.len / 2;
	assert_true((fd = mkstemp(path)) >= 0);
	(void)unlink(path);
	assert_int_equal(write(fd, q.b.data, half), (ssize_t)half);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(write(fd, q.b.data + half, q.b.len - half),
	    (ssize_t)(q.b.len - half));
	/* grew after the fstat */
	assert_int_equal(qfile_read_fd_stat(fd, &st, 1 << 20, &qf, &err), 0);
	assert_string_equal(qf->sender, "alice@example.org");
	assert_int_equal(qf->nrcpts, 1);
	qfile_free(&qf);
	/* the fstat said more than there is */
	big = st;
	big.st_size = (off_t)q.b.len + 100;
	assert_int_equal(qfile_read_fd_stat(fd, &big, 1 << 20, &qf, &err), 0);
	assert_string_equal(qf->sender, "alice@example.org");
	qfile_free(&qf);
	/* exactly right: the one pread that comes back short ends it */
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(qfile_read_fd_stat(fd, &st, 1 << 20, &qf, &err), 0);
	assert_string_equal(qf->sender, "alice@example.org");
	qfile_free(&qf);
	/* the limit is checked against what st says */
	assert_int_equal(qfile_read_fd_stat(fd, &big, q.b.len, &qf, &err), -1);
	assert_int_equal(err.code, QFILE_ETOOBIG);
	assert_null(qf);
	(void)close(fd);
	buf_free(&q.b);
}

static void
test_read_fd_reports_a_read_error_with_errno(void **state)
{
	struct qfile		*qf;
	struct qfile_error	 err;
	int			 fd;

	(void)state;
	assert_true((fd = open("/", O_RDONLY | O_DIRECTORY)) >= 0);
	assert_int_equal(qfile_read_fd(fd, 1 << 20, &qf, &err), -1);
	assert_int_equal(err.code, QFILE_EIO);
	assert_int_equal(err.sys_errno, EISDIR);
	(void)close(fd);
}

/* /proc files report size 0: the reader must grow its buffer, and stop. */
static void
test_read_fd_reads_a_file_whose_size_is_not_known_in_advance(void **state)
{
	struct qfile		*qf;
	struct qfile_error	 err;
	int			 fd;

	(void)state;
	assert_true((fd = open("/proc/self/smaps", O_RDONLY)) >= 0);
	assert_int_equal(qfile_read_fd(fd, 5000, &qf, &err), -1);
	assert_int_equal(err.code, QFILE_ETOOBIG);
	assert_int_equal(qfile_read_fd(fd, 1 << 24, &qf, &err), -1);
	assert_int_equal(err.code, QFILE_ESIZE);	/* read, not a queue file */
	(void)close(fd);
}

static void
test_every_error_code_has_a_name(void **state)
{
	int	 c;

	(void)state;
	for (c = QFILE_OK; c <= QFILE_EBADREC; c++)
		assert_string_not_equal(qfile_strerror(c), "unknown error");
	assert_string_equal(qfile_strerror(99), "unknown error");
}

/* ---- writer ---------------------------------------------------------- */

static void
parts_std(struct qfile_parts *p, struct qfile_rec *env, size_t nenv,
    struct qfile_rec *content, size_t ncontent)
{
	memset(p, 0, sizeof(*p));
	p->env = env;
	p->nenv = nenv;
	p->content = content;
	p->ncontent = ncontent;
	p->nfields = 6;
}

static void
image_err(const struct qfile_parts *p, enum qfile_errcode want)
{
	struct buf		 out = BUF_INIT;
	struct qfile_error	 err;

	assert_int_equal(qfile_image(p, &out, &err), -1);
	if (err.code != want)
		fail_msg("want %s, got: %s", qfile_strerror(want), err.text);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_writer_refuses_structural_and_pointer_records_in_parts(void **state)
{
	static const int bad[] = { 'C', 'M', 'X', 'E', 'p', 'w' };
	struct qfile_rec	 env[] = { { 'T', 3, "1 0" }, { 'S', 0, "" },
				    { 0, 0, "" } };
	struct qfile_rec	 content[] = { { 'N', 1, "a" }, { 0, 0, "" } };
	struct qfile_parts	 p;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env[2].type = bad[i];
		parts_std(&p, env, 3, content, 1);
		image_err(&p, QFILE_ESEGMENT);
		content[1].type = bad[i];
		parts_std(&p, env, 2, content, 2);
		image_err(&p, QFILE_ESEGMENT);
		p.extra = &env[2];
		p.nextra = 1;
		p.ncontent = 1;
		image_err(&p, QFILE_ESEGMENT);
	}
}

static void
test_writer_refuses_records_in_the_wrong_segment(void **state)
{
	struct qfile_rec	 env[] = { { 'T', 3, "1 0" }, { 'S', 0, "" },
				    { 'N', 1, "x" } };
	struct qfile_rec	 content[] = { { 'N', 1, "a" },
				    { 'R', 1, "r" } };
	struct qfile_parts	 p;

	(void)state;
	parts_std(&p, env, 3, content, 1);
	image_err(&p, QFILE_ESEGMENT);
	parts_std(&p, env, 2, content, 2);
	image_err(&p, QFILE_ESEGMENT);
	env[2].type = 0x01;
	parts_std(&p, env, 3, content, 1);
	image_err(&p, QFILE_EBADTYPE);
}

static void
test_writer_refuses_what_qmgr_would_refuse(void **state)
{
	struct qfile_rec	 env[] = { { 'T', 3, "1 0" }, { 'S', 0, "" },
				    { 'n', 2, "99" } };
	struct qfile_rec	 content[] = { { 'N', 1, "a" } };
	struct qfile_parts	 p;

	(void)state;
	parts_std(&p, env, 3, content, 1);
	image_err(&p, QFILE_EBADREC);
	parts_std(&p, env, 1, content, 1);
	image_err(&p, QFILE_EMISSING);		/* no S */
	parts_std(&p, env + 1, 1, content, 1);
	image_err(&p, QFILE_EMISSING);		/* no T */
	parts_std(&p, env, 2, content, 0);
	image_err(&p, QFILE_ESIZE);		/* no content */
	parts_std(&p, env, 2, content, 1);
	p.flags = 0x20;
	image_err(&p, QFILE_ESIZE);
	parts_std(&p, env, 2, content, 1);
	p.nfields = 4;
	image_err(&p, QFILE_ESIZE);
	parts_std(&p, env, 2, content, 1);
	content[0].len = QFILE_REC_MAX + 1;	/* never read: refused first */
	image_err(&p, QFILE_EBADLEN);
}

/*
 * A 5000-byte header inserted at the header end of a Milter-edited file:
 * three records (L 2048, L 2048, N 904) of 2051 + 2051 + 907 bytes.
 */
static void
test_inserting_a_header_via_parts_gives_correct_size_fields(void **state)
{
	struct buf		 b = BUF_INIT, img0 = BUF_INIT, img = BUF_INIT;
	struct qfile		*qf, *before, *after;
	struct qfile_parts	 p;
	struct qfile_rec	*hdr, *content;
	struct qfile_error	 err;
	size_t			 nhdr, n, at;
	char			 longhdr[5001];

	(void)state;
	read_data("held-milter-edit.qf", &b);
	qf = parse_ok(&b);
	memset(longhdr, 'h', sizeof(longhdr) - 1);
	memcpy(longhdr, "X-Long: ", 8);
	longhdr[5000] = '\0';
	nhdr = qfile_text_records(longhdr, 5000, QFILE_LINE_LIMIT, &hdr);
	assert_int_equal(nhdr, 3);
	at = qf->header_end;
	n = qf->ncontent + nhdr;
	content = calloc(n, sizeof(*content));
	assert_non_null(content);
	memcpy(content, qf->content, at * sizeof(*content));
	memcpy(content + at, hdr, nhdr * sizeof(*content));
	memcpy(content + at + nhdr, qf->content + at,
	    (qf->ncontent - at) * sizeof(*content));
	image_of(qf, &img0);
	qfile_parts_of(qf, &p);
	p.content = content;
	p.ncontent = n;
	assert_int_equal(qfile_image(&p, &img, &err), 0);
	assert_size_fields_right(&img);
	before = parse_ok(&img0);
	after = parse_ok(&img);
	assert_int_equal(after->size_field[0],
	    before->size_field[0] + 2051 + 2051 + 907);
	assert_int_equal(after->size_field[1], before->size_field[1]);
	assert_int_equal(after->size_field[2], 2);
	assert_int_equal(after->header_end, qf->header_end + nhdr);
	assert_int_equal(after->content_bytes, qf->content_bytes + 5001);
	assert_rec(&after->content[at + 2], 'N', longhdr + 4096);
	qfile_free(&after);
	qfile_free(&before);
	qfile_free(&qf);
	free(content);
	free(hdr);
	buf_free(&img);
	buf_free(&img0);
	buf_free(&b);
}

static void
test_writer_emits_five_fields_when_asked(void **state)
{
	struct qb	 q;
	struct qfile	*qf;
	struct buf	 img = BUF_INIT;
	struct qfile_parts p;
	struct qfile_error err;

	(void)state;
	qb_file(&q, env_std, content_std, NULL);
	qf = parse_ok(&q.b);
	qfile_parts_of(qf, &p);
	p.nfields = 5;
	p.sendopts = 7;
	assert_int_equal(qfile_image(&p, &img, &err), 0);
	assert_int_equal(img.data[1], 79);
	qfile_free(&qf);
	qf = parse_ok(&img);
	assert_int_equal(qf->size_nfields, 5);
	qfile_free(&qf);
	buf_free(&img);
	buf_free(&q.b);
}

/* qfile_write() to a temporary file; what landed in it goes to back. */
static void
write_via_fd(const struct qfile_parts *p, struct buf *back)
{
	struct qfile_error	 err;
	char			 path[] = "/tmp/test_qfile.XXXXXX", chunk[65536];
	ssize_t			 n;
	int			 fd;

	assert_true((fd = mkstemp(path)) >= 0);
	(void)unlink(path);
	if (qfile_write(fd, p, &err) < 0)
		fail_msg("write failed: %s", err.text);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(back, chunk, (size_t)n);
	assert_int_equal(n, 0);
	(void)close(fd);
}

static void
test_write_to_fd_gives_the_same_bytes_as_image(void **state)
{
	struct buf		 b = BUF_INIT, img = BUF_INIT, back = BUF_INIT;
	struct qfile		*qf;
	struct qfile_parts	 p;
	struct qfile_error	 err;
	int			 fd;

	(void)state;
	read_data("held-longline.qf", &b);
	qf = parse_ok(&b);
	qfile_parts_of(qf, &p);
	write_via_fd(&p, &back);
	image_of(qf, &img);
	assert_int_equal(back.len, img.len);
	assert_memory_equal(back.data, img.data, img.len);
	assert_memory_equal(back.data, b.data, b.len);
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	(void)close(fd);
	assert_int_equal(qfile_write(fd, &p, &err), -1);
	assert_int_equal(err.code, QFILE_EIO);
	assert_int_equal(err.sys_errno, EBADF);
	qfile_free(&qf);
	buf_free(&back);
	buf_free(&img);
	buf_free(&b);
}

/* Over 64 KiB: the writer flushes in chunks. */
static void
test_write_to_fd_of_a_large_message_gives_the_same_bytes_as_image(void **state)
{
	static char		 text[300000];
	struct qfile_rec	 env[] = { { 'T', 3, "1 0" }, { 'S', 0, "" } };
	struct qfile_rec	*content;
	struct qfile_parts	 p;
	struct qfile_error	 err;
	struct buf		 img = BUF_INIT, back = BUF_INIT;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(text); i++)
		text[i] = i % 71 == 70 ? '\n' : (char)('a' + i % 26);
	parts_std(&p, env, 2, NULL, 0);
	p.ncontent = qfile_text_records(text, sizeof(text), 50, &content);
	p.content = content;
	assert_int_equal(qfile_image(&p, &img, &err), 0);
	assert_size_fields_right(&img);
	write_via_fd(&p, &back);
	assert_int_equal(back.len, img.len);
	assert_memory_equal(back.data, img.data, img.len);
	free(content);
	buf_free(&back);
	buf_free(&img);
}

/* ---- plain record streams -------------------------------------------- */

static void
test_records_encode_then_decode_round_trip(void **state)
{
	static char big[20000];
	struct qfile_rec	 in[5] = {
		{ 'N', 0, "" }, { 'L', 127, big }, { 'N', 128, big },
		{ 'N', 16383, big }, { 'N', 16384, big },
	};
	struct qfile_rec	*out;
	struct buf		 b = BUF_INIT;
	struct qfile_error	 err;
	size_t			 n;

	(void)state;
	memset(big, 'z', sizeof(big));
	qfile_records_encode(in, 5, &b);
	assert_int_equal(b.len, 2 + 2 + 127 + 3 + 128 + 3 + 16383 + 4 + 16384);
	assert_int_equal(qfile_records_decode(b.data, b.len, "NL", &out, &n,
	    &err), 0);
	assert_same_records(in, 5, out, n);
	free(out);
	assert_int_equal(qfile_records_decode(b.data, 0, "NL", &out, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	free(out);
	buf_free(&b);
}

static void
test_records_decode_refuses_types_not_listed(void **state)
{
	struct qfile_rec	*out;
	struct qfile_error	 err;
	size_t			 n;

	(void)state;
	assert_int_equal(qfile_records_decode("N\x01" "aR\x01" "b", 6, "N",
	    &out, &n, &err), -1);
	assert_int_equal(err.code, QFILE_ESEGMENT);
	assert_int_equal(err.offset, 3);
	assert_null(out);
	assert_int_equal(qfile_records_decode("\x00\x00", 2, "N", &out, &n,
	    &err), -1);
	assert_int_equal(err.code, QFILE_EBADTYPE);
	assert_int_equal(qfile_records_decode("N\x05" "ab", 4, "N", &out, &n,
	    &err), -1);
	assert_int_equal(err.code, QFILE_EBADLEN);
	assert_int_equal(qfile_records_decode("N\x85", 2, "N", &out, &n,
	    &err), -1);
	assert_int_equal(err.code, QFILE_ETRUNC);
}

/* --- qfile_content_check(): content from a worker ------------------------ */

#define R(t, s)		{ (t), sizeof(s) - 1, (s) }

/* The original: 8-bit text, a long line in L+N, a sender's bare CR, no final newline. */
static const struct qfile_rec ck_orig[] = {
	R('N', "From: a@example.org"),
	R('N', "Subject: caf\xc3\xa9"),
	R('N', "X-Long: 0123456789"),
	R('L', "Received: from x"),
	R('N', " by y"),
	R('N', ""),
	R('N', "body \xe9\xe8 line"),
	R('N', "bare\rCR from the sender"),
	R('L', "0123456789abcdef"),
	R('N', "tail"),
	R('N', "no final newline"),
};
#define CK_NORIG	(sizeof(ck_orig) / sizeof(ck_orig[0]))
#define CK_LIMIT	16

static int
ck(const struct qfile_rec *r, size_t n, char *why)
{
	return (qfile_content_check(r, n, ck_orig, CK_NORIG, CK_LIMIT,
	    1000, why, 200));
}

static void
test_content_check_passes_the_original_and_a_scanned_copy(void **state)
{
	static const struct qfile_rec scanned[] = {
		R('N', "X-Holdscan: clean"),
		R('N', "From: a@example.org"),
		R('N', "Subject: [SPAM] caf\xc3\xa9"),
		R('L', "Received: from x"),
		R('N', " by y"),
		R('N', ""),
		R('N', "body \xe9\xe8 line"),
		R('N', "bare\rCR from the sender"),
		R('L', "0123456789abcdef"),
		R('N', "tail"),
		R('N', "no final newline"),
	};
	static const struct qfile_rec headers_only[] = {
		R('N', "From: a@example.org"),
		R('N', "\tcontinued"),
	};
	char	 why[200] = "";

	(void)state;
	assert_int_equal(ck(ck_orig, CK_NORIG, why), 0);
	assert_int_equal(ck(scanned, sizeof(scanned) / sizeof(scanned[0]),
	    why), 0);
	assert_int_equal(ck(headers_only, 2, why), 0);
}

static void
test_content_check_refuses_smtp_smuggled_in_a_record(void **state)
{
	static const struct qfile_rec r[] = {
		R('N', "From: a@example.org"),
		R('N', ""),
		R('N', "hi\r\n.\r\nMAIL FROM:<w@evil.example>\r\nRCPT TO:<i@v>"),
	};
	char	 why[200] = "";

	(void)state;
	assert_int_equal(qfile_content_check(r, 3, ck_orig, CK_NORIG, 1000,
	    1000, why, sizeof(why)), -1);
	assert_string_equal(why, "content record 3 holds an LF byte");
}

static void
test_content_check_refuses_a_cr_or_nul_the_original_has_not(void **state)
{
	static const struct qfile_rec cr[] = {
		R('N', "From: a@example.org"), R('N', ""), R('N', "x\r.\r"),
	};
	static const struct qfile_rec nul[] = {
		R('N', "From: a@example.org"), R('N', ""), R('N', "x\0y"),
	};
	static const struct qfile_rec cr_elsewhere[] = {
		R('N', "From: a@example.org"), R('N', ""),
		R('N', "bare\rCR from the sendeR"),
	};
	char	 why[200] = "";

	(void)state;
	assert_int_equal(ck(cr, 3, why), -1);
	assert_string_equal(why,
	    "content record 3 holds a CR byte the original has not there");
	assert_int_equal(ck(nul, 3, why), -1);
	assert_string_equal(why,
	    "content record 3 holds a NUL byte the original has not there");
	assert_int_equal(ck(cr_elsewhere, 3, why), -1);
	/* Nor does an original without any. */
	assert_int_equal(qfile_content_check(ck_orig + 7, 1, ck_orig, 2,
	    CK_LIMIT, 1000, why, sizeof(why)), -1);
}

static void
test_content_check_refuses_other_record_types(void **state)
{
	static const struct qfile_rec r[] = {
		R('N', "From: a@example.org"), R('N', ""), R('R', "x@y"),
	};
	char	 why[200] = "";

	(void)state;
	assert_int_equal(ck(r, 3, why), -1);
	assert_string_equal(why, "content record 3 is of type 82, not N or L");
}

static void
test_content_check_refuses_long_records_and_large_content(void **state)
{
	static const struct qfile_rec longrec[] = {
		R('N', "From: a@example.org"), R('N', ""),
		R('N', "0123456789abcdef0123456789"),
	};
	char	 why[200] = "";

	(void)state;
	/* The original's longest record (23 bytes) is the limit here. */
	assert_int_equal(ck(longrec, 3, why), -1);
	assert_string_equal(why, "content record 3 is 26 bytes long, over "
	    "the line length limit 23");
	assert_int_equal(qfile_content_check(longrec, 3, NULL, 0, 16, 1000,
	    why, sizeof(why)), -1);
	assert_string_equal(why, "content record 1 is 19 bytes long, over "
	    "the line length limit 16");
	assert_int_equal(qfile_content_check(longrec, 3, NULL, 0, 26, 1000,
	    why, sizeof(why)), 0);
	/* 19 + 1 bytes, then 14 + 1: 35 in all. */
	assert_int_equal(qfile_content_check(ck_orig, 2, ck_orig, CK_NORIG,
	    CK_LIMIT, 34, why, sizeof(why)), -1);
	assert_string_equal(why, "content is over 34 bytes");
	assert_int_equal(qfile_content_check(ck_orig, 2, ck_orig, CK_NORIG,
	    CK_LIMIT, 35, why, sizeof(why)), 0);
}

static void
test_content_check_refuses_a_header_block_of_no_headers(void **state)
{
	static const struct qfile_rec nohdr[] = {
		R('N', "From: a@example.org"), R('N', "RCPT TO:<x@y>"),
		R('N', ""), R('N', "body"),
	};
	static const struct qfile_rec cont_first[] = {
		R('N', " by y"), R('N', ""),
	};
	static const struct qfile_rec bare_orig[] = {
		R('N', "From: a@example.org"), R('N', "body at once"),
	};
	char	 why[200] = "";

	(void)state;
	assert_int_equal(ck(nohdr, 4, why), -1);
	assert_string_equal(why, "content record 2 is in the header block "
	    "but is no header field");
	assert_int_equal(ck(cont_first, 2, why), -1);
	assert_string_equal(why, "content record 1 continues a header field "
	    "that is not there");
	/* An original whose body starts without an empty line may. */
	assert_int_equal(qfile_content_check(nohdr, 4, bare_orig, 2, 1000,
	    1000, why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crafted_file_round_trips_byte_identical),
		cmocka_unit_test(test_held_plain_sample_round_trips_byte_identical),
		cmocka_unit_test(test_held_dsn_sample_round_trips_byte_identical),
		cmocka_unit_test(test_held_dsn_sample_gives_each_recipient_its_own_qualifiers),
		cmocka_unit_test(test_held_longline_sample_keeps_long_lines_as_L_records_then_N),
		cmocka_unit_test(test_parse_keeps_its_own_copy_of_the_image),
		cmocka_unit_test(test_held_milter_sample_linearises_dummy_pointers),
		cmocka_unit_test(test_held_milter_pad_sample_drops_padding_records),
		cmocka_unit_test(test_held_milter_edit_sample_follows_pointers_into_the_heap),
		cmocka_unit_test(test_dummy_pointers_are_skipped_in_every_segment),
		cmocka_unit_test(test_pointer_into_heap_after_end_inserts_a_header),
		cmocka_unit_test(test_pointer_over_a_replaced_header_skips_the_stale_gap),
		cmocka_unit_test(test_padding_records_in_the_content_are_skipped),
		cmocka_unit_test(test_pointer_just_before_X_is_followed_when_checking_data_size),
		cmocka_unit_test(test_text_records_split_long_lines_into_L_records_then_N),
		cmocka_unit_test(test_text_records_keep_a_line_of_exactly_the_limit_in_one_N),
		cmocka_unit_test(test_text_records_make_a_last_line_without_newline_an_N),
		cmocka_unit_test(test_content_text_gives_back_the_text_records_came_from),
		cmocka_unit_test(test_header_end_ignores_an_empty_N_that_ends_a_long_line),
		cmocka_unit_test(test_insert_headers_puts_lines_before_the_separator),
		cmocka_unit_test(test_recipient_qualifiers_apply_to_the_next_recipient_only),
		cmocka_unit_test(test_envelope_fields_come_from_records_and_mapped_attributes),
		cmocka_unit_test(test_attr_returns_the_first_value_without_surrounding_blanks),
		cmocka_unit_test(test_file_ending_inside_a_record_length_is_truncated),
		cmocka_unit_test(test_length_running_past_the_end_of_file_is_refused),
		cmocka_unit_test(test_five_length_bytes_are_refused),
		cmocka_unit_test(test_four_length_bytes_are_accepted),
		cmocka_unit_test(test_unknown_record_type_is_refused),
		cmocka_unit_test(test_text_record_in_the_envelope_is_refused),
		cmocka_unit_test(test_envelope_record_in_the_content_is_refused),
		cmocka_unit_test(test_records_qmgr_does_not_expect_are_refused_outside_the_content),
		cmocka_unit_test(test_end_record_before_the_content_is_refused),
		cmocka_unit_test(test_missing_end_record_is_refused),
		cmocka_unit_test(test_file_that_does_not_start_with_C_is_refused),
		cmocka_unit_test(test_pre_1_0_one_field_size_record_is_refused),
		cmocka_unit_test(test_three_field_size_record_is_read_and_written_as_five),
		cmocka_unit_test(test_data_offset_that_misses_the_M_record_is_refused),
		cmocka_unit_test(test_data_size_that_misses_the_X_record_is_refused),
		cmocka_unit_test(test_X_record_before_the_end_of_the_data_is_refused),
		cmocka_unit_test(test_qmgr_flags_outside_0x1f_are_refused),
		cmocka_unit_test(test_content_without_text_records_is_refused),
		cmocka_unit_test(test_pointer_loop_is_refused),
		cmocka_unit_test(test_pointer_past_the_end_of_file_is_refused),
		cmocka_unit_test(test_pointer_into_the_middle_of_a_record_is_refused),
		cmocka_unit_test(test_malformed_pointer_payload_is_refused),
		cmocka_unit_test(test_missing_arrival_time_is_refused),
		cmocka_unit_test(test_missing_sender_is_refused),
		cmocka_unit_test(test_malformed_payloads_are_refused),
		cmocka_unit_test(test_non_empty_X_or_E_record_is_refused),
		cmocka_unit_test(test_read_fd_refuses_a_file_over_the_limit),
		cmocka_unit_test(test_read_fd_stat_reads_to_the_end_whatever_st_said),
		cmocka_unit_test(test_read_fd_reports_a_read_error_with_errno),
		cmocka_unit_test(test_read_fd_reads_a_file_whose_size_is_not_known_in_advance),
		cmocka_unit_test(test_every_error_code_has_a_name),
		cmocka_unit_test(test_writer_refuses_structural_and_pointer_records_in_parts),
		cmocka_unit_test(test_writer_refuses_records_in_the_wrong_segment),
		cmocka_unit_test(test_writer_refuses_what_qmgr_would_refuse),
		cmocka_unit_test(test_inserting_a_header_via_parts_gives_correct_size_fields),
		cmocka_unit_test(test_writer_emits_five_fields_when_asked),
		cmocka_unit_test(test_write_to_fd_gives_the_same_bytes_as_image),
		cmocka_unit_test(test_write_to_fd_of_a_large_message_gives_the_same_bytes_as_image),
		cmocka_unit_test(test_records_encode_then_decode_round_trip),
		cmocka_unit_test(test_records_decode_refuses_types_not_listed),
		cmocka_unit_test(test_content_check_passes_the_original_and_a_scanned_copy),
		cmocka_unit_test(test_content_check_refuses_smtp_smuggled_in_a_record),
		cmocka_unit_test(test_content_check_refuses_a_cr_or_nul_the_original_has_not),
		cmocka_unit_test(test_content_check_refuses_other_record_types),
		cmocka_unit_test(test_content_check_refuses_long_records_and_large_content),
		cmocka_unit_test(test_content_check_refuses_a_header_block_of_no_headers),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
