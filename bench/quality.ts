// What contracts and quality checks cost in the nightly pipeline: `asof run` over generated
// transactions (Parquet), once with no checks and once with every check kind, two consecutive
// dates each (the second compares with the first). Prints per-stage times from the run summary.
// Run: npm run bench -- quality [--events N] [--users N]

import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from '../src/gen/index.js';
import { loadProject } from '../src/pipeline/project.js';
import { type RunSummary, runPipeline } from '../src/pipeline/run.js';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '2000000' }, users: { type: 'string', default: '100000' } },
});

const CHECKS = {
  feature: [
    '{ null_rate: { max: 0.5 } }',
    '{ range: { min: 0, max: 1000000 } }',
    '{ drift: { max_psi: 10 }, severity: warn }',
  ],
  view: [
    '{ unique_key: {} }',
    '{ row_count_change: { max_percent: 90 }, severity: warn }',
    '{ freshness: { max_age: 2d } }',
    '{ late_event_rate: { max: 1 }, severity: warn }',
  ],
};

function spec(withChecks: boolean): string {
  const fc = withChecks ? `, checks: [${CHECKS.feature.join(', ')}]` : '';
  return [
    'project: bench',
    'sources:',
    '  transactions:',
    '    path: data/transactions.parquet',
    '    timestamp: event_ts',
    '    ingested_at: ingested_at',
    '    allowed_lateness: 1h',
    '    primary_key: txn_id',
    '    columns: { txn_id: string, user_id: string, event_ts: timestamp, amount: double, status: string, category: string, ingested_at: timestamp }',
    'entities:',
    '  user: { key: user_id }',
    'views:',
    '  user_spend:',
    '    entity: user',
    '    source: transactions',
    `    where: "status = 'success'"`,
    '    features:',
    `      avg_amount_7d: { agg: avg, column: amount, window: 7d${fc} }`,
    '      purchases_30d: { agg: count, window: 30d }',
    '      sum_amount_30d: { agg: sum, column: amount, window: 30d }',
    ...(withChecks ? ['    checks:', ...CHECKS.view.map((c) => `      - ${c}`)] : []),
    '',
  ].join('\n');
}

function stageMs(s: RunSummary, stage: string): number {
  return s.stages.filter((x) => x.stage === stage).reduce((n, x) => n + x.duration_ms, 0);
}

const out = await mkdtemp(join(tmpdir(), 'asof-bench-quality-'));
try {
  const events = Number(values.events);
  await generate({
    out,
    users: Number(values.users),
    events,
    days: 60,
    endDate: '2025-03-01',
    seed: 7,
    format: 'parquet',
  });
  console.log(
    `${events} transactions, ${values.users} users, Parquet; asof run for 2025-02-27 then 2025-02-28`,
  );
  for (const withChecks of [false, true]) {
    writeFileSync(join(out, 'asof.yaml'), spec(withChecks));
    await rm(join(out, '.asof'), { recursive: true, force: true });
    const project = await loadProject(out);
    for (const asOf of ['2025-02-27', '2025-02-28']) {
      const { summary, error } = await runPipeline(project, { asOf, notify: false });
      if (error) throw error;
      const checks = summary.views[0]?.checks.length ?? 0;
      console.log(
        `  ${withChecks ? 'with 7 checks' : 'no checks    '} ${asOf}: total ${summary.duration_ms} ms; extract ${stageMs(summary, 'extract')} ms, transform ${stageMs(summary, 'transform')} ms, validate ${stageMs(summary, 'validate')} ms (${checks} checks, late-event rate ${summary.views[0]?.late_event_rate}), load ${stageMs(summary, 'load')} ms`,
      );
    }
  }
} finally {
  await rm(out, { recursive: true, force: true });
}
