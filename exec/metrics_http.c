/*
 * metrics_http.c: the executive's Prometheus endpoint: a listening TCP
 * socket on the system's `metrics` address and port and a tiny HTTP/1.x server on the
 * executive's epoll loop that answers GET /metrics (and HEAD) with the
 * collector's page, then closes the connection.  Non-blocking throughout: a
 * slow or silent client costs a connection slot, never the loop.
 * Not for: what the page says (collect.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "myco_int.h"
#include "exec_int.h"
#include "collect.h"

#define HTTP_MAX_CONNS 16
#define HTTP_HEAD_MAX  4096
#define HTTP_IDLE_NS   (5ull * 1000000000ull)

struct http_conn {
	int fd;                 /* -1 = free slot */
	char in[HTTP_HEAD_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	uint64_t t0;
};

static int http_fd = -1;
static int http_inited;
static struct http_conn conns[HTTP_MAX_CONNS];

static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Header value VAL (LEN bytes, optional whitespace around it trimmed) */
static void trim(const char **val, size_t *len)
{
	while (*len && (**val == ' ' || **val == '\t'))
		(*val)++, (*len)--;
	while (*len && ((*val)[*len - 1] == ' ' || (*val)[*len - 1] == '\t' ||
			(*val)[*len - 1] == '\r'))
		(*len)--;
}

int myco__ex_http_request(const char *buf, size_t len, size_t max, struct myco__ex_http_req *r)
{
	const char *end = NULL;
	size_t endlen = 0;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	for (size_t i = 0; i + 1 < len && !end; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			end = buf + i, endlen = 2;              /* bare LF line endings */
		else if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			end = buf + i, endlen = 3;
	}
	if (!end)
		return len >= max ? -E2BIG : 0;
	r->head_len = (size_t)(end - buf) + endlen;
	if (r->head_len > max)
		return -E2BIG;
	const char *sp1 = memchr(buf, ' ', (size_t)(end - buf));
	if (!sp1 || sp1 == buf)
		return -EINVAL;
	size_t ml = (size_t)(sp1 - buf);
	for (size_t i = 0; i < ml; i++)
		if (buf[i] < 'A' || buf[i] > 'Z')
			return -EINVAL;
	r->method = ml == 3 && !memcmp(buf, "GET", 3) ? MYCO__HTTP_GET :
		    ml == 4 && !memcmp(buf, "HEAD", 4) ? MYCO__HTTP_HEAD :
		    ml == 4 && !memcmp(buf, "POST", 4) ? MYCO__HTTP_POST : MYCO__HTTP_OTHER;
	const char *pth = sp1 + 1;
	/* end is the LF that ends the last line (the request line itself when
	 * there are no header lines) */
	const char *eol = memchr(pth, '\n', (size_t)(end - pth) + 1);
	if (!eol)
		return -EINVAL;
	const char *sp2 = memchr(pth, ' ', (size_t)(eol - pth));
	if (!sp2 || sp2 == pth || (size_t)(eol - sp2) < 9 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    sp2[8] < '0' || sp2[8] > '9' || (eol - sp2 > 9 && !(eol - sp2 == 10 && sp2[9] == '\r')))
		return -EINVAL;
	size_t pl = (size_t)(sp2 - pth);
	if (pl + 1 > sizeof(r->path))
		return -E2BIG;
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)pth[i] <= 0x20 || (unsigned char)pth[i] >= 0x7f)
			return -EINVAL;
	memcpy(r->path, pth, pl);
	r->path[pl] = 0;
	char *q = strchr(r->path, '?');     /* the query string is ignored */
	if (q)
		*q = 0;
	/* header lines: "name: value", strict enough that a body's length is
	 * never ambiguous (RFC 9112 section 6.3): no space before the colon, no
	 * folded lines, no bare CR, one Content-Length */
	for (const char *ln = eol + 1; ln <= end; ) {
		const char *le = memchr(ln, '\n', (size_t)(end - ln) + 1);
		size_t ll = (size_t)(le - ln);
		if (ll && ln[ll - 1] == '\r')
			ll--;
		if (memchr(ln, '\r', ll) || memchr(ln, 0, ll))
			return -EINVAL;
		const char *colon = memchr(ln, ':', ll);
		if (!colon || colon == ln)
			return -EINVAL;
		for (const char *c = ln; c < colon; c++)
			if (!is_tchar((unsigned char)*c))
				return -EINVAL;
		size_t nl = (size_t)(colon - ln), vl = ll - nl - 1;
		const char *val = colon + 1;
		trim(&val, &vl);
		if (nl == 14 && !strncasecmp(ln, "content-length", 14)) {
			if (r->content_length >= 0 || !vl || vl > 9)
				return -EINVAL;
			long n = 0;
			for (size_t i = 0; i < vl; i++) {
				if (val[i] < '0' || val[i] > '9')
					return -EINVAL;
				n = n * 10 + (val[i] - '0');
			}
			r->content_length = n;
		} else if (nl == 17 && !strncasecmp(ln, "transfer-encoding", 17)) {
			r->chunked = true;      /* any coding: the caller refuses bodies so framed */
		} else if (nl == 13 && !strncasecmp(ln, "authorization", 13)) {
			if (vl > 7 && !strncasecmp(val, "Bearer ", 7) && vl - 7 < sizeof(r->bearer)) {
				memcpy(r->bearer, val + 7, vl - 7);
				r->bearer[vl - 7] = 0;
			}
		}
		ln = le + 1;
	}
	return 1;
}

int myco__ex_http_parse(const char *buf, size_t len, size_t max, int *head,
			char *path, size_t cap)
{
	struct myco__ex_http_req r;
	int rc = myco__ex_http_request(buf, len, max, &r);
	if (rc <= 0)
		return rc;
	if (r.method != MYCO__HTTP_GET && r.method != MYCO__HTTP_HEAD)
		return -EINVAL;
	if (strlen(r.path) + 1 > cap)
		return -E2BIG;
	strcpy(path, r.path);
	*head = r.method == MYCO__HTTP_HEAD;
	return 1;
}

int myco__ex_http_open(struct ex_system *s, const char *addr, uint16_t port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t salen = sizeof a4;
	int one = 1, fd;

	for (int i = 0; i < HTTP_MAX_CONNS; i++)
		conns[i].fd = -1;
	http_inited = 1;
	if (!addr)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
		if (inet_pton(AF_INET6, addr, &a6.sin6_addr) != 1)
			return -EINVAL;
		sa = (struct sockaddr *)&a6;
		salen = sizeof a6;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, sa, salen) < 0 || listen(fd, 64) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	int rc = myco__ex_epoll_add(s, fd, EX_TAG(EXT_METRICS, 0, fd));
	if (rc < 0) {
		close(fd);
		return rc;
	}
	http_fd = fd;
	return 0;
}

static void conn_close(struct ex_system *s, struct http_conn *c)
{
	if (c->fd < 0)
		return;
	myco__ex_epoll_del(s, c->fd);
	close(c->fd);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void myco__ex_http_accept(struct ex_system *s)
{
	uint64_t now = myco_now();

	for (;;) {
		int fd = accept4(http_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare_fd >= 0) {
			/* out of fds: the executive's spare fd (control.c) is
			 * given up for one accept-and-refuse, so the pending
			 * connection goes away instead of keeping the socket
			 * readable (a busy loop), then taken back */
			static const char full[] = "HTTP/1.1 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			close(s->spare_fd);
			fd = accept4(http_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				(void)!write(fd, full, sizeof full - 1);
				close(fd);
			}
			s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return;
			continue;
		}
		if (fd < 0)
			return;
		struct http_conn *c = NULL;
		for (int i = 0; i < HTTP_MAX_CONNS; i++) {
			if (conns[i].fd >= 0 && now - conns[i].t0 > HTTP_IDLE_NS)
				conn_close(s, &conns[i]);     /* idle too long */
			if (!c && conns[i].fd < 0)
				c = &conns[i];
		}
		if (!c) {
			static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!write(fd, busy, sizeof busy - 1);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->t0 = now;
		if (myco__ex_epoll_add(s, fd, EX_TAG(EXT_HTTP, 0, fd)) < 0)
			conn_close(s, c);
	}
}

static void respond(struct ex_system *s, struct http_conn *c, int head, const char *path)
{
	char *body = NULL, hdr[256];
	long blen;
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";

	if (!strcmp(path, "/metrics")) {
		blen = myco__ex_collect_prom(s, &body);
		if (blen < 0) {
			status = "500 Internal Server Error";
			body = NULL;
			blen = 0;
		}
	} else {
		static const char nf[] = "not found: the metrics are at /metrics\n";
		status = "404 Not Found";
		ctype = "text/plain; charset=utf-8";
		body = strdup(nf);
		blen = body ? (long)strlen(body) : 0;
	}
	int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
			  "Content-Length: %ld\r\nConnection: close\r\n\r\n", status, ctype, blen);
	size_t total = (size_t)hl + (head ? 0 : (size_t)blen);
	c->out = malloc(total ? total : 1);
	if (!c->out) {
		free(body);
		conn_close(s, c);
		return;
	}
	memcpy(c->out, hdr, (size_t)hl);
	if (!head && blen)
		memcpy(c->out + hl, body, (size_t)blen);
	free(body);
	c->outlen = total;
	c->outoff = 0;
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = EX_TAG(EXT_HTTP, 0, c->fd) };
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

void myco__ex_http_io(struct ex_system *s, int fd, uint32_t events)
{
	struct http_conn *c = NULL;

	for (int i = 0; i < HTTP_MAX_CONNS; i++)
		if (conns[i].fd == fd)
			c = &conns[i];
	if (!c)
		return;
	if (!c->out) {
		ssize_t n = read(fd, c->in + c->inlen, sizeof c->in - c->inlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(s, c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
		char path[256];
		int head = 0;
		int rc = myco__ex_http_parse(c->in, c->inlen, sizeof c->in, &head, path, sizeof path);
		if (rc == 0)
			return;
		if (rc < 0) {
			static const char bad[] = "HTTP/1.1 400 Bad Request\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			(void)!write(fd, bad, sizeof bad - 1);
			conn_close(s, c);
			return;
		}
		respond(s, c, head, path);
		if (!c->out)
			return;
		events |= EPOLLOUT;
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		while (c->outoff < c->outlen) {
			ssize_t n = send(fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				break;
			}
			c->outoff += (size_t)n;
		}
		conn_close(s, c);
	}
}

void myco__ex_http_close(struct ex_system *s)
{
	if (!http_inited)
		return;
	for (int i = 0; i < HTTP_MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			conn_close(s, &conns[i]);
	if (http_fd >= 0) {
		myco__ex_epoll_del(s, http_fd);
		close(http_fd);
		http_fd = -1;
	}
}
