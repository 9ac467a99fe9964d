// DuckDB SQL of point-in-time training sets: label rows -> distinct (entity, t) points -> each
// view's features as of t (running totals looked up by ASOF joins for count/sum/avg/exists, a range
// join grouped per point for the other kinds), joined back to the label rows in their order.

import { createHash } from 'node:crypto';
import { AGGREGATIONS } from '../../aggregate/kinds.js';
import type { TrainingSetPlan, TrainingViewPlan } from '../../plan/training-set.js';
import type { SourceFormat } from '../../spec/project.js';
import { formatWindow, isUtcZone, type Window } from '../../time/index.js';
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
      // Plain microsecond arithmetic: TIMESTAMPTZ - INTERVAL goes through the ICU calendar (6x slower).
      return `make_timestamptz(epoch_us(${t}) - ${w.n * 3_600_000_000})`;
    case 'days': {
      // A zone without offset changes: N days are N x 24 hours (the conversions below cost ~10x more).
      if (isUtcZone(timezone)) return `make_timestamptz(epoch_us(${t}) - ${w.n * 86_400_000_000})`;
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
  if (isUtcZone(timezone)) {
    // The UTC date without ICU: a TIMESTAMP (no zone) casts to DATE by plain arithmetic.
    return `make_timestamp(epoch_us(${t})${rule === 'end_of_day' ? ' - 1' : ''})::DATE`;
  }
  const at = rule === 'end_of_day' ? `(${t} - INTERVAL 1 MICROSECOND)` : t;
  return `(${at} AT TIME ZONE ${stringLiteral(timezone)})::DATE`;
}

const key = (i: number) => quoteIdent(`__k${i}`);
const start = (w: Window) => quoteIdent(`__s_${formatWindow(w)}`);
const REF = quoteIdent('__ref');
const LOW = quoteIdent('__lo');
const PID = quoteIdent('__pid');
/** The start of an `all` window: before any event. */
const NEVER = "'-infinity'::TIMESTAMPTZ";
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
 * What a view's features are computed for: `points`, the distinct (entity, t) pairs of the labels
 * (numbered by __pid, joined back to the label rows on entity and t); `rows`, the label rows
 * themselves (__pid is the label's row number), when labels share few points and DISTINCT and
 * the join back would cost more than they save.
 */
export type PointUnit = 'points' | 'rows';

/** The window whose start is at or before every other window's start, for any t; else undefined. */
function coveringWindow(windows: Window[]): Window | undefined {
  const all = windows.find((w) => w.kind === 'all');
  if (all) return all;
  return windows.find((w) => windows.every((o) => o === w || minSeconds(w) >= maxSeconds(o)));
}

/**
 * The points of one view (see PointUnit) from `labels` (a table of label rows), sorted by entity
 * and t (the range join's hash table then follows its chains through adjacent memory), with
 * __pid, each window's start (-infinity for `all`), the lowest start and the reference date.
 */
export function pointsSql(
  vp: TrainingViewPlan,
  timezone: string,
  labels = LABELS_TABLE,
  unit: PointUnit = 'points',
): string {
  const keys = vp.view.keys.map((_, i) => `${labelKeySql(vp, i)} AS ${key(i)}`);
  const windows = distinctWindows(vp);
  const starts = windows.map((w) => `${windowStartSql(T, w, timezone) ?? NEVER} AS ${start(w)}`);
  const bounded = windows.filter((w) => w.kind !== 'all').map(start);
  const cover = coveringWindow(windows);
  const low =
    windows.some((w) => w.kind === 'all') || bounded.length === 0
      ? NEVER
      : cover
        ? start(cover)
        : `least(${bounded.join(', ')})`;
  const nonNull = vp.view.keys.map((_, i) => `${key(i)} IS NOT NULL`).join(' AND ');
  const order = [...vp.view.keys.map((_, i) => key(i)), T].join(', ');
  const ref = `${referenceDateSql(T, vp.referenceRule, timezone)} AS ${REF}`;
  if (unit === 'rows') {
    return `SELECT *, ${starts.join(', ')}, ${ref}, ${low} AS ${LOW} FROM (
  SELECT ${quoteIdent(ROW_ID)} AS ${PID}, ${keys.join(', ')}, ${T} FROM ${labels} WHERE ${T} IS NOT NULL)
  WHERE ${nonNull} ORDER BY ${order}`;
  }
  return `SELECT *, ${low} AS ${LOW}, row_number() OVER () AS ${PID} FROM (
  SELECT *, ${starts.join(', ')}, ${ref}
  FROM (SELECT DISTINCT ${keys.join(', ')}, ${T} FROM ${labels} WHERE ${T} IS NOT NULL) WHERE ${nonNull} ORDER BY ${order})`;
}

/**
 * One row per view: the label rows and, approximately, the distinct points among them (a HyperLogLog
 * estimate, a few percent off: it only chooses the PointUnit).
 */
export function labelPointsSql(vp: TrainingViewPlan, labels = LABELS_TABLE): string {
  const keys = vp.view.keys.map((_, i) => labelKeySql(vp, i));
  return `SELECT count(*), approx_count_distinct(hash(${[...keys, T].join(', ')})) FROM ${labels} WHERE ${T} IS NOT NULL`;
}

/** The column holding feature i's value: features with the same expression share one. */
function valueCol(vp: TrainingViewPlan, i: number): string {
  const same = JSON.stringify(vp.features[i]?.feature.column ?? null);
  const first = vp.features.findIndex((f) => JSON.stringify(f.feature.column ?? null) === same);
  return `__v${first < 0 ? i : first}`;
}

/**
 * The view's visible rows: `where` applied, keys renamed, each distinct value expression computed
 * once. With `labels`, only the entities of those label rows and rows before the latest label time.
 */
export function eventsSql(vp: TrainingViewPlan, timezone: string, labels?: string): string {
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
    cols.push(`greatest(${TS}, coalesce(${arr}, ${TS})) AS __m`);
  }
  const conditions: string[] = [];
  if (vp.view.where) conditions.push(`(${printExpr(vp.view.where, duckdbDialect, ctx)}) IS TRUE`);
  if (labels) {
    const keys = vp.view.keys.map((_, i) => labelKeySql(vp, i));
    // DISTINCT: the IN builds its table from 1M label rows otherwise. No `ts < max(t)` here:
    // with it beside the IN, DuckDB 1.5 took 5x the CPU time (7.7 s vs 1.4 s on 10M rows).
    conditions.push(
      `(${vp.view.keys.map(quoteIdent).join(', ')}) IN (SELECT DISTINCT (${keys.join(', ')}) FROM ${labels} WHERE ${T} IS NOT NULL)`,
    );
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
  return `SELECT ${cols.join(', ')} FROM ${sourceTable(vp.view.source)}${where}`;
}

export interface FeatureQuery {
  /** Statements to run first (temporary tables), in order. */
  setup: string[];
  /**
   * One row per point: __pid, then __k0.. and __t (unless the unit is `rows`), each feature under
   * its output name and, with provenance, `__used_<i>`: the latest event instant it read (or NULL).
   */
  select: string;
}

export interface FeatureQueryOptions {
  provenance: boolean;
  /** Compute every kind by the range join (the reference plan; the parity tests use it). */
  rangeOnly?: boolean;
  /** The label rows the points were made from (default: the labels table). */
  labels?: string;
  /** Estimated source rows per point in the view's longest window (see rowsPerPointSql). */
  rowsPerPoint?: number;
  /** What `points` holds (pointsSql's unit); default `points`. */
  unit?: PointUnit;
  /**
   * Scan the source inside the range join instead of making a table of the labelled entities'
   * rows first (worth it only when that table would be read once: no other view shares it).
   */
  inlineEvents?: boolean;
  /** Force per-bucket partials on (true) or off (false) for the range join (tests reach each branch). */
  bucketing?: boolean;
}

/**
 * Below this many estimated rows per point, the range join costs less than the running totals
 * (whose window and ASOF joins sort every row of the source): at ~23 rows per point the range
 * join took 2.3x less CPU (BENCHMARKS.md, training sets); the crossover itself is not measured.
 */
export const RANGE_BELOW_ROWS_PER_POINT = 200;

/** The number of rows of the view's source (one row, one column). */
export function sourceRowsSql(vp: TrainingViewPlan): string {
  return `SELECT count(*) FROM ${sourceTable(vp.view.source)}`;
}

/**
 * From this many source rows on, rowsPerPointSql counts the entities in a 10% sample of the
 * source's blocks (0.05 s instead of 0.43 s CPU for 10M rows): an entity with many rows, the only
 * kind that can reach RANGE_BELOW_ROWS_PER_POINT, is in the sample all but surely.
 */
export const SAMPLE_ENTITIES_FROM_ROWS = 1_000_000;

/**
 * One row: the view's source rows per entity that fall in its longest window, on average
 * (rows / entities x longest window / time span of the rows; the whole span for `all`). With
 * `sampled`, the entities are counted in a sample (an undercount: the estimate errs high).
 */
export function rowsPerPointSql(vp: TrainingViewPlan, sampled = false): string {
  const longest = Math.max(
    ...vp.features.map((f) =>
      f.feature.window.kind === 'all'
        ? Number.POSITIVE_INFINITY
        : f.feature.window.n * (f.feature.window.kind === 'days' ? 86_400 : 3600),
    ),
  );
  const keys = vp.view.keys.map(quoteIdent).join(', ');
  const table = sourceTable(vp.view.source);
  const span = `greatest(epoch(max(${TS})) - epoch(min(${TS})), 1)`;
  const share = Number.isFinite(longest) ? `least(1, ${longest} / ${span})` : '1';
  const entities = sampled
    ? `(SELECT count(DISTINCT (${keys})) FROM ${table} USING SAMPLE 10% (system, 42))`
    : `count(DISTINCT (${keys}))`;
  return `SELECT coalesce(count(*) / greatest(${entities}, 1) * ${share}, 0)
  FROM ${table}`;
}

/** Builds one view's per-point feature query; the audit takes one as a parameter. */
export type FeatureQueryBuilder = (
  vp: TrainingViewPlan,
  timezone: string,
  points: string,
  opts: FeatureQueryOptions,
) => FeatureQuery;

/**
 * The product's plan: running totals looked up by ASOF joins when every feature of the view is of
 * a PREFIX kind and its windows hold many rows per point (no join of points to rows); otherwise the
 * range join computes all its features (the prefix kinds add only a few partial aggregates to it).
 */
export const exactFeatureQuery: FeatureQueryBuilder = (vp, timezone, points, opts) => {
  const allPrefix =
    vp.features.every((f) => f.prefix) && (opts.rowsPerPoint ?? Infinity) >= RANGE_BELOW_ROWS_PER_POINT;
  const usePrefix = (i: number) => !opts.rangeOnly && allPrefix && vp.features[i]?.prefix === true;
  const prefixIdx = vp.features.map((_, i) => i).filter(usePrefix);
  const rangeIdx = vp.features.map((_, i) => i).filter((i) => !usePrefix(i));
  const id = `${vp.view.name}`;
  const setup: string[] = [];
  let events: string;
  if (opts.inlineEvents && prefixIdx.length === 0) {
    // Read once, by the range join alone: scanned inside it (the join keeps the labelled entities).
    events = `(${eventsSql(vp, timezone)})`;
  } else {
    // Views that read the same rows (same source, where, keys and values) share one scan: the
    // table is named after its query, and made once per session (the sources do not change in one).
    const eventsQuery = eventsSql(vp, timezone, opts.labels ?? LABELS_TABLE);
    events = quoteIdent(`__ev_${createHash('sha1').update(eventsQuery).digest('hex').slice(0, 16)}`);
    setup.push(`CREATE TEMP TABLE IF NOT EXISTS ${events} AS ${eventsQuery}`);
  }
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const head = opts.unit === 'rows' ? [PID] : [PID, ...keyCols, T];
  const parts: { sql: string; cols: string[] }[] = [];
  if (prefixIdx.length > 0) {
    const cum = quoteIdent(`__cum_${id}`);
    setup.push(`CREATE OR REPLACE TEMP TABLE ${cum} AS ${cumulativeSql(vp, prefixIdx, events, TS)}`);
    if (vp.arrivalColumn) {
      // Visible at t = known before t (ordered by known time) minus what happened before the
      // window start, plus back the rare rows before the start that were still unknown at t.
      const known = quoteIdent(`__cumk_${id}`);
      const late = quoteIdent(`__late_${id}`);
      setup.push(`CREATE OR REPLACE TEMP TABLE ${known} AS ${cumulativeSql(vp, prefixIdx, events, '__m')}`);
      setup.push(`CREATE OR REPLACE TEMP TABLE ${late} AS ${lateSql(vp, prefixIdx, points, events)}`);
      parts.push({
        sql: prefixSql(vp, prefixIdx, points, known, cum, late, opts),
        cols: columnsOf(vp, prefixIdx, opts),
      });
    } else {
      parts.push({
        sql: prefixSql(vp, prefixIdx, points, cum, cum, undefined, opts),
        cols: columnsOf(vp, prefixIdx, opts),
      });
    }
  }
  if (rangeIdx.length > 0) {
    parts.push({ sql: rangeSql(vp, rangeIdx, points, events, opts), cols: columnsOf(vp, rangeIdx, opts) });
  }
  const only = parts.length === 1 ? parts[0] : undefined;
  // Each part has one row per point (__pid, the keys and t unless by label row, its features).
  if (only) return { setup, select: only.sql };
  const tables = parts.map((part, j) => {
    const table = quoteIdent(`__part${j}_${id}`);
    setup.push(`CREATE OR REPLACE TEMP TABLE ${table} AS ${part.sql}`);
    return table;
  });
  const select = `SELECT ${head.map((c) => `p.${c}`).join(', ')}${parts
    .flatMap((part, j) => part.cols.map((c) => `, x${j}.${c}`))
    .join('')}
  FROM ${points} p${tables.map((table, j) => ` LEFT JOIN ${table} x${j} ON x${j}.${PID} = p.${PID}`).join('')}`;
  return { setup, select };
};

function columnsOf(vp: TrainingViewPlan, idx: number[], opts: FeatureQueryOptions): string[] {
  return idx.flatMap((i) => [
    quoteIdent(vp.features[i]?.output ?? ''),
    ...(opts.provenance ? [quoteIdent(`__used_${i}`)] : []),
  ]);
}

/**
 * The running totals a prefix feature reads: the count of its rows (all rows, or those with a
 * value) and, for sum and avg, the sum of its value. Features of any window share them (the
 * window only changes where they are looked up), so a view has one column per distinct total.
 */
function totalsOf(vp: TrainingViewPlan, i: number): { count: string; sum: string | undefined } {
  const f = vp.features[i]?.feature;
  const v = f?.column ? valueCol(vp, i) : undefined;
  return {
    count: v ? `__c${v}` : '__cstar',
    sum: v && ['sum', 'avg'].includes(f?.agg ?? '') ? `__x${v}` : undefined,
  };
}

/** The distinct running totals of features idx: [column name, aggregate over events]. */
function distinctTotals(vp: TrainingViewPlan, idx: number[], e = ''): [string, string][] {
  const out = new Map<string, string>();
  for (const i of idx) {
    const { count, sum } = totalsOf(vp, i);
    const v = vp.features[i]?.feature.column ? `${e}${valueCol(vp, i)}` : '*';
    out.set(count, `count(${v})`);
    if (sum) out.set(sum, `sum(${e}${valueCol(vp, i)})`);
  }
  return [...out.entries()];
}

/** Per entity and instant, the running totals of the prefix features. */
function cumulativeSql(vp: TrainingViewPlan, idx: number[], events: string, at: string): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const totals = distinctTotals(vp, idx);
  const per = totals.map(([name, agg]) => `${agg} AS ${quoteIdent(name)}`);
  const run = totals.map(([name]) => `sum(${quoteIdent(name)}) OVER w AS ${quoteIdent(name)}`);
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

/** The longest a window can last (DST and other offset changes lengthen a day by up to 3 hours). */
function maxSeconds(w: Window): number {
  return w.kind === 'hours'
    ? w.n * 3600
    : w.kind === 'days'
      ? w.n * 86_400 + 3 * 3600
      : Number.POSITIVE_INFINITY;
}

/** The name of a running total restricted to rows before window w's start (the late rows). */
const lateCol = (total: string, w: Window) => quoteIdent(`${total}_${formatWindow(w)}`);

/**
 * Per point, the rows before each window start that were still unknown at t (known time >= t):
 * only rows known later than their event by more than a window's length can be such rows.
 */
function lateSql(vp: TrainingViewPlan, idx: number[], points: string, events: string): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const lag = Math.min(...idx.map((i) => minSeconds(vp.features[i]?.feature.window ?? { kind: 'all' })));
  const cols = new Map<string, string>();
  for (const w of distinctWindows(vp)) {
    if (w.kind === 'all') continue;
    const inW = idx.filter((i) => formatWindow(vp.features[i]?.feature.window ?? w) === formatWindow(w));
    for (const [name, agg] of distinctTotals(vp, inW, 'e.')) {
      const before = `${agg} FILTER (WHERE e.${TS} < p.${start(w)})`;
      cols.set(lateCol(name, w), agg.startsWith('sum') ? `coalesce(${before}, 0)` : before);
    }
  }
  const lagged = Number.isFinite(lag)
    ? `WHERE __m - ${TS} >= INTERVAL ${Math.max(0, lag)} SECOND`
    : 'WHERE FALSE';
  const select = [...cols.entries()].map(([name, sql]) => `${sql} AS ${name}`);
  return `SELECT ${[...keyCols, T].map((c) => `p.${c}`).join(', ')}${select.map((c) => `, ${c}`).join('')}
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
    const total = (name: string) =>
      `(coalesce(a.${quoteIdent(name)}, 0)${
        j < 0
          ? ''
          : ` - coalesce(b${j}.${quoteIdent(name)}, 0)${late ? ` + coalesce(c.${lateCol(name, f.window)}, 0)` : ''}`
      })`;
    const totals = totalsOf(vp, i);
    const n = total(totals.count);
    const s = totals.sum ? total(totals.sum) : '0';
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
  const head = opts.unit === 'rows' ? [PID] : [PID, ...keyCols, T];
  return `SELECT ${head.map((c) => `p.${c}`).join(', ')}, ${cols.join(', ')}
  FROM ${points} p${joins.join('')}`;
}

/**
 * The join condition of points p to visible events e in [lowest start, t): only conjunctions of
 * plain comparisons, so that DuckDB hashes on the key (an OR here turns it into a nested loop join).
 */
function visibleOn(vp: TrainingViewPlan, low: string, folded = false): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const on = keyCols.map((k) => `e.${k} = p.${k}`);
  // Known at t: its event time and its arrival both before t (__m is the later of the two, so
  // `__m < t` alone says both: `folded` leaves out the event time's own comparison).
  if (!folded || !vp.arrivalColumn) on.push(`e.${TS} < p.${T}`);
  on.push(`e.${TS} >= ${low}`);
  if (vp.arrivalColumn) on.push(`e.__m < p.${T}`);
  return on.join(' AND ');
}

/** Kinds whose per-window value merges from per-bucket partial aggregates (see rangeSql). */
const BUCKETED = new Set(['count', 'sum', 'avg', 'exists', 'min', 'max', 'last', 'first', 'days_since_last']);

/**
 * The range join of points to visible events in [lowest start, t), aggregated per point.
 * The windows of a point are nested intervals ending at t, so each joined row is put in the bucket
 * of the latest window start at or before its time: a row is in window w exactly when its bucket
 * is at or after w's start. Partial aggregates per (point, bucket) then merge per window, so a
 * row is aggregated once per kind and value instead of once per feature. count_distinct keeps the
 * latest time of each (point, value); other kinds (stddev) aggregate the joined rows per window.
 * With few features per window (at most two bucketable ones each), filteredSql does it instead.
 */
function rangeSql(
  vp: TrainingViewPlan,
  idx: number[],
  points: string,
  events: string,
  opts: FeatureQueryOptions,
): string {
  const keyCols = vp.view.keys.map((_, i) => key(i));
  const windows = distinctWindows(vp).filter((w) =>
    idx.some((i) => formatWindow(vp.features[i]?.feature.window ?? w) === formatWindow(w)),
  );
  const bucket = `greatest(${windows.map((w) => `CASE WHEN e.${TS} >= p.${start(w)} THEN p.${start(w)} END`).join(', ')}, ${NEVER})`;
  const values = [...new Set(idx.flatMap((i) => (vp.features[i]?.feature.column ? [valueCol(vp, i)] : [])))];
  const ctes: string[] = [];
  const joins: string[] = [];
  // Partials pay off when a view has several features per window; with few, each feature's own
  // filtered aggregate over the joined rows costs less than the extra grouping.
  const bucketing =
    opts.bucketing ??
    idx.filter((i) => BUCKETED.has(vp.features[i]?.feature.agg ?? '')).length > 2 * windows.length;
  if (!bucketing) return filteredSql(vp, idx, points, events, opts);
  const joined = `SELECT p.${PID}, e.${TS}, e.__ld, ${[...values.map((v) => `e.${v}`), `${bucket} AS __b`].join(', ')}
    FROM ${points} p JOIN ${events} e ON ${visibleOn(vp, `p.${LOW}`, true)}`;

  // Bucketed kinds: partials per (point, bucket), merged per window.
  const partial = new Map<string, string>();
  const merged: string[] = [];
  const done = new Map<number, string>();
  const inW = (w: Window, extra?: string) =>
    `FILTER (WHERE b.__b >= p.${start(w)}${extra ? ` AND ${extra}` : ''})`;
  for (const i of idx) {
    const tf = vp.features[i];
    if (!tf || !BUCKETED.has(tf.feature.agg)) continue;
    const f = tf.feature;
    const v = f.column ? valueCol(vp, i) : undefined;
    const tag = v ?? 'star';
    const n = `__n_${tag}`;
    partial.set(n, `count(${v ?? '*'})`);
    const cnt = `sum(b.${n}) ${inW(f.window)}`;
    let value: string;
    switch (f.agg) {
      case 'count':
        value = `coalesce(${cnt}, 0)::BIGINT`;
        break;
      case 'exists':
        value = `coalesce(${cnt} > 0, FALSE)`;
        break;
      case 'sum':
      case 'avg': {
        partial.set(`__s_${tag}`, `sum(${v})`);
        const sum = `sum(b.__s_${tag}) ${inW(f.window)}`;
        value =
          f.agg === 'sum'
            ? `coalesce(${sum}, 0)::${duckdbType(f.type)}`
            : `(CASE WHEN ${cnt} > 0 THEN ${sum}::DOUBLE / ${cnt} END)`;
        break;
      }
      case 'min':
      case 'max':
        partial.set(`__${f.agg}_${tag}`, `${f.agg}(${v})`);
        value = `${f.agg}(b.__${f.agg}_${tag}) ${inW(f.window)}`;
        break;
      case 'last':
      case 'first': {
        const p = `__${f.agg}_${tag}`;
        partial.set(
          p,
          aggregateSql({
            kind: f.agg,
            value: v,
            inWindow: 'TRUE',
            ts: TS,
            localDate: '__ld',
            referenceDate: 'NULL',
            resultType: f.type,
          }),
        );
        // Buckets hold disjoint time ranges: the latest (earliest) bucket with a value holds it.
        value = `${f.agg === 'last' ? 'arg_max' : 'arg_min'}(b.${p}, b.__b) ${inW(f.window, `b.${p} IS NOT NULL`)}`;
        break;
      }
      default: {
        // days_since_last
        partial.set(`__ld_${tag}`, v ? `max(__ld) FILTER (WHERE ${v} IS NOT NULL)` : 'max(__ld)');
        value = `(p.${REF} - max(b.__ld_${tag}) ${inW(f.window)})::BIGINT`;
      }
    }
    done.set(i, quoteIdent(tf.output));
    merged.push(`${value} AS ${quoteIdent(tf.output)}`);
    if (opts.provenance) {
      partial.set(`__u_${tag}`, v ? `max(${TS}) FILTER (WHERE ${v} IS NOT NULL)` : `max(${TS})`);
      merged.push(`max(b.__u_${tag}) ${inW(f.window)} AS ${quoteIdent(`__used_${i}`)}`);
    }
  }
  if (merged.length > 0) {
    ctes.push(
      `__b AS (SELECT ${PID}, __b, ${[...partial.entries()].map(([c, sql]) => `${sql} AS ${c}`).join(', ')} FROM __j GROUP BY ${PID}, __b)`,
      `__g AS (SELECT p.${PID}, ${merged.join(', ')} FROM __b b JOIN ${points} p ON p.${PID} = b.${PID} GROUP BY p.${PID}, p.${REF})`,
    );
    joins.push('__g');
  }

  // count_distinct: the latest time of each (point, value), counted per window.
  const distinctCols = [
    ...new Set(
      idx.filter((i) => vp.features[i]?.feature.agg === 'count_distinct').map((i) => valueCol(vp, i)),
    ),
  ];
  for (const v of distinctCols) {
    const cols = idx.flatMap((i) => {
      const tf = vp.features[i];
      if (tf?.feature.agg !== 'count_distinct' || valueCol(vp, i) !== v) return [];
      const w = `FILTER (WHERE d.__at >= p.${start(tf.feature.window)})`;
      done.set(i, quoteIdent(tf.output));
      return [
        `count(*) ${w} AS ${quoteIdent(tf.output)}`,
        ...(opts.provenance ? [`max(d.__at) ${w} AS ${quoteIdent(`__used_${i}`)}`] : []),
      ];
    });
    ctes.push(
      `__d${v} AS (SELECT p.${PID}, ${cols.join(', ')} FROM (SELECT ${PID}, ${v}, max(${TS}) AS __at FROM __j WHERE ${v} IS NOT NULL GROUP BY ALL) d JOIN ${points} p ON p.${PID} = d.${PID} GROUP BY p.${PID})`,
    );
    joins.push(`__d${v}`);
  }

  // The other kinds, per window over the joined rows.
  const rest = idx.filter((i) => !done.has(i));
  if (rest.length > 0) {
    const cols = rest.flatMap((i) => {
      const tf = vp.features[i];
      if (!tf) return [];
      done.set(i, quoteIdent(tf.output));
      const a = featureAggregate(vp, i, 'j', false);
      return [
        `${a.sql} AS ${quoteIdent(tf.output)}`,
        ...(opts.provenance ? [`max(j.${TS}) FILTER (WHERE ${a.used}) AS ${quoteIdent(`__used_${i}`)}`] : []),
      ];
    });
    ctes.push(
      `__r AS (SELECT p.${PID}, ${cols.join(', ')} FROM __j j JOIN ${points} p ON p.${PID} = j.${PID} GROUP BY p.${PID}, p.${REF})`,
    );
    joins.push('__r');
  }

  // Every point, with the empty values where it has no visible rows.
  const out = idx.flatMap((i) => {
    const tf = vp.features[i];
    if (!tf) return [];
    const empty = AGGREGATIONS[tf.feature.agg].empty;
    const col = quoteIdent(tf.output);
    const v =
      empty === null
        ? col
        : `coalesce(${col}, ${empty === false ? 'FALSE' : `0::${duckdbType(tf.feature.type)}`})`;
    return [`${v} AS ${col}`, ...(opts.provenance ? [quoteIdent(`__used_${i}`)] : [])];
  });
  // The joined rows are kept once only when more than one part reads them.
  const parts = joins.length;
  ctes.unshift(`__j AS ${parts > 1 ? 'MATERIALIZED ' : ''}(${joined})`);
  const head = opts.unit === 'rows' ? [PID] : [PID, ...keyCols, T];
  return `WITH ${ctes.join(',\n  ')}
  SELECT ${head.map((c) => `p.${c}`).join(', ')}, ${out.join(', ')}
  FROM ${points} p${joins.map((t) => ` LEFT JOIN ${t} USING (${PID})`).join('')}`;
}

/**
 * Feature i aggregated over the joined rows `r` (with the points as `p`): filtered to its window,
 * or over all of them when `plain` (its window is the join's). `used` selects the rows it read.
 */
function featureAggregate(
  vp: TrainingViewPlan,
  i: number,
  r: string,
  plain: boolean,
): { sql: string; used: string } {
  const f = vp.features[i]?.feature;
  if (!f) throw new Error(`no feature ${i} in view ${vp.view.name}`);
  // A point without visible rows has one joined row of NULLs (LEFT JOIN): count rows by their time.
  const counted = plain && (f.agg === 'count' || f.agg === 'exists') ? `${r}.${TS}` : undefined;
  const v = f.column ? `${r}.${valueCol(vp, i)}` : counted;
  const inWindow = plain ? 'TRUE' : `${r}.${TS} >= p.${start(f.window)}`;
  const sql = aggregateSql({
    kind: f.agg,
    value: v,
    inWindow,
    ts: `${r}.${TS}`,
    localDate: `${r}.__ld`,
    referenceDate: `p.${REF}`,
    resultType: f.type,
  }).replaceAll(' FILTER (WHERE TRUE)', '');
  return { sql, used: `${inWindow} AND ${f.column ? v : `${r}.${TS}`} IS NOT NULL` };
}

/** A feature's value, or its empty value where it has none. */
function filled(tf: TrainingViewPlan['features'][number], sql: string): string {
  const empty = AGGREGATIONS[tf.feature.agg].empty;
  return empty === null
    ? sql
    : `coalesce(${sql}, ${empty === false ? 'FALSE' : `0::${duckdbType(tf.feature.type)}`})`;
}

/**
 * The range join with few features per window: one LEFT JOIN of the points to their visible rows,
 * each feature a filtered aggregate, grouped by __pid alone (a perfect hash when the session allows
 * it, see perfectHashBits). The covering window's rows are exactly the joined rows: its features
 * take no filter. By label row (unit `rows`) this is the straightforward plan without its extra
 * comparisons and group keys; by point, the keys and t come back from the points.
 */
function filteredSql(
  vp: TrainingViewPlan,
  idx: number[],
  points: string,
  events: string,
  opts: FeatureQueryOptions,
): string {
  const cover = coveringWindow(distinctWindows(vp));
  const covered = (w: Window) => cover !== undefined && formatWindow(cover) === formatWindow(w);
  const cols = idx.flatMap((i) => {
    const tf = vp.features[i];
    if (!tf) return [];
    const a = featureAggregate(vp, i, 'e', covered(tf.feature.window));
    return [
      `${filled(tf, a.sql)} AS ${quoteIdent(tf.output)}`,
      ...(opts.provenance ? [`max(e.${TS}) FILTER (WHERE ${a.used}) AS ${quoteIdent(`__used_${i}`)}`] : []),
    ];
  });
  // days_since_last reads the reference date: it joins the group key (no perfect hash then).
  const byRef = idx.some((i) => vp.features[i]?.feature.agg === 'days_since_last');
  const agg = `SELECT p.${PID}, ${cols.join(', ')}
  FROM ${points} p LEFT JOIN ${events} e ON ${visibleOn(vp, `p.${LOW}`, true)}
  GROUP BY p.${PID}${byRef ? `, p.${REF}` : ''}`;
  if (opts.unit === 'rows') return agg;
  const keyCols = vp.view.keys.map((_, i) => key(i));
  return `SELECT ${[PID, ...keyCols, T].map((c) => `p.${c}`).join(', ')}, ${columnsOf(vp, idx, opts)
    .map((c) => `f.${c}`)
    .join(', ')}
  FROM ${points} p JOIN (${agg}) f ON f.${PID} = p.${PID}`;
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
      ? NEVER
      : `least(${bounded.join(', ')}, p.${T})`;
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
  return `SELECT p.${quoteIdent(ROW_ID)}, ${cols.join(', ')}
  FROM (${rows}) p LEFT JOIN (${eventsSql(vp, timezone)}) e ON ${visibleOn(vp, low)}
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
 * is the table of plan.views[i], one row per point, or per label row where `units[i]` is `rows`).
 * With `fillEmpty`, a row without a point (an empty entity key) gets the empty values.
 */
export function assembleSql(
  plan: TrainingSetPlan,
  perView: string[],
  fillEmpty: boolean,
  units: PointUnit[] = [],
): string {
  const joins: string[] = [];
  const cols: string[] = [];
  plan.views.forEach((vp, j) => {
    const alias = `f${j}`;
    const on =
      units[j] === 'rows'
        ? [`${alias}.${PID} = l.${quoteIdent(ROW_ID)}`]
        : [
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
