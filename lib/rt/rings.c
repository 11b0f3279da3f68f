/*
 * rings.c: where a loop's io_uring instance comes from.  Standalone, a
 * loop creates its own ring.  Inside a partition the executive creates the
 * rings (restricted to the operations the partition declared, see
 * exec/box/uring.c and docs/isolation.md) and hands them over in the
 * capability manifest; myco_init() gives them to this pool
 * (myco__rt_rings_give) and each loop maps one with io_uring_queue_mmap().
 * A loop destroyed with nothing in flight puts its ring back.  Inside a
 * partition io_uring_setup() is a seccomp violation, so an empty pool makes
 * the loop creation fail with EPERM (and the executive reports it).
 * Not for: the loop itself (loop.c), operations (uring.c).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "rt_int.h"
#include "part_abi.h"

static struct {
	pthread_mutex_t mu;
	int fds[MYCO__URING_MAX];
	unsigned n;
	bool given;                     /* geometry below is valid */
	struct io_uring_params params;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

_Static_assert(sizeof(struct io_uring_params) == MYCO__PART_URING_PARAMS,
	       "struct io_uring_params as part_abi.h copies it");

unsigned myco__rt_rings_give(const int *fds, unsigned n, const void *params,
			     size_t len)
{
	unsigned took = 0;

	if (!fds || !params || len != sizeof(pool.params))
		return 0;
	pthread_mutex_lock(&pool.mu);
	memcpy(&pool.params, params, sizeof(pool.params));
	pool.given = true;
	for (unsigned i = 0; i < n && pool.n < MYCO__URING_MAX; i++, took++)
		pool.fds[pool.n++] = fds[i];
	pthread_mutex_unlock(&pool.mu);
	return took;
}

/* Map a handed-over ring fd into ring; as io_uring_queue_init_params()
 * would leave a fresh one (identity SQ array, features, our SQ tail in
 * step with the kernel's in case the ring was used by a loop before). */
static int map_handed(int fd, struct io_uring *ring)
{
	struct io_uring_params p = pool.params;
	int rc = io_uring_queue_mmap(fd, &p, ring);

	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < *ring->sq.kring_entries; i++)
		ring->sq.array[i] = i;
	ring->sq.sqe_head = ring->sq.sqe_tail =
		IO_URING_READ_ONCE(*ring->sq.ktail);
	ring->features = p.features;
	return 0;
}

int myco__rt_ring_init(struct io_uring *ring, unsigned entries)
{
	int fd = -1, rc;

	pthread_mutex_lock(&pool.mu);
	if (pool.given && pool.n)
		fd = pool.fds[--pool.n];
	pthread_mutex_unlock(&pool.mu);
	if (fd >= 0) {
		rc = map_handed(fd, ring);
		if (rc < 0)
			close(fd);
		return rc;
	}
	/* A completion queue 4x the submission queue: many coroutines may
	 * have operations in flight and complete between two reaps. */
	struct io_uring_params up = { .flags = IORING_SETUP_CQSIZE |
					       IORING_SETUP_COOP_TASKRUN |
					       IORING_SETUP_TASKRUN_FLAG,
				      .cq_entries = entries * 4 };
	rc = io_uring_queue_init_params(entries, ring, &up);
	if (rc == -EINVAL) { /* kernel before 5.19 */
		up = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE,
					       .cq_entries = entries * 4 };
		rc = io_uring_queue_init_params(entries, ring, &up);
	}
	return rc;
}

void myco__rt_ring_exit(struct io_uring *ring, bool idle)
{
	int keep = -1;

	/* A handed ring goes back to the pool when nothing of ours is left in
	 * flight (what may still complete carries the ignored user_data 0). */
	if (idle && pool.given &&
	    *ring->sq.kring_entries == pool.params.sq_entries &&
	    *ring->cq.kring_entries == pool.params.cq_entries &&
	    ring->flags == pool.params.flags)
		keep = dup(ring->ring_fd);
	io_uring_queue_exit(ring);
	if (keep < 0)
		return;
	pthread_mutex_lock(&pool.mu);
	if (pool.n < MYCO__URING_MAX) {
		pool.fds[pool.n++] = keep;
		keep = -1;
	}
	pthread_mutex_unlock(&pool.mu);
	if (keep >= 0)
		close(keep);
}
