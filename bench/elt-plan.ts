// Planning benchmark of the ELT models: a generated project of 400 SQL models (4 layers of 100)
// and 100 feature views reading them; `asof models plan` (run as a user runs it) must stay under 5 s.
// Run: npm run bench -- elt-plan

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRaw } from '../src/elt/load.js';
import { buildModels } from '../src/elt/models.js';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(tmpdir(), 'asof-bench-elt-'));
const N = 100;
try {
  const gen = await generate({
    out: path.join(dir, 'gen'),
    users: 2000,
    events: 50_000,
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
  let t = Date.now();
  const built = await buildModels(project);
  console.log(
    `setup: ${built.length} models built (and 100 snapshots exported) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  const plan = () => {
    const t0 = Date.now();
    const out = execFileSync(process.execPath, [
      path.join(repo, 'bin', 'asof.js'),
      'models',
      'plan',
      '--project',
      dir,
    ]).toString();
    return { ms: Date.now() - t0, out };
  };
  for (let run = 1; run <= 3; run++) {
    const r = plan();
    console.log(`asof models plan, nothing to build: ${r.ms} ms (${r.out.trim().split('\n')[0]})`);
  }
  const f = path.join(dir, 'models', 'staged', 'm0.sql');
  writeFileSync(f, readFileSync(f, 'utf8').replace('amount > 0', 'amount >= 0'));
  t = Date.now();
  const r = plan();
  console.log(
    `asof models plan after changing staged.m0: ${r.ms} ms (${r.out.trim().split('\n')[0]}, ${r.out.split('\n').filter((l) => l.startsWith('views affected'))[0] ?? 'no view'})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
