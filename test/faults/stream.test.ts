// Faults of `asof stream`: killed just before a checkpoint commit (the offline batch and logs are
// written, the state is not), just after it (the online upsert and checkpoint committed, the source
// not yet acknowledged), repeatedly at random checkpoints; a Redis consumer killed between receiving
// and acknowledging; and far-future event times beyond the source's max_clock_skew. Each run must
// end with the online values, offline rows and logs of an uninterrupted run.

import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAsofError } from '../../src/errors.js';
import { parseProjectYaml } from '../../src/spec/parse.js';
import { runWithCommitFault, seeded } from '../support/faults.js';
import { makeProject, runCli, tempDir } from '../support/project.js';
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

const ATS = [Date.UTC(2025, 2, 28, 20), Date.UTC(2025, 2, 30, 3), Date.UTC(2025, 3, 2)];
const N = 6000;
const INPUT = `${events(N, 21).join('\n')}\n`;

function logs(dir: string): string[] {
  return ['late/events.jsonl', 'dead-letters/events.jsonl'].map((f) => {
    try {
      return readFileSync(path.join(dir, '.asof/online', f), 'utf8');
    } catch {
      return '';
    }
  });
}

async function sameAsWhole(dir: string, whole: string): Promise<void> {
  expect(await onlineSnapshot(dir, ATS)).toEqual(await onlineSnapshot(whole, ATS));
  expect(await offlineRows(dir)).toEqual(await offlineRows(whole));
  expect(logs(dir)).toEqual(logs(whole));
}

describe('stream faults', () => {
  let base: string;
  let whole: string;
  const copy = () => {
    const d = tempDir();
    cpSync(base, d, { recursive: true });
    return d;
  };
  beforeAll(async () => {
    base = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
    whole = copy();
    expect(await runKillable(whole, INPUT)).toBe(0);
  }, 120_000);

  it.each(['before', 'after'] as const)(
    'killed %s a checkpoint commit (at seeded random commits): no duplicate offline row, same online values',
    async (when) => {
      const rnd = seeded(when === 'before' ? 5 : 6);
      for (let i = 0; i < 2; i++) {
        const n = 2 + Math.floor(rnd() * 15);
        const dir = copy();
        expect(await runWithCommitFault([...ARGS, '--project', dir], { when, n }, INPUT)).toBeNull();
        const at = checkpointed(dir);
        // 'before': the n-th commit never happened; 'after': it did
        expect(at, `checkpoint after a kill ${when} commit ${n}`).toBeGreaterThan(0);
        expect(await runKillable(dir, INPUT)).toBe(0);
        await sameAsWhole(dir, whole);
      }
    },
    150_000,
  );

  it('repeated kill -9 at seeded random checkpoints ends like an uninterrupted run', async () => {
    const rnd = seeded(77);
    const dir = copy();
    const kills = Array.from({ length: 4 }, () => 1 + Math.floor(rnd() * (N - 600))).sort((a, b) => a - b);
    let code: number | null = null;
    for (let attempt = 0; attempt < 10 && code !== 0; attempt++) {
      code = await runKillable(dir, INPUT, kills[attempt], Math.floor(rnd() * 25));
    }
    expect(code).toBe(0);
    await sameAsWhole(dir, whole);
  }, 150_000);

  it('far-future event times beyond max_clock_skew are rejected and counted, and move no watermark', async () => {
    const lines = events(2000, 3);
    const future = (i: number) =>
      JSON.stringify({
        user_id: `u${i}`,
        event_ts: `2099-01-0${1 + (i % 9)}T00:00:00Z`,
        amount: 1,
        status: 'ok',
      });
    const withFuture = lines.flatMap((l, i) => (i % 250 === 100 ? [future(i), l] : [l]));
    const injected = withFuture.length - lines.length;
    const skewSpec = SPEC.replace(
      '    allowed_lateness: 2h\n',
      '    allowed_lateness: 2h\n    max_clock_skew: 1h\n',
    );
    const mk = (spec: string) =>
      makeProject({ 'asof.yaml': spec, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
    const clean = mk(skewSpec);
    const guarded = mk(skewSpec);
    const unguarded = mk(SPEC);
    expect((await runCli([...ARGS, '--project', clean], { input: `${lines.join('\n')}\n` })).code).toBe(0);
    const g = await runCli([...ARGS, '--project', guarded], { input: `${withFuture.join('\n')}\n` });
    expect(g.code, g.stderr).toBe(0);
    expect(
      (await runCli([...ARGS, '--project', unguarded], { input: `${withFuture.join('\n')}\n` })).code,
    ).toBe(0);

    const snap = async (d: string) => {
      const s = await onlineSnapshot(d, ATS);
      const c = s.__checkpoint as { counters: Record<string, number> };
      delete s.__checkpoint;
      return { values: s, counters: c.counters };
    };
    const a = await snap(clean);
    const b = await snap(guarded);
    const c = await snap(unguarded);
    expect(b.values).toEqual(a.values);
    expect(b.counters.dead).toBe((a.counters.dead ?? 0) + injected);
    expect(b.counters.late).toBe(a.counters.late);
    const dead =
      logs(guarded)[1]
        ?.split('\n')
        .filter((l) => l.includes('beyond max_clock_skew')) ?? [];
    expect(dead).toHaveLength(injected);
    expect(dead[0]).toContain('column event_ts: event time 2099-01-');
    // without the limit, the first far-future event drags the watermark to 2099: the rest is late
    expect(c.counters.late).toBeGreaterThan((a.counters.late ?? 0) + 1000);
  }, 120_000);

  it('max_clock_skew is checked where it is written and is metadata (no version change)', () => {
    const parse = (text: string) => parseProjectYaml(text, '/tmp/s/asof.yaml', '/tmp/s');
    const plain = parse(SPEC);
    const skewed = parse(
      SPEC.replace('    allowed_lateness: 2h\n', '    allowed_lateness: 2h\n    max_clock_skew: 1d\n'),
    );
    expect(skewed.sources.events?.maxClockSkew).toEqual({ kind: 'days', n: 1 });
    expect(skewed.views.v?.transformationVersion).toBe(plain.views.v?.transformationVersion);
    let err: unknown;
    try {
      parse(
        SPEC.replace('    allowed_lateness: 2h\n', '    allowed_lateness: 2h\n    max_clock_skew: soon\n'),
      );
    } catch (e) {
      err = e;
    }
    expect(isAsofError(err) && err.exitCode).toBe(2);
    expect(isAsofError(err) && err.describe()).toMatch(
      /sources\.events\.max_clock_skew: 'soon' is not a duration/,
    );
  });

  describe('a Redis consumer killed between receiving and acknowledging', () => {
    let redis: RunningServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('redelivers the unacknowledged events: none lost, none doubled', async () => {
      const client = createClient({ url: redis.url });
      await client.connect();
      const lines = INPUT.trim().split('\n');
      for (let i = 0; i < lines.length; i += 500) {
        await Promise.all(lines.slice(i, i + 500).map((l) => client.xAdd('events', '*', { data: l })));
      }
      const dir = copy();
      const args = [
        ...ARGS.map((a) => (a === 'stdin' ? `${redis.url}/events` : a)),
        '--once',
        '--project',
        dir,
      ];
      // received and applied in memory, killed before the checkpoint commit and the XACK
      expect(await runWithCommitFault(args, { when: 'before', n: 4 })).toBeNull();
      const pending = (await client.xPending('events', 'asof')) as { pending: number };
      expect(pending.pending, 'events received but not acknowledged').toBeGreaterThan(0);
      // committed, killed before the XACK
      expect(await runWithCommitFault(args, { when: 'after', n: 3 })).toBeNull();
      expect(await runKillable(dir, '', undefined, 0, args.slice(0, -2))).toBe(0);
      expect(((await client.xPending('events', 'asof')) as { pending: number }).pending).toBe(0);
      await client.quit();
      await sameAsWhole(dir, whole);
      const accepted = ((await onlineSnapshot(whole, ATS)).__checkpoint as { counters: { accepted: number } })
        .counters.accepted;
      expect((await offlineRows(dir)).length).toBe(accepted);
    }, 150_000);
  });
});
