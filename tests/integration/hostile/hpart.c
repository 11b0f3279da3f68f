/*
 * hpart.c: a hostile partition program for tests/integration/hostile;
 * what it does is chosen by the environment variable HMODE:
 *   threadbomb  ready, then create threads (each sleeps) until the kernel
 *               refuses one; print "THREADS <n> <errno>" and keep them,
 *               heartbeating
 *   denyspam    ready, wait while the file HHOLD exists, then call a
 *               forbidden syscall (socket(2) without `net`) from 4 threads
 *               until HCOUNT calls (default 200000) were denied; print
 *               "DENIED <n>" and idle
 *   produce     send a message on channel HCHAN every 2 ms
 *   consume     receive on HCHAN; print "RECV <n> <lane>" every 50 messages
 *   ownlane     send one message on HCHAN, then scribble the indices of its
 *               own lane (its right: only it can suffer), print "SCRIBBLED",
 *               idle; it leaves a mark in its lane's loan generation (a
 *               word the owner's repair keeps), and a replacement that
 *               finds it behaves and produces instead
 *   uringsock   ready, then create an AF_INET and an AF_UNIX socket through
 *               io_uring (IORING_OP_SOCKET) without the net declaration;
 *               print "URING_SETUP <rc>" and "URING_SOCKET <family> <res>"
 *               (res >= 0: a socket fd was made); then the same through a
 *               ring the executive handed over (a lib/rt loop's ring):
 *               "RT_LOOP <rc>" (loop created), "RT_READ <n>" (a read
 *               through the ring worked), "HANDED_SOCKET <family> <res>",
 *               twice (the second loop reuses the first one's ring); idle
 *   reopen      open channel HCHAN, then for every fd it holds that is a
 *               read-only segment (a 0400 regular file opened read-only)
 *               try fchmod 0600 and a read-write reopen through
 *               /proc/self/fd; print "REOPEN <tried> <writable>", idle
 *   spin        ready, then spin on HTHREADS threads (default 4, the main
 *               thread one of them), heartbeating; print "SPINNING <n>"
 * Output goes to stdout (the executive keeps it for `myco logs`).
 * Not for: well-behaved partitions (tests/integration/exec/xpart.c).
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "myco/rt.h"
#include "../../../lib/chan/chan_int.h"
#include "../../../lib/rt/rt_int.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void threadbomb(void)
{
	pthread_attr_t a;
	unsigned long n = 0;
	int rc;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (;;) {
		pthread_t t;

		rc = pthread_create(&t, &a, sleeper, NULL);
		if (rc)
			break;
		n++;
	}
	printf("THREADS %lu %d\n", n, rc);
	fflush(stdout);
}

static _Atomic unsigned long denied;
static unsigned long spam_count;

static void *spammer(void *arg)
{
	(void)arg;
	while (denied < spam_count) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd >= 0)
			close(fd);
		else
			denied++;
	}
	return NULL;
}

static void denyspam(void)
{
	const char *hold = getenv("HHOLD");
	pthread_t t[4];

	spam_count = getenv("HCOUNT") ? strtoul(getenv("HCOUNT"), NULL, 10) : 200000;
	while (hold && access(hold, F_OK) == 0) {
		myco_heartbeat();
		sleep_ms(10);
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, spammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("DENIED %lu\n", (unsigned long)denied);
	fflush(stdout);
}

/* One IORING_OP_SOCKET through a fresh ring; returns the CQE's res. */
static int uring_socket(int family, int *setup_rc)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	uint32_t *sq_tail, *sq_array, *cq_head, *cq_tail, mask;
	struct io_uring_cqe *cqes;
	uint8_t *sq, *cq;
	int fd, res;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(SYS_io_uring_setup, 4, &p);
	*setup_rc = fd < 0 ? -errno : 0;
	if (fd < 0)
		return *setup_rc;
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
	          PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -ENOMEM;
	sq_tail = (uint32_t *)(sq + p.sq_off.tail);
	sq_array = (uint32_t *)(sq + p.sq_off.array);
	mask = *(uint32_t *)(sq + p.sq_off.ring_mask);
	cq_head = (uint32_t *)(cq + p.cq_off.head);
	cq_tail = (uint32_t *)(cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_SOCKET;
	sqes[0].fd = family;
	sqes[0].off = SOCK_STREAM;
	sq_array[*sq_tail & mask] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		return -EAGAIN;
	res = cqes[*cq_head & *(uint32_t *)(cq + p.cq_off.ring_mask)].res;
	__atomic_store_n(cq_head, *cq_head + 1, __ATOMIC_RELEASE);
	return res;
}

static int rt_pipe[2];

static int rt_reader(void *arg)
{
	char b[8];

	*(ssize_t *)arg = myco_read(rt_pipe[0], b, sizeof(b), -1);
	return 0;
}

/* A lib/rt loop (its ring handed over by the executive) reads a pipe, then
 * the attacker submits IORING_OP_SOCKET on that very ring. */
static void uring_handed(void)
{
	for (int round = 0; round < 2; round++) {
		myco_loop_t *l = NULL;
		ssize_t got = -1;
		int rc = myco_loop_create(&l, NULL);

		printf("RT_LOOP %d\n", rc);
		if (rc < 0)
			break;
		if (pipe(rt_pipe) == 0 && write(rt_pipe[1], "x", 1) == 1 &&
		    myco_spawn(l, NULL, rt_reader, &got, NULL) == 0)
			myco_loop_run(l);
		printf("RT_READ %zd\n", got);
		close(rt_pipe[0]);
		close(rt_pipe[1]);
		int families[2] = { AF_INET, AF_UNIX };
		for (int i = 0; i < 2; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
			struct io_uring_cqe *cqe;
			int res = -EAGAIN;

			io_uring_prep_socket(sqe, families[i], SOCK_STREAM, 0, 0);
			sqe->user_data = 0;
			if (io_uring_submit_and_wait(&l->ring, 1) >= 0 &&
			    io_uring_peek_cqe(&l->ring, &cqe) == 0) {
				res = cqe->res;
				io_uring_cqe_seen(&l->ring, cqe);
			}
			printf("HANDED_SOCKET %d %d\n", families[i], res);
		}
		myco_loop_destroy(l);
	}
	fflush(stdout);
}

static void *spinner(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	for (;;)
		x++;
	return NULL;
}

static void spin(void)
{
	int n = getenv("HTHREADS") ? atoi(getenv("HTHREADS")) : 4;
	pthread_t t;

	for (int i = 1; i < n; i++)
		pthread_create(&t, NULL, spinner, NULL);
	printf("SPINNING %d\n", n);
	fflush(stdout);
	for (uint64_t next = 0;;) {
		if (myco_now() >= next) {
			myco_heartbeat();
			next = myco_now() + 10000000;
		}
	}
}

static myco_chan_t *open_chan(void);

static void reopen(void)
{
	int tried = 0, rw = 0;

	(void)open_chan();
	for (int fd = 3; fd < 1024; fd++) {
		struct stat st;
		char path[40];
		int flags = fcntl(fd, F_GETFL), f;

		if (flags < 0 || (flags & O_ACCMODE) != O_RDONLY || fstat(fd, &st) < 0 ||
		    !S_ISREG(st.st_mode) || (st.st_mode & 0777) != 0400)
			continue;
		tried++;
		(void)fchmod(fd, 0600);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		f = open(path, O_RDWR | O_CLOEXEC);
		if (f >= 0) {
			rw++;
			close(f);
		}
	}
	printf("REOPEN %d %d\n", tried, rw);
	fflush(stdout);
}

static myco_chan_t *open_chan(void)
{
	myco_chan_t *ch = NULL;
	int rc = myco_chan_open(getenv("HCHAN") ? getenv("HCHAN") : "q", &ch);

	if (rc < 0) {
		printf("OPEN %d\n", rc);
		fflush(stdout);
		exit(2);
	}
	return ch;
}

static void chan_modes(const char *mode)
{
	myco_chan_t *ch;
	unsigned long n = 0;

	if (strcmp(mode, "produce") && strcmp(mode, "consume") && strcmp(mode, "ownlane"))
		return;
	ch = open_chan();
	if (!strcmp(mode, "ownlane") && atomic_load(&chan_lane(ch, ch->index)->lgen) != 0)
		mode = "produce";
	if (!strcmp(mode, "ownlane")) {
		atomic_store(&chan_lane(ch, ch->index)->lgen, 0x5a5a);
		myco_chan_send_timeout(ch, "evil", 4, 0);
		atomic_store(&chan_lane(ch, ch->index)->tail, UINT64_C(0x5a5a5a5a5a5a));
		printf("SCRIBBLED\n");
		fflush(stdout);
		return;
	}
	for (;;) {
		myco_chan_msg_t m;

		myco_heartbeat();
		if (!strcmp(mode, "produce")) {
			myco_chan_send_timeout(ch, &n, sizeof(n), 0);
			n++;
			sleep_ms(2);
			continue;
		}
		if (myco_chan_recv(ch, &m, 10000000) == 0) {
			if (++n % 50 == 0) {
				printf("RECV %lu %u\n", n, m.lane);
				fflush(stdout);
			}
			myco_chan_done(ch, &m);
		}
	}
}

int main(void)
{
	const char *mode = getenv("HMODE");
	int rc;

	if (!mode)
		mode = "idle";
	rc = myco_init();
	if (rc < 0) {
		printf("INIT %d %s\n", rc, myco_part_errmsg());
		return 2;
	}
	myco_ready();
	if (!strcmp(mode, "threadbomb"))
		threadbomb();
	if (!strcmp(mode, "denyspam"))
		denyspam();
	if (!strcmp(mode, "spin"))
		spin();
	if (!strcmp(mode, "reopen"))
		reopen();
	chan_modes(mode);
	if (!strcmp(mode, "uringsock")) {
		int families[2] = { AF_INET, AF_UNIX };

		for (int i = 0; i < 2; i++) {
			int setup, res = uring_socket(families[i], &setup);

			printf("URING_SETUP %d\nURING_SOCKET %d %d\n", setup, families[i], res);
		}
		fflush(stdout);
		uring_handed();
	}
	for (;;) {
		myco_heartbeat();
		sleep_ms(10);
	}
}
