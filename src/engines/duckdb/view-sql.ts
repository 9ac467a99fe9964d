// Prints the DuckDB SQL of one view partition from its plan: visible rows (before the cutoff,
// passing `where`), grouped by entity, one FILTERed aggregate per feature.

import type { ViewBuildPlan } from '../../plan/view-build.js';
import { printExpr } from '../sql/expr-printer.js';
import { aggregateSql } from './aggregates.js';
import { duckdbDialect } from './dialect.js';
import { dateLiteral, instantLiteral, quoteIdent, stringLiteral } from './types.js';

/** The typed table a loaded source lives in. */
export function sourceTable(sourceName: string): string {
  return quoteIdent(`src_${sourceName}`);
}

/** Name of the hidden column holding each row's event instant. */
export const TS_COLUMN = '__ts';

export function viewBuildSql(plan: ViewBuildPlan): string {
  const { view, timezone } = plan;
  const ctx = { timezone };
  const ts = quoteIdent(TS_COLUMN);
  const keys = view.keys.map(quoteIdent);
  const conditions = [`${ts} < ${instantLiteral(plan.cutoff)}`];
  if (view.where) conditions.push(`(${printExpr(view.where, duckdbDialect, ctx)}) IS TRUE`);
  const localDate = `(${ts} AT TIME ZONE ${stringLiteral(timezone)})::DATE`;
  const features = view.features.map((f, i) => {
    const start = plan.windowStarts[i];
    const sql = aggregateSql({
      kind: f.agg,
      value: f.column ? `(${printExpr(f.column, duckdbDialect, ctx)})` : undefined,
      inWindow: start === null || start === undefined ? 'TRUE' : `${ts} >= ${instantLiteral(start)}`,
      ts,
      localDate,
      referenceDate: dateLiteral(plan.referenceDate),
      resultType: f.type,
    });
    return `  ${sql} AS ${quoteIdent(f.name)}`;
  });
  return [
    `SELECT ${keys.join(', ')}, ${dateLiteral(plan.asOfDate)} AS as_of_date,`,
    features.join(',\n'),
    `FROM ${sourceTable(view.source)}`,
    `WHERE ${conditions.join(' AND ')}`,
    `GROUP BY ${keys.join(', ')}`,
    `ORDER BY ${keys.join(', ')}`,
  ].join('\n');
}
