/*
 * fuzz_rlog.c: libFuzzer harness for the replay log reader and the record
 * ring's drain (lib/replay/log.c): a log segment from disk and a ring a
 * hostile partition wrote are both untrusted.
 *
 * Input: byte 0 picks the target.
 *   even: the rest is one log segment, parsed in memory
 *         (myco__rlog_parse_seg) and, written to a file, loaded as a log
 *         (myco__rlog_load: run selection, CRASH and GAP records);
 *   odd:  the rest is copied over a record ring's data (head set to the
 *         bytes given) and drained (myco__ring_drain), twice, then forced.
 * Nothing may crash, hang or read out of bounds; every record handed out
 * must lie inside the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rec_abi.h"
#include "replay.h"
#include "rlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *lo, *hi;

static int each(void *arg, uint16_t type, uint16_t chan, const uint8_t *body, uint32_t len)
{
	(void)chan;
	(void)arg;
	if (type >= MYCO__REC_NTYPES || (lo && (body < lo || body + len > hi)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ring_fd = -1;
	static struct myco__ring_rd *rd;
	char err[256];

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		uint64_t segno, first;
		uint32_t pro;
		lo = data + 1;
		hi = data + size;
		(void)myco__rlog_parse_seg(data + 1, size - 1, &segno, &first, &pro, each, NULL,
					   err, sizeof err);
		lo = hi = NULL;
		char path[] = "/tmp/fuzz-rlog-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0)
			return 0;
		if (write(fd, data + 1, size - 1) == (ssize_t)(size - 1)) {
			struct myco__rlog *l = NULL;
			if (myco__rlog_load(path, &l, err, sizeof err) == 0) {
				if (l->run_start >= l->n || l->recs[l->run_start].type != MYCO__REC_START)
					abort();
				myco__rlog_free(l);
			}
		}
		close(fd);
		unlink(path);
		return 0;
	}
	if (ring_fd < 0 && myco__ring_create(MYCO__RING_MIN, "fuzz-ring", &ring_fd) < 0)
		abort();
	uint8_t *m = mmap(NULL, MYCO__RING_DATA_OFF + MYCO__RING_MIN, PROT_READ | PROT_WRITE,
			  MAP_SHARED, ring_fd, 0);
	if (m == MAP_FAILED)
		abort();
	struct myco__ring_hdr *h = (struct myco__ring_hdr *)m;
	/* a fresh reader at position 0 each time, the input as the records
	 * from there, head after all of them (or half of them) */
	atomic_store(&h->head, 0);
	if (myco__ring_open(ring_fd, &rd) < 0)
		abort();
	size_t n = size - 1 < MYCO__RING_MIN ? size - 1 : MYCO__RING_MIN;
	memset(m + MYCO__RING_DATA_OFF, 0, MYCO__RING_MIN);
	memcpy(m + MYCO__RING_DATA_OFF, data + 1, n);
	atomic_store(&h->head, data[0] & 2 ? n : n / 2);
	lo = m + MYCO__RING_DATA_OFF;
	hi = lo + MYCO__RING_MIN;
	lo = hi = NULL;     /* bodies are copies: checked by ASan, not by address */
	(void)myco__ring_drain(rd, 0, each, NULL);
	(void)myco__ring_drain(rd, 0, each, NULL);
	(void)myco__ring_drain(rd, 1, each, NULL);
	myco__ring_close(rd);
	rd = NULL;
	munmap(m, MYCO__RING_DATA_OFF + MYCO__RING_MIN);
	return 0;
}
