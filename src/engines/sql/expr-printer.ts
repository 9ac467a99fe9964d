// Prints an expression tree as SQL for one engine: the tree decides the shape, the SqlDialect hooks
// decide the spelling of whatever differs between engines. Output is fully parenthesized.

import {
  type BinaryOp,
  type Call,
  type CastType,
  type Expr,
  type FunctionName,
  SUBSTR_ARGUMENT_LIMIT,
} from '../../expr/ast.js';
import { inferNullableType } from '../../expr/types.js';
import type { ColumnType } from '../../types.js';

/** Functions every engine spells the same way and gives the same meaning (NULLs ignored by least/greatest). */
export type PortableFunction = Exclude<
  FunctionName,
  'round' | 'substr' | 'concat' | 'to_date' | 'hour' | 'day_of_week'
>;

/**
 * What differs between engines. Each hook receives already printed SQL fragments and must return
 * a self-contained fragment (parenthesized where precedence could bite).
 */
export interface SqlDialect {
  readonly name: string;
  quoteIdent(name: string): string;
  stringLiteral(value: string): string;
  /** Integer literals as 64-bit integers, so that arithmetic never overflows a 32-bit type. */
  intLiteral(value: number): string;
  /** A double literal that the engine reads as a double (not a decimal) with exactly this value. */
  doubleLiteral(value: number): string;
  /** 'YYYY-MM-DD'. */
  dateLiteral(date: string): string;
  /** A wall-clock 'YYYY-MM-DD HH:MM:SS[.SSS]' in `timezone`, printed as the instant it denotes. */
  timestampLiteral(wallTime: string, timezone: string): string;
  /** Double division; NULL when the divisor is zero. */
  divide(a: string, b: string): string;
  /** Remainder with the dividend's sign; NULL when the divisor is zero. */
  modulo(a: string, b: string): string;
  /** `||`: NULL when either side is NULL. */
  concatOperator(a: string, b: string): string;
  /** A conversion that yields NULL instead of failing. */
  cast(x: string, to: CastType): string;
  /** Calendar date of an instant in `timezone`. */
  localDate(ts: string, timezone: string): string;
  /** Hour 0-23 of an instant in `timezone`. */
  localHour(ts: string, timezone: string): string;
  /** ISO day of week (1 = Monday .. 7 = Sunday) of an instant in `timezone`. */
  isoDayOfWeek(ts: string, timezone: string): string;
  /** concat(...): NULL arguments count as empty strings. */
  concat(args: readonly string[]): string;
  /** 1-based, counted in characters; see evaluate.ts `substring` for zero and negative arguments. */
  substr(s: string, start: string, length: string | undefined): string;
  /** Halves away from zero; with digits, DuckDB's scale-round-unscale. */
  round(x: string, digits: string | undefined): string;
  /** Whole-string match with `%` and `_`, and no escape character. */
  like(x: string, pattern: string, negated: boolean): string;
  function(name: PortableFunction, args: readonly string[]): string;
  /** A NULL of a given type, where an untyped NULL would leave the engine unable to pick a function. */
  typedNull(type: ColumnType): string;
}

export interface PrintContext {
  timezone: string;
  /** SQL for a column reference (e.g. a qualified name); defaults to dialect.quoteIdent(name). */
  column?: (name: string) => string;
}

const SQL_OPERATORS: Partial<Record<BinaryOp, string>> = {
  '+': '+',
  '-': '-',
  '*': '*',
  '=': '=',
  '!=': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  and: 'AND',
  or: 'OR',
};

/** Operand types fixed by the operator; arithmetic and comparisons take their type from the other side. */
const OPERAND_TYPES: Partial<Record<BinaryOp, ColumnType>> = { and: 'bool', or: 'bool', '||': 'string' };

/** Argument types fixed by the function (the last entry repeats for variadic functions). */
const ARGUMENT_TYPES: Partial<Record<FunctionName, readonly ColumnType[]>> = {
  lower: ['string'],
  upper: ['string'],
  trim: ['string'],
  length: ['string'],
  substr: ['string', 'int'],
  concat: ['string'],
  // A NULL number is typed as the narrowest (int), which widens to whatever it meets, as in types.ts.
  round: ['int', 'int'],
  abs: ['int'],
  floor: ['int'],
  ceil: ['int'],
  to_date: ['timestamp'],
  hour: ['timestamp'],
  day_of_week: ['timestamp'],
};

/**
 * True when the expression is built from NULL literals only (no column, no typed literal): its value
 * is always NULL and it has no SQL type of its own, so engines cannot resolve functions applied to it.
 */
function isAlwaysUntypedNull(expr: Expr): boolean {
  try {
    return inferNullableType(expr, {}) === 'null';
  } catch {
    // an unknown column (any column, with no columns given) means the expression is typed
    return false;
  }
}

/** The value of an integer literal, possibly negated, else undefined. */
function intLiteralValue(expr: Expr | undefined): number | undefined {
  if (expr?.kind === 'int') return expr.value;
  if (expr?.kind === 'negate' && expr.operand.kind === 'int') return -expr.operand.value;
  return undefined;
}

export function printExpr(expr: Expr, dialect: SqlDialect, ctx: PrintContext): string {
  return new Printer(dialect, ctx).print(expr);
}

class Printer {
  constructor(
    private readonly dialect: SqlDialect,
    private readonly ctx: PrintContext,
  ) {}

  print(expr: Expr): string {
    const d = this.dialect;
    switch (expr.kind) {
      case 'column':
        return this.ctx.column ? this.ctx.column(expr.name) : d.quoteIdent(expr.name);
      case 'null':
        return 'NULL';
      case 'bool':
        return expr.value ? 'TRUE' : 'FALSE';
      case 'int':
        return d.intLiteral(expr.value);
      case 'double':
        return d.doubleLiteral(expr.value);
      case 'string':
        return d.stringLiteral(expr.value);
      case 'date':
        return d.dateLiteral(expr.value);
      case 'timestamp':
        return d.timestampLiteral(expr.value, this.ctx.timezone);
      case 'not':
        return `(NOT ${this.typed(expr.operand, 'bool')})`;
      case 'negate':
        // The space keeps `- -x` from printing as `--x`, which SQL reads as a comment.
        return `(- ${this.print(expr.operand)})`;
      case 'binary': {
        const operandType = OPERAND_TYPES[expr.op];
        const [left, right] = operandType
          ? [this.typed(expr.left, operandType), this.typed(expr.right, operandType)]
          : [this.print(expr.left), this.print(expr.right)];
        return this.binary(expr.op, left, right);
      }
      case 'isNull':
        return `(${this.print(expr.operand)} IS ${expr.negated ? 'NOT ' : ''}NULL)`;
      case 'in':
        return `(${this.print(expr.operand)} ${expr.negated ? 'NOT ' : ''}IN (${expr.list.map((e) => this.print(e)).join(', ')}))`;
      case 'between':
        return `(${this.print(expr.operand)} ${expr.negated ? 'NOT ' : ''}BETWEEN ${this.print(expr.low)} AND ${this.print(expr.high)})`;
      case 'like':
        return d.like(this.typed(expr.operand, 'string'), this.typed(expr.pattern, 'string'), expr.negated);
      case 'case': {
        const branches = expr.branches.map((b) => ` WHEN ${this.print(b.when)} THEN ${this.print(b.result)}`);
        const otherwise = expr.otherwise ? ` ELSE ${this.print(expr.otherwise)}` : '';
        return `(CASE${branches.join('')}${otherwise} END)`;
      }
      case 'call':
        return this.call(expr);
      case 'cast':
        return d.cast(this.print(expr.operand), expr.to);
    }
  }

  /** Print an operand whose type is fixed by its position, typing an all-NULL operand accordingly. */
  private typed(expr: Expr, type: ColumnType): string {
    return isAlwaysUntypedNull(expr) ? this.dialect.typedNull(type) : this.print(expr);
  }

  /** substr's start or length clamped to +-SUBSTR_ARGUMENT_LIMIT; `+ x * 0` keeps a NULL a NULL. */
  private substrArgument(expr: Expr | undefined): string {
    const d = this.dialect;
    const literal = intLiteralValue(expr);
    if (literal !== undefined) {
      return d.intLiteral(Math.min(Math.max(literal, -SUBSTR_ARGUMENT_LIMIT), SUBSTR_ARGUMENT_LIMIT));
    }
    const x = expr ? this.typed(expr, 'int') : d.typedNull('int');
    const clamped = d.function('least', [
      d.function('greatest', [x, d.intLiteral(-SUBSTR_ARGUMENT_LIMIT)]),
      d.intLiteral(SUBSTR_ARGUMENT_LIMIT),
    ]);
    return `(${clamped} + (${x} * ${d.intLiteral(0)}))`;
  }

  private binary(op: BinaryOp, left: string, right: string): string {
    if (op === '/') return this.dialect.divide(left, right);
    if (op === '%') return this.dialect.modulo(left, right);
    if (op === '||') return this.dialect.concatOperator(left, right);
    return `(${left} ${SQL_OPERATORS[op]} ${right})`;
  }

  private call(expr: Call): string {
    const d = this.dialect;
    const types = ARGUMENT_TYPES[expr.name];
    const args = expr.args.map((a, i) => {
      const type = types?.[Math.min(i, types.length - 1)];
      return type ? this.typed(a, type) : this.print(a);
    });
    const [first = 'NULL'] = args;
    const tz = this.ctx.timezone;
    switch (expr.name) {
      case 'round':
        return d.round(first, args[1]);
      case 'substr': {
        const [, start, length] = expr.args;
        return d.substr(first, this.substrArgument(start), length && this.substrArgument(length));
      }
      case 'concat':
        return d.concat(args);
      case 'to_date':
        return d.localDate(first, tz);
      case 'hour':
        return d.localHour(first, tz);
      case 'day_of_week':
        return d.isoDayOfWeek(first, tz);
      case 'nullif': {
        // nullif takes its type from its first argument; an untyped NULL there takes the second's.
        const [value, other] = expr.args;
        if (value && other && isAlwaysUntypedNull(value)) return `(CASE WHEN FALSE THEN ${args[1]} END)`;
        return d.function(expr.name, args);
      }
      default:
        return d.function(expr.name, args);
    }
  }
}
