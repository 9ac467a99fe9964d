// How DuckDB spells the SQL of each aggregation kind (printed once in sql/aggregate-sql.ts).

import {
  type AggregateDialect,
  type AggregateSqlInput,
  aggregateSql as printAggregate,
} from '../sql/aggregate-sql.js';
import { duckdbType } from './types.js';

export const duckdbAggregates: AggregateDialect = {
  typeName: duckdbType,
  latestValue: (v, ts, filter) => `first(${v} ORDER BY ${ts} DESC, ${v} DESC) ${filter}`,
  earliestValue: (v, ts, filter) => `first(${v} ORDER BY ${ts} ASC, ${v} DESC) ${filter}`,
  latestValueOrNull: (v, ts, filter) => `first(${v} ORDER BY ${ts} DESC, ${v} DESC NULLS LAST) ${filter}`,
  daysBetween: (from, to) => `(${to} - ${from})`,
};

export function aggregateSql(a: AggregateSqlInput): string {
  return printAggregate(duckdbAggregates, a);
}
