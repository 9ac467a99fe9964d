// The SQL of one view partition from its plan, printed once for every engine: visible rows (before
// the cutoff, passing `where`), grouped by entity, one FILTERed aggregate per feature. A ViewDialect
// spells what differs.

import type { ViewBuildPlan } from '../../plan/view-build.js';
import type { ColumnType } from '../../types.js';
import { type AggregateDialect, aggregateSql } from './aggregate-sql.js';
import { printExpr, type SqlDialect } from './expr-printer.js';

/** What differs between engines in a view's SQL, beside the expression and aggregate dialects. */
export interface ViewDialect {
  readonly sql: SqlDialect;
  readonly aggregates: AggregateDialect;
  /** The hidden column of a loaded source holding each row's event instant. */
  readonly eventTimeColumn: string;
  /** An instant (epoch ms) as a timestamp literal. */
  instant(ms: number): string;
  /** The table a loaded source is read from. */
  sourceTable(source: string): string;
  /** The printed `where` expression as a row filter: a NULL condition drops the row like FALSE. */
  keepRow(condition: string): string;
  /** The printed feature column as the aggregated value; `inputType` is its contract type, if known. */
  aggregatedValue(column: string, inputType: ColumnType | undefined): string;
}

export function viewBuildSql(d: ViewDialect, plan: ViewBuildPlan): string {
  const { view, timezone } = plan;
  const ctx = { timezone };
  const q = (name: string) => d.sql.quoteIdent(name);
  const ts = q(d.eventTimeColumn);
  const keys = view.keys.map(q);
  const conditions = [`${ts} < ${d.instant(plan.cutoff)}`];
  if (view.where) conditions.push(d.keepRow(printExpr(view.where, d.sql, ctx)));
  const localDate = d.sql.localDate(ts, timezone);
  const features = view.features.map((f, i) => {
    const start = plan.windowStarts[i];
    const sql = aggregateSql(d.aggregates, {
      kind: f.agg,
      value: f.column ? d.aggregatedValue(printExpr(f.column, d.sql, ctx), f.inputType) : undefined,
      inWindow: start === null || start === undefined ? 'TRUE' : `${ts} >= ${d.instant(start)}`,
      ts,
      localDate,
      referenceDate: d.sql.dateLiteral(plan.referenceDate),
      resultType: f.type,
    });
    return `  ${sql} AS ${q(f.name)}`;
  });
  return [
    `SELECT ${keys.join(', ')}, ${d.sql.dateLiteral(plan.asOfDate)} AS as_of_date,`,
    features.join(',\n'),
    `FROM ${d.sourceTable(view.source)}`,
    `WHERE ${conditions.join(' AND ')}`,
    `GROUP BY ${keys.join(', ')}`,
    `ORDER BY ${keys.join(', ')}`,
  ].join('\n');
}
