import { describe, expect, it } from 'vitest';
import { createModelGateway, forRuntime } from '../../src/model-gateway/index.js';
import type { ModelGateway as RuntimeModelGateway } from '../../src/runtime/index.js';
import { ctx } from './helpers.js';

describe('GW-RT: the runtime-facing adapter', () => {
  it('GW-RT-1 satisfies the runtime model port and attributes calls to the plugin and event', async () => {
    const g = await createModelGateway({});
    try {
      const port: RuntimeModelGateway = forRuntime(g);
      const out = await port.call(ctx('divflo'), {
        model: 'task.prioritizer.v2',
        input: { dueInDays: 1, importance: 5 },
        plugin: { id: 'pid-1', name: 'DivFlo.TaskPrioritizer', version: '1' },
        eventId: 'evt-9',
      });
      expect(out).toMatchObject({ label: expect.any(String) as string, score: expect.any(Number) as number });
      expect(g.audit.query({ tenantId: 'divflo' })[0]).toMatchObject({ pluginId: 'pid-1', pluginName: 'DivFlo.TaskPrioritizer', eventId: 'evt-9', source: 'plugin' });
    } finally {
      await g.close();
    }
  });
});
