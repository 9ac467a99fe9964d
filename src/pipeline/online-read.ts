// Reading the online store: the values of one entity for a read time (`asof get`), and the parity
// check of every (or a sample of) online entity against DuckDB's batch computation over the same
// accepted events in the lake (`asof parity`).

import path from 'node:path';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import { AsofError } from '../errors.js';
import type { Value } from '../expr/evaluate.js';
import { planViewAt } from '../plan/view-at.js';
import type { Project, View } from '../spec/project.js';
import { selectView } from '../spec/select.js';
import type { Checkpoint } from '../storage/online/sqlite.js';
import type { OnlineReadStore } from '../storage/online/store.js';
import { eventsDir } from '../stream/job.js';
import { type EntityState, ViewRuntime } from '../stream/state.js';
import { formatInstant, type Instant } from '../time/index.js';
import { openReadStore } from './online-store.js';
import { resolveSourceFiles } from './sources.js';

export interface OnlineValues {
  view: string;
  key: string;
  at: string;
  /** Feature name -> value; null where batch would give NULL; null as a whole when the entity is absent then. */
  values: Record<string, Value> | null;
}

/** Refuses a read before a compaction horizon of any job serving the view (it would miss events). */
export function checkExact(checkpoints: Checkpoint[], view: View, at: Instant): void {
  for (const c of checkpoints) {
    if (c.exactFrom !== null && at < c.exactFrom) {
      throw new AsofError(
        'usage',
        `the online state of '${view.name}' is compacted before ${formatInstant(c.exactFrom)}; a read at ${formatInstant(at)} would miss events`,
        {},
        'read at a later time, or use `asof build` for the past',
      );
    }
  }
}

export async function getOnline(
  project: Project,
  viewName: string,
  key: string,
  at: Instant,
): Promise<OnlineValues> {
  const view = selectView(project, viewName);
  const store = await openReadStore(project, { strict: true });
  try {
    return await readEntity(store, new ViewRuntime(view, project.timezone, project), key, at);
  } finally {
    await store.close();
  }
}

/** The values of one entity at `at` from an open store (shared by `asof get` and `asof serve`). */
export async function readEntity(
  store: OnlineReadStore,
  rt: ViewRuntime,
  key: string,
  at: Instant,
  checkpoints?: Checkpoint[],
): Promise<OnlineValues> {
  const view = rt.view;
  checkExact(checkpoints ?? (await store.checkpointsOf(view.name)), view, at);
  const state = await store.getState(view.name, key);
  return { view: view.name, key, at: formatInstant(at), values: valuesOf(rt, state, at) };
}

/** The served values of a state at `at`: feature name -> value, or null when the entity is absent then. */
export function valuesOf(
  rt: ViewRuntime,
  state: EntityState | null,
  at: Instant,
): Record<string, Value> | null {
  const vals = state ? rt.valuesAt(state, at) : null;
  if (vals === null) return null;
  // fromEntries, not assignment: a feature may be named __proto__
  return Object.fromEntries(rt.view.features.map((f, i) => [f.name, vals[i] ?? null]));
}

export interface ParityReport {
  view: string;
  at: string;
  compared: number;
  mismatches: { key: string; feature: string; online: Value | undefined; batch: Value | undefined }[];
}

function same(a: Value | undefined, b: Value | undefined): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return (a ?? null) === (b ?? null);
}

function plain(v: unknown): Value {
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined) return null;
  return v as Value;
}

/** Online values vs a batch computation at `at` over the lake's accepted events of the view's source. */
export async function checkParity(
  project: Project,
  viewName: string,
  at: Instant,
  sample?: number,
): Promise<ParityReport> {
  const view = selectView(project, viewName);
  const source = project.sources[view.source];
  if (!source) throw new AsofError('spec', `unknown source '${view.source}'`, { file: project.specFile });
  const store = await openReadStore(project, { strict: true });
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    checkExact(await store.checkpointsOf(view.name), view, at);
    const rel = path.relative(project.root, eventsDir(project, source.name));
    const lakeSource = {
      ...source,
      path: `${rel.split(path.sep).join('/')}/*/*.parquet`,
      format: 'parquet' as const,
      // the stream dedupes on the source's primary key (last offset wins); so does this batch
    };
    engine.nonNullKeys[source.name] = view.keys;
    await engine.loadSource(lakeSource, resolveSourceFiles(project, lakeSource), project.timezone);
    const batch = await engine.query(engine.compileViewBuild(planViewAt(project, view, at)));
    const names = batch.columns.map((c) => c.name);
    const rt = new ViewRuntime(view, project.timezone, project);
    const batchRows = new Map<string, unknown[]>();
    for (const row of batch.rows) {
      const kv = view.keys.map((k) => plain(row[names.indexOf(k)]));
      batchRows.set(view.keys.length === 1 ? String(kv[0]) : JSON.stringify(kv), row);
    }
    let keys = [...new Set([...(await store.keys(view.name)), ...batchRows.keys()])].sort();
    if (sample !== undefined && sample < keys.length) {
      const step = keys.length / sample;
      keys = Array.from({ length: sample }, (_, i) => keys[Math.floor(i * step)] as string);
    }
    const mismatches: ParityReport['mismatches'] = [];
    for (const key of keys) {
      const st = await store.getState(view.name, key);
      const online = st ? rt.valuesAt(st, at) : null;
      const b = batchRows.get(key);
      if (!online && !b) continue;
      for (const [i, f] of view.features.entries()) {
        const ov = online ? online[i] : undefined;
        const bv = b ? plain(b[names.indexOf(f.name)]) : undefined;
        if (!online || !b || !same(ov, bv)) mismatches.push({ key, feature: f.name, online: ov, batch: bv });
      }
    }
    return { view: view.name, at: formatInstant(at), compared: keys.length, mismatches };
  } finally {
    await engine.close();
    await store.close();
  }
}
