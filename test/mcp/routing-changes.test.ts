/**
 * ROUTER-CHANGE-1: a tool's change of one plugin (deploy, pin, status, experiment) is applied to this
 * process's routing table for that plugin alone — effective for the next event at once, without a
 * reload of every tenant's plugins, pins and experiments (each tool call did one: ~46 ms of the main
 * thread with 1,000 tenants' plugins, 150 ms before the store's one-scan listing, so one tenant's 20
 * calls a second held everyone's deliveries) — and a settings-only change touches no route at all.
 */
import { describe, expect, it } from 'vitest';
import { call, sc, serverWithAcme } from './helpers.js';

const WAT = '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))';

describe('routing-table changes made by tools', () => {
  const site = serverWithAcme();

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tool results are read as plain JSON
  type Json = Record<string, any>;
  const ok = (r: Awaited<ReturnType<typeof call>>): Json => {
    expect(r.isError, JSON.stringify(sc(r))).toBeFalsy();
    return sc(r);
  };
  /** Emits one Ping and answers the version of Acme.Pinned that handled it. */
  const handledBy = async (): Promise<number> => {
    const { acme } = site;
    const eventId = ok(await call(acme, 'event_emit', { type: 'Ping', payload: {} })).event.eventId as string;
    for (let i = 0; i < 300; i++) {
      const records = ok(await call(acme, 'invocation_list', { name: 'Acme.Pinned', eventId })).records as Array<{ plugin: { version: number } }>;
      if (records.length > 0) return records[0]!.plugin.version;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`event ${eventId} not handled`);
  };

  it('ROUTER-CHANGE-1 pins, unpins and deploys take effect at once with no full reload; settings touch no route', async () => {
    const { s, acme } = site;
    const artifact = ok(await call(acme, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': WAT } } })).artifact as string;
    const manifest = { name: 'Acme.Pinned', subscribeTo: ['Ping'] };
    ok(await call(acme, 'plugin_deploy', { manifest, artifact }));
    ok(await call(acme, 'plugin_deploy', { manifest, artifact }));
    const router = s.app.runtime!.router;
    // Full reloads (the tool path's, and a periodic check's if the watermark moved by anyone else's change).
    const counts = { refresh: 0, applyChange: 0 };
    const refresh = router.refresh.bind(router);
    router.refresh = () => (counts.refresh++, refresh());
    const applyChange = router.applyChange.bind(router);
    router.applyChange = (change) => (counts.applyChange++, applyChange(change));
    try {
      expect(await handledBy()).toBe(2);
      for (const version of [1, 2, 1]) {
        ok(await call(acme, 'plugin_configure', { name: 'Acme.Pinned', action: 'pin', version }));
        expect(await handledBy()).toBe(version);
      }
      ok(await call(acme, 'plugin_configure', { name: 'Acme.Pinned', action: 'unpin' }));
      ok(await call(acme, 'plugin_deploy', { manifest, artifact }));
      expect(await handledBy()).toBe(3);
      expect(counts).toEqual({ refresh: 0, applyChange: 5 });
      ok(await call(acme, 'plugin_configure', { name: 'Acme.Pinned', action: 'settings', settings: { mode: 'x' } }));
      expect(counts.applyChange).toBe(5);
    } finally {
      router.refresh = refresh;
      router.applyChange = applyChange;
    }
  }, 120_000);
});
