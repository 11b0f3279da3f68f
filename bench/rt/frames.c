/*
 * frames.c: frame-window start jitter as the partition sees it.  A child
 * process (SCHED_FIFO 50, pinned, in the frame's freezer cgroup) spins on
 * the clock under the executive's frame scheduler (exec/box/frame.c,
 * major frame 10 ms, one 5 ms window); a gap of more than 1 ms in its clock
 * reads is time outside its window, so the first read after a gap is a
 * window start as the partition saw it.  Jitter = |a start's offset in
 * the major frame - the median offset|; drift = mean start-to-start
 * spacing minus the major frame.  Run once without and once with the
 * partition's CPU shielded.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "box_int.h"
#include "myco/common.h"

#define MAJOR 10000000ull
#define WIN   5000000ull
#define MAXS  4096

struct shared {
	volatile uint64_t n;
	volatile uint64_t start[MAXS];
};

static void child(struct shared *sh, int cpu)
{
	pin_cpu(cpu);
	struct sched_param sp = { .sched_priority = 50 };
	sched_setscheduler(0, SCHED_FIFO, &sp);
	uint64_t last = myco_now();
	for (;;) {
		uint64_t t = myco_now();
		if (t - last > 1000000ull && sh->n < MAXS)
			sh->start[sh->n++] = t;
		last = t;
	}
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void one(bool shield, int seconds)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return;
	char sys[64], state[128];
	snprintf(sys, sizeof(sys), "benchfr%d", (int)getpid());
	snprintf(state, sizeof(state), "/tmp/myco-bench-frames-%d.shield", (int)getpid());
	struct myco__box_shield_report rep;
	bool shielded = false;
	if (shield) {
		pid_t self = getpid();
		shielded = myco__box_shield_apply(state, 1ull << g_opt.cpu_b, &self, 1, &rep) == 0;
	}
	pid_t pid = fork();
	if (pid == 0)
		child(sh, g_opt.cpu_b);
	myco__box_frame_t *fr = NULL;
	int idx = -1, rc = myco__box_frame_new(sys, MAJOR, &fr);
	if (rc == 0)
		rc = myco__box_frame_add(fr, "spin", pid, &idx);
	if (rc == 0)
		rc = myco__box_frame_window(fr, idx, g_opt.cpu_b, 0, WIN);
	/* into the freezer group the frame scheduler freezes */
	char rel[160], dir[512];
	snprintf(rel, sizeof(rel), "myco/%s/spin", sys);
	if (rc == 0 && myco__cg_dir(MYCO__CG_FREEZER, NULL, rel, dir, sizeof(dir)) > 0) {
		char f[600], v[32];
		snprintf(f, sizeof(f), "%s/cgroup.procs", dir);
		FILE *fp = fopen(f, "w");
		if (fp) {
			snprintf(v, sizeof(v), "%d", (int)pid);
			fputs(v, fp);
			fclose(fp);
		}
	}
	if (rc == 0)
		rc = myco__box_frame_start(fr);
	if (rc == 0)
		sleep((unsigned)seconds);
	struct myco__box_frame_stats st = { 0 };
	if (fr) {
		myco__box_frame_stats(fr, idx, &st);
		myco__box_frame_stop(fr);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (fr) {
		myco__box_destroy(sys, "spin", NULL);
		myco__box_frame_free(fr);
		myco__box_destroy(sys, NULL, NULL);
		/* the system's own freezer directory */
		snprintf(rel, sizeof(rel), "myco/%s", sys);
		if (myco__cg_dir(MYCO__CG_FREEZER, NULL, rel, dir, sizeof(dir)) > 0)
			rmdir(dir);
	}
	if (shielded) {
		struct myco__box_shield_report back;
		myco__box_shield_restore(state, &back);
	}
	const char *name = shield ? "frame-window, CPU shielded" : "frame-window";
	uint64_t n = sh->n;
	if (rc < 0 || n < 10) {
		table_line("| %s | skipped: %s (%llu starts) | | | | |\n", name,
			   myco_strerror(rc < 0 ? rc : -ENODATA), (unsigned long long)n);
		munmap(sh, sizeof(*sh));
		return;
	}
	/* drop the first start (the freeze at start-up); offsets relative to
	 * the second start, folded into (-MAJOR/2, MAJOR/2] */
	uint64_t *off = malloc(n * sizeof(*off));
	int64_t *sg = malloc(n * sizeof(*sg));
	size_t m = (size_t)n - 1;
	for (size_t i = 0; i < m; i++) {
		int64_t d = (int64_t)((sh->start[i + 1] - sh->start[1]) % MAJOR);
		if (d > (int64_t)MAJOR / 2)
			d -= (int64_t)MAJOR;
		sg[i] = d;
	}
	/* deviation from the median offset (one spurious early start must
	 * not shift every other one) */
	int64_t *srt = malloc(m * sizeof(*srt));
	memcpy(srt, sg, m * sizeof(*srt));
	for (size_t i = 1; i < m; i++)
		for (size_t j = i; j > 0 && srt[j - 1] > srt[j]; j--) {
			int64_t t = srt[j];
			srt[j] = srt[j - 1];
			srt[j - 1] = t;
		}
	int64_t med = srt[m / 2];
	free(srt);
	for (size_t i = 0; i < m; i++)
		off[i] = (uint64_t)(sg[i] > med ? sg[i] - med : med - sg[i]);
	free(sg);
	double drift = ((double)(sh->start[n - 1] - sh->start[1]) / (double)(m - 1)) - (double)MAJOR;
	qsort(off, m, sizeof(*off), cmp64);
	uint64_t p50 = off[m / 2], p99 = off[(size_t)((double)(m - 1) * 0.99)],
		 p999 = off[(size_t)((double)(m - 1) * 0.999)], mx = off[m - 1];
	table_line("| %s | %zu | %.1f | %.1f | %.1f | %.1f | %.2f | %s |\n", name, m, p50 / 1e3,
		   p99 / 1e3, p999 / 1e3, mx / 1e3, drift / 1e3, st.freezer ? "freezer" : "signal");
	char extra[96];
	snprintf(extra, sizeof(extra), ",\"starts\":%zu,\"shield\":%s,\"mechanism\":\"%s\"", m,
		 shield ? "true" : "false", st.freezer ? "freezer" : "signal");
	emit("rt.frame", "myco-frame", "start_jitter_p999", (double)p999, "ns", extra);
	emit("rt.frame", "myco-frame", "start_jitter_max", (double)mx, "ns", extra);
	emit("rt.frame", "myco-frame", "drift_per_frame", drift, "ns", extra);
	free(off);
	munmap(sh, sizeof(*sh));
}

int bench_frames(void)
{
	int secs = g_opt.quick ? 3 : 20;
	table_title("Frame-window start jitter, as the partition saw it");
	table_line("major frame 10 ms, one 5 ms window on CPU %d; a SCHED_FIFO 50 child spins "
		   "and notes the first clock read after each gap; jitter = |offset in the "
		   "frame - median offset|; %d s per row (no hog: a spinning hog would hide "
		   "the window edges)\n\n| setting | starts | p50 us | p99 us | p99.9 us | max us | "
		   "drift us/frame | mechanism |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: "
		   "| --- |\n", g_opt.cpu_b, secs);
	one(false, secs);
	one(true, secs);
	return 0;
}
