/*
 * trace_cmds.c: `myco trace` and `myco top`, clients of the executive's
 * collector (exec/collect.c) over the control socket.
 *   myco trace [on|off CATS]            show or switch trace categories
 *   myco trace record -o FILE [--seconds N] [--cats CATS]
 *                                       a Chrome JSON trace (Perfetto UI,
 *                                       chrome://tracing): a process per
 *                                       partition, a track per thread, flow
 *                                       arrows from each traced channel send
 *                                       to its receive
 *   myco top [--json] [--once] [--sort cpu|mem|msgs|restarts|lat|name]
 * Not for: the collector itself or the ring format (lib/trace).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "myco/common.h"
#include "myco/trace.h"
#include "cmd.h"

#include <jansson.h>

static volatile sig_atomic_t interrupted;
static void on_int(int sig) { (void)sig; interrupted = 1; }

static void nap_ms(long ms)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };
	while (!interrupted && nanosleep(&d, &d) < 0 && errno == EINTR)
		;
}

/* One request on a connection of its own (the executive answers one
 * request per connection); REQ is consumed. */
static json_t *call(const char *rdir, json_t *req, const char *what)
{
	int fd = myco__cli_connect(what, rdir);
	json_t *rep = fd >= 0 ? myco__cli_call(fd, req) : NULL;

	if (fd >= 0)
		close(fd);
	json_decref(req);
	if (fd < 0)
		return NULL;
	if (!rep) {
		fprintf(stderr, "myco %s: no answer from the executive\n", what);
		return NULL;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		fprintf(stderr, "myco %s: %s\n", what,
			json_string_value(json_object_get(rep, "error")));
		json_decref(rep);
		return NULL;
	}
	return rep;
}

/* ---- myco trace record -------------------------------------------------- */

struct rec {
	FILE *f;
	int first;
	uint64_t t0;           /* first event's ts: the trace starts at 0 */
	json_t *parts;         /* names by index */
	json_t *chans;         /* {name, id} */
	json_t *seen;          /* "pid/tid" -> 1: thread names written */
	json_t *pseen;         /* pid -> 1: process names written */
	uint64_t nev, nflow;
};

static void emit(struct rec *r, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		fprintf(r->f, "%s\n%s", r->first ? "" : ",", s);
		r->first = 0;
		free(s);
	}
	json_decref(o);
}

static const char *chan_name(struct rec *r, uint64_t id)
{
	size_t i;
	json_t *c;
	json_array_foreach(r->chans, i, c)
		if ((uint64_t)json_integer_value(json_object_get(c, "id")) == id)
			return json_string_value(json_object_get(c, "name"));
	return "?";
}

static double us(struct rec *r, uint64_t ts)
{
	return ts >= r->t0 ? (double)(ts - r->t0) / 1000.0 : 0.0;
}

static void meta(struct rec *r, int pid, int tid, int ring)
{
	char key[64];
	snprintf(key, sizeof key, "%d", pid);
	if (!json_object_get(r->pseen, key)) {
		json_object_set_new(r->pseen, key, json_true());
		const char *pn = json_string_value(json_array_get(r->parts, (size_t)pid - 1));
		emit(r, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "ph", "M", "name", "process_name",
				  "pid", pid, "tid", 0, "args", "name", pn ? pn : "?"));
		emit(r, json_pack("{s:s,s:s,s:i,s:i,s:{s:i}}", "ph", "M", "name",
				  "process_sort_index", "pid", pid, "tid", 0, "args", "sort_index", pid));
	}
	snprintf(key, sizeof key, "%d/%d", pid, tid);
	if (!json_object_get(r->seen, key)) {
		char tn[64];
		json_object_set_new(r->seen, key, json_true());
		snprintf(tn, sizeof tn, "thread %d (ring %d)", tid, ring);
		emit(r, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "ph", "M", "name", "thread_name",
				  "pid", pid, "tid", tid, "args", "name", tn));
	}
}

/* One event array from trace-read: [seq, ts, part, ring, tid, id, a0, a1, a2, str, level] */
static void record_event(struct rec *r, json_t *e)
{
	uint64_t ts = (uint64_t)json_integer_value(json_array_get(e, 1));
	int part = (int)json_integer_value(json_array_get(e, 2));
	int ring = (int)json_integer_value(json_array_get(e, 3));
	int tid = (int)json_integer_value(json_array_get(e, 4));
	unsigned id = (unsigned)json_integer_value(json_array_get(e, 5));
	uint64_t a0 = (uint64_t)json_integer_value(json_array_get(e, 6));
	uint64_t a1 = (uint64_t)json_integer_value(json_array_get(e, 7));
	uint64_t a2 = (uint64_t)json_integer_value(json_array_get(e, 8));
	const char *str = json_string_value(json_array_get(e, 9));
	int level = (int)json_integer_value(json_array_get(e, 10));
	const char *en = myco_trace_ev_name(id);
	int pid = part + 1;
	char name[128];

	if (!r->nev)
		r->t0 = ts;
	r->nev++;
	meta(r, pid, tid, ring);
	if (!en)
		en = "?";
	if (id >= MYCO_EV_CHAN_SEND && id <= MYCO_EV_CHAN_WAKE) {
		const char *cn = chan_name(r, a0);
		snprintf(name, sizeof name, "%s %s", en, cn);
		/* a 0.1 us slice, so that a flow arrow can bind to it */
		emit(r, json_pack("{s:s,s:s,s:s,s:i,s:i,s:f,s:f,s:{s:s,s:I,s:I,s:I}}",
			"ph", "X", "name", name, "cat", "chan", "pid", pid, "tid", tid,
			"ts", us(r, ts), "dur", 0.1, "args", "channel", cn,
			"msg", (json_int_t)a1, "lane", (json_int_t)(a2 >> 32),
			"detail", (json_int_t)(a2 & 0xffffffffu)));
		if (id == MYCO_EV_CHAN_SEND || id == MYCO_EV_CHAN_RECV) {
			char fid[64];
			snprintf(fid, sizeof fid, "%llx:%llx:%llx", (unsigned long long)a0,
				 (unsigned long long)(a2 >> 32), (unsigned long long)a1);
			if (id == MYCO_EV_CHAN_SEND)
				emit(r, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:f}", "ph", "s",
					"id", fid, "name", cn, "cat", "flow", "pid", pid, "tid", tid,
					"ts", us(r, ts)));
			else {
				emit(r, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:f}", "ph", "f",
					"bp", "e", "id", fid, "name", cn, "cat", "flow", "pid", pid,
					"tid", tid, "ts", us(r, ts)));
				r->nflow++;
			}
		}
		return;
	}
	if (id == MYCO_EV_LOG) {
		static const char *const lv[] = { "", "error", "warn", "info", "debug" };
		emit(r, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:f,s:{s:s,s:s}}", "ph", "i",
			"s", "t", "name", str ? str : "", "cat", "log", "pid", pid, "tid", tid,
			"ts", us(r, ts), "args", "level", level >= 1 && level <= 4 ? lv[level] : "?",
			"message", str ? str : ""));
		return;
	}
	if (id == MYCO_EV_USER)
		snprintf(name, sizeof name, "%s", str && *str ? str : "user");
	else if (id >= MYCO_EV_EXEC_SPAWN && id <= MYCO_EV_EXEC_OOM)
		snprintf(name, sizeof name, "%s %s", en, str ? str : "");
	else
		snprintf(name, sizeof name, "%s", en);
	uint32_t cat = myco_trace_ev_cat(id);
	const char *cn = cat ? myco_trace_cat_name((unsigned)__builtin_ctz(cat)) : NULL;
	emit(r, json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:f,s:{s:I,s:I,s:I}}", "ph", "i",
		"s", "t", "name", name, "cat", cn ? cn : "other",
		"pid", pid, "tid", tid, "ts", us(r, ts), "args",
		"a0", (json_int_t)a0, "a1", (json_int_t)a1, "a2", (json_int_t)a2));
}

static int trace_record(int argc, char **argv, const char *rdir)
{
	const char *out = NULL, *cats = "chan,rt,sched,exec,user,log:info";
	double secs = 5;
	int rc = 1;

	for (int i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--cats") && i + 1 < argc)
			cats = argv[++i];
		else {
			fprintf(stderr, "myco trace record: unexpected '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!out || secs <= 0) {
		fprintf(stderr, "usage: myco trace record -o FILE [--seconds N] [--cats LIST]\n");
		return 2;
	}
	struct rec r = { .first = 1 };
	json_t *st = call(rdir, json_pack("{s:s}", "cmd", "trace"), "trace record");
	if (!st)
		return 1;
	int prev_bits = (int)json_integer_value(json_object_get(st, "bits"));
	char prev[128];
	snprintf(prev, sizeof prev, "%s", json_string_value(json_object_get(st, "enabled")));
	json_decref(st);
	/* start reading at the collector's present, then switch the categories on */
	json_t *pos = call(rdir, json_pack("{s:s,s:i}", "cmd", "trace-read", "max", 0),
			   "trace record");
	if (!pos)
		goto out_fd;
	json_int_t next = json_integer_value(json_object_get(pos, "next"));
	json_decref(pos);
	json_t *on = call(rdir, json_pack("{s:s,s:s}", "cmd", "trace", "on", cats),
			  "trace record");
	if (!on)
		goto out_fd;
	json_decref(on);
	r.f = fopen(out, "w");
	if (!r.f) {
		fprintf(stderr, "myco trace record: %s: %s\n", out, strerror(errno));
		goto restore;
	}
	r.seen = json_object();
	r.pseen = json_object();
	fprintf(r.f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	uint64_t t0 = myco_now();
	uint64_t lost = 0;
	json_int_t target = -1;         /* set when the time is up: read up to there */
	for (;;) {
		if (target < 0 && (interrupted ||
				   (double)(myco_now() - t0) / 1e9 >= secs)) {
			json_t *end = call(rdir, json_pack("{s:s,s:i}", "cmd", "trace-read", "max", 1),
					   "trace record");
			if (!end)
				goto close;
			target = json_integer_value(json_object_get(end, "next"));
			json_decref(end);
		}
		json_t *rep = call(rdir, json_pack("{s:s,s:I}", "cmd", "trace-read", "from", next),
				   "trace record");
		if (!rep)
			goto close;
		if (!r.parts) {
			r.parts = json_incref(json_object_get(rep, "parts"));
			r.chans = json_incref(json_object_get(rep, "channels"));
		}
		lost += (uint64_t)json_integer_value(json_object_get(rep, "lost"));
		next = json_integer_value(json_object_get(rep, "next"));
		json_t *evs = json_object_get(rep, "events"), *e;
		size_t i, n = json_array_size(evs);
		json_array_foreach(evs, i, e) {
			if (target >= 0 && json_integer_value(json_array_get(e, 0)) >= target)
				break;
			record_event(&r, e);
		}
		json_decref(rep);
		if (target >= 0 && next >= target)
			break;
		if (n < 8192)
			nap_ms(100);
	}
	rc = 0;
close:
	fprintf(r.f, "\n]}\n");
	if (fclose(r.f) != 0)
		rc = 1;
	fprintf(stderr, "myco trace record: %llu events, %llu flows, %llu lost -> %s\n",
		(unsigned long long)r.nev, (unsigned long long)r.nflow,
		(unsigned long long)lost, out);
restore:
	/* put the categories back as they were */
	{
		json_t *req = json_pack("{s:s,s:s}", "cmd", "trace", "off", "all");
		json_t *x = call(rdir, req, "trace record");
		json_decref(x);
		if (prev_bits && strcmp(prev, "none")) {
			char cats2[160];
			int lvl = (prev_bits & (int)MYCO_TRACE_LEVEL_MASK) >> MYCO_TRACE_LEVEL_SHIFT;
			static const char *const lv[] = { "", "error", "warn", "info", "debug" };
			snprintf(cats2, sizeof cats2, "%s", prev);
			if (strstr(prev, "log") && lvl >= 1 && lvl <= 4) {
				char *p = strstr(cats2, "log");
				char tail[160];
				snprintf(tail, sizeof tail, "%s", p + 3);
				snprintf(p, sizeof cats2 - (size_t)(p - cats2), "log:%s%s", lv[lvl], tail);
			}
			x = call(rdir, json_pack("{s:s,s:s}", "cmd", "trace", "on", cats2),
				 "trace record");
			json_decref(x);
		}
	}
	json_decref(r.parts);
	json_decref(r.chans);
	json_decref(r.seen);
	json_decref(r.pseen);
out_fd:
	return rc;
}

static void trace_usage(FILE *f)
{
	fprintf(f, "usage: myco trace [--runtime-dir DIR] [--json]\n"
		   "       myco trace on|off CATS [--runtime-dir DIR]\n"
		   "       myco trace record -o FILE [--seconds N] [--cats CATS] [--runtime-dir DIR]\n"
		   "CATS: comma-separated chan, rt, sched, exec, user, log[:error|warn|info|debug], all\n");
}

int myco_cmd_trace(int argc, char **argv)
{
	const char *rdir = NULL, *verb = NULL, *cats = NULL;
	int json = 0, nrest = 0;
	char *rest[16];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runtime-dir") && i + 1 < argc)
			rdir = argv[++i];
		else if (!strncmp(argv[i], "--runtime-dir=", 14))
			rdir = argv[i] + 14;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			trace_usage(stdout);
			return 0;
		} else if (!verb)
			verb = argv[i];
		else if (nrest < 16)
			rest[nrest++] = argv[i];
		else {
			trace_usage(stderr);
			return 2;
		}
	}
	if (verb && !strcmp(verb, "record"))
		return trace_record(nrest, rest, rdir);
	if (verb && strcmp(verb, "on") && strcmp(verb, "off")) {
		trace_usage(stderr);
		return 2;
	}
	if (verb) {
		if (nrest != 1) {
			trace_usage(stderr);
			return 2;
		}
		cats = rest[0];
		uint32_t bits = 0;
		char bad[32];
		if (myco_trace_parse_cats(cats, &bits, bad, sizeof bad) < 0) {
			fprintf(stderr, "myco trace: unknown category '%s' (chan, rt, sched, exec, "
				"user, log[:LEVEL], all)\n", bad);
			return 2;
		}
	}
	json_t *req = json_pack("{s:s}", "cmd", "trace");
	if (verb)
		json_object_set_new(req, verb, json_string(cats));
	json_t *rep = call(rdir, req, "trace");
	if (!rep)
		return 1;
	if (json) {
		char *s = json_dumps(rep, JSON_COMPACT);
		printf("%s\n", s ? s : "{}");
		free(s);
	} else {
		printf("tracing: %s", json_string_value(json_object_get(rep, "enabled")));
		int lvl = (int)json_integer_value(json_object_get(rep, "level"));
		static const char *const lv[] = { "", "error", "warn", "info", "debug" };
		if (lvl >= 1 && lvl <= 4 && strstr(json_string_value(json_object_get(rep, "enabled")), "log"))
			printf(" (log level %s)", lv[lvl]);
		printf("\n");
	}
	json_decref(rep);
	return 0;
}

/* ---- myco top ------------------------------------------------------------ */

static const char *sort_key = "cpu";

static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static int part_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	double dx, dy;

	if (!strcmp(sort_key, "name"))
		return strcmp(json_string_value(json_object_get(x, "name")),
			      json_string_value(json_object_get(y, "name")));
	const char *k = !strcmp(sort_key, "mem") ? "rss_bytes" :
			!strcmp(sort_key, "msgs") ? "msgs_per_s" :
			!strcmp(sort_key, "restarts") ? "restarts" :
			!strcmp(sort_key, "lat") ? "sched_p99_ns" : "cpu_pct";
	dx = num(x, k);
	dy = num(y, k);
	return dx < dy ? 1 : dx > dy ? -1 : 0;      /* largest first */
}

static void fmt_bytes(double b, char *out, size_t cap)
{
	if (b >= 1 << 30)
		snprintf(out, cap, "%.1fG", b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(out, cap, "%.1fM", b / (1 << 20));
	else if (b >= 1 << 10)
		snprintf(out, cap, "%.0fK", b / (1 << 10));
	else
		snprintf(out, cap, "%.0f", b);
}

static void fmt_ns(double ns, char *out, size_t cap)
{
	if (ns <= 0)
		snprintf(out, cap, "-");
	else if (ns >= 1e9)
		snprintf(out, cap, "%.2fs", ns / 1e9);
	else if (ns >= 1e6)
		snprintf(out, cap, "%.2fms", ns / 1e6);
	else if (ns >= 1e3)
		snprintf(out, cap, "%.1fus", ns / 1e3);
	else
		snprintf(out, cap, "%.0fns", ns);
}

static void print_top(json_t *rep, int tty)
{
	json_t *parts = json_object_get(rep, "partitions"), *chans = json_object_get(rep, "channels");
	size_t n = json_array_size(parts), i;
	json_t **v = calloc(n ? n : 1, sizeof *v);
	char a[32], b[32], c[32];

	if (tty)
		printf("\033[H\033[2J");
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(a, sizeof a, "%H:%M:%S", &tm);
	printf("myco top - system %s - %s - tracing %s - sorted by %s\n\n",
	       json_string_value(json_object_get(rep, "system")), a,
	       json_string_value(json_object_get(rep, "trace")), sort_key);
	printf("%-14s %-10s %-10s %7s %6s %7s %8s %8s %9s %8s %9s %6s %8s %6s\n", "PARTITION",
	       "STATE", "HEALTH", "PID", "CPU%", "BUDGET%", "RSS", "MEMLIM", "MSG/S", "RESTARTS",
	       "SCHED p99", "MISSES", "CORES", "PRICE");
	for (i = 0; i < n; i++)
		v[i] = json_array_get(parts, i);
	qsort(v, n, sizeof *v, part_cmp);
	for (i = 0; i < n; i++) {
		json_t *p = v[i];
		double bud = num(p, "budget_pct");
		char bs[16];
		if (bud > 0)
			snprintf(bs, sizeof bs, "%.0f", num(p, "budget_use_pct"));
		else
			snprintf(bs, sizeof bs, "-");
		fmt_bytes(num(p, "rss_bytes"), a, sizeof a);
		fmt_bytes(num(p, "memory_limit_bytes"), b, sizeof b);
		fmt_ns(num(p, "sched_p99_ns"), c, sizeof c);
		/* elastic: cores held / declared maximum; market: credits per slot */
		char cores[24] = "-", price[24] = "-";
		json_t *lo = json_object_get(p, "loans");
		if (json_is_object(lo))
			snprintf(cores, sizeof cores, "%.0f/%.0f", num(lo, "cores_granted"),
				 num(lo, "cores_max"));
		if (json_is_integer(json_object_get(p, "market_price")))
			snprintf(price, sizeof price, "%.0f", num(p, "market_price"));
		printf("%-14s %-10s %-10s %7.0f %6.1f %7s %8s %8s %9.0f %8.0f %9s %6.0f %8s %6s\n",
		       json_string_value(json_object_get(p, "name")),
		       json_string_value(json_object_get(p, "state")),
		       json_string_value(json_object_get(p, "health")), num(p, "pid"),
		       num(p, "cpu_pct"), bs, a, num(p, "memory_limit_bytes") > 0 ? b : "-",
		       num(p, "msgs_per_s"), num(p, "restarts"), c, num(p, "deadline_misses"),
		       cores, price);
	}
	free(v);
	printf("\n%-16s %12s %10s %8s %10s %12s\n", "CHANNEL", "MESSAGES", "MSG/S", "DEPTH",
	       "OVERFLOWS", "LATENCY p99");
	json_t *ch;
	json_array_foreach(chans, i, ch) {
		fmt_ns(num(ch, "latency_p99_ns"), a, sizeof a);
		printf("%-16s %12.0f %10.0f %8.0f %10.0f %12s\n",
		       json_string_value(json_object_get(ch, "name")), num(ch, "messages"),
		       num(ch, "msgs_per_s"), num(ch, "depth"), num(ch, "overflows"), a);
	}
	if (tty)
		printf("\n(Ctrl-C quits; --sort cpu|mem|msgs|restarts|lat|name)\n");
	fflush(stdout);
}

int myco_cmd_top(int argc, char **argv)
{
	const char *rdir = NULL;
	int json = 0, once = 0, count = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runtime-dir") && i + 1 < argc)
			rdir = argv[++i];
		else if (!strncmp(argv[i], "--runtime-dir=", 14))
			rdir = argv[i] + 14;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--once"))
			once = 1;
		else if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--count")) && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sort") && i + 1 < argc) {
			sort_key = argv[++i];
			if (strcmp(sort_key, "cpu") && strcmp(sort_key, "mem") &&
			    strcmp(sort_key, "msgs") && strcmp(sort_key, "restarts") &&
			    strcmp(sort_key, "lat") && strcmp(sort_key, "name")) {
				fprintf(stderr, "myco top: --sort takes cpu, mem, msgs, restarts, lat or name\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: myco top [--json] [--once | -n N] [--sort cpu|mem|msgs|"
				"restarts|lat|name] [--runtime-dir DIR]\n");
			return !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (once)
		count = 1;
	int tty = !json && isatty(STDOUT_FILENO);
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	int rc = 0;
	for (int k = 0; !interrupted && (count < 0 || k < count); k++) {
		json_t *rep = call(rdir, json_pack("{s:s}", "cmd", "top"), "top");
		if (!rep) {
			rc = 1;
			break;
		}
		if (json) {
			char *s = json_dumps(rep, JSON_COMPACT);
			printf("%s\n", s ? s : "{}");
			free(s);
			fflush(stdout);
		} else {
			print_top(rep, tty);
		}
		json_decref(rep);
		if (count < 0 || k + 1 < count)
			nap_ms(1000);
	}
	return rc;
}

