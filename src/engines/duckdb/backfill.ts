// Runs a backfill chunk on DuckDB: the chunk's one query into a shared table, then one Parquet file
// per date written from it (by several connections at once when asked, each a bounded writer).

import type { DuckDBConnection } from '@duckdb/node-api';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import { backfillChunkSql } from './backfill-sql.js';
import type { DuckDbEngine } from './engine.js';
import { dateLiteral, quoteIdent, stringLiteral } from './types.js';

export interface ChunkResult {
  table: string;
  /** The partition's columns (name, DuckDB type), as `asof build` records them. */
  columns: { name: string; type: string }[];
  /** Rows per as_of_date. */
  rows: Map<string, number>;
}

/** Computes every date of the chunk into `table`, a non-temporary table other connections can read. */
export async function materializeChunk(
  engine: DuckDbEngine,
  plan: BackfillChunkPlan,
  table: string,
): Promise<ChunkResult> {
  const t = quoteIdent(table);
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
  await conn.run(
    `COPY (SELECT * FROM ${quoteIdent(chunk.table)} WHERE "as_of_date" = ${dateLiteral(asOfDate)} ORDER BY ${keys.map(quoteIdent).join(', ')}) TO ${stringLiteral(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
  );
}

export async function dropChunk(engine: DuckDbEngine, chunk: ChunkResult): Promise<void> {
  await engine.conn.run(`DROP TABLE IF EXISTS ${quoteIdent(chunk.table)}`);
}
