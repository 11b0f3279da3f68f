/*
 * dash_cmds.c: `myco dash`, the live system map.  One single-threaded
 * process: it polls the executive's control socket (`top` 10 times a second
 * by default, `ps` once a second), follows its event log, and serves one web page
 * (the assets compiled in from dash/) over a small GET-only HTTP/1.1 server.
 * Browsers get the state as Server-Sent Events on /events: the whole state
 * once on connect, then deltas.  The executive starts it itself for a
 * system file with `dashboard PORT;` (exec/dash.c); `myco dash` attaches
 * it to a system that is already running.
 * Limits: DASH_MAX_CONNS connections (more get 503), request heads up to
 * 4 KiB (the executive's parser, fuzzed in tests/fuzz/exec), a page that
 * cannot keep up (DASH_OUT_MAX bytes queued) is dropped and reconnects to a
 * fresh full state.  Only GET and HEAD of /, /app.js, /app.css, /events,
 * /state, and, when actions are enabled (`dashboard PORT actions ...;` or
 * --actions), POST /api/action with the bearer token: everything else is
 * 404 or 405.  Without actions no request changes the system.
 * Not for: what the state holds (dash_state.c), the page (dash/app.js).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "myco/common.h"
#include "cmd.h"

#include <jansson.h>

#include "myco/lang.h"
#include "myco_int.h"
#include "collect.h"        /* myco__ex_http_parse: the executive's request-head
			     * parser (fuzzed in tests/fuzz/exec), shared */
#include "dash_int.h"

#define DASH_MAX_CONNS 32
#define DASH_HEAD_MAX  4096
#define DASH_OUT_MAX   (8u << 20)
#define DASH_IDLE_NS   (5ull * 1000000000ull)
#define DASH_KEEPALIVE_NS (5ull * 1000000000ull)

struct dconn {
	int fd;                     /* -1 = free */
	bool sse;                   /* an event stream: stays open */
	bool closing;               /* close once out is written */
	bool draining;              /* reply written and shut down: discard what
				     * the client still sends until it closes (a
				     * close with unread input would reset the
				     * connection and lose the reply) */
	char in[DASH_HEAD_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff, outcap;
	uint64_t t0;
};

struct dash {
	const char *rdir;
	const char *file;
	const char *addr;
	uint16_t port;
	unsigned hz;
	bool quiet, child;
	myco_system_t *model;
	struct dash_state st;
	int lfd, evfd;
	char evbuf[1 << 16];
	size_t evlen;
	bool ev_first;              /* the first line is the reply with the history */
	struct dconn c[DASH_MAX_CONNS];
	uint64_t last_send;
	unsigned long polls, failures;
	json_t *ps;                 /* the last `ps` reply */
	unsigned ps_age;            /* polls since it was taken */
	uint32_t actions;           /* MYCO_DASH_ACT_*: what POST /api/action may do */
	char token[65];             /* its bearer token (hex), when actions */
	char url_file[4200];        /* RUNTIME_DIR/dash.url, removed at exit */
};

static const char *const act_names[] = { "kill", "restart", "stop", "chaos" };

static volatile sig_atomic_t dash_stop;

static void on_signal(int sig)
{
	(void)sig;
	dash_stop = 1;
}

/* ------------------------------------------------------------ the executive */

static json_t *call_form(struct dash *d, const char *cmd, const char *form)
{
	int fd = myco__cli_connect("dash", d->rdir);
	if (fd < 0)
		return NULL;
	struct timeval tv = { .tv_sec = 1 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	json_t *req = form ? json_pack("{s:s,s:s}", "cmd", cmd, "form", form) :
			     json_pack("{s:s}", "cmd", cmd);
	json_t *rep = req ? myco__cli_call(fd, req) : NULL;
	json_decref(req);
	close(fd);
	if (rep && !json_is_true(json_object_get(rep, "ok"))) {
		json_decref(rep);
		return NULL;
	}
	return rep;
}

static json_t *call(struct dash *d, const char *cmd)
{
	return call_form(d, cmd, NULL);
}

static int events_open(struct dash *d)
{
	int fd = myco__cli_connect("dash", d->rdir);
	if (fd < 0)
		return -1;
	static const char req[] = "{\"cmd\":\"events\",\"follow\":true}\n";
	if (myco__write_full(fd, req, sizeof(req) - 1) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	d->evfd = fd;
	d->evlen = 0;
	d->ev_first = true;
	return 0;
}

static void event_line(struct dash *d, const char *line)
{
	json_t *o = json_loads(line, 0, NULL), *v;
	size_t i;
	if (!o)
		return;
	if (d->ev_first) {
		d->ev_first = false;
		json_array_foreach(json_object_get(o, "events"), i, v)
			myco__dash_state_event(&d->st, v);
	} else {
		myco__dash_state_event(&d->st, json_object_get(o, "event"));
	}
	json_decref(o);
}

/* Read what the event follower has; -1 when the executive closed it. */
static int events_read(struct dash *d)
{
	for (;;) {
		if (d->evlen == sizeof(d->evbuf))
			d->evlen = 0;       /* a line longer than 64 KiB: drop it */
		ssize_t n = read(d->evfd, d->evbuf + d->evlen, sizeof(d->evbuf) - d->evlen);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		d->evlen += (size_t)n;
		char *start = d->evbuf, *nl;
		while ((nl = memchr(start, '\n', d->evlen - (size_t)(start - d->evbuf)))) {
			*nl = 0;
			event_line(d, start);
			start = nl + 1;
		}
		d->evlen -= (size_t)(start - d->evbuf);
		memmove(d->evbuf, start, d->evlen);
	}
}

/* ------------------------------------------------------------------- HTTP */

static void conn_close(struct dconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int out_add(struct dconn *c, const void *p, size_t n)
{
	if (c->outoff && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outlen + n > c->outcap) {
		if (c->outoff) {
			memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
			c->outlen -= c->outoff;
			c->outoff = 0;
		}
		if (c->outlen + n > DASH_OUT_MAX)
			return -ENOBUFS;
		size_t cap = c->outcap ? c->outcap : 16384;
		while (cap < c->outlen + n)
			cap *= 2;
		char *nb = realloc(c->out, cap);
		if (!nb)
			return -ENOMEM;
		c->out = nb;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	return 0;
}

static int conn_flush(struct dconn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->outoff += (size_t)n;
	}
	if (c->closing && !c->draining) {
		shutdown(c->fd, SHUT_WR);
		c->draining = true;
	}
	return 0;
}

static void reply(struct dconn *c, const char *status, const char *type, const void *body,
		  size_t len, bool head, const char *extra)
{
	char hdr[512];
	int hl = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %zu\r\nCache-Control: no-cache\r\n"
			  "X-Content-Type-Options: nosniff\r\n%sConnection: close\r\n\r\n",
			  status, type, len, extra ? extra : "");
	c->closing = true;
	if (out_add(c, hdr, (size_t)hl) < 0 || (!head && len && out_add(c, body, len) < 0))
		c->outlen = c->outoff = 0;
}

static int sse_send(struct dconn *c, const char *event, const char *data)
{
	char hdr[64];
	int hl = snprintf(hdr, sizeof(hdr), "event: %s\ndata: ", event);
	if (out_add(c, hdr, (size_t)hl) < 0 || out_add(c, data, strlen(data)) < 0 ||
	    out_add(c, "\n\n", 2) < 0)
		return -1;
	return 0;
}

static void respond(struct dash *d, struct dconn *c, int head, const char *path)
{
	if (!strcmp(path, "/events")) {
		static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n";
		if (head) {
			reply(c, "200 OK", "text/event-stream", NULL, 0, true, NULL);
			return;
		}
		json_t *full = myco__dash_state_full(&d->st);
		char *txt = full ? json_dumps(full, JSON_COMPACT) : NULL;
		json_decref(full);
		c->sse = true;
		if (!txt || out_add(c, h, sizeof(h) - 1) < 0 || out_add(c, "retry: 500\n\n", 12) < 0 ||
		    sse_send(c, "state", txt) < 0)
			c->closing = true;
		free(txt);
		return;
	}
	if (!strcmp(path, "/state")) {
		json_t *full = myco__dash_state_full(&d->st);
		char *txt = full ? json_dumps(full, JSON_COMPACT) : NULL;
		json_decref(full);
		if (txt)
			reply(c, "200 OK", "application/json", txt, strlen(txt), head, NULL);
		else
			reply(c, "500 Internal Server Error", "text/plain", "", 0, head, NULL);
		free(txt);
		return;
	}
	for (size_t i = 0; i < myco__dash_nassets; i++) {
		const struct myco__dash_asset *a = &myco__dash_assets[i];
		if (!strcmp(path, a->path) || (!strcmp(path, "/index.html") && !strcmp(a->path, "/"))) {
			reply(c, "200 OK", a->type, a->data, a->len, head, NULL);
			return;
		}
	}
	static const char nf[] = "not found: the dashboard is at /\n";
	reply(c, "404 Not Found", "text/plain; charset=utf-8", nf, sizeof(nf) - 1, head, NULL);
}

/* Bytes compared in constant time (the token check). */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = la != lb;
	for (size_t i = 0; i < lb; i++)
		diff |= (unsigned char)(a[i % (la ? la : 1)] ^ b[i]);
	return !diff && la;
}

static void reply_json(struct dconn *c, const char *status, json_t *o)
{
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	reply(c, status, "application/json", txt ? txt : "{}", txt ? strlen(txt) : 2, false,
	      NULL);
	free(txt);
	json_decref(o);
}

static json_t *err_json(const char *msg)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

/* POST /api/action {"action":"kill"|"restart"|"stop","partition":NAME} or
 * {"action":"chaos","experiment":{the control socket's chaos request}}: checked
 * against the token and the enabled actions, then asked of the executive
 * with "by":"dashboard" so its event log names who asked. */
static void do_action(struct dash *d, struct dconn *c, const char *body, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr), *ctl = NULL;
	const char *act = NULL, *part = NULL;
	char msg[300];
	if (!req || json_unpack(req, "{s:s,s?s}", "action", &act, "partition", &part) < 0) {
		snprintf(msg, sizeof(msg), "expected {\"action\":...,\"partition\":...}%s%s",
			 req ? "" : ": ", req ? "" : jerr.text);
		reply_json(c, "400 Bad Request", err_json(msg));
		json_decref(req);
		return;
	}
	unsigned i = 0;
	while (i < 4 && strcmp(act, act_names[i]))
		i++;
	if (i == 4 || !(d->actions & (1u << i))) {
		snprintf(msg, sizeof(msg), "action '%.40s' is not enabled for this dashboard", act);
		reply_json(c, "403 Forbidden", err_json(msg));
		json_decref(req);
		return;
	}
	if (i < 3) {
		if (!part) {
			reply_json(c, "400 Bad Request", err_json("this action needs \"partition\""));
			json_decref(req);
			return;
		}
		ctl = json_pack("{s:s,s:s,s:s}", "cmd", act, "name", part, "by", "dashboard");
	} else {
		/* chaos: "experiment" is the control socket's chaos request
		 * without its "cmd" (docs/chaos.md), e.g. {"action":"run",...} */
		json_t *x = json_object_get(req, "experiment");
		if (!json_is_object(x)) {
			reply_json(c, "400 Bad Request",
				   err_json("chaos needs \"experiment\": the control socket's chaos request"));
			json_decref(req);
			return;
		}
		ctl = json_deep_copy(x);
		if (ctl) {
			json_object_set_new(ctl, "cmd", json_string("chaos"));
			json_object_set_new(ctl, "by", json_string("dashboard"));
		}
	}
	json_decref(req);
	int fd = ctl ? myco__cli_connect("dash", d->rdir) : -1;
	json_t *rep = NULL;
	if (fd >= 0) {
		struct timeval tv = { .tv_sec = 2 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		rep = myco__cli_call(fd, ctl);
		close(fd);
	}
	json_decref(ctl);
	if (!rep) {
		reply_json(c, "502 Bad Gateway", err_json("the executive did not answer"));
		return;
	}
	reply_json(c, json_is_true(json_object_get(rep, "ok")) ? "200 OK" : "409 Conflict", rep);
}

static void conn_read(struct dash *d, struct dconn *c)
{
	if (c->closing) {           /* replied: discard until the client closes */
		char junk[4096];
		ssize_t n = read(c->fd, junk, sizeof(junk));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0 || c->sse)
		return;             /* an event stream's client sends nothing more */
	c->inlen += (size_t)n;
	struct myco__ex_http_req r;
	int rc = myco__ex_http_request(c->in, c->inlen, sizeof(c->in), &r);
	if (rc == 0)
		return;
	bool action = rc == 1 && d->actions && !strcmp(r.path, "/api/action");
	if (rc < 0) {
		reply(c, rc == -E2BIG ? "431 Request Header Fields Too Large" : "400 Bad Request",
		      "text/plain; charset=utf-8", "", 0, false, NULL);
	} else if (action && r.method != MYCO__HTTP_POST) {
		reply(c, "405 Method Not Allowed", "text/plain; charset=utf-8",
		      "POST an action\n", 15, false, "Allow: POST\r\n");
	} else if (action) {
		if (r.chunked) {
			reply(c, "411 Length Required", "text/plain; charset=utf-8", "", 0, false, NULL);
		} else if (r.content_length < 0) {
			reply(c, "411 Length Required", "text/plain; charset=utf-8", "", 0, false, NULL);
		} else if ((size_t)r.content_length > sizeof(c->in) - r.head_len) {
			reply(c, "413 Content Too Large", "text/plain; charset=utf-8", "", 0, false, NULL);
		} else if (c->inlen < r.head_len + (size_t)r.content_length) {
			return;             /* the rest of the body is on its way */
		} else if (!same_secret(d->token, r.bearer)) {
			static const char why[] =
				"{\"ok\":false,\"error\":\"a valid token is needed: myco dash --url\"}";
			reply(c, "401 Unauthorized", "application/json", why, sizeof(why) - 1, false,
			      "WWW-Authenticate: Bearer realm=\"myco\"\r\n");
		} else {
			do_action(d, c, c->in + r.head_len, (size_t)r.content_length);
		}
	} else if (r.method != MYCO__HTTP_GET && r.method != MYCO__HTTP_HEAD) {
		if (d->actions)
			reply(c, "405 Method Not Allowed", "text/plain; charset=utf-8",
			      "GET or HEAD (POST only to /api/action)\n", 39, false,
			      "Allow: GET, HEAD\r\n");
		else
			reply(c, "405 Method Not Allowed", "text/plain; charset=utf-8",
			      "the dashboard is read-only: GET or HEAD\n", 40, false,
			      "Allow: GET, HEAD\r\n");
	} else {
		respond(d, c, r.method == MYCO__HTTP_HEAD, r.path);
	}
	if (conn_flush(c) < 0)
		conn_close(c);
}

static void accept_all(struct dash *d)
{
	uint64_t now = myco_now();
	for (;;) {
		int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct dconn *c = NULL;
		for (int i = 0; i < DASH_MAX_CONNS; i++) {
			struct dconn *x = &d->c[i];
			if (x->fd >= 0 && !x->sse && now - x->t0 > DASH_IDLE_NS)
				conn_close(x);  /* a request that never completed */
			if (!c && x->fd < 0)
				c = x;
		}
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->t0 = now;
	}
}

static int listen_on(const char *addr, uint16_t port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t salen = sizeof(a4);
	int one = 1;
	if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
			return -EINVAL;
		sa = (struct sockaddr *)&a6;
		salen = sizeof(a6);
	}
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* ------------------------------------------------------------ the system file */

/* The file the executive was started with: `myco run [OPTS] FILE` in its
 * command line, relative to its working directory.  0 or -1. */
static int exec_file(const char *dir, char *out, size_t cap)
{
	char path[4200], buf[8192], cwd[4096];
	snprintf(path, sizeof(path), "%s/exec.pid", dir);
	FILE *f = fopen(path, "re");
	long pid = 0;
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
	ssize_t cl = readlink(path, cwd, sizeof(cwd) - 1);
	if (cl <= 0)
		return -1;
	cwd[cl] = 0;
	bool run = false;
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		if (!run) {
			run = !strcmp(a, "run");
			continue;
		}
		if (!strcmp(a, "--runtime-dir") || !strcmp(a, "--grace") ||
		    !strcmp(a, "--ready-timeout")) {
			a += strlen(a) + 1;
			continue;
		}
		if (a[0] == '-')
			continue;
		int w = a[0] == '/' ? snprintf(out, cap, "%s", a) : snprintf(out, cap, "%s/%s", cwd, a);
		return w > 0 && (size_t)w < cap ? 0 : -1;
	}
	return -1;
}

static void load_model(struct dash *d)
{
	char file[4096];
	const char *path = d->file;
	myco_diags_t *diags = NULL;
	if (!path) {
		char dir[4096];
		json_t *ps = call(d, "ps");
		const char *rd = ps ? json_string_value(json_object_get(ps, "runtime_dir")) : NULL;
		snprintf(dir, sizeof(dir), "%s", rd ? rd : "");
		json_decref(ps);
		if (rd && exec_file(dir, file, sizeof(file)) == 0)
			path = file;
	}
	if (!path || myco_lang_load_file(path, &d->model, &diags) < 0) {
		if (!d->quiet)
			fprintf(stderr, "myco dash: %s%s: the map shows partitions and channels "
				"without their edges (use --file FILE)\n",
				path ? "cannot load " : "system file not found",
				path ? path : "");
		d->model = NULL;
	}
	myco_diags_free(diags);
}

/* ------------------------------------------------------------------ the loop */

static void broadcast(struct dash *d, const char *event, const char *data)
{
	for (int i = 0; i < DASH_MAX_CONNS; i++) {
		struct dconn *c = &d->c[i];
		if (c->fd < 0 || !c->sse || c->closing)
			continue;
		if (sse_send(c, event, data) < 0 || conn_flush(c) < 0)
			conn_close(c);  /* too slow: it reconnects to a full state */
	}
}

/* `top` at every poll; `ps` (heavier for the executive: isolation reports,
 * /proc reads per partition) once a second, or at every poll when the
 * executive has no collector to answer `top`. */
static int poll_once(struct dash *d)
{
	/* the compact form: arrays of numbers in ps's order, no names */
	json_t *top = call_form(d, "top", "rows");
	if (!top || !d->ps || ++d->ps_age >= d->hz) {
		json_t *ps = call(d, "ps");
		if (!ps) {
			json_decref(top);
			d->failures++;
			return -1;
		}
		json_decref(d->ps);
		d->ps = ps;
		d->ps_age = 0;
	}
	d->failures = 0;
	json_t *ps = json_incref(d->ps);
	uint64_t now = myco_now();
	int err;
	char *delta = myco__dash_state_update(&d->st, ps, top, now, NULL, &err);
	d->polls++;
	if (delta) {
		broadcast(d, "delta", delta);
		d->last_send = now;
	} else if (now - d->last_send > DASH_KEEPALIVE_NS) {
		for (int i = 0; i < DASH_MAX_CONNS; i++)
			if (d->c[i].fd >= 0 && d->c[i].sse && (out_add(&d->c[i], ": -\n\n", 5) < 0 ||
							      conn_flush(&d->c[i]) < 0))
				conn_close(&d->c[i]);
		d->last_send = now;
	}
	free(delta);
	json_decref(ps);
	json_decref(top);
	return 0;
}

static int run(struct dash *d)
{
	struct pollfd pf[DASH_MAX_CONNS + 2];
	uint64_t period = 1000000000ull / d->hz, next = myco_now();
	while (!dash_stop) {
		int n = 0;
		pf[n++] = (struct pollfd){ .fd = d->lfd, .events = POLLIN };
		pf[n++] = (struct pollfd){ .fd = d->evfd, .events = POLLIN };
		int map[DASH_MAX_CONNS];
		for (int i = 0; i < DASH_MAX_CONNS; i++) {
			struct dconn *c = &d->c[i];
			if (c->fd < 0)
				continue;
			map[n - 2] = i;
			pf[n++] = (struct pollfd){ .fd = c->fd,
				.events = (short)(POLLIN | (c->outoff < c->outlen ? POLLOUT : 0)) };
		}
		uint64_t now = myco_now();
		int wait = next > now ? (int)((next - now) / 1000000) + 1 : 0;
		if (poll(pf, (nfds_t)n, wait) < 0 && errno != EINTR)
			return -errno;
		if (pf[0].revents & POLLIN)
			accept_all(d);
		if (pf[1].revents && events_read(d) < 0) {
			if (!d->quiet)
				fprintf(stderr, "myco dash: the executive closed its event log: the system stopped\n");
			return 0;
		}
		for (int k = 2; k < n; k++) {
			struct dconn *c = &d->c[map[k - 2]];
			if (c->fd != pf[k].fd)
				continue;   /* closed and reused by accept_all above */
			if (pf[k].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(d, c);
			if (c->fd >= 0 && (pf[k].revents & POLLOUT) && conn_flush(c) < 0)
				conn_close(c);
		}
		now = myco_now();
		if (now >= next) {
			if (poll_once(d) < 0 && d->failures > 20) {
				if (!d->quiet)
					fprintf(stderr, "myco dash: the executive does not answer: stopping\n");
				return 0;
			}
			next += period;
			if (next < now)
				next = now + period;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: myco dash [--port N] [--addr ADDR] [--runtime-dir DIR] [--file FILE]\n"
		   "                 [--hz N] [--actions kill,restart,stop,chaos|all] [--quiet]\n"
		   "       myco dash --url [--runtime-dir DIR]\n"
		   "Serves the live map of a running system on http://ADDR:N/ (default\n"
		   "127.0.0.1:7070).  --file names the system file when the executive's own\n"
		   "command line does not tell it; --hz is the update rate (default 10).\n"
		   "--actions lets the page kill, restart or stop partitions or start chaos\n"
		   "experiments, with a token printed in the URL (RUNTIME_DIR/dash.url);\n"
		   "--url prints the URL (with its token) of the system's running dashboard.\n");
}

/* "kill,restart" -> MYCO_DASH_ACT_* bits, or -1 after saying why not. */
static long parse_actions(const char *v)
{
	long bits = 0;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *w = strtok_r(buf, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		unsigned i = 0;
		while (i < 4 && strcmp(w, act_names[i]))
			i++;
		if (i < 4)
			bits |= 1l << i;
		else if (!strcmp(w, "all"))
			bits |= MYCO_DASH_ACT_ALL;
		else {
			fprintf(stderr, "myco dash: unknown action '%s' (kill, restart, stop, chaos, all)\n", w);
			return -1;
		}
	}
	if (!bits)
		fprintf(stderr, "myco dash: --actions needs kill, restart, stop, chaos or all\n");
	return bits ? bits : -1;
}

/* The URL a person opens: with the token in the fragment (never sent to a
 * server, never in a Referer) when actions are on.  Kept in
 * RUNTIME_DIR/dash.url, mode 0600, for `myco dash --url`, by the dashboard
 * the executive runs; one attached by hand prints it on stderr. */
static void write_url(struct dash *d, const char *rdir)
{
	char url[512];
	bool v6 = strchr(d->addr, ':');
	int n = snprintf(url, sizeof(url), "http://%s%s%s:%u/%s%s\n", v6 ? "[" : "", d->addr,
			 v6 ? "]" : "", d->port, d->actions ? "#token=" : "", d->actions ? d->token : "");
	if (n <= 0 || (size_t)n >= sizeof(url))
		return;
	if (!d->child || !rdir) {           /* attached by hand: the terminal gets it */
		if (d->actions && !d->quiet)
			fprintf(stderr, "myco dash: actions enabled; open %s", url);
		return;
	}
	snprintf(d->url_file, sizeof(d->url_file), "%s/dash.url", rdir);
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->url_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || myco__write_full(fd, url, (size_t)n) < 0 || rename(tmp, d->url_file) < 0) {
		if (!d->quiet)
			fprintf(stderr, "myco dash: cannot write %s: %s\n", d->url_file, strerror(errno));
		d->url_file[0] = 0;
	}
	if (fd >= 0)
		close(fd);
	if (d->actions && !d->quiet)
		fprintf(stderr, "myco dash: actions enabled; open %s", url);
}

/* `myco dash --url`: print RUNTIME_DIR/dash.url of the running system. */
static int print_url(struct dash *d)
{
	json_t *ps = call(d, "ps");
	const char *rd = ps ? json_string_value(json_object_get(ps, "runtime_dir")) : NULL;
	char path[4200], url[600];
	if (!rd) {
		json_decref(ps);
		fprintf(stderr, "myco dash: the executive does not answer\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/dash.url", rd);
	json_decref(ps);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, url, sizeof(url) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		fprintf(stderr, "myco dash: no dashboard runs for this system (%s: %s)\n", path,
			strerror(n < 0 ? errno : ENOENT));
		return 1;
	}
	url[n] = 0;
	fputs(url, stdout);
	return 0;
}

/* A whole number 1..max for option OPT, or -1 after saying why not. */
static long num_arg(const char *opt, const char *v, long max)
{
	char *e;
	errno = 0;
	long n = strtol(v, &e, 10);
	if (errno || e == v || *e || n < 1 || n > max) {
		fprintf(stderr, "myco dash: %s takes 1..%ld, not '%s'\n", opt, max, v);
		return -1;
	}
	return n;
}

int myco_cmd_dash(int argc, char **argv)
{
	struct dash d = { .addr = "127.0.0.1", .port = 7070, .hz = 10, .lfd = -1, .evfd = -1 };
	bool url_only = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "--port") && more) {
			long p = num_arg("--port", argv[++i], 65535);
			if (p < 0)
				return 2;
			d.port = (uint16_t)p;
		} else if (!strcmp(a, "--addr") && more) {
			d.addr = argv[++i];
		} else if (!strcmp(a, "--runtime-dir") && more) {
			d.rdir = argv[++i];
		} else if (!strcmp(a, "--file") && more) {
			d.file = argv[++i];
		} else if (!strcmp(a, "--hz") && more) {
			long h = num_arg("--hz", argv[++i], 100);
			if (h < 0)
				return 2;
			d.hz = (unsigned)h;
		} else if (!strcmp(a, "--actions") && more) {
			long b = parse_actions(argv[++i]);
			if (b < 0)
				return 2;
			d.actions = (uint32_t)b;
		} else if (!strcmp(a, "--url")) {
			url_only = true;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			d.quiet = true;
		} else if (!strcmp(a, "--from-executive")) {
			d.child = true;         /* started by exec/dash.c: wait for the socket */
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (url_only)
		return print_url(&d);
	if (d.actions) {
		unsigned char rnd[32];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			fprintf(stderr, "myco dash: getrandom: %s\n", strerror(errno));
			return 1;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(d.token + 2 * i, 3, "%02x", rnd[i]);
	}
	for (int i = 0; i < DASH_MAX_CONNS; i++)
		d.c[i].fd = -1;
	json_t *ps = call(&d, "ps");
	for (int tries = 0; !ps && d.child && tries < 50; tries++) {
		usleep(100000);
		ps = call(&d, "ps");
	}
	if (!ps) {
		fprintf(stderr, "myco dash: the executive does not answer\n");
		return 1;
	}
	load_model(&d);
	int rc = myco__dash_state_init(&d.st, d.model, ps);
	char rdir[4096];
	const char *rd = json_string_value(json_object_get(ps, "runtime_dir"));
	snprintf(rdir, sizeof(rdir), "%s", rd ? rd : "");
	json_decref(ps);
	if (rc == 0) {
		json_t *acts = json_array();
		for (unsigned i = 0; i < 4; i++)
			if (d.actions & (1u << i))
				json_array_append_new(acts, json_string(act_names[i]));
		json_object_set_new(d.st.stat, "actions", acts);
	}
	if (rc < 0 || events_open(&d) < 0) {
		fprintf(stderr, "myco dash: %s\n", rc < 0 ? myco_strerror(rc) : "cannot follow events");
		myco_system_free(d.model);
		return 1;
	}
	d.lfd = listen_on(d.addr, d.port);
	if (d.lfd < 0) {
		fprintf(stderr, "myco dash: cannot listen on %s port %u: %s\n", d.addr, d.port,
			myco_strerror(d.lfd));
		close(d.evfd);
		myco__dash_state_free(&d.st);
		myco_system_free(d.model);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	(void)poll_once(&d);
	write_url(&d, rdir[0] ? rdir : NULL);
	if (!d.quiet)
		fprintf(stderr, "myco dash: %s on http://%s%s%s:%u/\n",
			json_string_value(json_object_get(d.st.stat, "system")),
			strchr(d.addr, ':') ? "[" : "", d.addr, strchr(d.addr, ':') ? "]" : "", d.port);
	rc = run(&d);
	if (d.url_file[0])
		unlink(d.url_file);
	for (int i = 0; i < DASH_MAX_CONNS; i++)
		conn_close(&d.c[i]);
	close(d.lfd);
	close(d.evfd);
	json_decref(d.ps);
	myco__dash_state_free(&d.st);
	myco_system_free(d.model);
	return rc < 0 ? 1 : 0;
}
