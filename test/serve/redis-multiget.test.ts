// The Redis online store's multi-get (one HMGET for a batch of keys, as `POST /v1/features` reads
// a view's entities): the same states as one read per key, in the order asked, absent keys null.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisOnline } from '../../src/storage/online/redis.js';
import { emptyCheckpoint } from '../../src/storage/online/sqlite.js';
import type { EntityState } from '../../src/stream/state.js';
import { type RunningServer, startRedis } from '../support/redis.js';
import { stateOf } from '../support/states.js';

let redis: RunningServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('Redis online store multi-get', () => {
  it('answers several keys in one lookup like one read per key', async () => {
    const store = await RedisOnline.open(redis.url, 'asof:mg:');
    try {
      const states: Record<string, EntityState> = {};
      for (let i = 0; i < 20; i++) {
        states[`u${i}`] = stateOf({ tail: [[1000 + i, i, i * 1.5]], first: 1000 + i, seq: i });
      }
      await store.commit(
        'events',
        ['v'],
        { ...emptyCheckpoint(), nextSeq: 20 },
        Object.entries(states).map(([key, state]) => ({ view: 'v', key, state })),
        0,
      );
      const keys = ['u7', 'nobody', 'u0', 'u19', 'u7'];
      const many = await store.getStates('v', keys);
      expect(many).toEqual(await Promise.all(keys.map((k) => store.getState('v', k))));
      expect(many.map((s) => s?.seq ?? null)).toEqual([7, null, 0, 19, 7]);
      expect(await store.getStates('v', [])).toEqual([]);
      expect(await store.getStates('other', ['u1'])).toEqual([null]);
    } finally {
      await store.close();
    }
  });
});
