/*
 * uring.c: blocking-style I/O for coroutines on io_uring: read, write,
 * readv, writev, pread, pwrite, fsync, recv, send, sendv, accept, connect,
 * poll, splice and sendfile (file -> pipe -> socket with splice, pipes pooled per
 * loop), write_all, and the generic "event source" wait.
 * Not for: the loop's own eventfd and reaping (loop.c).
 *
 * Every operation: one SQE whose user_data points at a wait record on the
 * coroutine's stack, optionally linked to an IORING_OP_LINK_TIMEOUT (its
 * CQE carries user_data 0 and is ignored).  The coroutine parks until the
 * operation's own CQE arrives, always, even on timeout or cancellation, so
 * the kernel never touches a buffer after the call returned.  A timed-out
 * operation completes with -ECANCELED, mapped to -ETIMEDOUT unless we asked
 * for the cancellation (myco_cancel), which maps to -ECANCELED.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_int.h"
#include "../replay/replay.h"

#define BEGIN(l, co)                                   \
	myco_loop_t *l = myco__tls_loop;               \
	myco_co_t *co = l ? l->cur : NULL;             \
	if (!co)                                       \
		return -EPERM;                         \
	if (co->cancelled)                             \
		return -ECANCELED

/* Get room for n SQEs (n <= 2). */
static struct io_uring_sqe *get_sqe(myco_loop_t *l, unsigned n)
{
	if (__builtin_expect(myco__rec_rt == 2, 0))
		myco__rec_refuse("the program does I/O through the runtime outside channels "
				 "(a socket, pipe or file: myco_read, myco_recv, myco_accept, "
				 "myco_poll...): what it read is not recorded");
	if (io_uring_sq_space_left(&l->ring) < n)
		io_uring_submit(&l->ring);
	return io_uring_get_sqe(&l->ring);
}

/* Finish an operation whose SQE is prepared: link the timeout, park until
 * the CQE, map the result. */
static int io_finish(myco_loop_t *l, struct io_uring_sqe *sqe,
		     int64_t timeout_ns)
{
	myco__wait_t w = { .kind = MYCO__WAIT_IO };
	struct __kernel_timespec ts;

	io_uring_sqe_set_data(sqe, &w);
	if (timeout_ns >= 0) {
		sqe->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *t = io_uring_get_sqe(&l->ring);
		/* get_sqe() made room for two */
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		io_uring_prep_link_timeout(t, &ts, 0);
		t->user_data = 0;
	}
	l->io_pending++;
	(void)myco__park(&w, -1);
	int res = w.res;
	if (res == -ECANCELED) {
		if (w.cancel_req)
			return -ECANCELED;
		if (timeout_ns >= 0)
			return -ETIMEDOUT;
	}
	return res;
}

void myco__uring_cancel_wait(myco_loop_t *l, myco__wait_t *w)
{
	struct io_uring_sqe *sqe = myco__sqe(l);
	if (!sqe)
		return; /* the op completes on its own (or times out) */
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)w, 0);
	sqe->user_data = 0;
	w->cancel_req = true;
}

#define SQE_OR_FAIL(l, sqe, n)                         \
	struct io_uring_sqe *sqe = get_sqe(l, n);      \
	if (!sqe)                                      \
		return -EBUSY

#define NSQE(t) ((t) >= 0 ? 2u : 1u)

ssize_t myco_read(int fd, void *buf, size_t len, int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_read(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
			   (uint64_t)-1);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_write(int fd, const void *buf, size_t len, int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_write(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
			    (uint64_t)-1);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_readv(int fd, const struct iovec *iov, int iovcnt,
		   int64_t timeout_ns)
{
	BEGIN(l, co);
	if (iovcnt < 0)
		return -EINVAL;
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_readv(sqe, fd, iov, (unsigned)iovcnt, (uint64_t)-1);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_writev(int fd, const struct iovec *iov, int iovcnt,
		    int64_t timeout_ns)
{
	BEGIN(l, co);
	if (iovcnt < 0)
		return -EINVAL;
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_writev(sqe, fd, iov, (unsigned)iovcnt, (uint64_t)-1);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_pread(int fd, void *buf, size_t len, off_t off,
		   int64_t timeout_ns)
{
	BEGIN(l, co);
	if (off < 0)
		return -EINVAL;
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_read(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
			   (uint64_t)off);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_pwrite(int fd, const void *buf, size_t len, off_t off,
		    int64_t timeout_ns)
{
	BEGIN(l, co);
	if (off < 0)
		return -EINVAL;
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_write(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len),
			    (uint64_t)off);
	return io_finish(l, sqe, timeout_ns);
}

int myco_fsync(int fd, bool datasync, int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_recv(int fd, void *buf, size_t len, int flags,
		  int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_recv(sqe, fd, buf, len, flags);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_send(int fd, const void *buf, size_t len, int flags,
		  int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_sendv(int fd, const struct iovec *iov, int iovcnt,
		   int64_t timeout_ns)
{
	BEGIN(l, co);
	if (iovcnt < 0)
		return -EINVAL;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt };
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_sendmsg(sqe, fd, &mh, MSG_NOSIGNAL);
	return io_finish(l, sqe, timeout_ns);
}

int myco_accept(int lfd, struct sockaddr *addr, socklen_t *alen, int flags,
		int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_accept(sqe, lfd, addr, alen, flags);
	return io_finish(l, sqe, timeout_ns);
}

int myco_connect(int fd, const struct sockaddr *addr, socklen_t alen,
		 int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_connect(sqe, fd, addr, alen);
	return io_finish(l, sqe, timeout_ns);
}

int myco_poll(int fd, short events, int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	io_uring_prep_poll_add(sqe, fd, (unsigned)(unsigned short)events);
	return io_finish(l, sqe, timeout_ns);
}

ssize_t myco_splice(int fd_in, int64_t off_in, int fd_out, int64_t off_out,
		    size_t len, unsigned flags, int64_t timeout_ns)
{
	BEGIN(l, co);
	SQE_OR_FAIL(l, sqe, NSQE(timeout_ns));
	if (len > 0x7ffff000)
		len = 0x7ffff000;
	io_uring_prep_splice(sqe, fd_in, off_in, fd_out, off_out,
			     (unsigned)len, flags);
	return io_finish(l, sqe, timeout_ns);
}

/* ---- helpers built on the primitives ---------------------------------- */

/* Remaining time until deadline (MYCO_FOREVER stays forever). */
static int64_t remaining(uint64_t deadline, int64_t timeout_ns)
{
	if (timeout_ns < 0)
		return MYCO_FOREVER;
	uint64_t now = myco__now_unrec();
	return deadline > now ? (int64_t)(deadline - now) : 0;
}

static uint64_t deadline_of(int64_t timeout_ns)
{
	return timeout_ns < 0 ? UINT64_MAX : myco__now_unrec() + (uint64_t)timeout_ns;
}

ssize_t myco_write_all(int fd, const void *buf, size_t len,
		       int64_t timeout_ns)
{
	const char *p = buf;
	size_t done = 0;
	bool sock = true;
	uint64_t dl = deadline_of(timeout_ns);

	while (done < len) {
		int64_t t = remaining(dl, timeout_ns);
		ssize_t n = sock ? myco_send(fd, p + done, len - done, 0, t)
				 : myco_write(fd, p + done, len - done, t);
		if (n == -ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return (ssize_t)len;
}

#define MAX_IOV 64

ssize_t myco_writev_all(int fd, const struct iovec *iov, int iovcnt,
			int64_t timeout_ns)
{
	struct iovec v[MAX_IOV];
	size_t total = 0;
	int first = 0;
	uint64_t dl = deadline_of(timeout_ns);
	bool sock = true;

	if (iovcnt < 0 || iovcnt > MAX_IOV)
		return -EINVAL;
	memcpy(v, iov, sizeof(*iov) * (size_t)iovcnt);
	for (int i = 0; i < iovcnt; i++)
		total += v[i].iov_len;
	size_t done = 0;
	while (done < total) {
		while (first < iovcnt && v[first].iov_len == 0)
			first++;
		int64_t t = remaining(dl, timeout_ns);
		ssize_t n = sock ? myco_sendv(fd, v + first, iovcnt - first, t)
				 : myco_writev(fd, v + first, iovcnt - first, t);
		if (n == -ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
		size_t k = (size_t)n;
		while (k > 0 && first < iovcnt) {
			size_t c = k < v[first].iov_len ? k : v[first].iov_len;
			v[first].iov_base = (char *)v[first].iov_base + c;
			v[first].iov_len -= c;
			k -= c;
			if (v[first].iov_len == 0)
				first++;
		}
	}
	return (ssize_t)total;
}

/* ---- sendfile through a pooled pipe ---------------------------------- */

static int pipe_get(myco_loop_t *l, myco__pipe_t *p)
{
	if (l->npipes) {
		*p = l->pipes[--l->npipes];
		return 0;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	int cap = fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	if (cap < 0)
		cap = fcntl(fds[1], F_GETPIPE_SZ);
	if (cap <= 0)
		cap = 65536;
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->cap = (size_t)cap;
	return 0;
}

static void pipe_put(myco_loop_t *l, myco__pipe_t *p, bool clean)
{
	if (clean && l->npipes < MYCO__PIPE_POOL) {
		l->pipes[l->npipes++] = *p;
		return;
	}
	close(p->rfd);
	close(p->wfd);
}

void myco__uring_pipes_free(myco_loop_t *l)
{
	while (l->npipes) {
		myco__pipe_t *p = &l->pipes[--l->npipes];
		close(p->rfd);
		close(p->wfd);
	}
}

ssize_t myco_sendfile(int out_fd, int in_fd, off_t *offset, size_t count,
		      int64_t timeout_ns)
{
	BEGIN(l, co);
	myco__pipe_t p;
	size_t sent = 0;
	ssize_t rc = 0;
	bool clean = true;
	uint64_t dl = deadline_of(timeout_ns);

	rc = pipe_get(l, &p);
	if (rc < 0)
		return rc;
	while (sent < count) {
		size_t want = count - sent;
		if (want > p.cap)
			want = p.cap;
		int64_t off = offset ? (int64_t)(*offset + (off_t)sent) : -1;
		ssize_t in = myco_splice(in_fd, off, p.wfd, -1, want,
					 SPLICE_F_MOVE,
					 remaining(dl, timeout_ns));
		if (in < 0) {
			rc = in;
			goto out;
		}
		if (in == 0)
			break; /* EOF */
		size_t left = (size_t)in;
		while (left > 0) {
			ssize_t o = myco_splice(p.rfd, -1, out_fd, -1, left,
						SPLICE_F_MOVE,
						remaining(dl, timeout_ns));
			if (o <= 0) {
				clean = false; /* bytes stuck in the pipe */
				rc = o < 0 ? o : -EIO;
				goto out;
			}
			left -= (size_t)o;
			sent += (size_t)o;
		}
	}
	rc = (ssize_t)sent;
out:
	if (offset)
		*offset += (off_t)sent;
	pipe_put(l, &p, clean);
	return rc;
}

/* ---- generic event source --------------------------------------------- */

int myco_wait_source(bool (*ready)(void *obj), int (*arm)(void *obj),
		     void (*disarm)(void *obj), void *obj, int fd,
		     int64_t timeout_ns)
{
	BEGIN(l, co);
	int rc = 0;
	bool armed = false;
	uint64_t dl = deadline_of(timeout_ns);
	(void)l;

	if (ready(obj)) {
		MYCO__ST_ADD(l, src_fast, 1);
		return 0;
	}
	MYCO__ST_ADD(l, src_polls, 1);
	for (;;) {
		if (ready(obj)) {
			rc = 0;
			break;
		}
		if (arm && !armed) {
			rc = arm(obj);
			if (rc < 0)
				break;
			armed = true;
			if (rc > 0) {
				rc = 0;
				break;
			}
			continue; /* re-check after arming */
		}
		int64_t t = remaining(dl, timeout_ns);
		if (t == 0) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = myco_poll(fd, POLLIN, t);
		if (rc < 0)
			break;
		/* Woken: disarm; the next round checks ready() and re-arms
		 * (arming a channel drains its eventfd, so the next poll
		 * really waits). */
		if (armed && disarm) {
			disarm(obj);
			armed = false;
		}
	}
	if (armed && disarm)
		disarm(obj);
	return rc;
}
