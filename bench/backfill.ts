// Backfill benchmark: 90 as_of_dates of a five-feature view over 10M transactions (100k users,
// 120 days, Parquet, made by src/gen), computed by `backfill` (one query per chunk of dates) and by
// the naive loop (the per-date build SQL, one query per date, same DuckDB), each in its own child
// process so that each peak RSS is its own. Both load the source the same way (the same code,
// timed apart): the ratio is printed end to end (load included on both sides) and after the load
// (compute and write only, on both sides). Smaller runs: --events 1000000 --users 10000.
// Run: npm run bench -- backfill [--events N] [--users N] [--days N] [--dates N] [--jobs N]
//      [--chunk-days N] [--skip-naive] [--skip-backfill] [--naive-dates N (an evenly spaced sample
//      of the dates for the naive loop, whose 90-date time is then extrapolated: for 100M rows)]
//      [--memory-limit 4GB] [--data DIR (reuse generated data)]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DuckDbEngine } from '../src/engines/duckdb/engine.js';
import { duckDbOptions } from '../src/engines/open.js';
import { generate } from '../src/gen/index.js';
import { backfill } from '../src/pipeline/backfill.js';
import { buildPartition, loadSources } from '../src/pipeline/build.js';
import { loadProject } from '../src/pipeline/project.js';
import { addDays, dateRange, systemClock } from '../src/time/index.js';
import { BENCH_VIEW } from './support/view.js';

const END = '2025-06-30';
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '100000' },
    days: { type: 'string', default: '120' },
    dates: { type: 'string', default: '90' },
    jobs: { type: 'string', default: '2' },
    'chunk-days': { type: 'string', default: '31' },
    'skip-naive': { type: 'boolean', default: false },
    'skip-backfill': { type: 'boolean', default: false },
    'naive-dates': { type: 'string' },
    data: { type: 'string' },
    /** The spec's engine.memory_limit, applied to both sides alike (default: DuckDB's own). */
    'memory-limit': { type: 'string' },
    phase: { type: 'string' },
  },
});
const dates = dateRange(addDays(END, 1 - Number(values.dates)), END);
/** The naive loop's dates: all of them, or an evenly spaced sample (first and last included). */
const naiveDates = ((): string[] => {
  const n = values['naive-dates'] === undefined ? dates.length : Number(values['naive-dates']);
  if (n >= dates.length) return dates;
  if (n <= 1) return dates.slice(-1);
  return Array.from({ length: n }, (_, i) => dates[Math.round((i * (dates.length - 1)) / (n - 1))]!);
})();

const VIEW = BENCH_VIEW;

async function runPhase(dir: string, phase: 'backfill' | 'naive'): Promise<void> {
  const loaded0 = await loadProject(dir);
  const memoryLimit = values['memory-limit'];
  const project = memoryLimit
    ? { ...loaded0, engine: { ...(loaded0.engine ?? { type: 'duckdb' as const }), memoryLimit } }
    : loaded0;
  const t0 = performance.now();
  let loaded = t0;
  // Process CPU when the source is loaded: CPU after the load is the figure a shared machine keeps.
  const cpuNow = () => {
    const u = process.resourceUsage();
    return (u.userCPUTime + u.systemCPUTime) / 1e6;
  };
  let loadCpu = 0;
  let rows = 0;
  if (phase === 'backfill') {
    const r = await backfill(project, {
      dates,
      views: ['bench'],
      force: true,
      jobs: Number(values.jobs),
      chunkDays: Number(values['chunk-days']),
      onSourcesLoaded: () => {
        loaded = performance.now();
        loadCpu = cpuNow();
      },
    });
    rows = r.built.reduce((n, b) => n + b.rowsWritten, 0);
  } else {
    const view = project.views.bench!;
    const engine = await DuckDbEngine.open(duckDbOptions(project.engine));
    try {
      const source = (await loadSources(project, [view], engine)).get(view.source)!;
      loaded = performance.now();
      loadCpu = cpuNow();
      for (const d of naiveDates) {
        rows += (await buildPartition(project, view, d, source, engine, `naive-${d}`, systemClock))
          .rowsWritten;
      }
    } finally {
      await engine.close();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      phase,
      seconds,
      loadSeconds: (loaded - t0) / 1000,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      loadCpuSeconds: loadCpu,
      rows,
      maxRssMb: usage.maxRSS / 1024,
    })}\n`,
  );
}

interface PhaseResult {
  phase: string;
  seconds: number;
  loadSeconds: number;
  cpuSeconds: number;
  loadCpuSeconds: number;
  rows: number;
  maxRssMb: number;
}

function describe(name: string, r: PhaseResult, load: string): string {
  const after = r.seconds - r.loadSeconds;
  return `${name}: ${r.seconds.toFixed(2)} s (load ${r.loadSeconds.toFixed(2)} s + compute and write ${after.toFixed(2)} s), ${r.rows} rows written, ${Math.round(r.rows / r.seconds)} rows/s end to end, ${Math.round(r.rows / after)} rows/s after the load, CPU ${r.cpuSeconds.toFixed(1)} s (${r.loadCpuSeconds.toFixed(1)} s to load, ${(r.cpuSeconds - r.loadCpuSeconds).toFixed(1)} s after), peak RSS ${Math.round(r.maxRssMb)} MB; load average ${load}\n`;
}

function child(dir: string, phase: string): PhaseResult {
  const self = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', self, ...process.argv.slice(2), '--data', dir, '--phase', phase];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${phase} failed (exit ${r.status})`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as PhaseResult;
}

async function main(): Promise<void> {
  if (values.phase === 'backfill' || values.phase === 'naive') {
    await runPhase(values.data ?? '.', values.phase);
    return;
  }
  const keep = values.data !== undefined;
  const dir = values.data ?? mkdtempSync(path.join(tmpdir(), 'asof-bench-backfill-'));
  try {
    if (!existsSync(path.join(dir, 'asof.yaml'))) {
      const g = await generate({
        out: dir,
        users: Number(values.users),
        events: Number(values.events),
        days: Number(values.days),
        endDate: END,
        seed: 1,
        format: 'parquet',
      });
      process.stdout.write(`generated in ${(g.durationMs / 1000).toFixed(1)} s\n`);
    }
    const spec = YAML.parse(readFileSync(path.join(dir, 'asof.yaml'), 'utf8')) as Record<string, unknown>;
    spec.views = { bench: VIEW };
    writeFileSync(path.join(dir, 'asof.yaml'), YAML.stringify(spec));
    process.stdout.write(
      `backfill bench: ${values.events} transactions, ${values.users} users, ${values.days} days; ${dates.length} dates ${dates[0]}..${END}; jobs ${values.jobs}, chunk ${values['chunk-days']} dates\n`,
    );
    process.stdout.write(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB\n`,
    );
    // The machine may be shared: the 1-minute load average before and after each phase says how busy.
    const la = () => loadavg()[0]!.toFixed(1);
    let before = la();
    const fast = values['skip-backfill'] ? undefined : child(dir, 'backfill');
    if (fast) process.stdout.write(describe('backfill', fast, `${before} -> ${la()}`));
    if (!values['skip-naive']) {
      before = la();
      const measured = child(dir, 'naive');
      const sampled = naiveDates.length < dates.length;
      process.stdout.write(
        describe(
          sampled
            ? `naive per-date loop, ${naiveDates.length} of ${dates.length} dates (${naiveDates.join(', ')})`
            : 'naive per-date loop',
          measured,
          `${before} -> ${la()}`,
        ),
      );
      if (!fast) return;
      // A sample's compute and write time, per date, scaled to every date (the load is once either way).
      const scale = dates.length / naiveDates.length;
      const slow: PhaseResult = sampled
        ? {
            ...measured,
            seconds: measured.loadSeconds + (measured.seconds - measured.loadSeconds) * scale,
            rows: fast.rows,
          }
        : measured;
      if (sampled)
        process.stdout.write(
          `naive loop extrapolated to ${dates.length} dates: ${slow.seconds.toFixed(2)} s (load ${slow.loadSeconds.toFixed(2)} s + ${(slow.seconds - slow.loadSeconds).toFixed(2)} s)\n`,
        );
      if (!sampled && slow.rows !== fast.rows) process.stdout.write(`WARNING: row counts differ\n`);
      const after = (r: PhaseResult) => r.seconds - r.loadSeconds;
      process.stdout.write(
        `ratio${sampled ? ' (naive side extrapolated)' : ''}: backfill is ${(slow.seconds / fast.seconds).toFixed(1)}x faster end to end (load included on both sides), ${(after(slow) / after(fast)).toFixed(1)}x after the load (compute and write only, on both sides)\n`,
      );
      if (!sampled) {
        const cpuAfter = (r: PhaseResult) => r.cpuSeconds - r.loadCpuSeconds;
        process.stdout.write(
          `CPU ratio: ${(slow.cpuSeconds / fast.cpuSeconds).toFixed(1)}x end to end, ${(cpuAfter(slow) / cpuAfter(fast)).toFixed(1)}x after the load\n`,
        );
      }
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
