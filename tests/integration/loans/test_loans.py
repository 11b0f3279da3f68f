#!/usr/bin/env python3
"""test_loans.py: core loans and market prices in a running system.  Two elastic partitions
(`cores 1..3 elastic;`, the steal policy) on a machine block of 4 cores,
so the pool is 2: "busy" runs bursts of CPU-bound tasks with idle gaps,
"calm" a trickle.  The executive makes a loan region per partition, the
runtime's group attaches to it by itself (3 loops), and the arbiter lends
busy cores during its bursts and takes them back in the gaps.  Checked by
counting, never timing: every task ran exactly once, busy's loops acted on
at least one grant and ran tasks off its first loop (it runs more bursts
until they have: load only makes that slower), `loan` events show cores
granted and revoked, and once busy idles it is back at its minimum.
`myco top --json` and the Prometheus page (checked by promtool when it is
installed) show the grants and cores; a third partition, "bidder" (not
elastic, `scheduler market; bid task ...;`), shows its market price in
both.

    test_loans.py MYCO LOANPART      (exit 0 pass, 1 fail)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MYCO, LOANPART = [os.path.abspath(a) for a in sys.argv[1:3]]


def fail(msg, s=None):
    print("FAIL: " + msg, flush=True)
    if s:
        print("--- executive log:\n" + s.errtext(), flush=True)
    sys.exit(1)


def wait_for(cond, what, timeout=240.0, s=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what, s)


class System:
    def __init__(self, body):
        self.name = "tl%d" % os.getpid()
        self.tmp = tempfile.mkdtemp(prefix="myco-loans-test-")
        self.rt = os.path.join(self.tmp, "rt")
        self.file = os.path.join(self.tmp, "system.myco")
        with open(self.file, "w") as f:
            f.write("system %s {\n%s\n}\n" % (self.name, body))
        self.proc = None

    def start(self):
        self.err = open(os.path.join(self.tmp, "run.err"), "w+")
        self.proc = subprocess.Popen([MYCO, "run", self.file, "--runtime-dir", self.rt,
                                      "--grace", "2"], stdout=self.err, stderr=self.err)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("ps", check=False).returncode == 0, "the control socket", s=self)
        if self.proc.poll() is not None:
            fail("myco run exited early (%d)" % self.proc.returncode, self)

    def errtext(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def cli(self, *args, check=True):
        r = subprocess.run([MYCO] + list(args) + ["--json", "--runtime-dir", self.rt],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            fail("myco %s: %s %s" % (" ".join(args), r.stdout, r.stderr), self)
        return r

    def logs(self, name):
        return json.loads(self.cli("logs", name).stdout.splitlines()[0])["data"]

    def events(self):
        return json.loads(self.cli("events").stdout.splitlines()[0])["events"]

    def stop(self):
        self.cli("stop", "--all")
        return self.proc.wait(timeout=60)

    def kill_all(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def part(name, env, sched="cores 1..3 elastic;\n        scheduler steal;"):
    envs = "".join('        env %s = "%s";\n' % kv for kv in env.items())
    return """    partition %s {
        program "%s";
        %s
%s    }""" % (name, LOANPART, sched, envs)


def metrics_page(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        return r.read().decode()


def sample(page, name, labels):
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), page, re.M)
    return m and float(m.group(1))


def done_line(s, name):
    out = s.logs(name)
    m = re.search(r"^DONE tasks=(\d+) once=(\d+) dup=(\d+) missing=(\d+) loops=(\d+) "
                  r"loop_grants=(\d+) off0=(\d+)$", out, re.M)
    return m and tuple(int(x) for x in m.groups())


def loan_events(s, name):
    return [e["detail"] for e in s.events() if e["kind"] == "loan" and e["partition"] == name]


def main():
    mport = free_port()
    body = "    machine { cores 4; }\n    metrics \"127.0.0.1:%d\";\n" % mport + part("busy", {
        "LOANPART_TASKS": 300, "LOANPART_BURSTS": 4, "LOANPART_WORK_US": 300,
        "LOANPART_IDLE_MS": 150, "LOANPART_SPREAD": 1}) + "\n" + part("calm", {
        "LOANPART_TASKS": 5, "LOANPART_BURSTS": 10, "LOANPART_WORK_US": 20,
        "LOANPART_IDLE_MS": 20}) + "\n" + part("bidder", {
        "LOANPART_TASKS": 50, "LOANPART_BURSTS": 2, "LOANPART_WORK_US": 100,
        "LOANPART_IDLE_MS": 20}, "scheduler market;\n        bid task 400;")
    s = System(body)
    try:
        r = subprocess.run([MYCO, "check", s.file], capture_output=True, text=True)
        if r.returncode != 0 or "warning" in r.stderr:
            fail("myco check: %s" % r.stderr)
        s.start()
        adm = wait_for(lambda: [e["detail"] for e in s.events() if e["kind"] == "admission"
                                and "core loans" in e["detail"]], "the admission event", s=s)
        if "pool 2" not in adm[0]:
            fail("admission: %s (want pool 2: 4 cores less the minimums 1 + 1)" % adm, s)
        busy = wait_for(lambda: done_line(s, "busy"), "busy's DONE line", s=s)
        calm = wait_for(lambda: done_line(s, "calm"), "calm's DONE line", s=s)
        bidder = wait_for(lambda: done_line(s, "bidder"), "bidder's DONE line", s=s)
        print("busy:", busy, "calm:", calm, "bidder:", bidder, flush=True)
        for name, (tasks, once, dup, missing, loops, _, _) in (("busy", busy), ("calm", calm),
                                                               ("bidder", bidder)):
            if name != "bidder" and loops != 3:
                fail("%s: %d loops, want 3 (the declared maximum: the region was "
                     "not attached)" % (name, loops), s)
            if once != tasks or dup or missing:
                fail("%s: %d tasks, %d ran once, %d more than once, %d never" %
                     (name, tasks, once, dup, missing), s)
        if busy[5] < 1 or busy[6] < 1:
            fail("busy: its loops acted on %d grants, %d tasks ran off loop 0; want both "
                 "above 0" % (busy[5], busy[6]), s)
        # idle now: every lent core comes back (the arbiter revokes after its
        # hold time; the tick reports it, at most one event a second)
        wait_for(lambda: any(d.startswith("busy holds 1 of 1..3") for d in
                             loan_events(s, "busy")[-1:]), "busy back at its minimum", s=s)
        ev = loan_events(s, "busy")
        print("busy loan events:", len(ev), ev[:3], flush=True)
        granted = sum(int(m) for d in ev for m in re.findall(r"\+(\d+) granted", d))
        revoked = sum(int(m) for d in ev for m in re.findall(r"-(\d+) revoked", d))
        if granted < 1 or revoked < 1 or granted != revoked:
            fail("busy: %d grants and %d revokes in the loan events, want both, and as "
                 "many (back at its minimum)" % (granted, revoked), s)
        # myco top: cores and grants of the elastic partitions, the bidder's
        # price (null where they do not apply)
        top = json.loads(s.cli("top", "--once").stdout.splitlines()[0])
        tp = {p["name"]: p for p in top["partitions"]}
        lo = tp["busy"]["loans"]
        if not lo or lo["cores_min"] != 1 or lo["cores_max"] != 3 or lo["grants"] < granted \
                or lo["revokes"] < revoked or lo["loop_grants"] < 1 or lo["pool"] != 2:
            fail("top: busy's loans %s (events: %d grants, %d revokes)" % (lo, granted, revoked), s)
        if tp["bidder"]["loans"] is not None or tp["busy"]["market_price"] is not None:
            fail("top: loans or price where they do not apply: %s" % tp, s)
        if not isinstance(tp["bidder"]["market_price"], int):
            fail("top: bidder's market price %r" % tp["bidder"]["market_price"], s)
        # the Prometheus page: the same figures
        page = metrics_page(mport)
        g = sample(page, "myco_loan_grants_total", 'partition="busy"')
        if g is None or g < granted:
            fail("metrics: myco_loan_grants_total for busy %r, events %d" % (g, granted), s)
        for name, want in (("myco_partition_cores_min", 1), ("myco_partition_cores_max", 3)):
            if sample(page, name, 'partition="busy"') != want:
                fail("metrics: %s for busy is not %d" % (name, want), s)
        if sample(page, "myco_partition_cores_granted", 'partition="busy"') is None or \
                sample(page, "myco_partition_cores_granted", 'partition="bidder"') is not None:
            fail("metrics: myco_partition_cores_granted for busy only", s)
        if not re.search(r"^myco_loan_pool_cores 2$", page, re.M):
            fail("metrics: no myco_loan_pool_cores 2", s)
        if sample(page, "myco_market_price", 'partition="bidder",loop="0"') is None or \
                sample(page, "myco_market_slots_total",
                       'partition="bidder",loop="0",class="task"') is None:
            fail("metrics: no market price or slots for bidder", s)
        promtool = shutil.which("promtool")
        if promtool:
            c = subprocess.run([promtool, "check", "metrics"], input=page, capture_output=True,
                               text=True, timeout=60)
            if "error while linting" in c.stdout + c.stderr or \
                    "text format parsing error" in c.stdout + c.stderr:
                fail("promtool: %s %s" % (c.stdout, c.stderr), s)
        if s.stop() != 0:
            fail("myco run exit status %d" % s.proc.returncode, s)
        print("PASS", flush=True)
    finally:
        s.kill_all()


main()
