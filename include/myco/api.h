/*
 * myco/api.h: the API framework of myco-gate.  A service is a static route
 * table: each route names an HTTP method, a path pattern with typed
 * parameter segments, the message types of its query string, request body
 * and response body (with JSON field constraints), and a C handler.  The
 * table is written by `myco gen` from `service`/`route` declarations in a
 * .myco file (or by hand, with the macros at the end of this header).  The
 * runtime (lib in svc/gate/) routes a request, extracts and validates every
 * typed input, decodes the JSON body into the request struct, calls the
 * handler with typed input, and encodes the handler's response struct back
 * to JSON.  Invalid input gets 400 with a clear message, an unknown path
 * 404, a known path with another method 405 with an Allow header; CORS
 * preflights are answered from the service's CORS settings.
 *
 * Not for: the HTTP wire protocol or proxying (svc/gate/), the language
 * (myco/lang.h).  Full description: docs/gate.md.
 *
 * Conventions: functions return 0 or a negative errno.  Every descriptor
 * here is read-only static data: the runtime never writes to a table and
 * keeps pointers into it for as long as the myco_api_t lives.
 *
 * Stability: the structs below are the contract between `myco gen` and the
 * runtime.  Fields are only ever added at the end of a struct, and a table
 * carries MYCO_API_ABI in myco_api_service_t.abi; the runtime refuses a
 * table with another major ABI (-MYCO_EVERSION).
 */
#ifndef MYCO_API_H
#define MYCO_API_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "myco/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI of the route table: major << 16 | minor.  A generated table says
 * `.abi = MYCO_API_ABI`. */
#define MYCO_API_ABI_MAJOR 1
#define MYCO_API_ABI_MINOR 0
#define MYCO_API_ABI ((MYCO_API_ABI_MAJOR << 16) | MYCO_API_ABI_MINOR)

/* ------------------------------------------------------------------ */
/* Methods                                                             */
/* ------------------------------------------------------------------ */

/* One bit per method so that a set of methods (the Allow header of a 405,
 * a CORS Access-Control-Allow-Methods) is a mask.  A route has exactly one
 * method; a GET route also answers HEAD (the body is dropped). */
typedef enum myco_api_method {
	MYCO_API_GET     = 1u << 0,
	MYCO_API_HEAD    = 1u << 1,
	MYCO_API_POST    = 1u << 2,
	MYCO_API_PUT     = 1u << 3,
	MYCO_API_PATCH   = 1u << 4,
	MYCO_API_DELETE  = 1u << 5,
	MYCO_API_OPTIONS = 1u << 6,
} myco_api_method_t;

/* "GET"... for one method bit; NULL if m is not exactly one known bit. */
const char *myco_api_method_name(myco_api_method_t m);
/* Parse a method token (case-sensitive, as RFC 9110 says); 0 if unknown. */
myco_api_method_t myco_api_method_parse(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Types of values (fields of messages, path/query parameters)         */
/* ------------------------------------------------------------------ */

/* The value types mirror the message field types of myco/lang.h
 * (myco_ftype_t), in the same order, so a generator maps one to the other
 * by value; MYCO_API_T_PATH exists only for the last path segment.
 * JSON mapping:
 *   U8..U64, I8..I64  JSON integer (no fraction, no exponent), range of the
 *                     C type; U64 limited to 0..2^63-1 (JSON has no
 *                     portable wider integer).  In a path or query string:
 *                     decimal digits, optional '-' for signed types.
 *   F32, F64          JSON number; finite.  Query/path: strtod syntax.
 *   BOOL              JSON true/false.  Query/path: "true"/"false"/"1"/"0".
 *   BYTES             JSON string, standard base64 (RFC 4648 with padding)
 *                     of at most `length` bytes; stored zero-padded.
 *   STRING            JSON string of at most `length` bytes of UTF-8 with
 *                     no NUL; stored NUL-padded in char[length] (NOT
 *                     terminated when exactly `length` bytes long: read it
 *                     with myco_api_str()).  Path/query: percent-decoded.
 *   MSG               JSON object decoded into the nested message `msg`.
 *   ENUM              JSON string naming one of the values of `enumt`;
 *                     stored as its unsigned base type (size 1, 2 or 4).
 *   PATH              path only, the last segment: the rest of the path
 *                     (slashes included, not percent-decoded), as STRING. */
typedef enum myco_api_type {
	MYCO_API_T_U8, MYCO_API_T_U16, MYCO_API_T_U32, MYCO_API_T_U64,
	MYCO_API_T_I8, MYCO_API_T_I16, MYCO_API_T_I32, MYCO_API_T_I64,
	MYCO_API_T_F32, MYCO_API_T_F64,
	MYCO_API_T_BOOL,
	MYCO_API_T_BYTES,
	MYCO_API_T_STRING,
	MYCO_API_T_MSG,
	MYCO_API_T_ENUM,
	MYCO_API_T_PATH,
} myco_api_type_t;

/* Name of a type as written in the language ("u64", "string", ...). */
const char *myco_api_type_name(myco_api_type_t t);

/* An enum: value names (JSON strings) and their numbers. */
typedef struct myco_api_enum {
	const char *name;            /* the enum's name, for messages */
	uint32_t size;               /* 1, 2 or 4 bytes of storage */
	size_t nvalues;
	const char *const *names;    /* nvalues value names */
	const uint64_t *values;      /* nvalues numbers, same order */
} myco_api_enum_t;

/* Field flags (constraints beyond the type itself). */
enum {
	MYCO_API_F_REQUIRED = 1u << 0, /* must be present (in the body object,
	                                  the query string); absent optional
	                                  fields are left zero               */
	MYCO_API_F_MIN      = 1u << 1, /* integer >= min_int / float >= min_num
	                                  (bound checked per array element)  */
	MYCO_API_F_MAX      = 1u << 2, /* integer <= max_int / float <= max_num */
	MYCO_API_F_MIN_LEN  = 1u << 3, /* string/bytes: >= min_len bytes;
	                                  array: >= min_len elements         */
	MYCO_API_F_PATTERN  = 1u << 4, /* string matches `pattern`, a POSIX
	                                  extended regex, anchored by the
	                                  runtime (^(...)$)                  */
	MYCO_API_F_NULLABLE = 1u << 5, /* JSON null accepted (stored as zero) */
};

struct myco_api_msg;

/* One field of a message type, as the JSON key `name`.  offset/size locate
 * it in the C struct of the message (the layout `myco gen` emits for
 * message types, see myco/lang.h: fixed, naturally aligned).
 *
 * Arrays (array_len > 0): a JSON array of at most array_len elements,
 * decoded into the first elements (the rest stay zero); encoded as all
 * array_len elements.  size is then elem_size * array_len.
 *
 * Constraint errors are answered 400 with the field's JSON path, e.g.
 * `body.address.zip: "12x" does not match ^[0-9]{5}$`. */
typedef struct myco_api_field {
	const char *name;            /* JSON key / query parameter name */
	myco_api_type_t type;
	uint32_t offset;             /* byte offset in the struct */
	uint32_t size;               /* total bytes (all elements) */
	uint32_t elem_size;          /* bytes of one element */
	uint32_t array_len;          /* 0 = scalar */
	uint32_t length;             /* STRING/BYTES capacity (N of string[N]) */
	const struct myco_api_msg *msg;    /* MSG: nested type, else NULL */
	const myco_api_enum_t *enumt;      /* ENUM: value set, else NULL */
	uint32_t flags;              /* MYCO_API_F_* */
	int64_t min_int, max_int;    /* integer bounds (F_MIN / F_MAX) */
	double min_num, max_num;     /* F32/F64 bounds (F_MIN / F_MAX) */
	uint32_t min_len;            /* F_MIN_LEN */
	const char *pattern;         /* F_PATTERN: POSIX ERE, else NULL */
} myco_api_field_t;

/* A message type as JSON sees it.  Decoding rejects unknown keys (400
 * `body: unknown field "x"`) unless open is true, and duplicate keys
 * always. */
typedef struct myco_api_msg {
	const char *name;            /* type name, for messages */
	uint32_t size;               /* sizeof the C struct */
	uint32_t align;              /* _Alignof the C struct */
	size_t nfields;
	const myco_api_field_t *fields;
	bool open;                   /* ignore unknown JSON keys */
} myco_api_msg_t;

/* ------------------------------------------------------------------ */
/* Routes                                                              */
/* ------------------------------------------------------------------ */

/* One segment of a path pattern (between slashes).  A literal segment
 * matches exactly (after percent-decoding of the request path); a
 * parameter segment matches any non-empty segment that parses as the
 * field `params->fields[param]` (type and constraints), and is stored in
 * the route's params struct.  A PATH parameter must be last and matches
 * the rest of the path (at least one character).
 *
 * Matching order, so that tables have one meaning: at each depth a
 * literal beats a typed parameter, and a parameter whose value does not
 * parse (e.g. "abc" for u64) does NOT match: the router then tries the
 * next candidate, and only if no route matches the path at all does the
 * request get 404; if the path matched only as a parameter that failed
 * its constraints (range, pattern, length), the answer is 400 naming the
 * parameter.  Two routes with the same method whose segment lists are
 * equal (literals equal, parameters of the same type) conflict:
 * myco_api_create() refuses the table.  A trailing slash is part of the
 * path ("/users/" is not "/users"). */
typedef struct myco_api_seg {
	const char *literal;         /* literal text, or NULL for a parameter */
	uint32_t param;              /* parameter: index in params->fields */
} myco_api_seg_t;

struct myco_api_req;
struct myco_api_resp;

/* A handler.  It runs in a coroutine on one of the gateway's lib/rt loops
 * (myco/rt.h): it may block in coroutine style (myco_co_chan_* on a call
 * channel to another partition, myco_sleep_ns, myco_tcp_connect ...) and
 * must not block the thread.  req and everything it points to is valid
 * until the handler returns.  Return 0 when resp is filled (a handler that
 * sets nothing answers the route's status with the zeroed response
 * struct); a negative errno answers 500 with a generic message (logged
 * with the request id), unless the handler already set an error with
 * myco_api_error(), which wins. */
typedef int (*myco_api_handler_t)(const struct myco_api_req *req,
				  struct myco_api_resp *resp);

typedef struct myco_api_route {
	myco_api_method_t method;    /* exactly one bit */
	const char *pattern;         /* "/users/{id}" (for messages, docs and
	                                conflict reports; the segments below
	                                are what is matched)                */
	size_t nsegs;                /* 0 = the root path "/" */
	const myco_api_seg_t *segs;
	const myco_api_msg_t *params;   /* path parameters struct, or NULL */
	const myco_api_msg_t *query;    /* query string struct, or NULL (a
	                                   query string is then ignored)   */
	const myco_api_msg_t *request;  /* JSON body type, or NULL: a
	                                   non-empty body gets 400/415       */
	const myco_api_msg_t *response; /* JSON response type, or NULL */
	myco_api_handler_t handler;
	const char *name;            /* route name (logs, metrics) */
	unsigned status;             /* success status, 0 = 200 */
} myco_api_route_t;

/* CORS: when origins is non-NULL, requests with an Origin header are
 * checked against it ("*" allows any origin; otherwise exact matches of
 * scheme://host[:port]).  Allowed origins get Access-Control-Allow-Origin
 * (and Vary: Origin); a preflight (OPTIONS with
 * Access-Control-Request-Method) on a known path is answered 204 with
 * Access-Control-Allow-Methods (the methods of that path),
 * Access-Control-Allow-Headers (allow_headers, or the requested ones when
 * NULL) and Access-Control-Max-Age.  A disallowed origin gets no CORS
 * headers (the browser then blocks it); the request itself still runs. */
typedef struct myco_api_cors {
	size_t norigins;
	const char *const *origins;
	const char *allow_headers;   /* e.g. "content-type, authorization" */
	bool allow_credentials;
	uint32_t max_age_s;          /* 0 = 600 */
} myco_api_cors_t;

/* The whole generated table of one service. */
typedef struct myco_api_service {
	uint32_t abi;                /* MYCO_API_ABI */
	const char *name;
	const char *prefix;          /* mount point ("/api"), NULL or "" = / */
	size_t nroutes;
	const myco_api_route_t *routes;
	const myco_api_cors_t *cors; /* NULL = no CORS handling */
	size_t max_body;             /* bytes, 0 = 1 MiB; larger gets 413 */
} myco_api_service_t;

/* ------------------------------------------------------------------ */
/* What a handler receives                                             */
/* ------------------------------------------------------------------ */

/* Typed, validated input.  params/query/body point to zero-initialised,
 * suitably aligned structs of the route's params/query/request types
 * (NULL when the route has none), already checked against every
 * constraint.  The raw pieces are there for logging and for the rare
 * handler that needs a header. */
typedef struct myco_api_req {
	const myco_api_route_t *route;
	myco_api_method_t method;    /* HEAD for a GET route answering HEAD */
	const void *params;
	const void *query;
	const void *body;
	void *user;                  /* the pointer given to myco_api_create */
	const char *path;            /* raw request path (no query) */
	size_t path_len;
	const char *request_id;      /* X-Request-Id (given or generated) */
	const void *http;            /* opaque: the HTTP request (headers) */
} myco_api_req_t;

/* Value of request header name (case-insensitive), not NUL-terminated:
 * *len gets its length.  NULL when absent.  Valid until the handler
 * returns. */
const char *myco_api_header(const myco_api_req_t *req, const char *name,
			    size_t *len);

/* Length of a STRING field (strnlen within its capacity). */
static inline size_t myco_api_strlen(const char *s, size_t cap)
{
	size_t n = 0;
	while (n < cap && s[n])
		n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* The response API                                                    */
/* ------------------------------------------------------------------ */

typedef struct myco_api_resp myco_api_resp_t;   /* opaque, per request */

/* The route's response struct (zeroed, route->response->size bytes,
 * suitably aligned), encoded to JSON after the handler returns 0; NULL
 * when the route has no response type.  Owned by the framework. */
void *myco_api_body(myco_api_resp_t *resp);

/* Set the status code (100..599; default: the route's status or 200).
 * Returns 0 or -EINVAL. */
int myco_api_status(myco_api_resp_t *resp, unsigned status);

/* Add a response header.  name and value are copied; CR, LF and NUL are
 * refused (-EINVAL), so handlers cannot inject headers.  Content-Length,
 * Transfer-Encoding and Connection are owned by the server (-EPERM). */
int myco_api_set_header(myco_api_resp_t *resp, const char *name,
			const char *value);

/* Answer with an error instead of the response struct: status (4xx/5xx)
 * and body {"error": <reason phrase>, "detail": <formatted message>}.
 * Returns 0 or -EINVAL. */
int myco_api_error(myco_api_resp_t *resp, unsigned status, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/* Answer with raw bytes instead of JSON (copied): content_type e.g.
 * "text/plain".  Returns 0, -ENOMEM. */
int myco_api_raw(myco_api_resp_t *resp, const char *content_type,
		 const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* The runtime                                                         */
/* ------------------------------------------------------------------ */

typedef struct myco_api myco_api_t;   /* a compiled router, read-only */

/* Compile svc's table into a router.  Checks the table: ABI, one method bit
 * per route, segment/parameter consistency, field offsets inside their
 * struct, regex patterns, conflicting routes.  On failure returns
 * -MYCO_EVERSION, -EINVAL or -ENOMEM and, if err/errlen are given, writes a
 * one-line reason there ("routes GET /a/{id} and GET /a/{key} conflict").
 * user is handed to every handler in req->user.  *out is owned by the
 * caller (myco_api_destroy); svc must outlive it.  Any thread. */
int myco_api_create(myco_api_t **out, const myco_api_service_t *svc,
		    void *user, char *err, size_t errlen);
void myco_api_destroy(myco_api_t *api);

/* Serve svc standalone: an HTTP/1.1 server (the gateway's, myco-gate
 * minus proxying) on host:port with nloops lib/rt loops (0 = one per
 * online CPU), one SO_REUSEPORT listener each, until SIGINT/SIGTERM.  For
 * example services and tests.  Returns 0 after a clean stop or a negative
 * errno. */
int myco_api_serve(myco_api_t *api, const char *host, uint16_t port,
		   unsigned nloops);
/* The same on a listening socket the caller has (for instance the
 * executive's, myco_listen_fd()): every loop accepts on lfd.  lfd stays the
 * caller's. */
int myco_api_serve_fd(myco_api_t *api, int lfd, unsigned nloops);

/* ------------------------------------------------------------------ */
/* Helpers for hand-written tables                                     */
/* ------------------------------------------------------------------ */

/* A scalar field of struct S member M with type T and flags FL. */
#define MYCO_API_FIELD(S, M, T, FL)                                       \
	{ .name = #M, .type = (T), .offset = offsetof(S, M),              \
	  .size = sizeof(((S *)0)->M), .elem_size = sizeof(((S *)0)->M),  \
	  .flags = (FL) }
/* A STRING or BYTES field char M[N] (capacity N). */
#define MYCO_API_STRFIELD(S, M, T, FL)                                    \
	{ .name = #M, .type = (T), .offset = offsetof(S, M),              \
	  .size = sizeof(((S *)0)->M), .elem_size = sizeof(((S *)0)->M),  \
	  .length = sizeof(((S *)0)->M), .flags = (FL) }
/* The message descriptor of struct S with field array F. */
#define MYCO_API_MSG(S, F)                                                \
	{ .name = #S, .size = sizeof(S), .align = _Alignof(S),            \
	  .nfields = sizeof(F) / sizeof((F)[0]), .fields = (F) }
/* Path segments. */
#define MYCO_API_LIT(s)   { .literal = (s) }
#define MYCO_API_PARAM(i) { .literal = NULL, .param = (i) }

#ifdef __cplusplus
}
#endif
#endif /* MYCO_API_H */
