// Batch values in the online store: `asof publish` copies one published lake partition of a view
// into tables of the same SQLite file, so `asof serve` answers batch-only views too. One partition
// per view at a time; a re-publish of the same partition (same files, same version) changes nothing.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Value } from '../../expr/evaluate.js';
import { ONLINE_FILE } from './sqlite.js';

/** What is published for a view: which partition, and a fingerprint of its data files. */
export interface PublishedMeta {
  view: string;
  asOfDate: string;
  featureVersion: number;
  transformationVersion: string;
  /** The partition's cutoff (ISO instant): its values hold events strictly before it. */
  cutoff: string;
  fingerprint: string;
  rows: number;
  publishedAt: number;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS published_meta (
    view TEXT PRIMARY KEY, as_of_date TEXT NOT NULL, feature_version INTEGER NOT NULL,
    transformation_version TEXT NOT NULL, cutoff TEXT NOT NULL, fingerprint TEXT NOT NULL,
    rows INTEGER NOT NULL, published_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS published (
    view TEXT NOT NULL, key TEXT NOT NULL, vals TEXT NOT NULL, PRIMARY KEY (view, key)) WITHOUT ROWID;`;

interface MetaRow {
  view: string;
  as_of_date: string;
  feature_version: number;
  transformation_version: string;
  cutoff: string;
  fingerprint: string;
  rows: number;
  published_at: number;
}

function toMeta(r: MetaRow): PublishedMeta {
  return {
    view: r.view,
    asOfDate: r.as_of_date,
    featureVersion: r.feature_version,
    transformationVersion: r.transformation_version,
    cutoff: r.cutoff,
    fingerprint: r.fingerprint,
    rows: r.rows,
    publishedAt: r.published_at,
  };
}

/** Replaces the published values of a view, unless the same partition is already there (false). */
export function writePublished(
  dir: string,
  meta: PublishedMeta,
  rows: Iterable<[string, Record<string, Value>]>,
): boolean {
  mkdirSync(dir, { recursive: true });
  const db = new Database(path.join(dir, ONLINE_FILE));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    const cur = db.prepare('SELECT * FROM published_meta WHERE view = ?').get(meta.view) as
      | MetaRow
      | undefined;
    if (
      cur &&
      cur.as_of_date === meta.asOfDate &&
      cur.feature_version === meta.featureVersion &&
      cur.transformation_version === meta.transformationVersion &&
      cur.fingerprint === meta.fingerprint
    ) {
      return false;
    }
    const del = db.prepare('DELETE FROM published WHERE view = ?');
    const ins = db.prepare('INSERT INTO published (view, key, vals) VALUES (?, ?, ?)');
    const upMeta = db.prepare(
      `INSERT OR REPLACE INTO published_meta (view, as_of_date, feature_version, transformation_version,
        cutoff, fingerprint, rows, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
      del.run(meta.view);
      for (const [key, vals] of rows) ins.run(meta.view, key, JSON.stringify(vals));
      upMeta.run(
        meta.view,
        meta.asOfDate,
        meta.featureVersion,
        meta.transformationVersion,
        meta.cutoff,
        meta.fingerprint,
        meta.rows,
        meta.publishedAt,
      );
    })();
    return true;
  } finally {
    db.close();
  }
}

/** A read-only handle on the published values (serving); tolerates a store without them yet. */
export class PublishedReader {
  private db: Database.Database | null = null;
  private getRow: Database.Statement | null = null;
  private getMeta: Database.Statement | null = null;

  constructor(private readonly dir: string) {}

  private nextTry = 0;

  /** Opens lazily; while there is nothing published, looks again at most once a second (hot path). */
  private open(): boolean {
    if (this.db) return true;
    if (performance.now() < this.nextTry) return false;
    this.nextTry = performance.now() + 1000;
    const file = path.join(this.dir, ONLINE_FILE);
    if (!existsSync(file)) return false;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const has = db
      .prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('published', 'published_meta')")
      .get() as { n: number };
    if (has.n < 2) {
      db.close();
      return false;
    }
    this.db = db;
    this.getRow = db.prepare('SELECT vals FROM published WHERE view = ? AND key = ?');
    this.getMeta = db.prepare('SELECT * FROM published_meta WHERE view = ?');
    return true;
  }

  meta(view: string): PublishedMeta | null {
    if (!this.open()) return null;
    const r = this.getMeta?.get(view) as MetaRow | undefined;
    return r ? toMeta(r) : null;
  }

  values(view: string, key: string): Record<string, Value> | null {
    if (!this.open()) return null;
    const r = this.getRow?.get(view, key) as { vals: string } | undefined;
    return r ? (JSON.parse(r.vals) as Record<string, Value>) : null;
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }
}
