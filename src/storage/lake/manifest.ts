// The manifest written beside each partition's data: what was built, from what, by which logic.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SourceFile } from '../../engines/engine.js';
import { MANIFEST_FILE } from './paths.js';

/** One quality check's result as recorded in manifests and run history. */
export interface CheckRecord {
  check: string;
  feature?: string;
  severity: 'error' | 'warn';
  /** skipped: nothing to compare with (no previous partition, an empty result). */
  status: 'pass' | 'fail' | 'skipped';
  /** The measured value (a rate 0..1, a percent, a PSI, an age in hours, a count). */
  value: number | null;
  /** The declared limit, readable: "<= 0.05", "in [0, 100]". */
  limit: string;
  message: string;
  /** A few failing rows (keys and value) when the check looks at rows. */
  examples?: Record<string, unknown>[];
  spec_path: string;
}

export interface PartitionManifest {
  view: string;
  feature_version: number;
  transformation_version: string;
  as_of_date: string;
  /** ISO instant; events strictly before it were visible. */
  cutoff: string;
  timezone: string;
  rows_read: number;
  rows_written: number;
  columns: { name: string; type: string }[];
  source: { name: string; files: SourceFile[]; fingerprint: string };
  data_files: { path: string; bytes: number; sha256: string }[];
  run_id: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  engine: string;
  engine_version: string;
  tool_version: string;
  /** Quality check results of the run that wrote it (see pipeline/quality.ts). */
  checks?: CheckRecord[];
  /** Events of the as_of_date that arrived after the cutoff plus the allowed lateness. */
  late_events?: { late: number; total: number; rate: number };
}

export function readManifest(dir: string): PartitionManifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as PartitionManifest;
  } catch {
    return undefined;
  }
}
