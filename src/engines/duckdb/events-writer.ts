// Writes one micro-batch of accepted stream events as a Parquet file typed by the source contract
// (timestamps as TIMESTAMPTZ instants), via JSON-lines text, then renames it in place: a reader
// sees the whole file or none, and a replay writing the same name replaces it.

import { renameSync, rmSync } from 'node:fs';
import type { Source } from '../../spec/project.js';
import type { DuckDbEngine } from './engine.js';
import { duckdbType, quoteIdent, stringLiteral } from './types.js';

export const OFFSET_COLUMN = '_offset';

type LineRow = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * The JSON line of one event as writeEventLinesParquet reads it: its sequence, then its contract
 * values, timestamps as epoch milliseconds (no Date object nor ISO text per event: the stream
 * job prints one line per accepted event on its hot path). With `text`, column i whose `at[i]` is
 * not -1 is printed as text[at[i], end[i]): the event's own JSON text of that value, when the
 * caller knows it is the printed form already (a string without escapes, a plain number).
 */
export function offlineLinePrinter(
  source: Source,
): (seq: number, row: LineRow, text?: string, at?: Int32Array, end?: Int32Array) => string {
  const cols = Object.entries(source.columns);
  const names = cols.map(([c]) => `,${JSON.stringify(c)}:`);
  const keys = cols.map(([c]) => c);
  const n = cols.length;
  return (seq, row, text, at, end) => {
    let line = `{"${OFFSET_COLUMN}":${seq}`;
    for (let i = 0; i < n; i++) {
      line += names[i];
      const a = at === undefined ? -1 : (at[i] as number);
      if (a >= 0) {
        line += (text as string).slice(a, (end as Int32Array)[i]);
        continue;
      }
      const v = row[keys[i] as string] ?? null;
      line += v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : String(v);
    }
    return `${line}}`;
  };
}

/**
 * Converts JSON-lines files of offlineLinePrinter (one or several: they are read as one) into a
 * Parquet file at `file`, ordered by sequence; written beside and renamed.
 */
export async function writeEventLinesParquet(
  engine: DuckDbEngine,
  source: Source,
  jsonl: string | string[],
  file: string,
): Promise<void> {
  const cols = Object.entries(source.columns);
  const staged = `${file}.tmp`;
  const inputs = (Array.isArray(jsonl) ? jsonl : [jsonl]).map(stringLiteral).join(', ');
  try {
    // timestamps come as epoch ms numbers: read as BIGINT and made instants exactly (no text parse)
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
    await engine.conn.run(
      `COPY (SELECT ${select.join(', ')} FROM read_json([${inputs}], format = 'newline_delimited', columns = {${spec}}) ORDER BY ${quoteIdent(OFFSET_COLUMN)})
       TO ${stringLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    renameSync(staged, file);
  } finally {
    rmSync(staged, { force: true });
  }
}
