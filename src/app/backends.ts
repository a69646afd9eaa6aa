import type { Logger } from '../core/index.js';
import type { BusOptions, EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import type { FilterLimits } from '../store/filter.js';
import type { BusConfig, StoreConfig } from '../config/index.js';

/** Opens the entity store named by the config (drivers load only when used). */
export async function openStore(
  config: StoreConfig,
  options: { maxAttributeBytes: number; filter?: Partial<FilterLimits>; slowQueryMs?: number; maxIndexesPerTenant?: number; logger: Logger },
): Promise<EntityStore> {
  const limits = {
    maxAttributeBytes: options.maxAttributeBytes,
    ...(options.filter === undefined ? {} : { filter: options.filter }),
    ...(options.slowQueryMs === undefined ? {} : { slowQueryMs: options.slowQueryMs }),
    ...(options.maxIndexesPerTenant === undefined ? {} : { maxIndexesPerTenant: options.maxIndexesPerTenant }),
  };
  if (config.kind === 'sqlite') {
    const { openSqliteStore } = await import('../store/sqlite/index.js');
    return openSqliteStore({ path: config.path, limits, logger: options.logger });
  }
  if (config.kind === 'postgres') {
    const { openPostgresStore } = await import('../store/postgres/index.js');
    return openPostgresStore({ url: config.url, schema: config.schema, limits, logger: options.logger });
  }
  const { openMongoStore } = await import('../store/mongodb/index.js');
  return openMongoStore({ url: config.url, database: config.database, limits, logger: options.logger });
}

/** Opens the event bus named by the config. */
export async function openBus(config: BusConfig, options: { logger: Logger; busOptions?: Partial<BusOptions> }): Promise<EventBus> {
  const busOptions = options.busOptions === undefined ? {} : { options: options.busOptions };
  if (config.kind === 'embedded') {
    const { openEmbeddedBus } = await import('../bus/embedded/index.js');
    return openEmbeddedBus({ path: config.path, logger: options.logger, ...busOptions });
  }
  const { openRedisBus } = await import('../bus/redis/index.js');
  return openRedisBus({ url: config.url, prefix: config.prefix, logger: options.logger, ...busOptions });
}
