import { connectRedis } from '@org/eventbus/redis';
import { describeBroker } from '@org/eventbus/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRequestStore, RedisRequestStore, type RequestStore } from '../src/index.js';
import { runId } from './helpers.js';

function storeContract(name: string, make: () => RequestStore) {
  describe(name, () => {
    let store: RequestStore;
    beforeAll(() => {
      store = make();
    });
    afterAll(() => store.close());

    it('follows a request to its furthest step, whatever order steps arrive in, recording each once', async () => {
      const id = `r-${runId()}`;
      await store.create({ requestId: id, userId: 'u', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro', createdAt: '2026-01-01T00:00:00.000Z' });
      await store.addStep(id, { type: 'ec2.launch.requested', eventId: id, at: '2026-01-01T00:00:00.001Z' });
      await store.addStep(id, { type: 'ec2.instance.launched', eventId: `${id}.l`, at: '2026-01-01T00:00:03.000Z' }, ['i-1']);
      await store.addStep(id, { type: 'launch.started', eventId: `${id}#1`, at: '2026-01-01T00:00:00.100Z' });
      await store.addStep(id, { type: 'ec2.instance.launched', eventId: `${id}.l`, at: '2026-01-01T00:00:04.000Z' });
      const record = await store.get(id);
      expect(record?.status).toBe('launched');
      expect(record?.instanceIds).toEqual(['i-1']);
      expect(record?.chain.map((s) => s.type)).toEqual(['ec2.launch.requested', 'launch.started', 'ec2.instance.launched']);
      expect(record?.request?.userId).toBe('u');
    });

    it('keeps notifications per user, newest first, and forgets removed requests', async () => {
      const user = `u-${runId()}`;
      const id = `r-${runId()}`;
      const n = { notificationId: `n-${id}`, requestId: id, userId: user, level: 'error' as const, message: 'no', instanceIds: [], createdAt: new Date().toISOString() };
      await store.addNotification(n);
      await store.addNotification({ ...n, notificationId: `n2-${id}`, requestId: `${id}-2`, level: 'success' });
      expect((await store.notifications(user)).map((x) => x.notificationId)).toEqual([`n2-${id}`, `n-${id}`]);
      expect((await store.get(id))?.notification?.level).toBe('error');
      await store.remove(id);
      expect(await store.get(id)).toBeUndefined();
    });
  });
}

storeContract('MemoryRequestStore', () => new MemoryRequestStore());

describeBroker('RedisRequestStore', { variable: 'EVENTBUS_REDIS_URL' }, (url) => {
  let client: Awaited<ReturnType<typeof connectRedis>>;
  beforeAll(async () => {
    client = await connectRedis(url());
  });
  storeContract('on Redis', () => new RedisRequestStore(client, { prefix: `ec2-test-${runId()}`, ttlSeconds: 60 }));
});
