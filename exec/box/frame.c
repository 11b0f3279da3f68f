/*
 * exec/box/frame.c: the frame scheduler for frame-mode partitions: a thread
 * of the executive that walks a cyclic major frame (time partitioning) on an absolute
 * CLOCK_MONOTONIC timerfd and, at every window boundary, freezes the
 * partitions whose windows closed and thaws those whose windows opened.
 * Freezing is the partition's freezer cgroup (<...>/myco/<system>/<part>,
 * hierarchical so every instance is covered), else SIGSTOP/SIGCONT of the
 * pid it was given (its process group when it leads one: the box's init
 * and the program under it).  MYCO_BOX_FRAME_SIGNAL=1 in the environment
 * forces the signal fallback (for tests and benchmarks that compare the
 * two).  At each window it opens, it publishes the window's scheduled
 * start where myco__box_frame_publish() said (the partition's control
 * region), before the thaw.  Semantics in box.h ("Time").
 * Not for: placing processes in the freezer cgroup (spawn.c does that).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "box_int.h"
#include "myco/common.h"

#define LATE_NS 1000000ull

struct fpart {
	char name[MYCO__BOX_NAME_MAX];
	int freeze_fd;          /* freezer.state or cgroup.freeze, or -1 */
	bool v2;
	pid_t pid;              /* SIGSTOP fallback */
	bool running;           /* currently thawed */
	uint64_t *pub_seq;      /* window publication, or NULL */
	uint64_t *pub_start;
	struct myco__box_frame_stats st;
};

struct fwin {
	int part;
	int core;
	uint64_t off, len;
};

struct myco__box_frame {
	char system[MYCO__BOX_NAME_MAX];
	uint64_t major;
	pthread_mutex_t mu;     /* parts[].pid, running, st */
	struct fpart *parts;
	int nparts;
	struct fwin *wins;
	int nwins;
	uint64_t *bounds;       /* sorted unique window edges in [0, major) */
	int nbounds;
	pthread_t th;
	bool started;
	int stopfd;             /* eventfd: stop request */
	uint64_t frames;
	uint64_t origin;        /* CLOCK_MONOTONIC ns of frame 0 (0 until started) */
};


int myco__box_frame_new(const char *system, uint64_t major_ns,
			myco__box_frame_t **out)
{
	myco__box_frame_t *fr;

	*out = NULL;
	if (!system || !*system || strlen(system) >= MYCO__BOX_NAME_MAX ||
	    strchr(system, '/') || !major_ns)
		return -EINVAL;
	fr = calloc(1, sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	snprintf(fr->system, sizeof(fr->system), "%s", system);
	fr->major = major_ns;
	fr->stopfd = -1;
	pthread_mutex_init(&fr->mu, NULL);
	*out = fr;   /* freed by myco__box_frame_free() */
	return 0;
}

/* Apply frozen/thawed to one partition; caller holds mu. */
static void set_running(struct fpart *p, bool run)
{
	if (p->freeze_fd >= 0) {
		const char *v = p->v2 ? (run ? "0" : "1")
				      : (run ? "THAWED" : "FROZEN");

		(void)!pwrite(p->freeze_fd, v, strlen(v), 0);
	} else if (p->pid > 0) {
		/* the whole group when the pid leads one (box init + program) */
		if (kill(-p->pid, run ? SIGCONT : SIGSTOP) < 0)
			kill(p->pid, run ? SIGCONT : SIGSTOP);
	}
	p->running = run;
}

int myco__box_frame_add(myco__box_frame_t *fr, const char *partition,
			pid_t pid, int *idx)
{
	char rel[2 * MYCO__BOX_NAME_MAX + 8], dir[MYCO__CG_PATH_MAX];
	char path[MYCO__CG_PATH_MAX + 32];
	struct fpart *np, *p;

	if (fr->started)
		return -EBUSY;
	if (!partition || !*partition ||
	    strlen(partition) >= MYCO__BOX_NAME_MAX || strchr(partition, '/'))
		return -EINVAL;
	np = realloc(fr->parts, sizeof(*np) * (size_t)(fr->nparts + 1));
	if (!np)
		return -ENOMEM;
	fr->parts = np;
	p = &np[fr->nparts];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", partition);
	p->pid = pid;
	p->running = true;
	p->freeze_fd = -1;
	snprintf(rel, sizeof(rel), "myco/%s/%s", fr->system, partition);
	const char *force = getenv("MYCO_BOX_FRAME_SIGNAL");

	if (!(force && !strcmp(force, "1")) &&
	    myco__cg_dir(MYCO__CG_FREEZER, NULL, rel, dir, sizeof(dir)) > 0 &&
	    myco__cg_mkdir(MYCO__CG_FREEZER, dir) == 0) {
		snprintf(path, sizeof(path), "%s/freezer.state", dir);
		p->freeze_fd = open(path, O_WRONLY | O_CLOEXEC);
		if (p->freeze_fd < 0) {
			snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
			p->freeze_fd = open(path, O_WRONLY | O_CLOEXEC);
			p->v2 = p->freeze_fd >= 0;
		}
	}
	p->st.freezer = p->freeze_fd >= 0;
	*idx = fr->nparts++;
	return 0;
}

int myco__box_frame_window(myco__box_frame_t *fr, int idx, int core,
			   uint64_t offset_ns, uint64_t length_ns)
{
	struct fwin *nw;

	if (fr->started)
		return -EBUSY;
	if (idx < 0 || idx >= fr->nparts || !length_ns ||
	    offset_ns >= fr->major || length_ns > fr->major - offset_ns)
		return -EINVAL;
	for (int i = 0; i < fr->nwins; i++) {
		const struct fwin *w = &fr->wins[i];

		if (w->core == core && offset_ns < w->off + w->len &&
		    w->off < offset_ns + length_ns)
			return -EINVAL;     /* overlaps on the same core */
	}
	nw = realloc(fr->wins, sizeof(*nw) * (size_t)(fr->nwins + 1));
	if (!nw)
		return -ENOMEM;
	fr->wins = nw;
	nw[fr->nwins++] = (struct fwin){ .part = idx, .core = core,
					 .off = offset_ns, .len = length_ns };
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool inside(const myco__box_frame_t *fr, int part, uint64_t t)
{
	for (int i = 0; i < fr->nwins; i++) {
		const struct fwin *w = &fr->wins[i];

		if (w->part == part && w->off <= t && t < w->off + w->len)
			return true;
	}
	return false;
}

static void *frame_thread(void *arg)
{
	myco__box_frame_t *fr = arg;
	struct sched_param sp = { .sched_priority = 10 };
	struct pollfd pfd[2];
	uint64_t origin;
	int tfd;

	/* best effort: a real-time thread keeps boundaries on time */
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0)
		return NULL;
	origin = (myco_now() / 1000000ull + 2) * 1000000ull;
	pthread_mutex_lock(&fr->mu);
	fr->origin = origin;
	pthread_mutex_unlock(&fr->mu);
	pfd[0] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = fr->stopfd, .events = POLLIN };
	for (uint64_t f = 0; ; f++) {
		for (int b = 0; b < fr->nbounds; b++) {
			uint64_t t = origin + f * fr->major + fr->bounds[b];
			struct itimerspec its = {
				.it_value = { .tv_sec = (time_t)(t / 1000000000ull),
					      .tv_nsec = (long)(t % 1000000000ull) },
			};
			uint64_t late, n;

			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
			while (poll(pfd, 2, -1) < 0 && errno == EINTR)
				;
			if (pfd[1].revents)
				goto out;
			(void)!read(tfd, &n, sizeof(n));
			late = myco_now() - t;
			pthread_mutex_lock(&fr->mu);
			/* close windows first, then open: no overlap on a core */
			for (int i = 0; i < fr->nparts; i++)
				if (fr->parts[i].running &&
				    !inside(fr, i, fr->bounds[b]))
					set_running(&fr->parts[i], false);
			for (int i = 0; i < fr->nparts; i++) {
				struct fpart *p = &fr->parts[i];

				if (!p->running && inside(fr, i, fr->bounds[b])) {
					if (p->pub_seq) {
						__atomic_store_n(p->pub_start, t, __ATOMIC_RELAXED);
						__atomic_fetch_add(p->pub_seq, 1, __ATOMIC_RELEASE);
					}
					set_running(p, true);
					p->st.windows++;
				}
				if (late > LATE_NS)
					p->st.late++;
				if (late > p->st.max_late_ns)
					p->st.max_late_ns = late;
			}
			pthread_mutex_unlock(&fr->mu);
		}
		pthread_mutex_lock(&fr->mu);
		fr->frames++;
		pthread_mutex_unlock(&fr->mu);
	}
out:
	close(tfd);
	return NULL;
}

int myco__box_frame_start(myco__box_frame_t *fr)
{
	int rc, n = 0;

	if (fr->started)
		return -EALREADY;
	free(fr->bounds);
	fr->bounds = calloc((size_t)(2 * fr->nwins + 1), sizeof(uint64_t));
	if (!fr->bounds)
		return -ENOMEM;
	fr->bounds[n++] = 0;
	for (int i = 0; i < fr->nwins; i++) {
		fr->bounds[n++] = fr->wins[i].off;
		if (fr->wins[i].off + fr->wins[i].len < fr->major)
			fr->bounds[n++] = fr->wins[i].off + fr->wins[i].len;
	}
	qsort(fr->bounds, (size_t)n, sizeof(uint64_t), cmp_u64);
	fr->nbounds = 0;
	for (int i = 0; i < n; i++)
		if (!fr->nbounds || fr->bounds[fr->nbounds - 1] != fr->bounds[i])
			fr->bounds[fr->nbounds++] = fr->bounds[i];

	fr->stopfd = eventfd(0, EFD_CLOEXEC);
	if (fr->stopfd < 0)
		return -errno;
	pthread_mutex_lock(&fr->mu);
	for (int i = 0; i < fr->nparts; i++)
		set_running(&fr->parts[i], false);
	pthread_mutex_unlock(&fr->mu);
	rc = pthread_create(&fr->th, NULL, frame_thread, fr);
	if (rc) {
		close(fr->stopfd);
		fr->stopfd = -1;
		return -rc;
	}
	fr->started = true;
	return 0;
}

int myco__box_frame_set_pid(myco__box_frame_t *fr, int idx, pid_t pid)
{
	struct fpart *p;

	if (idx < 0 || idx >= fr->nparts)
		return -EINVAL;
	pthread_mutex_lock(&fr->mu);
	p = &fr->parts[idx];
	p->pid = pid;
	if (p->freeze_fd < 0 && pid > 0 && fr->started && !p->running)
		kill(pid, SIGSTOP);
	pthread_mutex_unlock(&fr->mu);
	return 0;
}

int myco__box_frame_publish(myco__box_frame_t *fr, int idx, uint64_t *seq,
			    uint64_t *start_ns)
{
	if (idx < 0 || idx >= fr->nparts || !seq != !start_ns)
		return -EINVAL;
	pthread_mutex_lock(&fr->mu);
	fr->parts[idx].pub_seq = seq;
	fr->parts[idx].pub_start = start_ns;
	pthread_mutex_unlock(&fr->mu);
	return 0;
}

void myco__box_frame_forget(myco__box_frame_t *fr, const uint64_t *seq)
{
	if (!fr || !seq)
		return;
	pthread_mutex_lock(&fr->mu);
	for (int i = 0; i < fr->nparts; i++)
		if (fr->parts[i].pub_seq == seq)
			fr->parts[i].pub_seq = fr->parts[i].pub_start = NULL;
	pthread_mutex_unlock(&fr->mu);
}

int myco__box_frame_stop(myco__box_frame_t *fr)
{
	uint64_t one = 1;

	if (!fr->started)
		return 0;
	(void)!write(fr->stopfd, &one, sizeof(one));
	pthread_join(fr->th, NULL);
	close(fr->stopfd);
	fr->stopfd = -1;
	fr->started = false;
	pthread_mutex_lock(&fr->mu);
	for (int i = 0; i < fr->nparts; i++)
		set_running(&fr->parts[i], true);
	pthread_mutex_unlock(&fr->mu);
	return 0;
}

int myco__box_frame_stats(myco__box_frame_t *fr, int idx,
			  struct myco__box_frame_stats *st)
{
	if (idx < 0 || idx >= fr->nparts)
		return -EINVAL;
	pthread_mutex_lock(&fr->mu);
	*st = fr->parts[idx].st;
	st->frames = fr->frames;
	st->origin_ns = fr->origin;
	st->major_ns = fr->major;
	pthread_mutex_unlock(&fr->mu);
	return 0;
}

void myco__box_frame_free(myco__box_frame_t *fr)
{
	if (!fr)
		return;
	myco__box_frame_stop(fr);
	for (int i = 0; i < fr->nparts; i++)
		if (fr->parts[i].freeze_fd >= 0)
			close(fr->parts[i].freeze_fd);
	pthread_mutex_destroy(&fr->mu);
	free(fr->parts);
	free(fr->wins);
	free(fr->bounds);
	free(fr);
}
