// How Spark SQL spells a view partition's SQL and its aggregates (both printed once, in sql/view-sql.ts
// and sql/aggregate-sql.ts, the same printers as DuckDB's).

import type { ViewBuildPlan } from '../../plan/view-build.js';
import {
  type AggregateDialect,
  type AggregateSqlInput,
  aggregateSql as printAggregate,
} from '../sql/aggregate-sql.js';
import { type ViewDialect, viewBuildSql } from '../sql/view-sql.js';
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

/** How Spark SQL spells a view's SQL (printed once in sql/view-sql.ts). */
export const sparkView: ViewDialect = {
  sql: sparkDialect,
  aggregates: sparkAggregates,
  eventTimeColumn: TS_COLUMN,
  instant: sparkInstant,
  sourceTable: sparkSourceTable,
  // Three-valued logic: a NULL condition drops the row like FALSE.
  keepRow: (condition) => `coalesce(${condition}, FALSE)`,
  // Pinned to the contract type so that Spark's own result types (e.g. BIGINT floor) never leak.
  aggregatedValue: (column, inputType) =>
    inputType ? `CAST(${column} AS ${SPARK_TYPES[inputType]})` : column,
};

export function sparkViewBuildSql(plan: ViewBuildPlan): string {
  return viewBuildSql(sparkView, plan);
}
