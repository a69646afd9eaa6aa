import type { Principal, PoolHold } from '../../core/index.js';
import { PrincipalPool, UeeError } from '../../core/index.js';
import { FRONT_DOOR_ENV } from '../../config/index.js';
import type { UeeApp } from '../../app/index.js';

/**
 * V8 heap limits of a sandbox's worker thread: smaller than the runtime's workers, and part of
 * what a sandbox reserves from its principal's memory share.
 */
export const SANDBOX_WORKER_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 16 } as const;

const WORKER_MB = SANDBOX_WORKER_LIMITS.maxOldGenerationSizeMb + SANDBOX_WORKER_LIMITS.maxYoungGenerationSizeMb + SANDBOX_WORKER_LIMITS.stackSizeMb;

/** MiB one sandbox reserves: its plugin's wasm memory cap plus its worker's heap cap. */
export function sandboxMemoryMb(memoryPages: number): number {
  return Math.ceil((memoryPages * 65536) / (1024 * 1024)) + WORKER_MB;
}

/**
 * Admission of sandboxes (`plugin_test`, `dead_letter_replay`): each runs a worker thread of its
 * own, so each principal may run at most `sandboxesPerPrincipal` at once and reserve at most
 * `sandboxMemoryMbPerPrincipal` MiB for them (and all non-admin principals together
 * `sandboxesMax` / `sandboxMemoryMbMax`). Beyond that the call is refused with `LIMIT_EXCEEDED`
 * before any thread starts.
 */
export class SandboxGate {
  readonly count: PrincipalPool;
  readonly memory: PrincipalPool;

  constructor(limits: UeeApp['config']['frontDoor']) {
    const named = (key: keyof typeof limits) => ({ limit: limits[key], setting: FRONT_DOOR_ENV[key] });
    const advice = 'wait for your running sandboxes to finish (run events in one plugin_test call rather than many calls)';
    this.count = new PrincipalPool({ what: 'running sandboxes', perPrincipal: named('sandboxesPerPrincipal'), total: named('sandboxesMax'), advice });
    this.memory = new PrincipalPool({
      what: 'MiB of sandbox memory',
      perPrincipal: named('sandboxMemoryMbPerPrincipal'),
      total: named('sandboxMemoryMbMax'),
      advice: `${advice}, or lower maximumResourceBudget.memoryPages in the manifest you test with`,
    });
  }

  /** Reserves one sandbox of `memoryPages` wasm pages for `principal`; throws `LIMIT_EXCEEDED`. */
  acquire(principal: Principal, memoryPages: number): PoolHold {
    const mb = sandboxMemoryMb(memoryPages);
    const one = this.count.acquire(principal);
    let memory: PoolHold;
    try {
      memory = this.memory.acquire(principal, mb);
    } catch (err) {
      one.release();
      throw err;
    }
    return {
      amount: mb,
      release: () => {
        one.release();
        memory.release();
      },
    };
  }
}

const gates = new WeakMap<UeeApp, SandboxGate>();

/** The sandbox gate of an app (one per app, shared by every session and transport). */
export function sandboxGate(app: UeeApp): SandboxGate {
  let gate = gates.get(app);
  if (!gate) {
    gate = new SandboxGate(app.config.frontDoor);
    gates.set(app, gate);
  }
  return gate;
}

/** Read-only principals may not spend: a sandbox with `models: "gateway"` would call the tenant's real models. */
export function assertMaySpend(principal: Principal, models: 'offline' | 'stub' | 'gateway'): void {
  if (models === 'gateway' && principal.kind === 'tenant' && principal.readOnly) {
    throw new UeeError('TENANT_FORBIDDEN', 'this token is read-only: models "gateway" would spend the tenant\'s model quota', {
      details: { reason: 'READ_ONLY', argument: 'models' },
      hint: 'use models: "offline" (the default) or "stub" with a read-only token, or a read-write token for real model calls',
    });
  }
}

const compileGates = new WeakMap<UeeApp, PrincipalPool>();

/**
 * Admission of compiles: each runs a CPU-bound compiler thread or process (the TypeScript check,
 * Wizer, asc, rustc, clang), so one principal may run at most `compilesPerPrincipal` at once and all
 * non-admin principals together `compilesMax` — a burst of compiles from one token is refused with
 * `LIMIT_EXCEEDED` instead of starting a process each and taking the server's cores from every
 * tenant's events.
 */
export function compileGate(app: UeeApp): PrincipalPool {
  let gate = compileGates.get(app);
  if (!gate) {
    const limits = app.config.frontDoor;
    const named = (key: 'compilesPerPrincipal' | 'compilesMax') => ({ limit: limits[key], setting: FRONT_DOOR_ENV[key] });
    gate = new PrincipalPool({ what: 'running compiles', perPrincipal: named('compilesPerPrincipal'), total: named('compilesMax'), advice: 'wait for your running compiles to finish', retryAfterMs: 2000 });
    compileGates.set(app, gate);
  }
  return gate;
}
