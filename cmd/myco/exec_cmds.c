/*
 * exec_cmds.c: the executive's subcommands of `myco`: run (the executive
 * itself, exec/exec.c) and the control clients ps, stop, restart, kill,
 * logs, events, which talk to a running executive over control.sock in its
 * runtime dir (protocol in exec/control.c).  Each client takes --json (the
 * executive's JSON lines as they come) and --runtime-dir DIR (default: the
 * one system running under the default base dir).
 * Not for: supervision logic (exec/).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "myco/common.h"
#include "cmd.h"


#include <jansson.h>

#include "exec.h"

struct cli {
	const char *cmd;
	const char *runtime_dir;
	const char *name;
	const char *save;          /* health --save FILE */
	bool json, follow, all, verbose;
};

static void client_usage(const char *cmd, FILE *f)
{
	fprintf(f, "usage: myco %s %s[--json] [--runtime-dir DIR]\n", cmd,
		!strcmp(cmd, "ps") ? "[-v] " :
		!strcmp(cmd, "events") ? "[-f] " :
		!strcmp(cmd, "logs") ? "NAME [-f] " :
		!strcmp(cmd, "health") ? "[--save PROFILE] " :
		!strcmp(cmd, "stop") ? "NAME|--all " : "NAME ");
}

/* Returns 0, 1 for --help (exit 0), -1 for a usage error. */
static int parse_client(int argc, char **argv, struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->cmd = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json"))
			c->json = true;
		else if (!strcmp(a, "-f") || !strcmp(a, "--follow"))
			c->follow = true;
		else if (!strcmp(a, "--all"))
			c->all = true;
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			c->verbose = true;
		else if (!strcmp(a, "--runtime-dir") && i + 1 < argc)
			c->runtime_dir = argv[++i];
		else if (!strcmp(a, "--save") && i + 1 < argc && !strcmp(c->cmd, "health"))
			c->save = argv[++i];
		else if (!strncmp(a, "--runtime-dir=", 14))
			c->runtime_dir = a + 14;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		else if (a[0] == '-' || c->name)
			return -1;
		else
			c->name = a;
	}
	return 0;
}

/* Find the runtime dir: the one given, or the single running system. */
static int find_dir(const struct cli *c, char *out, size_t cap)
{
	char base[4096];
	if (c->runtime_dir) {
		snprintf(out, cap, "%s", c->runtime_dir);
		return 0;
	}
	if (myco__exec_default_base(base, sizeof(base)) < 0)
		return -1;
	DIR *d = opendir(base);
	int found = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			char sock[4400];
			struct stat st;
			if (e->d_name[0] == '.')
				continue;
			snprintf(sock, sizeof(sock), "%s/%s/control.sock", base, e->d_name);
			if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
				if (found++ == 0) {
					if (snprintf(out, cap, "%s/%s", base, e->d_name) >= (int)cap)
						found = 2;
				} else
					fprintf(stderr, "myco %s: more than one system runs under %s (%s, ...): "
						"pick one with --runtime-dir\n", c->cmd, base, e->d_name);
			}
		}
		closedir(d);
	}
	if (found == 1)
		return 0;
	if (found == 0)
		fprintf(stderr, "myco %s: no running system found under %s (use --runtime-dir DIR)\n",
			c->cmd, base);
	return -1;
}

static int connect_dir(const struct cli *c)
{
	char dir[4096];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (find_dir(c, dir, sizeof(dir)) < 0)
		return -1;
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "myco %s: runtime dir path too long\n", c->cmd);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "myco %s: cannot reach the executive at %s: %s\n", c->cmd,
			sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Line reader over the socket. */
struct rd {
	int fd;
	char buf[65536];
	size_t len, off;
	char *big;      /* a line longer than buf: malloc'd */
};

/* Next line (without newline), NULL at EOF/error.  Valid until the next call. */
static char *next_line(struct rd *r)
{
	free(r->big);
	r->big = NULL;
	size_t cap = 0, blen = 0;
	for (;;) {
		char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
		if (nl) {
			*nl = 0;
			char *line = r->buf + r->off;
			r->off = (size_t)(nl - r->buf) + 1;
			if (r->big) {
				size_t add = strlen(line);
				char *nb = realloc(r->big, blen + add + 1);
				if (!nb)
					return NULL;
				memcpy(nb + blen, line, add + 1);
				r->big = nb;
				return r->big;
			}
			return line;
		}
		if (r->off == 0 && r->len == sizeof(r->buf)) {   /* spill into big */
			if (blen + r->len + 1 > cap) {
				cap = (blen + r->len + 1) * 2;
				char *nb = realloc(r->big, cap);
				if (!nb)
					return NULL;
				r->big = nb;
			}
			memcpy(r->big + blen, r->buf, r->len);
			blen += r->len;
			r->big[blen] = 0;
			r->len = 0;
		}
		if (r->off) {
			memmove(r->buf, r->buf + r->off, r->len - r->off);
			r->len -= r->off;
			r->off = 0;
		}
		ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0)
			return NULL;
		r->len += (size_t)n;
	}
}

static int send_req(int fd, json_t *req)
{
	char *s = json_dumps(req, JSON_COMPACT);
	int rc = 0;
	if (!s)
		return -1;
	size_t len = strlen(s);
	if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		rc = -1;
	free(s);
	return rc;
}

int myco__cli_connect(const char *cmd, const char *runtime_dir)
{
	struct cli c = { .cmd = cmd, .runtime_dir = runtime_dir };
	return connect_dir(&c);
}

json_t *myco__cli_call(int fd, json_t *req)
{
	struct rd *r;
	json_t *rep = NULL;

	if (send_req(fd, req) < 0 || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->fd = fd;
	char *line = next_line(r);
	if (line)
		rep = json_loads(line, 0, NULL);
	free(r->big);
	free(r);
	return rep;
}

static void fmt_time(uint64_t ns, char *out, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char b[32];
	localtime_r(&t, &tm);
	strftime(b, sizeof(b), "%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03u", b, (unsigned)(ns / 1000000u % 1000u));
}

static void print_event(json_t *e)
{
	char ts[40];
	fmt_time((uint64_t)json_integer_value(json_object_get(e, "time_ns")), ts, sizeof(ts));
	const char *part = json_string_value(json_object_get(e, "partition"));
	printf("%s %-12s %-14s %s\n", ts, part && *part ? part : "-",
	       json_string_value(json_object_get(e, "kind")),
	       json_string_value(json_object_get(e, "detail")));
}

#define JI(o, k) ((long long)json_integer_value(json_object_get((o), (k))))

/* One "timing:" line (and one per edf task) when there is anything to
 * say: deadline misses as the runtime and as the executive saw them. */
static void print_timing(json_t *t)
{
	json_t *rt = json_object_get(t, "runtime"), *ex = json_object_get(t, "executive");
	const char *mode = json_string_value(json_object_get(ex, "mode"));
	bool has_rt = json_is_object(rt) && JI(rt, "edf_jobs") > 0;
	if (!has_rt && (!mode || !strcmp(mode, "none")))
		return;
	printf("    timing:");
	if (has_rt)
		printf(" edf jobs %lld, deadline misses %lld, overruns %lld;", JI(rt, "edf_jobs"),
		       JI(rt, "deadline_misses"), JI(rt, "overruns"));
	json_t *fr = json_object_get(ex, "frame");
	if (mode && !strcmp(mode, "budget"))
		printf(" %s %.3f ms / %.3f ms, quota periods throttled %lld",
		       json_string_value(json_object_get(ex, "reservation")),
		       (double)JI(ex, "runtime_ns") / 1e6, (double)JI(ex, "period_ns") / 1e6,
		       JI(ex, "quota_periods_throttled"));
	else if (fr)
		printf(" frame windows %lld in %lld frames (%s), boundaries late > 1 ms %lld, worst %.1f us",
		       JI(fr, "windows"), JI(fr, "frames"),
		       json_string_value(json_object_get(fr, "mechanism")),
		       JI(fr, "late_boundaries"), (double)JI(fr, "max_late_ns") / 1e3);
	printf("\n");
	json_t *w = json_object_get(t, "window");
	if (json_is_object(w))
		printf("    window start as the partition saw it: %lld of %lld windows, late "
		       "p50 <= %.1f us, p99 <= %.1f us, max %.1f us\n", JI(w, "seen"),
		       JI(w, "published"), (double)JI(w, "start_late_p50_ns") / 1e3,
		       (double)JI(w, "start_late_p99_ns") / 1e3,
		       (double)JI(w, "start_late_max_ns") / 1e3);
	json_t *tasks = json_object_get(rt, "tasks"), *k;
	size_t i;
	json_array_foreach(tasks, i, k)
		printf("      task %-24s jobs %lld, deadline misses %lld, overruns %lld\n",
		       json_string_value(json_object_get(k, "name")), JI(k, "jobs"),
		       JI(k, "deadline_misses"), JI(k, "overruns"));
}

static void print_ps(json_t *r, bool verbose)
{
	json_t *parts = json_object_get(r, "partitions"), *p;
	size_t i;
	printf("system %s (executive pid %d, %s, runtime dir %s)\n",
	       json_string_value(json_object_get(r, "system")),
	       (int)json_integer_value(json_object_get(r, "pid")),
	       json_string_value(json_object_get(r, "state")),
	       json_string_value(json_object_get(r, "runtime_dir")));
	json_t *sh = json_object_get(r, "shield");
	if (json_is_object(sh)) {
		json_t *m;
		size_t k;
		printf("shielded cores %s (%s)\n", json_string_value(json_object_get(sh, "cores")),
		       json_is_true(json_object_get(sh, "active")) ? "active" : "not applied");
		json_array_foreach(json_object_get(sh, "mechanisms"), k, m)
			printf("    %-11s %-9s %s\n", json_string_value(json_object_get(m, "mechanism")),
			       json_string_value(json_object_get(m, "status")),
			       json_string_value(json_object_get(m, "detail")));
	}
	printf("%-14s %-10s %-10s %7s %7s %8s  %-26s %s\n", "NAME", "STATE", "HEALTH", "PID",
	       "STANDBY", "RESTARTS", "LAST RESTART (run/first)", "ISOLATION");
	json_array_foreach(parts, i, p) {
		char last[64] = "-";
		json_t *lr = json_object_get(p, "last_restart");
		if (lr)
			snprintf(last, sizeof(last), "%.1f us / %.1f us",
				 (double)json_integer_value(json_object_get(lr, "crash_to_running_ns")) / 1e3,
				 (double)json_integer_value(json_object_get(lr, "crash_to_first_ns")) / 1e3);
		json_t *iso = json_object_get(p, "isolation"), *m;
		size_t k, applied = 0, degraded = 0;
		char deg[512] = "";
		size_t dl = 0;
		json_array_foreach(iso, k, m) {
			const char *st = json_string_value(json_object_get(m, "status"));
			if (st && !strcmp(st, "applied"))
				applied++;
			else if (st && !strcmp(st, "degraded")) {
				degraded++;
				if (dl < sizeof(deg))
					dl += (size_t)snprintf(deg + dl, sizeof(deg) - dl, "%s%s",
							       dl ? "," : "",
							       json_string_value(json_object_get(m, "mechanism")));
			}
		}
		const char *health = json_string_value(json_object_get(p, "health"));
		printf("%-14s %-10s %-10s %7d %7d %8d  %-26s %zu applied, %zu degraded%s%s%s\n",
		       json_string_value(json_object_get(p, "name")),
		       json_string_value(json_object_get(p, "state")), health ? health : "-",
		       (int)json_integer_value(json_object_get(p, "pid")),
		       (int)json_integer_value(json_object_get(p, "standby_pid")),
		       (int)json_integer_value(json_object_get(p, "restarts")),
		       last, applied, degraded, degraded ? " (" : "", deg, degraded ? ")" : "");
		json_int_t bo = json_integer_value(json_object_get(p, "backoff_ms"));
		json_t *rin = json_object_get(p, "restart_in_ms");
		if (bo && rin)
			printf("    crash loop: restart in %lld ms (backoff %lld ms)\n",
			       (long long)json_integer_value(rin), (long long)bo);
		else if (bo)
			printf("    crash loop: last restart after a backoff of %lld ms\n", (long long)bo);
		json_t *ports = json_object_get(p, "ports");
		if (json_array_size(ports)) {
			printf("    listening:");
			json_array_foreach(ports, k, m)
				printf(" %s %s:%d", json_string_value(json_object_get(m, "proto")),
				       json_string_value(json_object_get(m, "address")),
				       (int)json_integer_value(json_object_get(m, "port")));
			printf("%s\n", json_is_true(json_object_get(p, "net")) ? " (net)" :
			       " (inherited sockets, no net)");
		}
		print_timing(json_object_get(p, "timing"));
		const char *verdict = json_string_value(json_object_get(p, "verdict"));
		json_int_t heals = json_integer_value(json_object_get(p, "heals"));
		if ((verdict && strcmp(verdict, "healthy")) || heals)
			printf("    health model: %s, %lld heals%s\n", verdict ? verdict : "-",
			       (long long)heals, json_object_get(p, "quarantined_pid")
			       ? " (a quarantined process is kept)" : "");
		if (verbose)
			json_array_foreach(iso, k, m)
				printf("    %-16s %-14s %s\n",
				       json_string_value(json_object_get(m, "mechanism")),
				       json_string_value(json_object_get(m, "status")),
				       json_string_value(json_object_get(m, "reason")));
	}
	json_t *svcs = json_object_get(r, "services"), *sv;
	if (json_array_size(svcs)) {
		printf("\n%-16s %-5s %-16s %8s %6s %-8s %8s %8s %s\n", "SERVICE", "KIND",
		       "-> PARTITION", "PID", "GEN", "INFLIGHT", "RETRIED", "FAILED", "STATE");
		json_array_foreach(svcs, i, sv)
			printf("%-16s %-5s -> %-13s %8d %6lld %-8s %8lld %8lld %s\n",
			       json_string_value(json_object_get(sv, "name")),
			       json_string_value(json_object_get(sv, "kind")),
			       json_string_value(json_object_get(sv, "partition")),
			       (int)json_integer_value(json_object_get(sv, "pid")),
			       (long long)json_integer_value(json_object_get(sv, "generation")),
			       json_string_value(json_object_get(sv, "inflight")) ?
			       json_string_value(json_object_get(sv, "inflight")) : "retry",
			       (long long)json_integer_value(json_object_get(sv, "inflight_retried")),
			       (long long)json_integer_value(json_object_get(sv, "inflight_failed")),
			       json_string_value(json_object_get(sv, "state")));
	}
	json_t *chans = json_object_get(r, "channels"), *c;
	if (json_array_size(chans)) {
		printf("\n%-16s %-7s %10s %10s %8s %s\n", "CHANNEL", "KIND", "SENT", "DONE", "PENDING", "");
		json_array_foreach(chans, i, c)
			printf("%-16s %-7s %10lld %10lld %8lld %s\n",
			       json_string_value(json_object_get(c, "name")),
			       json_string_value(json_object_get(c, "kind")),
			       (long long)json_integer_value(json_object_get(c, "sent")),
			       (long long)json_integer_value(json_object_get(c, "done")),
			       (long long)json_integer_value(json_object_get(c, "pending")),
			       json_is_true(json_object_get(c, "broken")) ? "BROKEN" : "");
	}
}

/* `myco health`: each partition's verdict and signals (docs/immune.md). */
static void print_health(json_t *r)
{
	json_t *parts = json_object_get(r, "partitions"), *p;
	size_t i;
	json_array_foreach(parts, i, p) {
		if (!json_is_object(p))
			continue;
		printf("%s: %s\n", json_string_value(json_object_get(p, "name")),
		       json_string_value(json_object_get(p, "verdict")));
		const char *k;
		json_t *g;
		json_object_foreach(json_object_get(p, "signals"), k, g) {
			json_t *v = json_object_get(g, "value"), *b = json_object_get(g, "baseline");
			json_t *l = json_object_get(g, "limit"), *pr = json_object_get(g, "predict_s");
			if (!json_is_number(v))
				continue;
			const char *u = json_string_value(json_object_get(g, "unit"));
			printf("    %-10s %10.3g %-5s", k, json_number_value(v), u ? u : "");
			if (json_is_number(b))
				printf(" baseline %-9.3g", json_number_value(b));
			else
				printf(" (learning)        ");
			if (json_is_number(l))
				printf(" limit %-8.3g", json_number_value(l));
			if (json_is_number(pr))
				printf(" reaches it in %.1f s", json_number_value(pr));
			printf("  %s\n", json_string_value(json_object_get(g, "verdict")));
		}
	}
	if (json_is_string(json_object_get(r, "saved")))
		printf("profile saved to %s\n", json_string_value(json_object_get(r, "saved")));
}

static int client(int argc, char **argv, bool need_name)
{
	struct cli c;
	int rc = parse_client(argc, argv, &c);
	if (rc != 0) {
		client_usage(argv[0], rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	bool stop_all = !strcmp(c.cmd, "stop") && c.all;
	if (need_name && !c.name && !stop_all) {
		client_usage(argv[0], stderr);
		return 2;
	}
	int fd = connect_dir(&c);
	if (fd < 0)
		return 1;
	json_t *req = json_pack("{s:s}", "cmd", c.cmd);
	if (c.name)
		json_object_set_new(req, "name", json_string(c.name));
	if (stop_all)
		json_object_set_new(req, "all", json_true());
	if (c.follow)
		json_object_set_new(req, "follow", json_true());
	if (c.save) {
		/* the executive writes it: make the path absolute here */
		char cwd[4096], abs[8192];
		if (c.save[0] != '/' && getcwd(cwd, sizeof cwd))
			snprintf(abs, sizeof abs, "%s/%s", cwd, c.save);
		else
			snprintf(abs, sizeof abs, "%s", c.save);
		json_object_set_new(req, "save", json_string(abs));
	}
	rc = send_req(fd, req);
	json_decref(req);
	if (rc < 0) {
		fprintf(stderr, "myco %s: write to the executive failed\n", c.cmd);
		close(fd);
		return 1;
	}
	struct rd *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return 1;
	}
	r->fd = fd;
	char *line = next_line(r);
	int status = 0;
	json_t *rep = line ? json_loads(line, 0, NULL) : NULL;
	if (!rep) {
		fprintf(stderr, "myco %s: no answer from the executive\n", c.cmd);
		status = 1;
		goto out;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		if (c.json)
			printf("%s\n", line);
		fprintf(stderr, "myco %s: %s\n", c.cmd,
			json_string_value(json_object_get(rep, "error")));
		status = 1;
		goto out;
	}
	if (c.json) {
		printf("%s\n", line);
	} else if (!strcmp(c.cmd, "ps")) {
		print_ps(rep, c.verbose);
	} else if (!strcmp(c.cmd, "events")) {
		json_t *a = json_object_get(rep, "events"), *e;
		size_t i;
		json_array_foreach(a, i, e)
			print_event(e);
	} else if (!strcmp(c.cmd, "logs")) {
		fputs(json_string_value(json_object_get(rep, "data")), stdout);
	} else if (!strcmp(c.cmd, "health")) {
		print_health(rep);
	} else if (stop_all) {
		printf("stopping system...\n");
	} else {
		printf("%s %s: ok\n", c.cmd, c.name);
	}
	fflush(stdout);
	if (c.follow || stop_all) {
		while ((line = next_line(r))) {
			if (c.json) {
				printf("%s\n", line);
			} else {
				json_t *o = json_loads(line, 0, NULL);
				if (o && json_object_get(o, "event"))
					print_event(json_object_get(o, "event"));
				else if (o && json_object_get(o, "data"))
					fputs(json_string_value(json_object_get(o, "data")), stdout);
				json_decref(o);
			}
			fflush(stdout);
		}
		if (stop_all && !c.json)
			printf("system stopped\n");
	}
out:
	json_decref(rep);
	free(r->big);
	free(r);
	close(fd);
	return status;
}

static void run_usage(FILE *f)
{
	fprintf(f, "usage: myco run FILE [--runtime-dir DIR] [--grace SECONDS] "
		"[--ready-timeout SECONDS] [--no-standby] [--quiet]\n"
		"Boots the system, supervises it, and stops it in reverse order on\n"
		"SIGINT/SIGTERM or `myco stop --all`.  Exit status: 0 stopped, 1 could\n"
		"not start, 3 escalated (too many restarts).\n");
}

int myco_cmd_run(int argc, char **argv)
{
	struct myco__exec_opts o;
	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--runtime-dir") && i + 1 < argc)
			o.runtime_dir = argv[++i];
		else if (!strncmp(a, "--runtime-dir=", 14))
			o.runtime_dir = a + 14;
		else if (!strcmp(a, "--grace") && i + 1 < argc)
			o.grace_ns = (uint64_t)(atof(argv[++i]) * 1e9);
		else if (!strcmp(a, "--ready-timeout") && i + 1 < argc)
			o.ready_timeout_ns = (uint64_t)(atof(argv[++i]) * 1e9);
		else if (!strcmp(a, "--no-standby"))
			o.no_standby = true;
		else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
			o.quiet = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			run_usage(stdout);
			return 0;
		} else if (a[0] == '-' || o.file) {
			run_usage(stderr);
			return 2;
		} else
			o.file = a;
	}
	if (!o.file) {
		run_usage(stderr);
		return 2;
	}
	return myco__exec_run(&o);
}

int myco_cmd_ps(int argc, char **argv) { return client(argc, argv, false); }
int myco_cmd_stop(int argc, char **argv) { return client(argc, argv, true); }
int myco_cmd_restart(int argc, char **argv) { return client(argc, argv, true); }
int myco_cmd_kill(int argc, char **argv) { return client(argc, argv, true); }
int myco_cmd_logs(int argc, char **argv) { return client(argc, argv, true); }
int myco_cmd_events(int argc, char **argv) { return client(argc, argv, false); }
int myco_cmd_health(int argc, char **argv) { return client(argc, argv, false); }
