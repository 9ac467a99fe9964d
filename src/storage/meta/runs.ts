// Run history: one JSON line per pipeline run under <offline>/_meta/runs.jsonl, append-only.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { CheckRecord } from '../lake/manifest.js';

export interface RunRecord {
  run_id: string;
  command: string;
  started_at: string;
  finished_at: string;
  status: 'ok' | 'failed';
  error?: string;
  partitions: {
    view: string;
    version: number;
    as_of_date: string;
    rows: number;
    duration_ms: number;
    checks?: CheckRecord[];
    late_events?: { late: number; total: number; rate: number };
  }[];
  /** Checks of a view that failed the gate (its partition is not in `partitions`). */
  checks?: (CheckRecord & { view: string; as_of_date?: string })[];
  /** `asof run`: the as_of_date, the exit code and each stage (see pipeline/run.ts). */
  as_of_date?: string;
  exit_code?: number;
  stages?: StageRecord[];
  notify?: { target: string; ok: boolean; error?: string }[];
}

/** One pipeline stage of a run: what went in and out, how long, what was rejected or late. */
export interface StageRecord {
  stage: 'extract' | 'transform' | 'validate' | 'load' | 'notify';
  /** The source (extract) or view (the others) it is about; absent for notify. */
  source?: string;
  view?: string;
  status: 'ok' | 'failed' | 'warn' | 'skipped';
  rows_in?: number;
  rows_out?: number;
  rejected?: number;
  late_event_rate?: number;
  duration_ms: number;
  detail?: string;
}

export function runsFile(offline: string): string {
  return path.join(offline, '_meta', 'runs.jsonl');
}

export function appendRun(offline: string, run: RunRecord): void {
  mkdirSync(path.dirname(runsFile(offline)), { recursive: true });
  appendFileSync(runsFile(offline), `${JSON.stringify(run)}\n`);
}

export function readRuns(offline: string): RunRecord[] {
  try {
    return readFileSync(runsFile(offline), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as RunRecord);
  } catch {
    return [];
  }
}
