// Runs an expression tree on one row in TypeScript (the streaming path), with exactly the SQL
// semantics the engines' printers produce: three-valued logic, NULL on division by zero, DuckDB's
// string functions and casts, and local-time functions in the project timezone.

import { localToInstant } from '../time/index.js';
import { LocalClock } from '../time/local-clock.js';
import type { Columns } from '../types.js';
import {
  type BinaryOp,
  type Call,
  type CastType,
  type Expr,
  formatDouble,
  isLiteral,
  type Literal,
  SUBSTR_ARGUMENT_LIMIT,
} from './ast.js';
import { inferNullableType, type NullableType } from './types.js';

/**
 * One value of a row or of an expression result. The single place that fixes the representation:
 * - string -> string; int and double -> number (ints are safe integers); bool -> boolean;
 * - timestamp -> number: epoch MILLISECONDS of the instant (UTC, no timezone attached);
 * - date -> string 'YYYY-MM-DD' (a calendar date; its order as text is its order in time);
 * - SQL NULL -> null (a missing key in a row reads as null too).
 */
export type Value = string | number | boolean | null;

export type Row = Readonly<Record<string, Value | undefined>>;

export interface EvalContext {
  /** The project timezone (IANA name): TIMESTAMP literals and to_date / hour / day_of_week use it. */
  timezone: string;
  /**
   * The source's column types. SQL values are typed and JS numbers are not: int results must never
   * be -0 and CAST(x AS string) prints a double 1 as '1.0' but an int 1 as '1'.
   */
  columns: Columns;
}

export type Evaluator = (row: Row) => Value;

const cache = new WeakMap<Expr, { timezone: string; columns: Columns; run: Evaluator }>();

/** Evaluate once; repeated calls with the same tree and context reuse the compiled closure. */
export function evaluate(expr: Expr, row: Row, ctx: EvalContext): Value {
  const hit = cache.get(expr);
  if (hit && hit.timezone === ctx.timezone && hit.columns === ctx.columns) return hit.run(row);
  const run = compileEvaluator(expr, ctx);
  cache.set(expr, { timezone: ctx.timezone, columns: ctx.columns, run });
  return run(row);
}

/** Walk the tree once and return a closure per node, so the per-event cost is only the closures. */
export function compileEvaluator(expr: Expr, ctx: EvalContext): Evaluator {
  return new Compiler(ctx).compile(expr);
}

class Compiler {
  private readonly clock: LocalClock;

  constructor(private readonly ctx: EvalContext) {
    this.clock = new LocalClock(ctx.timezone);
  }

  compile(expr: Expr): Evaluator {
    const run = this.compileNode(expr);
    if (expr.kind === 'column' || expr.kind === 'int' || this.staticType(expr) !== 'int') return run;
    // JS arithmetic yields -0 (0 * -1, -7 % 7, -0 rounding) where integer SQL arithmetic yields 0.
    return (row) => {
      const v = run(row);
      return v === 0 ? 0 : v;
    };
  }

  private compileNode(expr: Expr): Evaluator {
    if (isLiteral(expr)) {
      const value = this.literal(expr);
      return () => value;
    }
    switch (expr.kind) {
      case 'column': {
        const name = expr.name;
        return (row) => row[name] ?? null;
      }
      case 'not': {
        const operand = this.compile(expr.operand);
        return (row) => {
          const v = operand(row);
          return v === null ? null : !v;
        };
      }
      case 'negate': {
        const operand = this.compile(expr.operand);
        return (row) => {
          const v = operand(row);
          return v === null ? null : -(v as number);
        };
      }
      case 'binary':
        return this.binary(expr.op, this.compile(expr.left), this.compile(expr.right));
      case 'isNull': {
        const operand = this.compile(expr.operand);
        return expr.negated ? (row) => operand(row) !== null : (row) => operand(row) === null;
      }
      case 'in':
        return negateIf(expr.negated, this.inList(expr.operand, expr.list));
      case 'between':
        return negateIf(expr.negated, this.between(expr.operand, expr.low, expr.high));
      case 'like':
        return negateIf(expr.negated, this.like(expr.operand, expr.pattern));
      case 'case':
        return this.caseWhen(expr.branches, expr.otherwise);
      case 'call':
        return this.call(expr);
      case 'cast':
        return this.cast(expr.operand, expr.to);
    }
  }

  private literal(expr: Literal): Value {
    switch (expr.kind) {
      case 'null':
        return null;
      case 'timestamp':
        return localToInstant(expr.value, this.ctx.timezone);
      default:
        return expr.value;
    }
  }

  private binary(op: BinaryOp, left: Evaluator, right: Evaluator): Evaluator {
    switch (op) {
      case 'and':
        return (row) => {
          const l = left(row);
          if (l === false) return false;
          const r = right(row);
          if (r === false) return false;
          return l === null || r === null ? null : true;
        };
      case 'or':
        return (row) => {
          const l = left(row);
          if (l === true) return true;
          const r = right(row);
          if (r === true) return true;
          return l === null || r === null ? null : false;
        };
      case '=':
        return strict(left, right, (l, r) => l === r);
      case '!=':
        return strict(left, right, (l, r) => l !== r);
      case '<':
        return strict(left, right, (l, r) => compareValues(l, r) < 0);
      case '<=':
        return strict(left, right, (l, r) => compareValues(l, r) <= 0);
      case '>':
        return strict(left, right, (l, r) => compareValues(l, r) > 0);
      case '>=':
        return strict(left, right, (l, r) => compareValues(l, r) >= 0);
      case '+':
        return strict(left, right, (l, r) => (l as number) + (r as number));
      case '-':
        return strict(left, right, (l, r) => (l as number) - (r as number));
      case '*':
        return strict(left, right, (l, r) => (l as number) * (r as number));
      case '/':
        return strict(left, right, (l, r) => (r === 0 ? null : (l as number) / (r as number)));
      case '%':
        return strict(left, right, (l, r) => (r === 0 ? null : (l as number) % (r as number)));
      case '||':
        return strict(left, right, (l, r) => (l as string) + (r as string));
    }
  }

  /** SQL IN: TRUE on a match; otherwise NULL if the operand or any item is NULL; else FALSE. */
  private inList(operandExpr: Expr, listExprs: readonly Expr[]): Evaluator {
    const operand = this.compile(operandExpr);
    const constants = listExprs.every(isLiteral) ? listExprs.map((e) => this.literal(e)) : null;
    if (constants) {
      const set = new Set(constants.filter((v) => v !== null));
      const hasNull = constants.includes(null);
      return (row) => {
        const v = operand(row);
        if (v === null) return null;
        return set.has(v) ? true : hasNull ? null : false;
      };
    }
    const items = listExprs.map((e) => this.compile(e));
    return (row) => {
      const v = operand(row);
      if (v === null) return null;
      let sawNull = false;
      for (const item of items) {
        const candidate = item(row);
        if (candidate === null) sawNull = true;
        else if (candidate === v) return true;
      }
      return sawNull ? null : false;
    };
  }

  /** Inclusive on both ends; `low <= x AND x <= high` in three-valued logic. */
  private between(operandExpr: Expr, lowExpr: Expr, highExpr: Expr): Evaluator {
    const [operand, low, high] = [this.compile(operandExpr), this.compile(lowExpr), this.compile(highExpr)];
    return (row) => {
      const v = operand(row);
      const lo = low(row);
      const hi = high(row);
      const aboveLow = v === null || lo === null ? null : compareValues(v, lo) >= 0;
      const belowHigh = v === null || hi === null ? null : compareValues(v, hi) <= 0;
      if (aboveLow === false || belowHigh === false) return false;
      return aboveLow === null || belowHigh === null ? null : true;
    };
  }

  private like(operandExpr: Expr, patternExpr: Expr): Evaluator {
    const operand = this.compile(operandExpr);
    if (patternExpr.kind === 'string') {
      const pattern = toCodePoints(patternExpr.value);
      return (row) => {
        const v = operand(row);
        return v === null ? null : likeMatch(toCodePoints(v as string), pattern);
      };
    }
    const pattern = this.compile(patternExpr);
    return strict(operand, pattern, (v, p) =>
      likeMatch(toCodePoints(v as string), toCodePoints(p as string)),
    );
  }

  private caseWhen(branches: readonly { when: Expr; result: Expr }[], otherwise: Expr | null): Evaluator {
    const compiled = branches.map((b) => ({ when: this.compile(b.when), result: this.compile(b.result) }));
    const fallback = otherwise ? this.compile(otherwise) : () => null;
    return (row) => {
      for (const b of compiled) if (b.when(row) === true) return b.result(row);
      return fallback(row);
    };
  }

  private call(expr: Call): Evaluator {
    const args = expr.args.map((a) => this.compile(a));
    const [first = nullEvaluator, second = nullEvaluator, third] = args;
    switch (expr.name) {
      case 'coalesce':
        return (row) => {
          for (const a of args) {
            const v = a(row);
            if (v !== null) return v;
          }
          return null;
        };
      case 'nullif':
        return (row) => {
          const v = first(row);
          return v !== null && second(row) === v ? null : v;
        };
      case 'least':
        return extremum(args, -1);
      case 'greatest':
        return extremum(args, 1);
      case 'abs':
        return unary(first, (v) => Math.abs(v as number));
      case 'floor':
        return unary(first, (v) => Math.floor(v as number));
      case 'ceil':
        return unary(first, (v) => Math.ceil(v as number));
      case 'round':
        return expr.args.length === 1
          ? unary(first, (v) => roundHalfAwayFromZero(v as number))
          : strict(first, second, (v, d) => roundToDigits(v as number, d as number));
      case 'lower':
        return unary(first, (v) => lowerCase(v as string));
      case 'upper':
        return unary(first, (v) => upperCase(v as string));
      case 'length':
        return unary(first, (v) => toCodePoints(v as string).length);
      case 'trim':
        return unary(first, (v) => trimSpaces(v as string));
      case 'substr':
        return this.substr(first, second, third);
      case 'concat':
        return (row) => {
          let out = '';
          for (const a of args) out += (a(row) as string | null) ?? '';
          return out;
        };
      case 'to_date':
        return unary(first, (v) => this.clock.localDate(v as number));
      case 'hour':
        return unary(first, (v) => this.clock.localHour(v as number));
      case 'day_of_week':
        return unary(first, (v) => this.clock.isoDayOfWeek(v as number));
    }
  }

  private substr(text: Evaluator, start: Evaluator, length: Evaluator | undefined): Evaluator {
    return (row) => {
      const s = text(row);
      const from = start(row);
      const count = length ? length(row) : undefined;
      if (s === null || from === null || count === null) return null;
      return substring(s as string, from as number, count as number | undefined);
    };
  }

  private cast(operandExpr: Expr, to: CastType): Evaluator {
    const operand = this.compile(operandExpr);
    const convert = castFunction(to, this.staticType(operandExpr));
    return (row) => {
      const v = operand(row);
      return v === null ? null : convert(v);
    };
  }

  private staticType(expr: Expr): NullableType {
    return inferNullableType(expr, this.ctx.columns);
  }
}

const nullEvaluator: Evaluator = () => null;

function negateIf(negated: boolean, inner: Evaluator): Evaluator {
  if (!negated) return inner;
  return (row) => {
    const v = inner(row);
    return v === null ? null : !v;
  };
}

/** A NULL-in, NULL-out operation on two operands. */
function strict(
  left: Evaluator,
  right: Evaluator,
  op: (l: string | number | boolean, r: string | number | boolean) => Value,
): Evaluator {
  return (row) => {
    const l = left(row);
    if (l === null) return null;
    const r = right(row);
    return r === null ? null : op(l, r);
  };
}

function unary(operand: Evaluator, op: (v: string | number | boolean) => Value): Evaluator {
  return (row) => {
    const v = operand(row);
    return v === null ? null : op(v);
  };
}

/** least / greatest skip NULLs and are NULL only when every argument is (DuckDB and PostgreSQL). */
function extremum(args: readonly Evaluator[], direction: 1 | -1): Evaluator {
  return (row) => {
    let best: Value = null;
    for (const a of args) {
      const v = a(row);
      if (v !== null && (best === null || compareValues(v, best) * direction > 0)) best = v;
    }
    return best;
  };
}

/**
 * Order of two non-NULL values of one type. Strings compare by code point, which is the byte order
 * of UTF-8 that the engines use (JS `<` compares UTF-16 units, which differs above U+FFFF).
 */
export function compareValues(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrderOfUnit(x) - codePointOrderOfUnit(y);
  }
  return a.length - b.length;
}

/** Surrogates (U+D800..DFFF) encode code points above U+FFFF, so they sort after U+E000..FFFF. */
function codePointOrderOfUnit(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

const HAS_SURROGATE = /[\uD800-\uDFFF]/;

/** Characters as SQL counts them: code points. Plain strings stay strings (indexable, cheap). */
function toCodePoints(s: string): string | string[] {
  return HAS_SURROGATE.test(s) ? Array.from(s) : s;
}

/**
 * LIKE as a whole-string match: `%` any run, `_` one character, no escape character. Iterative with
 * one backtrack point, so it is O(n*m) at worst and cannot blow up like a backtracking regex.
 */
export function likeMatch(text: string | readonly string[], pattern: string | readonly string[]): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const pc = pattern[p];
    if (pc === '%') {
      starP = p++;
      starT = t;
    } else if (pc !== undefined && (pc === '_' || pc === text[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === '%') p++;
  return p === pattern.length;
}

/** std::round: halves go away from zero (JS Math.round sends -2.5 to -2). */
export function roundHalfAwayFromZero(x: number): number {
  const whole = Math.trunc(x);
  return Math.abs(x - whole) >= 0.5 ? whole + Math.sign(x) : whole;
}

/** DuckDB's round(x, digits): scale, round half away from zero, unscale; a non-finite result keeps x. */
function roundToDigits(x: number, digits: number): number {
  if (digits < 0) {
    const modifier = 10 ** -digits;
    const rounded = roundHalfAwayFromZero(x / modifier) * modifier;
    return Number.isFinite(rounded) ? rounded : 0;
  }
  const modifier = 10 ** digits;
  const rounded = roundHalfAwayFromZero(x * modifier) / modifier;
  return Number.isFinite(rounded) ? rounded : x;
}

/** Rounds halves to even, as a cast from double to integer does (C's nearbyint). */
function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function trimSpaces(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) === 32) start++;
  while (end > start && s.charCodeAt(end - 1) === 32) end--;
  return s.slice(start, end);
}

/**
 * DuckDB's substr over code points. Start 1 is the first character, 0 the position before it and
 * a negative start counts from the end; a negative length takes the characters before the start.
 */
export function substring(s: string, rawStart: number, rawLength: number | undefined): string {
  const start = clampSubstrArgument(rawStart);
  const length = rawLength === undefined ? undefined : clampSubstrArgument(rawLength);
  const chars = toCodePoints(s);
  const n = chars.length;
  const at = start > 0 ? start - 1 : start < 0 ? n + start : -1;
  let from: number;
  let to: number;
  if (length === undefined) [from, to] = [at, n];
  else if (length >= 0) [from, to] = [at, at + length];
  else [from, to] = [at + length, at];
  from = Math.max(from, 0);
  to = Math.min(to, n);
  if (from >= to) return '';
  return typeof chars === 'string' ? chars.slice(from, to) : chars.slice(from, to).join('');
}

function clampSubstrArgument(n: number): number {
  return Math.min(Math.max(n, -SUBSTR_ARGUMENT_LIMIT), SUBSTR_ARGUMENT_LIMIT);
}

const NON_ASCII = /[^ -~\t\n\r]/;

/** Native case mapping is exact for printable ASCII; anything else goes character by character. */
function isPlainAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/** Per-character case mapping (utf8proc, as DuckDB): no context rules, no expansions like ß -> SS. */
function mapCase(s: string, map: (ch: string) => string, special: Readonly<Record<string, string>>): string {
  let out = '';
  for (const ch of s) {
    const mapped = special[ch] ?? map(ch);
    out += mapped.length === ch.length || [...mapped].length === 1 ? mapped : ch;
  }
  return out;
}

const LOWER_SPECIAL: Readonly<Record<string, string>> = { İ: 'i' };
const UPPER_SPECIAL: Readonly<Record<string, string>> = { ß: 'ẞ' };

function lowerCase(s: string): string {
  return isPlainAscii(s) ? s.toLowerCase() : mapCase(s, (c) => c.toLowerCase(), LOWER_SPECIAL);
}

function upperCase(s: string): string {
  return isPlainAscii(s) ? s.toUpperCase() : mapCase(s, (c) => c.toUpperCase(), UPPER_SPECIAL);
}

type Converter = (v: string | number | boolean) => Value;

const INT64_LIMIT = 2 ** 63;

/** CAST never fails: a value that does not convert becomes NULL (SQL TRY_CAST). */
function castFunction(to: CastType, from: NullableType): Converter {
  switch (to) {
    case 'int':
      return (v) => {
        if (typeof v === 'boolean') return v ? 1 : 0;
        if (typeof v === 'string') return parseIntegerText(v);
        if (!Number.isFinite(v)) return null;
        const r = roundHalfToEven(v);
        return Math.abs(r) >= INT64_LIMIT ? null : r;
      };
    case 'double':
      return (v) => (typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'string' ? parseDoubleText(v) : v);
    case 'bool':
      return (v) => (typeof v === 'string' ? parseBoolText(v) : typeof v === 'number' ? v !== 0 : v);
    case 'string':
      return (v) => {
        if (typeof v === 'boolean' || typeof v === 'string') return String(v);
        return from === 'double' ? formatDouble(v) : String(v);
      };
  }
}

const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_DOUBLE_TEXT = /^([+-]?)(inf|infinity|nan)$/i;

/** Whitespace around a number is allowed when casting text, as in DuckDB. */
function trimWhitespace(s: string): string {
  return s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
}

function parseDoubleText(s: string): number | null {
  const text = trimWhitespace(s);
  if (NUMBER_TEXT.test(text)) return Number(text);
  const special = SPECIAL_DOUBLE_TEXT.exec(text);
  if (!special) return null;
  if (special[2]?.toLowerCase() === 'nan') return Number.NaN;
  return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

/** Text to integer: decimals are accepted and rounded half away from zero ('2.5' -> 3). */
function parseIntegerText(s: string): number | null {
  const text = trimWhitespace(s);
  if (!NUMBER_TEXT.test(text)) return null;
  const r = roundHalfAwayFromZero(Number(text));
  return Math.abs(r) >= INT64_LIMIT ? null : r;
}

const TRUE_TEXT = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_TEXT = new Set(['false', 'f', 'no', 'n', '0']);

function parseBoolText(s: string): boolean | null {
  const text = s.toLowerCase();
  return TRUE_TEXT.has(text) ? true : FALSE_TEXT.has(text) ? false : null;
}
