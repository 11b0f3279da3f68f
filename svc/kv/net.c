/*
 * net.c: myco-kv's network layer on the Myco runtime: a group of loops, one
 * per core, all accepting on the one listening socket; one coroutine per
 * connection reads requests, runs every complete one (pipelining), waits
 * until the WAL has what they wrote, then sends the replies in one write.
 * A subscribed connection gets a second coroutine that sends what PUBLISH
 * pushed from any thread.  Blocking pops wait on one event bumped by list
 * pushes.  Under raft the replies wait for the commit of what they wrote
 * (or for a read fence) instead of the WAL.  Not for: command semantics
 * (db.c, cmd_*.c), files (wal.c) or replication (raft.c).
 */
#include "kv_int.h"
#include "net.h"

#include "myco/rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define QBUF_MAX (1ull << 30)     /* client-query-buffer-limit */
#define REPLY_FLUSH (256u << 10)  /* send replies early beyond this */

void *kv_wal_event(kv_srv_t *srv);

typedef struct net {
	pthread_mutex_t mu;
	struct conn *conns;          /* open connections (freed at shutdown) */
	kv_srv_t *srv;
	myco_group_t *g;
	int lfd, sigfd;
	void (*heartbeat)(void);
	_Atomic bool stopping;
} net_t;

typedef struct conn {
	struct conn *next, *prev;    /* net->conns, under net->mu */
	net_t *net;
	kv_client_t *c;
	int fd;
	bool writing, closed, pusher;
	int refs;
	char *buf;                   /* request bytes */
	size_t cap, len;
	kv_req_t req;
} conn_t;

static void conn_free(conn_t *k)
{
	close(k->fd);
	if (k->c->ev)
		myco_event_destroy(k->c->ev);
	k->c->ev = NULL;
	kv_client_free(k->c);
	free(k->buf);
	resp_req_free(&k->req);
	free(k);
}

static void conn_put(conn_t *k)
{
	net_t *net = k->net;
	if (--k->refs > 0)
		return;
	pthread_mutex_lock(&net->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		net->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&net->mu);
	conn_free(k);
}

/* Send len bytes, never interleaved with the other coroutine's sends. */
static int conn_send(conn_t *k, const char *p, size_t len)
{
	ssize_t n;
	myco_event_t *ev = k->c->ev;

	while (k->writing) {
		uint64_t s = myco_event_seq(ev);
		if (!k->writing)
			break;
		if (myco_event_wait(ev, s, MYCO_FOREVER) < 0)
			return -ECANCELED;
	}
	if (k->closed)
		return -EPIPE;
	k->writing = true;
	n = send(k->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		n = -errno;
	else if (n < 0)
		n = 0;
	if (n >= 0 && (size_t)n < len) {
		ssize_t m = myco_write_all(k->fd, p + n, len - (size_t)n, MYCO_FOREVER);
		n = m < 0 ? m : (ssize_t)len;
	}
	k->writing = false;
	myco_event_notify(ev);
	return n < 0 ? (int)n : 0;
}

/* Send what PUBLISH queued for this client. */
static int flush_push(conn_t *k)
{
	kv_client_t *c = k->c;
	kbuf_t out = { 0 };
	int rc = 0;

	for (;;) {
		pthread_mutex_lock(&c->olock);
		if (!c->push.len) {
			pthread_mutex_unlock(&c->olock);
			break;
		}
		out = c->push;
		memset(&c->push, 0, sizeof(c->push));
		pthread_mutex_unlock(&c->olock);
		rc = conn_send(k, out.p, out.len);
		kbuf_free(&out);
		if (rc < 0)
			break;
	}
	return rc;
}

/* Wait until the WAL acknowledges everything this client wrote, then send
 * its replies (and pushes). */
static int flush_replies(conn_t *k)
{
	kv_client_t *c = k->c;
	kv_srv_t *srv = c->srv;
	int rc;

	if (srv->raft && c->need_lsn) {
		myco_event_t *ev = kv_raft_event(srv);
		for (;;) {
			uint64_t s = myco_event_seq(ev);
			int st = kv_raft_status(srv, c->need_lsn);
			if (st > 0)
				break;
			if (st < 0) {
				/* Leadership lost under it: whether the writes took
				 * effect is unknown, as after a crash; close. */
				c->r.len = 0;
				c->need_lsn = 0;
				k->closed = true;
				return -EPIPE;
			}
			rc = myco_event_wait(ev, s, 100 * 1000000);
			if (rc == -ECANCELED)
				return rc;
		}
		c->need_lsn = 0;
	}
	if (srv->wal && c->need_lsn) {
		myco_event_t *ev = kv_wal_event(srv);
		while (kv_wal_durable(srv) < c->need_lsn) {
			uint64_t s = myco_event_seq(ev);
			if (kv_wal_durable(srv) >= c->need_lsn)
				break;
			rc = myco_event_wait(ev, s, 100 * 1000000);
			if (rc == -ECANCELED)
				return rc;
		}
		c->need_lsn = 0;
	}
	if (c->r.oom) {
		c->r.len = 0;
		c->r.oom = false;
		k->closed = true;
		return -ENOMEM;
	}
	if (c->r.len) {
		rc = conn_send(k, c->r.p, c->r.len);
		c->r.len = 0;
		if (c->r.cap > (4u << 20))
			kbuf_free(&c->r);
		if (rc < 0)
			return rc;
	}
	return flush_push(k);
}

static int pusher_main(void *arg)
{
	conn_t *k = arg;
	myco_event_t *ev = k->c->ev;

	while (!k->closed) {
		uint64_t s = myco_event_seq(ev);
		bool have;
		pthread_mutex_lock(&k->c->olock);
		have = k->c->push.len > 0;
		pthread_mutex_unlock(&k->c->olock);
		if (have && !k->writing) {
			if (flush_push(k) < 0)
				break;
			continue;
		}
		if (myco_event_wait(ev, s, MYCO_FOREVER) < 0)
			break;
	}
	k->closed = true;
	shutdown(k->fd, SHUT_RDWR);
	conn_put(k);
	return 0;
}

/* True if the peer has closed (checked while a client is blocked). */
static bool peer_gone(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* BLPOP/BRPOP: run the command again after every list push until it
 * pops, times out, or the client leaves. */
static int block_wait(conn_t *k, int argc, const kv_arg_t *argv)
{
	kv_client_t *c = k->c;
	kv_srv_t *srv = c->srv;
	uint64_t deadline = 0;
	int rc = 0;

	if (c->block_timeout > 0)
		deadline = myco_now() + (uint64_t)(c->block_timeout * 1e9);
	if ((rc = flush_replies(k)) < 0)
		return rc;
	atomic_fetch_add(&srv->nblocked, 1);
	for (;;) {
		uint64_t s = myco_event_seq(srv->push_ev), now;
		int64_t wait = 1000000000;
		c->want_block = false;
		kv_exec(c, argc, argv);
		if (!c->want_block)
			break;
		now = myco_now();
		if (deadline && now >= deadline) {
			c->want_block = false;
			r_nullarr(c);
			break;
		}
		if (deadline && (int64_t)(deadline - now) < wait)
			wait = (int64_t)(deadline - now);
		rc = myco_event_wait(srv->push_ev, s, wait);
		if (rc == -ECANCELED || peer_gone(k->fd)) {
			c->want_block = false;
			rc = -ECONNRESET;
			break;
		}
		rc = 0;
	}
	atomic_fetch_sub(&srv->nblocked, 1);
	return rc;
}

static int conn_main(void *arg)
{
	conn_t *k = arg;
	kv_client_t *c = k->c;
	kv_req_t *rq = &k->req;
	size_t cap = 16384, len = 0;
	char *buf = k->buf = malloc(cap);

	if (!buf)
		goto out;
	while (!k->closed) {
		size_t off = 0;
		const char *err = NULL;
		int n = 0;
		ssize_t got;

		while (off < len && (n = resp_parse(buf + off, len - off, rq, &err)) > 0) {
			off += (size_t)n;
			if (!rq->argc)
				continue;
			kv_exec(c, rq->argc, rq->argv);
			if (c->want_block && block_wait(k, rq->argc, rq->argv) < 0)
				goto out;
			if (!k->pusher && (c->subs.n || c->psubs.n)) {
				k->refs++;
				if (myco_spawn(myco_loop_current(), NULL, pusher_main, k,
					       &(myco_co_opts_t){ .name = "kv-push" }) < 0)
					k->refs--;
				else
					k->pusher = true;
			}
			if (k->pusher && c->r.len) {
				/* keep replies in order with pushed messages */
				if (flush_replies(k) < 0)
					goto out;
			}
			if (c->close_after)
				break;
			if (c->r.len > REPLY_FLUSH && flush_replies(k) < 0)
				goto out;
		}
		if (err) {
			r_err(c, "%s", err);
			flush_replies(k);
			goto out;
		}
		if (n == -ENOMEM && off < len) {
			r_err(c, "OOM command not allowed when used memory > 'maxmemory'.");
			flush_replies(k);
			goto out;
		}
		if (flush_replies(k) < 0 || c->close_after)
			goto out;
		if (off) {
			memmove(buf, buf + off, len - off);
			len -= off;
		}
		if (len == cap) {
			char *nb;
			if (cap >= QBUF_MAX)
				goto out;
			nb = realloc(buf, cap * 2);
			if (!nb)
				goto out;
			buf = k->buf = nb;
			cap *= 2;
		} else if (len < 16384 && cap > (1u << 20)) {
			char *nb = realloc(buf, 16384);
			if (nb) {
				buf = k->buf = nb;
				cap = 16384;
			}
		}
		got = myco_recv(k->fd, buf + len, cap - len, 0, MYCO_FOREVER);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
out:
	k->closed = true;
	shutdown(k->fd, SHUT_RDWR);
	myco_event_notify(c->ev);
	conn_put(k);
	return 0;
}

static int accept_main(void *arg)
{
	net_t *net = arg;

	while (!net->stopping) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		conn_t *k;
		int fd, one = 1;

		fd = myco_accept(net->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC, MYCO_FOREVER);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM)
				myco_sleep_ns(10 * 1000 * 1000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		k = calloc(1, sizeof(*k));
		if (!k || !(k->c = kv_client_new(net->srv)) ||
		    myco_event_create((myco_event_t **)&k->c->ev) < 0) {
			if (k && k->c)
				kv_client_free(k->c);
			free(k);
			close(fd);
			continue;
		}
		atomic_fetch_add(&net->srv->stat_conns, 1);
		k->net = net;
		k->fd = fd;
		k->refs = 1;
		pthread_mutex_lock(&net->mu);
		k->next = net->conns;
		if (net->conns)
			net->conns->prev = k;
		net->conns = k;
		pthread_mutex_unlock(&net->mu);
		if (ss.ss_family == AF_INET) {
			char ip[INET_ADDRSTRLEN] = "";
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			snprintf(k->c->addr, sizeof(k->c->addr), "%s:%u", ip, ntohs(a->sin_port));
		}
		if (myco_spawn(myco_loop_current(), NULL, conn_main, k,
			       &(myco_co_opts_t){ .name = "kv-conn" }) < 0)
			conn_put(k);
	}
	return 0;
}

typedef struct loopctx {
	net_t *net;
	unsigned idx, n;
} loopctx_t;

static loopctx_t lctx[KV_SHARDS_MAX];

/* Housekeeping per loop: active expiry of its shards every 100 ms; loop 0
 * also reaps snapshots and sends heartbeats. */
static int tick_main(void *arg)
{
	loopctx_t *lc = arg;
	net_t *net = lc->net;
	unsigned s;

	while (!net->stopping) {
		if (myco_sleep_ns(100 * 1000 * 1000) < 0)
			break;
		for (s = lc->idx; s < net->srv->nshards; s += lc->n)
			kv_active_expire(net->srv, s, 20);
		if (lc->idx == 0) {
			kv_wal_tick(net->srv);
			if (net->heartbeat)
				net->heartbeat();
		}
	}
	return 0;
}

static int signal_main(void *arg)
{
	net_t *net = arg;
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = myco_read(net->sigfd, &si, sizeof(si), MYCO_FOREVER);
		if (n == (ssize_t)sizeof(si))
			break;
		if (n == -ECANCELED)
			return 0;
	}
	net->stopping = true;
	myco_group_stop(net->g);
	return 0;
}

static void loop_init(myco_loop_t *loop, unsigned index, void *arg)
{
	net_t *net = arg;
	lctx[index].net = net;
	lctx[index].idx = index;
	lctx[index].n = myco_group_size(net->g);
	myco_spawn(loop, NULL, accept_main, net, &(myco_co_opts_t){ .name = "kv-accept" });
	myco_spawn(loop, NULL, tick_main, &lctx[index], &(myco_co_opts_t){ .name = "kv-tick" });
	if (index == 0)
		myco_spawn(loop, NULL, signal_main, net, &(myco_co_opts_t){ .name = "kv-signal" });
}

int myco__kv_net_run(kv_srv_t *srv, int lfd, unsigned nloops, void (*heartbeat)(void))
{
	net_t net;
	sigset_t ss;
	int rc;

	memset(&net, 0, sizeof(net));
	pthread_mutex_init(&net.mu, NULL);
	net.srv = srv;
	net.lfd = lfd;
	net.heartbeat = heartbeat;
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	net.sigfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	if (net.sigfd < 0)
		return -errno;
	if (!srv->push_ev && (rc = myco_event_create((myco_event_t **)&srv->push_ev)) < 0)
		goto out;
	rc = myco_group_create(&net.g, &(myco_group_opts_t){
		.nloops = nloops,
		.loop = { .keepalive = true },
	});
	if (rc < 0)
		goto out;
	rc = myco_group_run(net.g, loop_init, &net);
	if (rc == -MYCO_ESTOPPED)
		rc = 0;
out:
	/* Connections still open: their coroutines die with the loops, then
	 * what they held is freed here. */
	kv_wal_stop(srv);
	kv_raft_stop(srv);     /* its thread notifies the loops' events too */
	if (net.g)
		myco_group_destroy(net.g);
	while (net.conns) {
		conn_t *k = net.conns;
		net.conns = k->next;
		conn_free(k);
	}
	pthread_mutex_destroy(&net.mu);
	close(net.sigfd);
	return rc;
}
