// Run history: one JSON line per pipeline run under <offline>/_meta/runs.jsonl, append-only.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface RunRecord {
  run_id: string;
  command: string;
  started_at: string;
  finished_at: string;
  status: 'ok' | 'failed';
  error?: string;
  partitions: { view: string; version: number; as_of_date: string; rows: number; duration_ms: number }[];
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
