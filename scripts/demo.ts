/**
 * `npm run demo`: seeds a DivFlo workspace (seed §11-12) through MCP tool calls, then prints what to
 * try next. It talks to the server of `npm start` when one answers on --url (with the local admin
 * token), else it runs `uee mcp` over stdio on the same data directory, so `npm start` afterwards
 * serves what the demo built.
 *
 * Seeds: tenants divflo-acme and divflo-globex; the TypeScript DivFlo.TaskPrioritizer (global) scoring
 * every new task with the built-in model task.prioritizer.v2 into the read model task-priorities;
 * DivFlo.TaskBoard keeping the read model task-board (tasks by status); DivFlo.FollowUp, a timer-driven
 * follow-up (a reminder entity after a delay when a high-priority task is created); a handful of tasks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EvalSession, type Endpoint } from '../evals/session.js';

const { values } = parseArgs({
  options: { 'data-dir': { type: 'string', default: process.env.UEE_DATA_DIR ?? '.uee' }, url: { type: 'string', default: process.env.UEE_URL ?? 'http://127.0.0.1:7070' } },
});
const dataDir = resolve(values['data-dir']);
const ROOT = join(import.meta.dirname, '..');
const TENANTS = ['divflo-acme', 'divflo-globex'];
const out = (line = '') => process.stdout.write(line + '\n');

const PRIORITIZER = `import { on, callModel, updateReadModel, emitEvent, log } from 'uee:plugin';

interface Scored { score: number; label: string; priority: number }

// DivFlo.TaskPrioritizer: score each new task with the model named in settings (built-in task.prioritizer.v2).
on('TaskCreated', ({ event, settings }) => {
  const a = (event.payload.attributes ?? {}) as { title?: string; importance?: number; dueInDays?: number; estimateHours?: number; energy?: string };
  const model = typeof settings.model === 'string' ? settings.model : 'task.prioritizer.v2';
  const r = callModel<Scored>({ model, input: { importance: a.importance ?? 3, dueInDays: a.dueInDays ?? 7, estimateHours: a.estimateHours ?? 1 } });
  updateReadModel({ op: 'upsert', view: 'task-priorities', id: String(event.entityId), doc: { title: String(a.title ?? ''), score: r.score, label: r.label } });
  if (r.label === 'high') emitEvent({ type: 'TaskPrioritized', entityId: String(event.entityId), payload: { title: String(a.title ?? ''), score: r.score, label: r.label } });
  log('info', 'task prioritized', { entityId: String(event.entityId), score: r.score });
});
`;

const BOARD = `import { on, updateReadModel } from 'uee:plugin';

// DivFlo.TaskBoard: the read model task-board (one doc per task: title, status) for board views.
const project = ({ event }: { event: { entityId?: string; payload: { attributes?: { title?: string; status?: string } } } }) => {
  const a = event.payload.attributes ?? {};
  updateReadModel({ op: 'upsert', view: 'task-board', id: String(event.entityId), doc: { title: String(a.title ?? ''), status: String(a.status ?? 'todo') } });
};
on('TaskCreated', project);
on('TaskUpdated', project);
`;

const FOLLOW_UP = `import { on, scheduleTimer, writeEntity } from 'uee:plugin';

// DivFlo.FollowUp: a high-priority task gets a reminder after settings.delayMs (default 1 s).
on('TaskPrioritized', ({ event, settings }) => {
  const delayMs = typeof settings.delayMs === 'number' ? settings.delayMs : 1000;
  scheduleTimer({ delayMs, type: 'TaskReminderDue', payload: { taskId: String(event.entityId), title: String(event.payload.title ?? '') } });
});
on('TaskReminderDue', ({ event }) => {
  writeEntity({ entityTypeId: 'Reminder', attributes: { taskId: String(event.payload.taskId), text: 'Follow up on: ' + String(event.payload.title) } });
});
`;

const TASKS: Record<string, Array<Record<string, unknown>>> = {
  'divflo-acme': [
    { title: 'Ship the quarterly report', importance: 5, dueInDays: 1, estimateHours: 3, status: 'todo' },
    { title: 'Tidy the backlog', importance: 2, dueInDays: 14, estimateHours: 1, status: 'todo' },
    { title: 'Prepare the board meeting', importance: 4, dueInDays: 2, estimateHours: 5, status: 'in_progress' },
  ],
  'divflo-globex': [
    { title: 'Renew the TLS certificates', importance: 5, dueInDays: 0, estimateHours: 1, status: 'todo' },
    { title: 'Write the onboarding guide', importance: 3, dueInDays: 10, estimateHours: 6, status: 'todo' },
  ],
};

async function connect(): Promise<{ session: EvalSession; via: string }> {
  const token = process.env.UEE_TOKEN ?? (existsSync(join(dataDir, 'local-admin-token')) ? readFileSync(join(dataDir, 'local-admin-token'), 'utf8').trim() : undefined);
  const running = await fetch(new URL('/healthz', values.url), { signal: AbortSignal.timeout(1500) }).then((r) => r.ok, () => false);
  if (running && token) {
    return { session: await EvalSession.connect({ transport: 'http', url: values.url, token }), via: `the server at ${values.url}` };
  }
  if (running) out(`(a server answers at ${values.url} but there is no token for it: set UEE_TOKEN; using stdio instead)`);
  const endpoint: Endpoint = {
    transport: 'stdio',
    command: process.execPath,
    args: [join(ROOT, 'bin', 'uee.mjs'), 'mcp', '--data-dir', dataDir, '--log-level', 'error', '--tenants', ['default', ...TENANTS].join(',')],
  };
  return { session: await EvalSession.connect(endpoint), via: `"uee mcp" on ${dataDir}` };
}

const { session, via } = await connect();
try {
  out(`Seeding the DivFlo demo through ${via}…`);
  for (const tenantId of TENANTS) {
    const r = await session.call('tenant_create', { tenantId, name: tenantId });
    if (!r.ok && r.code !== 'VERSION_CONFLICT' && r.code !== 'IDEMPOTENCY_CONFLICT' && !/exist/i.test(r.message)) throw new Error(`tenant_create: ${r.code}: ${r.message}`);
  }
  const deploy = async (name: string, source: string, subscribeTo: string[], capabilities: string[], extra: Record<string, unknown> = {}) => {
    const compiled = await session.must('plugin_compile', { source: { language: 'ts', files: { 'main.ts': source }, entry: 'main.ts' }, capabilities });
    const d = await session.must('plugin_deploy', {
      manifest: { name, kind: 'event', tenantScope: 'global', subscribeTo, capabilities, ...extra },
      artifact: compiled.artifact,
    });
    // Timings come with `detail: "full"` only (plugin_compile keeps its default result lean).
    const ms = Object.values((compiled.timings ?? {}) as Record<string, number>).reduce((a, b) => a + b, 0);
    out(`  deployed ${name} v${String(d.version)} (${String(compiled.size)} bytes${ms > 0 ? `, compiled in ${ms.toFixed(0)} ms` : ''})`);
  };
  await deploy('DivFlo.TaskPrioritizer', PRIORITIZER, ['TaskCreated'], ['invokeModels', 'updateReadModels', 'emitEvents'], {
    models: ['task.prioritizer.v2'],
    settings: { model: 'task.prioritizer.v2' },
    emits: ['TaskPrioritized'],
  });
  await deploy('DivFlo.TaskBoard', BOARD, ['TaskCreated', 'TaskUpdated'], ['updateReadModels']);
  await deploy('DivFlo.FollowUp', FOLLOW_UP, ['TaskPrioritized', 'TaskReminderDue'], ['executeTimers', 'writeEntities'], { settings: { delayMs: 1000 } });

  const created: Array<{ tenantId: string; entityId: string; title: string }> = [];
  for (const [tenantId, tasks] of Object.entries(TASKS)) {
    for (const attributes of tasks) {
      const r = await session.must('entity_put', { tenantId, entityTypeId: 'Task', attributes, eventType: 'TaskCreated' });
      created.push({ tenantId, entityId: String((r.entity as { entityId: string }).entityId), title: String(attributes.title) });
    }
  }
  out(`  created ${created.length} tasks in ${TENANTS.join(' and ')}; waiting for the plugins…`);
  const until = Date.now() + 60_000;
  const rows: string[] = [];
  for (const t of created) {
    let doc: Record<string, unknown> | undefined;
    while (!doc && Date.now() < until) {
      const r = await session.call('read_model_get', { tenantId: t.tenantId, view: 'task-priorities', id: t.entityId });
      doc = r.ok && r.value.doc ? ((r.value.doc as { doc: Record<string, unknown> }).doc) : undefined;
      if (!doc) await new Promise((res) => setTimeout(res, 200));
    }
    rows.push(`  | ${t.tenantId} | ${t.title} | ${doc ? `${String(doc.score)} (${String(doc.label)})` : 'not scored yet'} |`);
  }
  out();
  out('  | tenant | task | priority (task.prioritizer.v2) |');
  out('  |---|---|---|');
  for (const r of rows) out(r);
  let reminders = 0;
  while (Date.now() < until) {
    const r = await session.call('entity_query', { tenantId: 'divflo-globex', entityTypeId: 'Reminder', limit: 10 });
    reminders = r.ok ? (r.value.items as unknown[]).length : 0;
    if (reminders > 0) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  out(`  follow-up reminders written by the timer plugin in divflo-globex: ${reminders}`);
  const token = existsSync(join(dataDir, 'local-admin-token')) ? '$(cat ' + join(values['data-dir'], 'local-admin-token') + ')' : '<token printed by npm start>';
  out(`
What to try next
  From the CLI:
    npm start                      serve this workspace over HTTP (MCP at http://127.0.0.1:7070/mcp; prints the admin token)
    npx uee status                 the running server's state
    npm run evals                  agent tasks scored from the resulting state
  From an MCP client (Claude Code):
    claude mcp add --transport http uee http://127.0.0.1:7070/mcp --header "Authorization: Bearer ${token}"
  then ask it, for example:
    "List the DivFlo plugins and show the source of DivFlo.TaskPrioritizer."
    "In tenant divflo-acme, create a Task 'Call the bank' due tomorrow with importance 5 (eventType TaskCreated) and show its priority from the task-priorities read model."
    "Query the task-board read model of divflo-globex sorted by status."
    "Change DivFlo.FollowUp's delayMs to 5000 for divflo-acme only (plugin_configure settings), with a dry run first."
    "Show plugin_metrics for DivFlo.TaskPrioritizer and any dead letters."`);
} finally {
  await session.close();
}
