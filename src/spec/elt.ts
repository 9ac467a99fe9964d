// The ELT parts of a spec: the warehouse (`warehouse: { type: duckdb | postgres }`) and sources
// backed by a model (`model: refined.sessions`), read by views from the model's exported snapshot.

import { z } from 'zod';

export const warehouseSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('duckdb') }),
  z.strictObject({
    type: z.literal('postgres'),
    /** A connection URL (postgres://user@host:port/db), or url_env: the variable holding it. */
    url: z.string().min(1).optional(),
    url_env: z.string().min(1).optional(),
  }),
]);

export type WarehouseSpec = z.output<typeof warehouseSchema>;

/** How asof reaches the warehouse: the DuckDB file, or a PostgreSQL URL. */
export type WarehouseConfig =
  | { type: 'duckdb'; file: string }
  | { type: 'postgres'; url: string | undefined; urlEnv: string | undefined };

/** A view's `source`: a source name, or `{ model: layer.name }` for the source declaring that model. */
export const viewSourceSchema = z.union([z.string(), z.strictObject({ model: z.string().min(1) })]);

export const MODEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Where the snapshot of a model read by views lands (relative to the project root), replaced
 * atomically after each successful build of the model: views read it as a Parquet source.
 */
export function modelSnapshotPath(model: string): string {
  return `.asof/models/${model}.parquet`;
}

export function normalizeWarehouse(
  spec: WarehouseSpec | undefined,
  duckdbFile: string,
  fail: (field: string, message: string, hint?: string) => Error,
): WarehouseConfig {
  if (!spec || spec.type === 'duckdb') return { type: 'duckdb', file: duckdbFile };
  if (!spec.url === !spec.url_env) {
    throw fail(
      'url',
      'a postgres warehouse needs exactly one of url and url_env',
      'url: postgres://user@host:5432/db, or url_env: NAME_OF_A_VARIABLE (resolved when asof connects)',
    );
  }
  return { type: 'postgres', url: spec.url, urlEnv: spec.url_env };
}
