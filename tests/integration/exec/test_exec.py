#!/usr/bin/env python3
"""Integration tests of the executive, through `myco run` and the control
socket with real partition processes.

    test_exec.py MYCO XPART DEMO_DIR CASE

CASE is one of the functions named case_* below.  Every wait has a generous
upper bound that only turns a hang into a failure; no check compares a
duration against a threshold.  Exit 0 pass, 1 fail, 77 skip.
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MYCO, XPART, DEMO = [os.path.abspath(a) for a in sys.argv[1:4]]
CASE = sys.argv[4]
SANITIZED = os.environ.get("MYCO_SANITIZED") == "1"
MYCO_PREFIX = []     # e.g. setpriv ... to run the executive and clients as another user


CURRENT = []     # the System under test, for its executive's log on failure


def fail(msg):
    print("FAIL: " + msg, flush=True)
    for s in CURRENT:
        try:
            print("--- executive log:\n" + s.errtext(), flush=True)
        except Exception:
            pass
    sys.exit(1)


def wait_for(cond, what, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def cgroup_dirs(name):
    found = []
    for ctl in glob.glob("/sys/fs/cgroup/*"):
        for root, dirs, _ in os.walk(ctl):
            if root.count("/") > 12:
                dirs[:] = []
                continue
            base = os.path.basename(root)
            # a system's level is its name, or name-<hash> under --runtime-dir
            if (base == name or (base.startswith(name + "-") and
                                 len(base) == len(name) + 9)) and "/myco" in root:
                found.append(root)
    return found


def partition(name, mode="idle", extra="", chans="", env=None):
    env = dict(env or {})
    env.setdefault("XMODE", mode)
    if chans:
        env.setdefault("XCHANS", chans)
    lines = ['    partition %s {' % name, '        program "%s";' % XPART]
    for k, v in env.items():
        lines.append('        env %s = "%s";' % (k, v))
    for l in extra.strip().splitlines():
        lines.append("        " + l.strip())
    lines.append("    }")
    return "\n".join(lines)


class System:
    def __init__(self, body, tag):
        self.name = ("xt%d%s" % (os.getpid(), tag))[:40]
        self.tmp = tempfile.mkdtemp(prefix="myco-exec-test-")
        self.rt = os.path.join(self.tmp, "rt")
        self.file = os.path.join(self.tmp, "system.myco")
        with open(self.file, "w") as f:
            f.write("system %s {\n    message M { v: u64 = 1; }\n%s\n}\n" % (self.name, body))
        self.proc = None
        CURRENT[:] = [self]
        self.shm_before = set(os.listdir("/dev/shm"))
        self.seen_pids = set()

    def start(self, wait_running=True):
        self.err = open(os.path.join(self.tmp, "run.err"), "w+")
        self.proc = subprocess.Popen(MYCO_PREFIX + [MYCO, "run", self.file, "--runtime-dir", self.rt,
                                      "--grace", "2"], stdout=self.err, stderr=self.err)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("ps", check=False).returncode == 0, "the control socket")
        if self.proc.poll() is not None:
            fail("myco run exited early (%d):\n%s" % (self.proc.returncode, self.errtext()))
        if wait_running:
            wait_for(lambda: all(p["state"] == "running" for p in self.ps()["partitions"]),
                     "every partition running")

    def errtext(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def cli(self, *args, check=True):
        r = subprocess.run(MYCO_PREFIX + [MYCO] + list(args) + ["--json", "--runtime-dir", self.rt],
                           capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            fail("myco %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def ps(self):
        r = self.cli("ps")
        d = json.loads(r.stdout.splitlines()[0])
        for p in d["partitions"]:
            for k in ("pid", "standby_pid"):
                if p[k]:
                    self.seen_pids.add(p[k])
        return d

    def part(self, name):
        for p in self.ps()["partitions"]:
            if p["name"] == name:
                return p
        fail("no partition " + name)

    def events(self):
        r = self.cli("events")
        return json.loads(r.stdout.splitlines()[0])["events"]

    def logs(self, name):
        r = self.cli("logs", name)
        return json.loads(r.stdout.splitlines()[0])["data"]

    def stop(self):
        self.ps()
        self.cli("stop", "--all")
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("executive did not exit after stop --all")
        return rc

    def check_clean(self):
        for pid in self.seen_pids:
            wait_for(lambda: not alive(pid), "partition pid %d to be gone" % pid, 10)
        if os.path.exists(self.rt):
            fail("runtime dir left behind: %s" % os.listdir(self.rt))
        new = set(os.listdir("/dev/shm")) - self.shm_before
        # other work on this machine uses /dev/shm too: only names that could
        # be ours (the system's or its channels') count
        ours = [self.name, "numbers", "filtered", "granted", "secret", "myco-ctl"]
        new = [n for n in new if any(o in n for o in ours)]
        if new:
            fail("left in /dev/shm: %s" % new)
        left = cgroup_dirs(self.name)
        if left:
            fail("cgroups left: %s" % left)

    def kill_all(self):
        """Last step of every case: no executive left, no temp dir left."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def case_ungranted():
    body = "\n".join([
        "    channel granted queue { type M; depth 16; }",
        "    channel secret queue { type M; depth 16; }",
        partition("asker", "ungranted", chans="granted", env={"XSECRET": "secret"},
                  extra="send granted;"),
        partition("recv1", chans="granted", extra="recv granted;"),
        partition("owner", chans="secret", extra="recv secret;"),
        partition("sender", chans="secret", extra="send secret;"),
    ])
    s = System(body, "ung")
    try:
        s.start()
        out = wait_for(lambda: "UNGRANTED" in s.logs("asker") and s.logs("asker"), "asker output")
        line = [l for l in out.splitlines() if l.startswith("UNGRANTED")][0]
        rc = int(line.split()[1])
        if rc != -10003:
            fail("opening an ungranted channel returned %d, want -MYCO_ENOTGRANTED: %s" % (rc, line))
        if "not granted" not in line or "granted" not in line:
            fail("unclear error message: " + line)
        if "GRANTED granted 0" not in out:
            fail("the granted channel did not open: " + out)
        # the capability is absent, not just refused: no fd of `secret` in the asker
        pid = s.part("asker")["pid"]
        env = open("/proc/%d/environ" % pid, "rb").read().split(b"\0")
        caps = [e for e in env if e.startswith(b"MYCO_CAPS=")][0].decode()
        if "secret" in caps:
            fail("asker's manifest names secret: " + caps)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_stream():
    n = 5000 if SANITIZED else 20000
    kills = 5
    demo = lambda prog: os.path.join(DEMO, "demo-" + prog)
    body = """
    channel numbers queue { type M; depth 256; overflow block; }
    channel filtered queue { type M; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "%d"; env DEMO_RATE = "4000"; readiness required; }
    partition filter { program "%s"; recv numbers; send filtered; readiness required; restart permanent; }
    partition sink { program "%s"; recv filtered; env DEMO_COUNT = "%d"; readiness required; }
    group g { strategy one_for_one; restarts 100 within 60 s; members sink, filter, producer; }
""" % (demo("producer"), n, demo("filter"), demo("sink"), n)
    body = body.replace("message M", "message M")
    s = System(body, "str")
    # the demo programs use the 16-byte Num layout: widen M
    txt = open(s.file).read().replace("message M { v: u64 = 1; }",
                                      "message M { seq: u64 = 1; value: u64 = 2; }")
    open(s.file, "w").write(txt)
    try:
        s.start()
        for i in range(kills):
            # kill only once the replacement has handled a message after the last kill
            wait_for(lambda: s.part("filter")["standby_pid"] != 0, "a parked standby")
            before = s.part("filter")["heartbeats"]
            wait_for(lambda: s.part("filter")["heartbeats"] > before, "filter progress")
            s.cli("kill", "filter")
            wait_for(lambda: s.part("filter")["restarts"] == i + 1 and
                     s.part("filter")["state"] == "running", "filter restart %d" % (i + 1))
        res = wait_for(lambda: "RESULT" in s.logs("sink") and s.logs("sink"), "sink result", 120)
        line = [l for l in res.splitlines() if "RESULT" in l][0].split()
        vals = dict(zip(line[2::2], [int(x) for x in line[3::2]]))
        print("sink:", vals)
        if vals["received"] != n or vals["gaps"] != 0 or vals["order_errors"] != 0:
            fail("stream broken across restarts: %s" % vals)
        if vals["redelivered"] > kills:
            fail("more redeliveries than kills: %s" % vals)
        rs = [e for e in s.events() if e["kind"] == "restarted" and e["partition"] == "filter"]
        if len(rs) != kills or any("crash_to_running_ns" not in e or e["crash_to_running_ns"] <= 0
                                   for e in rs):
            fail("restart records: %s" % rs)
        starts = [e for e in s.events() if e["kind"] == "restart" and e["partition"] == "filter"]
        if not all("standby activated" in e["detail"] for e in starts):
            fail("a restart did not use the standby: %s" % starts)
        if s.part("producer")["restarts"] or s.part("sink")["restarts"]:
            fail("one_for_one restarted other partitions")
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_sink_restart():
    """The demo sink killed mid-stream resumes where the dead one stopped:
    no GAP is reported after its own restart (it re-learns its position
    from the first message the channel hands the replacement)."""
    n = 5000 if SANITIZED else 20000
    kills = 3
    demo = lambda prog: os.path.join(DEMO, "demo-" + prog)
    body = """
    channel numbers queue { type M; depth 256; overflow block; }
    channel filtered queue { type M; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "%d"; env DEMO_RATE = "4000"; readiness required; }
    partition filter { program "%s"; recv numbers; send filtered; readiness required; }
    partition sink { program "%s"; recv filtered; env DEMO_COUNT = "%d"; readiness required; restart permanent; }
    group g { strategy one_for_one; restarts 100 within 60 s; members sink, filter, producer; }
""" % (demo("producer"), n, demo("filter"), demo("sink"), n)
    s = System(body, "snk")
    txt = open(s.file).read().replace("message M { v: u64 = 1; }",
                                      "message M { seq: u64 = 1; value: u64 = 2; }")
    open(s.file, "w").write(txt)
    try:
        s.start()
        for i in range(kills):
            # kill only once this sink instance has taken messages
            wait_for(lambda: s.part("sink")["standby_pid"] != 0, "a parked standby")
            done = s.ps()["channels"]
            base = [c["done"] for c in done if c["name"] == "filtered"][0]
            wait_for(lambda: [c["done"] for c in s.ps()["channels"]
                              if c["name"] == "filtered"][0] > base + 50, "sink progress")
            s.cli("kill", "sink")
            wait_for(lambda: s.part("sink")["restarts"] == i + 1 and
                     s.part("sink")["state"] == "running", "sink restart %d" % (i + 1))
        res = wait_for(lambda: "RESULT" in s.logs("sink") and s.logs("sink"), "sink result", 120)
        if "GAP" in res:
            fail("the sink reported a gap after its own restart:\n" + res)
        line = [l for l in res.splitlines() if "RESULT" in l][0].split()
        vals = dict(zip(line[2::2], [int(x) for x in line[3::2]]))
        if vals["gaps"] != 0 or vals["order_errors"] != 0:
            fail("stream broken across sink restarts: %s" % vals)
        if res.count("resuming at seq") != kills:
            fail("each replacement should re-learn its position once:\n" + res)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_escalation():
    body = """
    %s
    %s
    group g { strategy one_for_all; restarts 3 within 60 s; members steady, crasher; }
""" % (partition("steady"), partition("crasher", "crash", env={"XDELAY": "50"}))
    s = System(body, "esc")
    try:
        s.start(wait_running=False)
        try:
            rc = s.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("no escalation")
        err = s.errtext()
        if rc != 3:
            fail("exit status %d, want 3 (escalated):\n%s" % (rc, err))
        if "escalation: group g had more than 3 restarts" not in err:
            fail("no clear final report:\n" + err)
        if "group-stop" not in err:
            fail("one_for_all did not stop the sibling:\n" + err)
        for pid in [int(w) for l in err.splitlines() if " pid " in l
                    for w in [l.split(" pid ")[1].split()[0].rstrip(",")] if w.isdigit()]:
            s.seen_pids.add(pid)
        s.check_clean()
    finally:
        s.kill_all()


def case_hung():
    body = partition("hanger", "hang", env={"XDELAY": "300"},
                     extra="heartbeat 100 ms;\nmisses 2;\nrestart permanent;")
    s = System(body, "hung")
    try:
        s.start()
        wait_for(lambda: any(e["kind"] == "hung" for e in s.events()), "a hung event")
        wait_for(lambda: s.part("hanger")["restarts"] >= 1, "the hung partition restarted")
        ev = [e for e in s.events() if e["kind"] == "hung"][0]
        if "no heartbeat" not in ev["detail"]:
            fail("hung event: %s" % ev)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_readiness():
    body = """
    channel c queue { type M; depth 16; }
%s
%s
""" % (partition("early", "slowready", chans="c", extra="send c;", env={"XDELAY": "10"}),
       partition("late", "slowready", chans="c", extra="recv c;\nreadiness required;",
                 env={"XDELAY": "700"}))
    # `early` sends to `late`, so it must not start before `late` is ready
    s = System(body, "rdy")
    try:
        s.start()
        late = s.logs("late")
        early = wait_for(lambda: "START" in s.logs("early") and s.logs("early"), "early output")
        t_ready = int([l for l in late.splitlines() if l.startswith("READY")][0].split()[1])
        t_start = int([l for l in early.splitlines() if l.startswith("START")][0].split()[1])
        if t_start < t_ready:
            fail("dependent started before its dependency was ready (%d < %d)" % (t_start, t_ready))
        order = [e["partition"] for e in s.events() if e["kind"] == "start"]
        if order != ["late", "early"]:
            fail("start order %s" % order)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_shutdown():
    body = """
    channel a queue { type M; depth 16; }
%s
%s
%s
""" % (partition("p1", chans="a", extra="send a;"), partition("p2", chans="a", extra="recv a;"),
       partition("p3"))
    s = System(body, "down")
    try:
        s.start()
        mode = os.stat(os.path.join(s.rt, "control.sock")).st_mode & 0o777
        if mode != 0o600:
            fail("control socket mode %o, want 600" % mode)
        wait_for(lambda: all(p["standby_pid"] for p in s.ps()["partitions"]), "standbys parked")
        s.ps()
        if s.stop() != 0:
            fail("stop exit status")
        lines = s.errtext().splitlines()
        words = [l.split() for l in lines if l.startswith("myco: ") and len(l.split()) > 3]
        starts = [w[2] for w in words if w[3] == "start"]
        stops = [w[2] for w in words if w[3] == "stopped"]
        if starts.index("p2") > starts.index("p1"):
            fail("p1 sends to p2 but started first: %s" % starts)
        if stops != list(reversed(starts)):
            fail("stop order %s, want the reverse of the start order %s" % (stops, starts))
        s.check_clean()
    finally:
        s.kill_all()


def case_kill9():
    port = free_port()
    body = partition("a") + "\n" + serve_partition("b", port)
    s = System(body, "k9")
    try:
        s.start()
        wait_for(lambda: all(p["standby_pid"] for p in s.ps()["partitions"]), "standbys parked")
        old = set(s.seen_pids)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        # partitions (active and parked standbys) die with their executive
        for pid in old:
            wait_for(lambda: not alive(pid), "partition %d to die with its executive" % pid, 10)
        # nothing holds b's listening socket any more
        wait_for(lambda: not port_listened(port), "port %d to be released" % port, 10)
        # the next run of the same system cleans what the dead one left
        s.start()
        hello(port)
        if "stale-cleanup" not in s.errtext():
            fail("no stale cleanup reported:\n" + s.errtext())
        if s.stop() != 0:
            fail("stop exit status")
        s.seen_pids |= old
        s.check_clean()
    finally:
        s.kill_all()


def case_samename():
    """Two executives of one system name in two runtime dirs are two
    instances: killing one (-9, so its guard cleans up) leaves the other's
    partitions running, and each has its own cgroups."""
    a = System(partition("p") + "\n" + partition("q"), "sn")
    b = System(partition("p") + "\n" + partition("q"), "sn")
    try:
        if a.name != b.name:
            fail("the two systems should share a name")
        a.start()
        b.start()
        pids_b = sorted(p["pid"] for p in b.ps()["partitions"])
        levels = [d for d in cgroup_dirs(a.name)]
        if len(set(os.path.basename(d) for d in levels)) < 2:
            fail("one cgroup level for two instances: %s" % levels)
        old = set(a.seen_pids)
        os.kill(a.proc.pid, signal.SIGKILL)
        a.proc.wait()
        for pid in old:
            wait_for(lambda: not alive(pid), "partition %d to die with its executive" % pid, 10)
        # a's guard has cleaned up by now (its partitions are gone); b's
        # partitions are the same processes, still running
        now_b = sorted(p["pid"] for p in b.ps()["partitions"])
        if now_b != pids_b or not all(alive(p) for p in now_b):
            fail("the other instance's partitions were touched: %s -> %s" % (pids_b, now_b))
        if any(p["state"] != "running" for p in b.ps()["partitions"]):
            fail("the other instance is not running: %s" % b.ps())
        # a new run in a's runtime dir cleans only a's leftovers
        a.start()
        if "stale-cleanup" not in a.errtext():
            fail("no stale cleanup reported:\n" + a.errtext())
        if sorted(p["pid"] for p in b.ps()["partitions"]) != pids_b:
            fail("the stale cleanup of one instance touched the other")
        if a.stop() != 0 or b.stop() != 0:
            fail("stop exit status")
        a.seen_pids |= old
        a.check_clean()
        b.check_clean()
    finally:
        a.kill_all()
        b.kill_all()


def case_isolation():
    s = System(partition("boxed", extra="memory 64 MiB;"), "iso")
    try:
        s.start()
        p = s.part("boxed")
        iso = {m["mechanism"]: m for m in p["isolation"]}
        if "box" in iso:
            print("SKIP: executive built without exec/box")
            s.stop()
            sys.exit(77)
        pid = p["pid"]
        status = open("/proc/%d/status" % pid).read()
        field = lambda k: [l.split()[1] for l in status.splitlines() if l.startswith(k + ":")][0]
        checks = [
            ("pid-ns", os.readlink("/proc/%d/ns/pid" % pid) != os.readlink("/proc/self/ns/pid")),
            ("mount-ns", os.readlink("/proc/%d/ns/mnt" % pid) != os.readlink("/proc/self/ns/mnt")),
            ("seccomp", field("Seccomp") == "2"),
            ("no-new-privs", field("NoNewPrivs") == "1"),
        ]
        for mech, really in checks:
            m = [v for k, v in iso.items() if k.replace("_", "-") == mech]
            if not m:
                fail("ps --json has no %s entry: %s" % (mech, list(iso)))
            reported = m[0]["status"] == "applied"
            if reported != really:
                fail("ps says %s is %s but the process shows %s" % (mech, m[0]["status"], really))
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_rules():
    body = "\n".join([
        partition("a"), partition("b"), partition("c"),
        partition("temp", "crash", env={"XDELAY": "100"}, extra="restart temporary;"),
        partition("trans", "exit0", env={"XDELAY": "100"}, extra="restart transient;"),
        "    group r { strategy rest_for_one; restarts 10 within 60 s; members a, b, c; }",
    ])
    s = System(body, "rul")
    try:
        s.start(wait_running=False)
        wait_for(lambda: s.part("temp")["state"] == "exited" and s.part("trans")["state"] == "exited",
                 "temporary and transient partitions to exit")
        if s.part("temp")["restarts"] or s.part("trans")["restarts"]:
            fail("temporary/transient partition was restarted")
        wait_for(lambda: all(s.part(n)["state"] == "running" and s.part(n)["standby_parked"]
                             for n in "abc"), "a, b, c running with parked standbys")
        s.cli("kill", "b")
        wait_for(lambda: s.part("b")["restarts"] == 1 and s.part("c")["restarts"] == 1,
                 "rest_for_one to restart b and c")
        if s.part("a")["restarts"] != 0:
            fail("rest_for_one restarted a, which comes before b")
        s.cli("restart", "a")
        wait_for(lambda: s.part("a")["restarts"] == 1 and s.part("a")["state"] == "running",
                 "operator restart of a")
        kinds = [e["kind"] for e in s.events() if e["partition"] == "a"]
        if "operator-restart" not in kinds:
            fail("no operator-restart event: %s" % kinds)
        s.cli("stop", "c")
        wait_for(lambda: s.part("c")["state"] == "stopped" and s.part("c")["pid"] == 0
                 and s.part("c")["standby_pid"] == 0, "c stopped with its standby")
        r = s.cli("kill", "c", check=False)
        if r.returncode == 0:
            fail("kill of a stopped partition succeeded")
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_health():
    body = "\n".join([
        partition("hog", "oom", extra="memory 32 MiB;\nrestart temporary;"),
        partition("bad", "socket"),
    ])
    s = System(body, "hlt")
    try:
        s.start(wait_running=False)
        # (sanitizer runtimes may trip other syscalls first: look for socket)
        wait_for(lambda: [e for e in s.events() if e["kind"] == "seccomp" and
                          e["partition"] == "bad" and "syscall socket " in e["detail"]],
                 "a seccomp event of bad naming socket")
        out = wait_for(lambda: "SOCKET" in s.logs("bad") and s.logs("bad"), "bad's output")
        if "SOCKET -1 1" not in out:
            fail("forbidden socket() was not denied with EPERM: " + out)
        ex = wait_for(lambda: [e for e in s.events() if e["kind"] == "exit" and
                               e["partition"] == "hog"], "hog's exit")
        if "OOM" not in ex[0]["detail"]:
            fail("OOM kill not named: %s" % ex[0])
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_deadline():
    """A budget partition's standby holds no SCHED_DEADLINE reservation
    while parked; it gets one when activated."""
    SCHED_DEADLINE = 6
    policy = lambda pid: os.sched_getscheduler(pid) & ~0x40000000   # minus RESET_ON_FORK
    s = System(partition("b", extra="budget 1 ms per 10 ms;"), "dl")
    try:
        s.start()
        wait_for(lambda: s.part("b")["standby_parked"], "a parked standby")
        p = s.part("b")
        dl = [m for m in p["isolation"] if m["mechanism"] == "sched-deadline"][0]
        if dl["status"] != "applied":
            print("SKIP: SCHED_DEADLINE not available here: %s" % dl)
            s.stop()
            sys.exit(77)
        if policy(p["pid"]) != SCHED_DEADLINE:
            fail("active partition is not SCHED_DEADLINE")
        if policy(p["standby_pid"]) == SCHED_DEADLINE:
            fail("parked standby holds a deadline reservation")
        s.cli("kill", "b")
        wait_for(lambda: s.part("b")["restarts"] == 1 and s.part("b")["state"] == "running",
                 "restart")
        p = s.part("b")
        if policy(p["pid"]) != SCHED_DEADLINE:
            fail("activated standby did not get its reservation")
        dl = [m for m in p["isolation"] if m["mechanism"] == "sched-deadline"][0]
        if dl["status"] != "applied":
            fail("ps after activation: %s" % dl)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_badprogram():
    """A program that cannot be started fails the system loudly and cleanly."""
    body = partition("ok") + "\n" + partition("broken").replace(XPART, "/nonexistent/prog")
    s = System(body, "bad")
    try:
        s.err = open(os.path.join(s.tmp, "run.err"), "w+")
        s.proc = subprocess.Popen([MYCO, "run", s.file, "--runtime-dir", s.rt],
                                  stdout=s.err, stderr=s.err)
        try:
            rc = s.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("executive kept running with a partition that cannot start")
        err = s.errtext()
        if rc != 1 or "partition broken could not be started" not in err:
            fail("exit %d, want 1 with a clear report:\n%s" % (rc, err))
        s.check_clean()
    finally:
        s.kill_all()


def case_nonroot():
    """Without root every mechanism that cannot apply is reported degraded,
    and the executive still runs, heals and cleans up."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP: needs root (to drop to nobody) and setpriv")
        sys.exit(77)
    global MYCO_PREFIX
    MYCO_PREFIX = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    s = System(partition("a", extra="memory 32 MiB;"), "nr")
    os.chmod(s.tmp, 0o777)
    os.chmod(s.file, 0o644)
    try:
        s.start()
        iso = {m["mechanism"]: m for m in s.part("a")["isolation"]}
        if iso.get("cgroup-memory", {}).get("status") != "degraded" or \
                not iso["cgroup-memory"]["reason"]:
            fail("cgroup-memory as nobody should be degraded with a reason: %s" %
                 iso.get("cgroup-memory"))
        if not [e for e in s.events() if e["kind"] == "degraded"]:
            fail("no degraded event")
        s.cli("kill", "a")
        wait_for(lambda: s.part("a")["restarts"] == 1 and s.part("a")["state"] == "running",
                 "restart as nobody")
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


# --- listening sockets as capabilities (exec/ports.c) -----------------------

def free_port():
    """A TCP port nothing listens on right now (the kernel's choice)."""
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_listened(port):
    """True while any socket listens on port: a SO_REUSEADDR bind of the
    wildcard address fails exactly then."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("0.0.0.0", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def hello(port, timeout=30):
    """Connect to port on the host and read the server's one-line answer:
    returns (instance start time ns, partition name)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        data = b""
        while not data.endswith(b"\n"):
            b = c.recv(256)
            if not b:
                break
            data += b
    finally:
        c.close()
    f = data.decode().split()
    if len(f) != 3 or f[0] != "HELLO":
        fail("unexpected answer on port %d: %r" % (port, data))
    return int(f[1]), f[2]


def serve_partition(name, port, hold=None, extra=""):
    env = {"XPORT": str(port)}
    if hold:
        env["XHOLD"] = hold
    return partition(name, "serve", env=env, extra="listen %d;\n%s" % (port, extra))


def check_port_released(s, port):
    if port_listened(port):
        fail("port %d still listened on after stop" % port)


def case_ports_serve():
    """A partition without `net` serves its declared port through the socket
    the executive created; ps --json lists it; it is gone after stop."""
    port = free_port()
    s = System(serve_partition("web", port), "psv")
    try:
        s.start()
        p = s.part("web")
        if p.get("net") is not False:
            fail("web should run without net: %s" % p)
        ports = p.get("ports")
        if not ports or ports[0]["port"] != port or ports[0]["proto"] != "tcp":
            fail("ps --json does not list port %d: %s" % (port, ports))
        iso = {m["mechanism"]: m for m in p["isolation"]}
        if "box" not in iso:
            net = [v for k, v in iso.items() if k.replace("_", "-") in ("net-ns", "netns", "network-ns")]
            if not net or net[0]["status"] != "applied":
                fail("web has no network namespace of its own: %s" % list(iso.items()))
            pid = p["pid"]
            if os.readlink("/proc/%d/ns/net" % pid) == os.readlink("/proc/self/ns/net"):
                fail("web shares the host's network namespace")
        start, name = hello(port)
        if name != "web":
            fail("answer from %s" % name)
        out = s.logs("web")
        if "LISTEN " not in out or "LISTEN -" in out:
            fail("myco_listen_fd failed in web: " + out)
        # the manifest names the socket; the fd is the one ps reports
        env = open("/proc/%d/environ" % p["pid"], "rb").read().split(b"\0")
        caps = [e for e in env if e.startswith(b"MYCO_CAPS=")][0].decode()
        if "tcp/%d:%d" % (port, ports[0]["fd"]) not in caps:
            fail("manifest does not list the socket: " + caps)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
        check_port_released(s, port)
    finally:
        s.kill_all()


def case_ports_kill():
    """The socket outlives the partition: connections queued while it is
    killed and replaced are answered by the replacement, never refused."""
    port = free_port()
    s = System("", "pkl")
    hold = os.path.join(s.tmp, "gate", "hold")
    os.makedirs(os.path.dirname(hold))
    with open(s.file, "w") as f:
        f.write("system %s {\n%s\n}\n" % (s.name, serve_partition(
            "web", port, hold=hold, extra='path "%s" ro;\nrestart permanent;' %
            os.path.dirname(hold))))
    try:
        s.start()
        first, _ = hello(port)
        # 1. continuous clients while the partition is killed: every
        #    connection is accepted and answered
        # (a connection the victim had already accepted dies with it: with
        # one client that is at most one lost answer per kill; refusals are
        # what the kept socket prevents)
        results, lost, stop = [], [], threading.Event()

        def loop():
            while not stop.is_set():
                try:
                    c = socket.create_connection(("127.0.0.1", port), timeout=30)
                except OSError as e:
                    results.append(e)
                    continue
                try:
                    f = c.recv(256).decode().split()
                    if len(f) == 3 and f[0] == "HELLO":
                        results.append(int(f[1]))
                    else:
                        lost.append(f)
                except OSError as e:
                    lost.append(e)
                finally:
                    c.close()
        th = threading.Thread(target=loop)
        th.start()
        wait_for(lambda: len(results) >= 5, "clients answered before the kill")
        wait_for(lambda: s.part("web")["standby_pid"] != 0, "a parked standby")
        s.cli("kill", "web")
        wait_for(lambda: s.part("web")["restarts"] == 1 and
                 s.part("web")["state"] == "running", "web restart 1")
        n = len(results)
        wait_for(lambda: len(results) >= n + 5, "clients answered after the restart")
        stop.set()
        th.join()
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            fail("%d of %d connections failed across the restart: %s" %
                 (len(errors), len(results), errors[:3]))
        if len(lost) > 1:
            fail("%d accepted connections lost across one kill: %s" % (len(lost), lost))
        if not [r for r in results if r != first]:
            fail("no answer came from the replacement")
        # 2. a connection queued while the partition is not accepting
        #    survives its death and is answered by the replacement
        open(hold, "w").close()
        # connect only once web has seen the hold (it says so), or it may
        # still accept the connection itself, however loaded the machine
        current = max(r for r in results if not isinstance(r, Exception))
        wait_for(lambda: "HOLDING %d\n" % current in s.logs("web"),
                 "web holding its accepts")
        queued = socket.create_connection(("127.0.0.1", port), timeout=30)
        wait_for(lambda: s.part("web")["standby_pid"] != 0, "a parked standby")
        t_kill = time.monotonic_ns()
        s.cli("kill", "web")
        wait_for(lambda: s.part("web")["restarts"] == 2 and
                 s.part("web")["state"] == "running", "web restart 2")
        # 3. and a connection made while the replacement holds is queued too
        during = socket.create_connection(("127.0.0.1", port), timeout=30)
        os.unlink(hold)
        for c, what in ((queued, "queued before the kill"), (during, "made after the kill")):
            data = b""
            while not data.endswith(b"\n"):
                b = c.recv(256)
                if not b:
                    break
                data += b
            c.close()
            f = data.decode().split()
            if len(f) != 3 or f[0] != "HELLO":
                fail("connection %s got %r, want an answer" % (what, data))
            if int(f[1]) < t_kill:
                fail("connection %s answered by an instance started before the kill" % what)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
        check_port_released(s, port)
    finally:
        s.kill_all()


def case_ports_undeclared():
    """An undeclared port is not available: myco_listen_fd fails with
    -MYCO_ENOTGRANTED naming the granted ports, socket() and bind() are
    denied by seccomp."""
    port, other = free_port(), free_port()
    while other == port:
        other = free_port()
    s = System(partition("web", "portdeny", env={"XPORT": str(other), "XGRANTED": str(port)},
                         extra="listen %d;" % port), "pud")
    try:
        s.start()
        out = wait_for(lambda: "BIND" in s.logs("web") and s.logs("web"), "web's output")
        line = [l for l in out.splitlines() if l.startswith("LISTENFD")][0]
        if not line.startswith("LISTENFD -10003 ") or "granted ports: %d)" % port not in line:
            fail("myco_listen_fd of an undeclared port: %s" % line)
        iso = {m["mechanism"]: m for m in s.part("web")["isolation"]}
        if "box" not in iso:
            if "SOCKET -1 1" not in out or "BIND -1 1" not in out:
                fail("socket()/bind() without net were not denied with EPERM: " + out)
            for call in ("socket", "bind"):
                wait_for(lambda: [e for e in s.events() if e["kind"] == "seccomp" and
                                  e["partition"] == "web" and "syscall %s " % call in e["detail"]],
                         "a seccomp event of web naming " + call)
        if port_listened(other):
            fail("port %d is listened on" % other)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
        check_port_released(s, port)
    finally:
        s.kill_all()


def case_ports_inuse():
    """A declared port that cannot be bound is a clear start-up error."""
    blocker = socket.socket()
    blocker.bind(("0.0.0.0", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    s = System("\n".join([partition("a"), serve_partition("web", port)]), "piu")
    try:
        s.err = open(os.path.join(s.tmp, "run.err"), "w+")
        s.proc = subprocess.Popen([MYCO, "run", s.file, "--runtime-dir", s.rt],
                                  stdout=s.err, stderr=s.err)
        try:
            rc = s.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("myco run did not fail on a port in use")
        err = s.errtext()
        want = "partition 'web': cannot listen on port %d" % port
        if rc != 1 or want not in err or "in use" not in err:
            fail("exit %d, want 1 with %r and the reason:\n%s" % (rc, want, err))
        s.check_clean()
    finally:
        blocker.close()
        s.kill_all()
    # a privileged port without the privilege (as nobody)
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("(privileged-port half skipped: needs root to drop to nobody, and setpriv)")
        return
    low = [p for p in range(1000, 1024) if not port_listened(p)]
    if not low:
        return
    s = System(serve_partition("web", low[0]), "pil")
    os.chmod(s.tmp, 0o777)
    os.chmod(s.file, 0o644)
    try:
        s.err = open(os.path.join(s.tmp, "run.err"), "w+")
        s.proc = subprocess.Popen(["setpriv", "--reuid", "65534", "--regid", "65534",
                                   "--clear-groups", MYCO, "run", s.file, "--runtime-dir", s.rt],
                                  stdout=s.err, stderr=s.err)
        try:
            rc = s.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("myco run as nobody did not fail on port %d" % low[0])
        err = s.errtext()
        want = "partition 'web': cannot listen on port %d: Permission denied" % low[0]
        if rc != 1 or want not in err or "CAP_NET_BIND_SERVICE" not in err:
            fail("exit %d, want 1 with %r:\n%s" % (rc, want, err))
        s.check_clean()
    finally:
        s.kill_all()


# --- run as another user (`user` in the language, spec.uid/gid of the box) --

def proc_ids(pid):
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    get = lambda k: [l.split()[1:] for l in st.splitlines() if l.startswith(k + ":")][0]
    return get("Uid"), get("Gid")


def case_runas():
    """`user 65534;` runs the partition (and its replacement after a crash)
    as uid/gid 65534, seen from outside; ps --json says so; a partition
    without `user` next to it keeps uid 0."""
    if os.geteuid() != 0:
        print("SKIP: needs root to switch users")
        sys.exit(77)
    body = partition("nob", extra="user 65534;") + "\n" + \
        partition("named", extra="user nobody group 65534;") + "\n" + partition("plain")
    s = System(body, "ru")
    try:
        s.start()
        p = s.part("nob")
        iso = {m["mechanism"]: m for m in p["isolation"]}
        if "box" in iso:
            print("SKIP: executive built without exec/box")
            s.stop()
            sys.exit(77)
        if iso.get("run-as", {}).get("status") != "applied":
            fail("run-as not applied: %s" % iso.get("run-as"))
        for name in ("nob", "named"):
            q = s.part(name)
            uid, gid = proc_ids(q["pid"])
            if uid != ["65534"] * 4 or gid != ["65534"] * 4:
                fail("%s runs as Uid %s Gid %s, want 65534" % (name, uid, gid))
            if q["uid"] != 65534 or q["gid"] != 65534:
                fail("ps --json uid/gid of %s: %s/%s" % (name, q["uid"], q["gid"]))
        if s.part("named")["run_as"] != {"user": "nobody", "group": 65534}:
            fail("ps --json run_as: %s" % s.part("named")["run_as"])
        q = s.part("plain")
        uid, gid = proc_ids(q["pid"])
        if uid[0] != "0" or q["uid"] != 0 or q["run_as"] is not None:
            fail("plain partition: Uid %s, ps %s/%s" % (uid, q["uid"], q["run_as"]))
        old = s.part("nob")["pid"]
        s.cli("kill", "nob")
        wait_for(lambda: s.part("nob")["restarts"] == 1 and s.part("nob")["state"] == "running"
                 and s.part("nob")["pid"] != old, "the replacement of nob")
        uid, gid = proc_ids(s.part("nob")["pid"])
        if uid != ["65534"] * 4 or gid != ["65534"] * 4:
            fail("replacement runs as Uid %s Gid %s, want 65534" % (uid, gid))
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_runas_unknown():
    """An unknown user name is a start-up error naming the partition; nothing
    is started and nothing is left behind."""
    body = partition("ok") + "\n" + partition("ghost", extra="user myco_no_such_user;")
    s = System(body, "ruu")
    try:
        s.err = open(os.path.join(s.tmp, "run.err"), "w+")
        s.proc = subprocess.Popen([MYCO, "run", s.file, "--runtime-dir", s.rt],
                                  stdout=s.err, stderr=s.err)
        try:
            rc = s.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("executive kept running with an unknown user")
        err = s.errtext()
        want = "partition 'ghost': unknown user \"myco_no_such_user\""
        if rc != 1 or want not in err:
            fail("exit %d, want 1 with %r:\n%s" % (rc, want, err))
        if " start " in err or "system-start" in err:
            fail("something was started:\n" + err)
        s.check_clean()
    finally:
        s.kill_all()


def case_runas_nonroot():
    """Without root the switch cannot happen: the partition runs as the
    executive's uid, ps shows run-as degraded with the reason, and a
    degraded event says so."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("SKIP: needs root (to drop to nobody) and setpriv")
        sys.exit(77)
    global MYCO_PREFIX
    MYCO_PREFIX = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    s = System(partition("a", extra="user 0;") + "\n" + partition("b", extra="user 65534;"), "run")
    os.chmod(s.tmp, 0o777)
    os.chmod(s.file, 0o644)
    try:
        s.start()
        a = s.part("a")
        iso = {m["mechanism"]: m for m in a["isolation"]}
        ra = iso.get("run-as", {})
        if ra.get("status") != "degraded" or "not root" not in ra.get("reason", ""):
            fail("run-as as nobody asking for uid 0 should be degraded: %s" % ra)
        if a["uid"] != 65534 or proc_ids(a["pid"])[0][0] != "65534":
            fail("a should run as 65534 (the executive's uid): ps %s" % a["uid"])
        ev = [e for e in s.events() if e["kind"] == "degraded" and "run-as" in e.get("detail", "")]
        if not ev:
            fail("no degraded run-as event: %s" % s.events())
        b = {m["mechanism"]: m for m in s.part("b")["isolation"]}.get("run-as", {})
        if b.get("status") != "applied":
            fail("b asks for the executive's own uid: should be applied: %s" % b)
        if s.stop() != 0:
            fail("stop exit status")
        s.check_clean()
    finally:
        s.kill_all()


def case_runas_noaccess():
    """A program the user cannot execute fails the start loudly (the
    executive chowns nothing) and leaves nothing behind."""
    if os.geteuid() != 0:
        print("SKIP: needs root to switch users")
        sys.exit(77)
    s = System("", "rua")
    priv = os.path.join(s.tmp, "priv")
    os.mkdir(priv, 0o700)
    prog = os.path.join(priv, "xpart")
    shutil.copy(XPART, prog)
    with open(s.file, "w") as f:
        f.write("system %s {\n%s\n}\n" % (s.name, partition("locked", extra="user 65534;")
                                           .replace(XPART, prog)))
    try:
        s.err = open(os.path.join(s.tmp, "run.err"), "w+")
        s.proc = subprocess.Popen([MYCO, "run", s.file, "--runtime-dir", s.rt],
                                  stdout=s.err, stderr=s.err)
        try:
            rc = s.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("executive kept running with a program the user cannot execute")
        err = s.errtext()
        if rc != 1 or "partition locked could not be started" not in err or \
                "runs as uid 65534 gid 65534" not in err:
            fail("exit %d, want 1 naming the partition and the uid:\n%s" % (rc, err))
        if os.stat(priv).st_uid != 0 or os.stat(prog).st_uid != 0:
            fail("the executive changed the owner of the program or its dir")
        s.check_clean()
    finally:
        s.kill_all()


if __name__ == "__main__":
    fn = globals().get("case_" + CASE)
    if not fn:
        print("unknown case " + CASE)
        sys.exit(2)
    fn()
    print("PASS " + CASE)
