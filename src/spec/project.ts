// The normalized Project: what every later layer (plan, engines, pipelines) works from.
// Expressions are parsed trees, windows parsed, keys as lists, paths absolute.

import type { AggKind } from '../aggregate/kinds.js';
import type { Expr } from '../expr/ast.js';
import type { CutoffRule, Window } from '../time/index.js';
import type { Columns, ColumnType } from '../types.js';

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
  description: string | undefined;
  owner: string | undefined;
}

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
}
