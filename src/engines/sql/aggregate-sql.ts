// The SQL of each aggregation kind over the rows of one window (a FILTER clause), printed once for
// every engine; an AggregateDialect spells what differs. The semantics (empty values, null rules,
// tie-breaks) are those of aggregate/kinds.ts.

import type { AggKind } from '../../aggregate/kinds.js';
import type { ColumnType } from '../../types.js';

export interface AggregateSqlInput {
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

/**
 * What differs between engines in the aggregation SQL. `filter` is the printed FILTER clause the
 * aggregate must carry; ties at the same instant go to the greater value.
 */
export interface AggregateDialect {
  /** The engine's type of a column type, for the CASTs that pin a result type. */
  typeName(type: ColumnType): string;
  /** The value `v` of the row with the latest instant `ts` (the caller filters out NULL values). */
  latestValue(v: string, ts: string, filter: string): string;
  /** The value `v` of the row with the earliest instant `ts` (the caller filters out NULL values). */
  earliestValue(v: string, ts: string, filter: string): string;
  /** As latestValue, but NULL values take part: a non-NULL value wins a tie. */
  latestValueOrNull(v: string, ts: string, filter: string): string;
  /** Whole days from the date `from` to the date `to`, as an integer. */
  daysBetween(from: string, to: string): string;
}

export function aggregateSql(d: AggregateDialect, a: AggregateSqlInput): string {
  const v = a.value;
  const notNull = v === undefined ? a.inWindow : `${a.inWindow} AND ${v} IS NOT NULL`;
  const filter = (cond: string) => `FILTER (WHERE ${cond})`;
  const cast = (x: string, type: ColumnType) => `CAST(${x} AS ${d.typeName(type)})`;
  switch (a.kind) {
    case 'count':
      return `count(${v ?? '*'}) ${filter(a.inWindow)}`;
    case 'sum':
      return cast(`coalesce(sum(${v}) ${filter(a.inWindow)}, 0)`, a.resultType);
    case 'avg':
      return cast(`avg(${v}) ${filter(a.inWindow)}`, 'double');
    case 'min':
      return `min(${v}) ${filter(a.inWindow)}`;
    case 'max':
      return `max(${v}) ${filter(a.inWindow)}`;
    case 'exists':
      return `(count(${v ?? '*'}) ${filter(a.inWindow)} > 0)`;
    case 'count_distinct':
      return `count(DISTINCT ${v}) ${filter(a.inWindow)}`;
    case 'last':
      return d.latestValue(`${v}`, a.ts, filter(notNull));
    case 'first':
      return d.earliestValue(`${v}`, a.ts, filter(notNull));
    case 'stddev':
      return `stddev_samp(${v}) ${filter(a.inWindow)}`;
    case 'as_of':
      return d.latestValueOrNull(`${v}`, a.ts, filter(a.inWindow));
    case 'days_since_last':
      return cast(d.daysBetween(`max(${a.localDate}) ${filter(notNull)}`, a.referenceDate), 'int');
  }
}
