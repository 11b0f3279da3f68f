/*
 * replay_cmds.c: `myco replay` (run a partition's program alone against its
 * record log: receives, clock and random from the log, sends compared;
 * --until N / --until-time T stop before an input, --gdb under gdb, --rr
 * under rr, --crash NAME the latest crash log of a partition) and `myco
 * record` (recording on or off at run time, status).  docs/replay.md.
 * Not for: the log format or the replay inside the process (lib/replay).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "myco/common.h"
#include "cmd.h"
#include "exec.h"
#include "rec_abi.h"
#include "replay.h"
#include "rlog.h"

static const char *const replay_usage =
	"usage: myco replay LOG [--until N | --until-time T] [--gdb | --rr] [--program PATH]\n"
	"       myco replay --crash PARTITION [--system NAME] [...]\n"
	"  LOG             a record log directory (or one segment file)\n"
	"  --until N       stop just before record N (with --gdb: at myco_replay_stop)\n"
	"  --until-time T  stop before the first input at T after the window's start (e.g. 1.5s, 200ms)\n"
	"  --gdb           run the replay under gdb (stops at --until, or where it crashes)\n"
	"  --rr            record the replay with rr (then: rr replay DIR, reverse-continue...)\n"
	"  --crash NAME    the latest crash log of partition NAME\n"
	"  --program PATH  run PATH instead of the recorded executable\n"
	"exit: 0 replayed faithfully (or stopped), 1 error, 3 diverged, 4 crashed as recorded\n";

/* The directory that holds every system's record logs. */
static int record_base(char *out, size_t cap)
{
	const char *env = getenv("MYCO_RECORD_DIR");
	char base[1024];

	if (env && env[0] == '/')
		return snprintf(out, cap, "%s", env) < (int)cap ? 0 : -ENAMETOOLONG;
	if (myco__exec_default_base(base, sizeof base) < 0)
		return -ENAMETOOLONG;
	return snprintf(out, cap, "%s/record", base) < (int)cap ? 0 : -ENAMETOOLONG;
}

static int find_crash(const char *part, const char *sys, char *out, size_t cap)
{
	char base[2048], path[PATH_MAX];
	int found = 0;

	if (record_base(base, sizeof base) < 0)
		return -1;
	DIR *d = opendir(base);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' || (sys && strcmp(sys, e->d_name)))
			continue;
		snprintf(path, sizeof path, "%s/%s/crash/%s", base, e->d_name, part);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (found++ == 0)
				snprintf(out, cap, "%s", path);
			else
				fprintf(stderr, "myco replay: partition %s crashed in more than one "
					"system under %s: pick one with --system\n", part, base);
		}
	}
	if (d)
		closedir(d);
	if (found == 0)
		fprintf(stderr, "myco replay: no crash log of partition '%s' under %s\n", part, base);
	return found == 1 ? 0 : -1;
}

/* "1.5s", "200ms", "300us", "42ns", a bare number = ns. */
static int parse_time(const char *s, uint64_t *ns)
{
	char *end;
	double v = strtod(s, &end);
	double mul = 1;

	if (end == s || v < 0)
		return -1;
	if (!strcmp(end, "s"))
		mul = 1e9;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "us"))
		mul = 1e3;
	else if (*end && strcmp(end, "ns"))
		return -1;
	*ns = (uint64_t)(v * mul);
	return 0;
}

static uint64_t rec_time(const struct myco__rlog_rec *r, int *has)
{
	*has = 0;
	if (r->type == MYCO__REC_RECV) {
		struct myco__rb_recv v;
		memcpy(&v, r->body, sizeof v);
		*has = 1;
		return v.t_ns;
	}
	if (r->type == MYCO__REC_CLOCK) {
		struct myco__rb_value v;
		memcpy(&v, r->body, sizeof v);
		*has = 1;
		return v.v;
	}
	return 0;
}

static const char *rtype(unsigned t)
{
	static const char *const n[] = { "pad", "start", "open", "receive", "send", "call reply",
					 "clock read", "random draw", "sample read", "done",
					 "gap", "end" };
	return t < sizeof n / sizeof n[0] ? n[t] : "?";
}

static void dump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 64; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	if (n > 64)
		fprintf(stderr, "\n    ... (%zu bytes)", n);
	fputc('\n', stderr);
}

static void describe(const struct myco__rlog *l, size_t i)
{
	const struct myco__rlog_rec *r = &l->recs[i];
	fprintf(stderr, "  record %zu: %s on channel %u", i, rtype(r->type), r->chan);
	if (r->type == MYCO__REC_RECV) {
		struct myco__rb_recv v;
		memcpy(&v, r->body, sizeof v);
		fprintf(stderr, ", lane %u seq %llu, %u bytes:", v.lane, (unsigned long long)v.seq,
			v.len);
		dump(r->body + sizeof v, v.len);
	} else {
		fputc('\n', stderr);
	}
}

int myco_cmd_replay(int argc, char **argv)
{
	const char *log = NULL, *crash = NULL, *sys = NULL, *program = NULL, *until_time = NULL;
	long long until = -1;
	int gdb = 0, rr = 0;
	char path[PATH_MAX], err[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--until") && i + 1 < argc)
			until = atoll(argv[++i]);
		else if (!strcmp(a, "--until-time") && i + 1 < argc)
			until_time = argv[++i];
		else if (!strcmp(a, "--gdb"))
			gdb = 1;
		else if (!strcmp(a, "--rr"))
			rr = 1;
		else if (!strcmp(a, "--crash") && i + 1 < argc)
			crash = argv[++i];
		else if (!strcmp(a, "--system") && i + 1 < argc)
			sys = argv[++i];
		else if (!strcmp(a, "--program") && i + 1 < argc)
			program = argv[++i];
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(replay_usage, stdout);
			return 0;
		} else if (a[0] != '-' && !log)
			log = a;
		else {
			fputs(replay_usage, stderr);
			return 2;
		}
	}
	if ((!log == !crash) || (gdb && rr) || (until >= 0 && until_time)) {
		fputs(replay_usage, stderr);
		return 2;
	}
	if (crash) {
		if (find_crash(crash, sys, path, sizeof path) < 0)
			return 1;
		log = path;
	}
	char abslog[PATH_MAX];
	if (!realpath(log, abslog)) {
		fprintf(stderr, "myco replay: %s: %s\n", log, strerror(errno));
		return 1;
	}
	struct myco__rlog *l;
	int rc = myco__rlog_load(abslog, &l, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "myco replay: cannot read the log: %s\n", err);
		return 1;
	}
	/* START: exe, cwd, argv, environment */
	const struct myco__rlog_rec *st = &l->recs[l->run_start];
	struct myco__rb_start sb;
	memcpy(&sb, st->body, sizeof sb);
	const char *strs = (const char *)st->body + sizeof sb, *end = strs + sb.bytes;
	const char *exe = strs, *cwd = exe + strlen(exe) + 1;
	const char *p = cwd + strlen(cwd) + 1;
	size_t nargs = 0, nenv = 0;
	char **args = calloc(sb.argc + 16, sizeof *args);
	char **env = calloc(sb.envc + 8, sizeof *env);
	if (!args || !env)
		return 1;
	if (gdb) {
		args[nargs++] = "gdb";
		args[nargs++] = "-q";
		args[nargs++] = "-ex";
		args[nargs++] = "set breakpoint pending on";
		if (until >= 0 || until_time) {
			args[nargs++] = "-ex";
			args[nargs++] = "break myco_replay_stop";
		}
		args[nargs++] = "-ex";
		args[nargs++] = "run";
		args[nargs++] = "--args";
	} else if (rr) {
		args[nargs++] = "rr";
		args[nargs++] = "record";
	}
	size_t prog_at = nargs;
	for (uint32_t i = 0; i < sb.argc && p < end; i++) {
		args[nargs++] = (char *)p;
		p += strlen(p) + 1;
	}
	if (program || !sb.argc || access(exe, X_OK) == 0) {
		/* the recorded executable (argv[0] may be relative to its cwd) */
		if (nargs == prog_at)
			nargs++;
		args[prog_at] = (char *)(program ? program : exe);
	}
	static const char *const drop[] = { "MYCO_CAPS=", "MYCO_CTL=", "MYCO_NOTIFY=",
					    "MYCO_EXEC_FD=", "MYCO_REPLAY", NULL };
	for (uint32_t i = 0; i < sb.envc && p < end; i++) {
		int skip = 0;
		for (size_t k = 0; drop[k]; k++)
			skip |= !strncmp(p, drop[k], strlen(drop[k]));
		if (!skip)
			env[nenv++] = (char *)p;
		p += strlen(p) + 1;
	}
	/* --until-time: the first record at or after window start + T */
	if (until_time) {
		uint64_t t, t0 = 0;
		int have = 0, h;
		if (parse_time(until_time, &t) < 0) {
			fprintf(stderr, "myco replay: --until-time %s: write e.g. 1.5s or 200ms\n",
				until_time);
			return 2;
		}
		for (size_t i = l->run_start; i < l->n; i++) {
			uint64_t x = rec_time(&l->recs[i], &h);
			if (!h)
				continue;
			if (!have) {
				t0 = x;
				have = 1;
			}
			if (x >= t0 + t) {
				until = (long long)i;
				break;
			}
		}
		if (until < 0) {
			fprintf(stderr, "myco replay: the log covers less than %s\n", until_time);
			return 1;
		}
	}
	char e_log[PATH_MAX + 16], e_until[64], e_status[64], e_prog[64];
	int sp[2];
	int prog_fd = memfd_create("myco-replay-progress", MFD_CLOEXEC);
	if (pipe2(sp, O_CLOEXEC) < 0 || prog_fd < 0 || ftruncate(prog_fd, 4096) < 0) {
		perror("myco replay");
		return 1;
	}
	volatile uint64_t *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
					   prog_fd, 0);
	if (progress == MAP_FAILED) {
		perror("myco replay: mmap");
		return 1;
	}
	snprintf(e_log, sizeof e_log, "MYCO_REPLAY=%s", abslog);
	snprintf(e_until, sizeof e_until, "MYCO_REPLAY_UNTIL=%lld", until);
	snprintf(e_status, sizeof e_status, "MYCO_REPLAY_STATUS=%d", sp[1]);
	snprintf(e_prog, sizeof e_prog, "MYCO_REPLAY_PROGRESS=%d", prog_fd);
	env[nenv++] = e_log;
	env[nenv++] = e_status;
	env[nenv++] = e_prog;
	if (until >= 0)
		env[nenv++] = e_until;
	if (gdb)
		env[nenv++] = "MYCO_REPLAY_GDB=1";
	char rrdir[PATH_MAX + 32];
	if (rr) {
		snprintf(rrdir, sizeof rrdir, "_RR_TRACE_DIR=%s.rr", abslog);
		env[nenv++] = rrdir;
	}
	if (getenv("PATH") && (gdb || rr)) {
		static char pathvar[8192];
		snprintf(pathvar, sizeof pathvar, "PATH=%s", getenv("PATH"));
		env[nenv++] = pathvar;
	}
	fprintf(stderr, "myco replay: %s: %zu records (run of pid %u%s%s), %s\n", abslog,
		l->n - l->run_start, sb.pid, l->gaps ? ", records missing" : "",
		l->crashed ? ", ended by a crash" : "", args[prog_at]);
	if (l->gaps)
		fprintf(stderr, "myco replay: warning: %llu records are missing from this log "
			"(ring overruns or segments dropped by the cap): the replay will stop "
			"there as diverged\n", (unsigned long long)l->gaps);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("myco replay: fork");
		return 1;
	}
	if (pid == 0) {
		close(sp[0]);
		fcntl(sp[1], F_SETFD, 0);
		fcntl(prog_fd, F_SETFD, 0);
		if (chdir(cwd) < 0) {
			/* the recorded cwd is gone: run from here */
		}
		if (gdb || rr)
			execvpe(args[0], args, env);
		else
			execve(args[prog_at], args + prog_at, env);
		fprintf(stderr, "myco replay: cannot run %s: %s\n", gdb ? "gdb" : rr ? "rr" :
			args[prog_at], strerror(errno));
		_exit(127);
	}
	close(sp[1]);
	if (gdb)
		signal(SIGINT, SIG_IGN);     /* ^C is gdb's */
	char line[1024] = "";
	size_t nl = 0;
	ssize_t r;
	while (nl < sizeof line - 1 && (r = read(sp[0], line + nl, sizeof line - 1 - nl)) > 0)
		nl += (size_t)r;
	line[nl] = 0;
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	size_t at = (size_t)progress[0];
	int out = 0;
	if (rr && !line[0] && at == 0 &&
	    (WIFSIGNALED(ws) || (WIFEXITED(ws) && WEXITSTATUS(ws) != 0 &&
				 WEXITSTATUS(ws) != 127 /* no rr: said above */))) {
		/* rr itself failed: the program never served a record */
		fprintf(stderr, "myco replay: rr could not record the replay (%s %d; its own "
			"message is above).  rr needs the CPU's hardware performance counters "
			"(perf_event_open, perf_event_paranoid <= 1 or CAP_PERFMON, a PMU the "
			"hypervisor exposes); run the replay without --rr, or under --gdb\n",
			WIFSIGNALED(ws) ? "signal" : "exit status",
			WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
		myco__rlog_free(l);
		free(args);
		free(env);
		return 1;
	}
	if (rr)
		fprintf(stderr, "myco replay: rr trace in %s.rr (rr replay %s.rr)\n", abslog, abslog);
	if (!strncmp(line, "complete", 8)) {
		fprintf(stderr, "myco replay: faithful: every recorded input replayed, every send "
			"identical\n");
	} else if (!strncmp(line, "diverged", 8)) {
		out = 3;
	} else if (!strncmp(line, "unreplayable", 12)) {
		fprintf(stderr, "myco replay: NOT REPLAYABLE: the replay stopped after record %zu; "
			"nothing after it was compared\n", at ? at - 1 : 0);
		out = 3;
	} else if (!strncmp(line, "until", 5)) {
		fprintf(stderr, "myco replay: stopped before record %lld as asked\n", until);
	} else if (WIFSIGNALED(ws) || (WIFEXITED(ws) && WEXITSTATUS(ws) > 128 && gdb)) {
		int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws) - 128;
		size_t fatal = at ? at - 1 : 0;
		/* the input the program was handling: the last receive it got */
		for (size_t i = fatal + 1; i-- > l->run_start;)
			if (l->recs[i].type == MYCO__REC_RECV || l->recs[i].type == MYCO__REC_REPLY) {
				fatal = i;
				break;
			}
		fprintf(stderr, "myco replay: the program died of signal %d (%s) after record %zu; "
			"the input it was handling:\n", sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
			at ? at - 1 : 0);
		describe(l, fatal);
		if (l->crashed && l->crash_sig == sig) {
			fprintf(stderr, "myco replay: reproduced the recorded crash (signal %d, %s)\n",
				sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
			out = 4;
		} else if (l->crashed) {
			fprintf(stderr, "myco replay: DIVERGED: the recorded run died of signal %d, "
				"the replay of signal %d\n", l->crash_sig, sig);
			out = 3;
		} else {
			fprintf(stderr, "myco replay: DIVERGED: the recorded run did not crash here\n");
			out = 3;
		}
	} else if (WIFEXITED(ws) && (gdb || rr)) {
		fprintf(stderr, "myco replay: %s ended (status %d) after record %zu\n",
			gdb ? "gdb" : "rr", WEXITSTATUS(ws), at ? at - 1 : 0);
	} else if (WIFEXITED(ws)) {
		int code = WEXITSTATUS(ws);
		if (l->crashed) {
			fprintf(stderr, "myco replay: DIVERGED: the recorded run died of signal %d; "
				"the replay exited with status %d after record %zu\n", l->crash_sig,
				code, at ? at - 1 : 0);
			out = 3;
		} else if (code == 127) {
			out = 1;
		} else if (!gdb && !rr) {
			fprintf(stderr, "myco replay: the program exited with status %d after record "
				"%zu of %zu before the log ended\n", code, at ? at - 1 : 0, l->n);
			out = 3;
		}
	}
	myco__rlog_free(l);
	free(args);
	free(env);
	return out;
}

/* `myco record [NAME on|off] [--runtime-dir DIR]` */
int myco_cmd_record(int argc, char **argv)
{
	const char *name = NULL, *how = NULL, *dir = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runtime-dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts("usage: myco record [PARTITION on|off] [--runtime-dir DIR]");
			return 0;
		} else if (!name)
			name = argv[i];
		else if (!how)
			how = argv[i];
		else
			return 2;
	}
	if (name && (!how || (strcmp(how, "on") && strcmp(how, "off")))) {
		fputs("usage: myco record [PARTITION on|off] [--runtime-dir DIR]\n", stderr);
		return 2;
	}
	int fd = myco__cli_connect("record", dir);
	if (fd < 0)
		return 1;
	json_t *req = name ? json_pack("{s:s,s:s,s:b}", "cmd", "record", "partition", name, "on",
				       !strcmp(how, "on"))
			   : json_pack("{s:s}", "cmd", "record-status");
	json_t *rep = myco__cli_call(fd, req);
	json_decref(req);
	close(fd);
	if (!rep || !json_is_true(json_object_get(rep, "ok"))) {
		fprintf(stderr, "myco record: %s\n", rep ? json_string_value(json_object_get(rep, "error"))
			: "no answer from the executive");
		json_decref(rep);
		return 1;
	}
	char *s = json_dumps(rep, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
	json_decref(rep);
	return 0;
}
