/*
 * region.c: creating, validating and mapping trace and metrics regions (the
 * owner side of docs/trace-abi.md), the clocks, the enable word, and the
 * category and event-id names.
 * Not for: writing events (write.c), reading them (read.c), metrics
 * registration and export (metrics.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "myco_int.h"
#include "trace_int.h"

static const uint32_t tr_off_word;
const uint32_t *myco_trace_enable_word = &tr_off_word;

uint32_t myco__trace_fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

int myco__trace_seal_memfd(const char *name, uint64_t size, int *fd)
{
	int f = memfd_create(name ? name : "myco-trace",
			     MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (f < 0)
		return -errno;
	if (ftruncate(f, (off_t)size) < 0 ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int rc = -errno;
		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

/* Map FD (the whole file) shared after checking that its size is sealed. */
int myco__trace_map(int fd, int writable, void **base, size_t *size)
{
	struct stat st;
	int seals;
	void *p;

	if (fstat(fd, &st) < 0)
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
			 (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	if (st.st_size < (off_t)(2 * TR_CL) || st.st_size > (off_t)(1ull << 30) ||
	    st.st_size % 4096)
		return -EPROTO;
	p = mmap(NULL, (size_t)st.st_size,
		 PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*base = p;
	*size = (size_t)st.st_size;
	return 0;
}

/* ---- clocks ------------------------------------------------------------ */

static pthread_once_t tsc_once = PTHREAD_ONCE_INIT;
static uint64_t tsc_hz, tsc_ok, tsc_ref, ns_ref;

static uint64_t rdtsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return 0;
#endif
}

/* TSC usable when invariant (constant_tsc and nonstop_tsc); calibrated once
 * per process over 20 ms against CLOCK_MONOTONIC.  Every region created by
 * the process carries the same calibration and reference pair. */
static void tsc_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	int c = 0, n = 0;

	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5))
			continue;
		c = strstr(line, " constant_tsc") != NULL;
		n = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	if (!c || !n)
		return;
	uint64_t t0 = rdtsc(), n0 = myco__now_raw();
	struct timespec d = { 0, 20 * 1000 * 1000 };
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
	uint64_t t1 = rdtsc(), n1 = myco__now_raw();
	if (n1 <= n0 || t1 <= t0)
		return;
	tsc_hz = (uint64_t)((unsigned __int128)(t1 - t0) * 1000000000u / (n1 - n0));
	tsc_ok = tsc_hz > 1000000;
	/* one reference pair for every region this process creates, so that
	 * events of different regions convert to exactly comparable times */
	tsc_ref = t1;
	ns_ref = n1;
#endif
}

uint64_t myco__trace_clock_raw(uint32_t clock)
{
	return clock == MYCO_CLOCK_TSC ? rdtsc() : myco__now_raw();
}

/* ---- trace regions ----------------------------------------------------- */

int myco__trace_hdr_ok(const struct tr_hdr *h, size_t size)
{
	if (size < sizeof *h || h->t_magic != TR_MAGIC)
		return -EPROTO;
	if (h->t_version != TR_VERSION)
		return -MYCO_EVERSION;
	if (h->t_features & ~TR_FEAT_KNOWN)
		return -EPROTO;
	if (h->t_check != myco__trace_fnv(h, offsetof(struct tr_hdr, t_check)))
		return -EPROTO;
	if (h->t_nrings < 1 || h->t_nrings > TR_MAX_RINGS ||
	    h->t_depth < TR_MIN_DEPTH || h->t_depth > TR_MAX_DEPTH ||
	    (h->t_depth & (h->t_depth - 1)))
		return -EPROTO;
	if (h->t_policy != MYCO_TRACE_OVERWRITE && h->t_policy != MYCO_TRACE_DROP_NEW)
		return -EPROTO;
	if (h->t_clock != MYCO_CLOCK_MONO && h->t_clock != MYCO_CLOCK_TSC)
		return -EPROTO;
	if (h->t_clock == MYCO_CLOCK_TSC && h->t_tsc_hz < 1000000)
		return -EPROTO;
	if (h->t_size != tr_size(h->t_nrings, h->t_depth) || h->t_size != size)
		return -EPROTO;
	return 0;
}

int myco_trace_create(const myco_trace_config_t *cfg, int *fd)
{
	uint32_t nrings = cfg->nrings ? cfg->nrings : 8;
	uint32_t depth = cfg->depth ? cfg->depth : 4096;
	uint32_t policy = cfg->policy ? (uint32_t)cfg->policy : MYCO_TRACE_OVERWRITE;
	uint32_t clock = (uint32_t)cfg->clock;
	struct tr_hdr *h;
	uint64_t size;
	int rc, f;

	if (nrings > TR_MAX_RINGS || depth < TR_MIN_DEPTH ||
	    depth > TR_MAX_DEPTH || (depth & (depth - 1)) ||
	    (policy != MYCO_TRACE_OVERWRITE && policy != MYCO_TRACE_DROP_NEW) ||
	    clock > MYCO_CLOCK_TSC)
		return -EINVAL;
	pthread_once(&tsc_once, tsc_init);
	if (clock == MYCO_CLOCK_TSC && !tsc_ok)
		return -EINVAL;
	if (clock == 0)
		clock = tsc_ok ? MYCO_CLOCK_TSC : MYCO_CLOCK_MONO;
	size = tr_size(nrings, depth);
	if (size > (1ull << 30))
		return -EINVAL;
	rc = myco__trace_seal_memfd(cfg->name ? cfg->name : "myco-trace", size, &f);
	if (rc < 0)
		return rc;
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	if (h == MAP_FAILED) {
		rc = -errno;
		close(f);
		return rc;
	}
	h->t_magic = TR_MAGIC;
	h->t_version = TR_VERSION;
	h->t_features = 0;
	h->t_nrings = nrings;
	h->t_depth = depth;
	h->t_policy = policy;
	h->t_clock = clock;
	h->t_size = size;
	if (clock == MYCO_CLOCK_TSC) {
		h->t_tsc_hz = tsc_hz;
		h->t_tsc0 = tsc_ref;
		h->t_ns0 = ns_ref;
	}
	h->t_check = myco__trace_fnv(h, offsetof(struct tr_hdr, t_check));
	atomic_store_explicit(&h->t_enable, cfg->enable, memory_order_relaxed);
	struct tr_ring *r = (struct tr_ring *)((char *)h + tr_rings_off());
	for (uint32_t i = 0; i < nrings; i++) {
		r[i].r_policy = policy;
		r[i].r_shared = i == nrings - 1;
	}
	munmap(h, size);
	*fd = f;
	return 0;
}

/* Map FD's header only as far as needed to change owner fields. */
static int tr_with_hdr(int fd, struct tr_hdr **h, size_t *size)
{
	void *base;
	int rc = myco__trace_map(fd, 1, &base, size);

	if (rc < 0)
		return rc;
	rc = myco__trace_hdr_ok(base, *size);
	if (rc < 0) {
		munmap(base, *size);
		return rc;
	}
	*h = base;
	return 0;
}

int myco_trace_set_enable(int fd, uint32_t enable)
{
	struct tr_hdr *h;
	size_t size;
	int rc = tr_with_hdr(fd, &h, &size);

	if (rc < 0)
		return rc;
	atomic_store_explicit(&h->t_enable, enable, memory_order_relaxed);
	munmap(h, size);
	return 0;
}

int myco_trace_get_enable(int fd, uint32_t *enable)
{
	struct tr_hdr *h;
	size_t size;
	int rc = tr_with_hdr(fd, &h, &size);

	if (rc < 0)
		return rc;
	*enable = atomic_load_explicit(&h->t_enable, memory_order_relaxed);
	munmap(h, size);
	return 0;
}

int myco_trace_release_claims(int fd)
{
	struct tr_hdr *h;
	size_t size;
	int rc = tr_with_hdr(fd, &h, &size);

	if (rc < 0)
		return rc;
	struct tr_ring *r = (struct tr_ring *)((char *)h + tr_rings_off());
	for (uint32_t i = 0; i < h->t_nrings; i++)
		atomic_store_explicit(&r[i].r_claim, 0, memory_order_relaxed);
	munmap(h, size);
	return 0;
}

/* ---- names ------------------------------------------------------------- */

static const char *const cat_names[MYCO_TRACE_NCATS] = {
	"chan", "rt", "sched", "exec", "user", "log",
};

const char *myco_trace_cat_name(unsigned i)
{
	return i < MYCO_TRACE_NCATS ? cat_names[i] : NULL;
}

static const char *const level_names[] = { "", "error", "warn", "info", "debug" };

int myco_trace_parse_cats(const char *s, uint32_t *bits, char *err, size_t errlen)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ", ");
		char w[32];
		int found = 0;

		if (n == 0) {
			p++;
			continue;
		}
		if (n >= sizeof w)
			goto bad;
		memcpy(w, p, n);
		w[n] = 0;
		char *lv = strchr(w, ':');
		if (lv)
			*lv++ = 0;
		if (!strcmp(w, "all") && !lv) {
			*bits |= MYCO_TRACE_ALL;
			found = 1;
		} else if (!strcmp(w, "none") && !lv) {
			found = 1;
		}
		for (unsigned i = 0; !found && i < MYCO_TRACE_NCATS; i++) {
			if (strcmp(w, cat_names[i]))
				continue;
			if (lv && (1u << i) != MYCO_TRACE_LOG)
				break;
			*bits |= 1u << i;
			found = 1;
		}
		if (found && lv) {
			found = 0;
			for (unsigned l = 1; l <= MYCO_LOG_DEBUG; l++)
				if (!strcmp(lv, level_names[l])) {
					*bits = (*bits & ~MYCO_TRACE_LEVEL_MASK) |
						(l << MYCO_TRACE_LEVEL_SHIFT);
					found = 1;
				}
		}
		if (!found)
			goto bad;
		p += n;
		continue;
bad:
		if (err && errlen) {
			size_t k = n < errlen - 1 ? n : errlen - 1;
			memcpy(err, p, k);
			err[k] = 0;
		}
		return -EINVAL;
	}
	return 0;
}

static const char *const ev_names[MYCO_EV_MAX] = {
	[MYCO_EV_CHAN_SEND] = "chan.send",
	[MYCO_EV_CHAN_RECV] = "chan.recv",
	[MYCO_EV_CHAN_DONE] = "chan.done",
	[MYCO_EV_CHAN_OVERFLOW] = "chan.overflow",
	[MYCO_EV_CHAN_WAIT] = "chan.wait",
	[MYCO_EV_CHAN_WAKE] = "chan.wake",
	[MYCO_EV_RT_LOOP] = "rt.loop",
	[MYCO_EV_RT_SWITCH] = "rt.switch",
	[MYCO_EV_RT_PARK] = "rt.park",
	[MYCO_EV_RT_WAKE] = "rt.wake",
	[MYCO_EV_RT_STEAL] = "rt.steal",
	[MYCO_EV_EDF_RELEASE] = "edf.release",
	[MYCO_EV_EDF_START] = "edf.start",
	[MYCO_EV_EDF_END] = "edf.end",
	[MYCO_EV_EDF_OVERRUN] = "edf.overrun",
	[MYCO_EV_EDF_MISS] = "edf.miss",
	[MYCO_EV_EXEC_SPAWN] = "exec.spawn",
	[MYCO_EV_EXEC_READY] = "exec.ready",
	[MYCO_EV_EXEC_EXIT] = "exec.exit",
	[MYCO_EV_EXEC_RESTART] = "exec.restart",
	[MYCO_EV_EXEC_STANDBY] = "exec.standby",
	[MYCO_EV_EXEC_HB_LATE] = "exec.heartbeat_late",
	[MYCO_EV_EXEC_HB_MISS] = "exec.heartbeat_missed",
	[MYCO_EV_EXEC_SECCOMP] = "exec.seccomp",
	[MYCO_EV_EXEC_OOM] = "exec.oom",
	[MYCO_EV_USER] = "user",
	[MYCO_EV_LOG] = "log",
	[MYCO_EV_CONT] = "log.cont",
};

const char *myco_trace_ev_name(unsigned id)
{
	return id < MYCO_EV_MAX ? ev_names[id] : NULL;
}

uint32_t myco_trace_ev_cat(unsigned id)
{
	if (id >= MYCO_EV_MAX || !ev_names[id])
		return 0;
	if (id < 32)
		return MYCO_TRACE_CHAN;
	if (id < 64)
		return MYCO_TRACE_RT;
	if (id < 96)
		return MYCO_TRACE_SCHED;
	if (id < 128)
		return MYCO_TRACE_EXEC;
	if (id == MYCO_EV_USER)
		return MYCO_TRACE_USER;
	return MYCO_TRACE_LOG;
}
