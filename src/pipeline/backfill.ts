// `asof plan` and `asof backfill`: which partitions of a date range are new, stale (definition or
// source changed), corrupt (a data file no longer matches its manifest's sha256) or up to date;
// then every stale date of a view built in chunks, each chunk one query, each date one atomic
// partition exactly as `asof build` writes it.
// Killed at any moment, finished partitions stay published and the rerun skips them.

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { dropChunk, materializeChunk, spillTo, writeChunkDate } from '../engines/duckdb/backfill.js';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import type { Engine, LoadedSource } from '../engines/engine.js';
import { duckDbOptions, type EngineType, openEngine } from '../engines/open.js';
import { AsofError } from '../errors.js';
import { chunkDates, planBackfillChunk } from '../plan/backfill.js';
import type { Project, View } from '../spec/project.js';
import { selectViews } from '../spec/select.js';
import { recover, verifyPartition } from '../storage/lake/partition.js';
import { versionDir } from '../storage/lake/paths.js';
import { type PublishedPartition, readPublished } from '../storage/lake/published.js';
import { type Clock, cutoffInstant, type IsoDate, systemClock } from '../time/index.js';
import { backfillOnEngine, runsChunks } from './backfill-engine.js';
import {
  type BuiltPartition,
  buildPartition,
  builtPartition,
  loadSources,
  lockViews,
  publishPartition,
  record,
} from './build.js';
import { cdcFingerprint, exportCdcSources } from './cdc-source.js';
import { type Logger, silentLogger } from './log.js';
import { resolveSourceFiles, sourceFingerprint } from './sources.js';

export type PartitionState = 'new' | 'definition_changed' | 'source_changed' | 'corrupt' | 'up_to_date';

export interface PlannedPartition {
  view: string;
  version: number;
  asOfDate: IsoDate;
  state: PartitionState;
  /** Whether a backfill (with the same --force) builds it. */
  build: boolean;
  reason: string;
}

export interface BackfillOptions {
  dates: IsoDate[];
  views?: string[];
  force?: boolean;
  /** Partitions written at once (default 1). */
  jobs?: number;
  /** Dates computed by one query (default 31): bounds memory. */
  chunkDays?: number;
  clock?: Clock;
  log?: Logger;
  onProgress?: (p: BackfillProgress) => void;
  /** Called once the sources are loaded and checked (the benchmark times the load apart). */
  onSourcesLoaded?: () => void;
  /** The engine to run on (`--engine`); default: the spec's `engine.type`, else duckdb. */
  engine?: EngineType;
  /** An open engine that runs chunks (engine.supports.backfillChunks) to use, left open. */
  using?: Engine;
}

export interface BackfillProgress {
  done: number;
  total: number;
  rows: number;
  view: string;
  asOfDate: IsoDate;
}

export interface BackfillResult {
  planned: PlannedPartition[];
  built: BuiltPartition[];
  skipped: number;
}

/**
 * What a backfill of `dates` would do, from the manifests and the source files' metadata; the data
 * files of partitions that would be skipped are hashed, so a corrupt one is rebuilt.
 */
export function planBackfill(
  project: Project,
  opts: Pick<BackfillOptions, 'dates' | 'views' | 'force'>,
): PlannedPartition[] {
  const views = selectViews(project, opts.views);
  const fingerprints = new Map<string, string>();
  const fingerprint = (v: View, asOfDate: IsoDate): string => {
    const cdc = project.sources[v.source];
    // A CDC history's fingerprint is per partition: the changes before its cutoff (cdc-source.ts).
    if (cdc?.cdc) return cdcFingerprint(project, cdc, cutoffInstant(asOfDate, v.cutoff, project.timezone));
    let f = fingerprints.get(v.source);
    if (f === undefined) {
      const source = project.sources[v.source];
      if (!source) throw new AsofError('spec', `unknown source '${v.source}'`, { file: project.specFile });
      f = sourceFingerprint(resolveSourceFiles(project, source));
      fingerprints.set(v.source, f);
    }
    return f;
  };
  const out: PlannedPartition[] = [];
  for (const view of views) {
    for (const asOfDate of opts.dates) {
      const published = readPublished(project.storage.offline, view, asOfDate);
      const m = published?.manifest;
      let state: PartitionState;
      let reason: string;
      if (!m) {
        state = 'new';
        reason = 'no partition yet';
      } else if (m.transformation_version !== view.transformationVersion) {
        state = 'definition_changed';
        reason = `transformation_version ${m.transformation_version} -> ${view.transformationVersion}`;
      } else if (m.source.fingerprint !== fingerprint(view, asOfDate)) {
        state = 'source_changed';
        reason = `source '${view.source}' fingerprint ${m.source.fingerprint} -> ${fingerprint(view, asOfDate)}`;
      } else {
        // Only a partition that would be skipped needs its files hashed: the others are rebuilt.
        const damaged = verifyPartition((published as PublishedPartition).dir, m);
        if (damaged.length > 0) {
          state = 'corrupt';
          reason = `data file ${damaged.map((d) => `${path.basename(d.file)}: ${d.problem}`).join('; ')}`;
        } else {
          state = 'up_to_date';
          reason = opts.force ? 'up to date, rebuilt (--force)' : 'up to date, skipped';
        }
      }
      out.push({
        view: view.name,
        version: view.version,
        asOfDate,
        state,
        build: state !== 'up_to_date' || opts.force === true,
        reason,
      });
    }
  }
  return out;
}

/** Loads the sources, and loads again if a file changed while being read (the fingerprint is the one read). */
async function loadStable(project: Project, views: View[], engine: DuckDbEngine) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const loaded = await loadSources(project, views, engine);
    const changed = [...loaded.values()].filter(
      (l) => sourceFingerprint(resolveSourceFiles(project, l.source)) !== sourceFingerprint(l.files),
    );
    if (changed.length === 0) return loaded;
  }
  throw new AsofError(
    'contract',
    'source files kept changing while being read',
    {},
    'rerun the backfill once the files are written',
  );
}

export async function backfill(project: Project, opts: BackfillOptions): Promise<BackfillResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const views = selectViews(project, opts.views);
  const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
  const runId = `${new Date(clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
  const started = clock.now();
  const first = opts.dates[0];
  const last = opts.dates[opts.dates.length - 1];
  const locks = lockViews(project, views, `backfill --from ${first} --to ${last}`, clock);
  const built: BuiltPartition[] = [];
  let engine: DuckDbEngine | undefined;
  let other: Engine | undefined;
  const writers: DuckDBConnection[] = [];
  let spill: string | undefined;
  try {
    for (const v of views) recover(project.storage.offline, v.name, v.version);
    // Planned under the lock, after recovery: what is published now is what the plan reads.
    await exportCdcSources(project, views);
    const planned = planBackfill(project, opts);
    const todo = planned.filter((p) => p.build);
    const skipped = planned.length - todo.length;
    if (skipped > 0) log.info(`${skipped} partition(s) up to date, skipped`);
    const busyViews = views.filter((v) => todo.some((p) => p.view === v.name));
    const chosen =
      busyViews.length === 0 ? undefined : (opts.using ?? (await openEngine(project.engine, opts.engine)));
    if (chosen && runsChunks(chosen)) {
      // One session for every date of the range: a chunk per job, a swap per date (backfill-engine.ts).
      if (!opts.using) other = chosen;
      const dates = (v: View) => todo.filter((p) => p.view === v.name).map((p) => p.asOfDate);
      await backfillOnEngine(
        {
          project,
          engine: chosen,
          todo: busyViews.map((view) => ({ view, dates: dates(view) })),
          total: todo.length,
          chunkDays: opts.chunkDays ?? 31,
          runId,
          clock,
          log,
          onProgress: opts.onProgress,
          onSourcesLoaded: opts.onSourcesLoaded,
        },
        built,
      );
    } else if (busyViews.length > 0) {
      engine =
        chosen instanceof DuckDbEngine && !opts.using
          ? chosen
          : await DuckDbEngine.open(duckDbOptions(project.engine));
      // Spills (a source larger than memory_limit, e.g. 100M rows) go in the first view's staging
      // folder: on the lake's disk, removed at the end, and cleared by recover() if the run is killed.
      const spillView = busyViews[0]!;
      spill = path.join(
        versionDir(project.storage.offline, spillView.name, spillView.version),
        '.staging',
        `spill-${runId}`,
      );
      await spillTo(engine, spill);
      const sources = await loadStable(project, busyViews, engine);
      opts.onSourcesLoaded?.();
      for (let i = 0; i < jobs; i++) writers.push(await engine.connect());
      let done = 0;
      let rows = 0;
      for (const view of busyViews) {
        const loaded = sources.get(view.source);
        if (!loaded) throw new Error(`source ${view.source} was not loaded`);
        const dates = todo.filter((p) => p.view === view.name).map((p) => p.asOfDate);
        if ((view.checks ?? []).length > 0) {
          // Quality checks compare each date with the partition before it and gate each swap, so
          // such a view goes date by date, in order, through build's path (the same rows: the
          // parity test holds both paths equal).
          for (const asOfDate of dates) {
            const b = await buildPartition(project, view, asOfDate, loaded, engine, runId, clock);
            built.push(b);
            done++;
            rows += b.rowsWritten;
            opts.onProgress?.({ done, total: todo.length, rows, view: view.name, asOfDate });
            log.info(
              `${view.name} v${view.version} as_of_date=${asOfDate}: ${b.rowsWritten} rows, checks passed`,
            );
          }
          continue;
        }
        for (const chunk of chunkDates(dates, opts.chunkDays ?? 31)) {
          const t0 = clock.now();
          const plan = planBackfillChunk(project, view, chunk);
          const result = await materializeChunk(engine, plan, `__backfill_${view.name}`);
          const computeMs = clock.now() - t0;
          let next = 0;
          const writeOne = async (conn: DuckDBConnection): Promise<void> => {
            for (;;) {
              const anchor = plan.anchors[next++];
              if (!anchor) return;
              const b = await writeDate(project, view, anchor, loaded, result, conn, runId, clock, engine!);
              b.durationMs += Math.round(computeMs / plan.anchors.length);
              built.push(b);
              done++;
              rows += b.rowsWritten;
              opts.onProgress?.({ done, total: todo.length, rows, view: view.name, asOfDate: b.asOfDate });
              log.info(
                `${view.name} v${view.version} as_of_date=${b.asOfDate}: ${b.rowsWritten} rows -> ${path.relative(process.cwd(), b.dir) || b.dir}`,
              );
            }
          };
          await Promise.all(writers.map(writeOne));
          await dropChunk(engine, result);
        }
      }
    }
    record(project, runId, 'backfill', started, clock, built);
    return { planned, built, skipped };
  } catch (e) {
    record(project, runId, 'backfill', started, clock, built, e);
    throw e;
  } finally {
    for (const w of writers) w.closeSync();
    await engine?.close();
    if (spill) rmSync(spill, { recursive: true, force: true });
    await other?.close();
    for (const l of locks) l.release();
  }
}

async function writeDate(
  project: Project,
  view: View,
  anchor: ReturnType<typeof planBackfillChunk>['anchors'][number],
  loaded: LoadedSource,
  chunk: Awaited<ReturnType<typeof materializeChunk>>,
  conn: DuckDBConnection,
  runId: string,
  clock: Clock,
  engine: DuckDbEngine,
): Promise<BuiltPartition> {
  const t0 = clock.now();
  const asOfDate = anchor.asOfDate;
  const rowsWritten = chunk.rows.get(asOfDate) ?? 0;
  const m = {
    project,
    view,
    asOfDate,
    cutoff: anchor.cutoff,
    loaded,
    rowsWritten,
    columns: chunk.columns,
    runId,
    started: t0,
    engine,
  };
  const dir = await publishPartition(m, clock, (file) => writeChunkDate(conn, chunk, asOfDate, file));
  return builtPartition(m, dir, clock.now() - t0);
}
