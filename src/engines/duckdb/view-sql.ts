// How DuckDB spells a view partition's SQL (printed once in sql/view-sql.ts), and the names of a
// loaded source's table and event-instant column.

import type { ViewBuildPlan } from '../../plan/view-build.js';
import { viewBuildSql as printViewBuild, type ViewDialect } from '../sql/view-sql.js';
import { duckdbAggregates } from './aggregates.js';
import { duckdbDialect } from './dialect.js';
import { instantLiteral, quoteIdent } from './types.js';

/** The typed table a loaded source lives in. */
export function sourceTable(sourceName: string): string {
  return quoteIdent(`src_${sourceName}`);
}

/** Name of the hidden column holding each row's event instant. */
export const TS_COLUMN = '__ts';

/** How DuckDB spells a view's SQL (printed once in sql/view-sql.ts). */
export const duckdbView: ViewDialect = {
  sql: duckdbDialect,
  aggregates: duckdbAggregates,
  eventTimeColumn: TS_COLUMN,
  instant: instantLiteral,
  sourceTable,
  keepRow: (condition) => `(${condition}) IS TRUE`,
  aggregatedValue: (column) => `(${column})`,
};

export function viewBuildSql(plan: ViewBuildPlan): string {
  return printViewBuild(duckdbView, plan);
}
