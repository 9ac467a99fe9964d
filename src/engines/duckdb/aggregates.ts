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

/** The largest perfect hash table allowed per thread (DuckDB allocates one per thread). */
const PERFECT_HASH_MAX_BYTES = 384 * 1024 * 1024;
/** Bytes per group and aggregate assumed for that size (aggregate states are 8-24 bytes). */
const PERFECT_HASH_BYTES_PER_AGGREGATE = 48;

/**
 * The session setting for a GROUP BY whose only key is an integer id 1..groups: DuckDB's perfect
 * hash aggregate addresses the groups by the id (an array per thread, no hashing or probing) when
 * the id's range fits in perfect_ht_threshold bits (default 12, i.e. 4,096 groups). Training sets
 * group by the point number (3.8-4.2 s vs 4.7-5.1 s CPU at 1M labels and 3 aggregates), backfills
 * each date by the entity id (-11% per date); DuckDB's default where the table for `aggregates`
 * per group would be too large (BENCHMARKS.md).
 */
export function perfectHashSql(groups: number, aggregates: number): string {
  const bits = Math.ceil(Math.log2(groups + 1));
  const bytes = 2 ** bits * (16 + aggregates * PERFECT_HASH_BYTES_PER_AGGREGATE);
  return bits > 12 && bytes <= PERFECT_HASH_MAX_BYTES
    ? `SET perfect_ht_threshold = ${bits}`
    : 'RESET perfect_ht_threshold';
}
