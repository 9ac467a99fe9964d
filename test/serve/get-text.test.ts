// A single GET's answer is written as JSON text straight from the state (src/serve/fold.ts) with the
// fixed parts of a view and read time kept between requests: the text is the JSON of the same
// answer, fields in their order, values equal to `asof get`'s, for entities read alternately at
// alternating read times (nothing carried from one read to the next), and a commit by the stream
// is seen by the next GET (values and freshness), as is a new read time.

import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valuesOf } from '../../src/pipeline/online-read.js';
import { onlineDir } from '../../src/pipeline/online-store.js';
import { loadProject } from '../../src/pipeline/project.js';
import { createServer } from '../../src/serve/server.js';
import type { Project } from '../../src/spec/project.js';
import { emptyCheckpoint, OnlineStore } from '../../src/storage/online/sqlite.js';
import { type EntityState, ViewRuntime } from '../../src/stream/state.js';
import { systemClock } from '../../src/time/index.js';
import { makeProject } from '../support/project.js';
import { SPEC } from '../support/stream.js';

const FIELDS = [
  'view',
  'key',
  'at',
  'feature_version',
  'transformation_version',
  'values',
  'source',
  'freshness',
  'age_seconds',
  'stale',
];
const T = (s: string) => Date.parse(s);

describe('single GET answered as text', () => {
  let dir: string;
  let project: Project;
  let rt: ViewRuntime;
  let store: OnlineStore;
  let app: FastifyInstance;
  const states = new Map<string, EntityState>();
  let seq = 0;
  let nextSeq = 0;

  /** Applies events to the entities' states and commits them with the checkpoint's max time. */
  const commit = (events: { user: string; ts: string; amount: number }[]) => {
    let maxTs = 0;
    for (const e of events) {
      const s = states.get(e.user) ?? rt.emptyState();
      const ts = T(e.ts);
      const row = { user_id: e.user, event_ts: ts, amount: e.amount, status: 'ok' };
      if (rt.accepts(row)) rt.apply(s, row, ts, seq);
      seq++;
      states.set(e.user, s);
      maxTs = Math.max(maxTs, ts);
    }
    const users = [...new Set(events.map((e) => e.user))];
    nextSeq += events.length;
    store.commit(
      'events',
      ['v'],
      { ...emptyCheckpoint(), nextSeq, maxTs },
      users.map((key) => ({ view: 'v', key, state: states.get(key) as EntityState })),
      Date.now(),
    );
  };

  const get = async (key: string, at: string) => {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/features/v/${key}?at=${encodeURIComponent(at)}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(res.body) as Record<string, unknown>;
    // one JSON value, fields in the order answers always had
    expect(res.body).toBe(JSON.stringify(body));
    return body;
  };

  beforeAll(async () => {
    dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' });
    project = await loadProject(dir);
    rt = new ViewRuntime(project.views.v as NonNullable<Project['views'][string]>, project.timezone, project);
    store = OnlineStore.open(onlineDir(project));
    commit([
      { user: 'u1', ts: '2025-03-28T10:00:00Z', amount: 10 },
      { user: 'u2', ts: '2025-03-28T11:30:00Z', amount: 2.5 },
      { user: 'u1', ts: '2025-03-28T12:15:00Z', amount: 4 },
      { user: 'u2', ts: '2025-03-29T09:00:00Z', amount: 7 },
    ]);
    app = await createServer(project, { clock: systemClock, env: {} });
  });
  afterAll(async () => {
    await app?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers entities read alternately at alternating read times with their own values', async () => {
    const ats = ['2025-03-28T12:30:00Z', '2025-03-29T10:00:00Z'];
    const answers = new Set<string>();
    for (let round = 0; round < 3; round++) {
      for (const [key, at] of [
        ['u1', ats[round % 2]],
        ['u2', ats[(round + 1) % 2]],
        ['u1', ats[(round + 1) % 2]],
        ['u2', ats[round % 2]],
      ] as [string, string][]) {
        const body = await get(key, at);
        expect(Object.keys(body)).toEqual(FIELDS);
        expect(body).toMatchObject({ view: 'v', key, at: new Date(T(at)).toISOString(), source: 'stream' });
        expect(body.freshness).toBe('2025-03-29T09:00:00.000Z');
        expect(body.values).toEqual(valuesOf(rt, states.get(key) ?? null, T(at)));
        answers.add(JSON.stringify(body.values));
      }
      // an entity the stream lacks: no values, same fields
      const none = await get('nobody', ats[round % 2] as string);
      expect(none.values).toBeNull();
    }
    // u1 and u2 each differ between the two read times
    expect(answers.size).toBe(4);
  });

  it('sees the next commit: new values and freshness at the same read time', async () => {
    const at = '2025-03-30T12:00:00Z';
    const before = await get('u1', at);
    commit([{ user: 'u1', ts: '2025-03-30T11:00:00Z', amount: 100 }]);
    const after = await get('u1', at);
    expect(after.freshness).toBe('2025-03-30T11:00:00.000Z');
    expect(after.values).toEqual(valuesOf(rt, states.get('u1') ?? null, T(at)));
    expect(after.values).not.toEqual(before.values);
    expect((after.values as Record<string, unknown>).sum_1d).toBe(100);
  });
});
