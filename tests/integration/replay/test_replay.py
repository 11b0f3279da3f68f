#!/usr/bin/env python3
"""Record and replay, end to end: real `myco run` systems record their
partitions, `myco replay` runs the programs alone against the logs.

    test_replay.py MYCO DEMO_DIR RPART CASE

CASE is one of the case_* functions.  Waits have generous upper bounds that
only turn a hang into a failure; nothing compares a duration.  Exit 0 pass,
1 fail, 77 skip.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

MYCO, DEMO, RPART = [os.path.abspath(a) for a in sys.argv[1:4]]
CASE = sys.argv[4]
SANITIZED = os.environ.get("MYCO_SANITIZED") == "1"
CURRENT = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    for s in CURRENT:
        try:
            print("--- executive log:\n" + open(s.errpath).read()[-4000:], flush=True)
        except Exception:
            pass
    sys.exit(1)


def wait_for(cond, what, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def demo(prog):
    return os.path.join(DEMO, "demo-" + prog)


class System:
    def __init__(self, body, tag):
        self.name = ("rp%d%s" % (os.getpid(), tag))[:40]
        self.tmp = tempfile.mkdtemp(prefix="myco-replay-test-")
        self.rt = os.path.join(self.tmp, "rt")
        self.rec = os.path.join(self.tmp, "rec")
        self.file = os.path.join(self.tmp, "system.myco")
        self.errpath = os.path.join(self.tmp, "run.err")
        with open(self.file, "w") as f:
            f.write("system %s {\n    message Num { seq: u64 = 1; value: u64 = 2; }\n%s\n}\n"
                    % (self.name, body))
        self.env = dict(os.environ, MYCO_RECORD_DIR=self.rec)
        CURRENT[:] = [self]

    def start(self):
        self.err = open(self.errpath, "w")
        self.proc = subprocess.Popen([MYCO, "run", self.file, "--runtime-dir", self.rt,
                                      "--grace", "2"], stdout=self.err, stderr=self.err,
                                     env=self.env)
        wait_for(lambda: self.proc.poll() is not None or
                 self.cli("ps", check=False).returncode == 0, "the control socket")
        if self.proc.poll() is not None:
            fail("myco run exited early")

    def cli(self, *args, check=True, json_out=True):
        extra = ["--json"] if json_out else []
        r = subprocess.run([MYCO] + list(args) + extra + ["--runtime-dir", self.rt],
                           capture_output=True, text=True, timeout=60, env=self.env)
        if check and r.returncode != 0:
            fail("myco %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def ps(self):
        return json.loads(self.cli("ps").stdout.splitlines()[0])

    def part(self, name):
        return [p for p in self.ps()["partitions"] if p["name"] == name][0]

    def logs(self, name):
        return self.cli("logs", name, json_out=False).stdout

    def events(self):
        r = self.cli("events")
        return json.loads(r.stdout.splitlines()[0])["events"]

    def stop(self):
        self.cli("stop", "--all", json_out=False, check=False)
        try:
            rc = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("myco run did not stop")
        return rc

    def logdir(self, part):
        return os.path.join(self.rec, self.name, part)

    def replay(self, *args, timeout=600):
        r = subprocess.run([MYCO, "replay"] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=self.env, stdin=subprocess.DEVNULL)
        print("$ myco replay %s -> %d\n%s" % (" ".join(args), r.returncode, r.stderr[-1500:]),
              flush=True)
        return r

    def cleanup(self):
        if self.proc.poll() is None:
            self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def result_line(text):
    m = re.search(r"sink: RESULT .*", text)
    return m.group(0) if m else None


def case_demo():
    """The demo's filter and sink over 100,000 messages, both recorded
    always; each replayed alone: the filter's 100,000 sends identical byte
    for byte, the sink's result line identical to the original run's."""
    n = 20000 if SANITIZED else 100000
    s = System("""
    channel numbers queue { type Num; depth 1024; overflow block; }
    channel filtered queue { type Num; depth 1024; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "%d"; env DEMO_RATE = "200000"; readiness required; }
    partition filter { program "%s"; recv numbers; send filtered; readiness required; record always; }
    partition sink { program "%s"; recv filtered; env DEMO_COUNT = "%d"; readiness required; record always keep 256 MiB; }
""" % (demo("producer"), n, demo("filter"), demo("sink"), n), "demo")
    try:
        s.start()
        text = wait_for(lambda: result_line(s.logs("sink")) and s.logs("sink"), "the sink's result", 600)
        orig = result_line(text)
        print("original:", orig)
        if "received %d gaps 0" % n not in orig:
            fail("the original run itself was wrong: " + orig)
        rec = s.part("filter")["record"]
        if rec["mode"] != "always" or not rec["on"] or rec["overruns"] != 0:
            fail("filter record status: %s" % rec)
        if s.stop() != 0:
            fail("myco run exit status")
        r = s.replay(s.logdir("filter"))
        m = re.search(r"(\d+) sends compared, all identical", r.stderr)
        if r.returncode != 0 or not m or int(m.group(1)) < n or "faithful" not in r.stderr:
            fail("the filter's replay is not faithful")
        r = s.replay(s.logdir("sink"))
        if r.returncode != 0 or result_line(r.stdout) != orig:
            fail("the sink's replay printed %r, the original %r" % (result_line(r.stdout), orig))
        # log bytes per message, for the record
        total = sum(os.path.getsize(os.path.join(s.logdir("filter"), f))
                    for f in os.listdir(s.logdir("filter")))
        print("filter log: %d bytes for %d messages (%.1f bytes per message)" % (total, n, total / n))
    finally:
        s.cleanup()


def crash_system(tag):
    return System("""
    channel numbers queue { type Num; depth 256; overflow block; }
    channel out queue { type Num; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "2000"; env DEMO_RATE = "5000"; readiness required; }
    partition crashy { program "%s"; recv numbers; send out; env IN = "numbers"; env RMODE = "crashy"; env CRASH_AT = "777"; readiness required; restart temporary; record on crash; }
    partition drain { program "%s"; recv out; env IN = "out"; env RMODE = "drain"; readiness required; record on crash; }
""" % (demo("producer"), RPART, RPART), tag)


def case_crash():
    """A planted bug (a NULL store on the message with seq 777): the crash
    log is kept next to the event and `myco replay --crash` reproduces the
    crash, naming the fatal message; --until stops just before it, and with
    --gdb the debugger stops at the crash or before the message; a
    `record on crash` partition that did not crash leaves no log."""
    s = crash_system("crash")
    try:
        s.start()
        ev = wait_for(lambda: [e for e in s.events() if e.get("kind") == "record" and
                               "crash log kept" in e.get("detail", "")], "the crash log event")
        print("event:", ev[0]["detail"])
        rec = s.part("crashy")["record"]
        if not rec.get("crash_log"):
            fail("ps does not name the crash log: %s" % rec)
        s.stop()
        if os.path.exists(s.logdir("drain")):
            fail("`record on crash` kept a log of a partition that did not crash")
        r = s.replay("--crash", "crashy")
        if r.returncode != 4 or "reproduced the recorded crash" not in r.stderr:
            fail("the crash was not reproduced")
        m = re.search(r"record (\d+): receive on channel \d+, lane \d+ seq (\d+)", r.stderr)
        if not m or m.group(2) != "777":
            fail("the fatal message is not the one with seq 777")
        fatal = int(m.group(1))
        r = s.replay("--crash", "crashy", "--until", str(fatal))
        if r.returncode != 0 or ("stopped before record %d" % fatal) not in r.stderr:
            fail("--until %d did not stop before the fatal message" % fatal)
        if shutil.which("gdb") and not SANITIZED:
            r = s.replay("--crash", "crashy", "--gdb")
            print(r.stdout[-1500:])
            if "SIGSEGV" not in r.stdout + r.stderr:
                fail("gdb did not stop at the crash")
            r = s.replay("--crash", "crashy", "--until", str(fatal), "--gdb")
            print(r.stdout[-1500:])
            if "myco_replay_stop" not in r.stdout + r.stderr:
                fail("gdb did not stop at myco_replay_stop before record %d" % fatal)
    finally:
        s.cleanup()


def case_diverge():
    """A partition that reads the wall clock itself, and one whose two
    threads race, replay as DIVERGED with the first differing send."""
    s = System("""
    channel numbers queue { type Num; depth 256; overflow block; }
    channel out queue { type Num; depth 256; overflow block; }
    channel r queue { type Num; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "2000"; env DEMO_RATE = "20000"; readiness required; }
    partition wall { program "%s"; recv numbers; send out; env IN = "numbers"; env RMODE = "wallclock"; readiness required; record always; }
    partition drain { program "%s"; recv out; env IN = "out"; env RMODE = "drain"; readiness required; }
    partition racy { program "%s"; send r; env OUT = "r"; env RMODE = "racy"; env RACY_N = "20000"; readiness required; record always; }
    partition drain2 { program "%s"; recv r; env IN = "r"; env RMODE = "drain"; readiness required; }
""" % (demo("producer"), RPART, RPART, RPART, RPART), "div")
    try:
        s.start()
        wait_for(lambda: "racy done" in s.logs("racy"), "the racy partition's sends")
        wait_for(lambda: [c for c in s.ps()["channels"] if c["name"] == "out" and c["done"] >= 2000],
                 "2000 messages through the wall-clock partition")
        s.stop()
        for part in ("wall", "racy"):
            r = s.replay(s.logdir(part))
            if r.returncode != 3 or "DIVERGED" not in r.stderr or "differs" not in r.stderr:
                fail("%s: the replay did not flag the divergence" % part)
            if "recorded (16 bytes)" not in r.stderr or "replayed (16 bytes)" not in r.stderr:
                fail("%s: the report does not show both payloads" % part)
            if not re.search(r"first difference at byte \d+", r.stderr):
                fail("%s: the report does not name the first differing byte" % part)
    finally:
        s.cleanup()


def frame_check(data):
    return data


def fnv32(b):
    h = 2166136261
    for x in b:
        h = ((h ^ x) * 16777619) & 0xffffffff
    return h


def case_badlogs():
    """Recording turned on at run time through the control socket; that log
    replays; truncated, scribbled and version-mismatched copies of it are
    refused with a clear error (never a crash)."""
    s = System("""
    channel numbers queue { type Num; depth 256; overflow block; }
    channel filtered queue { type Num; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "3000"; env DEMO_RATE = "3000"; readiness required; }
    partition filter { program "%s"; recv numbers; send filtered; readiness required; }
    partition sink { program "%s"; recv filtered; env DEMO_COUNT = "3000"; readiness required; }
""" % (demo("producer"), demo("filter"), demo("sink")), "bad")
    try:
        s.start()
        if s.part("filter")["record"]["on"]:
            fail("filter recorded without a `record` statement")
        r = s.cli("record", "filter", "on", json_out=False)
        if not json.loads(r.stdout)["record"]["on"] or not s.part("filter")["record"]["on"]:
            fail("recording did not turn on: %s" % r.stdout)
        wait_for(lambda: result_line(s.logs("sink")), "the sink's result")
        s.cli("record", "filter", "off", json_out=False)
        if s.part("filter")["record"]["on"]:
            fail("recording did not turn off")
        s.stop()
        good = s.logdir("filter")
        r = s.replay(good)
        if r.returncode != 0 or "faithful" not in r.stderr:
            fail("the log recorded from the middle of the run does not replay")
        if "recording began while the process ran" not in r.stderr:
            fail("the replay of a log begun mid-run does not say so")
        seg = os.path.join(good, sorted(os.listdir(good))[0])
        data = open(seg, "rb").read()
        bad = os.path.join(s.tmp, "bad.mrl")

        def refused(blob, words):
            open(bad, "wb").write(blob)
            r = s.replay(bad)
            if r.returncode != 1 or not all(w in r.stderr for w in words):
                fail("a bad log was not refused with %s: %s" % (words, r.stderr))
        refused(data[:len(data) // 2 + 3], ["cannot read the log", "truncated"])
        refused(data[:40], ["truncated"])
        mid = bytearray(data)
        mid[len(mid) // 2] ^= 0x5a
        refused(bytes(mid), ["cannot read the log", "scribbled"])
        hdr = bytearray(data)
        hdr[8:12] = struct.pack("<I", 3)
        hdr[60:64] = struct.pack("<I", fnv32(bytes(hdr[:60])))
        refused(bytes(hdr), ["version 3", "reads versions 1 to 2"])
        empty = os.path.join(s.tmp, "empty")
        os.mkdir(empty)
        r = s.replay(empty)
        if r.returncode != 1 or "no log segments" not in r.stderr:
            fail("an empty directory was not refused")
    finally:
        s.cleanup()


def rt_system(mode, n, record="record always;"):
    return System("""
    channel numbers queue { type Num; depth 256; overflow block; }
    channel out queue { type Num; depth 256; overflow block; }
    partition producer { program "%s"; send numbers; env DEMO_COUNT = "%d"; env DEMO_RATE = "3000"; readiness required; }
    partition %s { program "%s"; recv numbers; send out; env IN = "numbers"; env RMODE = "%s"; env COUNT = "%d"; readiness required; %s }
    partition drain { program "%s"; recv out; env IN = "out"; env RMODE = "drain"; readiness required; }
""" % (demo("producer"), n, mode, os.environ["RTPART"], mode, n, record, RPART), "rt" + mode)


def case_rt():
    """Programs on the runtime (lib/rt).  One fifo loop with a channel in,
    a channel out, a 1 ms timer and a sleeping coroutine, recorded always:
    replayed alone, every send identical (each send mixes in how often the
    timer and the sleeper had run, so the loop's run order must be the
    recorded one) and the same RESULT line.  A group of two loops passing
    messages across loops, a loop that also does pipe I/O through the
    runtime, and a program polling a channel's fd itself, are recorded too,
    and their replays refuse: NOT REPLAYABLE, with the reason.  A runtime
    partition recorded from the middle of its run replays as DIVERGED."""
    n = 3000
    s = rt_system("pipe", n)
    try:
        s.start()
        text = wait_for(lambda: re.search(r"rtpart: RESULT .*", s.logs("pipe")), "the pipe's result", 600)
        orig = text.group(0)
        print("original:", orig)
        if s.part("pipe")["record"]["overruns"] != 0:
            fail("the pipe's recording overran: %s" % s.part("pipe")["record"])
        s.stop()
        r = s.replay(s.logdir("pipe"))
        m = re.search(r"(\d+) sends compared, all identical", r.stderr)
        if r.returncode != 0 or not m or int(m.group(1)) < n or "faithful" not in r.stderr:
            fail("the runtime partition's replay is not faithful")
        got = re.search(r"rtpart: RESULT .*", r.stdout)
        if not got or got.group(0) != orig:
            fail("the replay printed %r, the original %r" % (got and got.group(0), orig))
        # --rr: records the replay where rr works, else says why it cannot
        if shutil.which("rr") and not SANITIZED:
            probe = subprocess.run(["rr", "record", "-o", os.path.join(s.tmp, "probe.rr"),
                                    "/bin/true"], capture_output=True, timeout=120)
            r = s.replay(s.logdir("pipe"), "--rr")
            if probe.returncode == 0:
                if r.returncode != 0 or "faithful" not in r.stderr:
                    fail("the replay under rr is not faithful")
            elif r.returncode != 1 or "rr could not record the replay" not in r.stderr:
                fail("--rr where rr cannot record did not say so clearly")
    finally:
        s.cleanup()
    # a runtime partition recorded from the middle of its run: its loop's
    # state before the window is lost, and the replay says so (never faithful)
    s = rt_system("pipe", n, record="")
    try:
        s.start()
        wait_for(lambda: [c for c in s.ps()["channels"] if c["name"] == "out" and c["done"] >= 300],
                 "300 messages through the pipe")
        s.cli("record", "pipe", "on", json_out=False)
        wait_for(lambda: re.search(r"rtpart: RESULT .*", s.logs("pipe")), "the pipe's result", 600)
        s.stop()
        r = s.replay(s.logdir("pipe"))
        if r.returncode != 3 or "DIVERGED" not in r.stderr or "myco replay: faithful" in r.stderr:
            fail("a runtime log begun mid-run was not reported as diverged")
    finally:
        s.cleanup()
    for mode, words in (("group", "group of 2 loops"), ("sock", "outside channels"),
                        ("fd", "polls a channel's fd")):
        s = rt_system(mode, 300)
        try:
            s.start()
            wait_for(lambda: [c for c in s.ps()["channels"] if c["name"] == "out" and c["done"] >= 300],
                     "300 messages through the %s partition" % mode)
            s.stop()
            r = s.replay(s.logdir(mode))
            if r.returncode != 3 or "NOT REPLAYABLE" not in r.stderr or words not in r.stderr:
                fail("the %s partition's replay was not refused with its reason" % mode)
        finally:
            s.cleanup()


if __name__ == "__main__":
    fn = globals().get("case_" + CASE)
    if not fn:
        print("unknown case " + CASE)
        sys.exit(2)
    fn()
    print("PASS " + CASE)
