#!/usr/bin/env python3
"""Immune system tests: slow failures detected and healed before their SLO
breaks, and no healing of a clean system under changing load.

    test_immune.py MYCO IPART CASE

CASE: leak, livelock, creep, stuck, errors (a call service: the registry
switches it), quarantine (a creep healed by quarantine), shed, clean,
inflight-fail and inflight-retry (calls in flight at a switch), starve
(budget starvation is named, not healed).
Real `myco run`, real partition processes (ipart.c).  No check compares a
duration with a threshold: each case asserts the ORDER of events (the heal
comes before any broken objective, the memory limit is never reached) and
prints the times it measured (fault -> first verdict -> heal) for the log.
Exit 0 pass, 1 fail.  Also imported by bench/heal/bench_heal.py.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

SLOS = """
        slo memory < 75 %;
        slo latency p99 < 100 ms;
        slo queue < 2000;
        slo stall < 2 s;
        slo errors < 20 %;"""


def fail(msg, sysobj=None):
    print("FAIL: " + msg, flush=True)
    if sysobj:
        print("--- executive log:\n" + sysobj.errtext()[-20000:], flush=True)
    sys.exit(1)


def wait_for(cond, what, timeout=60.0, sysobj=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what, sysobj)


class System:
    def __init__(self, myco, body, tag):
        self.myco = myco
        self.tmp = tempfile.mkdtemp(prefix="myco-immune-")
        self.rt = os.path.join(self.tmp, "rt")
        self.file = os.path.join(self.tmp, "system.myco")
        self.name = ("im%d%s" % (os.getpid(), tag))[:40]
        with open(self.file, "w") as f:
            f.write("system %s {\n    message M { v: u64 = 1; }\n%s\n}\n" % (self.name, body))
        self.proc = None

    def start(self, env=None):
        self.err = open(os.path.join(self.tmp, "run.err"), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([self.myco, "run", self.file, "--runtime-dir", self.rt,
                                      "--grace", "2"], stdout=self.err, stderr=self.err, env=e)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("ps", check=False).returncode == 0, "the control socket", sysobj=self)
        if self.proc.poll() is not None:
            fail("myco run exited early", self)
        wait_for(lambda: all(p["state"] == "running" for p in self.ps()["partitions"]),
                 "every partition running", sysobj=self)

    def errtext(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()

    def cli(self, *args, check=True):
        r = subprocess.run([self.myco] + list(args) + ["--json", "--runtime-dir", self.rt],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            fail("myco %s: %s %s" % (" ".join(args), r.stdout, r.stderr), self)
        return r

    def ps(self):
        return json.loads(self.cli("ps").stdout.splitlines()[0])

    def events(self):
        return json.loads(self.cli("events").stdout.splitlines()[0])["events"]

    def logs(self, name):
        return json.loads(self.cli("logs", name).stdout.splitlines()[0]).get("data", "")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.cli("stop", "--all", check=False)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # a sanitizer report of the executive fails the case
        text = self.errtext() if self.proc else ""
        shutil.rmtree(self.tmp, ignore_errors=True)
        for bad in ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"):
            if bad in text:
                i = text.index(bad)
                print("FAIL: the executive reported:\n" + text[max(0, i - 200):i + 3000])
                sys.exit(1)


def part_block(name, ipart, env, extra):
    lines = ['    partition %s {' % name, '        program "%s";' % ipart]
    for k, v in env.items():
        lines.append('        env %s = "%s";' % (k, v))
    lines += ["        " + l.strip() for l in extra.strip().splitlines()]
    lines.append("    }")
    return "\n".join(lines)


def queue_system(ipart, fault, rate=200, heal="heal restart;", steps=None, sink_env=None,
                 slos=SLOS):
    src_env = {"XMODE": "src", "XRATE": str(rate)}
    if steps:
        src_env["XSTEPS"], src_env["XSTEP_MS"] = steps
    env = {"XMODE": "sink", "XRATE": str(rate)}
    if fault:
        env["XFAULT"] = fault
    env.update(sink_env or {})
    return "\n".join([
        "    channel q queue { type M; depth 8192; }",
        part_block("src", ipart, src_env, "send q;\nheartbeat 1 s;"),
        part_block("sink", ipart, env, "recv q;\nmemory 128 MiB;\nheartbeat 1 s;" + slos +
                   "\n" + heal),
    ])


def call_system(ipart, fault, rate=200, heal="heal restart;"):
    env = {"XMODE": "server", "XRATE": str(rate)}
    if fault:
        env["XFAULT"] = fault
    return "\n".join([
        "    channel svc call { request M; reply M; timeout 2 s; }",
        part_block("client", ipart, {"XMODE": "client", "XRATE": str(rate)}, "call svc;"),
        part_block("server", ipart, env, "serve svc;\nmemory 128 MiB;\nheartbeat 1 s;" + SLOS +
                   "\n" + heal),
    ])


def last_stat(text, key="STAT"):
    st = None
    for line in text.splitlines():
        if line.startswith(key + " "):
            st = dict(kv.split("=") for kv in line.split()[1:])
    return {k: int(v) for k, v in (st or {}).items()}


def fault_time(s, name):
    for line in s.logs(name).splitlines():
        if line.startswith("FAULT "):
            return int(line.split()[2])
    return None


def run_fault(myco, ipart, case, heal="heal restart;", quiet=False):
    """Run one slow failure until it is healed; returns the figures.  Fails
    (exits) when the order of events is wrong."""
    faults = {"leak": ("leak", {"XLEAK_KIB": "1024"}), "livelock": ("livelock", {}),
              "creep": ("creep", {"XCREEP_US": "20000", "XWORK_US": "200"}),
              "stuck": ("stuck", {}), "errors": ("errors", {"XERR_PCT": "4"})}
    fault, extra = faults[case]
    if case == "errors":
        body = call_system(ipart, fault, heal=heal)
        target = "server"
    else:
        body = queue_system(ipart, fault, rate=20 if case == "creep" else 200, heal=heal,
                            sink_env=extra)
        target = "sink"
    if case == "errors":
        body = body.replace('env XMODE = "server";', 'env XMODE = "server";\n        env XERR_PCT = "4";')
    s = System(myco, body, case[:6])
    try:
        s.start()
        t_fault = wait_for(lambda: fault_time(s, target), "the fault to start", sysobj=s)
        ev = wait_for(lambda: [e for e in s.events() if e["partition"] == target and
                               e["kind"] in ("heal",) and "evidence" in e] or None,
                      "a heal of " + target, timeout=90, sysobj=s)
        heal = ev[0]
        # the replacement runs (a new process) and the partition is running
        wait_for(lambda: [e for e in s.events() if e["partition"] == target and
                          e["kind"] in ("restart",) and e["seq"] > heal["seq"]] or None,
                 "the replacement", sysobj=s)
        wait_for(lambda: s.ps() and all(p["state"] == "running" for p in s.ps()["partitions"]),
                 "running again", sysobj=s)
        evs = s.events()
        mine = [e for e in evs if e["partition"] == target]
        first_verdict = next((e for e in mine if e["kind"] == "health" and
                              e["mono_ns"] >= t_fault), None)
        breaches = [e for e in mine if e["kind"] == "slo-breach" and e["seq"] < heal["seq"]]
        ooms = [e for e in mine if e["kind"] == "exit" and "OOM" in e["detail"]]
        if breaches:
            fail("%s: an objective broke before the heal: %s" % (case, breaches[0]["detail"]), s)
        if ooms:
            fail("%s: the memory limit was reached: %s" % (case, ooms[0]["detail"]), s)
        if heal["mono_ns"] < t_fault:
            fail("%s: healed before the fault started (false heal): %s" % (case, heal), s)
        switches = [e for e in evs if e["kind"] == "switch" and e["seq"] > heal["seq"]]
        if case == "errors" and not switches:
            fail("errors: no registry switch after the heal", s)
        if case == "errors":
            # the registry: service svc -> the replacement, a new generation
            d = s.ps()
            svc = next(x for x in d["services"] if x["name"] == "svc")
            srv = next(p for p in d["partitions"] if p["name"] == "server")
            if svc["generation"] < 2 or svc["pid"] != srv["pid"] or svc["state"] != "serving" \
                    or svc["partition"] != "server" or svc["kind"] != "call":
                fail("errors: registry entry %s, server pid %s" % (svc, srv["pid"]), s)
        r = {
            "class": case,
            "signal": heal["evidence"]["signal"],
            "action": heal["evidence"].get("action"),
            "detect_ms": ((first_verdict or heal)["mono_ns"] - t_fault) / 1e6,
            "heal_ms": (heal["mono_ns"] - t_fault) / 1e6,
            "evidence": heal["evidence"],
        }
        restarted = next((e for e in mine if e["kind"] == "restarted" and
                          e["seq"] > heal["seq"]), None)
        if restarted and "crash_to_running_ns" in restarted:
            r["replace_ms"] = (restarted["mono_ns"] - heal["mono_ns"]) / 1e6
        # messages: let the replacement work a little, then count
        time.sleep(0 if quiet else 0)
        if case == "errors":
            wait_for(lambda: last_stat(s.logs("client"), "CSTAT").get("calls", 0) > 0,
                     "client statistics", sysobj=s)
            st = last_stat(s.logs("client"), "CSTAT")
            r["lost"] = 0          # every call is retried until answered (counted below)
            r["timeouts"] = st.get("timeouts", 0)
            r["calls"] = st.get("calls", 0)
        else:
            base = last_stat(s.logs(target)).get("recv", 0)
            wait_for(lambda: last_stat(s.logs(target)).get("recv", 0) > base,
                     "the replacement handling messages", sysobj=s)
            st = last_stat(s.logs(target))
            r["lost"] = st.get("lost", 0)
            r["dup"] = st.get("dup", 0)
            if r["lost"]:
                fail("%s: %d messages lost across the heal" % (case, r["lost"]), s)
        if not quiet:
            print("%s: %s healed by %s on %s: detect %.0f ms, heal %.0f ms after the fault; "
                  "evidence %s" % (case, target, r["action"], r["signal"], r["detect_ms"],
                                   r["heal_ms"], json.dumps(heal["evidence"])), flush=True)
        return r
    finally:
        s.stop()


def case_shed(myco, ipart):
    """A stuck queue with `heal shed;`: the partition is told to shed load,
    its queue drains, the verdict falls back and shedding stops; nothing is
    restarted, no objective breaks."""
    s = System(myco, queue_system(ipart, "stuck", heal="heal shed;"), "shed")
    try:
        s.start()
        t_fault = wait_for(lambda: fault_time(s, "sink"), "the fault to start", sysobj=s)
        ev = lambda: s.events()
        heal = wait_for(lambda: next((e for e in ev() if e["partition"] == "sink" and
                                      e["kind"] == "heal" and "evidence" in e), None),
                        "the shed", timeout=90, sysobj=s)
        if heal["evidence"].get("action") != "shed":
            fail("shed: action %s" % heal["evidence"].get("action"), s)
        stop = wait_for(lambda: next((e for e in ev() if e["partition"] == "sink" and
                                      e["kind"] == "heal" and "shedding stops" in e["detail"]),
                                     None), "shedding to stop", timeout=90, sysobj=s)
        evs = ev()
        bad = [e for e in evs if e["partition"] == "sink" and
               (e["kind"] in ("slo-breach", "restart", "exit"))]
        if bad:
            fail("shed: %s %s" % (bad[0]["kind"], bad[0]["detail"]), s)
        print("shed: told to shed %.0f ms after the fault, healthy again %.0f ms later" % (
            (heal["mono_ns"] - t_fault) / 1e6, (stop["mono_ns"] - heal["mono_ns"]) / 1e6))
    finally:
        s.stop()


def case_escalate(myco, ipart):
    """An error storm in a call server whose policy is `heal escalate;`,
    then the heal rate limit: the group restarts every member, and a heal
    beyond `limit 1 per 60 s` is escalated too."""
    body = call_system(ipart, "errors", heal="heal escalate;")
    body += "\n    group svcgroup { strategy one_for_one; restarts 10 within 60 s; members server, client; }"
    s = System(myco, body, "esc")
    try:
        s.start()
        wait_for(lambda: fault_time(s, "server"), "the fault to start", sysobj=s)
        heal = wait_for(lambda: next((e for e in s.events() if e["partition"] == "server" and
                                      e["kind"] == "heal" and "evidence" in e), None),
                        "the escalation", timeout=90, sysobj=s)
        if heal["evidence"].get("action") != "escalate":
            fail("escalate: action %s" % heal["evidence"].get("action"), s)
        wait_for(lambda: all(any(e["kind"] == "restart" and e["partition"] == n and
                                 e["seq"] > heal["seq"] for e in s.events())
                             for n in ("server", "client")),
                 "both members of the group restarted", sysobj=s)
        print("escalate: server and client restarted by the group after the heal")
    finally:
        s.stop()


def case_inflight(myco, ipart, policy):
    """A call server healed while calls are in flight (it received them and
    never answers: `hold`), with `inflight fail;` or `inflight retry;`.
    fail: every held call is answered -ECONNRESET exactly once (the client
    counts as many as the executive's switch event says it failed) and the
    replacement never handles one of them (its first request comes after
    the last failed one).  retry: the replacement answers them; no call is
    failed.  Both: no call hangs (the channel's timeout, 60 s, never
    expires), no answer belongs to another call, the client goes on."""
    env = {"XMODE": "server", "XRATE": "100", "XFAULT": "hold"}
    body = "\n".join([
        "    channel svc call { request M; reply M; timeout 60 s; inflight %s; }" % policy,
        part_block("client", ipart, {"XMODE": "client", "XRATE": "100", "XPIPE": "8"},
                   "call svc;"),
        part_block("server", ipart, env, "serve svc;\nmemory 128 MiB;\nheartbeat 1 s;" + SLOS +
                   "\nheal restart;"),
    ])
    s = System(myco, body, "if" + policy[:1])
    try:
        s.start()
        wait_for(lambda: fault_time(s, "server"), "the fault to start", sysobj=s)
        heal = wait_for(lambda: next((e for e in s.events() if e["partition"] == "server" and
                                      e["kind"] == "heal" and "evidence" in e), None),
                        "a heal of the server", timeout=90, sysobj=s)
        sw = wait_for(lambda: [e for e in s.events() if e["kind"] == "switch" and
                               e["seq"] > heal["seq"]] or None, "the switch", sysobj=s)
        base = last_stat(s.logs("client"), "CSTAT").get("ok", 0)
        wait_for(lambda: last_stat(s.logs("client"), "CSTAT").get("ok", 0) > base + 50,
                 "the client going on after the switch", sysobj=s)
        clog = s.logs("client")
        st = last_stat(clog, "CSTAT")
        resets = [int(l.split()[1]) for l in clog.splitlines() if l.startswith("RESET ")]
        svc = next(x for x in s.ps()["services"] if x["name"] == "svc")
        firsts = [l.split() for l in s.logs("server").splitlines() if l.startswith("FIRST ")]
        print("inflight %s: switch: %s; client %s; first requests handled %s" % (
            policy, sw[0]["detail"], st, [f[1:] for f in firsts]), flush=True)
        if st.get("bad", 0) or st.get("timeouts", 0):
            fail("inflight %s: %d answers not the call's own, %d timeouts (a hang): %s" % (
                policy, st.get("bad", 0), st.get("timeouts", 0), clog[-2000:]), s)
        if svc.get("inflight") != policy:
            fail("inflight %s: the registry says %s" % (policy, svc), s)
        if policy == "fail":
            if not resets:
                fail("inflight fail: no call failed at the switch", s)
            if len(resets) != len(set(resets)) or len(resets) != svc["inflight_failed"]:
                fail("inflight fail: the client got %d resets (%s), the executive failed %d" % (
                    len(resets), resets, svc["inflight_failed"]), s)
            if "%d in-flight calls failed" % len(resets) not in " ".join(e["detail"] for e in sw):
                fail("inflight fail: switch event %s, %d resets" % (sw[0]["detail"], len(resets)), s)
            if len(firsts) < 2:
                fail("inflight fail: no replacement handled a request: %s" % firsts, s)
            if int(firsts[-1][2]) <= max(resets):
                fail("inflight fail: the replacement handled call %s, which was failed (%s)" % (
                    firsts[-1][2], resets), s)
        else:
            if resets or svc["inflight_failed"]:
                fail("inflight retry: %d calls failed: %s" % (len(resets), resets), s)
            if svc["inflight_retried"] < 1:
                fail("inflight retry: no call was handed to the replacement: %s" % svc, s)
        print("PASS inflight-%s: %d calls failed, %d handed to the replacement" % (
            policy, len(resets), svc["inflight_retried"]), flush=True)
    finally:
        s.stop()


def case_starve(myco, ipart):
    """Budget starvation (a chaos `starve` fault cuts the sink's cgroup CPU
    quota to 10 % of its budget, below what its load needs): its queue
    grows as a stuck one's would, but the health model reads the cgroup's
    throttling and names the verdict `starved`; nothing is healed or
    restarted; when the quota comes back the sink is fed again and
    drains its queue, losing nothing."""
    body = queue_system(ipart, None, rate=200, sink_env={"XWORK_US": "1000"})
    # pinned to one CPU of several, the budget is the cgroup quota (a
    # SCHED_DEADLINE reservation, which the quota cannot cut, needs the
    # whole root domain)
    body = body.replace("recv q;", "recv q;\n        budget 5 ms per 10 ms;\n        cores 1;", 1)
    s = System(myco, body, "starve")
    try:
        s.start()

        def baseline():
            h = json.loads(s.cli("health").stdout.splitlines()[0])
            sink = next((p for p in h["partitions"] if p.get("name") == "sink"), None)
            return sink and sink["signals"]["queue"]["baseline"] is not None
        wait_for(baseline, "the sink's learned baseline", sysobj=s)
        t0 = s.events()[-1]["seq"]
        r = subprocess.run([s.myco, "chaos", "run", "--fault", "starve sink 10 % for 8 s",
                            "--runtime-dir", s.rt, "--json", "--settle", "0"],
                           capture_output=True, text=True, timeout=300)
        evs = [e for e in s.events() if e["seq"] > t0]
        applied = [e for e in evs if e["kind"] == "chaos" and "starve" in e["detail"]]
        if not applied or "NOT applied" in applied[0]["detail"]:
            fail("starve: the fault did not apply: %s %s" % (applied, r.stderr), s)
        starved = [e for e in evs if e["partition"] == "sink" and e["kind"] == "starved"]
        if not starved:
            fail("starve: no `starved` event: %s" % [(e["kind"], e["detail"]) for e in evs
                                                       if e["partition"] == "sink"], s)
        # the verdicts while it was starved (between `starved` and `fed`)
        fed = [e["seq"] for e in evs if e["partition"] == "sink" and e["kind"] == "fed" and
               e["seq"] > starved[0]["seq"]]
        verdicts = [e for e in evs if e["partition"] == "sink" and e["kind"] == "health" and
                    starved[0]["seq"] < e["seq"] < (fed[0] if fed else 1 << 62) and
                    e.get("evidence", {}).get("verdict") not in ("healthy",)]
        wrong = [e for e in verdicts if e["evidence"]["verdict"] != "starved" and
                 e["evidence"]["signal"] in ("queue", "latency", "stall", "heartbeat")]
        bad = [e for e in evs if e["partition"] == "sink" and
               e["kind"] in ("heal", "heal-limited", "restart", "exit", "kill")]
        if bad:
            fail("starve: %s %s" % (bad[0]["kind"], bad[0]["detail"]), s)
        if wrong:
            fail("starve: a verdict that does not name starvation: %s" % wrong[0]["detail"], s)
        # the quota is back: fed again, the queue drains, nothing lost
        wait_for(lambda: [e for e in s.events() if e["partition"] == "sink" and
                          e["kind"] == "fed" and e["seq"] > starved[0]["seq"]] or None,
                 "the sink fed again", sysobj=s)
        base = last_stat(s.logs("sink")).get("recv", 0)
        wait_for(lambda: last_stat(s.logs("sink")).get("recv", 0) > base, "the sink handling",
                 sysobj=s)
        st = last_stat(s.logs("sink"))
        if st.get("lost", 0):
            fail("starve: %d messages lost" % st["lost"], s)
        evs = [e for e in s.events() if e["seq"] > t0 and e["partition"] == "sink"]
        bad = [e for e in evs if e["kind"] in ("heal", "heal-limited", "restart", "exit")]
        if bad:
            fail("starve: %s %s" % (bad[0]["kind"], bad[0]["detail"]), s)
        print("starve: %s; verdicts %s; then %s" % (
            starved[0]["detail"], [e["detail"] for e in verdicts][:3],
            next(e["detail"] for e in evs if e["kind"] == "fed")), flush=True)
    finally:
        s.stop()


def run_clean(myco, ipart, step_ms, quiet=False):
    """Load 1x..5x..1x; nothing may be healed, nothing found sick."""
    body = queue_system(ipart, None, rate=200, steps=("1,2,3,4,5,4,3,2,1", str(step_ms)))
    s = System(myco, body, "clean")
    try:
        s.start()
        end_steps = 9
        wait_for(lambda: "STEP %d " % (end_steps - 1) in s.logs("src"), "the load steps",
                 timeout=step_ms * 9 / 1000 * 4 + 60, sysobj=s)
        time.sleep(step_ms / 1000)
        evs = s.events()
        bad = [e for e in evs if e["kind"] in ("heal", "heal-limited", "slo-breach") or
               (e["kind"] == "health" and e.get("evidence", {}).get("verdict") == "sick")]
        degraded = [e for e in evs if e["kind"] == "health" and
                    e.get("evidence", {}).get("verdict") == "degraded"]
        restarts = [e for e in evs if e["kind"] == "restart"]
        if bad:
            fail("clean run: %s %s" % (bad[0]["kind"], bad[0]["detail"]), s)
        if restarts:
            fail("clean run: a restart: " + restarts[0]["detail"], s)
        st = last_stat(s.logs("sink"))
        if st.get("lost", 0):
            fail("clean run: messages lost", s)
        # the learned baselines as a profile, which a next run loads as they are
        prof = os.path.join(s.tmp, "profile.json")
        h = json.loads(s.cli("health", "--save", prof).stdout.splitlines()[0])
        if h.get("saved") != prof or not os.path.exists(prof):
            fail("clean run: health --save wrote no profile: %s" % h, s)
        saved = json.load(open(prof))["partitions"]["sink"]
        if "queue" not in saved or "memory" not in saved:
            fail("clean run: the profile lacks baselines: %s" % saved, s)
        if not quiet:
            print("clean: %d messages over 1x..5x..1x (%d ms a step): 0 heals, 0 sick, "
                  "%d degraded verdicts" % (st.get("recv", 0), step_ms, len(degraded)), flush=True)
        profile = json.load(open(prof))
    finally:
        s.stop()
    # a second run with the profile: its baselines are the saved ones exactly
    s2 = System(myco, queue_system(ipart, None), "prof")
    try:
        pf = os.path.join(s2.tmp, "profile.json")
        with open(pf, "w") as f:
            json.dump(profile, f)
        s2.start(env={"MYCO_HEALTH_PROFILE": pf})
        sig = wait_for(lambda: next((p for p in s2.cli("health").stdout and
                                     json.loads(s2.cli("health").stdout.splitlines()[0])["partitions"]
                                     if p.get("name") == "sink"), None), "health of sink", sysobj=s2)
        for k, v in profile["partitions"]["sink"].items():
            got = sig["signals"][k]["baseline"]
            if got is None or abs(got - v["median"]) > 1e-9 * max(1.0, abs(v["median"])):
                fail("profile: %s baseline %s, saved %s" % (k, got, v["median"]), s2)
    finally:
        s2.stop()
    if not quiet:
        print("profile: %d baselines saved and loaded as they were" %
              len(profile["partitions"]["sink"]), flush=True)
    return {"recv": st.get("recv", 0), "degraded": len(degraded), "heals": 0,
            "seconds": step_ms * 9 / 1000}


def main():
    myco, ipart, case = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
    if case in ("leak", "livelock", "creep", "stuck", "errors"):
        run_fault(myco, ipart, case)
    elif case == "quarantine":
        r = run_fault(myco, ipart, "creep", heal="heal quarantine;")
        if r["action"] != "quarantine":
            fail("quarantine: healed by %s" % r["action"])
    elif case == "shed":
        case_shed(myco, ipart)
    elif case == "escalate":
        case_escalate(myco, ipart)
    elif case == "starve":
        case_starve(myco, ipart)
    elif case in ("inflight-fail", "inflight-retry"):
        case_inflight(myco, ipart, case.split("-")[1])
    elif case == "clean":
        run_clean(myco, ipart, int(os.environ.get("IMMUNE_STEP_MS", "1500")))
    else:
        fail("unknown case " + case)
    print("PASS " + case)


if __name__ == "__main__":
    main()
