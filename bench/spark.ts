// Spark vs DuckDB: the backfill benchmark's five-feature view over generated transactions (src/gen,
// Parquet), built for N as_of_dates as a per-date loop (load once, one partition per date) on each
// engine; prints load and per-date times and checks both lakes hold the same rows.
// With --backfill, each engine runs `asof backfill` over the dates instead (the pipeline's code:
// on Spark one job per chunk of dates in one session, then one atomic swap per date).
// Run: npm run bench -- spark [--events N] [--users N] [--days N] [--dates N] [--master URL]
//      [--backfill] [--chunk-days N] [--driver-memory 6g]

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { DuckDbEngine } from '../src/engines/duckdb/engine.js';
import type { Engine } from '../src/engines/engine.js';
import { SparkEngine } from '../src/engines/spark/engine.js';
import { generate } from '../src/gen/index.js';
import { backfill } from '../src/pipeline/backfill.js';
import { buildPartition, loadSources } from '../src/pipeline/build.js';
import { loadProject } from '../src/pipeline/project.js';
import { showPartition } from '../src/pipeline/show.js';
import { addDays, dateRange, systemClock } from '../src/time/index.js';
import { BENCH_VIEW } from './support/view.js';

const END = '2025-06-30';
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '10000' },
    days: { type: 'string', default: '120' },
    dates: { type: 'string', default: '7' },
    master: { type: 'string', default: 'local[*]' },
    backfill: { type: 'boolean', default: false },
    'chunk-days': { type: 'string', default: '31' },
    'driver-memory': { type: 'string' },
  },
});
const dates = dateRange(addDays(END, 1 - Number(values.dates)), END);

const VIEW = BENCH_VIEW;

async function run(dir: string, name: string, open: () => Promise<Engine>): Promise<number> {
  const project = await loadProject(dir);
  project.storage.offline = path.join(dir, `lake-${name}`);
  const view = project.views.bench!;
  const t0 = performance.now();
  const engine = await open();
  const t1 = performance.now();
  if (values.backfill) {
    try {
      let loadedAt = t1;
      const r = await backfill(project, {
        dates,
        views: ['bench'],
        force: true,
        chunkDays: Number(values['chunk-days']),
        using: engine.supports.backfillChunks ? engine : undefined,
        onSourcesLoaded: () => {
          loadedAt = performance.now();
        },
      });
      const t3 = performance.now();
      const rows = r.built.reduce((n, b) => n + b.rowsWritten, 0);
      const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
      process.stdout.write(
        `${name} backfill: start ${s(t0, t1)} s, load+check ${s(t1, loadedAt)} s, ${dates.length} dates ${s(loadedAt, t3)} s (${((t3 - loadedAt) / 1000 / dates.length).toFixed(2)} s/date), ${rows} rows written, total ${s(t0, t3)} s\n`,
      );
      return rows;
    } finally {
      await engine.close();
    }
  }
  try {
    const loaded = (await loadSources(project, [view], engine)).get(view.source)!;
    const t2 = performance.now();
    let rows = 0;
    for (const d of dates) {
      rows += (await buildPartition(project, view, d, loaded, engine, `bench-${d}`, systemClock)).rowsWritten;
    }
    const t3 = performance.now();
    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    process.stdout.write(
      `${name}: start ${s(t0, t1)} s, load+check ${loaded.rows} rows ${s(t1, t2)} s, ${dates.length} dates ${s(t2, t3)} s (${((t3 - t2) / 1000 / dates.length).toFixed(2)} s/date), ${rows} rows written, total ${s(t0, t3)} s\n`,
    );
    return rows;
  } finally {
    await engine.close();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'asof-bench-spark-'));
try {
  const g = await generate({
    out: dir,
    users: Number(values.users),
    events: Number(values.events),
    days: Number(values.days),
    endDate: END,
    seed: 1,
    format: 'parquet',
  });
  process.stdout.write(`generated ${values.events} transactions in ${(g.durationMs / 1000).toFixed(1)} s\n`);
  const spec = YAML.parse(readFileSync(path.join(dir, 'asof.yaml'), 'utf8')) as Record<string, unknown>;
  spec.views = { bench: VIEW };
  writeFileSync(path.join(dir, 'asof.yaml'), YAML.stringify(spec));
  await run(dir, 'duckdb', () => DuckDbEngine.open());
  const conf: Record<string, string> = values['driver-memory']
    ? { 'spark.driver.memory': values['driver-memory'] }
    : {};
  await run(dir, 'spark', () => SparkEngine.open({ master: values.master, conf }));
  // Both lakes must hold the same rows (a spot check on the last date).
  const project = await loadProject(dir);
  const last = dates[dates.length - 1]!;
  const read = async (lake: string) => {
    project.storage.offline = path.join(dir, lake);
    return JSON.stringify((await showPartition(project, 'bench', last)).result.rows, (_k, v) =>
      typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? Number(v.toPrecision(12)) : v,
    );
  };
  process.stdout.write(
    (await read('lake-duckdb')) === (await read('lake-spark'))
      ? `same rows on both engines as of ${last}\n`
      : `WARNING: rows differ as of ${last}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
