// Child process of ROUTER-CHAOS-1: a full UeeApp (relay, dispatcher, queue workers, host) on a shared
// PostgreSQL store and Redis bus, until SIGKILLed. argv[2] = JSON { site, store }; prints READY.
import { openApp, type AppSite } from './harness.js';

const { site, store } = JSON.parse(process.argv[2]!) as { site: AppSite; store: string };
await openApp(site, { store }, { router: { refreshMs: 200, claimIdleMs: 1000, backoffMs: 20, concurrency: 4 } });
process.stdout.write('READY\n');
setInterval(() => undefined, 1 << 30);
