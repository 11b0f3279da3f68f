/*
 * timing.c: deadline misses of a partition as `myco ps` and the metrics
 * show them, from both sides: the runtime's (edf jobs finished late and
 * budget overruns, counted by lib/rt inside the partition and read from
 * its control region) and the executive's (CPU quota periods in which the
 * reservation ran out, frame-window boundaries the frame scheduler reached
 * late, and how late), and for a frame-mode partition the windows as
 * the partition saw them (how late each began against its scheduled
 * start, from its control region).  Every value read from the control region is
 * untrusted: names are bounded, the task count clamped.
 * Also the executive's admission of the system's SCHED_DEADLINE
 * reservations before anything starts (myco__ex_admit), and the system's
 * shielded cores (`shield cores N, M;`): applied at start, restored at
 * stop, and restored at the next start after a kill -9 (the state file
 * <runtime dir>.shield sits beside the runtime dir).
 * Not for: counting (lib/rt/edf.c, exec/box/frame.c), the control socket
 * protocol (control.c), the arithmetic itself (exec/box/sched.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "exec_int.h"
#include "box/box.h"
#include "box_glue.h"

static json_int_t ld64(const uint64_t *p)
{
	return (json_int_t)__atomic_load_n(p, __ATOMIC_RELAXED);
}

static json_t *runtime_view(const struct myco__part_ctl *ctl)
{
	const struct myco__part_timing *t = (const void *)((const char *)ctl +
							  MYCO__PART_TIMING_OFF);
	json_t *tasks = json_array();
	uint32_t n = __atomic_load_n(&t->ntasks, __ATOMIC_RELAXED);
	if (n > MYCO__PART_TASKS)
		n = MYCO__PART_TASKS;
	for (uint32_t i = 0; tasks && i < n; i++) {
		const struct myco__part_task *k = &t->task[i];
		if (__atomic_load_n(&k->used, __ATOMIC_ACQUIRE) != 1)
			continue;
		char name[sizeof(k->name) + 1];
		memcpy(name, k->name, sizeof(k->name));
		name[sizeof(k->name)] = 0;
		for (char *c = name; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		json_array_append_new(tasks, json_pack("{s:s,s:I,s:I,s:I}", "name", name,
						       "jobs", ld64(&k->jobs),
						       "deadline_misses", ld64(&k->deadline_misses),
						       "overruns", ld64(&k->overruns)));
	}
	return json_pack("{s:I,s:I,s:I,s:o,s:I}",
			 "edf_jobs", ld64(&t->edf_jobs),
			 "deadline_misses", ld64(&t->deadline_misses),
			 "overruns", ld64(&t->overruns),
			 "tasks", tasks ? tasks : json_array(),
			 "tasks_dropped", (json_int_t)__atomic_load_n(&t->tasks_dropped,
								       __ATOMIC_RELAXED));
}

/* q-th quantile (0..1) of the partition's log2 lateness histogram: the
 * bucket's upper bound, never above the exact maximum. */
static uint64_t window_q(const uint64_t *h, uint64_t tot, uint64_t max, double q)
{
	uint64_t acc = 0;
	for (unsigned i = 0; tot && i < MYCO__PART_WINDOW_HIST; i++) {
		acc += h[i];
		if ((double)acc >= q * (double)tot) {
			uint64_t up = i == 0 ? 0 : (UINT64_C(1) << i) - 1;
			return i == MYCO__PART_WINDOW_HIST - 1 || up > max ? max : up;
		}
	}
	return max;
}

/* Frame windows as the partition saw them (lib/part/part_abi.h): how late
 * each window began against its scheduled start. */
static json_t *window_view(const struct myco__part_ctl *ctl)
{
	const struct myco__part_window *w = (const void *)((const char *)ctl +
							  MYCO__PART_WINDOW_OFF);
	uint64_t h[MYCO__PART_WINDOW_HIST], tot = 0;
	json_t *hist = json_array();
	for (unsigned i = 0; i < MYCO__PART_WINDOW_HIST; i++) {
		h[i] = __atomic_load_n(&w->hist[i], __ATOMIC_RELAXED);
		tot += h[i];
		json_array_append_new(hist, json_integer((json_int_t)h[i]));
	}
	uint64_t seen = __atomic_load_n(&w->seen, __ATOMIC_RELAXED);
	uint64_t max = __atomic_load_n(&w->late_max_ns, __ATOMIC_RELAXED);
	uint64_t sum = __atomic_load_n(&w->late_sum_ns, __ATOMIC_RELAXED);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
			 "major_ns", ld64(&w->major_ns),
			 "published", ld64(&w->seq),
			 "seen", (json_int_t)seen,
			 "start_late_p50_ns", (json_int_t)window_q(h, tot, max, 0.50),
			 "start_late_p99_ns", (json_int_t)window_q(h, tot, max, 0.99),
			 "start_late_max_ns", (json_int_t)max,
			 "start_late_mean_ns", (json_int_t)(seen ? sum / seen : 0),
			 "start_late_last_ns", ld64(&w->late_last_ns),
			 "hist_log2_ns", hist ? hist : json_array());
}

static const char *iso_status(const struct ex_inst *in, const char *mech)
{
	for (size_t i = 0; i < in->niso; i++)
		if (!strcmp(in->iso[i].name, mech))
			return in->iso[i].status;
	return "not-requested";
}

json_t *myco__ex_timing_json(struct ex_system *s, struct ex_part *p)
{
	const struct ex_inst *in = p->act.pid ? &p->act : &p->sb;
	json_t *rt = p->act.ctl ? runtime_view(p->act.ctl) : json_null();
	json_t *ex = json_object();
	if (!ex)
		return rt;
	json_object_set_new(ex, "mode", json_string(myco_mode_name(p->m->mode)));
	if (p->m->mode == MYCO_MODE_BUDGET) {
		const char *dl = iso_status(in, "sched-deadline");
		json_object_set_new(ex, "reservation",
				    json_string(!strcmp(dl, "applied") ? "sched-deadline" :
						"cgroup-cpu-quota"));
		json_object_set_new(ex, "runtime_ns", json_integer((json_int_t)p->m->runtime_ns));
		json_object_set_new(ex, "period_ns", json_integer((json_int_t)p->m->period_ns));
	}
	struct myco__box_stats st;
	if (myco__box_stats(s->box_name, p->name, NULL, &st) == 0)
		json_object_set_new(ex, "quota_periods_throttled",
				    json_integer((json_int_t)st.nr_throttled));
	struct myco__box_frame_stats fs;
	if (p->m->mode == MYCO_MODE_FRAME && myco__ex_box_frame_stats(s, p, &fs) == 0)
		json_object_set_new(ex, "frame", json_pack("{s:I,s:I,s:I,s:I,s:s}",
				"frames", (json_int_t)fs.frames,
				"windows", (json_int_t)fs.windows,
				"late_boundaries", (json_int_t)fs.late,
				"max_late_ns", (json_int_t)fs.max_late_ns,
				"mechanism", fs.freezer ? "freezer" : "signal"));
	if (p->m->mode == MYCO_MODE_FRAME && p->act.ctl)
		return json_pack("{s:o,s:o,s:o}", "runtime", rt, "executive", ex,
				 "window", window_view(p->act.ctl));
	return json_pack("{s:o,s:o}", "runtime", rt, "executive", ex);
}

int myco__ex_admit(struct ex_system *s)
{
	struct myco__box_dl_host h;
	struct myco__box_resv *r;
	size_t n = 0;
	int rc;

	/* Only root gets SCHED_DEADLINE; others run on cgroup quota, which the
	 * checker's per-core arithmetic already covers. */
	if (geteuid() != 0 || !s->nparts)
		return 0;
	myco__box_dl_host(&h);
	r = calloc(s->nparts, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < s->nparts; i++) {
		const myco_partition_t *m = s->parts[i].m;
		if (m->mode != MYCO_MODE_BUDGET || !m->period_ns)
			continue;
		/* pinned to fewer CPUs than it may use: cgroup quota, not
		 * a deadline task (exec/box/spawn.c decides the same) */
		if (m->ncores && (m->core_mask & h.online_mask) != h.online_mask)
			continue;
		r[n].name = m->name;
		r[n].runtime_ns = m->runtime_ns;
		r[n].period_ns = m->period_ns;
		n++;
	}
	if (!n) {
		free(r);
		return 0;
	}
	char msg[4096];
	rc = myco__box_dl_admit(r, n, &h, msg, sizeof(msg));
	free(r);
	/* the last line is the sum against the limit */
	size_t len = strlen(msg);
	if (len && msg[len - 1] == '\n')
		msg[--len] = 0;
	char *sum = strrchr(msg, '\n');
	sum = sum ? sum + 1 : msg;
	char *eq = strstr(sum, "= ");
	if (eq)
		sum = eq + 2;
	if (rc < 0) {
		fprintf(stderr, "myco run: admission refused: the SCHED_DEADLINE reservations "
			"(budget mode) do not fit this host; nothing was started:\n%s\n"
			"  hint: lower a budget, pin a partition to a core (it then runs on cgroup "
			"quota), or raise kernel.sched_rt_runtime_us\n", msg);
		return rc;
	}
	myco__ex_event(s, NULL, "admission", -1, -1,
		       "SCHED_DEADLINE reservations admitted: %s", sum);
	return 0;
}

/* ---- shielded cores --------------------------------------------------- */

static struct myco__box_shield_report g_shield;  /* one system per executive */
static bool g_shield_on;
static int g_shield_rc;

static void shield_path(const struct ex_system *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s.shield", s->dir);
}

static void shield_events(struct ex_system *s, const char *what,
			  const struct myco__box_shield_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		myco__ex_event(s, NULL, r->items[i].state == MYCO__BOX_APPLIED ? what : "degraded",
			       -1, -1, "shield %s: %s", r->items[i].name, r->items[i].detail);
}

int myco__ex_shield_start(struct ex_system *s)
{
	char path[4200];
	struct myco__box_shield_report r;
	shield_path(s, path, sizeof(path));
	/* a shield left by an executive killed with -9 */
	int rc = myco__box_shield_restore(path, &r);
	if (rc == 0)
		shield_events(s, "shield-restored", &r);
	else if (rc != -ENOENT)
		myco__ex_event(s, NULL, "degraded", -1, -1, "shield state %s: %s", path,
			       myco_strerror(rc));
	uint64_t mask = s->model->shield_mask;
	if (!mask)
		return 0;
	pid_t self = getpid();
	rc = myco__box_shield_apply(path, mask, &self, 1, &g_shield);
	g_shield_rc = rc;
	if (rc < 0) {
		myco__ex_event(s, NULL, "degraded", -1, -1, "shield cores: %s", myco_strerror(rc));
		return 0; /* degrade loudly, like every other mechanism */
	}
	g_shield_on = true;
	shield_events(s, "shield", &g_shield);
	return 0;
}

void myco__ex_shield_stop(struct ex_system *s)
{
	if (!g_shield_on)
		return;
	char path[4200];
	struct myco__box_shield_report r;
	shield_path(s, path, sizeof(path));
	int rc = myco__box_shield_restore(path, &r);
	if (rc == 0)
		shield_events(s, "shield-restored", &r);
	else
		myco__ex_event(s, NULL, "degraded", -1, -1, "shield restore: %s", myco_strerror(rc));
	g_shield_on = false;
}

struct json_t *myco__ex_shield_json(struct ex_system *s)
{
	if (!s->model || !s->model->shield_mask)
		return json_null();
	char list[128];
	myco__box_cpulist_format(s->model->shield_mask, list, sizeof(list));
	json_t *items = json_array();
	for (size_t i = 0; items && i < g_shield.n; i++)
		json_array_append_new(items, json_pack("{s:s,s:s,s:s}", "mechanism",
				g_shield.items[i].name, "status",
				myco__box_state_name((enum myco__box_state)g_shield.items[i].state),
				"detail", g_shield.items[i].detail));
	return json_pack("{s:s,s:b,s:s,s:o}", "cores", list, "active", g_shield_on,
			 "error", g_shield_rc < 0 ? myco_strerror(g_shield_rc) : "",
			 "mechanisms", items ? items : json_array());
}

void myco__ex_cache_apply(struct ex_system *s, struct ex_part *p, struct ex_inst *in)
{
	if (!p->m->cache_ways || in->niso >= EX_MAX_ISO)
		return;
	struct ex_iso *iso = &in->iso[in->niso++];
	snprintf(iso->name, sizeof(iso->name), "cache-ways");
	char d[160];
	pid_t pid = in->pid;
	int rc = myco__box_cache_ways(s->box_name, p->name, p->m->cache_ways, &pid, 1, d, sizeof(d));
	snprintf(iso->status, sizeof(iso->status), "%s", rc == 0 ? "applied" : "degraded");
	snprintf(iso->reason, sizeof(iso->reason), "%.95s", d);
	if (rc < 0)
		myco__ex_event(s, p, "degraded", -1, -1, "cache ways %u: %s", p->m->cache_ways, d);
}
