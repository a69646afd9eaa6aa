import { z } from 'zod';
import {
  EntityIdSchema,
  EntityTypeIdSchema,
  ERROR_CODES,
  EventTypeSchema,
  JsonObjectSchema,
  SortSchema,
  TenantIdSchema,
} from '../core/index.js';

/**
 * True for names that could be read as file-system paths: separators, `..`, a leading dot, NUL or
 * other control characters. Tool arguments that name things never need any of them.
 */
export function isPathLike(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[/\\\u0000-\u001f\u007f]/.test(value) || value.includes('..') || value.startsWith('.') || value.startsWith('~');
}

/** Adds the path-like check to a name schema. */
export function safeName<S extends z.ZodString>(schema: S, what: string): S {
  return schema.refine((v) => !isPathLike(v), { message: `${what} must not look like a path ("/", "\\", "..", leading "." or control characters)` });
}

/** A bounded free-text string. */
export function text(max: number, description?: string): z.ZodString {
  const s = z.string().max(max, `at most ${max} characters`);
  return description ? s.describe(description) : s;
}

/**
 * The tenant a call acts on. Tenant principals may omit it (their own tenant) and cannot name another;
 * admins must name one, or pass `null` for the global scope (plugins, shared reference data).
 */
export const TenantArg = safeName(TenantIdSchema.max(64), 'tenantId')
  .nullable()
  .optional();

/** An entity id argument. */
export const EntityIdArg = safeName(EntityIdSchema.max(128), 'entityId');
/** An entity type argument. */
export const EntityTypeArg = safeName(EntityTypeIdSchema.max(128), 'entityTypeId');
/** An event type argument. */
export const EventTypeArg = safeName(EventTypeSchema.max(128), 'type');
/** A read-model view name. */
export const ViewArg = safeName(
  z.string().max(128).regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/, 'view names are 1-128 chars, starting with a letter'),
  'view',
);
/** A plugin name as used in per-plugin tenant settings. */
export const PluginNameArg = safeName(
  z.string().max(128).regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'plugin names are 1-128 chars, starting with a letter'),
  'plugin',
);
/** A JSON object argument (keys `__proto__`, `constructor`, `prototype` rejected at any depth). */
export const JsonObjectArg = JsonObjectSchema;
/** A MongoDB-style filter. */
export const FilterArg = JsonObjectSchema.describe('MongoDB-style');
/** A sort spec. */
export const SortArg = SortSchema.refine((s) => Object.keys(s).length <= 8, 'at most 8 sort fields');
/** A page size. */
export const LimitArg = z.number().int().min(1).max(1000).optional();
/** An opaque cursor from a previous page. */
export const CursorArg = z.string().max(2048).optional();
/** `dryRun` of mutating tools. */
export const DryRunArg = z.boolean().default(false);

/** What a mutating tool would do (or did): shown before anything is applied when `dryRun` is set. */
export const PlanSchema = z.object({
  summary: z.string(),
  changes: z.array(
    z.object({
      action: z.enum(['create', 'update', 'delete', 'emit', 'set', 'none']),
      target: z.string(),
      detail: z.string().optional(),
    }),
  ),
  tenants: z.array(z.string()).describe('Tenants affected ("(global)" for the global scope)'),
  eventTypes: z.array(z.string()).describe('Event types that will be published'),
}).meta({ id: 'Plan' });
/** A {@link PlanSchema} value. */
export type Plan = z.infer<typeof PlanSchema>;

/** `rationale` of reviewable tools: why the agent makes the change (reviewers read it). */
export const RationaleArg = z
  .string()
  .min(1)
  .max(4000)
  .optional()
  ;

/** A change held for review: returned (with applied:false) instead of applying it. */
export const ProposalRefSchema = z.object({
  id: z.string(),
  status: z.string(),
  reason: z.string().describe('Why the tenant\'s review policy holds it'),
  approvalsNeeded: z.number().int(),
}).meta({ id: 'Proposal' });
/** A {@link ProposalRefSchema} value. */
export type ProposalRef = z.infer<typeof ProposalRefSchema>;

/** The structured content of every failed tool call. */
export const ToolErrorSchema = z
  .object({
    code: z.enum(ERROR_CODES).describe('Stable error code, e.g. NOT_FOUND, VERSION_CONFLICT'),
    message: z.string(),
    hint: z.string().describe('What to do about it'),
    details: z.record(z.string(), z.unknown()).optional(),
    retryable: z.boolean(),
  })
  .strict();
/** A {@link ToolErrorSchema} value. */
export type ToolError = z.infer<typeof ToolErrorSchema>;

/** The wire shape of an entity version. */
export const EntityOut = z.object({
  entityId: z.string(),
  entityTypeId: z.string(),
  tenantId: z.string().nullable(),
  ownerId: z.string().nullable(),
  version: z.number().int(),
  attributes: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  createdBy: z.string(),
  causationId: z.string().nullable(),
  deleted: z.boolean(),
}).meta({ id: 'Entity' });

/** The wire shape of an event envelope. */
export const EventOut = z.object({
  eventId: z.string(),
  type: z.string(),
  tenantId: z.string().nullable(),
  entityId: z.string().optional(),
  entityTypeId: z.string().optional(),
  entityVersion: z.number().int().optional(),
  payload: z.record(z.string(), z.unknown()),
  occurredAt: z.string(),
  correlationId: z.string(),
  causationId: z.string().nullable(),
  hop: z.number().int(),
  source: z.object({ kind: z.string(), id: z.string() }),
}).meta({ id: 'Event' });
