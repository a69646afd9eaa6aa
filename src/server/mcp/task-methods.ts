import { z } from 'zod';
import {
  CLIENT_CAPABILITIES_META_KEY,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { TenantContext } from '../../core/index.js';
import type { TaskRunner } from './task-runner.js';

/** The tasks extension's identifier (SEP-2663), under `capabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * Whether the request declares the tasks extension in its client capabilities (the 2026-07-28
 * per-request `_meta` envelope; a single request may opt in that way too).
 */
export function declaresTasks(ctx: ServerContext): boolean {
  const fromEnvelope = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY];
  const fromMeta = (ctx.mcpReq._meta)?.[CLIENT_CAPABILITIES_META_KEY];
  return [fromEnvelope, fromMeta].some((caps) => {
    const extensions = (caps as { extensions?: unknown } | undefined)?.extensions;
    return typeof extensions === 'object' && extensions !== null && TASKS_EXTENSION in extensions;
  });
}

const TaskIdParams = z.looseObject({ taskId: z.string().min(1).max(256) });
// The SDK lifts `inputResponses` out of the params into ctx.mcpReq.inputResponses (when well-formed).
const UpdateParams = z.looseObject({ taskId: z.string().min(1).max(256), inputResponses: z.record(z.string(), z.unknown()).optional() });

function requireTasks(ctx: ServerContext, method: string): void {
  if (declaresTasks(ctx)) return;
  throw new MissingRequiredClientCapabilityError(
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    `${method} needs the ${TASKS_EXTENSION} extension: declare it in the request's client capabilities`,
  );
}

/** -32602 for a task id this principal's scope does not hold (never existed, expired, or another tenant's). */
function unknownTask(taskId: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `unknown task "${taskId}"`, {
    code: 'NOT_FOUND',
    hint: 'use the taskId of a tools/call result of this token\'s tenant; finished tasks are kept ttlMs (see the result) after creation',
  });
}

/**
 * Serves the tasks extension's methods for one principal's server: `tasks/get` (status, and the
 * tool's result or the error inlined once finished), `tasks/update` (input responses) and
 * `tasks/cancel` (an empty ack; the status shows `cancelled` once the work stopped). Each needs the
 * extension declared on the request (-32021 otherwise). `tasks/result` and `tasks/list` do not exist
 * in the extension and stay -32601 (Method not found).
 */
export function registerTaskMethods(server: Server, tasks: TaskRunner, scope: TenantContext): void {
  server.setRequestHandler('tasks/get', { params: TaskIdParams }, async (params, ctx) => {
    requireTasks(ctx, 'tasks/get');
    const task = await tasks.get(scope, params.taskId);
    if (!task) throw unknownTask(params.taskId);
    return { ...task };
  });
  server.setRequestHandler('tasks/update', { params: UpdateParams }, async (params, ctx) => {
    requireTasks(ctx, 'tasks/update');
    const responses = { ...(ctx.mcpReq.inputResponses), ...params.inputResponses };
    if (!(await tasks.update(scope, params.taskId, responses))) throw unknownTask(params.taskId);
    return {};
  });
  server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, async (params, ctx) => {
    requireTasks(ctx, 'tasks/cancel');
    if (!(await tasks.cancel(scope, params.taskId))) throw unknownTask(params.taskId);
    return {};
  });
}
