/*
 * xpart.c: partition program for the executive's integration tests; what
 * it does is chosen by the environment variable XMODE:
 *   idle        open every channel in XCHANS (comma list), ready, heartbeat
 *   ungranted   try to open XCHANS (granted) and XSECRET (not granted) and
 *               print "GRANTED <rc>" / "UNGRANTED <rc> <message>", then idle
 *   crash       ready, then exit(1) after XDELAY ms
 *   hang        ready, heartbeat for XDELAY ms, then stop heartbeating
 *   slowready   print "START <mono ns>", sleep XDELAY ms, print
 *               "READY <mono ns>", ready, idle
 *   exit0       ready, then exit(0) after XDELAY ms
 *   oom         ready, then allocate and touch memory until killed
 *   socket      ready, call socket(AF_INET) (not declared: a seccomp
 *               violation), print "SOCKET <rc> <errno>", idle
 *   serve       take the inherited listening socket of port XPORT
 *               (myco_listen_fd) after ready, print "LISTEN <fd>", then answer
 *               every connection with "HELLO <start> <partition>\n", start
 *               being CLOCK_MONOTONIC ns when this instance began to run;
 *               while the file XHOLD exists it accepts nothing (connections
 *               wait in the socket's backlog)
 *   portdeny    print "LISTENFD <rc> <message>" for port XPORT (not
 *               granted), then "SOCKET <rc> <errno>" for socket() and
 *               "BIND <rc> <errno>" for bind() of port XPORT on the granted
 *               socket of XGRANTED (both denied by seccomp), idle
 * Output goes to stdout (the executive keeps it for `myco logs`).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/part.h"

/* Where the oom mode keeps its last block, so the compiler cannot elide the
 * allocations. */
char *volatile xpart_keep;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void open_all(const char *list)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		myco_chan_t *ch;
		int rc = myco_chan_open(t, &ch);
		printf("GRANTED %s %d\n", t, rc);
	}
}

int main(void)
{
	const char *mode = getenv("XMODE");
	long delay = getenv("XDELAY") ? atol(getenv("XDELAY")) : 100;
	int rc;

	if (!mode)
		mode = "idle";
	if (!strcmp(mode, "slowready"))
		printf("START %llu\n", (unsigned long long)myco_now());
	fflush(stdout);
	rc = myco_init();
	if (rc < 0) {
		printf("INIT %d %s\n", rc, myco_part_errmsg());
		return 2;
	}
	open_all(getenv("XCHANS"));
	if (!strcmp(mode, "ungranted")) {
		myco_chan_t *ch = NULL;
		rc = myco_chan_open(getenv("XSECRET") ? getenv("XSECRET") : "secret", &ch);
		printf("UNGRANTED %d %s\n", rc, myco_part_errmsg());
	}
	if (!strcmp(mode, "slowready")) {
		sleep_ms(delay);
		printf("READY %llu\n", (unsigned long long)myco_now());
	}
	fflush(stdout);
	myco_ready();
	unsigned long long t0 = (unsigned long long)myco_now();
	if (!strcmp(mode, "socket")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		printf("SOCKET %d %d\n", s, s < 0 ? errno : 0);
		fflush(stdout);
	}
	if (!strcmp(mode, "portdeny")) {
		uint16_t port = (uint16_t)atoi(getenv("XPORT") ? getenv("XPORT") : "0");
		rc = myco_listen_fd(port);
		printf("LISTENFD %d %s\n", rc, rc < 0 ? myco_part_errmsg() : "");
		int s = socket(AF_INET, SOCK_STREAM, 0);
		printf("SOCKET %d %d\n", s, s < 0 ? errno : 0);
		int g = myco_listen_fd((uint16_t)atoi(getenv("XGRANTED") ? getenv("XGRANTED") : "0"));
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
		int b = bind(g, (struct sockaddr *)&sa, sizeof(sa));
		printf("BIND %d %d\n", b, b < 0 ? errno : 0);
		fflush(stdout);
	}
	if (!strcmp(mode, "serve")) {
		uint16_t port = (uint16_t)atoi(getenv("XPORT") ? getenv("XPORT") : "0");
		int lfd = myco_listen_fd(port);
		char msg[128];
		printf("LISTEN %d %s\n", lfd, lfd < 0 ? myco_part_errmsg() : "");
		fflush(stdout);
		if (lfd < 0)
			return 3;
		int n = snprintf(msg, sizeof(msg), "HELLO %llu %s\n", t0,
				 myco_partition_name());
		const char *hold = getenv("XHOLD");
		int holding = 0;
		for (;;) {
			struct pollfd pfd = { .fd = lfd, .events = POLLIN };
			myco_heartbeat();
			if (hold && access(hold, F_OK) == 0) {
				if (!holding) {	/* the test waits for this line */
					printf("HOLDING %llu\n", t0);
					fflush(stdout);
					holding = 1;
				}
				sleep_ms(10);
				continue;
			}
			holding = 0;
			if (poll(&pfd, 1, 50) <= 0)
				continue;
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				continue;
			if (write(c, msg, (size_t)n) < 0)
				printf("WRITE %d\n", errno);
			close(c);
		}
	}
	if (!strcmp(mode, "oom")) {
		for (size_t mb = 0;; mb++) {
			volatile char *m = malloc(1 << 20);
			for (size_t i = 0; m && i < (1u << 20); i += 4096)
				m[i] = (char)mb;
			xpart_keep = (char *)m;
			myco_heartbeat();
		}
	}
	for (;;) {
		if (!strcmp(mode, "exit0") && (unsigned long long)myco_now() - t0 > (unsigned long long)delay * 1000000ull)
			exit(0);
		if (!strcmp(mode, "crash") && (unsigned long long)myco_now() - t0 > (unsigned long long)delay * 1000000ull)
			exit(1);
		if (!strcmp(mode, "hang") && (unsigned long long)myco_now() - t0 > (unsigned long long)delay * 1000000ull) {
			for (;;)
				sleep_ms(1000);
		}
		myco_heartbeat();
		sleep_ms(10);
	}
}
