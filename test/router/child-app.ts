// Child process of ROUTER-7: runs a real UeeApp (runtime on) on a site until SIGKILLed.
// argv[2] = JSON { dataDir, backend, redisPrefix, claimIdleMs? }; prints READY once the router runs.
import { openApp, type AppSite } from './app-site.js';

const site = JSON.parse(process.argv[2]!) as AppSite & { claimIdleMs?: number };
await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs: site.claimIdleMs ?? 500 } });
process.stdout.write('READY\n');
// Keep the process alive: the app's loops hold the event loop, this guards against unref'd timers.
setInterval(() => undefined, 1 << 30);
