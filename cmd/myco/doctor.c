/*
 * doctor.c: `myco doctor [--json] [--root DIR]`: checks the host for what
 * undermines deterministic timing (frequency scaling, C-states, SMT,
 * transparent huge pages, swap, RT throttling, timer and IRQ placement,
 * the kernel's preemption model, cgroup version, isolated cores, the
 * hypervisor's stolen time, the clock source, resctrl) and prints what it
 * found and what to change.  It only reads /proc and /sys; it changes
 * nothing.  --root prefixes every path (tests point it at a fake tree).
 * Not for: changing the host (shielded cores are the executive's job,
 * exec/box/shield.c); the checks' meaning is docs/determinism.md.
 *
 * Exit status: 0 when nothing is "warn", 1 otherwise, 2 on bad usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#ifdef MYCO_HAVE_ZLIB
#include <zlib.h>
#endif

#include "myco/common.h"
#include "cmd.h"

#define MAXCHECK 32

enum status { ST_OK, ST_INFO, ST_WARN };
static const char *const st_name[] = { "ok", "info", "warn" };

struct check {
	const char *id;
	enum status st;
	char found[512];
	char advice[512];
	char values[512];       /* JSON members: "key":value,... */
};

static struct check g_checks[MAXCHECK];
static int g_n;
static const char *g_root = "";

static struct check *add(const char *id, enum status st)
{
	if (g_n == MAXCHECK)
		return NULL;
	struct check *c = &g_checks[g_n++];
	c->id = id;
	c->st = st;
	c->found[0] = c->advice[0] = c->values[0] = 0;
	return c;
}

__attribute__((format(printf, 3, 4)))
static void put(char *dst, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(dst);
	if (len >= cap - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst + len, cap - len, fmt, ap);
	va_end(ap);
}
#define FOUND(c, ...)  put((c)->found, sizeof((c)->found), __VA_ARGS__)
#define ADVICE(c, ...) put((c)->advice, sizeof((c)->advice), __VA_ARGS__)

/* Machine-readable values for --json (tests compare them with /proc and
 * /sys).  Strings are sysfs words: no quotes or backslashes to escape, and
 * anything else is dropped. */
static void val_i(struct check *c, const char *k, long long v)
{
	put(c->values, sizeof(c->values), "%s\"%s\":%lld", *c->values ? "," : "", k, v);
}

static void val_s(struct check *c, const char *k, const char *v)
{
	char clean[128];
	size_t j = 0;
	for (size_t i = 0; v[i] && j < sizeof(clean) - 1; i++)
		if (v[i] != '"' && v[i] != '\\' && (unsigned char)v[i] >= 0x20)
			clean[j++] = v[i];
	clean[j] = 0;
	put(c->values, sizeof(c->values), "%s\"%s\":\"%s\"", *c->values ? "," : "", k, clean);
}

/* Read a small file under the root, trailing whitespace stripped.  Returns
 * the length, or -errno. */
static int rd(const char *path, char *buf, size_t cap)
{
	char p[512];
	snprintf(p, sizeof(p), "%s%s", g_root, path);
	FILE *f = fopen(p, "r");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return (int)n;
}

static long rd_long(const char *path, long dflt)
{
	char b[64];
	if (rd(path, b, sizeof(b)) <= 0)
		return dflt;
	return strtol(b, NULL, 10);
}

/* The bracketed choice of a sysfs "a [b] c" file. */
static void bracketed(const char *s, char *out, size_t cap)
{
	const char *a = strchr(s, '['), *b = a ? strchr(a, ']') : NULL;
	if (a && b && (size_t)(b - a) < cap) {
		memcpy(out, a + 1, (size_t)(b - a - 1));
		out[b - a - 1] = 0;
	} else {
		snprintf(out, cap, "%s", s);
	}
}

/* Value of key=VALUE on the kernel command line, or NULL. */
static char g_cmdline[4096];
static const char *cmdline_arg(const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = g_cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, kl) && (p[kl] == '=' || p[kl] == ' ' || !p[kl])) {
			const char *v = p[kl] == '=' ? p + kl + 1 : p + kl;
			size_t n = strcspn(v, " ");
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return out;
		}
		p += strcspn(p, " ");
	}
	return NULL;
}

static long g_ncpu;

/* ---- the checks ------------------------------------------------------- */

static void check_cpufreq(void)
{
	int scaling = 0, seen = 0;
	char gov[64], govs[256] = "";
	for (long i = 0; i < g_ncpu; i++) {
		char p[128];
		snprintf(p, sizeof(p),
			 "/sys/devices/system/cpu/cpu%ld/cpufreq/scaling_governor", i);
		if (rd(p, gov, sizeof(gov)) <= 0)
			continue;
		seen++;
		if (strcmp(gov, "performance"))
			scaling++;
		if (!strstr(govs, gov))
			put(govs, sizeof(govs), "%s%s", *govs ? "," : "", gov);
	}
	struct check *c = add("cpufreq", seen && scaling ? ST_WARN : seen ? ST_OK : ST_INFO);
	if (!c)
		return;
	val_i(c, "cpus_with_governor", seen);
	val_i(c, "cpus_not_performance", scaling);
	val_s(c, "governors", govs);
	if (!seen) {
		FOUND(c, "no cpufreq driver: the frequency is not scaled by this kernel (fixed, or the hypervisor's)");
		return;
	}
	FOUND(c, "governor %s on %d of %ld CPUs", govs, seen, g_ncpu);
	if (scaling)
		ADVICE(c, "cpupower frequency-set -g performance (or write performance to /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor): a ramping clock stretches every job");
}

static void check_cstates(void)
{
	char drv[64] = "none", name[64];
	rd("/sys/devices/system/cpu/cpuidle/current_driver", drv, sizeof(drv));
	int deep = 0;
	long worst = 0;
	char states[384] = "";
	for (int s = 0; s < 16; s++) {
		char p[160];
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/name", s);
		if (rd(p, name, sizeof(name)) <= 0)
			break;
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/latency", s);
		long lat = rd_long(p, 0);
		snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu0/cpuidle/state%d/disable", s);
		long dis = rd_long(p, 0);
		put(states, sizeof(states), "%s%s(%ld us%s)", *states ? " " : "", name,
		    lat, dis ? ", disabled" : "");
		if (!dis && lat > 10) {
			deep++;
			if (lat > worst)
				worst = lat;
		}
	}
	struct check *c = add("cstates", deep ? ST_WARN : ST_OK);
	if (!c)
		return;
	val_s(c, "driver", drv);
	val_i(c, "deep_states_enabled", deep);
	val_i(c, "worst_exit_latency_us", worst);
	FOUND(c, "cpuidle driver %s; states: %s", drv, *states ? states : "none");
	if (deep)
		ADVICE(c, "%d enabled idle state(s) with exit latency above 10 us (worst %ld us): cpupower idle-set -D 10, or boot with intel_idle.max_cstate=1 processor.max_cstate=1", deep, worst);
}

static void check_smt(void)
{
	char ctl[32] = "", act[8] = "", sib[64] = "";
	rd("/sys/devices/system/cpu/smt/control", ctl, sizeof(ctl));
	rd("/sys/devices/system/cpu/smt/active", act, sizeof(act));
	rd("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list", sib, sizeof(sib));
	bool on = !strcmp(act, "1");
	struct check *c = add("smt", on ? ST_WARN : ST_OK);
	if (!c)
		return;
	val_s(c, "control", ctl);
	val_i(c, "active", on);
	FOUND(c, "smt control %s, active %s; cpu0 siblings %s", *ctl ? ctl : "absent",
	      *act ? act : "?", *sib ? sib : "?");
	if (on)
		ADVICE(c, "SMT siblings share one core's pipeline and caches: shield both siblings of a real-time core, or echo off > /sys/devices/system/cpu/smt/control (boot: nosmt)");
}

static void check_thp(void)
{
	char raw[128], en[32] = "?", df[32] = "?";
	if (rd("/sys/kernel/mm/transparent_hugepage/enabled", raw, sizeof(raw)) > 0)
		bracketed(raw, en, sizeof(en));
	if (rd("/sys/kernel/mm/transparent_hugepage/defrag", raw, sizeof(raw)) > 0)
		bracketed(raw, df, sizeof(df));
	bool bad = !strcmp(en, "always");
	struct check *c = add("thp", bad ? ST_WARN : ST_OK);
	if (!c)
		return;
	val_s(c, "enabled", en);
	val_s(c, "defrag", df);
	FOUND(c, "transparent_hugepage enabled=%s defrag=%s", en, df);
	if (bad)
		ADVICE(c, "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (boot: transparent_hugepage=madvise): collapsing and compacting huge pages stalls faulting tasks for milliseconds");
}

static void check_swap(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/proc/swaps", g_root);
	FILE *f = fopen(p, "r");
	int n = 0;
	char line[512], first[128] = "";
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Filename", 8))
				continue;
			if (!n)
				sscanf(line, "%127s", first);
			n++;
		}
		fclose(f);
	}
	long swappiness = rd_long("/proc/sys/vm/swappiness", -1);
	struct check *c = add("swap", n ? ST_WARN : ST_OK);
	if (!c)
		return;
	val_i(c, "devices", n);
	val_i(c, "swappiness", swappiness);
	FOUND(c, "%d swap device(s)%s%s; vm.swappiness %ld", n, n ? ", first " : "", first,
	      swappiness);
	if (n)
		ADVICE(c, "swapoff -a, or keep real-time partitions' memory locked (mlockall): a page brought back from swap costs milliseconds");
}

static void check_rt_throttle(void)
{
	long rt = rd_long("/proc/sys/kernel/sched_rt_runtime_us", -2);
	long per = rd_long("/proc/sys/kernel/sched_rt_period_us", -2);
	char fs[64] = "";
	long fr = rd_long("/sys/kernel/debug/sched/fair_server/cpu0/runtime", -1);
	if (fr >= 0)
		snprintf(fs, sizeof(fs), "; fair server %ld ns per period", fr);
	struct check *c = add("rt_throttling", rt == -1 ? ST_WARN : ST_INFO);
	if (!c)
		return;
	val_i(c, "sched_rt_runtime_us", rt);
	val_i(c, "sched_rt_period_us", per);
	if (rt == -2 || per == -2) {
		FOUND(c, "sched_rt_runtime_us not readable");
		return;
	}
	if (rt == -1)
		FOUND(c, "RT throttling off (sched_rt_runtime_us -1)%s", fs);
	else
		FOUND(c, "real-time and deadline tasks may use %ld of every %ld us per CPU (%.0f %%)%s",
		      rt, per, per > 0 ? 100.0 * (double)rt / (double)per : 0, fs);
	if (rt == -1)
		ADVICE(c, "with throttling off a runaway SCHED_FIFO task can starve the executive: set sched_rt_runtime_us back to 950000");
	else
		ADVICE(c, "the sum of SCHED_DEADLINE reservations per CPU is admitted up to this share; leave it unless reservations need more");
}

static void check_preempt(void)
{
	struct utsname u;
	uname(&u);
	char model[64] = "";
	char buf[128];
	const char *how = "";
	if (strstr(u.version, "PREEMPT_RT")) {
		snprintf(model, sizeof(model), "rt");
		how = "uname";
	} else if (rd("/sys/kernel/debug/sched/preempt", buf, sizeof(buf)) > 0) {
		const char *a = strchr(buf, '(');
		const char *b = a ? strchr(a, ')') : NULL;
		if (a && b && (size_t)(b - a) < sizeof(model)) {
			memcpy(model, a + 1, (size_t)(b - a - 1));
			model[b - a - 1] = 0;
			how = "debugfs";
		}
	}
	if (!*model && cmdline_arg("preempt", buf, sizeof(buf))) {
		snprintf(model, sizeof(model), "%.63s", buf);
		how = "boot parameter";
	}
#ifdef MYCO_HAVE_ZLIB
	if (!*model) {
		/* the build's default (PREEMPT_DYNAMIC boots into it) */
		char p[256];
		snprintf(p, sizeof(p), "%s/proc/config.gz", g_root);
		gzFile z = gzopen(p, "rb");
		if (z) {
			char line[256];
			while (gzgets(z, line, sizeof(line))) {
				if (!strcmp(line, "CONFIG_PREEMPT_NONE=y\n"))
					snprintf(model, sizeof(model), "none");
				else if (!strcmp(line, "CONFIG_PREEMPT_VOLUNTARY=y\n"))
					snprintf(model, sizeof(model), "voluntary");
				else if (!strcmp(line, "CONFIG_PREEMPT=y\n"))
					snprintf(model, sizeof(model), "full");
				else if (!strcmp(line, "CONFIG_PREEMPT_LAZY=y\n"))
					snprintf(model, sizeof(model), "lazy");
			}
			gzclose(z);
			if (*model)
				how = "kernel config default";
		}
	}
#endif
	if (!*model) {
		snprintf(model, sizeof(model), strstr(u.version, "PREEMPT") ? "full" : "unknown");
		how = "uname";
	}
	bool good = !strcmp(model, "full") || !strcmp(model, "rt");
	struct check *c = add("preemption", good ? ST_OK : ST_WARN);
	if (!c)
		return;
	val_s(c, "model", model);
	val_s(c, "source", how);
	FOUND(c, "preemption model %s (from %s); kernel %s %s", model, how, u.release, u.version);
	if (!good) {
		if (strstr(u.version, "PREEMPT_DYNAMIC"))
			ADVICE(c, "boot with preempt=full (this kernel is PREEMPT_DYNAMIC), or run a PREEMPT_RT kernel: with '%s' a woken real-time task waits for the running task to leave the kernel", model);
		else
			ADVICE(c, "use a kernel built with CONFIG_PREEMPT or PREEMPT_RT: with '%s' a woken real-time task waits for the running task to leave the kernel", model);
	}
}

static void check_cgroup(void)
{
	char p[256], line[512];
	snprintf(p, sizeof(p), "%s/proc/mounts", g_root);
	FILE *f = fopen(p, "r");
	bool v2_root = false, v2_any = false, v1 = false, cpuset1 = false;
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char dev[128], mnt[256], type[64], opts[256];
			if (sscanf(line, "%127s %255s %63s %255s", dev, mnt, type, opts) != 4)
				continue;
			if (!strcmp(type, "cgroup2")) {
				v2_any = true;
				if (!strcmp(mnt, "/sys/fs/cgroup"))
					v2_root = true;
			} else if (!strcmp(type, "cgroup")) {
				v1 = true;
				if (strstr(opts, "cpuset"))
					cpuset1 = true;
			}
		}
		fclose(f);
	}
	const char *ver = v2_root ? "2" : v1 && v2_any ? "hybrid" : v1 ? "1" : "none";
	struct check *c = add("cgroup", v2_root ? ST_OK : ST_INFO);
	if (!c)
		return;
	val_s(c, "version", ver);
	FOUND(c, "cgroup version %s%s", ver, cpuset1 ? " (v1 cpuset controller mounted)" : "");
	if (!v2_root)
		ADVICE(c, "boot with systemd.unified_cgroup_hierarchy=1 for cgroup v2 (one hierarchy: cpu.max, cpuset partitions, cgroup.freeze); Myco also works with v1");
}

static void check_isolation(void)
{
	char iso[128] = "", nohz[128] = "", rcu[128] = "", irqa[128] = "", b[128];
	rd("/sys/devices/system/cpu/isolated", iso, sizeof(iso));
	rd("/sys/devices/system/cpu/nohz_full", nohz, sizeof(nohz));
	if (!strcmp(nohz, "(null)"))
		nohz[0] = 0;
	if (cmdline_arg("rcu_nocbs", b, sizeof(b)))
		snprintf(rcu, sizeof(rcu), "%s", b);
	if (cmdline_arg("irqaffinity", b, sizeof(b)))
		snprintf(irqa, sizeof(irqa), "%s", b);
	bool any = *iso || *nohz || *rcu;
	struct check *c = add("isolation", any ? ST_OK : ST_INFO);
	if (!c)
		return;
	val_s(c, "isolated", iso);
	val_s(c, "nohz_full", nohz);
	val_s(c, "rcu_nocbs", rcu);
	val_s(c, "irqaffinity", irqa);
	FOUND(c, "isolcpus %s, nohz_full %s, rcu_nocbs %s, irqaffinity %s", *iso ? iso : "none",
	      *nohz ? nohz : "none", *rcu ? rcu : "none", *irqa ? irqa : "none");
	if (!any) {
		long last = g_ncpu - 1;
		ADVICE(c, "no core is isolated at boot: the executive's shielded cores move tasks and IRQs at run time, but the scheduler tick, RCU callbacks and unbound kernel work still land there; for a full shield boot with isolcpus=managed_irq,domain,%ld nohz_full=%ld rcu_nocbs=%ld irqaffinity=0", last, last, last);
	}
}

static void check_irqs(void)
{
	char dflt[64] = "?";
	rd("/proc/irq/default_smp_affinity", dflt, sizeof(dflt));
	char p[256];
	snprintf(p, sizeof(p), "%s/proc/irq", g_root);
	DIR *d = opendir(p);
	int total = 0, everywhere = 0;
	char all[64];
	snprintf(all, sizeof(all), "0-%ld", g_ncpu - 1);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			char q[300], v[64];
			snprintf(q, sizeof(q), "/proc/irq/%s/smp_affinity_list", e->d_name);
			if (rd(q, v, sizeof(v)) <= 0)
				continue;
			total++;
			if (!strcmp(v, all) || (g_ncpu == 1 && !strcmp(v, "0")))
				everywhere++;
		}
		closedir(d);
	}
	bool balance = false;
	snprintf(p, sizeof(p), "%s/proc", g_root);
	d = opendir(p);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			char q[300], v[64];
			snprintf(q, sizeof(q), "/proc/%s/comm", e->d_name);
			if (rd(q, v, sizeof(v)) > 0 && !strcmp(v, "irqbalance"))
				balance = true;
		}
		closedir(d);
	}
	struct check *c = add("irqs", everywhere || balance ? ST_WARN : ST_OK);
	if (!c)
		return;
	val_i(c, "total", total);
	val_i(c, "on_every_cpu", everywhere);
	val_s(c, "default_affinity", dflt);
	val_i(c, "irqbalance", balance);
	FOUND(c, "%d IRQs, %d may run on every CPU; default affinity %s; irqbalance %s",
	      total, everywhere, dflt, balance ? "running" : "not running");
	if (everywhere || balance)
		ADVICE(c, "steer device interrupts away from real-time cores: a system with 'shield cores' does it while it runs; otherwise write the housekeeping CPUs to /proc/irq/*/smp_affinity_list%s (boot: irqaffinity=0)",
		       balance ? " and stop irqbalance or give it --banirq/IRQBALANCE_BANNED_CPULIST" : "");
}

static void check_timers(void)
{
	long mig = rd_long("/proc/sys/kernel/timer_migration", -1);
	char cs[64] = "?";
	rd("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof(cs));
	bool good_cs = !strcmp(cs, "tsc") || !strcmp(cs, "kvm-clock") ||
		       !strcmp(cs, "arch_sys_counter");
	struct check *c = add("timers", good_cs && mig != 1 ? ST_OK : good_cs ? ST_INFO : ST_WARN);
	if (!c)
		return;
	val_s(c, "clocksource", cs);
	val_i(c, "timer_migration", mig);
	FOUND(c, "clocksource %s; timer_migration %ld", cs, mig);
	if (!good_cs)
		ADVICE(c, "clocksource %s makes every clock read slow: use tsc (boot: clocksource=tsc tsc=reliable) ", cs);
	if (mig == 1)
		ADVICE(c, "timer_migration 1 lets idle CPUs' timers fire on busy ones, shielded cores included: sysctl kernel.timer_migration=0");
}

static void check_hypervisor(void)
{
	char p[256], line[1024];
	bool hv = false;
	snprintf(p, sizeof(p), "%s/proc/cpuinfo", g_root);
	FILE *f = fopen(p, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "flags", 5)) {
				hv = strstr(line, " hypervisor") != NULL;
				break;
			}
		}
		fclose(f);
	}
	unsigned long long v[10] = { 0 }, tot = 0;
	snprintf(p, sizeof(p), "%s/proc/stat", g_root);
	f = fopen(p, "r");
	if (f) {
		if (fgets(line, sizeof(line), f))
			sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(f);
	}
	for (int i = 0; i < 8; i++)
		tot += v[i];
	double pct = tot ? 100.0 * (double)v[7] / (double)tot : 0;
	struct check *c = add("hypervisor", hv && v[7] ? ST_WARN : hv ? ST_INFO : ST_OK);
	if (!c)
		return;
	val_i(c, "virtual", hv);
	val_i(c, "steal_ticks", (long long)v[7]);
	FOUND(c, "%s; stolen time since boot %llu ticks (%.2f %% of all CPU time)",
	      hv ? "virtual machine" : "bare metal", v[7], pct);
	if (hv)
		ADVICE(c, "the host can deschedule a vCPU for milliseconds (stolen time) and no guest setting prevents it: pin the vCPUs to dedicated host cores (no overcommit), or run real-time partitions on bare metal");
}

static void check_limits(void)
{
	struct rlimit ml, rp;
	getrlimit(RLIMIT_MEMLOCK, &ml);
	getrlimit(RLIMIT_RTPRIO, &rp);
	bool root = geteuid() == 0;
	bool ok = root || (rp.rlim_cur > 0 && ml.rlim_cur == RLIM_INFINITY);
	struct check *c = add("privileges", ok ? ST_OK : ST_WARN);
	if (!c)
		return;
	char mls[32];
	if (ml.rlim_cur == RLIM_INFINITY)
		snprintf(mls, sizeof(mls), "unlimited");
	else
		snprintf(mls, sizeof(mls), "%llu KiB", (unsigned long long)ml.rlim_cur / 1024);
	val_i(c, "euid", (long long)geteuid());
	FOUND(c, "euid %d; RLIMIT_MEMLOCK %s; RLIMIT_RTPRIO %llu", (int)geteuid(), mls,
	      (unsigned long long)(rp.rlim_cur == RLIM_INFINITY ? 99 : rp.rlim_cur));
	if (!ok)
		ADVICE(c, "SCHED_DEADLINE needs root (CAP_SYS_NICE) and locked memory needs a memlock limit: run the executive as root, or raise the limits in /etc/security/limits.conf");
}

static void check_resctrl(void)
{
	char p[256], line[2048];
	bool cat = false, mba = false;
	snprintf(p, sizeof(p), "%s/proc/cpuinfo", g_root);
	FILE *f = fopen(p, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "flags", 5)) {
				cat = strstr(line, " cat_l3") || strstr(line, " cat_l2");
				mba = strstr(line, " mba") != NULL;
				break;
			}
		}
		fclose(f);
	}
	char sch[256] = "";
	int mounted = rd("/sys/fs/resctrl/schemata", sch, sizeof(sch)) >= 0;
	struct check *c = add("resctrl", cat && !mounted ? ST_WARN : ST_INFO);
	if (!c)
		return;
	val_i(c, "cache_allocation", cat);
	val_i(c, "bandwidth_allocation", mba);
	val_i(c, "mounted", mounted);
	FOUND(c, "cache allocation %s, memory bandwidth allocation %s; resctrl %s",
	      cat ? "supported" : "not offered by this CPU", mba ? "supported" : "not offered",
	      mounted ? "mounted" : "not mounted");
	for (char *s = c->found; *s; s++)
		if (*s == '\n')
			*s = ' ';
	if (cat && !mounted)
		ADVICE(c, "mount -t resctrl resctrl /sys/fs/resctrl so that 'cache ways N' in a system file takes effect");
	else if (!cat)
		ADVICE(c, "'cache ways N' cannot be enforced here: partitions share the last-level cache (reported as degraded by myco run)");
}

/* ---- output ------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

int myco_cmd_doctor(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			g_root = argv[++i];
		} else {
			fprintf(stderr, "usage: myco doctor [--json] [--root DIR]\n"
				"Checks this host for what undermines deterministic timing and says what to change.\n");
			return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
		}
	}
	g_n = 0;
	g_ncpu = sysconf(_SC_NPROCESSORS_CONF);
	if (g_ncpu < 1)
		g_ncpu = 1;
	if (*g_root) {
		/* the fake tree's CPU count: cpu0..cpuN directories */
		long n = 0;
		char p[128], b[8];
		for (;; n++) {
			snprintf(p, sizeof(p), "/sys/devices/system/cpu/cpu%ld/online", n);
			if (rd(p, b, sizeof(b)) < 0 && n > 0)
				break;
			if (n > 4096)
				break;
		}
		g_ncpu = n ? n : 1;
	}
	if (rd("/proc/cmdline", g_cmdline, sizeof(g_cmdline)) < 0)
		g_cmdline[0] = 0;

	check_cpufreq();
	check_cstates();
	check_smt();
	check_thp();
	check_swap();
	check_rt_throttle();
	check_timers();
	check_irqs();
	check_preempt();
	check_cgroup();
	check_isolation();
	check_hypervisor();
	check_limits();
	check_resctrl();

	int warn = 0;
	for (int i = 0; i < g_n; i++)
		warn += g_checks[i].st == ST_WARN;
	if (json) {
		printf("{\"cpus\":%ld,\"warnings\":%d,\"checks\":[", g_ncpu, warn);
		for (int i = 0; i < g_n; i++) {
			struct check *c = &g_checks[i];
			printf("%s{\"id\":", i ? "," : "");
			json_str(c->id);
			printf(",\"status\":\"%s\",\"found\":", st_name[c->st]);
			json_str(c->found);
			printf(",\"advice\":");
			json_str(c->advice);
			printf(",\"values\":{%s}}", c->values);
		}
		printf("]}\n");
	} else {
		printf("myco doctor: %ld CPUs, %d warning(s)\n\n", g_ncpu, warn);
		for (int i = 0; i < g_n; i++) {
			struct check *c = &g_checks[i];
			printf("[%-4s] %-13s %s\n", st_name[c->st], c->id, c->found);
			if (*c->advice)
				printf("       %-13s -> %s\n", "", c->advice);
		}
		printf("\nWhat Myco guarantees and what the host must provide: docs/determinism.md\n");
	}
	return warn ? 1 : 0;
}
