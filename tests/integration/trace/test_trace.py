#!/usr/bin/env python3
"""Integration tests of tracing and metrics: the demo system (producer ->
filter -> sink) plus partitions that exercise the rest (tpart: runtime,
edf, work stealing, user events, log, user metrics, a drop-oldest channel
that overflows; xpart: a partition that stops heartbeating, one that runs
out of memory, one that violates its seccomp filter), under a real
`myco run`.

    test_trace.py MYCO XPART TPART DEMO_DIR CASE

CASE:
  tracepoints  every built-in tracepoint fires (read from the collector
               through the control socket), and `myco trace record` writes
               a Chrome JSON trace that parses back: per-thread ordering,
               flows joining a send in one partition to the receive in
               another
  prometheus   a real Prometheus server, started here on loopback with a
               generated configuration, scrapes /metrics; its HTTP API has
               the expected series with plausible values
Every wait has a generous upper bound that only turns a hang into a
failure; no check compares a duration against a threshold.  Exit 0 pass,
1 fail, 77 skip.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

MYCO, XPART, TPART, DEMO = [os.path.abspath(a) for a in sys.argv[1:5]]
CASE = sys.argv[5]

# (id, name) of every built-in tracepoint: include/myco/trace.h
TRACEPOINTS = {
    1: "chan.send", 2: "chan.recv", 3: "chan.done", 4: "chan.overflow",
    5: "chan.wait", 6: "chan.wake",
    32: "rt.loop", 33: "rt.switch", 34: "rt.park", 35: "rt.wake", 36: "rt.steal",
    64: "edf.release", 65: "edf.start", 66: "edf.end", 67: "edf.overrun", 68: "edf.miss",
    96: "exec.spawn", 97: "exec.ready", 98: "exec.exit", 99: "exec.restart",
    100: "exec.standby", 101: "exec.heartbeat_late", 102: "exec.heartbeat_missed",
    103: "exec.seccomp", 104: "exec.oom",
    128: "user", 129: "log",
}

SYS = None


def fail(msg):
    print("FAIL: " + msg, flush=True)
    if SYS:
        print("--- executive log (tail):\n" + SYS.errtext()[-6000:], flush=True)
    sys.exit(1)


def wait_for(cond, what, timeout=90.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def xpart(name, mode, extra="", env=None):
    env = dict(env or {})
    env["XMODE"] = mode
    lines = ['    partition %s {' % name, '        program "%s";' % XPART]
    for k, v in env.items():
        lines.append('        env %s = "%s";' % (k, v))
    lines += ["        " + l.strip() for l in extra.strip().splitlines()]
    lines.append("    }")
    return "\n".join(lines)


class System:
    def __init__(self, metrics_port):
        self.tmp = tempfile.mkdtemp(prefix="myco-trace-test-")
        self.rt = os.path.join(self.tmp, "rt")
        self.file = os.path.join(self.tmp, "system.myco")
        self.name = ("tr%d" % os.getpid())[:40]
        body = """
system %(name)s {
    metrics "127.0.0.1:%(port)d";
    message Num { seq: u64 = 1; value: u64 = 2; }
    channel numbers queue { type Num; depth 1024; overflow block; }
    channel filtered queue { type Num; depth 1024; overflow block; }
    channel bursts queue { type Num; depth 4; overflow drop_oldest; }
    partition producer {
        program "%(demo)s/demo-producer";
        send numbers;
        restart permanent;
        heartbeat 500 ms; misses 3;
        readiness required;
    }
    partition filter {
        program "%(demo)s/demo-filter";
        recv numbers; send filtered;
        restart permanent;
        heartbeat 500 ms; misses 3;
        readiness required;
    }
    partition sink {
        program "%(demo)s/demo-sink";
        recv filtered;
        restart permanent;
        heartbeat 500 ms; misses 3;
        readiness required;
    }
    partition tpart {
        program "%(tpart)s";
        send bursts;
        restart permanent;
        heartbeat 500 ms; misses 10;
    }
%(hole)s
%(hang)s
%(oom)s
%(sock)s
    group all {
        strategy one_for_one;
        restarts 1000 within 10 s;
        members producer, filter, sink, tpart, hole, hanger, hog, snoop;
    }
}
""" % {"name": self.name, "port": metrics_port, "demo": DEMO, "tpart": TPART,
       "hole": xpart("hole", "idle", "recv bursts;\nrestart permanent;", {"XCHANS": "bursts"}),
       "hang": xpart("hanger", "hang", "heartbeat 100 ms;\nmisses 8;\nrestart permanent;",
                     {"XDELAY": "300"}),
       "oom": xpart("hog", "oom", "memory 24 MiB;\nrestart temporary;"),
       "sock": xpart("snoop", "socket", "restart permanent;")}
        with open(self.file, "w") as f:
            f.write(body)
        self.proc = None

    def start(self):
        self.err = open(os.path.join(self.tmp, "run.err"), "w+")
        env = dict(os.environ, MYCO_TRACE="all,log:debug")
        self.proc = subprocess.Popen([MYCO, "run", self.file, "--runtime-dir", self.rt,
                                      "--grace", "2"], stdout=self.err, stderr=self.err, env=env)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("ps", check=False).returncode == 0, "the control socket")
        if self.proc.poll() is not None:
            fail("myco run exited early (%d)" % self.proc.returncode)

    def errtext(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def cli(self, *args, check=True, json_out=True):
        r = subprocess.run([MYCO] + list(args) + (["--json"] if json_out else []) +
                           ["--runtime-dir", self.rt], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            fail("myco %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def ps(self):
        return json.loads(self.cli("ps").stdout.splitlines()[0])

    def part(self, name):
        for p in self.ps()["partitions"]:
            if p["name"] == name:
                return p
        fail("no partition " + name)

    def request(self, req):
        """One control request on its own connection (the protocol of exec/control.c)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(os.path.join(self.rt, "control.sock"))
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf)

    def stop(self):
        self.cli("stop", "--all", check=False, json_out=False)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("myco run did not stop")

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def running(s, names):
    ps = {p["name"]: p for p in s.ps()["partitions"]}
    return all(ps[n]["state"] == "running" for n in names)


def case_tracepoints(s):
    wait_for(lambda: running(s, ["producer", "filter", "sink", "tpart"]), "the demo running")
    st = s.cli("trace").stdout
    if '"chan,rt,sched,exec,user,log"' not in st:
        fail("MYCO_TRACE=all did not enable every category: " + st)
    # a standby activation: kill the filter (it has a parked standby)
    wait_for(lambda: s.part("filter")["standby_pid"], "the filter's standby")
    s.cli("kill", "filter")
    seen, ids_at = {}, {}
    nxt = 0
    lost = 0

    def poll():
        nonlocal nxt, lost
        rep = s.request({"cmd": "trace-read", "from": nxt})
        if not rep.get("ok"):
            fail("trace-read: %s" % rep)
        lost += rep["lost"]
        for e in rep["events"]:
            seq, ts, part, ring, tid, eid = e[:6]
            seen[eid] = seen.get(eid, 0) + 1
            ids_at.setdefault(eid, rep["parts"][part])
        nxt = rep["next"]
        return all(i in seen for i in TRACEPOINTS)

    end = time.monotonic() + 120
    while time.monotonic() < end and not poll():
        time.sleep(0.1)
    missing = [TRACEPOINTS[i] for i in TRACEPOINTS if i not in seen]
    if missing:
        fail("tracepoints never seen: %s (seen %s)" %
             (", ".join(missing), {TRACEPOINTS.get(k, k): v for k, v in seen.items()}))
    # where they came from: partition events from partitions, exec from the executive
    for i, name in TRACEPOINTS.items():
        where = ids_at[i]
        if name.startswith("exec.") != (where == "executive"):
            fail("%s came from %s" % (name, where))
    print("all %d tracepoints fired (lost while polling: %d)" % (len(TRACEPOINTS), lost))

    # a trace recorded by the CLI parses back
    out = os.path.join(s.tmp, "trace.json")
    r = subprocess.run([MYCO, "trace", "record", "-o", out, "--seconds", "3",
                        "--runtime-dir", s.rt], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail("trace record: %s %s" % (r.stdout, r.stderr))
    with open(out) as f:
        d = json.load(f)
    evs = d["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in evs
             if e["ph"] == "M" and e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]) for e in evs if e["ph"] == "M" and e["name"] == "thread_name"}
    for want in ("producer", "filter", "sink", "tpart"):
        if want not in procs.values():
            fail("no process track for %s in %s" % (want, sorted(procs.values())))
    # tpart writes from several threads: one track each
    tp = [k for k, v in procs.items() if v == "tpart"][0]
    if len({t for p, t in threads if p == tp}) < 2:
        fail("tpart has fewer than 2 thread tracks")
    # per-thread ordering
    last = {}
    for e in evs:
        if e["ph"] == "M":
            continue
        k = (e["pid"], e["tid"])
        if e["ts"] < last.get(k, -1):
            fail("events out of order on thread %s: %s after %s" % (k, e["ts"], last[k]))
        last[k] = e["ts"]
        if (k not in threads):
            fail("event on a thread without a track: %s" % e)
    # flows: each finish has a start with the same id, from another partition
    starts = {e["id"]: e for e in evs if e["ph"] == "s"}
    fins = [e for e in evs if e["ph"] == "f"]
    joined = 0
    for f_ in fins:
        s_ = starts.get(f_["id"])
        if not s_:
            continue
        if s_["pid"] == f_["pid"]:
            fail("a flow inside one partition: %s" % f_)
        if f_["ts"] < s_["ts"]:
            fail("a flow that ends before it starts: %s %s" % (s_, f_))
        if s_["name"] != f_["name"]:
            fail("a flow between channels: %s %s" % (s_, f_))
        joined += 1
    pairs = {(procs[starts[f_["id"]]["pid"]], procs[f_["pid"]]) for f_ in fins if f_["id"] in starts}
    if ("producer", "filter") not in pairs or ("filter", "sink") not in pairs:
        fail("flows producer->filter and filter->sink expected, got %s" % pairs)
    if r.stderr.find("events") < 0:
        fail("trace record said: " + r.stderr)
    print("trace record: %d events, %d threads, %d flows joined" % (len(evs), len(threads), joined))
    # categories were put back as they were
    if '"chan,rt,sched,exec,user,log"' not in s.cli("trace").stdout:
        fail("trace record did not restore the categories")
    # switching off from the CLI
    s.cli("trace", "off", "chan,rt")
    st = json.loads(s.cli("trace").stdout)
    if st["enabled"] != "sched,exec,user,log":
        fail("trace off: %s" % st)
    bad = s.cli("trace", "on", "bogus", check=False)
    if bad.returncode == 0 or "bogus" not in bad.stderr:
        fail("unknown category accepted: %s %s" % (bad.stdout, bad.stderr))


def prom_query(base, q):
    u = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(u, timeout=10) as r:
        d = json.load(r)
    if d.get("status") != "success":
        fail("prometheus query %s: %s" % (q, d))
    return d["data"]["result"]


def case_prometheus(s, mport):
    prom = shutil.which("prometheus")
    if not prom:
        print("SKIP: prometheus not installed")
        return 77
    wait_for(lambda: running(s, ["producer", "filter", "sink", "tpart"]), "the demo running")
    # the page itself: Prometheus text the official checker accepts
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as r:
        page = r.read().decode()
        ctype = r.headers.get("Content-Type", "")
    if not ctype.startswith("text/plain; version=0.0.4"):
        fail("content type " + ctype)
    promtool = shutil.which("promtool")
    if promtool:
        c = subprocess.run([promtool, "check", "metrics"], input=page, capture_output=True,
                           text=True, timeout=60)
        # promtool exits 1 for lint hints (e.g. counters without _total) too;
        # an unparsable page is "error while linting"
        if "error while linting" in c.stdout + c.stderr or "text format parsing error" in c.stdout + c.stderr:
            fail("promtool: %s %s" % (c.stdout, c.stderr))
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/nothing" % mport, timeout=10)
        fail("/nothing answered")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            fail("/nothing: %d" % e.code)
    pport = free_port()
    pdir = os.path.join(s.tmp, "prom")
    os.makedirs(pdir)
    cfg = os.path.join(pdir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: myco\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % mport)
    plog = open(os.path.join(pdir, "log"), "w+")
    p = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + pdir + "/data",
                          "--web.listen-address=127.0.0.1:%d" % pport], stdout=plog, stderr=plog)
    base = "http://127.0.0.1:%d" % pport
    try:
        def ready():
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except Exception:
                return False
        wait_for(ready, "prometheus ready")

        def val(q):
            res = prom_query(base, q)
            return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in res}

        wait_for(lambda: prom_query(base, 'up{job="myco"} == 1'), "prometheus scraping myco")
        wait_for(lambda: any(v > 100 for v in val(
            'myco_channel_messages_total{channel="numbers",partition="producer"}').values()),
            "messages on numbers")
        up = {dict(k)["partition"]: v for k, v in val("myco_partition_up").items()}
        names = set(up)
        for n in ("producer", "filter", "sink", "tpart", "hole", "hanger", "hog", "snoop"):
            if n not in names:
                fail("no myco_partition_up for %s: %s" % (n, names))
        for n in ("producer", "filter", "sink", "tpart"):
            if up[n] != 1:
                fail("%s not up: %s" % (n, up))
        # rates, histograms and user metrics, once there are two samples
        wait_for(lambda: any(v > 0 for v in val(
            'rate(myco_channel_messages_total{channel="filtered"}[5s])').values()),
            "a message rate on filtered")
        wait_for(lambda: any(0 < v < 10 for v in val(
            'histogram_quantile(0.99, rate(myco_channel_latency_seconds_bucket{channel="numbers"}[10s]))'
        ).values()), "a p99 send-to-receive latency on numbers")
        wait_for(lambda: any(v > 0 for v in val(
            'myco_partition_cpu_seconds_total{partition="filter"}').values()), "filter CPU time")
        rss = val('myco_partition_memory_rss_bytes{partition="producer"}')
        if not rss or not all(4096 < v < (1 << 31) for v in rss.values()):
            fail("producer RSS: %s" % rss)
        wait_for(lambda: any(v > 0 for v in val(
            'myco_partition_deadline_misses_total{partition="tpart"}').values()), "tpart misses")
        wait_for(lambda: any(v > 0 for v in val(
            'myco_channel_overflows_total{channel="bursts"}').values()), "overflows on bursts")
        wait_for(lambda: any(v >= 1 for v in val(
            'myco_partition_restarts_total{partition="hanger"}').values()), "hanger restarts")
        wait_for(lambda: any(v > 0 for v in val(
            'tpart_jobs_total{partition="tpart",task="late"}').values()), "a user counter")
        wait_for(lambda: any(0.001 < v < 10 for v in val(
            'histogram_quantile(0.5, tpart_work_seconds_bucket{partition="tpart"})').values()),
            "a user histogram with ms-scale work")
        wait_for(lambda: val('myco_rt_sched_latency_seconds_count{partition="tpart"}'),
                 "runtime scheduling latency of tpart")
        print("prometheus: series and values as expected")
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0


def main():
    global SYS
    mport = free_port()
    s = System(mport)
    SYS = s
    rc = 0
    try:
        s.start()
        if CASE == "tracepoints":
            case_tracepoints(s)
        elif CASE == "prometheus":
            rc = case_prometheus(s, mport)
        else:
            fail("unknown case " + CASE)
        if s.stop() not in (0, 3):
            fail("stop exit status")
    finally:
        s.cleanup()
    sys.exit(rc)


if __name__ == "__main__":
    main()
