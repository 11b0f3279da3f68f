/*
 * fuzz_request.c: libFuzzer harness for myco-log's request parser and
 * handlers.  Each input is one request frame (without its 4-byte size) fed
 * to myco__lb_request() of a broker over a real store in a temp dir (fsync
 * never, small segments, removed at exit); the answer's file ranges are
 * read back and the answer dropped.  The seed corpus (corpus_request/) holds real requests
 * captured from kcat, librdkafka and kafka-python with capture.py.
 * Not for: the network layer (tests/integration/log covers it).
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_int.h"
#include "store.h"

struct myco__lc {
	int answered;
};

void myco__lc_send(myco__lc_t *c, myco__kwr_t *w)
{
	size_t i;
	char buf[4096];

	/* touch the file ranges like the network layer would */
	for (i = 0; i < w->nfiles; i++) {
		size_t len = w->files[i].len < sizeof(buf) ? w->files[i].len : sizeof(buf);
		if (pread(w->files[i].fd, buf, len, w->files[i].off) < 0)
			abort();
	}
	myco__kwr_free(w);
	c->answered = 1;
}

void myco__lc_noreply(myco__lc_t *c)
{
	c->answered = 1;
}

void myco__lc_abort(myco__lc_t *c)
{
	c->answered = 1;
}

const char *myco__lc_peer(const myco__lc_t *c)
{
	(void)c;
	return "/127.0.0.1";
}

void **myco__lc_session(myco__lc_t *c)
{
	static void *session;   /* no SASL in these tests: stays NULL */
	(void)c;
	return &session;
}

static myco__lb_t *lb;
static char dir[64] = "/tmp/myco-log-fuzz-XXXXXX";

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* At exit: close the broker and remove its store. */
static void cleanup(void)
{
	myco__lb_close(lb);
	lb = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	myco__lcfg_t cfg;

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = "127.0.0.1";
	cfg.port = 9092;
	cfg.data_dir = dir;
	cfg.fsync_mode = MLS_FSYNC_NEVER;
	cfg.auto_create = true;
	cfg.default_partitions = 2;
	cfg.segment_bytes = 1 << 20;
	cfg.retention_bytes = 4 << 20;
	cfg.group_initial_delay_ms = 0;
	if (myco__lb_open(&cfg, &lb) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	myco__lc_t c = { 0 };
	/* the broker rewrites Produce batches in place: give it a copy */
	uint8_t *frame = malloc(size ? size : 1);

	if (!frame)
		return 0;
	if (size)
		memcpy(frame, data, size);
	(void)myco__lb_request(lb, &c, frame, size);
	free(frame);
	(void)myco__lb_tick(lb);
	/* forget anything parked on this "connection" before it goes away */
	myco__lb_conn_closed(lb, &c);
	return 0;
}
