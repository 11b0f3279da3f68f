# webdriver.py: just enough of the W3C WebDriver protocol (plain HTTP+JSON
# through urllib) to drive headless Chromium via chromedriver in the
# dashboard's browser tests.  No npm, no selenium.
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def find(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    for p in ('/usr/lib/chromium/chromedriver', '/usr/bin/chromium'):
        if os.path.basename(p) in names and os.path.exists(p):
            return p
    return None


class Browser:
    def __init__(self, width=1400, height=900):
        self.driver_bin = find('chromedriver')
        self.chrome_bin = find('chromium', 'chromium-browser')
        if not self.driver_bin or not self.chrome_bin:
            raise RuntimeError('chromium and chromium-driver are needed (scripts/deps.sh test)')
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix='myco-dash-chrome-')
        self.proc = subprocess.Popen([self.driver_bin, '--port=%d' % self.port],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = 'http://127.0.0.1:%d' % self.port
        for _ in range(100):
            try:
                self._req('GET', '/status')
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        caps = {'capabilities': {'alwaysMatch': {
            'browserName': 'chrome',
            'goog:chromeOptions': {
                'binary': self.chrome_bin,
                'args': ['--headless=new', '--no-sandbox', '--disable-gpu',
                         '--disable-dev-shm-usage', '--user-data-dir=' + self.profile,
                         '--window-size=%d,%d' % (width, height)]}}}}
        r = self._req('POST', '/session', caps)
        self.sid = r['value']['sessionId']

    def _req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=60) as f:
                return json.loads(f.read() or b'{}')
        except urllib.error.HTTPError as e:
            raise RuntimeError('webdriver %s %s: %s' % (method, path, e.read()[:500]))

    def cmd(self, method, path, body=None):
        return self._req(method, '/session/%s%s' % (self.sid, path), body)['value']

    def get(self, url):
        self.cmd('POST', '/url', {'url': url})

    def js(self, script, *args):
        return self.cmd('POST', '/execute/sync', {'script': script, 'args': list(args)})

    def js_async(self, script, *args):
        return self.cmd('POST', '/execute/async', {'script': script, 'args': list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self.cmd('GET', '/screenshot'))
        with open(path, 'wb') as f:
            f.write(png)
        return path

    def wait(self, script, timeout, *args):
        """Poll a JS expression until it is truthy; its value, or None at timeout."""
        end = time.monotonic() + timeout
        while True:
            v = self.js(script, *args)
            if v:
                return v
            if time.monotonic() > end:
                return None
            time.sleep(0.05)

    def close(self):
        try:
            self._req('DELETE', '/session/' + self.sid)
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
