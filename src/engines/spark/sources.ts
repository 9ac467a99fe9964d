// Reads a source's files into a typed Spark temp view, checked against the contract like the DuckDB
// engine does: contract columns present, values parsable, event times and entity keys not null,
// then deduplicated (last read wins). Timestamps without an offset are local to the project timezone.

import { AsofError } from '../../errors.js';
import type { Source } from '../../spec/project.js';
import type { ColumnType } from '../../types.js';
import type { LoadedSource, SourceFile } from '../engine.js';
import { SPARK_TYPES, sparkIdent, sparkString } from './dialect.js';
import { sparkSourceTable, TS_COLUMN } from './view-sql.js';

/** What the source loader needs from the driver. */
export interface SparkJobs {
  job(op: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
  materialize(name: string, sql: string): Promise<number>;
  queryObjects(sql: string): Promise<Record<string, unknown>[]>;
  dropResult(name: string): Promise<void>;
}

/**
 * The instant of a wall time `w` (a TIMESTAMP read in UTC) in `timezone`. to_utc_timestamp moves a
 * skipped time forward but picks the earlier of two repeated instants; the later one is w minus the
 * offset in force a few hours on, kept when it maps back to the same wall time.
 */
export function sparkLocalToInstant(w: string, timezone: string): string {
  const tz = sparkString(timezone);
  const early = `to_utc_timestamp(${w}, ${tz})`;
  const probe = `(${early} + INTERVAL 3 HOURS)`;
  const offset = `(unix_micros(from_utc_timestamp(${probe}, ${tz})) - unix_micros(${probe}))`;
  const late = `timestamp_micros(unix_micros(${w}) - ${offset})`;
  return `(CASE WHEN ${late} > ${early} AND from_utc_timestamp(${late}, ${tz}) = ${w} THEN ${late} ELSE ${early} END)`;
}

const OFFSET_RE = "'([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)$'";

/** SQL converting one raw column (Spark type `rawType`) to its contract type; NULL where unreadable. */
function typedValue(raw: string, rawType: string, type: ColumnType, timezone: string): string {
  if (type === 'timestamp') {
    if (rawType === 'timestamp') return raw;
    if (rawType === 'timestamp_ntz' || rawType === 'date')
      return sparkLocalToInstant(`CAST(CAST(${raw} AS TIMESTAMP_NTZ) AS TIMESTAMP)`, timezone);
    const s = `CAST(${raw} AS STRING)`;
    return `(CASE WHEN char_length(${s}) > 10 AND ${s} RLIKE ${OFFSET_RE} THEN try_cast(${s} AS TIMESTAMP) ELSE ${sparkLocalToInstant(`try_cast(${s} AS TIMESTAMP)`, timezone)} END)`;
  }
  if (type === 'date' && rawType === 'timestamp')
    return `to_date(from_utc_timestamp(${raw}, ${sparkString(timezone)}))`;
  // NaN and ±Infinity are not values of a double column (as in the DuckDB loader and the stream)
  if (type === 'double') {
    const d = `try_cast(${raw} AS DOUBLE)`;
    return `(CASE WHEN isnan(${d}) OR abs(${d}) = double('infinity') THEN NULL ELSE ${d} END)`;
  }
  return `try_cast(${raw} AS ${SPARK_TYPES[type]})`;
}

export async function loadSparkSource(
  jobs: SparkJobs,
  source: Source,
  files: SourceFile[],
  timezone: string,
  nonNullKeys: string[],
): Promise<LoadedSource> {
  const cols = Object.entries(source.columns);
  const rawView = `__raw_${source.name}`;
  const read = await jobs.job('read', {
    name: rawView,
    files: files.map((f) => f.path),
    format: source.format,
    columns: cols.map(([c]) => c),
  });
  const unreadable = read.unreadable as { file: string; message: string } | undefined;
  if (unreadable) {
    throw new AsofError('contract', `cannot read ${source.format} file: ${unreadable.message}`, {
      file: unreadable.file,
    });
  }
  const missing = read.missing as { file: string; columns: string[]; found: string[] } | undefined;
  if (missing) {
    throw new AsofError(
      'contract',
      `source '${source.name}': contract column(s) ${missing.columns.map((c) => `'${c}'`).join(', ')} missing from the file (found: ${missing.found.join(', ')})`,
      { file: missing.file, dataColumn: missing.columns[0] },
      `fix the file, or edit sources.${source.name}.columns in the spec`,
    );
  }
  const physical = read.schema as Record<string, string>;
  const id = sparkIdent;
  const rawName = (c: string) => id(`__raw_${c}`);
  const typed = cols.map(
    ([c, t]) => `${typedValue(id(c), physical[c] ?? 'string', t, timezone)} AS ${id(c)}`,
  );
  const loadView = `__load_${source.name}`;
  await jobs.materialize(
    loadView,
    `SELECT ${typed.join(', ')}, ${cols.map(([c]) => `${id(c)} AS ${rawName(c)}`).join(', ')}, __file, __file_idx, __mono
     FROM ${id(rawView)}`,
  );
  const tsType = source.columns[source.timestamp];
  const tsCol = id(source.timestamp);
  const problems = [
    ...cols.map(
      ([c, t]) =>
        `WHEN ${rawName(c)} IS NOT NULL AND ${id(c)} IS NULL THEN concat(${sparkString(`column ${c}: cannot read '`)}, CAST(${rawName(c)} AS STRING), ${sparkString(`' as ${t}`)})`,
    ),
    `WHEN ${tsCol} IS NULL THEN ${sparkString(`column ${source.timestamp}: the event time is empty`)}`,
    ...nonNullKeys.map(
      (k) => `WHEN ${id(k)} IS NULL THEN ${sparkString(`column ${k}: the entity key is empty`)}`,
    ),
  ];
  // No row numbers up front (a sort per file): __mono orders rows within a file, and the line
  // numbers of the (at most three) reported rows are counted only when there are any.
  const bad = await jobs.queryObjects(
    `WITH p AS (SELECT __file, __file_idx, __mono, CASE ${problems.join(' ')} END AS problem FROM ${id(loadView)})
     SELECT __file, __file_idx, __mono, problem, (SELECT count(*) FROM p WHERE problem IS NOT NULL) AS n
     FROM p WHERE problem IS NOT NULL ORDER BY __file_idx, __mono LIMIT 3`,
  );
  const first = bad[0];
  if (first) {
    for (const b of bad) {
      const [r] = await jobs.queryObjects(
        `SELECT count(*) AS file_row FROM ${id(loadView)} WHERE __file_idx = ${Number(b.__file_idx)} AND __mono <= ${Number(b.__mono)}`,
      );
      b.file_row = r?.file_row;
    }
    await jobs.dropResult(loadView);
    const where = (row: number) => (source.format === 'csv' ? `line ${row + 1}` : `row ${row}`);
    const examples = bad.map((b) => `${where(Number(b.file_row))}: ${String(b.problem)}`);
    throw new AsofError(
      'contract',
      `source '${source.name}': ${Number(first.n)} row(s) break the contract, e.g. at ${where(Number(first.file_row))}:\n    ${examples.join('\n    ')}`,
      { file: String(first.__file), dataColumn: /^column (\w+)/.exec(String(first.problem))?.[1] },
      `fix the data, or the contract in sources.${source.name}.columns`,
    );
  }
  const ts = tsType === 'date' ? sparkLocalToInstant(`CAST(${tsCol} AS TIMESTAMP)`, timezone) : tsCol;
  const keep = cols.map(([c]) => id(c)).join(', ');
  const select = `SELECT ${keep}, ${ts} AS ${id(TS_COLUMN)}, __file_idx, __mono FROM ${id(loadView)}`;
  const dedupe = source.primaryKey
    ? `SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY ${source.primaryKey.map(id).join(', ')} ORDER BY __file_idx DESC, __mono DESC) AS __keep FROM (${select})) WHERE __keep = 1`
    : select;
  const table = sparkSourceTable(source.name).slice(1, -1);
  const rows = await jobs.materialize(table, dedupe);
  await jobs.dropResult(loadView);
  return { source, files, rows };
}
