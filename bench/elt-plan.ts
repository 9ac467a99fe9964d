// Planning benchmark of models and views together: a generated project of 400 SQL models (4 layers
// of 100) and 100 feature views reading them, every model and view partition of a 7-day range built;
// `asof plan --from --to` (one process, as a user runs it) must stay under 5 s with nothing to build.
// Run: npm run bench -- elt-plan

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRaw } from '../src/elt/load.js';
import { loadModelGraph } from '../src/elt/models.js';
import { generate } from '../src/gen/index.js';
import { backfillRange, planRange } from '../src/pipeline/plan-all.js';
import { loadProject } from '../src/pipeline/project.js';
import { dateRange } from '../src/time/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(tmpdir(), 'asof-bench-elt-'));
const N = 100;
try {
  const gen = await generate({
    out: path.join(dir, 'gen'),
    users: 2000,
    events: 20_000,
    days: 30,
    endDate: '2025-03-31',
    seed: 1,
    format: 'parquet',
  });
  const txns = gen.files.find((f) => f.source === 'transactions');
  if (!txns) throw new Error('no transactions generated');
  const model = (layer: string, i: number, sql: string) => {
    const f = path.join(dir, 'models', layer, `m${i}.sql`);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, `-- materialization: view\n-- tests:\n--   - not_null: user_id\n${sql}\n`);
  };
  for (let i = 0; i < N; i++) {
    model('staged', i, `SELECT user_id, event_ts, amount FROM raw.transactions WHERE amount > ${i}`);
    model(
      'refined',
      i,
      `SELECT * FROM ref('staged.m${i}') UNION ALL SELECT * FROM ref('staged.m${(i + 1) % N}')`,
    );
    model('enriched', i, `SELECT user_id, event_ts, amount * 2 AS amount FROM ref('refined.m${i}')`);
    model(
      'features',
      i,
      `SELECT user_id, event_ts, amount FROM ref('enriched.m${i}') WHERE amount < ${1000 + i}`,
    );
  }
  const spec = [
    'project: bench_elt',
    'sources:',
    ...Array.from({ length: N }, (_, i) => [
      `  f${i}:`,
      `    model: features.m${i}`,
      '    timestamp: event_ts',
      '    columns: { user_id: string, event_ts: timestamp, amount: double }',
    ]).flat(),
    'entities:',
    '  user: { key: user_id }',
    'views:',
    ...Array.from({ length: N }, (_, i) => [
      `  v${i}:`,
      `    entity: user`,
      `    source: { model: features.m${i} }`,
      '    features:',
      '      n_7d: { agg: count, window: 7d }',
      '      spend_7d: { agg: sum, column: amount, window: 7d }',
    ]).flat(),
  ];
  writeFileSync(path.join(dir, 'asof.yaml'), `${spec.join('\n')}\n`);
  const project = await loadProject(dir);
  await loadRaw(project, { source: 'transactions', files: [txns.path] });
  const [from, to] = ['2025-03-24', '2025-03-30'];
  let t = Date.now();
  const built = await backfillRange(project, { dates: dateRange(from, to) });
  console.log(
    `setup: ${built.models.length} models built (100 snapshots exported), ${built.built.length} view partitions backfilled in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const plan = () => {
    const t0 = Date.now();
    const out = execFileSync(process.execPath, [
      path.join(repo, 'bin', 'asof.js'),
      'plan',
      '--from',
      from,
      '--to',
      to,
      '--project',
      dir,
    ]).toString();
    const lines = out.trim().split('\n');
    return { ms: Date.now() - t0, first: lines[0], last: lines.at(-1) };
  };
  // The floor under any command: starting node and loading the CLI's modules (same machine, same run).
  for (let run = 1; run <= 2; run++) {
    const t0 = Date.now();
    execFileSync(process.execPath, [path.join(repo, 'bin', 'asof.js'), '--version']);
    console.log(`asof --version (process start-up): ${Date.now() - t0} ms`);
  }
  for (let run = 1; run <= 3; run++) {
    const r = plan();
    console.log(`asof plan, nothing to build: ${r.ms} ms (${r.first}; ${r.last})`);
  }
  // Where the time goes, in this process (warm: models/ was compiled by the setup, so the graph is
  // reused): the spec, the SQL check, the whole plan.
  t = Date.now();
  const p = await loadProject(dir);
  const tLoad = Date.now() - t;
  t = Date.now();
  await loadModelGraph(p);
  const tCheck = Date.now() - t;
  t = Date.now();
  const inProcess = await planRange(p, { dates: dateRange(from, to) });
  console.log(
    `in process, warm: load project (spec; model graph cached) ${tLoad} ms, model SQL check ${tCheck} ms, plan ${Date.now() - t} ms (${inProcess.partitions.length} partitions)`,
  );
  const f = path.join(dir, 'models', 'staged', 'm0.sql');
  writeFileSync(f, readFileSync(f, 'utf8').replace('amount > 0', 'amount >= 0'));
  const r = plan();
  console.log(`asof plan after changing staged.m0: ${r.ms} ms (${r.first}; ${r.last})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
