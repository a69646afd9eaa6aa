// Child process of SEC-RT-12: runs a real UeeApp (runtime on) on a site until SIGKILLed. Prints
// READY once the router runs and BUSY while some plugin call of tenant acme holds a worker.
// argv[2] = JSON { dataDir, backend, redisPrefix }.
import { openApp, type AppSite } from '../router/app-site.js';

const site = JSON.parse(process.argv[2]!) as AppSite;
const app = await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs: 300 } });
process.stdout.write('READY\n');
setInterval(() => {
  const share = app.runtime?.host.stats().shares.acme;
  if (share !== undefined && share.running > 0) process.stdout.write('BUSY\n');
}, 20);
