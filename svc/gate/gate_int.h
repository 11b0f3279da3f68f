/*
 * gate_int.h: what the modules of myco-gate share: the HTTP/1.1 server core
 * (server.c) with its connection and request objects and response helpers,
 * the API framework's dispatch entry (api.c), and the gateway's
 * configuration, proxy, cache and rate limiter (conf.c, proxy.c, cache.c,
 * ratelimit.c).  Private: never installed.
 */
#ifndef MYCO_GATE_INT_H
#define MYCO_GATE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "http1.h"
#include "myco/api.h"
#include "myco/rt.h"
#include "myco/trace.h"

/* ------------------------------------------------------------ server */

typedef struct myco__gate_conn myco__gate_conn_t;

/* One request as the server hands it to a handler.  Pointers are into the
 * connection's input buffer, valid until the handler returns. */
typedef struct myco__gate_req {
	myco__h1_msg_t *m;
	const char *path;            /* target up to '?' */
	size_t path_len;
	const char *query;           /* after '?', or NULL */
	size_t query_len;
	char *body;                  /* decoded body (chunked already undone) */
	size_t body_len;
	bool head;                   /* HEAD request */
	bool keep_alive;             /* the server's decision; a handler may
	                                clear it to close after answering */
	char request_id[48];
	uint64_t t_start;            /* myco_now() when the head was complete */
	unsigned status;             /* what was answered (for logs/metrics) */
} myco__gate_req_t;

struct myco__gate_conn {
	int fd;
	unsigned loop;               /* index of the loop serving it */
	char peer[64];               /* client address, "ip" */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_cap;
	void *srv;
	bool upgraded;               /* handler took the socket over */
	void *ssl;                   /* OpenSSL SSL* when the listener is TLS */
	bool capture;                /* HTTP/2: keep answers in out, never send */
	struct myco__gate_conn *prev, *next;   /* the loop's live list */
};

typedef int (*myco__gate_handler_t)(void *ctx, myco__gate_conn_t *c,
				    myco__gate_req_t *r);

typedef struct myco__gate_srv_opts {
	const char *host;            /* listen address ("" = any IPv4) */
	uint16_t port;
	int lfd;                     /* >= 0: accept on this fd instead */
	unsigned nloops;             /* 0 = one per CPU */
	bool pin;
	size_t max_head;             /* default 16 KiB */
	size_t max_body;             /* default 1 MiB */
	uint64_t header_timeout_ns;  /* whole head, default 10 s (slowloris) */
	uint64_t body_timeout_ns;    /* whole body, default 30 s */
	uint64_t idle_timeout_ns;    /* between requests, default 60 s */
	uint64_t write_timeout_ns;   /* one response, default 30 s */
	myco__gate_handler_t handle;
	void *ctx;
	/* optional: on each loop thread before it runs (spawn helpers) */
	void (*loop_init)(myco_loop_t *loop, unsigned idx, void *ctx);
	/* optional: at stop, posted to each loop thread before the open
	 * connections are shut down: end what loop_init spawned; the server
	 * then waits (up to 3 s, with the connections) while busy(ctx) */
	void (*loop_fini)(myco_loop_t *loop, unsigned idx, void *ctx);
	bool (*busy)(void *ctx);
	/* optional: SIGHUP, on the main thread */
	void (*reload)(void *ctx);
	/* optional: the TLS context for a new connection (a reference the
	 * server drops), NULL for plain HTTP; called on the loop thread */
	void *(*tls_get)(void *ctx);
	/* optional: once listeners are up (bound port in *port) */
	void (*ready)(void *ctx, uint16_t port);
	bool quiet;
} myco__gate_srv_opts_t;

/* Serve until SIGINT/SIGTERM.  Returns 0 or a negative errno. */
int myco__gate_serve(const myco__gate_srv_opts_t *o);

/* Queue a whole response: status, extra header lines (each "Name: value\r\n",
 * may be NULL), content type (NULL = none), body.  Adds Server, Date,
 * Content-Length, X-Request-Id and Connection: close when !r->keep_alive.
 * HEAD answers carry the length but no body.  Returns 0 or -errno. */
int myco__gate_respond(myco__gate_conn_t *c, myco__gate_req_t *r,
		       unsigned status, const char *ctype, const char *hdrs,
		       size_t hdrs_len, const void *body, size_t len);
/* An error answer with a small JSON body {"error":..., "detail":...}. */
int myco__gate_respond_error(myco__gate_conn_t *c, myco__gate_req_t *r,
			     unsigned status, const char *detail);
/* Append raw bytes to the output buffer / send everything buffered. */
int myco__gate_out(myco__gate_conn_t *c, const void *p, size_t n);
int myco__gate_flush(myco__gate_conn_t *c);
/* The cached "Date: ...\r\n" line of this second (thread-local). */
const char *myco__gate_date(size_t *len);
/* Format a request id: the client's X-Request-Id when it is 1..40 token
 * characters, else a new one (unique per process). */
void myco__gate_request_id(const myco__h1_msg_t *m, unsigned loop,
			   char out[48]);
/* Connection I/O (plain or TLS): read some bytes (0 at EOF), write all. */
ssize_t myco__gate_conn_recv(myco__gate_conn_t *c, void *buf, size_t len,
			     int64_t timeout_ns);
int myco__gate_conn_write(myco__gate_conn_t *c, const void *buf, size_t len,
			  int64_t timeout_ns);
/* A growable byte buffer; on allocation failure oom is set and further
 * appends are dropped (check oom once at the end).  Free p. */
typedef struct myco__gbuf {
	char *p;
	size_t n, cap;
	bool oom;
} myco__gbuf_t;
void myco__gbuf_add(myco__gbuf_t *b, const void *d, size_t n);

/* Server-wide write timeout (for handlers that stream). */
uint64_t myco__gate_write_timeout(const myco__gate_conn_t *c);

/* ------------------------------------------------------------- API */

/* Answer one request from the router.  Returns 0 or -errno (close). */
int myco__api_dispatch(myco_api_t *api, myco__gate_conn_t *c,
		       myco__gate_req_t *r);
/* Mount prefix of the service ("" for /). */
const char *myco__api_prefix(const myco_api_t *api);

/* Run the handler on one HTTP/1.1 request (req, len bytes, head and
 * body) for an HTTP/2 stream of c; the answer (HTTP/1.1 bytes) comes back in
 * *out (malloc'd, caller frees).  req is used in place (the handler sees it
 * as the connection's input) and must stay until the call returns.  Returns
 * 0, or -EPROTO with an error answer in *out for a request the parser
 * refuses. */
int myco__gate_run_captured(myco__gate_conn_t *c, char *req, size_t len, char **out,
			    size_t *out_len);
/* A parsed-message buffer from the loop thread's free list (or malloc);
 * give it back with myco__h1_msg_put().  NULL when out of memory. */
myco__h1_msg_t *myco__h1_msg_get(void);
void myco__h1_msg_put(myco__h1_msg_t *m);
/* An HTTP/1.1 request that asked for h2c (RFC 7540 3.2): the decoded
 * HTTP2-Settings payload and the request itself (HTTP/1.1 bytes, body
 * included, hop-by-hop fields removed), answered as stream 1. */
typedef struct myco__h2_upgrade {
	const uint8_t *settings;
	size_t settings_len;
	const char *req;
	size_t req_len;
	bool head;                   /* a HEAD request */
} myco__h2_upgrade_t;
/* Serve c as HTTP/2 (h2.c) until it ends; c->in holds what was read.
 * Streams run concurrently, each in its own coroutine.  up: the h2c
 * upgrade request (the 101 already sent), or NULL. */
int myco__h2_serve(myco__gate_conn_t *c, size_t max_body, uint64_t idle_ns,
		   const myco__h2_upgrade_t *up);
/* Does request m ask for h2c properly (HTTP/1.1, Connection: Upgrade,
 * HTTP2-Settings; Upgrade naming h2c; exactly one HTTP2-Settings field of
 * base64url SETTINGS)?  Returns 0 with the payload in settings[0..*len),
 * -ENOENT when it does not ask, -EINVAL when it asks wrongly (the request
 * is then served as HTTP/1.1, RFC 7540 3.2.1). */
int myco__h2_upgrade_check(const myco__h1_msg_t *m, uint8_t *settings, size_t cap,
			   size_t *len);
/* True when ALPN chose h2 on this TLS connection. */
bool myco__tls_alpn_h2(const myco__gate_conn_t *c);

/* -------------------------------------------------------------- TLS */

/* TLS on a connection (tls.c): handshake, I/O through OpenSSL on the
 * non-blocking socket, waiting in myco_poll() when OpenSSL wants to read
 * or write.  Return values as the plain I/O calls. */
int myco__tls_accept(myco__gate_conn_t *c, void *ssl_ctx, int64_t timeout_ns);
ssize_t myco__tls_recv(myco__gate_conn_t *c, void *buf, size_t len, int64_t timeout_ns);
int myco__tls_write(myco__gate_conn_t *c, const void *buf, size_t len, int64_t timeout_ns);
void myco__tls_close(myco__gate_conn_t *c);
void myco__tls_ctx_put(void *ssl_ctx);

/* ------------------------------------------------------------ cache */

typedef enum { MYCO__CACHE_HYPERBOLIC, MYCO__CACHE_LRU } myco__cache_policy_t;
typedef struct myco__cache myco__cache_t;

/* A response cache of at most cap_bytes (entries' key + value sizes).
 * Thread-safe (sharded locks).  Hyperbolic: evict the entry with the
 * lowest hits/age among a random sample (Blankstein et al., ATC'17); LRU:
 * the least recently used. */
int myco__cache_create(myco__cache_t **out, size_t cap_bytes,
		       myco__cache_policy_t pol, unsigned sample);
void myco__cache_destroy(myco__cache_t *c);
/* Copy a fresh entry's value into a malloc'd buffer (*val, caller frees).
 * Returns 0 (hit), -ENOENT (miss or expired), -ENOMEM. */
int myco__cache_get(myco__cache_t *c, const char *key, size_t klen,
		    char **val, size_t *vlen, uint64_t now);
/* Insert or replace; expires at now + ttl.  Returns 0, -E2BIG (larger
 * than a shard), -ENOMEM. */
int myco__cache_put(myco__cache_t *c, const char *key, size_t klen,
		    const void *val, size_t vlen, uint64_t now, uint64_t ttl_ns);
/* Counters. */
void myco__cache_stats(myco__cache_t *c, uint64_t *hits, uint64_t *misses,
		       uint64_t *evictions, size_t *bytes, size_t *entries);

/* ------------------------------------------------------- rate limit */

typedef struct myco__rl myco__rl_t;
/* Token buckets per key: rate tokens per second, up to burst.  Thread-safe.
 * Keys idle for long are forgotten (bounded memory: at most max_keys). */
int myco__rl_create(myco__rl_t **out, double rate, double burst,
		    size_t max_keys);
void myco__rl_destroy(myco__rl_t *rl);
/* Take one token for key.  Returns true when allowed; else false and
 * *retry_after_ns the time until a token is there. */
bool myco__rl_take(myco__rl_t *rl, const char *key, size_t klen, uint64_t now,
		   uint64_t *retry_after_ns);

/* --------------------------------------------------- configuration */

enum { MYCO__LB_RR, MYCO__LB_LEAST, MYCO__LB_HASH };
enum { MYCO__HASH_IP, MYCO__HASH_HEADER, MYCO__HASH_PATH };

#define MYCO__GATE_MAX_LOOPS 64

typedef struct myco__pconn {          /* an idle keep-alive upstream fd */
	struct myco__pconn *next;
	int fd;
	uint64_t idle_since;
} myco__pconn_t;

typedef struct myco__server {
	char host[64];
	uint16_t port;
	unsigned weight;
	/* state shared by every loop */
	_Atomic int active;              /* requests in flight (least conn) */
	_Atomic int healthy;             /* active health check verdict */
	_Atomic uint64_t ejected_until;  /* passive outlier ejection */
	_Atomic int consec_fail;
	_Atomic int hc_fail, hc_pass;
	_Atomic uint64_t requests, failures;
	/* idle keep-alive connections, one list per loop (loop thread only) */
	myco__pconn_t *idle[MYCO__GATE_MAX_LOOPS];
	unsigned nidle[MYCO__GATE_MAX_LOOPS];
} myco__server_t;

typedef struct myco__pool {
	char name[64];
	size_t nservers;
	myco__server_t *servers;
	int balance;                     /* MYCO__LB_* */
	int hash_on;                     /* MYCO__HASH_* */
	char hash_header[64];
	unsigned *ring;                  /* consistent hashing: vnode -> server */
	uint32_t *ring_hash;
	size_t nring;
	_Atomic unsigned rr;             /* weighted round robin cursor */
	unsigned *wrr;                   /* server index per weight slot */
	size_t nwrr;
	unsigned keepalive;              /* idle connections per loop per server */
	uint64_t idle_timeout_ns;
	uint64_t connect_timeout_ns, write_timeout_ns, header_timeout_ns,
		 read_timeout_ns;
	/* active health check */
	char health_path[128];
	uint64_t health_interval_ns, health_timeout_ns;
	unsigned health_fails, health_passes;
	/* passive outlier ejection */
	unsigned eject_after;            /* consecutive failures, 0 = off */
	uint64_t eject_ns;
	/* retries */
	unsigned retries;                /* extra tries per request */
	double retry_budget;             /* retries <= budget * requests */
	_Atomic uint64_t n_requests, n_retries;
} myco__pool_t;

typedef struct myco__hdr_op {
	int op;                          /* 0 set, 1 add, 2 remove */
	char name[64];
	char value[256];
} myco__hdr_op_t;

typedef struct myco__route {
	char prefix[256];
	size_t plen;
	char host[128];                  /* match Host too ("" = any) */
	/* action: proxy to pool, or a fixed answer */
	myco__pool_t *pool;
	bool strip_prefix;
	unsigned fixed_status;
	char fixed_type[64];
	char *fixed_body;
	size_t fixed_len;
	/* header rewrites */
	size_t nreq_ops, nresp_ops;
	myco__hdr_op_t req_ops[16], resp_ops[16];
	/* rate limit */
	myco__rl_t *rl;
	int rl_key;                      /* MYCO__HASH_IP or _HEADER */
	char rl_header[64];
	/* cache */
	uint64_t cache_ttl_ns;           /* 0 = no caching */
	bool websocket;                  /* pass Upgrade: websocket through */
} myco__route_t;

typedef struct myco__gate_conf {
	_Atomic long refs;
	uint64_t generation;
	char listen_host[64];
	uint16_t listen_port;
	unsigned loops;
	size_t max_body;
	size_t splice_min;               /* proxied bodies at least this large
					    go upstream -> client by splice(2);
					    0 = never */
	uint64_t header_timeout_ns, body_timeout_ns, idle_timeout_ns;
	size_t npools;
	myco__pool_t *pools;
	size_t nroutes;
	myco__route_t *routes;
	size_t cache_bytes;
	myco__cache_policy_t cache_policy;
	myco__cache_t *cache;            /* shared with the next generation */
	bool access_log;
	/* TLS: default certificate and per-name (SNI) certificates */
	char tls_cert[512], tls_key[512];
	size_t nsni;
	struct { char name[128], cert[512], key[512]; } sni[16];
	void *tls;                       /* built by myco__tls_build (gate.c) */
	void (*tls_free)(void *tls);
} myco__gate_conf_t;

/* Load cf's certificates into OpenSSL contexts (cf->tls); a no-op without
 * `tls`.  Returns 0 or an error with a message in err. */
int myco__tls_build(myco__gate_conf_t *cf, char *err, size_t errlen);
/* The default context with a reference for a new connection (or NULL). */
void *myco__tls_ctx_get(const myco__gate_conf_t *cf);

/* Parse a configuration text.  On failure returns -MYCO_ESYNTAX (or
 * -ENOMEM) and writes "line N: reason" into err. */
int myco__conf_parse(const char *text, size_t len, myco__gate_conf_t **out,
		     char *err, size_t errlen);
int myco__conf_load(const char *path, myco__gate_conf_t **out, char *err,
		    size_t errlen);
/* The gateway section of partition part in the system file path (the
 * `gateway { }` block, lowered by lib/lang to the text above); language
 * errors come back with their file:line:col and code in err. */
int myco__conf_load_system(const char *path, const char *part, myco__gate_conf_t **out,
			   char *err, size_t errlen);
/* Drop a reference; the last one frees (closing idle upstream fds). */
void myco__conf_put(myco__gate_conf_t *c);

/* --------------------------------------------------------- gateway */

typedef struct myco__gate myco__gate_t;
/* The gateway's request handler (routes, proxy, cache, limits). */
int myco__gate_handle(void *ctx, myco__gate_conn_t *c, myco__gate_req_t *r);
/* Health checker etc. for loop idx; loop_fini ends them at stop (the
 * coroutines unwind and free what they hold), busy until they have. */
void myco__gate_loop_init(myco_loop_t *loop, unsigned idx, void *ctx);
void myco__gate_loop_fini(myco_loop_t *loop, unsigned idx, void *ctx);
bool myco__gate_busy(void *ctx);
/* The current TLS context for a new connection (server tls_get hook). */
void *myco__gate_tls_get(void *ctx);
/* Replace the configuration (SIGHUP). */
void myco__gate_reload(void *ctx);

struct myco__gate {
	char path[4096];
	char part[128];                  /* non-empty: path is a system file,
					    the section is this partition's */
	myco__gate_conf_t *conf;         /* current; guarded by lock */
	_Atomic uint64_t generation;     /* bumped after conf changes */
	pthread_mutex_t lock;
	myco__cache_t *caches[8];        /* kept for the process's life, */
	size_t cache_bytes[8];           /* reused by reloads with the   */
	int cache_pol[8];                /* same size and policy         */
	size_t ncaches;
	void (*heartbeat)(void);         /* partition heartbeat, or NULL */
	bool verbose;
	/* the health checker (loop 0's thread only, but busy() reads
	 * health_running from the main thread) */
	myco_co_t *health_co;            /* detached: valid while running */
	myco_co_t **hc_cos;              /* the checks in flight, or NULL */
	size_t hc_n;
	bool health_stop;
	_Atomic bool health_running;
};

/* Load the first configuration.  Returns 0 or an error (err filled). */
int myco__gate_init(myco__gate_t *g, const char *path, char *err, size_t errlen);
void myco__gate_fini(myco__gate_t *g);

/* Proxy one request to route->pool (proxy.c). */
int myco__proxy(myco__gate_t *g, myco__gate_conf_t *cf, const myco__route_t *rt,
		myco__gate_conn_t *c, myco__gate_req_t *r);
/* One active health check of server s (a coroutine body; arg is a
 * myco__hc_arg_t).  Updates s->healthy after fails/passes in a row. */
typedef struct myco__hc_arg {
	myco__pool_t *p;
	myco__server_t *s;
} myco__hc_arg_t;
int myco__proxy_hc_one(void *arg);
/* FNV-1a 32-bit, also the ring hash. */
uint32_t myco__hash32(const void *p, size_t n);

/* ----------------------------------------------------------- metrics */

/* The gateway's metrics (metrics.c) through myco/trace.h: inside a system
 * in the partition's metrics region (the executive's /metrics page),
 * standalone in private cells.  Until myco__gm_init() every handle points
 * at a shared sink, so the library's users (tests, fuzzers) need no setup.
 * Every update is one relaxed atomic add. */
typedef struct {
	myco_metric_t code[6];         /* answers by status class: [1] 1xx .. [5] 5xx */
	myco_metric_t rx, tx;          /* bytes from and to clients */
	myco_metric_t upstream_lat;    /* request sent to response head, per attempt */
	myco_metric_t cache_hits, cache_misses;
	myco_metric_t rate_limited;    /* answered 429 by a limit */
	myco_metric_t spliced;         /* body bytes spliced upstream -> client */
} myco__gm_t;
extern myco__gm_t myco__gm;
/* Register the metrics (after myco_init()/myco_in_system()). */
void myco__gm_init(void);
static inline void myco__gm_answered(unsigned status)
{
	if (status >= 100 && status < 600)
		myco_counter_add(&myco__gm.code[status / 100], 1);
}

#endif /* MYCO_GATE_INT_H */
