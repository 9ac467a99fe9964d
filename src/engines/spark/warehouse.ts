// The Spark warehouse (`--engine spark` for load, models and query): raw loads and model relations
// are folders of Parquet files under one root (spark.sql.warehouse.dir: a local path, or s3a://...),
// and a small catalog file there lists them; every session registers them again as catalog views,
// since Spark's own local catalog does not outlive the session. No transactions: each relation is
// written beside and swapped in (tables), or replaced date by date (dynamic partition overwrite).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { STAGE_TABLE, stageFile } from '../duckdb/landing.js';
import { quoteIdent as duckIdent, stringLiteral as duckString, instantLiteral } from '../duckdb/types.js';
import type { QueryResult } from '../engine.js';
import {
  type LandedFile,
  type LandRequest,
  LOADS_TABLE,
  type ModelWrite,
  type RelationKind,
  type Warehouse,
  type WarehouseDialect,
} from '../warehouse.js';
import { sparkIdent, sparkInstant, sparkString } from './dialect.js';
import { MANIFEST_TYPES, SparkEngine, type SparkOptions } from './engine.js';

export const sparkWarehouseDialect: WarehouseDialect = {
  quoteIdent: sparkIdent,
  stringLiteral: sparkString,
  dateLiteral: (date) => `DATE '${date}'`,
  instantLiteral: sparkInstant,
  jsonType: 'STRING',
  jsonText: (json, key) => `get_json_object(${json}, ${sparkString(`$['${key.replaceAll("'", "\\'")}']`)})`,
  // Every relation is a catalog view (over files, or over a query); files are removed by the warehouse.
  dropRelation: (_kind, q) => `DROP VIEW IF EXISTS ${q}`,
};

/** One relation of the catalog file: files under `path` (kind table), or a view's SQL. */
interface CatalogEntry {
  kind: RelationKind;
  path?: string;
  /** Columns to read, in order (incremental models: the partition folder's column is left out). */
  columns?: string[];
  /** Files under <path>/__part=<date>/ (incremental models). */
  partitioned?: boolean;
  sql?: string;
}

interface Catalog {
  relations: Record<string, CatalogEntry>;
}

const CATALOG_FILE = '_asof_catalog.json';

/** The warehouse root: spark.sql.warehouse.dir from the spec's engine conf, else beside the DuckDB file. */
export function sparkWarehouseRoot(duckdbFile: string, conf: SparkOptions['conf']): string {
  const set = conf?.['spark.sql.warehouse.dir'];
  if (set !== undefined) {
    const s = String(set);
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s.replace(/\/+$/, '') : path.resolve(s);
  }
  return path.join(path.dirname(duckdbFile), 'spark-warehouse');
}

export class SparkWarehouse implements Warehouse {
  readonly name = 'spark';
  readonly dialect = sparkWarehouseDialect;

  private constructor(
    readonly engine: SparkEngine,
    readonly root: string,
    private catalog: Catalog,
  ) {}

  /** Starts a driver whose warehouse dir is `root` and registers the relations of its catalog. */
  static async open(root: string, opts: SparkOptions = {}): Promise<SparkWarehouse> {
    const engine = await SparkEngine.open({
      ...opts,
      conf: {
        ...opts.conf,
        'spark.sql.warehouse.dir': root,
        // Raw folders gain columns over loads (new CSV columns): read the union of the files' schemas.
        'spark.sql.parquet.mergeSchema': 'true',
      },
    });
    try {
      const text = (await engine.job('fs_read', { path: `${root}/${CATALOG_FILE}` })).text;
      const catalog: Catalog = typeof text === 'string' ? (JSON.parse(text) as Catalog) : { relations: {} };
      const wh = new SparkWarehouse(engine, root, catalog);
      await wh.registerAll();
      return wh;
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  private qualified(schema: string, name: string): string {
    return `${sparkIdent(schema)}.${sparkIdent(name)}`;
  }

  /** Tables first, then views until none more can be made (a view may read a view made after it). */
  private async registerAll(): Promise<void> {
    const entries = Object.entries(this.catalog.relations);
    for (const [name, e] of entries) if (e.kind === 'table') await this.register(name, e);
    let views = entries.filter(([, e]) => e.kind === 'view');
    while (views.length > 0) {
      const left: typeof views = [];
      for (const [name, e] of views) await this.register(name, e).catch(() => left.push([name, e]));
      if (left.length === views.length) break;
      views = left;
    }
    // A view whose upstream is gone stays unregistered: querying it says it does not exist.
  }

  private async register(name: string, e: CatalogEntry): Promise<void> {
    const [schema = '', relation = ''] = name.split('.');
    await this.run(`CREATE DATABASE IF NOT EXISTS ${sparkIdent(schema)}`);
    const target = this.qualified(schema, relation);
    if (e.kind === 'view') {
      await this.run(`CREATE OR REPLACE VIEW ${target} AS ${e.sql}`);
      return;
    }
    const cols = e.columns ? e.columns.map(sparkIdent).join(', ') : '*';
    await this.run(
      `CREATE OR REPLACE VIEW ${target} AS SELECT ${cols} FROM parquet.${sparkIdent(e.path ?? '')}`,
    );
  }

  private async saveCatalog(): Promise<void> {
    await this.engine.job('fs_write', {
      path: `${this.root}/${CATALOG_FILE}`,
      text: `${JSON.stringify(this.catalog, null, 1)}\n`,
    });
  }

  /** Records (last in order) and registers a relation. */
  private async put(schema: string, relation: string, e: CatalogEntry): Promise<void> {
    const name = `${schema}.${relation}`;
    delete this.catalog.relations[name];
    this.catalog.relations[name] = e;
    await this.register(name, e);
    await this.saveCatalog();
  }

  private dataPath(schema: string, relation: string): string {
    return `${this.root}/${schema}.db/${relation}`;
  }

  async run(sql: string): Promise<void> {
    await this.engine.query(sql);
  }

  /** Types spelled as DuckDB spells them (manifests of exported models), instants as ISO UTC. */
  async query(sql: string): Promise<QueryResult> {
    const r = await this.engine.query(sql);
    const instant = r.columns.map((c) => c.type === 'timestamp');
    return {
      columns: r.columns.map((c) => ({ name: c.name, type: MANIFEST_TYPES[c.type] ?? c.type.toUpperCase() })),
      rows: r.rows.map((row) =>
        row.map((v, i) => (instant[i] && typeof v === 'string' ? new Date(`${v}Z`).toISOString() : v)),
      ),
    };
  }

  /** No transactions on files: each relation is swapped in whole, or its dates replaced one by one. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async relationKind(schema: string, name: string): Promise<RelationKind | undefined> {
    return this.catalog.relations[`${schema}.${name}`]?.kind;
  }

  /**
   * Files are read by an in-process DuckDB (the same reader and typing as the other warehouses),
   * written as one Parquet file per landed file and copied under raw.db/<source>/; the load's
   * bookkeeping row goes to raw.db/_loads/ after it. Killed between the two, the file is landed
   * again by the next load (its rows twice): raw keeps everything, the models deduplicate.
   */
  async land(req: LandRequest): Promise<LandedFile[]> {
    await this.run(`CREATE DATABASE IF NOT EXISTS ${sparkIdent(LOADS_TABLE.schema)}`);
    const loads = `${LOADS_TABLE.schema}.${LOADS_TABLE.name}`;
    const landed = new Map<string, string>();
    if (this.catalog.relations[loads]) {
      const r = await this.query(
        `SELECT sha256, load_id FROM ${this.qualified(LOADS_TABLE.schema, LOADS_TABLE.name)} WHERE source = ${sparkString(req.source)}`,
      );
      for (const [sha, id] of r.rows) if (!landed.has(String(sha))) landed.set(String(sha), String(id));
    }
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'asof-spark-land-'));
    const reader = await DuckDBInstance.create(':memory:');
    const conn = await reader.connect();
    const out: LandedFile[] = [];
    try {
      await conn.run("SET TimeZone = 'UTC'");
      for (const [i, file] of req.files.entries()) {
        const prev = landed.get(file.sha256);
        if (prev !== undefined) {
          out.push({ file: file.path, sha256: file.sha256, rows: 0, skipped: true, previousLoadId: prev });
          continue;
        }
        const staged = await stageFile(conn, file, req.contract, req.timezone, req);
        const select = staged.columns
          .map((c) =>
            c.type === 'JSON'
              ? `CAST(${duckIdent(c.name)} AS VARCHAR) AS ${duckIdent(c.name)}`
              : duckIdent(c.name),
          )
          .join(', ');
        const name = `${req.loadId}-${file.sha256.slice(0, 16)}.parquet`;
        const data = path.join(tmp, `data-${i}.parquet`);
        await conn.run(
          `COPY (SELECT ${select} FROM ${STAGE_TABLE} ORDER BY _row) TO ${duckString(data)} (FORMAT parquet)`,
        );
        await conn.run(`DROP TABLE ${STAGE_TABLE}`);
        await this.engine.job('fs_put', { src: data, dst: `${this.dataPath('raw', req.source)}/${name}` });
        const row = path.join(tmp, `load-${i}.parquet`);
        await conn.run(
          `COPY (SELECT ${duckString(req.loadId)} AS load_id, ${duckString(req.source)} AS source, ${duckString(file.path)} AS file, ${duckString(file.sha256)} AS sha256, CAST(${staged.rows} AS BIGINT) AS rows, ${instantLiteral(req.loadedAt)} AS loaded_at) TO ${duckString(row)} (FORMAT parquet)`,
        );
        await this.engine.job('fs_put', {
          src: row,
          dst: `${this.dataPath(LOADS_TABLE.schema, LOADS_TABLE.name)}/${name}`,
        });
        out.push({ file: file.path, sha256: file.sha256, rows: staged.rows, skipped: false });
      }
    } finally {
      conn.closeSync();
      reader.closeSync();
      rmSync(tmp, { recursive: true, force: true });
    }
    if (out.some((f) => !f.skipped)) {
      await this.put('raw', req.source, { kind: 'table', path: this.dataPath('raw', req.source) });
      await this.put(LOADS_TABLE.schema, LOADS_TABLE.name, {
        kind: 'table',
        path: this.dataPath(LOADS_TABLE.schema, LOADS_TABLE.name),
      });
    }
    return out;
  }

  async writeModel(req: ModelWrite): Promise<Map<string, number>> {
    const { schema, relation } = req;
    const target = this.qualified(schema, relation);
    const dir = this.dataPath(schema, relation);
    const before = this.catalog.relations[`${schema}.${relation}`];
    await this.run(`CREATE DATABASE IF NOT EXISTS ${sparkIdent(schema)}`);
    if (req.materialization === 'view') {
      await this.put(schema, relation, { kind: 'view', sql: req.sql });
      if (before?.kind === 'table') await this.engine.job('fs_delete', { path: dir });
      const n = (await this.query(`SELECT count(*) FROM ${target}`)).rows[0]?.[0];
      return new Map([['all', Number(n ?? 0)]]);
    }
    if (req.materialization !== 'incremental') {
      const r = await this.engine.job('wh_table', { sql: req.sql, path: dir });
      await this.put(schema, relation, { kind: 'table', path: dir });
      return new Map([['all', Number(r.rows)]]);
    }
    // Files of another shape (a view, a whole table) are not partitions: start the folder afresh.
    if (before && !before.partitioned) await this.engine.job('fs_delete', { path: dir });
    const r = await this.engine.job('wh_partitions', {
      sql: req.dates.map((x) => x.sql).join('\nUNION ALL\n'),
      path: dir,
      date_column: req.dateColumn,
      dates: req.dates.map((x) => x.date),
    });
    await this.put(schema, relation, {
      kind: 'table',
      path: dir,
      columns: r.columns as string[],
      partitioned: true,
    });
    return new Map(Object.entries(r.rows as Record<string, number>).map(([d, n]) => [d, Number(n)]));
  }

  async exportParquet(qualified: string, file: string): Promise<number> {
    return Number((await this.engine.job('export', { sql: `SELECT * FROM ${qualified}`, file })).rows);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
