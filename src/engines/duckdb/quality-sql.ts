// How DuckDB spells the SQL of quality checks (printed once in sql/quality-sql.ts), and the
// measurements run over a DuckDB connection.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { Measurement, MeasureRequest } from '../measure.js';
import { measure as measureWith, type QualityDialect, type Row } from '../sql/quality-sql.js';
import { duckdbDialect } from './dialect.js';
import { instantLiteral, stringLiteral } from './types.js';
import { sourceTable, TS_COLUMN } from './view-sql.js';

export const duckdbQuality: QualityDialect = {
  sql: duckdbDialect,
  eventTimeColumn: TS_COLUMN,
  instant: instantLiteral,
  sourceTable,
  parquetFile: (path) => `read_parquet(${stringLiteral(path)})`,
  quantiles: (v, qs) => `quantile_cont(${v}, [${qs.join(', ')}])`,
  countBelow: (edges, v) => `len(list_filter(${edges}, e -> e < ${v}))`,
  binNumbers: (n) => `SELECT range AS bin FROM range(${n})`,
  epochMillis: (ts) => `epoch_ms(${ts})`,
  // The node API gives BIGINTs as bigint and temporal values as Dates.
  printable: (row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [
        k,
        typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v,
      ]),
    ),
};

async function all(conn: DuckDBConnection, sql: string): Promise<Row[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[];
}

export function measure(conn: DuckDBConnection, req: MeasureRequest): Promise<Measurement> {
  return measureWith(duckdbQuality, (sql) => all(conn, sql), req);
}
