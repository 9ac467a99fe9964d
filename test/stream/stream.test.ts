// `asof stream` end to end through the CLI: contract dead letters, late events beyond the
// watermark, `asof get` / `asof parity` against batch, replay idempotence, and the exactly-once
// effect: killed with -9 at random moments and restarted, the job ends with the same online values,
// offline rows, late log and dead letters as an uninterrupted run.

import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { OnlineStore } from '../../src/storage/online/sqlite.js';
import { onlineDir } from '../../src/stream/job.js';
import { makeProject, runCli, tempDir } from '../support/project.js';
import { ARGS, events, offlineRows, onlineSnapshot, runKillable, SPEC } from '../support/stream.js';

describe('asof stream', () => {
  let dir: string;
  beforeAll(async () => {
    dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
  }, 150_000);

  it('counts dead letters and late events, serves what batch computes, and ignores a replay', async () => {
    const input = `${events(3000, 7).join('\n')}\n`;
    const first = await runCli([...ARGS, '--project', dir], { input });
    expect(first.code, first.stderr).toBe(0);
    const project = await loadProject(dir);
    const store = OnlineStore.open(onlineDir(project), { readonly: true });
    const c = store.readCheckpoint('events')?.checkpoint;
    store.close();
    expect(c?.nextSeq).toBe(3000);
    expect(c?.counters.dead).toBeGreaterThan(0);
    expect(c?.counters.late).toBeGreaterThan(0);
    expect(c?.counters.accepted).toBe(3000 - (c?.counters.dead ?? 0) - (c?.counters.late ?? 0));
    const dead = readFileSync(path.join(onlineDir(project), 'dead-letters', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(dead).toHaveLength(c?.counters.dead ?? -1);
    expect(dead[0]).toMatch(/"reason":"column (event_ts|user_id)/);
    const late = readFileSync(path.join(onlineDir(project), 'late', 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(late).toHaveLength(c?.counters.late ?? -1);
    expect((await offlineRows(dir)).length).toBe(c?.counters.accepted);

    const get = await runCli([
      'get',
      '--view',
      'v',
      '--key',
      'u1',
      '--at',
      '2025-03-29T12:00:00Z',
      '--project',
      dir,
    ]);
    expect(get.code, get.stderr).toBe(0);
    const body = JSON.parse(get.stdout);
    expect(body).toMatchObject({ view: 'v', key: 'u1', at: '2025-03-29T12:00:00.000Z' });
    expect(Object.keys(body.values)).toEqual([
      'n_1h',
      'sum_1d',
      'avg_all',
      'max_7d',
      'last_amt',
      'sd_3d',
      'dsl',
    ]);

    for (const at of ['2025-03-29T12:00:00Z', '2025-03-30T00:00:00', '2025-03-31T02:17:00Z', '2025-04-05']) {
      const p = await runCli(['parity', '--view', 'v', '--at', at, '--project', dir]);
      expect(p.code, p.stdout + p.stderr).toBe(0);
      expect(p.stdout).toMatch(/50 entities compared, 0 mismatches/);
    }

    const before = await onlineSnapshot(dir, [Date.UTC(2025, 2, 30, 12)]);
    const again = await runCli([...ARGS, '--project', dir], { input });
    expect(again.code, again.stderr).toBe(0);
    expect(await onlineSnapshot(dir, [Date.UTC(2025, 2, 30, 12)])).toEqual(before);
    expect((await offlineRows(dir)).length).toBe(c?.counters.accepted);
  }, 150_000);

  it('is exactly once when killed with -9 and restarted', async () => {
    const input = `${events(12000, 99).join('\n')}\n`;
    const whole = tempDir();
    const killed = tempDir();
    cpSync(dir, whole, { recursive: true, filter: (s) => !s.includes('.asof') });
    cpSync(dir, killed, { recursive: true, filter: (s) => !s.includes('.asof') });
    expect(await runKillable(whole, input, undefined)).toBe(0);

    const project = await loadProject(killed);
    const partial: number[] = [];
    let code: number | null = null;
    const kills = [1, 2500, 5200, 7900, 10500];
    for (let attempt = 0; attempt < 12 && code !== 0; attempt++) {
      const target = kills[attempt];
      code = await runKillable(killed, input, target, target === undefined ? 0 : (attempt * 7) % 25);
      if (code === null && existsSync(path.join(onlineDir(project), 'online.sqlite'))) {
        const store = OnlineStore.open(onlineDir(project), { readonly: true });
        partial.push(store.readCheckpoint('events')?.checkpoint.nextSeq ?? 0);
        store.close();
      } else if (code === null) partial.push(0);
    }
    expect(code).toBe(0);
    // at least one kill landed in the middle of the stream, after some checkpoints
    expect(
      partial.some((n) => n > 0 && n < 12000),
      `checkpoints at the kills: ${partial}`,
    ).toBe(true);

    const ats = [
      Date.UTC(2025, 2, 29, 6),
      Date.UTC(2025, 2, 30, 1, 30),
      Date.UTC(2025, 2, 31, 23),
      Date.UTC(2025, 3, 9),
    ];
    expect(await onlineSnapshot(killed, ats)).toEqual(await onlineSnapshot(whole, ats));
    expect(await offlineRows(killed)).toEqual(await offlineRows(whole));
    for (const f of ['late/events.jsonl', 'dead-letters/events.jsonl']) {
      expect(readFileSync(path.join(killed, '.asof/online', f), 'utf8')).toBe(
        readFileSync(path.join(whole, '.asof/online', f), 'utf8'),
      );
    }
  }, 150_000);
});
