// How DuckDB spells the parts of an expression that differ between engines. Timestamp columns are
// TIMESTAMPTZ instants and the session TimeZone is UTC, so local time always goes through timezone().

import type { ColumnType } from '../../types.js';
import type { SqlDialect } from '../sql/expr-printer.js';

const TYPE_SQL: Record<ColumnType, string> = {
  int: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
};

function quoteString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Negative literals are parenthesized so that they can follow any operator. */
function signed(text: string, value: number): string {
  return value < 0 || Object.is(value, -0) ? `(${text})` : text;
}

/** Local wall time of an instant: timezone(zone, TIMESTAMPTZ) gives the zone's TIMESTAMP. */
function local(ts: string, timezone: string): string {
  return `timezone(${quoteString(timezone)}, ${ts})`;
}

export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  quoteIdent: (name) => `"${name.replaceAll('"', '""')}"`,
  stringLiteral: quoteString,
  intLiteral: (value) => signed(`CAST(${value} AS BIGINT)`, value),
  // An exponent makes DuckDB read a double; without one `1.5` would be a DECIMAL.
  doubleLiteral: (value) => {
    if (Number.isNaN(value)) return "CAST('nan' AS DOUBLE)";
    if (!Number.isFinite(value)) return `CAST('${value > 0 ? 'inf' : '-inf'}' AS DOUBLE)`;
    return signed(value.toExponential(), value);
  },
  dateLiteral: (date) => `DATE ${quoteString(date)}`,
  // timezone(zone, TIMESTAMP) reads the wall time in the zone and returns the instant (TIMESTAMPTZ).
  timestampLiteral: (wallTime, timezone) =>
    `timezone(${quoteString(timezone)}, TIMESTAMP ${quoteString(wallTime)})`,
  divide: (a, b) => `(CAST(${a} AS DOUBLE) / NULLIF(CAST(${b} AS DOUBLE), 0))`,
  modulo: (a, b) => `(${a} % NULLIF(${b}, 0))`,
  concatOperator: (a, b) => `(${a} || ${b})`,
  cast: (x, to) => `TRY_CAST(${x} AS ${TYPE_SQL[to]})`,
  localDate: (ts, timezone) => `CAST(${local(ts, timezone)} AS DATE)`,
  localHour: (ts, timezone) => `hour(${local(ts, timezone)})`,
  isoDayOfWeek: (ts, timezone) => `isodow(${local(ts, timezone)})`,
  concat: (args) => `concat(${args.join(', ')})`,
  substr: (s, start, length) => `substr(${s}, ${start}${length === undefined ? '' : `, ${length}`})`,
  round: (x, digits) => (digits === undefined ? `round(${x})` : `round(${x}, CAST(${digits} AS INTEGER))`),
  like: (x, pattern, negated) => `(${x} ${negated ? 'NOT ' : ''}LIKE ${pattern})`,
  function: (name, args) => `${name}(${args.join(', ')})`,
  typedNull: (type) => `CAST(NULL AS ${TYPE_SQL[type]})`,
};
