// The `cdc:` section of a spec: change-data-capture sources (Debezium files, PostgreSQL logical
// replication) and their normalized form. Kept apart from schema.ts so CDC settings stay one block.

import { z } from 'zod';
import { COLUMN_TYPES, type Columns } from '../types.js';
import type { Source } from './project.js';

const ident = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must start with a letter or _ and hold only letters, digits and _');

export const cdcSourceSchema = z.strictObject({
  /** The change format of files given to `asof cdc apply` (Debezium JSON envelopes, one per line or an array). */
  format: z.enum(['debezium']).default('debezium'),
  primary_key: z.union([z.string(), z.array(z.string()).min(1)]),
  /** The contract of the captured table: name -> type. */
  columns: z.record(ident, z.enum(COLUMN_TYPES)),
  /** Live capture for `asof cdc run` (PostgreSQL logical replication, wal2json format-version 2 or pgoutput). */
  postgres: z
    .strictObject({
      /** A connection URL, or the name of an environment variable holding it (url_env). */
      url: z.string().optional(),
      url_env: z.string().optional(),
      /** schema.table in PostgreSQL (default public.<source name>). */
      table: z.string().optional(),
      /** The replication slot (default asof_<source>). */
      slot: ident.optional(),
      /** The logical decoding plugin: wal2json (format-version 2) or PostgreSQL's built-in pgoutput. */
      decoder: z.enum(['wal2json', 'pgoutput']).optional(),
      /** pgoutput only: the publication of the table (default asof_<source>; created when missing). */
      publication: ident.optional(),
      /** Changes per batch (whole transactions; a bigger transaction makes a bigger batch). */
      batch_size: z.number().int().min(1).optional(),
      /** How often to poll the slot when idle, in milliseconds. */
      poll_ms: z.number().int().min(10).optional(),
      /** When idle this long (ms), move the slot past WAL that holds no change for it (default 10 s). */
      heartbeat_ms: z.number().int().min(10).optional(),
    })
    .optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
});

export type CdcSourceInput = z.output<typeof cdcSourceSchema>;

/** Column names the history table adds; a captured table may not use them. */
export const CDC_RESERVED = ['valid_from', 'valid_to', 'op', 'lsn'] as const;

export interface CdcPostgres {
  url: string | undefined;
  urlEnv: string | undefined;
  schema: string;
  table: string;
  slot: string;
  decoder: 'wal2json' | 'pgoutput';
  publication: string;
  batchSize: number;
  pollMs: number;
  heartbeatMs: number;
}

export interface CdcSource {
  name: string;
  format: 'debezium';
  primaryKey: string[];
  columns: Columns;
  postgres: CdcPostgres | undefined;
  description: string | undefined;
  owner: string | undefined;
}

/** Normalizes one CDC source; `fail(path, message, hint)` builds the spec error with its place. */
export function normalizeCdcSource(
  name: string,
  s: CdcSourceInput,
  fail: (p: (string | number)[], message: string, hint?: string) => Error,
): CdcSource {
  const at = ['cdc', name];
  const columns = s.columns as Columns;
  const known = Object.keys(columns);
  if (known.length === 0) throw fail([...at, 'columns'], `CDC source '${name}' declares no columns`);
  for (const c of known) {
    if ((CDC_RESERVED as readonly string[]).includes(c)) {
      throw fail(
        [...at, 'columns', c],
        `column '${c}' is reserved in CDC source '${name}' (the history adds ${CDC_RESERVED.join(', ')})`,
        'rename it in the contract',
      );
    }
  }
  const primaryKey = typeof s.primary_key === 'string' ? [s.primary_key] : s.primary_key;
  for (const k of primaryKey) {
    if (!(k in columns)) {
      throw fail(
        [...at, 'primary_key'],
        `primary key column '${k}' is not in the contract of CDC source '${name}'`,
        `declared columns: ${known.join(', ')}`,
      );
    }
  }
  let postgres: CdcPostgres | undefined;
  if (s.postgres) {
    const full = s.postgres.table ?? `public.${name}`;
    const dot = full.indexOf('.');
    postgres = {
      url: s.postgres.url,
      urlEnv: s.postgres.url_env,
      schema: dot < 0 ? 'public' : full.slice(0, dot),
      table: dot < 0 ? full : full.slice(dot + 1),
      slot: s.postgres.slot ?? `asof_${name}`.toLowerCase(),
      decoder: s.postgres.decoder ?? 'wal2json',
      publication: s.postgres.publication ?? `asof_${name}`.toLowerCase(),
      batchSize: s.postgres.batch_size ?? 1000,
      pollMs: s.postgres.poll_ms ?? 200,
      heartbeatMs: s.postgres.heartbeat_ms ?? 10_000,
    };
  }
  return {
    name,
    format: s.format,
    primaryKey,
    columns,
    postgres,
    description: s.description,
    owner: s.owner,
  };
}

/** Where `asof build` exports the history of a CDC source for views to read (relative to the project root). */
export function cdcHistoryPath(name: string): string {
  return `.asof/cdc/${name}_history.parquet`;
}

/**
 * The source a view reads when its `source` names a CDC source: one row per change, at its
 * valid_from, with the captured columns, valid_to (NULL while current), op (c, u, d, r) and lsn.
 * A version replaced at the same instant it began (two changes of one key in one transaction)
 * was never visible at any cutoff and is left out, so valid_from is unique per key.
 */
export function cdcHistorySource(c: CdcSource): Source {
  return {
    name: c.name,
    path: cdcHistoryPath(c.name),
    format: 'parquet',
    timestamp: 'valid_from',
    columns: { ...c.columns, valid_from: 'timestamp', valid_to: 'timestamp', op: 'string', lsn: 'int' },
    primaryKey: undefined,
    ingestedAt: undefined,
    cdc: c.name,
    description: c.description,
    owner: c.owner,
  };
}
