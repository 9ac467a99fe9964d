// Runs a backfill chunk on DuckDB: the chunk's one query into a shared table, then one Parquet file
// per date written from it (by several connections at once when asked, each a bounded writer).
// When every kind merges from partials, the table holds per-(entity id, bucket) partials and each
// date's write aggregates the buckets of its windows itself (no dense grid, no window operator).

import { mkdirSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import { perfectHashSql } from './aggregates.js';
import {
  backfillChunkSql,
  backfillDateSql,
  backfillEntitiesSql,
  backfillIndexedPartialsSql,
  backfillPartialsSql,
  partialsOnly,
} from './backfill-sql.js';
import type { DuckDbEngine } from './engine.js';
import { dateLiteral, quoteIdent, stringLiteral } from './types.js';

export interface ChunkResult {
  table: string;
  /** Every table the chunk made (dropped together). */
  tables: string[];
  /** The partition's columns (name, DuckDB type), as `asof build` records them. */
  columns: { name: string; type: string }[];
  /** Rows per as_of_date. */
  rows: Map<string, number>;
  /** Per as_of_date, the query that computes it from the partials table (partials mode only). */
  dateSql?: Map<string, string>;
  /** The session setting for each date's GROUP BY of the entity ids 1..n (partials mode only). */
  perfectHash?: string;
}

/**
 * Points DuckDB's spill files (the loaded source, sorts and aggregates beyond memory_limit) at
 * `dir`: beside the lake on the project's disk rather than os.tmpdir(), which may be RAM (tmpfs).
 * Set before anything spills (DuckDB refuses to move a temp directory in use).
 */
export async function spillTo(engine: DuckDbEngine, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await engine.conn.run(`SET temp_directory = ${stringLiteral(dir)}`);
}

/** Computes every date of the chunk into `table`, a non-temporary table other connections can read. */
export async function materializeChunk(
  engine: DuckDbEngine,
  plan: BackfillChunkPlan,
  table: string,
): Promise<ChunkResult> {
  const t = quoteIdent(table);
  if (partialsOnly(plan)) {
    const raw = `${table}_raw`;
    const entities = `${table}_entities`;
    await engine.conn.run(`CREATE OR REPLACE TABLE ${quoteIdent(raw)} AS ${backfillPartialsSql(plan)}`);
    await engine.conn.run(
      `CREATE OR REPLACE TABLE ${quoteIdent(entities)} AS ${backfillEntitiesSql(plan, raw)}`,
    );
    await engine.conn.run(
      `CREATE OR REPLACE TABLE ${t} AS ${backfillIndexedPartialsSql(plan, raw, entities)}`,
    );
    await engine.conn.run(`DROP TABLE ${quoteIdent(raw)}`);
    const dateSql = new Map(
      plan.anchors.map((a, i) => [a.asOfDate, backfillDateSql(plan, i, table, entities)]),
    );
    const described = await engine.conn.runAndReadAll(`DESCRIBE ${dateSql.get(plan.anchors[0]!.asOfDate)}`);
    const columns = described.getRowsJS().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
    // An entity is on a date from its first bucket on: rows per date from the first buckets.
    const firsts = await engine.conn.runAndReadAll(
      `SELECT "__fb", count(*) FROM ${quoteIdent(entities)} GROUP BY ALL`,
    );
    const byFirst = firsts.getRowsJS().map((r) => [Number(r[0]), Number(r[1])] as const);
    const rows = new Map<string, number>();
    for (const a of plan.anchors)
      rows.set(
        a.asOfDate,
        byFirst.reduce((n, [fb, c]) => (fb <= a.bucket ? n + c : n), 0),
      );
    const total = byFirst.reduce((n, [, c]) => n + c, 0);
    const perfectHash = perfectHashSql(total, plan.view.features.length);
    return { table, tables: [table, entities], columns, rows, dateSql, perfectHash };
  }
  await engine.conn.run(`CREATE OR REPLACE TABLE ${t} AS ${backfillChunkSql(plan)}`);
  // The entity id column "__e" orders each date's rows and is not written.
  const described = await engine.conn.runAndReadAll(`DESCRIBE SELECT * EXCLUDE ("__e") FROM ${t}`);
  const columns = described.getRowsJS().map((r) => ({ name: String(r[0]), type: String(r[1]) }));
  const counts = await engine.conn.runAndReadAll(
    `SELECT strftime("as_of_date", '%Y-%m-%d'), count(*) FROM ${t} GROUP BY ALL`,
  );
  const rows = new Map<string, number>();
  for (const a of plan.anchors) rows.set(a.asOfDate, 0);
  for (const r of counts.getRowsJS()) rows.set(String(r[0]), Number(r[1]));
  return { table, tables: [table], columns, rows };
}

/** Writes one date of a materialized chunk to a Parquet file, rows sorted by the entity keys. */
export async function writeChunkDate(
  conn: DuckDBConnection,
  chunk: ChunkResult,
  asOfDate: string,
  file: string,
): Promise<void> {
  const options = '(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)';
  const fused = chunk.dateSql?.get(asOfDate);
  if (fused !== undefined) {
    if (chunk.perfectHash) await conn.run(chunk.perfectHash);
    await conn.run(`COPY (${fused}) TO ${stringLiteral(file)} ${options}`);
    return;
  }
  await conn.run(
    `COPY (SELECT * EXCLUDE ("__e") FROM ${quoteIdent(chunk.table)} WHERE "as_of_date" = ${dateLiteral(asOfDate)} ORDER BY "__e") TO ${stringLiteral(file)} ${options}`,
  );
}

export async function dropChunk(engine: DuckDbEngine, chunk: ChunkResult): Promise<void> {
  for (const t of chunk.tables) await engine.conn.run(`DROP TABLE IF EXISTS ${quoteIdent(t)}`);
}
