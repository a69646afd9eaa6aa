/**
 * The eval tasks. Each has a prompt (what an LLM agent is told), an optional setup (run through the
 * same session, not counted), a scripted reference agent (deterministic: the CI regression suite) and
 * a check that scores the task from the resulting state — it probes the live system (emits an event,
 * reads entities, read models, plugin versions) and never trusts what the agent said.
 */
import type { EvalSession, HumanReviewer } from './session.js';

/** Outcome of a task's check. */
export interface CheckResult {
  solved: boolean;
  detail: string;
}

/** One eval task. */
export interface EvalTask {
  id: string;
  title: string;
  /** The instruction an LLM agent receives (it acts as a tenant principal over MCP). */
  prompt: string;
  setup?: (s: EvalSession) => Promise<void>;
  /** The scripted reference agent: only counted tool calls. */
  reference: (s: EvalSession) => Promise<void>;
  check: (s: EvalSession) => Promise<CheckResult>;
  /** Transports the task can run on (default both): a task needing a human reviewer needs the HTTP review API. */
  transports?: readonly ('http' | 'stdio')[];
  /**
   * One round of the scripted human reviewer, called every few hundred ms while the agent works
   * (the same for a reference or an LLM agent). Needs `session.human`, so the task is HTTP-only.
   */
  human?: (h: HumanReviewer) => Promise<void>;
}

type Obj = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let probeSeq = 0;
const probeId = (label: string) => `${label}-${Date.now().toString(36)}-${++probeSeq}`;

/** Polls `fn` (uncounted calls) until it returns a value or `ms` pass. */
async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > until) return v;
    await sleep(150);
  }
}

/** Entities of a type whose attributes match `match` (uncounted). */
async function findEntity(s: EvalSession, entityTypeId: string, match: Obj, ms = 20_000): Promise<Obj | undefined> {
  const filter = Object.fromEntries(Object.entries(match).map(([k, v]) => [`attributes.${k}`, v]));
  return waitFor(async () => {
    const r = await s.call('entity_query', { entityTypeId, filter, limit: 10 }, false);
    const items = r.ok ? (r.value.items as Obj[]) : [];
    return items[0];
  }, ms);
}

const manifest = (name: string, subscribeTo: string[], capabilities: string[], extra: Obj = {}): Obj => ({
  name,
  kind: 'event',
  tenantScope: 'tenant',
  subscribeTo,
  capabilities,
  ...extra,
});

/** Compile then deploy, as an agent does (two counted calls). */
async function compileAndDeploy(s: EvalSession, files: Record<string, string>, m: Obj): Promise<Obj> {
  const compiled = await s.must('plugin_compile', { source: { language: 'ts', files, entry: 'main.ts' }, capabilities: m.capabilities });
  return s.must('plugin_deploy', { manifest: m, artifact: compiled.artifact });
}

/** Deploy without counting (task setups). */
async function setupDeploy(s: EvalSession, files: Record<string, string>, m: Obj): Promise<Obj> {
  return s.must('plugin_deploy', { manifest: m, source: { language: 'ts', files, entry: 'main.ts' } }, false);
}

const createdBy = (e: Obj | undefined): string => (typeof e?.createdBy === 'string' ? e.createdBy : '');

// ——— sources ———————————————————————————————————————————————————————————————————————

const PRIORITIZER = `import { on, callModel, updateReadModel } from 'uee:plugin';

interface Scored { score: number; label: string; priority: number }

on('TaskCreated', ({ event }) => {
  const a = (event.payload.attributes ?? {}) as { importance?: number; dueInDays?: number; estimateHours?: number };
  const r = callModel<Scored>({ model: 'task.prioritizer.v2', input: { importance: a.importance ?? 3, dueInDays: a.dueInDays ?? 7, estimateHours: a.estimateHours ?? 1 } });
  updateReadModel({ op: 'upsert', view: 'task-priorities', id: String(event.entityId), doc: { score: r.score, label: r.label } });
});
`;

const ORDERS = `import { on, writeEntity, updateReadModel } from 'uee:plugin';

on('OrderPlaced', ({ event }) => {
  const p = event.payload as { orderId: string; customer: string; total: number };
  writeEntity({ entityTypeId: 'Order', attributes: { orderId: p.orderId, customer: p.customer, total: p.total, status: 'placed' } });
  updateReadModel({ op: 'upsert', view: 'orders', id: p.orderId, doc: { customer: p.customer, total: p.total, status: 'placed' } });
});
`;

const FOLLOW_UP = `import { on, scheduleTimer, writeEntity } from 'uee:plugin';

on('TaskCreated', ({ event }) => {
  scheduleTimer({ delayMs: 300, type: 'TaskFollowUp', payload: { taskId: String(event.entityId) } });
});
on('TaskFollowUp', ({ event }) => {
  writeEntity({ entityTypeId: 'FollowUp', attributes: { taskId: String(event.payload.taskId) } });
});
`;

const CHAIN_A = `import { on, emitEvent } from 'uee:plugin';

on('OrderPlaced', ({ event }) => {
  const p = event.payload as { orderId: string; total: number };
  emitEvent({ type: 'InvoiceRequested', payload: { orderId: p.orderId, total: p.total } });
});
`;

const CHAIN_B = `import { on, writeEntity } from 'uee:plugin';

on('InvoiceRequested', ({ event }) => {
  const p = event.payload as { orderId: string; total: number };
  writeEntity({ entityTypeId: 'Invoice', attributes: { orderId: p.orderId, amount: p.total } });
});
`;

const RECEIPT_BAD = `import { on, writeEntity } from 'uee:plugin';

on('PaymentReceived', ({ event }) => {
  const p = event.payload as { paymentId: string; amount: number };
  writeEntity({ entityTypeId: 'Receipt', attributes: { paymentId: p.paymentId, amount: p.amount.toFixed(2) } });
});
`;

const GREETER = (text: string) => `import { on, writeEntity } from 'uee:plugin';

on('UserSignedUp', ({ event }) => {
  writeEntity({ entityTypeId: 'Greeting', attributes: { user: String(event.payload.user), text: ${JSON.stringify(text)} } });
});
`;

const NOTES_V1 = `import { on, writeEntity } from 'uee:plugin';

on('NoteSubmitted', ({ event }) => {
  writeEntity({ entityTypeId: 'Note', attributes: { noteId: String(event.payload.noteId), text: String(event.payload.text) } });
});
`;
const NOTES_V2 = `import { on, writeEntity, emitEvent } from 'uee:plugin';

on('NoteSubmitted', ({ event }) => {
  writeEntity({ entityTypeId: 'Note', attributes: { noteId: String(event.payload.noteId), text: String(event.payload.text) } });
  emitEvent({ type: 'NoteWritten', payload: { noteId: String(event.payload.noteId) } });
});
`;
const AUDITOR = `import { on, writeEntity } from 'uee:plugin';

on('NoteWritten', ({ event }) => {
  writeEntity({ entityTypeId: 'Audit', attributes: { noteId: String(event.payload.noteId) } });
});
`;

const LEADERBOARD_SLOW = `import { on, updateReadModel } from 'uee:plugin';

// Keeps the best score per player. (Slow: recomputes a checksum of the history on every event.)
on('ScoreRecorded', ({ event }) => {
  const p = event.payload as { player: string; score: number };
  let checksum = 0;
  for (let i = 0; i < 3_000_000; i++) checksum = (checksum * 31 + i) % 1_000_003;
  updateReadModel({ op: 'upsert', view: 'leaderboard', id: p.player, doc: { player: p.player, best: p.score, checksum } });
});
`;
const LEADERBOARD_FAST = `import { on, updateReadModel, queryReadModel } from 'uee:plugin';

on('ScoreRecorded', ({ event }) => {
  const p = event.payload as { player: string; score: number };
  const current = queryReadModel<{ best: number }>({ view: 'leaderboard', filter: { player: p.player } }).items[0]?.doc.best ?? -Infinity;
  if (p.score > current) updateReadModel({ op: 'upsert', view: 'leaderboard', id: p.player, doc: { player: p.player, best: p.score } });
});
`;

const SLA_BROKEN = `import { on, getTenantConfig, writeEntity } from 'uee:plugin';

on('TicketOpened', ({ event }) => {
  const hours: number = getTenantConfig().tenant.slaHours;
  writeEntity({ entityTypeId: 'Sla', attributes: { ticketId: String(event.payload.ticketId), hours } });
});
`;
const SLA_FIXED = SLA_BROKEN.replace('const hours: number = getTenantConfig().tenant.slaHours;', 'const hours = Number(getTenantConfig().tenant.slaHours ?? 24);');

const WELCOME = `import { on, writeEntity } from 'uee:plugin';

on('TaskCreated', ({ event }) => {
  writeEntity({ entityTypeId: 'TaskWelcome', attributes: { taskId: String(event.entityId) } });
});
`;

const QUOTER = (discountPct: number) => `import { on, writeEntity } from 'uee:plugin';

on('QuoteRequested', ({ event }) => {
  const p = event.payload as { quoteId: string; total: number };
  writeEntity({ entityTypeId: 'Quote', attributes: { quoteId: p.quoteId, total: p.total, discount: Math.round(p.total * ${discountPct}) / 100 } });
});
`;

const NOTIFIER_V1 = `import { on, writeEntity } from 'uee:plugin';

on('UserSignedUp', ({ event }) => {
  writeEntity({ entityTypeId: 'Notice', attributes: { user: String(event.payload.user) } });
});
`;
const NOTIFIER_V2 = `import { on, writeEntity, emitEvent } from 'uee:plugin';

on('UserSignedUp', ({ event }) => {
  const user = String(event.payload.user);
  writeEntity({ entityTypeId: 'Notice', attributes: { user } });
  emitEvent({ type: 'WelcomeDue', payload: { user } });
});
`;
const WELCOME_MAILER = `import { on, writeEntity } from 'uee:plugin';

on('WelcomeDue', ({ event }) => {
  writeEntity({ entityTypeId: 'Welcome', attributes: { user: String(event.payload.user) } });
});
`;

/** Loads the "scores" view: \`size\` docs per ScoresImported event (a few thousand in all, so a scan is measurable). */
const SCORES_IMPORTER = `import { on, updateReadModel } from 'uee:plugin';

const REGIONS = ['eu', 'us', 'apac'];
on('ScoresImported', ({ event }) => {
  const p = event.payload as { batch: number; size: number };
  for (let i = 0; i < p.size; i++) {
    const n = p.batch * p.size + i;
    updateReadModel({ op: 'upsert', view: 'scores', id: 's' + n, doc: { player: 'p' + (n % 1500), region: REGIONS[n % 3], score: n % 1000 } });
  }
});
`;
const SCORE_BATCHES = 2;
const SCORE_BATCH_SIZE = 1000;

// ——— tasks ————————————————————————————————————————————————————————————————————————

export const TASKS: EvalTask[] = [
  {
    id: 'prioritizer',
    title: 'TaskPrioritizer on the built-in model',
    prompt:
      'Deploy a TypeScript plugin "DivFlo.TaskPrioritizer" that, on every TaskCreated event, scores the task with the model ' +
      '"task.prioritizer.v2" (features from the task attributes: importance, dueInDays, estimateHours) and upserts ' +
      '{score, label} into the read model "task-priorities" under the task\'s entity id. Tasks are created with entity_put ' +
      'using eventType "TaskCreated".',
    async reference(s) {
      await s.tools();
      const m = manifest('DivFlo.TaskPrioritizer', ['TaskCreated'], ['invokeModels', 'updateReadModels'], { models: ['task.prioritizer.v2'] });
      await compileAndDeploy(s, { 'main.ts': PRIORITIZER }, m);
    },
    async check(s) {
      const task = await s.must('entity_put', { entityTypeId: 'Task', attributes: { title: 'probe', importance: 5, dueInDays: 1 }, eventType: 'TaskCreated' }, false);
      const id = String((task.entity as Obj).entityId);
      const doc = await waitFor(async () => {
        const r = await s.call('read_model_get', { view: 'task-priorities', id }, false);
        return r.ok && r.value.doc ? ((r.value.doc as Obj).doc as Obj) : undefined;
      });
      return { solved: typeof doc?.score === 'number', detail: doc ? `score ${String(doc.score)}` : 'no task-priorities doc for a new task' };
    },
  },
  {
    id: 'order-view',
    title: 'Order workflow with a view',
    prompt:
      'On OrderPlaced (payload {orderId, customer, total}) write an Order entity (orderId, customer, total, status "placed") ' +
      'and upsert the read model "orders" (id = orderId, doc {customer, total, status}). Deploy it as "Shop.Orders".',
    async reference(s) {
      await s.tools();
      await compileAndDeploy(s, { 'main.ts': ORDERS }, manifest('Shop.Orders', ['OrderPlaced'], ['writeEntities', 'updateReadModels']));
    },
    async check(s) {
      const orderId = probeId('o');
      await s.must('event_emit', { type: 'OrderPlaced', payload: { orderId, customer: 'ada', total: 42 } }, false);
      const order = await findEntity(s, 'Order', { orderId });
      const view = await waitFor(async () => {
        const r = await s.call('read_model_get', { view: 'orders', id: orderId }, false);
        return r.ok && r.value.doc ? ((r.value.doc as Obj).doc as Obj) : undefined;
      });
      return { solved: order !== undefined && view?.total === 42, detail: `order ${order ? 'written' : 'missing'}, view ${JSON.stringify(view ?? null)}` };
    },
  },
  {
    id: 'timer-follow-up',
    title: 'Timer follow-up',
    prompt:
      'When a Task is created (TaskCreated), schedule a follow-up timer of type "TaskFollowUp" a few hundred ms later; when it ' +
      'fires, write a FollowUp entity with attribute taskId = the task\'s entity id. One plugin, "DivFlo.FollowUp".',
    async reference(s) {
      await s.tools();
      await compileAndDeploy(s, { 'main.ts': FOLLOW_UP }, manifest('DivFlo.FollowUp', ['TaskCreated', 'TaskFollowUp'], ['executeTimers', 'writeEntities']));
    },
    async check(s) {
      const task = await s.must('entity_put', { entityTypeId: 'Task', attributes: { title: 'follow me' }, eventType: 'TaskCreated' }, false);
      const taskId = String((task.entity as Obj).entityId);
      const f = await findEntity(s, 'FollowUp', { taskId }, 30_000);
      return { solved: f !== undefined, detail: f ? 'FollowUp written after the timer' : 'no FollowUp for a new task' };
    },
  },
  {
    id: 'two-plugin-chain',
    title: 'Two-plugin chain',
    prompt:
      'Build a chain of two plugins: "Shop.InvoiceRequester" turns OrderPlaced {orderId, total} into an InvoiceRequested ' +
      'event, and "Shop.Invoicer" writes an Invoice entity {orderId, amount} for each InvoiceRequested.',
    async reference(s) {
      await s.tools();
      await compileAndDeploy(s, { 'main.ts': CHAIN_A }, manifest('Shop.InvoiceRequester', ['OrderPlaced'], ['emitEvents'], { emits: ['InvoiceRequested'] }));
      await compileAndDeploy(s, { 'main.ts': CHAIN_B }, manifest('Shop.Invoicer', ['InvoiceRequested'], ['writeEntities']));
    },
    async check(s) {
      const orderId = probeId('o');
      await s.must('event_emit', { type: 'OrderPlaced', payload: { orderId, total: 99 } }, false);
      const inv = await findEntity(s, 'Invoice', { orderId });
      return { solved: (inv?.attributes as Obj | undefined)?.amount === 99, detail: inv ? 'Invoice written through the chain' : 'no Invoice' };
    },
  },
  {
    id: 'dead-letter-fix',
    title: 'Find and fix a dead-lettered plugin, then redrive',
    prompt:
      'The plugin "Shop.Receipts" fails on some PaymentReceived events and they end up dead-lettered. Find the failing event, ' +
      'fix the plugin (keep its behaviour: a Receipt entity {paymentId, amount as a 2-decimal string}), deploy the fix, and ' +
      'redrive the dead letter so its Receipt exists and the dead-letter list is empty.',
    async setup(s) {
      await setupDeploy(s, { 'main.ts': RECEIPT_BAD }, manifest('Shop.Receipts', ['PaymentReceived'], ['writeEntities']));
      await s.must('event_emit', { type: 'PaymentReceived', payload: { paymentId: 'pay-broken', amount: '12.5' } }, false);
    },
    async reference(s) {
      await s.tools();
      let letters: Obj[] = [];
      for (let i = 0; i < 200 && letters.length === 0; i++) {
        letters = (await s.must('dead_letter_list', { name: 'Shop.Receipts' })).deadLetters as Obj[];
        if (letters.length === 0) await sleep(300);
      }
      const letter = letters[0];
      if (!letter) throw new Error('no dead letter appeared');
      const src = await s.must('plugin_source', { name: 'Shop.Receipts' });
      const files = src.files as Record<string, string> | undefined;
      const fixed = { 'main.ts': (files?.['main.ts'] ?? RECEIPT_BAD).replace('p.amount.toFixed(2)', 'Number(p.amount).toFixed(2)').replace('amount: number }', 'amount: number | string }') };
      const compiled = await s.must('plugin_compile', { source: { language: 'ts', files: fixed, entry: 'main.ts' } });
      const replay = await s.must('dead_letter_replay', { deadLetterId: letter.id, artifact: compiled.artifact, manifest: { capabilities: ['writeEntities'] } });
      if (replay.nowSucceeds !== true) throw new Error('replay still fails');
      await s.must('plugin_deploy', { manifest: manifest('Shop.Receipts', ['PaymentReceived'], ['writeEntities']), artifact: compiled.artifact });
      await s.must('dead_letter_redrive', { deadLetterIds: [letter.id], dryRun: true });
      const redrive = await s.must('dead_letter_redrive', { deadLetterIds: [letter.id], dryRun: false });
      if (redrive.succeeded !== 1) throw new Error(`redrive did not succeed: ${JSON.stringify(redrive.items)}`);
    },
    async check(s) {
      const r = await findEntity(s, 'Receipt', { paymentId: 'pay-broken' });
      const left = ((await s.must('dead_letter_list', { name: 'Shop.Receipts' }, false)).deadLetters as Obj[]).length;
      return {
        solved: (r?.attributes as Obj | undefined)?.amount === '12.50' && left === 0,
        detail: `${r ? `Receipt ${JSON.stringify(r.attributes)}` : 'the failed payment still has no Receipt'}; ${left} dead letter(s) left`,
      };
    },
  },
  {
    id: 'rollback',
    title: 'Roll back a bad version',
    prompt:
      'Version 2 of "Crm.Greeter" writes the wrong greeting text (users complain about "HELLO!!!"). Roll back to the previous ' +
      'version without deleting anything, so new sign-ups get version 1\'s greeting.',
    async setup(s) {
      const m = manifest('Crm.Greeter', ['UserSignedUp'], ['writeEntities']);
      await setupDeploy(s, { 'main.ts': GREETER('Welcome!') }, m);
      await setupDeploy(s, { 'main.ts': GREETER('HELLO!!!') }, m);
    },
    async reference(s) {
      await s.tools();
      await s.must('plugin_list', { name: 'Crm.Greeter' });
      await s.must('plugin_configure', { name: 'Crm.Greeter', action: 'rollback', dryRun: true });
      await s.must('plugin_configure', { name: 'Crm.Greeter', action: 'rollback' });
    },
    async check(s) {
      const user = probeId('u');
      await s.must('event_emit', { type: 'UserSignedUp', payload: { user } }, false);
      const g = await findEntity(s, 'Greeting', { user });
      const list = (await s.must('plugin_list', { name: 'Crm.Greeter' }, false)).plugins as Obj[];
      const kept = list.length >= 2;
      return {
        solved: (g?.attributes as Obj | undefined)?.text === 'Welcome!' && createdBy(g).endsWith('@1') && kept,
        detail: `greeting ${JSON.stringify((g?.attributes as Obj | undefined)?.text ?? null)} by ${createdBy(g) || 'nobody'}; ${list.length} versions kept`,
      };
    },
  },
  {
    id: 'add-capability',
    title: 'Safely add a capability',
    prompt:
      '"Notes.Writer" writes a Note for each NoteSubmitted event. Change it to also emit a NoteWritten event {noteId} after ' +
      'writing, granting only the capability that needs, and check the plan before applying. An auditor plugin already listens to NoteWritten.',
    async setup(s) {
      await setupDeploy(s, { 'main.ts': NOTES_V1 }, manifest('Notes.Writer', ['NoteSubmitted'], ['writeEntities']));
      await setupDeploy(s, { 'main.ts': AUDITOR }, manifest('Notes.Auditor', ['NoteWritten'], ['writeEntities']));
    },
    async reference(s) {
      await s.tools();
      const compiled = await s.must('plugin_compile', { source: { language: 'ts', files: { 'main.ts': NOTES_V2 }, entry: 'main.ts' }, capabilities: ['writeEntities'] });
      // first try as the old manifest: the platform refuses and names the capability
      const denied = await s.call('plugin_deploy', { manifest: manifest('Notes.Writer', ['NoteSubmitted'], ['writeEntities']), artifact: compiled.artifact });
      const missing = (compiled.missingCapabilities as string[]).length > 0 ? (compiled.missingCapabilities as string[]) : denied.ok ? [] : ['emitEvents'];
      const m = manifest('Notes.Writer', ['NoteSubmitted'], ['writeEntities', ...missing], { emits: ['NoteWritten'] });
      await s.must('plugin_deploy', { manifest: m, artifact: compiled.artifact, dryRun: true });
      await s.must('plugin_deploy', { manifest: m, artifact: compiled.artifact });
    },
    async check(s) {
      const noteId = probeId('n');
      await s.must('event_emit', { type: 'NoteSubmitted', payload: { noteId, text: 'hi' } }, false);
      const audit = await findEntity(s, 'Audit', { noteId });
      const latest = ((await s.must('plugin_list', { name: 'Notes.Writer', latestOnly: true }, false)).plugins as Obj[])[0];
      const caps = (latest?.capabilities as string[] | undefined) ?? [];
      const minimal = caps.length === 2 && caps.includes('emitEvents') && caps.includes('writeEntities');
      return { solved: audit !== undefined && minimal, detail: `audit ${audit ? 'written' : 'missing'}; capabilities [${caps.join(', ')}]` };
    },
  },
  {
    id: 'slow-read-model',
    title: 'Speed up a slow read-model handler',
    prompt:
      'The read model "leaderboard" (best score per player, from ScoreRecorded {player, score}) is maintained by "Games.Leaderboard", ' +
      'whose handler is slow. Make it fast (p50 well under its current latency) while keeping the view correct: one doc per ' +
      'player, id = player, doc {player, best}.',
    async setup(s) {
      await setupDeploy(s, { 'main.ts': LEADERBOARD_SLOW }, manifest('Games.Leaderboard', ['ScoreRecorded'], ['updateReadModels'], { maximumResourceBudget: { timeoutMs: 10_000 } }));
      // one event on the slow version: its latency is the baseline the check compares with (same run, same load)
      await s.must('event_emit', { type: 'ScoreRecorded', payload: { player: 'baseline', score: 1 } }, false);
      const seen = await waitFor(async () => ((await s.call('read_model_get', { view: 'leaderboard', id: 'baseline' }, false)).ok ? true : undefined), 60_000);
      if (!seen) throw new Error('the slow version never handled the baseline event');
    },
    async reference(s) {
      await s.tools();
      await s.must('plugin_source', { name: 'Games.Leaderboard' });
      await compileAndDeploy(s, { 'main.ts': LEADERBOARD_FAST }, manifest('Games.Leaderboard', ['ScoreRecorded'], ['readEntities', 'updateReadModels']));
    },
    async check(s) {
      const player = probeId('p');
      for (const score of [5, 9, 7]) await s.must('event_emit', { type: 'ScoreRecorded', payload: { player, score } }, false);
      const doc = await waitFor(async () => {
        const r = await s.call('read_model_get', { view: 'leaderboard', id: player }, false);
        const d = r.ok && r.value.doc ? ((r.value.doc as Obj).doc as Obj) : undefined;
        return d?.best === 9 ? d : undefined;
      });
      const metrics = ((await s.must('plugin_metrics', { name: 'Games.Leaderboard' }, false)).plugins as Obj[]).filter((p) => Number(p.invocations) > 0);
      const p50Of = (m: Obj | undefined): number => Number((m?.latencyMs as Obj | undefined)?.p50 ?? Infinity);
      const newest = metrics.sort((a, b) => Number(b.version) - Number(a.version))[0];
      const slow = metrics.find((m) => Number(m.version) === 1);
      const p50 = p50Of(newest);
      const baseline = p50Of(slow);
      // "well under": a fifth of the slow version's p50, both measured in this run
      const fast = (newest?.version ?? 1) !== 1 && p50 * 5 < baseline;
      return { solved: doc !== undefined && fast, detail: `best ${JSON.stringify(doc?.best ?? null)}; newest version ${String(newest?.version)} p50 ${p50} ms vs version 1 p50 ${baseline} ms` };
    },
  },
  {
    id: 'compile-error',
    title: 'Fix a compile error from its hint',
    prompt:
      'Deploy "Support.Sla": on TicketOpened {ticketId} it writes an Sla entity {ticketId, hours} where hours is the tenant ' +
      'setting slaHours (set it to 48 for this tenant). A colleague\'s draft is below; it does not compile.\n\n' + SLA_BROKEN,
    async reference(s) {
      await s.tools();
      const first = await s.call('plugin_compile', { source: { language: 'ts', files: { 'main.ts': SLA_BROKEN }, entry: 'main.ts' } });
      const source = first.ok ? SLA_BROKEN : SLA_FIXED; // the COMPILE_FAILED hint names main.ts:4 and the type error
      await s.must('tenant_config_set', { settings: { slaHours: 48 }, merge: true });
      await compileAndDeploy(s, { 'main.ts': source }, manifest('Support.Sla', ['TicketOpened'], ['accessTenantConfig', 'writeEntities']));
    },
    async check(s) {
      const ticketId = probeId('t');
      await s.must('event_emit', { type: 'TicketOpened', payload: { ticketId } }, false);
      const sla = await findEntity(s, 'Sla', { ticketId });
      return { solved: (sla?.attributes as Obj | undefined)?.hours === 48, detail: sla ? `hours ${String((sla.attributes as Obj).hours)}` : 'no Sla entity' };
    },
  },
  {
    id: 'fix-subscription',
    title: 'Find why a plugin never runs',
    prompt:
      '"DivFlo.TaskWelcome" should write a TaskWelcome entity {taskId} for every new Task (TaskCreated events), but nothing ' +
      'ever appears. Find out why and fix it.',
    async setup(s) {
      await setupDeploy(s, { 'main.ts': WELCOME }, manifest('DivFlo.TaskWelcome', ['TaskCreate'], ['writeEntities']));
    },
    async reference(s) {
      await s.tools();
      const list = (await s.must('plugin_list', { name: 'DivFlo.TaskWelcome', latestOnly: true })).plugins as Obj[];
      const current = list[0] ?? {};
      const src = await s.must('plugin_source', { name: 'DivFlo.TaskWelcome' });
      const files = (src.files as Record<string, string> | undefined) ?? { 'main.ts': WELCOME };
      await s.must('plugin_deploy', {
        manifest: manifest('DivFlo.TaskWelcome', ['TaskCreated'], (current.capabilities as string[] | undefined) ?? ['writeEntities']),
        source: { language: 'ts', files, entry: 'main.ts' },
      });
    },
    async check(s) {
      const task = await s.must('entity_put', { entityTypeId: 'Task', attributes: { title: 'welcome me' }, eventType: 'TaskCreated' }, false);
      const taskId = String((task.entity as Obj).entityId);
      const w = await findEntity(s, 'TaskWelcome', { taskId });
      return { solved: w !== undefined, detail: w ? 'TaskWelcome written' : 'still nothing for a new task' };
    },
  },
  {
    id: 'experiment',
    title: 'A/B experiment of two versions, read the report, promote',
    prompt:
      'Version 2 of "Shop.Quoter" (it adds a 5% discount to each Quote) is deployed, but this tenant is pinned to version 1. ' +
      'Run a 50/50 A/B experiment of version 1 (control) against version 2 (candidate), send at least 30 QuoteRequested events ' +
      '{quoteId, total} yourself, read the experiment report, and promote version 2 unless it succeeds significantly less ' +
      'than version 1 (then stop the experiment instead).',
    async setup(s) {
      const m = manifest('Shop.Quoter', ['QuoteRequested'], ['writeEntities']);
      await setupDeploy(s, { 'main.ts': QUOTER(0) }, m);
      await setupDeploy(s, { 'main.ts': QUOTER(5) }, m);
      await s.must('plugin_configure', { name: 'Shop.Quoter', action: 'pin', version: 1 }, false);
    },
    async reference(s) {
      await s.tools();
      await s.must('plugin_configure', { name: 'Shop.Quoter', action: 'pin', version: 1, dryRun: true }); // reads versions and the pin
      const args = {
        plugins: ['Shop.Quoter'],
        id: 'quoter-v2',
        variants: [{ name: 'control', weight: 50, version: 1 }, { name: 'candidate', weight: 50, version: 2 }],
        guardrails: { maxErrorRate: 0.2, minSamples: 10 },
      };
      await s.must('experiment_start', { ...args, dryRun: true });
      await s.must('experiment_start', args);
      const N = 30;
      const prefix = probeId('q');
      for (let i = 0; i < N; i++) await s.must('event_emit', { type: 'QuoteRequested', payload: { quoteId: `${prefix}-${i}`, total: 100 + i } });
      // wait (uncounted) until every event was handled, then read the report once
      await waitFor(async () => {
        const r = await s.call('experiment_report', { id: 'quoter-v2' }, false);
        const seen = r.ok ? ((r.value.variants as Obj[] | undefined) ?? []).reduce((n, v) => n + Number(v.exposures), 0) : 0;
        return seen >= N ? true : undefined;
      }, 60_000);
      const report = await s.must('experiment_report', { id: 'quoter-v2' });
      const candidate = ((report.variants as Obj[] | undefined) ?? []).find((v) => v.variant === 'candidate');
      const vs = ((candidate?.vsControl as Obj | undefined)?.successRate ?? {}) as Obj;
      const worse = vs.significant === true && Number(vs.diff) < 0;
      const action = worse ? 'stop' : 'promote';
      await s.must('experiment_end', { id: 'quoter-v2', action, dryRun: true });
      await s.must('experiment_end', { id: 'quoter-v2', action });
    },
    async check(s) {
      const list = (await s.must('experiment_report', {}, false)).experiments as Obj[];
      const exp = list.find((e) => (e.plugins as string[]).includes('Shop.Quoter') && e.status === 'promoted');
      if (!exp) return { solved: false, detail: `no promoted experiment on Shop.Quoter (${list.map((e) => `${String(e.id)}: ${String(e.status)}`).join(', ') || 'none'})` };
      const winner = (exp.variants as Obj[]).find((v) => v.name === exp.winner);
      const winnerVersion = (winner?.versions as Record<string, number> | undefined)?.['Shop.Quoter'];
      const report = await s.must('experiment_report', { id: exp.id }, false);
      const exposures = ((report.variants as Obj[] | undefined) ?? []).map((v) => Number(v.exposures));
      const bothRan = exposures.length >= 2 && exposures.every((n) => n >= 5) && exposures.reduce((a, b) => a + b, 0) >= 30;
      const quoteId = probeId('probe');
      await s.must('event_emit', { type: 'QuoteRequested', payload: { quoteId, total: 200 } }, false);
      const q = await findEntity(s, 'Quote', { quoteId });
      const byV2 = createdBy(q).endsWith('@2') && (q?.attributes as Obj | undefined)?.discount === 10;
      return {
        solved: winnerVersion === 2 && bothRan && byV2,
        detail: `experiment ${String(exp.id)} promoted ${String(exp.winner)} (v${String(winnerVersion)}); exposures [${exposures.join(', ')}]; new quote by ${createdBy(q) || 'nobody'}`,
      };
    },
  },
  {
    id: 'review-flow',
    title: 'A change held for human review: propose, get approved, deployed',
    prompt:
      '"Crm.Notifier" writes a Notice entity {user} for each UserSignedUp event. Change it to also emit a WelcomeDue event ' +
      '{user} after writing (a mailer plugin already listens to WelcomeDue). This tenant\'s review policy holds risky ' +
      'changes (such as adding a capability) for a human reviewer: explain the change in the rationale, and make sure the ' +
      'new version is live once a reviewer approved it.',
    transports: ['http'],
    async setup(s) {
      if (!s.human) throw new Error('the review-flow task needs the HTTP review API');
      await setupDeploy(s, { 'main.ts': NOTIFIER_V1 }, manifest('Crm.Notifier', ['UserSignedUp'], ['writeEntities']));
      await setupDeploy(s, { 'main.ts': WELCOME_MAILER }, manifest('Crm.WelcomeMailer', ['WelcomeDue'], ['writeEntities']));
      await s.human.api('PUT', 'policy', { mode: 'risky' });
    },
    // The reviewer approves a change that only adds emitEvents and says why; anything else is rejected with a comment.
    async human(h) {
      const pending = (await h.api('GET', 'proposals?status=pending')).proposals as Obj[];
      for (const p of pending) {
        const added = (p.capabilitiesAdded as string[] | undefined) ?? [];
        const why = typeof p.rationale === 'string' ? p.rationale.trim() : '';
        const path = `proposals/${encodeURIComponent(String(p.id))}`;
        if (why.length >= 10 && added.every((c) => c === 'emitEvents')) await h.api('POST', `${path}/approve`, { comment: 'ok: it only adds emitEvents' });
        else await h.api('POST', `${path}/reject`, { comment: `rejected: ${why.length < 10 ? 'say why in the rationale' : `only emitEvents may be added, not ${added.join(', ')}`}` });
      }
    },
    async reference(s) {
      await s.tools();
      await s.must('plugin_source', { name: 'Crm.Notifier' });
      const m = manifest('Crm.Notifier', ['UserSignedUp'], ['writeEntities', 'emitEvents'], { emits: ['WelcomeDue'] });
      const compiled = await s.must('plugin_compile', { source: { language: 'ts', files: { 'main.ts': NOTIFIER_V2 }, entry: 'main.ts' }, capabilities: m.capabilities });
      const held = await s.must('plugin_deploy', {
        manifest: m,
        artifact: compiled.artifact,
        rationale: 'Emit WelcomeDue {user} after the Notice so Crm.WelcomeMailer sends the welcome; adds only emitEvents.',
      });
      if (held.applied === true) return;
      const id = String((held.proposal as Obj).id);
      // wait (uncounted) for the reviewer, then read the outcome once
      await waitFor(async () => {
        const r = await s.call('proposal_list', { id }, false);
        const p = r.ok ? (r.value.proposals as Obj[])[0] : undefined;
        return p && p.status !== 'pending' && p.status !== 'applying' ? p : undefined; // wait for a final status
      }, 60_000);
      const final = ((await s.must('proposal_list', { id })).proposals as Obj[])[0];
      if (final?.status !== 'applied') throw new Error(`proposal ${id} is ${String(final?.status)}: ${JSON.stringify(final?.comments)}`);
    },
    async check(s) {
      if (!s.human) return { solved: false, detail: 'no review API on this transport' };
      const applied = ((await s.human.api('GET', 'proposals?status=applied')).proposals as Obj[]).filter(
        (p) => p.tool === 'plugin_deploy' && String(p.target).includes('Crm.Notifier') && (p.approvals as Obj[]).length > 0,
      );
      const latest = ((await s.must('plugin_list', { name: 'Crm.Notifier', latestOnly: true }, false)).plugins as Obj[])[0];
      const caps = (latest?.capabilities as string[] | undefined) ?? [];
      const user = probeId('u');
      await s.must('event_emit', { type: 'UserSignedUp', payload: { user } }, false);
      const welcome = await findEntity(s, 'Welcome', { user });
      return {
        solved: applied.length > 0 && caps.includes('emitEvents') && welcome !== undefined,
        detail: `${applied.length} approved+applied proposal(s); Crm.Notifier v${String(latest?.version)} [${caps.join(', ')}]; Welcome ${welcome ? 'written' : 'missing'}`,
      };
    },
  },
  {
    id: 'slow-query-index',
    title: 'Index the slowest read-model query (query_explain → query_index)',
    prompt:
      'Queries on the read model "scores" (docs {player, region, score}, written by "Games.ScoresImporter") have become slow. ' +
      'Find the slowest query on it in this tenant\'s slow-query log, add the index its plan suggests (look at the dry run ' +
      'first), and check that the plan changed from a scan to an index.',
    async setup(s) {
      await setupDeploy(s, { 'main.ts': SCORES_IMPORTER }, manifest('Games.ScoresImporter', ['ScoresImported'], ['updateReadModels']));
      for (let batch = 0; batch < SCORE_BATCHES; batch++) await s.must('event_emit', { type: 'ScoresImported', payload: { batch, size: SCORE_BATCH_SIZE } }, false);
      for (let batch = 0; batch < SCORE_BATCHES; batch++) {
        const last = `s${(batch + 1) * SCORE_BATCH_SIZE - 1}`;
        const loaded = await waitFor(async () => ((await s.call('read_model_get', { view: 'scores', id: last }, false)).ok ? true : undefined), 60_000);
        if (!loaded) throw new Error(`the scores view never got ${last}`);
      }
      // the application's traffic: a cheap query and the expensive one (by player)
      await s.call('read_model_query', { view: 'scores', filter: { region: 'eu' }, limit: 5 }, false);
      for (const player of ['p17', 'p1200', 'p999']) await s.call('read_model_query', { view: 'scores', filter: { player, score: { $gte: 0 } } }, false);
    },
    async reference(s) {
      await s.tools();
      const slow = ((await s.must('query_explain', {})).slow as Obj[]).filter((q) => q.scope === 'scores' && q.suggestedIndex);
      const slowest = slow[0];
      if (!slowest) throw new Error('no slow query on scores with a suggested index');
      const { target, scope, field } = slowest.suggestedIndex as Obj;
      await s.must('query_index', { action: 'add', target, scope, field, filter: slowest.filter, dryRun: true });
      const done = await s.must('query_index', { action: 'add', target, scope, field, filter: slowest.filter });
      if ((done.after as Obj | null)?.access !== 'index') throw new Error(`the plan after is ${JSON.stringify(done.after)}`);
    },
    async check(s) {
      const indexes = (await s.must('query_index', { action: 'list' }, false)).indexes as Obj[];
      const onPlayer = indexes.find((i) => i.target === 'readModel' && i.scope === 'scores' && i.field === 'player');
      const plan = (await s.must('query_explain', { target: 'readModel', scope: 'scores', filter: { player: 'p42', score: { $gte: 0 } } }, false)).plan as Obj;
      return {
        solved: onPlayer !== undefined && plan.access === 'index' && Number(plan.rowsExamined) < SCORE_BATCHES * SCORE_BATCH_SIZE,
        detail: `indexes [${indexes.map((i) => `${String(i.scope)}.${String(i.field)}`).join(', ')}]; a query by player: ${String(plan.access)}, ${String(plan.rowsExamined)} rows examined`,
      };
    },
  },
];
