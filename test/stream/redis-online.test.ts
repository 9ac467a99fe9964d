// The Redis online store (`online: { type: redis, url }`) against a real redis-server: a stream
// into Redis gives exactly the states, checkpoint and `asof get` values of the embedded store;
// killed with -9 and restarted it ends the same; a write never moves a state back; `asof publish`
// and `asof serve` (with `--stream` ingest too) read and write the same Redis store.

import { spawn } from 'node:child_process';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOnline } from '../../src/pipeline/online-read.js';
import { loadProject } from '../../src/pipeline/project.js';
import { createServer } from '../../src/serve/server.js';
import { RedisOnline } from '../../src/storage/online/redis.js';
import { emptyCheckpoint, OnlineStore } from '../../src/storage/online/sqlite.js';
import { onlineDir } from '../../src/stream/job.js';
import { emptyState } from '../../src/stream/state.js';
import { systemClock } from '../../src/time/index.js';
import { makeProject, REPO_ROOT, runCli } from '../support/project.js';
import { type RunningServer, startRedis } from '../support/redis.js';
import { ARGS, events, SPEC } from '../support/stream.js';

const PURCHASES_SOURCE = `  purchases:
    path: data/purchases.csv
    timestamp: ts
    columns: { user_id: string, ts: timestamp, price: double }
entities:
`;
const BATCH_VIEW = `  b:
    entity: user
    source: purchases
    features:
      spend_7d: { agg: sum, column: price, window: 7d }
      n_all: { agg: count, window: all }
`;
const FILES = {
  'data/events.csv': 'user_id,event_ts,amount,status\n',
  'data/purchases.csv':
    'user_id,ts,price\nu1,2025-03-20T10:00:00Z,10.5\nu1,2025-03-27T10:00:00Z,4\nu2,2025-03-25T08:00:00Z,7.25\n',
};
const specWith = (online: string) => `${SPEC.replace('entities:\n', PURCHASES_SOURCE)}${BATCH_VIEW}${online}`;
const ATS = ['2025-03-28T18:00:00Z', '2025-03-29T00:30:00Z', '2025-03-30T12:00:00Z'].map((t) =>
  Date.parse(t),
);
const KEYS = Array.from({ length: 50 }, (_, i) => `u${i}`);

let redis: RunningServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function redisStates(url: string, prefix: string) {
  const r = await RedisOnline.open(url, prefix);
  try {
    return { states: await r.loadStates('v'), checkpoint: (await r.readCheckpoint('events'))?.checkpoint };
  } finally {
    await r.close();
  }
}

function embeddedStates(project: Awaited<ReturnType<typeof loadProject>>) {
  const s = OnlineStore.open(onlineDir(project), { readonly: true });
  try {
    return { states: s.loadStates('v'), checkpoint: s.readCheckpoint('events')?.checkpoint };
  } finally {
    s.close();
  }
}

/** The checkpoint without what depends on checkpoint timing (log sizes are per run, compaction horizon). */
const comparable = (c: object | undefined) => ({ ...c, lateBytes: 0, deadBytes: 0, exactFrom: 0 });

describe('online: { type: redis }', () => {
  it('streams into Redis with the states, checkpoint and asof get values of the embedded store', async () => {
    const input = `${events(3000, 7).join('\n')}\n`;
    const emb = makeProject({ 'asof.yaml': specWith(''), ...FILES });
    const red = makeProject({
      'asof.yaml': specWith(`online: { type: redis, url: '${redis.url}', prefix: 'asof:a:' }\n`),
      ...FILES,
    });
    for (const d of [emb, red]) {
      const r = await runCli([...ARGS, '--project', d], { input });
      expect(r.code, r.stderr).toBe(0);
    }
    const ep = await loadProject(emb);
    const rp = await loadProject(red);
    const e = embeddedStates(ep);
    const r = await redisStates(redis.url, 'asof:a:');
    expect(r.states.size).toBeGreaterThan(40);
    expect(r.states).toEqual(e.states);
    expect(comparable(r.checkpoint)).toEqual(comparable(e.checkpoint));
    for (const at of ATS) {
      for (const key of [...KEYS.slice(0, 10), 'nobody']) {
        expect((await getOnline(rp, 'v', key, at)).values).toEqual(
          (await getOnline(ep, 'v', key, at)).values,
        );
      }
    }
    const cli = await runCli([
      'get',
      '--view',
      'v',
      '--key',
      'u3',
      '--at',
      '2025-03-29T00:30:00Z',
      '--project',
      red,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).values).toEqual((await getOnline(ep, 'v', 'u3', ATS[1] as number)).values);

    // a replay of everything changes nothing
    const again = await runCli([...ARGS, '--project', red], { input });
    expect(again.code, again.stderr).toBe(0);
    expect((await redisStates(redis.url, 'asof:a:')).states).toEqual(e.states);
  }, 180_000);

  it('is exactly once when killed with -9 and restarted', async () => {
    const lines = events(6000, 9);
    const input = `${lines.join('\n')}\n`;
    const emb = makeProject({ 'asof.yaml': specWith(''), ...FILES });
    const ok = await runCli([...ARGS, '--project', emb], { input });
    expect(ok.code, ok.stderr).toBe(0);
    const red = makeProject({
      'asof.yaml': specWith(`online: { type: redis, url: '${redis.url}', prefix: 'asof:k:' }\n`),
      ...FILES,
    });
    // checkpoints live in Redis: kill once one has passed 2000 events (polled through Redis)
    const probe = await RedisOnline.open(redis.url, 'asof:k:');
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'asof.js'), ...ARGS, '--project', red],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    child.stdin.on('error', () => {});
    const exit = new Promise<string | null>((resolve) => child.on('close', (_c, signal) => resolve(signal)));
    // fed slowly, so that the kill lands while events still arrive
    void (async () => {
      for (let i = 0; i < lines.length && child.exitCode === null && !child.killed; i += 200) {
        child.stdin.write(`${lines.slice(i, i + 200).join('\n')}\n`);
        await new Promise((r) => setTimeout(r, 15));
      }
      child.stdin.end();
    })();
    for (;;) {
      const c = await probe.readCheckpoint('events');
      if ((c?.checkpoint.nextSeq ?? 0) >= 2000) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');
    const cut = (await probe.readCheckpoint('events'))?.checkpoint.nextSeq ?? 0;
    expect(cut).toBeLessThan(lines.length);
    await probe.close();
    const rest = await runCli([...ARGS, '--project', red], { input });
    expect(rest.code, rest.stderr).toBe(0);
    const e = embeddedStates(await loadProject(emb));
    const r = await redisStates(redis.url, 'asof:k:');
    expect(r.states).toEqual(e.states);
    expect(comparable(r.checkpoint)).toEqual(comparable(e.checkpoint));
  }, 180_000);

  it('never moves a state back, and publish and serve use the same Redis store', async () => {
    const store = await RedisOnline.open(redis.url, 'asof:m:');
    const newer = { ...emptyState(3), seq: 10, first: 1, tail: [1, 10, 5] };
    const older = { ...emptyState(3), seq: 4, first: 1, tail: [1, 4, 1] };
    const ck = { ...emptyCheckpoint(), nextSeq: 11 };
    await store.commit('events', ['v'], ck, [{ view: 'v', key: 'k', state: newer }], 0);
    await store.commit('events', ['v'], ck, [{ view: 'v', key: 'k', state: older }], 0);
    expect(await store.getState('v', 'k')).toEqual(newer);
    await store.close();

    const dir = makeProject({
      'asof.yaml': specWith(`online: { type: redis, url_env: ASOF_T_REDIS, prefix: 'asof:p:' }\n`),
      ...FILES,
    });
    const env = { ASOF_T_REDIS: redis.url };
    const s = await runCli([...ARGS, '--project', dir], { input: `${events(2000, 3).join('\n')}\n`, env });
    expect(s.code, s.stderr).toBe(0);
    const b = await runCli(['build', '--as-of', '2025-03-28', '--view', 'b', '--project', dir], { env });
    expect(b.code, b.stderr).toBe(0);
    const p1 = await runCli(['publish', '--view', 'b', '--project', dir], { env });
    expect(p1.code, p1.stderr).toBe(0);
    expect(p1.stdout).toMatch(/2 entities published/);
    const p2 = await runCli(['publish', '--view', 'b', '--project', dir], { env });
    expect(p2.stdout).toMatch(/already published/);
    const project = await loadProject(dir);
    const app: FastifyInstance = await createServer(project, { clock: systemClock, env });
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const at = '2025-03-29T00:30:00Z';
      const v = (await (await fetch(`${base}/v1/features/v/u1?at=${at}`)).json()) as Record<string, unknown>;
      expect(v.source).toBe('stream');
      process.env.ASOF_T_REDIS = redis.url;
      expect(v.values).toEqual((await getOnline(project, 'v', 'u1', Date.parse(at))).values);
      expect(v.values).not.toBeNull();
      const bv = (await (await fetch(`${base}/v1/features/b/u1?at=2025-03-29T00:00:00Z`)).json()) as Record<
        string,
        unknown
      >;
      expect(bv).toMatchObject({
        source: 'batch',
        as_of_date: '2025-03-28',
        values: { spend_7d: 4, n_all: 2 },
      });
    } finally {
      await app.close();
      delete process.env.ASOF_T_REDIS;
    }
  }, 180_000);

  it('ingests over HTTP into the Redis store (asof serve --stream) and serves what asof get reads', async () => {
    const online = `online: { type: redis, url: '${redis.url}', prefix: 'asof:h:' }\n`;
    const tokens = 'serve:\n  tokens:\n    - { name: f, token_env: ASOF_T_ING, scopes: [ingest, read] }\n';
    const dir = makeProject({ 'asof.yaml': `${specWith(online)}${tokens}`, ...FILES });
    const project = await loadProject(dir);
    const lines = events(600, 21);
    const app: FastifyInstance = await createServer(project, {
      clock: systemClock,
      env: { ASOF_T_ING: 'feed-me' },
      stream: { views: [project.views.v as NonNullable<typeof project.views.v>] },
    });
    try {
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const headers = { authorization: 'Bearer feed-me', 'content-type': 'application/x-ndjson' };
      const r = await fetch(`${base}/v1/ingest/events`, { method: 'POST', headers, body: lines.join('\n') });
      const body = (await r.json()) as { received: number; accepted: number };
      expect(r.status).toBe(200);
      expect(body.received).toBe(600);
      expect(body.accepted).toBeGreaterThan(500);
      const at = '2025-03-28T06:00:00Z';
      const served = (await (
        await fetch(`${base}/v1/features/v/u1?at=${at}`, { headers: { authorization: 'Bearer feed-me' } })
      ).json()) as { values: unknown; source: string };
      expect(served.source).toBe('stream');
      expect(served.values).not.toBeNull();
      expect(served.values).toEqual((await getOnline(project, 'v', 'u1', Date.parse(at))).values);
    } finally {
      await app.close();
    }
    // the state is in Redis, not in an embedded file
    const r = await redisStates(redis.url, 'asof:h:');
    expect(r.checkpoint?.nextSeq).toBe(600);
    expect(r.states.size).toBeGreaterThan(40);
  }, 120_000);
});
