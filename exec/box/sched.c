/*
 * exec/box/sched.c: CPU time mechanisms that are not cgroup files:
 * SCHED_DEADLINE reservations (raw sched_setattr, reset-on-fork) and the
 * online CPU mask used to decide whether a pinned partition can still be a
 * deadline task.  Async-signal-safe: the spawned child calls
 * myco__box_sched_deadline() before exec.
 * Not for: CFS quota and cpusets (cgroup.c), frame windows (frame.c).
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "box_int.h"

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef SCHED_FLAG_RESET_ON_FORK
#define SCHED_FLAG_RESET_ON_FORK 0x01
#endif

/* The kernel ABI (include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER0);
 * glibc 2.36 does not declare it. */
struct box_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};
_Static_assert(sizeof(struct box_sched_attr) == 48, "SCHED_ATTR_SIZE_VER0");

int myco__box_sched_deadline(pid_t tid, uint64_t runtime_ns,
			     uint64_t deadline_ns, uint64_t period_ns)
{
	struct box_sched_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.sched_policy = SCHED_DEADLINE;
	a.sched_flags = SCHED_FLAG_RESET_ON_FORK;
	a.sched_runtime = runtime_ns;
	a.sched_deadline = deadline_ns;
	a.sched_period = period_ns;
	if (syscall(SYS_sched_setattr, tid, &a, 0) < 0)
		return -errno;
	return 0;
}

int myco__box_deadline_apply(pid_t tid, uint64_t runtime_ns,
			     uint64_t period_ns)
{
	if (tid <= 0 || !runtime_ns || runtime_ns > period_ns)
		return -EINVAL;
	return myco__box_sched_deadline(tid, runtime_ns, period_ns, period_ns);
}

uint64_t myco__box_online_mask(void)
{
	cpu_set_t set;
	uint64_t m = 0;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	/* The online CPUs as the caller may use them: its own affinity. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int i = 0; i < 64; i++)
			if (CPU_ISSET(i, &set))
				m |= 1ull << i;
		return m;
	}
	for (long i = 0; i < n && i < 64; i++)
		m |= 1ull << i;
	return m;
}
