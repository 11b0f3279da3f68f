/*
 * net.c: TCP conveniences: a listening socket (optionally SO_REUSEPORT for
 * one listener per loop) and a coroutine-blocking connect by numeric
 * address.
 * Not for: name resolution inside coroutines (getaddrinfo blocks).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt_int.h"

int myco_tcp_listen(const char *host, uint16_t port, int backlog,
		    bool reuseport)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char portstr[8];
	int fd = -EADDRNOTAVAIL, rc, one = 1;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	rc = getaddrinfo(host && *host ? host : "0.0.0.0", portstr, &hints,
			 &res);
	if (rc != 0)
		return rc == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	/* the first address that binds wins (a name may resolve to several) */
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			fd = -errno;
			continue;
		}
		if (!setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) &&
		    (!reuseport || !setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
					       sizeof(one))) &&
		    !bind(fd, ai->ai_addr, ai->ai_addrlen) &&
		    !listen(fd, backlog > 0 ? backlog : 1024))
			break;
		rc = -errno;
		close(fd);
		fd = rc;
	}
	freeaddrinfo(res);
	return fd;
}

int myco_tcp_connect(const char *host, uint16_t port, int64_t timeout_ns)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, rc, one = 1;

	if (!myco__cur())
		return -EPERM;
	if (!host)
		return -EINVAL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		len = sizeof(*a6);
	} else {
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = myco_connect(fd, (struct sockaddr *)&ss, len, timeout_ns);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}
