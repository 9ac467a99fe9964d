// The TypeScript evaluator on its own: SQL NULL logic truth tables, IN / BETWEEN / LIKE rules,
// arithmetic edge cases, DuckDB string and cast behaviour, and local time in the project timezone.

import { describe, expect, it } from 'vitest';
import { compileEvaluator, evaluate, type Row, type Value } from '../../src/expr/evaluate.js';
import { parseExpr } from '../../src/expr/parse.js';
import type { Columns } from '../../src/types.js';

const COLUMNS: Columns = {
  a: 'bool',
  b: 'bool',
  i: 'int',
  d: 'double',
  s: 'string',
  ts: 'timestamp',
  dt: 'date',
};
const ctx = { timezone: 'Europe/Paris', columns: COLUMNS };
const run = (text: string, row: Row = {}): Value => evaluate(parseExpr(text), row, ctx);

const TRUTH: (boolean | null)[] = [true, false, null];

describe('three-valued logic', () => {
  const and = (x: boolean | null, y: boolean | null) =>
    x === false || y === false ? false : x === null || y === null ? null : true;
  const or = (x: boolean | null, y: boolean | null) =>
    x === true || y === true ? true : x === null || y === null ? null : false;

  for (const a of TRUTH) {
    for (const b of TRUTH) {
      it(`${a} AND ${b} = ${and(a, b)}; ${a} OR ${b} = ${or(a, b)}`, () => {
        expect(run('a AND b', { a, b })).toBe(and(a, b));
        expect(run('a OR b', { a, b })).toBe(or(a, b));
      });
    }
    it(`NOT ${a}`, () => {
      expect(run('NOT a', { a })).toBe(a === null ? null : !a);
    });
  }

  it('compares with NULL to NULL', () => {
    for (const op of ['=', '!=', '<', '<=', '>', '>=']) {
      expect(run(`i ${op} 1`, { i: null })).toBeNull();
      expect(run(`1 ${op} NULL`)).toBeNull();
    }
    expect(run('NULL = NULL')).toBeNull();
    expect(run('NULL IS NULL')).toBe(true);
    expect(run('i IS NOT NULL', { i: 0 })).toBe(true);
  });

  it('reads a missing key as NULL', () => {
    expect(run('i IS NULL', {})).toBe(true);
  });
});

describe('IN, BETWEEN and LIKE', () => {
  it.each([
    ['i IN (1, 2)', { i: 2 }, true],
    ['i IN (1, 2)', { i: 3 }, false],
    ['i IN (1, NULL)', { i: 1 }, true],
    ['i IN (1, NULL)', { i: 3 }, null],
    ['i IN (1, 2)', { i: null }, null],
    ['i NOT IN (1, NULL)', { i: 3 }, null],
    ['i NOT IN (1, 2)', { i: 3 }, true],
    ['i IN (d, 5)', { i: 2, d: 2.0 }, true],
    ['i IN (d, 5)', { i: 2, d: null }, null],
    ['i BETWEEN 1 AND 3', { i: 1 }, true],
    ['i BETWEEN 1 AND 3', { i: 3 }, true],
    ['i BETWEEN 1 AND 3', { i: 4 }, false],
    ['i BETWEEN NULL AND 3', { i: 4 }, false],
    ['i BETWEEN NULL AND 3', { i: 2 }, null],
    ['i NOT BETWEEN 1 AND 3', { i: 4 }, true],
    ["s LIKE '%@x.com'", { s: 'me@x.com' }, true],
    ["s LIKE '%@x.com'", { s: 'me@x.com.au' }, false],
    ["s LIKE 'a_c'", { s: 'abc' }, true],
    ["s LIKE 'a_c'", { s: 'ac' }, false],
    ["s LIKE '_'", { s: '😀' }, true],
    ["s LIKE 'a\\%'", { s: 'a\\xyz' }, true],
    ["s LIKE '%a%a%a%a%a%b'", { s: 'a'.repeat(5000) }, false],
    ["s NOT LIKE 'a%'", { s: 'ba' }, true],
    ["s LIKE 'a%'", { s: null }, null],
  ] as const)('%s on %j is %s', (text, row, expected) => {
    expect(run(text, row)).toBe(expected);
  });
});

describe('arithmetic', () => {
  it.each([
    ['7 / 2', 3.5],
    ['7 / 0', null],
    ['7.5 / 0.0', null],
    ['7 % 0', null],
    ['-7 % 3', -1],
    ['7.5 % 2', 1.5],
    ['round(2.5)', 3],
    ['round(-2.5)', -3],
    ['round(1.005, 2)', 1],
    ['round(1234.5, -2)', 1200],
    ['round(15, -1)', 20],
    ['round(-15, -1)', -20],
    ['floor(-1.5)', -2],
    ['ceil(-1.5)', -1],
    ['abs(-3)', 3],
    ['least(3, NULL, 1)', 1],
    ['greatest(NULL, NULL)', null],
    ['coalesce(NULL, NULL, 3, 4)', 3],
    ['nullif(3, 3)', null],
    ['nullif(3, NULL)', 3],
  ] as const)('%s = %s', (text, expected) => {
    expect(run(text)).toBe(expected);
  });

  it('never yields an integer -0', () => {
    expect(Object.is(run('i * -1', { i: 0 }), 0)).toBe(true);
    expect(run('CAST(CAST(-i AS double) AS string)', { i: 0 })).toBe('0.0');
  });
});

describe('strings and casts, as DuckDB', () => {
  it.each([
    ["substr('hello', 2, 3)", 'ell'],
    ["substr('hello', -3)", 'llo'],
    ["substr('hello', 0, 2)", 'h'],
    ["substr('hello', 3, -2)", 'he'],
    ["substr('hello', 10)", ''],
    ["substr('héllo😀', 5, 2)", 'o😀'],
    ["length('h😀é')", 3],
    ["trim('  a\tb  ')", 'a\tb'],
    ["upper('straße')", 'STRAẞE'],
    ["lower('ΑΣ')", 'ασ'],
    ["concat('a', NULL, 'b')", 'ab'],
    ["'a' || NULL", null],
    ['CAST(1.0 AS string)', '1.0'],
    ['CAST(1e20 AS string)', '1e+20'],
    ['CAST(0.00001 AS string)', '1e-05'],
    ['CAST(1 AS string)', '1'],
    ['CAST(TRUE AS string)', 'true'],
    ['CAST(2.5 AS int)', 2],
    ['CAST(3.5 AS int)', 4],
    ["CAST('2.5' AS int)", 3],
    ["CAST(' 7 ' AS int)", 7],
    ["CAST('abc' AS int)", null],
    ["CAST('1e3' AS double)", 1000],
    ["CAST('yes' AS bool)", true],
    ["CAST('maybe' AS bool)", null],
    ['CAST(0.0 AS bool)', false],
    ["CAST(DATE '2024-02-29' AS string)", '2024-02-29'],
  ] as const)('%s = %j', (text, expected) => {
    expect(run(text)).toBe(expected);
  });

  it('orders strings by code point, like UTF-8 bytes', () => {
    expect(run("s < '😀'", { s: '\uE000' })).toBe(true);
    expect(run("s > 'Z'", { s: 'a' })).toBe(true);
  });
});

describe('time in the project timezone', () => {
  const paris = (iso: string) => Date.parse(iso);

  it('reads TIMESTAMP literals as local wall time', () => {
    expect(run("ts = TIMESTAMP '2024-06-01 12:00:00'", { ts: paris('2024-06-01T10:00:00Z') })).toBe(true);
  });

  it('resolves skipped and repeated local times to the later instant', () => {
    expect(run("TIMESTAMP '2024-03-31 02:30:00'")).toBe(paris('2024-03-31T01:30:00Z'));
    expect(run("TIMESTAMP '2024-10-27 02:30:00'")).toBe(paris('2024-10-27T01:30:00Z'));
  });

  it('gives the local date, hour and ISO day of week', () => {
    const lateSundayUtc = paris('2024-03-30T23:30:00Z'); // Sunday 00:30 in Paris
    expect(run('to_date(ts)', { ts: lateSundayUtc })).toBe('2024-03-31');
    expect(run('hour(ts)', { ts: lateSundayUtc })).toBe(0);
    expect(run('day_of_week(ts)', { ts: lateSundayUtc })).toBe(7);
    expect(run('hour(ts)', { ts: paris('2024-03-31T01:00:00Z') })).toBe(3);
    expect(run('hour(ts)', { ts: paris('2024-03-31T00:59:59.999Z') })).toBe(1);
  });

  it('follows the timezone across DST changes in one compiled evaluator', () => {
    const hour = compileEvaluator(parseExpr('hour(ts)'), ctx);
    const hours = [
      '2024-01-15T12:00:00Z',
      '2024-07-15T12:00:00Z',
      '2024-01-15T12:00:00Z',
      '1900-01-01T12:00:00Z',
    ].map((iso) => hour({ ts: Date.parse(iso) }));
    expect(hours).toEqual([13, 14, 13, 12]);
  });
});

describe('CASE', () => {
  it('takes the first true branch and skips NULL conditions', () => {
    const text = "CASE WHEN i > 10 THEN 'big' WHEN i > 5 THEN 'mid' WHEN b THEN 'flag' END";
    expect(run(text, { i: 20 })).toBe('big');
    expect(run(text, { i: 7 })).toBe('mid');
    expect(run(text, { i: null, b: true })).toBe('flag');
    expect(run(text, { i: null, b: null })).toBeNull();
  });
});
