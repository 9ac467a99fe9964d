// DuckDB SQL for each aggregation kind over the rows of one window (the FILTER clause).
// The semantics (empty values, null rules, tie-breaks) are those of aggregate/kinds.ts.

import type { AggKind } from '../../aggregate/kinds.js';
import type { ColumnType } from '../../types.js';
import { duckdbType } from './types.js';

export interface AggSqlInput {
  kind: AggKind;
  /** SQL of the aggregated value, undefined for row-counting kinds without a column. */
  value: string | undefined;
  /** SQL of the in-window condition. */
  inWindow: string;
  /** SQL of the event instant column. */
  ts: string;
  /** SQL of the event's local date. */
  localDate: string;
  /** SQL of the date days_since_last counts to. */
  referenceDate: string;
  resultType: ColumnType;
}

export function aggregateSql(a: AggSqlInput): string {
  const v = a.value;
  const notNull = v === undefined ? a.inWindow : `${a.inWindow} AND ${v} IS NOT NULL`;
  const filter = (cond: string) => `FILTER (WHERE ${cond})`;
  const out = duckdbType(a.resultType);
  switch (a.kind) {
    case 'count':
      return `count(${v ?? '*'}) ${filter(a.inWindow)}`;
    case 'sum':
      return `coalesce(sum(${v}) ${filter(a.inWindow)}, 0)::${out}`;
    case 'avg':
      return `(avg(${v}) ${filter(a.inWindow)})::DOUBLE`;
    case 'min':
      return `min(${v}) ${filter(a.inWindow)}`;
    case 'max':
      return `max(${v}) ${filter(a.inWindow)}`;
    case 'exists':
      return `(count(${v ?? '*'}) ${filter(a.inWindow)} > 0)`;
    case 'count_distinct':
      return `count(DISTINCT ${v}) ${filter(a.inWindow)}`;
    case 'last':
      return `first(${v} ORDER BY ${a.ts} DESC, ${v} DESC) ${filter(notNull)}`;
    case 'first':
      return `first(${v} ORDER BY ${a.ts} ASC, ${v} DESC) ${filter(notNull)}`;
    case 'stddev':
      return `stddev_samp(${v}) ${filter(a.inWindow)}`;
    case 'as_of':
      return `first(${v} ORDER BY ${a.ts} DESC, ${v} DESC NULLS LAST) ${filter(a.inWindow)}`;
    case 'days_since_last':
      return `(${a.referenceDate} - max(${a.localDate}) ${filter(notNull)})::BIGINT`;
  }
}
