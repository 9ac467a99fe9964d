// Runs a backfill chunk on DuckDB: the chunk's one query into a shared table, then one Parquet file
// per date written from it (by several connections at once when asked, each a bounded writer).
// When every kind merges from partials, the table holds per-(entity, bucket) partials and each
// date's write aggregates them itself (no dense grid, no window operator).

import type { DuckDBConnection } from '@duckdb/node-api';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import { backfillChunkSql, backfillDateSql, backfillPartialsSql, partialsOnly } from './backfill-sql.js';
import type { DuckDbEngine } from './engine.js';
import { dateLiteral, quoteIdent, stringLiteral } from './types.js';

export interface ChunkResult {
  table: string;
  /** The partition's columns (name, DuckDB type), as `asof build` records them. */
  columns: { name: string; type: string }[];
  /** Rows per as_of_date. */
  rows: Map<string, number>;
  /** Per as_of_date, the query that computes it from the partials table (partials mode only). */
  dateSql?: Map<string, string>;
}

/** Computes every date of the chunk into `table`, a non-temporary table other connections can read. */
export async function materializeChunk(
  engine: DuckDbEngine,
  plan: BackfillChunkPlan,
  table: string,
): Promise<ChunkResult> {
  const t = quoteIdent(table);
  if (partialsOnly(plan)) {
    await engine.conn.run(`CREATE OR REPLACE TABLE ${t} AS ${backfillPartialsSql(plan)}`);
    const dateSql = new Map(plan.anchors.map((a, i) => [a.asOfDate, backfillDateSql(plan, i, table)]));
    const described = await engine.conn.runAndReadAll(`DESCRIBE ${dateSql.get(plan.anchors[0]!.asOfDate)}`);
    const columns = described.getRowsJS().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
    // An entity is on a date from its first bucket on: rows per date from the first buckets.
    const keyList = plan.view.keys.map(quoteIdent).join(', ');
    const firsts = await engine.conn.runAndReadAll(
      `SELECT "__fb", count(*) FROM (SELECT min("__b") AS "__fb" FROM ${t} GROUP BY ${keyList}) GROUP BY ALL`,
    );
    const byFirst = firsts.getRowsJS().map((r) => [Number(r[0]), Number(r[1])] as const);
    const rows = new Map<string, number>();
    for (const a of plan.anchors)
      rows.set(
        a.asOfDate,
        byFirst.reduce((n, [fb, c]) => (fb <= a.bucket ? n + c : n), 0),
      );
    return { table, columns, rows, dateSql };
  }
  await engine.conn.run(`CREATE OR REPLACE TABLE ${t} AS ${backfillChunkSql(plan)}`);
  const described = await engine.conn.runAndReadAll(`DESCRIBE ${t}`);
  const columns = described.getRowsJS().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
  const counts = await engine.conn.runAndReadAll(
    `SELECT strftime("as_of_date", '%Y-%m-%d'), count(*) FROM ${t} GROUP BY ALL`,
  );
  const rows = new Map<string, number>();
  for (const a of plan.anchors) rows.set(a.asOfDate, 0);
  for (const r of counts.getRowsJS()) rows.set(String(r[0]), Number(r[1]));
  return { table, columns, rows };
}

/** Writes one date of a materialized chunk to a Parquet file, rows sorted by the entity keys. */
export async function writeChunkDate(
  conn: DuckDBConnection,
  chunk: ChunkResult,
  keys: string[],
  asOfDate: string,
  file: string,
): Promise<void> {
  const options = '(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)';
  const fused = chunk.dateSql?.get(asOfDate);
  if (fused !== undefined) {
    await conn.run(`COPY (${fused}) TO ${stringLiteral(file)} ${options}`);
    return;
  }
  await conn.run(
    `COPY (SELECT * FROM ${quoteIdent(chunk.table)} WHERE "as_of_date" = ${dateLiteral(asOfDate)} ORDER BY ${keys.map(quoteIdent).join(', ')}) TO ${stringLiteral(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
  );
}

export async function dropChunk(engine: DuckDbEngine, chunk: ChunkResult): Promise<void> {
  await engine.conn.run(`DROP TABLE IF EXISTS ${quoteIdent(chunk.table)}`);
}
