// Opens the project's online store (`online:` in the spec): the embedded SQLite file under
// .asof/online, or Redis. The stream job, `asof get`, `asof parity`, `asof publish` and `asof serve`
// all go through here, so they read and write the same store.

import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { AsofError } from '../errors.js';
import type { Value } from '../expr/evaluate.js';
import type { Project } from '../spec/project.js';
import { type PublishedMeta, PublishedReader, writePublished } from '../storage/online/published.js';
import { OnlineReader } from '../storage/online/reader.js';
import { RedisOnline } from '../storage/online/redis.js';
import { ONLINE_FILE, OnlineStore } from '../storage/online/sqlite.js';
import type { OnlineReadStore, PublishStore, StreamStateStore } from '../storage/online/store.js';
import type { EntityState } from '../stream/state.js';

/** The folder of the embedded store, and of the logs every store keeps on disk (late, dead letters). */
export function onlineDir(project: Project): string {
  return path.join(project.root, '.asof', 'online');
}

function redisUrl(project: Project, env: Record<string, string | undefined>): string | null {
  const o = project.online;
  if (o?.type !== 'redis') return null;
  const url = o.url ?? (o.urlEnv ? env[o.urlEnv] : undefined);
  if (!url) {
    throw new AsofError(
      'usage',
      `the environment variable ${o.urlEnv} (online.url_env) is not set`,
      { file: project.specFile, specPath: 'online.url_env' },
      'export the Redis URL, e.g. redis://127.0.0.1:6379',
    );
  }
  return url;
}

function prefixOf(project: Project): string {
  return project.online?.type === 'redis' ? project.online.prefix : '';
}

export async function openStreamStore(
  project: Project,
  opts: { fsync?: boolean; env?: Record<string, string | undefined> } = {},
): Promise<StreamStateStore> {
  const url = redisUrl(project, opts.env ?? process.env);
  if (url) return RedisOnline.open(url, prefixOf(project));
  return OnlineStore.open(onlineDir(project), { fsync: opts.fsync ?? false });
}

export async function openPublishStore(
  project: Project,
  env: Record<string, string | undefined> = process.env,
): Promise<PublishStore> {
  const url = redisUrl(project, env);
  if (url) return RedisOnline.open(url, prefixOf(project));
  const dir = onlineDir(project);
  return { writePublished: (meta, rows) => writePublished(dir, meta, rows), close: () => {} };
}

/**
 * A read handle. `strict` (asof get, parity): an embedded store must exist. Otherwise (serve) it
 * is opened lazily, looked for again at most once a second while absent, and kept open.
 */
export async function openReadStore(
  project: Project,
  opts: { strict: boolean; env?: Record<string, string | undefined> },
): Promise<OnlineReadStore> {
  const url = redisUrl(project, opts.env ?? process.env);
  if (url) return RedisOnline.open(url, prefixOf(project));
  const dir = onlineDir(project);
  if (opts.strict && !existsSync(path.join(dir, ONLINE_FILE))) {
    throw new AsofError(
      'usage',
      `no online store at ${path.join(dir, ONLINE_FILE)}`,
      { file: path.join(dir, ONLINE_FILE) },
      "run 'asof stream --view V --source ...' first",
    );
  }
  return new EmbeddedReadStore(dir);
}

/** The embedded store's file was deleted while being read (serve answers 503 until it is back). */
export class OnlineStoreGoneError extends AsofError {
  constructor(file: string) {
    super(
      'unexpected',
      `the online store ${file} was deleted while serving`,
      { file },
      "restore it from a backup, or rerun 'asof stream' over the source and 'asof publish' for batch views; serving resumes once it is back",
    );
  }
}

/** The embedded store's readers: stream state (OnlineReader) and published values, opened lazily. */
class EmbeddedReadStore implements OnlineReadStore {
  private store: OnlineReader | null = null;
  private readonly published: PublishedReader;
  private nextTry = 0;
  /** The inode of the store file last seen on disk (null while there is none). */
  private seenIno: number | null = null;
  private nextStat = 0;
  private lost = false;

  /**
   * Open SQLite handles keep reading a deleted (or replaced) file's old inode forever: at most once
   * a second, compare the file on disk with the one seen before and drop stale handles.
   */
  private checkFile(): void {
    const now = performance.now();
    if (now >= this.nextStat) {
      this.nextStat = now + 1000;
      const file = path.join(this.dir, ONLINE_FILE);
      let ino: number | null = null;
      try {
        ino = statSync(file).ino;
      } catch {
        ino = null;
      }
      if (ino !== this.seenIno) {
        if (this.seenIno !== null) {
          this.store?.close();
          this.store = null;
          this.published.close();
        }
        this.lost = ino === null && this.seenIno !== null;
        this.nextTry = 0;
        this.seenIno = ino;
      }
    }
    if (this.lost) throw new OnlineStoreGoneError(path.join(this.dir, ONLINE_FILE));
  }

  constructor(private readonly dir: string) {
    this.published = new PublishedReader(dir);
  }

  private open(): OnlineReader | null {
    if (this.store) return this.store;
    if (performance.now() < this.nextTry) return null;
    this.nextTry = performance.now() + 1000;
    try {
      this.store = OnlineReader.open(this.dir);
    } catch {
      return null;
    }
    return this.store;
  }

  getState(view: string, key: string, checked = false): EntityState | null {
    return this.open()?.getState(view, key, checked) ?? null;
  }

  getStates(view: string, keys: readonly string[]): (EntityState | null)[] {
    return this.open()?.getStates(view, keys) ?? keys.map(() => null);
  }

  checkpointsOf(view: string) {
    this.checkFile();
    return this.open()?.checkpointsOf(view) ?? [];
  }

  keys(view: string): string[] {
    this.checkFile();
    return this.open()?.keys(view) ?? [];
  }

  publishedMeta(view: string): PublishedMeta | null {
    this.checkFile();
    return this.published.meta(view);
  }

  publishedValues(view: string, key: string): Record<string, Value> | null {
    return this.published.values(view, key);
  }

  close(): void {
    this.store?.close();
    this.published.close();
  }
}
