// Serving benchmark: 100k users' transactions (src/gen) streamed into the embedded online store,
// then `asof serve` (the CLI, its own process) loaded at fixed rates with keep-alive HTTP: single
// GETs, 100-key batches, the no-op floor (/healthz of the same server), a raw Redis GET, and single
// GETs with the Redis online store (the same events streamed into a local redis-server). Each step
// reports the server's CPU time per request (from /proc) and the load average, so that a run on a
// shared machine still says what a request costs, and the server's scavenges (from its
// --trace-gc-nvp lines); then the state read's cost in-process. The single-GET and /healthz steps
// run again with the generator and the server pinned to different cores (taskset), and against a
// server started with other GC flags (--gc-flags), each with its own floor in the same run.
// Run: npm run build && npm run bench -- serve [--events N] [--users N] [--seconds N] [--rates 1000,5000]
//   [--pin yes|no] [--gc-flags '--max-semi-space-size=2 --single-threaded-gc'] [--data DIR (kept, reused)]

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DuckDbEngine } from '../src/engines/duckdb/engine.js';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';
import { OnlineReader } from '../src/storage/online/reader.js';
import { OnlineStore } from '../src/storage/online/sqlite.js';
import { onlineDir, runStream } from '../src/stream/job.js';
import type { SourceRecord, StreamSource } from '../src/stream/sources.js';
import { formatLoad, httpGet, httpPost, type LoadResult, openLoop } from './support/load.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    users: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '5' },
    rates: { type: 'string', default: '1000,5000' },
    'batch-rates': { type: 'string', default: '100,500' },
    /** Rates of single GETs against the same view in the Redis online store (empty: skip). */
    'redis-rates': { type: 'string', default: '1000' },
    /** A directory to keep the generated project and store in, reused when it already has them. */
    data: { type: 'string' },
    /** Also run the single-GET and /healthz steps with the generator and the server on separate cores. */
    pin: { type: 'string', default: 'yes' },
    /** Node flags of a second `asof serve` process whose single-GET and /healthz steps follow (empty: skip). */
    'gc-flags': { type: 'string', default: '--max-semi-space-size=2 --single-threaded-gc' },
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

/** A comma-separated list of rates; empty skips the steps. */
const rates = (list: string) =>
  list
    .split(',')
    .filter((x) => x !== '')
    .map(Number);

const load1 = () => loadavg()[0]?.toFixed(1) ?? '?';

/** A running `asof serve` and the scavenges its --trace-gc-nvp lines reported so far. */
interface Served {
  child: ReturnType<typeof spawn>;
  port: number;
  /** Pause (ms) and bytes allocated since the previous GC, per scavenge; other GCs' pauses. */
  scavenges: { pause: number; allocated: number }[];
  majors: number[];
}

/** Scavenges during a step: how many per 10k requests, their pauses, bytes allocated per request. */
function gcOf(sv: Served, from: number, majorsFrom: number, requests: number): string {
  const sc = sv.scavenges.slice(from);
  if (sc.length === 0) return 'no scavenge';
  const pauses = sc.map((x) => x.pause).sort((a, b) => a - b);
  const alloc = sc.reduce((n, x) => n + x.allocated, 0);
  const majors = sv.majors.slice(majorsFrom);
  return (
    `${((sc.length * 10_000) / requests).toFixed(1)} scavenges/10k req, pause median ${pauses[pauses.length >> 1]?.toFixed(2)} ms, ` +
    `max ${pauses.at(-1)?.toFixed(2)} ms, ${((pauses.reduce((a, b) => a + b, 0) * 10_000) / requests).toFixed(1)} ms/10k req, ` +
    `~${Math.round(alloc / requests)} B allocated/req` +
    (majors.length > 0 ? `, ${majors.length} mark-compact (max ${Math.max(...majors).toFixed(1)} ms)` : '')
  );
}

/** One load step, printed with the load average before and after it and the server's scavenges. */
async function step(
  label: string,
  sv: Served,
  rate: number,
  seconds: number,
  request: (i: number) => Buffer,
): Promise<LoadResult> {
  const before = load1();
  const s0 = sv.scavenges.length;
  const m0 = sv.majors.length;
  const r = await openLoop({ port: sv.port, rate, seconds, request, serverPid: sv.child.pid });
  // the last scavenge's line may still be in the pipe
  await new Promise((res) => setTimeout(res, 50));
  process.stdout.write(
    `${label.padEnd(40)} at ${rate}/s: ${formatLoad(r)}, load ${before}->${load1()}\n` +
      `    server GC: ${gcOf(sv, s0, m0, r.requests)}\n`,
  );
  return r;
}

/** Pins every thread of a process to `cpus` (taskset -a); false when taskset is missing or refuses. */
function pin(pid: number | undefined, cpus: string): boolean {
  if (pid === undefined) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0;
}

/** CPU µs per call of `f` over `n` calls after `n / 10` warm-up calls. */
function cpuPerCall(n: number, f: (i: number) => unknown): number {
  for (let i = 0; i < n / 10; i++) f(n + i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f(i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/**
 * `asof serve` (the CLI, its own process, with these node flags) on a free port, once it listens;
 * with --trace-gc-nvp, whose one line per GC is parsed from its stdout.
 */
async function startServe(dir: string, nodeFlags: string[] = []): Promise<Served> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      '--trace-gc-nvp',
      path.join(REPO, 'bin', 'asof.js'),
      'serve',
      '--port',
      String(port),
      '--project',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const sv: Served = { child, port, scavenges: [], majors: [] };
  let rest = '';
  // bytes allocated between two GCs: the heap's size before a GC less its size after the previous
  // one (the lines' own `allocated` field is not that with --single-threaded-gc)
  let lastAfter: number | null = null;
  child.stdout?.on('data', (d) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const f = (name: string) => Number(new RegExp(`\\b${name}=([\\d.]+)`).exec(line)?.[1] ?? Number.NaN);
      const gc = /\bgc=(\w+)/.exec(line)?.[1];
      if (gc === undefined) continue;
      const before = f('total_size_before');
      const allocated = lastAfter === null ? 0 : Math.max(0, before - lastAfter);
      lastAfter = f('total_size_after');
      if (gc === 's') sv.scavenges.push({ pause: f('pause'), allocated });
      else sv.majors.push(f('pause'));
    }
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
      if (err.includes('listening')) resolve();
    });
    child.on('close', () => reject(new Error(err)));
  });
  return sv;
}

async function main(): Promise<void> {
  const keep = values.data !== undefined;
  const dir = keep
    ? path.resolve(values.data as string)
    : mkdtempSync(path.join(tmpdir(), 'asof-bench-serve-'));
  let server: ReturnType<typeof spawn> | undefined;
  try {
    if (keep) mkdirSync(dir, { recursive: true });
    const reuse =
      keep && existsSync(path.join(dir, 'asof.yaml')) && existsSync(path.join(dir, '.asof-bench-ready'));
    if (!reuse)
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
    if (!reuse) {
      const spec = YAML.parse(readFileSync(specFile, 'utf8')) as Record<string, unknown>;
      spec.views = { bench: VIEW };
      writeFileSync(specFile, YAML.stringify(spec));
    }
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
    if (!reuse) {
      await runStream(project, {
        views: [view],
        source: memorySource(lines),
        checkpointEvents: 50_000,
        checkpointMs: 5_000,
        offlineEvents: 1_000_000,
      });
      if (keep) writeFileSync(path.join(dir, '.asof-bench-ready'), '');
    }
    const store = OnlineStore.open(onlineDir(project), { readonly: true });
    const keys = store.keys('bench');
    store.close();
    process.stdout.write(
      `serve bench: ${lines.length} events streamed, ${keys.length} entities online (view bench, 5 features), reads at ${AT}\n`,
    );

    let sv = await startServe(dir);
    server = sv.child;
    const seconds = Number(values.seconds);
    process.stdout.write(
      `generator: open loop, raw HTTP/1.1 over up to 64 keep-alive sockets, in this process; latency from send to last byte\n`,
    );
    // Keys in a fixed pseudo-random order over all entities (stride 7919), continued from step to
    // step: no step reads the keys of an earlier one until all have been read (so a single GET
    // step reads cold states; the server's state cache hit ratio is printed per step).
    let next = 0;
    const key = (i: number) => keys[((next + i) * 7919) % keys.length] as string;
    const getPath = (i: number) => httpGet(`/v1/features/bench/${encodeURIComponent(key(i))}?at=${AT}`);
    const cacheHits = async () => {
      const text = await (await fetch(`http://127.0.0.1:${sv.port}/metrics`)).text();
      const n = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
      return {
        hits: n('asof_serve_state_cache_hits_total'),
        misses: n('asof_serve_state_cache_misses_total'),
      };
    };
    const ratio = async (before: { hits: number; misses: number }) => {
      const after = await cacheHits();
      const h = after.hits - before.hits;
      const m = after.misses - before.misses;
      return `state cache: ${h} hits, ${m} misses`;
    };
    // generator on the first core, the server (every thread: GC helpers too) on the second: as a
    // client on another machine would be; the floor of the same step runs under the same pinning
    const cores = availableParallelism();
    const all = `0-${cores - 1}`;
    const canPin = values.pin === 'yes' && cores >= 2 && pin(process.pid, all);
    if (values.pin === 'yes' && !canPin)
      process.stdout.write('pinned steps skipped: taskset or a second core missing\n');
    /** /healthz then single GETs at each rate; unpinned, then pinned (generator CPU 0, server CPU 1). */
    const singleSteps = async (tag: string, pinnings: boolean[]) => {
      for (const pinned of pinnings) {
        if (pinned) {
          pin(process.pid, '0');
          pin(sv.child.pid, '1');
        }
        const suffix = [tag, pinned ? 'pinned' : ''].filter((x) => x !== '').join(', ');
        const label = (l: string) => (suffix === '' ? l : `${l} [${suffix}]`);
        try {
          for (const rate of rates(values.rates)) {
            const floor = await step(label('no-op /healthz'), sv, rate, seconds, () => httpGet('/healthz'));
            const c0 = await cacheHits();
            const get = await step(label('single GET'), sv, rate, seconds, getPath);
            next += rate * seconds;
            const cpu = (get.serverCpuUs ?? Number.NaN) - (floor.serverCpuUs ?? Number.NaN);
            process.stdout.write(
              `  (${await ratio(c0)}; over /healthz: median +${(get.p50 - floor.p50).toFixed(3)} ms, server CPU +${cpu.toFixed(0)} µs/req)\n`,
            );
          }
        } finally {
          if (pinned) {
            pin(process.pid, all);
            pin(sv.child.pid, all);
          }
        }
      }
    };
    // warm up: JIT and SQLite page cache
    await openLoop({ port: sv.port, rate: 1000, seconds: 2, request: getPath });
    next += 2000;
    // unpinned, then the batches: the keys each step reads are those of the runs before the pinned steps
    await singleSteps('', [false]);
    const features = Object.keys(VIEW.features).map((f) => `bench:${f}`);
    for (const rate of rates(values['batch-rates'])) {
      const c0 = await cacheHits();
      await step('100-key batch', sv, rate, seconds, (i) =>
        httpPost(
          '/v1/features',
          JSON.stringify({
            entities: Array.from({ length: 100 }, (_, j) => key(i * 100 + j)),
            features,
            at: AT,
          }),
        ),
      );
      next += rate * seconds * 100;
      process.stdout.write(`  (${await ratio(c0)})\n`);
    }

    /** A fresh server process (its state cache empty again: the batches filled it), warmed up. */
    const restart = async (flags: string[]) => {
      const old = sv.child;
      const closed = new Promise((r) => old.once('close', r));
      old.kill('SIGTERM');
      await closed;
      sv = await startServe(dir, flags);
      server = sv.child;
      await openLoop({ port: sv.port, rate: 1000, seconds: 2, request: getPath });
      next += 2000;
    };
    if (canPin) {
      await restart([]);
      process.stdout.write('a new server process, same flags (its state cache empty again):\n');
      await singleSteps('', [true]);
    }

    // the same single-GET and /healthz steps against a server process with other GC flags
    const gcFlags = (values['gc-flags'] ?? '').split(' ').filter((x) => x !== '');
    if (gcFlags.length > 0) {
      await restart(gcFlags);
      process.stdout.write(`a server process run as node ${gcFlags.join(' ')} (rows tagged GC flags):\n`);
      await singleSteps('GC flags', canPin ? [false, true] : [false]);
    }

    // the state read in-process (this process, same store): a miss reads SQLite and decodes, a hit
    // is the cache; both check data_version first
    {
      const cold = OnlineReader.open(onlineDir(project), { cacheWeight: 0 });
      const warm = OnlineReader.open(onlineDir(project));
      const n = Math.min(20_000, keys.length);
      // a state is kept from its second read (the admission filter remembers the last 128k-256k ids)
      const nHot = Math.min(10_000, keys.length);
      for (let r = 0; r < 2; r++) for (let i = 0; i < nHot; i++) warm.getState('bench', keys[i] as string);
      const miss = cpuPerCall(n, (i) => cold.getState('bench', keys[i % keys.length] as string));
      const hit = cpuPerCall(n, (i) => warm.getState('bench', keys[i % nHot] as string));
      const batch = cpuPerCall(200, (i) =>
        cold.getStates(
          'bench',
          Array.from({ length: 100 }, (_, j) => keys[(i * 100 + j) % keys.length] as string),
        ),
      );
      cold.close();
      warm.close();
      process.stdout.write(
        `state read in-process (CPU per read, load ${load1()}): miss ${miss.toFixed(1)} µs, cache hit ${hit.toFixed(1)} µs, ` +
          `100-key multi-get (misses) ${(batch / 100).toFixed(1)} µs per key\n`,
      );
    }

    // the floor of a network key-value read: redis-benchmark GET against a local redis-server
    const rport = await freePort();
    const redis = spawn('redis-server', ['--port', String(rport), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const redisRates = rates(values['redis-rates']);
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
          sv = await startServe(rdir);
          server = sv.child;
          await openLoop({ port: sv.port, rate: 1000, seconds: 2, request: getPath });
          next += 2000;
          for (const rate of redisRates) {
            await step('single GET, Redis online store', sv, rate, seconds, getPath);
            next += rate * seconds;
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
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
