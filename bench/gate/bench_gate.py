#!/usr/bin/env python3
"""myco-bench-gate: myco-gate and its API framework against nginx (Debian
nginx-light) on loopback, same load generators (wrk, and h2load --h1), same
run, systems alternating (A B A B).

usage: myco-bench-gate [--quick] [--json]

Scenarios, each server restricted to one core (one loop / one worker,
pinned to CPU 0; wrk and the upstream share CPU 1), so requests/s are per
core:
  plaintext  GET /plaintext -> "Hello, World!" (myco: the API framework's
             raw answer; nginx: `return 200`)
  json       GET /json -> {"message":"Hello, World!"} (myco: a response
             message encoded by the framework on every request; nginx:
             `return 200` of the fixed text)
  proxy      GET /proxy -> the same upstream (a second nginx returning a
             fixed answer), keep-alive upstream connections on both sides
  tls-plaintext, tls-proxy: the same over TLS (ECDSA P-256 certificate,
             keep-alive, so the figures are record encryption more than
             handshakes); myco: myco-gate's `respond` and proxy routes
  h2-plaintext, h2-proxy: HTTP/2 in clear text (prior knowledge), h2load
             with 16 connections x 32 concurrent streams each; myco:
             myco-gate's `respond` and proxy routes; nginx: `listen http2`
             with the same locations.  Figures: requests/s (median round)
             and h2load's mean time per request
Figures: requests/s (median of the rounds, min and max, and the median
of the per-round myco/nginx ratios: each round measures both back to back), latency p50, p99,
p99.9 from wrk's histogram of the median round.
Then the response cache's hit ratio, hyperbolic vs LRU, on Zipf traces
(myco-bench-gate-cache).
"""
import json, os, platform, re, shutil, signal, socket, subprocess, sys, tempfile, time

GATE = "@GATE@"
API = "@API@"
CACHE = "@CACHE@"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk")
H2LOAD = shutil.which("h2load")

LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.3f %d %d %d %d\n",
    summary.requests, summary.duration,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, t=10):
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def taskset(cpu):
    n = os.cpu_count() or 1
    return ["taskset", "-c", str(cpu % n)] if shutil.which("taskset") and n > 1 else []


def nginx_conf(d, port, up_port, upstream_only=False, tls_port=0, h2_port=0):
    common = """
worker_processes 1;
daemon off;
master_process on;
pid %(d)s/%(name)s.pid;
error_log %(d)s/%(name)s.err warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path %(d)s/cb; proxy_temp_path %(d)s/pt;
  fastcgi_temp_path %(d)s/ft; uwsgi_temp_path %(d)s/ut; scgi_temp_path %(d)s/st;
"""
    if upstream_only:
        body = common % dict(d=d, name="upstream") + """
  server { listen 127.0.0.1:%d reuseport backlog=4096;
    location / { default_type text/plain; return 200 "Hello, World!"; } }
}
""" % up_port
    else:
        body = common % dict(d=d, name="nginx") + """
  upstream up { server 127.0.0.1:%d; keepalive 64; }
  server { listen 127.0.0.1:%d reuseport backlog=4096;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:%d ssl reuseport backlog=4096;
    ssl_certificate %s/cert.pem; ssl_certificate_key %s/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server { listen 127.0.0.1:%d http2 reuseport backlog=4096;
    http2_max_concurrent_streams 128;
    location = /plaintext { default_type text/plain; return 200 "Hello, World!"; }
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
""" % (up_port, port, tls_port, d, d, h2_port)
    path = os.path.join(d, "upstream.conf" if upstream_only else "nginx.conf")
    open(path, "w").write(body)
    return path


def start(cmd, port, cpu):
    p = subprocess.Popen(taskset(cpu) + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_port(port):
        p.kill()
        raise SystemExit("bench: %s did not open port %d" % (cmd[0], port))
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def wrk(url, dur, conns, lua):
    out = subprocess.run(taskset(1) + [WRK, "-t1", "-c%d" % conns, "-d%ds" % dur, "-s", lua, url],
                         capture_output=True, text=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) (\d+) (\d+) (\d+) (\d+)", out)
    if not m:
        raise SystemExit("bench: wrk output not understood:\n" + out)
    return dict(requests=int(m.group(1)), rps=float(m.group(3)), p50=int(m.group(4)),
                p99=int(m.group(5)), p999=int(m.group(6)), errors=int(m.group(7)))


def h2load(url, n, conns):
    out = subprocess.run(taskset(1) + [H2LOAD, "--h1", "-n", str(n), "-c", str(conns), "-t", "1", url],
                         capture_output=True, text=True).stdout
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    f = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    return dict(rps=float(m.group(1)) if m else 0.0, failed=(int(f.group(2)) + int(f.group(3))) if f else -1)


def h2load_streams(url, n, conns, streams):
    out = subprocess.run(taskset(1) + [H2LOAD, "-n", str(n), "-c", str(conns), "-m", str(streams), "-t", "1", url],
                         capture_output=True, text=True).stdout
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    f = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    t = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)
    mean_us = 0.0
    if t:
        mean_us = float(t.group(5)) * {"us": 1, "ms": 1000, "s": 1000000}[t.group(6)]
    if not m or "h2c" not in out and "h2" not in out:
        raise SystemExit("bench: h2load output not understood:\n" + out)
    return dict(rps=float(m.group(1)), failed=(int(f.group(2)) + int(f.group(3))) if f else -1, mean_us=mean_us)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def main():
    quick = "--quick" in sys.argv
    as_json = "--json" in sys.argv
    rounds, dur, conns, nreq = (2, 2, 64, 5000) if quick else (3, 2, 64, 10000)
    for tool in (WRK, H2LOAD, NGINX):
        if not tool or not os.path.exists(tool):
            raise SystemExit("bench: wrk, h2load and nginx are needed (scripts/deps.sh bench)")
    d = tempfile.mkdtemp(prefix="bench-gate-")
    for sub in ("cb", "pt", "ft", "ut", "st"):
        os.mkdir(os.path.join(d, sub))
    lua = os.path.join(d, "lat.lua")
    open(lua, "w").write(LUA)
    up_port, ng_port, gate_port, api_port = free_port(), free_port(), free_port(), free_port()
    ngt_port, gatet_port = free_port(), free_port()
    ngh2_port = free_port()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem"),
                    "-days", "2", "-subj", "/CN=bench.test"], check=True, capture_output=True)
    gtconf = os.path.join(d, "gate-tls.conf")
    open(gtconf, "w").write("listen 127.0.0.1:%d;\nloops 1;\ntls cert %s/cert.pem key %s/key.pem;\n"
                            "upstream up { server 127.0.0.1:%d; keepalive 64; }\n"
                            "route /plaintext { respond 200 \"Hello, World!\"; }\n"
                            "route / { proxy up; }\n" % (gatet_port, d, d, up_port))
    gconf = os.path.join(d, "gate.conf")
    open(gconf, "w").write("listen 127.0.0.1:%d;\nloops 1;\n"
                           "upstream up { server 127.0.0.1:%d; keepalive 64; }\n"
                           "route /plaintext { respond 200 \"Hello, World!\"; }\n"
                           "route / { proxy up; }\n" % (gate_port, up_port))
    nginx_v = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = (subprocess.run([WRK, "-v"], capture_output=True, text=True).stdout.splitlines() or ["wrk"])[0]
    cpu = ""
    try:
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    load = open("/proc/loadavg").read().split()[:3]
    if not as_json:
        print("myco-bench-gate: %s, kernel %s, %d CPUs, load %s" % (cpu, platform.release(),
                                                                    os.cpu_count(), " ".join(load)))
        print("  servers pinned to CPU 0 (1 loop / 1 worker); wrk/h2load and the upstream on CPU 1")
        print("  %s; %s; h2load --h1; %d rounds x %d s, %d connections, keep-alive" %
              (nginx_v, wrk_v, rounds, dur, conns))
    upstream = start([NGINX, "-c", nginx_conf(d, 0, up_port, True), "-p", d], up_port, 1)
    systems = {
        "myco": lambda: [start([API, str(api_port), "1"], api_port, 0),
                         start([GATE, "-c", gconf, "--loops", "1"], gate_port, 0),
                         start([GATE, "-c", gtconf, "--loops", "1"], gatet_port, 0)],
        "nginx": lambda: [start([NGINX, "-c", nginx_conf(d, ng_port, up_port, tls_port=ngt_port,
                                                         h2_port=ngh2_port), "-p", d],
                                ng_port, 0)],
    }
    urls = {
        ("myco", "plaintext"): "http://127.0.0.1:%d/plaintext" % api_port,
        ("myco", "json"): "http://127.0.0.1:%d/json" % api_port,
        ("myco", "proxy"): "http://127.0.0.1:%d/proxy" % gate_port,
        ("nginx", "plaintext"): "http://127.0.0.1:%d/plaintext" % ng_port,
        ("nginx", "json"): "http://127.0.0.1:%d/json" % ng_port,
        ("nginx", "proxy"): "http://127.0.0.1:%d/proxy" % ng_port,
        ("myco", "tls-plaintext"): "https://127.0.0.1:%d/plaintext" % gatet_port,
        ("myco", "tls-proxy"): "https://127.0.0.1:%d/proxy" % gatet_port,
        ("nginx", "tls-plaintext"): "https://127.0.0.1:%d/plaintext" % ngt_port,
        ("nginx", "tls-proxy"): "https://127.0.0.1:%d/proxy" % ngt_port,
        ("myco", "h2-plaintext"): "http://127.0.0.1:%d/plaintext" % gate_port,
        ("myco", "h2-proxy"): "http://127.0.0.1:%d/proxy" % gate_port,
        ("nginx", "h2-plaintext"): "http://127.0.0.1:%d/plaintext" % ngh2_port,
        ("nginx", "h2-proxy"): "http://127.0.0.1:%d/proxy" % ngh2_port,
    }
    h2scen = ["h2-plaintext", "h2-proxy"]
    h2conns, h2streams, h2n = 16, 32, (20000 if quick else 50000)
    scen = ["plaintext", "json", "proxy", "tls-plaintext", "tls-proxy"]
    res = {}
    ratios = {}
    procs = []
    try:
        # every server runs for the whole benchmark (idle when not measured);
        # each scenario is measured for both systems back to back, the order
        # alternating per round, so that the pair sees the same machine load
        for sysname in ("myco", "nginx"):
            procs += systems[sysname]()
        for r in range(rounds):
            for sc in scen:
                pair = {}
                for sysname in (["myco", "nginx"] if r % 2 == 0 else ["nginx", "myco"]):
                    wrk(urls[(sysname, sc)], 1, conns, lua)        # warm-up
                    pair[sysname] = wrk(urls[(sysname, sc)], dur, conns, lua)
                    res.setdefault((sysname, sc), []).append(pair[sysname])
                    h = h2load(urls[(sysname, sc)], nreq, conns)
                    res.setdefault((sysname, sc, "h2load"), []).append(h)
                ratios.setdefault(sc, []).append(pair["myco"]["rps"] / max(pair["nginx"]["rps"], 1))
            for sc in h2scen:
                pair = {}
                for sysname in (["myco", "nginx"] if r % 2 == 0 else ["nginx", "myco"]):
                    h2load_streams(urls[(sysname, sc)], 2000, h2conns, h2streams)      # warm-up
                    pair[sysname] = h2load_streams(urls[(sysname, sc)], h2n, h2conns, h2streams)
                    res.setdefault((sysname, sc), []).append(pair[sysname])
                ratios.setdefault(sc, []).append(pair["myco"]["rps"] / max(pair["nginx"]["rps"], 1))
    finally:
        for p in procs:
            stop(p)
        stop(upstream)
    out = []
    for sc in scen:
        row = {}
        for sysname in ("myco", "nginx"):
            runs = res[(sysname, sc)]
            mid = sorted(runs, key=lambda x: x["rps"])[len(runs) // 2]
            hs = res[(sysname, sc, "h2load")]
            row[sysname] = dict(rps=mid["rps"], rps_min=min(x["rps"] for x in runs),
                                rps_max=max(x["rps"] for x in runs), p50=mid["p50"], p99=mid["p99"],
                                p999=mid["p999"], errors=sum(x["errors"] for x in runs),
                                h2load=median([h["rps"] for h in hs]),
                                h2load_failed=sum(h["failed"] for h in hs))
        out.append((sc, row))
    h2out = []
    for sc in h2scen:
        row = {}
        for sysname in ("myco", "nginx"):
            runs = res[(sysname, sc)]
            mid = sorted(runs, key=lambda x: x["rps"])[len(runs) // 2]
            row[sysname] = dict(rps=mid["rps"], rps_min=min(x["rps"] for x in runs),
                                rps_max=max(x["rps"] for x in runs), mean_us=mid["mean_us"],
                                failed=sum(x["failed"] for x in runs))
        h2out.append((sc, row))
    if as_json:
        for sc, row in h2out:
            for sysname, v in row.items():
                base = {"bench": "gate." + sc, "system": "myco-gate" if sysname == "myco" else "nginx",
                        "connections": h2conns, "streams": h2streams, "cores": 1}
                if sysname == "myco":
                    print(json.dumps(dict(base, system="myco-gate/nginx", metric="throughput_ratio",
                                          value=round(median(ratios[sc]), 3), unit="ratio")))
                for metric, val, unit in (("throughput", v["rps"], "req/s"), ("mean", v["mean_us"], "us"),
                                          ("failed", v["failed"], "requests")):
                    print(json.dumps(dict(base, metric=metric, value=val, unit=unit)))
    if as_json:
        for sc, row in out:
            for sysname, v in row.items():
                name = "myco-gate" if sysname == "myco" else "nginx"
                base = {"bench": "gate." + sc, "system": name, "connections": conns, "cores": 1}
                if sysname == "myco":
                    print(json.dumps(dict(base, system="myco-gate/nginx", metric="throughput_ratio",
                                          value=round(median(ratios[sc]), 3), unit="ratio")))
                for metric, val, unit in (("throughput", v["rps"], "req/s"), ("p50", v["p50"], "us"),
                                          ("p99", v["p99"], "us"), ("p999", v["p999"], "us"),
                                          ("throughput_h2load", v["h2load"], "req/s")):
                    print(json.dumps(dict(base, metric=metric, value=val, unit=unit)))
    else:
        print("\n%-10s %-9s %12s %18s %8s %8s %8s %12s" % ("scenario", "system", "req/s/core", "(min-max)",
                                                          "p50 us", "p99 us", "p99.9 us", "h2load r/s"))
        for sc, row in out:
            for sysname in ("myco", "nginx"):
                v = row[sysname]
                print("%-10s %-9s %12.0f %18s %8d %8d %8d %12.0f%s" % (
                    sc, "myco-gate" if sysname == "myco" else "nginx", v["rps"],
                    "(%.0f-%.0f)" % (v["rps_min"], v["rps_max"]), v["p50"], v["p99"], v["p999"], v["h2load"],
                    "  ERRORS %d/%d" % (v["errors"], v["h2load_failed"]) if v["errors"] or v["h2load_failed"] else ""))
            m, n = row["myco"], row["nginx"]
            print("%-10s ratio of the medians %.2fx, median of the per-round ratios %.2fx (rounds: %s)" % (
                "", m["rps"] / n["rps"], median(ratios[sc]), " ".join("%.2f" % x for x in ratios[sc])))
            print("%-10s ratio     %12.2fx %18s %8.2f %8.2f %8.2f %12.2fx" % (
                "", m["rps"] / n["rps"], "", m["p50"] / max(n["p50"], 1), m["p99"] / max(n["p99"], 1),
                m["p999"] / max(n["p999"], 1), m["h2load"] / max(n["h2load"], 1)))
    if not as_json:
        print("\nHTTP/2 (h2c, prior knowledge): h2load, %d connections x %d concurrent streams, %d requests"
              % (h2conns, h2streams, h2n))
        print("%-13s %-9s %12s %18s %12s" % ("scenario", "system", "req/s/core", "(min-max)", "mean us"))
        for sc, row in h2out:
            for sysname in ("myco", "nginx"):
                v = row[sysname]
                print("%-13s %-9s %12.0f %18s %12.0f%s" % (
                    sc, "myco-gate" if sysname == "myco" else "nginx", v["rps"],
                    "(%.0f-%.0f)" % (v["rps_min"], v["rps_max"]), v["mean_us"],
                    "  FAILED %d" % v["failed"] if v["failed"] else ""))
            print("%-13s ratio of the medians %.2fx, median of the per-round ratios %.2fx (rounds: %s)" % (
                "", row["myco"]["rps"] / max(row["nginx"]["rps"], 1), median(ratios[sc]),
                " ".join("%.2f" % x for x in ratios[sc])))
    sys.stdout.flush()
    subprocess.run([CACHE] + (["--json"] if as_json else []) + (["--quick"] if quick else []))
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
