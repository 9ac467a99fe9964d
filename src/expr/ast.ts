// The expression tree for `where` filters and feature columns: plain data, one node kind per construct.
// Parsing builds it, types.ts checks it, evaluate.ts runs it and each engine's printer prints it.

export type CastType = 'int' | 'double' | 'string' | 'bool';
export const CAST_TYPES: readonly CastType[] = ['int', 'double', 'string', 'bool'];

export type ArithmeticOp = '+' | '-' | '*' | '/' | '%';
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type LogicalOp = 'and' | 'or';
export type BinaryOp = ArithmeticOp | ComparisonOp | LogicalOp | '||';

/** The fixed whitelist of functions, with how many arguments each takes (max null = any number). */
export const FUNCTION_ARITY = {
  coalesce: { min: 1, max: null },
  nullif: { min: 2, max: 2 },
  abs: { min: 1, max: 1 },
  round: { min: 1, max: 2 },
  floor: { min: 1, max: 1 },
  ceil: { min: 1, max: 1 },
  least: { min: 1, max: null },
  greatest: { min: 1, max: null },
  lower: { min: 1, max: 1 },
  upper: { min: 1, max: 1 },
  length: { min: 1, max: 1 },
  trim: { min: 1, max: 1 },
  substr: { min: 2, max: 3 },
  concat: { min: 1, max: null },
  to_date: { min: 1, max: 1 },
  hour: { min: 1, max: 1 },
  day_of_week: { min: 1, max: 1 },
} as const satisfies Record<string, { min: number; max: number | null }>;

export type FunctionName = keyof typeof FUNCTION_ARITY;

/**
 * substr's start and length are clamped to +-2^31 before use: no string is that long, so the result
 * is unchanged, and engines that reject larger offsets (DuckDB, below -2^32) never see them.
 */
export const SUBSTR_ARGUMENT_LIMIT = 2 ** 31;

export function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTION_ARITY, name);
}

export interface ColumnRef {
  kind: 'column';
  name: string;
}
export interface NullLiteral {
  kind: 'null';
}
export interface BoolLiteral {
  kind: 'bool';
  value: boolean;
}
export interface IntLiteral {
  kind: 'int';
  value: number;
}
export interface DoubleLiteral {
  kind: 'double';
  value: number;
}
export interface StringLiteral {
  kind: 'string';
  value: string;
}
/** A calendar date, 'YYYY-MM-DD'. */
export interface DateLiteral {
  kind: 'date';
  value: string;
}
/** A wall-clock time in the project timezone, 'YYYY-MM-DD HH:MM:SS' with '.SSS' when not whole seconds. */
export interface TimestampLiteral {
  kind: 'timestamp';
  value: string;
}
export interface Not {
  kind: 'not';
  operand: Expr;
}
export interface Negate {
  kind: 'negate';
  operand: Expr;
}
export interface Binary {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
}
export interface IsNull {
  kind: 'isNull';
  operand: Expr;
  negated: boolean;
}
export interface InList {
  kind: 'in';
  operand: Expr;
  list: Expr[];
  negated: boolean;
}
export interface Between {
  kind: 'between';
  operand: Expr;
  low: Expr;
  high: Expr;
  negated: boolean;
}
export interface Like {
  kind: 'like';
  operand: Expr;
  pattern: Expr;
  negated: boolean;
}
export interface CaseBranch {
  when: Expr;
  result: Expr;
}
/** Searched CASE; the simple form `CASE x WHEN v` is parsed into `WHEN x = v`. */
export interface Case {
  kind: 'case';
  branches: CaseBranch[];
  otherwise: Expr | null;
}
export interface Call {
  kind: 'call';
  name: FunctionName;
  args: Expr[];
}
export interface Cast {
  kind: 'cast';
  operand: Expr;
  to: CastType;
}

export type Literal =
  | NullLiteral
  | BoolLiteral
  | IntLiteral
  | DoubleLiteral
  | StringLiteral
  | DateLiteral
  | TimestampLiteral;

export type Expr =
  | ColumnRef
  | Literal
  | Not
  | Negate
  | Binary
  | IsNull
  | InList
  | Between
  | Like
  | Case
  | Call
  | Cast;

/** Every literal kind, checked complete by the compiler. */
const LITERAL_KINDS: Record<Literal['kind'], true> = {
  null: true,
  bool: true,
  int: true,
  double: true,
  string: true,
  date: true,
  timestamp: true,
};

export function isLiteral(e: Expr): e is Literal {
  return Object.hasOwn(LITERAL_KINDS, e.kind);
}

export function isComparisonOp(op: BinaryOp): op is ComparisonOp {
  return op === '=' || op === '!=' || op === '<' || op === '<=' || op === '>' || op === '>=';
}

export function isArithmeticOp(op: BinaryOp): op is ArithmeticOp {
  return op === '+' || op === '-' || op === '*' || op === '/' || op === '%';
}

/** The direct sub-expressions of a node, in source order. */
export function childrenOf(expr: Expr): Expr[] {
  switch (expr.kind) {
    case 'not':
    case 'negate':
    case 'isNull':
    case 'cast':
      return [expr.operand];
    case 'binary':
      return [expr.left, expr.right];
    case 'in':
      return [expr.operand, ...expr.list];
    case 'between':
      return [expr.operand, expr.low, expr.high];
    case 'like':
      return [expr.operand, expr.pattern];
    case 'case': {
      const out = expr.branches.flatMap((b) => [b.when, b.result]);
      if (expr.otherwise) out.push(expr.otherwise);
      return out;
    }
    case 'call':
      return expr.args;
    default:
      return [];
  }
}

/** Every column the expression reads, sorted and without duplicates. */
export function columnsOf(expr: Expr): string[] {
  const names = new Set<string>();
  const stack: Expr[] = [expr];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    if (e.kind === 'column') names.add(e.name);
    else stack.push(...childrenOf(e));
  }
  return [...names].sort();
}

/**
 * Keywords that cannot be bare identifiers. DATE and TIMESTAMP are not here: they only start a literal
 * when a string follows, so a column may be called `date`.
 */
export const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'and',
  'or',
  'not',
  'is',
  'null',
  'true',
  'false',
  'in',
  'between',
  'like',
  'case',
  'when',
  'then',
  'else',
  'end',
  'cast',
  'as',
]);

const BARE_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A column name as the expression language writes it: bare when it can be, else double-quoted. */
export function identifierText(name: string): string {
  if (BARE_IDENTIFIER.test(name) && !RESERVED_WORDS.has(name.toLowerCase())) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

export function stringLiteralText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * A double as DuckDB casts it to text (shortest round-trip digits, exponent form below 1e-4 and from
 * 1e16, '.0' on whole numbers). Lives here because canonical text and CAST(x AS string) share it.
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const fixed = plainDecimal(mantissa, exponent);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** Shift the point of a mantissa like '-1.2345' by `exponent` places, without exponent notation. */
function plainDecimal(mantissa: string, exponent: number): string {
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const pointAt = 1 + exponent;
  let body: string;
  if (pointAt <= 0) body = `0.${'0'.repeat(-pointAt)}${digits}`;
  else if (pointAt >= digits.length) body = digits + '0'.repeat(pointAt - digits.length);
  else body = `${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
  return negative ? `-${body}` : body;
}

const BINARY_TEXT: Record<BinaryOp, string> = {
  '+': '+',
  '-': '-',
  '*': '*',
  '/': '/',
  '%': '%',
  '=': '=',
  '!=': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  '||': '||',
  and: 'AND',
  or: 'OR',
};

/**
 * Deterministic, fully parenthesized text of an expression: whitespace, keyword case, `<>` vs `!=`
 * and redundant parentheses never change it. It parses back to the same tree, so it is what a
 * transformation_version hashes.
 */
export function canonical(expr: Expr): string {
  switch (expr.kind) {
    case 'column':
      return identifierText(expr.name);
    case 'null':
      return 'NULL';
    case 'bool':
      return expr.value ? 'TRUE' : 'FALSE';
    case 'int':
      return String(expr.value);
    case 'double':
      return formatDouble(expr.value);
    case 'string':
      return stringLiteralText(expr.value);
    case 'date':
      return `DATE ${stringLiteralText(expr.value)}`;
    case 'timestamp':
      return `TIMESTAMP ${stringLiteralText(expr.value)}`;
    case 'not':
      return `(NOT ${canonical(expr.operand)})`;
    case 'negate':
      return `(-${canonical(expr.operand)})`;
    case 'binary':
      return `(${canonical(expr.left)} ${BINARY_TEXT[expr.op]} ${canonical(expr.right)})`;
    case 'isNull':
      return `(${canonical(expr.operand)} IS ${expr.negated ? 'NOT ' : ''}NULL)`;
    case 'in':
      return `(${canonical(expr.operand)} ${expr.negated ? 'NOT ' : ''}IN (${expr.list.map(canonical).join(', ')}))`;
    case 'between':
      return `(${canonical(expr.operand)} ${expr.negated ? 'NOT ' : ''}BETWEEN ${canonical(expr.low)} AND ${canonical(expr.high)})`;
    case 'like':
      return `(${canonical(expr.operand)} ${expr.negated ? 'NOT ' : ''}LIKE ${canonical(expr.pattern)})`;
    case 'case': {
      const branches = expr.branches.map((b) => ` WHEN ${canonical(b.when)} THEN ${canonical(b.result)}`);
      const otherwise = expr.otherwise ? ` ELSE ${canonical(expr.otherwise)}` : '';
      return `(CASE${branches.join('')}${otherwise} END)`;
    }
    case 'call':
      return `${expr.name}(${expr.args.map(canonical).join(', ')})`;
    case 'cast':
      return `CAST(${canonical(expr.operand)} AS ${expr.to})`;
  }
}
