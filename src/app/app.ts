import { mkdirSync } from 'node:fs';
import type { Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import type { UeeConfig } from '../config/index.js';
import { redact } from '../config/index.js';
import { openBus, openStore } from './backends.js';
import { OutboxRelay } from './outbox-relay.js';

/** Lifecycle of the application: `running` → `draining` → `closed`. */
export type AppState = 'running' | 'draining' | 'closed';

/** What `uee status` and `/status` report. */
export interface AppStatus {
  state: AppState;
  uptimeMs: number;
  store: { kind: string; location: string };
  bus: { kind: string; location: string; length: number };
  outbox: { pending: number; published: number };
  tenants: number;
}

/**
 * The composition root: one store, one bus, the outbox relay between them, and (as later issues
 * land) the runtime, router and MCP server. Created with {@link UeeApp.create}; `close()` drains
 * and is safe to call twice.
 */
export class UeeApp {
  #state: AppState = 'running';
  #closing: Promise<void> | undefined;
  readonly #startedAt = Date.now();

  private constructor(
    readonly config: UeeConfig,
    readonly store: EntityStore,
    readonly bus: EventBus,
    readonly relay: OutboxRelay,
    readonly logger: Logger,
  ) {}

  /** Opens the backends, registers bootstrap tenants and starts the relay. */
  static async create(config: UeeConfig, logger: Logger): Promise<UeeApp> {
    if (config.store.kind === 'sqlite' || config.bus.kind === 'embedded') mkdirSync(config.dataDir, { recursive: true });
    const store = await openStore(config.store, { maxAttributeBytes: config.limits.maxAttributeBytes, logger });
    let bus: EventBus;
    try {
      bus = await openBus(config.bus, { logger });
    } catch (err) {
      await store.close();
      throw err;
    }
    for (const tenantId of config.bootstrapTenants) await store.tenants.create(tenantId);
    const relay = new OutboxRelay(store.outbox, bus, { logger: logger.child({ component: 'outbox-relay' }) });
    logger.info('uee started', {
      store: store.kind,
      bus: bus.kind,
      storeLocation: describeLocation(config.store),
      busLocation: describeLocation(config.bus),
    });
    return new UeeApp(config, store, bus, relay, logger);
  }

  /** Current lifecycle state. */
  get state(): AppState {
    return this.#state;
  }

  /** A snapshot for operators. */
  async status(): Promise<AppStatus> {
    return {
      state: this.#state,
      uptimeMs: Date.now() - this.#startedAt,
      store: { kind: this.store.kind, location: describeLocation(this.config.store) },
      bus: { kind: this.bus.kind, location: describeLocation(this.config.bus), length: await this.bus.length() },
      outbox: { pending: await this.store.outbox.size(), published: this.relay.published },
      tenants: (await this.store.tenants.list()).length,
    };
  }

  /** Drains the relay, then closes bus and store; each step isolated so one failure does not skip the rest. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'draining';
    for (const [name, step] of [
      ['relay', () => this.relay.stop()],
      ['bus', () => this.bus.close()],
      ['store', () => this.store.close()],
    ] as const) {
      try {
        await step();
      } catch (err) {
        this.logger.warn(`closing ${name} failed`, { error: toUeeError(err).message });
      }
    }
    this.#state = 'closed';
  }
}

function describeLocation(config: UeeConfig['store'] | UeeConfig['bus']): string {
  if ('path' in config) return config.path;
  return redact(config.url);
}
