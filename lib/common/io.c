/*
 * io.c: myco__read_full / myco__write_full (lib/common/myco_int.h): the one
 * place that loops over EINTR, short counts and EAGAIN.  Not for: io_uring
 * or coroutine-aware I/O (lib/rt's myco_write_all does that).
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "myco_int.h"

static int wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, -1) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int myco__read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	int rc;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == 0) {
			return -EPIPE;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN) {
			if ((rc = wait_fd(fd, POLLIN)) < 0)
				return rc;
		} else {
			return -errno;
		}
	}
	return 0;
}

int myco__write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int rc;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN) {
			if ((rc = wait_fd(fd, POLLOUT)) < 0)
				return rc;
		} else {
			return -errno;
		}
	}
	return 0;
}
