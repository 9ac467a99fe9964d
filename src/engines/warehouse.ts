// The Warehouse interface: a SQL database that keeps raw loads and model relations (DuckDB file,
// PostgreSQL server). Dialect differences live behind `dialect`, one implementation per engine folder.

import type { Columns } from '../types.js';
import type { QueryResult } from './engine.js';

export type RelationKind = 'view' | 'table';

/** What one engine prints differently; everything else in model SQL is the user's own. */
export interface WarehouseDialect {
  quoteIdent(name: string): string;
  stringLiteral(s: string): string;
  dateLiteral(date: string): string;
  /** An instant (epoch ms) as a timestamp-with-time-zone literal. */
  instantLiteral(ms: number): string;
  /** The type of the column that keeps a whole JSON document. */
  jsonType: string;
  /** A top-level field of a JSON document as text: what model SQL spells json_text(doc, 'key'). */
  jsonText(json: string, key: string): string;
  /** Drops a view or a table, and what depends on it where the engine tracks dependencies. */
  dropRelation(kind: RelationKind, qualified: string): string;
}

/** A file to land in raw.<source>: already hashed, with the contract columns to type. */
export interface LandFile {
  path: string;
  sha256: string;
  format: 'csv' | 'json' | 'jsonl' | 'parquet';
}

export interface LandRequest {
  source: string;
  files: LandFile[];
  /** Contract columns to extract typed (top-level JSON fields, CSV/Parquet columns). */
  contract: Columns;
  timezone: string;
  loadId: string;
  loadedAt: number;
}

export interface LandedFile {
  file: string;
  sha256: string;
  rows: number;
  /** True when this content was landed by an earlier load (nothing written). */
  skipped: boolean;
  previousLoadId?: string;
}

/** One model relation written by the warehouse itself (see Warehouse.writeModel). */
export type ModelWrite =
  | { schema: string; relation: string; materialization: 'view' | 'table'; sql: string }
  | {
      schema: string;
      relation: string;
      materialization: 'incremental';
      dateColumn: string;
      /** Each date's SELECT, already kept to the rows of that date. */
      dates: { date: string; sql: string }[];
    };

export interface Warehouse {
  readonly name: string;
  readonly dialect: WarehouseDialect;
  run(sql: string): Promise<void>;
  query(sql: string): Promise<QueryResult>;
  /** Runs `fn` in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Lands files into raw.<source> in one transaction; files already landed are skipped. */
  land(req: LandRequest): Promise<LandedFile[]>;
  /** 'view', 'table' or undefined when the relation does not exist. */
  relationKind(schema: string, name: string): Promise<RelationKind | undefined>;
  /**
   * Writes a relation (or a parenthesised subquery with an alias, such as one date of a model) to
   * one Parquet file: views read model snapshots, exported models write lake partitions.
   */
  exportParquet(qualified: string, file: string): Promise<number>;
  /**
   * For warehouses whose tables cannot delete rows (Spark over Parquet files): writes a model
   * relation itself, replacing a view or table whole, or only the given dates of an incremental
   * model (dynamic partition overwrite). Returns the rows per date, or under 'all'. Warehouses
   * without it get the generic SQL of elt/models.ts (transactions, delete-then-insert).
   */
  writeModel?(req: ModelWrite): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** The landing bookkeeping table: one row per landed file. */
export const LOADS_TABLE = { schema: 'raw', name: '_loads' } as const;

/** Metadata columns every raw row carries, in order. */
export const RAW_META_COLUMNS = ['_load_id', '_loaded_at', '_file', '_row'] as const;
