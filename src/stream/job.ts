// `asof stream`: one source's events -> contract check (dead letters) -> watermark (late log) ->
// per-entity state of each view -> checkpoints (state + offsets in one SQLite transaction) and
// offline micro-batches named by their sequence range. Killed at any point and restarted, it
// replays from the last offline checkpoint and ends with the same online values and offline rows.

import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import { writeEventRecordsParquet } from '../engines/duckdb/events-writer.js';
import { AsofError } from '../errors.js';
import type { Logger } from '../pipeline/log.js';
import { silentLogger } from '../pipeline/log.js';
import { onlineDir, openStreamStore } from '../pipeline/online-store.js';
import type { Project, Source, View } from '../spec/project.js';
import { type Checkpoint, type DirtyState, emptyCheckpoint } from '../storage/online/sqlite.js';
import {
  type Clock,
  formatInstant,
  type Instant,
  systemClock,
  windowEndAfter,
  windowStart,
} from '../time/index.js';
import { LocalDays } from '../time/read-time.js';
import { dedupeView, PrimaryKeyIndex, removeEntry } from './dedupe.js';
import { EventReader } from './event.js';
import { Metrics } from './metrics.js';
import { OfflineStaging } from './offline.js';
import type { SourceRecord, StreamSource } from './sources.js';
import { type EntityState, ViewRuntime } from './state.js';

export interface StreamOptions {
  views: View[];
  source: StreamSource;
  /** Checkpoint after this many events or this many ms, whichever comes first. */
  checkpointEvents?: number;
  checkpointMs?: number;
  /** Write an offline micro-batch (at a checkpoint) after this many events or ms. */
  offlineEvents?: number;
  offlineMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Sync each checkpoint to disk (power-loss safe); without it a checkpoint survives kill -9. */
  fsync?: boolean;
  /** Called after each checkpoint commit (tests and benchmarks use it). */
  onCheckpoint?: (c: Checkpoint) => void;
  /** Set to true to finish at the next batch boundary with a final checkpoint (SIGTERM). */
  stopRequested?: () => boolean;
}

export interface StreamSummary {
  source: string;
  checkpoint: Checkpoint;
  eventsRead: number;
  seconds: number;
  metrics: Metrics;
}

/** The online store's folder of a project (the embedded store, and the late and dead-letter logs). */
export { onlineDir };

/** Where accepted events of a source land in the lake. */
export function eventsDir(project: Project, source: string): string {
  return path.join(project.storage.offline, '_events', source);
}

const pad = (n: number) => String(n).padStart(12, '0');

/** A micro-batch being written: the offsets it covers and, once done, whether it failed. */
interface OfflineBatch {
  from: number;
  to: number;
  position: string | undefined;
  maxTs: Instant | null;
  done: boolean;
  error: unknown;
  written: Promise<void>;
}

/** The single source every streamed view reads (a stream job follows one source). */
export function streamSourceOf(project: Project, views: View[]): Source {
  const names = [...new Set(views.map((v) => v.source))];
  if (names.length !== 1) {
    throw new AsofError(
      'usage',
      `a stream job reads one source; the views read ${names.join(', ')}`,
      { file: project.specFile },
      'run one `asof stream` per source',
    );
  }
  const source = project.sources[names[0] as string];
  if (!source) throw new AsofError('spec', `unknown source '${names[0]}'`, { file: project.specFile });
  return source;
}

export async function runStream(project: Project, opts: StreamOptions): Promise<StreamSummary> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const tz = project.timezone;
  const source = streamSourceOf(project, opts.views);
  const viewNames = opts.views.map((v) => v.name);
  const everyEvents = opts.checkpointEvents ?? 10_000;
  const everyMs = opts.checkpointMs ?? 1_000;
  const offlineEvery = opts.offlineEvents ?? 100_000;
  const offlineEveryMs = opts.offlineMs ?? 10_000;
  const dir = onlineDir(project);
  const lateLog = path.join(dir, 'late', `${source.name}.jsonl`);
  const deadLog = path.join(dir, 'dead-letters', `${source.name}.jsonl`);
  mkdirSync(path.dirname(lateLog), { recursive: true });
  mkdirSync(path.dirname(deadLog), { recursive: true });
  const lakeDir = eventsDir(project, source.name);
  // accepted events since the offline checkpoint, as CSV records per event date (made into Parquet
  // at the next offline batch); only a run's own replay fills it, so a restart starts it afresh
  const stagingDir = path.join(dir, 'offline-staging', source.name);
  rmSync(stagingDir, { recursive: true, force: true });
  mkdirSync(stagingDir, { recursive: true });
  const staging = new OfflineStaging(stagingDir, source);

  const store = await openStreamStore(project, { fsync: opts.fsync ?? false });
  const engine = await DuckDbEngine.open({ threads: 1 });
  const metrics = new Metrics();
  const t0 = performance.now();
  let eventsRead = 0;
  /** The micro-batch being written, if any (awaited before the engine closes, even on an error). */
  let writing: OfflineBatch | null = null;
  try {
    const saved = await store.readCheckpoint(source.name);
    const ckpt: Checkpoint = saved?.checkpoint ?? emptyCheckpoint();
    // What the last checkpoint does not cover was never done: cut the logs back, drop orphan batches.
    truncateTo(lateLog, ckpt.lateBytes);
    truncateTo(deadLog, ckpt.deadBytes);
    removeOrphanBatches(lakeDir, ckpt.offlineNextSeq);

    const runtimes = opts.views.map((v) => new ViewRuntime(v, tz, project));
    // states stored by earlier versions are put in the view's tail layout (ViewRuntime.adapt)
    const states = await Promise.all(
      runtimes.map(async (rt) => {
        const loaded = await store.loadStates(rt.view.name);
        for (const [key, s] of loaded) {
          const a = rt.adapt(s);
          if (a !== s) loaded.set(key, a);
        }
        return loaded;
      }),
    );
    const pkIndex = source.primaryKey
      ? new PrimaryKeyIndex(source.name, source.primaryKey, await store.loadStates(dedupeView(source.name)))
      : null;
    // per view, the states changed since the last checkpoint by key (not looked up again there)
    const dirty = opts.views.map(() => new Map<string, EntityState>());
    const keys = [...new Set(opts.views.flatMap((v) => v.keys))];
    const lateness = source.allowedLateness;
    const days = new LocalDays(tz);
    const reader = new EventReader(source, keys, tz);

    // Replay from the offline checkpoint with the watermark as it was there: same decisions again.
    let maxTs: Instant | null = ckpt.offlineMaxTs;
    let seq = ckpt.offlineNextSeq;
    const applied = ckpt.nextSeq;
    const counters = { ...ckpt.counters };
    // accepted events since the offline checkpoint (staged: no event's row is kept until the batch)
    let offlineCount = 0;
    let lateLines: string[] = [];
    let deadLines: string[] = [];
    let pendingReceived: number[] = [];
    let sinceCheckpoint = 0;
    let lastCheckpoint = performance.now();
    let lastOffline = performance.now();
    let lastMetrics = 0;
    let lastPosition: string | undefined = ckpt.offlinePosition;

    const watermark = (): Instant | null => {
      if (maxTs === null) return null;
      if (!lateness) return maxTs;
      return windowStart(maxTs, lateness, tz);
    };
    /** Events before this may be compacted in some view (the primary-key index's horizon). */
    const dedupeHorizon = (wm: Instant): Instant => Math.max(...runtimes.map((rt) => rt.compactionBound(wm)));
    if (pkIndex && ckpt.maxTs !== null) {
      pkIndex.advance(
        dedupeHorizon(lateness ? (windowStart(ckpt.maxTs, lateness, tz) as Instant) : ckpt.maxTs),
      );
    }

    /**
     * Starts writing the micro-batch of the events accepted since the offline checkpoint, beside the
     * event loop (DuckDB's own thread): online checkpoints go on committing meanwhile, and the
     * offline offset moves (and upstream is acknowledged) at the first checkpoint after the files are
     * complete. A crash before that replays from the old offset; removeOrphanBatches deletes what the
     * unfinished batch wrote.
     */
    const startOffline = (): OfflineBatch => {
      // this generation's staging files, complete; newer events go to the next generation's
      const { files } = staging.cut();
      offlineCount = 0;
      lastOffline = performance.now();
      const b: OfflineBatch = {
        from: ckpt.offlineNextSeq,
        to: seq,
        position: lastPosition,
        maxTs,
        done: false,
        error: undefined,
        written: Promise.resolve(),
      };
      b.written = (async () => {
        if (b.to > b.from) {
          for (const { date, file } of files) {
            const dd = path.join(lakeDir, `event_date=${date}`);
            mkdirSync(dd, { recursive: true });
            await writeEventRecordsParquet(
              engine,
              source,
              file,
              path.join(dd, `${pad(b.from)}-${pad(b.to - 1)}.parquet`),
            );
          }
        }
        for (const { file } of files) rmSync(file, { force: true });
      })().then(
        () => {
          b.done = true;
        },
        (e: unknown) => {
          b.error = e;
          b.done = true;
        },
      );
      return b;
    };
    /** Records a written micro-batch in the checkpoint (committed with the next online commit). */
    const recordOffline = (b: OfflineBatch): void => {
      if (b.error !== undefined) throw b.error;
      ckpt.offlineNextSeq = b.to;
      if (b.position !== undefined) ckpt.offlinePosition = b.position;
      ckpt.offlineMaxTs = b.maxTs;
    };

    const checkpoint = async (final: boolean): Promise<void> => {
      const now = performance.now();
      if (writing?.done) {
        recordOffline(writing);
        writing = null;
      }
      if (final) {
        if (writing) {
          await writing.written;
          recordOffline(writing);
          writing = null;
        }
        const b = startOffline();
        await b.written;
        recordOffline(b);
      } else if (!writing && (offlineCount >= offlineEvery || now - lastOffline >= offlineEveryMs))
        writing = startOffline();
      const wm = watermark();
      const batch: DirtyState[] = [];
      let compacted = false;
      if (pkIndex) {
        if (wm !== null) {
          const horizon = dedupeHorizon(wm);
          pkIndex.advance(horizon);
          // what a restart forgets (it advances to this horizon too) need not stay on disk
          store.forget?.(dedupeView(source.name), horizon);
        }
        for (const d of pkIndex.takeDirty()) batch.push(d);
      }
      runtimes.forEach((rt, i) => {
        const bound = wm === null ? null : rt.compactionBound(wm);
        for (const [key, s] of dirty[i] as Map<string, EntityState>) {
          if (bound !== null && rt.compactBefore(s, bound)) compacted = true;
          batch.push({ view: rt.view.name, key, state: s });
        }
        (dirty[i] as Map<string, EntityState>).clear();
      });
      // reads at or after the watermark of a compaction see every event their windows need
      if (wm !== null && compacted) ckpt.exactFrom = Math.max(ckpt.exactFrom ?? wm, wm);
      if (lateLines.length > 0) appendFileSync(lateLog, lateLines.join(''));
      if (deadLines.length > 0) appendFileSync(deadLog, deadLines.join(''));
      lateLines = [];
      deadLines = [];
      ckpt.nextSeq = Math.max(ckpt.nextSeq, seq);
      ckpt.maxTs = maxTs;
      ckpt.counters = { ...counters };
      ckpt.lateBytes = sizeOf(lateLog);
      ckpt.deadBytes = sizeOf(deadLog);
      await store.commit(source.name, viewNames, ckpt, batch, clock.now());
      opts.source.committed?.(ckpt.nextSeq);
      // Upstream may forget only what a restart no longer replays: events before the offline checkpoint.
      await opts.source.ack(ckpt.offlineNextSeq);
      const done = performance.now();
      for (const r of pendingReceived) metrics.latency.observe(done - r);
      pendingReceived = [];
      sinceCheckpoint = 0;
      lastCheckpoint = done;
      // the dashboard follows a running job through this file (at most one write a second)
      if (final || done - lastMetrics >= 1000) {
        lastMetrics = done;
        fillMetrics(metrics, ckpt, eventsRead, (done - t0) / 1000, clock.now());
        writeMetricsFile(
          path.join(dir, `metrics-${source.name}.prom`),
          metrics.render({ source: source.name }),
        );
      }
      opts.onCheckpoint?.(ckpt);
    };

    // Events timed after this are rejected (max_clock_skew); set per batch from the clock.
    let latestTs: Instant | undefined;
    const handle = (r: SourceRecord): void => {
      if (r.seq !== seq) throw new Error(`stream source skipped from sequence ${seq} to ${r.seq}`);
      seq = r.seq + 1;
      if (r.position !== undefined) lastPosition = r.position;
      eventsRead++;
      const fresh = r.seq >= applied;
      const c = reader.read(r.text, latestTs);
      if (!c.ok) {
        if (fresh) {
          counters.dead++;
          deadLines.push(`${JSON.stringify({ offset: r.seq, reason: c.reason, event: r.text })}\n`);
          opts.source.outcome?.(r.seq, 'dead', c.reason);
        }
        return;
      }
      const wm = watermark();
      if (wm !== null && c.ts < wm) {
        if (fresh) {
          counters.late++;
          opts.source.outcome?.(r.seq, 'late', `before the watermark ${formatInstant(wm)}`);
          lateLines.push(
            `${JSON.stringify({ offset: r.seq, event_time: formatInstant(c.ts), watermark: formatInstant(wm), event: reader.parsed ?? JSON.parse(r.text) })}\n`,
          );
        }
        return;
      }
      if (maxTs === null || c.ts > maxTs) maxTs = c.ts;
      staging.add(days.dateOf(c.ts), r.seq, c.row, r.text, reader.printedAt, reader.printedEnd);
      offlineCount++;
      if (!fresh) return;
      counters.accepted++;
      let used = false;
      let pk: string | undefined;
      if (pkIndex) {
        pk = pkIndex.keyOf(c.row);
        const prev = pkIndex.previous(pk);
        if (prev) {
          // the last event of a primary key wins, as in batch: take the earlier one back
          runtimes.forEach((_rt, i) => {
            const k = prev.keys[i];
            const s = k == null ? undefined : (states[i] as Map<string, EntityState>).get(k);
            if (s && removeEntry(s, prev.seq)) (dirty[i] as Map<string, EntityState>).set(k as string, s);
          });
        } else if (pkIndex.beyondHorizon(pk)) {
          // the earlier event is compacted into the state: it stays (declared limit)
          counters.filtered++;
          opts.source.outcome?.(r.seq, 'accepted');
          return;
        }
      }
      // plain loops: a closure per event was an allocation per event
      const appliedTo: (string | null)[] = new Array(runtimes.length).fill(null);
      for (let i = 0; i < runtimes.length; i++) {
        const rt = runtimes[i] as ViewRuntime;
        if (!rt.accepts(c.row)) continue;
        const key = rt.keyOf(c.row);
        if (key === null) continue;
        const st = states[i] as Map<string, EntityState>;
        let s = st.get(key);
        if (!s) {
          s = rt.emptyState();
          st.set(key, s);
        }
        if (rt.apply(s, c.row, c.ts, r.seq)) {
          (dirty[i] as Map<string, EntityState>).set(key, s);
          appliedTo[i] = key;
          used = true;
        }
      }
      if (pkIndex && pk !== undefined) pkIndex.set(pk, { seq: r.seq, ts: c.ts, keys: appliedTo });
      if (!used) counters.filtered++;
      opts.source.outcome?.(r.seq, 'accepted');
      pendingReceived.push(r.received);
      sinceCheckpoint++;
    };

    log.info(
      `stream ${viewNames.join(', ')} from ${opts.source.description}: resuming at offset ${ckpt.nextSeq} (offline at ${ckpt.offlineNextSeq})`,
    );
    for await (const batch of opts.source.batches(ckpt.offlineNextSeq, ckpt.offlinePosition)) {
      if (source.maxClockSkew) latestTs = windowEndAfter(clock.now(), source.maxClockSkew, tz);
      for (const r of batch) {
        handle(r);
        if (sinceCheckpoint >= everyEvents) await checkpoint(false);
      }
      // dead and late events count too: a source acknowledging on commit (http) waits for it
      if ((sinceCheckpoint > 0 || seq > ckpt.nextSeq) && performance.now() - lastCheckpoint >= everyMs)
        await checkpoint(false);
      else if (batch.length === 0 && offlineCount > 0 && performance.now() - lastOffline >= offlineEveryMs) {
        await checkpoint(false);
      }
      if (opts.stopRequested?.()) break;
    }
    await checkpoint(true);
    const seconds = (performance.now() - t0) / 1000;
    fillMetrics(metrics, ckpt, eventsRead, seconds, clock.now());
    writeMetricsFile(path.join(dir, `metrics-${source.name}.prom`), metrics.render({ source: source.name }));
    return { source: source.name, checkpoint: ckpt, eventsRead, seconds, metrics };
  } finally {
    await (writing as OfflineBatch | null)?.written;
    staging.close();
    await opts.source.close();
    await engine.close();
    await store.close();
  }
}

/** Written beside and renamed, so that a reader never sees half a file. */
function writeMetricsFile(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function fillMetrics(m: Metrics, c: Checkpoint, read: number, seconds: number, now: number): void {
  const total = c.counters.accepted + c.counters.late + c.counters.dead;
  m.set('asof_stream_events_read_total', 'counter', 'Events read from the source by this run.', read);
  m.set('asof_stream_events_accepted_total', 'counter', 'Events applied (all runs).', c.counters.accepted);
  m.set('asof_stream_events_late_total', 'counter', 'Late events, logged and not applied.', c.counters.late);
  m.set('asof_stream_dead_letters_total', 'counter', 'Events breaking the contract.', c.counters.dead);
  m.set(
    'asof_stream_late_ratio',
    'gauge',
    'Late events over all events.',
    total === 0 ? 0 : c.counters.late / total,
  );
  m.set(
    'asof_stream_events_per_second',
    'gauge',
    'Events read per second by this run.',
    seconds > 0 ? read / seconds : 0,
  );
  m.set(
    'asof_stream_lag_seconds',
    'gauge',
    'Wall clock minus the largest event time seen (event-time lag).',
    c.maxTs === null ? 0 : (now - c.maxTs) / 1000,
  );
  m.set('asof_stream_offset', 'gauge', 'The next source offset to apply.', c.nextSeq);
}

function sizeOf(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

function truncateTo(file: string, bytes: number): void {
  if (existsSync(file) && statSync(file).size > bytes) truncateSync(file, bytes);
}

/** Micro-batches starting at or after the offline checkpoint were written by a run that died. */
function removeOrphanBatches(lakeDir: string, offlineNextSeq: number): void {
  if (!existsSync(lakeDir)) return;
  for (const d of readdirSync(lakeDir)) {
    const dd = path.join(lakeDir, d);
    if (!d.startsWith('event_date=')) continue;
    for (const f of readdirSync(dd)) {
      const m = /^(\d+)-(\d+)\.parquet$/.exec(f);
      if (f.endsWith('.tmp') || (m && Number(m[1]) >= offlineNextSeq))
        rmSync(path.join(dd, f), { force: true });
    }
  }
}
