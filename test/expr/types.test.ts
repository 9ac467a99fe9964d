// Type inference: result types of feature columns and the errors that name the culprit.

import { describe, expect, it } from 'vitest';
import { parseExpr } from '../../src/expr/parse.js';
import { ExprTypeError, inferType } from '../../src/expr/types.js';
import type { Columns } from '../../src/types.js';

const COLUMNS: Columns = {
  amount: 'double',
  quantity: 'int',
  status: 'string',
  is_refund: 'bool',
  created_at: 'timestamp',
  day: 'date',
};

const typeOf = (text: string) => inferType(parseExpr(text), COLUMNS);

function typeError(text: string): ExprTypeError {
  try {
    typeOf(text);
  } catch (e) {
    if (e instanceof ExprTypeError) return e;
    throw e;
  }
  throw new Error(`expected a type error for ${text}`);
}

describe('inferType', () => {
  it.each([
    ['quantity + 1', 'int'],
    ['quantity * quantity - 2 % quantity', 'int'],
    ['quantity / 2', 'double'],
    ['quantity + amount', 'double'],
    ['-quantity', 'int'],
    ['amount * 1.2', 'double'],
    ["status = 'success'", 'bool'],
    ['quantity = amount', 'bool'],
    ['NOT is_refund AND quantity > 0 OR amount IS NULL', 'bool'],
    ["CASE WHEN amount > 100 THEN 'big' ELSE 'small' END", 'string'],
    ['CASE WHEN is_refund THEN quantity ELSE amount END', 'double'],
    ['CASE WHEN is_refund THEN NULL ELSE quantity END', 'int'],
    ['coalesce(quantity, 0)', 'int'],
    ['coalesce(NULL, amount, quantity)', 'double'],
    ['nullif(quantity, 0)', 'int'],
    ['least(quantity, 2.5)', 'double'],
    ['round(amount, 2)', 'double'],
    ['round(quantity)', 'int'],
    ['floor(quantity)', 'double'],
    ['abs(quantity)', 'int'],
    ['length(status)', 'int'],
    ["substr(status, 1, 3) || '-' || upper(trim(status))", 'string'],
    ["concat(status, NULL, 'x')", 'string'],
    ['to_date(created_at)', 'date'],
    ['hour(created_at) + day_of_week(created_at)', 'int'],
    ["created_at >= TIMESTAMP '2024-01-01 00:00:00'", 'bool'],
    ["day BETWEEN DATE '2024-01-01' AND DATE '2024-02-01'", 'bool'],
    ["status IN ('a', NULL, 'b')", 'bool'],
    ["status LIKE 'a%'", 'bool'],
    ['CAST(amount AS int)', 'int'],
    ['CAST(status AS double)', 'double'],
    ['CAST(day AS string)', 'string'],
    ['CAST(quantity AS bool)', 'bool'],
    ['CAST(NULL AS double)', 'double'],
  ])('%s is %s', (text, type) => {
    expect(typeOf(text)).toBe(type);
  });
});

describe('type errors', () => {
  it('names an unknown column and lists the known ones', () => {
    const error = typeError('amout > 1');
    expect(error.column).toBe('amout');
    expect(error.message).toBe(
      "unknown column 'amout'; known columns: amount, quantity, status, is_refund, created_at, day",
    );
    expect(error.code).toBe('spec');
  });

  it('treats column names as case-sensitive', () => {
    expect(typeError('Amount > 1').column).toBe('Amount');
  });

  it.each([
    ["'a' + 1", "'+' needs int or double, but 'a' is string"],
    ["amount LIKE 'x'", 'LIKE needs string, but amount is double'],
    ['quantity AND is_refund', 'AND needs bool, but quantity is int'],
    ['NOT status', 'NOT needs bool, but status is string'],
    ['status = 1', "'=' compares status (string) with 1 (int)"],
    ["day = '2024-01-01'", "'=' compares day (date) with '2024-01-01' (string)"],
    ['created_at = day', "'=' compares created_at (timestamp) with day (date)"],
    ["quantity IN (1, 'a')", "IN compares quantity (int) with 'a' (string)"],
    ["CASE WHEN is_refund THEN 1 ELSE 'x' END", 'CASE results needs one type (int so far)'],
    ['CASE WHEN quantity THEN 1 END', 'CASE WHEN needs bool'],
    ['CAST(created_at AS string)', 'cannot CAST created_at (timestamp) AS string'],
    ['CAST(day AS int)', 'cannot CAST day (date) AS int'],
    ['hour(day)', 'hour() needs timestamp, but day is date'],
    ['substr(status, 1.5)', 'substr() needs int, but 1.5 is double'],
    ['concat(status, quantity)', 'concat() needs string, but quantity is int'],
    ['status || 1', "'||' needs string, but 1 is int"],
    ['round(amount, 1.5)', 'round() needs int'],
    ['coalesce(NULL, NULL)', 'is always NULL'],
  ])('%s', (text, message) => {
    expect(typeError(text).message).toContain(message);
  });

  it('hints at typed literals when a date is compared with text', () => {
    expect(typeError("day = '2024-01-01'").hint).toContain("DATE '...'");
  });
});
