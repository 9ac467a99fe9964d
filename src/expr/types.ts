// Static types of expressions against a source contract's columns: the result type of a feature
// column, and an ExprTypeError naming the culprit for unknown columns or operands that do not fit.

import { AsofError } from '../errors.js';
import type { Columns, ColumnType } from '../types.js';
import {
  type BinaryOp,
  type Call,
  type CastType,
  canonical,
  type Expr,
  isArithmeticOp,
  isComparisonOp,
  isLiteral,
} from './ast.js';

/** A column type, or 'null' for an untyped NULL literal (which fits anywhere). */
export type NullableType = ColumnType | 'null';

export class ExprTypeError extends AsofError {
  /** The column the error is about, when there is one. */
  readonly column: string | undefined;

  constructor(message: string, column?: string, hint?: string) {
    super('spec', message, column === undefined ? {} : { dataColumn: column }, hint);
    this.name = 'ExprTypeError';
    this.column = column;
  }
}

const NUMERIC: ReadonlySet<NullableType> = new Set(['int', 'double', 'null']);

/** The type the expression produces; throws ExprTypeError when it does not type-check. */
export function inferType(expr: Expr, columns: Columns): ColumnType {
  const type = inferNullableType(expr, columns);
  if (type === 'null') {
    throw new ExprTypeError(
      `expression ${canonical(expr)} is always NULL and has no type`,
      undefined,
      'CAST it to the intended type, e.g. CAST(NULL AS double)',
    );
  }
  return type;
}

/** Like inferType, but an expression that is only untyped NULLs is 'null' instead of an error. */
export function inferNullableType(expr: Expr, columns: Columns): NullableType {
  if (isLiteral(expr)) return expr.kind;
  switch (expr.kind) {
    case 'column':
      return columnType(expr.name, columns);
    case 'not':
      expectType(expr.operand, columns, ['bool'], 'NOT');
      return 'bool';
    case 'negate':
      return expectType(expr.operand, columns, ['int', 'double'], 'unary -');
    case 'binary':
      return binaryType(expr.op, expr.left, expr.right, columns);
    case 'isNull':
      inferNullableType(expr.operand, columns);
      return 'bool';
    case 'in': {
      const operand = inferNullableType(expr.operand, columns);
      for (const item of expr.list) expectComparable(expr.operand, operand, item, columns, 'IN');
      return 'bool';
    }
    case 'between': {
      const operand = inferNullableType(expr.operand, columns);
      expectComparable(expr.operand, operand, expr.low, columns, 'BETWEEN');
      expectComparable(expr.operand, operand, expr.high, columns, 'BETWEEN');
      return 'bool';
    }
    case 'like':
      expectType(expr.operand, columns, ['string'], 'LIKE');
      expectType(expr.pattern, columns, ['string'], 'LIKE pattern');
      return 'bool';
    case 'case':
      for (const b of expr.branches) expectType(b.when, columns, ['bool'], 'CASE WHEN');
      return unify(
        [...expr.branches.map((b) => b.result), ...(expr.otherwise ? [expr.otherwise] : [])],
        columns,
        'CASE results',
      );
    case 'call':
      return callType(expr, columns);
    case 'cast':
      return castType(expr.operand, expr.to, columns);
  }
}

function columnType(name: string, columns: Columns): ColumnType {
  if (!Object.hasOwn(columns, name)) {
    const known = Object.keys(columns);
    throw new ExprTypeError(
      `unknown column '${name}'; known columns: ${known.length > 0 ? known.join(', ') : '(none)'}`,
      name,
      'column names are case-sensitive; quote names that are not plain identifiers with "double quotes"',
    );
  }
  return columns[name] as ColumnType;
}

function mismatch(expr: Expr, found: NullableType, where: string, wanted: string): never {
  throw new ExprTypeError(
    `${where} needs ${wanted}, but ${canonical(expr)} is ${found}`,
    expr.kind === 'column' ? expr.name : undefined,
  );
}

/** The operand's type, which must be one of `allowed` (an untyped NULL always fits). */
function expectType(
  expr: Expr,
  columns: Columns,
  allowed: readonly ColumnType[],
  where: string,
): NullableType {
  const type = inferNullableType(expr, columns);
  if (type !== 'null' && !allowed.includes(type)) mismatch(expr, type, where, allowed.join(' or '));
  return type;
}

function comparable(a: NullableType, b: NullableType): boolean {
  return a === 'null' || b === 'null' || a === b || (NUMERIC.has(a) && NUMERIC.has(b));
}

function expectComparable(left: Expr, leftType: NullableType, right: Expr, columns: Columns, where: string) {
  const rightType = inferNullableType(right, columns);
  if (!comparable(leftType, rightType)) {
    const hint =
      (leftType === 'date' || leftType === 'timestamp') && rightType === 'string'
        ? `write a typed literal: ${leftType.toUpperCase()} '...'`
        : undefined;
    throw new ExprTypeError(
      `${where} compares ${canonical(left)} (${leftType}) with ${canonical(right)} (${rightType})`,
      left.kind === 'column' ? left.name : right.kind === 'column' ? right.name : undefined,
      hint,
    );
  }
}

/** The common type of several values (CASE results, coalesce arguments): int widens to double. */
function unify(exprs: readonly Expr[], columns: Columns, where: string): NullableType {
  let result: NullableType = 'null';
  for (const e of exprs) {
    const type = inferNullableType(e, columns);
    if (result === 'null' || type === result) result = type;
    else if (type === 'null') continue;
    else if (NUMERIC.has(result) && NUMERIC.has(type)) result = 'double';
    else mismatch(e, type, where, `one type (${result} so far)`);
  }
  return result;
}

function binaryType(op: BinaryOp, left: Expr, right: Expr, columns: Columns): NullableType {
  if (op === 'and' || op === 'or') {
    expectType(left, columns, ['bool'], op.toUpperCase());
    expectType(right, columns, ['bool'], op.toUpperCase());
    return 'bool';
  }
  if (op === '||') {
    expectType(left, columns, ['string'], "'||'");
    expectType(right, columns, ['string'], "'||'");
    return 'string';
  }
  if (isComparisonOp(op)) {
    expectComparable(left, inferNullableType(left, columns), right, columns, `'${op}'`);
    return 'bool';
  }
  if (!isArithmeticOp(op)) throw new ExprTypeError(`unknown operator ${op}`);
  const l = expectType(left, columns, ['int', 'double'], `'${op}'`);
  const r = expectType(right, columns, ['int', 'double'], `'${op}'`);
  if (op === '/') return 'double';
  if (l === 'double' || r === 'double') return 'double';
  return l === 'null' ? r : l;
}

/** Which source types each CAST accepts; temporal values only become text (dates) or nothing. */
const CAST_SOURCES: Record<CastType, readonly ColumnType[]> = {
  int: ['int', 'double', 'string', 'bool'],
  double: ['int', 'double', 'string', 'bool'],
  string: ['string', 'int', 'double', 'bool', 'date'],
  bool: ['bool', 'int', 'double', 'string'],
};

function castType(operand: Expr, to: CastType, columns: Columns): NullableType {
  const from = inferNullableType(operand, columns);
  if (from !== 'null' && !CAST_SOURCES[to].includes(from)) {
    const hint = from === 'timestamp' ? 'use to_date(ts), hour(ts) or day_of_week(ts)' : undefined;
    throw new ExprTypeError(
      `cannot CAST ${canonical(operand)} (${from}) AS ${to}`,
      operand.kind === 'column' ? operand.name : undefined,
      hint,
    );
  }
  return to;
}

function callType(call: Call, columns: Columns): NullableType {
  const where = `${call.name}()`;
  const [first, second, third] = call.args;
  const arg = (e: Expr | undefined, allowed: readonly ColumnType[]): NullableType =>
    e === undefined ? 'null' : expectType(e, columns, allowed, where);
  switch (call.name) {
    case 'coalesce':
    case 'least':
    case 'greatest':
      return unify(call.args, columns, where);
    case 'nullif': {
      if (first && second) expectComparable(first, inferNullableType(first, columns), second, columns, where);
      return unify(call.args, columns, where);
    }
    case 'abs':
      return arg(first, ['int', 'double']);
    case 'floor':
    case 'ceil':
      // double even for an int argument, as in DuckDB and PostgreSQL
      arg(first, ['int', 'double']);
      return 'double';
    case 'round':
      arg(second, ['int']);
      return arg(first, ['int', 'double']);
    case 'lower':
    case 'upper':
    case 'trim':
      arg(first, ['string']);
      return 'string';
    case 'length':
      arg(first, ['string']);
      return 'int';
    case 'substr':
      arg(first, ['string']);
      arg(second, ['int']);
      arg(third, ['int']);
      return 'string';
    case 'concat':
      for (const a of call.args) expectType(a, columns, ['string'], where);
      return 'string';
    case 'to_date':
      arg(first, ['timestamp']);
      return 'date';
    case 'hour':
    case 'day_of_week':
      arg(first, ['timestamp']);
      return 'int';
  }
}
