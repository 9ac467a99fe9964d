// The partition calendar of the dashboard: for each view and feature version, each as_of_date's
// state (published, failed check, stale because the definition changed since, or missing), read
// from the lake's manifests and the run history.

import { readdirSync } from 'node:fs';
import type { Project } from '../spec/project.js';
import { type CheckRecord, readManifest } from '../storage/lake/manifest.js';
import { listPartitions } from '../storage/lake/partition.js';
import { partitionDir, viewDir } from '../storage/lake/paths.js';
import { type RunRecord, readRuns } from '../storage/meta/runs.js';
import { addDays, dateRange, type IsoDate } from '../time/index.js';

export type PartitionState = 'published' | 'failed' | 'stale' | 'missing';

export interface CalendarCell {
  as_of_date: IsoDate;
  state: PartitionState;
  rows?: number;
  duration_ms?: number;
  transformation_version?: string;
  run_id?: string;
  finished_at?: string;
  /** The failed checks of the latest attempt (state failed), or why the partition is stale. */
  detail?: string;
  /** A failed attempt left the previously published partition in place. */
  previous_rows?: number;
}

export interface CalendarRow {
  view: string;
  version: number;
  current: boolean;
  transformation_version: string | null;
  cells: CalendarCell[];
}

export interface PartitionCalendar {
  from: IsoDate | null;
  to: IsoDate | null;
  rows: CalendarRow[];
  counts: Record<PartitionState, number>;
}

/** Feature versions of a view found in the lake (v1, v2, ...), plus the current one. */
export function versionsOf(project: Project, view: string): number[] {
  const found = new Set<number>();
  try {
    for (const e of readdirSync(viewDir(project.storage.offline, view))) {
      const m = /^v(\d+)$/.exec(e);
      if (m) found.add(Number(m[1]));
    }
  } catch {
    // no partition yet
  }
  const current = project.views[view]?.version;
  if (current !== undefined) found.add(current);
  return [...found].sort((a, b) => a - b);
}

interface Failure {
  run: RunRecord;
  checks: CheckRecord[];
}

/** The latest failed quality gate per view and as_of_date, if no later run published it. */
function failures(runs: RunRecord[]): Map<string, Failure> {
  const out = new Map<string, Failure>();
  for (const run of runs) {
    for (const p of run.partitions) out.delete(`${p.view}\u0000${p.as_of_date}`);
    const byKey = new Map<string, CheckRecord[]>();
    for (const c of run.checks ?? []) {
      const date = c.as_of_date ?? run.as_of_date;
      if (!date) continue;
      const k = `${c.view}\u0000${date}`;
      byKey.set(k, [...(byKey.get(k) ?? []), c]);
    }
    for (const [k, checks] of byKey) if (checks.some((c) => c.status === 'fail')) out.set(k, { run, checks });
  }
  return out;
}

/**
 * The calendar over the last `days` dates that have anything (a partition or a failed attempt).
 * A row per view and feature version; dates without a partition in that row are missing.
 */
export function partitionCalendar(project: Project, opts: { days?: number } = {}): PartitionCalendar {
  const runs = readRuns(project.storage.offline);
  const failed = failures(runs);
  const rows: CalendarRow[] = [];
  const dates = new Set<IsoDate>();
  const published = new Map<string, IsoDate[]>();
  for (const view of Object.values(project.views).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const version of versionsOf(project, view.name)) {
      const list = listPartitions(project.storage.offline, view.name, version);
      published.set(`${view.name}\u0000${version}`, list);
      for (const d of list) dates.add(d);
    }
  }
  for (const k of failed.keys()) dates.add(k.split('\u0000')[1] as IsoDate);
  const sorted = [...dates].sort();
  const last = sorted[sorted.length - 1];
  const first = sorted[0];
  const days = opts.days ?? 92;
  const earliest = last ? addDays(last, -(days - 1)) : undefined;
  const from = earliest && first ? ([earliest, first].sort()[1] ?? null) : null;
  const range = from && last ? dateRange(from, last) : [];
  const counts: Record<PartitionState, number> = { published: 0, failed: 0, stale: 0, missing: 0 };

  for (const view of Object.values(project.views).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const version of versionsOf(project, view.name)) {
      const current = version === view.version;
      const have = new Set(published.get(`${view.name}\u0000${version}`) ?? []);
      const cells: CalendarCell[] = range.map((d) => {
        const m = have.has(d)
          ? readManifest(partitionDir(project.storage.offline, view.name, version, d))
          : undefined;
        const fail = current ? failed.get(`${view.name}\u0000${d}`) : undefined;
        const base = m
          ? {
              rows: m.rows_written,
              duration_ms: m.duration_ms,
              transformation_version: m.transformation_version,
              run_id: m.run_id,
              finished_at: m.finished_at,
            }
          : {};
        let cell: CalendarCell;
        if (fail) {
          const bad = fail.checks.filter((c) => c.status === 'fail');
          cell = {
            as_of_date: d,
            state: 'failed',
            run_id: fail.run.run_id,
            finished_at: fail.run.finished_at,
            detail: bad.map((c) => `${c.severity} ${c.message}`).join('; '),
            ...(m ? { previous_rows: m.rows_written, transformation_version: m.transformation_version } : {}),
          };
        } else if (!m) {
          cell = { as_of_date: d, state: 'missing' };
        } else if (current && m.transformation_version !== view.transformationVersion) {
          cell = {
            as_of_date: d,
            state: 'stale',
            ...base,
            detail: `built by transformation_version ${m.transformation_version}; the spec is now ${view.transformationVersion}: rebuild it (asof backfill)`,
          };
        } else {
          cell = { as_of_date: d, state: 'published', ...base };
        }
        return cell;
      });
      // an old version with nothing in the window is noise
      if (!current && cells.every((c) => c.state === 'missing')) continue;
      for (const c of cells) counts[c.state]++;
      rows.push({
        view: view.name,
        version,
        current,
        transformation_version: current ? view.transformationVersion : null,
        cells,
      });
    }
  }
  return { from, to: last ?? null, rows, counts };
}
