/*
 * collect.c: the collector.  The executive creates one trace region and
 * one metrics region per partition (memfds it owns, handed over in the
 * manifest) and one trace region for itself; on every 10 ms tick it drains
 * all rings (lib/trace's reader: never waits, distrusts everything) into a
 * bounded ring of decoded events for `myco trace record`, and folds them
 * into metrics that only events can give (bytes per channel, send-to-
 * receive latency, scheduling latency, ...).  Once a second it reads what
 * /proc knows about each partition process.  It answers the control
 * commands `trace`, `trace-read` and `top`, renders the /metrics page and
 * the health column of `myco ps`.
 * Not for: HTTP (metrics_http.c), the ring format (lib/trace).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "myco/chan.h"
#include "myco/trace.h"
#include "myco_int.h"
#include "exec_int.h"
#include "collect.h"

#define CO_PEND 16384u          /* in-flight sends remembered (power of two) */
#define CO_READ 512u            /* events per read call */

struct co_hist {
	uint64_t b[MYCO_HIST_BUCKETS];
	uint64_t sum;
};

/* One decoded event kept for `trace-read`. */
struct co_ev {
	uint64_t seq, ts_ns, a[3];
	uint32_t part;          /* partition index; nparts = the executive */
	uint32_t ring, tid;
	uint16_t id;
	uint8_t level, len;
	char str[72];
};

struct co_proc {            /* one /proc sample of a process */
	uint64_t cpu_ns, minflt, majflt, vcsw, ivcsw, rss;
};

struct co_part {
	int trace_fd, met_fd;
	myco_trace_reader_t *rd;
	void *met;
	size_t met_size;
	pid_t pid;              /* process the /proc sample is of */
	struct co_proc cur;     /* this process */
	struct co_proc base;    /* summed over the partition's earlier processes */
	uint64_t cpu_prev_ns, cpu_prev_t;
	double cpu_pct;
	/* from events */
	struct co_hist sched_lat;
	uint64_t loop_iters, tasks_ready, io_inflight, switches, parks, wakes, steals;
	uint64_t edf_miss_ev, edf_overrun_ev, user_ev, log_ev;
	uint64_t miss_seen, miss_seen_t;  /* deadline misses at the last check */
	uint64_t hb_late;                 /* heartbeat-late events emitted */
	uint64_t hb_late_seen;            /* hb_seen_ns already reported late */
};

struct co_chan {
	uint64_t ino;           /* memfd inode: the id in chan tracepoints */
	uint64_t bytes, waits, wakes, overflow_ev, sends_ev, recvs_ev;
	struct co_hist lat;
	uint64_t prev_sent, prev_t;
	double rate;
};

struct ex_collect {
	uint32_t enable;
	int exec_fd;
	myco_trace_reader_t *exec_rd;
	struct co_part *pt;
	struct co_chan *ch;
	struct co_ev *keep;
	uint64_t keep_seq;      /* next sequence number */
	struct { uint64_t key, ts; } *pend;
	myco_trace_event_t *buf;
	uint64_t last_proc_ns;
	uint64_t lost, dropped, corrupt;   /* executive region */
	uint16_t port;
};

static struct ex_collect *co_of(struct ex_system *s) { return s->collect; }

/* ---- set-up ------------------------------------------------------------ */

static uint64_t fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Append the trace ring and metrics entries (part_abi.h) to P's manifest
 * and fds. */
static int add_caps(struct ex_part *p, int tfd, int mfd)
{
	size_t used = strlen(p->caps);
	struct myco__cap ring = { .kind = MYCO__CAP_TRACE_RING, .fds = { tfd }, .nfds = 1 };
	struct myco__cap met = { .kind = MYCO__CAP_TRACE_METRICS, .fds = { mfd }, .nfds = 1 };

	if (p->nfds + 2 > EX_MAX_FDS || myco__caps_append(p->caps, sizeof(p->caps), &ring) < 0 ||
	    myco__caps_append(p->caps, sizeof(p->caps), &met) < 0) {
		p->caps[used] = 0;
		return -E2BIG;
	}
	p->fds[p->nfds++] = tfd;
	p->fds[p->nfds++] = mfd;
	return 0;
}

int myco__ex_collect_open(struct ex_system *s)
{
	struct ex_collect *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return -ENOMEM;
	s->collect = c;
	c->exec_fd = -1;
	c->pt = calloc(s->nparts ? s->nparts : 1, sizeof *c->pt);
	c->ch = calloc(s->nchans ? s->nchans : 1, sizeof *c->ch);
	c->keep = calloc(EX_TRACE_KEEP, sizeof *c->keep);
	c->pend = calloc(CO_PEND, sizeof *c->pend);
	c->buf = calloc(CO_READ, sizeof *c->buf);
	if (!c->pt || !c->ch || !c->keep || !c->pend || !c->buf)
		return -ENOMEM;
	/* MYCO_TRACE=chan,rt starts with those categories on */
	const char *env = getenv("MYCO_TRACE");
	if (env && myco_trace_parse_cats(env, &c->enable, NULL, 0) < 0)
		c->enable = 0;
	myco_trace_config_t ecfg = { .nrings = 1, .depth = 4096,
				     .policy = MYCO_TRACE_OVERWRITE,
				     .enable = c->enable, .name = "myco-trace-exec" };
	rc = myco_trace_create(&ecfg, &c->exec_fd);
	if (rc == 0)
		rc = myco_trace_attach(c->exec_fd);
	if (rc == 0)
		rc = myco_trace_reader_open(c->exec_fd, &c->exec_rd);
	if (rc < 0) {
		myco__ex_event(s, NULL, "error", -1, -1, "trace: executive ring: %s",
			       myco_strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct co_part *cp = &c->pt[i];
		char name[96];

		cp->trace_fd = cp->met_fd = -1;
		snprintf(name, sizeof name, "myco-trace-%s", p->name);
		myco_trace_config_t cfg = { .nrings = EX_TRACE_RINGS,
					    .depth = EX_TRACE_DEPTH,
					    .policy = MYCO_TRACE_OVERWRITE,
					    .enable = c->enable, .name = name };
		rc = myco_trace_create(&cfg, &cp->trace_fd);
		if (rc == 0) {
			snprintf(name, sizeof name, "myco-metrics-%s", p->name);
			rc = myco_metrics_create(0, 0, name, &cp->met_fd);
		}
		if (rc == 0)
			rc = myco_trace_reader_open(cp->trace_fd, &cp->rd);
		if (rc == 0) {
			cp->met_size = (size_t)lseek(cp->met_fd, 0, SEEK_END);
			cp->met = mmap(NULL, cp->met_size, PROT_READ, MAP_SHARED, cp->met_fd, 0);
			if (cp->met == MAP_FAILED) {
				cp->met = NULL;
				rc = -errno;
			}
		}
		if (rc == 0)
			rc = add_caps(p, cp->trace_fd, cp->met_fd);
		if (rc < 0) {
			myco__ex_event(s, p, "error", -1, -1, "trace: regions: %s",
				       myco_strerror(rc));
			return rc;
		}
	}
	for (size_t i = 0; i < s->nchans; i++)
		if (s->chan_owners[i])
			c->ch[i].ino = fd_ino(myco_chan_owner_memfd(s->chan_owners[i]));
	c->port = s->model->metrics_port;
	if (c->port) {
		rc = myco__ex_http_open(s, s->model->metrics_addr, c->port);
		if (rc < 0) {
			myco__ex_event(s, NULL, "error", -1, -1,
				       "metrics: cannot listen on %s port %u: %s",
				       s->model->metrics_addr ? s->model->metrics_addr : "127.0.0.1",
				       (unsigned)c->port, myco_strerror(rc));
			return rc;
		}
	}
	return 0;
}

void myco__ex_collect_close(struct ex_system *s)
{
	struct ex_collect *c = co_of(s);

	if (!c)
		return;
	myco__ex_http_close(s);
	for (size_t i = 0; c->pt && i < s->nparts; i++) {
		struct co_part *cp = &c->pt[i];
		myco_trace_reader_close(cp->rd);
		if (cp->met)
			munmap(cp->met, cp->met_size);
		if (cp->trace_fd >= 0)
			close(cp->trace_fd);
		if (cp->met_fd >= 0)
			close(cp->met_fd);
	}
	myco_trace_reader_close(c->exec_rd);
	if (c->exec_fd >= 0) {
		myco_trace_set_enable(c->exec_fd, 0);
		close(c->exec_fd);
	}
	free(c->pt);
	free(c->ch);
	free(c->keep);
	free(c->pend);
	free(c->buf);
	free(c);
	s->collect = NULL;
}

/* ---- draining ---------------------------------------------------------- */

static void hist_add(struct co_hist *h, uint64_t v)
{
	h->b[myco_hist_bucket(v)]++;
	h->sum += v;
}

static struct co_chan *chan_by_ino(struct ex_system *s, uint64_t ino)
{
	struct ex_collect *c = co_of(s);

	for (size_t i = 0; i < s->nchans; i++)
		if (c->ch[i].ino == ino && ino)
			return &c->ch[i];
	return NULL;
}

/* Sends and receives waiting for their other half (the rings of two
 * partitions are drained one after the other, so either may come first),
 * by (channel, lane, message number, which half).  A full neighbourhood
 * overwrites: the latency of that message is then not measured. */
#define PEND_SEND 1u
#define PEND_RECV 2u
static uint64_t pend_key(uint64_t ino, uint64_t lane, uint64_t seq, unsigned half)
{
	uint64_t k = (ino * 0x9e3779b97f4a7c15ull) ^ (lane << 48) ^ (seq << 2) ^ half;
	return k ? k : 1;
}

static void pend_put(struct ex_collect *c, uint64_t key, uint64_t ts)
{
	uint64_t i = (key * 0xff51afd7ed558ccdull) >> 50 & (CO_PEND - 1);
	for (unsigned k = 0; k < 8; k++, i = (i + 1) & (CO_PEND - 1))
		if (!c->pend[i].key || c->pend[i].key == key)
			break;
	c->pend[i].key = key;
	c->pend[i].ts = ts;
}

static int pend_take(struct ex_collect *c, uint64_t key, uint64_t *ts)
{
	uint64_t i = (key * 0xff51afd7ed558ccdull) >> 50 & (CO_PEND - 1);
	for (unsigned k = 0; k < 8; k++, i = (i + 1) & (CO_PEND - 1))
		if (c->pend[i].key == key) {
			*ts = c->pend[i].ts;
			c->pend[i].key = 0;
			return 1;
		}
	return 0;
}

/* One half of a message's trip: join it with the other half or wait. */
static void pend_half(struct ex_collect *c, struct co_chan *ch, const myco_trace_event_t *e,
		      unsigned half)
{
	uint64_t lane = e->a[2] >> 32, t;
	unsigned other = half == PEND_SEND ? PEND_RECV : PEND_SEND;

	if (pend_take(c, pend_key(e->a[0], lane, e->a[1], other), &t)) {
		uint64_t snd = half == PEND_SEND ? e->ts_ns : t;
		uint64_t rcv = half == PEND_SEND ? t : e->ts_ns;
		hist_add(&ch->lat, rcv > snd ? rcv - snd : 0);
		return;
	}
	pend_put(c, pend_key(e->a[0], lane, e->a[1], half), e->ts_ns);
}

static void fold(struct ex_system *s, uint32_t part, const myco_trace_event_t *e)
{
	struct ex_collect *c = co_of(s);
	struct co_part *cp = part < s->nparts ? &c->pt[part] : NULL;
	struct co_chan *ch;

	switch (e->id) {
	case MYCO_EV_CHAN_SEND:
		if ((ch = chan_by_ino(s, e->a[0]))) {
			ch->sends_ev++;
			ch->bytes += e->a[2] & 0xffffffffu;
			pend_half(c, ch, e, PEND_SEND);
		}
		break;
	case MYCO_EV_CHAN_RECV:
		if ((ch = chan_by_ino(s, e->a[0]))) {
			ch->recvs_ev++;
			pend_half(c, ch, e, PEND_RECV);
		}
		break;
	case MYCO_EV_CHAN_WAIT:
		if ((ch = chan_by_ino(s, e->a[0])))
			ch->waits++;
		break;
	case MYCO_EV_CHAN_WAKE:
		if ((ch = chan_by_ino(s, e->a[0])))
			ch->wakes++;
		break;
	case MYCO_EV_CHAN_OVERFLOW:
		if ((ch = chan_by_ino(s, e->a[0])))
			ch->overflow_ev++;
		break;
	default:
		break;
	}
	if (!cp)
		return;
	switch (e->id) {
	case MYCO_EV_RT_LOOP:
		cp->loop_iters++;
		cp->tasks_ready = e->a[1];
		cp->io_inflight = e->a[2];
		break;
	case MYCO_EV_RT_SWITCH:
		cp->switches++;
		hist_add(&cp->sched_lat, e->a[2]);
		break;
	case MYCO_EV_RT_PARK:   cp->parks++; break;
	case MYCO_EV_RT_WAKE:   cp->wakes++; break;
	case MYCO_EV_RT_STEAL:  cp->steals++; break;
	case MYCO_EV_EDF_MISS:  cp->edf_miss_ev++; break;
	case MYCO_EV_EDF_OVERRUN: cp->edf_overrun_ev++; break;
	case MYCO_EV_USER:      cp->user_ev++; break;
	case MYCO_EV_LOG:       cp->log_ev++; break;
	default: break;
	}
}

static void keep(struct ex_collect *c, uint32_t part, const myco_trace_event_t *e)
{
	struct co_ev *k = &c->keep[c->keep_seq % EX_TRACE_KEEP];

	k->seq = c->keep_seq++;
	k->ts_ns = e->ts_ns;
	memcpy(k->a, e->a, sizeof k->a);
	k->part = part;
	k->ring = e->ring;
	k->tid = e->tid;
	k->id = e->id;
	k->level = e->level;
	k->len = e->len < sizeof k->str - 1 ? e->len : (uint8_t)(sizeof k->str - 1);
	memcpy(k->str, e->str, k->len);
	k->str[k->len] = 0;
}

static void drain(struct ex_system *s, myco_trace_reader_t *rd, uint32_t part)
{
	struct ex_collect *c = co_of(s);
	size_t n;

	/* bounded: at most the whole region per tick */
	for (unsigned pass = 0; pass < EX_TRACE_RINGS * EX_TRACE_DEPTH / CO_READ + 1; pass++) {
		n = myco_trace_read(rd, c->buf, CO_READ);
		for (size_t i = 0; i < n; i++) {
			keep(c, part, &c->buf[i]);
			fold(s, part, &c->buf[i]);
		}
		if (n < CO_READ)
			break;
	}
}

/* ---- /proc ------------------------------------------------------------- */

int myco__ex_read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return (int)n;
}

static int proc_sample(pid_t pid, struct co_proc *o)
{
	char path[64], buf[4096];
	long tck = sysconf(_SC_CLK_TCK), pg = sysconf(_SC_PAGESIZE);

	memset(o, 0, sizeof *o);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (myco__ex_read_small(path, buf, sizeof buf) <= 0)
		return -ESRCH;
	char *p = strrchr(buf, ')');
	if (!p)
		return -EPROTO;
	/* fields after the command: 3 state ... 10 minflt, 12 majflt, 14 utime,
	 * 15 stime, 24 rss */
	unsigned long long f[24] = { 0 };
	int k = 3;
	for (char *t = strtok(p + 2, " "); t && k <= 24; t = strtok(NULL, " "), k++)
		if (k >= 4)
			f[k - 1] = strtoull(t, NULL, 10);
	o->minflt = f[9];
	o->majflt = f[11];
	if (tck > 0)
		o->cpu_ns = (f[13] + f[14]) * (1000000000ull / (unsigned long long)tck);
	o->rss = f[23] * (uint64_t)(pg > 0 ? pg : 4096);
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (myco__ex_read_small(path, buf, sizeof buf) > 0) {
		char *v = strstr(buf, "voluntary_ctxt_switches:");
		if (v && (v == buf || v[-1] == '\n'))
			o->vcsw = strtoull(v + 24, NULL, 10);
		v = strstr(buf, "nonvoluntary_ctxt_switches:");
		if (v)
			o->ivcsw = strtoull(v + 27, NULL, 10);
	}
	return 0;
}

static void proc_refresh(struct ex_system *s, uint64_t now)
{
	struct ex_collect *c = co_of(s);

	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct co_part *cp = &c->pt[i];
		pid_t pid = p->act.pid ? (p->act.prog_pid ? p->act.prog_pid : p->act.pid) : 0;

		if (pid != cp->pid) {
			/* a new process: what the old one used stays counted */
			cp->base.cpu_ns += cp->cur.cpu_ns;
			cp->base.minflt += cp->cur.minflt;
			cp->base.majflt += cp->cur.majflt;
			cp->base.vcsw += cp->cur.vcsw;
			cp->base.ivcsw += cp->cur.ivcsw;
			memset(&cp->cur, 0, sizeof cp->cur);
			cp->pid = pid;
			cp->cpu_prev_ns = 0;
			cp->cpu_prev_t = now;
		}
		if (!pid) {
			cp->cpu_pct = 0;
			continue;
		}
		struct co_proc smp;
		if (proc_sample(pid, &smp) < 0)
			continue;
		if (smp.cpu_ns >= cp->cur.cpu_ns)    /* never backwards */
			cp->cur = smp;
		if (now > cp->cpu_prev_t)
			cp->cpu_pct = (double)(cp->cur.cpu_ns - cp->cpu_prev_ns) /
				      (double)(now - cp->cpu_prev_t) * 100.0;
		cp->cpu_prev_ns = cp->cur.cpu_ns;
		cp->cpu_prev_t = now;
	}
	for (size_t i = 0; i < s->nchans; i++) {
		myco_chan_stats_t st;
		struct co_chan *ch = &c->ch[i];
		if (!s->chan_owners[i] || myco_chan_owner_stats(s->chan_owners[i], &st) < 0)
			continue;
		if (ch->prev_t && now > ch->prev_t && st.sent >= ch->prev_sent)
			ch->rate = (double)(st.sent - ch->prev_sent) / ((double)(now - ch->prev_t) / 1e9);
		ch->prev_sent = st.sent;
		ch->prev_t = now;
	}
}

/* Heartbeats later than one period: an exec.heartbeat_late event once per
 * late stretch (supervise.c kills after `misses` periods: exec.heartbeat_missed). */
static void heartbeats(struct ex_system *s, uint64_t now)
{
	struct ex_collect *c = co_of(s);

	for (size_t i = 0; i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct co_part *cp = &c->pt[i];
		uint64_t per = p->m->heartbeat_ns;
		if (!per || p->state != EX_RUNNING || !p->hb_seen_ns)
			continue;
		uint64_t age = now > p->hb_seen_ns ? now - p->hb_seen_ns : 0;
		if (age > 2 * per && cp->hb_late_seen != p->hb_seen_ns) {
			cp->hb_late_seen = p->hb_seen_ns;
			cp->hb_late++;
			MYCO_TP(MYCO_TRACE_EXEC, MYCO_EV_EXEC_HB_LATE, i,
				p->act.pid, age - per);
		}
	}
}

void myco__ex_collect_tick(struct ex_system *s)
{
	struct ex_collect *c = co_of(s);
	uint64_t now = myco_now();

	if (!c)
		return;
	heartbeats(s, now);
	for (size_t i = 0; i < s->nparts; i++)
		if (c->pt[i].rd)
			drain(s, c->pt[i].rd, (uint32_t)i);
	if (c->exec_rd)
		drain(s, c->exec_rd, (uint32_t)s->nparts);
	if (now - c->last_proc_ns >= 1000000000u) {
		c->last_proc_ns = now;
		proc_refresh(s, now);
	}
}

int myco__ex_collect_metrics(struct ex_system *s, const struct ex_part *p,
			     const void **mem, size_t *size)
{
	struct ex_collect *c = co_of(s);

	if (!c || !c->pt[p->idx].met)
		return -ENOENT;
	*mem = c->pt[p->idx].met;
	*size = c->pt[p->idx].met_size;
	return 0;
}

void myco__ex_collect_exited(struct ex_system *s, struct ex_part *p)
{
	struct ex_collect *c = co_of(s);

	if (c && c->pt[p->idx].rd)
		myco_trace_reader_release_claims(c->pt[p->idx].rd);
}

/* ---- executive events -------------------------------------------------- */

static const struct { const char *kind; unsigned id; } exec_kinds[] = {
	{ "spawn", MYCO_EV_EXEC_SPAWN },
	{ "ready", MYCO_EV_EXEC_READY },
	{ "exit", MYCO_EV_EXEC_EXIT },
	{ "restart", MYCO_EV_EXEC_RESTART },
	{ "restarted", MYCO_EV_EXEC_RESTART },
	{ "standby", MYCO_EV_EXEC_STANDBY },
	{ "hung", MYCO_EV_EXEC_HB_MISS },
	{ "seccomp", MYCO_EV_EXEC_SECCOMP },
	{ "oom", MYCO_EV_EXEC_OOM },
};

void myco__ex_collect_event(struct ex_system *s, const struct ex_part *p,
			    const char *kind, int64_t detail)
{
	(void)s;
	if (!myco_trace_on(MYCO_TRACE_EXEC))
		return;
	for (size_t i = 0; i < sizeof exec_kinds / sizeof exec_kinds[0]; i++)
		if (!strcmp(kind, exec_kinds[i].kind)) {
			myco_trace_emit(exec_kinds[i].id, p ? p->idx : UINT32_MAX,
					p ? (uint64_t)p->act.pid : 0, (uint64_t)detail,
					p ? p->name : NULL);
			return;
		}
}

/* ---- control commands -------------------------------------------------- */

static void cats_string(uint32_t en, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	for (unsigned i = 0; i < MYCO_TRACE_NCATS; i++)
		if (en & (1u << i)) {
			int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "",
					 myco_trace_cat_name(i));
			if (w < 0 || (size_t)w >= cap - n)
				break;
			n += (size_t)w;
		}
	if (!n)
		snprintf(out, cap, "none");
}

static void set_enable(struct ex_system *s, uint32_t en)
{
	struct ex_collect *c = co_of(s);

	c->enable = en;
	if (c->exec_fd >= 0)
		myco_trace_set_enable(c->exec_fd, en);
	for (size_t i = 0; i < s->nparts; i++)
		if (c->pt[i].trace_fd >= 0)
			myco_trace_set_enable(c->pt[i].trace_fd, en);
}

static json_t *err_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *err_reply(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static json_t *cmd_trace(struct ex_system *s, json_t *req)
{
	struct ex_collect *c = co_of(s);
	const char *on = json_string_value(json_object_get(req, "on"));
	const char *off = json_string_value(json_object_get(req, "off"));
	char err[32], cats[128];
	uint32_t en = c->enable, bits = 0;

	if (on) {
		if (myco_trace_parse_cats(on, &bits, err, sizeof err) < 0)
			return err_reply("unknown trace category '%s' (chan, rt, sched, exec, "
					 "user, log[:error|warn|info|debug], all)", err);
		en |= bits & ~MYCO_TRACE_LEVEL_MASK;
		if (bits & MYCO_TRACE_LEVEL_MASK)
			en = (en & ~MYCO_TRACE_LEVEL_MASK) | (bits & MYCO_TRACE_LEVEL_MASK);
		else if ((bits & MYCO_TRACE_LOG) && !(en & MYCO_TRACE_LEVEL_MASK))
			en |= (uint32_t)MYCO_LOG_INFO << MYCO_TRACE_LEVEL_SHIFT;
	}
	if (off) {
		bits = 0;
		if (myco_trace_parse_cats(off, &bits, err, sizeof err) < 0)
			return err_reply("unknown trace category '%s'", err);
		en &= ~(bits & MYCO_TRACE_ALL);
	}
	if (on || off)
		set_enable(s, en);
	cats_string(c->enable, cats, sizeof cats);
	return json_pack("{s:b,s:s,s:i,s:i}", "ok", 1, "enabled", cats, "bits",
			 (int)c->enable, "level",
			 (int)((c->enable & MYCO_TRACE_LEVEL_MASK) >> MYCO_TRACE_LEVEL_SHIFT));
}

static json_t *cmd_trace_read(struct ex_system *s, json_t *req)
{
	struct ex_collect *c = co_of(s);
	json_int_t from = json_integer_value(json_object_get(req, "from"));
	json_int_t max = json_integer_value(json_object_get(req, "max"));
	uint64_t first = c->keep_seq > EX_TRACE_KEEP ? c->keep_seq - EX_TRACE_KEEP : 0;
	uint64_t pos, lost = 0;
	json_t *evs = json_array(), *parts = json_array();

	if (!evs || !parts)
		return err_reply("out of memory");
	if (json_object_get(req, "from") == NULL || from < 0)
		from = (json_int_t)c->keep_seq;      /* only what comes next */
	if (max <= 0 || max > 8192)
		max = 8192;
	pos = (uint64_t)from;
	if (pos < first) {
		lost = first - pos;
		pos = first;
	}
	if (pos > c->keep_seq)
		pos = c->keep_seq;
	for (json_int_t n = 0; pos < c->keep_seq && n < max; pos++, n++) {
		const struct co_ev *k = &c->keep[pos % EX_TRACE_KEEP];
		json_array_append_new(evs, json_pack("[I,I,i,i,i,i,I,I,I,s,i]",
			(json_int_t)k->seq, (json_int_t)k->ts_ns, (int)k->part, (int)k->ring,
			(int)k->tid, (int)k->id, (json_int_t)k->a[0], (json_int_t)k->a[1],
			(json_int_t)k->a[2], k->str, (int)k->level));
	}
	for (size_t i = 0; i < s->nparts; i++)
		json_array_append_new(parts, json_string(s->parts[i].name));
	json_array_append_new(parts, json_string("executive"));
	json_t *chans = json_array();
	for (size_t i = 0; chans && i < s->nchans; i++)
		json_array_append_new(chans, json_pack("{s:s,s:I}", "name",
			s->model->channels[i].name, "id", (json_int_t)c->ch[i].ino));
	return json_pack("{s:b,s:I,s:I,s:o,s:o,s:o,s:I}", "ok", 1,
			 "next", (json_int_t)pos, "lost", (json_int_t)lost,
			 "events", evs, "parts", parts, "channels", chans ? chans : json_array(),
			 "now", (json_int_t)myco_now());
}

/* p-th quantile (0..1) of a log2 histogram: the bucket's upper bound. */
static uint64_t hist_q(const struct co_hist *h, double q)
{
	uint64_t tot = 0, acc = 0;

	for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++)
		tot += h->b[i];
	if (!tot)
		return 0;
	for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++) {
		acc += h->b[i];
		if ((double)acc >= q * (double)tot)
			return i == 0 ? 0 : i >= 64 ? UINT64_MAX : (UINT64_C(1) << i) - 1;
	}
	return UINT64_MAX;
}

static uint64_t deadline_misses(const struct ex_part *p, uint64_t *overruns)
{
	*overruns = 0;
	if (!p->act.ctl)
		return 0;
	const struct myco__part_timing *t = (const void *)((const char *)p->act.ctl +
							  MYCO__PART_TIMING_OFF);
	*overruns = __atomic_load_n(&t->overruns, __ATOMIC_RELAXED);
	return __atomic_load_n(&t->deadline_misses, __ATOMIC_RELAXED);
}

const char *myco__ex_collect_health(struct ex_system *s, const struct ex_part *p)
{
	struct ex_collect *c = co_of(s);
	uint64_t now = myco_now(), ov;

	switch (p->state) {
	case EX_WAITING: case EX_STARTING: return "starting";
	case EX_RESTARTING: return "restarting";
	case EX_RUNNING: break;
	default: return "down";
	}
	if (p->m->heartbeat_ns && p->hb_seen_ns) {
		uint64_t age = now > p->hb_seen_ns ? now - p->hb_seen_ns : 0;
		if (age > (uint64_t)(p->m->misses ? p->m->misses : 1) * p->m->heartbeat_ns)
			return "missing";
		if (age > 2 * p->m->heartbeat_ns)
			return "late";
	}
	if (c) {
		struct co_part *cp = &c->pt[p->idx];
		uint64_t m = deadline_misses(p, &ov) + cp->edf_miss_ev;
		if (m != cp->miss_seen) {
			cp->miss_seen = m;
			cp->miss_seen_t = now;
		}
		if (cp->miss_seen_t && now - cp->miss_seen_t < 10000000000ull && m)
			return "misses";
		if (p->m->memory_bytes && cp->cur.rss * 10 > p->m->memory_bytes * 9)
			return "memory";
	}
	return "ok";
}

/* {"cmd":"top","form":"rows"}: the same figures as arrays in the model's
 * order (the order of `ps`), no names and no keys; what `myco dash` polls
 * ten times a second.  A row per partition:
 *   [state, health, pid, cpu_pct, budget_use_pct, rss_bytes, restarts,
 *    msgs_per_s, deadline_misses]
 * and per channel: [messages, msgs_per_s, depth, overflows, latency_p99_ns].
 * Rates and percentages are rounded as a viewer shows them (one decimal,
 * whole messages/s per channel): a third of the bytes to write and parse. */
static double round1(double v)
{
	return (double)(int64_t)(v * 10.0 + (v < 0 ? -0.5 : 0.5)) / 10.0;
}

/* The highest myco_market_price of a partition's loops (lib/rt/market.c
 * publishes it in the partition's metrics region), -1 when none. */
static int price_of(const myco_metric_sample_t *smp, void *arg)
{
	int64_t *best = arg;
	if (!strcmp(smp->name, "myco_market_price") && (int64_t)smp->value > *best)
		*best = (int64_t)smp->value;
	return 0;
}

static int64_t market_price(const struct co_part *cp)
{
	int64_t best = -1;
	if (cp->met)
		(void)myco_metrics_snapshot(cp->met, cp->met_size, price_of, &best, NULL);
	return best;
}

/* "loans": an elastic partition's cores and the arbiter's decisions, or
 * null; "market_price": credits per slot at the last auction, or null. */
static void top_sched(struct ex_system *s, struct ex_part *p, const struct co_part *cp,
		      json_t *o)
{
	struct ex_loan_stat st;
	if (myco__ex_loans_stat(s, p, &st) == 0)
		json_object_set_new(o, "loans", json_pack(
			"{s:i,s:i,s:i,s:i,s:I,s:I,s:I,s:I,s:f,s:i,s:i}",
			"cores_min", (int)st.min, "cores_max", (int)st.max,
			"cores_granted", (int)st.granted, "loops_running", (int)st.running,
			"grants", (json_int_t)st.grants, "revokes", (json_int_t)st.revokes,
			"loop_grants", (json_int_t)st.loop_grants,
			"migrated", (json_int_t)st.migrated, "util", st.util,
			"pool", (int)st.pool, "lent", (int)st.lent));
	else
		json_object_set_new(o, "loans", json_null());
	int64_t price = market_price(cp);
	json_object_set_new(o, "market_price", price >= 0 ? json_integer(price) : json_null());
}

static json_t *top_rows(struct ex_system *s, const double *sent, uint64_t now)
{
	struct ex_collect *c = co_of(s);
	json_t *parts = json_array(), *chans = json_array();

	for (size_t i = 0; parts && i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct co_part *cp = &c->pt[i];
		uint64_t ov, miss = deadline_misses(p, &ov);
		double budget = p->m->mode == MYCO_MODE_BUDGET && p->m->period_ns ?
			(double)p->m->runtime_ns / (double)p->m->period_ns * 100.0 : 0;
		json_array_append_new(parts, json_pack("[s,s,i,f,f,I,I,f,I]",
			myco__ex_state_name(p->state), myco__ex_collect_health(s, p),
			(int)(p->act.prog_pid ? p->act.prog_pid : p->act.pid), round1(cp->cpu_pct),
			round1(budget > 0 ? cp->cpu_pct / budget * 100.0 : 0.0), (json_int_t)cp->cur.rss,
			(json_int_t)p->restarts, round1(sent ? sent[i] : 0.0),
			(json_int_t)(miss + cp->edf_miss_ev)));
	}
	for (size_t i = 0; chans && i < s->nchans; i++) {
		myco_chan_stats_t st = { 0 };
		if (s->chan_owners[i])
			myco_chan_owner_stats(s->chan_owners[i], &st);
		json_array_append_new(chans, json_pack("[I,I,I,I,I]", (json_int_t)st.sent,
			(json_int_t)(c->ch[i].rate + 0.5),
			(json_int_t)st.pending, (json_int_t)(st.dropped + st.rejected),
			(json_int_t)hist_q(&c->ch[i].lat, 0.99)));
	}
	return json_pack("{s:b,s:s,s:I,s:o,s:o}", "ok", 1, "form", "rows", "now", (json_int_t)now,
			 "parts", parts ? parts : json_array(), "chans", chans ? chans : json_array());
}

static json_t *cmd_top(struct ex_system *s, json_t *req)
{
	struct ex_collect *c = co_of(s);
	json_t *parts = json_array(), *chans = json_array();
	uint64_t now = myco_now();
	/* messages/s sent per partition: one pass over the channels (a scan
	 * per partition was 200,000 steps a poll at 200 x 1,000) */
	double *sent = calloc(s->nparts ? s->nparts : 1, sizeof(*sent));
	for (size_t k = 0; sent && k < s->nchans; k++)
		for (size_t j = 0; j < s->model->channels[k].nsenders; j++)
			if (s->model->channels[k].senders[j] < s->nparts)
				sent[s->model->channels[k].senders[j]] += c->ch[k].rate;
	const char *form = json_string_value(json_object_get(req, "form"));
	if (form && !strcmp(form, "rows")) {
		json_decref(parts);
		json_decref(chans);
		json_t *rep = top_rows(s, sent, now);
		free(sent);
		return rep;
	}
	if (form && strcmp(form, "objects")) {
		json_decref(parts);
		json_decref(chans);
		free(sent);
		return err_reply("top: unknown form (rows or objects)");
	}

	for (size_t i = 0; parts && i < s->nparts; i++) {
		struct ex_part *p = &s->parts[i];
		struct co_part *cp = &c->pt[i];
		uint64_t ov, miss = deadline_misses(p, &ov);
		double budget = p->m->mode == MYCO_MODE_BUDGET && p->m->period_ns ?
			(double)p->m->runtime_ns / (double)p->m->period_ns * 100.0 : 0;
		double msgs = sent ? sent[i] : 0;
		json_t *po = json_pack(
			"{s:s,s:s,s:s,s:i,s:f,s:f,s:f,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I}",
			"name", p->name, "state", myco__ex_state_name(p->state),
			"health", myco__ex_collect_health(s, p),
			"pid", (int)(p->act.prog_pid ? p->act.prog_pid : p->act.pid),
			"cpu_pct", cp->cpu_pct, "budget_pct", budget,
			"budget_use_pct", budget > 0 ? cp->cpu_pct / budget * 100.0 : 0.0,
			"rss_bytes", (json_int_t)cp->cur.rss,
			"memory_limit_bytes", (json_int_t)p->m->memory_bytes,
			"restarts", (json_int_t)p->restarts, "msgs_per_s", msgs,
			"sched_p99_ns", (json_int_t)hist_q(&cp->sched_lat, 0.99),
			"deadline_misses", (json_int_t)(miss + cp->edf_miss_ev),
			"overruns", (json_int_t)ov,
			"heartbeat_age_ns", (json_int_t)(p->hb_seen_ns && now > p->hb_seen_ns ?
							  now - p->hb_seen_ns : 0));
		if (po) {
			top_sched(s, p, cp, po);
			json_array_append_new(parts, po);
		}
	}
	for (size_t i = 0; chans && i < s->nchans; i++) {
		myco_chan_stats_t st = { 0 };
		if (s->chan_owners[i])
			myco_chan_owner_stats(s->chan_owners[i], &st);
		json_array_append_new(chans, json_pack(
			"{s:s,s:I,s:f,s:I,s:I,s:I,s:I}",
			"name", s->model->channels[i].name, "messages", (json_int_t)st.sent,
			"msgs_per_s", c->ch[i].rate, "depth", (json_int_t)st.pending,
			"overflows", (json_int_t)(st.dropped + st.rejected),
			"bytes", (json_int_t)c->ch[i].bytes,
			"latency_p99_ns", (json_int_t)hist_q(&c->ch[i].lat, 0.99)));
	}
	free(sent);
	char cats[128];
	cats_string(c->enable, cats, sizeof cats);
	return json_pack("{s:b,s:s,s:I,s:s,s:o,s:o}", "ok", 1, "system", s->name,
			 "now", (json_int_t)now, "trace", cats,
			 "partitions", parts ? parts : json_array(),
			 "channels", chans ? chans : json_array());
}

json_t *myco__ex_collect_dispatch(struct ex_system *s, const char *cmd, json_t *req)
{
	if (strcmp(cmd, "trace") && strcmp(cmd, "trace-read") && strcmp(cmd, "top"))
		return NULL;
	if (!co_of(s))
		return err_reply("this executive has no collector");
	if (!strcmp(cmd, "trace"))
		return cmd_trace(s, req);
	if (!strcmp(cmd, "trace-read"))
		return cmd_trace_read(s, req);
	return cmd_top(s, req);
}

/* ---- Prometheus text ---------------------------------------------------- */

struct out { char *b; size_t len, cap; int err; };

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	for (int tries = 0; !o->err && tries < 2; tries++) {
		va_start(ap, fmt);
		int n = vsnprintf(o->b + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = -EINVAL;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t nc = (o->cap + (size_t)n) * 2;
		char *nb = realloc(o->b, nc);
		if (!nb) {
			o->err = -ENOMEM;
			return;
		}
		o->b = nb;
		o->cap = nc;
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample (myco_metrics_prom), growing the buffer when it is full. */
static void prom_sample(struct out *o, const myco_metric_sample_t *smp,
			const char *labels, int with_header)
{
	for (int tries = 0; tries < 3 && !o->err; tries++) {
		size_t len = o->len;
		if (myco_metrics_prom(smp, labels, with_header, o->b, &len, o->cap) == 0) {
			o->len = len;
			return;
		}
		char *nb = realloc(o->b, o->cap * 2 + 16384);
		if (!nb) {
			o->err = -ENOMEM;
			return;
		}
		o->b = nb;
		o->cap = o->cap * 2 + 16384;
	}
}

static void hist_out(struct out *o, const char *name, const char *labels,
		     const struct co_hist *h)
{
	myco_metric_sample_t smp;

	memset(&smp, 0, sizeof smp);
	snprintf(smp.name, sizeof smp.name, "%s", name);
	smp.kind = MYCO_METRIC_HISTOGRAM;
	smp.unit = MYCO_UNIT_SECONDS;
	memcpy(smp.buckets, h->b, sizeof smp.buckets);
	smp.sum = h->sum;
	for (unsigned i = 0; i < MYCO_HIST_BUCKETS; i++)
		smp.count += h->b[i];
	prom_sample(o, &smp, labels, 0);
}

/* User metrics of every partition, gathered so that each metric family is
 * emitted once (one TYPE line, its samples together). */
struct user_smp { myco_metric_sample_t s; uint32_t part; };
struct user_ctx { struct user_smp *v; size_t n, cap; uint32_t part; };

static int user_metric(const myco_metric_sample_t *smp, void *arg)
{
	struct user_ctx *u = arg;

	/* the built-in families are the executive's */
	if (!strncmp(smp->name, "myco_partition_", 15) || !strncmp(smp->name, "myco_channel_", 13) ||
	    !strncmp(smp->name, "myco_trace_", 11) || !strncmp(smp->name, "myco_rt_", 8))
		return 0;
	if (u->n == u->cap) {
		size_t nc = u->cap ? u->cap * 2 : 64;
		struct user_smp *nv = realloc(u->v, nc * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		u->v = nv;
		u->cap = nc;
	}
	u->v[u->n].s = *smp;
	u->v[u->n].part = u->part;
	u->n++;
	return 0;
}

static int user_cmp(const void *a, const void *b)
{
	const struct user_smp *x = a, *y = b;
	int c = strcmp(x->s.name, y->s.name);
	if (c)
		return c;
	return x->part < y->part ? -1 : x->part > y->part;
}

static void user_metrics(struct ex_system *s, struct out *o)
{
	struct ex_collect *c = co_of(s);
	struct user_ctx u = { 0 };
	char lab[128];

	for (size_t i = 0; i < s->nparts; i++) {
		u.part = (uint32_t)i;
		if (c->pt[i].met)
			myco_metrics_snapshot(c->pt[i].met, c->pt[i].met_size, user_metric, &u, NULL);
	}
	if (u.n)                        /* qsort(NULL, 0) is undefined */
		qsort(u.v, u.n, sizeof *u.v, user_cmp);
	for (size_t i = 0; i < u.n; i++) {
		int first = i == 0 || strcmp(u.v[i].s.name, u.v[i - 1].s.name);
		/* one kind per family: a later partition's clash is skipped */
		if (!first && u.v[i].s.kind != u.v[i - 1].s.kind) {
			u.v[i].s.kind = u.v[i - 1].s.kind;
			continue;
		}
		snprintf(lab, sizeof lab, "partition=\"%s\"", s->parts[u.v[i].part].name);
		prom_sample(o, &u.v[i].s, lab, first);
	}
	free(u.v);
}

/* One family per call: HELP, TYPE, then a sample per partition (or channel). */
enum fam_kind { F_PART, F_CHAN };
typedef int (*fam_fn)(struct ex_system *s, size_t i, struct out *o, const char *name,
		      const char *lab);

static void family(struct ex_system *s, struct out *o, enum fam_kind k, const char *name,
		   const char *type, const char *help, fam_fn fn)
{
	char lab[256];
	size_t n = k == F_PART ? s->nparts : s->nchans;

	head(o, name, type, help);
	for (size_t i = 0; i < n; i++) {
		if (k == F_PART) {
			snprintf(lab, sizeof lab, "partition=\"%s\"", s->parts[i].name);
		} else {
			const myco_channel_t *m = &s->model->channels[i];
			uint32_t snd = m->nsenders ? m->senders[0] :
				       m->nclients ? m->clients[0] : UINT32_MAX;
			snprintf(lab, sizeof lab, "channel=\"%s\",partition=\"%s\"", m->name,
				 snd < s->nparts ? s->parts[snd].name : "");
		}
		fn(s, i, o, name, lab);
	}
}

#define CO (co_of(s))
#define CP (&co_of(s)->pt[i])
#define PM (s->parts[i].m)

static int f_up(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %d\n", n, l, s->parts[i].state == EX_RUNNING); return 0; }
static int f_restarts(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %u\n", n, l, s->parts[i].restarts); return 0; }
static int f_cpu(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %.6f\n", n, l, (double)(CP->base.cpu_ns + CP->cur.cpu_ns) / 1e9); return 0; }
static int f_budget(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	if (PM->mode == MYCO_MODE_BUDGET && PM->period_ns)
		put(o, "%s{%s} %.6f\n", n, l, (double)PM->runtime_ns / (double)PM->period_ns);
	return 0;
}
static int f_rss(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->cur.rss); return 0; }
static int f_memlim(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	if (PM->memory_bytes)
		put(o, "%s{%s} %" PRIu64 "\n", n, l, PM->memory_bytes);
	return 0;
}
static int f_faults(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	put(o, "%s{%s,kind=\"minor\"} %" PRIu64 "\n", n, l, CP->base.minflt + CP->cur.minflt);
	put(o, "%s{%s,kind=\"major\"} %" PRIu64 "\n", n, l, CP->base.majflt + CP->cur.majflt);
	return 0;
}
static int f_csw(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	put(o, "%s{%s,kind=\"voluntary\"} %" PRIu64 "\n", n, l, CP->base.vcsw + CP->cur.vcsw);
	put(o, "%s{%s,kind=\"involuntary\"} %" PRIu64 "\n", n, l, CP->base.ivcsw + CP->cur.ivcsw);
	return 0;
}
static int f_misses(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	uint64_t ov, m = deadline_misses(&s->parts[i], &ov);
	put(o, "%s{%s} %" PRIu64 "\n", n, l, m);
	return 0;
}
static int f_overruns(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	uint64_t ov;
	deadline_misses(&s->parts[i], &ov);
	put(o, "%s{%s} %" PRIu64 "\n", n, l, ov);
	return 0;
}
static int f_hbage(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	uint64_t now = myco_now(), seen = s->parts[i].hb_seen_ns;
	if (PM->heartbeat_ns && seen)
		put(o, "%s{%s} %.6f\n", n, l, now > seen ? (double)(now - seen) / 1e9 : 0.0);
	return 0;
}
static int f_hblate(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->hb_late); return 0; }
static int f_trace(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	myco_trace_stats_t st;
	if (!CP->rd)
		return 0;
	myco_trace_reader_stats(CP->rd, &st);
	put(o, "%s{%s} %" PRIu64 "\n", n, l,
	    strstr(n, "lost") ? st.lost : strstr(n, "dropped") ? st.dropped :
	    strstr(n, "corrupt") ? st.corrupt : st.events);
	return 0;
}
static int f_loops(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->loop_iters); return 0; }
static int f_io(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->io_inflight); return 0; }
static int f_tasks(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->tasks_ready); return 0; }
static int f_switch(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->switches); return 0; }
static int f_steal(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CP->steals); return 0; }
static int f_schedlat(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ hist_out(o, n, l, &CP->sched_lat); return 0; }
static int f_loans(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	struct ex_loan_stat st;
	if (myco__ex_loans_stat(s, &s->parts[i], &st) < 0)
		return 0;               /* not elastic */
	uint64_t v = !strcmp(n, "myco_partition_cores_granted") ? st.granted :
		     !strcmp(n, "myco_partition_cores_min") ? st.min :
		     !strcmp(n, "myco_partition_cores_max") ? st.max :
		     !strcmp(n, "myco_loan_grants_total") ? st.grants :
		     !strcmp(n, "myco_loan_revokes_total") ? st.revokes : st.loop_grants;
	put(o, "%s{%s} %" PRIu64 "\n", n, l, v);
	return 0;
}

static int chan_stats(struct ex_system *s, size_t i, myco_chan_stats_t *st)
{
	memset(st, 0, sizeof *st);
	return s->chan_owners[i] ? myco_chan_owner_stats(s->chan_owners[i], st) : -ENOENT;
}
static int f_cmsgs(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ myco_chan_stats_t st; chan_stats(s, i, &st); put(o, "%s{%s} %" PRIu64 "\n", n, l, st.sent); return 0; }
static int f_cdepth(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ myco_chan_stats_t st; chan_stats(s, i, &st); put(o, "%s{%s} %" PRIu64 "\n", n, l, st.pending); return 0; }
static int f_cover(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{
	myco_chan_stats_t st;
	chan_stats(s, i, &st);
	put(o, "%s{%s} %" PRIu64 "\n", n, l, st.dropped + st.rejected);
	return 0;
}
static int f_cwake(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ myco_chan_stats_t st; chan_stats(s, i, &st); put(o, "%s{%s} %" PRIu64 "\n", n, l, st.wakeups); return 0; }
static int f_cbytes(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CO->ch[i].bytes); return 0; }
static int f_cwaits(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ put(o, "%s{%s} %" PRIu64 "\n", n, l, CO->ch[i].waits); return 0; }
static int f_clat(struct ex_system *s, size_t i, struct out *o, const char *n, const char *l)
{ hist_out(o, n, l, &CO->ch[i].lat); return 0; }

long myco__ex_collect_prom(struct ex_system *s, char **outp)
{
	struct out o = { malloc(65536), 0, 65536, 0 };

	if (!o.b)
		return -ENOMEM;
	o.b[0] = 0;
	if (co_of(s)) {
		family(s, &o, F_PART, "myco_partition_up", "gauge",
		       "1 when the partition's process runs and is ready.", f_up);
		family(s, &o, F_PART, "myco_partition_restarts_total", "counter",
		       "Restarts of the partition.", f_restarts);
		family(s, &o, F_PART, "myco_partition_cpu_seconds_total", "counter",
		       "CPU time (user + system) of the partition's processes.", f_cpu);
		family(s, &o, F_PART, "myco_partition_cpu_budget_ratio", "gauge",
		       "Declared CPU budget, runtime / period (budget mode only).", f_budget);
		family(s, &o, F_PART, "myco_partition_memory_rss_bytes", "gauge",
		       "Resident memory of the partition's process.", f_rss);
		family(s, &o, F_PART, "myco_partition_memory_limit_bytes", "gauge",
		       "Declared memory limit.", f_memlim);
		family(s, &o, F_PART, "myco_partition_page_faults_total", "counter",
		       "Page faults, minor and major.", f_faults);
		family(s, &o, F_PART, "myco_partition_context_switches_total", "counter",
		       "Context switches of the partition's main thread.", f_csw);
		family(s, &o, F_PART, "myco_partition_deadline_misses_total", "counter",
		       "EDF jobs that finished after their deadline.", f_misses);
		family(s, &o, F_PART, "myco_partition_budget_overruns_total", "counter",
		       "EDF jobs that used more CPU than their declared runtime.", f_overruns);
		family(s, &o, F_PART, "myco_partition_heartbeat_age_seconds", "gauge",
		       "Time since the partition's heartbeat counter last moved.", f_hbage);
		family(s, &o, F_PART, "myco_partition_heartbeat_late_total", "counter",
		       "Heartbeat gaps longer than two periods.", f_hblate);
		family(s, &o, F_PART, "myco_trace_events_total", "counter",
		       "Trace events the collector read.", f_trace);
		family(s, &o, F_PART, "myco_trace_lost_total", "counter",
		       "Trace events overwritten before the collector read them.", f_trace);
		family(s, &o, F_PART, "myco_trace_dropped_total", "counter",
		       "Trace events a full drop-newest ring refused.", f_trace);
		family(s, &o, F_PART, "myco_trace_corrupt_total", "counter",
		       "Ring slots or indices that failed validation.", f_trace);
		family(s, &o, F_PART, "myco_rt_loop_iterations_total", "counter",
		       "Runtime loop iterations (rt traced).", f_loops);
		family(s, &o, F_PART, "myco_rt_tasks_ready", "gauge",
		       "Tasks ready to run at the last loop iteration seen (rt traced).", f_tasks);
		family(s, &o, F_PART, "myco_rt_io_inflight", "gauge",
		       "I/O operations in flight at the last loop iteration seen (rt traced).", f_io);
		family(s, &o, F_PART, "myco_rt_coroutine_switches_total", "counter",
		       "Coroutine switches (rt traced).", f_switch);
		family(s, &o, F_PART, "myco_rt_steals_total", "counter",
		       "Tasks stolen between loops (rt traced).", f_steal);
		family(s, &o, F_PART, "myco_rt_sched_latency_seconds", "histogram",
		       "Runtime scheduling latency, ready to running (rt traced).", f_schedlat);
		family(s, &o, F_CHAN, "myco_channel_messages_total", "counter",
		       "Messages sent on the channel.", f_cmsgs);
		family(s, &o, F_CHAN, "myco_channel_depth", "gauge",
		       "Messages sent and not yet done.", f_cdepth);
		family(s, &o, F_CHAN, "myco_channel_overflows_total", "counter",
		       "Sends refused or messages dropped because the channel was full.", f_cover);
		family(s, &o, F_CHAN, "myco_channel_wakeups_total", "counter",
		       "Futex or eventfd wake-ups issued.", f_cwake);
		family(s, &o, F_CHAN, "myco_channel_bytes_total", "counter",
		       "Payload bytes sent (chan traced).", f_cbytes);
		family(s, &o, F_CHAN, "myco_channel_waits_total", "counter",
		       "Times an endpoint went to sleep (chan traced).", f_cwaits);
		family(s, &o, F_CHAN, "myco_channel_latency_seconds", "histogram",
		       "Send-to-receive latency from chan.send/chan.recv events (chan traced).",
		       f_clat);
		family(s, &o, F_PART, "myco_partition_cores_granted", "gauge",
		       "Cores an elastic partition holds now: its minimum and the cores lent to it.",
		       f_loans);
		family(s, &o, F_PART, "myco_partition_cores_min", "gauge",
		       "An elastic partition's declared minimum (cores MIN..MAX elastic).", f_loans);
		family(s, &o, F_PART, "myco_partition_cores_max", "gauge",
		       "An elastic partition's declared maximum.", f_loans);
		family(s, &o, F_PART, "myco_loan_grants_total", "counter",
		       "Cores the arbiter lent the partition from the pool.", f_loans);
		family(s, &o, F_PART, "myco_loan_revokes_total", "counter",
		       "Lent cores the arbiter took back.", f_loans);
		family(s, &o, F_PART, "myco_loan_loop_grants_total", "counter",
		       "Grants the partition's runtime loops acted on (a grant undone before a "
		       "sleeping loop saw it is not counted).", f_loans);
		for (size_t i = 0; i < s->nparts; i++) {
			struct ex_loan_stat st;
			if (myco__ex_loans_stat(s, &s->parts[i], &st) < 0)
				continue;
			head(&o, "myco_loan_pool_cores", "gauge",
			     "Cores the elastic partitions may borrow: the machine less the "
			     "reservations and the elastic minimums.");
			put(&o, "myco_loan_pool_cores %u\n", st.pool);
			head(&o, "myco_loan_lent_cores", "gauge", "Pool cores lent now.");
			put(&o, "myco_loan_lent_cores %u\n", st.lent);
			break;
		}
		user_metrics(s, &o);
	}
	if (o.err) {
		free(o.b);
		return o.err;
	}
	*outp = o.b;
	return (long)o.len;
}
