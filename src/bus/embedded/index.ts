import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { UeeError, silentLogger, toUeeError, type Logger } from '../../core/index.js';
import type { BusOptions, EventBus } from '../port.js';
import { resolveBusOptions } from '../shared/options.js';
import { holdWal, type WalCheckpointer } from '../../core/wal-checkpointer.js';
import { EmbeddedBus } from './embedded-bus.js';
import { applyBusSchema } from './schema.js';

/** Options of {@link openEmbeddedBus}. */
export interface EmbeddedBusOptions {
  /** The SQLite file (usually the entity store's file; the bus owns only its `bus_*` tables), or `:memory:`. */
  path: string;
  /** Retention and de-duplication; defaults from `DEFAULT_BUS_OPTIONS`. */
  options?: Partial<BusOptions>;
  /** @default silentLogger */
  logger?: Logger;
  /** Who checkpoints the file's WAL (see `SqliteStoreOptions.checkpoints`): the process's checkpoint thread by default. */
  checkpoints?: WalCheckpointer | false;
}

/**
 * Opens the embedded event bus on a SQLite file (WAL mode), creating its tables if needed. Several
 * processes may open the same file: each operation is one immediate transaction. `:memory:` gives a
 * private, non-durable bus for tests.
 */
export function openEmbeddedBus(options: EmbeddedBusOptions): Promise<EventBus> {
  try {
    const busOptions = resolveBusOptions(options.options);
    const logger = (options.logger ?? silentLogger).child({ component: 'bus', bus: 'embedded' });
    const memory = options.path === ':memory:';
    let db: Database.Database;
    try {
      db = new Database(options.path);
      applyBusSchema(db, options.path);
    } catch (err) {
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot open the embedded bus at ${options.path}: ${err instanceof Error ? err.message : String(err)}`, {
        details: { setting: 'bus path', path: options.path },
        hint: 'check that the directory exists and is writable',
        cause: err,
      });
    }
    // In-process wake-ups are keyed by the file, so buses sharing it wake each other's readers.
    const key = memory ? `memory:${randomUUID()}` : resolve(options.path);
    return Promise.resolve(new EmbeddedBus(db, key, busOptions, logger, holdWal(options.checkpoints, db, options.path, logger)));
  } catch (err) {
    return Promise.reject(toUeeError(err));
  }
}
