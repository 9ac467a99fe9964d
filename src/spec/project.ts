// The normalized Project: what every later layer (plan, engines, pipelines) works from.
// Expressions are parsed trees, windows parsed, keys as lists, paths absolute.

import type { AggKind } from '../aggregate/kinds.js';
import type { Expr } from '../expr/ast.js';
import type { CutoffRule, Window } from '../time/index.js';
import type { Columns, ColumnType } from '../types.js';
import type { CdcSource } from './cdc.js';
import type { WarehouseConfig } from './elt.js';

export type SourceFormat = 'csv' | 'json' | 'jsonl' | 'parquet';

export interface Source {
  name: string;
  /** The path as written in the spec (a file or a glob), relative to the project root. */
  path: string;
  format: SourceFormat;
  timestamp: string;
  columns: Columns;
  primaryKey: string[] | undefined;
  ingestedAt: string | undefined;
  /** The model (layer.name) whose exported snapshot this source reads, instead of files. */
  model?: string;
  /** The CDC source (spec/cdc.ts) whose history this source reads: one row per change (cdcHistorySource). */
  cdc?: string;
  /** The share of rows (0..1) that may break the contract and be quarantined; default 0. */
  maxRejectRate?: number;
  /** How long after the cutoff an event may still arrive (`ingested_at`) without counting as late. */
  allowedLateness?: Window;
  /** Stream only: how far ahead of the clock an event time may be before it is rejected. */
  maxClockSkew?: Window;
  description: string | undefined;
  owner: string | undefined;
}

/** What one quality check measures and its threshold (see pipeline/quality.ts for the semantics). */
export type CheckRule =
  | { kind: 'null_rate'; max: number }
  | { kind: 'range'; min: number | undefined; max: number | undefined }
  | { kind: 'unique_key' }
  | { kind: 'row_count_change'; maxPercent: number }
  | { kind: 'drift'; maxPsi: number; bins: number }
  | { kind: 'freshness'; maxAge: Window }
  | { kind: 'late_event_rate'; max: number };

/** A declared check: feature-level ones name their feature. Metadata: not in any version. */
export type QualityCheck = CheckRule & {
  severity: 'error' | 'warn';
  feature: string | undefined;
  /** Where it was declared, e.g. views.v.features.f.checks.0 */
  specPath: string;
};

export interface Entity {
  name: string;
  keys: string[];
  description: string | undefined;
}

export interface Feature {
  name: string;
  agg: AggKind;
  /** The aggregated value; undefined for row-counting kinds without a column. */
  column: Expr | undefined;
  columnText: string | undefined;
  /** The type of `column` (undefined without one). */
  inputType: ColumnType | undefined;
  /** The stable output type of the feature. */
  type: ColumnType;
  window: Window;
  description: string | undefined;
  owner: string | undefined;
}

export interface View {
  name: string;
  entity: string;
  keys: string[];
  source: string;
  /** The feature_version, part of the partition path. */
  version: number;
  cutoff: CutoffRule;
  where: Expr | undefined;
  whereText: string | undefined;
  features: Feature[];
  /** Content hash of everything that changes rows (see spec/hash.ts). */
  transformationVersion: string;
  /** The model the view reads (`source: { model }`) and its version, folded into transformationVersion. */
  model?: { name: string; version: string };
  /** Every quality check of the view, the features' first (in declared order), then view-wide. */
  checks?: QualityCheck[];
  description: string | undefined;
  owner: string | undefined;
}

export interface Project {
  name: string;
  timezone: string;
  /** Absolute folder of the spec; relative paths resolve from here. */
  root: string;
  /** The spec file it was loaded from (for error messages). */
  specFile: string;
  storage: { offline: string; warehouse: string };
  sources: Record<string, Source>;
  entities: Record<string, Entity>;
  views: Record<string, View>;
  /** Cron expression for `asof schedule` (minute hour day month weekday, project timezone). */
  schedule?: string;
  notify?: { webhook?: string; command?: string };
  /** Change-data-capture sources by name (spec/cdc.ts). */
  cdc?: Record<string, CdcSource>;
  /** The engine builds run on by default (`--engine` overrides); metadata, in no version. */
  engine?: EngineSettings;
  /** The warehouse of raw loads and models (spec/elt.ts); DuckDB at storage.warehouse by default. */
  warehouse?: WarehouseConfig;
  /** `asof serve` settings: tokens and limits (metadata, in no version). */
  serve?: ServeSettings;
  /** The online store (metadata): embedded SQLite under .asof/online when absent. */
  online?: OnlineSettings;
}

export type OnlineSettings =
  | { type: 'embedded' }
  /** Redis: the URL, or the environment variable holding it; keys start with `prefix`. */
  | { type: 'redis'; url?: string; urlEnv?: string; prefix: string };

export interface ServeSettings {
  tokens: { name: string; tokenEnv: string; scopes: ('read' | 'ingest' | 'admin')[] }[];
  /** Reads need a token with the read scope; default true when tokens are declared. */
  readRequiresToken: boolean;
  rateLimit?: { perSecond: number };
}

export interface EngineSettings {
  type: 'duckdb' | 'spark';
  /** Spark master URL (default local[*]). */
  master?: string;
  /** Extra Spark configuration. */
  conf?: Record<string, string | number | boolean>;
  /** DuckDB's memory cap for batch runs (`memory_limit`, e.g. '2GB'); DuckDB's default otherwise. */
  memoryLimit?: string;
  /** DuckDB worker threads for batch runs. */
  threads?: number;
}
