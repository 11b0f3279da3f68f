#!/usr/bin/python3
"""txn_test.py: myco-log's exactly-once transactions with real clients
(python3-confluent-kafka on librdkafka).

    txn_test.py SCENARIO --broker PATH/myco-log --client PATH/rdk_client

Scenarios (both fail on a broker without transactions, e.g. 5d86c8f,
whose init_transactions fails at once):
txn: commit and abort seen through read_committed and read_uncommitted,
    the last stable offset (ListOffsets and a consumer stopping at an open
    transaction), offsets committed with send_offsets_to_transaction only
    on commit, a second instance fencing the first, the transaction timeout
    aborting an abandoned transaction, an open transaction and the
    producer's epoch surviving kill -9 of the broker.
eos: a consume-transform-produce loop (a child process running
    `txn_test.py --loop`) killed with SIGKILL at random points, and the
    broker killed with kill -9 at random points, restarted each time; at
    the end the output topic read with read_committed holds every input
    exactly once.
Uses log_test.py's broker handling.
"""
import collections
import os
import random
import signal
import subprocess
import sys
import time

import log_test as lt
from log_test import Broker, check, log


def wait_until(what, fn, limit=60.0):
    """Poll fn() until it is true; fail after `limit` seconds (a bound on
    a hung broker, not a timing requirement)."""
    end = time.monotonic() + limit
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError('never happened: ' + what)
        time.sleep(0.05)


def read_all(addr, topic, nparts, iso, limit=60.0):
    """Every value of topic (all partitions, from the start, up to the end
    the consumer sees: EOF on all partitions) as a list."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({'bootstrap.servers': addr, 'group.id': 'reader-%s-%d' % (iso, random.randrange(1 << 30)),
                  'isolation.level': iso, 'enable.partition.eof': True,
                  'enable.auto.commit': False})
    c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
    got, eof = [], set()
    end = time.monotonic() + limit
    while len(eof) < nparts:
        if time.monotonic() > end:
            raise AssertionError('reading %s (%s) never reached the end of all partitions'
                                 % (topic, iso))
        m = c.poll(1)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:      # _PARTITION_EOF
                eof.add(m.partition())
            continue
        eof.discard(m.partition())
        got.append(m.value().decode())
    c.close()
    return got


def list_offset(addr, topic, part, iso):
    """ListOffsets v2 latest under an isolation level, sent raw (neither
    kafka-python 2.0.2 nor confluent-kafka 1.7 sends it with one)."""
    import socket
    import struct
    host, port = addr.rsplit(':', 1)
    t = topic.encode()
    body = struct.pack('>ib', -1, 1 if iso == 'read_committed' else 0)
    body += struct.pack('>ih', 1, len(t)) + t + struct.pack('>iiq', 1, part, -1)
    req = struct.pack('>hhih', 2, 2, 7, 4) + b'test' + body
    s = socket.create_connection((host, int(port)), 10)
    s.sendall(struct.pack('>i', len(req)) + req)
    buf = b''
    while len(buf) < 4 or len(buf) < 4 + struct.unpack('>i', buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError('ListOffsets: connection closed')
        buf += chunk
    s.close()
    # corr, throttle, [topic, [partition, error, timestamp, offset]]
    at = 4 + 4 + 4 + 4
    tl = struct.unpack_from('>h', buf, at)[0]
    at += 2 + tl + 4
    _, err, _, off = struct.unpack_from('>ihqq', buf, at)
    if err:
        raise AssertionError('ListOffsets error %d' % err)
    return off


def tx_producer(addr, tid, **extra):
    from confluent_kafka import Producer
    conf = {'bootstrap.servers': addr, 'transactional.id': tid, 'linger.ms': 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(60)
    return p


# ---------------------------------------------------------------- txn

def s_txn(tmp):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    data = os.path.join(tmp, 'data')
    b = Broker(data, '--verbose').start()
    p = tx_producer(b.addr, 'basic')
    check(True, 'init_transactions succeeds (FindCoordinator for a transaction, '
          'InitProducerId with a transactional id)')

    p.begin_transaction()
    for i in range(10):
        p.produce('tx', b'c%d' % i)
    p.commit_transaction(60)
    p.begin_transaction()
    for i in range(10):
        p.produce('tx', b'a%d' % i)
    p.flush(30)
    p.abort_transaction(60)
    p.begin_transaction()
    for i in range(5):
        p.produce('tx', b'd%d' % i)
    p.commit_transaction(60)
    rc = read_all(b.addr, 'tx', 1, 'read_committed')
    ru = read_all(b.addr, 'tx', 1, 'read_uncommitted')
    want = ['c%d' % i for i in range(10)] + ['d%d' % i for i in range(5)]
    check(rc == want, 'read_committed sees the two committed transactions only: %s' % rc)
    check(ru == want[:10] + ['a%d' % i for i in range(10)] + want[10:],
          'read_uncommitted also sees the aborted one')

    # an open transaction: the last stable offset stops read_committed
    p.begin_transaction()
    p.produce('tx', b'open')
    p.flush(30)
    hw = list_offset(b.addr, 'tx', 0, 'read_uncommitted')
    lso = list_offset(b.addr, 'tx', 0, 'read_committed')
    check(lso < hw, 'ListOffsets: last stable offset %d below the high watermark %d '
          'while a transaction is open' % (lso, hw))
    check(read_all(b.addr, 'tx', 1, 'read_committed') == want,
          'a read_committed consumer stops at the open transaction')

    # kill -9 with the transaction open: it is still open after the restart
    b.stop(signal.SIGKILL)
    b.extra += ['--listen', b.addr]     # same address: the producer reconnects
    b.start()
    check(list_offset(b.addr, 'tx', 0, 'read_committed') == lso,
          'after kill -9 the open transaction still holds the last stable offset')
    p.produce('tx', b'open2')
    p.commit_transaction(60)
    rc = read_all(b.addr, 'tx', 1, 'read_committed')
    check(rc == want + ['open', 'open2'],
          'the producer commits its transaction across the broker restart')

    # offsets sent with the transaction are committed only with it
    c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'cg', 'enable.auto.commit': False})
    c.assign([TopicPartition('tx', 0, 0)])
    gmd = c.consumer_group_metadata()
    p.begin_transaction()
    p.produce('tx', b'x')
    p.send_offsets_to_transaction([TopicPartition('tx', 0, 7)], gmd, 30)
    p.abort_transaction(60)
    got = c.committed([TopicPartition('tx', 0)], 30)[0].offset
    check(got < 0, 'offsets sent with an aborted transaction are not committed (%d)' % got)
    p.begin_transaction()
    p.produce('tx', b'y')
    p.send_offsets_to_transaction([TopicPartition('tx', 0, 9)], gmd, 30)
    p.commit_transaction(60)
    got = c.committed([TopicPartition('tx', 0)], 30)[0].offset
    check(got == 9, 'offsets sent with a committed transaction are committed (%d)' % got)
    c.close()

    # a second instance with the same transactional id fences the first
    p.begin_transaction()
    p.produce('tx', b'zombie')
    p.flush(30)
    p2 = tx_producer(b.addr, 'basic')
    err = None
    try:
        p.produce('tx', b'zombie2')
        p.commit_transaction(30)
    except KafkaException as e:
        err = e.args[0]
    check(err is not None and err.fatal(),
          'the first instance is fenced: its commit fails fatally (%s)' % err)
    p2.begin_transaction()
    p2.produce('tx', b'new')
    p2.commit_transaction(60)
    rc = read_all(b.addr, 'tx', 1, 'read_committed')
    check('zombie' not in rc and 'zombie2' not in rc and rc[-1] == 'new',
          "the fenced instance's open transaction was aborted, the new one commits")

    # an abandoned transaction is aborted by its timeout
    p3 = tx_producer(b.addr, 'abandoned', **{'transaction.timeout.ms': 3000})
    p3.begin_transaction()
    p3.produce('tx', b'abandoned')
    p3.flush(30)
    wait_until('the transaction timeout aborts the abandoned transaction',
               lambda: list_offset(b.addr, 'tx', 0, 'read_committed') ==
               list_offset(b.addr, 'tx', 0, 'read_uncommitted'))
    check('aborted (transaction timeout)' in b.stderr_text(),
          'the broker says it aborted the abandoned transaction on its timeout')
    rc = read_all(b.addr, 'tx', 1, 'read_committed')
    check('abandoned' not in rc, 'its record is not read_committed')
    log('api versions used:', sorted(set(
        l.split('api ')[1].split(' (')[0] for l in b.stderr_text().splitlines()
        if 'first use of api' in l)))
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- eos

N_IN = 3000
N_PARTS = 3


def loop_main(addr):
    """The consume-transform-produce loop: exits 0 once every input is
    consumed and committed; any error: exit 3 (the test restarts it)."""
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    p = Producer({'bootstrap.servers': addr, 'transactional.id': 'eos-loop', 'linger.ms': 2,
                  'transaction.timeout.ms': 10000})
    p.init_transactions(60)
    c = Consumer({'bootstrap.servers': addr, 'group.id': 'eos', 'isolation.level': 'read_committed',
                  'enable.auto.commit': False, 'auto.offset.reset': 'earliest',
                  'enable.partition.eof': True})
    parts = [TopicPartition('in', i) for i in range(N_PARTS)]
    c.assign(parts)
    eof = set()
    while True:
        msgs = c.consume(50, 1)
        batch = []
        for m in msgs:
            if m.error():
                if m.error().code() == -191:
                    eof.add(m.partition())
                    continue
                raise KafkaException(m.error())
            eof.discard(m.partition())
            batch.append(m)
        if not batch:
            if len(eof) == N_PARTS:
                print('loop: all input consumed', flush=True)
                return 0
            continue
        p.begin_transaction()
        for m in batch:
            p.produce('out', b'out-' + m.value(), key=m.key())
        pos = c.position(parts)
        p.send_offsets_to_transaction([tp for tp in pos if tp.offset >= 0],
                                      c.consumer_group_metadata(), 30)
        p.commit_transaction(30)


def s_eos(tmp):
    from confluent_kafka import Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    data = os.path.join(tmp, 'data')
    b = Broker(data, '--verbose').start()
    b.extra += ['--listen', b.addr]     # restarts keep the address
    ac = AdminClient({'bootstrap.servers': b.addr})
    for f in ac.create_topics([NewTopic('in', N_PARTS, 1), NewTopic('out', N_PARTS, 1)]).values():
        f.result(30)
    p = Producer({'bootstrap.servers': b.addr, 'enable.idempotence': True})
    for i in range(N_IN):
        p.produce('in', b'%d' % i, key=b'%d' % i, partition=i % N_PARTS)
    check(p.flush(60) == 0, '%d input messages in %d partitions' % (N_IN, N_PARTS))

    rnd = random.Random(int(os.environ.get('TXN_SEED', time.time())))
    kills = broker_kills = 0
    budget = 12                     # random kills before letting it finish
    while True:
        proc = subprocess.Popen([sys.executable, __file__, '--loop', b.addr])
        if budget > 0:
            budget -= 1
            try:
                proc.wait(rnd.uniform(0.3, 2.5))
            except subprocess.TimeoutExpired:
                pass
            if proc.poll() is None:
                if rnd.random() < 0.3:
                    b.stop(signal.SIGKILL)
                    broker_kills += 1
                    log('eos: broker killed with kill -9')
                    proc.kill()
                    proc.wait()
                    b.start()
                else:
                    proc.kill()
                    proc.wait()
                kills += 1
                log('eos: loop killed (%d so far)' % kills)
                continue
        rc = proc.wait(300)
        if rc == 0:
            break
        log('eos: loop exited %d (an error it does not retry): restarted' % rc)
        budget = max(budget, 0)
    log('eos: %d kills, %d of the broker' % (kills, broker_kills))
    # how many of the 12 random kills land mid-stream depends on how fast
    # the loop runs (ASan, load): at least one must, and the log says how many
    check(kills >= 1, 'the loop was killed %d times mid-stream' % kills)

    out = read_all(b.addr, 'out', N_PARTS, 'read_committed')
    cnt = collections.Counter(out)
    want = collections.Counter('out-%d' % i for i in range(N_IN))
    dup = [v for v, n in cnt.items() if n > 1]
    missing = [v for v in want if v not in cnt]
    check(not dup and not missing and cnt == want,
          'read_committed: every one of the %d inputs exactly once in the output '
          '(%d read, %d duplicated, %d missing)' % (N_IN, len(out), len(dup), len(missing)))
    raw = read_all(b.addr, 'out', N_PARTS, 'read_uncommitted')
    log('eos: read_uncommitted holds %d records (aborted transactions included)' % len(raw))
    check(b.stop() == 0, 'broker exits 0')


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--loop':
        try:
            sys.exit(loop_main(sys.argv[2]))
        except Exception as e:        # any failure: the test restarts us
            print('loop: %r' % (e,), flush=True)
            sys.exit(3)
    sys.exit(lt.main(globals()))
