// Quality checks of one view partition: what each kind measures, its verdict against the declared
// threshold, and the gate (an error-severity failure blocks the publish; a warning is reported).
// The numbers come from the engine (engine.measure); this file holds the semantics.

import path from 'node:path';
import type { Engine } from '../engines/engine.js';
import type { MeasureRequest } from '../engines/measure.js';
import { AsofError } from '../errors.js';
import type { Project, QualityCheck, View } from '../spec/project.js';
import { type CheckRecord, type PartitionManifest, readManifest } from '../storage/lake/manifest.js';
import { listPartitions } from '../storage/lake/partition.js';
import { DATA_FILE, partitionDir } from '../storage/lake/paths.js';
import {
  addDays,
  cutoffInstant,
  formatInstant,
  type Instant,
  type IsoDate,
  windowEndAfter,
  windowStart,
} from '../time/index.js';

/** A check's verdict: the recorded form (kind, severity, status, value, limit, failing rows). */
export type CheckResult = CheckRecord & { check: QualityCheck['kind'] };

/** Events of the partition's day whose arrival was after the cutoff plus the allowed lateness. */
export interface LateEvents {
  late: number;
  total: number;
  rate: number;
}

/** The published partition before `asOfDate` in the same view version, if any. */
export function previousPartition(
  project: Project,
  view: View,
  asOfDate: IsoDate,
): { asOfDate: IsoDate; dir: string; manifest: PartitionManifest } | undefined {
  const before = listPartitions(project.storage.offline, view.name, view.version).filter((d) => d < asOfDate);
  const date = before[before.length - 1];
  if (!date) return undefined;
  const dir = partitionDir(project.storage.offline, view.name, view.version, date);
  const manifest = readManifest(dir);
  return manifest ? { asOfDate: date, dir, manifest } : undefined;
}

async function measured(engine: Engine, req: MeasureRequest) {
  if (!engine.measure) {
    throw new AsofError('usage', `the ${engine.name} engine cannot run quality checks`);
  }
  return engine.measure(req);
}

/**
 * The late-event rate of a view's source for one as_of_date: among the source's rows whose event
 * time falls in the partition's day [previous cutoff, cutoff), the share that arrived
 * (`ingested_at`) strictly after the cutoff plus `allowed_lateness` (default 0). Undefined when
 * the source declares no ingested_at.
 */
export async function lateEvents(
  project: Project,
  view: View,
  asOfDate: IsoDate,
  engine: Engine,
): Promise<LateEvents | undefined> {
  const source = project.sources[view.source];
  if (!source?.ingestedAt) return undefined;
  const to = cutoffInstant(asOfDate, view.cutoff, project.timezone);
  const from = cutoffInstant(addDays(asOfDate, -1), view.cutoff, project.timezone);
  const deadline = windowEndAfter(to, source.allowedLateness ?? { kind: 'hours', n: 0 }, project.timezone);
  const m = await measured(engine, {
    kind: 'late_events',
    source: source.name,
    ingestedAt: source.ingestedAt,
    from,
    to,
    deadline,
  });
  return { late: m.count, total: m.total, rate: m.total === 0 ? 0 : m.count / m.total };
}

const EXAMPLES = 5;
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Runs every check of `view` against the materialized `result` table of the new partition. */
export async function runChecks(
  project: Project,
  view: View,
  asOfDate: IsoDate,
  result: string,
  rows: number,
  engine: Engine,
  late: LateEvents | undefined,
): Promise<CheckResult[]> {
  const checks = view.checks ?? [];
  if (checks.length === 0) return [];
  const cutoff = cutoffInstant(asOfDate, view.cutoff, project.timezone);
  const previous = previousPartition(project, view, asOfDate);
  const out: CheckResult[] = [];
  for (const c of checks) {
    const base = { check: c.kind, feature: c.feature, severity: c.severity, spec_path: c.specPath };
    const verdict = (ok: boolean) => (ok ? ('pass' as const) : ('fail' as const));
    const what = c.feature ? `${c.kind}(${c.feature})` : c.kind;
    switch (c.kind) {
      case 'null_rate': {
        const m = await measured(engine, { kind: 'nulls', result, column: c.feature ?? '' });
        const rate = m.total === 0 ? 0 : m.count / m.total;
        out.push({
          ...base,
          status: verdict(rate <= c.max),
          value: round(rate),
          limit: `<= ${c.max}`,
          message: `${what}: ${m.count} of ${m.total} rows NULL (rate ${round(rate)}, max ${c.max})`,
        });
        break;
      }
      case 'range': {
        const m = await measured(engine, {
          kind: 'out_of_range',
          result,
          column: c.feature ?? '',
          keys: view.keys,
          min: c.min,
          max: c.max,
          examples: EXAMPLES,
        });
        const limit = `in [${c.min ?? '-inf'}, ${c.max ?? '+inf'}]`;
        out.push({
          ...base,
          status: verdict(m.count === 0),
          value: m.count,
          limit,
          message: `${what}: ${m.count} of ${m.total} values outside ${limit.slice(3)}`,
          ...(m.count > 0 ? { examples: m.examples } : {}),
        });
        break;
      }
      case 'unique_key': {
        const m = await measured(engine, {
          kind: 'duplicate_keys',
          result,
          keys: view.keys,
          examples: EXAMPLES,
        });
        out.push({
          ...base,
          status: verdict(m.count === 0),
          value: m.count,
          limit: '0 duplicated keys',
          message: `unique_key: ${m.count} (${view.keys.join(', ')}, as_of_date) tuple(s) appear more than once`,
          ...(m.count > 0 ? { examples: m.examples } : {}),
        });
        break;
      }
      case 'row_count_change': {
        const prev = previous?.manifest.rows_written;
        if (prev === undefined || prev === 0) {
          out.push({
            ...base,
            status: 'skipped',
            value: null,
            limit: `<= ${c.maxPercent}%`,
            message: `row_count_change: no previous partition with rows to compare ${rows} rows with`,
          });
          break;
        }
        const pct = (100 * Math.abs(rows - prev)) / prev;
        out.push({
          ...base,
          status: verdict(pct <= c.maxPercent),
          value: round(pct),
          limit: `<= ${c.maxPercent}%`,
          message: `row_count_change: ${rows} rows against ${prev} on ${previous?.asOfDate} (${round(pct)}% change, max ${c.maxPercent}%)`,
        });
        break;
      }
      case 'drift': {
        if (!previous) {
          out.push({
            ...base,
            status: 'skipped',
            value: null,
            limit: `PSI <= ${c.maxPsi}`,
            message: `${what}: no previous partition to compare with`,
          });
          break;
        }
        const m = await measured(engine, {
          kind: 'psi',
          result,
          column: c.feature ?? '',
          previousFile: path.join(previous.dir, DATA_FILE),
          bins: c.bins,
        });
        const psi = m.value ?? 0;
        const empty = m.count === 0 || m.total === 0;
        out.push({
          ...base,
          status: empty ? 'skipped' : verdict(psi <= c.maxPsi),
          value: empty ? null : round(psi),
          limit: `PSI <= ${c.maxPsi}`,
          message: empty
            ? `${what}: no non-null values to compare`
            : `${what}: PSI ${round(psi)} against ${previous.asOfDate} (max ${c.maxPsi})`,
        });
        break;
      }
      case 'freshness': {
        const m = await measured(engine, { kind: 'latest_event', source: view.source, before: cutoff });
        const latest: Instant | null = m.value;
        const oldestFresh = windowStart(cutoff, c.maxAge, project.timezone) ?? Number.NEGATIVE_INFINITY;
        const hours = latest === null ? null : round((cutoff - latest) / 3_600_000);
        out.push({
          ...base,
          status: verdict(latest !== null && latest >= oldestFresh),
          value: hours,
          limit: `latest event at or after ${formatInstant(oldestFresh)}`,
          message:
            latest === null
              ? `freshness: no event before the cutoff ${formatInstant(cutoff)}`
              : `freshness: the latest event (${formatInstant(latest)}) is ${hours} h before the cutoff ${formatInstant(cutoff)}`,
        });
        break;
      }
      case 'late_event_rate': {
        const rate = late?.rate ?? 0;
        out.push({
          ...base,
          status: verdict(rate <= c.max),
          value: round(rate),
          limit: `<= ${c.max}`,
          message: `late_event_rate: ${late?.late ?? 0} of ${late?.total ?? 0} events of ${asOfDate} arrived after the cutoff plus the allowed lateness (rate ${round(rate)}, max ${c.max})`,
        });
        break;
      }
    }
  }
  return out;
}

/** The error-severity failures, which block the publish. */
export function blocking(results: CheckResult[]): CheckResult[] {
  return results.filter((r) => r.status === 'fail' && r.severity === 'error');
}

/** One readable line per result, with failing rows indented below. */
export function describeCheck(r: CheckResult): string {
  const head = `${r.status === 'fail' ? (r.severity === 'error' ? 'FAILED' : 'WARN') : r.status} ${r.message}`;
  const rows = (r.examples ?? []).map((e) => `\n      ${JSON.stringify(e)}`).join('');
  return head + rows;
}

/** An error-severity check failed: the partition was not swapped in (exit code 4). */
export class QualityGateError extends AsofError {
  constructor(
    readonly view: string,
    readonly asOfDate: IsoDate,
    readonly results: CheckResult[],
  ) {
    const failed = blocking(results);
    const warned = results.filter((r) => r.status === 'fail' && r.severity === 'warn');
    super(
      'quality',
      `view '${view}' as_of_date=${asOfDate}: ${failed.length} error-severity check(s) failed; the partition was not published (the previous one stays):\n    ${[...failed, ...warned].map(describeCheck).join('\n    ')}`,
      { specPath: failed[0]?.spec_path },
      'fix the data, or relax the check (checks are metadata: editing them does not change the transformation_version)',
    );
  }
}
