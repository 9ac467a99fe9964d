// Benchmark of the synthetic data generator at backfill-benchmark size: 10M transactions for 100k
// users over 120 days (plus 500k tickets and 5M clicks). Run: node --import tsx bench/gen.ts [--format csv]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generate } from '../src/gen/index.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '100000' },
    days: { type: 'string', default: '120' },
    format: { type: 'string', default: 'parquet' },
  },
});
const format = values.format === 'csv' ? 'csv' : 'parquet';
const out = await mkdtemp(join(tmpdir(), 'asof-bench-gen-'));
try {
  const result = await generate({
    out,
    users: Number(values.users),
    events: Number(values.events),
    days: Number(values.days),
    endDate: '2025-06-30',
    seed: 1,
    format,
  });
  const seconds = result.durationMs / 1000;
  const txns = result.files.find((f) => f.source === 'transactions')?.rows ?? 0;
  const total = result.files.reduce((n, f) => n + f.rows, 0);
  console.log(`gen ${format}: ${txns} transactions (${total} rows in all) in ${seconds.toFixed(2)} s`);
  console.log(`  ${Math.round(txns / seconds)} transactions/s, ${Math.round(total / seconds)} rows/s`);
  for (const f of result.files) console.log(`  ${f.source}: ${f.rows} rows`);
} finally {
  await rm(out, { recursive: true, force: true });
}
