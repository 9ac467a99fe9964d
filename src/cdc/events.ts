// Change events: the one in-memory form every CDC input becomes (Debezium files, PostgreSQL
// replication), parsing and validation of Debezium JSON envelopes, and LSN helpers.

import { readFileSync } from 'node:fs';
import { AsofError } from '../errors.js';
import type { CdcSource } from '../spec/cdc.js';
import { addDays, formatInstant, parseTimestamp } from '../time/index.js';
import type { ColumnType } from '../types.js';

/** A column value after the contract was applied: timestamps as ISO instants, dates as YYYY-MM-DD. */
export type CdcValue = string | number | boolean | null;

/** Marks a column whose value the log does not carry (an unchanged TOASTed value): keep the previous one. */
export const UNCHANGED: unique symbol = Symbol('unchanged');
export type CdcCell = CdcValue | typeof UNCHANGED;
export type CdcRow = Record<string, CdcCell>;

export type CdcOp = 'c' | 'u' | 'd' | 'r';

export interface CdcChange {
  op: CdcOp;
  /** The change's log position (PostgreSQL LSN as a number); orders changes and deduplicates them. */
  lsn: bigint;
  /** When the change committed at the source (epoch ms): becomes valid_from in the history. */
  tsMs: number;
  /** The source transaction, when the log says: its changes are never split across batches. */
  txId: string | undefined;
  /** Old values (deletes, updates of the key); only the key columns are needed. */
  before: CdcRow | null;
  after: CdcRow | null;
  /** file:line, for messages. */
  origin: string;
}

const DEBEZIUM_UNAVAILABLE = '__debezium_unavailable_value';

/** Parses `X/Y` (PostgreSQL text form) or a decimal number into a 64-bit position. */
export function parseLsn(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string') {
    const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(v.trim());
    if (m) return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
    if (/^\d+$/.test(v.trim())) return BigInt(v.trim());
  }
  return undefined;
}

/** The PostgreSQL text form of a position, e.g. 0/16B3748. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Applies the contract type to one value from a log; throws a contract error naming the column. */
export function coerceValue(
  raw: unknown,
  type: ColumnType,
  column: string,
  origin: string,
  timezone: string,
): CdcCell {
  if (raw === undefined || raw === DEBEZIUM_UNAVAILABLE) return UNCHANGED;
  // The common cases first, without allocating.
  if (type === 'string' && typeof raw === 'string') return raw;
  if (type === 'int' && typeof raw === 'number' && Number.isSafeInteger(raw)) return raw;
  if (raw === null) return null;
  const bad = (): AsofError => badValue(raw, type, column, origin);
  switch (type) {
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      throw bad();
    case 'int': {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
      throw bad();
    }
    case 'double': {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n === 'number' && !Number.isNaN(n)) return n;
      throw bad();
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 't' || raw === 'true') return true;
      if (raw === 'f' || raw === 'false') return false;
      throw bad();
    case 'timestamp': {
      // Debezium: io.debezium.time.Timestamp (epoch ms) or MicroTimestamp (epoch µs), or ISO text.
      if (typeof raw === 'number' && Number.isFinite(raw)) {
        return formatInstant(Math.abs(raw) >= 1e14 ? Math.trunc(raw / 1000) : raw);
      }
      if (typeof raw === 'string') {
        const t = parseTimestamp(raw, timezone);
        if (t !== null) return formatInstant(t);
      }
      throw bad();
    }
    case 'date':
      // Debezium io.debezium.time.Date: days since 1970-01-01.
      if (typeof raw === 'number' && Number.isInteger(raw)) return addDays('1970-01-01', raw);
      if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw.trim())) return raw.trim();
      throw bad();
  }
}

function badValue(raw: unknown, type: ColumnType, column: string, origin: string): AsofError {
  return new AsofError(
    'contract',
    `${origin}: value ${JSON.stringify(raw)} is not a ${type}`,
    { dataColumn: column },
    'fix the contract in cdc.<source>.columns or the producer',
  );
}

const columnLists = new WeakMap<CdcSource['columns'], [string, ColumnType][]>();

/** The contract's columns as a list, computed once per source. */
function columnList(source: CdcSource): [string, ColumnType][] {
  let l = columnLists.get(source.columns);
  if (!l) {
    l = Object.entries(source.columns);
    columnLists.set(source.columns, l);
  }
  return l;
}

/** A row image from a log with the contract applied; columns outside the contract are ignored. */
export function coerceRow(
  raw: Record<string, unknown>,
  source: CdcSource,
  origin: string,
  timezone: string,
): CdcRow {
  const row: CdcRow = {};
  for (const [col, type] of columnList(source)) {
    row[col] = coerceValue(raw[col], type, col, origin, timezone);
  }
  return row;
}

function rowImage(
  payload: Record<string, unknown>,
  k: 'before' | 'after',
  source: CdcSource,
  origin: string,
  timezone: string,
): CdcRow | null {
  const v = payload[k];
  if (v === null || v === undefined) return null;
  if (!isObject(v)) throw invalid(origin, `'${k}' must be an object or null`);
  return coerceRow(v, source, origin, timezone);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * One Debezium envelope -> a change, or null for a tombstone (a null value after a delete).
 * Accepts the payload itself or `{ schema, payload }`; the position is `source.lsn`, else `position`.
 */
export function parseDebeziumEnvelope(
  value: unknown,
  source: CdcSource,
  origin: string,
  timezone: string,
): CdcChange | null {
  if (value === null) return null;
  if (!isObject(value)) throw invalid(origin, 'a change event must be a JSON object');
  const payload = 'payload' in value && !('op' in value) ? value.payload : value;
  if (payload === null) return null;
  if (!isObject(payload)) throw invalid(origin, "'payload' must be an object");
  const op = payload.op;
  if (op !== 'c' && op !== 'u' && op !== 'd' && op !== 'r') {
    throw invalid(origin, `'op' must be c, u, d or r, found ${JSON.stringify(op)}`);
  }
  const src = isObject(payload.source) ? payload.source : {};
  const lsn = parseLsn(src.lsn ?? payload.position ?? value.position);
  if (lsn === undefined) {
    throw invalid(origin, "no position: need 'source.lsn' or 'position' (a number or X/Y)");
  }
  const ts = src.ts_ms ?? payload.ts_ms;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) {
    throw invalid(origin, "no commit time: need 'source.ts_ms' or 'ts_ms' (epoch milliseconds)");
  }
  const tx = isObject(payload.transaction) ? payload.transaction.id : (src.txId ?? src.xid);
  const before = rowImage(payload, 'before', source, origin, timezone);
  const after = rowImage(payload, 'after', source, origin, timezone);
  if (op === 'd' ? before === null : after === null) {
    throw invalid(origin, op === 'd' ? "a delete ('d') needs 'before'" : `op '${op}' needs 'after'`);
  }
  for (const k of source.primaryKey) {
    const img = op === 'd' ? before : after;
    const v = img?.[k];
    if (v === null || v === UNCHANGED || v === undefined) {
      throw new AsofError('contract', `${origin}: primary key column '${k}' is missing or null`, {
        dataColumn: k,
      });
    }
  }
  return {
    op,
    lsn,
    tsMs: ts,
    txId: tx === undefined || tx === null ? undefined : String(tx),
    before,
    after,
    origin,
  };
}

function invalid(origin: string, message: string): AsofError {
  return new AsofError(
    'contract',
    `${origin}: ${message}`,
    {},
    'a Debezium envelope: { op, before, after, source: { lsn, ts_ms }, ts_ms }',
  );
}

/** Reads a Debezium file: one envelope per line (JSONL), or one JSON array of envelopes. */
export function readDebeziumFile(file: string, source: CdcSource, timezone: string): CdcChange[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AsofError('usage', `cannot read the change file: ${(e as Error).message}`, { file });
  }
  const out: CdcChange[] = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let all: unknown;
    try {
      all = JSON.parse(text);
    } catch (e) {
      throw new AsofError('contract', `not valid JSON: ${(e as Error).message}`, { file });
    }
    (all as unknown[]).forEach((v, i) => {
      const c = parseDebeziumEnvelope(v, source, `${file}[${i}]`, timezone);
      if (c) out.push(c);
    });
    return out;
  }
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new AsofError('contract', `not valid JSON: ${(e as Error).message}`, { file, line: i + 1 });
    }
    const c = parseDebeziumEnvelope(v, source, `${file}:${i + 1}`, timezone);
    if (c) out.push(c);
  });
  return out;
}

/** Orders changes by position; ties keep their input order (files as given, lines in file order). */
export function sortByLsn(changes: CdcChange[]): CdcChange[] {
  return changes
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (a.c.lsn < b.c.lsn ? -1 : a.c.lsn > b.c.lsn ? 1 : a.i - b.i))
    .map((x) => x.c);
}
