// The embedded online store: one SQLite file under .asof/online holding each view's per-entity
// streaming state and each source's checkpoint, written together in one transaction. An upsert
// never replaces a state by one built from an older event sequence, so a value never moves back.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AsofError } from '../../errors.js';
import type { EntityState } from '../../stream/state.js';

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

export class OnlineStore {
  private constructor(private readonly db: Database.Database) {}

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
    db.exec(`CREATE TABLE IF NOT EXISTS state (
        view TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (view, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS checkpoint (
        source TEXT PRIMARY KEY, views TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL);`);
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
    for (const r of this.db.prepare('SELECT key, state FROM state WHERE view = ?').iterate(view)) {
      const row = r as { key: string; state: string };
      out.set(row.key, JSON.parse(row.state));
    }
    return out;
  }

  getState(view: string, key: string): EntityState | null {
    const row = this.db.prepare('SELECT state FROM state WHERE view = ? AND key = ?').get(view, key) as
      | { state: string }
      | undefined;
    return row ? JSON.parse(row.state) : null;
  }

  keys(view: string): string[] {
    return (
      this.db.prepare('SELECT key FROM state WHERE view = ? ORDER BY key').all(view) as { key: string }[]
    ).map((r) => r.key);
  }

  /** Writes the dirty states and the checkpoint atomically: all of them or none. */
  commit(source: string, views: string[], checkpoint: Checkpoint, dirty: DirtyState[], now: number): void {
    const upsert = this.db.prepare(
      `INSERT INTO state (view, key, seq, state) VALUES (?, ?, ?, ?)
       ON CONFLICT (view, key) DO UPDATE SET seq = excluded.seq, state = excluded.state
       WHERE excluded.seq >= state.seq`,
    );
    const ckpt = this.db.prepare(
      `INSERT INTO checkpoint (source, views, data, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET views = excluded.views, data = excluded.data, updated_at = excluded.updated_at`,
    );
    this.db.transaction(() => {
      for (const d of dirty) upsert.run(d.view, d.key, d.state.seq, JSON.stringify(d.state));
      ckpt.run(source, JSON.stringify(views), JSON.stringify(checkpoint), now);
    })();
  }

  close(): void {
    this.db.close();
  }
}
