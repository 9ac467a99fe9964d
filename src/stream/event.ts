// One stream event checked against its source contract: typed values (the evaluator's
// representation), its event instant, or the reason it goes to the dead letters. The rules are
// those of the batch loader: timestamps without an offset are local to the project timezone.

import type { Row, Value } from '../expr/evaluate.js';
import type { Source } from '../spec/project.js';
import { formatInstant, type Instant, startOfLocalDay } from '../time/index.js';
import { parseEventTimestamp } from '../time/read-time.js';
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
  const row: Record<string, Value> = {};
  let columns = columnLists.get(source.columns);
  if (!columns) {
    columns = Object.entries(source.columns);
    columnLists.set(source.columns, columns);
  }
  for (const [c, t] of columns) {
    const v = typedValue(obj[c], t, timezone);
    if (v === undefined)
      return { ok: false, reason: `column ${c}: cannot read ${JSON.stringify(obj[c])} as ${t}` };
    row[c] = v;
  }
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
