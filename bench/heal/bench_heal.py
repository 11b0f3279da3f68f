#!/usr/bin/env python3
"""myco-bench-heal: per slow-failure class (leak, livelock, creep, stuck,
errors) the time to detect, the time to heal and the messages lost, and the
false heals per hour of a clean run under a 1x..5x..1x load, for Myco's
health model against a systemd unit with Restart=always, WatchdogSec=1s and
MemoryMax=128M running the same program with the same fault (sd_notify
WATCHDOG=1 from the same loop where the partition calls myco_heartbeat()).
Alternating Myco, systemd, Myco, systemd per class.

systemd is not PID 1 on this machine, so the run starts one as PID 1 of
new mount, PID, network and cgroup namespaces whose cgroup root is a
dedicated subtree (`myco-bench-heal` in every hierarchy, removed at the
end), with the host's units hidden: only the benchmark's transient units
run.  Needs root; without it the systemd side is reported as blocked.

    myco-bench-heal [--json] [--quick] [--rounds N] [--window S] [--clean S]

--rounds: runs per class and side (1); --window: how long a systemd run
is watched after the fault before it counts as not detected (30 s, quick
15 s); --clean: seconds of the clean 1x..5x..1x run (45 s, quick 13.5 s).
A default run takes about 5 minutes (undetected faults are watched for
their whole window), --quick about 3.
"""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MYCO = "@MYCO@"
IPART = "@IPART@"
DRIVER = "@DRIVER@"

QUICK = "--quick" in sys.argv
JSON = "--json" in sys.argv


def opt(name, default):
    if name in sys.argv:
        i = sys.argv.index(name)
        if i + 1 < len(sys.argv):
            return float(sys.argv[i + 1])
    return default


ROUNDS = int(opt("--rounds", 1))
SD_WINDOW = opt("--window", 15.0 if QUICK else 30.0)   # a systemd run ends undetected after
CLEAN_STEP_MS = int(opt("--clean", 13.5 if QUICK else 45.0) * 1000 / 9)   # 9 load steps
CLASSES = ["leak", "livelock", "creep", "stuck", "errors"]
FAULT_ENV = {
    "leak": {"XLEAK_KIB": "1024"},
    "livelock": {},
    "creep": {"XCREEP_US": "20000", "XWORK_US": "200", "XRATE": "20"},
    "stuck": {},
    "errors": {"XERR_PCT": "4"},
}
CG_CTRL = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
           "systemd", "unified"]

spec = importlib.util.spec_from_file_location("test_immune", DRIVER)
ti = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ti)


def log(*a):
    if not JSON:
        print(*a, flush=True)


# ---- systemd as PID 1 in namespaces -------------------------------------

RUN_SH = r"""#!/bin/sh
set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /sys/fs/cgroup
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
	if grep -qw "$c" /proc/cgroups; then
		mkdir -p /sys/fs/cgroup/$c
		mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c || rmdir /sys/fs/cgroup/$c
	fi
done
mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd || true
mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified || true
mount -t tmpfs tmpfs /etc/systemd/system
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd
printf '[Unit]\nDescription=bench-heal\nDefaultDependencies=no\n' > /etc/systemd/system/bench-heal.target
mount -t tmpfs tmpfs /lib/systemd/system
cp /etc/systemd/system/bench-heal.target /lib/systemd/system/
exec env container=myco-bench /lib/systemd/systemd --system --unit=bench-heal.target \
	--log-target=console --log-level=warning
"""


class Systemd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.pid = None
        self.proc = None

    def start(self):
        if os.geteuid() != 0:
            return "not root: cannot start systemd as PID 1 of a namespace"
        if not shutil.which("unshare") or not os.path.exists("/lib/systemd/systemd"):
            return "systemd or unshare not installed"
        run = os.path.join(self.tmp, "run.sh")
        with open(run, "w") as f:
            f.write(RUN_SH)
        os.chmod(run, 0o755)
        launch = os.path.join(self.tmp, "launch.sh")
        with open(launch, "w") as f:
            f.write("#!/bin/sh\n")
            for c in CG_CTRL:
                d = "/sys/fs/cgroup/%s/myco-bench-heal" % c
                f.write("if [ -d /sys/fs/cgroup/%s ]; then mkdir -p %s; " % (c, d))
                if c == "cpuset":
                    f.write("cat /sys/fs/cgroup/cpuset/cpuset.cpus > %s/cpuset.cpus; "
                            "cat /sys/fs/cgroup/cpuset/cpuset.mems > %s/cpuset.mems; " % (d, d))
                f.write("echo $$ > %s/cgroup.procs; fi\n" % d)
            f.write("exec unshare --fork --pid --mount --net --cgroup --mount-proc %s\n" % run)
        os.chmod(launch, 0o755)
        self.out = open(os.path.join(self.tmp, "systemd.log"), "w")
        self.proc = subprocess.Popen([launch], stdout=self.out, stderr=self.out,
                                     start_new_session=True)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            r = subprocess.run(["pgrep", "-f", "systemd --system --unit=bench-heal.target"],
                               capture_output=True, text=True)
            pids = [int(x) for x in r.stdout.split()]
            if pids:
                self.pid = pids[0]
                if self.ctl("is-system-running", check=False).stdout.strip() in (
                        "running", "degraded"):
                    return None
            time.sleep(0.2)
        return "systemd did not come up as PID 1 of the namespace"

    def nsenter(self, args, check=True):
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-m", "-p", "-n"] + args,
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
        return r

    def ctl(self, *args, check=True):
        return self.nsenter(["systemctl"] + list(args), check=check)

    def stop(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # the dedicated cgroups, deepest first, once their processes are gone
        for c in CG_CTRL:
            root = "/sys/fs/cgroup/%s/myco-bench-heal" % c
            for _ in range(50):
                if not os.path.isdir(root):
                    break
                for d, _dirs, _f in sorted(os.walk(root), key=lambda x: -x[0].count("/")):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
                if os.path.isdir(root):
                    time.sleep(0.1)


def parse(path):
    starts, fault, stats = [], None, []
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if not w:
                    continue
                if w[0] == "START":
                    starts.append(int(w[1]))
                elif w[0] == "FAULT" and fault is None:
                    fault = int(w[2])
                elif w[0] == "STAT":
                    stats.append((len(starts), dict(kv.split("=") for kv in w[1:])))
    except FileNotFoundError:
        pass
    return starts, fault, stats


def systemd_fault(sd, cls, i):
    unit = "heal-%s-%d" % (cls, i)
    out = os.path.join(sd.tmp, unit + ".out")
    mark = os.path.join(sd.tmp, unit + ".mark")
    env = {"XMODE": "alone", "XFAULT": cls, "XFAULT_MARK": mark, "XRATE": "200",
           "XFAULT_AFTER_MS": "6000"}
    env.update(FAULT_ENV[cls])
    if cls == "errors":
        env["XMODE"] = "alone"   # the answers' errors: same counters
    props = ["-p", "DefaultDependencies=no", "-p", "Type=notify", "-p", "NotifyAccess=main",
             "-p", "WatchdogSec=1s", "-p", "Restart=always", "-p", "RestartSec=0",
             "-p", "MemoryMax=128M", "-p", "StandardOutput=append:" + out,
             "-p", "StandardError=append:" + out]
    for k, v in env.items():
        props += ["-p", "Environment=%s=%s" % (k, v)]
    sd.nsenter(["systemd-run", "--unit=" + unit] + props + [IPART])
    t0 = time.monotonic()
    res = {"class": cls, "detected": False}
    while time.monotonic() - t0 < 6.0 + SD_WINDOW + 10:
        starts, fault, stats = parse(out)
        if fault and len(starts) >= 2 and starts[-1] > fault:
            res.update(detected=True, detect_ms=(starts[-1] - fault) / 1e6,
                       heal_ms=(starts[-1] - fault) / 1e6)
            first = [st for n, st in stats if n == 1]
            res["lost"] = int(first[-1].get("queued", 0)) if first else 0
            break
        if fault and (time.monotonic() - t0) > 6.0 + SD_WINDOW:
            res["window_s"] = SD_WINDOW
            break
        time.sleep(0.1)
    show = sd.ctl("show", unit, "-p", "NRestarts", "-p", "Result", check=False).stdout
    res["systemd"] = dict(l.split("=", 1) for l in show.split() if "=" in l)
    sd.ctl("stop", unit, check=False)
    return res


def systemd_clean(sd, seconds):
    unit = "heal-clean"
    out = os.path.join(sd.tmp, unit + ".out")
    props = ["-p", "DefaultDependencies=no", "-p", "Type=notify", "-p", "NotifyAccess=main",
             "-p", "WatchdogSec=1s", "-p", "Restart=always", "-p", "RestartSec=0",
             "-p", "MemoryMax=128M", "-p", "StandardOutput=append:" + out,
             "-p", "Environment=XMODE=alone", "-p", "Environment=XRATE=1000"]
    sd.nsenter(["systemd-run", "--unit=" + unit] + props + [IPART])
    time.sleep(seconds)
    starts, _, _ = parse(out)
    sd.ctl("stop", unit, check=False)
    return {"restarts": max(0, len(starts) - 1), "seconds": seconds}


def pct(v):
    return "%.0f" % v if isinstance(v, (int, float)) else str(v)


def main():
    tmp = tempfile.mkdtemp(prefix="myco-bench-heal-")
    up = open("/proc/loadavg").read().split()[:3]
    setup = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load": up,
             "rounds": ROUNDS, "systemd_window_s": SD_WINDOW,
             "clean_s": CLEAN_STEP_MS * 9 / 1000,
             "myco": "sink partition: memory 128 MiB, slo memory < 75 %, latency p99 < 100 ms, "
                     "queue < 2000, stall < 2 s, errors < 20 %; heal restart (ahead 10 s)",
             "systemd": "the same program (XMODE=alone) as a transient unit: Type=notify, "
                        "WatchdogSec=1s, Restart=always, RestartSec=0, MemoryMax=128M"}
    log("bench-heal: %s, load %s; fault 6 s after start; systemd runs end undetected after "
        "%.0f s" % (setup["date"], " ".join(up), SD_WINDOW))
    sd = Systemd(tmp)
    blocked = sd.start()
    if blocked:
        log("systemd side: blocked (%s)" % blocked)
    rows = []
    try:
        for cls in CLASSES:
            for r in range(ROUNDS):
                m = ti.run_fault(MYCO, IPART, cls, quiet=True)
                rows.append(dict(m, side="myco", round=r))
                log("  myco    %-8s detect %6.0f ms  heal %6.0f ms  lost %d  (%s on %s)" % (
                    cls, m["detect_ms"], m["heal_ms"], m.get("lost", 0), m["action"], m["signal"]))
                if not blocked:
                    s = systemd_fault(sd, cls, r)
                    rows.append(dict(s, side="systemd", round=r))
                    if s["detected"]:
                        log("  systemd %-8s detect %6.0f ms  heal %6.0f ms  lost %d  (%s)" % (
                            cls, s["detect_ms"], s["heal_ms"], s.get("lost", 0),
                            s["systemd"].get("Result", "")))
                    else:
                        log("  systemd %-8s not detected within %.0f s" % (cls, SD_WINDOW))
        clean = ti.run_clean(MYCO, IPART, CLEAN_STEP_MS, quiet=True)
        hours = clean["seconds"] / 3600.0
        clean_row = {"side": "myco", "class": "clean", "heals": clean["heals"],
                     "false_heals_per_hour": clean["heals"] / hours, "seconds": clean["seconds"],
                     "degraded": clean["degraded"], "messages": clean["recv"]}
        rows.append(clean_row)
        log("  myco    clean    %d heals in %.0f s (%.0f per hour), %d degraded verdicts, "
            "%d messages" % (clean["heals"], clean["seconds"], clean_row["false_heals_per_hour"],
                             clean["degraded"], clean["recv"]))
        if not blocked:
            sc = systemd_clean(sd, clean["seconds"])
            rows.append({"side": "systemd", "class": "clean", "heals": sc["restarts"],
                         "false_heals_per_hour": sc["restarts"] / hours,
                         "seconds": sc["seconds"]})
            log("  systemd clean    %d restarts in %.0f s" % (sc["restarts"], sc["seconds"]))
    finally:
        sd.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if JSON:
        print(json.dumps({"bench": "heal", "setup": setup, "systemd_blocked": blocked,
                          "rows": rows}))


if __name__ == "__main__":
    main()
