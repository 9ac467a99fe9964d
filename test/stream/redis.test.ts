// The Redis Streams source against a real redis-server: a consumer group, XACK only after the
// checkpoint; killed with -9 at several offsets and restarted, the job ends with the same online
// values and offline rows as an uninterrupted stdin run over the same events.

import { cpSync } from 'node:fs';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, tempDir } from '../support/project.js';
import { type RunningServer, startRedis } from '../support/redis.js';
import {
  ARGS,
  checkpointed,
  events,
  offlineRows,
  onlineSnapshot,
  runKillable,
  SPEC,
} from '../support/stream.js';

let redis: RunningServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('asof stream --source redis://', () => {
  it('is exactly once through kills, and equals a stdin run', async () => {
    const lines = events(8000, 5);
    const client = createClient({ url: redis.url });
    await client.connect();
    for (let i = 0; i < lines.length; i += 500) {
      await Promise.all(lines.slice(i, i + 500).map((l) => client.xAdd('events', '*', { data: l })));
    }
    const base = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
    const viaStdin = tempDir();
    const viaRedis = tempDir();
    cpSync(base, viaStdin, { recursive: true });
    cpSync(base, viaRedis, { recursive: true });
    expect(await runKillable(viaStdin, `${lines.join('\n')}\n`)).toBe(0);

    const args = ARGS.map((a) => (a === 'stdin' ? `${redis.url}/events` : a)).concat('--once');
    const kills = [1500, 4200, 6600];
    let code: number | null = null;
    const partial: number[] = [];
    for (let attempt = 0; attempt < 8 && code !== 0; attempt++) {
      code = await runKillable(viaRedis, '', kills[attempt], attempt * 3, args);
      if (code === null) partial.push(checkpointed(viaRedis));
    }
    expect(code).toBe(0);
    expect(
      partial.some((n) => n > 0 && n < 8000),
      `checkpoints at the kills: ${partial}`,
    ).toBe(true);
    // everything the checkpoint holds was acknowledged: nothing is left pending in the group
    const pending = (await client.xPending('events', 'asof')) as { pending: number };
    expect(pending.pending).toBe(0);
    await client.quit();

    const ats = [Date.UTC(2025, 2, 28, 20), Date.UTC(2025, 2, 30, 3), Date.UTC(2025, 3, 2)];
    expect(await onlineSnapshot(viaRedis, ats)).toEqual(await onlineSnapshot(viaStdin, ats));
    expect(await offlineRows(viaRedis)).toEqual(await offlineRows(viaStdin));
  }, 150_000);
});
