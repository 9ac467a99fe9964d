// The zod schema of a project spec, shared by asof.yaml and asof.config.ts (defineProject).
// Field names here are the public contract; extend compatibly.

import { z } from 'zod';
import { AGG_KINDS } from '../aggregate/kinds.js';
import { COLUMN_TYPES } from '../types.js';
import { cdcSourceSchema } from './cdc.js';
import { viewSourceSchema, warehouseSchema } from './elt.js';

const name = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must start with a letter or _ and hold only letters, digits and _');

const columnType = z.enum(COLUMN_TYPES);

export const CHECK_KINDS = [
  'null_rate',
  'range',
  'unique_key',
  'row_count_change',
  'drift',
  'freshness',
  'late_event_rate',
] as const;

/**
 * One quality check: exactly one kind with its parameters, and a severity (default error).
 * `{ null_rate: { max: 0.05 }, severity: warn }`. Checks are metadata: they gate a publish but
 * never change rows, so they are not part of the transformation_version.
 */
export const checkSchema = z
  .strictObject({
    null_rate: z.strictObject({ max: z.number().min(0).max(1) }).optional(),
    range: z.strictObject({ min: z.number().optional(), max: z.number().optional() }).optional(),
    unique_key: z.strictObject({}).optional(),
    row_count_change: z.strictObject({ max_percent: z.number().min(0) }).optional(),
    drift: z
      .strictObject({ max_psi: z.number().min(0), bins: z.number().int().min(2).max(100).optional() })
      .optional(),
    freshness: z.strictObject({ max_age: z.string() }).optional(),
    late_event_rate: z.strictObject({ max: z.number().min(0).max(1) }).optional(),
    severity: z.enum(['error', 'warn']).default('error'),
  })
  .refine(
    (c) => CHECK_KINDS.filter((k) => c[k] !== undefined).length === 1,
    `a check names exactly one of: ${CHECK_KINDS.join(', ')}`,
  );

export const sourceSchema = z.strictObject({
  /** The files (a path or glob); or, instead, `model:` a model whose snapshot is read (spec/elt.ts). */
  path: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  format: z.enum(['csv', 'json', 'jsonl', 'parquet']).optional(),
  timestamp: z.string().min(1),
  columns: z.record(name, columnType),
  primary_key: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  ingested_at: z.string().optional(),
  /** Contract and quality settings (metadata: they never change rows, nor a version). */
  max_reject_rate: z.number().min(0).max(1).optional(),
  allowed_lateness: z.string().optional(),
  /** Stream only: events timed further than this ahead of the clock are rejected (dead letters). */
  max_clock_skew: z.string().optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
});

export const entitySchema = z.strictObject({
  key: z.union([z.string(), z.array(z.string()).min(1)]),
  description: z.string().optional(),
});

export const featureSchema = z.strictObject({
  agg: z.enum(AGG_KINDS),
  column: z.union([z.string().min(1), z.number()]).optional(),
  /** Required, except for `as_of` (default `all`: the value valid at the cutoff, however old). */
  window: z.string().optional(),
  checks: z.array(checkSchema).optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
});

export const viewSchema = z.strictObject({
  entity: z.string(),
  source: viewSourceSchema,
  version: z.number().int().min(1).default(1),
  cutoff: z.enum(['end_of_day', 'start_of_day']).default('end_of_day'),
  where: z.string().optional(),
  features: z
    .record(name, featureSchema)
    .refine((f) => Object.keys(f).length > 0, 'a view needs at least one feature'),
  checks: z.array(checkSchema).optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
});

export const projectSchema = z.strictObject({
  project: name,
  timezone: z.string().default('UTC'),
  storage: z
    .strictObject({
      offline: z.string().default('.asof/lake'),
      warehouse: z.string().default('.asof/warehouse.duckdb'),
    })
    .default({ offline: '.asof/lake', warehouse: '.asof/warehouse.duckdb' }),
  sources: z.record(name, sourceSchema),
  entities: z.record(name, entitySchema),
  views: z.record(name, viewSchema).default({}),
  /** `asof schedule`: a cron expression (in the project timezone) for the nightly run. */
  schedule: z.string().optional(),
  notify: z
    .strictObject({ webhook: z.string().url().optional(), command: z.string().min(1).optional() })
    .optional(),
  /** Change-data-capture sources (`asof cdc apply|run`); see spec/cdc.ts. Rows of views are unaffected. */
  cdc: z.record(name, cdcSourceSchema).optional(),
  /** The engine builds run on (metadata: never part of a transformation_version). */
  engine: z
    .strictObject({
      type: z.enum(['duckdb', 'spark']).default('duckdb'),
      master: z.string().min(1).optional(),
      conf: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      /** DuckDB's memory cap for batch runs (e.g. 2GB); beyond it DuckDB spills to disk. */
      memory_limit: z
        .string()
        .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 2GB or 512MiB')
        .optional(),
      /** DuckDB worker threads for batch runs (default: one per core). */
      threads: z.number().int().min(1).max(1024).optional(),
    })
    .optional(),
  /** Where raw loads and models live (spec/elt.ts); the embedded DuckDB file storage.warehouse by default. */
  warehouse: warehouseSchema.optional(),
  /** The online store of streamed and published values: embedded SQLite (default) or Redis. Metadata. */
  online: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('embedded') }),
      z
        .strictObject({
          type: z.literal('redis'),
          url: z
            .string()
            .regex(/^rediss?:\/\//, 'must be redis://host:port[/db]')
            .optional(),
          url_env: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
            .optional(),
          prefix: z.string().min(1).max(100).optional(),
        })
        .refine((o) => (o.url === undefined) !== (o.url_env === undefined), {
          message: 'give exactly one of url and url_env',
        }),
    ])
    .optional(),
  /** `asof serve`: bearer tokens (read from the environment) with scopes, and a rate limit. Metadata. */
  serve: z
    .strictObject({
      tokens: z
        .array(
          z.strictObject({
            name: z.string().min(1),
            token_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
            scopes: z.array(z.enum(['read', 'ingest', 'admin'])).min(1),
          }),
        )
        .optional(),
      /** Reads need a token with the read scope (default: true when tokens are declared). */
      read_requires_token: z.boolean().optional(),
      rate_limit: z.strictObject({ per_second: z.number().positive() }).optional(),
    })
    .optional(),
});

/** What a user writes (asof.yaml or defineProject), before defaults. */
export type ProjectInput = z.input<typeof projectSchema>;
export type ProjectParsed = z.output<typeof projectSchema>;
