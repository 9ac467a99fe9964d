// Per-partition column profiles for the dashboard and the data dictionary: rows, NULLs and the mean
// of each numeric column, read straight from published Parquet files in one query per view version.

import type { DuckDbEngine } from './engine.js';
import { quoteIdent, stringLiteral } from './types.js';

export interface ProfiledColumn {
  name: string;
  /** Whether a mean makes sense (int, double, bool). */
  numeric: boolean;
}

export interface PartitionProfile {
  file: string;
  rows: number;
  /** Per column: NULL count and mean (null for non-numeric columns or no value). */
  columns: Record<string, { nulls: number; mean: number | null }>;
}

/** One row per data file: rows, NULLs and means of `columns` (files must share a schema). */
export async function profileFiles(
  engine: DuckDbEngine,
  files: string[],
  columns: ProfiledColumn[],
): Promise<PartitionProfile[]> {
  if (files.length === 0) return [];
  const parts = columns.flatMap((c, i) => {
    const q = quoteIdent(c.name);
    return [
      `count(*) - count(${q}) AS n${i}`,
      c.numeric ? `avg(CAST(${q} AS DOUBLE)) AS m${i}` : `CAST(NULL AS DOUBLE) AS m${i}`,
    ];
  });
  const list = files.map(stringLiteral).join(', ');
  const sql = `SELECT filename, count(*) AS rows${parts.map((p) => `, ${p}`).join('')}
    FROM read_parquet([${list}], filename = true, union_by_name = true, hive_partitioning = false)
    GROUP BY filename ORDER BY filename`;
  const r = await engine.query(sql);
  return r.rows.map((row) => {
    const out: PartitionProfile = { file: String(row[0]), rows: Number(row[1]), columns: {} };
    columns.forEach((c, i) => {
      const mean = row[3 + 2 * i];
      out.columns[c.name] = {
        nulls: Number(row[2 + 2 * i]),
        mean: mean === null || mean === undefined ? null : Number(mean),
      };
    });
    return out;
  });
}

/**
 * PSI of `columns` in `file` against `previousFile`, by the same measure as the drift check
 * (engine.measure psi: bins at the previous partition's quantiles), so that the dashboard's drift
 * and a declared drift check's value are one definition. Null where a side has no value.
 */
export async function psiAgainst(
  engine: DuckDbEngine,
  file: string,
  previousFile: string,
  columns: string[],
  bins: number,
): Promise<Record<string, number | null>> {
  const table = '__profile_current';
  await engine.materialize(
    table,
    `SELECT * FROM read_parquet(${stringLiteral(file)}, hive_partitioning = false)`,
  );
  try {
    const out: Record<string, number | null> = {};
    for (const column of columns) {
      const m = await engine.measure({ kind: 'psi', result: table, column, previousFile, bins });
      out[column] = m.count === 0 || m.total === 0 ? null : Math.round((m.value ?? 0) * 1e6) / 1e6;
    }
    return out;
  } finally {
    await engine.dropResult(table);
  }
}
