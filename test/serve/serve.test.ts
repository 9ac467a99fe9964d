// `asof serve` end to end: a real stream fed through `asof stream --source stdin`, a batch view
// built and published, then the real HTTP server (in-process and via the CLI) checked against
// `asof get`, and every error: 400, 401, 403, 404, 413, 429, plus the metrics it exposes.

import { spawn } from 'node:child_process';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { createServer } from '../../src/serve/server.js';
import { parseProjectYaml } from '../../src/spec/parse.js';
import type { Project } from '../../src/spec/project.js';
import { systemClock } from '../../src/time/index.js';
import { makeProject, REPO_ROOT, runCli } from '../support/project.js';
import { ARGS, events, SPEC } from '../support/stream.js';

const READ = 'read-token-123';
const ADMIN = 'admin-token-456';
const ENV = { ASOF_T_READ: READ, ASOF_T_ADMIN: ADMIN };

const SERVE_SPEC = `${SPEC.replace(
  `    where: "status <> 'fail'"\n`,
  `    where: "status <> 'fail'"\n    checks: [{ freshness: { max_age: 6h } }]\n`,
).replace(
  'entities:\n',
  `  purchases:
    path: data/purchases.csv
    timestamp: ts
    columns: { user_id: string, ts: timestamp, price: double }
entities:
`,
)}  b:
    entity: user
    source: purchases
    features:
      spend_7d: { agg: sum, column: price, window: 7d }
      n_all: { agg: count, window: all }
serve:
  tokens:
    - { name: reader, token_env: ASOF_T_READ, scopes: [read] }
    - { name: ops, token_env: ASOF_T_ADMIN, scopes: [read, admin] }
`;

const PURCHASES = [
  'user_id,ts,price',
  'u1,2025-03-20T10:00:00Z,10.5',
  'u1,2025-03-27T10:00:00Z,4',
  'u2,2025-03-25T08:00:00Z,7.25',
  'u3,2025-03-29T08:00:00Z,99',
].join('\n');

const auth = (t: string) => ({ authorization: `Bearer ${t}` });

/** A response body as the tests look at it (the assertions check its shape). */
interface Body {
  [field: string]: unknown;
  values: Record<string, unknown> | null;
  error?: string;
  stale?: boolean;
  age_seconds?: number;
  stale_reason?: string;
  freshness?: string;
  views: Record<string, { stale: boolean }>;
  entities: { key: string; values: Record<string, unknown>; views: Record<string, { stale: boolean }> }[];
}

async function json(r: Response | Promise<Response>): Promise<Body> {
  return (await (await r).json()) as Body;
}

describe('asof serve', () => {
  let dir: string;
  let project: Project;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    dir = makeProject({
      'asof.yaml': SERVE_SPEC,
      'data/events.csv': 'user_id,event_ts,amount,status\n',
      'data/purchases.csv': `${PURCHASES}\n`,
    });
    const s = await runCli([...ARGS, '--project', dir], { input: `${events(3000, 7).join('\n')}\n` });
    expect(s.code, s.stderr).toBe(0);
    const b = await runCli(['build', '--as-of', '2025-03-28', '--view', 'b', '--project', dir]);
    expect(b.code, b.stderr).toBe(0);
    project = await loadProject(dir);
    app = await createServer(project, { clock: systemClock, env: ENV });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
  });

  it('GET serves what `asof get` computes for the same read time, with versions and freshness', async () => {
    const view = project.views.v;
    for (const at of ['2025-03-28T18:00:00Z', '2025-03-29T00:30:00Z']) {
      for (const key of ['u1', 'u7', 'nobody']) {
        const cli = await runCli(['get', '--view', 'v', '--key', key, '--at', at, '--project', dir]);
        expect(cli.code, cli.stderr).toBe(0);
        const res = await fetch(`${base}/v1/features/v/${key}?at=${encodeURIComponent(at)}`, {
          headers: auth(READ),
        });
        expect(res.status).toBe(200);
        const body = await json(res);
        expect(body.values).toEqual(JSON.parse(cli.stdout).values);
        expect(body).toMatchObject({
          view: 'v',
          key,
          source: 'stream',
          feature_version: 1,
          transformation_version: view?.transformationVersion,
          stale: false,
        });
        expect(body.freshness).toMatch(/^2025-03-29T/);
      }
    }
    const some = await json(
      fetch(`${base}/v1/features/v/u1?at=2025-03-29T00:30:00Z`, { headers: auth(READ) }),
    );
    expect(some.values).not.toBeNull();
    // far after the last event: the 6h freshness bound is exceeded, and the response says so
    const late = await json(
      fetch(`${base}/v1/features/v/u1?at=2025-04-05T00:00:00Z`, { headers: auth(READ) }),
    );
    expect(late.stale).toBe(true);
    expect(late.age_seconds).toBeGreaterThan(6 * 3600);
    expect(late.stale_reason).toMatch(/freshness bound/);
  });

  it('POST /v1/features answers a batch like single GETs', async () => {
    const at = '2025-03-29T00:30:00Z';
    const keys = ['u1', 'u2', 'u3', 'nobody'];
    const res = await fetch(`${base}/v1/features`, {
      method: 'POST',
      headers: { ...auth(READ), 'content-type': 'application/json' },
      body: JSON.stringify({ entities: keys, features: ['v:sum_1d', 'v:n_1h', 'b:spend_7d'], at }),
    });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.entities).toHaveLength(4);
    expect(Object.keys(body.views)).toEqual(['v', 'b']);
    for (const [i, key] of keys.entries()) {
      const single = await json(fetch(`${base}/v1/features/v/${key}?at=${at}`, { headers: auth(READ) }));
      const e = body.entities[i] as Body['entities'][number];
      expect(e.key).toBe(key);
      expect(e.values['v:sum_1d']).toEqual(single.values?.sum_1d ?? null);
      expect(e.values['v:n_1h']).toEqual(single.values?.n_1h ?? null);
      expect(e.views.v?.stale).toBe(false);
      // b is not published yet: said so, not silently empty
      expect(e.views.b).toMatchObject({ source: 'none', stale: true });
      expect(e.values['b:spend_7d']).toBeNull();
    }
    // batch limits: 1000 keys pass, 1001 are refused naming the field
    const many = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    const ok = await fetch(`${base}/v1/features`, {
      method: 'POST',
      headers: { ...auth(READ), 'content-type': 'application/json' },
      body: JSON.stringify({ entities: many, features: ['v:n_1h'], at }),
    });
    expect(ok.status).toBe(200);
    expect((await json(ok)).entities).toHaveLength(1000);
    const tooMany = await fetch(`${base}/v1/features`, {
      method: 'POST',
      headers: { ...auth(READ), 'content-type': 'application/json' },
      body: JSON.stringify({ entities: [...many, 'x'], features: ['v:n_1h'] }),
    });
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).error).toMatch(/entities/);
  });

  it('publish loads a batch view into the store, idempotently, and serve answers it', async () => {
    const p1 = await runCli(['publish', '--view', 'b', '--project', dir]);
    expect(p1.code, p1.stderr).toBe(0);
    expect(p1.stdout).toMatch(/b as of 2025-03-28: 2 entities published/);
    const p2 = await runCli(['publish', '--view', 'b', '--as-of', '2025-03-28', '--project', dir]);
    expect(p2.code, p2.stderr).toBe(0);
    expect(p2.stdout).toMatch(/already published \(unchanged\)/);

    const shown = await showPartition(project, 'b', '2025-03-28');
    const names = shown.result.columns.map((c) => c.name);
    for (const row of shown.result.rows) {
      const key = String(row[names.indexOf('user_id')]);
      const res = await fetch(`${base}/v1/features/b/${key}`, { headers: auth(READ) });
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body).toMatchObject({ view: 'b', key, source: 'batch', as_of_date: '2025-03-28' });
      expect(body.values?.spend_7d).toBeCloseTo(Number(row[names.indexOf('spend_7d')]), 9);
      expect(body.values?.n_all).toBe(Number(row[names.indexOf('n_all')]));
    }
    // u1 by hand: the 7d window of 2025-03-28 is [03-22, 03-29): 4 (10.5 is older); u3's event is after it
    const u1 = await json(fetch(`${base}/v1/features/b/u1`, { headers: auth(READ) }));
    expect(u1.values).toEqual({ spend_7d: 4, n_all: 2 });
    const u3 = await json(fetch(`${base}/v1/features/b/u3`, { headers: auth(READ) }));
    expect(u3.values).toBeNull();
  }, 60_000);

  it('refuses bad requests with the right status and a clear JSON error', async () => {
    const get = (p: string, headers: Record<string, string> = auth(READ)) =>
      fetch(`${base}${p}`, { headers });
    let r = await get('/v1/features/nope/u1');
    expect(r.status).toBe(404);
    expect((await json(r)).error).toBe("unknown view 'nope'");
    r = await get('/v1/features/v/u1?at=not-a-time');
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/at 'not-a-time' is not a timestamp/);
    r = await get('/v1/features/..%2F..%2Fetc/passwd');
    expect(r.status).toBe(400);
    r = await get(`/v1/features/v/${'k'.repeat(300)}`);
    expect(r.status).toBe(400);
    r = await get('/v1/features/v/u1', {});
    expect(r.status).toBe(401);
    expect(await json(r)).toEqual({ error: 'unauthorized' });
    r = await get('/v1/features/v/u1', auth('wrong'));
    expect(r.status).toBe(401);
    r = await get('/metrics');
    expect(r.status).toBe(403);
    expect(await json(r)).toEqual({ error: 'forbidden' });
    const post = (body: string) =>
      fetch(`${base}/v1/features`, {
        method: 'POST',
        headers: { ...auth(READ), 'content-type': 'application/json' },
        body,
      });
    r = await post(JSON.stringify({ entities: ['u1'], features: ['v:nope'] }));
    expect(r.status).toBe(404);
    expect((await json(r)).error).toBe("unknown feature 'nope' of view 'v'");
    r = await post(JSON.stringify({ entities: ['u1'], features: ['v:n_1h'], extra: 1 }));
    expect(r.status).toBe(400);
    r = await post(JSON.stringify({ entities: 'u1', features: ['v:n_1h'] }));
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatch(/entities/);
    r = await post(
      JSON.stringify({ entities: ['x'.repeat(2000)], features: ['v:n_1h'], pad: 'y'.repeat(1_100_000) }),
    );
    expect(r.status).toBe(413);
  });

  it('dashboard data routes need a read token when reads do; the page itself holds no data and is open', async () => {
    for (const route of ['overview', 'partitions', 'quality', 'streaming', 'runs', 'lineage', 'dictionary']) {
      const none = await fetch(`${base}/api/${route}`);
      expect(none.status, route).toBe(401);
      expect(await none.text()).not.toMatch(/user_id|spend_7d/);
      expect((await fetch(`${base}/api/${route}`, { headers: auth('forged') })).status, route).toBe(401);
    }
    const ok = await fetch(`${base}/api/overview`, { headers: auth(READ) });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { views: { name: string }[] }).views.map((v) => v.name)).toContain('b');
    expect((await fetch(`${base}/api/lineage`, { headers: auth(ADMIN) })).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(200);
  });

  it('limits the rate per client with 429', async () => {
    let t = Date.UTC(2025, 3, 1);
    const limited = await createServer(
      { ...project, serve: { tokens: [], readRequiresToken: false, rateLimit: { perSecond: 3 } } },
      { clock: { now: () => t }, env: {} },
    );
    const url = await limited.listen({ port: 0, host: '127.0.0.1' });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await fetch(`${url}/v1/features/v/u1`)).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      t += 1000; // a second later the bucket has refilled
      expect((await fetch(`${url}/v1/features/v/u1`)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('exposes request counts, latency histograms and the stream metrics', async () => {
    const r = await fetch(`${base}/metrics`, { headers: auth(ADMIN) });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toMatch(
      /asof_serve_requests_total\{method="GET",route="\/v1\/features\/:view\/:key",status="200"\} \d+/,
    );
    expect(text).toMatch(/asof_serve_requests_total\{method="POST",route="\/v1\/features",status="413"\} 1/);
    expect(text).toMatch(
      /asof_serve_request_duration_seconds_bucket\{method="GET",route="\/v1\/features\/:view\/:key",le="0.001"\} \d+/,
    );
    expect(text).toMatch(/asof_stream_events_accepted_total\{source="events"\} \d+/);
    expect(text).toMatch(/^asof_serve_state_cache_hits_total \d+$/m);
    expect(text).toMatch(/^asof_serve_state_cache_misses_total [1-9]\d*$/m);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('keeps serve settings out of the transformation_version', () => {
    const without = SERVE_SPEC.slice(0, SERVE_SPEC.indexOf('serve:\n'));
    const a = parseProjectYaml(SERVE_SPEC, path.join(dir, 'asof.yaml'), dir);
    const b = parseProjectYaml(without, path.join(dir, 'asof.yaml'), dir);
    expect(a.serve?.tokens.map((t) => t.name)).toEqual(['reader', 'ops']);
    expect(a.serve?.readRequiresToken).toBe(true);
    expect(b.serve).toBeUndefined();
    expect(a.views.v?.transformationVersion).toBe(b.views.v?.transformationVersion);
    expect(a.views.b?.transformationVersion).toBe(b.views.b?.transformationVersion);
  });

  it('runs from the CLI and stops gracefully on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'asof.js'), 'serve', '--port', '0', '--project', dir],
      { env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        err += d;
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1] as string);
      });
      child.on('close', () => reject(new Error(err)));
    });
    const res = await fetch(`${url}/v1/features/v/u1?at=2025-03-29T00:30:00Z`, { headers: auth(READ) });
    expect(res.status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(err).toMatch(/stopped/);
  }, 30_000);
});
