// `asof build`: every selected view's features as of one date, each written as one atomic
// partition. Locks each view, loads each source once, plans, compiles, materializes, swaps in.

import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import type { Engine, LoadedSource } from '../engines/engine.js';
import { AsofError } from '../errors.js';
import { planViewBuild } from '../plan/view-build.js';
import type { Project, View } from '../spec/project.js';
import { acquireLock, type Lock } from '../storage/lake/lock.js';
import { recover, writePartition } from '../storage/lake/partition.js';
import { DATA_FILE, viewDir } from '../storage/lake/paths.js';
import { appendRun, type RunRecord } from '../storage/meta/runs.js';
import { type Clock, formatInstant, type IsoDate, systemClock } from '../time/index.js';
import { TOOL_VERSION } from '../version.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { resolveSourceFiles, sourceFingerprint } from './sources.js';

export interface BuildOptions {
  asOf: IsoDate;
  views?: string[];
  clock?: Clock;
  log?: Logger;
  /** Called after the data file is written and before the swap (fault-injection tests use it). */
  beforeSwap?: (view: string) => void | Promise<void>;
}

export interface BuiltPartition {
  view: string;
  version: number;
  asOfDate: IsoDate;
  dir: string;
  rowsRead: number;
  rowsWritten: number;
  durationMs: number;
}

export function selectViews(project: Project, names: string[] | undefined): View[] {
  const all = Object.values(project.views);
  if (!names || names.length === 0) {
    if (all.length === 0)
      throw new AsofError('spec', 'the project declares no views', { file: project.specFile });
    return all;
  }
  return names.map((n) => {
    const v = project.views[n];
    if (!v) {
      throw new AsofError(
        'usage',
        `unknown view '${n}'`,
        { file: project.specFile },
        `views: ${Object.keys(project.views).join(', ')}`,
      );
    }
    return v;
  });
}

/** Takes the lock of every view, all or nothing. */
export function lockViews(project: Project, views: View[], command: string, clock: Clock): Lock[] {
  const locks: Lock[] = [];
  try {
    for (const v of views)
      locks.push(
        acquireLock(viewDir(project.storage.offline, v.name), '.writer', command, new Date(clock.now())),
      );
  } catch (e) {
    for (const l of locks) l.release();
    throw e;
  }
  return locks;
}

/** Loads every source the views read, once each; entity keys of the views must not be null. */
export async function loadSources(
  project: Project,
  views: View[],
  engine: DuckDbEngine,
  alsoSources: string[] = [],
): Promise<Map<string, LoadedSource>> {
  const loaded = new Map<string, LoadedSource>();
  for (const v of views) {
    const keys = new Set([...(engine.nonNullKeys[v.source] ?? []), ...v.keys]);
    engine.nonNullKeys[v.source] = [...keys];
  }
  for (const name of new Set([...views.map((v) => v.source), ...alsoSources])) {
    const source = project.sources[name];
    if (!source) throw new AsofError('spec', `unknown source '${name}'`, { file: project.specFile });
    loaded.set(name, await engine.loadSource(source, resolveSourceFiles(project, source), project.timezone));
  }
  return loaded;
}

export async function build(project: Project, opts: BuildOptions): Promise<BuiltPartition[]> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const views = selectViews(project, opts.views);
  const runId = `${new Date(clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
  const started = clock.now();
  const locks = lockViews(project, views, `build --as-of ${opts.asOf}`, clock);
  const built: BuiltPartition[] = [];
  let engine: DuckDbEngine | undefined;
  try {
    for (const v of views) recover(project.storage.offline, v.name, v.version);
    engine = await DuckDbEngine.open();
    const sources = await loadSources(project, views, engine);
    for (const view of views) {
      const loaded = sources.get(view.source);
      if (!loaded) throw new Error(`source ${view.source} was not loaded`);
      built.push(
        await buildPartition(project, view, opts.asOf, loaded, engine, runId, clock, opts.beforeSwap),
      );
      const b = built[built.length - 1]!;
      log.info(
        `${view.name} v${view.version} as_of_date=${opts.asOf}: ${b.rowsWritten} rows (read ${b.rowsRead}) in ${b.durationMs} ms -> ${path.relative(process.cwd(), b.dir) || b.dir}`,
      );
    }
    record(project, runId, 'build', started, clock, built);
    return built;
  } catch (e) {
    record(project, runId, 'build', started, clock, built, e);
    throw e;
  } finally {
    await engine?.close();
    for (const l of locks) l.release();
  }
}

export async function buildPartition(
  project: Project,
  view: View,
  asOfDate: IsoDate,
  loaded: LoadedSource,
  engine: Engine,
  runId: string,
  clock: Clock,
  beforeSwap?: (view: string) => void | Promise<void>,
): Promise<BuiltPartition> {
  const t0 = clock.now();
  const plan = planViewBuild(project, view, asOfDate);
  const result = `result_${view.name}`;
  const rowsWritten = await engine.materialize(result, engine.compileViewBuild(plan));
  const columns = (await engine.query(`DESCRIBE ${JSON.stringify(result)}`)).rows.map((r) => ({
    name: String(r[0]),
    type: String(r[1]),
  }));
  const dir = await writePartition(
    { offline: project.storage.offline, view: view.name, version: view.version, asOfDate },
    runId,
    async (staging) => {
      await engine.writeParquet(result, path.join(staging, DATA_FILE));
      await beforeSwap?.(view.name);
      return [DATA_FILE];
    },
    (dataFiles) => {
      const finished = clock.now();
      return {
        view: view.name,
        feature_version: view.version,
        transformation_version: view.transformationVersion,
        as_of_date: asOfDate,
        cutoff: formatInstant(plan.cutoff),
        timezone: project.timezone,
        rows_read: loaded.rows,
        rows_written: rowsWritten,
        columns,
        source: {
          name: loaded.source.name,
          files: loaded.files,
          fingerprint: sourceFingerprint(loaded.files),
        },
        data_files: dataFiles,
        run_id: runId,
        started_at: formatInstant(t0),
        finished_at: formatInstant(finished),
        duration_ms: finished - t0,
        engine: engine.name,
        engine_version: engine.version,
        tool_version: TOOL_VERSION,
      };
    },
  );
  await engine.dropResult(result);
  return {
    view: view.name,
    version: view.version,
    asOfDate,
    dir,
    rowsRead: loaded.rows,
    rowsWritten,
    durationMs: clock.now() - t0,
  };
}

function record(
  project: Project,
  runId: string,
  command: string,
  started: number,
  clock: Clock,
  built: BuiltPartition[],
  error?: unknown,
): void {
  const run: RunRecord = {
    run_id: runId,
    command,
    started_at: formatInstant(started),
    finished_at: formatInstant(clock.now()),
    status: error ? 'failed' : 'ok',
    partitions: built.map((b) => ({
      view: b.view,
      version: b.version,
      as_of_date: b.asOfDate,
      rows: b.rowsWritten,
      duration_ms: b.durationMs,
    })),
  };
  if (!error) {
    appendRun(project.storage.offline, run);
    return;
  }
  run.error = error instanceof Error ? error.message : String(error);
  try {
    appendRun(project.storage.offline, run);
  } catch {
    // The original error is what the user must see; a history line that cannot be written
    // (for example a lake on a full disk) must not replace it.
  }
}
