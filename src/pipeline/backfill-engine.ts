// Backfill on an engine that computes a whole chunk in one job (engine.supports.backfillChunks,
// e.g. Spark): per chunk one job writes one file per date beside the lake, then each date is
// swapped in as its own atomic partition with its manifest, exactly as `asof build` writes it.
// Killed halfway, published dates stay; the chunk's files sit in .staging until recover() clears them.

import { rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { Engine, LoadedSource } from '../engines/engine.js';
import { AsofError } from '../errors.js';
import { chunkDates, planBackfillChunk } from '../plan/backfill.js';
import type { Project, View } from '../spec/project.js';
import { versionDir } from '../storage/lake/paths.js';
import type { Clock, IsoDate } from '../time/index.js';
import type { BackfillProgress } from './backfill.js';
import {
  type BuiltPartition,
  buildPartition,
  builtPartition,
  loadSources,
  publishPartition,
} from './build.js';
import type { Logger } from './log.js';
import { resolveSourceFiles, sourceFingerprint } from './sources.js';

export interface EngineBackfill {
  project: Project;
  engine: Engine;
  /** Per view, the dates to build (sorted). */
  todo: { view: View; dates: IsoDate[] }[];
  total: number;
  chunkDays: number;
  runId: string;
  clock: Clock;
  log: Logger;
  onProgress?: (p: BackfillProgress) => void;
  onSourcesLoaded?: () => void;
}

/** Whether the engine can run a backfill chunk as one job. */
export function runsChunks(engine: Engine): boolean {
  return engine.supports.backfillChunks === true && engine.backfillChunk !== undefined;
}

export async function backfillOnEngine(b: EngineBackfill, built: BuiltPartition[]): Promise<void> {
  const { project, engine, clock, log, runId } = b;
  const views = b.todo.map((t) => t.view);
  const sources = await loadSources(project, views, engine, [], { runId, clock, log });
  // The fingerprint in each manifest must be the one read: a file changed during the load fails.
  for (const l of sources.values()) {
    if (l.source.cdc) continue;
    if (sourceFingerprint(resolveSourceFiles(project, l.source)) !== sourceFingerprint(l.files)) {
      throw new AsofError(
        'contract',
        `source '${l.source.name}' changed while being read`,
        {},
        'rerun the backfill once the files are written',
      );
    }
  }
  b.onSourcesLoaded?.();
  let done = 0;
  let rows = 0;
  const progress = (p: BuiltPartition): void => {
    built.push(p);
    done++;
    rows += p.rowsWritten;
    b.onProgress?.({ done, total: b.total, rows, view: p.view, asOfDate: p.asOfDate });
  };
  for (const { view, dates } of b.todo) {
    const loaded = sources.get(view.source);
    if (!loaded) throw new Error(`source ${view.source} was not loaded`);
    if ((view.checks ?? []).length > 0) {
      // Checks compare each date with the one before and gate each swap: date by date, in order.
      for (const asOfDate of dates) {
        const p = await buildPartition(project, view, asOfDate, loaded, engine, runId, clock);
        progress(p);
        log.info(
          `${view.name} v${view.version} as_of_date=${asOfDate}: ${p.rowsWritten} rows, checks passed`,
        );
      }
      continue;
    }
    for (const chunk of chunkDates(dates, b.chunkDays)) {
      const t0 = clock.now();
      const plan = planBackfillChunk(project, view, chunk);
      // Inside the lake (same file system, so the swap is a rename); recover() clears leftovers.
      const dir = path.join(
        versionDir(project.storage.offline, view.name, view.version),
        '.staging',
        `chunk-${chunk[0]}.${runId}`,
      );
      try {
        const out = await (engine.backfillChunk as NonNullable<Engine['backfillChunk']>).call(
          engine,
          plan,
          dir,
        );
        const share = Math.round((clock.now() - t0) / plan.anchors.length);
        for (const anchor of plan.anchors) {
          const p = await swapDate(b, view, anchor.asOfDate, anchor.cutoff, loaded, out, share);
          progress(p);
          log.info(
            `${view.name} v${view.version} as_of_date=${p.asOfDate}: ${p.rowsWritten} rows -> ${path.relative(process.cwd(), p.dir) || p.dir}`,
          );
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}

async function swapDate(
  b: EngineBackfill,
  view: View,
  asOfDate: IsoDate,
  cutoff: number,
  loaded: LoadedSource,
  out: Awaited<ReturnType<NonNullable<Engine['backfillChunk']>>>,
  computeMs: number,
): Promise<BuiltPartition> {
  const { project, clock, runId } = b;
  const t0 = clock.now();
  const file = out.files.get(asOfDate);
  if (file === undefined) throw new Error(`the engine wrote no file for ${asOfDate}`);
  const rowsWritten = out.rows.get(asOfDate) ?? 0;
  const m = {
    project,
    view,
    asOfDate,
    cutoff,
    loaded,
    rowsWritten,
    columns: out.columns,
    runId,
    started: t0,
    engine: b.engine,
  };
  const dir = await publishPartition(m, clock, (to) => rename(file, to));
  return builtPartition(m, dir, clock.now() - t0 + computeMs);
}
