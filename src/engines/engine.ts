// The one Engine interface every engine implements (duckdb/ today; postgres/ and spark/ later).
// Shared code asks `engine.supports.x`, never the engine's name.

import type { BackfillChunkPlan } from '../plan/backfill.js';
import type { TrainingViewPlan } from '../plan/training-set.js';
import type { ViewBuildPlan } from '../plan/view-build.js';
import type { Source } from '../spec/project.js';
import type { ColumnType } from '../types.js';
import type { ContractReport, LoadOptions } from './contract.js';
import type { Measurement, MeasureRequest } from './measure.js';

/** A source file as read: the fingerprint recorded in manifests. */
export interface SourceFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface LoadedSource {
  source: Source;
  files: SourceFile[];
  /** Rows in the typed table after deduplication. */
  rows: number;
  /** Schema notices, file schemas and quarantined rows (engines that check contracts fill it). */
  contract?: ContractReport;
}

export type Row = Record<string, unknown>;

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

export interface Engine {
  readonly name: string;
  readonly version: string;
  readonly supports: {
    /** Can compile without a database (plan, golden SQL tests). */
    compileOffline: boolean;
    /** Computes a whole backfill chunk in one job and writes one file per date (backfillChunk). */
    backfillChunks?: boolean;
    /** Computes exact training-set features of a view for points in a file (trainingFeatures). */
    trainingSets?: boolean;
  };
  /** Entity key columns that must not be null, per source (set by the pipeline before loading). */
  nonNullKeys: Record<string, string[]>;
  /** Reads a source's files, checks them against the contract and makes them queryable. */
  loadSource(
    source: Source,
    files: SourceFile[],
    timezone: string,
    opts?: LoadOptions,
  ): Promise<LoadedSource>;
  /** Prints the SQL of one view partition. */
  compileViewBuild(plan: ViewBuildPlan): string;
  /** Runs a query into a named result (kept until dropped) and returns its row count. */
  materialize(name: string, sql: string): Promise<number>;
  /** Writes a materialized result to one Parquet file. */
  writeParquet(name: string, file: string): Promise<void>;
  dropResult(name: string): Promise<void>;
  query(sql: string): Promise<QueryResult>;
  /** Reads Parquet files (a path or glob) as a query result, sorted by `orderBy`. */
  readParquet(pathOrGlob: string, orderBy: string[]): Promise<QueryResult>;
  /** Column names and types (DuckDB's spelling) of a materialized result; else DESCRIBE is queried. */
  describe?(name: string): Promise<{ name: string; type: string }[]>;
  /** Measures what a quality check needs (null counts, ranges, duplicates, PSI, event times). */
  measure?(request: MeasureRequest): Promise<Measurement>;
  /**
   * Every date of a backfill chunk in one job, written under `dir` as one Parquet file per date
   * (rows sorted by the entity keys, the columns `asof build` writes); the caller swaps each in.
   */
  backfillChunk?(plan: BackfillChunkPlan, dir: string): Promise<BackfillChunkOutput>;
  /**
   * Exact training-set features of one view (its source loaded) for the points in the Parquet file
   * `pointsFile` (columns __pid, __k0.., __t: entity keys in the source's key types, label instant):
   * writes one row per point (__pid, then each feature's output column) as Parquet files under `dir`.
   */
  trainingFeatures?(
    view: TrainingViewPlan,
    timezone: string,
    pointsFile: string,
    dir: string,
  ): Promise<string[]>;
  close(): Promise<void>;
}

/** What backfillChunk wrote: per as_of_date its file and row count, and the partition's columns. */
export interface BackfillChunkOutput {
  columns: { name: string; type: string }[];
  files: Map<string, string>;
  rows: Map<string, number>;
}

export type SqlTypeOf = (t: ColumnType) => string;
