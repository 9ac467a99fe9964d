// Reads one raw file as it is into the temp table __land: JSON documents kept whole (a JSON column)
// plus the contract's top-level fields typed; CSV/Parquet as columns; and the row's load metadata.

import type { DuckDBConnection } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { Columns } from '../../types.js';
import type { LandFile } from '../warehouse.js';
import { typedValue } from './sources.js';
import { instantLiteral, quoteIdent, stringLiteral } from './types.js';

export const STAGE_TABLE = '__land';
export const JSON_COLUMN = '_json';

export interface StagedColumn {
  name: string;
  /** DuckDB type name, as DESCRIBE prints it. */
  type: string;
}

/** The raw columns of a file as read (strings for CSV), to type the contract's columns from. */
async function describe(conn: DuckDBConnection, read: string): Promise<Map<string, string>> {
  const r = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${read}`);
  return new Map(r.getRowObjectsJS().map((o) => [String(o.column_name), String(o.column_type)]));
}

export async function stageFile(
  conn: DuckDBConnection,
  file: LandFile,
  contract: Columns,
  timezone: string,
  meta: { loadId: string; loadedAt: number },
): Promise<{ columns: StagedColumn[]; rows: number }> {
  const f = stringLiteral(file.path);
  const metaCols = [
    `${stringLiteral(meta.loadId)} AS _load_id`,
    `${instantLiteral(meta.loadedAt)} AS _loaded_at`,
    `${f} AS _file`,
    'CAST(row_number() OVER () AS BIGINT) AS _row',
  ];
  let select: string;
  try {
    if (file.format === 'json' || file.format === 'jsonl') {
      const fmt = file.format === 'jsonl' ? 'newline_delimited' : 'auto';
      const read = `read_json_objects(${f}, format = '${fmt}')`;
      const typed = Object.entries(contract).map(
        ([c, t]) =>
          `${typedValue(`(json ->> ${stringLiteral(c)})`, 'VARCHAR', t, timezone)} AS ${quoteIdent(c)}`,
      );
      select = `SELECT CAST(json AS JSON) AS ${JSON_COLUMN}, ${[...typed, ...metaCols].join(', ')} FROM ${read}`;
    } else {
      const read =
        file.format === 'csv' ? `read_csv(${f}, header = true, all_varchar = true)` : `read_parquet(${f})`;
      const physical = await describe(conn, read);
      const cols = [...physical].map(([c, t]) => {
        const type = contract[c];
        return type ? `${typedValue(quoteIdent(c), t, type, timezone)} AS ${quoteIdent(c)}` : quoteIdent(c);
      });
      select = `SELECT ${[...cols, ...metaCols].join(', ')} FROM ${read}`;
    }
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${STAGE_TABLE} AS ${select}`);
  } catch (e) {
    if (e instanceof AsofError) throw e;
    throw new AsofError(
      'contract',
      `cannot read ${file.format} file: ${(e as Error).message.split('\n')[0]}`,
      { file: file.path },
      'fix the file, or pass the right --format',
    );
  }
  const described = await describe(conn, STAGE_TABLE);
  const n = await conn.runAndReadAll(`SELECT count(*) FROM ${STAGE_TABLE}`);
  return {
    columns: [...described].map(([name, type]) => ({ name, type })),
    rows: Number(n.getRowsJS()[0]?.[0] ?? 0),
  };
}
