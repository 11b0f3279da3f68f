/*
 * kproto.c: bounds-checked Kafka wire primitives (see kproto.h).  Every read
 * checks the bytes left; every length read from the wire is checked against
 * the bytes left before it is used.  Not for: request semantics.
 */
#include "kproto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void myco__krd_init(myco__krd_t *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
	r->err = 0;
}

size_t myco__krd_left(const myco__krd_t *r)
{
	return r->err ? 0 : r->len - r->pos;
}

static const uint8_t *take(myco__krd_t *r, size_t n)
{
	const uint8_t *p;

	if (r->err || r->len - r->pos < n) {
		r->err = -EBADMSG;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

int8_t myco__krd_i8(myco__krd_t *r)
{
	const uint8_t *p = take(r, 1);
	return p ? (int8_t)p[0] : 0;
}

int16_t myco__krd_i16(myco__krd_t *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (int16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}

int32_t myco__krd_i32(myco__krd_t *r)
{
	const uint8_t *p = take(r, 4);
	if (!p)
		return 0;
	return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
			 ((uint32_t)p[2] << 8) | p[3]);
}

int64_t myco__krd_i64(myco__krd_t *r)
{
	uint64_t hi = (uint32_t)myco__krd_i32(r);
	uint64_t lo = (uint32_t)myco__krd_i32(r);
	return (int64_t)((hi << 32) | lo);
}

static uint64_t rd_uv64(myco__krd_t *r, unsigned maxbytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < maxbytes; i++) {
		const uint8_t *p = take(r, 1);
		if (!p)
			return 0;
		v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
		if (!(p[0] & 0x80))
			return v;
	}
	r->err = -EBADMSG;     /* too long */
	return 0;
}

uint32_t myco__krd_uvarint(myco__krd_t *r)
{
	uint64_t v = rd_uv64(r, 5);
	if (v > UINT32_MAX) {
		r->err = -EBADMSG;
		return 0;
	}
	return (uint32_t)v;
}

int32_t myco__krd_varint(myco__krd_t *r)
{
	uint32_t u = myco__krd_uvarint(r);
	return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t myco__krd_varlong(myco__krd_t *r)
{
	uint64_t u = rd_uv64(r, 10);
	return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

static myco__kstr_t rd_blob(myco__krd_t *r, int64_t n)
{
	myco__kstr_t s = { NULL, -1 };
	const uint8_t *p;

	if (r->err)
		return s;
	if (n < 0) {
		if (n != -1)
			r->err = -EBADMSG;
		return s;
	}
	p = take(r, (size_t)n);
	if (!p)
		return s;
	s.p = p;
	s.len = (int32_t)n;
	return s;
}

myco__kstr_t myco__krd_str(myco__krd_t *r, bool flex)
{
	int64_t n = flex ? (int64_t)myco__krd_uvarint(r) - 1 : myco__krd_i16(r);
	return rd_blob(r, n);
}

myco__kstr_t myco__krd_bytes(myco__krd_t *r, bool flex)
{
	int64_t n = flex ? (int64_t)myco__krd_uvarint(r) - 1 : myco__krd_i32(r);
	return rd_blob(r, n);
}

int32_t myco__krd_array(myco__krd_t *r, bool flex, size_t min_elem)
{
	int64_t n = flex ? (int64_t)myco__krd_uvarint(r) - 1 : myco__krd_i32(r);

	if (r->err)
		return 0;
	if (n < -1) {
		r->err = -EBADMSG;
		return 0;
	}
	if (n > 0 && (uint64_t)n * (min_elem ? min_elem : 1) > r->len - r->pos) {
		r->err = -EBADMSG;
		return 0;
	}
	return (int32_t)n;
}

void myco__krd_tags(myco__krd_t *r, bool flex)
{
	uint32_t n, i;

	if (!flex)
		return;
	n = myco__krd_uvarint(r);
	for (i = 0; i < n && !r->err; i++) {
		(void)myco__krd_uvarint(r);               /* tag */
		uint32_t sz = myco__krd_uvarint(r);
		(void)take(r, sz);
	}
}

/* ---- writer ---- */

void myco__kwr_init(myco__kwr_t *w)
{
	memset(w, 0, sizeof(*w));
}

void myco__kwr_free(myco__kwr_t *w)
{
	size_t i;

	for (i = w->ndefers; i > 0; i--)
		w->defers[i - 1].fn(w->defers[i - 1].arg);
	free(w->defers);
	free(w->files);
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

static uint8_t *grow(myco__kwr_t *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->cap - w->len < n) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;
		while (cap - w->len < n) {
			if (cap > SIZE_MAX / 2) {
				w->err = -ENOMEM;
				return NULL;
			}
			cap *= 2;
		}
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

void myco__kwr_raw(myco__kwr_t *w, const void *p, size_t n)
{
	uint8_t *d = grow(w, n);
	if (d && n)
		memcpy(d, p, n);
}

void myco__kwr_i8(myco__kwr_t *w, int8_t v)
{
	uint8_t *d = grow(w, 1);
	if (d)
		d[0] = (uint8_t)v;
}

void myco__kwr_i16(myco__kwr_t *w, int16_t v)
{
	uint8_t *d = grow(w, 2);
	if (d) {
		d[0] = (uint8_t)((uint16_t)v >> 8);
		d[1] = (uint8_t)v;
	}
}

static void put32(uint8_t *d, uint32_t v)
{
	d[0] = (uint8_t)(v >> 24);
	d[1] = (uint8_t)(v >> 16);
	d[2] = (uint8_t)(v >> 8);
	d[3] = (uint8_t)v;
}

void myco__kwr_i32(myco__kwr_t *w, int32_t v)
{
	uint8_t *d = grow(w, 4);
	if (d)
		put32(d, (uint32_t)v);
}

void myco__kwr_i64(myco__kwr_t *w, int64_t v)
{
	uint8_t *d = grow(w, 8);
	if (d) {
		put32(d, (uint32_t)((uint64_t)v >> 32));
		put32(d + 4, (uint32_t)v);
	}
}

static void wr_uv64(myco__kwr_t *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	myco__kwr_raw(w, tmp, n);
}

void myco__kwr_uvarint(myco__kwr_t *w, uint32_t v)
{
	wr_uv64(w, v);
}

void myco__kwr_varint(myco__kwr_t *w, int32_t v)
{
	wr_uv64(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void myco__kwr_varlong(myco__kwr_t *w, int64_t v)
{
	wr_uv64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t myco__kvarint_size(int64_t v, bool zigzag)
{
	uint64_t u = zigzag ? (((uint64_t)v << 1) ^ (uint64_t)(v >> 63)) : (uint64_t)v;
	size_t n = 1;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

void myco__kwr_strn(myco__kwr_t *w, bool flex, const void *s, int32_t len)
{
	if (!s || len < 0) {
		if (flex)
			myco__kwr_uvarint(w, 0);
		else
			myco__kwr_i16(w, -1);
		return;
	}
	if (len > INT16_MAX)
		len = INT16_MAX;
	if (flex)
		myco__kwr_uvarint(w, (uint32_t)len + 1);
	else
		myco__kwr_i16(w, (int16_t)len);
	myco__kwr_raw(w, s, (size_t)len);
}

void myco__kwr_str(myco__kwr_t *w, bool flex, const char *s)
{
	myco__kwr_strn(w, flex, s, s ? (int32_t)strlen(s) : -1);
}

void myco__kwr_array(myco__kwr_t *w, bool flex, int32_t n)
{
	if (flex)
		myco__kwr_uvarint(w, n < 0 ? 0 : (uint32_t)n + 1);
	else
		myco__kwr_i32(w, n);
}

void myco__kwr_tags(myco__kwr_t *w, bool flex)
{
	if (flex)
		myco__kwr_uvarint(w, 0);
}

size_t myco__kwr_reserve_i32(myco__kwr_t *w)
{
	size_t at = w->len;
	myco__kwr_i32(w, 0);
	return at;
}

void myco__kwr_patch_i32(myco__kwr_t *w, size_t at, int32_t v)
{
	if (!w->err && at + 4 <= w->len)
		put32(w->buf + at, (uint32_t)v);
}

void myco__kwr_file(myco__kwr_t *w, int fd, off_t off, size_t len)
{
	if (w->err)
		return;
	if (w->nfiles == w->capfiles) {
		size_t nc = w->capfiles ? w->capfiles * 2 : 8;
		myco__kfile_t *nf = realloc(w->files, nc * sizeof(*nf));
		if (!nf) {
			w->err = -ENOMEM;
			return;
		}
		w->files = nf;
		w->capfiles = nc;
	}
	w->files[w->nfiles++] = (myco__kfile_t){ w->len, fd, off, len };
	w->filebytes += len;
}

size_t myco__kwr_total(const myco__kwr_t *w)
{
	return w->len + w->filebytes;
}

void myco__kwr_defer(myco__kwr_t *w, void (*fn)(void *), void *arg)
{
	if (w->ndefers == w->capdefers) {
		size_t nc = w->capdefers ? w->capdefers * 2 : 8;
		myco__kdefer_t *nd = realloc(w->defers, nc * sizeof(*nd));
		if (!nd) {
			fn(arg);
			w->err = -ENOMEM;
			return;
		}
		w->defers = nd;
		w->capdefers = nc;
	}
	w->defers[w->ndefers++] = (myco__kdefer_t){ fn, arg };
}

void myco__kwr_bytes(myco__kwr_t *w, bool flex, const void *p, int32_t n)
{
	if (n < 0)
		n = 0;
	if (flex)
		myco__kwr_uvarint(w, (uint32_t)n + 1);
	else
		myco__kwr_i32(w, n);
	if (n > 0)
		myco__kwr_raw(w, p, (size_t)n);
}
