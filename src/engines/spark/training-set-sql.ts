// Prints the Spark SQL of one view's exact training-set features (plan/training-set.ts): the
// distinct (entity, label time) points range-joined to the view's visible rows in [lowest window
// start, t), grouped per point, each feature FILTERed to its own window; points without rows get
// the empty values. Simple on purpose: plain ANDed join conditions, no running totals.

import { AGGREGATIONS } from '../../aggregate/kinds.js';
import type { TrainingViewPlan } from '../../plan/training-set.js';
import { formatWindow, type Window } from '../../time/index.js';
import { printExpr } from '../sql/expr-printer.js';
import { SPARK_TYPES, sparkDialect, sparkIdent, sparkString } from './dialect.js';
import { aggregateSql, sparkSourceTable, TS_COLUMN } from './view-sql.js';

const q = sparkIdent;

/** Columns of the points file the pipeline hands over: point number, entity keys, label instant. */
export const POINT_ID = '__pid';
export const POINT_TIME = '__t';
export function pointKey(i: number): string {
  return `__k${i}`;
}

/**
 * The inclusive start of a window ending at instant `t`: `Nd` is the same local wall-clock time N
 * calendar days earlier, resolved like time/windowStart (a repeated time takes the earlier instant,
 * a skipped one moves forward by the gap: what to_utc_timestamp does); NULL for `all`.
 */
export function sparkWindowStart(t: string, w: Window, timezone: string): string | null {
  switch (w.kind) {
    case 'all':
      return null;
    case 'hours':
      return `(${t} - INTERVAL ${w.n} HOURS)`;
    case 'days': {
      const tz = sparkString(timezone);
      return `to_utc_timestamp(from_utc_timestamp(${t}, ${tz}) - INTERVAL ${w.n} DAYS, ${tz})`;
    }
  }
}

/** The date days_since_last counts to: the as_of_date whose cutoff is the label time. */
function referenceDate(t: string, rule: TrainingViewPlan['referenceRule'], timezone: string): string {
  const at = rule === 'end_of_day' ? `timestamp_micros(unix_micros(${t}) - 1)` : t;
  return sparkDialect.localDate(at, timezone);
}

/**
 * One row per point of `points` (a temp view with POINT_ID, the keys and POINT_TIME): POINT_ID,
 * then each feature under its output name, in the view's feature order.
 */
export function sparkTrainingFeaturesSql(vp: TrainingViewPlan, timezone: string, points: string): string {
  const ctx = { timezone };
  const keyCols = vp.view.keys.map((_, i) => q(pointKey(i)));
  const t = q(POINT_TIME);
  const ts = q(TS_COLUMN);
  const windows = new Map<string, Window>();
  for (const f of vp.features) windows.set(formatWindow(f.feature.window), f.feature.window);
  const startCol = (w: Window) => q(`__s_${formatWindow(w)}`);
  const bounded = [...windows.values()].filter((w) => w.kind !== 'all');
  const starts = bounded.map((w) => `${sparkWindowStart(t, w, timezone)} AS ${startCol(w)}`);
  const pointsSql = `SELECT ${[q(POINT_ID), ...keyCols, t].join(', ')}${starts.map((s) => `, ${s}`).join('')}, ${referenceDate(t, vp.referenceRule, timezone)} AS ${q('__ref')} FROM ${q(points)}`;

  // Visible rows: the view's where, keys renamed, values pinned to the contract type (as build does).
  const values = vp.features.map((tf) => {
    const f = tf.feature;
    if (!f.column) return undefined;
    const printed = printExpr(f.column, sparkDialect, ctx);
    return f.inputType ? `CAST(${printed} AS ${SPARK_TYPES[f.inputType]})` : printed;
  });
  const eventCols = [
    ...vp.view.keys.map((k, i) => `${q(k)} AS ${keyCols[i]}`),
    ts,
    `${sparkDialect.localDate(ts, timezone)} AS ${q('__ld')}`,
    ...values.flatMap((v, i) => (v === undefined ? [] : [`${v} AS ${q(`__v${i}`)}`])),
  ];
  // When the row was known: its event time and its arrival both passed (NULL arrival: on time).
  if (vp.arrivalColumn)
    eventCols.push(`greatest(${ts}, coalesce(${q(vp.arrivalColumn)}, ${ts})) AS ${q('__m')}`);
  const where = vp.view.where ? ` WHERE coalesce(${printExpr(vp.view.where, sparkDialect, ctx)}, FALSE)` : '';
  const joinedCols = [
    ts,
    q('__ld'),
    ...values.flatMap((v, i) => (v === undefined ? [] : [q(`__v${i}`)])),
    ...(vp.arrivalColumn ? [q('__m')] : []),
  ];
  const eventsSql = `SELECT ${eventCols.join(', ')} FROM ${sparkSourceTable(vp.view.source)}${where}`;

  const on = [...keyCols.map((k) => `e.${k} = p.${k}`), `e.${ts} < p.${t}`];
  if (!windows.has('all') && bounded.length > 0) {
    const low =
      bounded.length === 1
        ? `p.${startCol(bounded[0] as Window)}`
        : `least(${bounded.map((w) => `p.${startCol(w)}`).join(', ')})`;
    on.push(`e.${ts} >= ${low}`);
  }
  if (vp.arrivalColumn) on.push(`e.${q('__m')} < p.${t}`);

  const aggs = vp.features.map((tf, i) => {
    const f = tf.feature;
    const sql = aggregateSql({
      kind: f.agg,
      value: f.column ? `j.${q(`__v${i}`)}` : undefined,
      inWindow: f.window.kind === 'all' ? 'TRUE' : `j.${ts} >= j.${startCol(f.window)}`,
      ts: `j.${ts}`,
      localDate: `j.${q('__ld')}`,
      referenceDate: `j.${q('__ref')}`,
      resultType: f.type,
    });
    return `${sql} AS ${q(tf.output)}`;
  });
  const groupBy = [q(POINT_ID), q('__ref'), ...bounded.map(startCol)].map((c) => `j.${c}`);
  const out = vp.features.map((tf) => {
    const empty = AGGREGATIONS[tf.feature.agg].empty;
    const col = `g.${q(tf.output)}`;
    const v =
      empty === null
        ? col
        : `coalesce(${col}, ${empty === false ? 'FALSE' : `CAST(0 AS ${SPARK_TYPES[tf.feature.type]})`})`;
    return `${v} AS ${q(tf.output)}`;
  });
  return [
    `WITH ${q('__p')} AS (${pointsSql}),`,
    `${q('__e')} AS (${eventsSql}),`,
    `${q('__j')} AS (SELECT p.*, ${joinedCols.map((c) => `e.${c}`).join(', ')} FROM ${q('__p')} p JOIN ${q('__e')} e ON ${on.join(' AND ')}),`,
    `${q('__g')} AS (SELECT j.${q(POINT_ID)}, ${aggs.join(', ')} FROM ${q('__j')} j GROUP BY ${groupBy.join(', ')})`,
    `SELECT p.${q(POINT_ID)}, ${out.join(', ')}`,
    `FROM ${q('__p')} p LEFT JOIN ${q('__g')} g ON g.${q(POINT_ID)} = p.${q(POINT_ID)}`,
  ].join('\n');
}
