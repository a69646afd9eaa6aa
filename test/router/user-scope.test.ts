/**
 * ROUTER-USER: a user-scoped plugin is delivered only the events about its owner's entities (the
 * router's exact check behind the subscription index, which cannot know owners).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pluginGroup } from '../../src/registry/index.js';
import { BACKENDS, appPerTest, deployProbe, marks, probeWasm, refresh, until } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

describe.each(BACKENDS)('user-scoped plugins ($name bus)', ({ name }) => {
  const apps = appPerTest(name);

  it('ROUTER-USER-1 events about another owner\'s entity, an ownerless one, a missing one or none never reach a user-scoped plugin; its owner\'s do, once each', async () => {
    const app = await apps.open('user', {}, { router: { refreshMs: 60_000 } });
    const acme = { tenantId: 'acme', actor: 'user:test' };
    await app.store.commit(acme, {
      writes: [
        { entityId: 'doc-alice', entityTypeId: 'Doc', attributes: {}, ownerId: 'alice' },
        { entityId: 'doc-bob', entityTypeId: 'Doc', attributes: {}, ownerId: 'bob' },
        { entityId: 'doc-none', entityTypeId: 'Doc', attributes: {} },
      ],
    });
    await deployProbe(app, probe, { name: 'AliceOnly', subscribeTo: ['Touch'], tenantScope: 'user', ownerId: 'alice', tenantId: 'acme', settings: { mode: 'mark', marker: 'alice' } });
    // A tenant-wide control on the same events: it sees every one, so the run is known to be over.
    await deployProbe(app, probe, { name: 'Everyone', subscribeTo: ['Touch'], settings: { mode: 'mark', marker: 'all' } });
    await refresh(app);
    const sent: Record<string, string> = {};
    for (const entityId of ['doc-bob', 'doc-none', 'doc-missing', undefined, 'doc-alice']) {
      const { events } = await app.store.commit(acme, { events: [{ type: 'Touch', ...(entityId === undefined ? {} : { entityId }), payload: {} }] });
      sent[entityId ?? '(none)'] = events[0]!.eventId;
    }
    await until('the control saw all five', async () => ((await marks(app, 'acme')).filter((m) => m.marker === 'all').length >= 5 ? true : undefined));
    // Deliveries run in parallel across entities: give the user-scoped queue the same chance to finish.
    await until('the user-scoped queue drained', async () => {
      const info = await app.bus.groupInfo(pluginGroup('AliceOnly', 'acme'));
      return info.lag === 0 && info.pending === 0 ? true : undefined;
    });
    const alice = (await marks(app, 'acme')).filter((m) => m.marker === 'alice');
    expect(alice.map((m) => m.sourceEvent)).toEqual([sent['doc-alice']]);
  }, 120_000);
});
