// Stream benchmark: 1M transactions of 100k users (made by src/gen, replayed in event-time order
// as JSON lines) through the streaming job with the embedded online store (SQLite) and offline
// micro-batches: sustained events/s (wall clock, and per second of the process's CPU time, which
// is what "on one core" means on a shared machine), then ingest -> servable latency at a fixed
// 10k events/s; then the throughput again with Redis as the online store (`--redis no` skips it).
// Run: npm run bench -- stream [--events N] [--users N] [--rate N] [--seconds N] [--redis no]
//      [--throughput no (only the latency step, in a process that keeps only the lines it sends)]
//      [--offline-ms N (the latency step's offline micro-batch period; default 10000 as `asof stream`)]

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DuckDbEngine } from '../src/engines/duckdb/engine.js';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';
import { runStream } from '../src/stream/job.js';
import { Histogram } from '../src/stream/metrics.js';
import type { SourceRecord, StreamSource } from '../src/stream/sources.js';
import { startRedis } from '../test/support/redis.js';
import { BENCH_VIEW } from './support/view.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    days: { type: 'string', default: '30' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    redis: { type: 'string', default: 'yes' },
    throughput: { type: 'string', default: 'yes' },
    'offline-ms': { type: 'string', default: '10000' },
  },
});

const VIEW = BENCH_VIEW;

/** An in-memory source: all lines at full speed, or paced at `rate` per second. */
function memorySource(lines: string[], rate?: number): StreamSource {
  return {
    description: rate ? `memory at ${rate}/s` : 'memory',
    async *batches(from) {
      const t0 = performance.now();
      let i = from;
      while (i < lines.length) {
        let until = Math.min(lines.length, i + 5000);
        if (rate) {
          const due = from + Math.floor(((performance.now() - t0) / 1000) * rate);
          until = Math.min(lines.length, Math.max(i, due));
          if (until === i) {
            await new Promise((r) => setTimeout(r, 1));
            yield [];
            continue;
          }
        }
        const now = performance.now();
        const out: SourceRecord[] = [];
        for (; i < until; i++) out.push({ seq: i, text: lines[i] as string, received: now });
        yield out;
      }
    },
    ack: async () => {},
    close: async () => {},
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'asof-bench-stream-'));
  try {
    await generate({
      out: dir,
      users: Number(values.users),
      events: Number(values.events),
      days: Number(values.days),
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

    // JSON lines in event-time order, as a producer would send them.
    const engine = await DuckDbEngine.open();
    const files = path.join(dir, source.path);
    const cols = Object.keys(source.columns)
      .map((c) => `"${c}"`)
      .join(', ');
    const r = await engine.query(
      `SELECT to_json(t)::VARCHAR FROM (SELECT ${cols} FROM read_parquet('${files}') ORDER BY "${source.timestamp}") t`,
    );
    await engine.close();
    const lines = r.rows.map((row) => String(row[0]));
    process.stdout.write(
      `stream bench: ${lines.length} events, ${values.users} users, view bench (5 features), embedded SQLite store\n`,
    );

    const throughput = async (p: typeof project, store: string): Promise<void> => {
      const cpu0 = process.cpuUsage();
      const t = await runStream(p, {
        views: [view],
        source: memorySource(lines),
        checkpointEvents: 10_000,
        checkpointMs: 1_000,
        offlineEvents: 200_000,
      });
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const rss = process.memoryUsage().rss / 1e6;
      process.stdout.write(
        `throughput (${store}): ${t.eventsRead} events in ${t.seconds.toFixed(2)} s = ${Math.round(t.eventsRead / t.seconds)} events/s wall; CPU ${cpuSeconds.toFixed(2)} s (system ${(cpu.system / 1e6).toFixed(2)}) = ${Math.round(t.eventsRead / cpuSeconds)} events per CPU second (checkpoint every 10k events, offline batch every 200k; RSS ${Math.round(rss)} MB)\n`,
      );
    };
    const rate = Number(values.rate);
    const n = Math.min(lines.length, rate * Number(values.seconds));
    if (values.throughput === 'no') lines.length = n;
    else await throughput(project, 'embedded SQLite');

    // Latency at a fixed rate, on a fresh store: checkpoint every 5 ms so a value is servable soon.
    rmSync(path.join(dir, '.asof'), { recursive: true, force: true });
    rmSync(path.join(project.storage.offline, '_events'), { recursive: true, force: true });
    // every observation of the job's latency histogram is also kept, for exact percentiles (the
    // histogram's buckets, 7.5 / 10 / 15 ms around the goal, are too coarse to say "under 10")
    Histogram.keepSamples = true;
    let l: Awaited<ReturnType<typeof runStream>>;
    try {
      l = await runStream(project, {
        views: [view],
        source: memorySource(lines.slice(0, n), rate),
        checkpointEvents: 1_000_000,
        checkpointMs: 5,
        // offline micro-batches as `asof stream` makes them by default (100k events or 10 s)
        offlineEvents: 100_000,
        offlineMs: Number(values['offline-ms']),
      });
    } finally {
      Histogram.keepSamples = false;
    }
    const samples = [...(l.metrics.latency.samples ?? [])];
    const h = l.metrics.latency;
    samples.sort((a, b) => a - b);
    const exact = (q: number) =>
      (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? NaN).toFixed(2);
    process.stdout.write(
      `latency at ${rate} events/s over ${n} events (offline batch every 100k events or ${values['offline-ms']} ms): p50 <= ${h.quantile(0.5)} ms, p95 <= ${h.quantile(0.95)} ms, p99 <= ${h.quantile(0.99)} ms (bucket upper bounds; mean ${(h.sum / h.count).toFixed(2)} ms); exact from ${samples.length} samples: p50 ${exact(0.5)}, p95 ${exact(0.95)}, p99 ${exact(0.99)}, max ${exact(1)} ms\n`,
    );

    if (values.redis !== 'no' && values.throughput !== 'no') {
      // the same throughput run with `online: { type: redis }` (a local redis-server, no persistence)
      const redis = await startRedis();
      try {
        rmSync(path.join(dir, '.asof'), { recursive: true, force: true });
        rmSync(path.join(project.storage.offline, '_events'), { recursive: true, force: true });
        spec.online = { type: 'redis', url: redis.url };
        writeFileSync(specFile, YAML.stringify(spec));
        await throughput(await loadProject(dir), 'Redis');
      } finally {
        await redis.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
