#!/usr/bin/env python3
"""Hostile partitions against the executive, through `myco run` with real
partition processes (the executive tests' harness, tests/integration/exec/
test_exec.py, used as a library).

    test_hostile.py MYCO XPART DEMO_DIR CASE

Each case reproduces an attack that used to harm more than the attacker.
Every wait has a generous upper bound that only turns a hang into a
failure; no check compares a duration against a threshold.  Exit 0 pass,
1 fail, 77 skip.
"""
import importlib.util
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "test_exec", os.path.join(HERE, "..", "exec", "test_exec.py"))
X = importlib.util.module_from_spec(spec)
spec.loader.exec_module(X)      # reads MYCO XPART DEMO CASE from sys.argv


def case_frame_orphans():
    """Item 3: kill -9 of the executive while frame partitions (and their
    standbys) are frozen outside their windows.  A frozen task cannot act on
    a signal, so nothing but the cgroup can end them: the guard must."""
    if os.geteuid() != 0:
        print("SKIP: frame windows freeze through cgroups: needs root")
        sys.exit(77)
    body = "\n".join([
        X.partition("fa", extra="cores 0;\nframe;"),
        X.partition("fb", extra="cores 0;\nframe;"),
        """    schedule {
        major_frame 200 ms;
        core 0 {
            window fa at 0 ms for 5 ms;
            window fb at 100 ms for 5 ms;
        }
    }"""])
    s = X.System(body, "fo")
    try:
        s.start()
        X.wait_for(lambda: all(p["standby_pid"] for p in s.ps()["partitions"]),
                   "standbys parked")
        pids = set(s.seen_pids)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        for pid in pids:
            X.wait_for(lambda: not X.alive(pid),
                       "frame partition %d to die with its executive" % pid, 20)
        for name in ("fa", "fb"):
            X.wait_for(lambda: not X.cgroup_dirs(name), "cgroups of %s removed" % name, 20)
    finally:
        s.kill_all()


HPART = os.environ.get("HPART", "")


def hostile(name, mode, extra=""):
    """A partition running hpart (the hostile program) in mode HMODE."""
    lines = ['    partition %s {' % name, '        program "%s";' % HPART,
             '        env HMODE = "%s";' % mode]
    for l in extra.strip().splitlines():
        lines.append("        " + l.strip())
    lines.append("    }")
    return "\n".join(lines)


def need_root():
    if os.geteuid() != 0:
        print("SKIP: cgroup limits need root")
        sys.exit(77)


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([l.split()[1] for l in f if l.startswith("Threads:")][0])


def case_threadbomb():
    """Item 4: a thread bomb is held by the partition's pids limit (the
    default, 256 here: no `pids` statement), its standby keeps its own
    slots and takes over, the neighbour and the executive are unaffected."""
    need_root()
    body = "\n".join([hostile("bomb", "threadbomb"), X.partition("ok")])
    s = X.System(body, "tb")
    try:
        s.start()
        X.wait_for(lambda: all(p["standby_pid"] for p in s.ps()["partitions"]),
                   "standbys parked")
        bomb = s.part("bomb")
        iso = {m["mechanism"]: m for m in bomb["isolation"]}
        pids = iso.get("cgroup-pids", {})
        if pids.get("status") != "applied" or "256" not in pids.get("detail", pids.get("reason", "")):
            X.fail("no pids limit applied: %r" % pids)
        line = X.wait_for(lambda: [l for l in s.logs("bomb").splitlines()
                                   if l.startswith("THREADS ")], "the bomb to hit its limit")
        n = int(line[0].split()[1])
        if n >= 256 or threads(bomb["pid"]) > 256:
            X.fail("the bomb got %d threads (%d now) past its limit of 256"
                   % (n, threads(bomb["pid"])))
        print("the bomb stopped at %d threads" % n)
        # the neighbour is unaffected, the standby was not starved
        if s.part("ok")["state"] != "running":
            X.fail("the neighbour is not running")
        old = bomb["restarts"]
        s.cli("kill", "bomb")
        X.wait_for(lambda: s.part("bomb")["restarts"] > old and
                   s.part("bomb")["state"] == "running", "the bomb's standby to take over")
        if s.proc.poll() is not None:
            X.fail("the executive exited (%d)" % s.proc.returncode)
        if s.stop() != 0:
            X.fail("stop exit status")
    finally:
        s.kill_all()


def case_denyspam():
    """Item 5: four threads call a forbidden syscall as fast as they can
    (20,000 denials: ten times the event ring; the cost cap answers at most
    2,000 a second).  The repeats are folded into one event with a count,
    new events are rate-limited per partition, so the neighbour's restart
    event that came before the flood is still in the executive's ring (2,048
    events), and the executive's log does not grow with the flood."""
    hold = os.path.join("/tmp", "hostile-hold-%d" % os.getpid())
    open(hold, "w").close()
    body = "\n".join([hostile("spam", "denyspam",
                              'env HHOLD = "%s";\nenv HCOUNT = "20000";' % hold),
                      X.partition("ok")])
    s = X.System(body, "ds")
    try:
        s.start()
        iso = {m["mechanism"]: m for m in s.part("spam")["isolation"]}
        if iso.get("seccomp", {}).get("status") != "applied":
            print("SKIP: seccomp not applied here: %r" % iso.get("seccomp"))
            sys.exit(77)
        old = s.part("ok")["restarts"]
        s.cli("kill", "ok")
        X.wait_for(lambda: s.part("ok")["restarts"] > old, "the neighbour's restart")
        mark = [e for e in s.events() if e["partition"] == "ok" and e["kind"] == "restart"]
        if not mark:
            X.fail("no restart event for the neighbour")
        log_before = len(s.errtext())
        os.unlink(hold)
        X.wait_for(lambda: "DENIED " in s.logs("spam"), "the flood to end", 120)
        ev = s.events()
        if not [e for e in ev if e["seq"] == mark[-1]["seq"]]:
            X.fail("the flood evicted the neighbour's restart event")
        spam = [e for e in ev if e["partition"] == "spam" and e["kind"].startswith("seccomp")]
        counts = [int(e["detail"].split(" times")[0].split()[-1]) for e in spam
                  if " times" in e["detail"]]
        if not counts or max(counts) < 1000:
            X.fail("repeats not folded into one event: %r" % spam[:5])
        grown = len(s.errtext()) - log_before
        print("%d spam events, largest count %d, executive log grew %d bytes"
              % (len(spam), max(counts), grown))
        if grown > 100000:
            X.fail("the executive's log grew %d bytes with the flood" % grown)
        if s.part("ok")["state"] != "running" or s.proc.poll() is not None:
            X.fail("the neighbour or the executive suffered")
        if s.stop() != 0:
            X.fail("stop exit status")
    finally:
        if os.path.exists(hold):
            os.unlink(hold)
        s.kill_all()


def case_chanfault():
    """Item 1 in a real system: of two producers on one queue, one scribbles
    its own lane.  The consumer puts that lane out of service and goes on
    with the honest producer's messages; the executive reports the fault,
    kills the scribbler, repairs its lane, and its replacement attaches
    (and behaves: it finds the first one's mark in its lane)."""
    body = "\n".join([
        "    channel q queue { type M; depth 64; overflow reject; }",
        hostile("honest", "produce", "send q;"),
        hostile("evil", "ownlane", "send q;"),
        hostile("cons", "consume", "recv q;")])
    s = X.System(body, "cf")
    try:
        s.start()
        ev = X.wait_for(lambda: [e for e in s.events() if e["kind"] == "chan-fault"],
                        "the channel fault to be reported")
        if ev[0]["partition"] != "evil":
            X.fail("the fault was pinned on %r" % ev[0])
        X.wait_for(lambda: s.part("evil")["restarts"] >= 1 and
                   s.part("evil")["state"] == "running", "the scribbler restarted")
        # its replacement's messages arrive: the lane was repaired
        X.wait_for(lambda: [l for l in s.logs("cons").splitlines()
                            if l.startswith("RECV ") and l.split()[2] == "1"],
                   "messages of the replacement (lane 1)")
        # the honest producer's messages keep arriving after the fault
        def recv():
            r = [l for l in s.logs("cons").splitlines() if l.startswith("RECV ")]
            return int(r[-1].split()[1]) if r else 0
        seen = recv()
        X.wait_for(lambda: recv() > seen, "the consumer to go on")
        for name in ("honest", "cons"):
            if s.part(name)["restarts"] != 0:
                X.fail("%s was restarted" % name)
        if s.proc.poll() is not None:
            X.fail("the executive exited")
        if s.stop() != 0:
            X.fail("stop exit status")
    finally:
        s.kill_all()


def case_control_nul():
    """Item 8: a control request with a NUL byte used to be left unanswered
    (the connection hung); it is answered with an error, and the executive
    keeps answering others."""
    import socket
    s = X.System(X.partition("a"), "cn")
    try:
        s.start()
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(30)
        c.connect(os.path.join(s.rt, "control.sock"))
        c.sendall(b'{"cmd":"ps"}\x00junk\n')
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = c.recv(4096)
            if not chunk:
                break
            reply += chunk
        c.close()
        if b'"ok":false' not in reply.replace(b" ", b"") or b"NUL" not in reply:
            X.fail("no error reply to a NUL byte: %r" % reply)
        s.ps()
        if s.stop() != 0:
            X.fail("stop exit status")
    finally:
        s.kill_all()


def case_uringsock():
    """Item 7: a partition without `net` tries to make AF_INET and AF_UNIX
    sockets through io_uring (IORING_OP_SOCKET, which seccomp cannot see).
    Passes when no socket is made and the attempt is reported.  Still open:
    registered as expected to fail (see meson.build)."""
    s = X.System(hostile("sneaky", "uringsock"), "us")
    try:
        s.start()
        lines = X.wait_for(lambda: [l for l in s.logs("sneaky").splitlines()
                                    if l.startswith("URING_SOCKET ")] or None,
                           "the attempts")
        X.wait_for(lambda: len([l for l in s.logs("sneaky").splitlines()
                                if l.startswith("URING_SOCKET ")]) == 2, "both attempts")
        log = s.logs("sneaky")
        for l in log.splitlines():
            if l.startswith("URING_SOCKET ") and int(l.split()[2]) >= 0:
                X.fail("a socket was made through io_uring: " + l)
        iso = {m["mechanism"]: m for m in s.part("sneaky")["isolation"]}
        if iso.get("seccomp", {}).get("status") == "applied":
            ev = X.wait_for(lambda: [e for e in s.events() if e["kind"] == "seccomp" and
                                     "io_uring_setup" in e["detail"]], "the violation event")
            print("reported: " + ev[0]["detail"])
        else:
            print("seccomp not applied here (%r): containment not checked" % iso.get("seccomp"))
        if s.stop() != 0:
            X.fail("stop exit status")
    finally:
        s.kill_all()


if __name__ == "__main__":
    fn = globals().get("case_" + X.CASE)
    if not fn:
        print("unknown case " + X.CASE)
        sys.exit(1)
    fn()
    print("PASS " + X.CASE)
