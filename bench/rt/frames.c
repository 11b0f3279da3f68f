/*
 * frames.c: frame-window start jitter as the partition sees it.  A child
 * process (SCHED_FIFO 50, pinned) spins on the clock under the executive's
 * frame scheduler (exec/box/frame.c, major frame 10 ms, one 5 ms window),
 * which publishes each window's scheduled start in a control-region window
 * block (lib/part/part_abi.h) before the thaw; the child notes each window
 * with libmyco's own myco__part_window_note() (what myco_heartbeat() does)
 * and keeps every lateness = its clock at the first check after the thaw -
 * the scheduled start.  Drift = mean start-to-start spacing minus the
 * major frame.  Four rows in one run: the cgroup freezer and the signal
 * fallback (forced with MYCO_BOX_FRAME_SIGNAL=1), each without and with
 * the partition's CPU shielded.
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
#include "part_abi.h"
#include "myco/common.h"

#define MAJOR 10000000ull
#define WIN   5000000ull
#define MAXS  4096

struct shared {
	struct myco__part_window w;     /* as in a partition's control region */
	volatile uint64_t n;
	volatile uint64_t start[MAXS];  /* observed start */
	volatile uint64_t late[MAXS];   /* observed - scheduled start */
};

static void child(struct shared *sh, int cpu)
{
	pin_cpu(cpu);
	struct sched_param sp = { .sched_priority = 50 };
	sched_setscheduler(0, SCHED_FIFO, &sp);
	for (;;) {
		uint64_t seen = sh->w.seen, t = myco_now();
		myco__part_window_note(&sh->w, t);
		if (sh->w.seen != seen && sh->n < MAXS) {
			sh->start[sh->n] = t;
			sh->late[sh->n] = sh->w.late_last_ns;
			sh->n++;
		}
	}
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void one(bool shield, bool sig, int seconds)
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
	if (sig)
		setenv("MYCO_BOX_FRAME_SIGNAL", "1", 1);
	if (rc == 0)
		rc = myco__box_frame_add(fr, "spin", pid, &idx);
	unsetenv("MYCO_BOX_FRAME_SIGNAL");
	if (rc == 0)
		rc = myco__box_frame_publish(fr, idx, &sh->w.seq, &sh->w.start_ns);
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
	const char *mech = st.freezer ? "freezer" : "signal";
	uint64_t n = sh->n;
	if (rc < 0 || n < 10) {
		table_line("| %s | %s | skipped: %s (%llu starts) | | | | | |\n", name,
			   sig ? "signal" : "freezer", myco_strerror(rc < 0 ? rc : -ENODATA),
			   (unsigned long long)n);
		munmap(sh, sizeof(*sh));
		return;
	}
	/* drop the first start (the partition's first window, with its
	 * start-up); lateness against the published scheduled start */
	size_t m = (size_t)n - 1;
	uint64_t *off = malloc(m * sizeof(*off));
	for (size_t i = 0; i < m; i++)
		off[i] = sh->late[i + 1];
	double drift = ((double)(sh->start[n - 1] - sh->start[1]) / (double)(m - 1)) - (double)MAJOR;
	qsort(off, m, sizeof(*off), cmp64);
	uint64_t p50 = off[m / 2], p99 = off[(size_t)((double)(m - 1) * 0.99)],
		 p999 = off[(size_t)((double)(m - 1) * 0.999)], mx = off[m - 1];
	table_line("| %s | %s | %zu of %llu | %.1f | %.1f | %.1f | %.1f | %.2f |\n", name, mech, m,
		   (unsigned long long)sh->w.seq - 1, p50 / 1e3, p99 / 1e3, p999 / 1e3, mx / 1e3,
		   drift / 1e3);
	char extra[96];
	snprintf(extra, sizeof(extra), ",\"starts\":%zu,\"shield\":%s,\"mechanism\":\"%s\"", m,
		 shield ? "true" : "false", mech);
	emit("rt.frame", "myco-frame", "start_late_p50", (double)p50, "ns", extra);
	emit("rt.frame", "myco-frame", "start_late_p99", (double)p99, "ns", extra);
	emit("rt.frame", "myco-frame", "start_late_p999", (double)p999, "ns", extra);
	emit("rt.frame", "myco-frame", "start_late_max", (double)mx, "ns", extra);
	emit("rt.frame", "myco-frame", "drift_per_frame", drift, "ns", extra);
	free(off);
	munmap(sh, sizeof(*sh));
}

int bench_frames(void)
{
	int secs = g_opt.quick ? 3 : 20;
	table_title("Frame-window start lateness, as the partition saw it");
	table_line("major frame 10 ms, one 5 ms window on CPU %d; a SCHED_FIFO 50 child spins "
		   "noting each window as myco_heartbeat() does; lateness = its first clock "
		   "read after the thaw - the window's scheduled start (published by the frame "
		   "thread); %d s per row, freezer and signal fallback (MYCO_BOX_FRAME_SIGNAL=1) "
		   "alternating (no hog: a spinning hog would hide the window edges)\n\n"
		   "| setting | mechanism | windows seen of published | p50 us | p99 us | "
		   "p99.9 us | max us | drift us/frame |\n| --- | --- | ---: | ---: | ---: | ---: "
		   "| ---: | ---: |\n", g_opt.cpu_b, secs);
	one(false, false, secs);
	one(false, true, secs);
	one(true, false, secs);
	one(true, true, secs);
	return 0;
}
