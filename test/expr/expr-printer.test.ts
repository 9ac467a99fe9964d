// The SQL printer with the DuckDB dialect: the exact SQL for representative expressions, so that
// a change in printed SQL (and so in batch results) is a visible diff.

import { describe, expect, it } from 'vitest';
import { duckdbDialect } from '../../src/engines/duckdb/dialect.js';
import { printExpr } from '../../src/engines/sql/expr-printer.js';
import { parseExpr } from '../../src/expr/parse.js';

const print = (text: string, column?: (name: string) => string) =>
  printExpr(
    parseExpr(text),
    duckdbDialect,
    column ? { timezone: 'Europe/Paris', column } : { timezone: 'Europe/Paris' },
  );

describe('printExpr with the DuckDB dialect', () => {
  it.each([
    ["status = 'success'", `("status" = 'success')`],
    ['amount * 1.2', '("amount" * 1.2e+0)'],
    ['a / b', '(CAST("a" AS DOUBLE) / NULLIF(CAST("b" AS DOUBLE), 0))'],
    ['a % 2', '("a" % NULLIF(CAST(2 AS BIGINT), 0))'],
    ['NOT (a OR b)', '(NOT ("a" OR "b"))'],
    ['a <> 1', '("a" <> CAST(1 AS BIGINT))'],
    ['- -a', '(- (- "a"))'],
    ["x NOT IN ('a', NULL)", `("x" NOT IN ('a', NULL))`],
    ['x BETWEEN 1 AND 2', '("x" BETWEEN CAST(1 AS BIGINT) AND CAST(2 AS BIGINT))'],
    ["email NOT LIKE '%@x.com'", `("email" NOT LIKE '%@x.com')`],
    ["CASE WHEN a > 100 THEN 'big' END", `(CASE WHEN ("a" > CAST(100 AS BIGINT)) THEN 'big' END)`],
    ['CAST(s AS int)', 'TRY_CAST("s" AS BIGINT)'],
    ["DATE '2024-01-01'", "DATE '2024-01-01'"],
    ["TIMESTAMP '2024-01-01 10:00:00'", "timezone('Europe/Paris', TIMESTAMP '2024-01-01 10:00:00')"],
    ['to_date(ts)', `CAST(timezone('Europe/Paris', "ts") AS DATE)`],
    ['hour(ts)', `hour(timezone('Europe/Paris', "ts"))`],
    ['day_of_week(ts)', `isodow(timezone('Europe/Paris', "ts"))`],
    ['round(x, 2)', 'round("x", CAST(CAST(2 AS BIGINT) AS INTEGER))'],
    ['substr(s, 2, -1)', 'substr("s", CAST(2 AS BIGINT), (CAST(-1 AS BIGINT)))'],
    [
      'substr(s, i)',
      'substr("s", (least(greatest("i", (CAST(-2147483648 AS BIGINT))), CAST(2147483648 AS BIGINT)) + ("i" * CAST(0 AS BIGINT))))',
    ],
    ["concat(s, NULL, 'x')", `concat("s", CAST(NULL AS VARCHAR), 'x')`],
    ['hour(NULL)', `hour(timezone('Europe/Paris', CAST(NULL AS TIMESTAMPTZ)))`],
    ['nullif(NULL, ts)', '(CASE WHEN FALSE THEN "ts" END)'],
    ["s || 'x'", `("s" || 'x')`],
    ['"we""ird" IS NULL', '("we""ird" IS NULL)'],
  ])('%s', (text, sql) => {
    expect(print(text)).toBe(sql);
  });

  it('lets the caller decide how a column is referenced', () => {
    expect(print('a + b', (name) => `src."${name}"`)).toBe('(src."a" + src."b")');
  });
});
