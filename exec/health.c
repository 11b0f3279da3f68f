/*
 * health.c: the executive's health model (the contract is health.h).
 * Every MYCO__HEALTH_EVERY ticks (100 ms) it samples each running
 * partition's signals from telemetry that already exists: the heartbeat
 * counter of the control region, the channel regions' sent/done counters
 * of the channels the partition receives or serves, its metrics region
 * (histogram `latency_seconds`, counters `errors_total` and
 * `requests_total`), /proc (RSS, CPU time) and its restarts.  Each signal
 * feeds the detectors of health_detect.c; the signal's limit (its SLO, or
 * the memory limit) turns them into a verdict:
 *
 *   sick      the SLO is broken now, or the signal is anomalous against
 *             its learned baseline (two evaluations in a row) and its trend
 *             reaches the limit within the partition's `heal ... ahead T`;
 *   degraded  anomalous without such a prediction, or predicted within 2T;
 *   healthy   otherwise.
 *
 * The partition's verdict is its worst signal's; it rises at once and
 * falls only after a second of better evaluations (hysteresis).  Every
 * change is an event with its evidence; a sick verdict asks heal.c to act.
 *
 * Starvation: a partition that wants the CPU and does not get it (its
 * cgroup quota throttles it: cpu.stat; the run-queue wait of
 * /proc/PID/task/N/schedstat is reported with it) shows a growing queue,
 * latency or stall like a stuck one, but a restart does not help it.  Such a verdict is
 * reported as `starved` (a `starved` event with the figures), and those
 * CPU-bound signals are not healed while it lasts.
 * Not for: the actions (heal.c), the registry (registry.c), the detector
 * arithmetic (health_detect.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>

#include "myco/trace.h"
#include "exec_int.h"
#include "collect.h"
#include "health.h"
#include "heal.h"

#define H_MIN_POINTS  10u      /* trend points before a prediction */
#define H_MIN_R2      0.8      /* a trend weaker than this predicts nothing */
#define H_SETTLE_NS   (500ull * 1000000ull)   /* an instance's start-up, not learned */
#define H_DOWN_EVALS  10u      /* better evaluations before the verdict falls */
#define H_RESTART_WIN (60ull * 1000000000ull)
#define H_SICK_ANOM   5u       /* anomalous evaluations before a prediction heals */
#define H_FED_GRACE_NS (2ull * 1000000000ull)  /* no CPU-bound heal after starvation */

struct hsig {
	struct myco__hd_base base;
	struct myco__hd_ewma ewma;
	struct myco__hd_cusum cusum;
	struct myco__hd_trend trend;
	double value;
	bool have;
	const myco_slo_t *slo;
	double limit;           /* in the signal's unit; < 0: none */
	uint32_t anom;          /* anomalous evaluations in a row */
	bool breached;
	double predict_s;       /* < 0: none */
	enum myco__hv v;
};

struct hpart {
	struct hsig sig[MYCO__HS_N];
	enum myco__hv verdict;
	uint32_t better;        /* evaluations in a row below the verdict */
	enum myco__hs worst;
	pid_t pid;              /* the instance the samples are of */
	uint64_t t_inst;        /* first seen at */
	uint64_t cpu_prev, t_cpu;
	uint64_t lat_b[MYCO_HIST_BUCKETS], lat_sum;
	bool lat_init;
	uint64_t err_prev, req_prev, hb_prev;
	bool cnt_init;
	uint64_t done_prev;
	uint64_t stall_ns, t_stall, hb_stall;   /* stall: time without progress
						 * while heartbeating */
	uint64_t rs_t[32];      /* restart times (ring) */
	uint32_t rs_n, rs_seen;
	bool mem_pct;           /* memory in % of the limit (else MiB) */
	/* starvation: cgroup throttling and run-queue wait per window */
	char cpustat[300];      /* the instance's cgroup cpu.stat ("" = none) */
	bool cpustat_v1;        /* v1: throttled_time in ns */
	uint64_t thr_prev, wait_prev, run_prev, t_sched;
	bool sched_init;
	double thr_share, wait_share, run_share;   /* of the last window, 0..1 */
	double starve_ewma;
	bool starved;
	uint64_t fed_at;        /* when it was last fed again (0: never starved) */
	uint32_t shed_ok;       /* evaluations the shed-for signal was healthy */
};

struct ex_health {
	struct hpart *hp;
	uint32_t tick;
	uint64_t t0;
	struct myco__heal *heal;       /* heal.c */
	struct myco__registry *reg;    /* registry.c */
};

static const double sigma_floor[MYCO__HS_N] = {
	[MYCO__HS_HEARTBEAT] = 20.0,   /* ms */
	[MYCO__HS_LATENCY] = 0.05,     /* ms, and 10% of the median (below) */
	[MYCO__HS_QUEUE] = 2.0,
	[MYCO__HS_STALL] = 50.0,       /* ms */
	[MYCO__HS_MEMORY] = 1.0,       /* % or MiB */
	[MYCO__HS_CPU] = 5.0,          /* % */
	[MYCO__HS_ERRORS] = 0.5,       /* % */
	[MYCO__HS_RESTARTS] = 1.0,
};

static double now_s(const struct ex_health *h, uint64_t now)
{
	return (double)(now - h->t0) / 1e9;
}

/* The limit of a signal in its unit: its SLO, or for memory the limit. */
static void set_limits(struct ex_part *p, struct hpart *hp)
{
	const myco_partition_t *m = p->m;

	hp->mem_pct = m->memory_bytes != 0;
	for (int i = 0; i < MYCO__HS_N; i++) {
		hp->sig[i].limit = -1;
		hp->sig[i].predict_s = -1;
	}
	if (hp->mem_pct)
		hp->sig[MYCO__HS_MEMORY].limit = 100.0;
	for (size_t k = 0; k < m->nslos; k++) {
		const myco_slo_t *o = &m->slos[k];
		struct hsig *g = &hp->sig[o->signal];
		g->slo = o;
		switch (o->signal) {
		case MYCO_SIG_HEARTBEAT:
		case MYCO_SIG_LATENCY:
		case MYCO_SIG_STALL:
			g->limit = o->limit / 1e6;
			break;
		case MYCO_SIG_MEMORY:
			g->limit = o->percent ? o->limit
				 : hp->mem_pct ? o->limit / (double)m->memory_bytes * 100.0
				 : o->limit / 1048576.0;
			break;
		default:
			g->limit = o->limit;
			break;
		}
	}
}

int myco__ex_health_open(struct ex_system *s)
{
	struct ex_health *h = calloc(1, sizeof *h);

	if (!h)
		return -ENOMEM;
	s->health = h;
	h->t0 = myco_now();
	h->hp = calloc(s->nparts ? s->nparts : 1, sizeof *h->hp);
	if (!h->hp)
		return -ENOMEM;
	for (size_t i = 0; i < s->nparts; i++)
		set_limits(&s->parts[i], &h->hp[i]);
	int rc = myco__ex_heal_open(s, &h->heal);
	if (rc == 0)
		rc = myco__ex_registry_open(s, &h->reg);
	return rc;
}

struct myco__heal *myco__ex_health_heal(struct ex_system *s)
{
	return s->health ? s->health->heal : NULL;
}

struct myco__registry *myco__ex_health_registry(struct ex_system *s)
{
	return s->health ? s->health->reg : NULL;
}

void myco__ex_health_close(struct ex_system *s)
{
	struct ex_health *h = s->health;

	if (!h)
		return;
	myco__ex_heal_close(s, h->heal);
	myco__ex_registry_close(h->reg);
	free(h->hp);
	free(h);
	s->health = NULL;
}

static void fresh_instance(struct hpart *hp, pid_t pid, uint64_t now)
{
	hp->pid = pid;
	hp->t_inst = now;
	hp->cpu_prev = 0;
	hp->t_cpu = 0;
	hp->lat_init = false;
	hp->cnt_init = false;
	hp->stall_ns = 0;
	hp->t_stall = 0;
	hp->cpustat[0] = 0;
	hp->sched_init = false;
	hp->starve_ewma = 0;
	hp->starved = false;
	hp->fed_at = 0;
	(void)now;
	for (int i = 0; i < MYCO__HS_N; i++) {
		struct hsig *g = &hp->sig[i];
		myco__hd_trend_reset(&g->trend);
		myco__hd_cusum_reset(&g->cusum);
		g->ewma.init = false;
		g->anom = 0;
		g->have = false;
		g->predict_s = -1;
	}
}

void myco__ex_health_replaced(struct ex_system *s, struct ex_part *p)
{
	if (s->health)
		fresh_instance(&s->health->hp[p->idx], 0, myco_now());
}

/* ---- sampling ------------------------------------------------------------ */

static int proc_rss_cpu(pid_t pid, uint64_t *rss, uint64_t *cpu_ns)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if (myco__ex_read_small(path, buf, sizeof buf) <= 0)
		return -ESRCH;
	unsigned long long size = 0, res = 0;
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return -EPROTO;
	long pg = sysconf(_SC_PAGESIZE);
	*rss = res * (uint64_t)(pg > 0 ? pg : 4096);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (myco__ex_read_small(path, buf, sizeof buf) <= 0)
		return -ESRCH;
	char *q = strrchr(buf, ')');
	if (!q)
		return -EPROTO;
	unsigned long long ut = 0, st = 0;
	int field = 2;
	for (char *t = strtok(q + 1, " "); t; t = strtok(NULL, " ")) {
		field++;
		if (field == 14)
			ut = strtoull(t, NULL, 10);
		else if (field == 15) {
			st = strtoull(t, NULL, 10);
			break;
		}
	}
	long tck = sysconf(_SC_CLK_TCK);
	*cpu_ns = (ut + st) * (1000000000ull / (unsigned long long)(tck > 0 ? tck : 100));
	return 0;
}

/* A v1 controller list ("cpu,cpuacct") names the cpu controller. */
static bool has_cpu(const char *list)
{
	size_t n = strlen(list);
	for (const char *p = list; p < list + n;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 3 && !strncmp(p, "cpu", 3))
			return true;
		p += l + 1;
	}
	return false;
}

/* The cpu.stat file of pid's cgroup (v2, or v1's cpu controller). */
static void find_cpustat(pid_t pid, struct hpart *hp)
{
	char path[64], line[512];
	FILE *f;

	hp->cpustat[0] = 0;
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2, *nl;
		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c2 = 0;
		if ((nl = strchr(c2 + 1, '\n')))
			*nl = 0;
		if (!strcmp(c2 + 1, "/") || strlen(c2 + 1) > 200)
			continue;
		if (c1[1] == 0) {
			snprintf(hp->cpustat, sizeof hp->cpustat, "/sys/fs/cgroup%s/cpu.stat", c2 + 1);
			hp->cpustat_v1 = false;
		} else if (has_cpu(c1 + 1) && strlen(c1 + 1) < 40) {
			snprintf(hp->cpustat, sizeof hp->cpustat, "/sys/fs/cgroup/%s%s/cpu.stat",
				 c1 + 1, c2 + 1);
			hp->cpustat_v1 = true;
			break;
		}
	}
	fclose(f);
}

/* Throttled time (ns) of the cgroup, -1 when not known. */
static int64_t throttled_ns(const struct hpart *hp)
{
	char buf[1024];
	const char *key = hp->cpustat_v1 ? "throttled_time " : "throttled_usec ";
	if (!hp->cpustat[0] || myco__ex_read_small(hp->cpustat, buf, sizeof buf) <= 0)
		return -1;
	const char *k = strstr(buf, key);
	if (!k)
		return -1;
	uint64_t v = strtoull(k + strlen(key), NULL, 10);
	return (int64_t)(hp->cpustat_v1 ? v : v * 1000u);
}

/* Run and run-queue wait time (ns) summed over pid's threads. */
static int sched_times(pid_t pid, uint64_t *run, uint64_t *wait)
{
	char path[96], buf[256];
	DIR *d;
	struct dirent *de;
	int n = 0;

	*run = *wait = 0;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return -ESRCH;
	while ((de = readdir(d)) && n < 256) {
		unsigned long long r, w;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%.20s/schedstat", (int)pid, de->d_name);
		if (myco__ex_read_small(path, buf, sizeof buf) <= 0 ||
		    sscanf(buf, "%llu %llu", &r, &w) != 2)
			continue;
		*run += r;
		*wait += w;
		n++;
	}
	closedir(d);
	return n ? 0 : -ESRCH;
}

/* The state letter of pid (R running or runnable, S sleeping, ...). */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (myco__ex_read_small(path, buf, sizeof buf) <= 0)
		return 0;
	const char *q = strrchr(buf, ')');
	return q && q[1] == ' ' ? q[2] : 0;
}

/* The window's CPU starvation: what share of it the partition was
 * throttled by its cgroup, waited on the run queue, ran.  Starved when
 * its quota throttled it at least 20 % of the time; smoothed, set at 0.5
 * and cleared below 0.2.  The run-queue wait is reported, not judged: on
 * a loaded machine a partition that mostly sleeps (a slow consumer) also
 * waits long for a CPU each time it wakes, and more CPU would not cure
 * it. */
static void sample_starve(pid_t pid, struct hpart *hp, uint64_t now)
{
	uint64_t run, wait;
	if (!hp->cpustat[0] && !hp->sched_init)
		find_cpustat(pid, hp);
	int64_t thr = throttled_ns(hp);
	if (sched_times(pid, &run, &wait) < 0)
		return;
	if (hp->sched_init && now > hp->t_sched && run >= hp->run_prev && wait >= hp->wait_prev) {
		double win = (double)(now - hp->t_sched);
		hp->run_share = (double)(run - hp->run_prev) / win;
		hp->wait_share = (double)(wait - hp->wait_prev) / win;
		hp->thr_share = thr >= 0 && (uint64_t)thr >= hp->thr_prev
				? (double)((uint64_t)thr - hp->thr_prev) / win : 0;
		bool now_starved = hp->thr_share >= 0.2;
		/* The kernel adds a wait to schedstat (and a throttled period to
		 * cpu.stat) when it ends: a window in which the process neither
		 * ran nor finished waiting keeps a starved partition starved
		 * while it is runnable (R), and is no evidence otherwise. */
		bool silent = hp->run_share < 0.001 && hp->wait_share < 0.001 &&
			      hp->thr_share < 0.001;
		if (silent)
			now_starved = hp->starved && proc_state(pid) == 'R';
		if (!silent || now_starved)
			hp->starve_ewma = 0.7 * hp->starve_ewma + 0.3 * (now_starved ? 1.0 : 0.0);
	}
	hp->thr_prev = thr >= 0 ? (uint64_t)thr : 0;
	hp->run_prev = run;
	hp->wait_prev = wait;
	hp->t_sched = now;
	hp->sched_init = true;
}

/* Signals a partition that gets no CPU shows like a stuck one. */
static bool cpu_bound(int sig)
{
	return sig == MYCO__HS_QUEUE || sig == MYCO__HS_LATENCY || sig == MYCO__HS_STALL ||
	       sig == MYCO__HS_HEARTBEAT;
}

struct msnap {
	bool lat, err, req;
	uint64_t b[MYCO_HIST_BUCKETS], sum, errors, requests;
};

static int msnap_fn(const myco_metric_sample_t *m, void *arg)
{
	struct msnap *x = arg;
	if (m->kind == MYCO_METRIC_HISTOGRAM && !strcmp(m->name, "latency_seconds")) {
		for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++)
			x->b[i] += m->buckets[i];
		x->sum += m->sum;
		x->lat = true;
	} else if (m->kind == MYCO_METRIC_COUNTER && !strcmp(m->name, "errors_total")) {
		x->errors += m->value;
		x->err = true;
	} else if (m->kind == MYCO_METRIC_COUNTER && !strcmp(m->name, "requests_total")) {
		x->requests += m->value;
		x->req = true;
	}
	return 0;
}

/* The q (0..1) quantile of a window of a log2 histogram (bucket i holds
 * [2^(i-1), 2^i)), interpolated by rank inside its bucket; when one bucket
 * holds nearly all of the window, the window's mean is the better figure. */
static double window_quantile(const uint64_t *d, uint64_t sum, double q)
{
	uint64_t tot = 0;
	for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++)
		tot += d[i];
	if (!tot)
		return NAN;
	double rank = q * (double)tot, acc = 0;
	for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++) {
		if (!d[i])
			continue;
		if (acc + (double)d[i] >= rank) {
			if ((double)d[i] >= 0.9 * (double)tot)
				return (double)sum / (double)tot;
			double lo = i ? ldexp(1.0, (int)i - 1) : 0, hi = i ? ldexp(1.0, (int)i) : 1;
			return lo + (hi - lo) * (rank - acc) / (double)d[i];
		}
		acc += (double)d[i];
	}
	return (double)sum / (double)tot;
}

static void sample(struct ex_system *s, struct ex_part *p, struct hpart *hp, uint64_t now)
{
	const myco_partition_t *m = p->m;
	pid_t pid = p->act.prog_pid ? p->act.prog_pid : p->act.pid;
	uint64_t rss, cpu;

	for (int i = 0; i < MYCO__HS_N; i++)
		hp->sig[i].have = false;
	if (pid != hp->pid)
		fresh_instance(hp, pid, now);
	sample_starve(pid, hp, now);
	/* memory, cpu */
	if (proc_rss_cpu(pid, &rss, &cpu) == 0) {
		struct hsig *g = &hp->sig[MYCO__HS_MEMORY];
		g->value = hp->mem_pct ? (double)rss / (double)m->memory_bytes * 100.0
				       : (double)rss / 1048576.0;
		g->have = true;
		if (hp->t_cpu && now > hp->t_cpu && cpu >= hp->cpu_prev) {
			double share = m->mode == MYCO_MODE_BUDGET && m->period_ns
				       ? (double)m->runtime_ns / (double)m->period_ns : 1.0;
			g = &hp->sig[MYCO__HS_CPU];
			g->value = (double)(cpu - hp->cpu_prev) / (double)(now - hp->t_cpu) * 100.0 / share;
			g->have = true;
		}
		hp->cpu_prev = cpu;
		hp->t_cpu = now;
	}
	/* heartbeat lateness */
	uint64_t hb = p->act.ctl ? atomic_load_explicit((_Atomic uint64_t *)&p->act.ctl->heartbeat,
							memory_order_acquire) : 0;
	if (m->heartbeat_ns && p->hb_seen_ns && p->hb_seen_ns < now) {
		hp->sig[MYCO__HS_HEARTBEAT].value = (double)(now - p->hb_seen_ns) / 1e6;
		hp->sig[MYCO__HS_HEARTBEAT].have = true;
	}
	/* queue and stall: the channels it receives or serves */
	uint64_t pend = 0, done = 0;
	bool any = false;
	for (size_t k = 0; k < m->nends; k++) {
		const myco_end_t *e = &m->ends[k];
		myco_chan_stats_t st;
		if ((e->role != MYCO_END_RECV && e->role != MYCO_END_SERVE) ||
		    !s->chan_owners[e->channel] ||
		    s->model->channels[e->channel].kind == MYCO_LANG_SAMPLE ||
		    myco_chan_owner_stats(s->chan_owners[e->channel], &st) < 0)
			continue;
		pend += st.pending;
		done += st.done;
		any = true;
	}
	if (any) {
		hp->sig[MYCO__HS_QUEUE].value = (double)pend;
		hp->sig[MYCO__HS_QUEUE].have = true;
		/* stall grows only while the partition runs (its heartbeat moves)
		 * and its input makes no progress: a livelock.  A partition that
		 * gets no CPU (or hangs) does not beat either; starvation is not a
		 * stall, and a hang is the heartbeat's business. */
		if (!pend || done != hp->done_prev)
			hp->stall_ns = 0;
		else if (hb != hp->hb_stall && hp->t_stall)
			hp->stall_ns += now - hp->t_stall;
		hp->t_stall = now;
		hp->hb_stall = hb;
		hp->done_prev = done;
		hp->sig[MYCO__HS_STALL].value = (double)hp->stall_ns / 1e6;
		hp->sig[MYCO__HS_STALL].have = true;
	}
	/* the partition's own metrics: latency, errors */
	const void *mem;
	size_t msz;
	struct msnap x;
	memset(&x, 0, sizeof x);
	if (myco__ex_collect_metrics(s, p, &mem, &msz) == 0 &&
	    myco_metrics_snapshot(mem, msz, msnap_fn, &x, NULL) >= 0) {
		if (x.lat) {
			if (hp->lat_init) {
				uint64_t d[MYCO_HIST_BUCKETS];
				bool ok = x.sum >= hp->lat_sum;
				for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++) {
					d[i] = x.b[i] >= hp->lat_b[i] ? x.b[i] - hp->lat_b[i] : 0;
					ok = ok && x.b[i] >= hp->lat_b[i];
				}
				const myco_slo_t *o = hp->sig[MYCO__HS_LATENCY].slo;
				double q = o ? (double)o->quantile / 1000.0 : 0.99;
				double v = ok ? window_quantile(d, x.sum - hp->lat_sum, q) : NAN;
				if (isfinite(v)) {
					hp->sig[MYCO__HS_LATENCY].value = v / 1e6;
					hp->sig[MYCO__HS_LATENCY].have = true;
				}
			}
			memcpy(hp->lat_b, x.b, sizeof hp->lat_b);
			hp->lat_sum = x.sum;
			hp->lat_init = true;
		}
		if (x.err) {
			uint64_t den_now = x.req ? x.requests : hb;
			if (hp->cnt_init && x.errors >= hp->err_prev && den_now >= hp->req_prev) {
				double de = (double)(x.errors - hp->err_prev);
				double dn = (double)(den_now - hp->req_prev);
				if (!x.req)
					dn += de;        /* beats count the good ones */
				if (dn > 0) {
					hp->sig[MYCO__HS_ERRORS].value = de / dn * 100.0;
					hp->sig[MYCO__HS_ERRORS].have = true;
				}
			}
			hp->err_prev = x.errors;
			hp->req_prev = den_now;
			hp->cnt_init = true;
		}
	}
	/* restarts within the last minute */
	while (hp->rs_seen < p->restarts) {
		hp->rs_t[hp->rs_n++ % 32] = now;
		hp->rs_seen++;
	}
	uint32_t r = 0;
	for (uint32_t i = 0; i < hp->rs_n && i < 32; i++)
		if (now - hp->rs_t[i] <= H_RESTART_WIN)
			r++;
	hp->sig[MYCO__HS_RESTARTS].value = r;
	hp->sig[MYCO__HS_RESTARTS].have = true;
	(void)hb;
}

/* ---- evaluation ---------------------------------------------------------- */

static void slo_text(const struct hsig *g, enum myco__hs i, char *out, size_t cap)
{
	const myco_slo_t *o = g->slo;
	if (!o) {
		if (i == MYCO__HS_MEMORY && g->limit >= 0)
			snprintf(out, cap, "memory < 100 %% (the limit)");
		else
			out[0] = 0;
		return;
	}
	char q[8] = "";
	if (o->quantile)
		snprintf(q, sizeof q, "p%u ", o->quantile % 10 ? o->quantile : o->quantile / 10);
	switch (o->signal) {
	case MYCO_SIG_HEARTBEAT: case MYCO_SIG_LATENCY: case MYCO_SIG_STALL:
		snprintf(out, cap, "%s %s< %g ms", myco__hs_name(i), q, o->limit / 1e6);
		break;
	case MYCO_SIG_MEMORY:
		if (o->percent)
			snprintf(out, cap, "memory < %g %%", o->limit);
		else
			snprintf(out, cap, "memory < %g MiB", o->limit / 1048576.0);
		break;
	case MYCO_SIG_CPU: case MYCO_SIG_ERRORS:
		snprintf(out, cap, "%s < %g %%", myco__hs_name(i), o->limit);
		break;
	default:
		snprintf(out, cap, "%s < %g", myco__hs_name(i), o->limit);
		break;
	}
}

static const char *unit_of(const struct hpart *hp, enum myco__hs i)
{
	if (i == MYCO__HS_MEMORY && !hp->mem_pct)
		return "MiB";
	return myco__hs_unit(i);
}

void myco__ex_health_evidence(struct ex_system *s, const struct ex_part *p, int sig,
			      struct ex_evidence *ev)
{
	struct hpart *hp = &s->health->hp[p->idx];
	const struct hsig *g = &hp->sig[sig];

	memset(ev, 0, sizeof *ev);
	ev->set = true;
	snprintf(ev->signal, sizeof ev->signal, "%s", myco__hs_name((enum myco__hs)sig));
	snprintf(ev->unit, sizeof ev->unit, "%s", unit_of(hp, (enum myco__hs)sig));
	snprintf(ev->verdict, sizeof ev->verdict, "%s", myco__hv_name(g->v));
	ev->value = g->ewma.init && sig != MYCO__HS_LATENCY && sig != MYCO__HS_STALL &&
		    sig != MYCO__HS_HEARTBEAT ? g->ewma.v : g->value;
	ev->has_value = true;
	ev->has_base = g->base.ready;
	ev->baseline = g->base.median;
	ev->threshold = g->limit >= 0 ? g->limit
		      : g->base.median + MYCO__HD_K * g->base.sigma;
	ev->has_predict = g->predict_s >= 0;
	ev->predict_s = g->predict_s;
	slo_text(g, (enum myco__hs)sig, ev->slo, sizeof ev->slo);
}

static void describe(const struct ex_evidence *ev, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s %.3g %s", ev->signal, ev->value, ev->unit);
	if (ev->has_base && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ", baseline %.3g", ev->baseline);
	if (n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ", threshold %.3g", ev->threshold);
	if (ev->has_predict && n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, ", reaches it in %.1f s", ev->predict_s);
	if (ev->slo[0] && n > 0 && (size_t)n < cap)
		snprintf(out + n, cap - (size_t)n, " (slo %s)", ev->slo);
}

struct ex_event *myco__ex_health_event(struct ex_system *s, struct ex_part *p,
				       const char *kind, const struct ex_evidence *ev,
				       const char *what)
{
	char d[200];
	describe(ev, d, sizeof d);
	struct ex_event *e = myco__ex_event(s, p, kind, -1, -1, "%s%s%s", what ? what : "",
					    what ? ": " : "", d);
	e->evd = *ev;
	myco__ex_event_sync(p, e);
	return e;
}

static void evaluate(struct ex_system *s, struct ex_part *p, struct hpart *hp, uint64_t now)
{
	struct ex_health *h = s->health;
	double t = now_s(h, now);
	double ahead = (double)p->m->heal_ahead_ns / 1e9;
	bool settled = now - hp->t_inst >= H_SETTLE_NS;
	enum myco__hv worst = MYCO__HV_HEALTHY;
	int wsig = -1;
	bool predicted = false;

	for (int i = 0; i < MYCO__HS_N; i++) {
		struct hsig *g = &hp->sig[i];
		g->v = MYCO__HV_HEALTHY;
		if (!g->have)
			continue;
		double x = g->value;
		double floor = sigma_floor[i];
		if (i == MYCO__HS_LATENCY && g->base.ready && 0.1 * g->base.median > floor)
			floor = 0.1 * g->base.median;
		/* exact times (stall, heartbeat) as they are; the rest smoothed
		 * (about the last half second), so that one preempted message
		 * or one unlucky window is not a trend */
		bool exact = i == MYCO__HS_STALL || i == MYCO__HS_HEARTBEAT;
		double sx = myco__hd_ewma_add(&g->ewma, x, 0.3);
		if (exact)
			sx = x;
		if (settled && !g->base.ready)
			myco__hd_base_add(&g->base, x, sigma_floor[i]);
		if (settled)
			myco__hd_trend_add(&g->trend, t, sx);
		bool high = false;
		if (g->base.ready) {
			double sg = g->base.sigma > floor ? g->base.sigma : floor;
			bool c = myco__hd_cusum_add(&g->cusum, x, g->base.median, sg, 0.5, 8.0);
			high = sx > g->base.median + MYCO__HD_K * sg || (c && g->cusum.n_alarm >= 2);
			/* what is far below its objective is no anomaly worth acting on */
			if (g->limit >= 0 && sx < 0.1 * g->limit)
				high = false;
		}
		g->anom = high ? g->anom + 1 : 0;
		g->predict_s = -1;
		bool was = g->breached;
		if (g->limit >= 0) {
			/* the whole window (a slow leak), or the points since the
			 * change the anomaly marks (a drift that began recently) */
			double pw = myco__hd_time_to(&g->trend, H_MIN_POINTS, H_MIN_R2, t, g->limit);
			double pr = g->anom >= 2
				    ? myco__hd_time_to_last(&g->trend, g->anom + 3 > 8 ? g->anom + 3 : 8,
							    H_MIN_R2, t, g->limit) : -1;
			g->predict_s = pw < 0 ? pr : pr < 0 ? pw : pw < pr ? pw : pr;
			/* broken: the smoothed value (a window of about half a
			 * second); stall and heartbeat are exact times */
			g->breached = sx >= g->limit;
		}
		/* a prediction makes it sick only after H_SICK_ANOM anomalous
		 * evaluations in a row: a scheduling hiccup on a loaded machine
		 * (one preempted message: a few points far above a tight
		 * latency baseline) fits a steep line too, and healed 10 times
		 * in a 10-minute clean run at load 10-15 with 2 */
		if (g->breached || (g->anom >= H_SICK_ANOM && g->predict_s >= 0 &&
				    g->predict_s <= ahead))
			g->v = MYCO__HV_SICK;
		else if (g->anom >= 2 || (g->predict_s >= 0 && g->predict_s <= 2 * ahead))
			g->v = MYCO__HV_DEGRADED;
		if (g->limit >= 0 && g->breached != was && (g->slo || i == MYCO__HS_MEMORY)) {
			struct ex_evidence ev;
			myco__ex_health_evidence(s, p, i, &ev);
			myco__ex_health_event(s, p, g->breached ? "slo-breach" : "slo-ok", &ev,
					      g->breached ? "objective broken" : "objective holds again");
		}
		if (g->v > worst || (g->v == worst && wsig < 0 && g->v != MYCO__HV_HEALTHY)) {
			worst = g->v;
			wsig = i;
			predicted = !g->breached;
		}
	}
	/* starvation: rises at 0.5 (two starved windows of three), falls
	 * below 0.2 */
	bool was_starved = hp->starved;
	if (!hp->starved && hp->starve_ewma >= 0.5)
		hp->starved = true;
	else if (hp->starved && hp->starve_ewma < 0.2)
		hp->starved = false;
	if (was_starved && !hp->starved)
		hp->fed_at = now;
	if (hp->starved != was_starved) {
		struct ex_event *e = myco__ex_event(s, p, hp->starved ? "starved" : "fed", -1, -1,
			"%s: throttled by its cgroup %.0f %% of the last window (cpu.stat), "
			"waiting for a CPU %.0f %%, running %.0f %%%s",
			hp->starved ? "CPU-starved" : "gets the CPU again",
			hp->thr_share * 100, hp->wait_share * 100, hp->run_share * 100,
			hp->starved ? "; queue, latency, stall and heartbeat are not healed "
				      "while it lasts (a restart does not feed it)" : "");
		(void)e;
	}
	/* what starvation left behind (a backlog, a smoothed latency) is its
	 * doing too: 2 s of grace after it is fed */
	/* ... and the window that shows it first: a message stuck behind a
	 * throttled quota breaks a latency objective at once */
	bool starving = (hp->starved || hp->thr_share >= 0.2 ||
			 (hp->fed_at && now - hp->fed_at < H_FED_GRACE_NS)) &&
			wsig >= 0 && cpu_bound(wsig);
	/* hysteresis: up at once, down after H_DOWN_EVALS better evaluations */
	if (worst >= hp->verdict) {
		hp->better = 0;
		if (worst > hp->verdict && wsig >= 0) {
			hp->verdict = worst;
			hp->worst = (enum myco__hs)wsig;
			struct ex_evidence ev;
			myco__ex_health_evidence(s, p, wsig, &ev);
			if (starving)
				snprintf(ev.verdict, sizeof ev.verdict, "starved");
			myco__ex_health_event(s, p, "health", &ev,
					      starving ? "starved" : myco__hv_name(worst));
		}
	} else if (++hp->better >= H_DOWN_EVALS) {
		hp->better = 0;
		hp->verdict = worst;
		struct ex_evidence ev;
		const char *vn = starving && worst != MYCO__HV_HEALTHY ? "starved"
									: myco__hv_name(worst);
		myco__ex_health_evidence(s, p, wsig >= 0 ? wsig : (int)hp->worst, &ev);
		snprintf(ev.verdict, sizeof ev.verdict, "%s", vn);
		myco__ex_health_event(s, p, "health", &ev, vn);
		if (worst == MYCO__HV_HEALTHY)
			myco__ex_heal_better(s, p);
	}
	/* shedding ends when the signal it was for has been healthy a second */
	int shs = myco__ex_heal_shedding(s, p);
	hp->shed_ok = shs >= 0 && hp->sig[shs].v == MYCO__HV_HEALTHY ? hp->shed_ok + 1 : 0;
	if (shs >= 0 && hp->shed_ok >= H_DOWN_EVALS) {
		hp->shed_ok = 0;
		myco__ex_heal_better(s, p);
	}
	if (worst == MYCO__HV_SICK && wsig >= 0 && !starving) {
		struct ex_evidence ev;
		myco__ex_health_evidence(s, p, wsig, &ev);
		myco__ex_heal_sick(s, p, &ev, predicted);
	}
}

void myco__ex_health_tick(struct ex_system *s)
{
	struct ex_health *h = s->health;

	if (!h)
		return;
	myco__ex_heal_tick(s);
	if (++h->tick % MYCO__HEALTH_EVERY)
		return;
	uint64_t now = myco_now();
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		if (s->stopping || p->state != EX_RUNNING || !p->act.pid || !p->act.ctl ||
		    p->act.standby)
			continue;
		sample(s, p, &h->hp[i], now);
		evaluate(s, p, &h->hp[i], now);
	}
}

/* ---- reporting ----------------------------------------------------------- */

const char *myco__ex_health_verdict(struct ex_system *s, const struct ex_part *p)
{
	if (!s->health)
		return "healthy";
	const struct hpart *hp = &s->health->hp[p->idx];
	if (hp->starved && hp->verdict != MYCO__HV_HEALTHY && cpu_bound((int)hp->worst))
		return "starved";
	return myco__hv_name(hp->verdict);
}

json_t *myco__ex_health_json(struct ex_system *s, struct ex_part *p)
{
	struct hpart *hp;
	json_t *o = json_object(), *sig = json_object();

	if (!o || !sig || !s->health) {
		json_decref(o);
		json_decref(sig);
		return json_null();
	}
	hp = &s->health->hp[p->idx];
	json_object_set_new(o, "verdict", json_string(myco__ex_health_verdict(s, p)));
	json_object_set_new(o, "cpu_starvation", json_pack("{s:b,s:f,s:f,s:f}",
		"starved", hp->starved, "throttled", hp->thr_share * 100,
		"runqueue_wait", hp->wait_share * 100, "running", hp->run_share * 100));
	for (int i = 0; i < MYCO__HS_N; i++) {
		const struct hsig *g = &hp->sig[i];
		json_t *x = json_object();
		if (!x)
			continue;
		json_object_set_new(x, "value", g->have ? json_real(g->value) : json_null());
		json_object_set_new(x, "unit", json_string(unit_of(hp, (enum myco__hs)i)));
		json_object_set_new(x, "verdict", json_string(myco__hv_name(g->v)));
		if (g->base.ready) {
			json_object_set_new(x, "baseline", json_real(g->base.median));
			json_object_set_new(x, "mad", json_real(g->base.mad));
		} else {
			json_object_set_new(x, "baseline", json_null());
		}
		if (g->limit >= 0)
			json_object_set_new(x, "limit", json_real(g->limit));
		if (g->predict_s >= 0)
			json_object_set_new(x, "predict_s", json_real(g->predict_s));
		json_object_set_new(sig, myco__hs_name((enum myco__hs)i), x);
	}
	json_object_set_new(o, "signals", sig);
	return o;
}

/* A profile: {"partitions":{"NAME":{"SIGNAL":{"median":M,"mad":D}}}} */
static int load_profile(struct ex_system *s, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root)
		return -ENOENT;
	json_t *ps = json_object_get(root, "partitions");
	for (size_t i = 0; json_is_object(ps) && i < s->nparts; i++) {
		json_t *pp = json_object_get(ps, s->parts[i].name);
		for (int k = 0; json_is_object(pp) && k < MYCO__HS_N; k++) {
			json_t *x = json_object_get(pp, myco__hs_name((enum myco__hs)k));
			json_t *md = json_object_get(x, "median"), *mad = json_object_get(x, "mad");
			if (json_is_number(md) && json_is_number(mad) && json_number_value(mad) >= 0)
				myco__hd_base_set(&s->health->hp[i].sig[k].base, json_number_value(md),
						  json_number_value(mad), sigma_floor[k]);
		}
	}
	json_decref(root);
	return 0;
}

static json_t *profile(struct ex_system *s)
{
	json_t *ps = json_object();
	for (size_t i = 0; ps && i < s->nparts; i++) {
		json_t *pp = json_object();
		for (int k = 0; pp && k < MYCO__HS_N; k++) {
			const struct myco__hd_base *b = &s->health->hp[i].sig[k].base;
			if (b->ready)
				json_object_set_new(pp, myco__hs_name((enum myco__hs)k),
						    json_pack("{s:f,s:f}", "median", b->median, "mad", b->mad));
		}
		json_object_set_new(ps, s->parts[i].name, pp);
	}
	return json_pack("{s:o}", "partitions", ps);
}

int myco__ex_health_profile(struct ex_system *s, const char *path)
{
	if (!s->health || !path)
		return 0;
	return load_profile(s, path);
}

json_t *myco__ex_health_dispatch(struct ex_system *s, json_t *req)
{
	json_t *parts = json_array();
	for (size_t i = 0; parts && i < s->nparts; i++) {
		json_t *o = myco__ex_health_json(s, &s->parts[i]);
		if (json_is_object(o))
			json_object_set_new(o, "name", json_string(s->parts[i].name));
		json_array_append_new(parts, o);
	}
	json_t *r = json_pack("{s:b,s:o}", "ok", 1, "partitions", parts ? parts : json_array());
	const char *save = json_string_value(json_object_get(req, "save"));
	if (r && save && s->health) {
		json_t *pr = profile(s);
		if (!pr || json_dump_file(pr, save, JSON_INDENT(1)) < 0) {
			json_object_set_new(r, "ok", json_false());
			json_object_set_new(r, "error", json_string("cannot write the profile"));
		} else {
			json_object_set_new(r, "saved", json_string(save));
		}
		json_decref(pr);
	}
	if (r)
		json_object_set_new(r, "services", myco__ex_registry_json(s));
	return r;
}
