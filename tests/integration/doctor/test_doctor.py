#!/usr/bin/env python3
"""test_doctor.py: `myco doctor --json` against the host's own /proc and
/sys (each value the doctor reports is read again here and compared), and
against two fake trees (--root): one with every problem the doctor knows,
one with none, so each verdict and its advice is checked, not only parsed.
Usage: test_doctor.py MYCO CASE   (CASE: host, fake_bad, fake_good, usage)
"""
import json
import os
import subprocess
import sys
import tempfile

MYCO = sys.argv[1]
CASE = sys.argv[2]


def run(*args):
    p = subprocess.run([MYCO, "doctor", *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def doctor_json(*args):
    rc, out, err = run("--json", *args)
    assert rc in (0, 1), (rc, err)
    d = json.loads(out)
    checks = {c["id"]: c for c in d["checks"]}
    warns = sum(1 for c in d["checks"] if c["status"] == "warn")
    assert d["warnings"] == warns, d
    assert rc == (1 if warns else 0), (rc, warns)
    for c in d["checks"]:
        assert c["status"] in ("ok", "info", "warn"), c
        assert c["found"], c
        if c["status"] == "warn":
            assert c["advice"], c  # a warning always says what to change
    return d, checks


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def bracketed(s):
    return s[s.index("[") + 1:s.index("]")] if s and "[" in s else s


def steal_ticks():
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def case_host():
    s0 = steal_ticks()
    d, c = doctor_json()
    s1 = steal_ticks()
    v = lambda cid: c[cid]["values"]
    thp = read("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp:
        assert v("thp")["enabled"] == bracketed(thp), (v("thp"), thp)
        assert (c["thp"]["status"] == "warn") == (bracketed(thp) == "always")
    with open("/proc/swaps") as f:
        nswap = len(f.readlines()) - 1
    assert v("swap")["devices"] == nswap
    assert v("swap")["swappiness"] == int(read("/proc/sys/vm/swappiness"))
    assert v("rt_throttling")["sched_rt_runtime_us"] == int(read("/proc/sys/kernel/sched_rt_runtime_us"))
    assert v("rt_throttling")["sched_rt_period_us"] == int(read("/proc/sys/kernel/sched_rt_period_us"))
    smt = read("/sys/devices/system/cpu/smt/active")
    if smt is not None:
        assert v("smt")["active"] == int(smt)
    assert v("isolation")["isolated"] == read("/sys/devices/system/cpu/isolated", "")
    nohz = read("/sys/devices/system/cpu/nohz_full", "")
    assert v("isolation")["nohz_full"] == ("" if nohz == "(null)" else nohz)
    assert v("timers")["clocksource"] == read(
        "/sys/devices/system/clocksource/clocksource0/current_clocksource", "?")
    tm = read("/proc/sys/kernel/timer_migration")
    assert v("timers")["timer_migration"] == (int(tm) if tm is not None else -1)
    # cgroup version from /proc/mounts
    v2root = v1 = v2 = False
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, typ = line.split()[:3]
            if typ == "cgroup2":
                v2 = True
                v2root |= mnt == "/sys/fs/cgroup"
            elif typ == "cgroup":
                v1 = True
    want = "2" if v2root else "hybrid" if v1 and v2 else "1" if v1 else "none"
    assert v("cgroup")["version"] == want, (v("cgroup"), want)
    # IRQs: count those whose affinity list covers every CPU
    ncpu = os.sysconf("SC_NPROCESSORS_CONF")
    allcpus = "0-%d" % (ncpu - 1) if ncpu > 1 else "0"
    total = every = 0
    for irq in os.listdir("/proc/irq"):
        if not irq.isdigit():
            continue
        a = read("/proc/irq/%s/smp_affinity_list" % irq)
        if a is None or a == "":
            continue
        total += 1
        every += a == allcpus
    # IRQs can come and go between the two reads; the host here is static
    assert v("irqs")["total"] == total, (v("irqs"), total)
    assert v("irqs")["on_every_cpu"] == every
    assert s0 <= v("hypervisor")["steal_ticks"] <= s1
    with open("/proc/cpuinfo") as f:
        flags = next(l for l in f if l.startswith("flags"))
    assert v("hypervisor")["virtual"] == (1 if " hypervisor" in flags else 0)
    assert v("resctrl")["cache_allocation"] == (1 if (" cat_l3" in flags or " cat_l2" in flags) else 0)
    assert v("privileges")["euid"] == os.geteuid()
    # the human form lists the same checks
    rc, out, _ = run()
    for cid in c:
        assert cid in out, cid


def write(root, rel, text):
    p = os.path.join(root, rel.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def fake_tree(root, bad):
    for i in range(4):
        write(root, "/sys/devices/system/cpu/cpu%d/online" % i, "1\n")
        write(root, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor" % i,
              ("powersave" if bad and i == 3 else "performance") + "\n")
    write(root, "/sys/devices/system/cpu/cpuidle/current_driver", "intel_idle\n")
    for s, (name, lat) in enumerate([("POLL", 0), ("C1", 2), ("C6", 133)]):
        base = "/sys/devices/system/cpu/cpu0/cpuidle/state%d/" % s
        write(root, base + "name", name + "\n")
        write(root, base + "latency", "%d\n" % lat)
        write(root, base + "disable", "0\n" if bad or lat <= 10 else "1\n")
    write(root, "/sys/devices/system/cpu/smt/control", "on\n" if bad else "off\n")
    write(root, "/sys/devices/system/cpu/smt/active", "1\n" if bad else "0\n")
    write(root, "/sys/kernel/mm/transparent_hugepage/enabled",
          "[always] madvise never\n" if bad else "always [madvise] never\n")
    write(root, "/sys/kernel/mm/transparent_hugepage/defrag", "[always] madvise\n")
    write(root, "/proc/swaps", "Filename Type Size Used Priority\n" +
          ("/dev/vda2 partition 1048572 0 -2\n" if bad else ""))
    write(root, "/proc/sys/vm/swappiness", "60\n")
    write(root, "/proc/sys/kernel/sched_rt_runtime_us", "-1\n" if bad else "950000\n")
    write(root, "/proc/sys/kernel/sched_rt_period_us", "1000000\n")
    write(root, "/proc/sys/kernel/timer_migration", "1\n" if bad else "0\n")
    write(root, "/sys/devices/system/clocksource/clocksource0/current_clocksource",
          "hpet\n" if bad else "tsc\n")
    write(root, "/proc/irq/default_smp_affinity", "f\n")
    write(root, "/proc/irq/24/smp_affinity_list", "0-3\n" if bad else "0\n")
    write(root, "/proc/irq/25/smp_affinity_list", "0\n")
    write(root, "/proc/1/comm", "init\n")
    if bad:
        write(root, "/proc/77/comm", "irqbalance\n")
    write(root, "/proc/cmdline",
          "root=/dev/vda preempt=none\n" if bad else
          "root=/dev/vda preempt=full isolcpus=3 nohz_full=3 rcu_nocbs=3 irqaffinity=0\n")
    write(root, "/sys/devices/system/cpu/isolated", "" if bad else "3\n")
    write(root, "/sys/devices/system/cpu/nohz_full", "(null)\n" if bad else "3\n")
    write(root, "/proc/mounts",
          "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n" if not bad else
          "cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n")
    write(root, "/proc/cpuinfo", "processor : 0\nflags : fpu tsc %s\n" %
          ("hypervisor cat_l3" if bad else "cat_l3"))
    write(root, "/proc/stat", "cpu  100 0 100 1000 0 0 0 %d 0 0\n" % (50 if bad else 0))
    write(root, "/sys/fs/resctrl/schemata" if not bad else "/sys/fs/x", "L3:0=fff\n")


def case_fake(bad):
    with tempfile.TemporaryDirectory() as root:
        fake_tree(root, bad)
        d, c = doctor_json("--root", root)
        assert d["cpus"] == 4, d
        st = {k: x["status"] for k, x in c.items()}
        if bad:
            for k in ("cpufreq", "cstates", "smt", "thp", "swap", "rt_throttling",
                      "timers", "irqs", "hypervisor", "resctrl"):
                assert st[k] == "warn", (k, c[k])
            if os.uname().version.find("PREEMPT_RT") < 0:
                assert st["preemption"] == "warn" and c["preemption"]["values"]["model"] == "none"
                assert "preempt=full" in c["preemption"]["advice"] or "PREEMPT" in c["preemption"]["advice"]
            assert c["cpufreq"]["values"]["cpus_not_performance"] == 1
            assert c["cstates"]["values"]["worst_exit_latency_us"] == 133
            assert c["swap"]["values"]["devices"] == 1
            assert c["irqs"]["values"] == {"total": 2, "on_every_cpu": 1,
                                           "default_affinity": "f", "irqbalance": 1}
            assert c["cgroup"]["values"]["version"] == "1"
            assert c["isolation"]["values"]["nohz_full"] == ""
            assert "isolcpus=" in c["isolation"]["advice"] and "rcu_nocbs=3" in c["isolation"]["advice"]
            assert c["hypervisor"]["values"]["steal_ticks"] == 50
            assert "mount -t resctrl" in c["resctrl"]["advice"]
        else:
            for k, s in st.items():
                if k == "privileges" and os.geteuid() != 0:
                    continue
                assert s != "warn", (k, c[k])
            assert c["isolation"]["values"] == {"isolated": "3", "nohz_full": "3",
                                                "rcu_nocbs": "3", "irqaffinity": "0"}
            assert c["preemption"]["values"]["model"] in ("full", "rt")
            assert c["cgroup"]["values"]["version"] == "2"
            assert c["resctrl"]["values"]["mounted"] == 1


def case_usage():
    rc, _, err = run("--bogus")
    assert rc == 2 and "usage" in err, (rc, err)
    with tempfile.TemporaryDirectory() as root:
        # an empty tree: nothing readable, still a complete report
        d, c = doctor_json("--root", root)
        assert d["cpus"] == 1 and len(c) >= 14


{"host": case_host, "fake_bad": lambda: case_fake(True),
 "fake_good": lambda: case_fake(False), "usage": case_usage}[CASE]()
print("ok", CASE)
