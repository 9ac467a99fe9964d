// Views over CDC sources: before a build, the history table is exported from the warehouse to the
// Parquet file the view reads (spec/cdc.ts cdcHistorySource), with per-day change statistics from
// which each partition's source fingerprint is computed (so late changes restale old partitions).

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyExportSql } from '../engines/duckdb/cdc.js';
import { DuckDbWarehouse } from '../engines/duckdb/warehouse.js';
import { AsofError } from '../errors.js';
import { contentHash } from '../spec/hash.js';
import type { Project, Source, View } from '../spec/project.js';
import { type Instant, localDate } from '../time/index.js';

/** Per local day (project timezone) of valid_from: `changes:max lsn:hash` of the exported rows. */
interface DayStats {
  timezone: string;
  days: Record<string, string>;
}

function statsFile(project: Project, source: Source): string {
  return path.resolve(project.root, source.path.replace(/\.parquet$/, '.days.json'));
}

/** Opens the warehouse read-only; `asof cdc run` holds it for a moment per batch, so wait for it. */
async function openReadOnly(project: Project): Promise<DuckDbWarehouse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await DuckDbWarehouse.open(project.storage.warehouse, { readOnly: true });
    } catch (e) {
      if (!(e instanceof AsofError && e.code === 'lock') || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Writes the current history of the CDC source `source` reads to its Parquet file and day
 * statistics, each beside and then renamed (a kill leaves the previous pair, or a newer file
 * with older statistics: the next plan then sees a changed fingerprint and rebuilds, never less).
 * A CDC source with nothing applied yet exports no rows.
 */
export async function exportCdcHistory(project: Project, source: Source): Promise<void> {
  const cdc = source.cdc ? project.cdc?.[source.cdc] : undefined;
  if (!cdc) throw new Error(`source ${source.name} is not a CDC history`);
  const file = path.resolve(project.root, source.path);
  mkdirSync(path.dirname(file), { recursive: true });
  const wh = existsSync(project.storage.warehouse)
    ? await openReadOnly(project)
    : await DuckDbWarehouse.open(':memory:');
  try {
    const exists = await wh.query(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = 'cdc' AND table_name = '${cdc.name}_history'`,
    );
    const sql = historyExportSql(cdc, project.timezone, exists.rows.length > 0);
    const tmp = `${file}.${process.pid}.tmp`;
    await wh.run(`COPY (${sql.rows}) TO '${tmp.replace(/'/g, "''")}' (FORMAT parquet)`);
    const days: Record<string, string> = {};
    for (const r of (await wh.query(sql.days)).rows) days[String(r[0])] = `${r[1]}:${r[2]}:${r[3]}`;
    const stats: DayStats = { timezone: project.timezone, days };
    const tmpStats = `${statsFile(project, source)}.${process.pid}.tmp`;
    writeFileSync(tmpStats, JSON.stringify(stats));
    renameSync(tmp, file);
    renameSync(tmpStats, statsFile(project, source));
  } finally {
    await wh.close();
  }
}

/** Exports the history of every CDC source the views read (before `asof plan` and builds). */
export async function exportCdcSources(project: Project, views: View[]): Promise<void> {
  const names = new Set(views.map((v) => v.source));
  for (const name of names) {
    const source = project.sources[name];
    if (source?.cdc) await exportCdcHistory(project, source);
  }
}

/**
 * The source fingerprint of one partition of a view over a CDC source: the statistics of the
 * days before its cutoff only, so a change applied late for day D marks partitions from D on
 * as changed and leaves the earlier ones up to date. Cutoffs are local midnights.
 */
export function cdcFingerprint(project: Project, source: Source, cutoff: Instant): string {
  const file = statsFile(project, source);
  let stats: DayStats;
  try {
    stats = JSON.parse(readFileSync(file, 'utf8')) as DayStats;
  } catch {
    throw new AsofError(
      'usage',
      `the history of CDC source '${source.cdc}' has not been exported`,
      { file },
      'run asof build or asof backfill, which export it first',
    );
  }
  const lastDay = localDate(cutoff - 1, project.timezone);
  const seen = Object.entries(stats.days)
    .filter(([day]) => day <= lastDay)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return contentHash({ cdc: source.cdc, timezone: stats.timezone, days: seen });
}
