/*
 * net_epoll.c: myco-log's fallback network layer on plain epoll, used only
 * when the build has no Myco runtime (lib/rt); net_rt.c is the real one.
 * Same contract (net.h): one thread, one request in flight per connection,
 * responses written with writev/sendfile as the socket accepts them.
 * Not for: protocol logic.
 */
#include "log_int.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_MAX (100u << 20)

struct myco__lc {
	struct myco__lc *next, *prev;
	int fd;
	char peer[64];
	bool busy;          /* a request is in flight */
	bool dead;
	bool has_resp;
	myco__kwr_t resp;
	size_t sent;        /* bytes of resp already written */
	uint8_t *buf;
	size_t cap, len;
	size_t consumed;    /* frame bytes to drop once answered */
};

static myco__lc_t *conns;

void myco__lc_send(myco__lc_t *c, myco__kwr_t *w)
{
	c->resp = *w;
	myco__kwr_init(w);
	c->has_resp = true;
	c->sent = 0;
	c->busy = false;
}

void myco__lc_noreply(myco__lc_t *c)
{
	c->busy = false;
}

void myco__lc_abort(myco__lc_t *c)
{
	c->dead = true;
	c->busy = false;
}

const char *myco__lc_peer(const myco__lc_t *c)
{
	return c->peer;
}

/* Write as much of the response as the socket takes; 1 when done, 0 when
 * it would block, < 0 on error. */
static int flush_resp(myco__lc_t *c)
{
	myco__kwr_t *w = &c->resp;

	while (c->sent < myco__kwr_total(w)) {
		size_t pos = 0, wpos = 0, i;
		ssize_t n = 0;

		/* wire layout: buf[0..at0) file0 buf[at0..at1) file1 ... buf[..len) */
		for (i = 0; i <= w->nfiles; i++) {
			size_t end = i < w->nfiles ? w->files[i].at : w->len;
			if (c->sent < wpos + (end - pos)) {
				size_t o = c->sent - wpos;
				n = send(c->fd, w->buf + pos + o, end - pos - o, MSG_NOSIGNAL);
				break;
			}
			wpos += end - pos;
			pos = end;
			if (i < w->nfiles && c->sent < wpos + w->files[i].len) {
				size_t o = c->sent - wpos;
				off_t off = w->files[i].off + (off_t)o;
				n = sendfile(c->fd, w->files[i].fd, &off, w->files[i].len - o);
				if (n == 0)
					return -EIO;   /* file shorter than promised */
				break;
			}
			if (i < w->nfiles)
				wpos += w->files[i].len;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->sent += (size_t)n;
	}
	myco__kwr_free(w);
	c->has_resp = false;
	return 1;
}

static void conn_free(myco__lb_t *lb, myco__lc_t *c)
{
	myco__lb_conn_closed(lb, c);
	if (c->has_resp)
		myco__kwr_free(&c->resp);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c);
}

/* Advance c: flush, then run buffered requests while nothing is in flight. */
static int conn_step(myco__lb_t *lb, myco__lc_t *c)
{
	for (;;) {
		uint32_t flen;
		if (c->dead)
			return -EPIPE;
		if (c->busy)
			return 0;
		if (c->has_resp) {
			int rc = flush_resp(c);
			if (rc <= 0)
				return rc;
		}
		if (c->consumed) {
			memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
			c->len -= c->consumed;
			c->consumed = 0;
		}
		if (c->len < 4)
			return 0;
		memcpy(&flen, c->buf, 4);
		flen = ntohl(flen);
		if (flen > FRAME_MAX)
			return -EMSGSIZE;
		if (c->len < 4 + (size_t)flen) {
			if (c->cap < 4 + (size_t)flen) {
				uint8_t *nb = realloc(c->buf, 4 + (size_t)flen);
				if (!nb)
					return -ENOMEM;
				c->buf = nb;
				c->cap = 4 + (size_t)flen;
			}
			return 0;
		}
		c->busy = true;
		c->consumed = 4 + (size_t)flen;
		if (myco__lb_request(lb, c, c->buf + 4, flen) < 0)
			return -EBADMSG;
	}
}

static volatile sig_atomic_t stop_flag;

int myco__lnet_run(myco__lb_t *lb, int lfd, bool verbose, void (*heartbeat)(void))
{
	int ep, sfd, wfd = myco__lb_wakefd(lb), rc = 0;
	struct epoll_event ev, evs[64];
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || sfd < 0)
		return -errno;
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &wfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, wfd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	if (verbose)
		fprintf(stderr, "myco-log: serving with the epoll fallback\n");
	while (!stop_flag) {
		int timeout = myco__lb_tick(lb), n, i;
		myco__lc_t *c, *nx;

		if (heartbeat) {
			heartbeat();
			if (timeout > 100)
				timeout = 100;
		}

		/* answers produced by the tick */
		for (c = conns; c; c = nx) {
			nx = c->next;
			if (!c->busy && conn_step(lb, c) < 0)
				conn_free(lb, c);
		}
		n = epoll_wait(ep, evs, 64, timeout);
		for (i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &sfd) {
				stop_flag = 1;
			} else if (p == &wfd) {
				/* drained by the tick at the top of the loop */
			} else if (p == NULL) {
				struct sockaddr_storage sa;
				socklen_t sl = sizeof(sa);
				int fd = accept4(lfd, (struct sockaddr *)&sa, &sl,
						 SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
				if (fd < 0)
					continue;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				c = calloc(1, sizeof(*c));
				if (!c || !(c->buf = malloc(65536))) {
					free(c);
					close(fd);
					continue;
				}
				c->cap = 65536;
				c->fd = fd;
				if (sa.ss_family == AF_INET) {
					char ip[INET_ADDRSTRLEN] = "";
					inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, ip, sizeof(ip));
					snprintf(c->peer, sizeof(c->peer), "/%s", ip);
				}
				c->next = conns;
				if (conns)
					conns->prev = c;
				conns = c;
				ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
				ev.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			} else {
				bool bad = false;
				c = p;
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
					for (;;) {
						ssize_t r;
						if (c->cap == c->len) {
							size_t nc = c->cap * 2;
							uint8_t *nb = realloc(c->buf, nc);
							if (!nb) {
								bad = true;
								break;
							}
							c->buf = nb;
							c->cap = nc;
						}
						r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
						if (r > 0) {
							c->len += (size_t)r;
							continue;
						}
						if (r == 0 || errno != EAGAIN)
							bad = true;
						break;
					}
				}
				if (bad || conn_step(lb, c) < 0)
					conn_free(lb, c);
			}
		}
	}
	while (conns)
		conn_free(lb, conns);
	close(ep);
	close(sfd);
	return rc;
}
