/*
 * hostile_peer.c: a channel endpoint turned attacker, run as its own
 * program with only the capability fds an executive hands a partition
 * (inherited at 3, 4, ...) and without capabilities, like a boxed
 * partition (uid 0, capability sets cleared).  It tries every way to get
 * write access to a segment it was given read-only (or to any segment that
 * is not its own lane) and, whenever one works, does damage:
 *
 *   hostile_peer header NFDS OWN    scribble the channel header
 *   hostile_peer forge NFDS OWN     overwrite the payloads of messages
 *                                   queued by other producers
 *   hostile_peer own-lane NFDS OWN  attach as a producer and corrupt its
 *                                   own lane (allowed: harms only itself)
 *
 * OWN is the index of the fd that is this endpoint's own segment (its
 * right to write; -1 for none); it is left alone by the first two.
 *
 * Exit status: 0 = no write access outside its own lane was obtained
 * (own-lane: 0 once its lane is scribbled), 10 + n = n ways worked (and
 * were used), 2 = usage or setup error.  Prints one line per attempt.
 * Not for: the executive's own hostile partitions (tests/integration/exec).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "myco/chan.h"

static int drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

/* Every way we know to write through fd; returns a writable mapping of
 * its whole size or NULL.  *ways counts the ways that worked. */
static uint8_t *get_write(int fd, size_t *size, int *ways)
{
	struct stat sb;
	uint8_t *p;
	char path[64];
	int rw;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
		return NULL;
	*size = (size_t)sb.st_size;
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("fd %d: mmap rw shared: %s\n", fd, p == MAP_FAILED ? strerror(errno) : "GOT IT");
	if (p != MAP_FAILED) {
		(*ways)++;
		return p;
	}
	p = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		int r = mprotect(p, *size, PROT_READ | PROT_WRITE);

		printf("fd %d: mprotect rw: %s\n", fd, r ? strerror(errno) : "GOT IT");
		if (r == 0) {
			(*ways)++;
			return p;
		}
		munmap(p, *size);
	}
	{
		uint8_t z = 0;
		ssize_t w = pwrite(fd, &z, 0 + 1, (off_t)*size + 100);  /* past the end: harmless if it works */

		printf("fd %d: pwrite: %s\n", fd, w < 0 ? strerror(errno) : "GOT IT");
		if (w == 1)
			(*ways)++;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rw = open(path, O_RDWR | O_CLOEXEC);
	printf("fd %d: reopen O_RDWR via /proc: %s\n", fd, rw < 0 ? strerror(errno) : "GOT IT");
	if (rw >= 0) {
		p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
		close(rw);
		if (p != MAP_FAILED) {
			(*ways)++;
			return p;
		}
	}
	if (fchmod(fd, 0600) == 0) {
		printf("fd %d: fchmod: GOT IT\n", fd);
		rw = open(path, O_RDWR | O_CLOEXEC);
		if (rw >= 0) {
			p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
			close(rw);
			if (p != MAP_FAILED) {
				(*ways)++;
				return p;
			}
		}
	} else {
		printf("fd %d: fchmod: %s\n", fd, strerror(errno));
	}
	return NULL;
}

/* Forge: write valid-looking messages for producer 0 into every writable
 * mapping at every 64-byte boundary that looks like a ring slot of lane 0
 * (sequence numbers 1.. and a payload "FORGED").  The attacker does not
 * need to be precise: in the old layout it finds the slots by their seq. */
static void forge(uint8_t *p, size_t size)
{
	size_t off;

	for (off = 0; off + 64 <= size; off += 64) {
		uint64_t seq;

		memcpy(&seq, p + off, 8);
		if (seq >= 1 && seq < 1000000) {
			memcpy(p + off + 32, "FORGED", 6);
		}
	}
}

int main(int argc, char **argv)
{
	int nfds, fds[MYCO_CHAN_MAX_FDS], i, ways = 0;
	const char *what;

	int own;

	if (argc != 4)
		return 2;
	what = argv[1];
	nfds = atoi(argv[2]);
	own = atoi(argv[3]);
	if (nfds < 1 || nfds > (int)MYCO_CHAN_MAX_FDS)
		return 2;
	for (i = 0; i < nfds; i++)
		fds[i] = 3 + i;
	if (drop_caps() < 0) {
		perror("capset");
		return 2;
	}
	if (strcmp(what, "own-lane") == 0) {
		myco_chan_t *ch;
		size_t sz;
		uint8_t *p;

		if (myco_chan_attach(fds, (size_t)nfds, MYCO_CHAN_PRODUCER, MYCO_CHAN_ANY,
		                     NULL, &ch) < 0)
			return 2;
		if (myco_chan_send(ch, "before", 6) < 0)
			return 2;
		/* our own lane segment: scribble its indices and slots
		 * (legal: only we can suffer from it) */
		if (own < 0 || own >= nfds)
			return 2;
		p = get_write(fds[own], &sz, &ways);
		if (!p)
			return 2;
		memset(p, 0x5a, sz);
		printf("own lane scribbled\n");
		fflush(stdout);
		pause();      /* the executive (the test) decides our fate */
		return 0;
	}
	for (i = 0; i < nfds; i++) {
		size_t sz = 0;
		uint8_t *p;

		if (i == own)
			continue;   /* our own segment: writing it is our right */
		p = get_write(fds[i], &sz, &ways);
		if (!p)
			continue;
		if (strcmp(what, "header") == 0)
			memset(p, 0xa5, sz < 128 ? sz : 128);
		else
			forge(p, sz);
		munmap(p, sz);
	}
	printf("ways that worked: %d\n", ways);
	return ways ? 10 + ways : 0;
}
