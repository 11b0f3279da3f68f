#!/usr/bin/python3
"""kv_test.py: myco-kv integration scenarios with real clients and a real
redis-server as the reference.

    kv_test.py SCENARIO --kv PATH/myco-kv [--hiredis PATH/kv_hiredis]

Scenarios:
  cli       redis-cli (RESP2 and -3), --pipe mode, errors
  redispy   redis-py (Debian python3-redis): types, pipeline, WATCH
            transaction helper, pub/sub, BLPOP across connections
  hiredis   a small C program on libhiredis (kv_hiredis.c)
  diff      seeded random command sequences on redis-server and myco-kv,
            every reply compared (sorted where Redis's order is unspecified)
  proto     bad requests (raw bytes) on both servers: same error text, the
            connection closed, the server still serving
  transfer  clients moving money between accounts with WATCH/MULTI/EXEC and
            with blind MULTI/EXEC, while readers check the total in one
            MULTI; the sum never changes
  serial    redis-py clients on many connections; every committed MULTI/EXEC
            history checked for a serial order that explains all replies
  kill9     writers under --appendfsync always, kill -9 at random moments,
            restart: every acknowledged write is there
  snapshot  BGSAVE while writing, kill -9, restart from snapshot + log
  lock      a second server on the same data directory is refused
  partition myco-kv under `myco run`: the executive's listening socket,
            killed and replaced, the WAL replayed
  enospc    a full tmpfs: writes refused with MISCONF, nothing acknowledged
            lost, writes resume when space returns

Each server listens on 127.0.0.1 (myco-kv on port 0, read back from its
readiness line); servers are killed and dirs removed even when a check
fails.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ARGS = None
PROCS = []


def log(*a):
    print(*a, flush=True)


def fail(msg):
    raise AssertionError(msg)


# ---------------------------------------------------------------- RESP client

class Err(Exception):
    pass


class Conn:
    """A minimal RESP2/RESP3 client that returns replies as Python values,
    errors as Err instances (not raised), keeping the exact text."""

    def __init__(self, port, timeout=30, host='127.0.0.1'):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    @staticmethod
    def encode(args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif isinstance(a, (int, float)):
                a = repr(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        return b''.join(out)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError('connection closed')
        self.buf += d

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        i = self.buf.index(b'\r\n')
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b'+':
            return rest.decode()
        if t == b'-':
            return Err(rest.decode())
        if t == b':':
            return int(rest)
        if t in (b'$', b'='):
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v[4:] if t == b'=' else v
        if t in (b'*', b'~', b'>'):
            n = int(rest)
            if n < 0:
                return None
            return [self.read() for _ in range(n)]
        if t == b'%':
            n = int(rest)
            return {'map': [(self.read(), self.read()) for _ in range(n)]}
        if t == b'_':
            return None
        if t == b',':
            return ('double', rest.decode())
        if t == b'#':
            return rest == b't'
        raise ValueError('bad reply type %r' % line)

    def cmd(self, *args):
        self.s.sendall(self.encode(args))
        return self.read()

    def pipeline(self, cmds):
        self.s.sendall(b''.join(self.encode(c) for c in cmds))
        return [self.read() for _ in cmds]


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Kv:
    """One myco-kv process."""

    def __init__(self, d=None, fsync='always', extra=()):
        self.dir = d
        self.fsync = fsync
        self.extra = list(extra)
        self.proc = None
        self.port = None
        PROCS.append(self)

    def start(self, expect_fail=False):
        cmd = [ARGS.kv, '--port', '0']
        if self.dir:
            cmd += ['--dir', self.dir, '--appendfsync', self.fsync]
        cmd += self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if 'ready on' not in line:
            err = self.proc.stderr.read().decode()
            self.proc.wait()
            if expect_fail:
                return err
            raise RuntimeError('myco-kv did not start: %r %r' % (line, err))
        self.port = int(line.split()[3].rsplit(':', 1)[1])
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self):
        p = self.proc
        for l in p.stderr:
            sys.stdout.write('  [myco-kv] ' + l.decode(errors='replace'))

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Redis:
    """The real redis-server as a reference, memory only."""

    def __init__(self):
        self.port = free_port()
        self.proc = None
        PROCS.append(self)

    def start(self):
        self.proc = subprocess.Popen(
            ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                Conn(self.port).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('redis-server did not start')

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    kill9 = stop


# ------------------------------------------------------------------ scenarios

def sc_cli(tmp):
    kv = Kv().start()

    def cli(*args, inp=None, resp3=False):
        cmd = ['redis-cli', '-p', str(kv.port)] + (['-3'] if resp3 else []) + list(args)
        r = subprocess.run(cmd, input=inp, capture_output=True, timeout=30)
        return r.stdout.decode()

    def expect(got, want):
        if got != want:
            fail('redis-cli: got %r want %r' % (got, want))

    expect(cli('PING'), 'PONG\n')
    expect(cli('SET', 'k', 'hello world'), 'OK\n')
    expect(cli('GET', 'k'), 'hello world\n')
    expect(cli('--no-raw', 'GET', 'k'), '"hello world"\n')
    expect(cli('INCR', 'n'), '1\n')
    expect(cli('--no-raw', 'INCR', 'n'), '(integer) 2\n')
    expect(cli('RPUSH', 'l', 'a', 'b', 'c'), '3\n')
    expect(cli('LRANGE', 'l', '0', '-1'), 'a\nb\nc\n')
    expect(cli('--no-raw', 'GET', 'missing'), '(nil)\n')
    expect(cli('--no-raw', 'LPUSH', 'k', 'x'),
           '(error) WRONGTYPE Operation against a key holding the wrong kind of value\n')
    expect(cli('--no-raw', 'NOSUCH', 'a'),
           "(error) ERR unknown command 'NOSUCH', with args beginning with: 'a' \n")
    expect(cli('--no-raw', 'GET'), "(error) ERR wrong number of arguments for 'get' command\n")
    expect(cli('HSET', 'h', 'f', '1'), '1\n')
    expect(cli('--no-raw', 'HGETALL', 'h', resp3=True), '1# "f" => "1"\n')
    expect(cli('--no-raw', 'ZADD', 'z', '1.5', 'm'), '(integer) 1\n')
    expect(cli('--no-raw', 'ZSCORE', 'z', 'm', resp3=True), '(double) 1.5\n')
    expect(cli('DBSIZE'), '5\n')
    # interactive-style input on stdin
    expect(cli(inp=b'SET a 1\nINCRBY a 41\nGET a\n'), 'OK\n42\n42\n')
    # mass insertion: --pipe with raw RESP
    data = b''.join(Conn.encode(['SET', 'p%d' % i, 'v%d' % i]) for i in range(5000))
    out = cli('--pipe', inp=data)
    if 'errors: 0, replies: 5000' not in out:
        fail('redis-cli --pipe: %r' % out)
    expect(cli('GET', 'p4999'), 'v4999\n')
    expect(cli('DBSIZE'), '5006\n')
    info = cli('INFO', 'keyspace')
    if 'db0:keys=5006' not in info:
        fail('INFO keyspace: %r' % info)
    expect(cli('CONFIG', 'GET', 'appendfsync'), 'appendfsync\neverysec\n')
    expect(cli('CLIENT', 'SETNAME', 'me'), 'OK\n')
    expect(cli('--no-raw', 'CLIENT', 'GETNAME'), '(nil)\n')   # a new connection each run
    cnt = int(cli('COMMAND', 'COUNT'))
    if cnt < 100:
        fail('COMMAND COUNT %d' % cnt)
    log('cli ok')


def sc_redispy(tmp):
    import redis
    kv = Kv().start()
    r = redis.Redis(port=kv.port)
    assert r.ping()
    assert r.set('s', 'v', ex=100) is True
    assert r.get('s') == b'v'
    assert 0 < r.ttl('s') <= 100
    assert r.set('s', 'w', nx=True) is None
    assert r.getset('s', 'x') == b'v'
    assert r.mset({'a': 1, 'b': 2}) is True
    assert r.mget('a', 'b', 'zz') == [b'1', b'2', None]
    assert r.incrbyfloat('a', 0.5) == 1.5
    assert r.append('b', 'xx') == 3
    assert r.getrange('b', 1, -1) == b'xx'
    assert r.hset('h', mapping={'f1': 'a', 'f2': 'b'}) == 2
    assert r.hgetall('h') == {b'f1': b'a', b'f2': b'b'}
    assert r.hincrby('h', 'n', 5) == 5
    assert r.sadd('set', 'x', 'y', 'z') == 3
    assert r.smembers('set') == {b'x', b'y', b'z'}
    assert r.sinter('set', 'nothing') == set()
    assert r.zadd('z', {'a': 1, 'b': 2, 'c': 3}) == 3
    assert r.zrange('z', 0, -1, withscores=True) == [(b'a', 1.0), (b'b', 2.0), (b'c', 3.0)]
    assert r.zrangebyscore('z', 2, '+inf') == [b'b', b'c']
    assert r.zrange('z', '(1', 3, byscore=True, desc=False, offset=0, num=1) == [b'b']
    assert r.zrank('z', 'c') == 2
    assert r.zincrby('z', 10, 'a') == 11.0
    assert r.rpush('l', 1, 2, 3) == 3
    assert r.lpop('l') == b'1'
    assert r.type('l') == b'list'
    assert r.exists('l', 'h', 'nope') == 2
    assert r.rename('l', 'l2') is True
    assert set(r.scan_iter(match='l*')) == {b'l2'}
    assert r.dbsize() == 7
    assert r.client_setname('py') is True
    assert r.client_getname() == 'py'
    assert r.client_id() > 0
    info = r.info()
    assert info['redis_version'] == '7.0.15' and 'db0' in info
    assert r.config_get('appendfsync') == {'appendfsync': 'everysec'}
    # pipeline (one write, many replies)
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set('pk%d' % i, i)
    p.get('pk999')
    assert p.execute()[-1] == b'999'
    # transaction helper: WATCH, then MULTI/EXEC, retried on conflict
    r.set('cnt', 0)
    other = redis.Redis(port=kv.port)

    def incr_tx(pipe):
        v = int(pipe.get('cnt'))
        if v == 0:
            other.set('cnt', 100)   # a conflict on the first try
        pipe.multi()
        pipe.set('cnt', v + 1)
    r.transaction(incr_tx, 'cnt')
    assert r.get('cnt') == b'101', r.get('cnt')
    # MULTI without WATCH
    p = r.pipeline(transaction=True)
    p.incr('cnt').incr('cnt')
    assert p.execute() == [102, 103]
    # errors
    try:
        r.lpush('s', 'x')
        fail('no WRONGTYPE')
    except redis.ResponseError as e:
        assert str(e).startswith('WRONGTYPE'), e
    # pub/sub
    ps = r.pubsub()
    ps.subscribe('news')
    ps.psubscribe('ne*')
    m = ps.get_message(timeout=5)
    assert m['type'] == 'subscribe', m
    m = ps.get_message(timeout=5)
    assert m['type'] == 'psubscribe', m
    assert other.publish('news', 'hi') == 2
    got = [ps.get_message(timeout=5), ps.get_message(timeout=5)]
    kinds = sorted((g['type'], g['data']) for g in got)
    assert kinds == [('message', b'hi'), ('pmessage', b'hi')], got
    assert other.pubsub_numsub('news') == [(b'news', 1)]
    ps.close()
    # BLPOP: one client blocks, another pushes
    res = {}

    def blocker():
        b = redis.Redis(port=kv.port)
        res['v'] = b.blpop(['q1', 'q2'], timeout=10)
    t = threading.Thread(target=blocker)
    t.start()
    time.sleep(0.3)
    other.rpush('q2', 'job')
    t.join(15)
    assert res.get('v') == (b'q2', b'job'), res
    assert r.blpop('empty', timeout=0.2) is None
    # expiry
    r.set('e', 1, px=50)
    time.sleep(0.2)
    assert r.get('e') is None
    r.flushall()
    assert r.dbsize() == 0
    log('redispy ok')


def sc_hiredis(tmp):
    kv = Kv().start()
    r = subprocess.run([ARGS.hiredis, '127.0.0.1', str(kv.port)], capture_output=True,
                       timeout=60)
    sys.stdout.write(r.stdout.decode())
    if r.returncode != 0:
        fail('hiredis program failed: %s' % r.stderr.decode())
    log('hiredis ok')


# ---- differential

KEYS = ['k%d' % i for i in range(8)]
FIELDS = ['f%d' % i for i in range(5)]
VALS = ['0', '1', '-3', '10', '3.5', 'abc', '', 'x y', '9223372036854775807', '007']
UNORDERED = {'SMEMBERS', 'SINTER', 'SUNION', 'SDIFF', 'KEYS', 'HKEYS', 'HVALS'}
PAIRED = {'HGETALL'}


def rnd_cmd(rng):
    k = rng.choice(KEYS)
    k2 = rng.choice(KEYS)
    v = rng.choice(VALS)
    f = rng.choice(FIELDS)
    n = str(rng.randint(-3, 6))
    sc = rng.choice(['1', '2', '2.5', '-1', '+inf', '-inf', '0', 'nan', 'x'])
    lex = rng.choice(['-', '+', '[a', '(b', '[k1', 'x'])
    cmds = [
        ['SET', k, v], ['SET', k, v, 'NX'], ['SET', k, v, 'XX'], ['SET', k, v, 'GET'],
        ['SET', k, v, 'EX', rng.choice(['100', '0', '-1', 'x'])], ['SETNX', k, v],
        ['GET', k], ['GETSET', k, v], ['GETDEL', k], ['MGET', k, k2], ['MSET', k, v, k2, v],
        ['MSETNX', k, v, k2, v], ['INCR', k], ['DECR', k], ['INCRBY', k, n], ['DECRBY', k, n],
        ['INCRBYFLOAT', k, rng.choice(['1.5', '-0.25', 'x', '1e3'])], ['APPEND', k, v],
        ['STRLEN', k], ['GETRANGE', k, n, rng.choice(['-1', '2', '100'])],
        ['SETRANGE', k, rng.choice(['0', '3', '-1']), v], ['DEL', k, k2], ['EXISTS', k, k2],
        ['TYPE', k], ['EXPIRE', k, rng.choice(['100', '0', 'x'])], ['PERSIST', k],
        ['RENAME', k, k2], ['RENAMENX', k, k2],
        ['LPUSH', k, v, v], ['RPUSH', k, v], ['LPUSHX', k, v], ['RPUSHX', k, v],
        ['LPOP', k], ['RPOP', k], ['LPOP', k, rng.choice(['2', '0', '-1'])], ['LLEN', k],
        ['LRANGE', k, n, rng.choice(['-1', '1', '10'])], ['LINDEX', k, n], ['LSET', k, n, v],
        ['LREM', k, n, v], ['LTRIM', k, n, rng.choice(['-1', '2'])],
        ['LINSERT', k, rng.choice(['BEFORE', 'AFTER', 'X']), v, 'new'],
        ['RPOPLPUSH', k, k2], ['LMOVE', k, k2, 'LEFT', 'RIGHT'],
        ['HSET', k, f, v], ['HSET', k, f, v, 'f9', v], ['HSETNX', k, f, v], ['HGET', k, f],
        ['HMGET', k, f, 'f9'], ['HDEL', k, f, 'f9'], ['HLEN', k], ['HEXISTS', k, f],
        ['HSTRLEN', k, f], ['HGETALL', k], ['HKEYS', k], ['HVALS', k],
        ['HINCRBY', k, f, n], ['HINCRBYFLOAT', k, f, rng.choice(['1.5', 'x'])],
        ['SADD', k, v, 'm1'], ['SREM', k, v], ['SISMEMBER', k, v], ['SMISMEMBER', k, v, 'm1'],
        ['SCARD', k], ['SMEMBERS', k], ['SMOVE', k, k2, v], ['SINTER', k, k2],
        ['SUNION', k, k2], ['SDIFF', k, k2], ['SINTERSTORE', k, k2, k], ['SUNIONSTORE', k2, k],
        ['ZADD', k, sc, v], ['ZADD', k, rng.choice(['NX', 'XX', 'GT', 'LT', 'CH']), sc, v],
        ['ZADD', k, 'INCR', sc, v], ['ZINCRBY', k, sc, v], ['ZSCORE', k, v],
        ['ZMSCORE', k, v, 'm1'], ['ZCARD', k], ['ZRANK', k, v], ['ZREVRANK', k, v],
        ['ZREM', k, v], ['ZRANGE', k, n, '-1'], ['ZRANGE', k, '0', '-1', 'WITHSCORES'],
        ['ZRANGE', k, sc, '+inf', 'BYSCORE', 'LIMIT', '0', '2'],
        ['ZRANGE', k, '+inf', sc, 'BYSCORE', 'REV', 'WITHSCORES'],
        ['ZRANGE', k, lex, '+', 'BYLEX'], ['ZREVRANGE', k, '0', n, 'WITHSCORES'],
        ['ZRANGEBYSCORE', k, '-inf', sc], ['ZREVRANGEBYSCORE', k, sc, '-inf', 'WITHSCORES'],
        ['ZRANGEBYLEX', k, '-', lex], ['ZCOUNT', k, sc, '+inf'], ['ZLEXCOUNT', k, lex, '+'],
        ['ZREMRANGEBYRANK', k, '0', n], ['ZREMRANGEBYSCORE', k, '-inf', sc],
        ['ZPOPMIN', k], ['ZPOPMAX', k, rng.choice(['2', '0'])],
        ['TTL', k], ['PTTL', k], ['DBSIZE'], ['KEYS', 'k*'], ['ECHO', v], ['PING'],
        ['NOSUCHCMD', k, v], ['GET'], ['SET', k], ['HSET', k, f],
    ]
    return rng.choice(cmds)


def normalise(cmd, rep):
    name = cmd[0].upper()
    if isinstance(rep, dict) and name in PAIRED:
        return {'map': sorted(rep['map'], key=repr)}
    if isinstance(rep, list):
        if name in UNORDERED:
            return sorted(rep, key=repr)
        if name in PAIRED:
            return sorted(zip(rep[0::2], rep[1::2]), key=repr)
    if name in ('TTL', 'PTTL') and isinstance(rep, int) and rep > 0:
        return 'positive'
    return rep


def _w(*pre, tx=(['GET', 'k'],), watch=('k',)):
    """WATCH by client 0, then pre (client, cmd) steps, then MULTI tx EXEC."""
    return ([(0, ['WATCH'] + list(watch))] + list(pre) + [(0, ['MULTI'])] +
            [(0, list(c)) for c in tx] + [(0, ['EXEC'])])


WATCH_CASES = [
    ('other client SET', _w((1, ['SET', 'k', 'v']))),
    ('SET to the same value', [(0, ['SET', 'k', 'v'])] + _w((1, ['SET', 'k', 'v']))),
    ('own write before MULTI', _w((0, ['SET', 'k', '1']))),
    ('write inside the transaction', _w(tx=(['SET', 'k', '2'], ['GET', 'k']))),
    ('DEL of a missing key', _w((1, ['DEL', 'k']))),
    ('EXPIRE of a missing key', _w((1, ['EXPIRE', 'k', '100']))),
    ('INCR then DECR', [(0, ['SET', 'k', '5'])] + _w((1, ['INCR', 'k']), (1, ['DECR', 'k']))),
    ('SET NX on an existing key', [(0, ['SET', 'k', '1'])] + _w((1, ['SET', 'k', '2', 'NX']))),
    ('SADD of a present member', [(0, ['SADD', 'k', 'x'])] +
     _w((1, ['SADD', 'k', 'x']), tx=(['SCARD', 'k'],))),
    ('SREM of a missing member', [(0, ['SADD', 'k', 'x'])] +
     _w((1, ['SREM', 'k', 'y']), tx=(['SCARD', 'k'],))),
    ('HSET of the same value', [(0, ['HSET', 'k', 'f', 'v'])] +
     _w((1, ['HSET', 'k', 'f', 'v']), tx=(['HLEN', 'k'],))),
    ('LPUSH', [(0, ['RPUSH', 'k', 'a'])] + _w((1, ['LPUSH', 'k', 'b']), tx=(['LLEN', 'k'],))),
    ('RENAME into the watched key', [(0, ['SET', 'src', '1'])] +
     _w((1, ['RENAME', 'src', 'k']))),
    ('RENAME away from the watched key', [(0, ['SET', 'k', '1'])] +
     _w((1, ['RENAME', 'k', 'other']))),
    ('PERSIST without a TTL', [(0, ['SET', 'k', '1'])] + _w((1, ['PERSIST', 'k']))),
    ('a watched key on another shard, keyless transaction',
     _w((1, ['SET', 'b', '1']), watch=('a', 'b'), tx=(['PING'],))),
    ('untouched keys, transaction across shards',
     _w((1, ['SET', 'zz', '1']), watch=('a', 'b'),
        tx=(['INCR', 'a'], ['INCR', 'b'], ['INCR', 'c'], ['MGET', 'a', 'b', 'c']))),
    ('the same key in another db',
     _w((1, ['SELECT', '1']), (1, ['SET', 'k', '1']))),
    ('WATCH after the write', [(1, ['SET', 'k', '1'])] + _w()),
    ('UNWATCH then a write', [(0, ['WATCH', 'k']), (0, ['UNWATCH']), (1, ['SET', 'k', '1']),
                              (0, ['MULTI']), (0, ['GET', 'k']), (0, ['EXEC'])]),
    ('DISCARD forgets the watch', [(0, ['WATCH', 'k']), (0, ['MULTI']), (0, ['DISCARD']),
                                   (1, ['SET', 'k', '1']), (0, ['MULTI']), (0, ['GET', 'k']),
                                   (0, ['EXEC'])]),
    ('EXEC forgets the watch', _w() + [(1, ['SET', 'k', '9']), (0, ['MULTI']),
                                      (0, ['GET', 'k']), (0, ['EXEC'])]),
    ('FLUSHDB with the key present', [(0, ['SET', 'k', '1'])] + _w((1, ['FLUSHDB']))),
    ('FLUSHDB with the key absent', [(0, ['SET', 'j', '1'])] + _w((1, ['FLUSHDB']))),
    ('GETDEL of a missing key', _w((1, ['GETDEL', 'k']))),
    ('transfer between keys of two shards, one watched and changed',
     [(0, ['SET', 'a', '10']), (0, ['SET', 'b', '10'])] +
     _w((1, ['INCRBY', 'a', '1']), watch=('a',),
        tx=(['DECRBY', 'a', '3'], ['INCRBY', 'b', '3'], ['MGET', 'a', 'b']))),
]


def sc_diff(tmp):
    ref = Redis().start()
    kv = Kv(os.path.join(tmp, 'd'), fsync='everysec').start()
    seeds = [int(s) for s in os.environ.get('KV_DIFF_SEEDS', '1,2,3,4,5,6').split(',')]
    total = 0
    for seed in seeds:
        rng = random.Random(seed)
        a, b = Conn(ref.port), Conn(kv.port)
        a.cmd('FLUSHALL')
        b.cmd('FLUSHALL')
        for i in range(2500):
            cmd = rnd_cmd(rng)
            if rng.random() < 0.05:
                # a MULTI block of a few commands
                block = [['MULTI']] + [rnd_cmd(rng) for _ in range(rng.randint(1, 4))] + [['EXEC']]
                ra = [a.cmd(*c) for c in block]
                rb = [b.cmd(*c) for c in block]
                ra = [normalise(c, x) for c, x in zip(block, ra)]
                rb = [normalise(c, x) for c, x in zip(block, rb)]
                if ra[-1] is not None and isinstance(ra[-1], list):
                    ra[-1] = [normalise(c, x) for c, x in zip(block[1:-1], ra[-1])]
                    rb[-1] = [normalise(c, x) for c, x in zip(block[1:-1], rb[-1])] \
                        if isinstance(rb[-1], list) else rb[-1]
                cmd, x, y = block, ra, rb
            else:
                x = normalise(cmd, a.cmd(*cmd))
                y = normalise(cmd, b.cmd(*cmd))
            total += 1
            if repr(x) != repr(y):
                fail('seed %d step %d: %r\n  redis-server: %r\n  myco-kv:      %r'
                     % (seed, i, cmd, x, y))
        # whole keyspace equal at the end
        for k in KEYS:
            ta, tb = a.cmd('TYPE', k), b.cmd('TYPE', k)
            assert ta == tb, (seed, k, ta, tb)
        a.close()
        b.close()
    # two clients interleaved, with WATCH/MULTI/EXEC/DISCARD/UNWATCH in the
    # mix: WATCH must abort exactly when Redis aborts, in both protocols
    for seed in seeds:
        rng = random.Random(1000 + seed)
        ca = [Conn(ref.port), Conn(ref.port)]
        cb = [Conn(kv.port), Conn(kv.port)]
        ca[0].cmd('FLUSHALL')
        cb[0].cmd('FLUSHALL')
        if seed % 2:
            ca[1].cmd('HELLO', '3')
            cb[1].cmd('HELLO', '3')
        for i in range(1500):
            who = rng.randrange(2)
            r = rng.random()
            k = rng.choice(KEYS)
            if r < 0.08:
                cmd = ['WATCH', k] + ([rng.choice(KEYS)] if rng.random() < 0.5 else [])
            elif r < 0.13:
                cmd = ['MULTI']
            elif r < 0.19:
                cmd = ['EXEC']
            elif r < 0.21:
                cmd = ['DISCARD']
            elif r < 0.23:
                cmd = ['UNWATCH']
            elif r < 0.24:
                cmd = ['FLUSHDB']
            else:
                cmd = rnd_cmd(rng)
            x = ca[who].cmd(*cmd)
            y = cb[who].cmd(*cmd)
            if cmd[0] == 'EXEC' and isinstance(x, list) and isinstance(y, list):
                x, y = len(x), len(y)   # contents compared key by key below
            else:
                x, y = normalise(cmd, x), normalise(cmd, y)
            total += 1
            if repr(x) != repr(y):
                fail('two clients, seed %d step %d client %d: %r\n  redis-server: %r\n'
                     '  myco-kv:      %r' % (seed, i, who, cmd, x, y))
        for c in ca + cb:
            c.close()
    # WATCH edge cases, scripted: which writes count as a change
    for name, steps in WATCH_CASES:
        ca = [Conn(ref.port), Conn(ref.port)]
        cb = [Conn(kv.port), Conn(kv.port)]
        ca[0].cmd('FLUSHALL')
        cb[0].cmd('FLUSHALL')
        for i, (who, cmd) in enumerate(steps):
            x = normalise(cmd, ca[who].cmd(*cmd))
            y = normalise(cmd, cb[who].cmd(*cmd))
            total += 1
            if repr(x) != repr(y):
                fail('WATCH case %r step %d client %d: %r\n  redis-server: %r\n'
                     '  myco-kv:      %r' % (name, i, who, cmd, x, y))
        for c in ca + cb:
            c.close()
    # the data survives a restart (the WAL replays to the same state)
    c = Conn(kv.port)
    snap = dump_state(c)
    c.close()
    kv.stop()
    kv.start()
    c = Conn(kv.port)
    after = dump_state(c)
    if snap != after:
        fail('state after restart differs:\n%r\n%r' % (snap, after))
    log('diff ok: %d commands over %d seeds identical; restart replayed the same state'
        % (total, len(seeds)))


def dump_state(c):
    out = {}
    for k in sorted(x.decode() for x in c.cmd('KEYS', '*')):
        t = c.cmd('TYPE', k)
        if t == 'string':
            v = c.cmd('GET', k)
        elif t == 'list':
            v = c.cmd('LRANGE', k, 0, -1)
        elif t == 'hash':
            r = c.cmd('HGETALL', k)
            v = sorted(zip(r[0::2], r[1::2]))
        elif t == 'set':
            v = sorted(c.cmd('SMEMBERS', k))
        else:
            v = c.cmd('ZRANGE', k, 0, -1, 'WITHSCORES')
        out[k] = (t, v, c.cmd('TTL', k) > 0)
    return out


PROTO_CASES = [
    b'*1\r\n$4\r\nPING\r\n*x\r\n',
    b'*2\r\n$3\r\nGET\r\n:1\r\n',
    b'*1\r\n$-5\r\n',
    b'*1\r\n$abc\r\n',
    b'*-1\r\nPING\r\n',
    b'*3000000000\r\n',
    b'SET "unbalanced x\r\n',
    b"SET 'a'b c\r\n",
    b'*1\r\n$999999999999\r\n',
]


def sc_proto(tmp):
    ref = Redis().start()
    kv = Kv().start()
    for case in PROTO_CASES:
        outs = []
        for port in (ref.port, kv.port):
            c = Conn(port, timeout=5)
            c.send_raw(case)
            replies = []
            try:
                while True:
                    replies.append(c.read())
            except (EOFError, ConnectionResetError):
                replies.append('<closed>')
            except socket.timeout:
                replies.append('<open>')
            c.close()
            outs.append(replies)
        if repr(outs[0]) != repr(outs[1]):
            fail('protocol case %r:\n  redis-server: %r\n  myco-kv:      %r'
                 % (case, outs[0], outs[1]))
        log('  %r -> %r' % (case, outs[1]))
    # pub/sub in both protocols, replies and pushes compared with Redis
    for proto in ('2', '3'):
        outs = []
        for port in (ref.port, kv.port):
            sub, pub = Conn(port), Conn(port)
            seq = [sub.cmd('HELLO', proto)['map'][2] if proto == '3' else sub.cmd('PING')]
            sub.send_raw(Conn.encode(['SUBSCRIBE', 'a', 'b']) + Conn.encode(['PSUBSCRIBE', 'x*']))
            seq += [sub.read(), sub.read(), sub.read()]
            seq.append(sub.cmd('PING'))
            if proto == '2':
                seq.append(sub.cmd('GET', 'k'))   # refused in RESP2 subscribed mode
            seq.append(pub.cmd('PUBLISH', 'a', 'm1'))
            seq.append(pub.cmd('PUBLISH', 'xy', 'm2'))
            seq += [sub.read(), sub.read()]
            seq.append(pub.cmd('PUBSUB', 'NUMSUB', 'a', 'zz'))
            seq.append(pub.cmd('PUBSUB', 'NUMPAT'))
            sub.send_raw(Conn.encode(['UNSUBSCRIBE']))
            # order unspecified: which channel goes first, and so each count
            u = [sub.read(), sub.read()]
            seq += [sorted(x[1] for x in u), sorted(x[2] for x in u)]
            seq.append(sub.cmd('PUNSUBSCRIBE', 'x*'))
            seq.append(sub.cmd('PING'))
            sub.close()
            pub.close()
            outs.append(seq)
        if repr(outs[0]) != repr(outs[1]):
            fail('pub/sub RESP%s:\n  redis-server: %r\n  myco-kv:      %r'
                 % (proto, outs[0], outs[1]))
        log('  pub/sub RESP%s identical: %d replies' % (proto, len(outs[1])))
    # inline commands and a pipeline still work after all that
    c = Conn(kv.port)
    c.send_raw(b'SET a "x y"\r\nGET a\r\nPING\n')
    assert [c.read(), c.read(), c.read()] == ['OK', b'x y', 'PONG']
    log('proto ok')


def info_stats(c, prefix):
    """The integer fields of INFO stats whose names start with prefix."""
    out = {}
    raw = c.cmd('INFO', 'stats')
    if isinstance(raw, bytes):
        raw = raw.decode()
    for line in raw.splitlines():
        if line.startswith(prefix) and ':' in line:
            k, v = line.split(':', 1)
            out[k] = int(v)
    return out


def sc_transfer(tmp):
    kv = Kv(os.path.join(tmp, 't'), fsync='everysec').start()
    n_acc, start = 16, 1000
    c = Conn(kv.port)
    for i in range(n_acc):
        c.cmd('SET', 'acct:%d' % i, start)
    total = n_acc * start
    stop = time.time() + float(os.environ.get('KV_TRANSFER_SECONDS', '6'))
    stats = {'watch_ok': 0, 'watch_abort': 0, 'blind': 0, 'reads': 0}
    errors = []
    lock = threading.Lock()

    def watcher(seed):
        rng = random.Random(seed)
        cc = Conn(kv.port)
        while time.time() < stop:
            a, b = rng.sample(range(n_acc), 2)
            ka, kb = 'acct:%d' % a, 'acct:%d' % b
            amt = rng.randint(1, 50)
            cc.cmd('WATCH', ka, kb)
            va = int(cc.cmd('GET', ka))
            cc.cmd('GET', kb)
            if va < amt:
                cc.cmd('UNWATCH')
                continue
            r = cc.pipeline([['MULTI'], ['DECRBY', ka, amt], ['INCRBY', kb, amt], ['EXEC']])
            with lock:
                if r[-1] is None:
                    stats['watch_abort'] += 1
                else:
                    stats['watch_ok'] += 1
                    if r[-1][0] < 0:
                        errors.append('balance went negative through WATCH: %r' % r)

    def blind(seed):
        rng = random.Random(seed)
        cc = Conn(kv.port)
        while time.time() < stop:
            a, b = rng.sample(range(n_acc), 2)
            amt = rng.randint(1, 5)
            r = cc.pipeline([['MULTI'], ['DECRBY', 'acct:%d' % a, amt],
                             ['INCRBY', 'acct:%d' % b, amt], ['EXEC']])
            if not isinstance(r[-1], list):
                errors.append('blind transfer failed: %r' % r)
            with lock:
                stats['blind'] += 1

    def reader():
        cc = Conn(kv.port)
        keys = ['acct:%d' % i for i in range(n_acc)]
        while time.time() < stop:
            r = cc.pipeline([['MULTI']] + [['GET', k] for k in keys] + [['EXEC']])
            s = sum(int(x) for x in r[-1])
            if s != total:
                errors.append('a MULTI read saw total %d, not %d' % (s, total))
            s2 = sum(int(x) for x in cc.cmd('MGET', *keys))
            if s2 != total:
                errors.append('an MGET saw total %d, not %d' % (s2, total))
            with lock:
                stats['reads'] += 2

    ts = [threading.Thread(target=watcher, args=(i,)) for i in range(4)]
    ts += [threading.Thread(target=blind, args=(100 + i,)) for i in range(3)]
    ts += [threading.Thread(target=reader) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    final = sum(int(c.cmd('GET', 'acct:%d' % i)) for i in range(n_acc))
    log('transfer:', stats, 'final total', final)
    tx = info_stats(c, 'tx_')
    log('transfer: server transaction counters', tx)
    if tx.get('tx_optimistic_commits', 0) == 0:
        fail('no EXEC committed through the optimistic path: %r' % tx)
    if errors:
        fail('; '.join(errors[:5]))
    if final != total:
        fail('total %d != %d' % (final, total))
    if stats['watch_ok'] == 0 or stats['watch_abort'] == 0:
        fail('the workload did not exercise both WATCH outcomes: %r' % stats)
    # the same total after a restart (transactions replay whole)
    kv.stop()
    kv.start()
    c = Conn(kv.port)
    final = sum(int(c.cmd('GET', 'acct:%d' % i)) for i in range(n_acc))
    if final != total:
        fail('after restart total %d != %d' % (final, total))
    log('transfer ok')


def sc_serial(tmp):
    """Conflict-serializability of MULTI/EXEC, checked on the history.

    redis-py clients on many connections (two loops, eight shards) run
    transactions that each touch two or three accounts: INCR cnt:A (the
    reply is the transaction's place in A's order), RPUSH hist:A its id,
    and a transfer between the accounts' balances; some WATCH a balance
    first (redis-py's transaction helper: aborted ones retried).  Read-only
    transactions GET every counter and balance in one MULTI.  Then:
    every committed write is in each of its accounts' hist lists exactly
    once at the place its INCR saw, no aborted one is anywhere, every read
    saw the whole total, and the graph of the orders observed (hist order,
    and each read placed between the writes it saw and the ones it did not)
    has no cycle: a serial order exists that explains every reply.  The
    state is the same after a restart (the WAL replays whole
    transactions)."""
    import redis
    kv = Kv(os.path.join(tmp, 's'), fsync='everysec',
            extra=['--threads', '2', '--shards', '8']).start()
    n_acc, start = 12, 1000
    total = n_acc * start
    r0 = redis.Redis(port=kv.port)
    for i in range(n_acc):
        r0.set('bal:%d' % i, start)
        r0.set('cnt:%d' % i, 0)
    secs = float(os.environ.get('KV_SERIAL_SECONDS', '5'))
    stop = time.time() + secs
    lock = threading.Lock()
    writes = {}      # txid -> {acct: incr reply}
    aborted = []     # txids of WATCH transactions that did not commit
    reads = []       # [{acct: cnt seen}]
    errors = []

    def writer(wid):
        rng = random.Random(wid)
        r = redis.Redis(port=kv.port)
        seq = 0
        while time.time() < stop:
            seq += 1
            txid = '%d.%d' % (wid, seq)
            accts = rng.sample(range(n_acc), rng.choice((2, 3)))
            amt = rng.randint(1, 20)
            try:
                with r.pipeline(transaction=True) as p:
                    if wid % 3 == 0:
                        # WATCH the payer, check the balance, then write
                        p.watch('bal:%d' % accts[0])
                        if int(p.get('bal:%d' % accts[0])) < amt:
                            p.unwatch()
                            continue
                        p.multi()
                    for a in accts:
                        p.incr('cnt:%d' % a)
                        p.rpush('hist:%d' % a, txid)
                    p.decrby('bal:%d' % accts[0], amt)
                    p.incrby('bal:%d' % accts[1], amt)
                    res = p.execute()
            except redis.WatchError:
                with lock:
                    aborted.append(txid)
                continue
            got = {a: res[2 * i] for i, a in enumerate(accts)}
            with lock:
                writes[txid] = got

    def reader(rid):
        r = redis.Redis(port=kv.port)
        while time.time() < stop:
            p = r.pipeline(transaction=True)
            for i in range(n_acc):
                p.get('cnt:%d' % i)
            for i in range(n_acc):
                p.get('bal:%d' % i)
            res = p.execute()
            seen = sum(int(x) for x in res[n_acc:])
            with lock:
                if seen != total:
                    errors.append('a read-only transaction saw total %d, not %d'
                                  % (seen, total))
                reads.append({i: int(res[i]) for i in range(n_acc)})

    ts = [threading.Thread(target=writer, args=(w,)) for w in range(12)]
    ts += [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        fail('; '.join(errors[:5]))
    hist = {}
    for a in range(n_acc):
        hist[a] = [x.decode() for x in r0.lrange('hist:%d' % a, 0, -1)]
        if int(r0.get('cnt:%d' % a)) != len(hist[a]):
            fail('account %d: counter %s but %d in its history'
                 % (a, r0.get('cnt:%d' % a), len(hist[a])))
    pos = {}
    for a, l in hist.items():
        for i, txid in enumerate(l):
            if (txid, a) in pos:
                fail('%s twice in the history of account %d' % (txid, a))
            pos[(txid, a)] = i + 1
    for txid in aborted:
        if any((txid, a) in pos for a in range(n_acc)):
            fail('aborted transaction %s left a write' % txid)
    for txid, got in writes.items():
        for a, v in got.items():
            if pos.get((txid, a)) != v:
                fail('%s: INCR of account %d said %d, its place in the history is %r'
                     % (txid, a, v, pos.get((txid, a))))
    nw = sum(len(l) for l in hist.values())
    if nw != sum(len(g) for g in writes.values()):
        fail('the histories hold %d writes, the clients saw %d committed'
             % (nw, sum(len(g) for g in writes.values())))
    # the precedence graph: hist order, reads between what they saw
    succ = {}
    indeg = {}

    def edge(u, v):
        succ.setdefault(u, []).append(v)
        indeg[v] = indeg.get(v, 0) + 1
        indeg.setdefault(u, indeg.get(u, 0))
    for a, l in hist.items():
        for i in range(len(l) - 1):
            edge(('w', l[i]), ('w', l[i + 1]))
    for ri, seen in enumerate(reads):
        for a, v in seen.items():
            if v > len(hist[a]):
                fail('a read saw counter %d of account %d, beyond its history' % (v, a))
            if v > 0:
                edge(('w', hist[a][v - 1]), ('r', ri))
            if v < len(hist[a]):
                edge(('r', ri), ('w', hist[a][v]))
    queue = [u for u, d in indeg.items() if d == 0]
    done = 0
    while queue:
        u = queue.pop()
        done += 1
        for v in succ.get(u, ()):
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    if done != len(indeg):
        stuck = [u for u, d in indeg.items() if d > 0][:6]
        fail('no serial order explains the replies (a cycle through %r)' % stuck)
    bal = sum(int(r0.get('bal:%d' % i)) for i in range(n_acc))
    if bal != total:
        fail('total %d != %d' % (bal, total))
    c = Conn(kv.port)
    tx = info_stats(c, 'tx_')
    c.close()
    log('serial: %d write transactions committed (%d WATCH aborts), %d read-only; '
        'a serial order exists for all; server counters %r'
        % (len(writes), len(aborted), len(reads), tx))
    if not writes or not reads:
        fail('the workload did not run: %d writes, %d reads' % (len(writes), len(reads)))
    c = Conn(kv.port)
    before = dump_state(c)
    c.close()
    kv.stop()
    kv.start()
    c = Conn(kv.port)
    after = dump_state(c)
    c.close()
    if before != after:
        fail('state after restart differs')
    log('serial ok')


def writer_loop(port, wid, acked, stop_evt, lock):
    """SET w<wid>:<n> n, and an RPUSH and a MULTI pair; record what was
    acknowledged."""
    try:
        c = Conn(port, timeout=10)
        n = 0
        while not stop_evt.is_set():
            n += 1
            if n % 3 == 0:
                r = c.pipeline([['MULTI'], ['SET', 'm%d:%d:a' % (wid, n), n],
                                ['SET', 'm%d:%d:b' % (wid, n), n], ['EXEC']])
                ok = isinstance(r[-1], list)
                keys = ['m%d:%d:a' % (wid, n), 'm%d:%d:b' % (wid, n)]
            else:
                ok = c.cmd('SET', 'w%d:%d' % (wid, n), n) == 'OK'
                keys = ['w%d:%d' % (wid, n)]
            r2 = c.cmd('RPUSH', 'list%d' % wid, n)
            if not ok or not isinstance(r2, int):
                break
            with lock:
                acked.extend((k, str(n)) for k in keys)
                acked.append(('list%d' % wid, r2, str(n)))
    except (EOFError, OSError):
        pass


def sc_kill9(tmp):
    d = os.path.join(tmp, 'k9')
    kv = Kv(d, fsync='always').start()
    rng = random.Random(int(os.environ.get('KV_SEED', '9')))
    acked, lock = [], threading.Lock()
    rounds = int(os.environ.get('KV_KILL_ROUNDS', '5'))
    for rnd in range(rounds):
        stop_evt = threading.Event()
        ts = [threading.Thread(target=writer_loop, args=(kv.port, rnd * 10 + w, acked, stop_evt, lock))
              for w in range(4)]
        for t in ts:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))
        kv.kill9()
        stop_evt.set()
        for t in ts:
            t.join()
        kv.start()
        c = Conn(kv.port)
        with lock:
            items = list(acked)
        missing = 0
        lists = {}
        for it in items:
            if len(it) == 2:
                if c.cmd('GET', it[0]) != it[1].encode():
                    missing += 1
            else:
                lists.setdefault(it[0], []).append((it[1], it[2]))
        for lk, entries in lists.items():
            got = c.cmd('LRANGE', lk, 0, -1)
            for pos, val in entries:
                if pos > len(got) or got[pos - 1] != val.encode():
                    missing += 1
        log('round %d: %d acknowledged writes checked, %d missing' % (rnd, len(items), missing))
        if missing:
            fail('%d acknowledged writes lost after kill -9' % missing)
        if len(items) == 0:
            fail('no write was acknowledged in round %d' % rnd)
        c.close()
    log('kill9 ok')


def sc_snapshot(tmp):
    d = os.path.join(tmp, 'snap')
    kv = Kv(d, fsync='always').start()
    c = Conn(kv.port)
    for i in range(3000):
        c.cmd('SET', 'a%d' % i, i)
    c.cmd('RPUSH', 'big', *range(2000))
    c.cmd('HSET', 'h', *sum([['f%d' % i, i] for i in range(1500)], []))
    c.cmd('ZADD', 'z', *sum([[i / 3, 'm%d' % i] for i in range(1500)], []))
    c.cmd('SADD', 's', *range(1200))
    c.cmd('SET', 'ttl', 'x', 'EX', 1000)
    assert c.cmd('BGSAVE') == 'Background saving started'
    for i in range(3000, 4000):
        c.cmd('SET', 'a%d' % i, i)
    for _ in range(100):
        info = c.cmd('INFO', 'persistence').decode()
        if 'snapshots:1' in info:
            break
        time.sleep(0.05)
    else:
        fail('snapshot did not finish: %s' % info)
    for i in range(4000, 4500):
        c.cmd('SET', 'a%d' % i, i)
    files = sorted(os.listdir(d))
    log('files after snapshot:', files)
    if 'snapshot.kv' not in files or 'wal.1' in files:
        fail('expected snapshot.kv and the old log removed: %r' % files)
    want = dump_state(c)
    kv.kill9()
    kv.start()
    c = Conn(kv.port)
    got = dump_state(c)
    if want != got:
        fail('state after snapshot + log replay differs')
    log('snapshot ok: %d keys restored from snapshot + log' % len(got))


def sc_lock(tmp):
    d = os.path.join(tmp, 'lk')
    a = Kv(d).start()
    err = Kv(d).start(expect_fail=True)
    if not isinstance(err, str) or 'locked by another process' not in err:
        fail('second server on the same dir: %r' % err)
    a.stop()
    b = Kv(d).start()
    b.stop()
    log('lock ok:', err.strip())


def sc_enospc(tmp):
    mnt = os.path.join(tmp, 'small')
    os.mkdir(mnt)
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt],
                       capture_output=True)
    if r.returncode != 0:
        log('SKIP: cannot mount a tmpfs (%s)' % r.stderr.decode().strip())
        sys.exit(77)
    try:
        d = os.path.join(mnt, 'data')
        kv = Kv(d, fsync='always', extra=['--auto-snapshot-bytes', '0']).start()
        c = Conn(kv.port)
        acked = {}
        filler = os.path.join(mnt, 'filler')
        with open(filler, 'wb') as f:
            try:
                f.write(b'\0' * (1900 * 1024))
            except OSError:
                pass
        val = 'v' * 1000
        c.s.settimeout(2)
        pending = None
        for i in range(5000):
            # a reply only comes once the write is durable: on a full disk
            # it does not come (the record waits in memory for space)
            try:
                r = c.cmd('SET', 'k%d' % i, val + str(i))
            except socket.timeout:
                pending = 'k%d' % i
                break
            if r != 'OK':
                fail('unexpected reply %r' % r)
            acked['k%d' % i] = val + str(i)
        if not pending:
            fail('the disk never filled up')
        # meanwhile other clients: reads work, writes are refused
        c2 = Conn(kv.port, timeout=5)
        r = c2.cmd('SET', 'other', 'x')
        if not (isinstance(r, Err) and str(r).startswith('MISCONF')):
            fail('a write on a full disk got %r, not MISCONF' % r)
        log('full after %d acknowledged writes; %s waits; others get: %s'
            % (len(acked), pending, r))
        some = next(iter(acked))
        assert c2.cmd('GET', some) == acked[some].encode()
        os.unlink(filler)
        # the pending write completes once there is space
        c.s.settimeout(20)
        r = c.read()
        if r != 'OK':
            fail('the pending write got %r after space came back' % r)
        acked[pending] = val + pending[1:]
        for _ in range(100):
            r = c2.cmd('SET', 'after', 'space')
            if r == 'OK':
                break
            time.sleep(0.1)
        else:
            fail('writes did not resume after space came back: %r' % r)
        acked['after'] = 'space'
        kv.kill9()
        kv.start()
        c = Conn(kv.port)
        lost = [k for k, v in acked.items() if c.cmd('GET', k) != v.encode()]
        if lost:
            fail('%d acknowledged writes lost after ENOSPC: %r' % (len(lost), lost[:5]))
        log('enospc ok: %d writes survived' % len(acked))
        kv.stop()
    finally:
        for p in PROCS:
            p.kill9() if hasattr(p, 'kill9') else None
        subprocess.run(['umount', '-l', mnt])


def sc_partition(tmp):
    """myco-kv as a partition of a system run by the executive: it serves
    the listening socket the executive holds for its declared port, is
    killed, and its replacement replays the WAL: nothing acknowledged lost."""
    if not ARGS.myco:
        log('SKIP: no myco command built')
        sys.exit(77)
    port = free_port()
    sysfile = os.path.join(tmp, 'system.myco')
    rt = os.path.join(tmp, 'rt')
    data = os.path.join(tmp, 'data')
    with open(sysfile, 'w') as f:
        f.write('''system kvtest {
    partition kv {
        program "%s";
        args "--dir", "%s", "--appendfsync", "always", "--threads", "2";
        listen %d;
        path "%s" rw;
        memory 512 MiB;
        restart permanent;
        heartbeat 500 ms;
        readiness required;
    }
}
''' % (ARGS.kv, data, port, tmp))
    ex = subprocess.Popen([ARGS.myco, 'run', sysfile, '--runtime-dir', rt],
                          stdout=open(os.path.join(tmp, 'exec.log'), 'wb'),
                          stderr=subprocess.STDOUT)
    try:
        c = None
        end = time.time() + 20
        while time.time() < end:
            try:
                c = Conn(port, timeout=5)
                if c.cmd('PING') == 'PONG':
                    break
            except (OSError, EOFError):
                time.sleep(0.2)
        if not c:
            fail('the partition does not serve')
        for i in range(500):
            assert c.cmd('SET', 'p%d' % i, i) == 'OK'
        r = subprocess.run([ARGS.myco, 'kill', 'kv', '--runtime-dir', rt], capture_output=True)
        if r.returncode != 0:
            fail('myco kill kv: %r' % r)
        end = time.time() + 20
        while time.time() < end:
            try:
                c = Conn(port, timeout=5)
                if c.cmd('PING') == 'PONG':
                    break
            except (OSError, EOFError):
                time.sleep(0.1)
        for i in range(500, 600):
            assert c.cmd('SET', 'p%d' % i, i) == 'OK'
        missing = [i for i in range(600) if c.cmd('GET', 'p%d' % i) != str(i).encode()]
        if missing:
            fail('%d keys lost across the restart: %r' % (len(missing), missing[:5]))
        r = subprocess.run([ARGS.myco, 'logs', 'kv', '--runtime-dir', rt], capture_output=True)
        if b"serving the system's listening socket for port %d" % port not in r.stdout:
            fail('myco-kv did not take the inherited socket: %r' % r.stdout[-2000:])
        log('partition ok: 600 keys across a kill and replacement')
    finally:
        subprocess.run([ARGS.myco, 'stop', '--all', '--runtime-dir', rt], capture_output=True,
                       timeout=30)
        try:
            ex.wait(15)
        except subprocess.TimeoutExpired:
            ex.kill()
            ex.wait()
        with open(os.path.join(tmp, 'exec.log'), 'rb') as f:
            log(f.read().decode(errors='replace')[-2000:])


SCENARIOS = {'partition': sc_partition, 'cli': sc_cli, 'redispy': sc_redispy, 'hiredis': sc_hiredis, 'diff': sc_diff,
             'proto': sc_proto, 'transfer': sc_transfer, 'serial': sc_serial,
             'kill9': sc_kill9,
             'snapshot': sc_snapshot, 'lock': sc_lock, 'enospc': sc_enospc}


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument('scenario', choices=sorted(SCENARIOS))
    ap.add_argument('--kv', required=True)
    ap.add_argument('--hiredis')
    ap.add_argument('--myco')
    ARGS = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='kvtest-')
    try:
        SCENARIOS[ARGS.scenario](tmp)
    finally:
        for p in PROCS:
            try:
                p.kill9()
            except Exception:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
