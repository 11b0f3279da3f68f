/*
 * rpart.c: partition programs for the record and replay tests
 * (test_replay.py), chosen by RMODE:
 *   crashy     receive `in` (Num), forward seq*3 on `out`; crash (a NULL
 *              store) on the message whose seq is CRASH_AT: the planted bug
 *   wallclock  receive `in`, forward seq xor the wall clock read with
 *              clock_gettime() directly (outside libmyco)
 *   racy       two threads race to draw myco_random() RACY_N times each and
 *              append (thread, value) to a shared table; the main thread
 *              then sends the table on `out`: its order is the race's
 *   drain      receive `in` and mark done, forever
 * Channels: IN and OUT name them (default "in", "out").  Every mode uses
 * myco_now() for its heartbeat pacing, so clock reads are recorded and
 * replayed too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "myco/chan.h"
#include "myco/common.h"
#include "myco/part.h"

/*
 * Under AddressSanitizer (the .ci/run ASan stage) the planted NULL store
 * would be caught by ASan's own SIGSEGV handler, which prints a report and
 * exits with status 1: the executive would see an exit, not a crash by
 * signal, and keep no crash log.  This program wants the real signal, so
 * it tells ASan to leave SIGSEGV alone.  Unused in ordinary builds.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0";
}

struct num {
	uint64_t seq, value;
};

static myco_chan_t *in, *out;
static pthread_barrier_t go;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct num *table;
static size_t ntable;

static void send_num(const struct num *m)
{
	int rc;
	while ((rc = myco_chan_send_timeout(out, m, sizeof *m, 100000000ll)) == -ETIMEDOUT)
		myco_heartbeat();
	if (rc < 0 && rc != -EAGAIN) {
		fprintf(stderr, "rpart: send: %s\n", myco_strerror(rc));
		exit(1);
	}
}

static void *racer(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg, n = strtoull(getenv("RACY_N") ?: "20000", NULL, 10);
	pthread_barrier_wait(&go);
	for (uint64_t i = 0; i < n; i++) {
		pthread_mutex_lock(&lock);
		table[ntable++] = (struct num){ id, myco_random() };
		pthread_mutex_unlock(&lock);
		if (i % 100 == 99) {
			/* a pause of a length read from the clock itself: the
			 * threads' interleaving depends on timing (a yield alone
			 * alternates them the same way every run on a busy core) */
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts = (struct timespec){ 0, 1000 + ts.tv_nsec % 100000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int main(void)
{
	const char *mode = getenv("RMODE") ?: "drain";
	uint64_t crash_at = strtoull(getenv("CRASH_AT") ?: "0", NULL, 10);

	if (myco_init() < 0)
		return 1;
	if (strcmp(mode, "racy") && myco_chan_open(getenv("IN") ?: "in", &in) < 0) {
		fprintf(stderr, "rpart: %s\n", myco_part_errmsg());
		return 1;
	}
	if (strcmp(mode, "drain") && myco_chan_open(getenv("OUT") ?: "out", &out) < 0) {
		fprintf(stderr, "rpart: %s\n", myco_part_errmsg());
		return 1;
	}
	myco_ready();
	if (!strcmp(mode, "racy")) {
		pthread_t t[2];
		uint64_t n = strtoull(getenv("RACY_N") ?: "20000", NULL, 10);
		table = calloc(2 * n, sizeof *table);
		if (!table)
			return 1;
		pthread_barrier_init(&go, NULL, 2);
		for (uintptr_t i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, racer, (void *)(i + 1));
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		for (size_t i = 0; i < ntable; i++)
			send_num(&table[i]);
		printf("rpart: racy done\n");
		fflush(stdout);
		for (;;) {
			myco_heartbeat();
			struct timespec ts = { 0, 50000000 };
			nanosleep(&ts, NULL);
		}
	}
	uint64_t next_hb = myco_now();
	for (;;) {
		myco_chan_msg_t msg;
		int rc = myco_chan_recv(in, &msg, 100000000ll);
		uint64_t now = myco_now();
		if (now >= next_hb) {
			myco_heartbeat();
			next_hb = now + 50000000ull;
		}
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			fprintf(stderr, "rpart: recv: %s\n", myco_strerror(rc));
			return 1;
		}
		struct num m = { 0, 0 };
		memcpy(&m, msg.data, msg.len < sizeof m ? msg.len : sizeof m);
		if (!strcmp(mode, "crashy")) {
			if (m.seq == crash_at) {
				fprintf(stderr, "rpart: planted bug hit at seq %llu\n",
					(unsigned long long)m.seq);
				*(volatile int *)(uintptr_t)(m.value & 0) = 1;   /* the planted bug */
			}
			m.value = m.seq * 3;
			send_num(&m);
		} else if (!strcmp(mode, "wallclock")) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);       /* not through libmyco */
			m.value = m.seq ^ (uint64_t)ts.tv_nsec;
			send_num(&m);
		}
		myco_chan_done(in, &msg);
	}
}
