// The manifest written beside each partition's data: what was built, from what, by which logic.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SourceFile } from '../../engines/engine.js';
import { MANIFEST_FILE } from './paths.js';

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
}

export function readManifest(dir: string): PartitionManifest | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as PartitionManifest;
  } catch {
    return undefined;
  }
}
