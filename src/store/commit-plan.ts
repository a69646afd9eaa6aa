import { UeeError, WORKFLOW_DEFINITION_TYPE, newId, reservedName, workflowDefinitionId, workflowNamespaceOf, type EntityVersion, type EventEnvelope, type EventSource, type JsonObject, type TenantContext } from '../core/index.js';
import type { CommitResult } from './port.js';
import { GLOBAL_TENANT_KEY, type ParsedWrite, type PreparedBatch } from './shared.js';

/**
 * The commit rules both adapters share: which version each write becomes, what it may not do, and
 * which events announce it. {@link planCommit} is synchronous and pure except for the `lookup` it is
 * given, so SQLite calls it inside its synchronous transaction and MongoDB after prefetching.
 */

/** What an adapter found for an entity id in one tenant key. */
export interface CurrentVersion {
  version: number;
  entityTypeId: string;
  ownerId: string | null;
  metadata: JsonObject;
}

/**
 * Decides the next version of a write, or throws. `own` is the latest version in the writer's
 * tenant key; `global` the latest global one (looked up only for tenant writers whose own is null).
 * - a tenant may not write a global entity (`TENANT_FORBIDDEN`);
 * - `expectedVersion` must equal the current version (0 = must not exist), else `VERSION_CONFLICT`;
 * - an entity keeps its type.
 */
export function nextVersion(tenantKey: string, write: ParsedWrite, entityId: string, own: CurrentVersion | null, global: CurrentVersion | null): number {
  if (own === null && global !== null && tenantKey !== GLOBAL_TENANT_KEY) {
    throw new UeeError('TENANT_FORBIDDEN', `entity "${entityId}" is global; a tenant cannot write it`, {
      details: { entityId },
      hint: 'write global entities from an admin (global) context, or create a tenant entity with another id',
    });
  }
  const actual = own?.version ?? 0;
  if (write.expectedVersion !== undefined && write.expectedVersion !== actual) {
    throw new UeeError('VERSION_CONFLICT', `entity "${entityId}" is at version ${actual}, expected ${write.expectedVersion}`, {
      details: { entityId, expected: write.expectedVersion, actual },
      hint: 'read the latest version, reapply your change and retry with its version as expectedVersion',
    });
  }
  if (own !== null && own.entityTypeId !== write.entityTypeId) {
    throw new UeeError('VALIDATION_FAILED', `entity "${entityId}" is a ${own.entityTypeId}, not a ${write.entityTypeId}`, {
      details: { entityId, expected: own.entityTypeId, actual: write.entityTypeId },
      hint: 'an entity keeps its entityTypeId; create a new entity for another type',
    });
  }
  return actual + 1;
}

/** Chain metadata shared by every event of one commit. */
export interface CommitContext {
  tenantKey: string;
  tenantId: string | null;
  actor: string;
  createdAt: string;
  batch: PreparedBatch;
}

/** Starts a commit: the moment and chain every version and event of it shares. */
export function commitContext(ctx: TenantContext, tenantKey: string, batch: PreparedBatch): CommitContext {
  return { tenantKey, tenantId: ctx.tenantId, actor: ctx.actor, createdAt: new Date().toISOString(), batch };
}

/**
 * The new version for a write. Attributes are replaced whole; `metadata` and `ownerId` carry over
 * from the previous version when the write omits them.
 */
export function buildVersion(cc: CommitContext, write: ParsedWrite, entityId: string, version: number, previous: CurrentVersion | null): EntityVersion {
  return {
    entityId,
    entityTypeId: write.entityTypeId,
    tenantId: cc.tenantId,
    ownerId: write.ownerId !== undefined ? write.ownerId : (previous?.ownerId ?? null),
    version,
    attributes: write.attributes,
    metadata: write.metadata ?? previous?.metadata ?? {},
    createdAt: cc.createdAt,
    createdBy: cc.actor,
    causationId: cc.batch.causation?.eventId ?? null,
    deleted: write.deleted ?? false,
  };
}

function envelope(
  cc: CommitContext,
  type: string,
  payload: JsonObject,
  entity?: { entityId?: string | undefined; entityTypeId?: string | undefined; entityVersion?: number },
  presetId?: string,
): EventEnvelope {
  const eventId = presetId ?? newId();
  const causation = cc.batch.causation;
  const source: EventSource = cc.batch.source ?? { kind: 'api', id: cc.actor };
  return {
    eventId,
    type,
    tenantId: cc.tenantId,
    ...(entity?.entityId === undefined ? {} : { entityId: entity.entityId }),
    ...(entity?.entityTypeId === undefined ? {} : { entityTypeId: entity.entityTypeId }),
    ...(entity?.entityVersion === undefined ? {} : { entityVersion: entity.entityVersion }),
    payload,
    occurredAt: cc.createdAt,
    correlationId: causation?.correlationId ?? eventId,
    causationId: causation?.eventId ?? null,
    hop: causation ? causation.hop + 1 : 0,
    source,
    ...(causation?.experiment === undefined ? {} : { experiment: causation.experiment }),
  };
}

/**
 * The event announcing a new version: `write.eventType`, else `EntityDeleted` for a tombstone,
 * `EntityCreated` for version 1 and `EntityUpdated` otherwise. Payload: `{ version, attributes, deleted }`.
 */
export function versionEvent(cc: CommitContext, write: ParsedWrite, v: EntityVersion): EventEnvelope {
  const type = write.eventType ?? (v.deleted ? 'EntityDeleted' : v.version === 1 ? 'EntityCreated' : 'EntityUpdated');
  return envelope(cc, type, { version: v.version, attributes: v.attributes, deleted: v.deleted }, {
    entityId: v.entityId,
    entityTypeId: v.entityTypeId,
    entityVersion: v.version,
  });
}

/** The envelopes for a batch's extra events, after its write events. */
export function extraEvents(cc: CommitContext): EventEnvelope[] {
  return cc.batch.events.map((d) => envelope(cc, d.type, d.payload, { entityId: d.entityId, entityTypeId: d.entityTypeId }, d.eventId));
}

/** The entity id of a write: the caller's, or a fresh UUIDv7 (which cannot exist yet). */
export function writeEntityId(write: ParsedWrite): { entityId: string; minted: boolean } {
  return write.entityId === undefined ? { entityId: newId(), minted: true } : { entityId: write.entityId, minted: false };
}

/** Looks up the latest stored version of `entityId` under `tenantKey`, or null. */
export type LatestLookup = (tenantKey: string, entityId: string) => CurrentVersion | null;

/** One version to persist; `latest` is false when a later write of the same batch supersedes it. */
export interface PlannedVersion {
  version: EntityVersion;
  latest: boolean;
}

/** What an adapter must persist, in one transaction, for a batch. */
export interface CommitPlan {
  /** Entity ids (in the writer's tenant key) whose stored latest version must lose its latest flag. */
  supersede: string[];
  versions: PlannedVersion[];
  /** Write events in write order, then the extra events: the outbox order. */
  events: EventEnvelope[];
  result: CommitResult;
}

/** Entity ids a batch names explicitly (minted ids need no lookup), and the workflow definitions its events' namespaces need. */
export function namedEntityIds(batch: PreparedBatch): string[] {
  return [...new Set([...batch.writes.flatMap((w) => (w.entityId === undefined ? [] : [w.entityId])), ...workflowNamespaces(batch).keys()])];
}

/**
 * For a principal's or a plugin's batch: the definition ids of the workflows whose transition-event
 * namespace (`<workflow>.*`) its events enter, each with the first event type that does.
 */
function workflowNamespaces(batch: PreparedBatch): Map<string, string> {
  const out = new Map<string, string>();
  const kind = batch.source?.kind ?? 'api';
  if (kind !== 'api' && kind !== 'plugin') return out;
  const types = [...batch.events.map((e) => e.type), ...batch.writes.flatMap((w) => (w.eventType === undefined ? [] : [w.eventType]))];
  for (const type of types) {
    const ns = workflowNamespaceOf(type);
    if (ns !== null && !out.has(workflowDefinitionId(ns))) out.set(workflowDefinitionId(ns), type);
  }
  return out;
}

/** Refuses events in the namespace of a workflow the tenant defined: only the workflow service publishes its transitions. */
function assertNoTransitionForgery(cc: CommitContext, lookup: LatestLookup): void {
  for (const [definitionId, type] of workflowNamespaces(cc.batch)) {
    const def = lookup(cc.tenantKey, definitionId);
    if (def !== null && def.entityTypeId === WORKFLOW_DEFINITION_TYPE) {
      const workflow = definitionId.slice(definitionId.indexOf(':') + 1);
      throw reservedName('event type', type, `${workflow}.* are the transition events of workflow ${workflow}, published by the platform: advance the instance (workflow_advance), or name your event outside ${workflow}.*`);
    }
  }
}

/**
 * Plans a batch: resolves every write against the stored latest versions (and earlier writes of
 * the same batch), builds versions and events, or throws on the first conflict so the caller's
 * transaction rolls back whole.
 */
export function planCommit(cc: CommitContext, lookup: LatestLookup): CommitPlan {
  assertNoTransitionForgery(cc, lookup);
  const pending = new Map<string, { current: CurrentVersion; index: number }>();
  const supersede: string[] = [];
  const versions: PlannedVersion[] = [];
  const events: EventEnvelope[] = [];
  for (const write of cc.batch.writes) {
    const { entityId, minted } = writeEntityId(write);
    const inBatch = pending.get(entityId);
    let own: CurrentVersion | null = inBatch?.current ?? null;
    let global: CurrentVersion | null = null;
    if (!minted && inBatch === undefined) {
      own = lookup(cc.tenantKey, entityId);
      if (own !== null) supersede.push(entityId);
      else if (cc.tenantKey !== GLOBAL_TENANT_KEY) global = lookup(GLOBAL_TENANT_KEY, entityId);
    }
    const v = buildVersion(cc, write, entityId, nextVersion(cc.tenantKey, write, entityId, own, global), own);
    if (inBatch !== undefined) versions[inBatch.index]!.latest = false;
    pending.set(entityId, { current: v, index: versions.length });
    versions.push({ version: v, latest: true });
    events.push(versionEvent(cc, write, v));
  }
  events.push(...extraEvents(cc));
  return { supersede, versions, events, result: { applied: true, versions: versions.map((p) => p.version), events } };
}
