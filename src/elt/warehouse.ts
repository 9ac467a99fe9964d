// Opens the project's warehouse: the DuckDB file at storage.warehouse, or PostgreSQL from `warehouse:`.

import { DuckDbWarehouse } from '../engines/duckdb/warehouse.js';
import { PostgresWarehouse } from '../engines/postgres/warehouse.js';
import type { Warehouse } from '../engines/warehouse.js';
import { AsofError } from '../errors.js';
import type { Project } from '../spec/project.js';

export async function openWarehouse(project: Project, opts: { readOnly?: boolean } = {}): Promise<Warehouse> {
  const w = project.warehouse ?? { type: 'duckdb', file: project.storage.warehouse };
  if (w.type === 'duckdb') return DuckDbWarehouse.open(w.file, opts);
  const url = w.url ?? (w.urlEnv ? process.env[w.urlEnv] : undefined);
  if (!url) {
    throw new AsofError('usage', `environment variable ${w.urlEnv} is not set`, {
      file: project.specFile,
      specPath: 'warehouse.url_env',
    });
  }
  return PostgresWarehouse.open(url, opts);
}
