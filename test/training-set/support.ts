// Runs a training set in-process on a test project and reads the output back as plain objects.

import path from 'node:path';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { loadProject } from '../../src/pipeline/project.js';
import { type TrainingSetOptions, trainingSet } from '../../src/pipeline/training-set.js';
import { type Obj, toObjects } from '../support/build.js';

export async function readOutput(file: string): Promise<Obj[]> {
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    const fn = file.endsWith('.csv') ? `read_csv('${file}', header = true)` : `read_parquet('${file}')`;
    const r = await engine.query(`SELECT * FROM ${fn}`);
    return toObjects(r.columns, r.rows);
  } finally {
    await engine.close();
  }
}

/** Builds a training set from the labels at `labels` (relative to dir) and returns its rows. */
export async function trainingRows(
  dir: string,
  opts: Partial<TrainingSetOptions> & { labels: string; timeColumn?: string },
): Promise<Obj[]> {
  const project = await loadProject(dir);
  const out = path.join(dir, opts.out ?? 'out.parquet');
  await trainingSet(project, { timeColumn: 'label_ts', ...opts, labels: path.join(dir, opts.labels), out });
  return readOutput(out);
}

/** Equal, or for numbers within 1e-9 relative (1e-9 absolute near zero): sums depend on the order of addition. */
export const close = (a: unknown, b: unknown) =>
  typeof a === 'number' && typeof b === 'number'
    ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))
    : a === b;

/** The source columns of the labelled-events test projects (`ing`: the arrival time, see withArrival). */
export const EVENT_COLUMNS = {
  user_id: 'string',
  event_ts: 'timestamp',
  amount: 'int',
  status: 'string',
  ing: 'timestamp',
} as const;

/** A spec whose source declares `ing` as its `ingested_at` (the arrival rule applies). */
export const withArrival = (yaml: string) =>
  yaml.replace('    timestamp: event_ts\n', '    timestamp: event_ts\n    ingested_at: ing\n');
