// The review page: plain DOM, data only through textContent (nothing from the server is parsed as HTML).
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

// The token comes once in the address fragment (never sent to the server), then lives in this tab only.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get('token')) {
  sessionStorage.setItem('uee-token', fragment.get('token'));
  history.replaceState(null, '', location.pathname + location.search);
}
const token = () => sessionStorage.getItem('uee-token');

async function api(path, options = {}) {
  const res = await fetch(`/review/api/${path}`, { ...options, headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) showLogin();
  if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}${body.error.hint ? ` — ${body.error.hint}` : ''}` : `HTTP ${res.status}`);
  return body;
}

function showError(err) {
  const p = $('#error');
  p.hidden = err === null;
  p.textContent = err === null ? '' : String(err.message ?? err);
}

function showLogin() {
  $('#login').hidden = false;
}
$('#login-go').addEventListener('click', () => {
  sessionStorage.setItem('uee-token', $('#token').value.trim());
  $('#login').hidden = true;
  void boot();
});

// ---------------------------------------------------------------- tabs
let current = 'proposals';
for (const b of document.querySelectorAll('#tabs button')) {
  b.addEventListener('click', () => {
    current = b.dataset.tab;
    for (const x of document.querySelectorAll('#tabs button')) x.classList.toggle('active', x === b);
    for (const s of document.querySelectorAll('main > section[id^="tab-"]')) s.hidden = s.id !== `tab-${current}`;
    void refresh();
  });
}

const loaders = {
  proposals: loadProposals,
  plugins: loadPlugins,
  metrics: loadMetrics,
  'dead-letters': loadDeadLetters,
  experiments: loadExperiments,
  audit: loadAudit,
};

async function refresh() {
  try {
    showError(null);
    await loaders[current]();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- proposals
$('#status-filter').addEventListener('change', () => void refresh());

async function loadProposals() {
  const status = $('#status-filter').value;
  const { proposals } = await api(`proposals${status ? `?status=${encodeURIComponent(status)}` : ''}`);
  const tbody = $('#proposals tbody');
  tbody.replaceChildren(
    ...proposals.map((p) =>
      el(
        'tr',
        { 'data-id': p.id, onclick: () => void openProposal(p.id) },
        el('td', { text: p.id }),
        el('td', {}, el('span', { class: `status ${p.status}`, text: p.status })),
        el('td', { text: `${p.tool} · ${p.target}` }),
        el('td', { text: p.reason }),
        el('td', { text: p.proposedBy.id }),
        el('td', { text: `${p.approvals.length}/${p.approvalsNeeded}` }),
        el('td', { text: new Date(p.proposedAt).toLocaleString() }),
      ),
    ),
  );
  if (proposals.length === 0) tbody.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: 'no proposals' })));
}

function caps(before, after) {
  const all = [...new Set([...before, ...after])];
  return el(
    'div',
    { class: 'caps' },
    ...all.map((c) => el('span', { class: !before.includes(c) ? 'cap-added' : !after.includes(c) ? 'cap-removed' : '', text: !before.includes(c) ? `+ ${c}` : !after.includes(c) ? `− ${c}` : c })),
    all.length === 0 ? el('span', { text: 'none' }) : '',
  );
}

function diffTable(d) {
  return el(
    'table',
    { class: 'diff', 'data-path': d.path },
    el(
      'tbody',
      {},
      ...d.rows.map((r) =>
        el(
          'tr',
          { class: r.kind },
          el('td', { class: 'n', text: r.left ? String(r.left.n) : '' }),
          el('td', { class: 'l', text: r.left ? r.left.text : '' }),
          el('td', { class: 'n', text: r.right ? String(r.right.n) : '' }),
          el('td', { class: 'r', text: r.right ? r.right.text : '' }),
        ),
      ),
    ),
  );
}

async function openProposal(id) {
  const { proposal: p, diffs } = await api(`proposals/${encodeURIComponent(id)}`);
  const box = $('#detail');
  box.hidden = false;
  const comment = el('textarea', { id: 'comment', placeholder: 'comment (required to reject)' });
  const result = el('div', { id: 'result' });
  const act = (action) => async () => {
    try {
      const { proposal } = await api(`proposals/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: JSON.stringify({ comment: comment.value }) });
      result.textContent = `${action}: proposal is now ${proposal.status}${proposal.outcome ? ` — ${proposal.outcome.summary}` : ''}`;
      result.dataset.status = proposal.status;
      await loadProposals();
    } catch (err) {
      result.textContent = String(err.message ?? err);
      result.dataset.status = 'error';
    }
  };
  box.replaceChildren(
    el('h2', { text: `${p.tool} · ${p.target}` }),
    el('p', {}, el('span', { class: `status ${p.status}`, text: p.status }), ` revision ${p.revision} · proposed by ${p.proposedBy.id} · ${new Date(p.proposedAt).toLocaleString()}`),
    el('p', {}, el('strong', { text: 'Rationale: ' }), p.rationale),
    el('p', {}, el('strong', { text: 'Held because: ' }), p.reason),
    el('h3', { text: 'Plan' }),
    el('p', { id: 'plan-summary', text: p.plan.summary }),
    el('ul', {}, ...p.plan.changes.map((c) => el('li', { text: `${c.action} ${c.target}${c.detail ? ` — ${c.detail}` : ''}` }))),
    el('h3', { text: 'Capabilities' }),
    caps(p.bundle.capabilities.before, p.bundle.capabilities.after),
    p.bundle.manifest.length === 0
      ? ''
      : el('table', { id: 'manifest-diff' }, el('thead', {}, el('tr', {}, el('th', { text: 'Manifest field' }), el('th', { text: 'Running' }), el('th', { text: 'Proposed' }))), el('tbody', {}, ...p.bundle.manifest.map((m) => el('tr', {}, el('td', { text: m.field }), el('td', { text: JSON.stringify(m.before) }), el('td', { text: JSON.stringify(m.after) }))))),
    ...p.bundle.warnings.map((w) => el('p', { class: 'warn', text: `⚠ ${w}` })),
    ...p.bundle.notes.map((n) => el('p', { class: 'muted', text: n })),
    ...bundleSections(p.bundle),
    el('h3', { text: 'Source' }),
    ...(diffs.length === 0 ? [el('p', { class: 'muted', text: 'no source files recorded' })] : diffs.flatMap((d) => [el('h4', { text: d.path }), diffTable(d)])),
    el('h3', { text: 'Comments' }),
    el('ul', {}, ...p.comments.map((c) => el('li', { text: `${new Date(c.at).toLocaleString()} ${c.by} ${c.action}${c.text ? `: ${c.text}` : ''}` }))),
    comment,
    el(
      'div',
      { class: 'actions' },
      el('button', { id: 'approve', onclick: act('approve') , text: 'Approve' }),
      el('button', { id: 'reject', onclick: act('reject'), text: 'Reject' }),
      el('button', { id: 'rebase', onclick: act('rebase'), text: 'Rebase' }),
    ),
    result,
  );
  box.scrollIntoView({ block: 'start' });
}

// The costly part of the bundle: simulation on recorded events, model cost, the chain around the change.
function runText(r) {
  if (r === null) return '—';
  if (!r.ok) return `fails: ${r.error ?? ''}`;
  const parts = [`${r.writes} write(s)`];
  if (r.emits.length > 0) parts.push(`emits ${r.emits.join(', ')}`);
  if (r.readModelUpdates > 0) parts.push(`${r.readModelUpdates} read-model update(s)`);
  if (r.modelCalls > 0) parts.push(`${r.modelCalls} model call(s)`);
  return `${parts.join(' · ')} · ${r.durationMs} ms · effects ${r.effects}`;
}

function bundleSections(b) {
  const out = [];
  const sim = b.simulation;
  if (sim) {
    const head = sim.before === null ? `v${sim.after.version}: ${sim.after.ok} ok, ${sim.after.failed} failed (no version in force to compare with)` : `v${sim.before.version} → v${sim.after.version}: ok ${sim.before.ok} → ${sim.after.ok}, failed ${sim.before.failed} → ${sim.after.failed}; effects differ on ${sim.changed} of ${sim.rows.length} events`;
    out.push(
      el('section', { id: 'simulation' },
        el('h3', { text: 'Simulation on recorded events' }),
        el('p', { id: 'simulation-summary', text: `${sim.source}: ${head}` }),
        sim.stubbedModels.length > 0 ? el('p', { class: 'warn', text: `stubbed models (outputs not real): ${sim.stubbedModels.join(', ')}` }) : '',
        el('table', { class: 'simulation' },
          el('thead', {}, el('tr', {}, el('th', { text: 'Event' }), el('th', { text: 'Type' }), el('th', { text: 'Running version' }), el('th', { text: 'Proposed version' }), el('th', { text: '' }))),
          el('tbody', {}, ...sim.rows.map((r) => {
            const verdict = r.before === null ? 'new' : r.same ? 'same' : 'differs';
            return el('tr', { class: `sim-${verdict}`, 'data-event': r.eventId },
              el('td', { text: `…${r.eventId.slice(-12)}`, title: `${r.eventId} · ${r.occurredAt}` }),
              el('td', { text: r.type }),
              el('td', { class: r.before && !r.before.ok ? 'fails' : '', text: runText(r.before) }),
              el('td', { class: r.after.ok ? '' : 'fails', text: runText(r.after) }),
              el('td', {}, el('span', { class: `verdict ${verdict}`, text: verdict })));
          })))));
  }
  const c = b.cost;
  if (c) {
    const n = (x) => (x === null ? '—' : String(Math.round(x * 1000) / 1000));
    out.push(
      el('section', { id: 'cost' },
        el('h3', { text: 'Estimated model cost' }),
        el('ul', {},
          el('li', { text: `model calls per event: ${n(c.modelCallsPerEvent.before)} → ${n(c.modelCallsPerEvent.after)}; cost per event: ${n(c.costPerEvent.before)} → ${n(c.costPerEvent.after)}` }),
          el('li', { id: 'cost-per-day', text: `at ${c.eventsPerDay} matching events/day: ${c.callsPerDay} model calls/day, cost ${c.costPerDay}/day; budget cap ${c.maxCallsPerDay ?? '—'} calls/day` }),
          el('li', { class: 'muted', text: c.basis }))));
  }
  const g = b.graph;
  if (g && (g.triggers.length > 0 || g.triggeredBy.length > 0 || g.warnings.length > 0)) {
    out.push(
      el('section', { id: 'chain' },
        el('h3', { text: 'Chain' }),
        el('p', { text: `triggers: ${g.triggers.join(', ') || 'nothing'} · triggered by: ${g.triggeredBy.join(', ') || 'nothing'}` }),
        ...g.warnings.map((w) => el('p', { class: 'warn chain-warning', text: `⚠ ${w}` }))));
  }
  return out;
}

// ---------------------------------------------------------------- experiments (uPlot interval plots)
$('#exp-go').addEventListener('click', () => void refresh());

// Error bars: uPlot draws the means as points; this hook draws each variant's 95% interval as a whisker.
function whiskers(lowIdx, highIdx, color) {
  return (u) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * devicePixelRatio;
    const xs = u.data[0];
    for (let i = 0; i < xs.length; i++) {
      const x = u.valToPos(xs[i], 'x', true);
      const lo = u.valToPos(u.data[lowIdx][i], 'y', true);
      const hi = u.valToPos(u.data[highIdx][i], 'y', true);
      const w = 8 * devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(x, lo); ctx.lineTo(x, hi);
      ctx.moveTo(x - w, lo); ctx.lineTo(x + w, lo);
      ctx.moveTo(x - w, hi); ctx.lineTo(x + w, hi);
      ctx.stroke();
    }
    ctx.restore();
  };
}

function ciChart(title, names, estimates, color) {
  const xs = names.map((_, i) => i);
  const mean = estimates.map((e) => e.mean);
  const low = estimates.map((e) => e.low);
  const high = estimates.map((e) => e.high);
  const box = el('div', { class: 'chart ci-chart', 'data-metric': title });
  const dot = { show: true, size: 9, fill: color };
  const hidden = { show: false };
  const pad = Math.max(1e-9, (Math.max(...high) - Math.min(...low)) * 0.15);
  new window.uPlot(
    {
      title: `${title} (mean, 95% interval)`,
      width: 360,
      height: 200,
      legend: { show: false },
      scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: [Math.min(...low) - pad, Math.max(...high) + pad] } },
      axes: [{ splits: () => xs, values: (_u, splits) => splits.map((i) => names[i] ?? '') }, {}],
      series: [{}, { label: 'mean', stroke: color, paths: () => null, points: dot }, { label: 'low', paths: () => null, points: hidden }, { label: 'high', paths: () => null, points: hidden }],
      hooks: { draw: [whiskers(2, 3, color)] },
    },
    [xs, mean, low, high],
    box,
  );
  return box;
}

async function loadExperiments() {
  const t = $('#exp-tenant').value.trim();
  const { experiments } = await api(`experiments${t ? `?tenantId=${encodeURIComponent(t)}` : ''}`);
  const list = $('#experiments');
  list.replaceChildren();
  if (experiments.length === 0) list.append(el('p', { class: 'muted', text: 'no experiments yet (agents start them with experiment_start)' }));
  for (const x of experiments) {
    const e = x.experiment;
    const variants = x.variants ?? [];
    const names = variants.map((v) => v.variant);
    const card = el('article', { class: 'experiment', 'data-id': e.id },
      el('h3', { text: `${e.id} · ${e.kind} · ${e.plugins.join(', ')}` }),
      el('p', {}, el('span', { class: `status ${e.status === 'running' ? 'pending' : 'applied'}`, text: e.status }), ` ${x.tenantId} · started ${new Date(e.startedAt).toLocaleString()}${e.reason ? ` · ${e.reason}` : ''}`),
      el('p', { class: 'recommendation', text: x.recommendation ?? '' }));
    if (variants.length > 0) {
      card.append(
        el('table', { class: 'variants' },
          el('thead', {}, el('tr', {}, ...['Variant', 'Exposures', 'Success rate [95%]', 'Latency ms [95%]', 'vs control: success', 'vs control: latency'].map((h) => el('th', { text: h })))),
          el('tbody', {}, ...variants.map((v) => {
            const ci = (m) => `${m.mean} [${m.low}, ${m.high}]`;
            const cmp = (c) => (c ? `${c.diff > 0 ? '+' : ''}${c.diff} [${c.low}, ${c.high}] p=${c.pValue}${c.significant ? ' ✱' : ''}` : '—');
            return el('tr', {}, el('td', { text: v.variant }), el('td', { text: String(v.exposures) }), el('td', { text: ci(v.successRate) }), el('td', { text: ci(v.latencyMs) }), el('td', { text: cmp(v.vsControl?.successRate) }), el('td', { text: cmp(v.vsControl?.latencyMs) }));
          }))),
        el('div', { class: 'ci-charts' }, ciChart('success rate', names, variants.map((v) => v.successRate), '#1f8f4a'), ciChart('latency ms', names, variants.map((v) => v.latencyMs), '#2f6fde')),
      );
    }
    if (x.shadow) card.append(el('p', { class: 'muted', text: `shadow: ${x.shadow.compared ?? 0} events compared, ${x.shadow.different ?? 0} different` }));
    list.append(card);
  }
}

// ---------------------------------------------------------------- plugins, dead letters, audit
async function loadPlugins() {
  const { plugins } = await api('plugins');
  $('#plugins tbody').replaceChildren(
    ...plugins.map((p) =>
      el('tr', { 'data-plugin': `${p.name}@${p.version}` }, el('td', { text: p.name }), el('td', { text: `v${p.version}` }), el('td', { text: p.status }), el('td', { text: p.tenantId ?? 'global' }), el('td', { text: (p.subscribeTo ?? []).join(', ') }), el('td', { text: (p.capabilities ?? []).join(', ') })),
    ),
  );
}

async function loadDeadLetters() {
  const { deadLetters } = await api('dead-letters');
  const tbody = $('#dead-letters tbody');
  tbody.replaceChildren(
    ...deadLetters.map((d) => el('tr', {}, el('td', { text: new Date(d.deadAt).toLocaleString() }), el('td', { text: d.plugin ? d.plugin.name : d.group }), el('td', { text: `${d.event.type} ${d.event.eventId}` }), el('td', { text: `${d.error.code}: ${d.error.message}` }), el('td', { text: String(d.attempts.length) }))),
  );
  if (deadLetters.length === 0) tbody.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'no dead letters' })));
}

$('#audit-go').addEventListener('click', () => void refresh());
async function loadAudit() {
  const t = $('#audit-tenant').value.trim();
  const { entries } = await api(`audit${t ? `?tenantId=${encodeURIComponent(t)}` : ''}`);
  $('#audit tbody').replaceChildren(
    ...entries.map((e) => el('tr', {}, el('td', { text: new Date(e.at).toLocaleString() }), el('td', { text: e.actor }), el('td', { text: e.action }), el('td', { text: e.proposalId ?? '' }), el('td', { text: e.tool ?? '' }), el('td', { text: e.outcome }), el('td', { text: e.comment ?? '' }))),
  );
}

// ---------------------------------------------------------------- live metrics (uPlot)
const series = new Map(); // pluginId → { t: [], p50: [], p95: [], errors: [], calls: [], last, charts }
const WINDOW = 300;

async function loadMetrics() {
  const m = await api('metrics');
  $('#metrics-note').textContent = m.runtime ? `per plugin version, sampled every 2 s (${new Date(m.at).toLocaleTimeString()})` : 'this process runs no plugins (--runtime off): no live metrics';
  const now = Date.parse(m.at) / 1000;
  for (const p of m.plugins) {
    let s = series.get(p.pluginId);
    if (!s) {
      s = { t: [], p50: [], p95: [], errors: [], calls: [], last: null, charts: null };
      series.set(p.pluginId, s);
    }
    const errors = Object.values(p.errors).reduce((a, b) => a + b, 0);
    const delta = s.last ? { calls: p.invocations - s.last.invocations, errors: errors - s.last.errors } : { calls: 0, errors: 0 };
    s.last = { invocations: p.invocations, errors };
    s.t.push(now); s.p50.push(p.latencyMs.p50); s.p95.push(p.latencyMs.p95); s.calls.push(delta.calls); s.errors.push(delta.errors);
    for (const k of ['t', 'p50', 'p95', 'calls', 'errors']) if (s[k].length > WINDOW) s[k].shift();
    if (!s.charts) {
      const box = el('div', { class: 'plugin-charts', 'data-plugin': p.pluginId }, el('h4', { text: `${p.name} (${p.pluginId})` }));
      $('#charts').append(box);
      const opts = (title, names, colors) => ({ title, width: 420, height: 180, series: [{}, ...names.map((label, i) => ({ label, stroke: colors[i], width: 1.5 }))] });
      const latency = el('div', { class: 'chart latency' });
      const errs = el('div', { class: 'chart errors' });
      box.append(latency, errs);
      // global from /review/assets/uplot.js
      s.charts = [new window.uPlot(opts('latency ms', ['p50', 'p95'], ['#2f6fde', '#f08c00']), [s.t, s.p50, s.p95], latency), new window.uPlot(opts('per interval', ['calls', 'errors'], ['#1f8f4a', '#c0392b']), [s.t, s.calls, s.errors], errs)];
    } else {
      s.charts[0].setData([s.t, s.p50, s.p95]);
      s.charts[1].setData([s.t, s.calls, s.errors]);
    }
  }
  if (m.plugins.length === 0 && $('#charts').childElementCount === 0) $('#charts').append(el('p', { class: 'muted', text: 'no plugin has handled an event yet' }));
}
setInterval(() => {
  if (current === 'metrics' && token()) void refresh();
}, 2000);

// ---------------------------------------------------------------- start
async function boot() {
  if (!token()) return showLogin();
  try {
    const me = await api('me');
    $('#me').textContent = `${me.id}${me.kind === 'tenant' ? ` · tenant ${me.tenantId}` : ' · admin'}${me.reviewer ? ' · reviewer' : ' · not a reviewer'}`;
    await refresh();
  } catch (err) {
    showError(err);
  }
}
void boot();
