/*
 * kproto.h: the Kafka wire codec used by myco-log: a bounds-checked reader
 * over one request frame and a growable response writer, both aware of the
 * "flexible" encodings (compact strings/arrays, tagged fields) of KIP-482.
 * Not for: deciding what a request means (handlers do that) or sockets.
 *
 * Reader: every get sets r->err on the first overrun or bad length and then
 * returns zeros, so a handler decodes a whole request and checks r->err once.
 * Writer: appends to a heap buffer it owns; an allocation failure sets w->err
 * and later puts are ignored.  A response may also carry "file ranges" (fd,
 * offset, length) spliced in at a buffer position, sent with sendfile().
 */
#ifndef MYCO_LOG_KPROTO_H
#define MYCO_LOG_KPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A borrowed byte string: points into the request frame (valid as long as
 * the frame) or is {NULL,-1} for a null string/bytes. */
typedef struct {
	const uint8_t *p;
	int32_t len;          /* -1 for null */
} myco__kstr_t;

typedef struct {
	const uint8_t *p;
	size_t len, pos;
	int err;              /* 0 or -EBADMSG after the first bad read */
} myco__krd_t;

void myco__krd_init(myco__krd_t *r, const void *p, size_t len);
int8_t myco__krd_i8(myco__krd_t *r);
int16_t myco__krd_i16(myco__krd_t *r);
int32_t myco__krd_i32(myco__krd_t *r);
int64_t myco__krd_i64(myco__krd_t *r);
uint32_t myco__krd_uvarint(myco__krd_t *r);
int32_t myco__krd_varint(myco__krd_t *r);
int64_t myco__krd_varlong(myco__krd_t *r);
/* STRING/NULLABLE_STRING (flex=false) or COMPACT_(NULLABLE_)STRING. */
myco__kstr_t myco__krd_str(myco__krd_t *r, bool flex);
/* BYTES/NULLABLE_BYTES or COMPACT_(NULLABLE_)BYTES (and RECORDS). */
myco__kstr_t myco__krd_bytes(myco__krd_t *r, bool flex);
/* Array length: -1 for null, else a count that is plausible for the bytes
 * left (each element needs >= min_elem bytes); a bad count sets err. */
int32_t myco__krd_array(myco__krd_t *r, bool flex, size_t min_elem);
/* Skip a tagged-field section (flex only; no-op otherwise). */
void myco__krd_tags(myco__krd_t *r, bool flex);
size_t myco__krd_left(const myco__krd_t *r);

/* One file range spliced into a response at buffer position `at`.  The fd
 * is borrowed: whoever added it keeps it open until the response is freed
 * (see myco__kwr_defer). */
typedef struct {
	size_t at;
	int fd;
	off_t off;
	size_t len;
} myco__kfile_t;

/* A cleanup run when the response is freed (e.g. unpin segment files). */
typedef struct {
	void (*fn)(void *arg);
	void *arg;
} myco__kdefer_t;

typedef struct {
	uint8_t *buf;
	size_t len, cap;
	myco__kfile_t *files;
	size_t nfiles, capfiles;
	size_t filebytes;     /* sum of files[].len */
	myco__kdefer_t *defers;
	size_t ndefers, capdefers;
	int err;              /* 0 or -ENOMEM */
} myco__kwr_t;

void myco__kwr_init(myco__kwr_t *w);
/* Frees the buffer and runs every deferred cleanup (in reverse order). */
void myco__kwr_free(myco__kwr_t *w);
void myco__kwr_i8(myco__kwr_t *w, int8_t v);
void myco__kwr_i16(myco__kwr_t *w, int16_t v);
void myco__kwr_i32(myco__kwr_t *w, int32_t v);
void myco__kwr_i64(myco__kwr_t *w, int64_t v);
void myco__kwr_uvarint(myco__kwr_t *w, uint32_t v);
void myco__kwr_varint(myco__kwr_t *w, int32_t v);
void myco__kwr_varlong(myco__kwr_t *w, int64_t v);
void myco__kwr_raw(myco__kwr_t *w, const void *p, size_t n);
/* Strings: s == NULL writes a null string. */
void myco__kwr_str(myco__kwr_t *w, bool flex, const char *s);
void myco__kwr_strn(myco__kwr_t *w, bool flex, const void *s, int32_t len);
void myco__kwr_array(myco__kwr_t *w, bool flex, int32_t n);
/* BYTES (int32 length) or COMPACT_BYTES; n 0 (p may be NULL): empty. */
void myco__kwr_bytes(myco__kwr_t *w, bool flex, const void *p, int32_t n);
/* An empty tagged-field section (flex only). */
void myco__kwr_tags(myco__kwr_t *w, bool flex);
/* Reserve 4 bytes for a big-endian int32 filled in later by _patch_i32. */
size_t myco__kwr_reserve_i32(myco__kwr_t *w);
void myco__kwr_patch_i32(myco__kwr_t *w, size_t at, int32_t v);
/* Splice a file range in at the current position (fd borrowed). */
void myco__kwr_file(myco__kwr_t *w, int fd, off_t off, size_t len);
/* Run fn(arg) when w is freed; if that cannot be recorded (no memory) fn
 * runs now and w->err is set. */
void myco__kwr_defer(myco__kwr_t *w, void (*fn)(void *), void *arg);
/* Bytes the response will occupy on the wire (buffer + file ranges). */
size_t myco__kwr_total(const myco__kwr_t *w);

/* Size in bytes of uvarint/varint encodings (for record building). */
size_t myco__kvarint_size(int64_t zz_or_u, bool zigzag);

#endif /* MYCO_LOG_KPROTO_H */
