// Prints the Spark SQL of one view partition from its plan, with the aggregation semantics of
// aggregate/kinds.ts (the same as duckdb/aggregates.ts): one FILTERed aggregate per feature.

import type { AggKind } from '../../aggregate/kinds.js';
import type { ViewBuildPlan } from '../../plan/view-build.js';
import type { ColumnType } from '../../types.js';
import { printExpr } from '../sql/expr-printer.js';
import { SPARK_TYPES, sparkDialect, sparkIdent, sparkInstant } from './dialect.js';

/** The temp view a loaded source lives in. */
export function sparkSourceTable(sourceName: string): string {
  return sparkIdent(`src_${sourceName}`);
}

/** Name of the hidden column holding each row's event instant. */
export const TS_COLUMN = '__ts';

export interface AggSql {
  kind: AggKind;
  value: string | undefined;
  inWindow: string;
  ts: string;
  localDate: string;
  referenceDate: string;
  resultType: ColumnType;
}

export function aggregateSql(a: AggSql): string {
  const v = a.value;
  const notNull = v === undefined ? a.inWindow : `${a.inWindow} AND ${v} IS NOT NULL`;
  const filter = (cond: string) => `FILTER (WHERE ${cond})`;
  const out = SPARK_TYPES[a.resultType];
  switch (a.kind) {
    case 'count':
      return `count(${v ?? '*'}) ${filter(a.inWindow)}`;
    case 'sum':
      return `CAST(coalesce(sum(${v}) ${filter(a.inWindow)}, 0) AS ${out})`;
    case 'avg':
      return `CAST(avg(${v}) ${filter(a.inWindow)} AS DOUBLE)`;
    case 'min':
      return `min(${v}) ${filter(a.inWindow)}`;
    case 'max':
      return `max(${v}) ${filter(a.inWindow)}`;
    case 'exists':
      return `(count(${v ?? '*'}) ${filter(a.inWindow)} > 0)`;
    case 'count_distinct':
      return `count(DISTINCT ${v}) ${filter(a.inWindow)}`;
    // Structs compare field by field: the latest (earliest) instant, then the greater value.
    case 'last':
      return `max_by(${v}, struct(${a.ts}, ${v})) ${filter(notNull)}`;
    case 'first':
      return `max_by(${v}, struct(- unix_micros(${a.ts}), ${v})) ${filter(notNull)}`;
    case 'stddev':
      return `stddev_samp(${v}) ${filter(a.inWindow)}`;
    // A struct keeps a NULL value (max_by would skip it); ordering structs puts NULL values first.
    case 'as_of':
      return `(max_by(struct(${v} AS v), struct(${a.ts}, ${v})) ${filter(a.inWindow)}).v`;
    case 'days_since_last':
      return `CAST(datediff(${a.referenceDate}, max(${a.localDate}) ${filter(notNull)}) AS BIGINT)`;
  }
}

export function sparkViewBuildSql(plan: ViewBuildPlan): string {
  const { view, timezone } = plan;
  const ctx = { timezone };
  const ts = sparkIdent(TS_COLUMN);
  const keys = view.keys.map(sparkIdent);
  const conditions = [`${ts} < ${sparkInstant(plan.cutoff)}`];
  // Three-valued logic: a NULL condition drops the row like FALSE.
  if (view.where) conditions.push(`coalesce(${printExpr(view.where, sparkDialect, ctx)}, FALSE)`);
  const localDate = sparkDialect.localDate(ts, timezone);
  const features = view.features.map((f, i) => {
    const start = plan.windowStarts[i];
    const printed = f.column ? printExpr(f.column, sparkDialect, ctx) : undefined;
    const sql = aggregateSql({
      kind: f.agg,
      // Pinned to the contract type so that Spark's own result types (e.g. BIGINT floor) never leak.
      value: printed && f.inputType ? `CAST(${printed} AS ${SPARK_TYPES[f.inputType]})` : printed,
      inWindow: start === null || start === undefined ? 'TRUE' : `${ts} >= ${sparkInstant(start)}`,
      ts,
      localDate,
      referenceDate: `DATE '${plan.referenceDate}'`,
      resultType: f.type,
    });
    return `  ${sql} AS ${sparkIdent(f.name)}`;
  });
  return [
    `SELECT ${keys.join(', ')}, DATE '${plan.asOfDate}' AS as_of_date,`,
    features.join(',\n'),
    `FROM ${sparkSourceTable(view.source)}`,
    `WHERE ${conditions.join(' AND ')}`,
    `GROUP BY ${keys.join(', ')}`,
    `ORDER BY ${keys.join(', ')}`,
  ].join('\n');
}
