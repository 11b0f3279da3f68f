/*
 * chaos_cmd.c: `myco chaos` (docs/chaos.md).
 *
 *   myco chaos run [NAME] [--fault STATEMENT]... [--seed N] [--duration T]
 *                  [--system FILE] [--runtime-dir DIR] [--settle SECONDS]
 *                  [--quiet] [--json]
 *   myco chaos status|stop [--runtime-dir DIR] [--json]
 *
 * `run` takes the experiment `chaos NAME { ... }` of the system file, or
 * builds one named `cli` from --fault statements (the same statements,
 * checked by the language against the same file), sends it to the
 * executive through the control socket (starting `myco run FILE` first
 * when --system is given and no system runs), prints the timeline of
 * events as they come, waits for the experiment's end and for the
 * receiving partitions' counts to settle, and prints the verdict: did the
 * declared SLOs hold (no `slo-breach` event in the window), were messages
 * lost or duplicated (the gauges seq_lost and seq_duplicated of the
 * partitions that count them), how many restarts and escalations.  Exit 0
 * when everything held, 1 when not, 2 for a usage or start-up error.
 * Not for: applying faults (exec/chaos.c, lib/chan/chaos.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "myco/common.h"
#include "myco/lang.h"
#include "cmd.h"
#include "chaos.h"

struct opts {
	const char *name;
	const char *system;
	const char *runtime_dir;
	const char *seed;
	const char *duration;
	const char **faults;
	size_t nfaults;
	double settle_s;
	bool json, quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: myco chaos run [NAME] [--fault STATEMENT]... [--seed N] [--duration T]\n"
		"                      [--system FILE] [--runtime-dir DIR] [--settle SECONDS]\n"
		"                      [--quiet] [--json]\n"
		"       myco chaos status|stop [--runtime-dir DIR] [--json]\n"
		"NAME is a `chaos NAME { ... }` block of the system file; --fault takes one\n"
		"fault statement of that block, e.g. --fault 'kill any every 100 ms'\n"
		"--fault 'delay numbers 2 ms jitter 1 ms'.  With --system FILE and no running\n"
		"system, the system is started for the experiment and stopped after it.\n");
}

static json_t *call(const char *runtime_dir, json_t *req)
{
	int fd = myco__cli_connect("chaos", runtime_dir);
	json_t *rep;

	if (fd < 0) {
		json_decref(req);
		return NULL;
	}
	rep = myco__cli_call(fd, req);
	close(fd);
	json_decref(req);
	return rep;
}

static json_t *status(const char *runtime_dir)
{
	return call(runtime_dir, json_pack("{s:s,s:s}", "cmd", "chaos", "action", "status"));
}

/* The experiment to run, from the system file: NAME, or `cli` built from
 * the --fault statements.  0, or -1 after printing the diagnostics. */
static int build(const struct opts *o, const char *file, struct myco__chaos_exp *e)
{
	char *extra = NULL;
	size_t len = 0;
	FILE *m = NULL;
	myco_system_t *sys = NULL;
	myco_diags_t *d = NULL;
	const char *want = o->name;
	char err[256];
	int rc = -1;

	if (o->nfaults || o->seed || o->duration) {
		m = open_memstream(&extra, &len);
		if (!m)
			return -1;
		if (o->nfaults) {
			want = "cli";
			fprintf(m, "chaos cli {\n");
			for (size_t i = 0; i < o->nfaults; i++) {
				size_t n = strlen(o->faults[i]);

				while (n && (o->faults[i][n - 1] == ';' || o->faults[i][n - 1] == ' '))
					n--;
				fprintf(m, "%.*s;\n", (int)n, o->faults[i]);
			}
			if (o->seed)
				fprintf(m, "seed %s;\n", o->seed);
			if (o->duration)
				fprintf(m, "duration %s;\n", o->duration);
			fprintf(m, "}\n");
		}
		fclose(m);
	}
	if (!want) {
		fprintf(stderr, "myco chaos run: name an experiment of %s or give --fault\n", file);
		goto out;
	}
	rc = myco_lang_load_file_extra(file, "--fault", extra, extra ? len : 0, &sys, &d);
	if (d && myco_diags_count(d))
		myco_diags_print(d, stderr, isatty(2));
	if (rc < 0) {
		if (rc != -MYCO_ESYNTAX)
			fprintf(stderr, "myco chaos run: %s: %s\n", file, myco_strerror(rc));
		rc = -1;
		goto out;
	}
	rc = -1;
	for (size_t i = 0; i < sys->nchaos; i++) {
		if (strcmp(sys->chaos[i].name, want))
			continue;
		if (myco__chaos_from_model(&sys->chaos[i], e, err, sizeof(err)) < 0) {
			fprintf(stderr, "myco chaos run: %s\n", err);
			goto out;
		}
		/* --seed and --duration also override a named experiment */
		if (!o->nfaults && o->seed)
			e->seed = strtoull(o->seed, NULL, 10);
		rc = 0;
		goto out;
	}
	fprintf(stderr, "myco chaos run: %s declares no experiment `%s`%s\n", file, want,
		sys->nchaos ? "" : " (it has no chaos block)");
out:
	myco_system_free(sys);
	myco_diags_free(d);
	free(extra);
	return rc;
}

static double now_s(void)
{
	return (double)myco_now() / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* `myco run FILE --runtime-dir DIR` as a child; waits for every partition
 * to run.  The pid, or -1. */
static pid_t start_system(const char *file, const char *dir)
{
	pid_t pid = fork();
	double end;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		char self[4096], log[4200];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		int fd;

		if (n <= 0)
			_exit(127);
		/* the executive's own lines go to DIR.log, not into the timeline */
		snprintf(log, sizeof(log), "%s.log", dir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		self[n] = 0;
		execl(self, "myco", "run", file, "--runtime-dir", dir, (char *)NULL);
		_exit(127);
	}
	end = now_s() + 120;
	while (now_s() < end) {
		char sock[4200];
		struct stat st;
		int wst;

		if (waitpid(pid, &wst, WNOHANG) == pid) {
			fprintf(stderr, "myco chaos run: `myco run %s` exited\n", file);
			return -1;
		}
		snprintf(sock, sizeof(sock), "%s/control.sock", dir);
		if (stat(sock, &st) == 0) {
			json_t *r = call(dir, json_pack("{s:s}", "cmd", "ps"));
			json_t *ps = r ? json_object_get(r, "partitions") : NULL;
			size_t i, n = json_array_size(ps);
			bool all = n > 0;

			for (i = 0; i < n; i++) {
				const char *s = json_string_value(json_object_get(json_array_get(ps, i), "state"));
				if (!s || strcmp(s, "running"))
					all = false;
			}
			json_decref(r);
			if (all)
				return pid;
		}
		sleep_ms(100);
	}
	fprintf(stderr, "myco chaos run: the system did not come up within 120 s\n");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

static void stop_system(const char *dir, pid_t pid)
{
	json_decref(call(dir, json_pack("{s:s,s:b}", "cmd", "stop", "all", 1)));
	waitpid(pid, NULL, 0);
}

struct tally {
	long kills, restarts, escalations, breaches, hung, chaos, exits, stopped;
};

static bool shown(const char *kind)
{
	static const char *const k[] = { "chaos-start", "chaos", "chaos-end", "kill", "exit",
		"restarted", "hung", "escalate", "group-stop", "system-stop", "slo-breach",
		"slo-ok", "health", "heal", "heal-limited", "switch", "degraded", NULL };

	for (size_t i = 0; k[i]; i++)
		if (!strcmp(k[i], kind))
			return true;
	return false;
}

/* New events since *next (seq): counted, printed (unless quiet/json),
 * appended to tl (json) when given. */
static void poll_events(const char *dir, uint64_t *next, double t0_ns, struct tally *ty,
			const struct opts *o, json_t *tl)
{
	json_t *r = call(dir, json_pack("{s:s}", "cmd", "events"));
	json_t *ev = r ? json_object_get(r, "events") : NULL;

	for (size_t i = 0; i < json_array_size(ev); i++) {
		json_t *e = json_array_get(ev, i);
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *part = json_string_value(json_object_get(e, "partition"));
		double t = ((double)json_integer_value(json_object_get(e, "mono_ns")) - t0_ns) / 1e9;
		struct tally *tl_ = ty;

		if (seq < *next || !kind)
			continue;
		*next = seq + 1;
		if (!strcmp(kind, "kill"))
			tl_->kills++;
		else if (!strcmp(kind, "restarted"))
			tl_->restarts++;
		else if (!strcmp(kind, "escalate"))
			tl_->escalations++;
		else if (!strcmp(kind, "slo-breach"))
			tl_->breaches++;
		else if (!strcmp(kind, "hung"))
			tl_->hung++;
		else if (!strcmp(kind, "exit"))
			tl_->exits++;
		else if (!strcmp(kind, "system-stop"))
			tl_->stopped++;
		if (!shown(kind))
			continue;
		if (tl && strncmp(kind, "chaos", 5) == 0)
			json_array_append(tl, e);
		if (!o->json && !o->quiet)
			printf("%+9.3f s  %-12s %-12s %s\n", t, part && *part ? part : "-", kind,
			       json_string_value(json_object_get(e, "detail")));
	}
	if (!o->json && !o->quiet)
		fflush(stdout);
	json_decref(r);
}

static int run(const struct opts *o)
{
	char dir_buf[4096] = "", file[8192];
	const char *dir = o->runtime_dir;
	struct myco__chaos_exp *e = calloc(1, sizeof(*e));
	json_t *st = NULL, *req, *rep, *tl = json_array(), *seq = NULL, *fin = NULL;
	pid_t sys_pid = 0;
	struct tally t = { 0 };
	uint64_t next;
	double t0_ns, settle_end;
	long long lost = -1, dup = -1, slos = 0;
	bool held;
	int rc = 2;

	if (!e || !tl)
		goto out;
	/* the system: the running one, or start it */
	if (o->system) {
		char sock[4200];
		struct stat sb;

		if (!realpath(o->system, file)) {
			fprintf(stderr, "myco chaos run: %s: %s\n", o->system, strerror(errno));
			goto out;
		}
		if (!dir) {
			snprintf(dir_buf, sizeof(dir_buf), "/tmp/myco-chaos-%d", (int)getpid());
			dir = dir_buf;
		}
		if (build(o, file, e) < 0)
			goto out;
		snprintf(sock, sizeof(sock), "%s/control.sock", dir);
		st = stat(sock, &sb) == 0 ? status(dir) : NULL;
		if (!st) {
			if (!o->json)
				printf("starting `myco run %s` (runtime dir %s, its log %s.log)\n",
				       file, dir, dir);
			sys_pid = start_system(file, dir);
			if (sys_pid < 0)
				goto out;
		}
	} else {
		st = status(dir);
		if (!st || !json_is_true(json_object_get(st, "ok"))) {
			fprintf(stderr, "myco chaos run: no running system (start one, or give --system FILE)\n");
			goto out;
		}
		snprintf(file, sizeof(file), "%s", json_string_value(json_object_get(st, "system_file"))
			 ? json_string_value(json_object_get(st, "system_file")) : "");
		if (build(o, file, e) < 0)
			goto out;
	}
	/* start it */
	req = myco__chaos_to_json(e);
	if (!req)
		goto out;
	json_object_set_new(req, "cmd", json_string("chaos"));
	json_object_set_new(req, "action", json_string("run"));
	rep = call(dir, req);
	if (!rep || !json_is_true(json_object_get(rep, "ok"))) {
		fprintf(stderr, "myco chaos run: %s\n", rep ? json_string_value(json_object_get(rep, "error"))
			: "the executive did not answer");
		json_decref(rep);
		goto out;
	}
	next = (uint64_t)json_integer_value(json_object_get(rep, "t0_seq"));
	slos = json_integer_value(json_object_get(rep, "slos"));
	json_decref(rep);
	t0_ns = (double)myco_now();
	if (!o->json)
		printf("experiment %s: %u faults, seed %llu\n", e->name, e->nfaults,
		       (unsigned long long)e->seed);
	/* timeline until it ends */
	for (;;) {
		json_t *s2;
		bool running;

		poll_events(dir, &next, t0_ns, &t, o, tl);
		s2 = status(dir);
		if (!s2) {
			fprintf(stderr, "myco chaos run: lost the executive\n");
			rc = 1;
			goto out;
		}
		running = json_is_true(json_object_get(s2, "running"));
		json_decref(s2);
		if (!running)
			break;
		sleep_ms(200);
	}
	/* let the receivers' counts settle: in-flight messages arrive */
	settle_end = now_s() + o->settle_s;
	for (;;) {
		poll_events(dir, &next, t0_ns, &t, o, tl);
		json_decref(fin);
		fin = status(dir);
		seq = fin ? json_object_get(fin, "seq") : NULL;
		if (json_is_object(seq)) {
			lost = json_integer_value(json_object_get(seq, "lost"));
			dup = json_integer_value(json_object_get(seq, "duplicated"));
		}
		if ((lost <= 0 && dup <= 0) || now_s() >= settle_end)
			break;
		sleep_ms(200);
	}
	held = t.breaches == 0 && t.escalations == 0 && t.stopped == 0 && lost <= 0 && dup <= 0;
	if (o->json) {
		json_t *v = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
				      "held", held, "slos", (json_int_t)slos,
				      "slo_breaches", (json_int_t)t.breaches,
				      "kills", (json_int_t)t.kills, "restarts", (json_int_t)t.restarts,
				      "escalations", (json_int_t)t.escalations,
				      "hung", (json_int_t)t.hung, "system_stopped", (json_int_t)t.stopped);
		json_t *out = json_pack("{s:s,s:I,s:o,s:o,s:O}", "experiment", e->name,
					"seed", (json_int_t)e->seed, "verdict", v, "timeline", tl,
					"applied", fin ? json_object_get(fin, "applied") : json_null());
		tl = NULL;
		json_object_set_new(v, "lost", lost < 0 ? json_null() : json_integer(lost));
		json_object_set_new(v, "duplicated", dup < 0 ? json_null() : json_integer(dup));
		char *txt = json_dumps(out, JSON_COMPACT);
		if (txt)
			puts(txt);
		free(txt);
		json_decref(out);
	} else {
		printf("\nverdict: %s\n", held ? "HELD" : "NOT HELD");
		if (slos)
			printf("  SLOs:         %lld declared, %ld breach event%s in the window\n",
			       slos, t.breaches, t.breaches == 1 ? "" : "s");
		else
			printf("  SLOs:         none declared (the verdict covers loss, duplication, "
			       "restarts and escalations)\n");
		if (lost < 0)
			printf("  messages:     not counted (no partition exports seq_lost)\n");
		else
			printf("  messages:     %lld lost, %lld duplicated (as counted by the receiving "
			       "partition%s)\n", lost, dup, "s");
		printf("  kills:        %ld, restarts %ld, hung %ld, escalations %ld%s\n",
		       t.kills, t.restarts, t.hung, t.escalations,
		       t.stopped ? ", the system stopped" : "");
	}
	rc = held ? 0 : 1;
out:
	if (sys_pid > 0)
		stop_system(dir, sys_pid);
	json_decref(st);
	json_decref(fin);
	json_decref(tl);
	free(e);
	return rc;
}

int myco_cmd_chaos(int argc, char **argv)
{
	struct opts o = { .settle_s = 10.0 };
	const char *action = argc > 1 ? argv[1] : NULL;
	int rc;

	if (!action || !strcmp(action, "--help") || !strcmp(action, "-h")) {
		usage(action ? stdout : stderr);
		return action ? 0 : 2;
	}
	o.faults = calloc((size_t)argc, sizeof(*o.faults));
	if (!o.faults)
		return 2;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (!strcmp(a, "--json"))
			o.json = true;
		else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
			o.quiet = true;
		else if (!strcmp(a, "--fault") && more)
			o.faults[o.nfaults++] = argv[++i];
		else if (!strcmp(a, "--seed") && more)
			o.seed = argv[++i];
		else if (!strcmp(a, "--duration") && more)
			o.duration = argv[++i];
		else if (!strcmp(a, "--system") && more)
			o.system = argv[++i];
		else if (!strcmp(a, "--runtime-dir") && more)
			o.runtime_dir = argv[++i];
		else if (!strcmp(a, "--settle") && more)
			o.settle_s = atof(argv[++i]);
		else if (a[0] != '-' && !o.name)
			o.name = a;
		else {
			fprintf(stderr, "myco chaos: unexpected argument '%s'\n", a);
			usage(stderr);
			free(o.faults);
			return 2;
		}
	}
	if (o.seed && strspn(o.seed, "0123456789") != strlen(o.seed)) {
		fprintf(stderr, "myco chaos: --seed takes a whole number\n");
		free(o.faults);
		return 2;
	}
	if (o.duration && !o.nfaults) {
		fprintf(stderr, "myco chaos: --duration goes with --fault (a named experiment "
			"has its own `duration`)\n");
		free(o.faults);
		return 2;
	}
	if (!strcmp(action, "run")) {
		rc = run(&o);
	} else if (!strcmp(action, "status") || !strcmp(action, "stop")) {
		json_t *r = call(o.runtime_dir, json_pack("{s:s,s:s}", "cmd", "chaos", "action", action));
		char *txt;

		rc = r && json_is_true(json_object_get(r, "ok")) ? 0 : 1;
		if (!r) {
			rc = 2;
		} else if (o.json || rc) {
			txt = json_dumps(r, JSON_COMPACT);
			if (rc)
				fprintf(stderr, "myco chaos %s: %s\n", action,
					json_string_value(json_object_get(r, "error")));
			else if (txt)
				puts(txt);
			free(txt);
		} else {
			json_t *seq = json_object_get(r, "seq");
			printf("experiment: %s%s\n", json_string_value(json_object_get(r, "name"))
			       ? json_string_value(json_object_get(r, "name")) : "none",
			       json_is_true(json_object_get(r, "running")) ? " (running)" : "");
			if (json_is_object(seq))
				printf("messages: %lld lost, %lld duplicated (receiving partitions' counts)\n",
				       (long long)json_integer_value(json_object_get(seq, "lost")),
				       (long long)json_integer_value(json_object_get(seq, "duplicated")));
		}
		json_decref(r);
	} else {
		fprintf(stderr, "myco chaos: unknown action '%s'\n", action);
		usage(stderr);
		rc = 2;
	}
	free(o.faults);
	return rc;
}
