// CDC pipelines: apply Debezium files, follow a PostgreSQL slot (snapshot, then stream), report
// status, read a source as of an instant, and drop a capture. The CLI is a thin shell over these.

import { type ApplyResult, applyChanges } from '../cdc/apply.js';
import { type CdcChange, formatLsn, readDebeziumFile } from '../cdc/events.js';
import {
  acknowledge,
  connect,
  dropPublication,
  dropSlot,
  heartbeat,
  type PgTarget,
  peek,
  pgTarget,
  type SlotStatus,
  slotExists,
  slotStatus,
  snapshot,
} from '../cdc/postgres.js';
import { type CdcPosition, CdcStore, cdcTableNames, historyAsOfSql } from '../engines/duckdb/cdc.js';
import { DuckDbWarehouse } from '../engines/duckdb/warehouse.js';
import type { QueryResult } from '../engines/engine.js';
import { AsofError } from '../errors.js';
import type { CdcSource } from '../spec/cdc.js';
import type { Project } from '../spec/project.js';
import type { Clock } from '../time/index.js';
import type { Logger } from './log.js';

export function cdcSource(project: Project, name: string): CdcSource {
  const s = project.cdc?.[name];
  if (!s) {
    throw new AsofError(
      'usage',
      `unknown CDC source '${name}'`,
      { file: project.specFile, specPath: 'cdc' },
      `CDC sources: ${Object.keys(project.cdc ?? {}).join(', ') || "(none: declare one under 'cdc:')"}`,
    );
  }
  return s;
}

/** Opens the warehouse, runs `fn` with a CDC store on it, and closes both. */
async function withStore<T>(
  project: Project,
  fn: (store: CdcStore, wh: DuckDbWarehouse) => Promise<T>,
): Promise<T> {
  const wh = await DuckDbWarehouse.open(project.storage.warehouse);
  const store = new CdcStore(wh.conn);
  try {
    return await fn(store, wh);
  } finally {
    store.close();
    await wh.close();
  }
}

/**
 * `asof cdc apply`: every change of every file, ordered by LSN across files, in one warehouse
 * transaction (so a source transaction's changes, and the whole batch, apply together).
 */
export async function applyCdcFiles(
  project: Project,
  name: string,
  files: string[],
  clock: Clock,
): Promise<ApplyResult & { files: number }> {
  const source = cdcSource(project, name);
  const changes: CdcChange[] = files.flatMap((f) => readDebeziumFile(f, source, project.timezone));
  const r = await withStore(project, (store, wh) =>
    applyChanges(store, source, changes, { nowMs: clock.now() }, (fn) => wh.transaction(fn)),
  );
  return { ...r, files: files.length };
}

export interface RunOptions {
  clock: Clock;
  log: Logger;
  /** Set by SIGINT/SIGTERM: the loop finishes its batch, acknowledges it and returns. */
  stopped: () => boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RunSummary {
  snapshotRows: number;
  batches: number;
  applied: number;
  position: bigint;
}

/** Waits `ms`, waking early when stopped. */
async function nap(ms: number, stopped: () => boolean): Promise<void> {
  const step = 20;
  for (let waited = 0; waited < ms && !stopped(); waited += step) {
    await new Promise((r) => setTimeout(r, step));
  }
}

/** The warehouse file is one writer's at a time: a reader (asof query) may hold it for a moment. */
async function withStoreRetry<T>(
  project: Project,
  fn: (store: CdcStore, wh: DuckDbWarehouse) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await withStore(project, fn);
    } catch (e) {
      if (!(e instanceof AsofError && e.code === 'lock') || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * `asof cdc run`: takes the initial snapshot when none completed (an interrupted one starts again
 * from scratch with a new slot), then applies whole transactions from the slot and acknowledges
 * each batch only after its warehouse transaction committed.
 */
export async function runCdc(project: Project, name: string, opts: RunOptions): Promise<RunSummary> {
  const source = cdcSource(project, name);
  const t = pgTarget(source, opts.env ?? process.env);
  const client = await connect(t.url);
  const settings = source.postgres as NonNullable<CdcSource['postgres']>;
  const summary: RunSummary = { snapshotRows: 0, batches: 0, applied: 0, position: 0n };
  try {
    let pos = await withStoreRetry(project, async (store) => {
      await store.ensureTables(source);
      return store.position(source);
    });
    const snapshotDone = pos !== undefined && pos.snapshotLsn !== null && pos.slot === t.slot;
    if (!snapshotDone || !(await slotExists(client, t.slot))) {
      if (snapshotDone) {
        throw new AsofError(
          'usage',
          `slot '${t.slot}' no longer exists but ${cdcTableNames(source).current} was captured from it`,
          {},
          `changes since then are lost to asof: 'asof cdc drop --source ${name}' and run again for a new snapshot`,
        );
      }
      pos = await takeSnapshot(project, source, t, opts, client, summary);
    }
    summary.position = pos?.lsn ?? 0n;
    let lastBeat = opts.clock.now();
    while (!opts.stopped()) {
      const batch = await peek(client, t, source, project.timezone, settings.batchSize);
      if (batch.commitLsn === undefined) {
        // Idle: a heartbeat keeps WAL written for other databases from piling up behind the slot.
        if (opts.clock.now() - lastBeat >= settings.heartbeatMs) {
          lastBeat = opts.clock.now();
          await heartbeat(client, t);
        }
        await nap(settings.pollMs, opts.stopped);
        continue;
      }
      // A batch already applied before a crash (committed, not yet acknowledged) is skipped whole.
      const fresh = batch.changes.filter((c) => c.lsn > summary.position);
      const r = await withStoreRetry(project, (store, wh) =>
        applyChanges(
          store,
          source,
          fresh,
          { nowMs: opts.clock.now(), position: batch.commitLsn, slot: t.slot },
          (fn) => wh.transaction(fn),
        ),
      );
      await acknowledge(client, t.slot, r.position);
      summary.position = r.position;
      summary.batches++;
      summary.applied += r.applied;
      opts.log.info(
        `cdc ${name}: applied ${r.applied} change(s) of ${batch.transactions} transaction(s), acknowledged ${formatLsn(r.position)}`,
      );
    }
    opts.log.info(`cdc ${name}: stopped at ${formatLsn(summary.position)}`);
    return summary;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function takeSnapshot(
  project: Project,
  source: CdcSource,
  t: PgTarget,
  opts: RunOptions,
  client: Awaited<ReturnType<typeof connect>>,
  summary: RunSummary,
): Promise<CdcPosition | undefined> {
  if (await dropSlot(client, t.slot))
    opts.log.info(`cdc ${source.name}: dropped slot ${t.slot} of an unfinished snapshot`);
  await withStoreRetry(project, async (store) => {
    await store.drop(source);
    await store.ensureTables(source);
  });
  const snap = await snapshot(t, source, project.timezone, opts.clock);
  await withStoreRetry(project, (store, wh) =>
    applyChanges(
      store,
      source,
      snap.changes,
      { nowMs: opts.clock.now(), position: snap.lsn, slot: t.slot, snapshotLsn: snap.lsn },
      (fn) => wh.transaction(fn),
    ),
  );
  summary.snapshotRows = snap.changes.length;
  opts.log.info(`cdc ${source.name}: snapshot of ${snap.changes.length} row(s) at ${formatLsn(snap.lsn)}`);
  return withStoreRetry(project, (store) => store.position(source));
}

export interface CdcStatus {
  source: string;
  tables: { current: string; history: string };
  position: string | null;
  changesApplied: number;
  currentRows: number;
  historyRows: number;
  lastAppliedAt: number | null;
  slot: (SlotStatus & { name: string; lagSeconds: number | undefined }) | null;
}

/** `asof cdc status`: what was applied, and for a PostgreSQL capture the slot's confirmed LSN and lag. */
export async function cdcStatus(project: Project, name: string, clock: Clock): Promise<CdcStatus> {
  const source = cdcSource(project, name);
  const local = await withStoreRetry(project, async (store) => {
    await store.ensureTables(source);
    return { pos: await store.position(source), counts: await store.counts(source) };
  });
  let slot: CdcStatus['slot'] = null;
  if (source.postgres) {
    const t = pgTarget(source, process.env);
    const client = await connect(t.url);
    try {
      const s = await slotStatus(client, t.slot);
      // Lag in time: how long ago the last batch was applied, when WAL is waiting behind the slot.
      const lagSeconds =
        s.lagBytes === undefined || local.pos === undefined
          ? undefined
          : s.lagBytes > 0
            ? Math.max(0, Math.round((clock.now() - local.pos.updatedAtMs) / 1000))
            : 0;
      slot = { ...s, name: t.slot, lagSeconds };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return {
    source: name,
    tables: cdcTableNames(source),
    position: local.pos ? formatLsn(local.pos.lsn) : null,
    changesApplied: local.pos?.changes ?? 0,
    currentRows: local.counts.current,
    historyRows: local.counts.history,
    lastAppliedAt: local.pos?.updatedAtMs ?? null,
    slot,
  };
}

/** The rows of a CDC source valid at `instantMs` (see historyAsOfSql). */
export async function cdcAsOf(project: Project, name: string, instantMs: number): Promise<QueryResult> {
  const source = cdcSource(project, name);
  return withStoreRetry(project, async (store, wh) => {
    await store.ensureTables(source);
    return wh.query(historyAsOfSql(source, instantMs));
  });
}

/** `asof cdc drop`: the slot (which otherwise keeps WAL forever), the tables and the position. */
export async function dropCdc(project: Project, name: string): Promise<{ slotDropped: boolean }> {
  const source = cdcSource(project, name);
  let slotDropped = false;
  if (source.postgres) {
    const t = pgTarget(source, process.env);
    const client = await connect(t.url);
    try {
      slotDropped = await dropSlot(client, t.slot);
      if (t.decoder === 'pgoutput') await dropPublication(client, t.publication);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  await withStoreRetry(project, (store) => store.drop(source));
  return { slotDropped };
}
