#!/usr/bin/python3
"""admin_test.py: myco-log's administration APIs with real Kafka clients.

    admin_test.py SCENARIO --broker PATH/myco-log --client PATH/rdk_client
                           --admin PATH/rdk_admin

Scenarios (each fails on a broker without these APIs, e.g. 699a5b8):
topics (python3-confluent-kafka AdminClient: CreateTopics with
compression.type=lz4 and cleanup.policy=compact|delete, DescribeConfigs of a
topic and of the broker, AlterConfigs that the broker applies: retention,
segment.bytes, cleanup.policy, max.message.bytes, message.timestamp.type;
CreatePartitions; DeleteTopics), groups (kafka-python and librdkafka:
ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, DeleteRecords),
raw (kafka-python's protocol codec with the official message layouts:
IncrementalAlterConfigs, DescribeCluster, DescribeLogDirs).
Uses log_test.py's broker handling.
"""
import glob
import os
import sys
import time

import log_test as lt
from log_test import Broker, check, log, run


def wait_until(what, fn, limit=30.0):
    """Poll fn() until it is true; fail after `limit` seconds (a bound on
    a hung broker, not a timing requirement)."""
    end = time.monotonic() + limit
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError('never happened: ' + what)
        time.sleep(0.1)


def earliest(addr, topic, part=0):
    r = run(['kcat', '-b', addr, '-Q', '-t', '%s:%d:-2' % (topic, part)], capture_output=True)
    return int(r.stdout.decode().split('offset')[1].split()[0])


def nlogs(data, topic):
    return len(glob.glob(os.path.join(data, glob.escape(topic) + '-0', '*.log')))


# ---------------------------------------------------------------- topics

def s_topics(tmp):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions,
                                       NewTopic)
    data = os.path.join(tmp, 'data')
    b = Broker(data, '--retention-check-ms', '100', '--no-auto-create').start()
    ac = AdminClient({'bootstrap.servers': b.addr})

    def done(futs):
        out = {}
        for k, f in futs.items():
            try:
                out[k] = f.result(30)
            except KafkaException as e:
                out[k] = e.args[0]
        return out

    res = done(ac.create_topics([
        NewTopic('lz', 1, 1, config={'compression.type': 'lz4'}),
        NewTopic('cmp', 1, 1, config={'cleanup.policy': 'compact'}),
        NewTopic('del', 1, 1, config={'cleanup.policy': 'delete'}),
        NewTopic('bad', 1, 1, config={'cleanup.policy': 'sometimes'}),
        NewTopic('unk', 1, 1, config={'no.such.config': '1'}),
    ]))
    check(res['lz'] is None and res['cmp'] is None and res['del'] is None,
          'CreateTopics accepts compression.type=lz4, cleanup.policy=compact and =delete')
    check(res['bad'] is not None and res['bad'].name() == 'INVALID_CONFIG' and
          res['unk'] is not None and res['unk'].name() == 'INVALID_CONFIG',
          'a bad cleanup.policy and an unknown config are INVALID_CONFIG, as Kafka answers')

    def describe(name):
        r = done(ac.describe_configs([ConfigResource('topic', name)]))
        return {k: v.value for k, v in list(r.values())[0].items()}
    d = describe('lz')
    check(d.get('compression.type') == 'lz4' and d.get('cleanup.policy') == 'delete',
          'DescribeConfigs of a topic: compression.type=lz4, cleanup.policy=delete')
    check(describe('cmp').get('cleanup.policy') == 'compact', 'cleanup.policy=compact kept')
    r = done(ac.describe_configs([ConfigResource('broker', '0')]))
    bc = {k: v.value for k, v in list(r.values())[0].items()}
    check(bc.get('broker.id') == '0' and 'log.dirs' in bc,
          'DescribeConfigs of the broker: broker.id=0, log.dirs=%s' % bc.get('log.dirs'))

    # AlterConfigs, applied: small segments and retention on 'del'
    res = done(ac.alter_configs([ConfigResource('topic', 'del', set_config={
        'segment.bytes': '2048', 'retention.bytes': '4096', 'cleanup.policy': 'delete',
        'max.message.bytes': '3000', 'message.timestamp.type': 'LogAppendTime'}),
        ConfigResource('topic', 'cmp', set_config={
            'segment.bytes': '2048', 'retention.bytes': '4096', 'cleanup.policy': 'compact'})]))
    check(all(v is None for v in res.values()), 'AlterConfigs of topics del and cmp accepted')
    d = describe('del')
    check(d['segment.bytes'] == '2048' and d['max.message.bytes'] == '3000' and
          d['message.timestamp.type'] == 'LogAppendTime', 'DescribeConfigs shows the new values')

    errs = {}

    def dr(err, msg):
        errs[msg.value()[:4]] = err.name() if err else None
    p = Producer({'bootstrap.servers': b.addr, 'linger.ms': 0, 'batch.num.messages': 1})
    for i in range(200):
        for t in ('del', 'cmp'):
            p.produce(t, b'keep' + str(i).encode() + b'x' * 200, key=b'k%d' % (i % 5),
                      on_delivery=dr)
    p.produce('del', b'huge' + b'x' * 5000, on_delivery=dr)
    p.flush(30)
    check(errs.get(b'huge') == 'MSG_SIZE_TOO_LARGE',
          'max.message.bytes=3000 applied: a 5 KB message refused (%s)' % errs.get(b'huge'))
    wait_until('retention on del', lambda: earliest(b.addr, 'del') > 0)
    check(True, 'retention.bytes applied: del starts at offset %d' % earliest(b.addr, 'del'))
    check(nlogs(data, 'cmp') > 5,
          'segment.bytes=2048 applied: %d segment files for cmp' % nlogs(data, 'cmp'))
    check(earliest(b.addr, 'cmp') == 0,
          'cleanup.policy=compact: retention (which did run on del) kept every segment of cmp')
    # retention may drop the segment between asking for the earliest offset
    # and fetching it: then start again from the new earliest, not the end
    c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'ts', 'enable.auto.commit': False,
                  'auto.offset.reset': 'earliest'})
    c.assign([TopicPartition('del', 0, earliest(b.addr, 'del'))])
    m = c.poll(20)
    c.close()
    check(m is not None and m.error() is None and m.timestamp()[0] == 2,
          'message.timestamp.type=LogAppendTime applied (timestamp type %s)' %
          (m.timestamp()[0] if m is not None else None))

    res = done(ac.create_partitions([NewPartitions('lz', 4), NewPartitions('del', 1)]))
    check(res['lz'] is None, 'CreatePartitions: lz grows to 4')
    check(res['del'] is not None and res['del'].name() == 'INVALID_PARTITIONS',
          'CreatePartitions cannot shrink (INVALID_PARTITIONS)')
    md = ac.list_topics(timeout=10)
    check(len(md.topics['lz'].partitions) == 4, 'Metadata shows 4 partitions')
    p.produce('lz', b'to-partition-3', partition=3)
    check(p.flush(30) == 0, 'a new partition takes messages')

    res = done(ac.delete_topics(['cmp', 'nosuch']))
    check(res['cmp'] is None, 'DeleteTopics: cmp deleted')
    check(res['nosuch'] is not None and res['nosuch'].name() == 'UNKNOWN_TOPIC_OR_PART',
          'DeleteTopics of an unknown topic: UNKNOWN_TOPIC_OR_PART')
    check('cmp' not in ac.list_topics(timeout=10).topics, 'cmp is gone from Metadata')
    check(not glob.glob(os.path.join(data, 'cmp-*')), 'and from the disk')
    b.stop()
    b.start()
    ac = AdminClient({'bootstrap.servers': b.addr})
    d = describe('del')
    check(d['segment.bytes'] == '2048' and d['cleanup.policy'] == 'delete' and
          len(ac.list_topics(timeout=10).topics['lz'].partitions) == 4,
          'altered configs and added partitions survive a restart')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- groups

def s_groups(tmp):
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    b = Broker(os.path.join(tmp, 'data'), '--group-initial-delay', '0').start()
    check(lt.client('produce', b.addr, 'gt', '1000') == 0, '1000 messages produced')
    cons = KafkaConsumer('gt', bootstrap_servers=b.addr, group_id='live',
                         auto_offset_reset='earliest', enable_auto_commit=False,
                         consumer_timeout_ms=10000)
    got = 0
    for _ in cons:
        got += 1
        if got == 1000:
            break
    cons.commit()
    check(got == 1000, 'a kafka-python consumer in group live read 1000 and committed')
    ad = KafkaAdminClient(bootstrap_servers=b.addr)
    groups = dict(ad.list_consumer_groups())
    check('live' in groups, 'ListGroups (kafka-python): %s' % sorted(groups))
    desc = ad.describe_consumer_groups(['live'])[0]
    check(desc.state == 'Stable' and len(desc.members) == 1 and
          desc.members[0].member_assignment is not None,
          'DescribeGroups (kafka-python): live is Stable with 1 member')
    r = run([ARGS.admin, b.addr, 'describe-group', 'live'], capture_output=True)
    check(r.returncode == 0 and b'Stable members 1' in r.stdout,
          'DescribeGroups (librdkafka): %s' % r.stdout.decode().strip())
    r = run([ARGS.admin, b.addr, 'delete-group', 'live'], capture_output=True)
    check(r.returncode == 1 and b'NON_EMPTY_GROUP' in r.stdout,
          'DeleteGroups of a group with a member: NON_EMPTY_GROUP')
    r = run([ARGS.admin, b.addr, 'offset-delete', 'live', 'gt', '0'], capture_output=True)
    check(b'GROUP_SUBSCRIBED_TO_TOPIC' in r.stdout,
          'OffsetDelete while a member consumes the topic: GROUP_SUBSCRIBED_TO_TOPIC')
    cons.close()

    r = run([ARGS.admin, b.addr, 'list-groups'], capture_output=True)
    check(r.returncode == 0 and b'live Empty' in r.stdout,
          'ListGroups (librdkafka) after the member left: %s' % r.stdout.decode().strip())
    offs = ad.list_consumer_group_offsets('live')
    check(offs.get(TopicPartition('gt', 0)) is not None and
          offs[TopicPartition('gt', 0)].offset == 1000, 'committed offset 1000 is there')
    r = run([ARGS.admin, b.addr, 'offset-delete', 'live', 'gt', '0'], capture_output=True)
    check(r.returncode == 0 and b'NO_ERROR' in r.stdout, 'OffsetDelete (librdkafka) of gt[0]')
    offs = ad.list_consumer_group_offsets('live')
    check(TopicPartition('gt', 0) not in offs or offs[TopicPartition('gt', 0)].offset == -1,
          'the offset is gone')

    # DeleteGroups now that it is empty (kafka-python, then librdkafka)
    res = ad.delete_consumer_groups(['live'])
    log('delete_consumer_groups:', res)
    check(all(getattr(e, 'errno', 0) == 0 for _, e in res), 'DeleteGroups (kafka-python) of live')
    r = run([ARGS.admin, b.addr, 'delete-group', 'live'], capture_output=True)
    check(r.returncode == 1 and b'GROUP_ID_NOT_FOUND' in r.stdout,
          'deleting it again: GROUP_ID_NOT_FOUND')
    check('live' not in dict(ad.list_consumer_groups()), 'live is no longer listed')

    # DeleteRecords (librdkafka)
    r = run([ARGS.admin, b.addr, 'delete-records', 'gt', '0', '400'], capture_output=True)
    check(r.returncode == 0 and b'low_watermark 400' in r.stdout,
          'DeleteRecords up to 400: %s' % r.stdout.decode().strip())
    check(earliest(b.addr, 'gt') == 400, 'ListOffsets earliest is 400')
    r = run(['kcat', '-b', b.addr, '-C', '-t', 'gt', '-o', 'beginning', '-e', '-q', '-f', '%o\n'],
            capture_output=True)
    offs = [int(x) for x in r.stdout.split()]
    check(offs == list(range(400, 1000)), 'kcat from the beginning reads 400..999')
    r = run([ARGS.admin, b.addr, 'delete-records', 'gt', '0', '5000'], capture_output=True)
    check(r.returncode == 1 and b'OFFSET_OUT_OF_RANGE' in r.stdout,
          'DeleteRecords past the end: OFFSET_OUT_OF_RANGE')
    b.stop()
    b.start()
    check(earliest(b.addr, 'gt') == 400, 'the log start 400 survives a restart')

    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- raw

def s_raw(tmp):
    """APIs no packaged client here calls: their requests built with
    kafka-python's own protocol codec (kafka.protocol.types) following the
    official message layouts."""
    from kafka import KafkaAdminClient
    from kafka.protocol.api import Request, Response
    from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Int64, Schema, String

    class IncAlterResp(Response):
        API_KEY, API_VERSION = 44, 0
        SCHEMA = Schema(('throttle_time_ms', Int32),
                        ('responses', Array(('error_code', Int16),
                                            ('error_message', String('utf-8')),
                                            ('resource_type', Int8),
                                            ('resource_name', String('utf-8')))))

    class IncAlterReq(Request):
        API_KEY, API_VERSION, RESPONSE_TYPE = 44, 0, IncAlterResp
        SCHEMA = Schema(('resources', Array(('resource_type', Int8),
                                            ('resource_name', String('utf-8')),
                                            ('configs', Array(('name', String('utf-8')),
                                                              ('config_operation', Int8),
                                                              ('value', String('utf-8')))))),
                        ('validate_only', Boolean))

    class LogDirsResp(Response):
        API_KEY, API_VERSION = 35, 1
        SCHEMA = Schema(('throttle_time_ms', Int32),
                        ('results', Array(('error_code', Int16), ('log_dir', String('utf-8')),
                                          ('topics', Array(('name', String('utf-8')),
                                                           ('partitions', Array(
                                                               ('partition_index', Int32),
                                                               ('partition_size', Int64),
                                                               ('offset_lag', Int64),
                                                               ('is_future_key', Boolean))))))))

    class LogDirsReq(Request):
        API_KEY, API_VERSION, RESPONSE_TYPE = 35, 1, LogDirsResp
        SCHEMA = Schema(('topics', Array(('topic', String('utf-8')), ('partitions', Array(Int32)))))

    data = os.path.join(tmp, 'data')
    b = Broker(data).start()
    check(lt.client('produce', b.addr, 'raw', '500') == 0, '500 messages produced to raw')
    ad = KafkaAdminClient(bootstrap_servers=b.addr)

    def send(req):
        fut = ad._client.send(ad._client.least_loaded_node(), req)
        ad._client.poll(future=fut, timeout_ms=10000)
        check(fut.succeeded(), 'answer to api %d v%d' % (req.API_KEY, req.API_VERSION))
        return fut.value

    r = send(IncAlterReq(resources=[(2, 'raw', [('retention.ms', 0, '3600000'),
                                                 ('cleanup.policy', 2, 'compact')])],
                         validate_only=False))
    check(r.responses[0][0] == 0, 'IncrementalAlterConfigs: SET retention.ms, APPEND compact')
    r = send(IncAlterReq(resources=[(2, 'raw', [('retention.ms', 1, None)])], validate_only=False))
    check(r.responses[0][0] == 0, 'IncrementalAlterConfigs: DELETE retention.ms (back to default)')
    r = send(IncAlterReq(resources=[(2, 'raw', [('segment.bytes', 2, '1')])], validate_only=False))
    check(r.responses[0][0] == 40, 'APPEND to a non-list config: INVALID_CONFIG')
    cfg = ad.describe_configs([__import__('kafka.admin', fromlist=['ConfigResource'])
                               .ConfigResource('TOPIC', 'raw')])[0]
    entries = {e[0]: e[1] for e in cfg.resources[0][4]}
    check(entries.get('cleanup.policy') == 'compact,delete' and
          entries.get('retention.ms') == '604800000',
          'DescribeConfigs (kafka-python) after the increments: %s, retention.ms %s' %
          (entries.get('cleanup.policy'), entries.get('retention.ms')))

    r = send(LogDirsReq(topics=[('raw', [0]), ('none', [0])]))
    res = r.results[0]
    check(res[0] == 0 and os.path.realpath(data) == res[1] and len(res[2]) == 1 and
          res[2][0][0] == 'raw' and res[2][0][1][0][1] > 500 * 10,
          'DescribeLogDirs: %s holds raw[0] with %d bytes' % (res[1], res[2][0][1][0][1]))
    # DescribeCluster v0 is flexible: kafka-python 2.0.2 cannot encode
    # that, so check the broker lists it in ApiVersions and answers
    # kafka-python's describe_cluster (Metadata) with this node
    versions = ad._client.check_version() and ad._client._api_versions
    check(60 in versions and 44 in versions and 35 in versions,
          'ApiVersions lists DescribeCluster, IncrementalAlterConfigs, DescribeLogDirs')
    cl = ad.describe_cluster()
    check(cl['cluster_id'] == 'myco-log' and cl['brokers'][0]['node_id'] == 0,
          'describe_cluster: cluster myco-log, node 0')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- liveness

def s_liveness(tmp):
    """Group liveness and commit semantics (issue 18, item 2)."""
    import threading
    from confluent_kafka import Consumer, TopicPartition as CTP
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.client_async import KafkaClient
    from kafka.protocol.api import Request, Response
    from kafka.protocol.group import JoinGroupRequest_v2
    from kafka.protocol.types import Array, Bytes, Int16, Int32, Schema, String
    from kafka.structs import OffsetAndMetadata

    class JoinResp4(Response):
        API_KEY, API_VERSION = 11, 4
        SCHEMA = Schema(('throttle_time_ms', Int32), ('error_code', Int16),
                        ('generation_id', Int32), ('group_protocol', String('utf-8')),
                        ('leader_id', String('utf-8')), ('member_id', String('utf-8')),
                        ('members', Array(('member_id', String('utf-8')),
                                          ('member_metadata', Bytes))))

    class JoinReq4(Request):
        API_KEY, API_VERSION, RESPONSE_TYPE = 11, 4, JoinResp4
        SCHEMA = JoinGroupRequest_v2.SCHEMA

    b = Broker(os.path.join(tmp, 'data'), '--group-initial-delay', '0').start()
    check(lt.client('produce', b.addr, 'lv', '100') == 0, '100 messages produced to lv')
    ad = KafkaAdminClient(bootstrap_servers=b.addr)
    # a subscription to lv in the consumer protocol (version 0)
    sub = struct_sub('lv')

    def send(cl, req):
        node = cl.least_loaded_node()
        while not cl.ready(node):
            cl.poll(timeout_ms=100)
        fut = cl.send(node, req)
        cl.poll(future=fut, timeout_ms=10000)
        return fut.value

    # 1. MEMBER_ID_REQUIRED (KIP-394): JoinGroup v4 without an id gets one
    cl = KafkaClient(bootstrap_servers=b.addr)
    r = send(cl, JoinReq4('mg', 6000, 6000, '', 'consumer', [('range', sub)]))
    check(r.error_code == 79 and r.member_id,
          'JoinGroup v4 without a member id: MEMBER_ID_REQUIRED with id %s' % r.member_id)
    r2 = send(cl, JoinReq4('mg', 6000, 6000, r.member_id, 'consumer', [('range', sub)]))
    check(r2.error_code == 0 and r2.member_id == r.member_id and r2.leader_id == r.member_id,
          'rejoining with that id: joined as leader')
    cl.close()

    # 2. an abandoned JoinGroup in the middle of a rebalance does not hold
    # the group for its rebalance timeout (300 s): it is expired after its
    # session timeout (6 s)
    stop = threading.Event()
    cons = KafkaConsumer('lv', bootstrap_servers=b.addr, group_id='lg',
                         auto_offset_reset='earliest', session_timeout_ms=6000,
                         heartbeat_interval_ms=500, max_poll_interval_ms=300000)

    def polling():
        while not stop.is_set():
            cons.poll(timeout_ms=200)
    t = threading.Thread(target=polling)
    t.start()
    try:
        wait_until('lg stable', lambda: ad.describe_consumer_groups(['lg'])[0].state == 'Stable')
        cl = KafkaClient(bootstrap_servers=b.addr)
        node = cl.least_loaded_node()
        while not cl.ready(node):
            cl.poll(timeout_ms=100)
        cl.send(node, JoinGroupRequest_v2('lg', 6000, 300000, '', 'consumer', [('range', sub)]))
        cl.poll(timeout_ms=300)
        cl.close()                  # gone without waiting for the answer
        log('abandoned a JoinGroup to lg (session 6 s, rebalance 300 s)')
        wait_until('the rebalance starts',
                   lambda: (lambda d: d.state != 'Stable' or len(d.members) == 2)(
                       ad.describe_consumer_groups(['lg'])[0]))
        check(True, 'the abandoned join started a rebalance')
        wait_until('lg back to Stable with one member',
                   lambda: (lambda d: d.state == 'Stable' and len(d.members) == 1)(
                       ad.describe_consumer_groups(['lg'])[0]), limit=60)
        check(True, 'the abandoned member expired after its session timeout, lg Stable again')
    finally:
        stop.set()
        t.join()
        cons.close()

    # 3. static membership: a restarted member with the same
    # group.instance.id takes its place, no second member, no rebalance
    conf = {'bootstrap.servers': b.addr, 'group.id': 'sg', 'group.instance.id': 'inst-1',
            'session.timeout.ms': 6000, 'auto.offset.reset': 'earliest'}
    c1 = Consumer(conf)
    c1.subscribe(['lv'])
    m = c1.poll(20)
    check(m is not None and m.error() is None, 'static member inst-1 consumes')
    gen1 = ad.describe_consumer_groups(['sg'])[0]
    c1.close()
    c2 = Consumer(conf)
    c2.subscribe(['lv'])
    m = c2.poll(20)
    d = ad.describe_consumer_groups(['sg'])[0]
    check(m is not None and m.error() is None and d.state == 'Stable' and len(d.members) == 1,
          'inst-1 restarted: it consumes at once and the group has one member, not two')
    check(d.members[0].member_id != gen1.members[0].member_id,
          'under a new member id (the old one is fenced)')

    # 4. commits: to unknown topics/partitions refused, metadata kept exactly
    from confluent_kafka import KafkaException
    errs = {}
    for tp in (CTP('lv', 0, 7), CTP('lv', 5, 1), CTP('nosuch', 0, 1)):
        try:
            c2.commit(offsets=[tp], asynchronous=False)
            errs[(tp.topic, tp.partition)] = None
        except KafkaException as e:
            errs[(tp.topic, tp.partition)] = e.args[0].name()
    c2.close()
    check(errs[('lv', 0)] is None, 'commit to lv[0] accepted')
    check(errs[('lv', 5)] == 'UNKNOWN_TOPIC_OR_PART' and errs[('nosuch', 0)] == 'UNKNOWN_TOPIC_OR_PART',
          'commits to lv[5] and nosuch[0]: UNKNOWN_TOPIC_OR_PART, as Kafka answers')
    kc = KafkaConsumer(bootstrap_servers=b.addr, group_id='md', enable_auto_commit=False)
    kc.commit({TopicPartition('lv', 0): OffsetAndMetadata(5, 'a\x00b\x00c')})
    kc.close()
    got = ad.list_consumer_group_offsets('md')[TopicPartition('lv', 0)]
    check(got.offset == 5 and got.metadata == 'a\x00b\x00c',
          'commit metadata kept byte for byte: %r' % got.metadata)
    b.stop()
    b.start()
    ad = KafkaAdminClient(bootstrap_servers=b.addr)
    got = ad.list_consumer_group_offsets('md')[TopicPartition('lv', 0)]
    check(got.metadata == 'a\x00b\x00c', 'also after a restart')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- fetch

def s_fetch(tmp):
    """Fetch limits (issue 18, item 3)."""
    from confluent_kafka import Consumer, KafkaException, Producer
    b = Broker(os.path.join(tmp, 'data'), '--partitions', '4').start()
    p = Producer({'bootstrap.servers': b.addr, 'linger.ms': 0, 'batch.num.messages': 1,
                  'compression.type': 'none'})
    n = 0
    for part in range(4):
        for i in range(3):
            p.produce('big', b'%d-%d-' % (part, i) + b'v' * 150000, partition=part)
            n += 1
    check(p.flush(30) == 0, '%d messages of 150 KB in 4 partitions' % n)
    # fetch.max.bytes 200000, per partition 100000: a response may exceed
    # them only by its first batch; librdkafka refuses any response larger
    # than receive.message.max.bytes (250000) and would retry forever
    c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'fl', 'auto.offset.reset': 'earliest',
                  'fetch.max.bytes': 200000, 'max.partition.fetch.bytes': 100000,
                  'receive.message.max.bytes': 250000, 'message.max.bytes': 190000,
                  'enable.auto.commit': False})
    c.subscribe(['big'])
    got = 0
    end = time.monotonic() + 60
    while got < n and time.monotonic() < end:
        m = c.poll(1)
        if m is not None and m.error() is None:
            got += 1
    c.close()
    check(got == n, 'a consumer with fetch.max.bytes 200000 and receive.message.max.bytes '
          '250000 reads all %d (got %d): the broker kept to the limits' % (n, got))

    # (transactional producers: txn_test.py)
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- sasl

def s_sasl(tmp):
    """SASL on the listener (--sasl-users): PLAIN with kcat (librdkafka,
    SaslHandshake v1 + SaslAuthenticate), PLAIN and SCRAM-SHA-256/512 with
    kafka-python (SaslHandshake v0 + bare tokens); wrong passwords and
    unauthenticated requests refused."""
    from kafka import KafkaConsumer, KafkaProducer
    users = os.path.join(tmp, 'users')
    with open(users, 'w') as f:
        f.write('# user:password\nalice:alice-secret\nbob:b0b:with:colons\n')
    b = Broker(os.path.join(tmp, 'data'), '--sasl-users', users, '--verbose').start()
    kc = ['kcat', '-b', b.addr, '-X', 'security.protocol=SASL_PLAINTEXT',
          '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=alice']
    r = run(kc + ['-X', 'sasl.password=alice-secret', '-P', '-t', 'sec'],
            input=b'one\ntwo\n', capture_output=True)
    check(r.returncode == 0, 'kcat PLAIN as alice produces (%s)' % r.stderr.decode()[-200:])
    r = run(kc + ['-X', 'sasl.password=alice-secret', '-C', '-t', 'sec', '-e'],
            capture_output=True)
    check(r.stdout.decode().split() == ['one', 'two'], 'kcat PLAIN as alice consumes them')
    r = run(kc + ['-X', 'sasl.password=wrong', '-L', '-m', '5'], capture_output=True)
    check(r.returncode != 0, 'kcat PLAIN with a wrong password is refused')
    r = run(['kcat', '-b', b.addr, '-L', '-m', '5'], capture_output=True)
    check(r.returncode != 0 and 'before SASL authentication' in b.stderr_text(),
          'a client without SASL gets nothing: the broker closes it at its first request')
    got = []
    for mech in ('PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'):
        p = KafkaProducer(bootstrap_servers=b.addr, security_protocol='SASL_PLAINTEXT',
                          api_version=(2, 5, 0), sasl_mechanism=mech,
                          sasl_plain_username='bob', sasl_plain_password='b0b:with:colons')
        p.send('sec', mech.encode()).get(30)
        p.close()
        check('authenticated as bob with ' + mech in b.stderr_text(),
              'kafka-python %s as bob (a password with colons) produces' % mech)
    c = KafkaConsumer('sec', bootstrap_servers=b.addr, security_protocol='SASL_PLAINTEXT',
                      api_version=(2, 5, 0), sasl_mechanism='SCRAM-SHA-512',
                      sasl_plain_username='alice', sasl_plain_password='alice-secret',
                      auto_offset_reset='earliest', consumer_timeout_ms=5000)
    got = [m.value for m in c]
    c.close()
    check(got == [b'one', b'two', b'PLAIN', b'SCRAM-SHA-256', b'SCRAM-SHA-512'],
          'kafka-python SCRAM-SHA-512 as alice consumes all five')
    refused = 0
    for mech in ('SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'):
        try:
            p = KafkaProducer(bootstrap_servers=b.addr, security_protocol='SASL_PLAINTEXT',
                              api_version=(2, 5, 0), sasl_mechanism=mech,
                              sasl_plain_username='bob', sasl_plain_password='nope',
                              max_block_ms=3000)
            p.send('sec', b'intruder').get(5)
        except Exception:
            refused += 1
    check(refused == 3 and b.stderr_text().count('authentication failed') >= 4,
          'wrong passwords refused for all three mechanisms')
    # librdkafka before 2.6.1 sends a malformed SCRAM client-final nonce
    # (its client nonce twice, librdkafka PR 4895); Cyrus SASL, like Kafka
    # 4.x, checks it as RFC 5802 says, so kcat's SCRAM is refused
    r = run(['kcat', '-b', b.addr, '-X', 'security.protocol=SASL_PLAINTEXT',
             '-X', 'sasl.mechanisms=SCRAM-SHA-256', '-X', 'sasl.username=alice',
             '-X', 'sasl.password=alice-secret', '-L', '-m', '5'], capture_output=True)
    check(r.returncode != 0 and 'Nonce mismatch' in b.stderr_text(),
          'librdkafka 2.0.2 SCRAM: refused for its known nonce bug (RFC 5802 check kept)')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- tls

def s_tls(tmp):
    """TLS (OpenSSL) on the listener, alone and with SASL (SASL_SSL):
    kcat/librdkafka and kafka-python verify the broker's certificate;
    large fetch answers (file ranges) are encrypted too."""
    from kafka import KafkaConsumer, KafkaProducer
    cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
    r = run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
             '-out', cert, '-days', '2', '-subj', '/CN=localhost',
             '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], capture_output=True)
    check(r.returncode == 0, 'a self-signed certificate for 127.0.0.1')
    users = os.path.join(tmp, 'users')
    with open(users, 'w') as f:
        f.write('alice:alice-secret\n')
    b = Broker(os.path.join(tmp, 'data'), '--tls-cert', cert, '--tls-key', key).start()
    kc = ['kcat', '-b', b.addr, '-X', 'security.protocol=SSL', '-X', 'ssl.ca.location=' + cert]
    lines = b''.join(b'%d\n' % i for i in range(3000))
    big = b'B' * 200000
    r = run(kc + ['-P', '-t', 'tls'], input=lines, capture_output=True)
    check(r.returncode == 0, 'kcat over TLS produces 3000 lines')
    r = run(kc + ['-P', '-t', 'tls'], input=big + b'\n', capture_output=True)
    check(r.returncode == 0, 'and one 200 KB message')
    r = run(kc + ['-C', '-t', 'tls', '-e', '-q'], capture_output=True)
    check(r.stdout == lines + big + b'\n',
          'kcat over TLS reads all of it back byte for byte (%d bytes)' % len(r.stdout))
    r = run(['kcat', '-b', b.addr, '-L', '-m', '5'], capture_output=True)
    check(r.returncode != 0, 'a plaintext client gets nothing from the TLS listener')
    r = run(['kcat', '-b', b.addr, '-X', 'security.protocol=SSL', '-L', '-m', '5'],
            capture_output=True)
    check(r.returncode != 0, 'a client that does not trust the certificate refuses it')
    b.stop()

    b = Broker(os.path.join(tmp, 'data2'), '--tls-cert', cert, '--tls-key', key,
               '--sasl-users', users).start()
    kc = ['kcat', '-b', b.addr, '-X', 'security.protocol=SASL_SSL', '-X', 'ssl.ca.location=' + cert,
          '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=alice',
          '-X', 'sasl.password=alice-secret']
    r = run(kc + ['-P', '-t', 'ss'], input=b'a\nb\n', capture_output=True)
    check(r.returncode == 0, 'kcat SASL_SSL PLAIN produces')
    p = KafkaProducer(bootstrap_servers=b.addr, security_protocol='SASL_SSL', ssl_cafile=cert,
                      api_version=(2, 5, 0), sasl_mechanism='SCRAM-SHA-512',
                      sasl_plain_username='alice', sasl_plain_password='alice-secret')
    p.send('ss', b'c').get(30)
    p.close()
    c = KafkaConsumer('ss', bootstrap_servers=b.addr, security_protocol='SASL_SSL',
                      ssl_cafile=cert, api_version=(2, 5, 0), sasl_mechanism='SCRAM-SHA-256',
                      sasl_plain_username='alice', sasl_plain_password='alice-secret',
                      auto_offset_reset='earliest', consumer_timeout_ms=5000)
    got = [m.value for m in c]
    c.close()
    check(got == [b'a', b'b', b'c'], 'kafka-python SASL_SSL SCRAM-SHA-512 produces and '
          'SCRAM-SHA-256 consumes all three')
    r = run(kc[:-1] + ['sasl.password=wrong', '-L', '-m', '5'], capture_output=True)
    check(r.returncode != 0, 'a wrong password over TLS is refused')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- fsess

def s_fsess(tmp):
    """Fetch sessions (KIP-227), sent with kafka-python's Fetch v7 codec
    (librdkafka 2.0.2 and kafka-python 2.0.2 do not open sessions)."""
    from kafka import KafkaAdminClient
    from kafka.protocol.api import Request
    from kafka.protocol.fetch import FetchRequest, FetchResponse
    from kafka.protocol.types import Array, Int32, Schema, String

    class Fetch7(Request):
        # kafka-python 2.0.2's own v7 schema has the String class, not an
        # instance, for forgotten topic names: it cannot encode them
        API_KEY, API_VERSION, RESPONSE_TYPE = 1, 7, FetchResponse[7]
        SCHEMA = Schema(*(list(zip(FetchRequest[7].SCHEMA.names[:-1],
                                   FetchRequest[7].SCHEMA.fields[:-1])) +
                          [('forgotten_topics_data', Array(('topic', String('utf-8')),
                                                           ('partitions', Array(Int32))))]))
    b = Broker(os.path.join(tmp, 'data'), '--partitions', '3').start()
    ad = KafkaAdminClient(bootstrap_servers=b.addr)
    check(lt.client('produce', b.addr, 'fs', '300') == 0, '300 messages in fs (3 partitions)')

    def fetch(sid, epoch, parts, forgotten=(), wait=50):
        req = Fetch7(replica_id=-1, max_wait_time=wait, min_bytes=1,
                              max_bytes=1 << 20, isolation_level=0, session_id=sid,
                              session_epoch=epoch,
                              topics=[('fs', [(p, off, -1, 1 << 20) for p, off in parts])]
                              if parts else [],
                              forgotten_topics_data=[('fs', list(forgotten))] if forgotten else [])
        fut = ad._client.send(ad._client.least_loaded_node(), req)
        ad._client.poll(future=fut, timeout_ms=10000)
        check(fut.succeeded(), 'Fetch v7 answered')
        r = fut.value
        got = {}
        for topic, ps in r.topics:
            for p in ps:
                got[p[0]] = (p[1], p[2], len(p[6]))   # error, hw, record bytes
        return r.error_code, r.session_id, got

    err, sid, got = fetch(0, 0, [(0, 0), (1, 0), (2, 0)])
    check(err == 0 and sid != 0 and sorted(got) == [0, 1, 2] and all(g[2] > 0 for g in got.values()),
          'epoch 0 opens session %d: a full answer, all 3 partitions with records' % sid)
    hw = {p: g[1] for p, g in got.items()}
    err, sid2, got = fetch(sid, 1, [(p, hw[p]) for p in hw])
    check(err == 0 and sid2 == sid and got == {},
          'epoch 1, every partition at its end: the answer leaves all of them out')
    check(lt.client('produce', b.addr, 'fs', '30') == 0, '30 more messages')
    err, _, got = fetch(sid, 2, [])
    moved = sorted(p for p in got)
    check(err == 0 and moved and all(got[p][1] > hw[p] and got[p][2] > 0 for p in moved),
          'epoch 2 names no partition: the answer holds those with new records %s' % moved)
    for p in moved:
        hw[p] = got[p][1]
    err, _, got = fetch(sid, 3, [(p, hw[p]) for p in moved], forgotten=[2])
    check(err == 0 and got == {}, 'epoch 3 moves the offsets and forgets partition 2')
    check(lt.client('produce', b.addr, 'fs', '30') == 0, '30 more messages')
    err, _, got = fetch(sid, 4, [])
    check(err == 0 and 2 not in got and got, 'epoch 4: a forgotten partition stays out (%s)'
          % sorted(got))
    err, _, got = fetch(sid, 9, [])
    check(err == 71, 'a wrong epoch: INVALID_FETCH_SESSION_EPOCH (%d)' % err)
    err, _, got = fetch(sid + 1000, 1, [])
    check(err == 70, 'an unknown session: FETCH_SESSION_ID_NOT_FOUND (%d)' % err)
    err, sid3, got = fetch(sid, -1, [(0, 0)])
    check(err == 0 and sid3 == 0 and list(got) == [0], 'epoch -1 closes it: a sessionless answer')
    err, _, got = fetch(sid, 5, [])
    check(err == 70, 'the closed session is gone')
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- coop

def s_coop(tmp):
    """Cooperative incremental rebalancing as librdkafka negotiates it
    (partition.assignment.strategy=cooperative-sticky, KIP-429): a member
    joining takes partitions from the other without it giving up all of
    its own; every message read once."""
    from confluent_kafka import Consumer, Producer
    b = Broker(os.path.join(tmp, 'data'), '--partitions', '4', '--verbose').start()
    p = Producer({'bootstrap.servers': b.addr})
    for i in range(400):
        p.produce('coop', b'%d' % i, partition=i % 4)
    check(p.flush(30) == 0, '400 messages in 4 partitions')
    events = []
    got = {}

    def member(name):
        def on_assign(c, parts):
            events.append((name, 'assign', sorted(x.partition for x in parts)))
            c.incremental_assign(parts)

        def on_revoke(c, parts):
            events.append((name, 'revoke', sorted(x.partition for x in parts)))
            c.incremental_unassign(parts)
        c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'coop',
                      'partition.assignment.strategy': 'cooperative-sticky',
                      'auto.offset.reset': 'earliest', 'session.timeout.ms': 6000,
                      'enable.auto.commit': True, 'auto.commit.interval.ms': 100})
        c.subscribe(['coop'], on_assign=on_assign, on_revoke=on_revoke)
        return c

    def pump(cs, cond, what):
        end = time.monotonic() + 60
        while not cond():
            if time.monotonic() > end:
                raise AssertionError('never happened: ' + what)
            for name, c in cs:
                m = c.poll(0.05)
                if m is not None and m.error() is None:
                    got.setdefault(m.value(), []).append(name)

    c1 = member('c1')
    pump([('c1', c1)], lambda: len(got) >= 200, 'c1 reads half of the messages')
    check(('c1', 'assign', [0, 1, 2, 3]) in events, 'c1 alone owns all 4 partitions')
    c2 = member('c2')
    pump([('c1', c1), ('c2', c2)],
         lambda: len(c2.assignment()) == 2 and len(c1.assignment()) == 2 and len(got) == 400,
         'c2 gets 2 partitions and all 400 messages are read')
    revoked = [e[2] for e in events if e[0] == 'c1' and e[1] == 'revoke']
    check(revoked and all(len(r) < 4 for r in revoked) and sum(len(r) for r in revoked) == 2,
          'c1 gave up only the 2 partitions that moved (%s), never all of them' % revoked)
    kept = sorted(x.partition for x in c1.assignment())
    check(not set(kept) & set(sum(revoked, [])), 'c1 kept %s throughout' % kept)
    dup = [v for v, who in got.items() if len(who) > 1]
    check(len(got) == 400, 'all 400 messages read (%d read twice: the moved partitions '
          'resume from the last auto-commit)' % len(dup))
    check('protocol cooperative-sticky' in b.stderr_text(),
          'the broker chose the cooperative-sticky protocol the members offered')
    c1.close()
    c2.close()
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- compact

def read_keyed(addr, topic):
    """{offset: (key, value)} of everything readable in partition 0."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({'bootstrap.servers': addr, 'group.id': 'rk-%f' % time.monotonic(),
                  'enable.partition.eof': True, 'enable.auto.commit': False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = {}
    end = time.monotonic() + 60
    while time.monotonic() < end:
        m = c.poll(1)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:
                break
            continue
        out[m.offset()] = (m.key(), m.value())
    c.close()
    return out


def s_compact(tmp):
    """Log compaction (cleanup.policy=compact) seen by a consumer."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    data = os.path.join(tmp, 'data')
    b = Broker(data, '--retention-check-ms', '200', '--fsync', 'never').start()
    b.extra += ['--listen', b.addr]
    ac = AdminClient({'bootstrap.servers': b.addr})
    for f in ac.create_topics([
            NewTopic('cmp', 1, 1, config={'cleanup.policy': 'compact', 'segment.bytes': '2048'}),
            NewTopic('cmpz', 1, 1, config={'cleanup.policy': 'compact', 'segment.bytes': '2048',
                                           'delete.retention.ms': '0'})]).values():
        f.result(30)
    produced = {'cmp': {}, 'cmpz': {}}

    def dr(err, m):
        check(err is None, 'delivered') if err is not None else None
        produced[m.topic()][m.offset()] = (m.key(), m.value())

    p = Producer({'bootstrap.servers': b.addr, 'linger.ms': 1, 'batch.num.messages': 20})
    for i in range(3000):
        for t in ('cmp', 'cmpz'):
            if i == 100:
                p.produce(t, None, key=b'k7', on_delivery=dr)       # tombstone
            else:
                k = i % 50
                if k == 7:
                    k = 8
                p.produce(t, b'v%d' % i, key=b'k%d' % k, on_delivery=dr)
        if i % 200 == 0:
            p.poll(0)
    check(p.flush(60) == 0, '3000 keyed records (50 keys, k7 deleted early) in each topic')
    last = {}
    for off in sorted(produced['cmp']):
        k, v = produced['cmp'][off]
        last[k] = v

    def compacted(topic, want_tomb):
        got = read_keyed(b.addr, topic)
        # closed segments: one record per key (50); the active segment
        # of 2048 bytes holds at most about 120 records
        if len(got) > 300:
            return None                        # not cleaned yet
        seen = {}
        for off in sorted(got):
            if got[off] != produced[topic][off]:
                raise AssertionError('%s: offset %d holds %r, produced %r'
                                     % (topic, off, got[off], produced[topic][off]))
            seen[got[off][0]] = got[off][1]
        has_tomb = b'k7' in seen
        if has_tomb != want_tomb:
            return None
        return got, seen

    r = wait_until('the cleaner compacts cmp', lambda: compacted('cmp', True), 60)
    got, seen = r
    check(all(seen[k] == last[k] for k in last if k != b'k7'),
          'cmp: %d of 3000 records left, every one at its produced offset with its value, '
          'the latest value of each of the 49 keys last' % len(got))
    check(seen[b'k7'] is None and sum(1 for v in got.values() if v[0] == b'k7') == 1,
          'cmp: the tombstone of k7 stays (delete.retention.ms default), no older k7 value')
    rz = wait_until('the cleaner compacts cmpz and drops the tombstone',
                    lambda: compacted('cmpz', False), 60)
    check(b'k7' not in rz[1], 'cmpz (delete.retention.ms=0): k7 is gone entirely')

    # appends go on while the cleaner works: produce during compaction
    p2 = Producer({'bootstrap.servers': b.addr, 'linger.ms': 1})
    for i in range(2000):
        p2.produce('cmp', b'w%d' % i, key=b'k%d' % (i % 10), on_delivery=dr)
        if i % 100 == 0:
            p2.poll(0)
    check(p2.flush(60) == 0, '2000 more records produced while the cleaner runs')
    for off in sorted(produced['cmp']):
        last[produced['cmp'][off][0]] = produced['cmp'][off][1]
    # after a restart the compacted log reads back the same
    check(b.stop() == 0, 'broker exits 0')
    b.start()
    got = read_keyed(b.addr, 'cmp')
    seen = {}
    for off in sorted(got):
        check(got[off] == produced['cmp'][off], 'offset %d intact after restart' % off) \
            if got[off] != produced['cmp'][off] else None
        seen[got[off][0]] = got[off][1]
    check(all(seen.get(k) == v for k, v in last.items()),
          'after a restart: %d records, the latest value of every key' % len(got))
    check(b.stop() == 0, 'broker exits 0')


# ---------------------------------------------------------------- fds

def s_fds(tmp):
    """File descriptors bounded by the store's fd cache (issue 18, item 5):
    under ulimit -n 1024, 2,000 partitions in two topics are created,
    produced to and read back; when the broker truly runs out of
    descriptors (its limit lowered to 3 while it runs) a produce to a
    partition whose file is closed gets KAFKA_STORAGE_ERROR and the broker
    says so in its log; once the limit is back everything works."""
    import resource
    import time
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))   # the broker inherits it
    b = Broker(os.path.join(tmp, 'data'), '--fsync', 'never').start()
    ac = AdminClient({'bootstrap.servers': b.addr})

    def create(name, n):
        try:
            ac.create_topics([NewTopic(name, n, 1)], operation_timeout=60)[name].result(120)
            return None
        except KafkaException as e:
            return e.args[0]
    topics = {'many': 600, 'more': 1400}
    for t, n in topics.items():
        err = create(t, n)
        check(err is None, 'under ulimit -n 1024: a topic of %d partitions (%s)' % (n, err))
    nfd = len(os.listdir('/proc/%d/fd' % b.proc.pid))
    check(nfd < 1024, 'the broker holds %d descriptors for 2000 partitions' % nfd)

    def produce_all(tag, **conf):
        errs = []
        p = Producer(dict({'bootstrap.servers': b.addr, 'linger.ms': 5}, **conf))

        def dr(err, m):
            if err is not None:
                errs.append(err)
        for t, n in topics.items():
            for q in range(n):
                p.produce(t, b'%s %s %d' % (tag, t.encode(), q), partition=q, on_delivery=dr)
            p.poll(0)
        left = p.flush(120)
        return left, errs
    left, errs = produce_all(b'first')
    check(left == 0 and not errs, 'a message to each of the 2000 partitions (%s)' % errs[:3])

    def read_all():
        c = Consumer({'bootstrap.servers': b.addr, 'group.id': 'fds',
                      'enable.auto.commit': False})
        c.assign([TopicPartition(t, q, 0) for t, n in topics.items() for q in range(n)])
        got = {}
        deadline = time.time() + 120
        while len(got) < 2000 and time.time() < deadline:
            m = c.poll(1.0)
            if m is not None and not m.error():
                got[(m.topic(), m.partition())] = m.value()
        c.close()
        return got
    got = read_all()
    check(len(got) == 2000 and all(got[(t, q)] == b'first %s %d' % (t.encode(), q)
                                   for t, n in topics.items() for q in range(n)),
          'all 2000 read back (%d)' % len(got))
    nfd = len(os.listdir('/proc/%d/fd' % b.proc.pid))
    check(nfd < 1024, 'still %d descriptors after reading everything' % nfd)
    # truly out: the broker may open nothing new (3 = stdin, stdout, stderr)
    resource.prlimit(b.proc.pid, resource.RLIMIT_NOFILE, (3, hard))
    left, errs = produce_all(b'second', retries=0, **{'message.timeout.ms': 60000})
    names = {e.name() for e in errs}
    log('while out of descriptors:', len(errs), 'errors', names)
    check(left == 0 and errs and names == {'KAFKA_STORAGE_ERROR'},
          'out of descriptors: produces to closed partitions get KAFKA_STORAGE_ERROR, '
          'never UNKNOWN (%d of 2000)' % len(errs))
    check('out of file descriptors' in b.stderr_text() and 'ulimit -n' in b.stderr_text(),
          'and the broker says so in its log')
    resource.prlimit(b.proc.pid, resource.RLIMIT_NOFILE, (1024, hard))
    left, errs = produce_all(b'third')
    check(left == 0 and not errs, 'with descriptors back every partition takes a message')
    check(b.stop() == 0, 'broker exits 0')


def struct_sub(topic):
    """ConsumerProtocolSubscription v0 for one topic."""
    import struct
    t = topic.encode()
    return struct.pack('>hih', 0, 1, len(t)) + t + struct.pack('>i', -1)


class _Args:
    """admin_test's view of log_test's parsed arguments."""
    def __getattr__(self, name):
        return getattr(lt.ARGS, name)


ARGS = _Args()

if __name__ == '__main__':
    sys.exit(lt.main(globals(), ['--admin']))
