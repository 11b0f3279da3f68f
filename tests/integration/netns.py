"""netns.py: what the multi-node tests share (kv_raft_test.py,
log_repl_test.py): a hub namespace with a bridge, one network namespace
per node, a veth from the root namespace for the clients, nftables sets to
cut links and tc to slow them, and a wait helper.  Needs root.
"""
import fcntl
import os
import subprocess
import time


def fail(msg):
    raise AssertionError(msg)


def run(cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r


def wait_for(what, cond, limit=60.0, step=0.02):
    """Wait until cond() is true; `limit` only bounds a hang (a failure),
    it is not a performance threshold."""
    end = time.monotonic() + limit
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            fail('gave up waiting for ' + what)
        time.sleep(step)


class Net:
    """A hub namespace with a bridge, one namespace per node, one veth from
    the root namespace for the clients; nftables sets to cut links and tc
    to slow them."""

    def __init__(self, n, tag='kr'):
        self.tag = tag + '%d' % (os.getpid() % 100000)
        self.hub = self.tag + 'h'
        self.ns = ['%sn%d' % (self.tag, i + 1) for i in range(n)]
        self.n = n
        # Tests run in parallel (kv's raft tests, log's cluster tests): the
        # choice of a free /24 and its route (the client veth, made at the
        # end of up()) happen under one host-wide lock, so two of them
        # never pick the same subnet.
        self.lock = open('/run/lock/myco-test-netns.lock', 'w')
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        routes = run(['ip', '-4', 'route', 'show']).stdout
        for k in range(os.getpid() % 200, os.getpid() % 200 + 200):
            net = '10.%d.%d' % (200 + (k // 250) % 50, k % 250)
            if net + '.0/24' not in routes:
                break
        self.net = net
        self.ips = ['%s.%d' % (net, i + 1) for i in range(n)]
        self.client_ip = net + '.100'
        self.made = False
        self.netem = None

    def up(self):
        self.made = True
        t = self.tag
        run(['ip', 'netns', 'add', self.hub])
        run(['ip', '-n', self.hub, 'link', 'add', 'br0', 'type', 'bridge'])
        run(['ip', '-n', self.hub, 'link', 'set', 'br0', 'up'])
        for i, ns in enumerate(self.ns):
            a, b = '%sa%d' % (t, i + 1), '%sb%d' % (t, i + 1)
            run(['ip', 'netns', 'add', ns])
            run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b])
            run(['ip', 'link', 'set', a, 'netns', ns])
            run(['ip', 'link', 'set', b, 'netns', self.hub])
            run(['ip', '-n', ns, 'link', 'set', a, 'name', 'eth0'])
            run(['ip', '-n', ns, 'addr', 'add', self.ips[i] + '/24', 'dev', 'eth0'])
            run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
            run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
            run(['ip', '-n', self.hub, 'link', 'set', b, 'master', 'br0'])
            run(['ip', '-n', self.hub, 'link', 'set', b, 'up'])
            nft = ('add table inet kvt\n'
                   'add set inet kvt cut { type ipv4_addr; }\n'
                   'add chain inet kvt in { type filter hook input priority 0; }\n'
                   'add chain inet kvt out { type filter hook output priority 0; }\n'
                   'add rule inet kvt in ip saddr @cut drop\n'
                   'add rule inet kvt out ip daddr @cut drop\n')
            r = subprocess.run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], input=nft,
                               capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError('nft: ' + r.stderr)
        c, d = t + 'c', t + 'd'
        run(['ip', 'link', 'add', c, 'type', 'veth', 'peer', 'name', d])
        run(['ip', 'link', 'set', d, 'netns', self.hub])
        run(['ip', '-n', self.hub, 'link', 'set', d, 'master', 'br0'])
        run(['ip', '-n', self.hub, 'link', 'set', d, 'up'])
        run(['ip', 'addr', 'add', self.client_ip + '/24', 'dev', c])
        run(['ip', 'link', 'set', c, 'up'])
        self.unlock()

    def unlock(self):
        if self.lock:
            self.lock.close()        # releases the flock
            self.lock = None

    def cut(self, i, j):
        """Drop everything between nodes i and j (both ways, both ends)."""
        for a, b in ((i, j), (j, i)):
            run(['ip', 'netns', 'exec', self.ns[a], 'nft', 'add', 'element', 'inet', 'kvt',
                 'cut', '{ %s }' % self.ips[b]])

    def heal(self):
        for ns in self.ns:
            run(['ip', 'netns', 'exec', ns, 'nft', 'flush', 'set', 'inet', 'kvt', 'cut'])

    def slow(self, i):
        """Delay node i's link: netem when the kernel has it, else a tbf
        rate limit (queueing delay under load)."""
        ns = self.ns[i]
        if self.netem is None:
            r = run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root',
                     'netem', 'delay', '25ms', '10ms'], check=False)
            self.netem = r.returncode == 0
            if self.netem:
                return 'netem delay 25ms +-10ms'
        if self.netem:
            run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root',
                 'netem', 'delay', '25ms', '10ms'])
            return 'netem delay 25ms +-10ms'
        run(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf',
             'rate', '400kbit', 'burst', '4kb', 'latency', '300ms'])
        return 'tbf rate 400kbit latency 300ms (no netem in this kernel)'

    def unslow(self, i):
        run(['ip', 'netns', 'exec', self.ns[i], 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'],
            check=False)

    def down(self):
        self.unlock()
        if not self.made:
            return
        for ns in self.ns + [self.hub]:
            run(['ip', 'netns', 'del', ns], check=False)
        run(['ip', 'link', 'del', self.tag + 'c'], check=False)
