// Text -> expression tree: a linear tokenizer and a precedence-climbing parser with bounded depth.
// Every failure is an ExprSyntaxError carrying the 0-based character offset of the offending token.

import { AsofError } from '../errors.js';
import {
  type BinaryOp,
  CAST_TYPES,
  type CastType,
  childrenOf,
  type Expr,
  FUNCTION_ARITY,
  isFunctionName,
  RESERVED_WORDS,
} from './ast.js';

export const MAX_EXPR_LENGTH = 10_000;
export const MAX_EXPR_DEPTH = 200;

export class ExprSyntaxError extends AsofError {
  readonly position: number;

  constructor(message: string, position: number) {
    super('spec', message, {}, 'see the expression syntax: operators, CASE, CAST and the listed functions');
    this.name = 'ExprSyntaxError';
    this.position = position;
  }
}

type TokenKind = 'ident' | 'quoted' | 'keyword' | 'string' | 'int' | 'double' | 'op' | 'eof';

interface Token {
  kind: TokenKind;
  /** Identifier or string content, keyword in lower case, operator symbol, or number text. */
  text: string;
  /** The source text of a word, so that a column called `Date` keeps its case. */
  raw?: string;
  position: number;
}

const OPERATORS = ['<>', '!=', '<=', '>=', '||', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ','];

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (isSpace(c)) {
      i++;
    } else if (isIdentStart(c)) {
      i = readWord(text, i, tokens);
    } else if (isDigit(c) || (c === '.' && isDigit(text[i + 1]))) {
      i = readNumber(text, i, tokens);
    } else if (c === "'" || c === '"') {
      i = readQuoted(text, i, tokens);
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw new ExprSyntaxError(`unexpected character '${c}' at position ${i}`, i);
      tokens.push({ kind: 'op', text: op, position: i });
      i += op.length;
    }
  }
  tokens.push({ kind: 'eof', text: '', position: text.length });
  return tokens;
}

function readWord(text: string, start: number, tokens: Token[]): number {
  let i = start + 1;
  while (i < text.length && (isIdentStart(text[i] as string) || isDigit(text[i]))) i++;
  const word = text.slice(start, i);
  const lower = word.toLowerCase();
  const isKeyword = RESERVED_WORDS.has(lower) || lower === 'date' || lower === 'timestamp';
  tokens.push({
    kind: isKeyword ? 'keyword' : 'ident',
    text: isKeyword ? lower : word,
    raw: word,
    position: start,
  });
  return i;
}

function readNumber(text: string, start: number, tokens: Token[]): number {
  let i = start;
  while (isDigit(text[i])) i++;
  let isDouble = false;
  if (text[i] === '.') {
    isDouble = true;
    i++;
    while (isDigit(text[i])) i++;
  }
  if (text[i] === 'e' || text[i] === 'E') {
    const signed = text[i + 1] === '+' || text[i + 1] === '-';
    const firstDigit = i + (signed ? 2 : 1);
    if (isDigit(text[firstDigit])) {
      isDouble = true;
      i = firstDigit;
      while (isDigit(text[i])) i++;
    }
  }
  if (i < text.length && isIdentStart(text[i] as string)) {
    throw new ExprSyntaxError(`malformed number '${text.slice(start, i + 1)}' at position ${start}`, start);
  }
  tokens.push({ kind: isDouble ? 'double' : 'int', text: text.slice(start, i), position: start });
  return i;
}

/** 'string' or "identifier"; a doubled quote inside stands for one quote. */
function readQuoted(text: string, start: number, tokens: Token[]): number {
  const quote = text[start] as string;
  let value = '';
  let i = start + 1;
  for (;;) {
    const end = text.indexOf(quote, i);
    if (end < 0) {
      const what = quote === "'" ? 'string' : 'quoted identifier';
      throw new ExprSyntaxError(`unterminated ${what} starting at position ${start}`, start);
    }
    value += text.slice(i, end);
    if (text[end + 1] !== quote) {
      i = end + 1;
      break;
    }
    value += quote;
    i = end + 2;
  }
  if (quote === '"' && value === '')
    throw new ExprSyntaxError(`empty identifier at position ${start}`, start);
  tokens.push({ kind: quote === "'" ? 'string' : 'quoted', text: value, position: start });
  return i;
}

function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'string':
      return `string '${t.text.length > 20 ? `${t.text.slice(0, 20)}...` : t.text}'`;
    case 'quoted':
      return `identifier "${t.text}"`;
    case 'keyword':
      return `keyword ${t.text.toUpperCase()}`;
    default:
      return `token '${t.text}'`;
  }
}

const COMPARISONS: Record<string, BinaryOp> = {
  '=': '=',
  '!=': '!=',
  '<>': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

/** Type names CAST accepts; the SQL spellings are synonyms so that habits from SQL just work. */
const CAST_TYPE_NAMES: ReadonlyMap<string, CastType> = new Map([
  ['int', 'int'],
  ['integer', 'int'],
  ['bigint', 'int'],
  ['double', 'double'],
  ['float', 'double'],
  ['string', 'string'],
  ['varchar', 'string'],
  ['text', 'string'],
  ['bool', 'bool'],
  ['boolean', 'bool'],
]);

class Parser {
  private index = 0;
  private recursion = 0;
  /** Height of each built node, so that walkers over the tree never recurse deeper than the limit. */
  private readonly heights = new WeakMap<Expr, number>();

  constructor(private readonly tokens: Token[]) {}

  parseAll(): Expr {
    const expr = this.expression();
    const rest = this.peek();
    if (rest.kind !== 'eof') this.fail(rest, 'expected an operator or the end of the expression');
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.index++;
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.tokens[this.index + offset];
    return t !== undefined && t.kind === 'keyword' && t.text === word;
  }

  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === op;
  }

  private acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.index++;
    return true;
  }

  private acceptKeyword(word: string): boolean {
    if (!this.isKeyword(word)) return false;
    this.index++;
    return true;
  }

  private expectKeyword(word: string): void {
    if (!this.acceptKeyword(word)) this.fail(this.peek(), `expected ${word.toUpperCase()}`);
  }

  private expectOp(op: string): void {
    if (!this.isOp(op)) this.fail(this.peek(), `expected '${op}'`);
    this.index++;
  }

  private fail(t: Token, expected: string): never {
    throw new ExprSyntaxError(
      `unexpected ${describeToken(t)} at position ${t.position}; ${expected}`,
      t.position,
    );
  }

  /** Record a node's height and refuse trees deeper than MAX_EXPR_DEPTH. */
  private node<T extends Expr>(expr: T, at: Token): T {
    let height = 1;
    for (const child of childrenOf(expr)) height = Math.max(height, 1 + (this.heights.get(child) ?? 1));
    if (height > MAX_EXPR_DEPTH) this.tooDeep(at);
    this.heights.set(expr, height);
    return expr;
  }

  private tooDeep(at: Token): never {
    throw new ExprSyntaxError(
      `expression nests deeper than ${MAX_EXPR_DEPTH} levels at position ${at.position}`,
      at.position,
    );
  }

  /** Entry to every recursive descent, so nesting parentheses or prefixes cannot overflow the stack. */
  private nested<T>(at: Token, parse: () => T): T {
    if (++this.recursion > MAX_EXPR_DEPTH) this.tooDeep(at);
    try {
      return parse();
    } finally {
      this.recursion--;
    }
  }

  expression(): Expr {
    return this.nested(this.peek(), () => this.or());
  }

  private or(): Expr {
    let left = this.and();
    while (this.isKeyword('or')) {
      const at = this.next();
      left = this.node({ kind: 'binary', op: 'or', left, right: this.and() }, at);
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKeyword('and')) {
      const at = this.next();
      left = this.node({ kind: 'binary', op: 'and', left, right: this.not() }, at);
    }
    return left;
  }

  private not(): Expr {
    if (!this.isKeyword('not')) return this.predicate();
    const at = this.next();
    return this.node({ kind: 'not', operand: this.nested(at, () => this.not()) }, at);
  }

  /** Comparisons, IS [NOT] NULL, [NOT] IN / BETWEEN / LIKE: all bind tighter than NOT. */
  private predicate(): Expr {
    let left = this.concat();
    for (;;) {
      const t = this.peek();
      const comparison = t.kind === 'op' ? COMPARISONS[t.text] : undefined;
      if (comparison) {
        this.next();
        left = this.node({ kind: 'binary', op: comparison, left, right: this.concat() }, t);
      } else if (this.isKeyword('is')) {
        this.next();
        const negated = this.acceptKeyword('not');
        this.expectKeyword('null');
        left = this.node({ kind: 'isNull', operand: left, negated }, t);
      } else if (this.isKeyword('not') && this.isNegatablePredicate(1)) {
        this.next();
        left = this.negatablePredicate(left, true, t);
      } else if (this.isNegatablePredicate(0)) {
        left = this.negatablePredicate(left, false, t);
      } else {
        return left;
      }
    }
  }

  private isNegatablePredicate(offset: number): boolean {
    return (
      this.isKeyword('in', offset) || this.isKeyword('between', offset) || this.isKeyword('like', offset)
    );
  }

  private negatablePredicate(operand: Expr, negated: boolean, at: Token): Expr {
    const word = this.next().text;
    if (word === 'in') {
      this.expectOp('(');
      const list = this.commaList();
      return this.node({ kind: 'in', operand, list, negated }, at);
    }
    if (word === 'between') {
      const low = this.concat();
      this.expectKeyword('and');
      const high = this.concat();
      return this.node({ kind: 'between', operand, low, high, negated }, at);
    }
    return this.node({ kind: 'like', operand, pattern: this.concat(), negated }, at);
  }

  /** Expressions separated by commas up to the closing parenthesis (already past the opening one). */
  private commaList(): Expr[] {
    const items = [this.expression()];
    while (this.isOp(',')) {
      this.next();
      items.push(this.expression());
    }
    this.expectOp(')');
    return items;
  }

  private concat(): Expr {
    let left = this.additive();
    while (this.isOp('||')) {
      const at = this.next();
      left = this.node({ kind: 'binary', op: '||', left, right: this.additive() }, at);
    }
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const at = this.next();
      const op = at.text as '+' | '-';
      left = this.node({ kind: 'binary', op, left, right: this.multiplicative() }, at);
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const at = this.next();
      const op = at.text as '*' | '/' | '%';
      left = this.node({ kind: 'binary', op, left, right: this.unary() }, at);
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp('+')) {
      const at = this.next();
      return this.nested(at, () => this.unary());
    }
    if (!this.isOp('-')) return this.primary();
    const at = this.next();
    return this.node({ kind: 'negate', operand: this.nested(at, () => this.unary()) }, at);
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'int':
        return this.intLiteral(this.next());
      case 'double':
        this.next();
        return { kind: 'double', value: Number(t.text) };
      case 'string':
        this.next();
        return { kind: 'string', value: t.text };
      case 'quoted':
        this.next();
        return { kind: 'column', name: t.text };
      case 'ident':
        this.next();
        return this.isOp('(') ? this.call(t) : { kind: 'column', name: t.text };
      case 'keyword':
        return this.keywordPrimary(t);
      case 'op':
        if (t.text === '(') {
          this.next();
          const inner = this.expression();
          this.expectOp(')');
          return inner;
        }
        return this.fail(t, 'expected an expression');
      default:
        return this.fail(t, 'expected an expression');
    }
  }

  private intLiteral(t: Token): Expr {
    const value = Number(t.text);
    if (!Number.isSafeInteger(value)) {
      throw new ExprSyntaxError(
        `integer ${t.text} at position ${t.position} is too large; write it as a decimal (${t.text}.0)`,
        t.position,
      );
    }
    return { kind: 'int', value };
  }

  private keywordPrimary(t: Token): Expr {
    switch (t.text) {
      case 'null':
        this.next();
        return { kind: 'null' };
      case 'true':
      case 'false':
        this.next();
        return { kind: 'bool', value: t.text === 'true' };
      case 'case':
        this.next();
        return this.caseExpr(t);
      case 'cast':
        this.next();
        return this.castExpr(t);
      case 'date':
      case 'timestamp':
        this.next();
        return this.temporalLiteral(t);
      default:
        return this.fail(t, 'expected an expression');
    }
  }

  /** DATE and TIMESTAMP start a literal only before a string; otherwise they name a column. */
  private temporalLiteral(t: Token): Expr {
    const literal = this.peek();
    if (literal.kind !== 'string') {
      return this.isOp('(') ? this.call(t) : { kind: 'column', name: t.raw ?? t.text };
    }
    this.next();
    const value = t.text === 'date' ? parseDateText(literal.text) : parseTimestampText(literal.text);
    if (value === null) {
      const shape = t.text === 'date' ? "'YYYY-MM-DD'" : "'YYYY-MM-DD HH:MM:SS[.SSS]'";
      throw new ExprSyntaxError(
        `invalid ${t.text.toUpperCase()} literal '${literal.text}' at position ${literal.position}; expected a valid ${shape}`,
        literal.position,
      );
    }
    return t.text === 'date' ? { kind: 'date', value } : { kind: 'timestamp', value };
  }

  private caseExpr(at: Token): Expr {
    const subject = this.isKeyword('when') ? null : this.expression();
    const branches: { when: Expr; result: Expr }[] = [];
    while (this.isKeyword('when')) {
      const whenAt = this.next();
      const value = this.expression();
      const when: Expr = subject
        ? this.node({ kind: 'binary', op: '=', left: subject, right: value }, whenAt)
        : value;
      this.expectKeyword('then');
      branches.push({ when, result: this.expression() });
    }
    if (branches.length === 0) this.fail(this.peek(), 'expected WHEN');
    const otherwise = this.acceptKeyword('else') ? this.expression() : null;
    this.expectKeyword('end');
    return this.node({ kind: 'case', branches, otherwise }, at);
  }

  private castExpr(at: Token): Expr {
    this.expectOp('(');
    const operand = this.expression();
    this.expectKeyword('as');
    const typeToken = this.peek();
    const to = typeToken.kind === 'ident' ? CAST_TYPE_NAMES.get(typeToken.text.toLowerCase()) : undefined;
    if (to === undefined) this.fail(typeToken, `expected a type: ${CAST_TYPES.join(', ')}`);
    this.next();
    this.expectOp(')');
    return this.node({ kind: 'cast', operand, to }, at);
  }

  private call(nameToken: Token): Expr {
    const name = nameToken.text.toLowerCase();
    if (!isFunctionName(name)) {
      throw new ExprSyntaxError(
        `unknown function '${nameToken.text}' at position ${nameToken.position}; known functions: ${Object.keys(FUNCTION_ARITY).join(', ')}`,
        nameToken.position,
      );
    }
    this.expectOp('(');
    const args = this.acceptOp(')') ? [] : this.commaList();
    const { min, max } = FUNCTION_ARITY[name];
    if (args.length < min || (max !== null && args.length > max)) {
      const wanted = max === null ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
      throw new ExprSyntaxError(
        `${name}() at position ${nameToken.position} takes ${wanted} argument${wanted === '1' ? '' : 's'}, got ${args.length}`,
        nameToken.position,
      );
    }
    return this.node({ kind: 'call', name, args }, nameToken);
  }
}

const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP_TEXT = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** 'YYYY-MM-DD' when the text is a real calendar date, else null. */
export function parseDateText(text: string): string | null {
  const m = DATE_TEXT.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return text;
}

/** Normalized 'YYYY-MM-DD HH:MM:SS[.SSS]' for a valid wall-clock time, else null. */
export function parseTimestampText(text: string): string | null {
  const m = TIMESTAMP_TEXT.exec(text);
  if (!m || parseDateText(m[1] as string) === null) return null;
  const [hour, minute, second] = [Number(m[2]), Number(m[3]), Number(m[4] ?? '0')];
  if (hour > 23 || minute > 59 || second > 59) return null;
  const millis = Number((m[5] ?? '').padEnd(3, '0'));
  const base = `${m[1]} ${m[2]}:${m[3]}:${m[4] ?? '00'}`;
  return millis === 0 ? base : `${base}.${String(millis).padStart(3, '0')}`;
}

/** Parse an expression as written in asof.yaml. Throws ExprSyntaxError on any malformed input. */
export function parseExpr(text: string): Expr {
  if (text.length > MAX_EXPR_LENGTH) {
    throw new ExprSyntaxError(
      `expression is ${text.length} characters long; the limit is ${MAX_EXPR_LENGTH}`,
      MAX_EXPR_LENGTH,
    );
  }
  return new Parser(tokenize(text)).parseAll();
}
