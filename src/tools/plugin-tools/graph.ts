/**
 * The subscribe→emit graph of plugins, for deploy plans: which plugin's emitted events trigger which
 * other plugins (chains) and whether a path leads back to where it started (cycles, which only the
 * hop limit would stop).
 */

/** Something a plugin makes happen: an event of `type`, about an entity of `entityTypeId` when known. */
export interface GraphOutput {
  type: string;
  entityTypeId?: string;
}

/** One node: a logical plugin with what it handles and what it may publish. */
export interface GraphNode {
  /** Display key, e.g. `Tasks.Prioritizer (global)`. */
  key: string;
  subscribeTo: readonly string[];
  /** Event types it publishes (emits, write events, timers). */
  emits: readonly string[];
  /** The same with entity types where known; when absent, `emits` without entity types. */
  outputs?: readonly GraphOutput[];
  /** The subscription's `filter.entityTypes`: only events about these types reach it. */
  entityTypes?: readonly string[];
}

const NAME = '([A-Za-z][A-Za-z0-9_.:-]*)';
const AS_EMIT_RE = new RegExp(`setStr\\(\\s*"type"\\s*,\\s*"${NAME}"\\s*\\)`, 'g');

/** The object-literal arguments of every `fn({ … })` call in `text` (braces balanced, strings skipped). */
function callObjects(text: string, fn: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`\\b${fn}\\s*\\(\\s*\\{`, 'g');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let depth = 0;
    let quote: string | null = null;
    const start = m.index + m[0].length - 1;
    for (let i = start; i < text.length && i - start < 20_000; i++) {
      const c = text[i]!;
      if (quote !== null) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === '"' || c === "'" || c === '`') quote = c;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        out.push(text.slice(start, i + 1));
        break;
      }
    }
  }
  return out;
}

/** A top-level-ish `key: 'literal'` of an object literal's text (nested keys of the same name are rare enough). */
function literal(obj: string, key: string): string | undefined {
  return new RegExp(`\\b${key}\\s*:\\s*['"\`]${NAME}['"\`]`).exec(obj)?.[1];
}

/**
 * What a plugin's sources make happen, by a static scan of TS/JS (AssemblyScript: emitted types only):
 * `emitEvent({ type })`; `writeEntity({ entityTypeId, eventType? })` — its `eventType`, else
 * `EntityCreated` and, when it names an `entityId` (a write-back), `EntityUpdated`, about that entity
 * type; `scheduleTimer({ type })` — the event the timer fires later. Dynamic values are not found
 * (a write of an unknown type counts as about any type); declare them in the manifest's `emits`.
 */
export function scanOutputs(files: Record<string, string>): GraphOutput[] {
  const found = new Map<string, GraphOutput>();
  const add = (o: GraphOutput): void => void found.set(`${o.type}\u0000${o.entityTypeId ?? ''}`, o);
  for (const text of Object.values(files)) {
    for (const obj of [...callObjects(text, 'emitEvent'), ...callObjects(text, 'scheduleTimer')]) {
      const type = literal(obj, 'type');
      const entityTypeId = literal(obj, 'entityTypeId');
      if (type !== undefined) add({ type, ...(entityTypeId === undefined ? {} : { entityTypeId }) });
    }
    for (const obj of callObjects(text, 'writeEntity')) {
      const entityTypeId = literal(obj, 'entityTypeId');
      const typed = entityTypeId === undefined ? {} : { entityTypeId };
      const eventType = literal(obj, 'eventType');
      if (eventType !== undefined) add({ type: eventType, ...typed });
      else {
        add({ type: 'EntityCreated', ...typed });
        if (/\bentityId\b/.test(obj)) add({ type: 'EntityUpdated', ...typed });
      }
    }
    AS_EMIT_RE.lastIndex = 0;
    for (let m = AS_EMIT_RE.exec(text); m !== null; m = AS_EMIT_RE.exec(text)) if (m[1]) add({ type: m[1] });
  }
  return [...found.values()].sort((a, b) => (a.type + (a.entityTypeId ?? '')).localeCompare(b.type + (b.entityTypeId ?? '')));
}

/** Event types a plugin's sources publish (see {@link scanOutputs}). */
export function scanEmits(files: Record<string, string>): string[] {
  return [...new Set(scanOutputs(files).map((o) => o.type))].sort();
}

/** Whether an output reaches a node: its type is subscribed and its entity type passes the node's filter. */
function reaches(output: GraphOutput, node: GraphNode): boolean {
  if (!node.subscribeTo.includes(output.type)) return false;
  return node.entityTypes === undefined || output.entityTypeId === undefined || node.entityTypes.includes(output.entityTypeId);
}

/** Chain and cycle warnings for `candidate` among `others`. */
export function graphWarnings(candidate: GraphNode, others: readonly GraphNode[]): { warnings: string[]; triggers: string[]; triggeredBy: string[] } {
  const nodes = [candidate, ...others.filter((o) => o.key !== candidate.key)];
  const edges = new Map<string, Array<{ to: string; via: string }>>();
  for (const from of nodes) {
    const out: Array<{ to: string; via: string }> = [];
    const outputs = from.outputs ?? from.emits.map((type) => ({ type }));
    for (const o of outputs) for (const to of nodes) if (reaches(o, to) && !out.some((e) => e.to === to.key && e.via === o.type)) out.push({ to: to.key, via: o.type });
    edges.set(from.key, out);
  }
  const warnings: string[] = [];
  const direct = edges.get(candidate.key) ?? [];
  const triggers = [...new Set(direct.map((e) => e.to))];
  const triggeredBy = nodes.filter((n) => n.key !== candidate.key && (edges.get(n.key) ?? []).some((e) => e.to === candidate.key)).map((n) => n.key);
  // Chains that cannot loop are listed in triggers/triggeredBy, not warned about: only cycles are.
  for (const e of direct) {
    if (e.to === candidate.key) warnings.push(`cycle: ${candidate.key} emits ${e.via}, which it subscribes to itself: every event re-triggers it until the hop limit dead-letters the chain`);
  }
  const cycle = findCycle(candidate.key, edges);
  if (cycle && cycle.length > 2) {
    warnings.push(`cycle: ${cycle.join(' → ')}: events loop between these plugins until the hop limit dead-letters them; break the loop (filter, or stop emitting one of the types)`);
  }
  return { warnings, triggers, triggeredBy };
}

/** A path from `start` back to itself (DFS), as keys with `start` at both ends; undefined when none. */
function findCycle(start: string, edges: Map<string, Array<{ to: string }>>): string[] | undefined {
  const seen = new Set<string>();
  const path: string[] = [start];
  const visit = (node: string): boolean => {
    for (const { to } of edges.get(node) ?? []) {
      if (to === start) {
        path.push(start);
        return true;
      }
      if (seen.has(to)) continue;
      seen.add(to);
      path.push(to);
      if (visit(to)) return true;
      path.pop();
    }
    return false;
  };
  return visit(start) ? path : undefined;
}
