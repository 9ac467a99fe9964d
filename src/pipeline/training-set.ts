// `asof training-set` and `asof audit`: read the label file, plan, load the views' sources, compute
// each view's features as of every label time (exact, or from published partitions), write the
// label rows back in order with their features; the audit samples rows and checks provenance.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { perfectHashSql } from '../engines/duckdb/aggregates.js';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import {
  assembleSql,
  auditJoinSql,
  badLabelTimesSql,
  copyToSql,
  eventsSql,
  exactFeatureQuery,
  type FeatureQueryBuilder,
  LABELS_TABLE,
  type LabelFormat,
  labelPointsSql,
  loadLabelsSql,
  naiveAssembleSql,
  naiveViewSql,
  type OutputFormat,
  type PointUnit,
  partitionFeaturesSql,
  pointsSql,
  readLabelsSql,
  rowsPerPointSql,
  SAMPLE_ENTITIES_FROM_ROWS,
  sampleLabelsSql,
  sourceRowsSql,
} from '../engines/duckdb/training-set-sql.js';
import { quoteIdent, stringLiteral } from '../engines/duckdb/types.js';
import type { Engine } from '../engines/engine.js';
import { type EngineType, openEngine } from '../engines/open.js';
import { AsofError } from '../errors.js';
import { planTrainingSet, type TrainingSetMode, type TrainingSetPlan } from '../plan/training-set.js';
import type { Project } from '../spec/project.js';
import { listPartitions } from '../storage/lake/partition.js';
import { readPublished } from '../storage/lake/published.js';
import { cutoffInstant, formatInstant } from '../time/index.js';
import { loadSources } from './build.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';

export interface LabelsOptions {
  labels: string;
  timeColumn: string;
  views?: string[];
  fullNames?: boolean;
  ignoreArrival?: boolean;
}

export interface TrainingSetOptions extends LabelsOptions {
  out: string;
  mode?: TrainingSetMode;
  /** The benchmark's baseline: the straightforward range join per label row. */
  naive?: boolean;
  /** Every kind by the range join (the reference the running-total plan is tested against). */
  reference?: boolean;
  /** Running totals for every view of prefix kinds, whatever its rows per point (tests use it). */
  runningTotals?: boolean;
  /** Forces a branch of the exact plan that the product otherwise chooses per view (tests use it). */
  plan?: { unit?: PointUnit; bucketing?: boolean; inlineEvents?: boolean };
  log?: Logger;
  engine?: { threads?: number; memoryLimit?: string };
  /**
   * The engine that computes exact features (default: the spec's engine). One that does not
   * support training sets leaves them to the embedded engine, which always reads the labels and
   * writes the output.
   */
  engineType?: EngineType;
  /** An open engine to compute the features on (tests share one session); not closed here. */
  using?: Engine;
}

export interface TrainingSetResult {
  rows: number;
  columns: string[];
  out: string;
  durationMs: number;
  /** Where the time went: reading labels and sources, computing features, writing the output. */
  phases: { loadMs: number; featuresMs: number; writeMs: number };
}

/**
 * DuckDB's memory limit for training sets and audits (its default, 80% of RAM, lets one run take
 * the machine): beyond it, joins and aggregates spill to the engine's temp folder.
 */
const MEMORY_LIMIT = '3GB';

export function labelFormat(file: string): LabelFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.parquet') return 'parquet';
  throw new AsofError(
    'usage',
    `cannot tell the format of '${file}'`,
    { file },
    'use a .csv, .jsonl or .parquet file',
  );
}

export function outputFormat(file: string): OutputFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  throw new AsofError(
    'usage',
    `cannot tell the output format of '${file}'`,
    { file },
    'name the output .csv or .parquet',
  );
}

/** Reads the label file into the labels table and plans the training set. */
async function loadLabels(
  project: Project,
  engine: DuckDbEngine,
  opts: LabelsOptions & { mode?: TrainingSetMode },
): Promise<TrainingSetPlan> {
  const file = path.resolve(opts.labels);
  if (!existsSync(file)) throw new AsofError('usage', 'label file not found', { file });
  const format = labelFormat(file);
  const read = readLabelsSql(file, format);
  let described: unknown[][];
  try {
    described = (await engine.query(`DESCRIBE SELECT * FROM ${read}`)).rows;
  } catch (e) {
    throw new AsofError('contract', `cannot read the label file: ${(e as Error).message.split('\n')[0]}`, {
      file,
    });
  }
  const columns = described.map((r) => String(r[0]));
  const types = new Map(described.map((r) => [String(r[0]), String(r[1])]));
  const sniffed = types.get(opts.timeColumn);
  // A sniffed timestamp type could read local times as UTC: label times are parsed from text.
  const textTime = format !== 'parquet' && sniffed !== undefined && sniffed !== 'VARCHAR';
  const readTyped = textTime
    ? readLabelsSql(
        file,
        format,
        described.map((r) => ({ name: String(r[0]), type: String(r[1]) })),
        [opts.timeColumn],
      )
    : read;
  const plan = planTrainingSet(project, {
    labelsFile: file,
    labelColumns: columns,
    timeColumn: opts.timeColumn,
    views: opts.views,
    fullNames: opts.fullNames,
    ignoreArrival: opts.ignoreArrival,
    mode: opts.mode,
  });
  await engine.query(
    loadLabelsSql(
      readTyped,
      opts.timeColumn,
      textTime ? 'VARCHAR' : (sniffed ?? 'VARCHAR'),
      project.timezone,
    ),
  );
  const bad = (await engine.query(badLabelTimesSql(opts.timeColumn))).rows;
  const first = bad[0];
  if (first) {
    const examples = bad.map((b) => `row ${Number(b[0])}: ${b[1] === null ? 'empty' : `'${String(b[1])}'`}`);
    throw new AsofError(
      'contract',
      `${Number(first[2])} label row(s) have no readable time, e.g. ${examples.join(', ')}`,
      { file, dataColumn: opts.timeColumn },
      'every label needs a timestamp (an offset, or local to the project timezone)',
    );
  }
  return plan;
}

/** Lists the partitions of each view's current version and their cutoffs. */
function publishedPartitions(project: Project, plan: TrainingSetPlan, i: number) {
  const vp = plan.views[i];
  if (!vp) return [];
  const view = vp.view;
  return listPartitions(project.storage.offline, view.name, view.version).flatMap((asOfDate) => {
    const published = readPublished(project.storage.offline, view, asOfDate);
    if (!published) return [];
    return published.manifest.data_files.map((f) => ({
      asOfDate,
      cutoffMs: cutoffInstant(asOfDate, view.cutoff, project.timezone),
      file: path.join(published.dir, f.path),
    }));
  });
}

export async function trainingSet(project: Project, opts: TrainingSetOptions): Promise<TrainingSetResult> {
  const t0 = performance.now();
  const log = opts.log ?? silentLogger;
  const out = path.resolve(opts.out);
  const format = outputFormat(out);
  const engine = await DuckDbEngine.open({ memoryLimit: MEMORY_LIMIT, ...opts.engine });
  const query = engine.query.bind(engine);
  if (process.env.ASOF_PROFILE) {
    // Prints each statement's time (for benchmarks and tuning), never on by default.
    engine.query = async (sql: string) => {
      const s0 = performance.now();
      const c0 = process.cpuUsage();
      const r = await query(sql);
      const c = process.cpuUsage(c0);
      log.info(
        `${((performance.now() - s0) / 1000).toFixed(2)} s (cpu ${((c.user + c.system) / 1e6).toFixed(2)} s)  ${sql.replace(/\s+/g, ' ').slice(0, 110)}`,
      );
      return r;
    };
  }
  let features: Engine | undefined;
  try {
    features = await featureEngine(project, opts);
    const plan = await loadLabels(project, engine, opts);
    const perView: string[] = [];
    const phases = { loadMs: 0, featuresMs: 0, writeMs: 0 };
    let mark = t0;
    const lap = (phase: keyof typeof phases) => {
      const now = performance.now();
      phases[phase] += now - mark;
      mark = now;
    };
    if (plan.mode === 'partitions' && features) {
      throw new AsofError(
        'usage',
        `--mode partitions reads the published partitions; --engine ${features.name} computes exact training sets only`,
        {},
        'leave out --engine, or use --mode exact',
      );
    }
    if (plan.mode === 'partitions') {
      for (const [i, vp] of plan.views.entries()) {
        const parts = publishedPartitions(project, plan, i);
        if (parts.length === 0)
          log.warn(
            `view ${vp.view.name} v${vp.view.version} has no published partition: its features are NULL`,
          );
        const points = quoteIdent(`__pts_${i}`);
        await engine.query(`CREATE OR REPLACE TEMP TABLE ${points} AS ${pointsSql(vp, plan.timezone)}`);
        const q = partitionFeaturesSql(vp, points, parts);
        for (const s of q.setup) await engine.query(s);
        const table = quoteIdent(`__feat_${i}`);
        await engine.query(`CREATE OR REPLACE TEMP TABLE ${table} AS ${q.select}`);
        perView.push(table);
      }
      lap('featuresMs');
      await engine.query(copyToSql(assembleSql(plan, perView, false), out, format));
      lap('writeMs');
    } else if (features) {
      const on = features;
      await loadSources(
        project,
        plan.views.map((v) => v.view),
        on,
      );
      lap('loadMs');
      for (const [i, vp] of plan.views.entries()) {
        perView.push(await featuresOn(on, engine, vp, plan.timezone, i, out));
      }
      lap('featuresMs');
      await engine.query(copyToSql(assembleSql(plan, perView, true), out, format));
      lap('writeMs');
    } else {
      await loadSources(
        project,
        plan.views.map((v) => v.view),
        engine,
      );
      lap('loadMs');
      const units: PointUnit[] = [];
      const labelRows = opts.naive
        ? 0
        : Number((await engine.query(`SELECT count(*) FROM ${LABELS_TABLE}`)).rows[0]?.[0] ?? 0);
      // A view's source rows go into a table of their own only when another view reads the same.
      const eventsOf = plan.views.map((vp) => eventsSql(vp, plan.timezone, LABELS_TABLE));
      for (const [i, vp] of plan.views.entries()) {
        const table = quoteIdent(`__feat_${i}`);
        if (opts.naive) {
          await engine.query(`CREATE OR REPLACE TEMP TABLE ${table} AS ${naiveViewSql(vp, plan.timezone)}`);
        } else {
          const unit = opts.plan?.unit ?? (await pointUnit(engine, vp));
          units.push(unit);
          const points = quoteIdent(`__pts_${i}`);
          await engine.query(
            `CREATE OR REPLACE TEMP TABLE ${points} AS ${pointsSql(vp, plan.timezone, LABELS_TABLE, unit)}`,
          );
          // Only a view of prefix kinds can take the running totals: the estimate decides which.
          const rowsPerPoint =
            opts.runningTotals || !vp.features.every((f) => f.prefix)
              ? undefined
              : await estimateRowsPerPoint(engine, vp);
          const q = exactFeatureQuery(vp, plan.timezone, points, {
            provenance: false,
            rangeOnly: opts.reference === true,
            rowsPerPoint,
            unit,
            inlineEvents: opts.plan?.inlineEvents ?? eventsOf.filter((e) => e === eventsOf[i]).length === 1,
            bucketing: opts.plan?.bucketing,
          });
          await engine.query(perfectHashSql(labelRows, vp.features.length));
          for (const s of q.setup) await engine.query(s);
          await engine.query(`CREATE OR REPLACE TEMP TABLE ${table} AS ${q.select}`);
        }
        perView.push(table);
      }
      lap('featuresMs');
      const query = opts.naive ? naiveAssembleSql(plan, perView) : assembleSql(plan, perView, true, units);
      await engine.query(copyToSql(query, out, format));
      lap('writeMs');
    }
    const rows = Number((await engine.query(`SELECT count(*) FROM ${LABELS_TABLE}`)).rows[0]?.[0] ?? 0);
    const columns = [...plan.labelColumns, ...plan.views.flatMap((v) => v.features.map((f) => f.output))];
    return { rows, columns, out, durationMs: performance.now() - t0, phases };
  } finally {
    await engine.close();
    if (features && features !== opts.using) await features.close();
  }
}

/**
 * Distinct points per label row at or above which a view is computed per label row: the points'
 * DISTINCT and the join back to the label rows cost a sixth to a fifth of the range join per
 * label, so points pay off only when enough rows repeat one (at 50% repeats they won by ~2 s CPU
 * per 1M labels, at 20% no difference showed: BENCHMARKS.md, training sets).
 */
const ROWS_ABOVE_POINT_SHARE = 0.75;

/** Per distinct point when the label rows repeat enough of them, else per label row (see PointUnit). */
export function choosePointUnit(labelRows: number, distinctPoints: number): PointUnit {
  return distinctPoints < ROWS_ABOVE_POINT_SHARE * labelRows ? 'points' : 'rows';
}

async function pointUnit(engine: DuckDbEngine, vp: TrainingSetPlan['views'][number]): Promise<PointUnit> {
  const [rows, points] = (await engine.query(labelPointsSql(vp))).rows[0] ?? [];
  return choosePointUnit(Number(rows), Number(points));
}

/** Source rows per point in the view's longest window, estimated (see rowsPerPointSql). */
async function estimateRowsPerPoint(
  engine: DuckDbEngine,
  vp: TrainingSetPlan['views'][number],
): Promise<number> {
  const rows = Number((await engine.query(sourceRowsSql(vp))).rows[0]?.[0] ?? 0);
  const sql = rowsPerPointSql(vp, rows >= SAMPLE_ENTITIES_FROM_ROWS);
  return Number((await engine.query(sql)).rows[0]?.[0] ?? 0);
}

/** The engine asked for (option, else the spec's), when it computes training sets; else undefined. */
async function featureEngine(project: Project, opts: TrainingSetOptions): Promise<Engine | undefined> {
  // Published partitions are read by the embedded engine, whatever engine the spec names.
  if (opts.mode === 'partitions' && !opts.engineType && !opts.using) return undefined;
  const opened =
    opts.using ??
    (opts.engineType || project.engine ? await openEngine(project.engine, opts.engineType) : undefined);
  if (!opened || (opened.supports.trainingSets && opened.trainingFeatures)) return opened;
  if (opened !== opts.using) await opened.close();
  return undefined;
}

/**
 * One view's features computed on `features`: the view's points (made by the embedded engine, with
 * the label rules) go over as a Parquet file beside the output, the per-point features come back
 * and are joined to the points. The folder is removed after; a run killed halfway leaves it.
 */
async function featuresOn(
  features: Engine,
  engine: DuckDbEngine,
  vp: TrainingSetPlan['views'][number],
  timezone: string,
  i: number,
  out: string,
): Promise<string> {
  if (!features.trainingFeatures) throw new Error(`engine ${features.name} cannot compute training sets`);
  const points = quoteIdent(`__pts_${i}`);
  await engine.query(`CREATE OR REPLACE TEMP TABLE ${points} AS ${pointsSql(vp, timezone)}`);
  const scratch = path.join(path.dirname(out), `.${path.basename(out)}.${randomUUID().slice(0, 8)}`);
  mkdirSync(scratch, { recursive: true });
  try {
    const pointsFile = path.join(scratch, 'points.parquet');
    const keys = vp.view.keys.map((_, k) => quoteIdent(`__k${k}`));
    const pointCols = [quoteIdent('__pid'), ...keys, quoteIdent('__t')];
    await engine.query(
      `COPY (SELECT ${pointCols.join(', ')} FROM ${points}) TO ${stringLiteral(pointsFile)} (FORMAT parquet)`,
    );
    const files = await features.trainingFeatures(vp, timezone, pointsFile, path.join(scratch, 'features'));
    const table = quoteIdent(`__feat_${i}`);
    const cols = vp.features.map((tf) => `f.${quoteIdent(tf.output)}`);
    await engine.query(`CREATE OR REPLACE TEMP TABLE ${table} AS
      SELECT ${[...keys, quoteIdent('__t')].map((c) => `p.${c}`).join(', ')}, ${cols.join(', ')}
      FROM ${points} p LEFT JOIN read_parquet([${files.map(stringLiteral).join(', ')}]) f ON f.${quoteIdent('__pid')} = p.${quoteIdent('__pid')}`);
    return table;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface AuditOptions extends LabelsOptions {
  sample?: number;
  seed?: number;
}

export interface AuditFinding {
  /** 1-based row of the label file. */
  row: number;
  keys: Record<string, unknown>;
  labelTime: string;
  view: string;
  feature: string;
  /** The latest event instant the feature read, null when it read none. */
  latestEvent: string | null;
  leak: boolean;
}

export interface AuditReport {
  sampled: number;
  findings: AuditFinding[];
  leaks: number;
}

/**
 * Samples label rows (deterministically) and, with the exact plan (or `builder`, which tests
 * replace by a deliberately leaky one), reports the latest event each feature used per row.
 */
export async function audit(
  project: Project,
  opts: AuditOptions,
  builder: FeatureQueryBuilder = exactFeatureQuery,
): Promise<AuditReport> {
  const engine = await DuckDbEngine.open({ memoryLimit: MEMORY_LIMIT });
  try {
    const plan = await loadLabels(project, engine, opts);
    await loadSources(
      project,
      plan.views.map((v) => v.view),
      engine,
    );
    const sample = quoteIdent('__sample');
    await engine.query(
      `CREATE OR REPLACE TEMP TABLE ${sample} AS ${sampleLabelsSql(opts.sample ?? 100, opts.seed ?? 42)}`,
    );
    const sampled = Number((await engine.query(`SELECT count(*) FROM ${sample}`)).rows[0]?.[0] ?? 0);
    const findings: AuditFinding[] = [];
    for (const [i, vp] of plan.views.entries()) {
      const points = quoteIdent(`__apts_${i}`);
      await engine.query(`CREATE OR REPLACE TEMP TABLE ${points} AS ${pointsSql(vp, plan.timezone, sample)}`);
      const q = builder(vp, plan.timezone, points, { provenance: true, labels: sample });
      for (const s of q.setup) await engine.query(s);
      const res = await engine.query(auditJoinSql(vp, sample, q.select));
      for (const r of res.rows) {
        const t = r[1] as Date;
        const keys = Object.fromEntries(vp.view.keys.map((k, j) => [k, r[2 + j]]));
        vp.features.forEach((tf, f) => {
          const u = r[2 + vp.view.keys.length + f] as Date | null;
          findings.push({
            row: Number(r[0]),
            keys,
            labelTime: formatInstant(t.getTime()),
            view: vp.view.name,
            feature: tf.output,
            latestEvent: u ? formatInstant(u.getTime()) : null,
            leak: u !== null && u !== undefined && u.getTime() >= t.getTime(),
          });
        });
      }
    }
    findings.sort((a, b) => a.row - b.row);
    return { sampled, findings, leaks: findings.filter((f) => f.leak).length };
  } finally {
    await engine.close();
  }
}
