/*
 * collect.h: the executive's collector (collect.c) and its Prometheus
 * endpoint (metrics_http.c): trace and metrics regions per partition, the
 * executive's own trace ring, draining and aggregating on the 10 ms tick,
 * the control-socket commands `trace`, `trace-read` and `top`, and the
 * health shown by `myco ps`.  Runs on the executive's single thread.
 * Not for: the ring and region ABI (lib/trace), the CLI (cmd/myco/trace_cmds.c).
 */
#ifndef MYCO_EXEC_COLLECT_H
#define MYCO_EXEC_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ex_system;
struct ex_part;
struct ex_inst;
struct json_t;

/* Trace geometry per partition: rings (threads) and events per ring. */
#define EX_TRACE_RINGS 8u
#define EX_TRACE_DEPTH 4096u
/* Decoded events kept for `myco trace record` (a ring; older ones are
 * overwritten and reported as lost to a reader that fell behind). */
#define EX_TRACE_KEEP  65536u

/* Create the executive's own trace region (and bind the executive's
 * tracepoints to it) and each partition's trace and metrics regions, and
 * add them to the partitions' capability manifests.  Opens the metrics
 * endpoint when the system file declares `metrics`.  Call after channels
 * and ports exist.  Returns 0 or -errno (the event log names what failed). */
int myco__ex_collect_open(struct ex_system *s);

/* Drain every ring and refresh what is derived from /proc (once a second).
 * Never waits for a partition. */
void myco__ex_collect_tick(struct ex_system *s);

/* A process of P exited: release its rings' thread claims so that the
 * replacement's threads own rings again. */
void myco__ex_collect_exited(struct ex_system *s, struct ex_part *p);

/* An executive event of kind KIND (the names of myco__ex_event) for P (may
 * be NULL): the matching `exec` tracepoint, if any. */
void myco__ex_collect_event(struct ex_system *s, const struct ex_part *p,
			    const char *kind, int64_t detail);

/* Control commands: `trace` (switch categories), `trace-read` (decoded
 * events from a sequence number), `top` (a snapshot).  Returns a new reply
 * object, or NULL when CMD is not one of them. */
struct json_t *myco__ex_collect_dispatch(struct ex_system *s, const char *cmd,
					 struct json_t *req);

/* P's metrics region as the collector maps it (read-only), for the health
 * model (health.c) to read the partition's own metrics; 0 or -ENOENT. */
int myco__ex_collect_metrics(struct ex_system *s, const struct ex_part *p,
			     const void **mem, size_t *size);

/* Health of P for `myco ps`: "ok", "starting", "late" (heartbeat late),
 * "missing" (heartbeats missed), "misses" (deadline misses in the last
 * seconds), "memory" (RSS above 90% of its limit), "restarting", "down". */
const char *myco__ex_collect_health(struct ex_system *s, const struct ex_part *p);

/* The whole /metrics page in the Prometheus text format; *out is malloc'd
 * (caller frees).  Returns its length or -errno. */
long myco__ex_collect_prom(struct ex_system *s, char **out);

/* metrics_http.c: the endpoint's socket and connections, driven by the
 * executive's epoll (tags EXT_METRICS for the listener, EXT_HTTP for a
 * connection). */
int myco__ex_http_open(struct ex_system *s, const char *addr, uint16_t port);
void myco__ex_http_accept(struct ex_system *s);
void myco__ex_http_io(struct ex_system *s, int fd, uint32_t events);
void myco__ex_http_close(struct ex_system *s);

/* One HTTP/1.x request head (myco__ex_http_request). */
enum { MYCO__HTTP_GET, MYCO__HTTP_HEAD, MYCO__HTTP_POST, MYCO__HTTP_OTHER };
struct myco__ex_http_req {
	int method;              /* MYCO__HTTP_* */
	char path[256];          /* without the query string */
	size_t head_len;         /* bytes up to and including the blank line */
	long content_length;     /* -1: no Content-Length header */
	bool chunked;            /* a Transfer-Encoding header was sent */
	char bearer[128];        /* "Authorization: Bearer TOKEN": TOKEN, else "" */
};
/* Parse a request head in BUF (LEN bytes, at most MAX): 0 when more bytes
 * are needed, 1 when complete (*R filled), -EINVAL when malformed (a bad
 * request line, a header line without a colon or with space before it, a
 * folded line, a bare CR, a NUL, a repeated or non-numeric Content-Length),
 * -E2BIG when the head or its path is too large.  Any method parses
 * (MYCO__HTTP_OTHER for those not listed); the caller decides.  Fuzzed by
 * tests/fuzz/exec/fuzz_exec_http.c. */
int myco__ex_http_request(const char *buf, size_t len, size_t max, struct myco__ex_http_req *r);

/* Parse an HTTP/1.x request head in BUF (LEN bytes).  Returns 0 when more
 * bytes are needed, 1 when complete (method GET or HEAD in *head, path in
 * PATH), -EINVAL for a malformed or unsupported request, -E2BIG when the
 * head is larger than max.  Exposed for the fuzz harness. */
int myco__ex_http_parse(const char *buf, size_t len, size_t max, int *head,
			char *path, size_t cap);

/* Read a small file (a /proc entry) into BUF, NUL-terminated; the byte
 * count or -errno. */
int myco__ex_read_small(const char *path, char *buf, size_t cap);

void myco__ex_collect_close(struct ex_system *s);

#endif /* MYCO_EXEC_COLLECT_H */
