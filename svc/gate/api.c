/*
 * api.c: the API framework's runtime (myco/api.h): compiles a service's
 * static route table into a router, matches a request (literals before
 * typed parameters), extracts and validates path and query parameters and
 * the JSON body (jansson) into the route's C structs, calls the handler in
 * its coroutine, and encodes its response struct to JSON.  404, 405 with
 * Allow, 400 with the field's path in the message, 413, 415, CORS.
 * Not for: HTTP framing (server.c), proxying (proxy.c).
 */
#include "gate_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rx {
	const myco_api_field_t *field;
	regex_t re;
} rx_t;

struct myco_api {
	const myco_api_service_t *svc;
	void *user;
	size_t plen;                 /* prefix length */
	rx_t *rx;
	size_t nrx;
};

struct myco_api_resp {
	unsigned status;
	char *hdrs;
	size_t hlen, hcap;
	void *body;
	bool error;
	char *raw;
	size_t raw_len;
	char raw_type[96];
	char errmsg[512];
};

/* ------------------------------------------------------ small helpers */

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
};

const char *myco_api_method_name(myco_api_method_t m)
{
	unsigned i;

	for (i = 0; i < 7; i++)
		if (m == (1u << i))
			return method_names[i];
	return NULL;
}

myco_api_method_t myco_api_method_parse(const char *s, size_t len)
{
	unsigned i;

	for (i = 0; i < 7; i++)
		if (strlen(method_names[i]) == len && memcmp(s, method_names[i], len) == 0)
			return (myco_api_method_t)(1u << i);
	return (myco_api_method_t)0;
}

static const char *const type_names[] = {
	"u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64",
	"bool", "bytes", "string", "message", "enum", "path"
};

const char *myco_api_type_name(myco_api_type_t t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

static bool is_int(myco_api_type_t t)
{
	return t <= MYCO_API_T_I64;
}

static bool is_signed(myco_api_type_t t)
{
	return t >= MYCO_API_T_I8 && t <= MYCO_API_T_I64;
}

static unsigned int_size(myco_api_type_t t)
{
	static const unsigned sz[] = { 1, 2, 4, 8, 1, 2, 4, 8 };
	return sz[t];
}

static void type_range(myco_api_type_t t, int64_t *lo, int64_t *hi)
{
	unsigned bits = int_size(t) * 8;

	if (is_signed(t)) {
		*hi = bits == 64 ? INT64_MAX : (int64_t)((1ull << (bits - 1)) - 1);
		*lo = -*hi - 1;
	} else {
		*lo = 0;
		*hi = bits == 64 ? INT64_MAX : (int64_t)((1ull << bits) - 1);
	}
}

static void store_int(void *p, unsigned size, int64_t v)
{
	switch (size) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

static int64_t load_int(const void *p, myco_api_type_t t)
{
	switch (t) {
	case MYCO_API_T_U8: { uint8_t x; memcpy(&x, p, 1); return x; }
	case MYCO_API_T_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
	case MYCO_API_T_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
	case MYCO_API_T_U64: { uint64_t x; memcpy(&x, p, 8); return (int64_t)x; }
	case MYCO_API_T_I8: { int8_t x; memcpy(&x, p, 1); return x; }
	case MYCO_API_T_I16: { int16_t x; memcpy(&x, p, 2); return x; }
	case MYCO_API_T_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	default: { int64_t x; memcpy(&x, p, 8); return x; }
	}
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], k, cp;
		if (c < 0x80) {
			if (!c)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { k = 1; cp = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { k = 2; cp = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { k = 3; cp = c & 0x07; }
		else return false;
		if (i + k >= n)
			return false;
		for (unsigned j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* Decode standard base64 with padding; -1 on bad input or overflow. */
static ssize_t b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t i, o = 0;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64val(s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : b64val(s[i + 3]);
		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2) ||
		    ((c == -2 || d == -2) && i + 4 != n))
			return -1;
		if (o + 1 > cap)
			return -1;
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		if (c >= 0) {
			if (o + 1 > cap)
				return -1;
			out[o++] = (uint8_t)((b & 15) << 4 | c >> 2);
		}
		if (d >= 0) {
			if (o + 1 > cap)
				return -1;
			out[o++] = (uint8_t)((c & 3) << 6 | d);
		}
	}
	return (ssize_t)o;
}

static char *b64_encode(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1), *o = s;
	size_t i;

	if (!s)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		*o++ = b64[p[i] >> 2];
		*o++ = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = b64[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = b64[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = b64[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = b64[(p[i] & 3) << 4 | p[i + 1] >> 4];
			*o++ = b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return s;
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode (and '+' as space when plus) into out; -1 if malformed. */
static ssize_t pct_decode(const char *s, size_t n, char *out, size_t cap, bool plus)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '%') {
			int h, l;
			if (i + 2 >= n)
				return -1;
			h = hexdig(s[i + 1]);
			l = hexdig(s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			ch = (char)(h * 16 + l);
			i += 2;
		} else if (plus && ch == '+') {
			ch = ' ';
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

/* --------------------------------------------------- value decoding */

typedef struct verr {
	char msg[512];
	bool constraint;             /* parsed, but a constraint failed */
} verr_t;

static int verrf(verr_t *e, bool constraint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int verrf(verr_t *e, bool constraint, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->constraint = constraint;
	return -EINVAL;
}

static const regex_t *find_rx(const myco_api_t *api, const myco_api_field_t *f)
{
	size_t i;

	for (i = 0; i < api->nrx; i++)
		if (api->rx[i].field == f)
			return &api->rx[i].re;
	return NULL;
}

static int check_int(const myco_api_field_t *f, int64_t v, const char *path, verr_t *e)
{
	if ((f->flags & MYCO_API_F_MIN) && v < f->min_int)
		return verrf(e, true, "%s: %lld is below the minimum %lld", path,
			     (long long)v, (long long)f->min_int);
	if ((f->flags & MYCO_API_F_MAX) && v > f->max_int)
		return verrf(e, true, "%s: %lld is above the maximum %lld", path,
			     (long long)v, (long long)f->max_int);
	return 0;
}

static int check_num(const myco_api_field_t *f, double v, const char *path, verr_t *e)
{
	if (!isfinite(v))
		return verrf(e, false, "%s: not a finite number", path);
	if ((f->flags & MYCO_API_F_MIN) && v < f->min_num)
		return verrf(e, true, "%s: %g is below the minimum %g", path, v, f->min_num);
	if ((f->flags & MYCO_API_F_MAX) && v > f->max_num)
		return verrf(e, true, "%s: %g is above the maximum %g", path, v, f->max_num);
	return 0;
}

static int store_string(const myco_api_t *api, const myco_api_field_t *f, void *dst,
			const char *s, size_t n, const char *path, verr_t *e)
{
	if (!utf8_ok((const unsigned char *)s, n))
		return verrf(e, false, "%s: not valid UTF-8 text", path);
	if (n > f->length)
		return verrf(e, true, "%s: %zu bytes, at most %u allowed", path, n, f->length);
	if ((f->flags & MYCO_API_F_MIN_LEN) && n < f->min_len)
		return verrf(e, true, "%s: %zu bytes, at least %u required", path, n, f->min_len);
	if (f->flags & MYCO_API_F_PATTERN) {
		const regex_t *re = find_rx(api, f);
		char *z = strndup(s, n);
		int m;
		if (!z)
			return -ENOMEM;
		m = re ? regexec(re, z, 0, NULL, 0) : REG_NOMATCH;
		free(z);
		if (m != 0)
			return verrf(e, true, "%s: \"%.*s\" does not match %s", path,
				     (int)(n > 64 ? 64 : n), s, f->pattern);
	}
	memset(dst, 0, f->length);
	memcpy(dst, s, n);
	return 0;
}

static int enum_lookup(const myco_api_enum_t *en, const char *s, size_t n, uint64_t *v)
{
	size_t i;

	for (i = 0; en && i < en->nvalues; i++)
		if (strlen(en->names[i]) == n && memcmp(en->names[i], s, n) == 0) {
			*v = en->values[i];
			return 0;
		}
	return -1;
}

static void enum_list(const myco_api_enum_t *en, char *buf, size_t cap)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; en && i < en->nvalues && o + 4 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", en->names[i]);
}

/* A scalar from text (path segment, query value). */
static int text_value(const myco_api_t *api, const myco_api_field_t *f, void *dst,
		      const char *s, size_t n, const char *path, verr_t *e)
{
	char tmp[64];

	if (is_int(f->type)) {
		int64_t lo, hi, v = 0;
		size_t i = 0;
		bool neg = false;
		type_range(f->type, &lo, &hi);
		if (n > 0 && s[0] == '-' && is_signed(f->type)) {
			neg = true;
			i = 1;
		}
		if (i == n || n - i > 19)
			return verrf(e, false, "%s: \"%.*s\" is not a %s", path, (int)(n > 40 ? 40 : n), s,
				     myco_api_type_name(f->type));
		for (; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return verrf(e, false, "%s: \"%.*s\" is not a %s", path,
					     (int)(n > 40 ? 40 : n), s, myco_api_type_name(f->type));
			if (v > (INT64_MAX - (s[i] - '0')) / 10)
				return verrf(e, false, "%s: out of range for %s", path,
					     myco_api_type_name(f->type));
			v = v * 10 + (s[i] - '0');
		}
		if (neg)
			v = -v;
		if (v < lo || v > hi)
			return verrf(e, false, "%s: %lld is out of range for %s", path, (long long)v,
				     myco_api_type_name(f->type));
		if (check_int(f, v, path, e) < 0)
			return -EINVAL;
		store_int(dst, int_size(f->type), v);
		return 0;
	}
	switch (f->type) {
	case MYCO_API_T_F32:
	case MYCO_API_T_F64: {
		char *end;
		double d;
		if (n == 0 || n >= sizeof(tmp))
			return verrf(e, false, "%s: not a number", path);
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		d = strtod(tmp, &end);
		if (*end || end == tmp)
			return verrf(e, false, "%s: \"%s\" is not a number", path, tmp);
		if (check_num(f, d, path, e) < 0)
			return -EINVAL;
		if (f->type == MYCO_API_T_F32) {
			float x = (float)d;
			memcpy(dst, &x, 4);
		} else {
			memcpy(dst, &d, 8);
		}
		return 0;
	}
	case MYCO_API_T_BOOL:
		if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1'))
			*(uint8_t *)dst = 1;
		else if ((n == 5 && memcmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0'))
			*(uint8_t *)dst = 0;
		else
			return verrf(e, false, "%s: expected true or false", path);
		return 0;
	case MYCO_API_T_STRING:
	case MYCO_API_T_PATH:
		return store_string(api, f, dst, s, n, path, e);
	case MYCO_API_T_ENUM: {
		uint64_t v;
		char list[256];
		if (enum_lookup(f->enumt, s, n, &v) < 0) {
			enum_list(f->enumt, list, sizeof(list));
			return verrf(e, false, "%s: \"%.*s\" is not one of %s", path,
				     (int)(n > 40 ? 40 : n), s, list);
		}
		store_int(dst, f->enumt ? f->enumt->size : 4, (int64_t)v);
		return 0;
	}
	case MYCO_API_T_BYTES: {
		uint8_t *b = dst;
		ssize_t k;
		memset(b, 0, f->length);
		k = b64_decode(s, n, b, f->length);
		if (k < 0)
			return verrf(e, true, "%s: not base64 of at most %u bytes", path, f->length);
		if ((f->flags & MYCO_API_F_MIN_LEN) && (size_t)k < f->min_len)
			return verrf(e, true, "%s: %zd bytes, at least %u required", path, k, f->min_len);
		return 0;
	}
	default:
		return verrf(e, false, "%s: type %s cannot come from text", path,
			     myco_api_type_name(f->type));
	}
}

static int json_msg(const myco_api_t *api, const myco_api_msg_t *msg, void *dst,
		    json_t *obj, const char *path, verr_t *e, int depth);

static int json_elem(const myco_api_t *api, const myco_api_field_t *f, void *dst,
		     json_t *v, const char *path, verr_t *e, int depth)
{
	if (json_is_null(v)) {
		if (f->flags & MYCO_API_F_NULLABLE)
			return 0;
		return verrf(e, false, "%s: null is not allowed", path);
	}
	if (is_int(f->type)) {
		int64_t lo, hi, x;
		if (!json_is_integer(v))
			return verrf(e, false, "%s: expected an integer (%s)", path,
				     myco_api_type_name(f->type));
		x = json_integer_value(v);
		type_range(f->type, &lo, &hi);
		if (x < lo || x > hi)
			return verrf(e, false, "%s: %lld is out of range for %s", path,
				     (long long)x, myco_api_type_name(f->type));
		if (check_int(f, x, path, e) < 0)
			return -EINVAL;
		store_int(dst, int_size(f->type), x);
		return 0;
	}
	switch (f->type) {
	case MYCO_API_T_F32:
	case MYCO_API_T_F64: {
		double d;
		if (!json_is_number(v))
			return verrf(e, false, "%s: expected a number", path);
		d = json_number_value(v);
		if (check_num(f, d, path, e) < 0)
			return -EINVAL;
		if (f->type == MYCO_API_T_F32) {
			float x = (float)d;
			if (!isfinite(x))
				return verrf(e, false, "%s: out of range for f32", path);
			memcpy(dst, &x, 4);
		} else {
			memcpy(dst, &d, 8);
		}
		return 0;
	}
	case MYCO_API_T_BOOL:
		if (!json_is_boolean(v))
			return verrf(e, false, "%s: expected true or false", path);
		*(uint8_t *)dst = json_is_true(v) ? 1 : 0;
		return 0;
	case MYCO_API_T_STRING:
	case MYCO_API_T_ENUM:
	case MYCO_API_T_BYTES:
		if (!json_is_string(v))
			return verrf(e, false, "%s: expected a string", path);
		return text_value(api, f, dst, json_string_value(v), json_string_length(v), path, e);
	case MYCO_API_T_MSG:
		if (!json_is_object(v))
			return verrf(e, false, "%s: expected an object", path);
		return json_msg(api, f->msg, dst, v, path, e, depth + 1);
	default:
		return verrf(e, false, "%s: unsupported type", path);
	}
}

static int json_msg(const myco_api_t *api, const myco_api_msg_t *msg, void *dst,
		    json_t *obj, const char *path, verr_t *e, int depth)
{
	const char *key;
	json_t *v;
	size_t i;
	char sub[256];

	if (depth > 16)
		return verrf(e, false, "%s: nested too deeply", path);
	json_object_foreach(obj, key, v) {
		for (i = 0; i < msg->nfields; i++)
			if (strcmp(msg->fields[i].name, key) == 0)
				break;
		if (i == msg->nfields && !msg->open)
			return verrf(e, false, "%s: unknown field \"%.64s\"", path, key);
	}
	for (i = 0; i < msg->nfields; i++) {
		const myco_api_field_t *f = &msg->fields[i];
		char *fp = (char *)dst + f->offset;
		int rc;
		snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
		v = json_object_get(obj, f->name);
		if (!v) {
			if (f->flags & MYCO_API_F_REQUIRED)
				return verrf(e, false, "%s: required field is missing", sub);
			continue;
		}
		if (f->array_len) {
			size_t k, n;
			if (!json_is_array(v))
				return verrf(e, false, "%s: expected an array", sub);
			n = json_array_size(v);
			if (n > f->array_len)
				return verrf(e, true, "%s: %zu elements, at most %u allowed", sub, n,
					     f->array_len);
			if ((f->flags & MYCO_API_F_MIN_LEN) && n < f->min_len)
				return verrf(e, true, "%s: %zu elements, at least %u required", sub, n,
					     f->min_len);
			for (k = 0; k < n; k++) {
				char ep[300];
				snprintf(ep, sizeof(ep), "%s[%zu]", sub, k);
				rc = json_elem(api, f, fp + k * f->elem_size, json_array_get(v, k), ep, e,
					       depth);
				if (rc < 0)
					return rc;
			}
			continue;
		}
		rc = json_elem(api, f, fp, v, sub, e, depth);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------- value encoding */

/* The response is written straight into a buffer (no jansson objects on
 * the answer path): field order is the table's, output is compact JSON. */
typedef myco__gbuf_t jout_t;
#define jput myco__gbuf_add

static void jputs(jout_t *o, const char *s)
{
	jput(o, s, strlen(s));
}

static void jstr(jout_t *o, const char *s, size_t n)
{
	size_t i, run = 0;

	jput(o, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		jput(o, s + i - run, run);
		run = 0;
		if (c == '"')
			jput(o, "\\\"", 2);
		else if (c == '\\')
			jput(o, "\\\\", 2);
		else {
			char u[8];
			snprintf(u, sizeof(u), "\\u%04x", c);
			jput(o, u, 6);
		}
	}
	jput(o, s + n - run, run);
	jput(o, "\"", 1);
}

static void enc_msg(jout_t *o, const myco_api_msg_t *msg, const void *src, int depth);

static void enc_elem(jout_t *o, const myco_api_field_t *f, const void *p, int depth)
{
	char num[40];

	if (is_int(f->type)) {
		int64_t v = load_int(p, f->type);
		if (f->type == MYCO_API_T_U64)
			snprintf(num, sizeof(num), "%llu", (unsigned long long)(uint64_t)v);
		else
			snprintf(num, sizeof(num), "%lld", (long long)v);
		jputs(o, num);
		return;
	}
	switch (f->type) {
	case MYCO_API_T_F32:
	case MYCO_API_T_F64: {
		double x;
		if (f->type == MYCO_API_T_F32) {
			float y;
			memcpy(&y, p, 4);
			x = y;
		} else {
			memcpy(&x, p, 8);
		}
		if (!isfinite(x)) {
			jputs(o, "null");
		} else {
			snprintf(num, sizeof(num), "%.17g", x);
			if (!strpbrk(num, ".eE"))
				strcat(num, ".0");
			jputs(o, num);
		}
		return;
	}
	case MYCO_API_T_BOOL:
		jputs(o, *(const uint8_t *)p ? "true" : "false");
		return;
	case MYCO_API_T_STRING:
	case MYCO_API_T_PATH: {
		size_t n = myco_api_strlen(p, f->length);
		jstr(o, utf8_ok(p, n) ? p : "", utf8_ok(p, n) ? n : 0);
		return;
	}
	case MYCO_API_T_BYTES: {
		char *b = b64_encode(p, f->length);
		if (!b) {
			o->oom = true;
			return;
		}
		jstr(o, b, strlen(b));
		free(b);
		return;
	}
	case MYCO_API_T_ENUM: {
		uint64_t v = 0;
		size_t i;
		memcpy(&v, p, f->enumt ? f->enumt->size : 4);
		for (i = 0; f->enumt && i < f->enumt->nvalues; i++)
			if (f->enumt->values[i] == v) {
				jstr(o, f->enumt->names[i], strlen(f->enumt->names[i]));
				return;
			}
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
		jputs(o, num);
		return;
	}
	case MYCO_API_T_MSG:
		if (depth > 16)
			jputs(o, "null");
		else
			enc_msg(o, f->msg, p, depth + 1);
		return;
	default:
		jputs(o, "null");
	}
}

static void enc_msg(jout_t *o, const myco_api_msg_t *msg, const void *src, int depth)
{
	size_t i;

	jput(o, "{", 1);
	for (i = 0; i < msg->nfields; i++) {
		const myco_api_field_t *f = &msg->fields[i];
		const char *p = (const char *)src + f->offset;
		if (i)
			jput(o, ",", 1);
		jstr(o, f->name, strlen(f->name));
		jput(o, ":", 1);
		if (f->array_len) {
			uint32_t k;
			jput(o, "[", 1);
			for (k = 0; k < f->array_len; k++) {
				if (k)
					jput(o, ",", 1);
				enc_elem(o, f, p + k * f->elem_size, depth);
			}
			jput(o, "]", 1);
		} else {
			enc_elem(o, f, p, depth);
		}
	}
	jput(o, "}", 1);
}

/* -------------------------------------------------------- the table */

static int tabf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int tabf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int check_msg(myco_api_t *api, const myco_api_msg_t *m, char *err, size_t errlen,
		     int depth)
{
	size_t i;

	if (!m)
		return 0;
	if (depth > 16)
		return tabf(err, errlen, "message %s nested too deeply", m->name);
	for (i = 0; i < m->nfields; i++) {
		const myco_api_field_t *f = &m->fields[i];
		uint32_t n = f->array_len ? f->array_len : 1;
		if (!f->name || !*f->name)
			return tabf(err, errlen, "message %s: field %zu has no name", m->name, i);
		if ((uint64_t)f->offset + (uint64_t)f->elem_size * n > m->size ||
		    (uint64_t)f->elem_size * n != f->size)
			return tabf(err, errlen, "message %s: field %s lies outside the struct",
				    m->name, f->name);
		if (is_int(f->type) && f->elem_size != int_size(f->type))
			return tabf(err, errlen, "message %s: field %s: size %u for %s", m->name,
				    f->name, f->elem_size, myco_api_type_name(f->type));
		if ((f->type == MYCO_API_T_STRING || f->type == MYCO_API_T_BYTES ||
		     f->type == MYCO_API_T_PATH) && (f->length == 0 || f->length > f->elem_size))
			return tabf(err, errlen, "message %s: field %s: bad length", m->name, f->name);
		if (f->type == MYCO_API_T_MSG && (!f->msg || f->msg->size > f->elem_size))
			return tabf(err, errlen, "message %s: field %s: bad nested message",
				    m->name, f->name);
		if (f->type == MYCO_API_T_ENUM &&
		    (!f->enumt || f->enumt->size > f->elem_size || !f->enumt->size))
			return tabf(err, errlen, "message %s: field %s: bad enum", m->name, f->name);
		if (f->type > MYCO_API_T_PATH)
			return tabf(err, errlen, "message %s: field %s: unknown type", m->name, f->name);
		if (f->flags & MYCO_API_F_PATTERN) {
			char *anch;
			rx_t *nrx;
			int rc;
			if (!f->pattern)
				return tabf(err, errlen, "message %s: field %s: pattern missing",
					    m->name, f->name);
			if (find_rx(api, f))
				continue;
			nrx = realloc(api->rx, (api->nrx + 1) * sizeof(*nrx));
			if (!nrx)
				return -ENOMEM;
			api->rx = nrx;
			if (asprintf(&anch, "^(%s)$", f->pattern) < 0)
				return -ENOMEM;
			rc = regcomp(&api->rx[api->nrx].re, anch, REG_EXTENDED | REG_NOSUB);
			free(anch);
			if (rc != 0)
				return tabf(err, errlen, "message %s: field %s: bad pattern %s",
					    m->name, f->name, f->pattern);
			api->rx[api->nrx++].field = f;
		}
		if (f->type == MYCO_API_T_MSG) {
			int rc = check_msg(api, f->msg, err, errlen, depth + 1);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Same shape: same number of segments, equal literals, parameters of the
 * same type in the same places. */
static bool same_shape(const myco_api_route_t *a, const myco_api_route_t *b)
{
	size_t i;

	if (a->nsegs != b->nsegs)
		return false;
	for (i = 0; i < a->nsegs; i++) {
		const myco_api_seg_t *x = &a->segs[i], *y = &b->segs[i];
		if (!x->literal != !y->literal)
			return false;
		if (x->literal && strcmp(x->literal, y->literal) != 0)
			return false;
		if (!x->literal && a->params->fields[x->param].type != b->params->fields[y->param].type)
			return false;
	}
	return true;
}

int myco_api_create(myco_api_t **out, const myco_api_service_t *svc, void *user,
		    char *err, size_t errlen)
{
	myco_api_t *api;
	size_t i, j;
	int rc;

	*out = NULL;
	if (!svc || (svc->abi >> 16) != MYCO_API_ABI_MAJOR) {
		tabf(err, errlen, "route table ABI %u.%u, runtime %u.%u",
		     svc ? svc->abi >> 16 : 0, svc ? svc->abi & 0xffff : 0,
		     MYCO_API_ABI_MAJOR, MYCO_API_ABI_MINOR);
		return -MYCO_EVERSION;
	}
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->svc = svc;
	api->user = user;
	api->plen = svc->prefix ? strlen(svc->prefix) : 0;
	while (api->plen && svc->prefix[api->plen - 1] == '/')
		api->plen--;
	for (i = 0; i < svc->nroutes; i++) {
		const myco_api_route_t *r = &svc->routes[i];
		if (!myco_api_method_name(r->method)) {
			rc = tabf(err, errlen, "route %s: one method expected", r->pattern);
			goto fail;
		}
		if (!r->handler) {
			rc = tabf(err, errlen, "route %s %s: no handler",
				  myco_api_method_name(r->method), r->pattern);
			goto fail;
		}
		if (r->nsegs && !r->segs) {
			rc = tabf(err, errlen, "route %s: segments missing", r->pattern);
			goto fail;
		}
		for (j = 0; j < r->nsegs; j++) {
			const myco_api_seg_t *s = &r->segs[j];
			if (s->literal)
				continue;
			if (!r->params || s->param >= r->params->nfields) {
				rc = tabf(err, errlen, "route %s: parameter %u unknown", r->pattern,
					  s->param);
				goto fail;
			}
			if (r->params->fields[s->param].type == MYCO_API_T_PATH && j + 1 != r->nsegs) {
				rc = tabf(err, errlen, "route %s: a path parameter must be last",
					  r->pattern);
				goto fail;
			}
			if (r->params->fields[s->param].type == MYCO_API_T_MSG ||
			    r->params->fields[s->param].array_len) {
				rc = tabf(err, errlen, "route %s: parameter must be a scalar", r->pattern);
				goto fail;
			}
		}
		if ((rc = check_msg(api, r->params, err, errlen, 0)) < 0 ||
		    (rc = check_msg(api, r->query, err, errlen, 0)) < 0 ||
		    (rc = check_msg(api, r->request, err, errlen, 0)) < 0 ||
		    (rc = check_msg(api, r->response, err, errlen, 0)) < 0)
			goto fail;
		for (j = 0; j < i; j++) {
			const myco_api_route_t *o = &svc->routes[j];
			if (o->method == r->method && same_shape(o, r)) {
				rc = tabf(err, errlen, "routes %s %s and %s %s conflict",
					  myco_api_method_name(o->method), o->pattern,
					  myco_api_method_name(r->method), r->pattern);
				goto fail;
			}
		}
	}
	*out = api;
	return 0;
fail:
	myco_api_destroy(api);
	return rc;
}

void myco_api_destroy(myco_api_t *api)
{
	size_t i;

	if (!api)
		return;
	for (i = 0; i < api->nrx; i++)
		regfree(&api->rx[i].re);
	free(api->rx);
	free(api);
}

const char *myco__api_prefix(const myco_api_t *api)
{
	return api->svc->prefix ? api->svc->prefix : "";
}

/* ---------------------------------------------------------- matching */

#define MAX_SEGS 32

typedef struct segs {
	size_t n;
	const char *raw[MAX_SEGS];   /* raw segment starts (for PATH) */
	size_t rawlen[MAX_SEGS];
	char *dec[MAX_SEGS];         /* percent-decoded, NUL-terminated */
	size_t declen[MAX_SEGS];
	const char *rest_end;
	char *buf;                   /* one allocation for every dec[] */
} segs_t;

static void segs_free(segs_t *s)
{
	free(s->buf);
	s->buf = NULL;
}

static int split_path(const char *p, size_t n, segs_t *s)
{
	size_t i = 0;

	s->n = 0;
	s->rest_end = p + n;
	if (n == 0 || p[0] != '/')
		return -EINVAL;
	if (n == 1)
		return 0;
	/* decoded segments are never longer than raw ones: n bytes plus a
	 * terminator per segment is enough */
	s->buf = malloc(n + MAX_SEGS + 1);
	if (!s->buf)
		return -ENOMEM;
	{
	char *o = s->buf;
	i = 1;
	for (;;) {
		size_t b = i;
		ssize_t d;
		while (i < n && p[i] != '/')
			i++;
		if (s->n == MAX_SEGS)
			return -E2BIG;
		s->raw[s->n] = p + b;
		s->rawlen[s->n] = i - b;
		s->dec[s->n] = o;
		d = pct_decode(p + b, i - b, o, i - b + 1, false);
		if (d < 0)
			return -EILSEQ;
		o += d + 1;
		s->declen[s->n++] = (size_t)d;
		if (i >= n)
			break;
		i++;                    /* skip '/' ; a trailing slash makes "" */
	}
	}
	return 0;
}

/* Match route r against the segments; params are parsed into buf (size of
 * r->params).  Returns 1 match, 0 no match, -EINVAL constraint failure
 * (e filled), other negative errors. */
static int match_route(const myco_api_t *api, const myco_api_route_t *r, const segs_t *s,
		       void *buf, verr_t *e, uint64_t *score)
{
	size_t i;
	uint64_t sc = 0;	/* 2 bits a segment: MAX_SEGS * 2 = 64 bits */
	int cons = 0;

	for (i = 0; i < r->nsegs; i++) {
		const myco_api_seg_t *g = &r->segs[i];
		sc <<= 2;
		if (i >= s->n)
			return 0;
		if (g->literal) {
			if (strlen(g->literal) != s->declen[i] ||
			    memcmp(g->literal, s->dec[i], s->declen[i]) != 0)
				return 0;
			sc |= 3;
			continue;
		}
		{
			const myco_api_field_t *f = &r->params->fields[g->param];
			char path[96];
			verr_t pe;
			int rc;
			snprintf(path, sizeof(path), "path parameter %s", f->name);
			if (f->type == MYCO_API_T_PATH) {
				size_t n = (size_t)(s->rest_end - s->raw[i]);
				if (n == 0)
					return 0;
				rc = store_string(api, f, (char *)buf + f->offset, s->raw[i], n, path, &pe);
				if (rc < 0 && !pe.constraint)
					return 0;
				if (rc < 0 && !cons) {
					*e = pe;
					cons = -EINVAL;
				}
				*score = sc << 2 * (MAX_SEGS - i - 1) | 1;
				return cons ? cons : 1;
			}
			if (s->declen[i] == 0)
				return 0;
			rc = text_value(api, f, (char *)buf + f->offset, s->dec[i], s->declen[i], path,
					&pe);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0 && !pe.constraint)
				return 0;
			if (rc < 0 && !cons) {
				*e = pe;
				cons = -EINVAL;
			}
			sc |= 2;
		}
	}
	if (r->nsegs != s->n)
		return 0;
	*score = r->nsegs ? sc << 2 * (MAX_SEGS - r->nsegs) : 0;
	return cons ? cons : 1;
}

static int parse_query(const myco_api_t *api, const myco_api_msg_t *q, void *dst,
		       const char *qs, size_t qn, verr_t *e)
{
	size_t i = 0, k;
	uint32_t counts[64] = { 0 };
	bool seen[64] = { false };
	char *key = NULL, *val = NULL;
	int rc = 0;

	while (i < qn) {
		size_t b = i, eq = (size_t)-1;
		ssize_t kl, vl;
		const myco_api_field_t *f = NULL;
		char path[160];
		while (i < qn && qs[i] != '&') {
			if (qs[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (i == b) {
			i++;
			continue;
		}
		if (eq == (size_t)-1)
			eq = i;
		free(key);
		free(val);
		key = malloc(eq - b + 1);
		val = malloc(i - eq + 1);
		if (!key || !val) {
			rc = -ENOMEM;
			goto out;
		}
		kl = pct_decode(qs + b, eq - b, key, eq - b + 1, true);
		vl = eq < i ? pct_decode(qs + eq + 1, i - eq - 1, val, i - eq, true) : 0;
		if (eq == i)
			val[0] = '\0';
		if (kl < 0 || vl < 0) {
			rc = verrf(e, false, "query: malformed percent-encoding");
			goto out;
		}
		i++;
		for (k = 0; k < q->nfields && k < 64; k++)
			if (strcmp(q->fields[k].name, key) == 0) {
				f = &q->fields[k];
				break;
			}
		if (!f) {
			if (q->open)
				continue;
			rc = verrf(e, false, "query: unknown parameter \"%.64s\"", key);
			goto out;
		}
		snprintf(path, sizeof(path), "query.%s", f->name);
		if (f->array_len) {
			if (counts[k] >= f->array_len) {
				rc = verrf(e, true, "%s: at most %u values allowed", path, f->array_len);
				goto out;
			}
			rc = text_value(api, f, (char *)dst + f->offset + counts[k]++ * f->elem_size,
					val, (size_t)vl, path, e);
		} else {
			if (seen[k]) {
				rc = verrf(e, false, "%s: given more than once", path);
				goto out;
			}
			rc = text_value(api, f, (char *)dst + f->offset, val, (size_t)vl, path, e);
		}
		seen[k] = true;
		if (rc < 0)
			goto out;
	}
	for (k = 0; k < q->nfields && k < 64; k++)
		if ((q->fields[k].flags & MYCO_API_F_REQUIRED) && !seen[k]) {
			rc = verrf(e, false, "query.%s: required parameter is missing",
				   q->fields[k].name);
			goto out;
		}
out:
	free(key);
	free(val);
	return rc;
}

/* ---------------------------------------------------------- responses */

void *myco_api_body(myco_api_resp_t *resp)
{
	return resp->body;
}

int myco_api_status(myco_api_resp_t *resp, unsigned status)
{
	if (status < 100 || status > 599)
		return -EINVAL;
	resp->status = status;
	return 0;
}

static int hdr_add(myco_api_resp_t *resp, const char *name, size_t nl, const char *val, size_t vl)
{
	size_t need = resp->hlen + nl + vl + 4;
	if (need > resp->hcap) {
		size_t nc = resp->hcap ? resp->hcap * 2 : 256;
		char *nb;
		while (nc < need)
			nc *= 2;
		nb = realloc(resp->hdrs, nc);
		if (!nb)
			return -ENOMEM;
		resp->hdrs = nb;
		resp->hcap = nc;
	}
	memcpy(resp->hdrs + resp->hlen, name, nl);
	resp->hlen += nl;
	memcpy(resp->hdrs + resp->hlen, ": ", 2);
	resp->hlen += 2;
	memcpy(resp->hdrs + resp->hlen, val, vl);
	resp->hlen += vl;
	memcpy(resp->hdrs + resp->hlen, "\r\n", 2);
	resp->hlen += 2;
	return 0;
}

int myco_api_set_header(myco_api_resp_t *resp, const char *name, const char *value)
{
	const char *p;
	size_t nl;

	if (!name || !value || !*name)
		return -EINVAL;
	nl = strlen(name);
	for (p = name; *p; p++)
		if (*p <= ' ' || *p == ':' || *p == 0x7f)
			return -EINVAL;
	for (p = value; *p; p++)
		if ((*p < ' ' && *p != '\t') || *p == 0x7f)
			return -EINVAL;
	if (myco__h1_eq(name, nl, "content-length") || myco__h1_eq(name, nl, "transfer-encoding") ||
	    myco__h1_eq(name, nl, "connection"))
		return -EPERM;
	return hdr_add(resp, name, nl, value, strlen(value));
}

int myco_api_error(myco_api_resp_t *resp, unsigned status, const char *fmt, ...)
{
	va_list ap;

	if (status < 400 || status > 599)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(resp->errmsg, sizeof(resp->errmsg), fmt, ap);
	va_end(ap);
	resp->status = status;
	resp->error = true;
	return 0;
}

int myco_api_raw(myco_api_resp_t *resp, const char *content_type, const void *data,
		 size_t len)
{
	char *c = malloc(len ? len : 1);

	if (!c)
		return -ENOMEM;
	memcpy(c, data, len);
	free(resp->raw);
	resp->raw = c;
	resp->raw_len = len;
	snprintf(resp->raw_type, sizeof(resp->raw_type), "%s",
		 content_type ? content_type : "application/octet-stream");
	return 0;
}

const char *myco_api_header(const myco_api_req_t *req, const char *name, size_t *len)
{
	const myco__h1_msg_t *m = req->http;
	const myco__h1_hdr_t *h = m ? myco__h1_find(m, name) : NULL;

	if (!h)
		return NULL;
	if (len)
		*len = h->vlen;
	return h->value;
}

/* ------------------------------------------------------------ dispatch */

static void allow_list(unsigned mask, char *buf, size_t cap)
{
	unsigned i;
	size_t o = 0;

	buf[0] = '\0';
	if (mask & MYCO_API_GET)
		mask |= MYCO_API_HEAD;
	mask |= MYCO_API_OPTIONS;
	for (i = 0; i < 7; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", method_names[i]);
}

/* CORS headers for an allowed Origin; returns true when allowed. */
static bool cors_headers(const myco_api_t *api, const myco__h1_msg_t *m, myco_api_resp_t *resp)
{
	const myco_api_cors_t *cors = api->svc->cors;
	const myco__h1_hdr_t *o = myco__h1_find(m, "origin");
	size_t i;
	bool any = false, ok = false;

	if (!cors || !o)
		return false;
	for (i = 0; i < cors->norigins; i++) {
		if (strcmp(cors->origins[i], "*") == 0)
			any = ok = true;
		else if (strlen(cors->origins[i]) == o->vlen &&
			 memcmp(cors->origins[i], o->value, o->vlen) == 0)
			ok = true;
	}
	if (!ok)
		return false;
	if (any && !cors->allow_credentials)
		hdr_add(resp, "Access-Control-Allow-Origin", 27, "*", 1);
	else
		hdr_add(resp, "Access-Control-Allow-Origin", 27, o->value, o->vlen);
	hdr_add(resp, "Vary", 4, "Origin", 6);
	if (cors->allow_credentials)
		hdr_add(resp, "Access-Control-Allow-Credentials", 32, "true", 4);
	return true;
}

static int send_resp(myco__gate_conn_t *c, myco__gate_req_t *r, myco_api_resp_t *resp,
		     const char *ctype, const char *body, size_t len)
{
	return myco__gate_respond(c, r, resp->status, ctype, resp->hdrs, resp->hlen, body, len);
}

static int send_error(myco__gate_conn_t *c, myco__gate_req_t *r, myco_api_resp_t *resp,
		      unsigned status, const char *detail)
{
	json_t *o = json_pack("{s:s, s:s}", "error", myco__h1_reason(status), "detail", detail);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc;

	resp->status = status;
	rc = send_resp(c, r, resp, "application/json", s ? s : "{}", s ? strlen(s) : 2);
	free(s);
	json_decref(o);
	return rc;
}

int myco__api_dispatch(myco_api_t *api, myco__gate_conn_t *c, myco__gate_req_t *r)
{
	const myco_api_service_t *svc = api->svc;
	myco__h1_msg_t *m = r->m;
	myco_api_method_t meth = myco_api_method_parse(m->method, m->mlen);
	myco_api_resp_t resp;
	segs_t sg;
	const myco_api_route_t *best = NULL;
	uint64_t best_score = 0;
	unsigned allow = 0;
	void *params = NULL, *best_params = NULL, *query = NULL, *body = NULL;
	verr_t cerr = { .msg = "" };
	bool have_cerr = false;
	char allow_s[96];
	size_t i;
	int rc;

	memset(&resp, 0, sizeof(resp));
	memset(&sg, 0, sizeof(sg));
	resp.status = 200;
	cors_headers(api, m, &resp);

	/* strip the mount prefix */
	{
		const char *p = r->path;
		size_t n = r->path_len;
		if (api->plen) {
			if (n < api->plen || memcmp(p, svc->prefix, api->plen) != 0 ||
			    (n > api->plen && p[api->plen] != '/')) {
				rc = send_error(c, r, &resp, 404, "no such resource");
				goto out;
			}
			p += api->plen;
			n -= api->plen;
			if (n == 0) {
				p = "/";
				n = 1;
			}
		}
		rc = split_path(p, n, &sg);
		if (rc == -ENOMEM)
			goto out;
		if (rc < 0) {
			rc = send_error(c, r, &resp, rc == -E2BIG ? 404 : 400,
					rc == -E2BIG ? "no such resource" : "malformed path");
			goto out;
		}
	}

	/* every route: shape and parameters; best-scoring one of this method */
	for (i = 0; i < svc->nroutes; i++) {
		const myco_api_route_t *rt = &svc->routes[i];
		uint64_t score = 0;
		verr_t e;
		bool mine = rt->method == meth || (meth == MYCO_API_HEAD && rt->method == MYCO_API_GET);
		free(params);
		params = rt->params ? calloc(1, rt->params->size ? rt->params->size : 1) : NULL;
		if (rt->params && !params) {
			rc = -ENOMEM;
			goto out;
		}
		rc = match_route(api, rt, &sg, params, &e, &score);
		if (rc == 0)
			continue;
		if (rc < 0 && rc != -EINVAL)
			goto out;
		allow |= rt->method;
		if (!mine)
			continue;
		if (rc == -EINVAL) {
			if (!have_cerr) {
				cerr = e;
				have_cerr = true;
			}
			continue;
		}
		if (!best || score > best_score) {
			best = rt;
			best_score = score;
			free(best_params);
			best_params = params;
			params = NULL;
		}
	}
	free(params);
	params = NULL;

	if (!best) {
		if (meth == MYCO_API_OPTIONS && allow) {
			/* preflight or plain OPTIONS */
			const myco__h1_hdr_t *rm = myco__h1_find(m, "access-control-request-method");
			allow_list(allow, allow_s, sizeof(allow_s));
			resp.status = 204;
			hdr_add(&resp, "Allow", 5, allow_s, strlen(allow_s));
			if (rm && svc->cors && myco__h1_find(m, "origin")) {
				const myco__h1_hdr_t *rh = myco__h1_find(m, "access-control-request-headers");
				char age[16];
				hdr_add(&resp, "Access-Control-Allow-Methods", 28, allow_s, strlen(allow_s));
				if (svc->cors->allow_headers)
					hdr_add(&resp, "Access-Control-Allow-Headers", 28,
						svc->cors->allow_headers, strlen(svc->cors->allow_headers));
				else if (rh)
					hdr_add(&resp, "Access-Control-Allow-Headers", 28, rh->value, rh->vlen);
				snprintf(age, sizeof(age), "%u",
					 svc->cors->max_age_s ? svc->cors->max_age_s : 600);
				hdr_add(&resp, "Access-Control-Max-Age", 22, age, strlen(age));
			}
			rc = send_resp(c, r, &resp, NULL, "", 0);
			goto out;
		}
		if (have_cerr) {
			rc = send_error(c, r, &resp, 400, cerr.msg);
			goto out;
		}
		if (allow) {
			allow_list(allow, allow_s, sizeof(allow_s));
			hdr_add(&resp, "Allow", 5, allow_s, strlen(allow_s));
			rc = send_error(c, r, &resp, 405, "method not allowed on this resource");
			goto out;
		}
		rc = send_error(c, r, &resp, 404, "no such resource");
		goto out;
	}

	/* query string */
	if (best->query) {
		verr_t e;
		query = calloc(1, best->query->size ? best->query->size : 1);
		if (!query) {
			rc = -ENOMEM;
			goto out;
		}
		if (r->query && (rc = parse_query(api, best->query, query, r->query, r->query_len,
						  &e)) < 0) {
			if (rc == -ENOMEM)
				goto out;
			rc = send_error(c, r, &resp, 400, e.msg);
			goto out;
		} else if (!r->query) {
			rc = parse_query(api, best->query, query, "", 0, &e);
			if (rc == -ENOMEM)
				goto out;
			if (rc < 0) {
				rc = send_error(c, r, &resp, 400, e.msg);
				goto out;
			}
		}
	}

	/* body */
	{
		size_t max = svc->max_body ? svc->max_body : (1u << 20);
		if (r->body_len > max) {
			r->keep_alive = false;
			rc = send_error(c, r, &resp, 413, "request body too large");
			goto out;
		}
	}
	if (best->request) {
		const myco__h1_hdr_t *ct = myco__h1_find(m, "content-type");
		json_error_t je;
		json_t *doc;
		verr_t e;
		if (r->body_len == 0) {
			rc = send_error(c, r, &resp, 400, "body: a JSON object is required");
			goto out;
		}
		if (!ct || !(myco__h1_eq(ct->value, ct->vlen < 16 ? ct->vlen : 16, "application/json") ||
			     (ct->vlen >= 5 && memmem(ct->value, ct->vlen, "+json", 5)))) {
			rc = send_error(c, r, &resp, 415, "body must be application/json");
			goto out;
		}
		doc = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
		if (!doc) {
			char msg[300];
			snprintf(msg, sizeof(msg), "body: invalid JSON at line %d column %d: %s", je.line,
				 je.column, je.text);
			rc = send_error(c, r, &resp, 400, msg);
			goto out;
		}
		if (!json_is_object(doc)) {
			json_decref(doc);
			rc = send_error(c, r, &resp, 400, "body: expected a JSON object");
			goto out;
		}
		body = calloc(1, best->request->size ? best->request->size : 1);
		if (!body) {
			json_decref(doc);
			rc = -ENOMEM;
			goto out;
		}
		rc = json_msg(api, best->request, body, doc, "body", &e, 0);
		json_decref(doc);
		if (rc == -ENOMEM)
			goto out;
		if (rc < 0) {
			rc = send_error(c, r, &resp, 400, e.msg);
			goto out;
		}
	} else if (r->body_len) {
		rc = send_error(c, r, &resp, 400, "this resource takes no request body");
		goto out;
	}

	/* the handler */
	{
		myco_api_req_t req = {
			.route = best, .method = meth, .params = best_params, .query = query,
			.body = body, .user = api->user, .path = r->path, .path_len = r->path_len,
			.request_id = r->request_id, .http = m,
		};
		if (best->response) {
			resp.body = calloc(1, best->response->size ? best->response->size : 1);
			if (!resp.body) {
				rc = -ENOMEM;
				goto out;
			}
		}
		resp.status = best->status ? best->status : 200;
		rc = best->handler(&req, &resp);
		if (resp.error) {
			rc = send_error(c, r, &resp, resp.status, resp.errmsg);
		} else if (rc < 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "internal error (request %s)", r->request_id);
			fprintf(stderr, "myco-gate: %s %.*s: handler %s failed: %s (request %s)\n",
				myco_api_method_name(best->method), (int)r->path_len, r->path,
				best->name ? best->name : "?", myco_strerror(rc), r->request_id);
			rc = send_error(c, r, &resp, 500, msg);
		} else if (resp.raw) {
			rc = send_resp(c, r, &resp, resp.raw_type, resp.raw, resp.raw_len);
		} else if (best->response) {
			jout_t o = { 0 };
			enc_msg(&o, best->response, resp.body, 0);
			if (o.oom) {
				free(o.p);
				rc = -ENOMEM;
				goto out;
			}
			rc = send_resp(c, r, &resp, "application/json", o.p, o.n);
			free(o.p);
		} else {
			rc = send_resp(c, r, &resp, NULL, "", 0);
		}
	}
out:
	segs_free(&sg);
	free(params);
	free(best_params);
	free(query);
	free(body);
	free(resp.body);
	free(resp.hdrs);
	free(resp.raw);
	return rc;
}

/* ------------------------------------------------------------ serving */

static int api_handle(void *ctx, myco__gate_conn_t *c, myco__gate_req_t *r)
{
	return myco__api_dispatch(ctx, c, r);
}

static int api_serve(myco_api_t *api, const char *host, uint16_t port, int lfd, unsigned nloops)
{
	myco__gate_srv_opts_t o = {
		.host = host, .port = port, .lfd = lfd, .nloops = nloops,
		.max_body = api->svc->max_body ? api->svc->max_body + 1 : (1u << 20) + 1,
		.handle = api_handle, .ctx = api,
	};
	return myco__gate_serve(&o);
}

int myco_api_serve(myco_api_t *api, const char *host, uint16_t port, unsigned nloops)
{
	return api_serve(api, host, port, -1, nloops);
}

int myco_api_serve_fd(myco_api_t *api, int lfd, unsigned nloops)
{
	if (lfd < 0)
		return -EBADF;
	return api_serve(api, NULL, 0, lfd, nloops);
}
