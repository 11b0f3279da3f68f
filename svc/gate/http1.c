/*
 * http1.c: the HTTP/1.1 message parser of myco-gate (RFC 9112): request and
 * status lines, header fields with their framing meaning (Content-Length,
 * Transfer-Encoding, Connection, Expect, Host, Upgrade), and an in-place
 * chunked decoder.  Written by hand because Debian 12 ships no llhttp and
 * picohttpparser accepts inputs RFC 9112 tells a server to reject (bare LF
 * line ends, obs-fold); the strict rules are listed in http1.h.
 * Not for: I/O, routing, proxying (server.c, proxy.c).
 */
#include "http1.h"

#include <errno.h>
#include <string.h>

static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* field-vchar / SP / HTAB / obs-text */
static inline bool vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool myco__h1_eq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit[i] || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return false;
	return lit[n] == '\0';
}

bool myco__h1_has_token(const char *v, size_t n, const char *tok)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && myco__h1_eq(v + s, e - s, tok))
			return true;
	}
	return false;
}

const myco__h1_hdr_t *myco__h1_find(const myco__h1_msg_t *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nhdrs; i++)
		if (myco__h1_eq(m->hdrs[i].name, m->hdrs[i].nlen, name))
			return &m->hdrs[i];
	return NULL;
}

static ssize_t fail(myco__h1_msg_t *m, unsigned status, const char *why)
{
	m->err_status = status;
	m->err = why;
	return -EPROTO;
}

/* Find the end of the line starting at p: returns the index of its '\n'
 * (the line is buf[p..e-1) without the CR), -1 when incomplete, -2 for a
 * bare CR or bare LF. */
static ssize_t line_end(const char *buf, size_t len, size_t p)
{
	const char *nl = memchr(buf + p, '\n', len - p);
	const char *cr = memchr(buf + p, '\r', (nl ? (size_t)(nl - buf) : len) - p);

	if (!nl) {
		/* a CR that is not the last byte and not followed by LF */
		if (cr && (size_t)(cr - buf) + 1 < len)
			return -2;
		return -1;
	}
	if (nl == buf + p || nl[-1] != '\r')
		return -2;                      /* bare LF */
	if (cr && cr != nl - 1)
		return -2;                      /* bare CR inside the line */
	return nl - buf;
}

static bool parse_version(const char *s, size_t n, unsigned *minor, bool *other)
{
	*other = false;
	if (n == 8 && memcmp(s, "HTTP/1.", 7) == 0 && (s[7] == '0' || s[7] == '1')) {
		*minor = (unsigned)(s[7] - '0');
		return true;
	}
	if (n == 8 && memcmp(s, "HTTP/", 5) == 0 && s[5] >= '0' && s[5] <= '9' &&
	    s[6] == '.' && s[7] >= '0' && s[7] <= '9')
		*other = true;
	return false;
}

static bool host_ok(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!(tchar[c] || c == ':' || c == '[' || c == ']') || c == '%' ||
		    c == '|' || c == '`' || c == '^')
			return false;
	}
	return true;
}

/* Header fields and their framing meaning; p is the first header line. */
static ssize_t parse_fields(const char *buf, size_t len, size_t max_head,
			    myco__h1_msg_t *m, size_t p, bool request)
{
	bool conn_close = false, conn_keep = false, conn_upgrade = false;
	bool have_upgrade = false, te_seen = false;
	unsigned nhost = 0;

	m->content_length = -1;
	for (;;) {
		ssize_t e = line_end(buf, len, p);
		const char *name, *v;
		size_t nl, vs, ve, i;

		if (e == -2)
			return fail(m, 400, "bare CR or LF in header section");
		if (e == -1) {
			if (len >= max_head)
				return fail(m, 431, "header section too large");
			return 0;
		}
		if ((size_t)e + 1 > max_head)
			return fail(m, 431, "header section too large");
		if ((size_t)e == p + 1) {       /* empty line: end of head */
			m->head_len = (size_t)e + 1;
			break;
		}
		if (buf[p] == ' ' || buf[p] == '\t')
			return fail(m, 400, "obsolete line folding");
		name = buf + p;
		for (nl = 0; p + nl < (size_t)e - 1 && tchar[(unsigned char)name[nl]]; nl++)
			;
		if (nl == 0 || name[nl] != ':') {
			if (nl > 0 && (name[nl] == ' ' || name[nl] == '\t'))
				return fail(m, 400, "whitespace before colon");
			return fail(m, 400, "malformed header field");
		}
		vs = p + nl + 1;
		ve = (size_t)e - 1;
		while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
			vs++;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		for (i = vs; i < ve; i++)
			if (!vchar((unsigned char)buf[i]))
				return fail(m, 400, "control character in header value");
		if (m->nhdrs == MYCO__H1_MAX_HEADERS)
			return fail(m, 431, "too many header fields");
		v = buf + vs;
		m->hdrs[m->nhdrs++] = (myco__h1_hdr_t){ name, v, (uint32_t)nl,
						       (uint32_t)(ve - vs) };
		if (myco__h1_eq(name, nl, "content-length")) {
			int64_t cl = 0;
			if (m->content_length >= 0)
				return fail(m, 400, "duplicate Content-Length");
			if (ve == vs || ve - vs > 18)
				return fail(m, 400, "bad Content-Length");
			for (i = vs; i < ve; i++) {
				if (buf[i] < '0' || buf[i] > '9')
					return fail(m, 400, "bad Content-Length");
				cl = cl * 10 + (buf[i] - '0');
			}
			m->content_length = cl;
		} else if (myco__h1_eq(name, nl, "transfer-encoding")) {
			/* Codings accumulate over repeated fields; the last one
			 * must be chunked, and chunked only once. */
			size_t j = 0, n = ve - vs;
			while (j < n) {
				size_t s, t;
				while (j < n && (v[j] == ' ' || v[j] == '\t' || v[j] == ','))
					j++;
				if (j == n)
					break;
				s = j;
				while (j < n && v[j] != ',')
					j++;
				t = j;
				while (t > s && (v[t - 1] == ' ' || v[t - 1] == '\t'))
					t--;
				if (m->chunked)
					return fail(m, 400, "transfer coding after chunked");
				if (myco__h1_eq(v + s, t - s, "chunked"))
					m->chunked = true;
				else if (request)
					return fail(m, 501, "unsupported transfer coding");
			}
			te_seen = true;
		} else if (myco__h1_eq(name, nl, "connection")) {
			conn_close |= myco__h1_has_token(v, ve - vs, "close");
			conn_keep |= myco__h1_has_token(v, ve - vs, "keep-alive");
			conn_upgrade |= myco__h1_has_token(v, ve - vs, "upgrade");
		} else if (request && myco__h1_eq(name, nl, "host")) {
			if (++nhost > 1)
				return fail(m, 400, "duplicate Host");
			if (!host_ok(v, ve - vs))
				return fail(m, 400, "bad Host");
			m->host = v;
			m->hostlen = (uint32_t)(ve - vs);
		} else if (request && myco__h1_eq(name, nl, "expect")) {
			if (!myco__h1_eq(v, ve - vs, "100-continue"))
				return fail(m, 417, "unsupported expectation");
			m->expect_continue = true;
		} else if (myco__h1_eq(name, nl, "upgrade")) {
			have_upgrade = ve > vs;
		}
		p = (size_t)e + 1;
	}
	if (te_seen) {
		if (request && m->content_length >= 0)
			return fail(m, 400, "both Content-Length and Transfer-Encoding");
		if (request && m->minor == 0)
			return fail(m, 400, "Transfer-Encoding in HTTP/1.0");
		if (request && !m->chunked)
			return fail(m, 400, "Transfer-Encoding without chunked");
		if (!m->chunked || m->content_length >= 0)
			conn_close = true;      /* response: until close, or
			                           CL+TE: do not reuse */
		m->content_length = -1;
	}
	if (request && m->minor == 1 && nhost == 0)
		return fail(m, 400, "missing Host");
	m->keep_alive = m->minor == 1 ? !conn_close : (conn_keep && !conn_close);
	m->upgrade = conn_upgrade && have_upgrade;
	return (ssize_t)m->head_len;
}

ssize_t myco__h1_parse_request(const char *buf, size_t len, size_t max_head,
			       myco__h1_msg_t *m)
{
	size_t p = 0, i, s;
	ssize_t e;
	bool other;

	memset(m, 0, offsetof(myco__h1_msg_t, hdrs));
	m->content_length = -1;
	m->host = NULL;
	m->hostlen = 0;
	m->head_len = 0;
	m->chunked = m->keep_alive = m->expect_continue = m->upgrade = false;
	m->err_status = 0;
	m->err = NULL;
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n' && p < 64)
		p += 2;
	if (p < len && buf[p] == '\n')
		return fail(m, 400, "bare LF");
	e = line_end(buf, len, p);
	if (e == -2)
		return fail(m, 400, "bare CR or LF in request line");
	if (e == -1) {
		if (len >= max_head)
			return fail(m, 414, "request line too long");
		/* reject garbage early: the method must be a token */
		for (i = p; i < len && buf[i] != ' ' && buf[i] != '\r'; i++)
			if (!tchar[(unsigned char)buf[i]])
				return fail(m, 400, "malformed request line");
		return 0;
	}
	if ((size_t)e + 1 > max_head)
		return fail(m, 414, "request line too long");
	/* method SP request-target SP HTTP-version */
	s = p;
	for (i = p; i < (size_t)e - 1 && tchar[(unsigned char)buf[i]]; i++)
		;
	if (i == s || buf[i] != ' ')
		return fail(m, 400, "malformed request line");
	m->method = buf + s;
	m->mlen = (uint32_t)(i - s);
	s = ++i;
	for (; i < (size_t)e - 1 && (unsigned char)buf[i] > 0x20 &&
	       (unsigned char)buf[i] < 0x7f; i++)
		;
	if (i == s || buf[i] != ' ')
		return fail(m, 400, "malformed request target");
	m->target = buf + s;
	m->tlen = (uint32_t)(i - s);
	s = ++i;
	if (!parse_version(buf + s, (size_t)e - 1 - s, &m->minor, &other))
		return fail(m, other ? 505 : 400,
			    other ? "HTTP version not supported" : "malformed HTTP version");
	if (m->target[0] != '/' && !(m->mlen == 7 && memcmp(m->method, "CONNECT", 7) == 0) &&
	    !(m->tlen == 1 && m->target[0] == '*') &&
	    !(m->tlen > 7 && (memcmp(m->target, "http://", 7) == 0 ||
			      memcmp(m->target, "https://", 8) == 0)))
		return fail(m, 400, "malformed request target");
	return parse_fields(buf, len, max_head, m, (size_t)e + 1, true);
}

ssize_t myco__h1_parse_response(const char *buf, size_t len, size_t max_head,
				myco__h1_msg_t *m)
{
	size_t i;
	ssize_t e;
	bool other;

	memset(m, 0, offsetof(myco__h1_msg_t, hdrs));
	m->content_length = -1;
	m->host = NULL;
	m->hostlen = 0;
	m->head_len = 0;
	m->chunked = m->keep_alive = m->expect_continue = m->upgrade = false;
	m->err_status = 0;
	m->err = NULL;
	e = line_end(buf, len, 0);
	if (e == -2)
		return fail(m, 502, "bare CR or LF in status line");
	if (e == -1)
		return len >= max_head ? fail(m, 502, "status line too long") : 0;
	if (e < 14 || !parse_version(buf, 8, &m->minor, &other) || buf[8] != ' ')
		return fail(m, 502, "malformed status line");
	for (i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return fail(m, 502, "malformed status code");
	m->status = (unsigned)((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + buf[11] - '0');
	if (m->status < 100)
		return fail(m, 502, "malformed status code");
	if (buf[12] != ' ' && buf[12] != '\r')
		return fail(m, 502, "malformed status line");
	m->reason = buf + 13;
	m->rlen = buf[12] == ' ' ? (uint32_t)(e - 1 - 13) : 0;
	for (i = 0; i < m->rlen; i++)
		if (!vchar((unsigned char)m->reason[i]))
			return fail(m, 502, "control character in reason phrase");
	return parse_fields(buf, len, max_head, m, (size_t)e + 1, false);
}

bool myco__h1_resp_has_body(unsigned status, bool head_request)
{
	return !head_request && status >= 200 && status != 204 && status != 304;
}

enum { CK_SIZE, CK_BWS, CK_EXT, CK_SIZE_LF, CK_DATA, CK_DATA_CR, CK_DATA_LF,
       CK_TRAILER, CK_TRAILER_LINE, CK_TRAILER_LF, CK_END_LF, CK_DONE };

#define CK_MAX_EXT     4096
#define CK_MAX_TRAILER 8192

static ssize_t ck_fail(myco__h1_chunked_t *st, const char *why)
{
	st->err = why;
	return -EPROTO;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

ssize_t myco__h1_chunked_decode(myco__h1_chunked_t *st, char *buf, size_t len,
				size_t *out)
{
	size_t i = 0, o = 0;

	while (i < len && st->state != CK_DONE) {
		unsigned char c = (unsigned char)buf[i];
		int h;

		switch (st->state) {
		case CK_SIZE:
			if ((h = hexval(c)) >= 0) {
				if (++st->digits > 15)
					return ck_fail(st, "chunk size too large");
				st->remaining = st->remaining * 16 + (uint64_t)h;
			} else if (st->digits == 0) {
				return ck_fail(st, "bad chunk size");
			} else if (c == ';') {
				st->state = CK_EXT;
			} else if (c == ' ' || c == '\t') {
				st->state = CK_BWS;
			} else if (c == '\r') {
				st->state = CK_SIZE_LF;
			} else {
				return ck_fail(st, "bad chunk size");
			}
			i++;
			break;
		case CK_BWS:
			if (c == ';')
				st->state = CK_EXT;
			else if (c != ' ' && c != '\t')
				return ck_fail(st, "bad chunk size");
			i++;
			break;
		case CK_EXT:
			if (c == '\r')
				st->state = CK_SIZE_LF;
			else if (!vchar(c) || ++st->ext_bytes > CK_MAX_EXT)
				return ck_fail(st, "bad chunk extension");
			i++;
			break;
		case CK_SIZE_LF:
			if (c != '\n')
				return ck_fail(st, "bare CR after chunk size");
			st->state = st->remaining ? CK_DATA : CK_TRAILER;
			i++;
			break;
		case CK_DATA: {
			size_t n = len - i;
			if (n > st->remaining)
				n = (size_t)st->remaining;
			if (o != i)
				memmove(buf + o, buf + i, n);
			o += n;
			i += n;
			st->remaining -= n;
			if (!st->remaining)
				st->state = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (c != '\r')
				return ck_fail(st, "chunk data longer than its size");
			st->state = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				return ck_fail(st, "bare CR after chunk data");
			st->state = CK_SIZE;
			st->digits = 0;
			st->ext_bytes = 0;
			i++;
			break;
		case CK_TRAILER:
			if (c == '\r') {
				st->state = CK_END_LF;
				i++;
				break;
			}
			if (c == ' ' || c == '\t' || !tchar[c])
				return ck_fail(st, "malformed trailer field");
			st->state = CK_TRAILER_LINE;
			/* fall through */
		case CK_TRAILER_LINE:
			if (++st->trailer_bytes > CK_MAX_TRAILER)
				return ck_fail(st, "trailer section too large");
			if (c == '\r')
				st->state = CK_TRAILER_LF;
			else if (!vchar(c))
				return ck_fail(st, "control character in trailer");
			i++;
			break;
		case CK_TRAILER_LF:
			if (c != '\n')
				return ck_fail(st, "bare CR in trailer");
			st->state = CK_TRAILER;
			i++;
			break;
		case CK_END_LF:
			if (c != '\n')
				return ck_fail(st, "bare CR at end of chunked body");
			st->state = CK_DONE;
			st->done = true;
			i++;
			break;
		default:
			return ck_fail(st, "internal state");
		}
	}
	*out = o;
	return (ssize_t)i;
}

const char *myco__h1_reason(unsigned s)
{
	switch (s) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
