// The embedded DuckDB warehouse: one database file (storage.warehouse) holding raw.<source> loads
// and the model relations. One process writes at a time (DuckDB's own file lock); queries open it read-only.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { QueryResult } from '../engine.js';
import {
  type LandedFile,
  type LandRequest,
  LOADS_TABLE,
  type RelationKind,
  type Warehouse,
  type WarehouseDialect,
} from '../warehouse.js';
import { STAGE_TABLE, stageFile } from './landing.js';
import { dateLiteral, instantLiteral, quoteIdent, stringLiteral } from './types.js';

export const duckdbWarehouseDialect: WarehouseDialect = {
  quoteIdent,
  stringLiteral,
  dateLiteral,
  instantLiteral,
  jsonType: 'JSON',
  // DuckDB does not track which views read a relation, so nothing cascades.
  dropRelation: (kind, q) => `DROP ${kind === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${q}`,
};

const loadsTable = `${quoteIdent(LOADS_TABLE.schema)}.${quoteIdent(LOADS_TABLE.name)}`;

export class DuckDbWarehouse implements Warehouse {
  readonly name = 'duckdb';
  readonly dialect = duckdbWarehouseDialect;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(file: string, opts: { readOnly?: boolean } = {}): Promise<DuckDbWarehouse> {
    if (opts.readOnly && !existsSync(file)) {
      throw new AsofError(
        'usage',
        'the warehouse does not exist yet',
        { file },
        "land data first with 'asof load --source S FILE'",
      );
    }
    mkdirSync(path.dirname(file), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(file, opts.readOnly ? { access_mode: 'READ_ONLY' } : {});
    } catch (e) {
      throw new AsofError(
        'lock',
        `cannot open the warehouse: ${(e as Error).message.split('\n')[0]}`,
        { file },
        'another asof process may be writing to it; retry when it has finished',
      );
    }
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    return new DuckDbWarehouse(instance, conn);
  }

  async run(sql: string): Promise<void> {
    await this.conn.run(sql);
  }

  async query(sql: string): Promise<QueryResult> {
    const r = await this.conn.runAndReadAll(sql);
    const types = r.columnTypes();
    return {
      columns: r.columnNames().map((n, i) => ({ name: n, type: types[i]?.toString() ?? 'UNKNOWN' })),
      rows: r.getRowsJS() as unknown[][],
    };
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.conn.run('BEGIN TRANSACTION');
    try {
      const out = await fn();
      await this.conn.run('COMMIT');
      return out;
    } catch (e) {
      await this.conn.run('ROLLBACK');
      throw e;
    }
  }

  async land(req: LandRequest): Promise<LandedFile[]> {
    await this.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(LOADS_TABLE.schema)}`);
    await this.run(`CREATE TABLE IF NOT EXISTS ${loadsTable} (load_id VARCHAR, source VARCHAR, file VARCHAR,
      sha256 VARCHAR, rows BIGINT, loaded_at TIMESTAMPTZ)`);
    const target = `${quoteIdent('raw')}.${quoteIdent(req.source)}`;
    return this.transaction(async () => {
      const out: LandedFile[] = [];
      for (const file of req.files) {
        const prev = await this.query(
          `SELECT load_id FROM ${loadsTable} WHERE source = ${stringLiteral(req.source)} AND sha256 = ${stringLiteral(file.sha256)} LIMIT 1`,
        );
        const prevId = prev.rows[0]?.[0];
        if (prevId !== undefined) {
          out.push({
            file: file.path,
            sha256: file.sha256,
            rows: 0,
            skipped: true,
            previousLoadId: String(prevId),
          });
          continue;
        }
        const staged = await stageFile(this.conn, file, req.contract, req.timezone, req);
        await this.run(`CREATE TABLE IF NOT EXISTS ${target} AS SELECT * FROM ${STAGE_TABLE} WHERE false`);
        const have = new Set(
          (
            await this.query(
              `SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ${stringLiteral(req.source)}`,
            )
          ).rows.map((r) => String(r[0])),
        );
        for (const c of staged.columns) {
          if (!have.has(c.name))
            await this.run(`ALTER TABLE ${target} ADD COLUMN ${quoteIdent(c.name)} ${c.type}`);
        }
        await this.run(`INSERT INTO ${target} BY NAME SELECT * FROM ${STAGE_TABLE}`);
        await this.run(`DROP TABLE ${STAGE_TABLE}`);
        await this.run(
          `INSERT INTO ${loadsTable} VALUES (${stringLiteral(req.loadId)}, ${stringLiteral(req.source)}, ${stringLiteral(file.path)}, ${stringLiteral(file.sha256)}, ${staged.rows}, ${instantLiteral(req.loadedAt)})`,
        );
        out.push({ file: file.path, sha256: file.sha256, rows: staged.rows, skipped: false });
      }
      return out;
    });
  }

  async relationKind(schema: string, name: string): Promise<RelationKind | undefined> {
    const r = await this.query(
      `SELECT table_type FROM information_schema.tables WHERE table_schema = ${stringLiteral(schema)} AND table_name = ${stringLiteral(name)}`,
    );
    const t = r.rows[0]?.[0];
    if (t === undefined) return undefined;
    return String(t) === 'VIEW' ? 'view' : 'table';
  }

  async exportParquet(qualified: string, file: string): Promise<number> {
    await this.run(`COPY (SELECT * FROM ${qualified}) TO ${stringLiteral(file)} (FORMAT parquet)`);
    const r = await this.query(`SELECT count(*) FROM ${qualified}`);
    return Number(r.rows[0]?.[0] ?? 0);
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
