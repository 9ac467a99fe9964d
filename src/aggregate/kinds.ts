// The aggregation kinds, defined once: which input they take, their result type, the value of an
// empty window, and an incremental form (add / merge / finalize) for streaming and serving.
// Engines print the SQL for each kind; tests prove SQL and incremental forms agree.

import type { ColumnType } from '../types.js';

export const AGG_KINDS = [
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'exists',
  'count_distinct',
  'last',
  'first',
  'stddev',
  'days_since_last',
  'as_of',
] as const;
export type AggKind = (typeof AGG_KINDS)[number];

export interface AggInfo {
  /** Whether a `column` is required (count, exists and days_since_last work on rows without one). */
  needsColumn: boolean;
  /** Column types the kind accepts (undefined: any). */
  accepts?: readonly ColumnType[];
  /** The stable result type, given the input type (undefined when there is no column). */
  resultType(input: ColumnType | undefined): ColumnType;
  /** The value of an entity whose rows all fall outside the window. */
  empty: 0 | false | null;
}

const NUMERIC: readonly ColumnType[] = ['int', 'double'];
const ORDERED: readonly ColumnType[] = ['int', 'double', 'string', 'timestamp', 'date', 'bool'];

export const AGGREGATIONS: Record<AggKind, AggInfo> = {
  count: { needsColumn: false, resultType: () => 'int', empty: 0 },
  sum: { needsColumn: true, accepts: NUMERIC, resultType: (t) => (t === 'int' ? 'int' : 'double'), empty: 0 },
  avg: { needsColumn: true, accepts: NUMERIC, resultType: () => 'double', empty: null },
  min: { needsColumn: true, accepts: ORDERED, resultType: (t) => t ?? 'double', empty: null },
  max: { needsColumn: true, accepts: ORDERED, resultType: (t) => t ?? 'double', empty: null },
  exists: { needsColumn: false, resultType: () => 'bool', empty: false },
  count_distinct: { needsColumn: true, resultType: () => 'int', empty: 0 },
  last: { needsColumn: true, resultType: (t) => t ?? 'double', empty: null },
  first: { needsColumn: true, resultType: (t) => t ?? 'double', empty: null },
  stddev: { needsColumn: true, accepts: NUMERIC, resultType: () => 'double', empty: null },
  days_since_last: { needsColumn: false, resultType: () => 'int', empty: null },
  /**
   * The value of the latest row, a NULL value included (unlike `last`): on a CDC source the value
   * valid at the cutoff, NULL once deleted. At one instant the greater value wins, NULL the least.
   */
  as_of: { needsColumn: true, resultType: (t) => t ?? 'double', empty: null },
};

export function isAggKind(s: string): s is AggKind {
  return (AGG_KINDS as readonly string[]).includes(s);
}
