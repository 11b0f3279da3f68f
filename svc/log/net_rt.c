/*
 * net_rt.c: myco-log's network layer on the Myco runtime (myco/rt.h): a
 * group of runtime loops, one per core (--loops), each accepting
 * connections on the shared listening socket, one coroutine pair per
 * connection (blocking-style reads and writes through io_uring, zero-copy
 * fetch answers through myco_sendfile), a ticker coroutine for its shard's
 * timers and a waker coroutine that turns cross-thread completions
 * (eventfd) into broker work.  Not for: protocol logic (broker.c, group.c).
 *
 * Each connection has a reader and a writer coroutine on the loop that
 * accepted it.  Requests run one at a time as in Kafka, except Produce
 * requests: up to PIPELINE_MAX of them may wait for fsync together (one
 * fdatasync covers them all); answers always leave in request order.
 *
 * Between loops: the broker posts work to another shard with myco_post
 * (the group's lock-free SPSC rings).  A request slot (myco__lc_t) stays
 * on its connection's loop; a handler on another loop that answers it
 * posts the answer back (lc_remote), and a slot whose connection closes
 * while another shard holds it is kept (orphan) until that shard has
 * forgotten it (slot_gone), so no loop ever touches freed memory.
 */
#include "log_int.h"
#include "net.h"
#include "lmetrics.h"

#include "myco/rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/signalfd.h>
#include <unistd.h>

#ifdef MYCO_LOG_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define FRAME_MAX (100u << 20)   /* largest request accepted (100 MiB) */

typedef struct net net_t;
typedef struct conn conn_t;

/* One request slot: the broker's "connection" handle (myco__lc_t) is the
 * slot of one request, so that several Produce requests of a connection can
 * wait for fsync at the same time (one fdatasync then covers all of them)
 * while answers still leave in request order. */
struct myco__lc {
	struct myco__lc *next;   /* FIFO of the connection, oldest first */
	conn_t *conn;
	int16_t key;
	bool done, has_resp;
	bool orphan;             /* connection gone, another shard still holds it */
	unsigned where;          /* shard handling it */
	atomic_int refs;         /* the FIFO, answers in flight, an orphan's wait */
	uint64_t t0;             /* Produce: myco_now() when its frame was complete */
	myco__kwr_t resp;
};

#define PIPELINE_MAX 64          /* Produce requests in flight per connection */

struct conn {
	conn_t *next, *prev;
	net_t *net;
	int fd;
	int orphans;             /* slots still held by other shards */
	bool gone;               /* closed and unlinked: freed with the last orphan */
	char peer[64];
	myco_event_t *ev;        /* bumped on every slot/closing change */
	myco__lc_t *head, *tail; /* requests not yet answered on the wire */
	int inflight;
	bool closing;
	int refs;                /* reader + writer coroutines */
	uint8_t *buf;
	size_t cap, len;
	void *session;           /* the broker's (myco__lc_session) */
#ifdef MYCO_LOG_TLS
	/* TLS: OpenSSL on memory BIOs; the socket I/O stays the loop's.
	 * The reader and the writer coroutine share the SSL object (one
	 * thread; a call never yields), and take turns to write ciphertext */
	SSL *ssl;
	BIO *rbio, *wbio;        /* network -> SSL, SSL -> network */
	bool wbusy;              /* a coroutine is writing ciphertext */
#endif
};

typedef struct srv srv_t;

/* One loop of the group. */
struct net {
	srv_t *srv;
	myco__lb_t *lb;
	myco_loop_t *loop;
	unsigned idx;
	int lfd;
	myco_event_t *tick_ev;   /* wakes the ticker when deadlines change */
	conn_t *conns;
	void (*heartbeat)(void);
};

/* The whole server: the loops and what they share. */
struct srv {
	myco__lb_t *lb;
	myco_group_t *group;
	unsigned n;
	net_t *nets;
	int sigfd;
	bool verbose;
	atomic_bool stopping;
};

static void conn_close_now(conn_t *c)
{
	if (!c->closing) {
		c->closing = true;
		shutdown(c->fd, SHUT_RDWR);   /* wakes the other coroutine */
	}
	myco_event_notify(c->ev);
}

#ifdef MYCO_LOG_TLS
static SSL_CTX *tls_ctx;

int myco__lnet_tls(const char *cert_file, const char *key_file)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		unsigned long e = ERR_get_error();
		char msg[256];
		ERR_error_string_n(e, msg, sizeof(msg));
		fprintf(stderr, "myco-log: TLS: %s\n", msg);
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	tls_ctx = ctx;
	return 0;
}

static bool wfree(const conn_t *c)
{
	return !c->wbusy;
}

static int conn_wait(conn_t *c, bool (*cond)(const conn_t *c));

/* Send what OpenSSL wrote into wbio (records, handshake, tickets). */
static int tls_flush(conn_t *c)
{
	uint8_t tmp[16384];
	int rc = 0;

	if (BIO_ctrl_pending(c->wbio) == 0)
		return 0;
	if (conn_wait(c, wfree) < 0)
		return -ECONNABORTED;
	c->wbusy = true;
	while (rc == 0 && BIO_ctrl_pending(c->wbio) > 0) {
		int n = BIO_read(c->wbio, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		ssize_t w = myco_write_all(c->fd, tmp, (size_t)n, MYCO_FOREVER);
		if (w < 0)
			rc = (int)w;
	}
	c->wbusy = false;
	myco_event_notify(c->ev);
	return rc;
}

/* Plaintext in: > 0 bytes, 0 closed, < 0 error. */
static ssize_t tls_recv(conn_t *c, void *buf, size_t cap)
{
	uint8_t tmp[16384];

	for (;;) {
		int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
		int e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, n);
		if (tls_flush(c) < 0)
			return -ECONNABORTED;
		if (n > 0)
			return n;
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e != SSL_ERROR_WANT_READ)
			return -EPROTO;
		ssize_t r = myco_recv(c->fd, tmp, sizeof(tmp), 0, MYCO_FOREVER);
		if (r <= 0)
			return r;
		if (BIO_write(c->rbio, tmp, (int)r) != (int)r)
			return -ENOMEM;
	}
}

/* Plaintext out, all of it. */
static int tls_send(conn_t *c, const void *p, size_t n)
{
	while (n > 0) {
		int chunk = n > 16384 ? 16384 : (int)n;
		int w = SSL_write(c->ssl, p, chunk);
		if (w <= 0 && SSL_get_error(c->ssl, w) != SSL_ERROR_WANT_WRITE)
			return -EPROTO;
		if (tls_flush(c) < 0)
			return -ECONNABORTED;
		if (w > 0) {
			p = (const uint8_t *)p + w;
			n -= (size_t)w;
		}
	}
	return 0;
}

/* An answer over TLS: file ranges are read and encrypted (no splice). */
static int tls_send_resp(conn_t *c, myco__kwr_t *w)
{
	size_t pos = 0, i;
	uint8_t tmp[65536];

	for (i = 0; i <= w->nfiles; i++) {
		size_t end = i < w->nfiles ? w->files[i].at : w->len;
		if (end > pos && tls_send(c, w->buf + pos, end - pos) < 0)
			return -EPROTO;
		pos = end;
		if (i < w->nfiles) {
			size_t left = w->files[i].len;
			off_t off = w->files[i].off;
			while (left > 0) {
				ssize_t r = pread(w->files[i].fd, tmp,
						  left < sizeof(tmp) ? left : sizeof(tmp), off);
				if (r <= 0)
					return -EIO;
				if (tls_send(c, tmp, (size_t)r) < 0)
					return -EPROTO;
				off += r;
				left -= (size_t)r;
			}
		}
	}
	return 0;
}
#else
int myco__lnet_tls(const char *cert_file, const char *key_file)
{
	(void)cert_file;
	(void)key_file;
	return -ENOTSUP;
}
#endif

/* ---- request slots: answers from any shard ----------------------------- */

enum { LC_SEND, LC_NOREPLY, LC_ABORT };

typedef struct {
	myco__lc_t *s;
	int op;
	myco__kwr_t w;
} lcmsg_t;

/* Drop one reference to s (its connection's loop). */
static void slot_put(myco__lc_t *s)
{
	conn_t *c = s->conn;

	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->has_resp)
		myco__kwr_free(&s->resp);
	if (s->orphan && --c->orphans == 0 && c->gone) {
		free(c);     /* its other parts went in conn_put */
	}
	free(s);
}

/* An answer to s, on its connection's loop. */
static void lc_apply(myco__lc_t *s, int op, myco__kwr_t *w)
{
	if (s->orphan) {
		if (w)
			myco__kwr_free(w);     /* nobody to tell */
		return;
	}
	if (op == LC_SEND) {
		s->resp = *w;
		myco__kwr_init(w);
		s->has_resp = true;
	}
	s->done = true;
	if (op != LC_ABORT && s->key == KAPI_PRODUCE)
		myco_hist_observe(&myco__lm.produce_lat, myco_now() - s->t0);
	if (op == LC_ABORT)
		conn_close_now(s->conn);
	else
		myco_event_notify(s->conn->ev);
}

static void lc_deliver(void *arg)
{
	lcmsg_t *m = arg;

	lc_apply(m->s, m->op, m->op == LC_SEND ? &m->w : NULL);
	slot_put(m->s);
	free(m);
}

/* From another loop: post the answer to the connection's loop.  True when
 * it was handled that way. */
static bool lc_remote(myco__lc_t *s, int op, myco__kwr_t *w)
{
	myco_loop_t *home = s->conn->net->loop;
	lcmsg_t *m;

	if (myco_loop_current() == home)
		return false;
	m = calloc(1, sizeof(*m));
	if (m) {
		m->s = s;
		m->op = op;
		if (w) {
			m->w = *w;
			myco__kwr_init(w);
		}
		atomic_fetch_add(&s->refs, 1);
		if (myco_post(home, lc_deliver, m) == 0)
			return true;
		atomic_fetch_sub(&s->refs, 1);   /* the FIFO still holds it */
		if (w)
			*w = m->w;
		free(m);
	}
	/* out of memory: the answer is lost; the client times out */
	fprintf(stderr, "myco-log: out of memory: an answer is lost\n");
	if (w)
		myco__kwr_free(w);
	return true;
}

void myco__lc_send(myco__lc_t *s, myco__kwr_t *w)
{
	if (!lc_remote(s, LC_SEND, w))
		lc_apply(s, LC_SEND, w);
}

void myco__lc_noreply(myco__lc_t *s)
{
	if (!lc_remote(s, LC_NOREPLY, NULL))
		lc_apply(s, LC_NOREPLY, NULL);
}

void myco__lc_abort(myco__lc_t *s)
{
	if (!lc_remote(s, LC_ABORT, NULL))
		lc_apply(s, LC_ABORT, NULL);
}

const char *myco__lc_peer(const myco__lc_t *s)
{
	return s->conn->peer;     /* written before the first request */
}

void **myco__lc_session(myco__lc_t *s)
{
	return &s->conn->session;
}

/* An orphan's shard has forgotten it: back on the connection's loop. */
static void slot_gone_back(void *arg)
{
	slot_put(arg);
}

/* On the shard holding an orphan: forget it, then say so. */
static void slot_gone(void *arg)
{
	myco__lc_t *s = arg;
	net_t *home = s->conn->net;

	myco__lb_conn_closed(home->lb, s);
	if (myco_post(home->loop, slot_gone_back, s) < 0) {
		/* cannot say so: the slot (and its connection's struct) stay */
		fprintf(stderr, "myco-log: out of memory: a closed request is kept\n");
	}
}

/* Last coroutine out: every unanswered request is forgotten by the shard
 * that holds it, then the connection is freed (its struct only when the
 * last request another shard held is gone). */
static void conn_put(conn_t *c)
{
	net_t *net = c->net;
	myco__lc_t *s, *n;

	if (--c->refs > 0)
		return;
	for (s = c->head; s; s = n) {
		n = s->next;
		s->orphan = true;
		c->orphans++;
		if (s->where == net->idx) {
			myco__lb_conn_closed(net->lb, s);
		} else {
			atomic_fetch_add(&s->refs, 1);
			if (myco__lb_post(net->lb, s->where, slot_gone, s) < 0) {
				atomic_fetch_sub(&s->refs, 1);
				fprintf(stderr, "myco-log: out of memory: a closed request is kept\n");
				atomic_fetch_add(&s->refs, 1);   /* never freed */
			}
		}
		slot_put(s);
	}
	c->head = c->tail = NULL;
	myco__lb_session_free(net->lb, c->session);
	c->session = NULL;
#ifdef MYCO_LOG_TLS
	SSL_free(c->ssl);           /* frees both BIOs */
	c->ssl = NULL;
#endif
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		net->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	myco_event_destroy(c->ev);
	c->ev = NULL;
	free(c->buf);
	c->buf = NULL;
	c->gone = true;
	if (c->orphans == 0)
		free(c);
}

/* Write one answer: buffer pieces with send, file ranges with
 * myco_sendfile (splice, no copy through user space). */
static int send_resp(conn_t *c, myco__kwr_t *w)
{
	size_t pos = 0, i, total = w->len;
	ssize_t n;

	/* counted before sending: a client that has the answer finds it counted */
	for (i = 0; i < w->nfiles; i++)
		total += w->files[i].len;
	myco_counter_add(&myco__lm.tx, total);
#ifdef MYCO_LOG_TLS
	if (c->ssl)
		return tls_send_resp(c, w);
#endif
	for (i = 0; i <= w->nfiles; i++) {
		size_t end = i < w->nfiles ? w->files[i].at : w->len;
		if (end > pos) {
			/* Most answers fit the socket buffer: one plain non-blocking
			 * send, and only what does not fit goes through the loop. */
			n = send(c->fd, w->buf + pos, end - pos, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -errno;
			if (n > 0)
				pos += (size_t)n;
		}
		if (end > pos) {
			n = myco_write_all(c->fd, w->buf + pos, end - pos, MYCO_FOREVER);
			if (n < 0)
				return (int)n;
			pos = end;
		}
		if (i < w->nfiles) {
			off_t off = w->files[i].off;
			n = myco_sendfile(c->fd, w->files[i].fd, &off, w->files[i].len,
					  MYCO_FOREVER);
			if (n < 0)
				return (int)n;
			if ((size_t)n != w->files[i].len)
				return -EIO;   /* file shorter than promised */
		}
	}
	return 0;
}

/* Wait until cond(c) holds or the connection closes. */
static int conn_wait(conn_t *c, bool (*cond)(const conn_t *c))
{
	while (!c->closing && !cond(c)) {
		uint64_t s = myco_event_seq(c->ev);
		int rc;
		if (c->closing || cond(c))
			break;
		rc = myco_event_wait(c->ev, s, MYCO_FOREVER);
		if (rc < 0)
			return rc;
	}
	return c->closing ? -ECONNABORTED : 0;
}

static bool head_done(const conn_t *c)
{
	return c->head && c->head->done;
}

static bool idle(const conn_t *c)
{
	return c->inflight == 0;
}

static bool may_pipeline(const conn_t *c)
{
	const myco__lc_t *s;
	if (c->inflight >= PIPELINE_MAX)
		return false;
	for (s = c->head; s; s = s->next)
		if (s->key != KAPI_PRODUCE)
			return false;
	return true;
}

static int conn_writer(void *arg)
{
	conn_t *c = arg;

	while (conn_wait(c, head_done) == 0) {
		myco__lc_t *s = c->head;
		int rc = 0;
		c->head = s->next;
		if (!c->head)
			c->tail = NULL;
		c->inflight--;
		if (s->has_resp)
			rc = send_resp(c, &s->resp);
		slot_put(s);
		myco_event_notify(c->ev);          /* the reader may go on */
		if (rc < 0)
			break;
	}
	conn_close_now(c);
	conn_put(c);
	return 0;
}

static int conn_reader(void *arg)
{
	conn_t *c = arg;
	net_t *net = c->net;

	while (!c->closing) {
		uint32_t flen = 0;
		int16_t key;
		myco__lc_t *s;
		ssize_t n;

		/* Fill until one whole frame is buffered. */
		for (;;) {
			if (c->len >= 4) {
				memcpy(&flen, c->buf, 4);
				flen = ntohl(flen);
				if (flen > FRAME_MAX)
					goto out;
				if (c->len >= 4 + (size_t)flen)
					break;
				if (c->cap < 4 + (size_t)flen) {
					uint8_t *nb = realloc(c->buf, 4 + (size_t)flen);
					if (!nb)
						goto out;
					c->buf = nb;
					c->cap = 4 + (size_t)flen;
				}
			}
#ifdef MYCO_LOG_TLS
			if (c->ssl)
				n = tls_recv(c, c->buf + c->len, c->cap - c->len);
			else
#endif
			n = myco_recv(c->fd, c->buf + c->len, c->cap - c->len, 0, MYCO_FOREVER);
			if (n <= 0)
				goto out;
			c->len += (size_t)n;
		}
		key = flen >= 2 ? (int16_t)((c->buf[4] << 8) | c->buf[5]) : -1;
		myco__lm_request(key, 4 + (size_t)flen);
		/* Produce requests may overlap (they wait for fsync together);
		 * anything else runs alone, as Kafka does. */
		if (conn_wait(c, key == KAPI_PRODUCE ? may_pipeline : idle) < 0)
			goto out;
		s = calloc(1, sizeof(*s));
		if (!s)
			goto out;
		s->conn = c;
		s->key = key;
		s->where = net->idx;
		atomic_init(&s->refs, 1);
		if (key == KAPI_PRODUCE)
			s->t0 = myco_now();
		if (c->tail)
			c->tail->next = s;
		else
			c->head = s;
		c->tail = s;
		c->inflight++;
		if (myco__lb_request(net->lb, s, c->buf + 4, flen) < 0) {
			s->done = true;
			goto out;
		}
		if (!s->done)
			myco_event_notify(net->tick_ev);   /* a new deadline */
		else
			myco_event_notify(c->ev);
		/* shift out the frame */
		memmove(c->buf, c->buf + 4 + flen, c->len - 4 - flen);
		c->len -= 4 + (size_t)flen;
		if (c->cap > (1u << 20) && c->len < 65536) {
			uint8_t *nb = realloc(c->buf, 65536);
			if (nb) {
				c->buf = nb;
				c->cap = 65536;
			}
		}
	}
out:
	conn_close_now(c);
	conn_put(c);
	return 0;
}

static int accept_main(void *arg)
{
	net_t *net = arg;

	while (!atomic_load(&net->srv->stopping)) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		conn_t *c;
		int fd, one = 1;

		fd = myco_accept(net->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC,
				 MYCO_FOREVER);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
				myco_sleep_ns(10 * 1000 * 1000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c || myco_event_create(&c->ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->net = net;
		c->fd = fd;
		c->cap = 65536;
		c->buf = malloc(c->cap);
#ifdef MYCO_LOG_TLS
		if (tls_ctx) {
			c->ssl = SSL_new(tls_ctx);
			c->rbio = BIO_new(BIO_s_mem());
			c->wbio = BIO_new(BIO_s_mem());
			if (!c->ssl || !c->rbio || !c->wbio) {
				SSL_free(c->ssl);
				BIO_free(c->rbio);
				BIO_free(c->wbio);
				myco_event_destroy(c->ev);
				free(c->buf);
				free(c);
				close(fd);
				continue;
			}
			SSL_set_bio(c->ssl, c->rbio, c->wbio);
			SSL_set_accept_state(c->ssl);
		}
#endif
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			char ip[INET_ADDRSTRLEN] = "";
			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			snprintf(c->peer, sizeof(c->peer), "/%s", ip);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			char ip[INET6_ADDRSTRLEN] = "";
			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			snprintf(c->peer, sizeof(c->peer), "/%s", ip);
		}
		c->refs = 1;
		if (!c->buf || myco_spawn(net->loop, NULL, conn_reader, c,
					  &(myco_co_opts_t){ .name = "log-read" }) < 0) {
			myco_event_destroy(c->ev);
			free(c->buf);
			free(c);
			close(fd);
			continue;
		}
		c->next = net->conns;
		if (net->conns)
			net->conns->prev = c;
		net->conns = c;
		if (myco_spawn(net->loop, NULL, conn_writer, c,
			       &(myco_co_opts_t){ .name = "log-write" }) == 0)
			c->refs++;
		else
			conn_close_now(c);     /* the reader sees it and frees c */
	}
	return 0;
}

static int ticker_main(void *arg)
{
	net_t *net = arg;

	while (!atomic_load(&net->srv->stopping)) {
		uint64_t s = myco_event_seq(net->tick_ev);
		int ms = myco__lb_tick(net->lb);
		int rc;
		if (net->idx == 0) {
			myco__lm_tick(net->lb);
			if (net->heartbeat) {
				net->heartbeat();
				if (ms > 100)
					ms = 100;
			}
		}
		rc = myco_event_wait(net->tick_ev, s, (int64_t)ms * 1000000 + 100000);
		if (rc == -ECANCELED)
			break;
	}
	return 0;
}

static int waker_main(void *arg)
{
	net_t *net = arg;
	int fd = myco__lb_wakefd(net->lb);     /* this loop's shard */

	while (!atomic_load(&net->srv->stopping)) {
		/* Readable when another thread queued work; the tick drains it. */
		int rc = myco_poll(fd, POLLIN, MYCO_FOREVER);
		if (rc == -ECANCELED)
			break;
		myco__lb_tick(net->lb);
		myco_event_notify(net->tick_ev);
	}
	return 0;
}

static int signal_main(void *arg)
{
	srv_t *srv = arg;
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = myco_read(srv->sigfd, &si, sizeof(si), MYCO_FOREVER);
		if (n == (ssize_t)sizeof(si))
			break;
		if (n == -ECANCELED)
			return 0;
	}
	atomic_store(&srv->stopping, true);
	myco_group_stop(srv->group);
	return 0;
}

/* ---- the broker's view of the loops (myco__lnet_ops_t) ------------------ */

static int ops_post(void *arg, unsigned i, void (*fn)(void *), void *fnarg)
{
	srv_t *srv = arg;

	if (i >= srv->n)
		return -EINVAL;
	return myco_post(srv->nets[i].loop, fn, fnarg);
}

static unsigned ops_here(void *arg)
{
	myco_loop_t *l = myco_loop_current();
	(void)arg;
	return l ? myco_loop_index(l) : 0;
}

static void ops_moved(void *arg, myco__lc_t *c, unsigned shard)
{
	(void)arg;
	c->where = shard;
}

/* On each loop's thread before it runs: its coroutines. */
static void loop_init(myco_loop_t *loop, unsigned idx, void *arg)
{
	srv_t *srv = arg;
	net_t *net = &srv->nets[idx];
	int rc;

	(void)loop;
	myco__lb_attach(srv->lb, idx);
	if ((rc = myco_spawn(net->loop, NULL, accept_main, net, NULL)) < 0 ||
	    (rc = myco_spawn(net->loop, NULL, ticker_main, net, NULL)) < 0 ||
	    (rc = myco_spawn(net->loop, NULL, waker_main, net, NULL)) < 0 ||
	    (idx == 0 && (rc = myco_spawn(net->loop, NULL, signal_main, srv, NULL)) < 0)) {
		fprintf(stderr, "myco-log: loop %u: cannot start: %s\n", idx, strerror(-rc));
		myco_group_stop(srv->group);
	}
}

static unsigned affinity_count(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return (unsigned)CPU_COUNT(&set);
}

int myco__lnet_run(myco__lb_t *lb, int lfd, unsigned nloops, bool verbose,
		   void (*heartbeat)(void))
{
	srv_t srv;
	sigset_t ss;
	int rc;
	unsigned ncpu = affinity_count();

	memset(&srv, 0, sizeof(srv));
	srv.lb = lb;
	srv.sigfd = -1;
	srv.verbose = verbose;
	if (nloops == 0)
		nloops = ncpu;
	if (nloops > MYCO_LOG_SHARDS_MAX)
		nloops = MYCO_LOG_SHARDS_MAX;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv.sigfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (srv.sigfd < 0)
		return -errno;
	srv.nets = calloc(nloops, sizeof(*srv.nets));
	if (!srv.nets) {
		rc = -ENOMEM;
		goto out;
	}
	/* pinned one per CPU of the affinity mask (the partition's cpuset);
	 * more loops than CPUs are left to the kernel */
	rc = myco_group_create(&srv.group, &(myco_group_opts_t){
		.nloops = nloops, .no_pin = nloops > ncpu });
	if (rc < 0)
		goto out;
	srv.n = nloops;
	for (unsigned i = 0; i < nloops; i++) {
		net_t *net = &srv.nets[i];
		net->srv = &srv;
		net->lb = lb;
		net->idx = i;
		net->lfd = lfd;
		net->heartbeat = heartbeat;
		net->loop = myco_group_loop(srv.group, i);
		rc = myco_event_create(&net->tick_ev);
		if (rc < 0)
			goto out;
	}
	rc = myco__lb_shards(lb, nloops, &(myco__lnet_ops_t){
		.arg = &srv, .post = ops_post, .here = ops_here, .moved = ops_moved });
	if (rc < 0)
		goto out;
	if (verbose)
		fprintf(stderr, "myco-log: serving on %u runtime loop%s\n", nloops,
			nloops == 1 ? "" : "s");
	rc = myco_group_run(srv.group, loop_init, &srv);
	if (rc == -MYCO_ESTOPPED)
		rc = 0;
out:
	/* Connections still open: tell the broker before anything is freed
	 * (each request on the shard that holds it); their coroutines die
	 * with the loops. */
	for (unsigned i = 0; srv.nets && i < srv.n; i++)
		for (conn_t *c = srv.nets[i].conns; c; c = c->next) {
			for (myco__lc_t *s = c->head; s; s = s->next)
				myco__lb_conn_closed_on(lb, s->where, s);
			close(c->fd);
		}
	if (srv.group)
		myco_group_destroy(srv.group);
	for (unsigned i = 0; srv.nets && i < srv.n; i++) {
		for (conn_t *c = srv.nets[i].conns; c;) {
			conn_t *n = c->next;
			myco__lc_t *s, *sn;
			for (s = c->head; s; s = sn) {
				sn = s->next;
				if (s->has_resp)
					myco__kwr_free(&s->resp);
				free(s);
			}
			myco_event_destroy(c->ev);
			free(c->buf);
			free(c);
			c = n;
		}
		if (srv.nets[i].tick_ev)
			myco_event_destroy(srv.nets[i].tick_ev);
	}
	free(srv.nets);
	close(srv.sigfd);
	return rc;
}
