// Child process of WF-CRASH-1: runs a real UeeApp (runtime on: timers + workflow consumer) on a site
// until SIGKILLed. argv[2] = JSON { dataDir, backend, redisPrefix }; prints READY once running.
import { openApp, type AppSite } from '../router/app-site.js';

const site = JSON.parse(process.argv[2]!) as AppSite;
await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs: 500 }, timers: { intervalMs: 20 }, workflows: { intervalMs: 10, claimIdleMs: 500 } });
process.stdout.write('READY\n');
setInterval(() => undefined, 1 << 30);
