// app.js: the dashboard page.  It follows /events (Server-Sent Events): one
// "state" (the whole system: layout, edges, schedule, live fields, recent
// events) on connect, then "delta" events with only what changed, 10 times
// a second.  Rendering is batched into one animation frame per delta and
// touches only the elements whose data changed.  Plain JS, no build step;
// served by `myco dash` (docs/dashboard.md).
'use strict';

const $ = (s) => document.querySelector(s);
const SVGNS = 'http://www.w3.org/2000/svg';
const HIST = 600;             // samples of history per partition (60 s at 10 Hz)
const HEAL = new Set(['kill', 'exit', 'restart', 'restarted', 'hung', 'escalate', 'restart-failed',
                      'chan-recover', 'not-restarted', 'seccomp', 'standby-failed']);

let S = null;                 // {static, parts, chans, events}
const el = { parts: {}, edges: {}, labels: {}, rows: {} };
const hist = {};              // name -> {cpu:[], rss:[], msgs:[]}
const dirtyP = new Set(), dirtyC = new Set();
let newEvents = [], pending = false, selected = null, layoutDirty = false;
const flash = {};             // name -> time the restart highlight ends
let banner = null;
let many = false, lastEdges = 0;

// Actions (kill, restart, stop, chaos) exist only when the dashboard was
// started with them, and need the token from the URL's fragment
// (`myco dash --url`): kept for this tab only, and taken out of the address
// bar so it is not shared by copying the URL.
let token = sessionStorage.getItem('myco-token') || '';
{
  const m = /(?:^#|&)token=([0-9a-f]{64})(?:&|$)/.exec(location.hash);
  if (m) {
    token = m[1];
    sessionStorage.setItem('myco-token', token);
    history.replaceState(null, '', location.pathname + location.search);
  }
}

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function fmtBytes(b) {
  if (!b) return '0';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (b >= 1024 && i < 3) { b /= 1024; i++; }
  return (b >= 10 || i === 0 ? Math.round(b) : b.toFixed(1)) + ' ' + u[i];
}
function fmtRate(r) {
  if (r >= 1e6) return (r / 1e6).toFixed(1) + 'M/s';
  if (r >= 1e3) return (r / 1e3).toFixed(1) + 'k/s';
  return Math.round(r) + '/s';
}
function fmtTime(ns) {
  const d = new Date(ns / 1e6);
  return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

// ------------------------------------------------------------------ layout

// A partition's lane: its first pinned core, its frame window's core, or "any".
function laneOf(name) {
  const st = S.static.parts[name];
  if (st && st.cores && st.cores.length) return 'core ' + st.cores[0];
  for (const w of S.static.schedule.windows) if (w.part === name) return 'core ' + w.core;
  return 'any core';
}

function build() {
  const lanes = $('#lanes');
  lanes.textContent = '';
  el.parts = {}; el.edges = {}; el.labels = {}; el.rows = {};
  $('#sys').textContent = S.static.system;
  const order = S.static.order;
  const compact = order.length > 24;
  // A large map (over 100 edges): no edge labels (the table has the
  // figures), no moving dashes, edges redrawn once a second (the collector's
  // rates change once a second anyway).
  many = S.static.chan_order.length > 100;
  document.body.classList.toggle('many', many);
  const byLane = new Map();
  for (let c = 0; c < S.static.cores; c++) byLane.set('core ' + c, []);
  for (const n of order) {
    const l = laneOf(n);
    if (!byLane.has(l)) byLane.set(l, []);
    byLane.get(l).push(n);
  }
  for (const [lane, names] of byLane) {
    if (!names.length && lane !== 'any core' && S.static.cores > 8) continue;
    const d = h('div', 'lane');
    d.dataset.lane = lane;
    d.appendChild(h('h4', '', lane + (names.length ? '' : ' (idle)')));
    const boxes = h('div', 'boxes');
    for (const n of names) boxes.appendChild(partBox(n, compact));
    d.appendChild(boxes);
    lanes.appendChild(d);
  }
  const g = $('#edges');
  g.textContent = '';
  const defs = svg('defs', {});
  const m = svg('marker', { id: 'arr', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9,
                            markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' });
  m.appendChild(svg('path', { d: 'M0,0L10,5L0,10z', fill: '#58a6ff' }));
  defs.appendChild(m);
  g.appendChild(defs);
  const tb = $('#chans tbody');
  tb.textContent = '';
  for (const c of S.static.chan_order) {
    const st = S.static.chans[c];
    const p = svg('path', { class: 'edge', 'marker-end': 'url(#arr)' });
    p.dataset.chan = c;
    const t = svg('text', { class: 'elabel', 'text-anchor': 'middle' });
    t.dataset.chan = c;
    g.appendChild(p);
    g.appendChild(t);
    el.edges[c] = p;
    el.labels[c] = t;
    const tr = h('tr');
    tr.dataset.chan = c;
    tr.append(h('td', '', c), h('td', '', st.kind),
              h('td', '', (st.from.join(', ') || '?') + ' → ' + (st.to.join(', ') || '?')),
              h('td', 'num rate'), h('td', 'num depth'), h('td', 'num sent'));
    tb.appendChild(tr);
    el.rows[c] = tr;
  }
  buildTimeline();
  for (const n of order) dirtyP.add(n);
  for (const c of S.static.chan_order) dirtyC.add(c);
  layoutDirty = true;
}

function partBox(n, compact) {
  const b = h('div', 'part' + (compact ? ' compact' : ''));
  b.dataset.part = n;
  const nm = h('div', 'name');
  nm.append(h('span', '', n), h('span', 'restarts'));
  const bars = h('div', 'bars');
  const cpu = h('div', 'bar cpu'); cpu.append(h('i'), h('b'));
  const mem = h('div', 'bar mem'); mem.append(h('i'));
  bars.append(h('span', 'cpu-t'), cpu, h('span', 'mem-t'), mem);
  b.append(nm, h('div', 'state'), bars, h('div', 'iso'));
  b.addEventListener('click', () => select(n));
  el.parts[n] = b;
  return b;
}

function buildTimeline() {
  const tl = $('#timeline');
  tl.textContent = '';
  const sc = S.static.schedule;
  if (!sc.major_ns) {
    tl.appendChild(h('div', 'muted', 'no frame schedule: every partition runs on budget or best effort'));
    return;
  }
  const cores = [...new Set(sc.windows.map((w) => w.core))].sort((a, b) => a - b);
  for (const c of cores) {
    const row = h('div', 'row');
    row.appendChild(h('span', '', 'core ' + c));
    const fr = h('div', 'frame');
    for (const w of sc.windows.filter((x) => x.core === c)) {
      const d = h('div', 'win', w.part);
      d.dataset.part = w.part;
      d.style.left = (100 * w.off_ns / sc.major_ns) + '%';
      d.style.width = (100 * w.dur_ns / sc.major_ns) + '%';
      d.title = `${w.part}: ${w.off_ns / 1e6} ms + ${w.dur_ns / 1e6} ms of ${sc.major_ns / 1e6} ms`;
      fr.appendChild(d);
    }
    const cur = h('div', 'cursor');       // where the running frame is (frameTick)
    fr.appendChild(cur);
    row.appendChild(fr);
    tl.appendChild(row);
  }
  cursors = [...tl.querySelectorAll('.cursor')];
  if (cursors.length && !cursorRun) { cursorRun = true; requestAnimationFrame(frameTick); }
  const ax = h('div', 'axis');
  ax.append(h('span', '', '0'), h('span', '', (sc.major_ns / 2e6) + ' ms'), h('span', '', (sc.major_ns / 1e6) + ' ms'));
  tl.appendChild(ax);
}

// The running position in the frame: the executive's frame clock (frame k
// starts at origin_ns + k * major_ns, CLOCK_MONOTONIC) against the server's
// time of the last state or delta ("t", ms) plus what the page's own clock
// says has passed since.  Drawn every animation frame; a 20 ms major frame
// is a blur at 60 Hz, so the cursor also names the frame number.
let cursors = [], cursorRun = false, syncT = 0, syncLocal = 0;

function sync(t) { if (t) { syncT = t; syncLocal = performance.now(); } }

function frameTick() {
  const fc = S && S.static.frame_clock;
  if (!fc || !cursors.length || !syncT) { cursorRun = cursors.length > 0; if (cursorRun) requestAnimationFrame(frameTick); return; }
  const now = (syncT + (performance.now() - syncLocal)) * 1e6;
  const since = now - fc.origin_ns;
  if (since >= 0) {
    const pos = since % fc.major_ns, k = Math.trunc(since / fc.major_ns);
    for (const c of cursors) {
      c.style.left = (100 * pos / fc.major_ns).toFixed(2) + '%';
      c.title = `frame ${k}, ${(pos / 1e6).toFixed(2)} ms of ${fc.major_ns / 1e6} ms`;
    }
  }
  requestAnimationFrame(frameTick);
}

// Edge geometry: measured once per layout (boxes do not move between layouts).
function layoutEdges() {
  const wrap = $('#mapwrap').getBoundingClientRect();
  const lanes = $('#lanes');
  const g = $('#edges');
  g.setAttribute('width', lanes.scrollWidth);
  g.setAttribute('height', lanes.scrollHeight);
  const pos = {};
  const sl = $('#mapwrap').scrollLeft, st = $('#mapwrap').scrollTop;
  for (const n in el.parts) {
    const r = el.parts[n].getBoundingClientRect();
    pos[n] = { x: r.left - wrap.left + sl, y: r.top - wrap.top + st, w: r.width, h: r.height };
  }
  let k = 0;
  for (const c of S.static.chan_order) {
    const sc = S.static.chans[c];
    const a = pos[sc.from[0]], b = pos[sc.to[0]];
    const p = el.edges[c], t = el.labels[c];
    if (!a || !b) { p.setAttribute('d', ''); t.setAttribute('x', -1000); continue; }
    let x1, y1, x2, y2;
    if (Math.abs(a.x - b.x) < 5) {          // same column: go round the side
      x1 = a.x + a.w; y1 = a.y + a.h / 2; x2 = b.x + b.w; y2 = b.y + b.h / 2;
      const bend = 40 + (k++ % 5) * 8;
      p.setAttribute('d', `M${x1},${y1} C${x1 + bend},${y1} ${x2 + bend},${y2} ${x2},${y2}`);
      t.setAttribute('x', Math.max(x1, x2) + bend * 0.75); t.setAttribute('y', (y1 + y2) / 2);
      continue;
    }
    if (a.x > b.x) {                         // backwards: loop under the boxes
      x1 = a.x + a.w / 2; y1 = a.y + a.h; x2 = b.x + b.w / 2; y2 = b.y + b.h;
      const dip = 30 + (k++ % 5) * 10;
      const low = Math.max(y1, y2) + dip;
      p.setAttribute('d', `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`);
      t.setAttribute('x', (x1 + x2) / 2); t.setAttribute('y', low - dip * 0.25 + 4);
      continue;
    }
    x1 = a.x + a.w; y1 = a.y + a.h / 2;
    x2 = b.x; y2 = b.y + b.h / 2;
    const dx = (x2 - x1) / 2;
    p.setAttribute('d', `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`);
    t.setAttribute('x', (x1 + x2) / 2); t.setAttribute('y', (y1 + y2) / 2 - 4);
  }
}

// ------------------------------------------------------------------ render

function renderPart(n) {
  const b = el.parts[n], L = S.parts[n], st = S.static.parts[n] || {};
  if (!b || !L) return;
  const state = L.state || '?';
  b.className = b.className.replace(/\b[sh]-\S+/g, '').trim() + ' s-' + state + ' h-' + (L.health || 'ok');
  if (flash[n] && flash[n] > Date.now()) b.classList.add('restarted'); else b.classList.remove('restarted');
  b.dataset.state = state;
  b.dataset.restarts = L.restarts || 0;
  b.querySelector('.restarts').textContent = L.restarts ? '↻' + L.restarts : '';
  b.querySelector('.state').textContent = state + (L.pid ? ' · pid ' + L.pid : '') +
    (L.health && L.health !== 'ok' && L.health !== state ? ' · ' + L.health : '') +
    (L.standby_parked ? ' · standby' : '');
  const cpu = L.cpu_pct || 0, bud = st.budget_pct || 0;
  const full = bud > 0 ? Math.max(bud * 1.5, cpu) : Math.max(100, cpu);
  const cb = b.querySelector('.bar.cpu');
  cb.firstChild.style.width = Math.min(100, 100 * cpu / full) + '%';
  cb.lastChild.style.display = bud ? '' : 'none';
  cb.lastChild.style.left = (100 * bud / full) + '%';
  cb.classList.toggle('over', bud > 0 && cpu > bud);
  b.querySelector('.cpu-t').textContent = 'cpu ' + cpu.toFixed(1) + '%' + (bud ? ' of ' + bud.toFixed(0) + '%' : '');
  const lim = st.memory_limit || 0, rss = L.rss || 0;
  b.querySelector('.bar.mem').firstChild.style.width = (lim ? Math.min(100, 100 * rss / lim) : 0) + '%';
  b.querySelector('.mem-t').textContent = 'mem ' + fmtBytes(rss) + (lim ? ' of ' + fmtBytes(lim) : '');
  b.querySelector('.iso').textContent = 'isolation ' + (L.iso || '?');
}

// Write only what differs from what is shown: at 1,000 edges, 10 times a
// second, untouched elements cost no style or paint work.
function setText(e, v) { if (e.textContent !== v) e.textContent = v; }
function setAttr(e, k, v) { if (e.getAttribute(k) !== v) e.setAttribute(k, v); }

function renderChan(c) {
  const L = S.chans[c], st = S.static.chans[c], p = el.edges[c], t = el.labels[c], tr = el.rows[c];
  if (!L || !p) return;
  const rate = L.rate || 0;
  setAttr(p, 'class', 'edge' + (L.broken ? ' broken' : rate > 0 ? ' live' : '') +
          (st.depth_max && L.pending > st.depth_max * 0.8 ? ' hot' : ''));
  setAttr(p, 'stroke-width', (1.5 + Math.min(4, Math.log10(1 + rate))).toFixed(1));
  p.dataset.rate = rate;
  const depth = (L.pending || 0) + (st.depth_max ? '/' + st.depth_max : '');
  if (!many) setText(t, fmtRate(rate) + ' · ' + depth);
  if (!tr.cells) return;
  setText(tr.cells[3], fmtRate(rate));
  setText(tr.cells[4], depth);
  setText(tr.cells[5], String(L.sent));
  tr.dataset.rate = rate;
}

function renderEvents(list) {
  const log = $('#log');
  for (const e of list) {
    const li = h('li', HEAL.has(e.kind) ? 'heal' : '');
    li.dataset.kind = e.kind;
    li.dataset.part = e.partition || '';
    li.append(h('span', 't', fmtTime(e.time_ns)), h('span', 'k', e.kind),
              document.createTextNode((e.partition ? e.partition + ': ' : '') + e.detail));
    log.insertBefore(li, log.firstChild);
  }
  while (log.childElementCount > 300) log.removeChild(log.lastChild);
}

function renderSummary() {
  let run = 0, rs = 0;
  for (const n in S.parts) { if (S.parts[n].state === 'running') run++; rs += S.parts[n].restarts || 0; }
  let msgs = 0;
  for (const c in S.chans) msgs += S.chans[c].rate || 0;
  $('#summary').textContent = `${S.static.order.length} partitions (${run} running) · ` +
    `${S.static.chan_order.length} channels · ${fmtRate(msgs)} · ${rs} restarts`;
}

function render() {
  pending = false;
  if (!S) return;
  if (layoutDirty) { layoutDirty = false; for (const n of dirtyP) renderPart(n); layoutEdges(); }
  for (const n of dirtyP) renderPart(n);
  dirtyP.clear();
  const now = performance.now();
  if (!many || now - lastEdges >= 1000) {
    lastEdges = now;
    for (const c of dirtyC) renderChan(c);
    dirtyC.clear();
  }
  if (newEvents.length) { renderEvents(newEvents); newEvents = []; }
  renderSummary();
  if (banner) {
    const b = $('#banner');
    b.hidden = banner.until < Date.now();
    // the cause is looked up at each render: its event may come after the count
    b.textContent = `${banner.part} restarted (${S.parts[banner.part].restarts} so far): ${cause(banner.part)}`;
  }
  if (selected) renderDetail();
}

function schedule() {
  if (!pending) { pending = true; requestAnimationFrame(render); }
}

// ------------------------------------------------------------------ detail

function select(n) {
  if (selected && el.parts[selected]) el.parts[selected].classList.remove('sel');
  selected = n;
  el.parts[n].classList.add('sel');
  $('#detail').hidden = false;
  layoutDirty = true;
  schedule();
}

function spark(id, data, limit) {
  const s = $(id);
  s.textContent = '';
  const max = Math.max(1e-9, limit || 0, ...data) * 1.1;
  const n = data.length;
  if (n > 1) {
    const span = Math.max(n, 100) - 1;     // a short history fills the left, then scrolls
    const pts = data.map((v, i) => `${(300 * i / span).toFixed(1)},${(60 - 60 * v / max).toFixed(1)}`);
    s.appendChild(svg('polyline', { points: pts.join(' ') }));
  }
  if (limit) s.appendChild(svg('line', { x1: 0, x2: 300, y1: 60 - 60 * limit / max, y2: 60 - 60 * limit / max }));
}

// The record/replay line of the detail panel (ps "record", docs/replay.md).
function recordText(n, r) {
  if (!r || r.mode === 'off' && !r.on && !r.log && !r.crash_log) return 'not recorded';
  let t = (r.on ? 'recording (' + r.mode + ')' : 'not recording (' + r.mode + ')') +
    ` · ${r.records || 0} records, ${fmtBytes(r.bytes || 0)}`;
  if (r.overruns) t += ` · ${r.overruns} overruns`;
  if (r.corrupt) t += ` · ${r.corrupt} corrupt`;
  if (r.log) t += ` · log ${r.log}`;
  if (r.crash_log) t += ` · crash kept: myco replay --crash ${n}`;
  return t;
}

function renderDetail() {
  const n = selected, L = S.parts[n] || {}, st = S.static.parts[n] || {}, H = hist[n] || { cpu: [], rss: [], msgs: [] };
  $('#d-name').textContent = n;
  const f = $('#d-facts');
  f.textContent = '';
  const facts = [['state', L.state], ['health', L.health], ['pid', L.pid || '–'], ['restarts', L.restarts],
    ['last exit', L.last_exit || '–'],
    ['last restart', L.c2r_ns ? (L.c2r_ns / 1e6).toFixed(2) + ' ms crash → running' : '–'],
    ['schedule', st.mode === 'budget' ? `${st.runtime_ns / 1e6} ms per ${st.period_ns / 1e6} ms` : st.mode],
    ['cores', st.cores && st.cores.length ? st.cores.join(', ') : 'any'],
    ['memory', fmtBytes(L.rss) + (st.memory_limit ? ' of ' + fmtBytes(st.memory_limit) : '')],
    ['deadline misses', L.deadline_misses || 0], ['group', st.group + ' (' + st.restart + ')'],
    ['standby', L.standby_parked ? 'parked' : 'none'],
    ['record/replay', recordText(n, L.record)]];
  for (const [k, v] of facts) { const d = h('div'); d.append(h('span', '', k), h('span', '', String(v))); f.appendChild(d); }
  renderActions(n);
  spark('#d-cpu', H.cpu, st.budget_pct || 0);
  spark('#d-rss', H.rss, st.memory_limit || 0);
  spark('#d-msgs', H.msgs, 0);
  const t = $('#d-iso');
  t.textContent = '';
  for (const i of L.isolation || []) {
    const tr = h('tr');
    tr.append(h('td', '', i.mechanism), h('td', 'st-' + i.status, i.status), h('td', 'muted', i.reason));
    t.appendChild(tr);
  }
  const ev = $('#d-events');
  ev.textContent = '';
  const mine = S.events.filter((e) => e.partition === n).slice(-40).reverse();
  for (const e of mine) {
    const li = h('li', HEAL.has(e.kind) ? 'heal' : '');
    li.append(h('span', 'k', e.kind), document.createTextNode(fmtTime(e.time_ns) + ' ' + e.detail));
    ev.appendChild(li);
  }
}

let actionsFor = null;        // the partition the buttons were drawn for

function renderActions(n) {
  const box = $('#d-actions');
  const acts = (S.static.actions || []).filter((a) => a !== 'chaos');
  box.hidden = !acts.length;
  if (!acts.length || actionsFor === n) return;
  actionsFor = n;
  box.textContent = '';
  if (!token) {
    box.appendChild(h('div', 'muted', 'actions need the token: open the URL `myco dash --url` prints'));
    return;
  }
  for (const a of acts) {
    const b = h('button', 'act', a);
    b.dataset.action = a;
    b.addEventListener('click', () => act(a, n));
    box.appendChild(b);
  }
  box.appendChild(h('span', 'act-result', ''));
}

async function act(action, part) {
  if (!confirm(`${action} ${part}?`)) return;
  const out = $('#d-actions .act-result');
  try {
    const r = await fetch('/api/action', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token },
      body: JSON.stringify({ action, partition: part }),
    });
    const j = await r.json().catch(() => ({}));
    if (out) out.textContent = r.ok ? `${action}: done` : `${action}: ${j.error || r.status}`;
    if (r.status === 401) { token = ''; sessionStorage.removeItem('myco-token'); actionsFor = null; }
  } catch (e) {
    if (out) out.textContent = `${action}: ${e}`;
  }
}

$('#close').addEventListener('click', () => {
  $('#detail').hidden = true;
  if (selected && el.parts[selected]) el.parts[selected].classList.remove('sel');
  selected = null;
  layoutDirty = true;
  schedule();
});
window.addEventListener('resize', () => { layoutDirty = true; schedule(); });

// ------------------------------------------------------------------ data

function record(n, L) {
  const H = hist[n] || (hist[n] = { cpu: [], rss: [], msgs: [] });
  H.cpu.push(L.cpu_pct || 0); H.rss.push(L.rss || 0); H.msgs.push(L.msgs_per_s || 0);
  if (H.cpu.length > HIST) { H.cpu.shift(); H.rss.shift(); H.msgs.shift(); }
}

// The cause of a restart: the latest healing event of that partition.
function cause(n) {
  for (let i = S.events.length - 1; i >= 0; i--) {
    const e = S.events[i];
    if (e.partition === n && HEAL.has(e.kind) && e.kind !== 'restarted' && e.kind !== 'restart')
      return e.kind + ': ' + e.detail;
  }
  return S.parts[n].last_exit || 'unknown cause';
}

function onState(ev) {
  S = JSON.parse(ev.data);
  sync(S.t);
  build();
  for (const n in S.parts) record(n, S.parts[n]);
  $('#log').textContent = '';
  newEvents = S.events.slice();
  schedule();
}

function onDelta(ev) {
  if (!S) return;
  const d = JSON.parse(ev.data);
  sync(d.t);
  if (d.frame_clock) { S.static.frame_clock = d.frame_clock; }
  for (const e of d.events || []) S.events.push(e);
  if (S.events.length > 300) S.events.splice(0, S.events.length - 300);
  newEvents.push(...(d.events || []));
  for (const n in d.parts) {
    const old = S.parts[n] || {};
    const L = Object.assign({}, old, d.parts[n]);
    S.parts[n] = L;
    if ((L.restarts || 0) > (old.restarts || 0)) {
      flash[n] = Date.now() + 5000;
      setTimeout(() => { dirtyP.add(n); schedule(); }, 5100);
      banner = { part: n, until: Date.now() + 8000 };
      setTimeout(schedule, 8100);
    }
    dirtyP.add(n);
  }
  for (const n in S.parts) record(n, S.parts[n]);
  for (const c in d.chans) { S.chans[c] = Object.assign({}, S.chans[c], d.chans[c]); dirtyC.add(c); }
  schedule();
}

function connect() {
  const es = new EventSource('/events');
  es.addEventListener('state', onState);
  es.addEventListener('delta', onDelta);
  es.onopen = () => { $('#conn').className = ''; $('#conn').textContent = 'live'; };
  es.onerror = () => { $('#conn').className = 'down'; $('#conn').textContent = 'reconnecting'; };
}
connect();
