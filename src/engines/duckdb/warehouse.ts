// The embedded DuckDB warehouse: one database file (storage.warehouse) holding raw.<source> loads
// and the model relations. One process writes at a time (DuckDB's own file lock); queries open it read-only.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { QueryResult } from '../engine.js';
import { addMissingColumns, inTransaction, landFiles, relationKindOf } from '../sql-warehouse.js';
import type { LandedFile, LandRequest, RelationKind, Warehouse, WarehouseDialect } from '../warehouse.js';
import { STAGE_TABLE, stageFile } from './landing.js';
import { dateLiteral, instantLiteral, quoteIdent, stringLiteral } from './types.js';

export const duckdbWarehouseDialect: WarehouseDialect = {
  quoteIdent,
  stringLiteral,
  dateLiteral,
  instantLiteral,
  jsonType: 'JSON',
  jsonText: (json, key) => `(${json} ->> ${stringLiteral(key)})`,
  // DuckDB does not track which views read a relation, so nothing cascades.
  dropRelation: (kind, q) => `DROP ${kind === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${q}`,
};

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
    return inTransaction((sql) => this.conn.run(sql), fn);
  }

  async land(req: LandRequest): Promise<LandedFile[]> {
    return landFiles(this, req, {
      textType: 'VARCHAR',
      landFile: async (file, target) => {
        const staged = await stageFile(this.conn, file, req.contract, req.timezone, req);
        await this.run(`CREATE TABLE IF NOT EXISTS ${target} AS SELECT * FROM ${STAGE_TABLE} WHERE false`);
        await addMissingColumns(this, req.source, target, staged.columns);
        await this.run(`INSERT INTO ${target} BY NAME SELECT * FROM ${STAGE_TABLE}`);
        await this.run(`DROP TABLE ${STAGE_TABLE}`);
        return staged.rows;
      },
    });
  }

  async relationKind(schema: string, name: string): Promise<RelationKind | undefined> {
    return relationKindOf(this, schema, name);
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
