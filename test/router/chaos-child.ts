// Child process of the multi-process router suites (ROUTER-CHAOS-1, ROUTER-ORDER-1, ROUTER-LIVE-*):
// a full UeeApp (relay, dispatcher, queue workers, host) on a shared PostgreSQL store and Redis bus,
// until killed. argv[2] = JSON { site, store, router?, settings? } (option and setting overrides);
// prints `READY <consumer name>`, and on SIGTERM closes the app (a graceful router restart) and exits 0.
import type { RawSettings } from '../../src/config/index.js';
import type { RouterOptions } from '../../src/router/index.js';
import { openApp, type AppSite } from './app-site.js';

const { site, store, router, settings } = JSON.parse(process.argv[2]!) as { site: AppSite; store: string; router?: Partial<RouterOptions>; settings?: RawSettings };
const app = await openApp(site, { store, ...settings }, { router: { refreshMs: 200, claimIdleMs: 1000, backoffMs: 20, concurrency: 4, ...router } });
process.stdout.write(`READY ${app.runtime?.router.consumer ?? ''}\n`);
const keepAlive = setInterval(() => undefined, 1 << 30);
process.once('SIGTERM', () => {
  void app.close().finally(() => {
    clearInterval(keepAlive);
    process.exit(0);
  });
});
