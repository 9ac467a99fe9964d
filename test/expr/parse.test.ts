// The parser: the trees it builds, where it reports errors, canonical text, and that no input
// (random text or random token soup) makes it throw anything but ExprSyntaxError or run away.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonical, columnsOf, type Expr } from '../../src/expr/ast.js';
import { ExprSyntaxError, MAX_EXPR_DEPTH, MAX_EXPR_LENGTH, parseExpr } from '../../src/expr/parse.js';

function syntaxError(text: string): ExprSyntaxError {
  try {
    parseExpr(text);
  } catch (e) {
    if (e instanceof ExprSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected a syntax error for ${text}`);
}

describe('parseExpr builds the tree', () => {
  it.each([
    ["status = 'success'", "(status = 'success')"],
    ['amount * 1.2', '(amount * 1.2)'],
    [
      "CASE WHEN amount > 100 THEN 'big' ELSE 'small' END",
      "(CASE WHEN (amount > 100) THEN 'big' ELSE 'small' END)",
    ],
    [
      "lower(category) IN ('a','b') AND amount BETWEEN 1 AND 10",
      "((lower(category) IN ('a', 'b')) AND (amount BETWEEN 1 AND 10))",
    ],
    ['coalesce(discount, 0)', 'coalesce(discount, 0)'],
    ['country IS NOT NULL', '(country IS NOT NULL)'],
    ["email LIKE '%@x.com'", "(email LIKE '%@x.com')"],
    ['NOT (a OR b)', '(NOT (a OR b))'],
    ['a OR b AND c', '(a OR (b AND c))'],
    ['NOT a = 1 AND b', '((NOT (a = 1)) AND b)'],
    ['1 + 2 * 3 - 4 / 5 % 6', '((1 + (2 * 3)) - ((4 / 5) % 6))'],
    ["'a' || 'b' = 'ab'", "(('a' || 'b') = 'ab')"],
    ['s || 1 + 2', '(s || (1 + 2))'],
    ['-a * -2', '((-a) * (-2))'],
    ['a <> 1', '(a != 1)'],
    ['x NOT IN (1, 2)', '(x NOT IN (1, 2))'],
    ['x NOT BETWEEN 1 AND 2 OR y', '((x NOT BETWEEN 1 AND 2) OR y)'],
    ["x NOT LIKE 'a_'", "(x NOT LIKE 'a_')"],
    [
      "CASE x WHEN 1 THEN 'one' WHEN 2 THEN 'two' END",
      "(CASE WHEN (x = 1) THEN 'one' WHEN (x = 2) THEN 'two' END)",
    ],
    ['CAST(x AS integer)', 'CAST(x AS int)'],
    ['cast(x as VARCHAR)', 'CAST(x AS string)'],
    ["DATE '2024-02-29'", "DATE '2024-02-29'"],
    ["TIMESTAMP '2024-01-01T10:00'", "TIMESTAMP '2024-01-01 10:00:00'"],
    ["TIMESTAMP '2024-01-01 10:00:00.5'", "TIMESTAMP '2024-01-01 10:00:00.500'"],
    ['date > 1', '(date > 1)'],
    ['"order id" = "select" AND "not" = "a""b"', '(("order id" = select) AND ("not" = "a""b"))'],
    ["'it''s'", "'it''s'"],
    ['1.0 + 2 + .5 + 1e3', '(((1.0 + 2) + 0.5) + 1000.0)'],
    ['TRUE AND false OR NULL', '((TRUE AND FALSE) OR NULL)'],
    ['ROUND(x, 2) + Substr(s, 1, 2)', '(round(x, 2) + substr(s, 1, 2))'],
  ])('%s', (text, expected) => {
    expect(canonical(parseExpr(text))).toBe(expected);
  });

  it('keeps int and double literals apart', () => {
    expect(parseExpr('1')).toEqual({ kind: 'int', value: 1 });
    expect(parseExpr('1.0')).toEqual({ kind: 'double', value: 1 });
  });

  it('keeps the case of identifiers, quoted or not', () => {
    expect(parseExpr('Amount')).toEqual({ kind: 'column', name: 'Amount' });
    expect(parseExpr('"Date"')).toEqual({ kind: 'column', name: 'Date' });
    expect(parseExpr('Date')).toEqual({ kind: 'column', name: 'Date' });
  });

  it('lists the columns an expression reads, sorted and unique', () => {
    expect(columnsOf(parseExpr('b + a * b > coalesce(c, a) AND "z z" IS NULL'))).toEqual([
      'a',
      'b',
      'c',
      'z z',
    ]);
  });
});

describe('parseExpr reports errors with their position', () => {
  it.each([
    ['(a + )', 5, "unexpected token ')' at position 5; expected an expression"],
    ['a +', 3, 'unexpected end of input at position 3; expected an expression'],
    ['a b', 2, "unexpected token 'b' at position 2; expected an operator or the end of the expression"],
    ["x = 'abc", 4, 'unterminated string starting at position 4'],
    ['foo(1)', 0, "unknown function 'foo' at position 0"],
    ['1 + nope(x)', 4, "unknown function 'nope' at position 4"],
    ['a # b', 2, "unexpected character '#' at position 2"],
    ['nullif(a)', 0, 'nullif() at position 0 takes 2 arguments, got 1'],
    ['CASE END', 5, 'expected an expression'],
    ['CASE x END', 7, 'expected WHEN'],
    ['CAST(a AS date)', 10, 'expected a type'],
    ["DATE '2024-02-30'", 5, 'invalid DATE literal'],
    ['a IS 1', 5, 'expected NULL'],
    ['x BETWEEN 1 OR 2', 12, 'expected AND'],
    ['12abc', 0, "malformed number '12a'"],
    ['""', 0, 'empty identifier'],
    ['99999999999999999999', 0, 'too large'],
    ['count(*)', 0, "unknown function 'count'"],
    ['SELECT 1', 7, "unexpected token '1'"],
  ])('%s', (text, position, message) => {
    const error = syntaxError(text);
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
  });

  it('refuses input longer than the limit', () => {
    expect(syntaxError('a'.repeat(MAX_EXPR_LENGTH + 1)).message).toContain('limit');
  });

  it('refuses nesting deeper than the limit, without overflowing the stack', () => {
    const depth = MAX_EXPR_DEPTH + 1;
    expect(syntaxError(`${'('.repeat(depth)}a${')'.repeat(depth)}`).message).toContain('nests deeper');
    expect(syntaxError(`${'NOT '.repeat(depth)}a`).message).toContain('nests deeper');
    expect(syntaxError(`${'-'.repeat(depth)}a`).message).toContain('nests deeper');
    expect(syntaxError(Array.from({ length: depth + 1 }, () => 'a').join(' + ')).message).toContain(
      'nests deeper',
    );
    expect(syntaxError(`${'abs('.repeat(depth)}a${')'.repeat(depth)}`).message).toContain('nests deeper');
  });

  it('accepts nesting just within the limit', () => {
    const depth = 50;
    expect(() => parseExpr(`${'('.repeat(depth)}a${')'.repeat(depth)}`)).not.toThrow();
    expect(() => parseExpr(Array.from({ length: 150 }, () => 'a').join(' + '))).not.toThrow();
  });
});

describe('canonical text', () => {
  it('ignores whitespace, keyword case, <> vs != and redundant parentheses', () => {
    const variants = ['a=1', 'a  =  1', '(a = 1)', '((a)=(1))', ' a\n=\t1 '];
    const texts = new Set(variants.map((v) => canonical(parseExpr(v))));
    expect([...texts]).toEqual(['(a = 1)']);
    expect(canonical(parseExpr('x <> 1 and Y is not null'))).toBe(
      canonical(parseExpr('(x != 1) AND (Y IS NOT NULL)')),
    );
  });

  it('distinguishes what changes rows', () => {
    expect(canonical(parseExpr('a = 1'))).not.toBe(canonical(parseExpr('a = 1.0')));
    expect(canonical(parseExpr('a - b - c'))).not.toBe(canonical(parseExpr('a - (b - c)')));
    expect(canonical(parseExpr("a = 'x'"))).not.toBe(canonical(parseExpr("a = 'X'")));
  });

  it('parses back to the same tree', () => {
    const samples = [
      'CASE WHEN a > 1 THEN \'x\' || "b c" ELSE NULL END',
      "NOT (x IN (1, 2.5, -3)) AND d BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
      "substr(lower(s), -2) LIKE '%a_' OR hour(ts) >= 18",
      "CAST(round(amount / 3, 2) AS string) = '0.33'",
      "ts < TIMESTAMP '2024-03-31 02:30:00.250' AND 1e300 > 0.1",
    ];
    for (const text of samples) {
      const tree = parseExpr(text);
      expect(parseExpr(canonical(tree))).toEqual(tree);
    }
  });
});

const TOKENS = [
  'a',
  'b1',
  '"q"',
  "'s'",
  "''",
  '1',
  '2.5',
  '.5',
  '1e3',
  '(',
  ')',
  ',',
  '+',
  '-',
  '*',
  '/',
  '%',
  '||',
  '=',
  '!=',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  'AND',
  'OR',
  'NOT',
  'IS',
  'NULL',
  'IN',
  'BETWEEN',
  'LIKE',
  'CASE',
  'WHEN',
  'THEN',
  'ELSE',
  'END',
  'CAST',
  'AS',
  'int',
  'DATE',
  'TIMESTAMP',
  "'2024-01-01'",
  'TRUE',
  'FALSE',
  'coalesce',
  'substr',
  'round',
  'foo',
  '#',
  "'",
  '"',
];

function expectOnlySyntaxErrors(text: string): void {
  try {
    const tree: Expr = parseExpr(text);
    // whatever parses must print and parse back to itself (canonical text may outgrow the limit)
    const printed = canonical(tree);
    if (printed.length <= MAX_EXPR_LENGTH) expect(parseExpr(printed)).toEqual(tree);
  } catch (e) {
    if (!(e instanceof ExprSyntaxError)) throw e;
    expect(e.position).toBeGreaterThanOrEqual(0);
    expect(e.position).toBeLessThanOrEqual(text.length);
  }
}

describe('parser robustness', () => {
  it('throws nothing but ExprSyntaxError on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), expectOnlySyntaxErrors), {
      numRuns: 2000,
    });
  });

  it('throws nothing but ExprSyntaxError on random token soup', () => {
    const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join(' '));
    fc.assert(fc.property(soup, expectOnlySyntaxErrors), { numRuns: 3000 });
  });

  it('stays fast on the largest and deepest inputs', () => {
    const started = performance.now();
    for (const text of [
      '('.repeat(MAX_EXPR_LENGTH),
      'NOT '.repeat(MAX_EXPR_LENGTH / 4),
      '-'.repeat(MAX_EXPR_LENGTH),
      "'".repeat(MAX_EXPR_LENGTH),
      'a+'.repeat(MAX_EXPR_LENGTH / 2),
      `x IN (${'1,'.repeat(MAX_EXPR_LENGTH / 2 - 10)}1)`,
    ]) {
      expectOnlySyntaxErrors(text);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
