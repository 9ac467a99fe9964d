// How Spark SQL spells the parts of an expression that differ between engines. The session time
// zone is UTC and ANSI mode is on (errors, not silent wrap-around), so timestamps are instants and
// local time always goes through from_utc_timestamp(ts, zone).

import { formatInstant, localToInstant } from '../../time/index.js';
import type { ColumnType } from '../../types.js';
import type { SqlDialect } from '../sql/expr-printer.js';

export const SPARK_TYPES: Record<ColumnType, string> = {
  int: 'BIGINT',
  double: 'DOUBLE',
  string: 'STRING',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

/** Spark reads backslash escapes inside string literals, so backslashes are escaped too. */
export function sparkString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

export function sparkIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

/** An instant (epoch ms) as a Spark TIMESTAMP literal with an explicit UTC offset. */
export function sparkInstant(ms: number): string {
  return `TIMESTAMP '${formatInstant(ms).replace('T', ' ').replace('Z', '+00:00')}'`;
}

/** Local wall time of an instant, as a TIMESTAMP whose UTC reading is the wall time in `timezone`. */
function local(ts: string, timezone: string): string {
  return `from_utc_timestamp(${ts}, ${sparkString(timezone)})`;
}

function signed(text: string, value: number): string {
  return value < 0 || Object.is(value, -0) ? `(${text})` : text;
}

export const sparkDialect: SqlDialect = {
  name: 'spark',
  quoteIdent: sparkIdent,
  stringLiteral: sparkString,
  intLiteral: (value) => signed(`CAST(${value} AS BIGINT)`, value),
  // Through a string so that the value is exact and NaN / infinities are spelled the same way.
  doubleLiteral: (value) => {
    if (Number.isNaN(value)) return "CAST('NaN' AS DOUBLE)";
    if (!Number.isFinite(value)) return `CAST('${value > 0 ? 'Infinity' : '-Infinity'}' AS DOUBLE)`;
    return signed(`CAST('${Object.is(value, -0) ? '-0.0' : String(value)}' AS DOUBLE)`, value);
  },
  dateLiteral: (date) => `DATE '${date}'`,
  // The wall time is resolved to its instant by src/time (the later one when it repeats), once.
  timestampLiteral: (wallTime, timezone) => sparkInstant(localToInstant(wallTime, timezone)),
  divide: (a, b) => `(CAST(${a} AS DOUBLE) / NULLIF(CAST(${b} AS DOUBLE), 0))`,
  modulo: (a, b) => `(${a} % NULLIF(${b}, 0))`,
  concatOperator: (a, b) => `concat(${a}, ${b})`,
  cast: (x, to) => `try_cast(${x} AS ${SPARK_TYPES[to]})`,
  localDate: (ts, timezone) => `to_date(${local(ts, timezone)})`,
  localHour: (ts, timezone) => `CAST(hour(${local(ts, timezone)}) AS BIGINT)`,
  // weekday(): 0 = Monday .. 6 = Sunday.
  isoDayOfWeek: (ts, timezone) => `CAST(weekday(${local(ts, timezone)}) + 1 AS BIGINT)`,
  concat: (args) => `concat(${args.map((a) => `coalesce(${a}, '')`).join(', ')})`,
  substr: (s, start, length) => substr(s, start, length),
  round: (x, digits) => (digits === undefined ? `round(${x})` : `round(${x}, CAST(${digits} AS INT))`),
  // Spark's LIKE escapes with a backslash by default: escaping backslashes makes them literal.
  like: (x, pattern, negated) =>
    `(${x} ${negated ? 'NOT ' : ''}LIKE replace(${pattern}, '\\\\', '\\\\\\\\'))`,
  function: (name, args) => {
    switch (name) {
      case 'floor':
      case 'ceil':
        // Spark returns BIGINT for a double's floor; the other engines keep the argument's type.
        return `(${name}(${args.join(', ')}) + (${args[0]} * 0))`;
      case 'length':
        return `CAST(char_length(${args.join(', ')}) AS BIGINT)`;
      default:
        return `${name}(${args.join(', ')})`;
    }
  },
  typedNull: (type) => `CAST(NULL AS ${SPARK_TYPES[type]})`,
};

/**
 * substr with the evaluator's rules (1-based; a start of 0 or before the beginning eats into the
 * length; a negative length counts back from the start), spelled with Spark's own substring.
 */
function substr(s: string, start: string, length: string | undefined): string {
  const n = `char_length(${s})`;
  const at = `(CASE WHEN ${start} > 0 THEN ${start} - 1 WHEN ${start} < 0 THEN ${n} + ${start} ELSE -1 END)`;
  const from = length === undefined ? at : `(CASE WHEN ${length} >= 0 THEN ${at} ELSE ${at} + ${length} END)`;
  const to = length === undefined ? n : `(CASE WHEN ${length} >= 0 THEN ${at} + ${length} ELSE ${at} END)`;
  const lo = `greatest(${from}, 0)`;
  const hi = `least(${to}, ${n})`;
  return `(CASE WHEN ${hi} <= ${lo} THEN (CASE WHEN ${s} IS NULL OR ${start} IS NULL${length === undefined ? '' : ` OR ${length} IS NULL`} THEN NULL ELSE '' END) ELSE substring(${s}, CAST(${lo} + 1 AS INT), CAST(${hi} - ${lo} AS INT)) END)`;
}
