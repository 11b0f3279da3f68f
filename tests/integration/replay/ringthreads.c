/*
 * ringthreads.c: test replay-ring (why not under ThreadSanitizer: meson.build).
 * The record ring with writers racing: two threads of a recorded process
 * read myco_now() 200 000 times each (a CLOCK record per read) while a
 * drain thread copies the ring out as the executive does; a ring of 2048
 * records, which the writers fill between the drain passes they wait for
 * every 2048 records each (so it laps some 200 times and may overrun).
 * Every record written is drained exactly once and well formed, or counted
 * as an overrun: drained + overruns = written, and the ring must have
 * lapped (more drained than it holds).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "myco/common.h"
#include "rec_abi.h"
#include "replay.h"
#include "rlog.h"

#define PER_THREAD 200000u

static struct myco__ring_rd *rd;
static atomic_int writing = 2;
static _Atomic uint64_t passes;   /* drain passes made */
static uint64_t clocks, starts, bad;

static int each(void *arg, uint16_t type, uint16_t chan, const uint8_t *body, uint32_t len)
{
	(void)arg;
	(void)body;
	if (type == MYCO__REC_CLOCK && len == sizeof(struct myco__rb_value) && chan == 0)
		clocks++;
	else if (type == MYCO__REC_START)
		starts++;
	else
		bad++;
	return 0;
}

static void *writer(void *arg)
{
	uint64_t last = 0;
	(void)arg;
	for (unsigned i = 0; i < PER_THREAD; i++) {
		uint64_t t = myco_now();
		if (t < last)
			bad++;            /* recording must not change the value */
		last = t;
		if ((i & 2047) == 2047) {
			/* let the drain thread empty it (a condition, not a
			 * duration): the ring laps many times */
			uint64_t p = atomic_load(&passes);
			while (atomic_load(&passes) < p + 2)
				sched_yield();
		}
	}
	atomic_fetch_sub(&writing, 1);
	return NULL;
}

static void *drainer(void *arg)
{
	(void)arg;
	while (atomic_load(&writing) > 0) {
		if (myco__ring_drain(rd, 0, each, NULL) < 0)
			bad++;
		atomic_fetch_add(&passes, 1);
	}
	if (myco__ring_drain(rd, 1, each, NULL) < 0)
		bad++;
	return NULL;
}

int main(void)
{
	int fd;
	pthread_t w[2], d;

	if (myco__ring_create(64u * 1024u, "ringthreads", &fd) < 0 ||
	    myco__ring_open(fd, &rd) < 0) {
		fprintf(stderr, "ring setup failed\n");
		return 1;
	}
	myco__ring_enable(rd, 1);
	if (myco__rec_attach(fd) < 0) {
		fprintf(stderr, "attach failed\n");
		return 1;
	}
	pthread_create(&d, NULL, drainer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, writer, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	pthread_join(d, NULL);
	struct myco__ring_counts c;
	myco__ring_counts(rd, &c);
	printf("clock records drained %llu, overruns %llu, corrupt %llu, START %llu, bad %llu\n",
	       (unsigned long long)clocks, (unsigned long long)c.overruns,
	       (unsigned long long)c.corrupt, (unsigned long long)starts,
	       (unsigned long long)bad);
	if (bad || c.corrupt || starts != 1 || clocks + c.overruns != 2ull * PER_THREAD ||
	    clocks < 64u * 1024u / 32u * 2u) {
		printf("FAIL: drained + overruns != written, or a bad record\n");
		return 1;
	}
	return 0;
}
