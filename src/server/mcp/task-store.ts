import { z } from 'zod';
import type { EntityStore } from '../../store/index.js';
import { isUeeError, parseOrThrow, type JsonObject, type Principal, type TenantContext } from '../../core/index.js';

/**
 * Where MCP tasks live: the reserved read-model view `uee.mcp-tasks` of the caller's scope (its tenant;
 * the global scope for admins) in the shared store, so every front end on that store answers for every
 * task, and a tenant's reads never reach another tenant's tasks (read models are per tenant).
 *
 * Two kinds of documents:
 * - `<taskId>`: the task, written only by the process running it (its owner) while that process lives;
 * - `<taskId>.cancel` and `<taskId>.in.<key>`: requests from any front end (a cancel, an input response)
 *   that the owner polls for. Keeping them apart means no front end overwrites the owner's document,
 *   and two requests never race on one document.
 */
export const TASKS_VIEW = 'uee.mcp-tasks';

/** Task states of the tasks extension (SEP-2663). */
export const TaskStatusSchema = z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

/** The terminal states: nothing changes a task after one of them. */
export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/** A JSON-RPC error inlined in a failed task. */
export const TaskErrorSchema = z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() });
export type TaskError = z.infer<typeof TaskErrorSchema>;

/** The stored task (validated when read back). */
export const TaskDocSchema = z.object({
  kind: z.literal('task'),
  taskId: z.string().min(1).max(64),
  tool: z.string(),
  status: TaskStatusSchema,
  statusMessage: z.string().optional(),
  createdAt: z.string(),
  lastUpdatedAt: z.string(),
  ttlMs: z.number().int().positive(),
  pollIntervalMs: z.number().int().positive(),
  /** After this instant a terminal task is gone (createdAt + ttlMs). */
  expiresAt: z.string(),
  /** The process running the task ({@link TaskRunner.processId}). */
  owner: z.string(),
  /** Last sign of life of the owner; a working task whose owner stopped beating becomes failed. */
  heartbeatAt: z.string(),
  /** Who started it (principal id), for logs. */
  principal: z.string(),
  inputRequests: z.record(z.string(), z.unknown()).optional(),
  /**
   * The tool result as JSON text: a string, because results may carry characters a store cannot keep
   * in a JSON column (PostgreSQL refuses U+0000 in jsonb), which JSON text escapes.
   */
  resultJson: z.string().optional(),
  error: TaskErrorSchema.optional(),
});
export type TaskDoc = z.infer<typeof TaskDocSchema>;

const ControlDocSchema = z.object({
  kind: z.literal('control'),
  taskId: z.string(),
  cancel: z.boolean().optional(),
  key: z.string().optional(),
  response: z.unknown().optional(),
});
type ControlDoc = z.infer<typeof ControlDocSchema>;

/** Requests for one task that its owner has not acted on yet. */
export interface TaskControls {
  cancel: boolean;
  /** Input responses by input-request key. */
  responses: Map<string, unknown>;
}

/** The store context of a principal's tasks: its tenant, or the global scope for admins. */
export function taskScope(principal: Principal): TenantContext {
  return { tenantId: principal.kind === 'tenant' ? principal.tenantId : null, actor: 'mcp-tasks' };
}

/** A scope's storage key (for grouping). */
export const scopeKey = (scope: TenantContext): string => scope.tenantId ?? '';

/** Reads and writes task documents through the store port's read models. */
export class TaskStore {
  constructor(private readonly store: EntityStore) {}

  /** Writes the task document (create or replace). */
  async put(scope: TenantContext, doc: TaskDoc): Promise<void> {
    await this.store.readModels.upsert(scope, TASKS_VIEW, doc.taskId, doc);
  }

  /** The task, or undefined when it does not exist in this scope. */
  async get(scope: TenantContext, taskId: string): Promise<TaskDoc | undefined> {
    try {
      const found = await this.store.readModels.get(scope, TASKS_VIEW, taskId);
      return parseOrThrow(TaskDocSchema, found.doc, 'stored MCP task');
    } catch (err) {
      if (isUeeError(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /** Asks the owner to cancel the task. */
  async requestCancel(scope: TenantContext, taskId: string): Promise<void> {
    const doc: ControlDoc = { kind: 'control', taskId, cancel: true };
    await this.store.readModels.upsert(scope, TASKS_VIEW, `${taskId}.cancel`, doc);
  }

  /** Hands the owner input responses (one document per key). */
  async addResponses(scope: TenantContext, taskId: string, responses: Record<string, unknown>): Promise<void> {
    for (const [key, response] of Object.entries(responses)) {
      const doc = { kind: 'control', taskId, key, response } as JsonObject;
      await this.store.readModels.upsert(scope, TASKS_VIEW, `${taskId}.in.${key}`, doc);
    }
  }

  /** Pending requests of some tasks of one scope, by task id (one query). */
  async controls(scope: TenantContext, taskIds: string[]): Promise<Map<string, TaskControls>> {
    const out = new Map<string, TaskControls>();
    if (taskIds.length === 0) return out;
    const page = await this.store.readModels.query(scope, TASKS_VIEW, { filter: { kind: 'control', taskId: { $in: taskIds } }, limit: 1000 });
    for (const item of page.items) {
      const parsed = ControlDocSchema.safeParse(item.doc);
      if (!parsed.success) continue;
      const c = parsed.data;
      const entry = out.get(c.taskId) ?? { cancel: false, responses: new Map<string, unknown>() };
      if (c.cancel) entry.cancel = true;
      if (c.key !== undefined) entry.responses.set(c.key, c.response);
      out.set(c.taskId, entry);
    }
    return out;
  }

  /** Removes a task and its requests. */
  async remove(scope: TenantContext, taskId: string, controls?: TaskControls): Promise<void> {
    const ids = [taskId, `${taskId}.cancel`, ...[...(controls?.responses.keys() ?? [])].map((k) => `${taskId}.in.${k}`)];
    for (const id of ids) await this.store.readModels.delete(scope, TASKS_VIEW, id);
  }

  /** Removes the requests of a finished task (the owner acted on them). */
  async clearControls(scope: TenantContext, taskId: string, controls: TaskControls | undefined): Promise<void> {
    if (!controls) return;
    const ids = [...(controls.cancel ? [`${taskId}.cancel`] : []), ...[...controls.responses.keys()].map((k) => `${taskId}.in.${k}`)];
    for (const id of ids) await this.store.readModels.delete(scope, TASKS_VIEW, id);
  }

  /** Deletes up to `limit` finished tasks of a scope whose time to live is over; returns how many. */
  async sweep(scope: TenantContext, now: string, limit = 50): Promise<number> {
    const page = await this.store.readModels.query(scope, TASKS_VIEW, {
      filter: { kind: 'task', status: { $in: [...TERMINAL] }, expiresAt: { $lt: now } },
      limit,
    });
    for (const item of page.items) {
      const taskId = String(item.doc.taskId);
      await this.remove(scope, taskId, (await this.controls(scope, [taskId])).get(taskId));
    }
    return page.items.length;
  }
}
