// `asof build`: every selected view's features as of one date, each written as one atomic
// partition. Locks each view, loads each source once, plans, compiles, materializes, swaps in.

import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { SchemaNotice } from '../engines/contract.js';
import type { Engine, LoadedSource } from '../engines/engine.js';
import { type EngineType, openEngine } from '../engines/open.js';
import { AsofError } from '../errors.js';
import { planViewBuild } from '../plan/view-build.js';
import type { Project, View } from '../spec/project.js';
import { selectViews } from '../spec/select.js';
import { acquireLock, type Lock } from '../storage/lake/lock.js';
import type { PartitionManifest } from '../storage/lake/manifest.js';
import { recover, writePartition } from '../storage/lake/partition.js';
import { DATA_FILE, viewDir } from '../storage/lake/paths.js';
import { appendRun, type RunRecord } from '../storage/meta/runs.js';
import { recordSchemas, type SchemaRecord, schemaId } from '../storage/meta/schemas.js';
import { type Clock, formatInstant, type IsoDate, systemClock } from '../time/index.js';
import { TOOL_VERSION } from '../version.js';
import { cdcFingerprint, exportCdcHistory } from './cdc-source.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { type CheckResult, type LateEvents, lateEvents, QualityGateError, runChecks } from './quality.js';
import { resolveSourceFiles, sourceFingerprint } from './sources.js';
import { recordViewChanges } from './view-changes.js';

export interface BuildOptions {
  asOf: IsoDate;
  views?: string[];
  clock?: Clock;
  log?: Logger;
  /** Called after the data file is written and before the swap (fault-injection tests use it). */
  beforeSwap?: (view: string) => void | Promise<void>;
  /** The engine to run on (`--engine`); default: the spec's `engine.type`, else duckdb. */
  engine?: EngineType;
  /** An engine already open to run on instead (left open: a test or server reuses one session). */
  using?: Engine;
}

export interface BuiltPartition {
  view: string;
  version: number;
  asOfDate: IsoDate;
  dir: string;
  rowsRead: number;
  rowsWritten: number;
  durationMs: number;
  /** Quality check results (all passed or warned: an error-severity failure throws). */
  checks?: CheckResult[];
  /** The late-event rate of the partition's day, when the source has an ingested_at. */
  lateEvents?: LateEvents;
  /** Milliseconds per stage: transform (materialize), validate (checks), load (write + swap). */
  stageMs?: { transform: number; validate: number; load: number };
}

/** Optional behaviour of buildPartition (kept in one object so that callers stay compatible). */
export interface PartitionOptions {
  /** Run the view's quality checks and gate the swap on them (default true). */
  checks?: boolean;
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

/**
 * Loads every source the views read, once each; entity keys of the views must not be null.
 * With a run id (a run that writes), rows breaking the contract go to the quarantine
 * `<offline>/_rejected/<source>/<run id>.csv`, new file schemas go to the schema history and
 * accepted schema changes are reported on `log`.
 */
export async function loadSources(
  project: Project,
  views: View[],
  engine: Engine,
  alsoSources: string[] = [],
  opts: { runId?: string; clock?: Clock; log?: Logger } = {},
): Promise<Map<string, LoadedSource>> {
  const loaded = new Map<string, LoadedSource>();
  for (const v of views) {
    const keys = new Set([...(engine.nonNullKeys[v.source] ?? []), ...v.keys]);
    engine.nonNullKeys[v.source] = [...keys];
  }
  for (const name of new Set([...views.map((v) => v.source), ...alsoSources])) {
    const source = project.sources[name];
    if (!source) throw new AsofError('spec', `unknown source '${name}'`, { file: project.specFile });
    const quarantineFile = opts.runId
      ? path.join(project.storage.offline, '_rejected', name, `${opts.runId}.csv`)
      : undefined;
    if (source.cdc) await exportCdcHistory(project, source);
    const files = resolveSourceFiles(project, source);
    loaded.set(name, await engine.loadSource(source, files, project.timezone, { quarantineFile }));
  }
  reportContracts(project, [...loaded.values()], opts);
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
  let engine: Engine | undefined;
  try {
    for (const v of views) recover(project.storage.offline, v.name, v.version);
    engine = opts.using ?? (await openEngine(project.engine, opts.engine));
    const sources = await loadSources(project, views, engine, [], { runId, clock, log });
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
      for (const c of b.checks ?? []) if (c.status === 'fail') log.warn(`${view.name}: ${c.message}`);
    }
    record(project, runId, 'build', started, clock, built);
    return built;
  } catch (e) {
    record(project, runId, 'build', started, clock, built, e);
    throw e;
  } finally {
    if (!opts.using) await engine?.close();
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
  opts: PartitionOptions = {},
): Promise<BuiltPartition> {
  const t0 = clock.now();
  const plan = planViewBuild(project, view, asOfDate);
  const result = `result_${view.name}`;
  const rowsWritten = await engine.materialize(result, engine.compileViewBuild(plan));
  const columns = engine.describe
    ? await engine.describe(result)
    : (await engine.query(`DESCRIBE ${JSON.stringify(result)}`)).rows.map((r) => ({
        name: String(r[0]),
        type: String(r[1]),
      }));
  // Validate gates the load: an error-severity failure leaves the previous partition untouched.
  const t1 = clock.now();
  const late = engine.measure ? await lateEvents(project, view, asOfDate, engine) : undefined;
  const checks =
    opts.checks === false ? [] : await runChecks(project, view, asOfDate, result, rowsWritten, engine, late);
  if (checks.some((c) => c.status === 'fail' && c.severity === 'error')) {
    await engine.dropResult(result);
    throw new QualityGateError(view.name, asOfDate, checks);
  }
  const t2 = clock.now();
  const m = {
    project,
    view,
    asOfDate,
    cutoff: plan.cutoff,
    loaded,
    rowsWritten,
    columns,
    runId,
    started: t0,
    engine,
    checks,
    lateEvents: late,
  };
  const dir = await publishPartition(m, clock, async (file) => {
    await engine.writeParquet(result, file);
    await beforeSwap?.(view.name);
  });
  await engine.dropResult(result);
  return {
    ...builtPartition(m, dir, clock.now() - t0),
    checks,
    lateEvents: late,
    stageMs: { transform: t1 - t0, validate: t2 - t1, load: clock.now() - t2 },
  };
}

/** The manifest of one partition, the same for `asof build` and `asof backfill`. */
type ManifestFields = Parameters<typeof partitionManifest>[0];

/**
 * Writes one partition of a view: its data file (`writeData` gets the staging path to write it
 * at), then its manifest, swapped in atomically (storage/lake/partition.ts). Every writer (build,
 * backfill on DuckDB, backfill on another engine) goes through here, so manifests agree.
 */
export function publishPartition(
  m: Omit<ManifestFields, 'dataFiles' | 'finished'>,
  clock: Clock,
  writeData: (file: string) => Promise<void>,
): Promise<string> {
  return writePartition(
    { offline: m.project.storage.offline, view: m.view.name, version: m.view.version, asOfDate: m.asOfDate },
    m.runId,
    async (staging) => {
      await writeData(path.join(staging, DATA_FILE));
      return [DATA_FILE];
    },
    (dataFiles) => partitionManifest({ ...m, dataFiles, finished: clock.now() }),
  );
}

/** What a writer reports of a partition it published (progress lines, the run history). */
export function builtPartition(
  m: Pick<ManifestFields, 'view' | 'asOfDate' | 'loaded' | 'rowsWritten'>,
  dir: string,
  durationMs: number,
): BuiltPartition {
  return {
    view: m.view.name,
    version: m.view.version,
    asOfDate: m.asOfDate,
    dir,
    rowsRead: m.loaded.rows,
    rowsWritten: m.rowsWritten,
    durationMs,
  };
}

export function partitionManifest(m: {
  project: Project;
  view: View;
  asOfDate: IsoDate;
  cutoff: number;
  loaded: LoadedSource;
  rowsWritten: number;
  columns: { name: string; type: string }[];
  dataFiles: PartitionManifest['data_files'];
  runId: string;
  started: number;
  finished: number;
  engine: Pick<Engine, 'name' | 'version'>;
  checks?: CheckResult[];
  lateEvents?: LateEvents;
}): PartitionManifest {
  return {
    view: m.view.name,
    feature_version: m.view.version,
    transformation_version: m.view.transformationVersion,
    as_of_date: m.asOfDate,
    cutoff: formatInstant(m.cutoff),
    timezone: m.project.timezone,
    rows_read: m.loaded.rows,
    rows_written: m.rowsWritten,
    columns: m.columns,
    source: {
      name: m.loaded.source.name,
      files: m.loaded.files,
      fingerprint: m.loaded.source.cdc
        ? cdcFingerprint(m.project, m.loaded.source, m.cutoff)
        : sourceFingerprint(m.loaded.files),
    },
    data_files: m.dataFiles,
    run_id: m.runId,
    started_at: formatInstant(m.started),
    finished_at: formatInstant(m.finished),
    duration_ms: m.finished - m.started,
    engine: m.engine.name,
    engine_version: m.engine.version,
    tool_version: TOOL_VERSION,
    ...(m.checks && m.checks.length > 0 ? { checks: m.checks } : {}),
    ...(m.lateEvents ? { late_events: m.lateEvents } : {}),
  };
}

/** A built partition as a line of the run history. */
export function partitionRecord(b: BuiltPartition): RunRecord['partitions'][number] {
  return {
    view: b.view,
    version: b.version,
    as_of_date: b.asOfDate,
    rows: b.rowsWritten,
    duration_ms: b.durationMs,
    ...(b.checks && b.checks.length > 0 ? { checks: b.checks } : {}),
    ...(b.lateEvents ? { late_events: b.lateEvents } : {}),
  };
}

export function record(
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
    partitions: built.map(partitionRecord),
  };
  if (error instanceof QualityGateError)
    run.checks = error.results.map((c) => ({ view: error.view, as_of_date: error.asOfDate, ...c }));
  if (!error) {
    appendRun(project.storage.offline, run);
    recordViewChanges(project, runId, clock, built);
    return;
  }
  run.error = error instanceof Error ? error.message : String(error);
  try {
    appendRun(project.storage.offline, run);
    recordViewChanges(project, runId, clock, built);
  } catch {
    // The original error is what the user must see; a history line that cannot be written
    // (for example a lake on a full disk) must not replace it.
  }
}

/** Reports accepted schema changes and rejects; a writing run also records the schema history. */
function reportContracts(
  project: Project,
  loaded: LoadedSource[],
  opts: { runId?: string; clock?: Clock; log?: Logger },
): void {
  const log = opts.log ?? silentLogger;
  const seen = new Map<string, Omit<SchemaRecord, 'schema_id'>>();
  for (const l of loaded) {
    const c = l.contract;
    if (!c) continue;
    const newCols = new Set(c.notices.filter((n) => n.kind === 'new_column').map((n) => n.column));
    // One line per change, naming the first file that shows it (a glob may hold many).
    const byChange = new Map<string, SchemaNotice[]>();
    for (const n of c.notices) {
      const key = `${n.kind}/${n.column}/${n.found}`;
      byChange.set(key, [...(byChange.get(key) ?? []), n]);
    }
    for (const [n, ...more] of byChange.values()) {
      if (!n) continue;
      const where = `${n.file}${more.length > 0 ? ` and ${more.length} more file(s)` : ''}`;
      log.warn(
        n.kind === 'new_column'
          ? `source '${l.source.name}': new column '${n.column}' (${n.found}) in ${where}, not in the contract: ignored until sources.${l.source.name}.columns names it`
          : `source '${l.source.name}': column '${n.column}' widened from ${n.expected} to ${n.found} in ${where}: read as ${n.expected}`,
      );
    }
    if (c.rejected > 0) {
      log.warn(
        `source '${l.source.name}': ${c.rejected} of ${c.rowsIn} row(s) quarantined${c.quarantineFile ? ` in ${c.quarantineFile}` : ''} (${Object.entries(
          c.rejectReasons,
        )
          .map(([r, n]) => `${n} ${r}`)
          .join('; ')})`,
      );
    }
    for (const s of c.schemas) {
      const key = `${l.source.name}/${schemaId(s.columns)}`;
      if (!seen.has(key)) {
        seen.set(key, {
          source: l.source.name,
          columns: s.columns,
          first_seen_at: formatInstant((opts.clock ?? systemClock).now()),
          first_file: s.file,
          run_id: opts.runId ?? '',
          new_columns: s.columns.map((x) => x.name).filter((n) => newCols.has(n)),
        });
      }
    }
  }
  if (opts.runId) recordSchemas(project.storage.offline, [...seen.values()]);
}
