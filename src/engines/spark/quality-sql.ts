// How Spark SQL spells the SQL of quality checks (printed once in sql/quality-sql.ts), over a
// materialized result (a temp view) or a loaded source.

import type { Measurement, MeasureRequest } from '../measure.js';
import { measure, type QualityDialect } from '../sql/quality-sql.js';
import { sparkDialect, sparkIdent, sparkInstant } from './dialect.js';
import { sparkSourceTable, TS_COLUMN } from './view-sql.js';

export interface SparkQuery {
  queryObjects(sql: string): Promise<Record<string, unknown>[]>;
}

export const sparkQuality: QualityDialect = {
  sql: sparkDialect,
  eventTimeColumn: TS_COLUMN,
  instant: sparkInstant,
  sourceTable: sparkSourceTable,
  parquetFile: (path) => `parquet.${sparkIdent(path)}`,
  // percentile() interpolates linearly, as DuckDB's quantile_cont does.
  quantiles: (v, qs) =>
    qs.length > 0 ? `percentile(${v}, array(${qs.join(', ')}))` : 'CAST(array() AS ARRAY<DOUBLE>)',
  countBelow: (edges, v) => `size(filter(${edges}, e -> e < ${v}))`,
  binNumbers: (n) => `SELECT CAST(id AS INT) AS bin FROM range(${n})`,
  epochMillis: (ts) => `unix_millis(${ts})`,
  // Spark answers instants as UTC wall time without a zone: written as DuckDB's ISO instants.
  printable: (row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [
        k,
        typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/.test(v)
          ? new Date(`${v}Z`).toISOString()
          : v,
      ]),
    ),
};

export function sparkMeasure(q: SparkQuery, req: MeasureRequest): Promise<Measurement> {
  return measure(sparkQuality, (sql) => q.queryObjects(sql), req);
}
