#!/usr/bin/python3
"""log_test.py: myco-log integration scenarios with real Kafka clients.

    log_test.py SCENARIO --broker PATH/myco-log --client PATH/rdk_client

Scenarios: roundtrip (librdkafka 100k messages + kcat, compression),
partition (under `myco run`: killed and replaced, data intact),
group (kafka-python consumer group rebalance, commits survive a restart),
rdkgroup (librdkafka consumer group through kcat -G, commits on close),
idempotent (retries after dropped connections store no duplicate),
kill9 (kill -9 during produce with --fsync always), malformed (raw bad
requests get errors, the broker keeps serving), rebind (started while its
port is still held, restarted at once after kill -9).

Every broker listens on 127.0.0.1 port 0 (the port is read from its
readiness line) with a temp data dir; brokers are killed and dirs removed
even when a check fails.  Needs the system python3 (python3-kafka), kcat.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ARGS = None
BROKERS = []


def log(*a):
    print(*a, flush=True)


CODEC_IDS = {'gzip': 1, 'snappy': 2, 'lz4': 3, 'zstd': 4}


def stored_codecs(data, topic):
    """The compression codecs (attributes & 7) of every RecordBatch stored in
    the segment files of all partitions of `topic`."""
    import glob
    import struct
    seen = set()
    for path in glob.glob(os.path.join(data, glob.escape(topic) + '-*', '*.log')):
        with open(path, 'rb') as f:
            buf = f.read()
        pos = 0
        while pos + 23 <= len(buf):
            length = struct.unpack_from('>i', buf, pos + 8)[0]
            attrs = struct.unpack_from('>h', buf, pos + 21)[0]
            seen.add(attrs & 7)
            pos += 12 + length
    return seen


class Broker:
    def __init__(self, data, *extra):
        self.data = data
        self.extra = list(extra)
        self.proc = None
        self.addr = None
        self.errlog = os.path.join(os.path.dirname(data), 'broker-%d.log' % len(BROKERS))
        BROKERS.append(self)

    def start(self):
        self.err = open(self.errlog, 'ab')
        self.proc = subprocess.Popen(
            [ARGS.broker, '--listen', '127.0.0.1:0', '--data', self.data] + self.extra,
            stdout=subprocess.PIPE, stderr=self.err)
        line = self.proc.stdout.readline().decode()
        if 'listening on' not in line:
            raise RuntimeError('broker did not start: %r' % line)
        self.addr = line.split()[3]
        log('broker up at', self.addr, ' '.join(self.extra))
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        with open(self.errlog, 'rb') as f:
            return f.read().decode(errors='replace')


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log('ok:', what)


def run(cmd, timeout=90, **kw):
    log('$', ' '.join(cmd))
    return subprocess.run(cmd, timeout=timeout, **kw)


def client(*a, timeout=90):
    return run([ARGS.client] + list(a), timeout=timeout).returncode


# ---------------------------------------------------------------- scenarios

def s_roundtrip(tmp):
    # small segments: fetches cross segment files (several spliced ranges)
    b = Broker(os.path.join(tmp, 'data'), '--partitions', '3', '--segment-bytes', '1048576').start()
    n = 100000
    check(client('produce', b.addr, 'rt', str(n)) == 0, '%d messages acknowledged' % n)
    check(client('verify', b.addr, 'rt', str(n), '--exact', '--ordered') == 0,
          'every byte, key, header and timestamp read back, in order')
    # kcat: keyed lines in, the same lines out
    lines = ''.join('key%d:value %d %s\n' % (i, i, 'x' * (i % 50)) for i in range(10000))
    r = run(['kcat', '-b', b.addr, '-P', '-t', 'kc', '-K:'], input=lines.encode())
    check(r.returncode == 0, 'kcat produced 10000 keyed lines')
    r = run(['kcat', '-b', b.addr, '-C', '-t', 'kc', '-e', '-q', '-f', '%k:%s\n'],
            capture_output=True)
    out = r.stdout.decode()
    # three partitions: order holds per key's partition only, so compare sets
    check(sorted(out.splitlines()) == sorted(lines.splitlines()),
          'kcat consumed the same 10000 lines')
    for codec in ('gzip', 'lz4', 'zstd', 'snappy'):
        data = ''.join('%s-%d %s\n' % (codec, i, 'abc' * (i % 30)) for i in range(2000))
        r = run(['kcat', '-b', b.addr, '-P', '-t', 'z-' + codec, '-z', codec], input=data.encode())
        check(r.returncode == 0, 'kcat produced with %s' % codec)
        r = run(['kcat', '-b', b.addr, '-C', '-t', 'z-' + codec, '-e', '-q', '-f', '%s\n'],
                capture_output=True)
        check(sorted(r.stdout.decode().splitlines()) == sorted(data.splitlines()),
              '%s batches stored and fetched unchanged' % codec)
        # librdkafka sends a batch uncompressed when compressing it would not
        # make it smaller (a small batch), so codec 0 may appear beside it
        codecs = stored_codecs(b.data, 'z-' + codec)
        check(CODEC_IDS[codec] in codecs and codecs <= {0, CODEC_IDS[codec]},
              '%s: batches stored %s-compressed (codecs seen %s)' % (codec, codec, codecs))
    r = run(['kcat', '-b', b.addr, '-L'], capture_output=True)
    out = r.stdout.decode()
    check('topic "rt" with 3 partitions' in out and 'topic "kc"' in out, 'kcat -L lists topics')
    # offsets by time: message 5000 of topic kc has no timestamp set by kcat;
    # use rt: timestamps are TS_BASE + number
    r = run(['kcat', '-b', b.addr, '-Q', '-t', 'rt:0:1700000000000'], capture_output=True)
    check(r.returncode == 0 and b'rt [0] offset 0' in r.stdout, 'ListOffsets by timestamp')
    check(b.stop() == 0, 'broker exits 0 on SIGTERM')


def s_group(tmp):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    import logging
    logging.basicConfig(level=logging.ERROR)
    b = Broker(os.path.join(tmp, 'data'), '--group-initial-delay', '200').start()
    adm = KafkaAdminClient(bootstrap_servers=b.addr)
    adm.create_topics([NewTopic('gt', 4, 1)])
    adm.close()
    prod = KafkaProducer(bootstrap_servers=b.addr, acks='all', linger_ms=5)

    def produce(lo, hi):
        for i in range(lo, hi):
            prod.send('gt', key=b'%d' % i, value=b'm%d' % i, headers=[('n', b'%d' % i)])
        prod.flush()

    seen = {}            # number -> member name
    dups = []
    lock = threading.Lock()
    stop = {}
    assigned = {}

    def member(name):
        c = KafkaConsumer('gt', bootstrap_servers=b.addr, group_id='g1', client_id=name,
                          auto_offset_reset='earliest', enable_auto_commit=False,
                          session_timeout_ms=6000, heartbeat_interval_ms=500,
                          max_poll_interval_ms=20000)
        while not stop.get(name):
            recs = c.poll(timeout_ms=200)
            with lock:
                assigned[name] = set(c.assignment())
                for tp, ms in recs.items():
                    for m in ms:
                        k = int(m.key)
                        if k in seen:
                            dups.append((k, name, seen[k]))
                        seen[k] = name
            if recs:
                c.commit()
        c.close()   # LeaveGroup

    threads = {}
    for name in ('a', 'b', 'c'):
        threads[name] = threading.Thread(target=member, args=(name,), daemon=True)
        threads[name].start()

    def wait_for(cond, what, secs=30):
        end = time.time() + secs
        while time.time() < end:
            with lock:
                if cond():
                    return
            time.sleep(0.1)
        raise AssertionError('timed out: ' + what)

    def covered(names):
        parts = set()
        for n in names:
            parts |= assigned.get(n, set())
        total = sum(len(assigned.get(n, ())) for n in names)
        return len(parts) == 4 and total == 4

    wait_for(lambda: covered('abc') and all(assigned.get(n) for n in 'abc'),
             'three members share four partitions')
    check(True, 'rebalanced: ' + ', '.join('%s=%d' % (n, len(assigned[n])) for n in 'abc'))
    produce(0, 3000)
    wait_for(lambda: len(seen) == 3000, 'all 3000 consumed')
    check(not dups, 'no message consumed twice by three members')
    check(len(set(seen.values())) >= 2, 'work spread over several members')
    stop['c'] = True
    threads['c'].join(20)
    wait_for(lambda: covered('ab'), 'two members take over after one leaves')
    check(True, 'rebalanced after a member left')
    produce(3000, 5000)
    wait_for(lambda: len(seen) == 5000, 'all 5000 consumed')
    check(not dups, 'no duplicate across the rebalance')
    stop['a'] = stop['b'] = True
    threads['a'].join(20)
    threads['b'].join(20)
    prod.close()

    # Offsets survive a broker restart: the group resumes where it stopped.
    check(b.stop() == 0, 'broker stopped')
    b.start()
    prod = KafkaProducer(bootstrap_servers=b.addr, acks='all')
    produce(5000, 5100)
    prod.close()
    c = KafkaConsumer(bootstrap_servers=b.addr, group_id='g1', auto_offset_reset='earliest',
                      enable_auto_commit=False)
    tps = [TopicPartition('gt', p) for p in range(4)]
    committed = sum(c.committed(tp) or 0 for tp in tps)
    check(committed == 5000, 'committed offsets after restart sum to 5000 (got %d)' % committed)
    c.close()
    got = []
    c = KafkaConsumer('gt', bootstrap_servers=b.addr, group_id='g1', auto_offset_reset='earliest',
                      enable_auto_commit=False, consumer_timeout_ms=4000)
    for m in c:
        got.append(int(m.key))
    c.close()
    check(sorted(got) == list(range(5000, 5100)),
          'after restart the group reads exactly the 100 new messages (got %d)' % len(got))
    check(b.stop() == 0, 'broker exits 0')


def s_rdkgroup(tmp):
    """A librdkafka consumer group (kcat -G: JoinGroup v5, SyncGroup v3,
    OffsetCommit v7, flexible OffsetFetch v7): two members split a topic,
    commit on close, a later member resumes exactly after them."""
    b = Broker(os.path.join(tmp, 'data'), '--partitions', '4', '--verbose',
               '--group-initial-delay', '2000').start()   # both members in generation 1
    # keyed, so that every partition gets messages (keyless messages stick
    # to one partition in librdkafka 2.x) and every partition gets a commit
    lines = ''.join('k%d:m%d\n' % (i, i) for i in range(2000))
    check(run(['kcat', '-b', b.addr, '-P', '-t', 'kg', '-K:'], input=lines.encode()).returncode == 0,
          '2000 keyed messages produced with kcat')
    lines = ''.join('m%d\n' % i for i in range(2000))
    outs = [os.path.join(tmp, 'member%d.txt' % i) for i in range(2)]
    procs = [subprocess.Popen(['kcat', '-b', b.addr, '-G', 'kgr', '-o', 'beginning', '-e', '-q',
                               'kg'], stdout=open(o, 'wb'), stderr=subprocess.DEVNULL)
             for o in outs]
    for p in procs:
        p.wait(60)
    got = []
    for o in outs:
        with open(o) as f:
            got.append(f.read().split())
    check(sorted(got[0] + got[1]) == sorted(lines.split()),
          'two kcat -G members read all 2000 exactly once (%d + %d)' % (len(got[0]), len(got[1])))
    check(len(got[0]) > 0 and len(got[1]) > 0, 'both members got messages')
    run(['kcat', '-b', b.addr, '-P', '-t', 'kg', '-K:'],
        input=''.join('j%d:n%d\n' % (i, i) for i in range(10)).encode())
    new = ''.join('n%d\n' % i for i in range(10))
    r = run(['kcat', '-b', b.addr, '-G', 'kgr', '-e', '-q', 'kg'], capture_output=True, timeout=60)
    got = r.stdout.decode().split()
    if sorted(got) != sorted(new.split()):
        log('the new member got %d messages: %s' % (len(got), ' '.join(got[:40])))
    check(sorted(got) == sorted(new.split()),
          'a new member resumes at the committed offsets: exactly the 10 new messages')
    check(b.stop() == 0, 'broker exits 0')


def s_retention(tmp):
    """Retention by size through the flags: old segments go, the rest
    stays readable, ListOffsets earliest moves."""
    b = Broker(os.path.join(tmp, 'data'), '--segment-bytes', '65536',
               '--retention-bytes', '300000', '--retention-check-ms', '100').start()
    check(client('produce', b.addr, 'ret', '20000') == 0, '20000 messages produced')
    time.sleep(0.6)
    r = run(['kcat', '-b', b.addr, '-Q', '-t', 'ret:0:-2'], capture_output=True)
    earliest = int(r.stdout.decode().split('offset')[1].split()[0])
    r = run(['kcat', '-b', b.addr, '-Q', '-t', 'ret:0:-1'], capture_output=True)
    latest = int(r.stdout.decode().split('offset')[1].split()[0])
    check(0 < earliest < latest == 20000,
          'retention deleted old segments: earliest offset %d, latest %d' % (earliest, latest))
    r = run(['kcat', '-b', b.addr, '-C', '-t', 'ret', '-o', 'beginning', '-e', '-q', '-f', '%o\n'],
            capture_output=True)
    offs = [int(x) for x in r.stdout.split()]
    check(offs and offs[0] >= earliest and offs[-1] == 19999 and
          offs == list(range(offs[0], 20000)),
          'the rest reads back from offset %d without gaps' % (offs[0] if offs else -1))
    check(b.stop() == 0, 'broker exits 0')


def s_idempotent(tmp):
    b = Broker(os.path.join(tmp, 'data'), '--test-drop-after-append', '25', '--verbose').start()
    n = 20000
    check(client('produce', b.addr, 'idem', str(n), '--idempotent', '--batch', '200',
                 '-X', 'reconnect.backoff.ms=10', '-X', 'reconnect.backoff.max.ms=100') == 0,
          'idempotent producer: all %d acknowledged' % n)
    drops = b.stderr_text().count('test fault')
    check(drops >= 2, 'the broker dropped %d connections after appending' % drops)
    dups = b.stderr_text().count('duplicate batch')
    check(dups >= 1, 'the producer retried: %d batches recognised as duplicates' % dups)
    check(client('verify', b.addr, 'idem', str(n), '--exact', '--ordered') == 0,
          'every message stored exactly once, in order')
    check(b.stop() == 0, 'broker exits 0')


def kill9_once(tmp, fsync, n, threshold):
    """Produce n messages (acks=all) to a broker with --fsync FSYNC, kill -9
    it once THRESHOLD bytes of acknowledged numbers are recorded, restart,
    check every acknowledged message, append more."""
    data = os.path.join(tmp, 'data-' + fsync.replace('=', '-'))
    acked = os.path.join(tmp, 'acked-%s.txt' % fsync.replace('=', '-'))
    b = Broker(data, '--fsync', fsync).start()
    p = subprocess.Popen([ARGS.client, 'produce', b.addr, 'k9', str(n), '--acked', acked,
                          '--batch', '500', '--timeout-ms', '2000'])
    # kill once a good part has been acknowledged
    end = time.time() + 30
    while time.time() < end:
        try:
            if os.path.getsize(acked) > threshold:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    b.stop(signal.SIGKILL)
    log('broker (--fsync %s) killed with SIGKILL' % fsync)
    p.wait(60)
    with open(acked) as f:
        nacked = sum(1 for _ in f)
    check(0 < nacked < n, '%d of %d acknowledged before the kill' % (nacked, n))
    b.start()
    check(client('verify', b.addr, 'k9', str(n), '--acked', acked) == 0,
          'every acknowledged message present after restart, CRCs good, no duplicates')
    check(client('produce', b.addr, 'k9', '1000', '--from', str(n), '--acked', acked) == 0,
          'the log is still appendable')
    check(client('verify', b.addr, 'k9', str(n + 1000), '--acked', acked) == 0,
          'old and new acknowledged messages all readable')
    check(b.stop() == 0, 'broker exits 0')


def s_kill9(tmp):
    # fsync always: acknowledged = on disk.  fsync interval: acknowledged =
    # in the page cache, which a process crash (unlike a machine crash)
    # does not lose; recovery must find it all too.
    kill9_once(tmp, 'always', 150000, 150000)
    kill9_once(tmp, 'interval=60000', 150000, 150000)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def s_partition(tmp):
    """myco-log as a partition of a system run by the executive: ready,
    serving, killed, replaced by its standby with the data intact.  It
    declares its port but not `net`: it serves the listening socket the
    executive holds (myco_listen_fd), in its own network namespace."""
    if not ARGS.myco:
        log('SKIP: no myco command built')
        return
    port = free_port()
    mport = free_port()
    sysfile = os.path.join(tmp, 'system.myco')
    rt = os.path.join(tmp, 'rt')
    data = os.path.join(tmp, 'data')
    with open(sysfile, 'w') as f:
        f.write('''system logtest {
    metrics %d;
    partition broker {
        program "%s";
        args "--data", "%s";
        listen %d;
        path "%s" rw;
        memory 512 MiB;
        restart permanent;
        heartbeat 500 ms;
        readiness required;
    }
}
''' % (mport, ARGS.broker, data, port, tmp))
    myco = ARGS.myco
    addr = '127.0.0.1:%d' % port
    ex = subprocess.Popen([myco, 'run', sysfile, '--runtime-dir', rt],
                          stdout=open(os.path.join(tmp, 'exec.log'), 'wb'),
                          stderr=subprocess.STDOUT)
    try:
        end = time.time() + 20
        while time.time() < end:
            r = subprocess.run(['kcat', '-b', addr, '-L', '-m', '1'], capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(0.2)
        check(r.returncode == 0, 'the partition serves Kafka clients')
        check(client('produce', addr, 'sys', '1000') == 0, '1000 messages produced')
        check_broker_metrics(mport, port)
        r = run([myco, 'kill', 'broker', '--runtime-dir', rt], capture_output=True)
        check(r.returncode == 0, 'myco kill broker')
        check(client('produce', addr, 'sys', '1000', '--from', '1000') == 0,
              '1000 more produced to the replacement')
        check(client('verify', addr, 'sys', '2000', '--exact', '--ordered') == 0,
              'all 2000 present after the restart')
        r = run([myco, 'ps', '--runtime-dir', rt], capture_output=True)
        log(r.stdout.decode())
        check(b'broker' in r.stdout and b'running' in r.stdout, 'myco ps shows it running')
        r = run([myco, 'ps', '--json', '--runtime-dir', rt], capture_output=True)
        p = json.loads(r.stdout.decode().splitlines()[0])['partitions'][0]
        check(p.get('net') is False and [x['port'] for x in p.get('ports', [])] == [port],
              'ps --json: no net, port %d held by the executive' % port)
        r = run([myco, 'logs', 'broker', '--runtime-dir', rt], capture_output=True)
        check(b"serving the system's listening socket for port %d" % port in r.stdout,
              'the broker took the inherited socket')
    finally:
        subprocess.run([myco, 'stop', '--all', '--runtime-dir', rt], capture_output=True,
                       timeout=30)
        try:
            ex.wait(15)
        except subprocess.TimeoutExpired:
            ex.kill()
            ex.wait()
        with open(os.path.join(tmp, 'exec.log'), 'rb') as f:
            log(f.read().decode(errors='replace')[-3000:])
    check(ex.returncode == 0, 'the executive stopped cleanly')


def scrape(mport, part):
    """The executive's /metrics as {(name, 'k="v",...' without partition): value}
    for partition PART."""
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % mport, timeout=10) as f:
        text = f.read().decode()
    out = {}
    tag = 'partition="%s"' % part
    for line in text.splitlines():
        if not line or line.startswith('#') or tag not in line:
            continue
        series, value = line.rsplit(' ', 1)
        name, _, labels = series.partition('{')
        labels = ','.join(x for x in labels.rstrip('}').split(',') if x and x != tag)
        out[(name, labels)] = float(value)
    return out


def check_broker_metrics(mport, port):
    """The broker's own metrics on the executive's /metrics: requests per
    API, bytes both ways and the produce latency histogram count exactly
    what this test sent; a simple offset commit shows up as consumer-group
    lag (high watermark 1000 - committed 400)."""
    before = scrape(mport, 'broker')
    produces = before.get(('myco_log_requests_total', 'api="produce"'), 0)
    check(produces > 0, 'produce requests counted (%d)' % produces)
    check(before.get(('myco_log_produce_latency_seconds_count', '')) == produces,
          'one produce latency observation per produce request')
    check(before.get(('myco_log_produce_latency_seconds_sum', ''), 0) > 0,
          'produce latency sum positive')
    check(before.get(('myco_log_received_bytes_total', ''), 0) > 1000 * 8,
          'received bytes cover the 1000 messages')
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    sent = got = 0
    for i in range(5):
        req = kreq(18, 0, 100 + i)                      # ApiVersions v0
        s.sendall(req)
        sent += len(req)
        fr = recv_frame(s)
        check(fr is not None and struct.unpack('>i', fr[:4])[0] == 100 + i,
              'ApiVersions %d answered' % i)
        got += 4 + len(fr)

    def kstr(b):
        return struct.pack('>h', len(b)) + b
    body = (kstr(b'lagg') + struct.pack('>i', 1) + kstr(b'sys') + struct.pack('>i', 1) +
            struct.pack('>iq', 0, 400) + kstr(b''))
    req = kreq(8, 0, 200, body)                        # OffsetCommit v0, simple commit
    s.sendall(req)
    sent += len(req)
    fr = recv_frame(s)
    check(fr is not None and fr[-2:] == b'\x00\x00', 'offset 400 committed for group lagg')
    got += 4 + len(fr)
    s.close()
    want = ('myco_log_consumer_group_lag', 'group="lagg",topic="sys",topic_partition="0"')
    end = time.monotonic() + 30
    while True:
        after = scrape(mport, 'broker')
        if after.get(want) == 600 or time.monotonic() > end:
            break
        time.sleep(0.2)
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    log('metric deltas: %s' % {k: v for k, v in d.items() if v and '_bucket' not in k[0]})
    check(d[('myco_log_requests_total', 'api="api_versions"')] == 5, '5 ApiVersions counted')
    check(d[('myco_log_requests_total', 'api="offset_commit"')] == 1, '1 OffsetCommit counted')
    check(d[('myco_log_requests_total', 'api="produce"')] == 0, 'no produce counted meanwhile')
    check(d[('myco_log_received_bytes_total', '')] == sent,
          'received bytes = the %d bytes sent' % sent)
    check(d[('myco_log_sent_bytes_total', '')] == got, 'sent bytes = the %d bytes received' % got)
    check(after.get(want) == 600, 'consumer-group lag of lagg on sys/0 is 1000 - 400 = 600 (%s)'
          % after.get(want))


def owner(topic, part, loops):
    """The loop (shard) owning topic[part]: svc/log/broker.c myco__lb_owner."""
    h = 2166136261
    for c in topic.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return ((h + part) & 0xffffffff) % loops


def s_loops(tmp):
    """Two runtime loops (--loops 2): partitions owned by both, requests
    split across them and answered whole; several producers at once; a
    consumer's long poll over partitions of both loops wakes for data
    appended on either (issue 18, item 5)."""
    import threading
    import time
    from confluent_kafka import Consumer, Producer, TopicPartition
    b = Broker(os.path.join(tmp, 'data'), '--loops', '2', '--partitions', '16',
               '--verbose').start()
    deadline = time.time() + 30
    while 'serving on 2 runtime loops' not in b.stderr_text() and time.time() < deadline:
        time.sleep(0.05)
    check('serving on 2 runtime loops' in b.stderr_text(), 'the broker runs 2 loops')
    owners = {owner('mp', p, 2) for p in range(16)}
    check(owners == {0, 1}, 'the 16 partitions of mp belong to both loops')
    n = 40000
    check(client('produce', b.addr, 'mp', str(n)) == 0,
          '%d keyed messages over 16 partitions acknowledged' % n)
    check(client('verify', b.addr, 'mp', str(n), '--exact', '--ordered') == 0,
          'all %d read back byte for byte, in order per partition' % n)
    # four producers at once: connections land on both loops
    procs = [subprocess.Popen([ARGS.client, 'produce', b.addr, 'mp', '10000', '--from',
                               str(n + i * 10000)]) for i in range(4)]
    check(all(p.wait(180) == 0 for p in procs), 'four concurrent producers acknowledged')
    check(client('verify', b.addr, 'mp', str(n + 40000), '--exact') == 0,
          'all %d read back byte for byte, none twice' % (n + 40000))
    # long poll: one fetch over all 16 partitions (both loops' partitions),
    # 30 s max wait; a record appended by either loop must end it
    p = Producer({'bootstrap.servers': b.addr, 'linger.ms': 0})
    for q in range(16):
        p.produce('lp', b'warm', partition=q)          # creates lp (16 partitions)
    check(p.flush(30) == 0, 'topic lp made, one record in each partition')
    c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'lp', 'fetch.wait.max.ms': 30000,
                  'fetch.min.bytes': 1, 'enable.auto.commit': False})
    c.assign([TopicPartition('lp', q, 0) for q in range(16)])
    # read the 16 warm-up records: then every partition is in the consumer's
    # next fetch (librdkafka adds partitions to a fetch only between fetches)
    seen = set()
    deadline = time.time() + 60
    while len(seen) < 16 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            seen.add(m.partition())
    check(len(seen) == 16, 'the consumer read the warm-up record of each partition')
    # give it time to reach its long poll (if it has not, the check below
    # is weaker, never wrong)
    for _ in range(4):
        m = c.poll(0.5)
        check(m is None or m.error() is not None, 'nothing more to read yet')
    for loop in (0, 1):
        part = next(q for q in range(16) if owner('lp', q, 2) == loop)
        p.produce('lp', b'to loop %d' % loop, partition=part)
        check(p.flush(30) == 0, 'a record for partition %d (loop %d) acknowledged' % (part, loop))
        t0 = time.time()
        got = None
        while got is None and time.time() - t0 < 60:
            m = c.poll(1.0)
            if m is not None and not m.error():
                got = m
        waited = time.time() - t0
        check(got is not None and got.value() == b'to loop %d' % loop and got.partition() == part,
              'the long-polling consumer got it')
        check(waited < 20, 'woken by the append, not by its 30 s deadline (%.2f s)' % waited)
    c.close()
    check(b.stop() == 0, 'broker exits 0')


def s_rebind(tmp):
    """myco-log standalone started while its port is still held (as for a
    few ms after kill -9) waits for it instead of failing with
    EADDRINUSE; then kill -9 and an immediate restart, five times."""
    port = free_port()
    hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hold.bind(('127.0.0.1', port))
    hold.listen(1)
    data = os.path.join(tmp, 'data')
    err = open(os.path.join(tmp, 'rebind.log'), 'wb')
    proc = subprocess.Popen([ARGS.broker, '--listen', '127.0.0.1:%d' % port, '--data', data],
                            stdout=subprocess.PIPE, stderr=err)
    # release the port once the broker has met it in use (its first bind
    # failed: it says so on stderr), or once it has exited
    end = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < end:
        with open(os.path.join(tmp, 'rebind.log'), 'rb') as f:
            if b'in use' in f.read():
                break
        time.sleep(0.01)
    hold.close()
    line = proc.stdout.readline().decode()
    with open(os.path.join(tmp, 'rebind.log'), 'rb') as f:
        log(f.read().decode(errors='replace').strip())
    check('listening on' in line, 'a broker started while its port was held came up once it was free')
    proc.kill()
    proc.wait()
    b = Broker(data)
    for i in range(5):
        b.start()
        check(client('produce', b.addr, 'rb', '100') == 0, 'produce after restart %d' % i)
        b.proc.kill()                      # kill -9, then at once again
        b.proc.wait()
        b.proc = None
    b.start()
    r = run(['kcat', '-b', b.addr, '-Q', '-t', 'rb:0:-1'], capture_output=True)
    check(b'offset 500' in r.stdout, 'all 5 x 100 messages there after 5 kill -9 restarts')
    check(b.stop() == 0, 'broker exits 0')


def kreq(key, ver, corr, body=b'', client=b'raw'):
    hdr = struct.pack('>hhih', key, ver, corr, len(client)) + client
    msg = hdr + body
    return struct.pack('>i', len(msg)) + msg


def recv_frame(s):
    def rd(n):
        buf = b''
        while len(buf) < n:
            ch = s.recv(n - len(buf))
            if not ch:
                return None
            buf += ch
        return buf
    h = rd(4)
    if h is None:
        return None
    return rd(struct.unpack('>i', h)[0])


def s_malformed(tmp):
    b = Broker(os.path.join(tmp, 'data')).start()
    host, port = b.addr.split(':')

    def conn():
        s = socket.create_connection((host, int(port)), timeout=5)
        return s

    s = conn()
    # ApiVersions at a version we do not know: v0-shaped answer, error 35
    s.sendall(kreq(18, 9, 7))
    r = recv_frame(s)
    corr, err = struct.unpack('>ih', r[:6])
    check(corr == 7 and err == 35, 'ApiVersions v9 -> UNSUPPORTED_VERSION with the version list')
    # an API key nobody has: error 35, connection kept
    s.sendall(kreq(999, 0, 8))
    r = recv_frame(s)
    check(r is not None and struct.unpack('>ih', r[:6]) == (8, 35),
          'unknown API key -> UNSUPPORTED_VERSION, connection kept')
    # Produce v2 (below our minimum): empty produce response + throttle
    s.sendall(kreq(0, 2, 9, b'\x00\x01\x00\x00\x03\xe8\x00\x00\x00\x00'))
    r = recv_frame(s)
    check(r is not None and struct.unpack('>i', r[:4])[0] == 9, 'Produce v2 answered (not closed)')
    # Fetch v12 (flexible, above our maximum): response header v1 + error
    s.sendall(kreq(1, 12, 10))
    r = recv_frame(s)
    check(r is not None and struct.unpack('>i', r[:4])[0] == 10 and
          struct.unpack('>h', r[9:11])[0] == 35, 'Fetch v12 -> UNSUPPORTED_VERSION in v12 shape')
    # truncated Metadata body: the broker closes this connection cleanly
    s.sendall(kreq(3, 1, 11, b'\x00\x00\x00\x05\x00'))
    r = recv_frame(s)
    check(r is None, 'truncated Metadata request -> connection closed')
    s.close()
    # garbage: a huge frame size, a negative one, random bytes
    for junk in (b'\x7f\xff\xff\xff', b'\xff\xff\xff\xf0abcd', os.urandom(3000),
                 struct.pack('>i', 2) + b'\x00'):
        s = conn()
        s.sendall(junk)
        try:
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    check(b.alive(), 'broker survives malformed frames')
    # Produce with a corrupt batch -> CORRUPT_MESSAGE for that partition
    batch = bytearray(70)
    batch[8:12] = struct.pack('>i', 58)
    batch[16] = 2     # magic
    body = (struct.pack('>h', -1) + struct.pack('>hi', 1, 1000) + struct.pack('>i', 1) +
            struct.pack('>h', 3) + b'bad' + struct.pack('>i', 1) + struct.pack('>i', 0) +
            struct.pack('>i', len(batch)) + bytes(batch))
    s = conn()
    s.sendall(kreq(3, 1, 12, struct.pack('>i', 1) + struct.pack('>h', 3) + b'bad'))
    recv_frame(s)
    s.sendall(kreq(0, 3, 13, body))
    r = recv_frame(s)
    # corr, topics[1], name, parts[1], index, error
    err = struct.unpack('>h', r[4 + 4 + 2 + 3 + 4 + 4:4 + 4 + 2 + 3 + 4 + 4 + 2])[0]
    check(err in (2, 87), 'corrupt batch -> CORRUPT_MESSAGE/INVALID_RECORD (%d)' % err)
    s.close()
    r = run(['kcat', '-b', b.addr, '-L'], capture_output=True)
    check(r.returncode == 0, 'broker still serves kcat after all that')
    check(b.stop() == 0, 'broker exits 0')


def main(scenarios=None, extra=()):
    """Run the scenario named on the command line: a function s_NAME of
    `scenarios` (a module's globals; this module's by default); `extra`
    names more required --options (admin_test.py adds --admin)."""
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument('scenario')
    ap.add_argument('--broker', required=True)
    ap.add_argument('--client', required=True)
    ap.add_argument('--myco', default=None)
    for opt in extra:
        ap.add_argument(opt, required=True)
    ARGS = ap.parse_args()
    fn = (scenarios or globals()).get('s_' + ARGS.scenario)
    if not fn:
        print('unknown scenario', ARGS.scenario)
        return 2
    tmp = tempfile.mkdtemp(prefix='myco-log-test-')
    ok = False
    try:
        fn(tmp)
        ok = True
    finally:
        for b in BROKERS:
            if b.alive():
                b.stop(signal.SIGKILL)
        if not ok:
            for b in BROKERS:
                try:
                    log('--- broker stderr (%s):' % b.errlog)
                    log(b.stderr_text()[-4000:])
                except OSError:
                    pass
        shutil.rmtree(tmp, ignore_errors=True)
    log('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
