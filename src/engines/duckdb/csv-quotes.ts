// Unterminated quotes in CSV sources, reported as a contract error with the file, line and column.
// DuckDB reports them itself when it reads the file with '"' as the quote character; but when its
// sniffer finds no dialect in which the quotes parse, it reads quotes as plain characters and the
// stray quote would stay inside a value (an entity key "u1 beside u1), so that case is checked here.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DuckDBConnection } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { Source } from '../../spec/project.js';
import type { SourceFile } from '../engine.js';
import { quoteIdent, stringLiteral } from './types.js';

const HINT =
  'close the quote (a quoted field ends with " before the next delimiter or line end; a " inside it is written "") or remove it, then run again';

/** Whether DuckDB's sniffer reads `file` without a quote character (quotes as plain text). */
async function readWithoutQuotes(conn: DuckDBConnection, file: string): Promise<boolean> {
  const r = (await conn.runAndReadAll(`SELECT Quote AS q FROM sniff_csv(${stringLiteral(file)})`))
    .getRowObjectsJS()
    .at(0);
  return r !== undefined && String(r.q) === '(empty)';
}

/** Line `n` (1-based) of a file, read as a stream (only on the error path). */
async function lineOf(file: string, n: number): Promise<string | undefined> {
  const input = createReadStream(file, 'utf8');
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let i = 0;
  try {
    for await (const line of lines) if (++i === n) return line;
  } catch {
    // unreadable: the error names the line without its column
  } finally {
    lines.close();
    input.destroy();
  }
  return undefined;
}

/**
 * The 1-based column of the quote that opens a field and does not close it on `line`: the field's
 * closing quote is missing, or is followed by something other than the delimiter.
 */
export function openQuoteColumn(line: string, delimiter = ','): number | undefined {
  let first: number | undefined;
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      first ??= i + 1;
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return i + 1;
        if (line[q + 1] === '"') {
          j = q + 2;
          continue;
        }
        if (q + 1 < line.length && !line.startsWith(delimiter, q + 1)) return i + 1;
        i = q + 1;
        break;
      }
    } else {
      const d = line.indexOf(delimiter, i);
      if (d < 0) break;
      i = d;
    }
    if (!line.startsWith(delimiter, i)) break;
    i += delimiter.length;
  }
  return first;
}

async function unterminatedQuote(
  source: Source,
  file: string,
  line: number,
  dataColumn?: string,
): Promise<AsofError> {
  const text = await lineOf(file, line);
  const column = text === undefined ? undefined : openQuoteColumn(text);
  const at = `line ${line}${column === undefined ? '' : `, column ${column}`}`;
  return new AsofError(
    'contract',
    `source '${source.name}': cannot read csv file: an unterminated quote at ${at}; nothing was written`,
    { file, line, ...(column === undefined ? {} : { column }), ...(dataColumn ? { dataColumn } : {}) },
    HINT,
  );
}

/** DuckDB's "Value with unterminated quote found" (a CSV read with '"' quoting) as a contract error. */
export async function unterminatedQuoteError(
  e: unknown,
  source: Source,
  files: SourceFile[],
): Promise<AsofError | undefined> {
  const msg = e instanceof Error ? e.message : '';
  if (!/unterminated quote/i.test(msg)) return undefined;
  const line = /CSV Error on Line: (\d+)/.exec(msg)?.[1];
  const named = /^\s*file = (.*)$/m.exec(msg)?.[1]?.trim();
  const file = files.find((f) => f.path === named)?.path ?? named ?? files[0]?.path;
  if (line === undefined || file === undefined) return undefined;
  return unterminatedQuote(source, file, Number(line));
}

/**
 * The first string value (in the loaded table `__load`) that begins with a quote in a file the
 * sniffer read without quoting: a quoted field that never closed. (In a file read with quoting, such
 * a value is a legitimate """x"""; numbers and times beginning with a quote do not parse and are
 * already rejected with their raw value.) One scan of the string columns; a file is sniffed only
 * when it has such a value.
 */
export async function checkStrayQuotes(conn: DuckDBConnection, source: Source): Promise<void> {
  const strings = Object.entries(source.columns)
    .filter(([, t]) => t === 'string')
    .map(([c]) => c);
  if (strings.length === 0) return;
  const opens = strings.map((c) => `starts_with(${quoteIdent(c)}, '"')`);
  const suspects = (
    await conn.runAndReadAll(
      `SELECT __file AS file, min(__row) AS first_row FROM __load WHERE ${opens.join(' OR ')} GROUP BY __file ORDER BY first_row`,
    )
  ).getRowObjectsJS();
  for (const s of suspects) {
    const file = String(s.file);
    if (!(await readWithoutQuotes(conn, file))) continue;
    const which = `CASE ${strings.map((c, i) => `WHEN ${opens[i]} THEN ${stringLiteral(c)}`).join(' ')} END`;
    const found = (
      await conn.runAndReadAll(
        `SELECT ${s.first_row}::BIGINT - (SELECT min(__row) FROM __load WHERE __file = ${stringLiteral(file)}) + 1 AS file_row,
           ${which} AS col FROM __load WHERE __row = ${s.first_row}::BIGINT`,
      )
    )
      .getRowObjectsJS()
      .at(0);
    await conn.run('DROP TABLE __load');
    // read without quoting: one record per line, after the header line
    throw await unterminatedQuote(source, file, Number(found?.file_row) + 1, String(found?.col));
  }
}
