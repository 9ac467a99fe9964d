// The embedded online store: one SQLite file under .asof/online holding each view's per-entity
// streaming state and each source's checkpoint, written together in one transaction. An upsert
// never replaces a state by one built from an older event sequence, so a value never moves back.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AsofError } from '../../errors.js';
import type { EntityState, TailEntry } from '../../stream/state.js';
import { decodeEntry, decodeState, encodeEntry, encodeState } from './state-codec.js';

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
 * A state is stored as a base row (`state`, the whole state when it was last written in full) and
 * the entries applied since (`state_entry`, one row per event): a checkpoint writes one small row
 * per new event instead of rewriting every touched state, whose tail can hold hundreds of events.
 * The base is rewritten (and its entry rows deleted) when the state was compacted, or after this
 * many entry rows, which bounds what a read merges.
 */
const MAX_ENTRY_ROWS = 32;

/** Reads states (base row + entry rows) from a connection; shared by the job's store and serving. */
export class StateRows {
  private readonly getBase: Database.Statement;
  private readonly allBase: Database.Statement;
  private getEntries: Database.Statement | undefined;
  private allEntries: Database.Statement | undefined;

  constructor(private readonly db: Database.Database) {
    this.getBase = db.prepare('SELECT seq, state FROM state WHERE view = ? AND key = ?');
    this.allBase = db.prepare('SELECT key, seq, state FROM state WHERE view = ?');
  }

  /** False on a store written before entry rows existed (no such table): then bases are whole. */
  private entriesReady(): boolean {
    if (this.getEntries) return true;
    try {
      this.getEntries = this.db.prepare(
        'SELECT seq, entry FROM state_entry WHERE view = ? AND key = ? AND seq > ? ORDER BY seq',
      );
      this.allEntries = this.db.prepare(
        'SELECT key, seq, entry FROM state_entry WHERE view = ? ORDER BY key, seq',
      );
      return true;
    } catch {
      return false;
    }
  }

  /** One entity's state; base and entry rows are read in one transaction (one snapshot of the file). */
  get(view: string, key: string): EntityState | null {
    return this.db.transaction(() => this.read(view, key))();
  }

  private read(view: string, key: string): EntityState | null {
    const row = this.getBase.get(view, key) as { seq: number; state: Buffer | string } | undefined;
    if (!row) return null;
    const s = decodeState(row.state);
    if (this.entriesReady()) {
      for (const r of this.getEntries?.iterate(view, key, row.seq) ?? []) {
        addEntry(s, decodeEntry((r as { entry: Buffer }).entry));
      }
    }
    return s;
  }

  /** Every state of a view, with the number of entry rows merged into each. */
  all(view: string): Map<string, { state: EntityState; rows: number }> {
    return this.db.transaction(() => this.readAll(view))();
  }

  private readAll(view: string): Map<string, { state: EntityState; rows: number }> {
    const out = new Map<string, { state: EntityState; rows: number }>();
    for (const r of this.allBase.iterate(view)) {
      const row = r as { key: string; state: Buffer | string };
      out.set(row.key, { state: decodeState(row.state), rows: 0 });
    }
    if (this.entriesReady()) {
      for (const r of this.allEntries?.iterate(view) ?? []) {
        const row = r as { key: string; seq: number; entry: Buffer };
        const it = out.get(row.key);
        if (!it) continue;
        it.rows++;
        if (row.seq > it.state.seq) addEntry(it.state, decodeEntry(row.entry));
      }
    }
    return out;
  }
}

/** The head's JSON (null without one): compared to know whether a compaction changed it. */
function headText(s: EntityState): string | null {
  return s.head === null ? null : JSON.stringify(s.head);
}

/**
 * Adds an entry row to a state as ViewRuntime.apply added it (rows come in sequence order): after
 * every entry at or before its instant, so the tail keeps its (instant, sequence) order.
 */
function addEntry(s: EntityState, e: TailEntry): void {
  if (e[1] <= s.seq) return;
  s.seq = e[1];
  if (s.first === null || e[0] < s.first) s.first = e[0];
  const tail = s.tail;
  let i = tail.length;
  while (i > 0 && (tail[i - 1] as TailEntry)[0] > e[0]) i--;
  tail.splice(i, 0, e);
}

/** What was last written of a state object: entry count, sequence, start and head; entry rows since its base. */
interface Written {
  count: number;
  first: number | null;
  head: string | null;
  seq: number;
  rows: number;
}

export class OnlineStore {
  private upsertState: Database.Statement | undefined;
  private upsertCheckpoint: Database.Statement | undefined;
  private insertEntry: Database.Statement | undefined;
  private deleteEntries: Database.Statement | undefined;
  private rows: StateRows | undefined;
  /** The states this connection loaded or wrote, to write only their new entries next time. */
  private readonly written = new WeakMap<EntityState, Written>();
  /** Views this connection loaded, and those of them that have entry rows (else a new state has none). */
  private readonly loaded = new Set<string>();
  private readonly withEntries = new Set<string>();

  private constructor(private readonly db: Database.Database) {}

  private stateRows(): StateRows {
    this.rows ??= new StateRows(this.db);
    return this.rows;
  }

  /**
   * `fsync`: sync every commit to disk (survives power loss, a few ms per checkpoint). Without it
   * (WAL, synchronous NORMAL) a commit survives the process being killed, which is what
   * exactly-once across kill -9 needs, but not the machine losing power.
   */
  static open(dir: string, opts: { readonly?: boolean; fsync?: boolean } = {}): OnlineStore {
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
    // the job rewrites most of the state table's pages between two checkpoints: keep them cached
    db.pragma('cache_size = -65536');
    db.exec(`BEGIN;
      CREATE TABLE IF NOT EXISTS state (
        view TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (view, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS state_entry (
        view TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL,
        PRIMARY KEY (view, key, seq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS checkpoint (
        source TEXT PRIMARY KEY, views TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL);
      COMMIT;`);
    return new OnlineStore(db);
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
    const out = new Map<string, EntityState>();
    this.loaded.add(view);
    for (const [key, { state, rows }] of this.stateRows().all(view)) {
      if (rows > 0) this.withEntries.add(view);
      out.set(key, state);
      this.written.set(state, {
        count: state.tail.length,
        first: state.first,
        seq: state.seq,
        head: headText(state),
        rows,
      });
    }
    return out;
  }

  getState(view: string, key: string): EntityState | null {
    return this.stateRows().get(view, key);
  }

  keys(view: string): string[] {
    return (
      this.db.prepare('SELECT key FROM state WHERE view = ? ORDER BY key').all(view) as { key: string }[]
    ).map((r) => r.key);
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
    this.insertEntry ??= this.db.prepare(
      'INSERT OR IGNORE INTO state_entry (view, key, seq, entry) VALUES (?, ?, ?, ?)',
    );
    this.deleteEntries ??= this.db.prepare('DELETE FROM state_entry WHERE view = ? AND key = ? AND seq <= ?');
    const upsert = this.upsertState;
    const insert = this.insertEntry;
    const prune = this.deleteEntries;
    const ckpt = this.upsertCheckpoint;
    // what this commit wrote of each state, remembered once the transaction has committed
    const wrote: [EntityState, Written][] = [];
    this.db.transaction(() => {
      // binary rows (state-codec.ts); encoded bytes are bound (copied) before the next encode
      for (const d of dirty) {
        const s = d.state;
        const w = this.written.get(s);
        const rows = w ? this.writeEntries(d, w, insert) : -1;
        if (w && rows >= 0) {
          if (rows > 0) this.withEntries.add(d.view);
          wrote.push([
            s,
            { count: s.tail.length, first: s.first, seq: s.seq, head: w.head, rows: w.rows + rows },
          ]);
          continue;
        }
        if (upsert.run(d.view, d.key, s.seq, encodeState(s)).changes === 0) continue;
        // entry rows of the state's older versions go (a state of a loaded view without any has none)
        if (w ? w.rows > 0 : !this.loaded.has(d.view) || this.withEntries.has(d.view)) {
          prune.run(d.view, d.key, s.seq);
        }
        wrote.push([s, { count: s.tail.length, first: s.first, seq: s.seq, head: headText(s), rows: 0 }]);
      }
      ckpt.run(source, JSON.stringify(views), JSON.stringify(checkpoint), now);
    })();
    for (const [s, w] of wrote) this.written.set(s, w);
  }

  /**
   * Writes the entries a state gained since its last write as rows, unless that is not the
   * whole change (a compaction dropped entries and changed the head) or would make too many rows.
   * Returns the number of rows written, or -1 when the state must be written whole.
   */
  private writeEntries(d: DirtyState, w: Written, insert: Database.Statement): number {
    const tail = d.state.tail;
    // Entries taken out (a compaction's prefix, a primary key's earlier event) leave fewer of the
    // older ones; a compaction can also fold new ones into the head. Either needs a whole write.
    const fresh: TailEntry[] = [];
    let kept = 0;
    let first = w.first;
    let last = w.seq;
    for (const e of tail) {
      if (e[1] > w.seq) {
        fresh.push(e);
        if (e[1] > last) last = e[1];
        if (first === null || e[0] < first) first = e[0];
      } else kept++;
    }
    if (kept !== w.count || w.rows + fresh.length > MAX_ENTRY_ROWS || headText(d.state) !== w.head) return -1;
    // the rows give the start and the sequence as apply does; taking an entry out can move them
    if (first !== d.state.first || last !== d.state.seq) return -1;
    if (fresh.some((e) => e.length > 255)) return -1;
    for (const e of fresh) insert.run(d.view, d.key, e[1], encodeEntry(e));
    return fresh.length;
  }

  close(): void {
    this.db.close();
  }
}
