// Quality over time per feature, for the dashboard and the data dictionary: the null rate and mean of
// each published partition (profiled from its Parquet), the PSI drift recorded by drift checks, the
// declared thresholds, and the breaches (including those of failed attempts, which were not published).

import path from 'node:path';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import { type PartitionProfile, profileFiles, psiAgainst } from '../engines/duckdb/profile.js';
import type { Project, View } from '../spec/project.js';
import { type CheckRecord, type PartitionManifest, readManifest } from '../storage/lake/manifest.js';
import { listPartitions } from '../storage/lake/partition.js';
import { partitionDir } from '../storage/lake/paths.js';
import { readRuns } from '../storage/meta/runs.js';
import type { IsoDate } from '../time/index.js';

export interface FeaturePoint {
  as_of_date: IsoDate;
  rows: number | null;
  null_rate: number | null;
  mean: number | null;
  psi: number | null;
  /**
   * failed: the check values of an attempt the gate blocked (not published); the partition it
   * left in place, if any, is a separate published point of the same date.
   */
  attempt: 'published' | 'failed';
  /** The checks of this feature (and its view's row checks) that failed on this date. */
  breaches: string[];
}

export interface FeatureThresholds {
  null_rate_max?: number;
  psi_max?: number;
  range_min?: number;
  range_max?: number;
}

export interface FeatureQuality {
  view: string;
  version: number;
  feature: string;
  type: string;
  thresholds: FeatureThresholds;
  points: FeaturePoint[];
}

const NUMERIC = new Set(['int', 'double', 'bool']);
const PSI_TYPES = new Set(['int', 'double']);
const psiCache = new Map<string, Record<string, number | null>>();
const profileCache = new Map<string, PartitionProfile>();
const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function thresholdsOf(view: View, feature: string): FeatureThresholds {
  const t: FeatureThresholds = {};
  for (const c of view.checks ?? []) {
    if (c.feature !== feature) continue;
    if (c.kind === 'null_rate') t.null_rate_max = c.max;
    if (c.kind === 'drift') t.psi_max = c.maxPsi;
    if (c.kind === 'range') {
      if (c.min !== undefined) t.range_min = c.min;
      if (c.max !== undefined) t.range_max = c.max;
    }
  }
  return t;
}

const breachOf = (c: CheckRecord) => `${c.severity === 'error' ? 'FAILED' : 'WARN'} ${c.message}`;

/**
 * Every feature of the selected views (current versions), over their last `days` partitions.
 * `psi: 'latest'` computes the drift of the latest partition only (the dictionary's figure).
 */
export async function featureQuality(
  project: Project,
  opts: { views?: string[]; days?: number; psi?: 'all' | 'latest' } = {},
): Promise<FeatureQuality[]> {
  const views = Object.values(project.views)
    .filter((v) => !opts.views || opts.views.includes(v.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const runs = readRuns(project.storage.offline);
  const out: FeatureQuality[] = [];
  let engine: DuckDbEngine | undefined;
  const db = async () => {
    engine ??= await DuckDbEngine.open({ threads: 1 });
    return engine;
  };
  try {
    for (const view of views) {
      const dates = listPartitions(project.storage.offline, view.name, view.version).slice(
        -(opts.days ?? 92),
      );
      const manifests = new Map<IsoDate, { dir: string; manifest: PartitionManifest }>();
      for (const d of dates) {
        const dir = partitionDir(project.storage.offline, view.name, view.version, d);
        const manifest = readManifest(dir);
        if (manifest) manifests.set(d, { dir, manifest });
      }
      const fileOf = new Map<string, IsoDate>();
      const shaOf = new Map<string, string>();
      for (const [d, { dir, manifest }] of manifests)
        for (const f of manifest.data_files) {
          fileOf.set(path.join(dir, f.path), d);
          shaOf.set(path.join(dir, f.path), f.sha256);
        }
      const cols = view.features.map((f) => ({ name: f.name, numeric: NUMERIC.has(f.type) }));
      // a file's profile is cached by its checksum and the columns asked: a rebuilt partition has a new one
      const colKey = cols.map((c) => `${c.name}:${c.numeric}`).join(',');
      const cacheKey = (file: string) => `${shaOf.get(file)}|${colKey}`;
      const todo = [...fileOf.keys()].filter((f) => !profileCache.has(cacheKey(f)));
      if (todo.length > 0) {
        if (profileCache.size > 50_000) profileCache.clear();
        for (const p of await profileFiles(await db(), todo, cols)) profileCache.set(cacheKey(p.file), p);
      }
      const profiles = [...fileOf.keys()].flatMap((f) => {
        const p = profileCache.get(cacheKey(f));
        return p ? [{ ...p, file: f }] : [];
      });
      // per date: rows and per feature nulls and weighted mean sums (a partition may have several files)
      const agg = new Map<IsoDate, { rows: number; nulls: Map<string, number>; sums: Map<string, number> }>();
      for (const p of profiles) {
        const d = fileOf.get(p.file);
        if (!d) continue;
        const a = agg.get(d) ?? { rows: 0, nulls: new Map(), sums: new Map() };
        a.rows += p.rows;
        for (const [name, c] of Object.entries(p.columns)) {
          a.nulls.set(name, (a.nulls.get(name) ?? 0) + c.nulls);
          if (c.mean !== null) a.sums.set(name, (a.sums.get(name) ?? 0) + c.mean * (p.rows - c.nulls));
        }
        agg.set(d, a);
      }
      // drift between consecutive partitions of numeric features, where no drift check recorded
      // one (a check's own value is what its gate saw); cached by the data files' checksums
      const psiBy = new Map<IsoDate, Record<string, number | null>>();
      const dated = [...manifests];
      for (let i = opts.psi === 'latest' ? Math.max(1, dated.length - 1) : 1; i < dated.length; i++) {
        const [d, cur] = dated[i] as [IsoDate, { dir: string; manifest: PartitionManifest }];
        const [, prev] = dated[i - 1] as [IsoDate, { dir: string; manifest: PartitionManifest }];
        const curFile = cur.manifest.data_files[0];
        const prevFile = prev.manifest.data_files[0];
        if (!curFile || !prevFile) continue;
        const wanted = view.features.filter((f) => PSI_TYPES.has(f.type));
        if (wanted.length === 0) continue;
        const key = `${prevFile.sha256}|${curFile.sha256}|${wanted.map((f) => f.name).join(',')}`;
        let psi = psiCache.get(key);
        if (!psi) {
          psi = await psiAgainst(
            await db(),
            path.join(cur.dir, curFile.path),
            path.join(prev.dir, prevFile.path),
            wanted.map((f) => f.name),
            10,
          );
          if (psiCache.size > 20_000) psiCache.clear();
          psiCache.set(key, psi);
        }
        psiBy.set(d, psi);
      }
      // failed attempts of the current version: their check values are the only figures there are
      const failedChecks = new Map<IsoDate, CheckRecord[]>();
      for (const run of runs) {
        for (const p of run.partitions) if (p.view === view.name) failedChecks.delete(p.as_of_date);
        for (const c of run.checks ?? []) {
          const d = c.as_of_date ?? run.as_of_date;
          if (c.view !== view.name || !d) continue;
          failedChecks.set(d, [...(failedChecks.get(d) ?? []).filter((x) => x.spec_path !== c.spec_path), c]);
        }
      }
      for (const f of view.features) {
        const points: FeaturePoint[] = [];
        for (const [d, { manifest }] of manifests) {
          const a = agg.get(d);
          const rows = a?.rows ?? manifest.rows_written;
          const nulls = a?.nulls.get(f.name) ?? 0;
          const sum = a?.sums.get(f.name);
          const nonNull = rows - nulls;
          const checks = manifest.checks ?? [];
          const drift = checks.find((c) => c.check === 'drift' && c.feature === f.name);
          points.push({
            as_of_date: d,
            rows,
            null_rate: rows === 0 ? null : round(nulls / rows),
            mean: sum === undefined || nonNull === 0 ? null : round(sum / nonNull),
            psi: drift?.value ?? psiBy.get(d)?.[f.name] ?? null,
            attempt: 'published',
            breaches: checks
              .filter((c) => c.status === 'fail' && (c.feature === f.name || c.feature === undefined))
              .map(breachOf),
          });
        }
        for (const [d, checks] of failedChecks) {
          if (!checks.some((c) => c.status === 'fail')) continue;
          const mine = (kind: string) => checks.find((c) => c.check === kind && c.feature === f.name);
          const point: FeaturePoint = {
            as_of_date: d,
            rows: null,
            null_rate: mine('null_rate')?.value ?? null,
            mean: null,
            psi: mine('drift')?.value ?? null,
            attempt: 'failed',
            breaches: checks
              .filter((c) => c.status === 'fail' && (c.feature === f.name || c.feature === undefined))
              .map(breachOf),
          };
          points.push(point);
        }
        // by date; a failed attempt after the partition it left in place
        points.sort((a, b) =>
          a.as_of_date === b.as_of_date
            ? a.attempt < b.attempt
              ? 1
              : -1
            : a.as_of_date < b.as_of_date
              ? -1
              : 1,
        );
        out.push({
          view: view.name,
          version: view.version,
          feature: f.name,
          type: f.type,
          thresholds: thresholdsOf(view, f.name),
          points,
        });
      }
    }
  } finally {
    await engine?.close();
  }
  return out;
}
