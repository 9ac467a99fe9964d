// The PostgreSQL warehouse (`warehouse: { type: postgres, url }`): raw loads and model relations in
// a server. Files are read by an in-process DuckDB (the same reader as the DuckDB warehouse) and
// inserted in batches inside one transaction.

import { DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';
import { AsofError } from '../../errors.js';
import { STAGE_TABLE, stageFile } from '../duckdb/landing.js';
import type { QueryResult } from '../engine.js';
import { addMissingColumns, inTransaction, landFiles, relationKindOf } from '../sql-warehouse.js';
import {
  type LandedFile,
  type LandRequest,
  LOADS_TABLE,
  type RelationKind,
  type Warehouse,
} from '../warehouse.js';
import { postgresDialect, postgresType, quoteIdent, RESULT_TYPE_NAMES, stringLiteral } from './dialect.js';

const loadsTable = `${quoteIdent(LOADS_TABLE.schema)}.${quoteIdent(LOADS_TABLE.name)}`;
const BATCH_PARAMS = 30000;

// Dates stay 'YYYY-MM-DD' (node-postgres would make local-midnight Dates), BIGINTs are bigints and
// JSON stays text, so results print as DuckDB's do.
function typesOf(pgLib: typeof pg): pg.CustomTypesConfig {
  return {
    getTypeParser(oid: number, format?: string) {
      if (oid === 1082 || oid === 114 || oid === 3802) return (v: string) => v;
      if (oid === 20) return (v: string) => BigInt(v);
      if (oid === 1700) return (v: string) => Number(v);
      return pgLib.types.getTypeParser(oid, format as 'text');
    },
  } as pg.CustomTypesConfig;
}

function param(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) return JSON.stringify(v);
  return v;
}

export class PostgresWarehouse implements Warehouse {
  readonly name = 'postgres';
  readonly dialect = postgresDialect;

  private constructor(private readonly client: pg.Client) {}

  static async open(url: string, opts: { readOnly?: boolean } = {}): Promise<PostgresWarehouse> {
    // The client library is loaded on use: importing it costs start-up time for every command.
    const { default: pgLib } = await import('pg');
    const client = new pgLib.Client({ connectionString: url, types: typesOf(pgLib) });
    try {
      await client.connect();
    } catch (e) {
      throw new AsofError(
        'usage',
        `cannot connect to the PostgreSQL warehouse: ${(e as Error).message}`,
        { specPath: 'warehouse.url' },
        'check that the server runs and the url is right',
      );
    }
    await client.query("SET TIME ZONE 'UTC'");
    if (opts.readOnly) await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    return new PostgresWarehouse(client);
  }

  async run(sql: string): Promise<void> {
    await this.client.query(sql);
  }

  async query(sql: string): Promise<QueryResult> {
    const r = await this.client.query({ text: sql, rowMode: 'array' });
    const fields = r.fields ?? [];
    return {
      columns: fields.map((f) => ({ name: f.name, type: RESULT_TYPE_NAMES[f.dataTypeID] ?? 'UNKNOWN' })),
      rows: (r.rows ?? []) as unknown[][],
    };
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    return inTransaction((sql) => this.client.query(sql), fn);
  }

  async land(req: LandRequest): Promise<LandedFile[]> {
    const reader = await DuckDBInstance.create(':memory:');
    const conn = await reader.connect();
    await conn.run("SET TimeZone = 'UTC'");
    try {
      return await landFiles(this, req, {
        textType: 'TEXT',
        // Concurrent loads of one source wait here rather than both landing the same file.
        lock: `LOCK TABLE ${loadsTable} IN EXCLUSIVE MODE`,
        landFile: async (file, target) => {
          const staged = await stageFile(conn, file, req.contract, req.timezone, req);
          const cols = staged.columns.map((c) => ({
            ...c,
            pgType: postgresType(c.type) ?? 'TEXT',
            asText: !postgresType(c.type),
          }));
          await this.run(
            `CREATE TABLE IF NOT EXISTS ${target} (${cols.map((c) => `${quoteIdent(c.name)} ${c.pgType}`).join(', ')})`,
          );
          await addMissingColumns(
            this,
            req.source,
            target,
            cols.map((c) => ({ name: c.name, type: c.pgType })),
          );
          const select = cols
            .map((c) => (c.asText ? `CAST(${quoteIdent(c.name)} AS VARCHAR)` : quoteIdent(c.name)))
            .join(', ');
          const rows = (
            await conn.runAndReadAll(`SELECT ${select} FROM ${STAGE_TABLE} ORDER BY _row`)
          ).getRowsJS();
          const perBatch = Math.max(1, Math.floor(BATCH_PARAMS / cols.length));
          const names = cols.map((c) => quoteIdent(c.name)).join(', ');
          for (let i = 0; i < rows.length; i += perBatch) {
            const batch = rows.slice(i, i + perBatch);
            const values: unknown[] = [];
            const tuples = batch.map((row) => {
              const ph = row.map((v, j) => {
                values.push(param(v));
                return `$${values.length}::${cols[j]?.pgType ?? 'TEXT'}`;
              });
              return `(${ph.join(', ')})`;
            });
            await this.client.query(`INSERT INTO ${target} (${names}) VALUES ${tuples.join(', ')}`, values);
          }
          await conn.run(`DROP TABLE ${STAGE_TABLE}`);
          return staged.rows;
        },
      });
    } finally {
      conn.closeSync();
      reader.closeSync();
    }
  }

  async relationKind(schema: string, name: string): Promise<RelationKind | undefined> {
    return relationKindOf(this, schema, name);
  }

  /** Copies the relation through an in-process DuckDB, which writes the Parquet file. */
  async exportParquet(qualified: string, file: string): Promise<number> {
    const result = await this.query(`SELECT * FROM ${qualified}`);
    const reader = await DuckDBInstance.create(':memory:');
    const conn = await reader.connect();
    try {
      await conn.run("SET TimeZone = 'UTC'");
      // Temporal values travel as ISO text and are cast back when the file is written.
      const back = (t: string) =>
        t === 'TIMESTAMP WITH TIME ZONE' ? 'TIMESTAMPTZ' : t === 'DATE' || t === 'TIMESTAMP' ? t : undefined;
      const stored = (t: string) =>
        ['BIGINT', 'INTEGER', 'SMALLINT', 'DOUBLE', 'FLOAT', 'BOOLEAN'].includes(t) ? t : 'VARCHAR';
      const cols = result.columns.map(
        (c) => `${quoteIdent(c.name)} ${stored(c.type === 'DECIMAL' ? 'DOUBLE' : c.type)}`,
      );
      await conn.run(`CREATE TABLE t (${cols.join(', ')})`);
      const appender = await conn.createAppender('t');
      for (const row of result.rows) {
        row.forEach((v, i) => {
          const t = result.columns[i]?.type ?? 'VARCHAR';
          appendValue(appender, v, t);
        });
        appender.endRow();
      }
      appender.closeSync();
      const select = result.columns
        .map((c) => {
          const t = back(c.type);
          return t ? `CAST(${quoteIdent(c.name)} AS ${t}) AS ${quoteIdent(c.name)}` : quoteIdent(c.name);
        })
        .join(', ');
      await conn.run(`COPY (SELECT ${select || '*'} FROM t) TO ${stringLiteral(file)} (FORMAT parquet)`);
      return result.rows.length;
    } finally {
      conn.closeSync();
      reader.closeSync();
    }
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

type Appender = Awaited<ReturnType<Awaited<ReturnType<DuckDBInstance['connect']>>['createAppender']>>;

function appendValue(a: Appender, v: unknown, type: string): void {
  if (v === null || v === undefined) a.appendNull();
  else if (type === 'BIGINT') a.appendBigInt(BigInt(v as bigint));
  else if (type === 'INTEGER' || type === 'SMALLINT') a.appendInteger(Number(v));
  else if (type === 'DOUBLE' || type === 'FLOAT' || type === 'DECIMAL') a.appendDouble(Number(v));
  else if (type === 'BOOLEAN') a.appendBoolean(Boolean(v));
  else if (v instanceof Date) a.appendVarchar(v.toISOString());
  else a.appendVarchar(String(v));
}
