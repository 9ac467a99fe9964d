// What the stream job, `asof get`, `asof parity`, `asof publish` and `asof serve` need of an online
// store, whichever it is: the embedded SQLite file (sqlite.ts, reader.ts, published.ts) or Redis
// (redis.ts). Methods may answer synchronously (SQLite) or with a promise (Redis): callers await.

import type { Value } from '../../expr/evaluate.js';
import type { EntityState } from '../../stream/state.js';
import type { PublishedMeta } from './published.js';
import type { Checkpoint, DirtyState } from './sqlite.js';

export type Maybe<T> = T | Promise<T>;

/** Where the online store is: `online:` in the spec (embedded by default). */
export type OnlineConfig = { type: 'embedded'; dir: string } | { type: 'redis'; url: string; prefix: string };

/** The stream job's side: checkpoints and entity states, written together. */
export interface StreamStateStore {
  readCheckpoint(source: string): Maybe<{ views: string[]; checkpoint: Checkpoint } | null>;
  loadStates(view: string): Maybe<Map<string, EntityState>>;
  /**
   * Writes the dirty states, then the checkpoint. A state is never replaced by one of an older
   * sequence, so a value never moves back, even when a commit is cut short (a restart replays).
   */
  commit(
    source: string,
    views: string[],
    checkpoint: Checkpoint,
    dirty: DirtyState[],
    now: number,
  ): Maybe<void>;
  /**
   * The dedupe index `view` no longer needs entries before `instant` (the job forgot them): the
   * store may delete them at its next commit (the embedded store does; Redis keeps them).
   */
  forget?(view: string, instant: number): void;
  close(): Maybe<void>;
}

/** The readers' side: one entity's state, the checkpoints of a view's jobs, published batch values. */
export interface OnlineReadStore {
  /**
   * One entity's state. `checked`: the caller read the view's checkpoints in the same synchronous
   * run just before (a store that looks for other connections' commits need not look again).
   */
  getState(view: string, key: string, checked?: boolean): Maybe<EntityState | null>;
  /** Several entities' states in one lookup (a batch read), in the order of `keys`. */
  getStates(view: string, keys: readonly string[]): Maybe<(EntityState | null)[]>;
  checkpointsOf(view: string): Maybe<Checkpoint[]>;
  keys(view: string): Maybe<string[]>;
  publishedMeta(view: string): Maybe<PublishedMeta | null>;
  publishedValues(view: string, key: string): Maybe<Record<string, Value> | null>;
  close(): Maybe<void>;
}

/** `asof publish`'s side: replaces a view's published values unless the same partition is there. */
export interface PublishStore {
  writePublished(meta: PublishedMeta, rows: Iterable<[string, Record<string, Value>]>): Maybe<boolean>;
  close(): Maybe<void>;
}
