// Benchmark of `asof training-set` (exact mode): 1M label rows against 10M transactions (+5M clicks),
// 5 features of 2 views, the product plan vs the straightforward plan (a range join per label row)
// on the same data, each in its own process for a clean peak RSS; then the wide case (20k labels,
// 10 views x 100 features). Run: npm run bench -- training-set [--labels N] [--events N] [--skip-wide]

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';
import { trainingSet } from '../src/pipeline/training-set.js';

const { values } = parseArgs({
  options: {
    labels: { type: 'string', default: '1000000' },
    events: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '100000' },
    days: { type: 'string', default: '120' },
    'wide-labels': { type: 'string', default: '20000' },
    'wide-views': { type: 'string', default: '10' },
    'wide-features': { type: 'string', default: '100' },
    'skip-naive': { type: 'boolean', default: false },
    'skip-wide': { type: 'boolean', default: false },
    'skip-exact': { type: 'boolean', default: false },
    // The straightforward plan is stopped after this many seconds (its time is then a lower bound).
    'naive-timeout': { type: 'string', default: '1200' },
    child: { type: 'string' },
    dir: { type: 'string' },
    views: { type: 'string' },
    data: { type: 'string' },
  },
});

interface ChildResult {
  ms: number;
  phases: { loadMs: number; featuresMs: number; writeMs: number };
  rows: number;
  maxRssMb: number;
  /** CPU time (user + system) of the child: less sensitive than wall time to other processes. */
  cpuS: number;
}

// ---- child: one plan, one process --------------------------------------------------------------
if (values.child) {
  const dir = values.dir ?? '';
  const project = await loadProject(dir);
  const log = {
    info: (m: string) => process.stderr.write(`${m}\n`),
    warn: (m: string) => process.stderr.write(`${m}\n`),
  };
  const r = await trainingSet(project, {
    log,
    labels: join(dir, values.child === 'wide' ? 'labels-wide.parquet' : 'labels.parquet'),
    timeColumn: 'label_ts',
    out: join(dir, `out-${values.child}.parquet`),
    views: values.views?.split(','),
    naive: values.child === 'naive',
  });
  const result: ChildResult = {
    ms: r.durationMs,
    phases: r.phases,
    rows: r.rows,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuS: (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** Runs one plan in a child process; undefined when it is stopped after `timeoutMs`. */
function runChild(plan: string, dir: string, views?: string, timeoutMs?: number): ChildResult | undefined {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', plan, '--dir', dir];
  if (views) args.push('--views', views);
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (process.env.ASOF_PROFILE) process.stderr.write(r.stderr);
  if (timeoutMs !== undefined && r.signal === 'SIGKILL') return undefined;
  if (r.status !== 0) throw new Error(`${plan} failed:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as ChildResult;
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const labels = Number(values.labels);
// --data DIR keeps the generated data there (and reuses it when present) to iterate on the plans.
const out = values.data ?? (await mkdtemp(join(tmpdir(), 'asof-bench-ts-')));
try {
  const g0 = performance.now();
  if (!existsSync(join(out, 'data', 'transactions.parquet')))
    await generate({
      out,
      users: Number(values.users),
      events: Number(values.events),
      days: Number(values.days),
      endDate: '2025-06-30',
      seed: 1,
      format: 'parquet',
    });
  // Keep the generated sources; replace the views: 5 features of 2 views, then the wide views.
  const generated = await readFile(join(out, 'asof.yaml'), 'utf8');
  const head = generated.slice(0, generated.indexOf('\nviews:'));
  const kinds = [
    ['count', ''],
    ['sum', 'amount'],
    ['avg', 'amount'],
    ['min', 'amount'],
    ['max', 'amount'],
    ['exists', ''],
    ['last', 'amount'],
    ['count_distinct', 'category'],
    ['stddev', 'amount'],
    ['days_since_last', ''],
  ] as const;
  const wins = ['1d', '3d', '7d', '14d', '30d', '60d', '90d', 'all', '24h', '12h'];
  const wideViews: string[] = [];
  for (let v = 0; v < Number(values['wide-views']); v++) {
    const clicks = v % 2 === 1;
    const lines = [
      `  wide_${v}:`,
      '    entity: user',
      `    source: ${clicks ? 'clicks' : 'transactions'}`,
      '    version: 1',
    ];
    if (!clicks) lines.push(`    where: "status = 'success'"`);
    lines.push('    features:');
    for (let f = 0; f < Number(values['wide-features']); f++) {
      const [agg, col0] = kinds[f % kinds.length] ?? ['count', ''];
      const window = wins[Math.floor(f / kinds.length) % wins.length];
      const col = clicks && col0 ? (agg === 'count_distinct' ? 'page' : '') : col0;
      const kind = clicks && col0 && !col ? 'count' : agg;
      lines.push(`      w${v}_f${f}: { agg: ${kind}, ${col ? `column: ${col}, ` : ''}window: ${window} }`);
    }
    wideViews.push(lines.join('\n'));
  }
  const views = [
    'views:',
    '  user_spend:',
    '    entity: user',
    '    source: transactions',
    '    version: 1',
    `    where: "status = 'success'"`,
    '    features:',
    '      avg_amount_7d: { agg: avg, column: amount, window: 7d }',
    '      purchases_30d: { agg: count, window: 30d }',
    '      sum_amount_30d: { agg: sum, column: amount, window: 30d }',
    '  user_activity:',
    '    entity: user',
    '    source: clicks',
    '    version: 1',
    '    features:',
    '      active_24h: { agg: exists, window: 24h }',
    '      clicks_7d: { agg: count, window: 7d }',
    ...wideViews,
    '',
  ].join('\n');
  await writeFile(join(out, 'asof.yaml'), `${head}\n${views}`);

  // Labels: users drawn by hash from the users that exist, times uniform over the last 90 days.
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`CREATE TABLE users AS SELECT user_id, row_number() OVER (ORDER BY user_id) - 1 AS i
    FROM (SELECT DISTINCT user_id FROM read_parquet('${join(out, 'data', 'transactions.parquet')}'))`);
  const nUsers = Number((await conn.runAndReadAll('SELECT count(*) FROM users')).getRowsJS()[0]?.[0] ?? 1);
  const labelSql = (n: number, salt: number) => `SELECT u.user_id,
      TIMESTAMP '2025-04-01' + to_microseconds((hash(r.range * 7 + ${salt}) % (90 * 86400000000))::BIGINT) AS label_ts,
      (hash(r.range + ${salt}) % 2)::INT AS label
    FROM range(${n}) r JOIN users u ON u.i = (hash(r.range + ${salt} * 1000003) % ${nUsers})::BIGINT
    ORDER BY r.range`;
  await conn.run(`COPY (${labelSql(labels, 1)}) TO '${join(out, 'labels.parquet')}' (FORMAT parquet)`);
  await conn.run(
    `COPY (${labelSql(Number(values['wide-labels']), 2)}) TO '${join(out, 'labels-wide.parquet')}' (FORMAT parquet)`,
  );
  console.log(
    `data: ${values.events} transactions, ${labels} labels, generated in ${s(performance.now() - g0)}`,
  );

  const main = 'user_spend,user_activity';
  if (!values['skip-exact']) {
    const fast = runChild('exact', out, main);
    if (!fast) throw new Error('the exact plan was stopped');
    console.log(
      `exact plan:      ${s(fast.ms)} (load ${s(fast.phases.loadMs)}, features ${s(fast.phases.featuresMs)}, write ${s(fast.phases.writeMs)}), ${Math.round(fast.rows / (fast.ms / 1000))} label rows/s, peak RSS ${fast.maxRssMb.toFixed(0)} MB, CPU ${fast.cpuS.toFixed(1)} s`,
    );
    if (!values['skip-naive']) {
      const limit = Number(values['naive-timeout']) * 1000;
      const naive = runChild('naive', out, main, limit);
      if (!naive) {
        console.log(
          `straightforward: stopped after ${s(limit)}, unfinished; ratio: more than ${(limit / fast.ms).toFixed(2)}x end to end`,
        );
      } else {
        console.log(
          `straightforward: ${s(naive.ms)} (load ${s(naive.phases.loadMs)}, features ${s(naive.phases.featuresMs)}, write ${s(naive.phases.writeMs)}), ${Math.round(naive.rows / (naive.ms / 1000))} label rows/s, peak RSS ${naive.maxRssMb.toFixed(0)} MB, CPU ${naive.cpuS.toFixed(1)} s`,
        );
        console.log(
          `ratio: ${(naive.ms / fast.ms).toFixed(2)}x end to end, ${(naive.phases.featuresMs / fast.phases.featuresMs).toFixed(2)}x on the feature computation`,
        );
        // Same answers: compare the two outputs row by row (1e-9 relative on doubles).
        const cmp =
          await conn.runAndReadAll(`WITH a AS (SELECT *, row_number() OVER () AS r FROM read_parquet('${join(out, 'out-exact.parquet')}')),
      b AS (SELECT *, row_number() OVER () AS r FROM read_parquet('${join(out, 'out-naive.parquet')}'))
      SELECT count(*) FILTER (WHERE a.user_id IS DISTINCT FROM b.user_id OR a.label_ts IS DISTINCT FROM b.label_ts
        OR a.purchases_30d IS DISTINCT FROM b.purchases_30d OR a.clicks_7d IS DISTINCT FROM b.clicks_7d
        OR a.active_24h IS DISTINCT FROM b.active_24h
        OR abs(coalesce(a.sum_amount_30d, 0) - coalesce(b.sum_amount_30d, 0)) > 1e-9 * greatest(1, abs(b.sum_amount_30d))
        OR (a.avg_amount_7d IS NULL) <> (b.avg_amount_7d IS NULL)
        OR abs(coalesce(a.avg_amount_7d, 0) - coalesce(b.avg_amount_7d, 0)) > 1e-9 * greatest(1, abs(b.avg_amount_7d))) AS diff,
        count(*) AS n
      FROM a JOIN b USING (r)`);
        const [diff, n] = cmp.getRowsJS()[0] ?? [];
        console.log(`outputs compared: ${n} rows, ${diff} differ`);
      }
    }
  }
  conn.closeSync();
  db.closeSync();
  if (!values['skip-wide']) {
    const names = wideViews.map((_, v) => `wide_${v}`).join(',');
    const wide = runChild('wide', out, names, 900_000);
    if (!wide) throw new Error('the wide case was stopped after 900 s');
    console.log(
      `wide (${values['wide-labels']} labels x ${values['wide-views']} views x ${values['wide-features']} features): ${s(wide.ms)} (load ${s(wide.phases.loadMs)}, features ${s(wide.phases.featuresMs)}, write ${s(wide.phases.writeMs)}), peak RSS ${wide.maxRssMb.toFixed(0)} MB, CPU ${wide.cpuS.toFixed(1)} s`,
    );
  }
} finally {
  if (!values.data) await rm(out, { recursive: true, force: true });
}
