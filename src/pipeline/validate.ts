// `asof validate`: the spec is already checked by loading it; this reads every source against its
// contract (columns present, values parsable, keys not null) without writing anything, and every
// published partition's data files against the sha256 recorded in its manifest.

import { DuckDbEngine } from '../engines/duckdb/engine.js';
import { AsofError } from '../errors.js';
import type { Project, View } from '../spec/project.js';
import { readManifest } from '../storage/lake/manifest.js';
import { listPartitions, readablePartitionDir, verifyPartition } from '../storage/lake/partition.js';
import { loadSources } from './build.js';
import type { Logger } from './log.js';
import { corruptPartition } from './show.js';

export interface ValidationReport {
  views: number;
  sources: { name: string; files: number; rows: number }[];
  /** Published partitions of the current versions whose data files were checked against their manifest. */
  partitions: number;
}

export async function validateProject(project: Project, log: Logger): Promise<ValidationReport> {
  const views = Object.values(project.views);
  const used = new Set(views.map((v) => v.source));
  // A CDC source (read by views through its history) is checked only when a view reads it.
  const checked = Object.keys(project.sources).filter((n) => used.has(n) || !project.sources[n]?.cdc);
  for (const name of checked) {
    if (!used.has(name)) log.warn(`source '${name}' is not used by any view`);
  }
  const engine = await DuckDbEngine.open();
  try {
    const loaded = await loadSources(project, views, engine, checked, { log });
    const partitions = verifyLake(project, views, log);
    return {
      partitions,
      views: views.length,
      sources: [...loaded.values()].map((l) => ({
        name: l.source.name,
        files: l.files.length,
        rows: l.rows,
      })),
    };
  } finally {
    await engine.close();
  }
}

/**
 * Checks every published partition of each view's current version against its manifest (sizes
 * and sha256): each damaged one is reported, then the run fails with the contract code.
 */
function verifyLake(project: Project, views: View[], log: Logger): number {
  let checked = 0;
  const bad: AsofError[] = [];
  for (const view of views) {
    for (const asOfDate of listPartitions(project.storage.offline, view.name, view.version)) {
      const ref = { offline: project.storage.offline, view: view.name, version: view.version, asOfDate };
      const dir = readablePartitionDir(ref);
      const manifest = dir ? readManifest(dir) : undefined;
      if (!dir || !manifest) continue;
      checked++;
      const damaged = verifyPartition(dir, manifest);
      if (damaged.length > 0) {
        const e = corruptPartition(view.name, view.version, asOfDate, damaged);
        log.warn(e.describe());
        bad.push(e);
      }
    }
  }
  if (bad.length === 1) throw bad[0];
  if (bad.length > 1) {
    throw new AsofError(
      'contract',
      `${bad.length} partitions are corrupt (listed above)`,
      { file: project.storage.offline },
      'rebuild them: asof backfill --from D1 --to D2 (plan names them as corrupt)',
    );
  }
  return checked;
}
