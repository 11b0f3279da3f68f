/*
 * main.c: the myco-gate program: reads its configuration (a file of its
 * own, or the `gateway { }` section of a partition in a system file), then serves
 * HTTP/1.1 on one lib/rt loop per core (one SO_REUSEPORT listener each),
 * or, as a partition of a Myco system, on the listening socket the
 * executive holds for its declared port (myco_listen_fd()), reporting
 * readiness and heartbeats.  SIGHUP reloads the configuration; SIGINT and
 * SIGTERM stop.  `--check` only validates the file.
 * Not for: anything about requests (gate.c, server.c, proxy.c).
 */
#include "gate_int.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "myco/part.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: myco-gate (-c FILE | --system FILE [--partition NAME]) [--check] [--loops N]\n"
		"                 [--pin] [-v]\n"
		"  -c, --config FILE  configuration (syntax: docs/gate.md)\n"
		"  -s, --system FILE  a system file: the configuration is the `gateway { }`\n"
		"                     section of partition NAME (default: the partition this\n"
		"                     process runs as inside a system)\n"
		"      --check        parse FILE, report the first error, exit\n"
		"      --loops N      loops (threads) to run, overrides the file\n"
		"      --pin          pin loop i to CPU i\n"
		"  SIGHUP reads FILE again and applies it without dropping connections.\n");
}

static void ready(void *ctx, uint16_t port)
{
	(void)ctx;
	(void)port;
	if (myco_in_system() == 1)
		(void)myco_ready();
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "system", required_argument, NULL, 's' },
		{ "partition", required_argument, NULL, 'P' },
		{ "check", no_argument, NULL, 'k' },
		{ "loops", required_argument, NULL, 'l' },
		{ "pin", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static myco__gate_t g;
	const char *path = NULL, *sys = NULL, *part = NULL;
	bool check = false, pin = false;
	int loops = -1, opt, rc, lfd = -1;
	char err[512];

	while ((opt = getopt_long(argc, argv, "c:s:vh", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 's': sys = optarg; break;
		case 'P': part = optarg; break;
		case 'k': check = true; break;
		case 'l': loops = atoi(optarg); break;
		case 'p': pin = true; break;
		case 'v': g.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path == !sys || (part && !sys)) {
		usage(stderr);
		return 2;
	}
	if (sys) {
		/* the section of the partition named, else of the one we run as */
		if (!part && myco_in_system() == 1)
			part = myco_partition_name();
		if (!part || !*part) {
			fprintf(stderr, "myco-gate: --system needs --partition NAME outside a system\n");
			return 2;
		}
		snprintf(g.part, sizeof(g.part), "%s", part);
		path = sys;
	}
	if (loops > MYCO__GATE_MAX_LOOPS || loops == 0) {
		fprintf(stderr, "myco-gate: --loops must be 1..%d\n", MYCO__GATE_MAX_LOOPS);
		return 2;
	}
	rc = myco__gate_init(&g, path, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "myco-gate: %s\n", err);
		return 1;
	}
	if (!check) {
		(void)myco_in_system();   /* attaches to the executive's regions, if any */
		myco__gm_init();
	}
	if (check) {
		printf("%s: ok (%zu upstreams, %zu routes)\n", path, g.conf->npools, g.conf->nroutes);
		myco__gate_fini(&g);
		return 0;
	}
	/* Inside a system: the executive's listening socket for the declared
	 * port (the file's listen port, else the only declared one). */
	if (myco_in_system() == 1) {
		uint16_t ports[2];
		size_t np = myco_listen_ports(ports, 2);
		uint16_t want = myco_listen_fd(g.conf->listen_port) >= 0 ? g.conf->listen_port
				: np == 1 ? ports[0] : 0;
		if (want)
			lfd = myco_listen_fd(want);
		if (lfd >= 0)
			fprintf(stderr, "myco-gate: serving the system's listening socket for port %u\n",
				want);
		else if (np)
			fprintf(stderr, "myco-gate: %s: binding the file's address itself\n",
				myco_part_errmsg());
		g.heartbeat = myco_heartbeat;
	}
	{
		myco__gate_srv_opts_t o = {
			.host = g.conf->listen_host, .port = g.conf->listen_port, .lfd = lfd,
			.nloops = loops > 0 ? (unsigned)loops : g.conf->loops, .pin = pin,
			.max_body = g.conf->max_body,
			.header_timeout_ns = g.conf->header_timeout_ns,
			.body_timeout_ns = g.conf->body_timeout_ns,
			.idle_timeout_ns = g.conf->idle_timeout_ns,
			.handle = myco__gate_handle, .ctx = &g,
			.loop_init = myco__gate_loop_init, .reload = myco__gate_reload,
			.loop_fini = myco__gate_loop_fini, .busy = myco__gate_busy,
			.ready = ready,
			.tls_get = g.conf->tls ? myco__gate_tls_get : NULL,
		};
		rc = myco__gate_serve(&o);
	}
	if (rc < 0)
		fprintf(stderr, "myco-gate: %s\n", myco_strerror(rc));
	myco__gate_fini(&g);
	return rc < 0 ? 1 : 0;
}
