// One stream event checked against its source contract: typed values (the evaluator's
// representation), its event instant, or the reason it goes to the dead letters. The rules are
// those of the batch loader: timestamps without an offset are local to the project timezone.

import type { Row, Value } from '../expr/evaluate.js';
import type { Source } from '../spec/project.js';
import { formatInstant, type Instant, startOfLocalDay } from '../time/index.js';
import { EventTimestamps, parseEventTimestamp } from '../time/read-time.js';
import type { ColumnType } from '../types.js';

export type Checked = { ok: true; row: Row; ts: Instant } | { ok: false; reason: string };

const INT_RE = /^\s*[+-]?\d+\s*$/;
const DOUBLE_RE = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** The contract value of one raw JSON value, or undefined when it cannot be read as `type`. */
export function typedValue(raw: unknown, type: ColumnType, timezone: string): Value | undefined {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'string':
      return typeof raw === 'string'
        ? raw
        : typeof raw === 'number' || typeof raw === 'boolean'
          ? String(raw)
          : undefined;
    case 'int':
      if (typeof raw === 'number') return Number.isSafeInteger(raw) ? raw : undefined;
      if (typeof raw === 'string' && INT_RE.test(raw)) {
        const n = Number(raw);
        return Number.isSafeInteger(n) ? n : undefined;
      }
      return undefined;
    case 'double':
      if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
      if (typeof raw === 'string' && DOUBLE_RE.test(raw)) return Number(raw);
      return undefined;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string') {
        const s = raw.trim().toLowerCase();
        if (s === 'true' || s === 't' || s === '1') return true;
        if (s === 'false' || s === 'f' || s === '0') return false;
      }
      return undefined;
    case 'timestamp':
      return typeof raw === 'string' ? (parseEventTimestamp(raw, timezone) ?? undefined) : undefined;
    case 'date':
      return typeof raw === 'string' && DATE_RE.test(raw.trim()) ? raw.trim() : undefined;
  }
}

/** A source's columns as a list, made once per contract (checkEvent runs for every event). */
const columnLists = new WeakMap<Source['columns'], [string, ColumnType][]>();
/** Event dates of a `date`-typed event time -> their local midnight, per timezone. */
const dayStarts = new Map<string, Instant>();

function dayStart(date: string, timezone: string): Instant {
  const k = `${timezone} ${date}`;
  let t = dayStarts.get(k);
  if (t === undefined) {
    t = startOfLocalDay(date, timezone);
    if (dayStarts.size >= 4096) dayStarts.clear();
    dayStarts.set(k, t);
  }
  return t;
}

/**
 * Checks one parsed JSON event against `source`'s contract; `keys` must not be NULL. With
 * `latestTs` (the clock plus the source's max_clock_skew), an event timed after it is rejected: a
 * far-future time would otherwise push the watermark ahead and make every later event late.
 */
export function checkEvent(
  raw: unknown,
  source: Source,
  keys: string[],
  timezone: string,
  latestTs?: Instant,
): Checked {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const obj = raw as Record<string, unknown>;
  const columns = columnsOf(source);
  const raws: unknown[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) raws[i] = obj[(columns[i] as [string, ColumnType])[0]];
  return checkRaws(raws, columns, source, keys, timezone, latestTs);
}

function columnsOf(source: Source): [string, ColumnType][] {
  let columns = columnLists.get(source.columns);
  if (!columns) {
    columns = Object.entries(source.columns);
    columnLists.set(source.columns, columns);
  }
  return columns;
}

/** checkEvent on the raw JSON value of each contract column (in the contract's order). */
function checkRaws(
  raws: readonly unknown[],
  columns: readonly [string, ColumnType][],
  source: Source,
  keys: readonly string[],
  timezone: string,
  latestTs: Instant | undefined,
): Checked {
  const row: Record<string, Value> = {};
  for (let i = 0; i < columns.length; i++) {
    const [c, t] = columns[i] as [string, ColumnType];
    const r = raws[i];
    const v = typedValue(r, t, timezone);
    if (v === undefined)
      return { ok: false, reason: `column ${c}: cannot read ${JSON.stringify(r)} as ${t}` };
    row[c] = v;
  }
  return checkRow(row, source, keys, timezone, latestTs);
}

/** The checks of a row of typed values: its event time, its entity keys, max_clock_skew. */
function checkRow(
  row: Row,
  source: Source,
  keys: readonly string[],
  timezone: string,
  latestTs: Instant | undefined,
): Checked {
  // read back from the row (a column named __proto__ is not a property)
  const tsValue = row[source.timestamp];
  if (tsValue === null || tsValue === undefined) {
    return { ok: false, reason: `column ${source.timestamp}: the event time is empty` };
  }
  for (const k of keys) {
    if (row[k] === null) return { ok: false, reason: `column ${k}: the entity key is empty` };
  }
  const ts = typeof tsValue === 'number' ? tsValue : dayStart(String(tsValue), timezone);
  if (latestTs !== undefined && ts > latestTs) {
    return {
      ok: false,
      reason: `column ${source.timestamp}: event time ${formatInstant(ts)} is beyond max_clock_skew (later than ${formatInstant(latestTs)})`,
    };
  }
  return { ok: true, row, ts };
}

/** Why a line that JSON.parse rejects goes to the dead letters. */
export const NOT_JSON = 'not valid JSON';

/**
 * A function making a contract's row from its values, in column order. An object literal of the
 * contract's columns, compiled once per reader, makes the row in one allocation of its final shape
 * (adding the columns one by one to `{}` costs a lookup per column and a second allocation); each
 * name is a JSON string literal, which is a JS string literal. `__proto__` would name the prototype
 * in a literal: such a contract (or a Node run that forbids code from strings) builds the row column
 * by column, as checkRaws does.
 */
function rowMaker(names: readonly string[]): (vals: readonly Value[]) => Row {
  const byColumn = (vals: readonly Value[]): Row => {
    const row: Record<string, Value> = {};
    for (let i = 0; i < names.length; i++) row[names[i] as string] = vals[i] as Value;
    return row;
  };
  if (names.includes('__proto__')) return byColumn;
  const members = names.map((c, i) => `${JSON.stringify(c)}: v[${i}]`).join(', ');
  try {
    return new Function('v', `return { ${members} };`) as (vals: readonly Value[]) => Row;
  } catch {
    return byColumn;
  }
}

/** Column types as numbers, for the per-event switch. */
const STRING = 1;
const INT = 2;
const DOUBLE = 3;
const BOOL = 4;
const TIMESTAMP = 5;
const KIND: Record<ColumnType, number> = {
  string: STRING,
  int: INT,
  double: DOUBLE,
  bool: BOOL,
  timestamp: TIMESTAMP,
  date: 6,
};

/** Per column of the line being read: its value is already typed, raw (typedValue decides), or absent. */
const TYPED = 2;
const RAW = 1;
const ABSENT = 0;

/**
 * checkEvent of one JSON line (`not valid JSON` when JSON.parse throws), without JSON.parse's
 * object per event for the common line: a flat object whose contract values are strings without
 * escapes, plain numbers, true, false or null is read by a scanner straight into the contract's
 * slots, typed there when that is plain (a string for a string, a number for a number, a wall-clock
 * timestamp read in place); any other line (escapes, nesting, duplicate keys, anything unusual) goes
 * through JSON.parse and checkEvent, so the result is always theirs (test/stream/event-scan.test.ts
 * compares them).
 */
export class EventReader {
  private readonly columns: [string, ColumnType][];
  private readonly names: string[];
  private readonly types: ColumnType[];
  /** Per column, its KIND. */
  private readonly kinds: Uint8Array;
  /** Per column, its name as it appears quoted in a line (`"name"`). */
  private readonly quoted: string[];
  /** Per column, what a parsed object yields when the line lacks it (Object.prototype's member, if any). */
  private readonly absent: unknown[];
  /** Per column of the line being read: its value (typed or raw) and which of the two (TYPED, RAW, ABSENT). */
  private readonly vals: unknown[];
  private readonly state: Uint8Array;
  private readonly times: EventTimestamps;
  /** The row object of the contract's values, in the contract's column order. */
  private readonly makeRow: (vals: readonly Value[]) => Row;
  /**
   * Per column of the last line read, where its value's JSON text is already the offline line's
   * printed form (OfflineRecordPrinter's): [printedAt, printedEnd) of the line, or -1.
   */
  readonly printedAt: Int32Array;
  readonly printedEnd: Int32Array;
  /** The JSON.parse value of the last line read through the fallback (undefined after a scanned one). */
  parsed: unknown = undefined;
  /** Lines read by the scanner and by the fallback (tests check the scanner is used). */
  scanned = 0;
  fellBack = 0;

  constructor(
    private readonly source: Source,
    private readonly keys: string[],
    private readonly timezone: string,
  ) {
    this.columns = columnsOf(source);
    this.names = this.columns.map(([c]) => c);
    this.types = this.columns.map(([, t]) => t);
    this.kinds = Uint8Array.from(this.types, (t) => KIND[t]);
    this.quoted = this.columns.map(([c]) => JSON.stringify(c));
    const proto: Record<string, unknown> = {};
    this.absent = this.columns.map(([c]) => proto[c]);
    this.vals = new Array(this.columns.length).fill(null);
    this.state = new Uint8Array(this.columns.length);
    this.times = new EventTimestamps(timezone);
    this.makeRow = rowMaker(this.names);
    this.printedAt = new Int32Array(this.columns.length);
    this.printedEnd = new Int32Array(this.columns.length);
  }

  read(text: string, latestTs?: Instant): Checked {
    if (this.scan(text)) {
      this.scanned++;
      this.parsed = undefined;
      return this.check(latestTs);
    }
    this.fellBack++;
    this.printedAt.fill(-1);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.parsed = undefined;
      return { ok: false, reason: NOT_JSON };
    }
    this.parsed = raw;
    return checkEvent(raw, this.source, this.keys, this.timezone, latestTs);
  }

  /** checkRaws of the scanned line, taking the values the scanner typed as they are. */
  private check(latestTs: Instant | undefined): Checked {
    const names = this.names;
    const vals = this.vals;
    const state = this.state;
    for (let i = 0; i < names.length; i++) {
      const st = state[i];
      if (st === TYPED) continue;
      const r = st === RAW ? vals[i] : this.absent[i];
      const v = typedValue(r, this.types[i] as ColumnType, this.timezone);
      if (v === undefined)
        return {
          ok: false,
          reason: `column ${names[i]}: cannot read ${JSON.stringify(r)} as ${this.types[i]}`,
        };
      vals[i] = v;
    }
    return checkRow(this.makeRow(vals as Value[]), this.source, this.keys, this.timezone, latestTs);
  }

  /** Fills this.vals from a line the scanner reads exactly as JSON.parse would; false: not handled. */
  private scan(text: string): boolean {
    const n = text.length;
    const vals = this.vals;
    const state = this.state;
    const kinds = this.kinds;
    const quoted = this.quoted;
    const ncol = quoted.length;
    const at = this.printedAt;
    const atEnd = this.printedEnd;
    for (let i = 0; i < ncol; i++) {
      state[i] = ABSENT;
      at[i] = -1;
    }
    let p = skipWs(text, 0);
    if (text.charCodeAt(p) !== 123 /* { */) return false;
    p = skipWs(text, p + 1);
    let expect = 0;
    if (text.charCodeAt(p) === 125 /* } */) p++;
    else {
      for (;;) {
        if (text.charCodeAt(p) !== 34 /* " */) return false;
        // the key: the next contract column (lines usually keep one order), another one, or none
        let col = -1;
        if (expect < ncol && startsAt(text, p, quoted[expect] as string)) col = expect;
        else {
          for (let i = 0; i < ncol; i++) {
            if (text.startsWith(quoted[i] as string, p)) {
              col = i;
              break;
            }
          }
        }
        if (col >= 0) {
          if (state[col] !== ABSENT) return false; // a repeated key: JSON.parse keeps the last
          p += (quoted[col] as string).length;
        } else {
          // a key outside the contract: skipped, but one with an escape could spell a column
          const end = plainStringEnd(text, p + 1);
          if (end < 0) return false;
          p = end + 1;
        }
        if (text.charCodeAt(p) <= 32) p = skipWs(text, p);
        if (text.charCodeAt(p) !== 58 /* : */) return false;
        if (text.charCodeAt(++p) <= 32) p = skipWs(text, p);
        const c = text.charCodeAt(p);
        if (c === 34) {
          const t = col >= 0 && kinds[col] === TIMESTAMP ? this.times.quoted(text, p + 1) : Number.NaN;
          if (!Number.isNaN(t)) {
            // wall-clock text read in place: a plain string, up to its closing quote
            vals[col] = t;
            state[col] = TYPED;
            p = this.times.end + 1;
          } else {
            const end = plainStringEnd(text, p + 1);
            if (end < 0) return false;
            if (col >= 0) {
              if (kinds[col] === STRING) {
                vals[col] = text.slice(p + 1, end);
                state[col] = TYPED;
                // a plain string prints as itself, quotes included (what JSON.stringify gives)
                at[col] = p;
                atEnd[col] = end + 1;
              } else {
                vals[col] = text.slice(p + 1, end);
                state[col] = RAW;
              }
            }
            p = end + 1;
          }
        } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
          const end = numberEnd(text, p);
          if (end < 0) return false;
          if (col >= 0) {
            const x = numberValue(text, p, end);
            const kind = kinds[col];
            vals[col] = x;
            state[col] =
              (kind === DOUBLE && Number.isFinite(x)) || (kind === INT && Number.isSafeInteger(x))
                ? TYPED
                : RAW;
            // a double or an int read exactly from its digits prints as its text (the same number to
            // DuckDB's cast; 0 is left to String(): it prints -0 as 0)
            if (exactDigits && x !== 0 && (kind === DOUBLE || (kind === INT && !hadPoint))) {
              at[col] = p;
              atEnd[col] = end;
            }
          }
          p = end;
        } else if (c === 116 /* t */ && text.startsWith('true', p)) {
          if (col >= 0) {
            vals[col] = true;
            state[col] = kinds[col] === BOOL ? TYPED : RAW;
          }
          p += 4;
        } else if (c === 102 /* f */ && text.startsWith('false', p)) {
          if (col >= 0) {
            vals[col] = false;
            state[col] = kinds[col] === BOOL ? TYPED : RAW;
          }
          p += 5;
        } else if (c === 110 /* n */ && text.startsWith('null', p)) {
          if (col >= 0) {
            vals[col] = null;
            state[col] = TYPED;
          }
          p += 4;
        } else return false; // nested values, or not JSON: JSON.parse decides
        if (col >= 0) expect = col + 1;
        if (text.charCodeAt(p) <= 32) p = skipWs(text, p);
        const sep = text.charCodeAt(p);
        if (sep === 44 /* , */) {
          if (text.charCodeAt(++p) <= 32) p = skipWs(text, p);
          continue;
        }
        if (sep !== 125 /* } */) return false;
        p++;
        break;
      }
    }
    return skipWs(text, p) === n;
  }
}

/** Whether `text` holds `s` at `p` (startsWith without its call, for short keys). */
function startsAt(text: string, p: number, s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) if (text.charCodeAt(p + i) !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * The position of the first non-whitespace character (JSON's four) at or after `p`; the scanner
 * calls it only at a character <= 32 (JSON's whitespace is, and every character it expects is not).
 */
function skipWs(text: string, p: number): number {
  for (;;) {
    const c = text.charCodeAt(p);
    if (c === 32 || c === 10 || c === 13 || c === 9) p++;
    else return p;
  }
}

/**
 * The position of the closing quote of a string starting at `p` (after its opening quote), or -1
 * if it has an escape, a control character (invalid JSON), a surrogate (offline lines print the
 * value again: JSON.stringify escapes a lone one) or no end.
 */
function plainStringEnd(text: string, p: number): number {
  const n = text.length;
  for (; p < n; p++) {
    const c = text.charCodeAt(p);
    if (c === 34) return p;
    if (c === 92 || c < 32 || (c >= 0xd800 && c <= 0xdfff)) return -1;
  }
  return -1;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** The end of a JSON number starting at `p` (JSON's grammar exactly), or -1 if there is none. */
function numberEnd(text: string, p: number): number {
  if (text.charCodeAt(p) === 45) p++;
  const c = text.charCodeAt(p);
  if (c === 48) p++;
  else if (c >= 49 && c <= 57) {
    p++;
    while (isDigit(text.charCodeAt(p))) p++;
  } else return -1;
  if (text.charCodeAt(p) === 46 /* . */) {
    p++;
    if (!isDigit(text.charCodeAt(p))) return -1;
    while (isDigit(text.charCodeAt(p))) p++;
  }
  const e = text.charCodeAt(p);
  if (e === 101 || e === 69) {
    p++;
    const s = text.charCodeAt(p);
    if (s === 43 || s === 45) p++;
    if (!isDigit(text.charCodeAt(p))) return -1;
    while (isDigit(text.charCodeAt(p))) p++;
  }
  return p;
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
/** Set by numberValue: whether the number was read from at most 15 digits without an exponent, and had a point. */
let exactDigits = false;
let hadPoint = false;

/**
 * The value of the JSON number text[start, end). At most 15 digits and no exponent: the digits
 * as an exact integer divided by an exact power of ten, one correctly rounded division (what
 * JSON.parse gives); otherwise Number() of the text (the same rounding).
 */
function numberValue(text: string, start: number, end: number): number {
  let p = start;
  const neg = text.charCodeAt(p) === 45;
  if (neg) p++;
  let m = 0;
  let digits = 0;
  let frac = -1;
  exactDigits = false;
  hadPoint = false;
  for (; p < end; p++) {
    const c = text.charCodeAt(p);
    if (c === 46) {
      frac = 0;
      hadPoint = true;
    } else if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else return Number(text.slice(start, end)); // an exponent
  }
  if (digits > 15) return Number(text.slice(start, end));
  exactDigits = true;
  const v = frac > 0 ? m / (POW10[frac] as number) : m;
  return neg ? -v : v;
}
