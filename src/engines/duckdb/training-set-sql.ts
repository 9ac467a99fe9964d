// DuckDB SQL of point-in-time training sets: label rows -> distinct (entity, t) points -> each
// view's features as of t (running totals looked up by ASOF joins for count/sum/avg/exists, a range
// join grouped per point for the other kinds), joined back to the label rows in their order.

import { AGGREGATIONS } from '../../aggregate/kinds.js';
import type { TrainingSetPlan, TrainingViewPlan } from '../../plan/training-set.js';
import type { SourceFormat } from '../../spec/project.js';
import { formatWindow, type Window } from '../../time/index.js';
import { printExpr } from '../sql/expr-printer.js';
import { aggregateSql } from './aggregates.js';
import { duckdbDialect } from './dialect.js';
import { typedValue } from './sources.js';
import { duckdbType, quoteIdent, stringLiteral } from './types.js';
import { sourceTable, TS_COLUMN } from './view-sql.js';

export const LABELS_TABLE = '__labels';
/** Hidden columns of the labels table: the row number (output order) and the label instant. */
export const ROW_ID = '__rid';
export const LABEL_TIME = '__t';

export type LabelFormat = Extract<SourceFormat, 'csv' | 'jsonl' | 'json' | 'parquet'>;

/**
 * The table function reading a label file with its own column types; `text` columns are read as
 * text (the label time, so that values with and without an offset are parsed by one rule).
 */
export function readLabelsSql(
  file: string,
  format: LabelFormat,
  described?: { name: string; type: string }[],
  text: string[] = [],
): string {
  const f = stringLiteral(file);
  const asText = (c: { name: string; type: string }) => (text.includes(c.name) ? 'VARCHAR' : c.type);
  const types =
    text.length > 0 ? `, types = {${text.map((c) => `${stringLiteral(c)}: 'VARCHAR'`).join(', ')}}` : '';
  const columns =
    described && text.length > 0
      ? `, columns = {${described.map((c) => `${stringLiteral(c.name)}: ${stringLiteral(asText(c))}`).join(', ')}}`
      : '';
  switch (format) {
    case 'csv':
      return `read_csv(${f}, header = true${types})`;
    case 'jsonl':
      return `read_json(${f}, format = 'newline_delimited'${columns})`;
    case 'json':
      return `read_json(${f}, format = 'auto'${columns})`;
    case 'parquet':
      return `read_parquet(${f})`;
  }
}

/** Reads the labels once, numbering rows in file order and parsing the label time as sources do. */
export function loadLabelsSql(
  read: string,
  timeColumn: string,
  rawTimeType: string,
  timezone: string,
): string {
  const t = typedValue(quoteIdent(timeColumn), rawTimeType, 'timestamp', timezone);
  return `CREATE OR REPLACE TEMP TABLE ${LABELS_TABLE} AS
  SELECT *, ${t} AS ${LABEL_TIME} FROM (SELECT *, row_number() OVER () AS ${ROW_ID} FROM ${read})`;
}

/** The first label rows whose time is empty or unreadable (a contract violation). */
export function badLabelTimesSql(timeColumn: string): string {
  return `SELECT ${ROW_ID} AS row, ${quoteIdent(timeColumn)}::VARCHAR AS value, count(*) OVER () AS n
  FROM ${LABELS_TABLE} WHERE ${LABEL_TIME} IS NULL ORDER BY ${ROW_ID} LIMIT 3`;
}

/**
 * The inclusive start of a window ending at instant `t` (SQL). `Nd`: the same local wall-clock time
 * N calendar days earlier; a time in a DST overlap takes the earlier instant and one in a gap moves
 * forward, as time/windowStart (Temporal's 'compatible') does; a parity test pins the two together.
 */
export function windowStartSql(t: string, w: Window, timezone: string): string | null {
  const tz = stringLiteral(timezone);
  switch (w.kind) {
    case 'all':
      return null;
    case 'hours':
      return `(${t} - INTERVAL ${w.n} HOUR)`;
    case 'days': {
      const local = `((${t} AT TIME ZONE ${tz}) - INTERVAL ${w.n} DAY)`;
      const later = `timezone(${tz}, ${local})`;
      const back = (m: number) => `(${later} - INTERVAL ${m} MINUTE)`;
      return `(CASE WHEN (${back(60)} AT TIME ZONE ${tz}) = ${local} THEN ${back(60)} WHEN (${back(30)} AT TIME ZONE ${tz}) = ${local} THEN ${back(30)} ELSE ${later} END)`;
    }
  }
}

/** The date days_since_last counts to: the as_of_date whose cutoff is the label time. */
export function referenceDateSql(
  t: string,
  rule: TrainingViewPlan['referenceRule'],
  timezone: string,
): string {
  const at = rule === 'end_of_day' ? `(${t} - INTERVAL 1 MICROSECOND)` : t;
  return `(${at} AT TIME ZONE ${stringLiteral(timezone)})::DATE`;
}

const key = (i: number) => quoteIdent(`__k${i}`);
const start = (w: Window) => quoteIdent(`__s_${formatWindow(w)}`);
const REF = quoteIdent('__ref');
const LOW = quoteIdent('__lo');
const T = quoteIdent(LABEL_TIME);
const TS = quoteIdent(TS_COLUMN);

function distinctWindows(vp: TrainingViewPlan): Window[] {
  const seen = new Map<string, Window>();
  for (const f of vp.features) seen.set(formatWindow(f.feature.window), f.feature.window);
  return [...seen.values()];
}

/** The label's entity key, cast to the source's key type (a key that does not cast matches nothing). */
export function labelKeySql(vp: TrainingViewPlan, i: number, alias = ''): string {
  const k = vp.view.keys[i] ?? '';
  const type = vp.source.columns[k];
  const col = `${alias}${quoteIdent(k)}`;
  return type ? `TRY_CAST(${col} AS ${duckdbType(type)})` : col;
}

/**
 * Distinct (entity, t) points of one view, from `labels` (a table of label rows), with each
 * window's start, the lowest start (null when a window is `all`) and the reference date.
 */
export function pointsSql(vp: TrainingViewPlan, timezone: string, labels = LABELS_TABLE): string {
  const keys = vp.view.keys.map((_, i) => `${labelKeySql(vp, i)} AS ${key(i)}`);
  const windows = distinctWindows(vp);
  const starts = windows.map(
    (w) => `${windowStartSql(T, w, timezone) ?? 'NULL::TIMESTAMPTZ'} AS ${start(w)}`,
  );
  const bounded = windows.filter((w) => w.kind !== 'all').map(start);
  const low =
    windows.some((w) => w.kind === 'all') || bounded.length === 0
      ? 'NULL::TIMESTAMPTZ'
      : bounded.length === 1
        ? bounded[0]
        : `least(${bounded.join(', ')})`;
  const nonNull = vp.view.keys.map((_, i) => `${key(i)} IS NOT NULL`).join(' AND ');
  return `SELECT *, ${low} AS ${LOW} FROM (
  SELECT *, ${starts.join(', ')}, ${referenceDateSql(T, vp.referenceRule, timezone)} AS ${REF}
  FROM (SELECT DISTINCT ${keys.join(', ')}, ${T} FROM ${labels} WHERE ${T} IS NOT NULL) WHERE ${nonNull})`;
}

/** The column holding feature i's value: features with the same expression share one. */
function valueCol(vp: TrainingViewPlan, i: number): string {
  const same = JSON.stringify(vp.features[i]?.feature.column ?? null);
  const first = vp.features.findIndex((f) => JSON.stringify(f.feature.column ?? null) === same);
  return `__v${first < 0 ? i : first}`;
}

/**
 * The view's visible rows: `where` applied, keys renamed, each distinct value expression computed
 * once. With `points`, only the entities that have a label point and rows before the latest one.
 */
function eventsSql(vp: TrainingViewPlan, timezone: string, points?: string): string {
  const ctx = { timezone };
  const values = vp.features.flatMap((f, i) =>
    f.feature.column && valueCol(vp, i) === `__v${i}`
      ? [`(${printExpr(f.feature.column, duckdbDialect, ctx)}) AS __v${i}`]
      : [],
  );
  const cols = [
    ...vp.view.keys.map((k, i) => `${quoteIdent(k)} AS ${key(i)}`),
    TS,
    // The local date costs a time-zone conversion per row: only days_since_last needs it.
    vp.features.some((f) => f.feature.agg === 'days_since_last')
      ? `(${TS} AT TIME ZONE ${stringLiteral(timezone)})::DATE AS __ld`
      : 'NULL::DATE AS __ld',
    ...values,
  ];
  if (vp.arrivalColumn) {
    const arr = quoteIdent(vp.arrivalColumn);
    // When the row was known: both its event time and its arrival had passed (NULL: on time).
    cols.push(`${arr} AS __arr`, `greatest(${TS}, coalesce(${arr}, ${TS})) AS __m`);
  }
  const conditions: string[] = [];
  if (vp.view.where) conditions.push(`(${printExpr(vp.view.where, duckdbDialect, ctx)}) IS TRUE`);
  if (points) {
    const keys = vp.view.keys.map((_, i) => key(i));
    conditions.push(
      `(${vp.view.keys.map(quoteIdent).join(', ')}) IN (SELECT (${keys.join(', ')}) FROM ${points})`,
      `${TS} < (SELECT max(${T}) FROM ${points})`,
    );
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  return `SELECT ${cols.join(', ')} FROM ${sourceTable(vp.view.source)}${where}`;
}

export interface FeatureQuery {
  /** Statements to run first (temporary tables), in order. */
  setup: string[];
  /**
   * One row per point: __k0.., __t, each feature under its output name and, with provenance,
   * `__used_<i>`: the latest event instant the feature read (NULL when none).
   */
  select: string;
}

export interface FeatureQueryOptions {
  provenance: boolean;
  /** Compute every kind by the range join (the reference plan; the parity tests use it). */
  rangeOnly?: boolean;
}

/** Builds one view's per-point feature query; the audit takes one as a parameter. */
export type FeatureQueryBuilder = (
  vp: TrainingViewPlan,
  timezone: string,
  points: string,
  opts: FeatureQueryOptions,
) => FeatureQuery;

/** The product's plan: running totals for PREFIX kinds (without an arrival rule), a range join for the rest. */
export const exactFeatureQuery: FeatureQueryBuilder = (vp, timezone, points, opts) => {
  const usePrefix = (i: number) => !opts.rangeOnly && vp.features[i]?.prefix === true;
  const prefixIdx = vp.features.map((_, i) => i).filter(usePrefix);
  const rangeIdx = vp.features.map((_, i) => i).filter((i) => !usePrefix(i));
  const id = `${vp.view.name}`;
  const events = quoteIdent(`__ev_${id}`);
  const setup = [`CREATE OR REPLACE TEMP TABLE ${events} AS ${eventsSql(vp, timezone, points)}`];
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const parts: { table: string; cols: string[] }[] = [];
  if (prefixIdx.length > 0) {
    const cum = quoteIdent(`__cum_${id}`);
    const table = quoteIdent(`__pre_${id}`);
    setup.push(`CREATE OR REPLACE TEMP TABLE ${cum} AS ${cumulativeSql(vp, prefixIdx, events, TS)}`);
    if (vp.arrivalColumn) {
      // Visible at t = known before t (ordered by known time) minus what happened before the
      // window start, plus back the rare rows before the start that were still unknown at t.
      const known = quoteIdent(`__cumk_${id}`);
      const late = quoteIdent(`__late_${id}`);
      setup.push(`CREATE OR REPLACE TEMP TABLE ${known} AS ${cumulativeSql(vp, prefixIdx, events, '__m')}`);
      setup.push(`CREATE OR REPLACE TEMP TABLE ${late} AS ${lateSql(vp, prefixIdx, points, events)}`);
      setup.push(
        `CREATE OR REPLACE TEMP TABLE ${table} AS ${prefixSql(vp, prefixIdx, points, known, cum, late, opts)}`,
      );
    } else {
      setup.push(
        `CREATE OR REPLACE TEMP TABLE ${table} AS ${prefixSql(vp, prefixIdx, points, cum, cum, undefined, opts)}`,
      );
    }
    parts.push({ table, cols: columnsOf(vp, prefixIdx, opts) });
  }
  if (rangeIdx.length > 0) {
    const table = quoteIdent(`__rng_${id}`);
    setup.push(`CREATE OR REPLACE TEMP TABLE ${table} AS ${rangeSql(vp, rangeIdx, points, events, opts)}`);
    parts.push({ table, cols: columnsOf(vp, rangeIdx, opts) });
  }
  const on = (alias: string) => [...keyCols, T].map((c) => `${alias}.${c} = p.${c}`).join(' AND ');
  const select = `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}${parts
    .flatMap((part, j) => part.cols.map((c) => `, x${j}.${c}`))
    .join('')}
  FROM ${points} p${parts.map((part, j) => ` LEFT JOIN ${part.table} x${j} ON ${on(`x${j}`)}`).join('')}`;
  return { setup, select };
};

function columnsOf(vp: TrainingViewPlan, idx: number[], opts: FeatureQueryOptions): string[] {
  return idx.flatMap((i) => [
    quoteIdent(vp.features[i]?.output ?? ''),
    ...(opts.provenance ? [quoteIdent(`__used_${i}`)] : []),
  ]);
}

/** Per entity and instant, running counts and sums of each prefix feature's value. */
function cumulativeSql(vp: TrainingViewPlan, idx: number[], events: string, at: string): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  // count and exists need only the running count; sum and avg also the running sum.
  const summed = (i: number) => ['sum', 'avg'].includes(vp.features[i]?.feature.agg ?? '');
  const per = idx.flatMap((i) => {
    const f = vp.features[i]?.feature;
    const counted = f?.column ? valueCol(vp, i) : '*';
    return [
      `count(${counted}) AS __c${i}`,
      summed(i) ? `sum(${valueCol(vp, i)}) AS __x${i}` : `0 AS __x${i}`,
    ];
  });
  const run = idx.flatMap((i) => [
    `sum(__c${i}) OVER w AS __c${i}`,
    summed(i) ? `coalesce(sum(__x${i}) OVER w, 0) AS __x${i}` : `0 AS __x${i}`,
  ]);
  return `SELECT ${keyCols.join(', ')}, __at, ${run.join(', ')}
  FROM (SELECT ${keyCols.join(', ')}, ${at} AS __at, ${per.join(', ')} FROM ${events} GROUP BY ALL)
  WINDOW w AS (PARTITION BY ${keyCols.join(', ')} ORDER BY __at ROWS UNBOUNDED PRECEDING)`;
}

/** The shortest a window can last (DST and other offset changes shorten a day by up to 3 hours). */
function minSeconds(w: Window): number {
  return w.kind === 'hours'
    ? w.n * 3600
    : w.kind === 'days'
      ? w.n * 86_400 - 3 * 3600
      : Number.POSITIVE_INFINITY;
}

/**
 * Per point, the rows before each window start that were still unknown at t (known time >= t):
 * only rows known later than their event by more than a window's length can be such rows.
 */
function lateSql(vp: TrainingViewPlan, idx: number[], points: string, events: string): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const lag = Math.min(...idx.map((i) => minSeconds(vp.features[i]?.feature.window ?? { kind: 'all' })));
  const cols = idx.flatMap((i) => {
    const f = vp.features[i]?.feature;
    if (!f || f.window.kind === 'all') return [`0 AS __c${i}`, `0 AS __x${i}`];
    const before = `FILTER (WHERE e.${TS} < p.${start(f.window)})`;
    return [
      `count(${f.column ? `e.${valueCol(vp, i)}` : '*'}) ${before} AS __c${i}`,
      f.column ? `coalesce(sum(e.${valueCol(vp, i)}) ${before}, 0) AS __x${i}` : `0 AS __x${i}`,
    ];
  });
  const lagged = Number.isFinite(lag)
    ? `WHERE __m - ${TS} >= INTERVAL ${Math.max(0, lag)} SECOND`
    : 'WHERE FALSE';
  return `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}, ${cols.join(', ')}
  FROM ${points} p JOIN (SELECT * FROM ${events} ${lagged}) e
    ON ${keyCols.map((k) => `e.${k} = p.${k}`).join(' AND ')} AND e.__m >= p.${T} AND e.${TS} < p.${T}
  GROUP BY ALL`;
}

/** Window totals as differences of the running totals just before t and just before each start. */
function prefixSql(
  vp: TrainingViewPlan,
  idx: number[],
  points: string,
  atT: string,
  atStart: string,
  late: string | undefined,
  opts: FeatureQueryOptions,
): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const windows = distinctWindows(vp).filter(
    (w) =>
      w.kind !== 'all' &&
      idx.some((i) => formatWindow(vp.features[i]?.feature.window ?? w) === formatWindow(w)),
  );
  const asof = (table: string, alias: string, bound: string) =>
    ` ASOF LEFT JOIN ${table} ${alias} ON ${keyCols.map((k) => `${alias}.${k} = p.${k}`).join(' AND ')} AND ${bound} > ${alias}.__at`;
  const joins = [asof(atT, 'a', `p.${T}`), ...windows.map((w, j) => asof(atStart, `b${j}`, `p.${start(w)}`))];
  if (late)
    joins.push(` LEFT JOIN ${late} c ON ${[...keyCols, T].map((k) => `c.${k} = p.${k}`).join(' AND ')}`);
  const cols = idx.flatMap((i) => {
    const tf = vp.features[i];
    if (!tf) return [];
    const f = tf.feature;
    const j = windows.findIndex((w) => formatWindow(w) === formatWindow(f.window));
    const minus = (col: string) =>
      j < 0 ? '' : ` - coalesce(b${j}.${col}, 0)${late ? ` + coalesce(c.${col}, 0)` : ''}`;
    const n = `(coalesce(a.__c${i}, 0)${minus(`__c${i}`)})`;
    const s = `(coalesce(a.__x${i}, 0)${minus(`__x${i}`)})`;
    let value: string;
    switch (f.agg) {
      case 'count':
        value = `${n}::BIGINT`;
        break;
      case 'exists':
        value = `(${n} > 0)`;
        break;
      case 'sum':
        value = `${s}::${duckdbType(f.type)}`;
        break;
      default:
        value = `(CASE WHEN ${n} > 0 THEN ${s}::DOUBLE / ${n} END)`;
    }
    const out = [`${value} AS ${quoteIdent(tf.output)}`];
    if (opts.provenance) out.push(`CASE WHEN ${n} > 0 THEN a.__at END AS ${quoteIdent(`__used_${i}`)}`);
    return out;
  });
  return `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}, ${cols.join(', ')}
  FROM ${points} p${joins.join('')}`;
}

/** The range join of points to visible events in [lowest start, t), grouped per point. */
function rangeSql(
  vp: TrainingViewPlan,
  idx: number[],
  points: string,
  events: string,
  opts: FeatureQueryOptions,
): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const cols = idx.flatMap((i) => {
    const tf = vp.features[i];
    if (!tf) return [];
    const f = tf.feature;
    const s = f.window.kind === 'all' ? null : `p.${start(f.window)}`;
    const inWindow = s === null ? `e.${TS} IS NOT NULL` : `e.${TS} >= ${s}`;
    const sql = aggregateSql({
      kind: f.agg,
      value: f.column ? `e.${valueCol(vp, i)}` : undefined,
      inWindow,
      ts: `e.${TS}`,
      localDate: 'e.__ld',
      referenceDate: `p.${REF}`,
      resultType: f.type,
    });
    const out = [`${sql} AS ${quoteIdent(tf.output)}`];
    if (opts.provenance) {
      const used = f.column ? `${inWindow} AND e.${valueCol(vp, i)} IS NOT NULL` : inWindow;
      out.push(`max(e.${TS}) FILTER (WHERE ${used}) AS ${quoteIdent(`__used_${i}`)}`);
    }
    return out;
  });
  const on = [
    ...keyCols.map((k) => `e.${k} = p.${k}`),
    `e.${TS} < p.${T}`,
    `(p.${LOW} IS NULL OR e.${TS} >= p.${LOW})`,
  ];
  if (vp.arrivalColumn) on.push(`(e.__arr IS NULL OR e.__arr < p.${T})`);
  const group = [...keyCols, T, REF, ...distinctWindows(vp).map(start)].map((c) => `p.${c}`);
  return `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}, ${cols.join(', ')}
  FROM ${points} p LEFT JOIN ${events} e ON ${on.join(' AND ')}
  GROUP BY ${group.join(', ')}`;
}

/**
 * The straightforward plan, kept as the benchmark's baseline: every label row range-joined to the
 * view's visible events in [lowest start, t) and grouped per label row, all kinds by aggregateSql.
 */
export function naiveViewSql(vp: TrainingViewPlan, timezone: string): string {
  const windows = distinctWindows(vp);
  const labelKeys = vp.view.keys.map((_, i) => `${labelKeySql(vp, i, 'l.')} AS ${key(i)}`);
  const rows = `SELECT l.${quoteIdent(ROW_ID)}, ${labelKeys.join(', ')}, l.${T},
    ${windows.map((w) => `${windowStartSql(`l.${T}`, w, timezone) ?? 'NULL::TIMESTAMPTZ'} AS ${start(w)}`).join(', ')},
    ${referenceDateSql(`l.${T}`, vp.referenceRule, timezone)} AS ${REF} FROM ${LABELS_TABLE} l`;
  const bounded = windows.filter((w) => w.kind !== 'all').map((w) => `p.${start(w)}`);
  const low =
    windows.some((w) => w.kind === 'all') || bounded.length === 0
      ? 'TRUE'
      : `e.${TS} >= least(${bounded.join(', ')}, p.${T})`;
  const cols = vp.features.map((tf, i) => {
    const f = tf.feature;
    const s = f.window.kind === 'all' ? null : `p.${start(f.window)}`;
    return `${aggregateSql({
      kind: f.agg,
      value: f.column ? `e.${valueCol(vp, i)}` : undefined,
      inWindow: s === null ? `e.${TS} IS NOT NULL` : `e.${TS} >= ${s}`,
      ts: `e.${TS}`,
      localDate: 'e.__ld',
      referenceDate: `p.${REF}`,
      resultType: f.type,
    })} AS ${quoteIdent(tf.output)}`;
  });
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const arrival = vp.arrivalColumn ? ` AND (e.__arr IS NULL OR e.__arr < p.${T})` : '';
  return `SELECT p.${quoteIdent(ROW_ID)}, ${cols.join(', ')}
  FROM (${rows}) p LEFT JOIN (${eventsSql(vp, timezone)}) e
    ON ${keyCols.map((k) => `e.${k} = p.${k}`).join(' AND ')} AND e.${TS} < p.${T} AND ${low}${arrival}
  GROUP BY p.${quoteIdent(ROW_ID)}, ${[T, REF, ...windows.map(start)].map((c) => `p.${c}`).join(', ')}`;
}

/**
 * `--mode partitions`: each point takes the latest published partition whose cutoff is at or before
 * t (an ASOF join on the partition list), then that partition's row for the entity. An entity
 * absent from that partition gets the empty values; a point before the first partition gets NULLs.
 */
export function partitionFeaturesSql(
  vp: TrainingViewPlan,
  points: string,
  partitions: { asOfDate: string; cutoffMs: number; file: string }[],
): { setup: string[]; select: string } {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const list = quoteIdent(`__parts_${vp.view.name}`);
  const data = quoteIdent(`__pdata_${vp.view.name}`);
  const values = partitions
    .map((p) => `(DATE '${p.asOfDate}', to_timestamp(${p.cutoffMs / 1000}), ${stringLiteral(p.file)})`)
    .join(', ');
  const setup = [
    `CREATE OR REPLACE TEMP TABLE ${list} AS SELECT * FROM (VALUES ${values}) v(as_of_date, cutoff, file)`,
    `CREATE OR REPLACE TEMP TABLE ${data} AS SELECT ${vp.view.keys
      .map((k, i) => `${quoteIdent(k)} AS ${key(i)}`)
      .join(', ')}, as_of_date, ${vp.features.map((f) => quoteIdent(f.feature.name)).join(', ')}
      FROM read_parquet([${partitions.map((p) => stringLiteral(p.file)).join(', ')}], hive_partitioning = false)`,
  ];
  const cols = vp.features.map((tf) => {
    const empty = AGGREGATIONS[tf.feature.agg].empty;
    const v = `d.${quoteIdent(tf.feature.name)}`;
    const value =
      empty === null
        ? v
        : `CASE WHEN c.as_of_date IS NULL THEN NULL ELSE coalesce(${v}, ${empty === false ? 'FALSE' : '0'}) END`;
    return `${value} AS ${quoteIdent(tf.output)}`;
  });
  const select = `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}, c.as_of_date AS __as_of_date, ${cols.join(', ')}
  FROM ${points} p ASOF LEFT JOIN ${list} c ON p.${T} >= c.cutoff
  LEFT JOIN ${data} d ON ${keyCols.map((k) => `d.${k} = p.${k}`).join(' AND ')} AND d.as_of_date = c.as_of_date`;
  return {
    setup: partitions.length > 0 ? setup : [],
    select: partitions.length > 0 ? select : emptyPartitionsSql(vp, points),
  };
}

function emptyPartitionsSql(vp: TrainingViewPlan, points: string): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const cols = vp.features.map((tf) => `NULL::${duckdbType(tf.feature.type)} AS ${quoteIdent(tf.output)}`);
  return `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}, NULL::DATE AS __as_of_date, ${cols.join(', ')} FROM ${points} p`;
}

/**
 * Every label row in file order with its original columns and each view's features (`perView[i]`
 * is the table of plan.views[i], one row per point). With `fillEmpty`, a row without a point (an
 * empty entity key) gets the empty values.
 */
export function assembleSql(plan: TrainingSetPlan, perView: string[], fillEmpty: boolean): string {
  const joins: string[] = [];
  const cols: string[] = [];
  plan.views.forEach((vp, j) => {
    const alias = `f${j}`;
    const on = [
      ...vp.view.keys.map((_, i) => `${alias}.${key(i)} = ${labelKeySql(vp, i, 'l.')}`),
      `${alias}.${T} = l.${T}`,
    ];
    joins.push(`LEFT JOIN ${perView[j]} ${alias} ON ${on.join(' AND ')}`);
    for (const tf of vp.features) {
      const empty = AGGREGATIONS[tf.feature.agg].empty;
      const v = `${alias}.${quoteIdent(tf.output)}`;
      const filled =
        !fillEmpty || empty === null
          ? v
          : `coalesce(${v}, ${empty === false ? 'FALSE' : `0::${duckdbType(tf.feature.type)}`})`;
      cols.push(`${filled} AS ${quoteIdent(tf.output)}`);
    }
  });
  const original = plan.labelColumns.map((c) => `l.${quoteIdent(c)}`);
  return `SELECT ${[...original, ...cols].join(', ')}
  FROM ${LABELS_TABLE} l ${joins.join(' ')}
  ORDER BY l.${quoteIdent(ROW_ID)}`;
}

/** The straightforward plan's whole output (benchmark baseline), in label order. */
export function naiveAssembleSql(plan: TrainingSetPlan, perView: string[]): string {
  const joins = perView.map(
    (t, j) => `LEFT JOIN ${t} f${j} ON f${j}.${quoteIdent(ROW_ID)} = l.${quoteIdent(ROW_ID)}`,
  );
  const cols = plan.views.flatMap((vp, j) => vp.features.map((tf) => `f${j}.${quoteIdent(tf.output)}`));
  return `SELECT ${[...plan.labelColumns.map((c) => `l.${quoteIdent(c)}`), ...cols].join(', ')}
  FROM ${LABELS_TABLE} l ${joins.join(' ')} ORDER BY l.${quoteIdent(ROW_ID)}`;
}

export type OutputFormat = 'csv' | 'parquet';

export function copyToSql(query: string, file: string, format: OutputFormat): string {
  const opts = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet, COMPRESSION zstd';
  return `COPY (${query}) TO ${stringLiteral(file)} (${opts})`;
}

/** A deterministic sample of n label rows (same file, same seed: same rows). */
export function sampleLabelsSql(n: number, seed: number): string {
  return `SELECT * FROM ${LABELS_TABLE} ORDER BY hash(${quoteIdent(ROW_ID)} + ${Math.trunc(seed)}), ${quoteIdent(ROW_ID)} LIMIT ${Math.trunc(n)}`;
}

/** Sampled label rows (row, t, keys...) beside each feature's `__used_<i>` from a provenance query. */
export function auditJoinSql(vp: TrainingViewPlan, sample: string, select: string): string {
  const on = [
    ...vp.view.keys.map((_, i) => `f.${key(i)} IS NOT DISTINCT FROM ${labelKeySql(vp, i, 's.')}`),
    `f.${T} = s.${T}`,
  ].join(' AND ');
  const keys = vp.view.keys.map((k) => `s.${quoteIdent(k)}`);
  const used = vp.features.map((_, i) => `f.${quoteIdent(`__used_${i}`)}`);
  return `SELECT s.${quoteIdent(ROW_ID)}, s.${T}, ${[...keys, ...used].join(', ')}
  FROM ${sample} s LEFT JOIN (${select}) f ON ${on} ORDER BY s.${quoteIdent(ROW_ID)}`;
}
