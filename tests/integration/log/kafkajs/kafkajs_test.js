#!/usr/bin/env node
/*
 * kafkajs_test.js: myco-log driven by KafkaJS (npm kafkajs 2.2.4, pinned in
 * package-lock.json next to this file), the Node.js client many teams use.
 * Nothing here is a stand-in: a real myco-log broker is started on a free
 * port with its own data dir, and every step goes through KafkaJS's public
 * API (admin, producer, consumer groups, transactions).
 *
 *   node kafkajs_test.js --broker PATH/myco-log [--loops N]
 *
 * Steps (each one failed with "not supported by broker" or froze a group
 * before myco-log had the API; see docs/log.md):
 *   admin      create topics with configs Kafka accepts (cleanup.policy
 *              compact and delete, compression.type lz4), list, metadata,
 *              create partitions, describe and alter configs (topic and
 *              broker), delete topics
 *   produce    idempotent producer, keys and headers, acks=all
 *   group      a group of two consumers: every message exactly once across
 *              them, offsets committed; a new member resumes after them
 *   groups     list and describe groups, fetch offsets, reset offsets to
 *              the earliest and set them, delete the group
 *   liveness   a member in another process killed with SIGKILL: the
 *              survivor owns every partition after the session timeout
 *              (not after max.poll.interval.ms)
 *   txn        a transactional producer: a committed and an aborted
 *              transaction; a read_committed consumer sees only the first
 * Exit 0 when every step passed; 1 with the failing step named; 77 (skip,
 * said plainly) when the kafkajs package is not installed.
 */
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

let Kafka, logLevel;
try {
	({ Kafka, logLevel } = require(path.join(__dirname, 'node_modules', 'kafkajs')));
} catch (e) {
	console.log('SKIP: kafkajs is not installed here (scripts/deps.sh test runs npm ci in ' +
		__dirname + ')');
	process.exit(77);
}

const args = process.argv.slice(2);
function opt(name, def) {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : def;
}
const BROKER = opt('--broker');
const LOOPS = opt('--loops');
if (!BROKER) {
	console.error('usage: kafkajs_test.js --broker PATH [--loops N]');
	process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myco-kafkajs-'));
let broker = null;
const children = [];

function log(...a) {
	console.log(...a);
}
function check(cond, what) {
	if (!cond)
		throw new Error('FAIL: ' + what);
	log('ok:', what);
}
function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}
async function waitFor(what, fn, limitMs = 60000) {
	const end = Date.now() + limitMs;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error('FAIL: timed out waiting for ' + what);
		await sleep(100);
	}
}

function startBroker() {
	return new Promise((resolve, reject) => {
		const extra = LOOPS ? ['--loops', LOOPS] : [];
		const err = fs.openSync(path.join(tmp, 'broker.log'), 'a');
		broker = spawn(BROKER, ['--listen', '127.0.0.1:0', '--data', path.join(tmp, 'data')]
			.concat(extra), { stdio: ['ignore', 'pipe', err] });
		broker.on('error', reject);
		const rl = readline.createInterface({ input: broker.stdout });
		rl.once('line', (line) => {
			const m = /listening on (\S+)/.exec(line);
			if (!m)
				reject(new Error('broker did not start: ' + line));
			else
				resolve(m[1]);
		});
		broker.once('exit', (code) => reject(new Error('broker exited: ' + code)));
	});
}

function client(addr, id) {
	return new Kafka({
		clientId: id,
		brokers: [addr],
		logLevel: logLevel.NOTHING,
		retry: { retries: 8, initialRetryTime: 100 },
	});
}

async function stepAdmin(kafka) {
	const admin = kafka.admin();
	await admin.connect();
	const ok = await admin.createTopics({
		waitForLeaders: true,
		topics: [
			{ topic: 'kjs-events', numPartitions: 3,
			  configEntries: [{ name: 'cleanup.policy', value: 'delete' },
					  { name: 'compression.type', value: 'lz4' }] },
			{ topic: 'kjs-compact', numPartitions: 1,
			  configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
			{ topic: 'kjs-doomed', numPartitions: 2 },
		],
	});
	check(ok === true, 'createTopics with cleanup.policy delete/compact and compression.type lz4');
	let bad = null;
	try {
		await admin.createTopics({ topics: [{ topic: 'kjs-bad', numPartitions: 1,
			configEntries: [{ name: 'cleanup.policy', value: 'sometimes' }] }] });
	} catch (e) {
		bad = e;
	}
	const types = bad ? [bad.type].concat((bad.errors || []).map((e) => e.type)) : [];
	check(types.includes('INVALID_CONFIG'),
	      'an invalid config value is refused (INVALID_CONFIG)');
	const topics = await admin.listTopics();
	check(['kjs-events', 'kjs-compact', 'kjs-doomed'].every((t) => topics.includes(t)),
	      'listTopics names the new topics');
	await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-events', count: 4 }] });
	const md = await admin.fetchTopicMetadata({ topics: ['kjs-events'] });
	check(md.topics[0].partitions.length === 4, 'createPartitions: kjs-events has 4 partitions');

	const ck = await admin.describeConfigs({
		includeSynonyms: false,
		resources: [{ type: 2 /* TOPIC */, name: 'kjs-compact' }],
	});
	const entries = ck.resources[0].configEntries;
	const pol = entries.find((e) => e.configName === 'cleanup.policy');
	check(pol && pol.configValue === 'compact', 'describeConfigs (topic): cleanup.policy=compact');
	await admin.alterConfigs({
		validateOnly: false,
		resources: [{ type: 2, name: 'kjs-events',
			      configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
	});
	const ev = await admin.describeConfigs({
		includeSynonyms: false,
		resources: [{ type: 2, name: 'kjs-events' }],
	});
	const ret = ev.resources[0].configEntries.find((e) => e.configName === 'retention.ms');
	check(ret && ret.configValue === '3600000', 'alterConfigs: retention.ms is 3600000 afterwards');
	const cluster = await admin.describeCluster();
	check(cluster.brokers.length >= 1, 'describeCluster names the broker');
	const bc = await admin.describeConfigs({
		includeSynonyms: false,
		resources: [{ type: 4 /* BROKER */, name: String(cluster.brokers[0].nodeId) }],
	});
	check(bc.resources[0].configEntries.length > 0, 'describeConfigs (broker) answers entries');

	await admin.deleteTopics({ topics: ['kjs-doomed'] });
	await waitFor('kjs-doomed to be gone', async () =>
		!(await admin.listTopics()).includes('kjs-doomed'));
	check(true, 'deleteTopics removed kjs-doomed');
	await admin.disconnect();
}

async function stepProduce(kafka, n) {
	const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
	await producer.connect();
	const msgs = [];
	for (let i = 0; i < n; i++)
		msgs.push({ key: 'k' + (i % 17), value: 'v' + i,
			    headers: { seq: String(i), origin: 'kafkajs' } });
	for (let i = 0; i < n; i += 100)
		await producer.send({ topic: 'kjs-events', acks: -1, messages: msgs.slice(i, i + 100) });
	await producer.disconnect();
	check(true, 'idempotent producer sent ' + n + ' keyed messages with headers, acks=all');
}

/* A consumer in this process; resolves its handle once it runs. */
async function member(kafka, group, seen, opts = {}) {
	const c = kafka.consumer(Object.assign({ groupId: group, sessionTimeout: 6000,
		heartbeatInterval: 500, rebalanceTimeout: 10000 }, opts));
	await c.connect();
	await c.subscribe({ topic: 'kjs-events', fromBeginning: true });
	await c.run({
		autoCommitInterval: 200,
		eachMessage: async ({ partition, message }) => {
			seen.push({ p: partition, off: message.offset, v: message.value.toString(),
				    h: message.headers && message.headers.seq &&
					message.headers.seq.toString(),
				    k: message.key && message.key.toString() });
		},
	});
	return c;
}

async function stepGroup(kafka, n) {
	const a = [], b = [];
	const ca = await member(kafka, 'kjs-g', a);
	const cb = await member(kafka, 'kjs-g', b);
	await waitFor('both members to consume all ' + n, async () => a.length + b.length >= n, 90000);
	await sleep(500);
	const all = a.concat(b);
	const vals = new Set(all.map((m) => m.v));
	check(all.length === n && vals.size === n, 'the group of two got every message exactly once (' +
	      a.length + ' + ' + b.length + ')');
	check(all.every((m) => m.h === m.v.slice(1) && m.k === 'k' + (Number(m.h) % 17)),
	      'keys and headers arrived as sent');
	await ca.disconnect();
	await cb.disconnect();
	/* a new member resumes after the committed offsets */
	await stepProduce(kafka, 100);
	const c = [];
	const cc = await member(kafka, 'kjs-g', c);
	await waitFor('the resumed member to get the 100 new', async () => c.length >= 100, 60000);
	await sleep(1000);
	check(c.length === 100, 'a new member resumed from the committed offsets (' + c.length +
	      ' messages, want 100)');
	await cc.disconnect();
}

async function stepGroups(kafka) {
	const admin = kafka.admin();
	await admin.connect();
	const lg = await admin.listGroups();
	check(lg.groups.some((g) => g.groupId === 'kjs-g'), 'listGroups names kjs-g');
	const dg = await admin.describeGroups(['kjs-g']);
	check(dg.groups[0].groupId === 'kjs-g' && dg.groups[0].state === 'Empty',
	      'describeGroups: kjs-g is Empty (' + dg.groups[0].state + ')');
	const off = await admin.fetchOffsets({ groupId: 'kjs-g', topics: ['kjs-events'] });
	const committed = off[0].partitions.reduce((s, p) => s + Number(p.offset), 0);
	check(committed === 1100, 'fetchOffsets: 1100 committed over the partitions (' + committed + ')');
	await admin.resetOffsets({ groupId: 'kjs-g', topic: 'kjs-events', earliest: true });
	/* KafkaJS commits -2 (earliest) and resolves it against the log
	 * start on request, as with Kafka */
	const off2 = await admin.fetchOffsets({ groupId: 'kjs-g', topics: ['kjs-events'],
						resolveOffsets: true });
	check(off2[0].partitions.every((p) => Number(p.offset) === 0),
	      'resetOffsets to the earliest (resolved: ' +
	      off2[0].partitions.map((p) => p.offset).join(',') + ')');
	await admin.setOffsets({ groupId: 'kjs-g', topic: 'kjs-events',
				 partitions: [{ partition: 0, offset: '5' }] });
	const off3 = await admin.fetchOffsets({ groupId: 'kjs-g', topics: ['kjs-events'] });
	check(off3[0].partitions.find((p) => p.partition === 0).offset === '5', 'setOffsets');
	await admin.deleteGroups(['kjs-g']);
	const lg2 = await admin.listGroups();
	check(!lg2.groups.some((g) => g.groupId === 'kjs-g'), 'deleteGroups removed kjs-g');
	await admin.disconnect();
}

/* A member in a child process (this script with --child), killed -9. */
function childMember(addr) {
	return new Promise((resolve, reject) => {
		const ch = spawn(process.execPath, [__filename, '--child', addr, '--broker', BROKER],
				 { stdio: ['ignore', 'pipe', 'inherit'] });
		children.push(ch);
		const rl = readline.createInterface({ input: ch.stdout });
		rl.on('line', (l) => {
			if (l.startsWith('assigned'))
				resolve(ch);
		});
		ch.once('exit', (code) => reject(new Error('child member exited ' + code)));
	});
}

async function runChild(addr) {
	const kafka = client(addr, 'kjs-child');
	const c = kafka.consumer({ groupId: 'kjs-live', sessionTimeout: 6000, heartbeatInterval: 500,
				   rebalanceTimeout: 10000 });
	c.on(c.events.GROUP_JOIN, (e) => {
		const a = e.payload.memberAssignment['kjs-events'] || [];
		if (a.length)
			console.log('assigned ' + a.join(','));
	});
	await c.connect();
	await c.subscribe({ topic: 'kjs-events', fromBeginning: true });
	await c.run({ eachMessage: async () => {} });
	await new Promise(() => {});
}

async function stepLiveness(kafka, addr) {
	const child = await childMember(addr);
	const assignments = [];
	const c = kafka.consumer({ groupId: 'kjs-live', sessionTimeout: 6000, heartbeatInterval: 500,
				   rebalanceTimeout: 10000 });
	c.on(c.events.GROUP_JOIN, (e) =>
		assignments.push((e.payload.memberAssignment['kjs-events'] || []).length));
	await c.connect();
	await c.subscribe({ topic: 'kjs-events', fromBeginning: true });
	await c.run({ eachMessage: async () => {} });
	await waitFor('the two members to share the partitions', async () =>
		assignments.length && assignments[assignments.length - 1] > 0 &&
		assignments[assignments.length - 1] < 4, 60000);
	check(true, 'two members share kjs-events\'s 4 partitions');
	const t0 = Date.now();
	child.kill('SIGKILL');
	await waitFor('the survivor to own all 4 partitions', async () =>
		assignments[assignments.length - 1] === 4, 60000);
	const s = ((Date.now() - t0) / 1000).toFixed(1);
	check(true, 'after the other member\'s kill -9 the survivor owns all 4 partitions (' + s +
	      ' s; session timeout 6 s, max.poll.interval 300 s)');
	await c.disconnect();
}

async function stepTxn(kafka) {
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'kjs-txn', numPartitions: 1 }] });
	await admin.disconnect();
	const p = kafka.producer({ transactionalId: 'kjs-tx-1', idempotent: true,
				   maxInFlightRequests: 1 });
	await p.connect();
	let t = await p.transaction();
	await t.send({ topic: 'kjs-txn', messages: [{ value: 'c1' }, { value: 'c2' }] });
	await t.commit();
	t = await p.transaction();
	await t.send({ topic: 'kjs-txn', messages: [{ value: 'a1' }, { value: 'a2' }] });
	await t.abort();
	t = await p.transaction();
	await t.send({ topic: 'kjs-txn', messages: [{ value: 'c3' }] });
	await t.commit();
	await p.disconnect();
	check(true, 'a transactional producer committed, aborted and committed');
	const got = [];
	const c = kafka.consumer({ groupId: 'kjs-txn-reader', readUncommitted: false });
	await c.connect();
	await c.subscribe({ topic: 'kjs-txn', fromBeginning: true });
	await c.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()); } });
	await waitFor('the committed messages', async () => got.length >= 3, 60000);
	await sleep(1000);
	await c.disconnect();
	check(JSON.stringify(got) === JSON.stringify(['c1', 'c2', 'c3']),
	      'read_committed sees c1 c2 c3 and nothing aborted (' + got.join(' ') + ')');
}

async function main() {
	if (opt('--child')) {
		await runChild(opt('--child'));
		return;
	}
	const addr = await startBroker();
	log('broker at', addr, LOOPS ? '(' + LOOPS + ' loops)' : '');
	const kafka = client(addr, 'kjs-test');
	let step = 'admin';
	try {
		await stepAdmin(kafka);
		step = 'produce';
		await stepProduce(kafka, 1000);
		step = 'group';
		await stepGroup(kafka, 1000);
		step = 'groups';
		await stepGroups(kafka);
		step = 'liveness';
		await stepLiveness(kafka, addr);
		step = 'txn';
		await stepTxn(kafka);
	} catch (e) {
		console.log('FAIL in step ' + step + ': ' + (e.stack || e));
		const bl = path.join(tmp, 'broker.log');
		if (fs.existsSync(bl))
			console.log('--- broker log:\n' + fs.readFileSync(bl, 'utf8').slice(-4000));
		return 1;
	}
	console.log('PASS kafkajs');
	return 0;
}

main().then((rc) => {
	for (const c of children)
		c.kill('SIGKILL');
	if (broker)
		broker.kill('SIGTERM');
	fs.rmSync(tmp, { recursive: true, force: true });
	process.exit(rc || 0);
}, (e) => {
	console.log('FAIL: ' + (e.stack || e));
	for (const c of children)
		c.kill('SIGKILL');
	if (broker)
		broker.kill('SIGKILL');
	process.exit(1);
});
