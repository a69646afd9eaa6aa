/**
 * The subscribe→emit graph of plugins, for deploy plans: which plugin's emitted events trigger which
 * other plugins (chains) and whether a path leads back to where it started (cycles, which only the
 * hop limit would stop).
 */

/** One node: a logical plugin with what it handles and what it may publish. */
export interface GraphNode {
  /** Display key, e.g. `Tasks.Prioritizer (global)`. */
  key: string;
  subscribeTo: readonly string[];
  emits: readonly string[];
}

const EMIT_RE = /emitEvent\s*\(\s*\{[^}]*?\btype\s*:\s*['"`]([A-Za-z][A-Za-z0-9_.:-]*)['"`]/g;
const WRITE_EVENT_RE = /writeEntity\s*\(\s*\{[^}]*?\beventType\s*:\s*['"`]([A-Za-z][A-Za-z0-9_.:-]*)['"`]/g;
const AS_EMIT_RE = /setStr\(\s*"type"\s*,\s*"([A-Za-z][A-Za-z0-9_.:-]*)"\s*\)/g;

/**
 * Event types a plugin's sources publish, found by a simple static scan: `emitEvent({ type: 'X' })`
 * and `writeEntity({ … eventType: 'X' })` literals in TS/JS, `setStr("type", "X")` in AssemblyScript.
 * Dynamic types are not found; declare them in the manifest's `emits`.
 */
export function scanEmits(files: Record<string, string>): string[] {
  const found = new Set<string>();
  for (const text of Object.values(files)) {
    for (const re of [EMIT_RE, WRITE_EVENT_RE, AS_EMIT_RE]) {
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) if (m[1]) found.add(m[1]);
    }
  }
  return [...found].sort();
}

/** Chain and cycle warnings for `candidate` among `others`. */
export function graphWarnings(candidate: GraphNode, others: readonly GraphNode[]): { warnings: string[]; triggers: string[]; triggeredBy: string[] } {
  const nodes = [candidate, ...others.filter((o) => o.key !== candidate.key)];
  const edges = new Map<string, Array<{ to: string; via: string }>>();
  for (const from of nodes) {
    const out: Array<{ to: string; via: string }> = [];
    for (const type of from.emits) for (const to of nodes) if (to.subscribeTo.includes(type)) out.push({ to: to.key, via: type });
    edges.set(from.key, out);
  }
  const warnings: string[] = [];
  const direct = edges.get(candidate.key) ?? [];
  const triggers = [...new Set(direct.map((e) => e.to))];
  const triggeredBy = nodes.filter((n) => n.key !== candidate.key && (edges.get(n.key) ?? []).some((e) => e.to === candidate.key)).map((n) => n.key);
  for (const e of direct) {
    if (e.to === candidate.key) warnings.push(`cycle: ${candidate.key} emits ${e.via}, which it subscribes to itself: every event re-triggers it until the hop limit dead-letters the chain`);
    else warnings.push(`chain: ${candidate.key} emits ${e.via}, which triggers ${e.to}`);
  }
  for (const from of triggeredBy) {
    const via = (edges.get(from) ?? []).filter((e) => e.to === candidate.key).map((e) => e.via);
    warnings.push(`chain: ${from} emits ${[...new Set(via)].join(', ')}, which triggers ${candidate.key}`);
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
