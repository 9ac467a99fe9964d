// Writes one micro-batch of accepted stream events as a Parquet file typed by the source contract
// (timestamps as TIMESTAMPTZ instants), via CSV records printed as UTF-8 bytes, then renames it in
// place: a reader sees the whole file or none, and a replay writing the same name replaces it.

import { renameSync, rmSync } from 'node:fs';
import type { Source } from '../../spec/project.js';
import type { DuckDbEngine } from './engine.js';
import { duckdbType, quoteIdent, stringLiteral } from './types.js';

export const OFFSET_COLUMN = '_offset';

/** An event's contract values by column (timestamps as epoch ms). */
export type RecordRow = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Room for a number, `true`/`false` and the delimiter before it. */
const SCALAR_BYTES = 32;
const COMMA = 44;
const QUOTE = 34;
const NEWLINE = 10;
/**
 * read_csv's longest record (its default, 2 MB, failed a batch holding one long text value on
 * every replay; the JSON lines before read such events): the 1 GB read_csv accepts.
 */
const MAX_RECORD_BYTES = 1 << 30;

/**
 * Prints the CSV record of one event, as writeEventRecordsParquet reads it, straight into a byte
 * buffer (no string per event: the stream job prints one record per accepted event on its hot
 * path): its sequence, then its contract values in column order, timestamps as epoch
 * milliseconds, strings always quoted (`""` inside), NULL as an empty unquoted field. With `text`,
 * column i whose `at[i]` is not -1 is printed as text[at[i], end[i]): the event's own JSON text of
 * that value, when the caller knows it is the printed form already (a string without escapes nor
 * quotes, quotes included; a plain number).
 */
export class OfflineRecordPrinter {
  private readonly keys: string[];

  constructor(source: Source) {
    this.keys = Object.keys(source.columns);
  }

  /** Prints at buf[pos...]; returns the end of the record, or -1 if it does not fit before buf.length. */
  print(
    buf: Uint8Array,
    pos: number,
    seq: number,
    row: RecordRow,
    text?: string,
    at?: Int32Array,
    end?: Int32Array,
  ): number {
    const cap = buf.length;
    if (pos + SCALAR_BYTES > cap) return -1;
    let p = writeNumber(buf, pos, seq);
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const a = at === undefined ? -1 : (at[i] as number);
      if (a >= 0) {
        const e = (end as Int32Array)[i] as number;
        if (p + 1 + 3 * (e - a) > cap) return -1;
        buf[p++] = COMMA;
        // mostly ASCII: copied here, the rest (from the first wider unit) encoded by writeUtf8
        const t = text as string;
        let k = a;
        for (; k < e; k++) {
          const c = t.charCodeAt(k);
          if (c >= 0x80) break;
          buf[p++] = c;
        }
        if (k < e) p = writeUtf8(buf, p, t, k, e, false);
        continue;
      }
      const v = row[keys[i] as string];
      if (typeof v === 'string') {
        if (p + 3 + 3 * v.length > cap) return -1;
        buf[p++] = COMMA;
        buf[p++] = QUOTE;
        p = writeUtf8(buf, p, v, 0, v.length, true);
        buf[p++] = QUOTE;
        continue;
      }
      if (p + SCALAR_BYTES > cap) return -1;
      buf[p++] = COMMA;
      if (typeof v === 'number') p = writeNumber(buf, p, v);
      else if (typeof v === 'boolean') p = writeUtf8(buf, p, v ? 'true' : 'false', 0, v ? 4 : 5, false);
    }
    if (p + 1 > cap) return -1;
    buf[p++] = NEWLINE;
    return p;
  }
}

/** A number as String() prints it (safe integers digit by digit, without a string). */
function writeNumber(buf: Uint8Array, p: number, v: number): number {
  if (!Number.isSafeInteger(v)) {
    const s = String(v);
    return writeUtf8(buf, p, s, 0, s.length, false);
  }
  if (v < 0) {
    buf[p++] = 45; // -
    v = -v;
  }
  if (v < 1e9) return writeInt32(buf, p, v);
  // epoch milliseconds: two int32 halves (a remainder of a double is a call to fmod per digit)
  const hi = Math.floor(v / 1e9);
  let lo = (v - hi * 1e9) | 0;
  p = writeInt32(buf, p, hi);
  for (let q = p + 8; q >= p; q--) {
    buf[q] = 48 + (lo % 10);
    lo = (lo / 10) | 0;
  }
  return p + 9;
}

/** 0 <= v < 2^31 in decimal. */
function writeInt32(buf: Uint8Array, p: number, v: number): number {
  let digits = 1;
  for (let x = v; x >= 10; x = (x / 10) | 0) digits++;
  let q = p + digits;
  const stop = q;
  do {
    const d = v % 10;
    buf[--q] = 48 + d;
    v = (v / 10) | 0;
  } while (q > p);
  return stop;
}

/**
 * s[from, to) as UTF-8 (a lone surrogate as U+FFFD, as Buffer.write does), with `"` doubled if
 * `quotes` (inside a quoted CSV field): at most 3 bytes per unit.
 */
function writeUtf8(buf: Uint8Array, p: number, s: string, from: number, to: number, quotes: boolean): number {
  for (let i = from; i < to; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === QUOTE && quotes) buf[p++] = QUOTE;
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const lo = i + 1 < to ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          buf[p++] = 0xf0 | (cp >> 18);
          buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
          buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
          buf[p++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/**
 * Converts CSV files of OfflineRecordPrinter (one or several: they are read as one) into a Parquet
 * file at `file`, ordered by sequence; written beside and renamed.
 */
export async function writeEventRecordsParquet(
  engine: DuckDbEngine,
  source: Source,
  csv: string | string[],
  file: string,
): Promise<void> {
  const cols = Object.entries(source.columns);
  const staged = `${file}.tmp`;
  const inputs = (Array.isArray(csv) ? csv : [csv]).map(stringLiteral).join(', ');
  try {
    // timestamps come as epoch ms numbers: read as BIGINT and made instants exactly (no text parse);
    // other values as their text, cast by the contract type (a quoted "" is the empty string, not NULL)
    const spec = [
      [OFFSET_COLUMN, 'BIGINT'],
      ...cols.map(([c, t]) => [c, t === 'timestamp' ? 'BIGINT' : 'VARCHAR']),
    ]
      .map(([c, t]) => `${stringLiteral(c as string)}: '${t}'`)
      .join(', ');
    const select = [
      quoteIdent(OFFSET_COLUMN),
      ...cols.map(([c, t]) =>
        t === 'timestamp'
          ? `timezone('UTC', epoch_ms(${quoteIdent(c)})) AS ${quoteIdent(c)}`
          : `CAST(${quoteIdent(c)} AS ${duckdbType(t)}) AS ${quoteIdent(c)}`,
      ),
    ];
    const read = `read_csv([${inputs}], header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', new_line = '\\n', allow_quoted_nulls = false, max_line_size = ${MAX_RECORD_BYTES}, columns = {${spec}})`;
    await engine.conn.run(
      `COPY (SELECT ${select.join(', ')} FROM ${read} ORDER BY ${quoteIdent(OFFSET_COLUMN)})
       TO ${stringLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    renameSync(staged, file);
  } finally {
    rmSync(staged, { force: true });
  }
}
