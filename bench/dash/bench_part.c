/*
 * bench_part.c: the partition program of the dashboard benchmark's
 * generated systems.  It opens the channels named in BENCH_SEND and
 * BENCH_RECV (comma lists), reports ready, then BENCH_RATE times a second
 * (default 20) sends one 8-byte message on each send channel and drains
 * each receive channel, heartbeating as it goes: traffic on every edge at
 * a cost the loaded machine can carry for 200 of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "myco/chan.h"
#include "myco/part.h"

#define MAXCH 64

static size_t open_list(const char *env, myco_chan_t **out)
{
	const char *v = getenv(env);
	size_t n = 0;
	char buf[4096];
	if (!v || !*v)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < MAXCH;
	     t = strtok_r(NULL, ",", &save)) {
		if (myco_chan_open(t, &out[n]) < 0) {
			fprintf(stderr, "bench-part: %s: %s\n", t, myco_part_errmsg());
			exit(1);
		}
		n++;
	}
	return n;
}

int main(void)
{
	myco_chan_t *snd[MAXCH], *rcv[MAXCH];
	if (myco_init() < 0) {
		fprintf(stderr, "bench-part: myco_init: %s\n", myco_part_errmsg());
		return 1;
	}
	size_t ns = open_list("BENCH_SEND", snd), nr = open_list("BENCH_RECV", rcv);
	const char *r = getenv("BENCH_RATE");
	long rate = r ? atol(r) : 20;
	if (rate < 1)
		rate = 1;
	myco_ready();
	struct timespec gap = { 0, 1000000000L / rate };
	for (uint64_t seq = 1;; seq++) {
		for (size_t i = 0; i < ns; i++)
			(void)myco_chan_send_timeout(snd[i], &seq, sizeof(seq), 0);
		for (size_t i = 0; i < nr; i++) {
			uint64_t v;
			while (myco_chan_recv_copy(rcv[i], &v, sizeof(v), NULL, 0) >= 0)
				;
		}
		myco_heartbeat();
		nanosleep(&gap, NULL);
	}
}
