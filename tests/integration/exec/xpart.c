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
 * Output goes to stdout (the executive keeps it for `myco logs`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "myco/chan.h"
#include "myco/part.h"

/* Where the oom mode keeps its last block, so the compiler cannot elide the
 * allocations. */
char *volatile xpart_keep;

static unsigned long long mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

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
		printf("START %llu\n", mono());
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
		printf("READY %llu\n", mono());
	}
	fflush(stdout);
	myco_ready();
	unsigned long long t0 = mono();
	if (!strcmp(mode, "socket")) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		printf("SOCKET %d %d\n", s, s < 0 ? errno : 0);
		fflush(stdout);
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
		if (!strcmp(mode, "exit0") && mono() - t0 > (unsigned long long)delay * 1000000ull)
			exit(0);
		if (!strcmp(mode, "crash") && mono() - t0 > (unsigned long long)delay * 1000000ull)
			exit(1);
		if (!strcmp(mode, "hang") && mono() - t0 > (unsigned long long)delay * 1000000ull) {
			for (;;)
				sleep_ms(1000);
		}
		myco_heartbeat();
		sleep_ms(10);
	}
}
