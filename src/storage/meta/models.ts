// The metadata store of models under <project>/.asof/meta/: models.json (the version each model was
// last built at, its status and partitions) and changes.jsonl (every version transition, append-only).
// models.json is replaced by rename, so a run killed halfway leaves the previous state readable.

import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ModelState {
  version: string;
  definition_hash: string;
  materialization: string;
  /** ok, or the reason the model's data cannot be trusted (its tests failed). */
  status: 'ok' | 'tests_failed';
  built_at: string;
  run_id: string;
  /** Incremental models: every date with a partition, sorted. */
  partitions: string[];
  /** Incremental models: the version each date was last built at (a narrower rebuild leaves some older). */
  partition_versions?: Record<string, string>;
  /** The model's file text as built, to print a short diff at the next change. */
  text: string;
  /** The warehouse it was built in (duckdb, postgres, spark); absent in states written before. */
  warehouse?: string;
}

export interface ModelsState {
  models: Record<string, ModelState>;
}

/** The models as last built in `warehouse`: one built last in another (--engine spark, then duckdb) is new there. */
export function modelsStateIn(state: ModelsState, warehouse: string): ModelsState {
  return {
    models: Object.fromEntries(
      Object.entries(state.models).filter(([, s]) => !s.warehouse || s.warehouse === warehouse),
    ),
  };
}

export interface ChangeRecord {
  at: string;
  kind: 'model' | 'view';
  name: string;
  old_version: string | null;
  new_version: string;
  /** Why: 'new', 'changed' (its own definition) or 'upstream' (only an upstream version moved). */
  reason: 'new' | 'changed' | 'upstream';
  /** A few lines: removed lines start with '-', added with '+'. */
  diff: string[];
  /** Dates rebuilt (incremental), or ['all'] for a view or table rebuilt whole. */
  partitions: string[];
  run_id: string;
}

export function metaDir(root: string): string {
  return path.join(root, '.asof', 'meta');
}

export function readModelsState(root: string): ModelsState {
  const f = path.join(metaDir(root), 'models.json');
  if (!existsSync(f)) return { models: {} };
  return JSON.parse(readFileSync(f, 'utf8')) as ModelsState;
}

export function writeModelsState(root: string, state: ModelsState): void {
  const dir = metaDir(root);
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, 'models.json');
  const tmp = `${f}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, f);
}

export function appendChange(root: string, change: ChangeRecord): void {
  const dir = metaDir(root);
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, 'changes.jsonl'), `${JSON.stringify(change)}\n`);
}

export function readChanges(root: string): ChangeRecord[] {
  const f = path.join(metaDir(root), 'changes.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ChangeRecord);
}

/** A short line diff (at most `max` lines): lines only in the old text, then lines only in the new. */
export function shortDiff(oldText: string, newText: string, max = 8): string[] {
  const norm = (t: string) =>
    t
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l.trim() !== '');
  const a = norm(oldText);
  const b = norm(newText);
  const inB = new Set(b);
  const inA = new Set(a);
  const out = [
    ...a.filter((l) => !inB.has(l)).map((l) => `- ${l.trim()}`),
    ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l.trim()}`),
  ];
  return out.length > max ? [...out.slice(0, max), `... ${out.length - max} more line(s)`] : out;
}
