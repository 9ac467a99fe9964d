// The embedded online store: one SQLite file under .asof/online holding each view's per-entity
// streaming state (base rows + an append-only checkpoint log merged into them in sweeps) and each
// source's checkpoint, written together in one transaction. A value never moves back.

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { AsofError } from '../../errors.js';
import { type EntityState, entryCount } from '../../stream/state.js';
import {
  ByteWriter,
  decodeEntries,
  decodeEntry,
  decodeEvents,
  decodeState,
  type Events,
  encodeState,
  MAX_EVENT_WIDTH,
  writeEventsPayload,
} from './state-codec.js';

export const ONLINE_FILE = 'online.sqlite';

/** Where a source's stream stands: everything before `nextSeq` is applied and counted. */
export interface Checkpoint {
  /** Events before this sequence are applied to the online state (and counted). */
  nextSeq: number;
  /** The largest event instant seen up to nextSeq (the watermark's base). */
  maxTs: number | null;
  /** Events before this sequence are in the offline lake; a restart replays from here. */
  offlineNextSeq: number;
  /** maxTs as it was at offlineNextSeq, so that a replay decides lateness the same way. */
  offlineMaxTs: number | null;
  /** The source position (e.g. Redis entry id) of the last event before offlineNextSeq. */
  offlinePosition?: string;
  /** Reads before this instant may miss compacted events in finite windows. */
  exactFrom: number | null;
  /** Bytes of the late log and dead-letter file covered by this checkpoint. */
  lateBytes: number;
  deadBytes: number;
  counters: { accepted: number; late: number; dead: number; filtered: number };
}

export function emptyCheckpoint(): Checkpoint {
  return {
    nextSeq: 0,
    maxTs: null,
    offlineNextSeq: 0,
    offlineMaxTs: null,
    exactFrom: null,
    lateBytes: 0,
    deadBytes: 0,
    counters: { accepted: 0, late: 0, dead: 0, filtered: 0 },
  };
}

export interface DirtyState {
  view: string;
  key: string;
  state: EntityState;
}

/**
 * How the states are laid out. A state has a base row (`state`, the whole state as it was when
 * last merged) and, since then, records in the checkpoint log (`log`): one row per commit, appended
 * at the end of the file, holding every touched state's new entries (or the whole state after a
 * compaction or a primary-key removal). A commit thus writes a few sequential pages instead of one
 * random B-tree page per event. The job merges the log into the base rows in sweeps, a slice of
 * keys in key order per commit (so a slice dirties a contiguous run of pages), and deletes the log
 * rows every state has been merged past. Readers index the log in memory and merge base + log
 * records for a key in one read transaction. A state's first write is a whole-state log record:
 * its base row comes with a sweep (`keys` lists the log's states beside the base rows).
 *
 * The primary-key index (views named `__pk:<source>`) is read only by the job on restart: it is
 * appended to `pk_log` (one row per commit) and rows older than the dedupe horizon are deleted.
 */
/** Events in format 1 (an array per event: written by earlier versions, still read). */
const LOG_ENTRIES = 0;
const LOG_STATE = 1;
const LOG_JSON = 2;
/** New events of a state (writeEventsPayload). */
const LOG_EVENTS = 3;

/** Default: start a merge sweep once the log holds this many entries (bounds readers' memory). */
const MERGE_AFTER_ENTRIES = 200_000;
/** Least work (keys collected, or element moves of the sort) of a merge sweep's start per commit. */
const SORT_PER_COMMIT = 8192;

/**
 * Copies the WAL into the database file from another thread (its own connection), so that a
 * checkpoint commit never waits for SQLite's automatic WAL checkpoint (its copy and fsyncs cost
 * 5-20 ms every thousand pages: the tail of the ingest -> servable latency). Stopped by a message.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const step = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(step, workerData.everyMs);
const done = new Int32Array(workerData.done);
parentPort.once('message', () => {
  clearInterval(timer);
  try { db.close(); } finally { Atomics.store(done, 0, 1); Atomics.notify(done, 0); parentPort.close(); }
});
`;
/** How long close() waits for the checkpointer to close its connection. */
const CHECKPOINTER_STOP_MS = 10_000;
/** The background checkpointer starts after this many commits (a short-lived store does not need it). */
const CHECKPOINTER_AFTER_COMMITS = 64;

const isPkView = (view: string) => view.startsWith('__pk:');
const vk = (view: string, key: string) => `${view}\u0000${key}`;

/** One log record of a state: where its payload lies in a log row's blob. */
interface LogRef {
  id: number;
  buf: Buffer;
  kind: number;
  start: number;
}

/**
 * Sorts items (strings by UTF-16 code units as `<=` does, or by `le`) a bounded amount of work at
 * a time: sorted runs of RUN, then bottom-up merges, resumable anywhere (stable). The merge sweep
 * orders its states with it over several commits, where one `sort` of every pending key stopped a
 * commit for ~40 ms.
 */
export class StepSort<T = string> {
  private static readonly RUN = 32;
  private src: T[];
  private dst: T[];
  /** Width of the runs being merged (RUN-long runs are sorted first, while `at` < n). */
  private width = 0;
  /** Start of the pair of runs being merged, and where the merge stands within it. */
  private at = 0;
  private l = 0;
  private r = 0;
  private o = 0;
  done = false;

  constructor(
    items: T[],
    private readonly le: (a: T, b: T) => boolean = (a, b) => a <= b,
  ) {
    this.src = items;
    this.dst = new Array<T>(items.length);
    if (items.length <= 1) this.done = true;
  }

  /** The sorted items (once done). */
  get result(): T[] {
    return this.src;
  }

  /** Does about `budget` element moves of work; true when sorted. */
  step(budget: number): boolean {
    const n = this.src.length;
    let left = budget;
    const RUN = StepSort.RUN;
    while (!this.done && left > 0) {
      if (this.width === 0) {
        // insertion sort of one run (about RUN * 4 moves on random keys)
        const a = this.src;
        const le = this.le;
        const end = Math.min(n, this.at + RUN);
        for (let i = this.at + 1; i < end; i++) {
          const x = a[i] as T;
          let j = i - 1;
          while (j >= this.at && !le(a[j] as T, x)) {
            a[j + 1] = a[j] as T;
            j--;
          }
          a[j + 1] = x;
        }
        left -= RUN * 4;
        this.at = end;
        if (end === n) this.startPass(RUN);
        continue;
      }
      const a = this.src;
      const b = this.dst;
      const mid = Math.min(n, this.at + this.width);
      const end = Math.min(n, this.at + 2 * this.width);
      let { l, r, o } = this;
      while (o < end && left > 0) {
        if (l < mid && (r >= end || this.le(a[l] as T, a[r] as T))) b[o++] = a[l++] as T;
        else b[o++] = a[r++] as T;
        left--;
      }
      this.l = l;
      this.r = r;
      this.o = o;
      if (o < end) break;
      this.at = end;
      if (end === n) {
        this.src = b;
        this.dst = a;
        this.startPass(this.width * 2);
      } else {
        this.l = end;
        this.r = Math.min(n, end + this.width);
        this.o = end;
      }
    }
    return this.done;
  }

  private startPass(width: number): void {
    if (width >= this.src.length) {
      this.done = true;
      return;
    }
    this.width = width;
    this.at = 0;
    this.l = 0;
    this.r = Math.min(this.src.length, width);
    this.o = 0;
  }
}

/** Appends log records to a growing buffer (reused from commit to commit). */
class LogBuilder extends ByteWriter {
  records = 0;

  /** The view of the last record and its UTF-8 bytes (a builder's records are mostly of one view). */
  private lastView = '';
  private viewBytes = Buffer.alloc(0);

  /** kind, view and key of a record, then room for its payload's length (filled by `end`). */
  private begin(kind: number, view: string, key: string): number {
    if (view !== this.lastView) {
      this.lastView = view;
      this.viewBytes = Buffer.from(view);
    }
    const vb = this.viewBytes;
    this.ensure(13 + vb.length + 3 * key.length);
    const b = this.buf;
    let p = this.pos;
    b[p++] = kind;
    b.writeUInt32LE(vb.length, p);
    p += 4;
    for (let i = 0; i < vb.length; i++) b[p + i] = vb[i] as number;
    p += vb.length;
    // an ASCII key is copied unit by unit (no call into node per record); any other is encoded
    let kl = key.length;
    for (let i = 0; i < kl; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) {
        kl = b.write(key, p + 4);
        break;
      }
      b[p + 4 + i] = c;
    }
    b.writeUInt32LE(kl, p);
    p += 4 + kl;
    this.pos = p + 4;
    return p;
  }

  private end(lengthAt: number): void {
    this.buf.writeUInt32LE(this.pos - lengthAt - 4, lengthAt);
    this.records++;
  }

  /** kind, view, key, then the payload (length-prefixed). */
  add(kind: number, view: string, key: string, payload: Buffer | string): void {
    const at = this.begin(kind, view, key);
    if (typeof payload === 'string') {
      this.ensure(3 * payload.length);
      this.pos += this.buf.write(payload, this.pos);
    } else {
      this.ensure(payload.length);
      this.pos += payload.copy(this.buf, this.pos);
    }
    this.end(at);
  }

  /** A record of events of a state (LOG_EVENTS): the first `n` of `offsets` in its tail, encoded in place. */
  addEvents(view: string, key: string, s: EntityState, offsets: readonly number[], n: number): void {
    const at = this.begin(LOG_EVENTS, view, key);
    writeEventsPayload(this, s.tail, s.width, offsets, n);
    this.end(at);
  }

  reset(): this {
    this.pos = 0;
    this.records = 0;
    return this;
  }
}

/** Calls `each` for every record of a log blob: kind, view, key, payload start. */
function scanLog(buf: Buffer, each: (kind: number, view: string, key: string, start: number) => void): void {
  let p = 0;
  while (p < buf.length) {
    const kind = buf[p++] as number;
    const vl = buf.readUInt32LE(p);
    const view = buf.toString('utf8', p + 4, p + 4 + vl);
    p += 4 + vl;
    const kl = buf.readUInt32LE(p);
    const key = buf.toString('utf8', p + 4, p + 4 + kl);
    p += 4 + kl;
    const pl = buf.readUInt32LE(p);
    each(kind, view, key, p + 4);
    p += 4 + pl;
  }
}

/** Applies one log record to a state (null when there is none yet); returns the state. */
function applyRecord(s: EntityState | null, ref: LogRef): EntityState {
  if (ref.kind === LOG_ENTRIES || ref.kind === LOG_EVENTS) {
    const ev = ref.kind === LOG_EVENTS ? decodeEvents(ref.buf, ref.start) : decodeEntries(ref.buf, ref.start);
    const st = s ?? { tail: [], width: ev.width, head: null, first: null, seq: -1, taken: 0 };
    addEvents(st, ev);
    return st;
  }
  const len = ref.buf.readUInt32LE(ref.start - 4);
  // JSON text goes through decodeState too: it sets `taken` and reads earlier versions' entry arrays
  const whole = decodeState(
    ref.kind === LOG_JSON
      ? ref.buf.toString('utf8', ref.start, ref.start + len)
      : ref.buf.subarray(ref.start, ref.start + len),
  );
  // the log is in commit order, so a whole state replaces anything older (a merged base may be newer)
  return s === null || whole.seq >= s.seq ? whole : s;
}

/**
 * Commits made on a connection by this process (OnlineStore.commit). SQLite's `PRAGMA
 * data_version` tells a connection about other connections' commits, not its own: readers on the
 * job's own connection look at both.
 */
const ownCommits = new WeakMap<Database.Database, number>();

/** Reads states (base row + log records) from a connection; shared by the job's store and serving. */
export class StateRows {
  private readonly getBase: Database.Statement;
  private readonly allBase: Database.Statement;
  private logLo: Database.Statement | undefined;
  private logFrom: Database.Statement | undefined;
  private legacyGet: Database.Statement | undefined;
  private legacyAll: Database.Statement | undefined;
  private legacyGone = false;
  private allKeys: Database.Statement | undefined;
  /** The log indexed so far: records per view and key, and the highest and lowest row ids seen. */
  private readonly index = new Map<string, LogRef[]>();
  private lastId = 0;
  private lowestId = Number.POSITIVE_INFINITY;
  /** Built once: better-sqlite3's transaction wrapper is not free to create per read. */
  private readonly readTx: (view: string, key: string) => EntityState | null;
  private readonly dataVersion: Database.Statement;
  /** data_version and this connection's own commits when the index was last brought up to date. */
  private syncedVersion = -1;
  private syncedOwn = -1;
  /** Log syncs that ran the log queries (the others found the file unchanged); for tests. */
  logSyncs = 0;

  constructor(private readonly db: Database.Database) {
    this.readTx = db.transaction((view: string, key: string) => this.read(view, key));
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.getBase = db.prepare('SELECT seq, state FROM state WHERE view = ? AND key = ?');
    this.allBase = db.prepare('SELECT key, seq, state FROM state WHERE view = ?');
    this.prepareLog();
  }

  /** False while the store is of an older version (no log: bases and entry rows are all there is). */
  private prepareLog(): boolean {
    if (this.logLo && this.logFrom) return true;
    try {
      this.logLo = this.db.prepare('SELECT id FROM log ORDER BY id LIMIT 1').pluck();
      this.logFrom = this.db.prepare('SELECT id, data FROM log WHERE id > ? ORDER BY id');
      return true;
    } catch {
      // a job of this version creates the log when it opens the store: look again next time
      return false;
    }
  }

  /**
   * Brings the in-memory log index to the transaction's snapshot. Skipped (two log queries and an
   * iterator saved per read) when no connection has committed since the last time: data_version,
   * read inside the transaction, is that snapshot's, and this connection's own commits are counted.
   */
  private sync(): void {
    const version = this.dataVersion.get() as number;
    const own = ownCommits.get(this.db) ?? 0;
    if (version === this.syncedVersion && own === this.syncedOwn) return;
    if (!this.prepareLog() || !this.logLo || !this.logFrom) return;
    this.logSyncs++;
    const lo = (this.logLo.get() as number | undefined) ?? this.lastId + 1;
    if (lo > this.lowestId) {
      // merged rows were deleted: forget their records
      for (const [k, refs] of this.index) {
        let n = 0;
        while (n < refs.length && (refs[n] as LogRef).id < lo) n++;
        if (n === refs.length) this.index.delete(k);
        else if (n > 0) refs.splice(0, n);
      }
      this.lowestId = lo;
    }
    for (const r of this.logFrom.iterate(this.lastId)) {
      const { id, data } = r as { id: number; data: Buffer };
      this.lastId = id;
      if (id < this.lowestId) this.lowestId = id;
      scanLog(data, (kind, view, key, start) => {
        const k = vk(view, key);
        const ref = { id, buf: data, kind, start };
        const refs = this.index.get(k);
        if (refs) refs.push(ref);
        else this.index.set(k, [ref]);
      });
    }
    this.syncedVersion = version;
    this.syncedOwn = own;
  }

  /** The log records of a state (after sync), in commit order. */
  recordsOf(view: string, key: string): LogRef[] | undefined {
    return this.index.get(vk(view, key));
  }

  /** The keys of a view's states, sorted: base rows and states so far only in the log (one snapshot). */
  keys(view: string): string[] {
    return this.db.transaction(() => {
      this.sync();
      this.allKeys ??= this.db.prepare('SELECT key FROM state WHERE view = ? ORDER BY key').pluck();
      const keys = new Set(this.allKeys.all(view) as string[]);
      const prefix = `${view}\u0000`;
      let more = false;
      for (const k of this.index.keys()) {
        if (!k.startsWith(prefix)) continue;
        const key = k.slice(prefix.length);
        if (!keys.has(key)) {
          keys.add(key);
          more = true;
        }
      }
      const out = [...keys];
      return more ? out.sort() : out;
    })();
  }

  /** One entity's state; base row and log are read in one transaction (one snapshot of the file). */
  get(view: string, key: string): EntityState | null {
    return this.readTx(view, key);
  }

  private read(view: string, key: string): EntityState | null {
    this.sync();
    const row = this.getBase.get(view, key) as { seq: number; state: Buffer | string } | undefined;
    let s = row ? decodeState(row.state) : null;
    if (s && row) this.legacyEntries(s, view, key, row.seq);
    for (const ref of this.recordsOf(view, key) ?? []) s = applyRecord(s, ref);
    return s;
  }

  /** Entry rows of the previous layout (`state_entry`), until the job folds them into the bases. */
  private legacyEntries(s: EntityState, view: string, key: string, seq: number): void {
    if (this.legacyGone) return;
    try {
      this.legacyGet ??= this.db.prepare(
        'SELECT seq, entry FROM state_entry WHERE view = ? AND key = ? AND seq > ? ORDER BY seq',
      );
      for (const r of this.legacyGet.iterate(view, key, seq)) {
        addEvents(s, decodeEntry((r as { entry: Buffer }).entry));
      }
    } catch {
      this.legacyGone = true;
    }
  }

  /** Every state of a view, with the id of its first log record (null when its base is whole). */
  all(view: string): Map<string, { state: EntityState; since: number | null }> {
    return this.db.transaction(() => this.readAll(view))();
  }

  private readAll(view: string): Map<string, { state: EntityState; since: number | null }> {
    this.sync();
    const out = new Map<string, { state: EntityState; since: number | null }>();
    for (const r of this.allBase.iterate(view)) {
      const row = r as { key: string; state: Buffer | string };
      out.set(row.key, { state: decodeState(row.state), since: null });
    }
    if (!this.legacyGone) {
      try {
        this.legacyAll ??= this.db.prepare(
          'SELECT key, seq, entry FROM state_entry WHERE view = ? ORDER BY key, seq',
        );
        for (const r of this.legacyAll.iterate(view)) {
          const row = r as { key: string; seq: number; entry: Buffer };
          const it = out.get(row.key);
          if (it) addEvents(it.state, decodeEntry(row.entry));
        }
      } catch {
        this.legacyGone = true;
      }
    }
    const prefix = `${view}\u0000`;
    for (const [k, refs] of this.index) {
      if (!k.startsWith(prefix)) continue;
      const key = k.slice(prefix.length);
      const it = out.get(key);
      let s = it?.state ?? null;
      for (const ref of refs) s = applyRecord(s, ref);
      if (s) out.set(key, { state: s, since: (refs[0] as LogRef).id });
    }
    return out;
  }
}

/**
 * Adds events to a state as ViewRuntime.apply added them (events come in sequence order): each
 * after every event at or before its instant, so the tail keeps its (instant, sequence) order.
 */
function addEvents(s: EntityState, ev: Events): void {
  const { values, width } = ev;
  for (let k = 0; k < values.length; k += width) {
    const ts = values[k] as number;
    const seq = values[k + 1] as number;
    if (seq <= s.seq) continue;
    // a row of an earlier version without events tells no width (it decodes as 2): the events give it
    if (width !== s.width && s.tail.length === 0) s.width = width;
    else if (width !== s.width)
      throw new Error(
        `online store: an event of ${width} values for a state of ${s.width} (sequence ${seq})`,
      );
    s.seq = seq;
    if (s.first === null || ts < s.first) s.first = ts;
    const tail = s.tail;
    let i = tail.length;
    while (i > 0 && (tail[i - width] as number) > ts) i -= width;
    tail.splice(i, 0, ...values.slice(k, k + width));
  }
}

/** What was last written of a state object: events taken out until then, event count, sequence. */
interface Written {
  /**
   * EntityState.taken then: taking events out (a compaction, which alone changes the head, or a
   * primary key's earlier event, which alone moves `first` back) makes the next write whole.
   */
  taken: number;
  count: number;
  seq: number;
}

/** The one event of a primary-key index entry (an offsets list, made once). */
const FIRST_EVENT = [0];

/** A state with log records not yet merged into its base row, since log row `since`. */
interface Pending {
  view: string;
  key: string;
  state: EntityState;
  since: number;
}

export class OnlineStore {
  private upsertState: Database.Statement | undefined;
  private upsertCheckpoint: Database.Statement | undefined;
  private insertLog: Database.Statement | undefined;
  private insertPkLog: Database.Statement | undefined;
  private rows: StateRows | undefined;
  /** The states this connection loaded or wrote, to write only their new entries next time. */
  private readonly written = new WeakMap<EntityState, Written>();
  /**
   * States with log records, in the order of their first one (the oldest `since` first), by state
   * object: a key of view and entity made per record was a string built and hashed per event.
   */
  private readonly pending = new Map<EntityState, Pending>();
  /** Live log rows (id, records) in id order, and their records in all. */
  private logRows: [number, number][] = [];
  private logRecords = 0;
  /**
   * The merge sweep under way. It first collects the pending states (`gather`, in first-log order)
   * and sorts them by view and key (`sort`), a bounded share per commit, then merges them in that
   * order (`at` of `todo`), in proportion to each commit's records.
   */
  private sweep: {
    gather: MapIterator<Pending> | null;
    left: number;
    keys: Pending[];
    sort: StepSort<Pending> | null;
    todo: Pending[];
    at: number;
  } | null = null;
  private deleteLog: Database.Statement | undefined;
  private forgetPk: Database.Statement | undefined;
  /** Dedupe index horizons to apply at the next commit (pk_log rows wholly before it go). */
  private readonly forgetBefore = new Map<string, number>();
  private commits = 0;
  private readonly logBuilder = new LogBuilder();
  /** Reused by commit: the states it wrote again (bookkeeping, state pairs), and those it logged. */
  private readonly wroteAgain: (Written | EntityState)[] = [];
  private readonly logged: DirtyState[] = [];
  /** newEvents' answer: offsets of a state's new events in its tail. */
  private readonly fresh: number[] = [];
  private readonly pkBuilder = new Map<string, LogBuilder>();
  private checkpointer: Worker | undefined;
  /** Set to 1 by the checkpointer once its connection is closed. */
  private checkpointerDone: Int32Array | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly mergeAfter = MERGE_AFTER_ENTRIES,
    private readonly file = '',
  ) {}

  /** Hands WAL checkpoints to a worker thread (see CHECKPOINTER); SQLite's own are turned off. */
  private startCheckpointer(): void {
    try {
      const done = new SharedArrayBuffer(4);
      const worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: {
          module: createRequire(import.meta.url).resolve('better-sqlite3'),
          file: this.file,
          everyMs: 200,
          done,
        },
      });
      worker.unref();
      // should the worker fail, SQLite's automatic checkpoints take over again
      worker.on('error', () => {
        this.checkpointer = undefined;
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
      });
      this.checkpointer = worker;
      this.checkpointerDone = new Int32Array(done);
      this.db.pragma('wal_autocheckpoint = 0');
    } catch {
      this.checkpointer = undefined;
    }
  }

  private stateRows(): StateRows {
    this.rows ??= new StateRows(this.db);
    return this.rows;
  }

  /**
   * `fsync`: sync every commit to disk (survives power loss, a few ms per checkpoint). Without it
   * (WAL, synchronous NORMAL) a commit survives the process being killed, which is what
   * exactly-once across kill -9 needs, but not the machine losing power. `mergeAfter`: log
   * entries that start a merge sweep (tests make it small).
   */
  static open(
    dir: string,
    opts: { readonly?: boolean; fsync?: boolean; mergeAfter?: number } = {},
  ): OnlineStore {
    const file = path.join(dir, ONLINE_FILE);
    if (opts.readonly) {
      try {
        const db = new Database(file, { readonly: true, fileMustExist: true });
        db.pragma('busy_timeout = 5000');
        return new OnlineStore(db);
      } catch {
        throw new AsofError(
          'usage',
          `no online store at ${file}`,
          { file },
          "run 'asof stream --view V --source ...' first",
        );
      }
    }
    mkdirSync(dir, { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.fsync ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    // a merge slice rewrites a run of the state table's pages: keep them cached
    db.pragma('cache_size = -65536');
    db.exec(`BEGIN;
      CREATE TABLE IF NOT EXISTS state (
        view TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (view, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS pk_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, view TEXT NOT NULL, max_ts REAL NOT NULL, data BLOB NOT NULL);
      CREATE INDEX IF NOT EXISTS pk_log_time ON pk_log (view, max_ts);
      CREATE TABLE IF NOT EXISTS checkpoint (
        source TEXT PRIMARY KEY, views TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL);
      COMMIT;`);
    const store = new OnlineStore(db, opts.mergeAfter, file);
    store.foldLegacyEntries();
    return store;
  }

  /** A store of the previous layout kept entry rows in `state_entry`: fold them into the bases. */
  private foldLegacyEntries(): void {
    const has = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_entry'")
      .get();
    if (!has) return;
    const rows = new StateRows(this.db);
    const views = (this.db.prepare('SELECT DISTINCT view FROM state_entry').all() as { view: string }[]).map(
      (r) => r.view,
    );
    const upsert = this.db.prepare(
      'INSERT INTO state (view, key, seq, state) VALUES (?, ?, ?, ?) ON CONFLICT (view, key) DO UPDATE SET seq = excluded.seq, state = excluded.state',
    );
    this.db.transaction(() => {
      for (const view of views) {
        for (const [key, { state }] of rows.all(view)) upsert.run(view, key, state.seq, encodeState(state));
      }
      this.db.exec('DROP TABLE state_entry');
    })();
  }

  readCheckpoint(source: string): { views: string[]; checkpoint: Checkpoint } | null {
    const row = this.db.prepare('SELECT views, data FROM checkpoint WHERE source = ?').get(source) as
      | { views: string; data: string }
      | undefined;
    return row ? { views: JSON.parse(row.views), checkpoint: JSON.parse(row.data) } : null;
  }

  /** Every checkpoint whose job serves `view` (to know how exact a read can be). */
  checkpointsOf(view: string): Checkpoint[] {
    const rows = this.db.prepare('SELECT views, data FROM checkpoint').all() as {
      views: string;
      data: string;
    }[];
    return rows
      .filter((r) => (JSON.parse(r.views) as string[]).includes(view))
      .map((r) => JSON.parse(r.data));
  }

  loadStates(view: string): Map<string, EntityState> {
    if (isPkView(view)) return this.loadPkIndex(view);
    const out = new Map<string, EntityState>();
    const since: Pending[] = [];
    for (const [key, it] of this.stateRows().all(view)) {
      const state = it.state;
      out.set(key, state);
      this.written.set(state, { count: entryCount(state), seq: state.seq, taken: state.taken });
      if (it.since !== null) since.push({ view, key, state, since: it.since });
    }
    // the unmerged log of a previous run is merged by this one's sweeps; `pending` stays in the
    // order of first log records across views (a sweep's end deletes the log before the first one)
    if (since.length > 0) {
      const all = [...this.pending.values(), ...since].sort((a, b) => a.since - b.since);
      this.pending.clear();
      for (const p of all) this.pending.set(p.state, p);
      this.sweep = null;
    }
    this.loadLogRows();
    return out;
  }

  private loadLogRows(): void {
    if (this.logRows.length > 0) return;
    const stats = this.db.prepare('SELECT id, data FROM log ORDER BY id').all() as {
      id: number;
      data: Buffer;
    }[];
    this.logRows = stats.map((r) => {
      let n = 0;
      scanLog(r.data, () => n++);
      return [r.id, n];
    });
    this.logRecords = this.logRows.reduce((a, [, n]) => a + n, 0);
  }

  /** The dedupe index: base rows of older versions, then the pk_log rows in order (later wins). */
  private loadPkIndex(view: string): Map<string, EntityState> {
    const out = new Map<string, EntityState>();
    for (const [key, { state }] of this.stateRows().all(view)) out.set(key, state);
    const rows = this.db.prepare('SELECT data FROM pk_log WHERE view = ? ORDER BY id').iterate(view);
    for (const r of rows) {
      const data = (r as { data: Buffer }).data;
      scanLog(data, (kind, _view, key, start) => {
        const { values, width } =
          kind === LOG_EVENTS ? decodeEvents(data, start) : decodeEntries(data, start);
        const ts = values[0] as number;
        out.set(key, {
          tail: values.slice(0, width),
          width,
          head: null,
          first: ts,
          seq: values[1] as number,
          taken: 0,
        });
      });
    }
    return out;
  }

  /** The dedupe index `view` forgets entries before `instant`: its log rows wholly before go at the next commit. */
  forget(view: string, instant: number): void {
    this.forgetBefore.set(view, instant);
  }

  getState(view: string, key: string): EntityState | null {
    return this.stateRows().get(view, key);
  }

  keys(view: string): string[] {
    return this.stateRows().keys(view);
  }

  /** Writes the dirty states and the checkpoint atomically: all of them or none. */
  commit(source: string, views: string[], checkpoint: Checkpoint, dirty: DirtyState[], now: number): void {
    this.upsertState ??= this.db.prepare(
      `INSERT INTO state (view, key, seq, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (view, key) DO UPDATE SET seq = excluded.seq, state = excluded.state
       WHERE excluded.seq >= state.seq`,
    );
    this.upsertCheckpoint ??= this.db.prepare(
      `INSERT INTO checkpoint (source, views, data, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET views = excluded.views, data = excluded.data, updated_at = excluded.updated_at`,
    );
    this.insertLog ??= this.db.prepare('INSERT INTO log (data) VALUES (?)');
    this.insertPkLog ??= this.db.prepare('INSERT INTO pk_log (view, max_ts, data) VALUES (?, ?, ?)');
    const upsert = this.upsertState;
    // the builders' buffers are reused from commit to commit (SQLite copies a bound blob)
    const log = this.logBuilder.reset();
    const pk = new Map<string, { log: LogBuilder; maxTs: number }>();
    let pkView = '';
    let pkLog: { log: LogBuilder; maxTs: number } | undefined;
    // what this commit wrote: states written before (their bookkeeping is updated in place once
    // it has committed), states written for the first time, and the states it logged
    const again = this.wroteAgain;
    const first: EntityState[] = [];
    const logged = this.logged;
    again.length = 0;
    logged.length = 0;
    this.db.transaction(() => {
      for (const d of dirty) {
        const s = d.state;
        if (isPkView(d.view)) {
          const ts = s.tail[0] as number | undefined;
          if (ts === undefined || s.width > MAX_EVENT_WIDTH) {
            upsert.run(d.view, d.key, s.seq, encodeState(s));
            continue;
          }
          if (d.view !== pkView || !pkLog) {
            pkView = d.view;
            pkLog = pk.get(d.view);
            if (!pkLog) {
              const b = this.pkBuilder.get(d.view) ?? new LogBuilder();
              this.pkBuilder.set(d.view, b);
              pkLog = { log: b.reset(), maxTs: Number.NEGATIVE_INFINITY };
              pk.set(d.view, pkLog);
            }
          }
          pkLog.log.addEvents(d.view, d.key, s, FIRST_EVENT, 1);
          if (ts > pkLog.maxTs) pkLog.maxTs = ts;
          continue;
        }
        const w = this.written.get(s);
        // a state's first write is the whole state, in the log too: a sweep makes its base row
        // later, in key order with its neighbours (an insert at a random place of the B-tree per
        // new entity was a tenth of the commit)
        const n = !w || s.width > MAX_EVENT_WIDTH ? -1 : this.newEvents(s, w);
        if (n === 0) continue;
        if (n > 0) log.addEvents(d.view, d.key, s, this.fresh, n);
        else {
          const whole = encodeState(s);
          log.add(typeof whole === 'string' ? LOG_JSON : LOG_STATE, d.view, d.key, whole);
        }
        if (w) again.push(w, s);
        else first.push(s);
        logged.push(d);
      }
      for (const [view, p] of pk) this.insertPkLog?.run(view, p.maxTs, p.log.take());
      for (const [view, before] of this.forgetBefore) {
        this.forgetPk ??= this.db.prepare('DELETE FROM pk_log WHERE view = ? AND max_ts < ?');
        this.forgetPk.run(view, before);
      }
      this.upsertCheckpoint?.run(source, JSON.stringify(views), JSON.stringify(checkpoint), now);
      // the in-memory bookkeeping below changes only when the statements have all run; should the
      // COMMIT itself fail, the job stops (it restarts from the stored checkpoint)
      if (log.records > 0) {
        const id = Number(this.insertLog?.run(log.take()).lastInsertRowid);
        this.logRows.push([id, log.records]);
        this.logRecords += log.records;
        for (const d of logged) {
          if (!this.pending.has(d.state))
            this.pending.set(d.state, { view: d.view, key: d.key, state: d.state, since: id });
        }
      }
      this.mergeSlice(log.records);
    })();
    // readers on this connection (getState, loadStates) see this commit: data_version does not tell them
    ownCommits.set(this.db, (ownCommits.get(this.db) ?? 0) + 1);
    for (let i = 0; i < again.length; i += 2) {
      const w = again[i] as Written;
      const st = again[i + 1] as EntityState;
      w.taken = st.taken;
      w.count = entryCount(st);
      w.seq = st.seq;
    }
    for (const st of first) this.written.set(st, { taken: st.taken, count: entryCount(st), seq: st.seq });
    again.length = 0;
    logged.length = 0;
    this.forgetBefore.clear();
    if (++this.commits === CHECKPOINTER_AFTER_COMMITS && this.file) this.startCheckpointer();
  }

  /**
   * Merges the next slice of the sweep (in key order, so a slice dirties a contiguous run of the
   * state table's pages) into the base rows; a sweep starts when the log holds `mergeAfter`
   * entries and is sized to end before as many again have come. At its end, the log rows every
   * state has been merged past are deleted. No commit pays for all pending keys: they are
   * collected and sorted over several commits (work per commit in proportion to its records),
   * while the log goes on growing.
   */
  private mergeSlice(records: number): void {
    if (!this.sweep) {
      if (this.logRecords < this.mergeAfter || this.pending.size === 0) return;
      this.sweep = {
        gather: this.pending.values(),
        left: this.pending.size,
        keys: [],
        sort: null,
        todo: [],
        at: 0,
      };
    }
    const sw = this.sweep;
    if (sw.gather || sw.sort) {
      // nothing is merged (or taken out of `pending`) until the keys are sorted
      let budget = Math.max(SORT_PER_COMMIT, 16 * records);
      if (sw.gather) {
        for (; sw.left > 0 && budget > 0; sw.left--, budget--) {
          const k = sw.gather.next();
          if (k.done) break;
          sw.keys.push(k.value);
        }
        if (sw.left > 0 && budget <= 0) return;
        sw.gather = null;
        sw.sort = new StepSort(sw.keys, (a, b) => (a.view === b.view ? a.key <= b.key : a.view < b.view));
      }
      if (!sw.sort?.step(budget)) return;
      sw.todo = sw.sort.result;
      sw.sort = null;
      sw.keys = [];
      return;
    }
    const upsert = this.upsertState as Database.Statement;
    // in proportion to the commit's own records (the sweep ends before `mergeAfter` more have
    // come): a floor of 1/256 of the keys per commit made each small commit of a latency run
    // rewrite ~150-350 whole states (5-20 ms) for as long as a sweep lasted
    const per = Math.max(1, Math.ceil((sw.todo.length * records) / this.mergeAfter));
    const end = Math.min(sw.todo.length, sw.at + per);
    for (let i = sw.at; i < end; i++) {
      const st = (sw.todo[i] as Pending).state;
      const cur = this.pending.get(st);
      if (!cur) continue;
      upsert.run(cur.view, cur.key, st.seq, encodeState(st));
      this.pending.delete(st);
    }
    sw.at = end;
    if (end < sw.todo.length) return;
    // `pending` is in the order of the states' first log records: the first one left is the oldest
    const first = this.pending.values().next();
    const lo = first.done ? (this.logRows.at(-1)?.[0] ?? 0) + 1 : first.value.since;
    this.deleteLog ??= this.db.prepare('DELETE FROM log WHERE id < ?');
    this.deleteLog.run(lo);
    let gone = 0;
    while (gone < this.logRows.length && (this.logRows[gone] as [number, number])[0] < lo) {
      this.logRecords -= (this.logRows[gone] as [number, number])[1];
      gone++;
    }
    this.logRows.splice(0, gone);
    this.sweep = null;
  }

  /**
   * How many events a state gained since its last write, their offsets in the tail in sequence
   * order at the front of `this.fresh`, when that is the whole change; -1 (write it whole) when
   * events were taken out since (a compaction, which alone changes the head, or a primary key's
   * earlier event, which alone moves `first` back).
   */
  private newEvents(s: EntityState, w: Written): number {
    if (s.taken !== w.taken) return -1;
    const tail = s.tail;
    const width = s.width;
    const want = tail.length / width - w.count;
    const fresh = this.fresh;
    let n = 0;
    // the new events are the last ones by instant, apart from out-of-order ones: scan back until
    // all of them are found
    for (let k = tail.length - width; k >= 0 && n < want; k -= width) {
      if ((tail[k + 1] as number) > w.seq) fresh[n++] = k;
    }
    if (n !== want) return -1;
    if (n > 1) {
      // readers add them in sequence order, as apply did (the tail is in instant order)
      const order = fresh.slice(0, n).sort((a, b) => (tail[a + 1] as number) - (tail[b + 1] as number));
      for (let i = 0; i < n; i++) fresh[i] = order[i] as number;
    }
    return n;
  }

  /**
   * Stops the checkpointer and waits until its connection is closed, then closes this one (the
   * last connection: SQLite checkpoints and removes the WAL here). Nothing touches the store's files
   * after close() returns, so a caller may move or delete them at once.
   */
  close(): void {
    const worker = this.checkpointer;
    if (worker && this.checkpointerDone) {
      worker.postMessage('stop');
      Atomics.wait(this.checkpointerDone, 0, 0, CHECKPOINTER_STOP_MS);
      this.checkpointer = undefined;
    }
    this.db.close();
  }
}
