#!/usr/bin/python3
"""log_repl_test.py: myco-log's cluster mode (replication on raft) with
real Kafka clients (python3-confluent-kafka, kcat).

    log_repl_test.py SCENARIO --broker PATH/myco-log

Scenarios:
  config    bad --node-id / --peers / --min-insync-replicas values are
            refused with a clear message and exit status 2; a one-broker
            cluster on loopback serves, and after a restart its topic is
            replayed from the raft log with every record.  No root needed.
  cluster   3 brokers in network namespaces made by the test: Metadata
            from every broker lists the 3 brokers, one leader, replicas
            and in-sync replicas; replication factor 2 is refused; a
            follower answers NOT_LEADER_OR_FOLLOWER; DeleteTopics is refused
            with POLICY_VIOLATION (not replicated yet).  Then an idempotent
            producer with acks=all runs while the leader is killed with
            kill -9 (and restarted), isolated from its peers with nftables
            and a follower's link slowed with tc: a new leader takes over
            each time, and afterwards every acknowledged message is read
            back at exactly its acknowledged offset, in order per
            partition, from two different leaders; a consumer group then
            reads them all and commits through the new leader.
  insync    min.insync.replicas: with 3 required and one broker down,
            acks=all is refused with NOT_ENOUGH_REPLICAS while acks=1
            works; with 2 required and 2 of 3 brokers down nothing is
            acknowledged, and once a broker is back the cluster serves
            again with every earlier acknowledged message.

The network helpers are tests/integration/netns.py (shared with myco-kv's
raft test).  cluster and insync need root (ip netns, nft) and are skipped
(exit 77) otherwise.
"""
import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from netns import Net, wait_for  # noqa: E402
from log_test import kreq, recv_frame  # noqa: E402

ARGS = None
CL = []          # the cluster of the running scenario (its logs on failure)
PORT = 9092
RAFT = 9192


def log(*a):
    print(*a, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    log('ok:', what)


# ---------------------------------------------------------------- raw Kafka

def _str(b, o):
    n = struct.unpack_from('>h', b, o)[0]
    o += 2
    if n < 0:
        return None, o
    return b[o:o + n].decode(), o + n


def raw(host, port, key, ver, body, timeout=3.0):
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(kreq(key, ver, 7, body))
        fr = recv_frame(s)
    finally:
        s.close()
    if fr is None:
        raise OSError('connection closed')
    return fr[4:]                               # after the correlation id


def metadata(host, port, topics=None):
    """Metadata v1 from one broker: (brokers {id: (host, port)},
    controller, {topic: [(err, part, leader, replicas, isr)]})."""
    if topics is None:
        body = struct.pack('>i', -1)
    else:
        body = struct.pack('>i', len(topics))
        for t in topics:
            body += struct.pack('>h', len(t)) + t.encode()
    b = raw(host, port, 3, 1, body)
    o = 0
    brokers = {}
    (n,) = struct.unpack_from('>i', b, o)
    o += 4
    for _ in range(n):
        (nid,) = struct.unpack_from('>i', b, o)
        h, o = _str(b, o + 4)
        (p,) = struct.unpack_from('>i', b, o)
        _, o = _str(b, o + 4)
        brokers[nid] = (h, p)
    (ctrl,) = struct.unpack_from('>i', b, o)
    o += 4
    out = {}
    (nt,) = struct.unpack_from('>i', b, o)
    o += 4
    for _ in range(nt):
        o += 2
        name, o = _str(b, o)
        o += 1
        (np_,) = struct.unpack_from('>i', b, o)
        o += 4
        parts = []
        for _ in range(np_):
            err, idx, leader = struct.unpack_from('>hii', b, o)
            o += 10
            lists = []
            for _ in range(2):
                (k,) = struct.unpack_from('>i', b, o)
                o += 4
                lists.append(list(struct.unpack_from('>%di' % k, b, o)))
                o += 4 * k
            parts.append((err, idx, leader, lists[0], lists[1]))
        out[name] = parts
    return brokers, ctrl, out


def list_offsets_err(host, port, topic, part):
    """The error code of ListOffsets v1 (latest) for one partition."""
    body = struct.pack('>ii', -1, 1) + struct.pack('>h', len(topic)) + topic.encode()
    body += struct.pack('>iiq', 1, part, -1)
    b = raw(host, port, 2, 1, body)
    o = 4
    _, o = _str(b, o)
    o += 4 + 4
    return struct.unpack_from('>h', b, o)[0]


# ---------------------------------------------------------------- cluster

class Cluster:
    def __init__(self, net, tmp, min_insync):
        self.net = net
        self.tmp = tmp
        self.min = min_insync
        self.procs = [None] * net.n
        self.peers = ','.join('%d=%s:%d:%d' % (i + 1, ip, PORT, RAFT)
                              for i, ip in enumerate(net.ips))
        self.bootstrap = ','.join('%s:%d' % (ip, PORT) for ip in net.ips)

    def start(self, i):
        logf = open(os.path.join(self.tmp, 'node%d.log' % (i + 1)), 'ab')
        p = subprocess.Popen(
            ['ip', 'netns', 'exec', self.net.ns[i], ARGS.broker,
             '--listen', '%s:%d' % (self.net.ips[i], PORT),
             '--data', os.path.join(self.tmp, 'n%d' % (i + 1)),
             '--node-id', str(i + 1), '--peers', self.peers,
             '--min-insync-replicas', str(self.min), '--verbose'],
            stdout=subprocess.PIPE, stderr=logf)
        logf.close()
        line = p.stdout.readline().decode()
        if 'listening on' not in line:
            p.wait()
            raise AssertionError('node %d did not start: %r\n%s' % (i + 1, line, self.logs()))
        self.procs[i] = p

    def kill(self, i):
        p = self.procs[i]
        if p:
            p.kill()
            p.wait()
            p.stdout.close()
            self.procs[i] = None

    def stop_all(self, check_rc=False):
        bad = []
        for i, p in enumerate(self.procs):
            if not p:
                continue
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                bad.append('node %d did not stop on SIGTERM' % (i + 1))
            if p.returncode != 0:
                bad.append('node %d exited with status %d' % (i + 1, p.returncode))
            p.stdout.close()
            self.procs[i] = None
        if check_rc and bad:
            raise AssertionError('; '.join(bad) + '\n' + self.logs())

    def meta(self, i, topics=None):
        try:
            return metadata(self.net.ips[i], PORT, topics)
        except (OSError, struct.error):
            return None

    def leader(self, exclude=()):
        """The node that every live node (but those excluded) names as
        controller and that names itself (a leader that serves), or None."""
        views = [self.meta(i) for i in range(self.net.n) if self.procs[i] and i not in exclude]
        views = [v for v in views if v]
        if not views:
            return None
        ctrls = {v[1] for v in views}
        if len(ctrls) != 1:
            return None
        c = ctrls.pop()
        if c < 1 or (c - 1) in exclude or not self.procs[c - 1]:
            return None
        return c - 1

    def wait_leader(self, exclude=(), limit=90.0):
        return wait_for('a serving leader', lambda: (lambda x: None if x is None else (x,))(
            self.leader(exclude)), limit)[0]

    def logs(self):
        out = []
        for i in range(self.net.n):
            try:
                with open(os.path.join(self.tmp, 'node%d.log' % (i + 1)), 'rb') as f:
                    out.append('--- node %d stderr (tail)\n%s' % (
                        i + 1, f.read()[-3000:].decode(errors='replace')))
            except OSError:
                pass
        return '\n'.join(out)


def create_topic(cl, name, parts, rf):
    from confluent_kafka.admin import AdminClient, NewTopic
    a = AdminClient({'bootstrap.servers': cl.bootstrap})
    f = a.create_topics([NewTopic(name, parts, rf)], request_timeout=30)
    try:
        f[name].result(timeout=60)
        return None
    except Exception as e:           # the KafkaException carries the error
        return e


def read_all(cl, topic, parts):
    """Every record of every partition, from the beginning to the high
    watermark, as {part: [(offset, value)]} (through the leader)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({'bootstrap.servers': cl.bootstrap, 'group.id': 'check',
                  'enable.auto.commit': False, 'enable.partition.eof': True})
    out = {}
    try:
        for p in range(parts):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            out[p] = []
            if hi <= lo:
                continue
            c.assign([TopicPartition(topic, p, lo)])
            end = time.monotonic() + 120
            while time.monotonic() < end:
                m = c.poll(1.0)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == -191:     # partition EOF
                        if out[p] and out[p][-1][0] >= hi - 1:
                            break
                        continue
                    continue
                out[p].append((m.offset(), m.value()))
                if m.offset() >= hi - 1:
                    break
            c.unassign()
    finally:
        c.close()
    return out


def check_acked(acked, got, what):
    """Every acknowledged (part, offset, value) is there, exactly; per
    partition the acknowledged values are in sequence order."""
    byoff = {p: dict(v) for p, v in got.items()}
    missing = [(p, o, v) for (p, o, v) in acked if byoff.get(p, {}).get(o) != v]
    check(not missing, '%s: all %d acknowledged messages at their acknowledged offsets '
          '(missing or different: %s)' % (what, len(acked), missing[:5]))
    for p in byoff:
        mine = sorted((o, int(v.split(b'-')[1])) for (q, o, v) in acked if q == p)
        seqs = [s for _, s in mine]
        check(seqs == sorted(seqs), '%s: partition %d: acknowledged messages in order'
              % (what, p))


class Producer(threading.Thread):
    """Produces 'k-SEQ' values round-robin to the topic's partitions with
    acks=all and idempotence; keeps (part, offset, value) of every
    acknowledged one."""

    def __init__(self, cl, topic, parts, extra=None):
        super().__init__(daemon=True)
        from confluent_kafka import Producer as P
        conf = {'bootstrap.servers': cl.bootstrap, 'acks': 'all',
                'enable.idempotence': True, 'linger.ms': 5,
                'message.timeout.ms': 120000, 'topic.metadata.refresh.interval.ms': 1000}
        conf.update(extra or {})
        if os.environ.get('LOG_REPL_RDK_DEBUG'):
            # librdkafka's own trace, for a failing run
            conf['debug'] = os.environ['LOG_REPL_RDK_DEBUG']
        self.p = P(conf)
        self.topic = topic
        self.parts = parts
        self.acked = []
        self.errors = {}
        self.stop = threading.Event()
        self.seq = 0

    def cb(self, err, m):
        if err:
            self.errors[str(err)] = self.errors.get(str(err), 0) + 1
        else:
            self.acked.append((m.partition(), m.offset(), m.value()))

    def run(self):
        while not self.stop.is_set():
            self.seq += 1
            try:
                self.p.produce(self.topic, b'k-%d' % self.seq,
                               partition=self.seq % self.parts, on_delivery=self.cb)
            except BufferError:
                self.p.poll(0.1)
                continue
            self.p.poll(0)
            if self.seq % 20 == 0:
                time.sleep(0.01)
        self.p.flush(180)

    def acks_now(self):
        return len(self.acked)


def wait_progress(pr, what, more=50, cl=None):
    n = pr.acks_now()
    try:
        wait_for(what, lambda: pr.acks_now() >= n + more, 120)
    except AssertionError:
        log('acknowledged so far %d (%d at the start of the wait), errors %r'
            % (pr.acks_now(), n, pr.errors))
        if cl:
            for i in range(cl.net.n):
                log('node %d Metadata: %r' % (i + 1, cl.meta(i, [pr.topic])))
        raise


# ---------------------------------------------------------------- scenarios

def s_config(tmp):
    bad = [
        (['--node-id', '4', '--peers', '1=127.0.0.1:1:2'], 'is not one of --peers'),
        (['--node-id', '1'], 'needs both --node-id and --peers'),
        (['--peers', '1=127.0.0.1:1:2'], 'needs both --node-id and --peers'),
        (['--node-id', 'x1', '--peers', '1=127.0.0.1:1:2'], '--node-id: bad number'),
        (['--node-id', '1', '--peers', '1=127.0.0.1:1:2,1=127.0.0.2:1:2'], 'peer 2'),
        (['--node-id', '1', '--peers', '1=127.0.0.1:70000:2'], "port '70000'"),
        (['--node-id', '1', '--peers', '1=127.0.0.1:1'], 'HOST:PORT:RAFTPORT'),
        (['--node-id', '1', '--peers', ','.join('%d=127.0.0.%d:1:2' % (i, i)
                                                for i in range(1, 5))], 'at most 3'),
        (['--node-id', '1', '--peers', '1=127.0.0.1:1:2,3000000000=127.0.0.2:1:2'],
         'is not a Kafka node id'),
        (['--node-id', '1', '--peers', '1=127.0.0.1:1:2', '--min-insync-replicas', '2'],
         '--min-insync-replicas 2 is not 1..1'),
        (['--node-id', '1', '--peers', '1=127.0.0.1:1:2', '--raft-election-ms', '0'],
         '--raft-election-ms: bad number'),
        (['--node-id', '1', '--peers', '1=a b:1:2'], 'peer 1'),
    ]
    for args, want in bad:
        r = subprocess.run([ARGS.broker, '--listen', '127.0.0.1:0', '--data',
                            os.path.join(tmp, 'never')] + args,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 2 and want in r.stderr,
              'refused with status 2 and %r: %s (got %d %r)'
              % (want, ' '.join(args), r.returncode, r.stderr.strip()[:200]))
    check(not os.path.exists(os.path.join(tmp, 'never')), 'nothing created by a refused start')

    # a one-broker cluster on loopback: auto-created topic, restart, replay
    def free_port():
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        p = s.getsockname()[1]
        s.close()
        return p
    kp, rp = free_port(), free_port()
    data = os.path.join(tmp, 'one')
    cmd = [ARGS.broker, '--listen', '127.0.0.1:%d' % kp, '--data', data, '--node-id', '7',
           '--peers', '7=127.0.0.1:%d:%d' % (kp, rp)]
    addr = '127.0.0.1:%d' % kp

    def start():
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=open(os.path.join(tmp, 'one.log'), 'ab'))
        check('listening on' in p.stdout.readline().decode(), 'one-broker cluster starts')
        wait_for('the broker to lead', lambda: metadata('127.0.0.1', kp)[1] == 7, 60)
        return p
    p = start()
    try:
        vals = b''.join(b'v%d\n' % i for i in range(500))
        r = subprocess.run(['kcat', '-P', '-b', addr, '-t', 'one', '-X', 'acks=all'],
                           input=vals, capture_output=True, timeout=120)
        check(r.returncode == 0, 'kcat produced 500 messages')
        brokers, ctrl, topics = metadata('127.0.0.1', kp, ['one'])
        check(brokers == {7: ('127.0.0.1', kp)} and ctrl == 7 and
              topics['one'][0][2:] == (7, [7], [7]),
              'Metadata: broker 7 leads, replicas [7], ISR [7]: %r' % ((brokers, ctrl, topics),))

        def consume():
            r = subprocess.run(['kcat', '-C', '-b', addr, '-t', 'one', '-e', '-q'],
                               capture_output=True, timeout=120)
            return r.stdout
        check(consume() == vals, 'all 500 read back in order')
        p.terminate()
        check(p.wait(30) == 0, 'broker exits 0 on SIGTERM')
        p = start()
        check(consume() == vals, 'after a restart the topic is replayed from the raft log')
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def with_net(fn):
    def wrapped(tmp):
        if os.geteuid() != 0 or not shutil.which('ip') or not shutil.which('nft'):
            log('SKIP: needs root, ip and nft (network namespaces)')
            return 77
        net = Net(3, tag='lr')
        try:
            net.up()
            fn(tmp, net)
        finally:
            for cl in CL:
                if not getattr(cl, 'ok', False):
                    log(cl.logs())
                cl.stop_all()
            net.down()
        return 0
    return wrapped


def _cluster(tmp, net):
    cl = Cluster(net, tmp, 2)
    CL.append(cl)
    try:
        for i in range(3):
            cl.start(i)
        lead = cl.wait_leader()
        log('leader: node', lead + 1)
        for i in range(3):
            brokers, ctrl, _ = cl.meta(i)
            check(sorted(brokers) == [1, 2, 3] and ctrl == lead + 1 and
                  all(brokers[k] == (net.ips[k - 1], PORT) for k in brokers),
                  'node %d: Metadata lists the 3 brokers and controller %d' % (i + 1, lead + 1))
        err = create_topic(cl, 'two', 1, 2)
        check(err is not None and 'INVALID_REPLICATION_FACTOR' in str(err),
              'replication factor 2 refused: %s' % err)
        check(create_topic(cl, 'rt', 2, 3) is None, 'topic rt (2 partitions, RF 3) created')
        from confluent_kafka.admin import AdminClient
        adm = AdminClient({'bootstrap.servers': cl.bootstrap})
        f = adm.delete_topics(['rt'])
        try:
            f['rt'].result(60)
            err = None
        except Exception as e:
            err = e
        check(err is not None and 'POLICY_VIOLATION' in str(err),
              'DeleteTopics refused (not replicated yet): %s' % err)
        for i in range(3):
            wait_for('node %d to know rt with 3 in-sync replicas' % (i + 1), lambda: (
                lambda m: m and all(pp[2] == lead + 1 and pp[3] == [1, 2, 3] and
                                    sorted(pp[4]) == [1, 2, 3] for pp in m[2].get('rt', [])) and
                len(m[2].get('rt', [])) == 2)(cl.meta(i, ['rt'])), 60)
        check(True, 'every broker: rt partitions led by %d, replicas and ISR 1,2,3' % (lead + 1))
        f = (lead + 1) % 3
        check(list_offsets_err(net.ips[f], PORT, 'rt', 0) == 6,
              'follower %d answers NOT_LEADER_OR_FOLLOWER' % (f + 1))

        pr = Producer(cl, 'rt', 2)
        pr.start()
        wait_progress(pr, 'first acknowledgements', 200)

        # 1. kill -9 the leader
        old = lead
        cl.kill(old)
        log('killed leader node', old + 1)
        lead = cl.wait_leader(exclude=(old,))
        check(lead != old, 'a new leader (node %d) after kill -9 of node %d' % (lead + 1, old + 1))
        wait_progress(pr, 'acknowledgements from the new leader')
        cl.start(old)

        # 2. isolate the leader from its peers (clients still reach it)
        old = lead
        for j in range(3):
            if j != old:
                net.cut(old, j)
        log('isolated leader node', old + 1)
        lead = cl.wait_leader(exclude=(old,))
        check(lead != old, 'a new leader (node %d) while node %d is cut off' % (lead + 1, old + 1))
        wait_progress(pr, 'acknowledgements while the old leader is cut off', cl=cl)
        net.heal()

        # 3. a slowed follower link
        f = (lead + 1) % 3
        how = net.slow(f)
        log('slowed node', f + 1, 'with', how)
        wait_progress(pr, 'acknowledgements with a slow follower')
        net.unslow(f)
        wait_progress(pr, 'acknowledgements after the links healed')

        pr.stop.set()
        pr.join(240)
        check(not pr.is_alive(), 'producer finished')
        log('acknowledged %d, errors %r' % (len(pr.acked), pr.errors))
        check(len(pr.acked) > 0, 'messages acknowledged')
        lead = cl.wait_leader()
        got = read_all(cl, 'rt', 2)
        check_acked(pr.acked, got, 'leader node %d' % (lead + 1))
        dups = sum(len(v) for v in got.values()) - len({x for v in got.values() for _, x in v})
        log('records stored: %d, duplicates (retries whose outcome was unknown): %d'
            % (sum(len(v) for v in got.values()), dups))

        # the same log through another leader
        for i in range(3):
            wait_for('node %d in sync' % (i + 1), lambda: (
                lambda m: m and sorted(m[2]['rt'][0][4]) == [1, 2, 3])(cl.meta(i, ['rt'])), 90)
        old = lead
        cl.kill(old)
        lead = cl.wait_leader(exclude=(old,))
        got2 = read_all(cl, 'rt', 2)
        check(got2 == got, 'node %d, the next leader, holds the very same records' % (lead + 1))

        # a consumer group on the cluster: its coordinator is the leader
        from confluent_kafka import Consumer, TopicPartition
        total = sum(len(v) for v in got.values())
        c = Consumer({'bootstrap.servers': cl.bootstrap, 'group.id': 'g1',
                      'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
        c.subscribe(['rt'])
        n = 0
        end = time.monotonic() + 120
        while n < total and time.monotonic() < end:
            m = c.poll(1.0)
            if m is not None and not m.error():
                n += 1
        c.commit(asynchronous=False)
        com = c.committed([TopicPartition('rt', p) for p in range(2)], timeout=30)
        c.close()
        check(n == total and [t.offset for t in com] == [len(got[0]), len(got[1])],
              'a consumer group (coordinator: node %d) reads all %d and commits the ends'
              % (lead + 1, total))
        cl.ok = True
    except BaseException:
        cl.ok = False
        raise


def _insync(tmp, net):
    from confluent_kafka import Producer as P, KafkaError
    cl = Cluster(net, tmp, 3)
    CL.append(cl)

    def produce(acks, n=5, timeout_ms=20000):
        p = P({'bootstrap.servers': cl.bootstrap, 'acks': acks, 'retries': 0,
               'message.timeout.ms': timeout_ms})
        res = []
        for i in range(n):
            p.produce('ins', b'%s-%d-%f' % (acks.encode(), i, time.time()), partition=0,
                      on_delivery=lambda e, m: res.append((e, m.offset(), m.value())))
        p.flush(timeout_ms / 1000 + 30)
        return res

    acked = []
    try:
        for i in range(3):
            cl.start(i)
        lead = cl.wait_leader()
        check(create_topic(cl, 'ins', 1, -1) is None, 'topic ins created (RF -1: all brokers)')
        res = produce('all')
        check(all(e is None for e, _, _ in res), 'acks=all with 3 of 3 in sync (min.insync 3)')
        acked += [(0, o, v) for _, o, v in res]
        f = (lead + 1) % 3
        cl.kill(f)
        wait_for('the ISR to drop node %d' % (f + 1), lambda: (
            lambda m: m and len(m[2]['ins'][0][4]) == 2)(cl.meta(lead, ['ins'])), 60)
        res = produce('all', 3)
        check(all(e is not None and e.code() == KafkaError.NOT_ENOUGH_REPLICAS
                  for e, _, _ in res),
              'acks=all refused with NOT_ENOUGH_REPLICAS (2 in sync, 3 required): %r'
              % ([str(e) for e, _, _ in res],))
        res = produce('1')
        check(all(e is None for e, _, _ in res), 'acks=1 still accepted')
        acked += [(0, o, v) for _, o, v in res]
        cl.start(f)
        cl.stop_all(check_rc=True)
        check(True, 'all three exit 0 on SIGTERM')

        cl.min = 2
        for i in range(3):
            cl.start(i)
        lead = cl.wait_leader()
        res = produce('all')
        check(all(e is None for e, _, _ in res), 'min.insync 2: acks=all with 3 up')
        acked += [(0, o, v) for _, o, v in res]
        down = [(lead + 1) % 3, (lead + 2) % 3]
        for d in down:
            cl.kill(d)
        log('killed nodes', [d + 1 for d in down])
        res = produce('all', 3, 8000)
        check(all(e is not None for e, _, _ in res),
              '2 of 3 down: nothing acknowledged (%r)' % ([str(e) for e, _, _ in res],))
        cl.start(down[0])
        lead = cl.wait_leader(exclude=(down[1],))
        res = produce('all', 5, 60000)
        check(all(e is None for e, _, _ in res), 'a broker back: acks=all accepted again')
        acked += [(0, o, v) for _, o, v in res]
        got = read_all(cl, 'ins', 1)
        byoff = dict(got[0])
        check(all(byoff.get(o) == v for _, o, v in acked),
              'every acknowledged message there (%d)' % len(acked))
        cl.ok = True
    except BaseException:
        cl.ok = False
        raise


s_cluster = with_net(_cluster)
s_insync = with_net(_insync)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument('scenario')
    ap.add_argument('--broker', required=True)
    ARGS = ap.parse_args()
    fn = globals().get('s_' + ARGS.scenario)
    if not fn:
        print('unknown scenario', ARGS.scenario)
        return 2
    tmp = tempfile.mkdtemp(prefix='myco-log-repl-')
    try:
        rc = fn(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if rc == 77:
        return 77
    log('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
