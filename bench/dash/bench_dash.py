#!/usr/bin/env python3
# myco-bench-dash: what the dashboard costs and how smooth it draws.
#  1. Server cost: the executive's CPU (utime+stime from /proc) over a
#     window without a dashboard and with `myco dash` polling it at 10 Hz
#     and a page connected, alternating A B A B; the dash process's own CPU
#     is reported beside it.  On the demo-sized system and on a generated
#     one of 200 partitions and 1,000 channels.
#  2. Browser frame times: headless Chromium (chromedriver) shows the
#     generated system's page; requestAnimationFrame deltas over a window,
#     p50/p95/p99/max.  There is no other dashboard of a Myco system to put
#     beside it; the 16.7 ms of a 60 Hz display is the yardstick.
# The generated partitions (bench_part.c) send 20 messages/s on each of
# their channels and drain what they receive: every edge carries traffic.
# Flags: --quick (shorter windows, 50 partitions / 250 channels),
# --json (one JSON object), --partitions N --channels M, --seconds S.
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, '@WEBDRIVER_DIR@')
from webdriver import Browser, free_port  # noqa: E402

MYCO = '@MYCO@'
PART = '@PART@'       # bench_part.c: sends 20 messages/s on each of its channels
TICK = os.sysconf('SC_CLK_TCK')


def gen_system(path, nparts, nchans, dash_port=None):
    out = ['system big {', '    message M { v: u64 = 1; }']
    if dash_port:
        out.append('    dashboard %d;' % dash_port)
    for i in range(nchans):
        out.append('    channel c%d queue { type M; depth 16; overflow drop_oldest; }' % i)
    sends = {p: [] for p in range(nparts)}
    recvs = {p: [] for p in range(nparts)}
    for i in range(nchans):
        a = i % nparts
        b = (i * 7 + 1 + i // nparts) % nparts
        if b == a:
            b = (b + 1) % nparts
        sends[a].append('c%d' % i)
        recvs[b].append('c%d' % i)
    for p in range(nparts):
        out.append('    partition p%d {' % p)
        out.append('        program "%s";' % PART)
        out.append('        env BENCH_SEND = "%s";' % ','.join(sends[p]))
        out.append('        env BENCH_RECV = "%s";' % ','.join(recvs[p]))
        if sends[p]:
            out.append('        send %s;' % ', '.join(sends[p]))
        if recvs[p]:
            out.append('        recv %s;' % ', '.join(recvs[p]))
        out.append('        memory 16 MiB; restart permanent;')
        out.append('    }')
    out.append('}')
    open(path, 'w').write('\n'.join(out) + '\n')


def cpu_s(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_running(rdir, n, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = subprocess.run([MYCO, 'ps', '--json', '--runtime-dir', rdir], capture_output=True, text=True)
        if r.returncode == 0:
            try:
                ps = json.loads(r.stdout.splitlines()[0])
                if sum(p['state'] == 'running' for p in ps['partitions']) >= n:
                    return ps['pid']
            except (ValueError, KeyError, IndexError):
                pass
        time.sleep(0.5)
    raise SystemExit('bench-dash: the system did not come up (%d partitions)' % n)


def window(pids, secs):
    a = [cpu_s(p) for p in pids]
    time.sleep(secs)
    b = [cpu_s(p) for p in pids]
    return [100.0 * (y - x) / secs for x, y in zip(a, b)]


FRAMES_JS = '''
const secs = arguments[0], done = arguments[arguments.length - 1];
const d = []; let last = 0; const end = performance.now() + secs * 1000;
function f(t) { if (last) d.push(t - last); last = t;
  if (t < end) requestAnimationFrame(f); else done(d); }
requestAnimationFrame(f);
'''


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0


def run_system(label, nparts, nchans, secs, rounds, browser_secs, res, tmp):
    d = os.path.join(tmp, label)
    os.makedirs(d)
    sysfile = os.path.join(d, 'system.myco')
    gen_system(sysfile, nparts, nchans)
    rdir = os.path.join(d, 'rt')
    log = open(os.path.join(d, 'exec.log'), 'w')
    ex = subprocess.Popen([MYCO, 'run', sysfile, '--runtime-dir', rdir, '--quiet'], stdout=log, stderr=log)
    dash = browser = None
    try:
        epid = wait_running(rdir, nparts)
        time.sleep(2)
        port = free_port()
        a_ex, b_ex, b_dash = [], [], []
        for rnd in range(rounds):
            a_ex += window([epid], secs)                          # A: no dashboard
            dash = subprocess.Popen([MYCO, 'dash', '--runtime-dir', rdir, '--port', str(port), '--quiet'])
            for _try in range(100):
                try:
                    urllib.request.urlopen('http://127.0.0.1:%d/state' % port, timeout=2).read()
                    break
                except OSError:
                    time.sleep(0.1)
            if browser is None:
                browser = Browser()
            browser.get('http://127.0.0.1:%d/' % port)
            browser.wait('return document.querySelectorAll(".part").length === %d' % nparts, 30)
            w = window([epid, dash.pid], secs)                    # B: dashboard + a page
            b_ex.append(w[0])
            b_dash.append(w[1])
            if rnd == rounds - 1 and browser_secs:
                drawn = browser.js('return [document.querySelectorAll(".part").length,'
                                   'document.querySelectorAll("path.edge").length]')
                # A: the page as it is; B: the same page with the edges'
                # flow animation stopped (what the moving dashes cost); A B A B
                res['browser_' + label] = {'partitions_drawn': drawn[0], 'channels_drawn': drawn[1]}
                fa, fb = [], []
                for k in range(2):
                    browser.js('document.getElementById("bench-still")?.remove()')
                    fa += browser.js_async(FRAMES_JS, browser_secs / 2)
                    browser.js('const s = document.createElement("style"); s.id = "bench-still";'
                               's.textContent = ".edge.live{animation:none}";'
                               'document.head.appendChild(s)')
                    fb += browser.js_async(FRAMES_JS, browser_secs / 2)
                for key, fr in (('animated', fa), ('still', fb)):
                    res['browser_' + label][key] = {'frames': len(fr), 'p50_ms': pct(fr, 0.5),
                                           'p95_ms': pct(fr, 0.95), 'p99_ms': pct(fr, 0.99),
                                           'max_ms': max(fr) if fr else 0}
                browser.js('document.getElementById("bench-still")?.remove()')
                browser.screenshot(os.path.join(os.getcwd(), 'bench-dash-%s.png' % label))
            browser.get('about:blank')
            dash.terminate()
            dash.wait(10)
            dash = None
        res[label] = {'partitions': nparts, 'channels': nchans, 'window_s': secs, 'rounds': rounds,
                      'exec_cpu_pct_without': a_ex, 'exec_cpu_pct_with': b_ex,
                      'dash_cpu_pct': b_dash}
    finally:
        if browser:
            browser.close()
        if dash:
            dash.terminate()
            dash.wait(10)
        subprocess.run([MYCO, 'stop', '--all', '--runtime-dir', rdir], capture_output=True, timeout=120)
        try:
            ex.wait(60)
        except subprocess.TimeoutExpired:
            ex.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--partitions', type=int)
    ap.add_argument('--channels', type=int)
    ap.add_argument('--seconds', type=float)
    a = ap.parse_args()
    nparts = a.partitions or (50 if a.quick else 200)
    nchans = a.channels or (250 if a.quick else 1000)
    secs = a.seconds or (3 if a.quick else 10)
    rounds = 1 if a.quick else 2
    tmp = tempfile.mkdtemp(prefix='myco-bench-dash-')
    res = {'setup': {'load': open('/proc/loadavg').read().split()[:3], 'cpus': os.cpu_count(),
                     'hz': 10, 'window_s': secs, 'rounds': rounds}}
    if not a.json:
        print('setup: %d CPUs, load %s; executive CPU over %g s windows, A (no dashboard) B '
              '(myco dash at 10 Hz + one headless Chromium page), %d rounds'
              % (os.cpu_count(), ' '.join(res['setup']['load']), secs, rounds))
    try:
        run_system('small', 3, 2, secs, rounds, secs, res, tmp)
        run_system('large', nparts, nchans, secs, rounds, secs, res, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(res))
        return
    for k in ('small', 'large'):
        r = res[k]
        m = lambda v: sum(v) / len(v)
        print('%-6s %4d partitions %5d channels: executive %.2f%% of a core without, %.2f%% with '
              '(+%.2f); myco dash itself %.2f%%' % (k, r['partitions'], r['channels'],
              m(r['exec_cpu_pct_without']), m(r['exec_cpu_pct_with']),
              m(r['exec_cpu_pct_with']) - m(r['exec_cpu_pct_without']), m(r['dash_cpu_pct'])))
    for k in ('small', 'large'):
        b = res['browser_' + k]
        print('browser (%s): %d partitions, %d channels drawn'
              % (k, b['partitions_drawn'], b['channels_drawn']))
        for key in ('animated', 'still'):
            f = b[key]
            print('  edges %-8s %5d frames, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms'
                  % (key, f['frames'], f['p50_ms'], f['p95_ms'], f['p99_ms'], f['max_ms']))


if __name__ == '__main__':
    main()
