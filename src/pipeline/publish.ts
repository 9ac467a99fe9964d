// `asof publish --view V [--as-of D]`: materializes one published lake partition of a view (the
// latest by default) into the online store so `asof serve` answers it; idempotent per partition.

import { AsofError } from '../errors.js';
import type { Value } from '../expr/evaluate.js';
import type { Project } from '../spec/project.js';
import { selectView } from '../spec/select.js';
import { listPartitions } from '../storage/lake/partition.js';
import { entityKeyOf } from '../stream/state.js';
import type { Clock, IsoDate } from '../time/index.js';
import { openPublishStore } from './online-store.js';
import { showPartition } from './show.js';

export interface PublishResult {
  view: string;
  asOfDate: IsoDate;
  rows: number;
  /** False when the same partition was already published (nothing changed). */
  changed: boolean;
}

/** A value as JSON can carry it (DuckDB gives bigints and temporal objects). */
function plain(v: unknown): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

export async function publishView(
  project: Project,
  viewName: string,
  asOf: IsoDate | undefined,
  clock: Clock,
): Promise<PublishResult> {
  const view = selectView(project, viewName);
  const date = asOf ?? listPartitions(project.storage.offline, view.name, view.version).at(-1);
  if (!date) {
    throw new AsofError(
      'usage',
      `view '${view.name}' v${view.version} has no published partition`,
      {},
      `run: asof build --view ${view.name} --as-of <date>`,
    );
  }
  const shown = await showPartition(project, view.name, date, view.version);
  const names = shown.result.columns.map((c) => c.name);
  const keyOf = entityKeyOf(view.keys);
  const rows: [string, Record<string, Value>][] = [];
  for (const r of shown.result.rows) {
    const obj: Record<string, Value> = {};
    names.forEach((n, i) => {
      obj[n] = plain(r[i]);
    });
    const key = keyOf(obj);
    if (key === null) continue;
    rows.push([key, Object.fromEntries(view.features.map((f) => [f.name, obj[f.name] ?? null]))]);
  }
  const m = shown.manifest;
  const store = await openPublishStore(project);
  let changed: boolean;
  try {
    changed = await store.writePublished(
      {
        view: view.name,
        asOfDate: m.as_of_date,
        featureVersion: m.feature_version,
        transformationVersion: m.transformation_version,
        cutoff: m.cutoff,
        fingerprint: m.data_files.map((f) => f.sha256).join(','),
        rows: rows.length,
        publishedAt: clock.now(),
      },
      rows,
    );
  } finally {
    await store.close();
  }
  return { view: view.name, asOfDate: m.as_of_date, rows: rows.length, changed };
}
