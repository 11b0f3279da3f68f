/*
 * ports.c: listening sockets as capabilities.  For every `listen PORT;` a
 * partition declares, the executive creates one listening TCP socket
 * (0.0.0.0:PORT, SO_REUSEADDR, in the executive's own network namespace)
 * once at system start and keeps it until the system stops, like the
 * channel regions.  Every instance of the partition (the active one, its
 * parked standby, each replacement) inherits the SAME socket at the same
 * fd number, so connections queued in the backlog while a partition is
 * being replaced are accepted by the replacement instead of refused, and
 * nothing ever races for the port.  The sockets are appended to the
 * partition's MYCO_CAPS manifest as port entries (lib/part's writer,
 * docs/part-abi.md; myco_listen_fd() finds them in the partition).
 * Not for: the seccomp side (exec/box: a partition with ports but without
 * `net` may accept/recv/send but not socket/bind/listen/connect).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec_int.h"

#define EX_LISTEN_BACKLOG 1024

/* Create the listening socket for one port; returns the fd (CLOEXEC, owned
 * by the caller) or -errno. */
static int listen_one(uint16_t port)
{
	struct sockaddr_in sa;
	int one = 1, rc;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		rc = -errno;
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, EX_LISTEN_BACKLOG) < 0) {
		rc = -errno;
		goto out;
	}
	return fd;
out:
	close(fd);
	return rc;
}

int myco__ex_ports_open(struct ex_system *s)
{
	int rc = 0;

	for (size_t pi = 0; pi < s->nparts; pi++) {
		struct ex_part *p = &s->parts[pi];
		if (p->m->nports > EX_MAX_PORTS) {
			fprintf(stderr, "myco run: partition '%s': %zu listening ports, at most %d\n",
				p->name, p->m->nports, EX_MAX_PORTS);
			rc = -E2BIG;
			goto out;
		}
		for (size_t k = 0; k < p->m->nports; k++) {
			uint16_t port = p->m->ports[k];
			int fd = listen_one(port);
			if (fd < 0) {
				rc = fd;
				fprintf(stderr, "myco run: partition '%s': cannot listen on port %u: %s%s\n",
					p->name, (unsigned)port, myco_strerror(rc),
					rc == -EADDRINUSE ? " (another process holds it)" :
					rc == -EACCES ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "");
				goto out;
			}
			p->lports[p->nlfds] = port;
			p->lfds[p->nlfds++] = fd;
			struct myco__cap cap = { .kind = MYCO__CAP_PORT, .port = port,
						  .fds = { fd }, .nfds = 1 };
			rc = myco__caps_append(p->caps, sizeof(p->caps), &cap);
			if (rc < 0) {
				fprintf(stderr, "myco run: partition '%s': capability manifest too long\n",
					p->name);
				goto out;
			}
		}
	}
out:
	return rc;
}

void myco__ex_ports_close(struct ex_system *s)
{
	for (size_t pi = 0; s->parts && pi < s->nparts; pi++) {
		struct ex_part *p = &s->parts[pi];
		for (size_t k = 0; k < p->nlfds; k++)
			if (p->lfds[k] >= 0)
				close(p->lfds[k]);
		p->nlfds = 0;
	}
}
