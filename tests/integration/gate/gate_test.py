"""gate_test.py: myco-gate and the API framework with real clients (curl,
Python http.client, raw sockets, h2load --h1) and real upstreams
(upstream.py).  One scenario per run:

  http       keep-alive, pipelining, chunked bodies, 100-continue, HEAD,
             413, fixed answers; curl and http.client
  smuggling  RFC 9112 rejections over the wire: CL+TE, duplicate CL, bad
             chunk sizes, bare LF/CR, header injection, oversized heads,
             slowloris (408); a smuggled second request is never answered
  proxy      balancing (round robin, weights, least_conn, hashing), header
             rewrites, request ids, X-Forwarded-For, re-chunking, cache,
             rate limit, retries on 503, health checks, WebSocket
  reload     continuous load (h2load --h1 and http.client) across 20
             SIGHUP reloads: zero failed requests, new settings applied
  sysreload  the configuration as a `gateway { }` section of a system
             file, reloaded 20 times under HTTP/1.1 and HTTP/2 load: zero
             failed requests; a checker error refuses the reload
  kill       an upstream killed (SIGKILL) under load: ejected, traffic
             moves, no request fails or hangs
  api        the examples/api notes service through curl and http.client
  apisystem  examples/api under `myco run`: the web partition and the store
             partition behind a call channel
  tls        TLS 1.2/1.3, SNI, ALPN, certificate reload (Python ssl, curl)
  partition  under `myco run`: the executive's socket, kill and replacement
  h2         HTTP/2: clear text with prior knowledge, by Upgrade: h2c and
             over TLS by ALPN (nghttp, curl, h2load, a small raw client):
             concurrent streams, interleaving, flow control
  splice     large proxied bodies (spliced answers, big uploads) byte for byte

usage: gate_test.py SCENARIO --gate PATH [--notes PATH]
"""
import argparse, http.client, struct, json, urllib.request, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc=None, t=15):
    end = time.time() + t
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("process exited early: %s" % proc.args)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("port %d never opened" % port)


class Env:
    def __init__(self, gate):
        self.gate = gate
        self.dir = tempfile.mkdtemp(prefix="gate-test-")
        self.procs = []
        self.ups = {}
        self.port = free_port()
        self.gp = None
        self.log = os.path.join(self.dir, "gate.log")

    def upstream(self, name, health_file=None):
        port = free_port()
        args = [PY, os.path.join(HERE, "upstream.py"), name, str(port)]
        if health_file:
            args.append(health_file)
        p = subprocess.Popen(args)
        self.procs.append(p)
        wait_port(port, p)
        self.ups[name] = (port, p)
        return port

    def write_conf(self, text):
        path = os.path.join(self.dir, "gate.conf")
        with open(path + ".new", "w") as f:
            f.write("listen 127.0.0.1:%d;\n" % self.port + text)
        os.rename(path + ".new", path)
        return path

    def start(self, text, loops=2):
        path = self.write_conf(text)
        self.gp = subprocess.Popen([self.gate, "-c", path, "--loops", str(loops)],
                                   stderr=open(self.log, "w"))
        self.procs.append(self.gp)
        wait_port(self.port, self.gp)

    def reload(self, text):
        self.write_conf(text)
        self.gp.send_signal(signal.SIGHUP)

    def gate_log(self):
        return open(self.log).read()

    def close(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.gp is not None and self.gp.returncode not in (0, -15):
            print(self.gate_log())
            raise SystemExit("myco-gate exited with %s" % self.gp.returncode)


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok  " + what)


def raw(port, data, timeout=10, pause=None):
    """Send data (bytes or list of bytes with pauses), read until the server
    closes or timeout; returns the bytes read."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    parts = data if isinstance(data, list) else [data]
    for i, d in enumerate(parts):
        try:
            s.sendall(d)
        except OSError:
            break
        if pause and i + 1 < len(parts):
            time.sleep(pause)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<timeout>"
    except ConnectionResetError:
        pass
    s.close()
    return out


def statuses(resp):
    return [int(x) for x in re.findall(rb"HTTP/1\.1 (\d{3}) ", resp)]


def get(port, path, headers=None, method="GET", body=None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r, data


# ---------------------------------------------------------------- http

def scen_http(env):
    env.start('route /plain { respond 200 "Hello, World!"; }\n'
              'route /json { respond 200 "{\\"message\\":\\"Hello, World!\\"}" type application/json; }\n'
              'max_body 1KiB;\n')
    p = env.port
    out = subprocess.run(["curl", "-sS", "-i", "http://127.0.0.1:%d/plain" % p], capture_output=True,
                         text=True, timeout=20).stdout
    check(out.startswith("HTTP/1.1 200 OK") and out.endswith("Hello, World!"), "curl gets the fixed answer")
    out = subprocess.run(["curl", "-sS", "-v", "http://127.0.0.1:%d/plain" % p, "http://127.0.0.1:%d/json" % p],
                         capture_output=True, text=True, timeout=20)
    check("Re-using existing connection" in out.stderr or "Reusing existing connection" in out.stderr,
          "curl reuses the connection (keep-alive)")
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=10)
    for i in range(50):
        r, d = get(p, "/json", conn=c)
        assert r.status == 200 and json.loads(d)["message"] == "Hello, World!"
    check(True, "http.client: 50 requests on one keep-alive connection")
    r, d = get(p, "/plain", method="HEAD", conn=c)
    check(r.status == 200 and d == b"" and r.getheader("Content-Length") == "13", "HEAD: length, no body")
    r, d = get(p, "/nothing", conn=c)
    check(r.status == 404, "no route: 404")
    c.close()
    pipe = b"".join(b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n" for _ in range(10))
    resp = raw(p, pipe + b"GET /json HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    check(statuses(resp) == [200] * 11 and resp.count(b"Hello, World!") == 11,
          "11 pipelined requests answered in order")
    resp = raw(p, b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n")
    check(statuses(resp) == [200], "chunked request body accepted")
    # 100-continue: the interim answer comes before the body is sent
    s = socket.create_connection(("127.0.0.1", p))
    s.settimeout(10)
    s.sendall(b"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    first = s.recv(100)
    s.sendall(b"hello")
    rest = s.recv(1000)
    s.close()
    check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and rest.startswith(b"HTTP/1.1 200"), "100-continue")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue",
                          "--data-binary", "@" + os.path.join(HERE, "gate_test.py"),
                          "http://127.0.0.1:%d/plain" % p], capture_output=True, text=True, timeout=20).stdout
    check(out == "413", "body above max_body: 413 (curl)")
    resp = raw(p, b"GET /plain HTTP/1.0\r\n\r\n")
    check(statuses(b"HTTP/1.1 " + resp.split(b" ", 1)[1]) == [200] and b"Connection: close" in resp,
          "HTTP/1.0 without keep-alive: answered, closed")


# ----------------------------------------------------------- smuggling

SMUGGLE = [
    ("CL+TE", b"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\nGET /plain HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("TE+CL", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
              b"5c\r\nGET /plain HTTP/1.1\r\nHost: a\r\n\r\n0\r\n\r\n", 400),
    ("duplicate CL", b"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n"
                     b"GET /plain HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("TE with space before colon", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    ("TE xchunked", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501),
    ("TE in HTTP/1.0", b"POST /plain HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunk size with 0x", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
    ("negative chunk size", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", 400),
    ("huge chunk size", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", 400),
    ("chunk data too long", b"POST /plain HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", 400),
    ("bare LF", b"GET /plain HTTP/1.1\nHost: a\n\n", 400),
    ("bare CR", b"GET /plain HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400),
    ("header injection via CR", b"GET /plain HTTP/1.1\r\nHost: a\r\nX: 1\rContent-Length: 30\r\n\r\n", 400),
    ("obs-fold", b"GET /plain HTTP/1.1\r\nHost: a\r\nX: 1\r\n Transfer-Encoding: chunked\r\n\r\n", 400),
    ("NUL in value", b"GET /plain HTTP/1.1\r\nHost: a\r\nX: 1\x00\r\n\r\n", 400),
    ("missing Host", b"GET /plain HTTP/1.1\r\n\r\n", 400),
    ("two Hosts", b"GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("oversized header", b"GET /plain HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ("oversized target", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("HTTP/2.0 request line", b"GET /plain HTTP/2.0\r\nHost: a\r\n\r\n", 505),
]


def scen_smuggling(env):
    env.start('timeout header 1s; timeout body 1s;\nroute /plain { respond 200 "ok"; }\n')
    p = env.port
    for name, data, want in SMUGGLE:
        resp = raw(p, data)
        st = statuses(resp)
        check(st == [want] and not resp.endswith(b"<timeout>") and b"Connection: close" in resp,
              "%s: one %d answer, connection closed (got %s)" % (name, want, st))
    # slowloris: a head dribbled byte by byte never completes in time
    head = b"GET /plain HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"x" * 40
    resp = raw(p, [head[i:i + 1] for i in range(len(head))], timeout=30, pause=0.1)
    check(statuses(resp) == [408], "slowloris: 408 and closed before the head completed")
    # a slow body too
    resp = raw(p, [b"POST /plain HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", b"x" * 10], timeout=30, pause=3)
    check(statuses(resp) == [408], "slow body: 408")
    # still serving
    r, d = get(p, "/plain")
    check(r.status == 200 and d == b"ok", "server healthy after the attacks")


# --------------------------------------------------------------- proxy

def scen_proxy(env):
    hf = os.path.join(env.dir, "c-unhealthy")
    a, b, c = env.upstream("A"), env.upstream("B"), env.upstream("C", hf)
    conf = """
cache 4MiB;
upstream rr { server 127.0.0.1:%(a)d; server 127.0.0.1:%(b)d; }
upstream w { server 127.0.0.1:%(a)d weight 3; server 127.0.0.1:%(b)d; }
upstream h { server 127.0.0.1:%(a)d; server 127.0.0.1:%(b)d; server 127.0.0.1:%(c)d; balance hash header X-User; }
upstream lc { server 127.0.0.1:%(a)d; server 127.0.0.1:%(b)d; balance least_conn; }
upstream hc { server 127.0.0.1:%(a)d; server 127.0.0.1:%(c)d; health /health interval 100ms timeout 1s fails 1 passes 1; }
upstream retry { server 127.0.0.1:%(a)d; server 127.0.0.1:%(b)d; retries 1 budget 100%%; eject off; }
route /rr/ { proxy rr; strip_prefix;
  request_header set X-Gate-In yes; request_header remove X-Secret;
  response_header set X-Gate-Out yes; response_header remove X-Upstream; }
route /w/ { proxy w; strip_prefix; }
route /h/ { proxy h; strip_prefix; }
route /lc/ { proxy lc; strip_prefix; }
route /hc/ { proxy hc; strip_prefix; }
route /retry/ { proxy retry; strip_prefix; }
route /cached/ { proxy rr; strip_prefix; cache 30s; }
route /limited/ { proxy rr; strip_prefix; rate_limit 1/s burst 3 key header X-Key; }
route /ws { proxy rr; websocket on; }
""" % dict(a=a, b=b, c=c)
    env.start(conf)
    p = env.port
    names = [get(p, "/rr/x")[1].split()[0] for _ in range(10)]
    check(sorted(set(names)) == [b"A", b"B"] and abs(names.count(b"A") - 5) <= 1, "round robin: %s" % names)
    names = [get(p, "/w/x")[1].split()[0] for _ in range(40)]
    check(names.count(b"A") == 30, "weights 3:1: A got %d of 40" % names.count(b"A"))
    picks = {}
    for u in range(30):
        got = {get(p, "/h/x", {"X-User": "user%d" % u})[1].split()[0] for _ in range(3)}
        check(len(got) == 1, "hash: user%d always on one server" % u) if u < 3 else None
        assert len(got) == 1
        picks[u] = got.pop()
    check(len(set(picks.values())) == 3, "hash: 30 users spread over 3 servers")
    names = [get(p, "/lc/x")[1].split()[0] for _ in range(10)]
    check(set(names) == {b"A", b"B"}, "least_conn uses both servers")
    r, d = get(p, "/rr/echo", {"X-Secret": "s", "X-Request-Id": "abc-123", "X-Forwarded-For": "10.0.0.1"})
    e = json.loads(d)
    check(e["headers"].get("x-gate-in") == "yes" and "x-secret" not in e["headers"], "request header rewrites")
    check(e["path"] == "/echo", "strip_prefix")
    check(e["headers"].get("x-request-id") == "abc-123" and r.getheader("X-Request-Id") == "abc-123",
          "client request id passed both ways")
    check(e["headers"].get("x-forwarded-for") == "10.0.0.1, 127.0.0.1", "X-Forwarded-For appended")
    check(r.getheader("X-Gate-Out") == "yes" and r.getheader("X-Upstream") is None, "response header rewrites")
    r, d = get(p, "/rr/echo")
    check(len(r.getheader("X-Request-Id") or "") > 10, "request id generated")
    r, d = get(p, "/rr/chunked")
    check(d == b"hello chunked world\n" and r.getheader("Transfer-Encoding") == "chunked", "chunked answer re-chunked")
    r, d = get(p, "/rr/echo", method="POST", body=b"x" * 100000, headers={"Content-Type": "a/b"})
    check(r.status == 200 and d == b"x" * 100000, "100 kB request body proxied")
    r1, d1 = get(p, "/cached/cacheable")
    r2, d2 = get(p, "/cached/cacheable")
    check(r2.getheader("X-Cache") == "HIT" and d1 == d2, "second GET from the cache")
    st = [get(p, "/limited/x", {"X-Key": "k1"})[0].status for _ in range(5)]
    check(st[:3] == [200] * 3 and st[3:] == [429, 429], "rate limit: burst 3 then 429 (%s)" % st)
    r, _ = get(p, "/limited/x", {"X-Key": "k2"})
    check(r.status == 200, "rate limit is per key")
    # retries: a 503 from one server is retried on the other for GET
    st = [get(p, "/retry/status/503")[0].status for _ in range(4)]
    check(st == [503] * 4, "503 from every server: the last answer is passed on")
    # health checks: make C unhealthy, then traffic only goes to A
    open(hf, "w").close()
    end = time.time() + 10
    while time.time() < end and "failed its health check" not in env.gate_log():
        time.sleep(0.1)
    names = {get(p, "/hc/x")[1].split()[0] for _ in range(10)}
    check(names == {b"A"}, "unhealthy server gets no traffic")
    os.unlink(hf)
    end = time.time() + 10
    while time.time() < end and "127.0.0.1:%d is healthy" % c not in env.gate_log():
        time.sleep(0.1)
    names = {get(p, "/hc/x")[1].split()[0] for _ in range(10)}
    check(names == {b"A", b"C"}, "recovered server gets traffic again")
    # WebSocket: after 101 the bytes pass through both ways
    s = socket.create_connection(("127.0.0.1", p))
    s.settimeout(10)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1000)
    s.sendall(b"ping through the gate")
    got = b""
    while len(got) < 21:
        got += s.recv(1000)
    s.close()
    check(head.startswith(b"HTTP/1.1 101") and got == b"PING THROUGH THE GATE", "WebSocket upgrade passed through")


# -------------------------------------------------------------- reload

def load_thread(port, stop, stats, path):
    c = None
    while not stop.is_set():
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            stats["ok" if r.status == 200 else "bad"] += 1
            if r.getheader("Connection") == "close":
                c.close()
                c = None
        except Exception as e:  # noqa
            stats["bad"] += 1
            stats["err"] = repr(e)
            c = None


def start_load(p):
    """Four http.client threads on /p/x and /f until stop is set."""
    stop = threading.Event()
    stats = [{"ok": 0, "bad": 0} for _ in range(4)]
    ths = [threading.Thread(target=load_thread, args=(p, stop, stats[i], "/p/x" if i % 2 else "/f"))
           for i in range(4)]
    for t in ths:
        t.start()
    return stop, stats, ths


def scen_reload(env):
    a, b = env.upstream("A"), env.upstream("B")
    tmpl = """
upstream app { server 127.0.0.1:%(a)d weight %(wa)d; server 127.0.0.1:%(b)d; }
route /p/ { proxy app; strip_prefix; response_header set X-Gen "%(gen)d"; }
route /f { respond 200 "gen %(gen)d"; }
"""
    env.start(tmpl % dict(a=a, b=b, wa=1, gen=0))
    p = env.port
    stop, stats, ths = start_load(p)
    h2 = subprocess.Popen(["h2load", "--h1", "-D", "12", "-c", "8", "-t", "1", "http://127.0.0.1:%d/p/x" % p],
                          stdout=subprocess.PIPE, text=True)
    for gen in range(1, 21):
        time.sleep(0.4)
        env.reload(tmpl % dict(a=a, b=b, wa=1 + gen % 3, gen=gen))
    end = time.time() + 10
    while time.time() < end and "generation 21" not in env.gate_log():
        time.sleep(0.1)
    r, d = get(p, "/f")
    check(d == b"gen 20", "the 20th configuration is in force")
    r, d = get(p, "/p/x")
    check(r.getheader("X-Gen") == "20", "proxy route of the 20th configuration")
    out, _ = h2.communicate(timeout=60)
    stop.set()
    for t in ths:
        t.join()
    line = [l for l in out.splitlines() if l.startswith("requests:")][0]
    print("h2load: " + line)
    f = line.replace(",", "").split()
    total_ok = int(f[f.index("succeeded") - 1])
    failed = int(f[f.index("failed") - 1]) + int(f[f.index("errored") - 1])
    ok = sum(s["ok"] for s in stats)
    bad = sum(s["bad"] for s in stats)
    check(env.gate_log().count("configuration reloaded") == 20, "20 reloads done")
    check(failed == 0 and total_ok > 0, "h2load --h1: %d requests, 0 failed across 20 reloads" % total_ok)
    check(bad == 0 and ok > 0, "http.client: %d requests, %d failed across 20 reloads %s" %
          (ok, bad, [s.get("err") for s in stats]))
    # a broken file is refused and the running configuration kept
    env.reload("route / { bogus; }")
    end = time.time() + 10
    while time.time() < end and "reload failed" not in env.gate_log():
        time.sleep(0.1)
    r, d = get(p, "/f")
    check("reload failed" in env.gate_log() and d == b"gen 20", "bad file refused, old configuration kept")


# ------------------------------------------------- system file section

SYS_TMPL = """// the gateway's configuration as a section of the system file
system app {
    partition edge {
        program "./myco-gate";
        listen %(port)d;
        net;
        gateway {
            listen "127.0.0.1:%(port)d";
            route "/p/" { proxy app; strip_prefix; response_header set "X-Gen" "%(gen)d"; }
            route "/f" { respond 200 "gen %(gen)d"; }
            upstream app {
                server "127.0.0.1:%(a)d" weight %(wa)d;
                server "127.0.0.1:%(b)d";
                retries 1 budget 50 %%;
            }
        }
    }
}
"""


def scen_sysreload(env):
    """myco-gate configured by a partition's `gateway { }` section of a
    system file (--system FILE --partition NAME): served, reloaded 20 times
    by SIGHUP under continuous HTTP/1.1 and HTTP/2 load with zero failed
    requests, a section with a checker error refused with its code."""
    a, b = env.upstream("A"), env.upstream("B")
    p = env.port
    sysfile = os.path.join(env.dir, "app.myco")

    def write(text):
        open(sysfile + ".new", "w").write(text)
        os.rename(sysfile + ".new", sysfile)

    write(SYS_TMPL % dict(port=p, a=a, b=b, wa=1, gen=0))
    out = subprocess.run([env.gate, "--system", sysfile, "--partition", "edge", "--check"],
                         capture_output=True, text=True, timeout=20)
    check(out.returncode == 0 and "ok (1 upstreams, 2 routes)" in out.stdout,
          "--check on the system file's section: " + out.stdout.strip())
    env.gp = subprocess.Popen([env.gate, "--system", sysfile, "--partition", "edge", "--loops", "2"],
                              stderr=open(env.log, "w"))
    env.procs.append(env.gp)
    wait_port(p, env.gp)
    r, d = get(p, "/f")
    check(d == b"gen 0", "served from the section")
    stop, stats, ths = start_load(p)
    h1 = subprocess.Popen(["h2load", "--h1", "-D", "10", "-c", "6", "-t", "1", "http://127.0.0.1:%d/p/x" % p],
                          stdout=subprocess.PIPE, text=True)
    h2 = subprocess.Popen(["h2load", "-D", "10", "-c", "2", "-m", "16", "-t", "1", "http://127.0.0.1:%d/p/y" % p],
                          stdout=subprocess.PIPE, text=True)
    for gen in range(1, 21):
        time.sleep(0.3)
        write(SYS_TMPL % dict(port=p, a=a, b=b, wa=1 + gen % 3, gen=gen))
        env.gp.send_signal(signal.SIGHUP)
        wait_for(lambda: "generation %d)" % (gen + 1) in env.gate_log(), "reload %d applied" % gen)
    r, d = get(p, "/f")
    check(d == b"gen 20", "the 20th section is in force")
    r, d = get(p, "/p/x")
    check(r.getheader("X-Gen") == "20", "proxy route of the 20th section")
    results = []
    for name, proc in (("h2load --h1", h1), ("h2load (HTTP/2, 16 streams)", h2)):
        out, _ = proc.communicate(timeout=90)
        line = [l for l in out.splitlines() if l.startswith("requests:")][0]
        f = line.replace(",", "").split()
        results.append((name, int(f[f.index("succeeded") - 1]),
                        int(f[f.index("failed") - 1]) + int(f[f.index("errored") - 1])))
    stop.set()
    for t in ths:
        t.join()
    ok = sum(s["ok"] for s in stats)
    bad = sum(s["bad"] for s in stats)
    check(env.gate_log().count("configuration reloaded") == 20, "20 reloads of the section done")
    for name, good, failed in results:
        check(failed == 0 and good > 0, "%s: %d requests, 0 failed across 20 reloads" % (name, good))
    check(bad == 0 and ok > 0, "http.client: %d requests, %d failed across 20 reloads %s" %
          (ok, bad, [s.get("err") for s in stats]))
    # a section the checker refuses: the reload fails with the code, the
    # running configuration stays
    write((SYS_TMPL % dict(port=p, a=a, b=b, wa=1, gen=99)).replace("proxy app;", "proxy ap;"))
    env.gp.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload failed" in env.gate_log(), "the refused reload")
    r, d = get(p, "/f")
    check("error[E120]" in env.gate_log() and d == b"gen 20",
          "a section with an unknown upstream refused (E120), the 20th section kept")
    out = subprocess.run([env.gate, "--system", sysfile, "--partition", "nope", "--check"],
                         capture_output=True, text=True, timeout=20)
    check(out.returncode == 1, "--check of a partition that does not exist fails")


# ---------------------------------------------------------------- kill

def scen_kill(env):
    a, b, c = env.upstream("A"), env.upstream("B"), env.upstream("C")
    env.start("""
upstream app { server 127.0.0.1:%d; server 127.0.0.1:%d; server 127.0.0.1:%d;
  timeout connect 500ms; timeout header 5s; timeout read 5s;
  eject after 1 for 60s; retries 2 budget 50%%; }
route / { proxy app; }
""" % (a, b, c))
    p = env.port
    stop = threading.Event()
    stats = [{"ok": 0, "bad": 0} for _ in range(6)]
    ths = [threading.Thread(target=load_thread, args=(p, stop, stats[i], "/x")) for i in range(6)]
    for t in ths:
        t.start()
    time.sleep(2)
    before = sum(s["ok"] for s in stats)
    env.ups["B"][1].kill()
    env.ups["B"][1].wait()
    t_kill = time.time()
    time.sleep(3)
    stop.set()
    for t in ths:
        t.join(timeout=30)
    hung = [t for t in ths if t.is_alive()]
    ok = sum(s["ok"] for s in stats)
    bad = sum(s["bad"] for s in stats)
    check(not hung, "no client hangs")
    check(bad == 0, "upstream B killed under load: %d requests, %d failed %s" % (ok, bad,
                                                                                [s.get("err") for s in stats]))
    check(ok > before, "traffic went on after the kill (%d before, %d after)" % (before, ok - before))
    check("127.0.0.1:%d ejected" % b in env.gate_log(), "B ejected")
    names = {get(p, "/x")[1].split()[0] for _ in range(12)}
    check(names == {b"A", b"C"}, "traffic moved to A and C")
    del t_kill


# ----------------------------------------------------------------- api

def notes_first_note(port):
    """The notes example's first note: created (curl), read, updated."""
    cu = ["curl", "-sS", "-H", "Content-Type: application/json"]
    out = subprocess.run(cu + ["-i", "-d", '{"title":"buy milk","body":"2 l"}', "http://127.0.0.1:%d/notes" % port],
                         capture_output=True, text=True, timeout=20).stdout
    check(out.startswith("HTTP/1.1 201") and "Location: /notes/1" in out, "curl POST /notes: 201 + Location")
    r, d = get(port, "/notes/1")
    check(r.status == 200 and json.loads(d) == {"id": 1, "title": "buy milk", "body": "2 l", "done": False},
          "GET /notes/1")
    r, d = get(port, "/notes/1", method="PUT", body=b'{"title":"buy milk","done":true}',
               headers={"Content-Type": "application/json"})
    check(r.status == 200 and json.loads(d)["done"] is True, "PUT /notes/1")


def scen_api(env, notes):
    port = free_port()
    pr = subprocess.Popen([notes, str(port)], stderr=subprocess.DEVNULL)
    env.procs.append(pr)
    wait_port(port, pr)
    notes_first_note(port)
    r, d = get(port, "/notes?limit=5")
    check(r.status == 200 and len(json.loads(d)) == 1, "GET /notes?limit=5")
    for path, method, body, want, detail in [
        ("/notes/abc", "GET", None, 404, "no such resource"),
        ("/notes/0", "GET", None, 404, "note 0 does not exist"),
        ("/notes?limit=1000", "GET", None, 400, "query.limit: 1000 is above the maximum 100"),
        ("/notes", "POST", b'{"title":""}', 400, "body.title: 0 bytes, at least 1 required"),
        ("/notes", "POST", b'{"title":"x","extra":1}', 400, 'body: unknown field "extra"'),
        ("/notes", "POST", b'{"title":', 400, None),
        ("/notes/7", "GET", None, 404, "note 7 does not exist"),
    ]:
        r, d = get(port, path, method=method, body=body, headers={"Content-Type": "application/json"})
        j = json.loads(d)
        check(r.status == want and (detail is None or j["detail"] == detail),
              "%s %s: %d %s" % (method, path, r.status, j.get("detail")))
    r, d = get(port, "/notes/1", method="PATCH")
    check(r.status == 405 and r.getheader("Allow") == "GET, HEAD, PUT, DELETE, OPTIONS", "405 with Allow")
    r, d = get(port, "/notes", method="POST", body=b"{}", headers={"Content-Type": "text/plain"})
    check(r.status == 415, "415 for a non-JSON body")
    r, d = get(port, "/notes", method="OPTIONS", headers={"Origin": "http://x.example",
                                                          "Access-Control-Request-Method": "POST"})
    check(r.status == 204 and r.getheader("Access-Control-Allow-Origin") == "*", "CORS preflight")
    r, d = get(port, "/notes/1", method="DELETE")
    check(r.status == 204, "DELETE /notes/1")


# ----------------------------------------------------------------- tls

def make_cert(d, name, cn):
    c, k = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", k, "-out", c,
                    "-days", "2", "-subj", "/CN=" + cn], check=True, capture_output=True)
    return c, k


def tls_conn(port, sni, version=None, alpn=None):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw_s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw_s, server_hostname=sni)


def der(path):
    import ssl
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def tls_get(s, path="/"):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % path.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, body = buf.split(b"\r\n\r\n", 1)
    n = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(body) < n:
        body += s.recv(4096)
    return int(head.split()[1]), body


def scen_tls(env):
    import ssl
    dc, dk = make_cert(env.dir, "default", "default.test")
    ac, ak = make_cert(env.dir, "api", "api.test")
    nc, nk = make_cert(env.dir, "renewed", "renewed.test")
    cert, key = os.path.join(env.dir, "cur.crt"), os.path.join(env.dir, "cur.key")
    shutil.copy(dc, cert)
    shutil.copy(dk, key)
    a = env.upstream("A")
    conf = ('tls cert "%s" key "%s";\ntls sni api.test cert "%s" key "%s";\n'
            'upstream up { server 127.0.0.1:%d; }\n'
            'route / { respond 200 "tls ok"; }\nroute /p/ { proxy up; strip_prefix; }\n' % (cert, key, ac, ak, a))
    env.start(conf)
    p = env.port
    s = tls_conn(p, "default.test", alpn=["h2", "http/1.1"])
    check(s.selected_alpn_protocol() == "h2", "ALPN selects h2 when offered")
    s.close()
    s = tls_conn(p, "default.test", alpn=["http/1.1"])
    check(s.getpeercert(binary_form=True) == der(dc), "default certificate")
    check(s.selected_alpn_protocol() == "http/1.1", "ALPN selects http/1.1 when h2 is not offered")
    check(tls_get(s) == (200, b"tls ok") and tls_get(s, "/p/x") == (200, b"A /x\n"),
          "two requests (fixed, proxied) on one TLS connection")
    old = s
    s = tls_conn(p, "api.test")
    check(s.getpeercert(binary_form=True) == der(ac), "SNI api.test gets its own certificate")
    s.close()
    for v, name in ((ssl.TLSVersion.TLSv1_2, "TLS 1.2"), (ssl.TLSVersion.TLSv1_3, "TLS 1.3")):
        s = tls_conn(p, "default.test", version=v)
        check(s.version() == name.replace(" ", "v") and tls_get(s)[0] == 200, name)
        s.close()
    try:
        s = tls_conn(p, "default.test", version=ssl.TLSVersion.TLSv1_1)
        s.close()
        ok = False
    except (ssl.SSLError, OSError):
        ok = True
    check(ok, "TLS 1.1 refused")
    out = subprocess.run(["curl", "-sS", "-k", "-v", "--resolve", "api.test:%d:127.0.0.1" % p,
                          "https://api.test:%d/" % p], capture_output=True, text=True, timeout=20)
    check(out.stdout == "tls ok" and "CN=api.test" in out.stderr, "curl over TLS with SNI")
    resp = raw(p, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    check(b"HTTP/1.1 200" not in resp, "plain HTTP on the TLS port is not answered")
    # certificate reload: new connections get the new certificate, the
    # connection opened before keeps working
    shutil.copy(nc, cert)
    shutil.copy(nk, key)
    env.reload(conf)
    end = time.time() + 10
    while time.time() < end and "configuration reloaded" not in env.gate_log():
        time.sleep(0.05)
    s = tls_conn(p, "default.test")
    check(s.getpeercert(binary_form=True) == der(nc), "after SIGHUP: the renewed certificate")
    s.close()
    check(tls_get(old) == (200, b"tls ok"), "a connection from before the reload still works")
    old.close()
    # a bad key at reload is refused, the running certificates stay
    open(key, "w").write("not a key")
    env.reload(conf)
    end = time.time() + 10
    while time.time() < end and "reload failed" not in env.gate_log():
        time.sleep(0.05)
    s = tls_conn(p, "default.test")
    check("reload failed" in env.gate_log() and s.getpeercert(binary_form=True) == der(nc),
          "broken key refused at reload, running certificate kept")
    s.close()


# ---------------------------------------------------------------- http2

def scen_h2(env):
    dc, dk = make_cert(env.dir, "default", "default.test")
    a = env.upstream("A")
    b = env.upstream("B")
    # clear-text HTTP/2 with prior knowledge on a plain listener
    env.start('upstream up { server 127.0.0.1:%d; }\n'
              'upstream upb { server 127.0.0.1:%d; timeout header 120s; }\n'
              'route /plain { respond 200 "Hello, World!"; }\n'
              'route /p/ { proxy up; strip_prefix; }\n'
              'route /q/ { proxy upb; strip_prefix; }\n' % (a, b))
    p = env.port
    out = subprocess.run(["nghttp", "-v", "http://127.0.0.1:%d/plain" % p], capture_output=True, text=True,
                         timeout=20).stdout
    check(":status: 200" in out and "Hello, World!" in out, "nghttp (h2c prior knowledge): 200")
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-w", " %{http_version}",
                          "http://127.0.0.1:%d/p/x" % p], capture_output=True, text=True, timeout=20).stdout
    check(out == "A /x\n 2", "curl over h2c, proxied: %r" % out)
    body = os.path.join(env.dir, "body")
    open(body, "wb").write(b"y" * 50000)
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--data-binary", "@" + body,
                          "http://127.0.0.1:%d/p/echo" % p], capture_output=True, timeout=20).stdout
    check(out == b"y" * 50000, "50 kB POST over HTTP/2 to the upstream and back")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--http2-prior-knowledge",
                          "http://127.0.0.1:%d/nothing" % p], capture_output=True, text=True, timeout=20).stdout
    check(out == "404", "HTTP/2 404")
    out = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", "http://127.0.0.1:%d/plain" % p],
                         capture_output=True, text=True, timeout=60).stdout
    line = [l for l in out.splitlines() if l.startswith("requests:")][0]
    check("2000 succeeded, 0 failed, 0 errored" in line, "h2load h2c, 10 streams per connection: " + line)
    out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/plain" % p], capture_output=True, text=True,
                         timeout=20).stdout
    check(out == "Hello, World!", "HTTP/1.1 still served on the same port")
    h2_concurrent(env, a, b)
    env.close()
    # HTTP/2 over TLS, chosen by ALPN
    env2 = Env(env.gate)
    env2.procs = []
    try:
        env2.start('tls cert "%s" key "%s";\nroute /plain { respond 200 "Hello, TLS!"; }\n' % (dc, dk))
        p = env2.port
        out = subprocess.run(["curl", "-sS", "-k", "--http2", "-w", " %{http_version}",
                              "https://127.0.0.1:%d/plain" % p], capture_output=True, text=True, timeout=20).stdout
        check(out == "Hello, TLS! 2", "curl --http2 over TLS: ALPN h2")
        out = subprocess.run(["curl", "-sS", "-k", "--http1.1", "-w", " %{http_version}",
                              "https://127.0.0.1:%d/plain" % p], capture_output=True, text=True, timeout=20).stdout
        check(out == "Hello, TLS! 1.1", "curl --http1.1 over TLS: ALPN http/1.1")
        out = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "10", "https://127.0.0.1:%d/plain" % p],
                             capture_output=True, text=True, timeout=60).stdout
        line = [l for l in out.splitlines() if l.startswith("requests:")][0]
        check("1000 succeeded, 0 failed, 0 errored" in line and "h2" in out, "h2load over TLS: " + line)
    finally:
        env2.close()


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", path)
    r = c.getresponse()
    b = r.read()
    c.close()
    return r.status, b


def wait_for(cond, what, t=60):
    end = time.time() + t
    while time.time() < end:
        if cond():
            return
        time.sleep(0.02)
    raise SystemExit("FAIL: never happened: " + what)


def big_body(n):
    pat = bytes(range(251))
    return (pat * (n // 251 + 1))[:n]


class H2Raw:
    """Just enough of an HTTP/2 client to control flow-control windows:
    HPACK literals without indexing, frames as (type, flags, stream, payload)."""

    def __init__(self, port, initial_window):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(60)
        self.buf = b""
        settings = struct.pack(">HI", 4, initial_window)      # SETTINGS_INITIAL_WINDOW_SIZE
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + self.frame(4, 0, 0, settings))

    @staticmethod
    def frame(typ, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([typ, flags]) + struct.pack(">I", sid) + payload

    def get(self, sid, path):
        def lit(n, v):
            return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
        block = (lit(b":method", b"GET") + lit(b":scheme", b"http") + lit(b":path", path.encode()) +
                 lit(b":authority", b"localhost"))
        self.s.sendall(self.frame(1, 0x5, sid, block))          # END_STREAM | END_HEADERS

    def window(self, sid, n):
        self.s.sendall(self.frame(8, 0, sid, struct.pack(">I", n)))

    def read_frame(self):
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + n:
                    f = (self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7fffffff,
                         self.buf[9:9 + n])
                    self.buf = self.buf[9 + n:]
                    if f[0] == 4 and not f[1] & 1:                # SETTINGS: acknowledge
                        self.s.sendall(self.frame(4, 1, 0, b""))
                    if f[0] == 7:
                        raise SystemExit("FAIL: GOAWAY from the gateway: %r" % (f,))
                    return f
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("FAIL: connection closed by the gateway")
            self.buf += d

    def until(self, done):
        fs = []
        while not done(fs):
            fs.append(self.read_frame())
        return fs

    def ping(self):
        self.s.sendall(self.frame(6, 0, 0, b"12345678"))
        return self.until(lambda fs: any(f[0] == 6 and f[1] & 1 for f in fs))

    def close(self):
        self.s.close()


def h2_concurrent(env, a, b):
    """Streams of one HTTP/2 connection run concurrently: a stream whose
    upstream blocks does not hold back the others; answers interleave; flow
    control is honoured; h2c by Upgrade; a connection closed with a stream
    in flight."""
    p = env.port
    # 1. one slow stream (blocked in the upstream until /release) and a fast
    # one on the same connection (nghttp always multiplexes its URLs)
    ng = subprocess.Popen(["nghttp", "-v", "http://127.0.0.1:%d/p/slow" % p, "http://127.0.0.1:%d/p/fast" % p],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(l.decode("latin-1") for l in ng.stdout), daemon=True)
    reader.start()
    wait_for(lambda: any("A /fast" in l for l in lines), "the fast stream answered while the slow one waits")
    # the slow request may reach the upstream after the fast one was
    # answered (the streams really are concurrent): wait for it there, it
    # cannot be answered before /release
    wait_for(lambda: http_get(a, "/waiting") == (200, b"1"), "the slow stream to wait upstream")
    check(not any("A slow" in l for l in lines),
          "HTTP/2: the fast stream is answered while the slow stream of the same connection still waits upstream")
    check(http_get(a, "/release")[0] == 200, "slow upstream released")
    ng.wait(30)
    reader.join(10)
    check(ng.returncode == 0 and any("A slow" in l for l in lines), "the slow stream then completes on the same connection")
    connected = [l for l in lines if "Connected" in l]
    check(len(connected) == 1, "both streams on one connection")
    # 2. windows of 0 until both answers are submitted (their HEADERS, which
    # flow control does not hold, have come); no DATA before the windows
    # open; then the two answers' DATA frames interleave
    c = H2Raw(p, initial_window=0)
    c.get(1, "/p/big/300000")
    c.get(3, "/p/big/300001")
    frames = c.until(lambda fs: sum(1 for f in fs if f[0] == 1) == 2)
    frames += c.ping()
    check(not any(f[0] == 0 for f in frames), "window 0: both heads arrive, no DATA frame")
    c.window(0, 700000)
    c.window(1, 300000)
    c.window(3, 300001)
    frames = c.until(lambda fs: sum(1 for f in fs if f[0] == 0 and f[1] & 1) == 2)
    data = [f for f in frames if f[0] == 0]
    ids = [f[2] for f in data]
    switches = sum(1 for i in range(1, len(ids)) if ids[i] != ids[i - 1])
    got1 = b"".join(f[3] for f in data if f[2] == 1)
    got3 = b"".join(f[3] for f in data if f[2] == 3)
    check(got1 == big_body(300000) and got3 == big_body(300001),
          "two answers through the opened windows, byte for byte")
    check(switches >= 4, "their DATA frames interleave: %d frames, %d switches between streams"
          % (len(ids), switches))
    c.close()
    # 3. flow control: 1 KiB windows (stream and connection), 200 kB answer
    out = subprocess.run(["nghttp", "-w", "10", "-W", "10", "http://127.0.0.1:%d/p/big/200000" % p],
                         capture_output=True, timeout=60)
    check(out.returncode == 0 and out.stdout == big_body(200000),
          "1 KiB flow-control windows: a 200 kB answer arrives whole, byte for byte")
    # 4. h2c by Upgrade (RFC 7540 3.2): curl --http2, nghttp -u, a POST body
    out = subprocess.run(["curl", "-sS", "--http2", "-w", " %{http_version}", "http://127.0.0.1:%d/p/up" % p],
                         capture_output=True, text=True, timeout=20).stdout
    check(out == "A /up\n 2", "curl --http2 (Upgrade: h2c), proxied: %r" % out)
    out = subprocess.run(["curl", "-sS", "--http2", "--data-binary", "upgrade body", "-w", " %{http_version}",
                          "http://127.0.0.1:%d/p/echo" % p], capture_output=True, text=True, timeout=20).stdout
    check(out == "upgrade body 2", "POST through an h2c upgrade: the body reaches the upstream: %r" % out)
    out = subprocess.run(["nghttp", "-uv", "http://127.0.0.1:%d/plain" % p, "http://127.0.0.1:%d/p/two" % p],
                         capture_output=True, text=True, timeout=20).stdout
    check("HTTP/1.1 101 Switching Protocols" in out and "Hello, World!" in out and "A /two" in out,
          "nghttp -u: 101, stream 1 answered, then more streams")
    r = raw(p, b"GET /plain HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: AAM*AABk\r\nConnection: close\r\n\r\n")
    check(r.startswith(b"HTTP/1.1 200") and r.endswith(b"Hello, World!"),
          "a malformed HTTP2-Settings: no upgrade, answered as HTTP/1.1")
    r = raw(p, b"GET /plain HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
               b"HTTP2-Settings: AAMAAABk\r\nConnection: close\r\n\r\n")
    check(r.startswith(b"HTTP/1.1 200"), "HTTP2-Settings not named in Connection: no upgrade")
    # 5. many streams in flight per connection, proxied
    out = subprocess.run(["h2load", "-n", "2000", "-c", "2", "-m", "64", "http://127.0.0.1:%d/p/x" % p],
                         capture_output=True, text=True, timeout=120).stdout
    line = [l for l in out.splitlines() if l.startswith("requests:")][0]
    check("2000 succeeded, 0 failed, 0 errored" in line, "h2load, 64 proxied streams in flight per connection: " + line)
    # 6. a connection closed while its stream waits upstream: the stream's
    # handler is cancelled, the gateway goes on
    ng = subprocess.Popen(["nghttp", "http://127.0.0.1:%d/q/slow" % p, "http://127.0.0.1:%d/q/slow?2" % p],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: http_get(b, "/waiting") == (200, b"2"), "two slow streams waiting upstream")
    ng.kill()
    ng.wait()
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "http://127.0.0.1:%d/plain" % p],
                         capture_output=True, text=True, timeout=20).stdout
    check(out == "Hello, World!" and env.gp.poll() is None,
          "client gone with two streams waiting upstream: their handlers are cancelled, the gateway serves on")
    http_get(b, "/release")
    wait_for(lambda: http_get(b, "/waiting") == (200, b"0"), "upstream released")
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "http://127.0.0.1:%d/q/after" % p],
                         capture_output=True, text=True, timeout=20).stdout
    check(out == "B /after\n", "the pool is usable afterwards: %r" % out)


# -------------------------------------------------------------- splice

def scen_splice(env):
    """Large proxied bodies: answers of known length from splice_min up go
    upstream -> client by splice(2) (the partition scenario proves it with
    myco_gate_spliced_bytes_total); every path is checked byte for byte."""
    a = env.upstream("A")
    conf = ('max_body 16MiB;\nupstream up { server 127.0.0.1:%d; }\n'
            'route /p/ { proxy up; strip_prefix; }\nroute /small { respond 200 "small"; }\n' % a)
    env.start(conf)
    p = env.port
    out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/p/big/8000000" % p], capture_output=True,
                         timeout=60).stdout
    check(out == big_body(8000000), "curl: an 8 MB answer through the proxy, byte for byte")
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=30)
    for n in (3000000, 262144, 262143, 5000001):
        c.request("GET", "/p/big/%d" % n)
        r = c.getresponse()
        check(r.status == 200 and r.read() == big_body(n), "keep-alive connection: %d bytes byte for byte" % n)
    c.request("HEAD", "/p/big/3000000")
    r = c.getresponse()
    check(r.status == 200 and r.getheader("Content-Length") == "3000000" and r.read() == b"",
          "HEAD of a large answer: its length, no body")
    c.request("GET", "/small")
    check(c.getresponse().read() == b"small", "the connection is still in step afterwards")
    c.close()
    upload = os.path.join(env.dir, "upload")
    data = os.urandom(6 << 20)
    open(upload, "wb").write(data)
    out = subprocess.run(["curl", "-sS", "--data-binary", "@" + upload, "http://127.0.0.1:%d/p/echo" % p],
                         capture_output=True, timeout=60).stdout
    check(out == data, "a 6 MiB POST to the upstream and its 6 MiB echo back, byte for byte")
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "http://127.0.0.1:%d/p/big/8000000" % p],
                         capture_output=True, timeout=60).stdout
    check(out == big_body(8000000), "HTTP/2: the same 8 MB answer (buffered per stream), byte for byte")
    # parallel large downloads on separate connections
    res = {}
    def get(i):
        cc = http.client.HTTPConnection("127.0.0.1", p, timeout=60)
        cc.request("GET", "/p/big/%d" % (2000000 + i))
        res[i] = cc.getresponse().read() == big_body(2000000 + i)
        cc.close()
    ts = [threading.Thread(target=get, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    check(len(res) == 8 and all(res.values()), "8 concurrent 2 MB downloads, each byte for byte")
    env.reload("splice off;\n" + conf)
    wait_for(lambda: "configuration reloaded" in env.gate_log(), "the reload")
    out = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/p/big/8000000" % p], capture_output=True,
                         timeout=60).stdout
    check(out == big_body(8000000), "splice off: the same answer through the buffer, byte for byte")


# ----------------------------------------------------------- partition

def scen_partition(env, myco):
    """myco-gate as a partition of a system, configured by its own `gateway`
    section of the system file: it serves the listening socket
    the executive holds for its declared port (with `net` only to reach its
    upstream), reports ready,
    heartbeats, and its replacement after a kill serves the same port.  Its
    metrics appear on the executive's /metrics (`metrics PORT;`) counting
    exactly the requests sent, and its access log lines reach the trace
    rings."""
    port = free_port()
    mport = free_port()
    uport = env.upstream("u1")
    sysfile = os.path.join(env.dir, "system.myco")
    rt = os.path.join(env.dir, "rt")
    # the gateway's configuration is the partition's `gateway { }` section;
    # myco-gate finds its own section by the partition name it runs as
    open(sysfile, "w").write("""system gatetest {
    metrics %d;
    partition gate {
        program "%s";
        args "--system", "%s";
        net;
        listen %d;
        path "%s" ro;
        memory 256 MiB;
        restart permanent;
        heartbeat 500 ms;
        readiness required;
        gateway {
            listen %d;
            loops 1;
            cache 1 MiB lru;
            access_log on;
            upstream up { server "127.0.0.1:%d"; }
            route "/up" { proxy up; cache 60 s; }
            route "/big/" { proxy up; }
            route "/limited" { rate_limit 1 per s burst 2; respond 200 "ok"; }
            route "/" { respond 200 "in a system"; }
        }
    }
}
""" % (mport, env.gate, sysfile, port, env.dir, port, uport))
    ex = subprocess.Popen([myco, "run", sysfile, "--runtime-dir", rt],
                          stdout=open(os.path.join(env.dir, "exec.log"), "wb"), stderr=subprocess.STDOUT,
                          env=dict(os.environ, MYCO_TRACE="log:info"))

    def fetch():
        end = time.time() + 20
        while time.time() < end:
            try:
                r, d = get(port, "/")
                return r.status, d
            except OSError:
                time.sleep(0.2)
        return None, None
    try:
        check(fetch() == (200, b"in a system"), "the partition serves HTTP on its declared port")
        check_gate_metrics(mport, port, rt)
        r = subprocess.run([myco, "kill", "gate", "--runtime-dir", rt], capture_output=True, timeout=30)
        check(r.returncode == 0, "myco kill gate")
        check(fetch() == (200, b"in a system"), "the replacement serves the same port")
        r = subprocess.run([myco, "logs", "gate", "--runtime-dir", rt], capture_output=True, timeout=30)
        check(b"serving the system's listening socket for port %d" % port in r.stdout,
              "myco-gate took the executive's socket")
        r = subprocess.run([myco, "ps", "--json", "--runtime-dir", rt], capture_output=True, timeout=30)
        p = json.loads(r.stdout.decode().splitlines()[0])["partitions"][0]
        check(p.get("net") is True and [x["port"] for x in p.get("ports", [])] == [port],
              "net (to reach the upstream), the port still held by the executive")
    finally:
        subprocess.run([myco, "stop", "--all", "--runtime-dir", rt], capture_output=True, timeout=30)
        try:
            ex.wait(15)
        except subprocess.TimeoutExpired:
            ex.kill()
            ex.wait()
    if ex.returncode != 0:
        print(open(os.path.join(env.dir, "exec.log"), errors="replace").read()[-3000:])
    check(ex.returncode == 0, "the executive stopped cleanly")


def scen_apisystem(env, myco, notes):
    """examples/api as a system: the web partition (the API framework) keeps
    its notes in the store partition, called over the `store` call channel;
    one `myco run` starts both.  CRUD through curl and http.client, many
    concurrent clients (every create gets its own id, the count adds up),
    the store killed: requests answer 503 or succeed, none hangs, and the
    restarted store serves again."""
    port = free_port()
    src = os.path.join(os.path.dirname(notes), "notes.myco")
    sysfile = os.path.join(os.path.dirname(notes), "notes-%d.myco" % port)
    open(sysfile, "w").write(open(src).read().replace("listen 8081;", "listen %d;" % port))
    rt = os.path.join(env.dir, "rt")
    ex = subprocess.Popen([myco, "run", sysfile, "--runtime-dir", rt],
                          stdout=open(os.path.join(env.dir, "exec.log"), "wb"), stderr=subprocess.STDOUT)

    def health():
        try:
            r, d = get(port, "/health")
            return r.status, json.loads(d)
        except (OSError, ValueError):
            return None, None
    try:
        wait_for(lambda: health()[0] == 200, "the web partition answers /health through the store")
        check(health() == (200, {"status": "ok", "notes": 0}), "GET /health: the store partition counts 0 notes")
        notes_first_note(port)
        r, d = get(port, "/notes/9")
        check(r.status == 404 and json.loads(d)["detail"] == "note 9 does not exist", "GET /notes/9: 404 from the store")
        r, d = get(port, "/notes", method="POST", body=b'{"title":""}', headers={"Content-Type": "application/json"})
        check(r.status == 400, "invalid input refused by the web partition before the store")
        # concurrent clients: every create is one call over the channel
        ids, errs = [], []
        lock = threading.Lock()

        def creator(i):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for k in range(25):
                c.request("POST", "/notes", body=json.dumps({"title": "t%d-%d" % (i, k)}),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                d = r.read()
                with lock:
                    if r.status == 201:
                        ids.append(json.loads(d)["id"])
                    else:
                        errs.append(r.status)
            c.close()
        ts = [threading.Thread(target=creator, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        check(not errs and len(ids) == 200 and len(set(ids)) == 200,
              "8 clients x 25 creates: 200 notes, 200 distinct ids (%d errors)" % len(errs))
        h = health()
        check(h == (200, {"status": "ok", "notes": 201}), "the store counts 201 notes: %r" % (h,))
        r, d = get(port, "/notes?limit=100")
        check(r.status == 200 and len(json.loads(d)) == 100, "GET /notes?limit=100: 100 notes in one reply")
        r, d = get(port, "/notes/1", method="DELETE")
        check(r.status == 204, "DELETE /notes/1: 204")
        # the store stopped: the web partition answers 503 (after the call
        # timeout, no request hangs); restarted, it serves again (empty)
        r = subprocess.run([myco, "stop", "store", "--runtime-dir", rt], capture_output=True, timeout=30)
        check(r.returncode == 0, "myco stop store")
        wait_for(lambda: health()[0] == 503, "503 while the store is stopped")
        check(health() == (503, {"error": "Service Unavailable",
                                 "detail": "the store did not answer: Connection timed out"}),
              "store stopped: 503 with the reason, within the call timeout")
        r = subprocess.run([myco, "restart", "store", "--runtime-dir", rt], capture_output=True, timeout=30)
        check(r.returncode == 0, "myco restart store")
        wait_for(lambda: health() == (200, {"status": "ok", "notes": 0}), "the restarted store answers")
        r = subprocess.run([myco, "kill", "store", "--runtime-dir", rt], capture_output=True, timeout=30)
        check(r.returncode == 0, "myco kill store")
        seen = set()

        def after_restart():
            st, j = health()
            seen.add(st)
            return st == 200 and j == {"status": "ok", "notes": 0}
        wait_for(after_restart, "the restarted store answers")
        check(seen <= {200, 503}, "while the store was away: only 200 or 503 answers (%s)" % sorted(seen, key=str))
        r, d = get(port, "/notes", method="POST", body=b'{"title":"again"}', headers={"Content-Type": "application/json"})
        check(r.status == 201 and json.loads(d)["id"] == 1, "the restarted store takes notes again")
    finally:
        subprocess.run([myco, "stop", "--all", "--runtime-dir", rt], capture_output=True, timeout=30)
        try:
            ex.wait(15)
        except subprocess.TimeoutExpired:
            ex.kill()
            ex.wait()
        os.unlink(sysfile)
    if ex.returncode != 0:
        print(open(os.path.join(env.dir, "exec.log"), errors="replace").read()[-3000:])
    check(ex.returncode == 0, "the executive stopped cleanly")


def scrape(mport, part):
    """The executive's /metrics as {(name, labels without partition): value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=10) as f:
        text = f.read().decode()
    out, tag = {}, 'partition="%s"' % part
    for line in text.splitlines():
        if not line or line.startswith("#") or tag not in line:
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        labels = ",".join(x for x in labels.rstrip("}").split(",") if x and x != tag)
        out[(name, labels)] = float(value)
    return out


def raw_get(port, path):
    """One GET on its own connection; (bytes sent, bytes received, status, headers)."""
    req = ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    buf = b""
    while True:
        ch = s.recv(65536)
        if not ch:
            break
        buf += ch
    s.close()
    head = buf.split(b"\r\n\r\n", 1)[0].decode()
    return len(req), len(buf), int(head.split()[1]), head.lower()


def check_gate_metrics(mport, port, rt):
    # one request read to EOF first: the gate (one loop) has then finished
    # counting every earlier request, so the deltas below are exactly ours
    raw_get(port, "/")
    before = scrape(mport, "gate")
    sent = got = 0
    codes, hits, misses, limited = {}, 0, 0, 0
    for path in ["/up"] * 4 + ["/limited"] * 6 + ["/"] * 2:
        n, m, st, head = raw_get(port, path)
        sent += n
        got += m
        codes[st // 100] = codes.get(st // 100, 0) + 1
        if path == "/up":
            check(st == 200, "proxied GET answered 200")
            if "x-cache: hit" in head:
                hits += 1
            else:
                misses += 1
        if st == 429:
            limited += 1
    check(misses >= 1 and hits >= 1 and limited >= 1,
          "traffic saw a cache miss (%d), hits (%d) and 429s (%d)" % (misses, hits, limited))
    after = scrape(mport, "gate")
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    print("metric deltas:", {k: v for k, v in d.items() if v and "_bucket" not in k[0]})
    for c in range(1, 6):
        check(d.get(("myco_gate_requests_total", 'code="%dxx"' % c)) == codes.get(c, 0),
              "%dxx answers counted (%d)" % (c, codes.get(c, 0)))
    check(d[("myco_gate_received_bytes_total", "")] == sent, "received bytes = %d sent" % sent)
    check(d[("myco_gate_sent_bytes_total", "")] == got,
          "sent bytes %d = %d received" % (d[("myco_gate_sent_bytes_total", "")], got))
    check(d[("myco_gate_cache_hits_total", "")] == hits, "cache hits = %d" % hits)
    check(d[("myco_gate_cache_misses_total", "")] == misses, "cache misses = %d" % misses)
    check(d[("myco_gate_rate_limited_total", "")] == limited, "rate limited = %d" % limited)
    check(d[("myco_gate_upstream_latency_seconds_count", "")] == misses,
          "one upstream latency observation per miss")
    check(d[("myco_gate_upstream_latency_seconds_sum", "")] > 0, "upstream latency sum positive")
    check(d.get(("myco_gate_spliced_bytes_total", ""), 0) == 0, "small answers are not spliced")
    # a 4 MB answer: spliced upstream -> client (at most what came with the
    # head, one 64 KiB read, went through the buffer)
    before = scrape(mport, "gate")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/big/4000000")
    resp = c.getresponse()
    body = resp.read()
    c.request("GET", "/")
    small = c.getresponse().read()
    c.close()
    check(resp.status == 200 and body == big_body(4000000) and small == b"in a system",
          "4 MB proxied answer byte for byte, the keep-alive connection usable after it")
    raw_get(port, "/")
    after = scrape(mport, "gate")
    sp = after.get(("myco_gate_spliced_bytes_total", ""), 0) - before.get(("myco_gate_spliced_bytes_total", ""), 0)
    check(4000000 - 65536 <= sp <= 4000000, "myco_gate_spliced_bytes_total grew by %d: the body was spliced" % sp)
    # the access log lines in the trace rings (MYCO_TRACE=log:info)
    logs, nxt = [], 0
    end = time.monotonic() + 30
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(os.path.join(rt, "control.sock"))
        s.sendall((json.dumps({"cmd": "trace-read", "from": nxt}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            ch = s.recv(1 << 20)
            if not ch:
                break
            buf += ch
        s.close()
        rep = json.loads(buf)
        check(rep.get("ok"), "trace-read: %s" % rep)
        logs += [e for e in rep["events"] if e[5] == 129 and "access" in json.dumps(e)]
        nxt = rep["next"]
        if len([e for e in logs if "GET /limited" in json.dumps(e)]) >= 6:
            break
        time.sleep(0.2)
    print("access log events:", len(logs), logs[:1])
    check(len([e for e in logs if "GET /limited" in json.dumps(e)]) == 6,
          "the 6 access lines of /limited in the trace rings")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--gate", required=True)
    ap.add_argument("--notes")
    ap.add_argument("--myco")
    a = ap.parse_args()
    env = Env(a.gate)
    try:
        if a.scenario == "api":
            scen_api(env, a.notes)
        elif a.scenario == "partition":
            scen_partition(env, a.myco)
        elif a.scenario == "apisystem":
            scen_apisystem(env, a.myco, a.notes)
        else:
            globals()["scen_" + a.scenario](env)
    finally:
        env.close()
    print("PASS " + a.scenario)


if __name__ == "__main__":
    main()
