/*
 * part.c: the partition side of libmyco (myco/part.h): find the
 * capabilities the executive handed over (MYCO_CAPS manifest, read with
 * caps.c's parser; control region MYCO_CTL; notify eventfd MYCO_NOTIFY: all
 * in part_abi.h and docs/part-abi.md), park a standby until activation,
 * open granted channels by name, report readiness and heartbeats.
 * State is per process (one partition per process); myco_init() is meant
 * to be called once from the main thread before other threads start.
 * Not for: channel operations (lib/chan) or scheduling (lib/rt).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "myco/chan.h"
#include "myco/part.h"
#include "myco/trace.h"
#include "part_abi.h"
#include "part_int.h"
#include "myco_int.h"
#include "replay.h"

/* Defined by lib/rt when it is linked in (part_abi.h). */
extern struct myco__part_timing *myco__rt_timing __attribute__((weak));
extern unsigned myco__rt_rings_give(const int *fds, unsigned n, const void *params,
				    size_t len) __attribute__((weak));
extern int myco__rt_loans_give(void *region, size_t size) __attribute__((weak));

#define PART_MAX_CAPS 128
#define PART_MAX_PORTS 64

/* A granted channel end: its manifest entry and, once opened, the
 * endpoint. */
struct part_cap {
	struct myco__cap cap;       /* kind MYCO__CAP_CHAN */
	myco_chan_t *open;          /* owned; closed at exit by the kernel */
};

static struct {
	bool inited;
	struct myco__part_ctl *ctl; /* mapping of MYCO_CTL, or NULL */
	int notify_fd;
	bool first_done, ready_done;
	char name[64];
	char policy[32];
	struct part_cap caps[PART_MAX_CAPS];
	size_t ncaps;
	uint16_t ports[PART_MAX_PORTS];    /* granted listening ports ... */
	int port_fds[PART_MAX_PORTS];      /* ... and their inherited sockets */
	size_t nports;
	bool in_system;
	int trace_fd, metrics_fd;     /* trace/ring, trace/metrics (exec/collect.c) */
	int uring_fds[MYCO__URING_MAX];  /* uring/rings (exec/spawn.c) */
	unsigned nuring;
	int record_fd;                /* record/ring (exec/record.c) */
	int loans_fd;                 /* loans/region (exec/loans.c) */
} g = { .notify_fd = -1, .trace_fd = -1, .metrics_fd = -1, .record_fd = -1, .loans_fd = -1 };

static char errmsg[512];

const char *myco_part_errmsg(void)
{
	return errmsg;
}

const char *myco_partition_name(void)
{
	return g.name;
}

const char *myco_part_policy(void)
{
	return g.policy;
}


static void notify(void)
{
	uint64_t one = 1;
	if (g.notify_fd >= 0 && write(g.notify_fd, &one, sizeof(one)) < 0) {
		/* the executive reads on its next tick anyway */
	}
}

/* Take one manifest entry into the tables (myco__caps_parse callback). */
static int take_cap(const struct myco__cap *c, void *arg)
{
	(void)arg;
	switch (c->kind) {
	case MYCO__CAP_PORT:
		if (g.nports >= PART_MAX_PORTS)
			return -EINVAL;
		for (size_t i = 0; i < g.nports; i++)
			if (g.ports[i] == c->port)
				return -EINVAL;     /* a port granted twice */
		g.ports[g.nports] = c->port;
		g.port_fds[g.nports++] = c->fds[0];
		return 0;
	case MYCO__CAP_TRACE_RING:
		g.trace_fd = c->fds[0];
		return 0;
	case MYCO__CAP_TRACE_METRICS:
		g.metrics_fd = c->fds[0];
		return 0;
	case MYCO__CAP_URING:
		for (size_t i = 0; i < c->nfds && g.nuring < MYCO__URING_MAX; i++)
			g.uring_fds[g.nuring++] = c->fds[i];
		return 0;
	case MYCO__CAP_RECORD_RING:
		g.record_fd = c->fds[0];
		return 0;
	case MYCO__CAP_LOANS:
		g.loans_fd = c->fds[0];
		return 0;
	case MYCO__CAP_CHAN:
		break;
	}
	if (g.ncaps >= PART_MAX_CAPS)
		return -EINVAL;
	g.caps[g.ncaps].cap = *c;
	g.caps[g.ncaps++].open = NULL;
	return 0;
}

static int parse_caps(const char *s)
{
	int rc = myco__caps_parse(s, take_cap, NULL);

	return rc < 0 ? rc : 0;
}

int myco__part_parse_caps(const char *s)
{
	g.ncaps = 0;
	g.nports = 0;
	g.trace_fd = g.metrics_fd = g.record_fd = g.loans_fd = -1;
	g.nuring = 0;
	int rc = parse_caps(s);
	return rc < 0 ? rc : (int)(g.ncaps + g.nports);
}

/* Map the core-loan region (exec/loans.c) and hand it to lib/rt.  The
 * mapping stays for the life of the process (the loops use it). */
static void give_loans(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return;
	size_t size = (size_t)st.st_size;
	void *r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return;
	if (myco__rt_loans_give(r, size) < 0)
		munmap(r, size);
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

/* The executive died (its end of our MYCO_EXEC_FD pipe closed): a
 * partition never outlives its executive. */
static void on_exec_gone(int sig)
{
	(void)sig;
	_exit(137);
}

/* Arm the "executive alive" pipe: O_ASYNC delivers SIGRTMAX to us when the
 * executive's write end closes (it dies, however it dies). */
static void watch_executive(int fd)
{
	struct sigaction sa;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_exec_gone;
	sigaction(SIGRTMAX, &sa, NULL);
	if (fcntl(fd, F_SETSIG, SIGRTMAX) < 0 || fcntl(fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(fd, F_SETFL, O_ASYNC | O_NONBLOCK) < 0)
		return;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP))
		_exit(137);         /* it died before we armed */
}

int myco_init(void)
{
	const char *e;
	int rc = 0;
	void *m = MAP_FAILED;

	if (g.inited)
		return 0;
	errmsg[0] = 0;
	snprintf(g.name, sizeof(g.name), "%s", (e = getenv(MYCO__ENV_PARTITION)) ? e : "");
	snprintf(g.policy, sizeof(g.policy), "%s", (e = getenv(MYCO__ENV_POLICY)) ? e : "");
	g.ncaps = 0;            /* a retry after a failed init starts over */
	g.nports = 0;
	g.trace_fd = g.metrics_fd = g.record_fd = g.loans_fd = -1;
	/* `myco replay`: channels, clock and random come from the log */
	if ((e = getenv("MYCO_REPLAY")) && *e) {
		rc = myco__rec_replay_init(e, errmsg, sizeof errmsg);
		if (rc == 0)
			g.inited = true;
		return rc;
	}
	rc = parse_caps(getenv(MYCO__ENV_CAPS));
	if (rc < 0) {
		snprintf(errmsg, sizeof(errmsg), "myco_init: malformed MYCO_CAPS manifest");
		goto out;
	}
	/* telemetry is optional: a region that fails validation leaves the
	 * tracepoints off and the metrics process-private */
	if (g.trace_fd >= 0)
		(void)myco_trace_attach(g.trace_fd);
	if (g.metrics_fd >= 0)
		(void)myco_metrics_attach(g.metrics_fd);
	if ((e = getenv(MYCO__ENV_NOTIFY)))
		g.notify_fd = atoi(e);
	if ((e = getenv(MYCO__ENV_EXEC_FD)))
		watch_executive(atoi(e));
	/* As a PID-namespace init the default SIGTERM action would not apply:
	 * make a plain SIGTERM end the partition as it would anywhere else. */
	struct sigaction sa;
	if (sigaction(SIGTERM, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
	}
	if ((e = getenv(MYCO__ENV_CTL))) {
		int fd = atoi(e);
		g.in_system = true;
		struct stat st;
		if (fstat(fd, &st) < 0 || st.st_size < (off_t)MYCO__PART_CTL_SIZE) {
			rc = -EPROTO;
			snprintf(errmsg, sizeof(errmsg), "myco_init: control region fd %d unusable", fd);
			goto out;
		}
		m = mmap(NULL, MYCO__PART_CTL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			rc = -errno;
			goto out;
		}
		struct myco__part_ctl *c = m;
		if (c->magic != MYCO__PART_CTL_MAGIC || c->version != MYCO__PART_CTL_VERSION ||
		    c->size != MYCO__PART_CTL_SIZE) {
			rc = -EPROTO;
			snprintf(errmsg, sizeof(errmsg), "myco_init: control region fails validation");
			goto out;
		}
		g.ctl = c;
		m = MAP_FAILED;
		/* chaos: the fault table and the clock skew (docs/chaos.md) */
		myco__chaos_set_table((struct myco__part_chaos *)
				      ((char *)c + MYCO__PART_CHAOS_OFF));
		/* A standby parks here until the executive activates it. */
		atomic_store_explicit((_Atomic uint32_t *)&c->parked, 1u, memory_order_release);
		for (;;) {
			uint32_t st_ = atomic_load_explicit((_Atomic uint32_t *)&c->state,
							    memory_order_acquire);
			if (st_ == MYCO__CTL_ACTIVE)
				break;
			if (st_ == MYCO__CTL_RETIRE)
				_exit(0);
			myco__futex_wait(&c->state, st_, MYCO__FOREVER_NS);
		}
		atomic_store_explicit((_Atomic uint32_t *)&c->parked, 0u, memory_order_relaxed);
		atomic_store_explicit((_Atomic int32_t *)&c->pid_in_ns, (int32_t)getpid(),
				      memory_order_relaxed);
		atomic_store_explicit((_Atomic uint64_t *)&c->t_running_ns, myco__now_raw(),
				      memory_order_release);
		/* the runtime's deadline counters go to the executive (weak:
		 * a program without lib/rt's edf has nothing to count) */
		if (&myco__rt_timing)
			myco__rt_timing = (struct myco__part_timing *)
				((char *)c + MYCO__PART_TIMING_OFF);
		/* the rings the executive made for this process: lib/rt maps
		 * them for its loops (a partition may not create rings) */
		const struct myco__part_uring *u =
			(const void *)((const char *)c + MYCO__PART_URING_OFF);
		if (g.nuring && myco__rt_rings_give)
			myco__rt_rings_give(g.uring_fds, g.nuring, u->params, u->size);
		/* an elastic partition: lib/rt's first group runs its loops
		 * under the executive's core loans; a region that fails
		 * validation leaves the group fixed (every loop runs) */
		if (g.loans_fd >= 0 && myco__rt_loans_give)
			give_loans(g.loans_fd);
	}
	/* recording starts once this process is the active one (a parked
	 * standby records nothing); unrecorded if the ring fails validation */
	if (g.record_fd >= 0)
		(void)myco__rec_attach(g.record_fd);
	g.inited = true;
out:
	if (m != MAP_FAILED)
		munmap(m, MYCO__PART_CTL_SIZE);
	return rc;
}

static void first_call(void)
{
	g.first_done = true;
	if (g.ctl) {
		atomic_store_explicit((_Atomic uint64_t *)&g.ctl->t_first_ns, myco__now_raw(),
				      memory_order_release);
		notify();
	}
}

int myco_chan_open(const char *name, myco_chan_t **out)
{
	if (!g.inited) {
		int rc = myco_init();
		if (rc < 0)
			return rc;
	}
	*out = NULL;
	if (myco__rec_replaying())
		return myco__rec_replay_open(name, out);
	for (size_t i = 0; i < g.ncaps; i++) {
		struct part_cap *c = &g.caps[i];
		if (strcmp(c->cap.name, name))
			continue;
		if (c->open) {
			*out = c->open;
			return -EALREADY;
		}
		int rc = myco_chan_attach(c->cap.fds, c->cap.nfds, c->cap.role,
					  c->cap.index, NULL, &c->open);
		if (rc < 0) {
			snprintf(errmsg, sizeof(errmsg), "channel '%s': attach failed: %s",
				 name, myco_strerror(rc));
			c->open = NULL;
			myco__rec_opened(name, rc, NULL);
			return rc;
		}
		myco__chaos_tag(c->open, name);
		*out = c->open;
		myco__rec_opened(name, 0, c->open);
		return 0;
	}
	size_t n = (size_t)snprintf(errmsg, sizeof(errmsg),
				    "channel '%s' is not granted to partition '%s' (granted:",
				    name, g.name[0] ? g.name : "?");
	for (size_t i = 0; i < g.ncaps && n < sizeof(errmsg); i++)
		n += (size_t)snprintf(errmsg + n, sizeof(errmsg) - n, " %s", g.caps[i].cap.name);
	if (n < sizeof(errmsg))
		snprintf(errmsg + n, sizeof(errmsg) - n, "%s)", g.ncaps ? "" : " none");
	myco__rec_opened(name, -MYCO_ENOTGRANTED, NULL);
	return -MYCO_ENOTGRANTED;
}

int myco_ready(void)
{
	if (!g.inited) {
		int rc = myco_init();
		if (rc < 0)
			return rc;
	}
	if (g.ready_done)
		return 0;
	g.ready_done = true;
	if (g.ctl) {
		atomic_store_explicit((_Atomic uint64_t *)&g.ctl->t_ready_ns, myco__now_raw(),
				      memory_order_relaxed);
		atomic_store_explicit((_Atomic uint32_t *)&g.ctl->ready, 1u, memory_order_release);
		notify();
	}
	return 0;
}

void myco_heartbeat(void)
{
	if (__builtin_expect(myco__rec_rt == 2, 0))
		myco__rec_replay_idle();  /* the log's end reached by an idle program */
	if (g.ctl) {
		atomic_fetch_add_explicit((_Atomic uint64_t *)&g.ctl->heartbeat, 1,
					  memory_order_release);
		/* a frame window opened since the last heartbeat? (one load) */
		myco__part_window_note((struct myco__part_window *)
				       ((char *)g.ctl + MYCO__PART_WINDOW_OFF), myco__now_raw());
		if (__builtin_expect(__atomic_load_n(&((struct myco__part_chaos *)
				((char *)g.ctl + MYCO__PART_CHAOS_OFF))->armed,
				__ATOMIC_RELAXED) != 0, 0))
			myco__chaos_part_faults();
	}
	if (__builtin_expect(!g.first_done, 0))
		first_call();
}

int myco_shedding(void)
{
	return g.ctl && atomic_load_explicit((_Atomic uint32_t *)&g.ctl->shed,
					     memory_order_relaxed) == 1;
}

int myco_in_system(void)
{
	if (!g.inited && myco_init() < 0)
		return 0;
	return g.in_system ? 1 : 0;
}

int myco_listen_fd(uint16_t port)
{
	if (!g.inited) {
		int rc = myco_init();
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < g.nports; i++)
		if (g.ports[i] == port)
			return g.port_fds[i];
	size_t n = (size_t)snprintf(errmsg, sizeof(errmsg),
				    "port %u is not granted to partition '%s' (granted ports:",
				    (unsigned)port, g.name[0] ? g.name : "?");
	for (size_t i = 0; i < g.nports && n < sizeof(errmsg); i++)
		n += (size_t)snprintf(errmsg + n, sizeof(errmsg) - n, " %u", (unsigned)g.ports[i]);
	if (n < sizeof(errmsg))
		snprintf(errmsg + n, sizeof(errmsg) - n, "%s)", g.nports ? "" : " none");
	return -MYCO_ENOTGRANTED;
}

size_t myco_listen_ports(uint16_t *out, size_t cap)
{
	if (!g.inited && myco_init() < 0)
		return 0;
	for (size_t i = 0; out && i < g.nports && i < cap; i++)
		out[i] = g.ports[i];
	return g.nports;
}
