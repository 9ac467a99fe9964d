// Opens the project's warehouse: the DuckDB file at storage.warehouse, PostgreSQL from `warehouse:`,
// or Spark (files under spark.sql.warehouse.dir) when the run's engine is Spark and no PostgreSQL
// warehouse is declared.

import { DuckDbWarehouse } from '../engines/duckdb/warehouse.js';
import type { EngineType } from '../engines/open.js';
import { PostgresWarehouse } from '../engines/postgres/warehouse.js';
import { SparkWarehouse, sparkWarehouseRoot } from '../engines/spark/warehouse.js';
import type { Warehouse } from '../engines/warehouse.js';
import { AsofError } from '../errors.js';
import type { Project } from '../spec/project.js';

/** Which warehouse a run with `engine` (default: the spec's) uses, without opening it: its `name`. */
export function warehouseName(project: Project, engine?: EngineType): 'duckdb' | 'postgres' | 'spark' {
  if (project.warehouse?.type === 'postgres') return 'postgres';
  return (engine ?? project.engine?.type) === 'spark' ? 'spark' : 'duckdb';
}

export async function openWarehouse(
  project: Project,
  opts: { readOnly?: boolean; engine?: EngineType } = {},
): Promise<Warehouse> {
  const w = project.warehouse ?? { type: 'duckdb', file: project.storage.warehouse };
  if (w.type === 'duckdb') {
    if (warehouseName(project, opts.engine) === 'spark') {
      const conf = project.engine?.conf;
      return SparkWarehouse.open(sparkWarehouseRoot(w.file, conf), { master: project.engine?.master, conf });
    }
    return DuckDbWarehouse.open(w.file, opts);
  }
  const url = w.url ?? (w.urlEnv ? process.env[w.urlEnv] : undefined);
  if (!url) {
    throw new AsofError('usage', `environment variable ${w.urlEnv} is not set`, {
      file: project.specFile,
      specPath: 'warehouse.url_env',
    });
  }
  return PostgresWarehouse.open(url, opts);
}
