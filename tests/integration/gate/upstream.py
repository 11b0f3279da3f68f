"""upstream.py: a small HTTP/1.1 upstream for myco-gate's integration tests
(Python's threading http.server, keep-alive).  Each instance has a name and
answers:
  GET  /health           200, or 500 when the file HEALTH_FILE exists
  GET  /status/N         status N
  GET  /echo...          JSON: name, method, path, headers
  GET  /count            how many requests it served
  POST /echo             the body back
  GET  /chunked          a chunked answer
  GET  /ws (Upgrade)     101, then echoes raw bytes (pass-through test)
  GET  /slow             blocks until GET /release, then "NAME slow"
  GET  /release          releases every /slow waiting (and later ones)
  GET  /waiting          how many /slow requests are waiting now
  GET  /big/N            N bytes of a fixed pattern (bytes i % 251)
  anything else          "NAME PATH\n"
"""
import http.server, json, os, socket, sys, threading

name, port = sys.argv[1], int(sys.argv[2])
health_file = sys.argv[3] if len(sys.argv) > 3 else None
served = 0
lock = threading.Lock()
released = threading.Event()
waiting = 0


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _send(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Upstream", name)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        global served, waiting
        with lock:
            served += 1
        p = self.path
        if p == "/health":
            bad = health_file and os.path.exists(health_file)
            return self._send(500 if bad else 200, b"bad\n" if bad else b"ok\n")
        if p.startswith("/status/"):
            return self._send(int(p[8:11]), b"status\n")
        if p.startswith("/echo"):
            body = json.dumps({"name": name, "method": self.command, "path": p,
                               "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            return self._send(200, body, "application/json")
        if p.split("?")[0] == "/slow":
            with lock:
                waiting += 1
            released.wait()
            with lock:
                waiting -= 1
            return self._send(200, ("%s slow\n" % name).encode())
        if p == "/release":
            released.set()
            return self._send(200, b"released\n")
        if p == "/waiting":
            return self._send(200, str(waiting).encode())
        if p.startswith("/big/"):
            n = int(p[5:])
            pat = bytes(range(251))
            return self._send(200, (pat * (n // 251 + 1))[:n], "application/octet-stream")
        if p == "/count":
            return self._send(200, str(served).encode())
        if p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Upstream", name)
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if p == "/cacheable":
            return self._send(200, ("%s %d\n" % (name, served)).encode(), extra=[("Cache-Control", "max-age=60")])
        if p == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "websocket")
            self.end_headers()
            self.wfile.flush()
            conn = self.connection
            while True:
                d = conn.recv(4096)
                if not d:
                    break
                conn.sendall(d.upper())
            self.close_connection = True
            return
        return self._send(200, ("%s %s\n" % (name, p)).encode())

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        d = self.rfile.read(n)
        self._send(200, d, "application/octet-stream")

    do_PUT = do_POST


class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


S(("127.0.0.1", port), H).serve_forever()
