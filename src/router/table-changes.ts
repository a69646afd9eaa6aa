import type { EventBus } from '../bus/index.js';

/** The bus counter bumped whenever a routing table change is applied (see {@link EventBus.counter}). */
export const TABLE_WATERMARK = 'uee.routing-table';

/**
 * The bus signal channel on which the process that made a routing change names it, with the
 * watermark it bumped (see {@link announceRoutingChange}): every other router applies just that
 * change instead of reloading its whole table.
 */
export const ROUTING_SIGNAL = 'uee.routing';

/**
 * A change routing depends on, already in the store: the versions of the plugins `names` in
 * `tenantId`'s scope (and the global scope's of those names), and that tenant's pins and running
 * experiments.
 */
export interface RoutingChange {
  readonly tenantId: string | null;
  readonly names: readonly string[];
  /**
   * When given, the plugin versions the change wrote (a deploy's new version, a status change's
   * version) — and the only ones of `names` it wrote: a router holding those plugins reads just
   * these back, not every version of each name ever deployed (a plugin's history grows with every
   * deploy: reading it all made each deploy cost every process O(versions)). Empty: no version was
   * written (a pin, an experiment). Absent: any may have been (every version of `names` is read).
   */
  readonly versions?: readonly ChangedVersion[];
}

/** One plugin version a {@link RoutingChange} wrote: version `version` of `name` in `tenantId`'s scope. */
export interface ChangedVersion {
  readonly tenantId: string | null;
  readonly name: string;
  readonly version: number;
}

/** The {@link ChangedVersion} a write of `plugin`'s entity (its deploy, a status change) is. */
export function changedVersion(plugin: { tenantId: string | null; attributes: { name: string; pluginVersion: number } }): ChangedVersion {
  return { tenantId: plugin.tenantId, name: plugin.attributes.name, version: plugin.attributes.pluginVersion };
}

/** What {@link ROUTING_SIGNAL} carries. */
export interface RoutingSignal {
  /** The announcing router's consumer name (it applied the change already), or another sender's id. */
  readonly from: string;
  /** The watermark value the announcement's bump returned. */
  readonly mark: number;
  readonly changes: readonly RoutingChange[];
}

/** Bounds of a signal read back: anything past them is not a message of ours, and is ignored. */
const MAX_CHANGES = 256;
const MAX_NAMES = 256;
const MAX_TEXT = 512;

/**
 * Tells every process on the bus that `changes` (already written to the store) moved the routing
 * table: bumps the watermark, then names the changes on {@link ROUTING_SIGNAL} with the bump's value.
 * The signal is a hint (at most once, to the listeners of the moment); a process that misses it finds
 * the watermark ahead of its table and reloads it in full ({@link TableWatermark.check}). Answers the
 * bump's value.
 */
export async function announceRoutingChange(bus: EventBus, from: string, changes: readonly RoutingChange[]): Promise<number> {
  const mark = await bus.counter(TABLE_WATERMARK, 1);
  if (bus.signal !== undefined && changes.length > 0 && changes.length <= MAX_CHANGES) {
    const signal: RoutingSignal = { from, mark, changes: changes.map((c) => ({ tenantId: c.tenantId, names: [...c.names], ...(c.versions === undefined ? {} : { versions: c.versions.map((v) => ({ tenantId: v.tenantId, name: v.name, version: v.version })) }) })) };
    // A hint only: the watermark already moved, so a process that does not hear it reloads.
    await bus.signal(ROUTING_SIGNAL, JSON.stringify(signal)).catch(() => undefined);
  }
  return mark;
}

/** A {@link ROUTING_SIGNAL} message read back, or undefined when it is not one (nothing is applied then). */
export function parseRoutingSignal(message: string): RoutingSignal | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { from, mark, changes } = raw as Record<string, unknown>;
  if (!isText(from) || !Number.isSafeInteger(mark) || (mark as number) < 1 || !Array.isArray(changes) || changes.length > MAX_CHANGES) return undefined;
  const out: RoutingChange[] = [];
  for (const c of changes as unknown[]) {
    if (typeof c !== 'object' || c === null) return undefined;
    const { tenantId, names, versions } = c as Record<string, unknown>;
    if ((tenantId !== null && !isText(tenantId)) || !Array.isArray(names) || names.length > MAX_NAMES || !names.every(isText)) return undefined;
    if (versions === undefined) {
      out.push({ tenantId, names });
      continue;
    }
    if (!Array.isArray(versions) || versions.length > MAX_NAMES || !versions.every(isChangedVersion)) return undefined;
    out.push({ tenantId, names, versions });
  }
  return { from, mark: mark as number, changes: out };
}

function isChangedVersion(v: unknown): v is ChangedVersion {
  if (typeof v !== 'object' || v === null) return false;
  const { tenantId, name, version } = v as Record<string, unknown>;
  return (tenantId === null || isText(tenantId)) && isText(name) && Number.isSafeInteger(version) && (version as number) >= 1;
}

function isText(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_TEXT;
}

/** Marks heard past a gap at most; past it they are forgotten (the check reloads). */
const MAX_HEARD = 1024;

/**
 * Which watermark a process's routing table reflects. Every bump is reflected once the change it
 * announced is applied here (heard on {@link ROUTING_SIGNAL}, or made here), in any order; the
 * watermark is the highest value below which every bump is reflected. A bump no signal named (lost,
 * or made by a process of an older UEE, which only bumps) leaves a gap, and the periodic
 * {@link check} then asks for a full reload — one check period after it first saw the counter ahead,
 * so a signal on its way is not taken for a lost one.
 */
export class TableWatermark {
  #mark: number | undefined;
  readonly #heard = new Set<number>();
  /** The counter's value when a check last found it ahead while signals are heard. */
  #behindAt: number | undefined;

  /** The value this table reflects; undefined before the first read. */
  get mark(): number | undefined {
    return this.#mark;
  }

  /** The table was (or is about to be) read from the store in full after the counter read `mark`. */
  reset(mark: number): void {
    this.#mark = mark;
    this.#behindAt = undefined;
    for (const m of this.#heard) if (m <= mark) this.#heard.delete(m);
  }

  /** Whether the change bumped to `mark` is reflected already (a full reload read the store after it). */
  covers(mark: number): boolean {
    return this.#mark !== undefined && mark <= this.#mark;
  }

  /** The change bumped to `mark` is applied here. */
  reflect(mark: number): void {
    if (this.#mark === undefined || mark <= this.#mark) return;
    this.#heard.add(mark);
    while (this.#heard.delete(this.#mark + 1)) this.#mark++;
    if (this.#heard.size > MAX_HEARD) this.#heard.clear();
  }

  /**
   * The periodic check against the counter's value `counter`: `current` when every bump is reflected,
   * `wait` when some are not yet but signals are heard and this is the first check that saw them
   * missing, `reload` otherwise (a bump was not heard within a check period, or signals are not heard).
   */
  check(counter: number, hearing: boolean): 'current' | 'wait' | 'reload' {
    if (this.#mark === undefined) return 'reload';
    if (counter <= this.#mark) {
      this.#behindAt = undefined;
      return 'current';
    }
    // Ahead at the last check too, and still not reflected: a bump was not heard.
    const missed = this.#behindAt !== undefined && this.#mark < this.#behindAt;
    if (hearing && !missed) {
      this.#behindAt = counter;
      return 'wait';
    }
    return 'reload';
  }
}
