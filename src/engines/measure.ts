// The measurements quality checks are computed from, as plain requests an engine answers with
// SQL over a materialized result or a loaded source. Thresholds and verdicts live in
// pipeline/quality.ts; engines only count.

import type { Instant } from '../time/index.js';

export type MeasureRequest =
  /** Rows of `result` and how many have `column` NULL. */
  | { kind: 'nulls'; result: string; column: string }
  /** Non-null values of `column` outside [min, max], with up to `examples` offending rows. */
  | {
      kind: 'out_of_range';
      result: string;
      column: string;
      keys: string[];
      min: number | undefined;
      max: number | undefined;
      examples: number;
    }
  /** Key tuples (with as_of_date) that appear more than once. */
  | { kind: 'duplicate_keys'; result: string; keys: string[]; examples: number }
  /** Population stability index of `column` in `result` against the same column in a Parquet file. */
  | { kind: 'psi'; result: string; column: string; previousFile: string; bins: number }
  /** The latest event instant of a loaded source strictly before `before`. */
  | { kind: 'latest_event'; source: string; before: Instant }
  /**
   * Rows of a loaded source whose event time is in [from, to), and how many of them have an
   * arrival time (`ingestedAt` column) strictly after `deadline`.
   */
  | {
      kind: 'late_events';
      source: string;
      ingestedAt: string;
      from: Instant;
      to: Instant;
      deadline: Instant;
    };

export interface Measurement {
  /** The count asked for (nulls, out of range, duplicated keys, late rows). */
  count: number;
  /** The rows it is out of (rows of the result, or the source rows in the interval). */
  total: number;
  /** A measured value: the PSI, or the latest event instant (epoch ms; null when none). */
  value: number | null;
  /** A few offending rows, as printable objects. */
  examples: Record<string, unknown>[];
}
