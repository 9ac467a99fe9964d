// `asof show`: reads one published partition back, rows sorted by entity key.

import path from 'node:path';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import type { QueryResult } from '../engines/engine.js';
import { AsofError } from '../errors.js';
import type { Project } from '../spec/project.js';
import { selectView } from '../spec/select.js';
import { type PartitionManifest, readManifest } from '../storage/lake/manifest.js';
import {
  type DamagedFile,
  listPartitions,
  readablePartitionDir,
  verifyPartition,
} from '../storage/lake/partition.js';
import type { IsoDate } from '../time/index.js';

export interface ShownPartition {
  manifest: PartitionManifest;
  dir: string;
  result: QueryResult;
}

/** The error for a partition whose data files no longer match their manifest. */
export function corruptPartition(
  view: string,
  version: number,
  asOfDate: IsoDate,
  damaged: DamagedFile[],
): AsofError {
  return new AsofError(
    'contract',
    `the partition of ${view} v${version} as of ${asOfDate} is corrupt: ${damaged.map((d) => `${path.basename(d.file)} ${d.problem}`).join('; ')}`,
    { file: damaged[0]?.file },
    `rebuild it: asof backfill --from ${asOfDate} --to ${asOfDate} --view ${view}`,
  );
}

export async function showPartition(
  project: Project,
  viewName: string,
  asOfDate: IsoDate,
  version?: number,
): Promise<ShownPartition> {
  const view = selectView(project, viewName);
  const v = version ?? view.version;
  const dir = readablePartitionDir({
    offline: project.storage.offline,
    view: view.name,
    version: v,
    asOfDate,
  });
  const manifest = dir ? readManifest(dir) : undefined;
  if (!dir || !manifest) {
    const have = listPartitions(project.storage.offline, view.name, v);
    throw new AsofError(
      'usage',
      `no partition of ${view.name} v${v} as of ${asOfDate}`,
      {},
      have.length > 0
        ? `published dates: ${have.slice(-5).join(', ')}${have.length > 5 ? ' (latest 5)' : ''}`
        : `run: asof build --as-of ${asOfDate} --view ${view.name}`,
    );
  }
  const damaged = verifyPartition(dir, manifest);
  if (damaged.length > 0) throw corruptPartition(view.name, v, asOfDate, damaged);
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    const files = manifest.data_files.map((f) => path.join(dir, f.path));
    const result = await engine.readParquet(
      files.length === 1 ? (files[0] ?? '') : path.join(dir, '*.parquet'),
      view.keys,
    );
    return { manifest, dir, result };
  } finally {
    await engine.close();
  }
}
