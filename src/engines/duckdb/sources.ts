// Reads a source's files into a typed DuckDB table, checked against the contract: every contract
// column present, every value parsable, event times present, entity keys not null; then dedupes.
// Timestamps without an offset are local to the project timezone; with one, they are converted.

import type { DuckDBConnection } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { Source } from '../../spec/project.js';
import type { ColumnType } from '../../types.js';
import type { LoadedSource, SourceFile } from '../engine.js';
import { duckdbType, quoteIdent, stringLiteral } from './types.js';
import { sourceTable, TS_COLUMN } from './view-sql.js';

async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

function fileList(files: SourceFile[]): string {
  return `[${files.map((f) => stringLiteral(f.path)).join(', ')}]`;
}

/** The table function that reads `files` as they are (strings for text formats). */
function readFunction(source: Source, files: string): string {
  switch (source.format) {
    case 'csv':
      return `read_csv(${files}, header = true, all_varchar = true, filename = true, union_by_name = true)`;
    case 'json':
    case 'jsonl': {
      const cols = Object.keys(source.columns)
        .map((c) => `${stringLiteral(c)}: 'VARCHAR'`)
        .join(', ');
      const fmt = source.format === 'jsonl' ? 'newline_delimited' : 'auto';
      return `read_json(${files}, format = '${fmt}', columns = {${cols}}, filename = true)`;
    }
    case 'parquet':
      return `read_parquet(${files}, filename = true, union_by_name = true)`;
  }
}

/** The columns each file actually has, to name a missing contract column with its file. */
async function checkColumnsPresent(conn: DuckDBConnection, source: Source, files: SourceFile[]) {
  const physical = new Map<string, string>();
  for (const f of files) {
    const one = `[${stringLiteral(f.path)}]`;
    const fn =
      source.format === 'json' || source.format === 'jsonl'
        ? `read_json_auto(${one}, format = '${source.format === 'jsonl' ? 'newline_delimited' : 'auto'}')`
        : readFunction(source, one);
    let described: Record<string, unknown>[];
    try {
      described = await rows(conn, `DESCRIBE SELECT * FROM ${fn}`);
    } catch (e) {
      throw new AsofError(
        'contract',
        `cannot read ${source.format} file: ${(e as Error).message.split('\n')[0]}`,
        {
          file: f.path,
        },
      );
    }
    const have = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
    const missing = Object.keys(source.columns).filter((c) => !have.has(c));
    if (missing.length > 0) {
      throw new AsofError(
        'contract',
        `source '${source.name}': contract column(s) ${missing.map((c) => `'${c}'`).join(', ')} missing from the file (found: ${[...have.keys()].filter((c) => c !== 'filename').join(', ')})`,
        { file: f.path, dataColumn: missing[0] },
        `fix the file, or edit sources.${source.name}.columns in the spec`,
      );
    }
    for (const [c, t] of have) if (!physical.has(c)) physical.set(c, t);
  }
  return physical;
}

/** SQL converting one raw column to its contract type; NULL where the value cannot be read. */
function typedValue(raw: string, rawType: string, type: ColumnType, timezone: string): string {
  const tz = stringLiteral(timezone);
  if (type === 'timestamp') {
    if (rawType === 'TIMESTAMP WITH TIME ZONE') return raw;
    if (rawType.startsWith('TIMESTAMP') || rawType === 'DATE') return `timezone(${tz}, ${raw}::TIMESTAMP)`;
    const s = `${raw}::VARCHAR`;
    return `CASE WHEN length(${s}) > 10 AND regexp_matches(${s}, '([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)$') THEN TRY_CAST(${s} AS TIMESTAMPTZ) ELSE timezone(${tz}, TRY_CAST(${s} AS TIMESTAMP)) END`;
  }
  if (type === 'date' && rawType === 'TIMESTAMP WITH TIME ZONE') return `(${raw} AT TIME ZONE ${tz})::DATE`;
  return `TRY_CAST(${raw} AS ${duckdbType(type)})`;
}

export async function loadSourceTable(
  conn: DuckDBConnection,
  source: Source,
  files: SourceFile[],
  timezone: string,
  nonNullKeys: string[],
): Promise<LoadedSource> {
  const physical = await checkColumnsPresent(conn, source, files);
  const cols = Object.entries(source.columns);
  const typed = cols.map(
    ([c, t]) => `${typedValue(quoteIdent(c), physical.get(c) ?? 'VARCHAR', t, timezone)} AS ${quoteIdent(c)}`,
  );
  const rawCols = cols.map(([c]) => `${quoteIdent(c)} AS ${quoteIdent(`__raw_${c}`)}`);
  const tsType = source.columns[source.timestamp];
  const tsCol = quoteIdent(source.timestamp);
  const ts = tsType === 'date' ? `timezone(${stringLiteral(timezone)}, ${tsCol}::TIMESTAMP)` : tsCol;
  const problems = [
    ...cols.map(
      ([c, t]) =>
        `WHEN ${quoteIdent(`__raw_${c}`)} IS NOT NULL AND ${quoteIdent(c)} IS NULL THEN 'column ${c}: cannot read ''' || ${quoteIdent(`__raw_${c}`)}::VARCHAR || ''' as ${t}'`,
    ),
    `WHEN ${tsCol} IS NULL THEN 'column ${source.timestamp}: the event time is empty'`,
    ...nonNullKeys.map((k) => `WHEN ${quoteIdent(k)} IS NULL THEN 'column ${k}: the entity key is empty'`),
  ];
  const table = sourceTable(source.name);
  const read = `SELECT *, row_number() OVER () AS __row FROM ${readFunction(source, fileList(files))}`;
  await conn.run(`CREATE OR REPLACE TEMP TABLE __load AS
    SELECT ${typed.join(', ')}, ${rawCols.join(', ')}, filename AS __file, __row FROM (${read})`);
  const bad = await rows(
    conn,
    `WITH checked AS (
       SELECT __file, __row - min(__row) OVER (PARTITION BY __file) + 1 AS file_row,
         CASE ${problems.join(' ')} END AS problem
       FROM __load)
     SELECT __file, file_row, problem, count(*) OVER () AS n FROM checked
     WHERE problem IS NOT NULL ORDER BY __file, file_row LIMIT 3`,
  );
  const first = bad[0];
  if (first) {
    await conn.run('DROP TABLE __load');
    const n = Number(first.n);
    const row = Number(first.file_row);
    const where = source.format === 'csv' ? `line ${row + 1}` : `row ${row}`;
    const examples = bad.map(
      (b) =>
        `${source.format === 'csv' ? 'line ' + (Number(b.file_row) + 1) : 'row ' + Number(b.file_row)}: ${String(b.problem)}`,
    );
    throw new AsofError(
      'contract',
      `source '${source.name}': ${n} row(s) break the contract, e.g. at ${where}:\n    ${examples.join('\n    ')}`,
      { file: String(first.__file), dataColumn: /^column (\w+)/.exec(String(first.problem))?.[1] },
      'fix the data, or the contract in sources.' + source.name + '.columns',
    );
  }
  const keep = cols.map(([c]) => quoteIdent(c)).join(', ');
  const dedupe = source.primaryKey
    ? `QUALIFY row_number() OVER (PARTITION BY ${source.primaryKey.map(quoteIdent).join(', ')} ORDER BY __row DESC) = 1`
    : '';
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${table} AS
    SELECT ${keep}, ${ts} AS ${quoteIdent(TS_COLUMN)}, __file, __row FROM __load ${dedupe}`);
  await conn.run('DROP TABLE __load');
  const count = await rows(conn, `SELECT count(*) AS n FROM ${table}`);
  return { source, files, rows: Number(count[0]?.n ?? 0) };
}
