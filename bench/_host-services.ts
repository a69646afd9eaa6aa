import { createLocalModelGateway, type HostServices } from '../src/runtime/index.js';

/** Host services with no data behind them (no entity, no read model, empty settings) and the local model gateway: for benches of the execution host alone. */
export const EMPTY_HOST_SERVICES: HostServices = {
  readEntity: () => Promise.resolve(null),
  queryReadModel: () => Promise.resolve([]),
  getTenantConfig: () => Promise.resolve({ tenant: {}, plugin: {} }),
  callModel: (ctx, req) => createLocalModelGateway().call(ctx, req),
};
