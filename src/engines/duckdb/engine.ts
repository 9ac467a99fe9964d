// The embedded DuckDB engine: an in-process database (no server), session time zone UTC so that
// instants print and compare the same everywhere, spilling to a private temp folder.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance, version as duckdbVersion } from '@duckdb/node-api';
import type { ViewBuildPlan } from '../../plan/view-build.js';
import type { Source } from '../../spec/project.js';
import type { LoadOptions } from '../contract.js';
import type { Engine, LoadedSource, QueryResult, SourceFile } from '../engine.js';
import type { Measurement, MeasureRequest } from '../measure.js';
import { measure } from './quality-sql.js';
import { loadSourceTable } from './sources.js';
import { quoteIdent, stringLiteral } from './types.js';
import { viewBuildSql } from './view-sql.js';

export interface DuckDbOptions {
  /** Database file; in memory when omitted. */
  file?: string;
  threads?: number;
  memoryLimit?: string;
}

export class DuckDbEngine implements Engine {
  readonly name = 'duckdb';
  readonly version = duckdbVersion();
  readonly supports = { compileOffline: true };
  /** Entity key columns that must not be null, per source (set by the pipeline before loading). */
  nonNullKeys: Record<string, string[]> = {};

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly tempDir: string,
  ) {}

  static async open(opts: DuckDbOptions = {}): Promise<DuckDbEngine> {
    const tempDir = mkdtempSync(path.join(os.tmpdir(), 'asof-duckdb-'));
    const config: Record<string, string> = { temp_directory: tempDir };
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    const instance = await DuckDBInstance.create(opts.file ?? ':memory:', config);
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    return new DuckDbEngine(instance, conn, tempDir);
  }

  loadSource(
    source: Source,
    files: SourceFile[],
    timezone: string,
    opts?: LoadOptions,
  ): Promise<LoadedSource> {
    return loadSourceTable(this.conn, source, files, timezone, this.nonNullKeys[source.name] ?? [], opts);
  }

  measure(request: MeasureRequest): Promise<Measurement> {
    return measure(this.conn, request);
  }

  compileViewBuild(plan: ViewBuildPlan): string {
    return viewBuildSql(plan);
  }

  async materialize(name: string, sql: string): Promise<number> {
    await this.conn.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(name)} AS ${sql}`);
    const r = await this.conn.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(name)}`);
    return Number(r.getRowsJS()[0]?.[0] ?? 0);
  }

  async writeParquet(name: string, file: string): Promise<void> {
    await this.conn.run(
      `COPY ${quoteIdent(name)} TO ${stringLiteral(file)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
    );
  }

  async dropResult(name: string): Promise<void> {
    await this.conn.run(`DROP TABLE IF EXISTS ${quoteIdent(name)}`);
  }

  /** Another connection to the same database (parallel writers; sees its non-temporary tables). */
  async connect(): Promise<DuckDBConnection> {
    const conn = await this.instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    return conn;
  }

  async query(sql: string): Promise<QueryResult> {
    const r = await this.conn.runAndReadAll(sql);
    const names = r.columnNames();
    const types = r.columnTypes();
    return {
      columns: names.map((n, i) => ({ name: n, type: types[i]?.toString() ?? 'UNKNOWN' })),
      rows: r.getRowsJS() as unknown[][],
    };
  }

  readParquet(pathOrGlob: string, orderBy: string[]): Promise<QueryResult> {
    const order = orderBy.length > 0 ? ` ORDER BY ${orderBy.map(quoteIdent).join(', ')}` : '';
    return this.query(
      `SELECT * FROM read_parquet(${stringLiteral(pathOrGlob)}, hive_partitioning = false)${order}`,
    );
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
    rmSync(this.tempDir, { recursive: true, force: true });
  }
}
