// Serving benchmark: 100k users' transactions (src/gen) streamed into the embedded online store,
// then `asof serve` (the CLI, its own process) loaded at fixed rates with keep-alive HTTP: single
// GETs, 100-key batches, the no-op floor (/healthz of the same server), a raw Redis GET, and single
// GETs with the Redis online store (the same events streamed into a local redis-server).
// Run: npm run build && npm run bench -- serve [--events N] [--users N] [--seconds N] [--rates 1000,5000]

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DuckDbEngine } from '../src/engines/duckdb/engine.js';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';
import { OnlineStore } from '../src/storage/online/sqlite.js';
import { onlineDir, runStream } from '../src/stream/job.js';
import type { SourceRecord, StreamSource } from '../src/stream/sources.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    users: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '5' },
    rates: { type: 'string', default: '1000,5000' },
    'batch-rates': { type: 'string', default: '100,500' },
    /** Rates of single GETs against the same view in the Redis online store (empty: skip). */
    'redis-rates': { type: 'string', default: '1000' },
  },
});
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AT = '2025-06-30T12:00:00Z';

const VIEW = {
  entity: 'user',
  source: 'transactions',
  where: "status = 'success'",
  features: {
    avg_amount_7d: { agg: 'avg', column: 'amount', window: '7d' },
    purchases_30d: { agg: 'count', window: '30d' },
    sum_amount_30d: { agg: 'sum', column: 'amount', window: '30d' },
    max_amount_7d: { agg: 'max', column: 'amount', window: '7d' },
    active_24h: { agg: 'exists', window: '24h' },
  },
};

function memorySource(lines: string[]): StreamSource {
  return {
    description: 'memory',
    async *batches(from) {
      for (let i = from; i < lines.length; ) {
        const now = performance.now();
        const out: SourceRecord[] = [];
        for (const end = Math.min(lines.length, i + 5000); i < end; i++) {
          out.push({ seq: i, text: lines[i] as string, received: now });
        }
        yield out;
      }
    },
    ack: async () => {},
    close: async () => {},
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const pct = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;

/** Open-loop load at a fixed rate over keep-alive sockets; latency from send to full response. */
async function load(
  port: number,
  rate: number,
  seconds: number,
  request: (i: number) => { method: string; path: string; body?: string },
): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const lat: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const r = request(i);
    pending.push(
      new Promise<void>((resolve) => {
        const start = performance.now();
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: r.method,
            path: r.path,
            agent,
            headers: r.body ? { 'content-type': 'application/json' } : {},
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode !== 200) errors++;
              lat.push(performance.now() - start);
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end(r.body);
      }),
    );
  }
  await Promise.all(pending);
  const achieved = total / ((performance.now() - t0) / 1000);
  agent.destroy();
  lat.sort((a, b) => a - b);
  return `p50 ${pct(lat, 0.5).toFixed(3)} ms, p99 ${pct(lat, 0.99).toFixed(3)} ms, max ${(lat.at(-1) ?? 0).toFixed(1)} ms (${total} requests, achieved ${Math.round(achieved)}/s, ${errors} errors)`;
}

/** `asof serve` (the CLI, its own process) on `port`, once it listens. */
async function startServe(dir: string, port: number): Promise<ReturnType<typeof spawn>> {
  const server = spawn(
    process.execPath,
    [path.join(REPO, 'bin', 'asof.js'), 'serve', '--port', String(port), '--project', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    server.stderr?.on('data', (d) => {
      err += d;
      if (err.includes('listening')) resolve();
    });
    server.on('close', () => reject(new Error(err)));
  });
  return server;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'asof-bench-serve-'));
  let server: ReturnType<typeof spawn> | undefined;
  try {
    await generate({
      out: dir,
      users: Number(values.users),
      events: Number(values.events),
      days: 30,
      endDate: '2025-06-30',
      seed: 1,
      format: 'parquet',
    });
    const specFile = path.join(dir, 'asof.yaml');
    const spec = YAML.parse(readFileSync(specFile, 'utf8')) as Record<string, unknown>;
    spec.views = { bench: VIEW };
    writeFileSync(specFile, YAML.stringify(spec));
    const project = await loadProject(dir);
    const source = project.sources.transactions;
    const view = project.views.bench;
    if (!source || !view) throw new Error('generated spec lacks transactions');
    const engine = await DuckDbEngine.open();
    const cols = Object.keys(source.columns)
      .map((c) => `"${c}"`)
      .join(', ');
    const r = await engine.query(
      `SELECT to_json(t)::VARCHAR FROM (SELECT ${cols} FROM read_parquet('${path.join(dir, source.path)}') ORDER BY "${source.timestamp}") t`,
    );
    await engine.close();
    const lines = r.rows.map((row) => String(row[0]));
    await runStream(project, {
      views: [view],
      source: memorySource(lines),
      checkpointEvents: 50_000,
      checkpointMs: 5_000,
      offlineEvents: 1_000_000,
    });
    const store = OnlineStore.open(onlineDir(project), { readonly: true });
    const keys = store.keys('bench');
    store.close();
    process.stdout.write(
      `serve bench: ${lines.length} events streamed, ${keys.length} entities online (view bench, 5 features), reads at ${AT}\n`,
    );

    const port = await freePort();
    server = await startServe(dir, port);
    const seconds = Number(values.seconds);
    const key = (i: number) => encodeURIComponent(keys[(i * 7919) % keys.length] as string);
    // warm up: JIT and SQLite page cache
    await load(port, 1000, 2, (i) => ({ method: 'GET', path: `/v1/features/bench/${key(i)}?at=${AT}` }));
    for (const rate of values.rates.split(',').map(Number)) {
      const noop = await load(port, rate, seconds, () => ({ method: 'GET', path: '/healthz' }));
      process.stdout.write(`no-op /healthz   at ${rate}/s: ${noop}\n`);
      const get = await load(port, rate, seconds, (i) => ({
        method: 'GET',
        path: `/v1/features/bench/${key(i)}?at=${AT}`,
      }));
      process.stdout.write(`single GET       at ${rate}/s: ${get}\n`);
    }
    for (const rate of values['batch-rates'].split(',').map(Number)) {
      const b = await load(port, rate, seconds, (i) => ({
        method: 'POST',
        path: '/v1/features',
        body: JSON.stringify({
          entities: Array.from({ length: 100 }, (_, j) => decodeURIComponent(key(i * 100 + j))),
          features: Object.keys(VIEW.features).map((f) => `bench:${f}`),
          at: AT,
        }),
      }));
      process.stdout.write(`100-key batch    at ${rate}/s: ${b}\n`);
    }

    // the floor of a network key-value read: redis-benchmark GET against a local redis-server
    const rport = await freePort();
    const redis = spawn('redis-server', ['--port', String(rport), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const redisRates = values['redis-rates']
        .split(',')
        .filter((x) => x !== '')
        .map(Number);
      if (redisRates.length > 0) {
        // the same events and view in the Redis online store (a second project over the same data)
        server.kill('SIGTERM');
        const rdir = mkdtempSync(path.join(tmpdir(), 'asof-bench-serve-redis-'));
        try {
          const rspec = YAML.parse(readFileSync(specFile, 'utf8')) as {
            sources: Record<string, { path: string }>;
            [k: string]: unknown;
          };
          for (const src of Object.values(rspec.sources)) src.path = path.join(dir, src.path);
          rspec.online = { type: 'redis', url: `redis://127.0.0.1:${rport}`, prefix: 'bench:' };
          writeFileSync(path.join(rdir, 'asof.yaml'), YAML.stringify(rspec));
          const rproject = await loadProject(rdir);
          await runStream(rproject, {
            views: [rproject.views.bench as NonNullable<typeof view>],
            source: memorySource(lines),
            checkpointEvents: 50_000,
            checkpointMs: 5_000,
            offlineEvents: 1_000_000,
          });
          const rp = await freePort();
          server = await startServe(rdir, rp);
          await load(rp, 1000, 2, (i) => ({ method: 'GET', path: `/v1/features/bench/${key(i)}?at=${AT}` }));
          for (const rate of redisRates) {
            const get = await load(rp, rate, seconds, (i) => ({
              method: 'GET',
              path: `/v1/features/bench/${key(i)}?at=${AT}`,
            }));
            process.stdout.write(`single GET, Redis online store, at ${rate}/s: ${get}\n`);
          }
        } finally {
          server.kill('SIGTERM');
          rmSync(rdir, { recursive: true, force: true });
        }
      }
      spawnSync('redis-cli', ['-p', String(rport), 'set', 'key:__rand_int__', 'x']);
      const rb = spawnSync(
        'redis-benchmark',
        ['-p', String(rport), '-t', 'get', '-n', '50000', '-c', '8', '--precision', '3', '-q'],
        { encoding: 'utf8' },
      );
      const summary = rb.stdout.split('\r').at(-1)?.trim() ?? '';
      process.stdout.write(`redis GET (redis-benchmark, 8 clients, closed loop): ${summary}\n`);
    } finally {
      redis.kill('SIGTERM');
    }
  } finally {
    server?.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
