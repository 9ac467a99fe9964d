// A long-lived read-only handle on the online store for serving: statements prepared once, and
// the checkpoints re-read only when another connection has committed (SQLite's data_version).

import path from 'node:path';
import Database from 'better-sqlite3';
import { AsofError } from '../../errors.js';
import type { EntityState } from '../../stream/state.js';
import { type Checkpoint, ONLINE_FILE, StateRows } from './sqlite.js';

export class OnlineReader {
  private readonly rows: StateRows;
  private readonly allCheckpoints: Database.Statement;
  private cachedVersion = -1;
  private cached: { views: string[]; checkpoint: Checkpoint }[] = [];

  private constructor(private readonly db: Database.Database) {
    this.rows = new StateRows(db);
    this.allCheckpoints = db.prepare('SELECT views, data FROM checkpoint');
  }

  /** Opens the store read-only; throws when it does not exist or has no stream tables yet. */
  static open(dir: string): OnlineReader {
    const file = path.join(dir, ONLINE_FILE);
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      return new OnlineReader(db);
    } catch {
      db?.close();
      throw new AsofError('usage', `no online store at ${file}`, { file });
    }
  }

  getState(view: string, key: string): EntityState | null {
    return this.rows.get(view, key);
  }

  keys(view: string): string[] {
    return (
      this.db.prepare('SELECT key FROM state WHERE view = ? ORDER BY key').all(view) as { key: string }[]
    ).map((r) => r.key);
  }

  /** Every checkpoint whose job serves `view`; parsed again only after a commit elsewhere. */
  checkpointsOf(view: string): Checkpoint[] {
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version !== this.cachedVersion) {
      this.cached = (this.allCheckpoints.all() as { views: string; data: string }[]).map((r) => ({
        views: JSON.parse(r.views) as string[],
        checkpoint: JSON.parse(r.data) as Checkpoint,
      }));
      this.cachedVersion = version;
    }
    return this.cached.filter((c) => c.views.includes(view)).map((c) => c.checkpoint);
  }

  close(): void {
    this.db.close();
  }
}
