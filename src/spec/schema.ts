// The zod schema of a project spec, shared by asof.yaml and asof.config.ts (defineProject).
// Field names here are the public contract; extend compatibly.

import { z } from 'zod';
import { AGG_KINDS } from '../aggregate/kinds.js';
import { COLUMN_TYPES } from '../types.js';

const name = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must start with a letter or _ and hold only letters, digits and _');

const columnType = z.enum(COLUMN_TYPES);

export const sourceSchema = z.strictObject({
  path: z.string().min(1),
  format: z.enum(['csv', 'json', 'jsonl', 'parquet']).optional(),
  timestamp: z.string().min(1),
  columns: z.record(name, columnType),
  primary_key: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  ingested_at: z.string().optional(),
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
  window: z.string(),
  description: z.string().optional(),
  owner: z.string().optional(),
});

export const viewSchema = z.strictObject({
  entity: z.string(),
  source: z.string(),
  version: z.number().int().min(1).default(1),
  cutoff: z.enum(['end_of_day', 'start_of_day']).default('end_of_day'),
  where: z.string().optional(),
  features: z
    .record(name, featureSchema)
    .refine((f) => Object.keys(f).length > 0, 'a view needs at least one feature'),
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
});

/** What a user writes (asof.yaml or defineProject), before defaults. */
export type ProjectInput = z.input<typeof projectSchema>;
export type ProjectParsed = z.output<typeof projectSchema>;
