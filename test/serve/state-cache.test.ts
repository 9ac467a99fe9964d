// The serving reader's cache of decoded entity states: a commit by another connection (the stream
// job) is seen by the next read, including for an entity cached as absent, and by the checkpoints;
// the cache keeps the most recently used states within its weight; a multi-get answers like
// single reads, in order; the admission filter forgets gradually (a key read now and then is kept,
// one-off reads mostly are not).

import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OnlineReader, StateCache, stateCacheCounts } from '../../src/storage/online/reader.js';
import { emptyCheckpoint, OnlineStore } from '../../src/storage/online/sqlite.js';
import type { EntityState } from '../../src/stream/state.js';
import { tempDir } from '../support/project.js';
import { entriesOf, stateOf } from '../support/states.js';

const T0 = Date.UTC(2025, 2, 1);

/** A state of `n` events of amount `amount`, the last of sequence `seq`. */
function state(n: number, amount: number, seq: number): EntityState {
  const tail = Array.from({ length: n }, (_, i) => [T0 + i * 1000, seq - n + 1 + i, amount]);
  return stateOf({ tail, first: T0, seq, width: 3 });
}

describe('serving state cache', () => {
  let dir: string;
  let store: OnlineStore;
  let seq = 0;
  const commit = (states: Record<string, EntityState>, maxTs = T0) => {
    const ckpt = { ...emptyCheckpoint(), nextSeq: ++seq, maxTs };
    store.commit(
      'src',
      ['v'],
      ckpt,
      Object.entries(states).map(([key, s]) => ({ view: 'v', key, state: s })),
      Date.now(),
    );
  };

  beforeEach(() => {
    dir = tempDir('asof-state-cache-');
    store = OnlineStore.open(dir);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees a commit by another connection at the next read, also for an entity cached as absent', () => {
    commit({ a: state(1, 10, 1) });
    const reader = OnlineReader.open(dir);
    try {
      expect(entriesOf(reader.getState('v', 'a'))?.map((e) => e[2])).toEqual([10]);
      expect(reader.getState('v', 'b')).toBeNull();
      expect(reader.cache.size).toBe(0); // a first read is not kept
      reader.getState('v', 'a');
      reader.getState('v', 'b');
      expect(reader.cache.size).toBe(2); // the second is
      const before = { ...stateCacheCounts };
      // cached now: the same object comes back without reading the file
      const again = reader.getState('v', 'a');
      expect(again).toBe(reader.getState('v', 'a'));
      expect(reader.getState('v', 'b')).toBeNull();
      expect(stateCacheCounts.hits - before.hits).toBe(3);
      expect(stateCacheCounts.misses - before.misses).toBe(0);
      expect(reader.checkpointsOf('v')[0]?.nextSeq).toBe(seq);

      // the job appends an event to a and creates b: both are read anew, so are the checkpoints
      const a = state(1, 10, 1);
      a.tail.push(T0 + 5000, 2, 7);
      a.seq = 2;
      commit({ a, b: state(2, 3, 4) }, T0 + 5000);
      expect(entriesOf(reader.getState('v', 'a'))?.map((e) => e[2])).toEqual([10, 7]);
      expect(entriesOf(reader.getState('v', 'b'))?.map((e) => e[2])).toEqual([3, 3]);
      expect(reader.checkpointsOf('v')[0]).toMatchObject({ nextSeq: seq, maxTs: T0 + 5000 });
      expect(reader.getStates('v', ['b', 'nobody', 'a'])).toEqual([
        reader.getState('v', 'b'),
        null,
        reader.getState('v', 'a'),
      ]);
    } finally {
      reader.close();
    }
  });

  it('keeps the most recently used states within its weight (one per state plus its tail entries)', () => {
    commit({
      a: state(1, 1, 1),
      b: state(1, 2, 2),
      c: state(1, 3, 3),
      d: state(1, 4, 4),
      big: state(9, 5, 13),
    });
    // room for three states of one event each (weight 2 each)
    const reader = OnlineReader.open(dir, { cacheWeight: 6 });
    try {
      for (const k of ['a', 'b', 'c', 'd']) reader.getState('v', k); // seen once: none kept
      expect(reader.cache.size).toBe(0);
      for (const k of ['a', 'b', 'c']) reader.getState('v', k);
      expect(reader.cache.size).toBe(3);
      reader.getState('v', 'a'); // a is now the most recent: b is the least
      reader.getState('v', 'd'); // evicts b
      expect(reader.cache.size).toBe(3);
      expect(reader.cache.totalWeight).toBeLessThanOrEqual(6);
      const before = { ...stateCacheCounts };
      for (const k of ['a', 'c', 'd']) reader.getState('v', k);
      expect(stateCacheCounts.hits - before.hits).toBe(3);
      reader.getState('v', 'b');
      expect(stateCacheCounts.misses - before.misses).toBe(1);
      // a state heavier than the whole cache is served but not kept
      expect(reader.getState('v', 'big')?.tail).toHaveLength(9 * 3);
      expect(reader.cache.totalWeight).toBeLessThanOrEqual(6);
      const uncached = OnlineReader.open(dir, { cacheWeight: 0 });
      try {
        expect(uncached.getState('v', 'a')).toEqual(reader.getState('v', 'a'));
        expect(uncached.cache.size).toBe(0);
      } finally {
        uncached.close();
      }
    } finally {
      reader.close();
    }
  });
});

describe('the state cache admission filter', () => {
  /** One read as OnlineReader does it: the cache, else "the store" (null) offered to the cache. */
  const read = (cache: StateCache, id: string) => {
    if (cache.get(id) === undefined) cache.set(id, null);
  };
  const kept = (cache: StateCache, id: string) => cache.get(id) !== undefined;

  it('keeps a key read once every 67k reads of other keys (its second read), and one-off reads mostly not', () => {
    const cache = new StateCache(1_000_000);
    let other = 0;
    for (let round = 0; round < 4; round++) {
      read(cache, 'periodic');
      // before its second read nothing has kept it; afterwards it stays (nothing evicts here)
      expect(kept(cache, 'periodic')).toBe(round > 0);
      for (let i = 0; i < 67_000; i++) read(cache, `one-off ${other++}`);
    }
    // ~268k ids read once each: only the filter's hash collisions got in
    expect(cache.size - 1).toBeLessThan(other * 0.15);
    expect(cache.size - 1).toBeGreaterThan(0);
  });

  it('forgets a key not read again within 256k other ids', () => {
    const cache = new StateCache(1_000_000);
    read(cache, 'rare');
    for (let i = 0; i < 300_000; i++) read(cache, `one-off ${i}`);
    read(cache, 'rare');
    expect(kept(cache, 'rare')).toBe(false);
    read(cache, 'rare');
    expect(kept(cache, 'rare')).toBe(true);
  });
});
