// Prints the Spark SQL of one view partition from its plan: one FILTERed aggregate per feature,
// printed by sql/aggregate-sql.ts (the same printer as DuckDB's) in Spark's spelling.

import type { ViewBuildPlan } from '../../plan/view-build.js';
import {
  type AggregateDialect,
  type AggregateSqlInput,
  aggregateSql as printAggregate,
} from '../sql/aggregate-sql.js';
import { printExpr } from '../sql/expr-printer.js';
import { SPARK_TYPES, sparkDialect, sparkIdent, sparkInstant } from './dialect.js';

/** The temp view a loaded source lives in. */
export function sparkSourceTable(sourceName: string): string {
  return sparkIdent(`src_${sourceName}`);
}

/** Name of the hidden column holding each row's event instant. */
export const TS_COLUMN = '__ts';

/** How Spark SQL spells the SQL of each aggregation kind (printed once in sql/aggregate-sql.ts). */
export const sparkAggregates: AggregateDialect = {
  typeName: (type) => SPARK_TYPES[type],
  // Structs compare field by field: the latest (earliest) instant, then the greater value.
  latestValue: (v, ts, filter) => `max_by(${v}, struct(${ts}, ${v})) ${filter}`,
  earliestValue: (v, ts, filter) => `max_by(${v}, struct(- unix_micros(${ts}), ${v})) ${filter}`,
  // A struct keeps a NULL value (max_by would skip it); ordering structs puts NULL values first.
  latestValueOrNull: (v, ts, filter) => `(max_by(struct(${v} AS v), struct(${ts}, ${v})) ${filter}).v`,
  daysBetween: (from, to) => `datediff(${to}, ${from})`,
};

export function aggregateSql(a: AggregateSqlInput): string {
  return printAggregate(sparkAggregates, a);
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
