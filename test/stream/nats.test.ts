// The NATS JetStream source against a real nats-server: a durable consumer acknowledged only after
// the checkpoint; killed with -9 at several offsets and restarted, the job ends with the same online
// values and offline rows as an uninterrupted stdin run over the same events.

import { cpSync } from 'node:fs';
import { connect, StringCodec } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats } from '../support/nats.js';
import { makeProject, tempDir } from '../support/project.js';
import type { RunningServer } from '../support/redis.js';
import {
  ARGS,
  checkpointed,
  events,
  offlineRows,
  onlineSnapshot,
  runKillable,
  SPEC,
} from '../support/stream.js';

let nats: RunningServer;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});

describe('asof stream --source nats://', () => {
  it('is exactly once through kills, and equals a stdin run', async () => {
    const lines = events(8000, 3);
    const nc = await connect({ servers: `127.0.0.1:${nats.port}` });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'EVENTS', subjects: ['events'] });
    const js = nc.jetstream();
    const sc = StringCodec();
    for (let i = 0; i < lines.length; i += 500) {
      await Promise.all(lines.slice(i, i + 500).map((l) => js.publish('events', sc.encode(l))));
    }
    await nc.drain();
    const base = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
    const viaStdin = tempDir();
    const viaNats = tempDir();
    cpSync(base, viaStdin, { recursive: true });
    cpSync(base, viaNats, { recursive: true });
    expect(await runKillable(viaStdin, `${lines.join('\n')}\n`)).toBe(0);

    const args = ARGS.map((a) => (a === 'stdin' ? `${nats.url}/events` : a)).concat('--once');
    const kills = [1500, 4200, 6600];
    let code: number | null = null;
    const partial: number[] = [];
    for (let attempt = 0; attempt < 8 && code !== 0; attempt++) {
      code = await runKillable(viaNats, '', kills[attempt], attempt * 3, args);
      if (code === null) partial.push(checkpointed(viaNats));
    }
    expect(code).toBe(0);
    expect(
      partial.some((n) => n > 0 && n < 8000),
      `checkpoints at the kills: ${partial}`,
    ).toBe(true);

    const ats = [Date.UTC(2025, 2, 28, 20), Date.UTC(2025, 2, 30, 3), Date.UTC(2025, 3, 2)];
    expect(await onlineSnapshot(viaNats, ats)).toEqual(await onlineSnapshot(viaStdin, ats));
    expect(await offlineRows(viaNats)).toEqual(await offlineRows(viaStdin));
  }, 150_000);
});
