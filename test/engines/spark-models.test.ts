// ELT models on Spark: the clickstream project (raw JSON -> refined.clicks -> refined.sessions ->
// features.user_active_24h, plus a view model over it) landed and built in the Spark warehouse
// gives the rows, columns and column types it gives in DuckDB's, on the fixture and on generated
// clicks; a rerun replaces (no duplicate), model tests count the same failing rows, and the CLI
// runs it with --engine spark. Also: a view's quality checks give on Spark the verdicts, values
// and examples they give on DuckDB.
// One SparkSession (one Python driver) serves the in-process tests of this file.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRaw } from '../../src/elt/load.js';
import { buildModels } from '../../src/elt/models.js';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { DuckDbWarehouse } from '../../src/engines/duckdb/warehouse.js';
import { SparkWarehouse, sparkWarehouseRoot } from '../../src/engines/spark/warehouse.js';
import type { Warehouse } from '../../src/engines/warehouse.js';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import type { Project } from '../../src/spec/project.js';
import { type Obj, toObjects } from '../support/build.js';
import { copyClickstreamProject } from '../support/clickstream.js';
import { makeProject, qualitySpec, runCli, tempDir } from '../support/project.js';

const RELATIONS = [
  'refined.clicks',
  'refined.sessions',
  'features.user_active_24h',
  'features.active_days',
] as const;

/** A view model over the incremental one (the generated-data project only). */
const VIEW_MODEL = `-- materialization: view
-- tests:
--   - unique: user_id
SELECT user_id, CAST(count(*) AS BIGINT) AS active_days, max(as_of_date) AS last_active
FROM ref('features.user_active_24h')
GROUP BY user_id
`;
const FROM = '2025-03-01';
const TO = '2025-03-03';

/** Deterministic clicks over three days: gaps around 30 minutes, resent ids, rows without ts. */
function generatedClicks(seed: number): { first: string; second: string } {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  const first: string[] = [];
  const sent: { id: string; user: string; ts: string }[] = [];
  const clock = new Map(
    users.map((u) => [u, Date.UTC(2025, 2, 1, 0, 0) + Math.floor(rand() * 6) * 3_600_000]),
  );
  for (let i = 0; i < 240; i++) {
    const user = users[Math.floor(rand() * users.length)] ?? 'u1';
    // Gaps of 1..59 minutes, now and then some hours: sessions split at the 30-minute rule.
    const gap = rand() < 0.1 ? Math.floor(rand() * 10 + 1) * 3_600_000 : Math.floor(rand() * 59 + 1) * 60_000;
    const t = Math.min((clock.get(user) ?? 0) + gap, Date.UTC(2025, 2, 3, 23, 59));
    clock.set(user, t);
    const ts = new Date(t).toISOString();
    const id = `e${i}`;
    sent.push({ id, user, ts });
    first.push(
      JSON.stringify({
        event_id: id,
        user_id: user,
        ts,
        page: `/p${i % 7}`,
        kind: rand() < 0.6 ? 'click' : 'view',
      }),
    );
  }
  const second: string[] = [];
  for (const [i, e] of sent.entries()) {
    // Resent later with another page: the latest load wins.
    if (i % 9 === 0) {
      second.push(
        JSON.stringify({ event_id: e.id, user_id: e.user, ts: e.ts, page: '/resent', kind: 'click' }),
      );
    }
  }
  second.push(
    JSON.stringify({ event_id: 'bad1', user_id: 'u1', ts: 'not a time', page: '/x', kind: 'view' }),
  );
  second.push(JSON.stringify({ event_id: null, user_id: 'u2', ts: '2025-03-02T10:00:00Z', page: '/y' }));
  return { first: `${first.join('\n')}\n`, second: `${second.join('\n')}\n` };
}

function clickstreamProject(data?: { first: string; second: string }): string {
  const dir = path.join(tempDir('asof-spark-models-'), 'clickstream');
  copyClickstreamProject(dir);
  if (data) {
    writeFileSync(path.join(dir, 'data', 'clicks-1.jsonl'), data.first);
    writeFileSync(path.join(dir, 'data', 'clicks-2.jsonl'), data.second);
    writeFileSync(path.join(dir, 'models', 'features', 'active_days.sql'), VIEW_MODEL);
  }
  return dir;
}

/** Each file in its own load, a minute apart, so that "the latest load wins" has one answer. */
async function land(project: Project, dir: string, wh: Warehouse): Promise<number> {
  let rows = 0;
  for (const [i, f] of ['clicks-1.jsonl', 'clicks-2.jsonl'].entries()) {
    const r = await loadRaw(project, {
      source: 'clickstream',
      files: [path.join(dir, 'data', f)],
      warehouse: wh,
      clock: { now: () => Date.UTC(2025, 2, 4) + i * 60_000 },
    });
    rows += r.files.reduce((n, x) => n + x.rows, 0);
  }
  return rows;
}

interface Relation {
  columns: { name: string; type: string }[];
  rows: Obj[];
}

/** A relation of a warehouse, written to Parquet by that warehouse and read back by one DuckDB. */
async function read(wh: Warehouse, relation: string): Promise<Relation> {
  const [schema = '', name = ''] = relation.split('.');
  const file = path.join(tempDir('asof-spark-models-read-'), `${wh.name}.parquet`);
  await wh.exportParquet(`${wh.dialect.quoteIdent(schema)}.${wh.dialect.quoteIdent(name)}`, file);
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    const described = await engine.query(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
    const r = await engine.query(`SELECT * FROM read_parquet('${file}') ORDER BY ALL`);
    return {
      columns: described.rows.map((d) => ({ name: String(d[0]), type: String(d[1]) })),
      rows: toObjects(r.columns, r.rows),
    };
  } finally {
    await engine.close();
  }
}

let spark: SparkWarehouse | undefined;
let sparkDir: string;

// The session opened by the first describe serves the whole file (its engine runs the checks).
afterAll(async () => {
  await spark?.close();
});

/** The DuckDB side of a comparison: its own copy of the project, landed and built in-process. */
async function onDuckDb(data?: { first: string; second: string }) {
  const dir = clickstreamProject(data);
  const project = await loadProject(dir);
  const wh = await DuckDbWarehouse.open(project.storage.warehouse);
  await land(project, dir, wh);
  const results = await buildModels(project, { from: FROM, to: TO, warehouse: wh });
  return { dir, project, wh, results };
}

describe('models on Spark', () => {
  let duck: Awaited<ReturnType<typeof onDuckDb>>;
  let project: Project;
  const data = generatedClicks(7);

  beforeAll(async () => {
    sparkDir = clickstreamProject(data);
    project = await loadProject(sparkDir);
    spark = await SparkWarehouse.open(sparkWarehouseRoot(project.storage.warehouse, undefined), {
      conf: { 'spark.sql.shuffle.partitions': 2 },
    });
    duck = await onDuckDb(data);
  }, 240_000);

  afterAll(async () => {
    await duck?.wh.close();
  });

  it('lands raw JSON with the same typed columns and JSON text as DuckDB, once per content', async () => {
    if (!spark) throw new Error('no spark');
    expect(await land(project, sparkDir, spark)).toBe(240 + 29);
    const again = await loadRaw(project, {
      source: 'clickstream',
      files: [path.join(sparkDir, 'data', 'clicks-2.jsonl')],
      warehouse: spark,
    });
    expect(again.files.map((f) => f.skipped)).toEqual([true]);
    const sql = (wh: Warehouse) =>
      `SELECT event_id, user_id, ts, page, _row, ${wh.dialect.jsonText('_json', 'kind')} AS kind, ${wh.dialect.jsonText('_json', 'page')} AS page_text FROM raw.clickstream ORDER BY _file, _row`;
    const rows = async (wh: Warehouse) => {
      const r = await wh.query(sql(wh));
      // Spark answers instants as UTC wall time without a zone; DuckDB as Dates.
      const utc = (v: unknown) => (typeof v === 'string' && !/(Z|[+-]\d\d:\d\d)$/.test(v) ? `${v}Z` : v);
      return toObjects(r.columns, r.rows).map(
        (o): Obj => ({
          ...o,
          ts: o.ts === null ? null : new Date(String(utc(o.ts))).toISOString(),
        }),
      );
    };
    const s = await rows(spark);
    expect(s).toHaveLength(269);
    expect(s).toEqual(await rows(duck.wh));
    expect(s.filter((r) => r.ts === null).map((r) => r.event_id)).toEqual(['bad1']);
    expect(s.filter((r) => r.event_id === null)).toHaveLength(1);
  }, 240_000);

  it('builds the models (table, incremental, view) with the rows, columns and types of DuckDB', async () => {
    if (!spark) throw new Error('no spark');
    const results = await buildModels(project, { from: FROM, to: TO, warehouse: spark });
    expect(results.map((r) => [r.model, r.status])).toEqual(duck.results.map((r) => [r.model, r.status]));
    expect(results.map((r) => r.rows)).toEqual(duck.results.map((r) => r.rows));
    for (const rel of RELATIONS) {
      const [d, s] = [await read(duck.wh, rel), await read(spark, rel)];
      expect(s.columns, rel).toEqual(d.columns);
      expect(s.rows, rel).toEqual(d.rows);
      expect(s.rows.length, rel).toBeGreaterThan(rel.startsWith('features.') ? 5 : 20);
    }
    // The model read by a view is exported as its snapshot, as on DuckDB.
    const snapshot = path.join(sparkDir, '.asof', 'models', 'refined.sessions.parquet');
    expect(existsSync(snapshot)).toBe(true);
    // One folder per date of the incremental model.
    const root = sparkWarehouseRoot(project.storage.warehouse, undefined);
    expect(
      readdirSync(path.join(root, 'features.db', 'user_active_24h'))
        .filter((f) => f.startsWith('__part='))
        .sort(),
    ).toEqual(['__part=2025-03-01', '__part=2025-03-02', '__part=2025-03-03']);
  }, 300_000);

  it('a rerun replaces rows (whole tables, and one date of the incremental model) instead of adding them', async () => {
    if (!spark) throw new Error('no spark');
    const before = await Promise.all(RELATIONS.map((r) => read(spark as SparkWarehouse, r)));
    const all = await buildModels(project, { select: ['refined.clicks'], warehouse: spark });
    expect(all.map((r) => r.model)).toEqual([...RELATIONS]);
    const one = await buildModels(project, {
      from: '2025-03-02',
      to: '2025-03-02',
      select: ['features.user_active_24h'],
      warehouse: spark,
    });
    expect(one.map((r) => [r.model, r.partitions])).toEqual([
      ['features.user_active_24h', ['2025-03-02']],
      ['features.active_days', ['all']],
    ]);
    const after = await Promise.all(RELATIONS.map((r) => read(spark as SparkWarehouse, r)));
    expect(after).toEqual(before);
  }, 300_000);

  it('model tests count the same failing rows and block downstream as on DuckDB', async () => {
    if (!spark) throw new Error('no spark');
    const narrow = (dir: string) => {
      const f = path.join(dir, 'models', 'refined', 'clicks.sql');
      writeFileSync(f, readFileSync(f, 'utf8').replace('values: [click, view]', 'values: [click]'));
    };
    narrow(sparkDir);
    narrow(duck.dir);
    // A test is not data (no new version): the model is selected to run its tests again.
    const opts = { from: FROM, to: TO, select: ['refined.clicks'] };
    const d = await buildModels(await loadProject(duck.dir), { ...opts, warehouse: duck.wh });
    const s = await buildModels(await loadProject(sparkDir), { ...opts, warehouse: spark });
    const failing = d.find((r) => r.model === 'refined.clicks')?.failedTests;
    expect(failing?.[0]?.failing).toBeGreaterThan(10);
    expect(s.map((r) => [r.model, r.status, r.failedTests])).toEqual(
      d.map((r) => [r.model, r.status, r.failedTests]),
    );
    expect(s.map((r) => r.status)).toEqual(['tests_failed', 'blocked', 'blocked', 'blocked']);
  }, 300_000);
});

describe('asof models build --engine spark', () => {
  it('lands and builds the fixture project from the CLI with the rows DuckDB builds', async () => {
    const dir = clickstreamProject();
    const asof = (...args: string[]) => runCli([...args, '--project', dir], { cwd: dir });
    const load = await asof('load', '--source', 'clickstream', 'data/*.jsonl', '--engine', 'spark');
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toMatch(/clicks-1\.jsonl: 5 rows -> raw\.clickstream/);
    const b = await asof(
      'models',
      'build',
      '--from',
      '2025-03-01',
      '--to',
      '2025-03-02',
      '--engine',
      'spark',
    );
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe('3 model(s) built, 0 failed or blocked\n');
    expect(b.stderr).toMatch(/features\.user_active_24h \(incremental\): 3 rows/);
    // Nothing went to the DuckDB warehouse file; the snapshot views read is DuckDB's.
    expect(existsSync(path.join(dir, '.asof', 'warehouse.duckdb'))).toBe(false);
    // The DuckDB side in-process (its CLI is tested in test/elt/elt.test.ts).
    const duck = await onDuckDb();
    await duck.wh.close();
    const duckDir = duck.dir;
    const snapshot = async (d: string) => {
      const engine = await DuckDbEngine.open({ threads: 1 });
      try {
        const r = await engine.query(
          `SELECT * FROM read_parquet('${path.join(d, '.asof', 'models', 'refined.sessions.parquet')}') ORDER BY ALL`,
        );
        return toObjects(r.columns, r.rows);
      } finally {
        await engine.close();
      }
    };
    const rows = await snapshot(dir);
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(await snapshot(duckDir));
    // Planned per warehouse: nothing left to do on Spark, every model new to DuckDB (the spec's engine).
    const range = ['--from', '2025-03-01', '--to', '2025-03-02'];
    expect((await asof('models', 'plan', ...range, '--engine', 'spark')).stdout).toBe(
      'models: nothing to rebuild\n',
    );
    expect((await asof('models', 'plan', ...range)).stdout).toMatch(/^models to rebuild \(3\):/);
    // A view over a model, backfilled on Spark from the CLI: u1 had 2 sessions of 2 clicks on 03-01, u2 one of 2.
    const bf = await asof('backfill', '--from', '2025-03-02', '--to', '2025-03-02', '--engine', 'spark');
    expect(bf.code, bf.stderr).toBe(0);
    const shown = await asof('show', '--view', 'user_sessions', '--as-of', '2025-03-02', '--format', 'csv');
    expect(shown.stdout).toBe(
      'user_id,as_of_date,sessions_7d,clicks_7d\nu1,2025-03-02,2,4\nu2,2025-03-02,1,2\n',
    );
    // The models' state says where each model was built: on DuckDB now, every model is new.
    expect((await asof('load', '--source', 'clickstream', 'data/*.jsonl')).code).toBe(0);
    const onDuck = await asof('models', 'build', '--from', '2025-03-01', '--to', '2025-03-02');
    expect(onDuck.code, onDuck.stderr).toBe(0);
    expect(onDuck.stdout).toBe('3 model(s) built, 0 failed or blocked\n');
    expect(existsSync(path.join(dir, '.asof', 'warehouse.duckdb'))).toBe(true);
  }, 400_000);
});

describe('quality checks on Spark', () => {
  const yaml = qualitySpec({
    window: '2d',
    sourceExtra: ['ingested_at: ingested_at', 'allowed_lateness: 2h'],
    feature: [
      '{ null_rate: { max: 0.05 }, severity: warn }',
      '{ range: { min: 0, max: 60 }, severity: warn }',
      '{ drift: { max_psi: 0.1, bins: 4 }, severity: warn }',
    ],
    view: [
      '{ row_count_change: { max_percent: 10 }, severity: warn }',
      '{ unique_key: {} }',
      '{ freshness: { max_age: 6h }, severity: warn }',
      '{ late_event_rate: { max: 0.1 }, severity: warn }',
    ],
  });
  // Day one: 8 users with amounts 5..68; day two: amounts shifted up, NULLs, a late arrival.
  const lines = ['user_id,event_ts,amount,ingested_at'];
  for (let u = 1; u <= 8; u++) {
    lines.push(`u${u},2025-01-09T0${u}:00:00,${u * 9 - 4},2025-01-09T0${u}:05:00`);
    const amount = u === 3 ? '' : String(u * 11);
    const arrival = u === 5 ? '2025-01-11T09:00:00' : `2025-01-10T1${u}:00:00`;
    if (u !== 8) lines.push(`u${u},2025-01-10T0${u}:30:00,${amount},${arrival}`);
  }
  lines.push(
    'u9,2025-01-10T09:00:00,7,2025-01-10T09:00:00',
    'u10,2025-01-10T10:00:00,,2025-01-10T10:00:00',
    '',
  );

  it('gives the verdicts, values, messages and failing examples DuckDB gives', async () => {
    if (!spark) throw new Error('no spark');
    const results: Record<string, unknown[]> = {};
    for (const engine of ['duckdb', 'spark'] as const) {
      const dir = makeProject({ 'asof.yaml': yaml, 'data/events.csv': lines.join('\n') });
      const project = await loadProject(dir);
      const run = (asOf: string) =>
        build(project, { asOf, ...(engine === 'spark' ? { using: spark?.engine } : { engine }) });
      await run('2025-01-09');
      const built = await run('2025-01-10');
      results[engine] = built.flatMap((b) => b.checks ?? []);
    }
    const duckChecks = results.duckdb as { check: string; status: string }[];
    expect(duckChecks.map((c) => [c.check, c.status])).toEqual([
      ['null_rate', 'fail'],
      ['range', 'fail'],
      ['drift', 'fail'],
      ['row_count_change', 'fail'],
      ['unique_key', 'pass'],
      ['freshness', 'fail'],
      ['late_event_rate', 'fail'],
    ]);
    expect(results.spark).toEqual(results.duckdb);
  }, 300_000);
});
