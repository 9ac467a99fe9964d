// The embedded store appends a touched state's new entries (or the whole state after a compaction
// or a taken-out entry) to its checkpoint log and merges the log into base rows in sweeps: for random applies, out-of-order events, compactions,
// primary-key removals and commits, what a reopened store loads, and what a serving reader
// reads, equals the job's states in memory.

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OnlineReader } from '../../src/storage/online/reader.js';
import { emptyCheckpoint, OnlineStore } from '../../src/storage/online/sqlite.js';
import { removeEntry } from '../../src/stream/dedupe.js';
import { type EntityState, emptyState, type TailEntry } from '../../src/stream/state.js';

/** ViewRuntime.apply's rule (the store must reproduce the tail it builds). */
function apply(s: EntityState, e: TailEntry): void {
  s.seq = e[1];
  if (s.first === null || e[0] < s.first) s.first = e[0];
  let i = s.tail.length;
  while (i > 0 && (s.tail[i - s.width] as number) > e[0]) i -= s.width;
  s.tail.splice(i, 0, ...e);
}

/** A state as a store reads it back: `taken` counts what this process took out (not stored). */
const stored = (s: EntityState | null | undefined) => (s ? { ...s, taken: 0 } : s);
const storedAll = (m: Map<string, EntityState>) => new Map([...m].map(([k, s]) => [k, stored(s)]));

type Op =
  | { kind: 'event'; key: number; dt: number; amount: number }
  | { kind: 'compact'; key: number; n: number; fold: boolean }
  | { kind: 'drop'; key: number; at: number }
  | { kind: 'commit' };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 14,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      key: fc.nat({ max: 2 }),
      // mostly in order, sometimes up to half an hour late, sometimes at the same instant
      dt: fc.oneof(fc.constant(0), fc.integer({ min: -1_800_000, max: 600_000 })),
      amount: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('compact' as const),
      key: fc.nat({ max: 2 }),
      n: fc.nat(5),
      fold: fc.boolean(),
    }),
  },
  // a later event with the same primary key takes an earlier one out (stream/dedupe.ts)
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('drop' as const), key: fc.nat({ max: 2 }), at: fc.nat(40) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'commit' as const }) },
);

describe('online store checkpoint log', () => {
  // mergeAfter 3: merge sweeps start after a few entries, so that slices, log deletions and a
  // long-lived reader forgetting deleted log rows all happen many times per run
  it.each([
    ['the default merge threshold', undefined],
    ['merge sweeps every few entries', 3],
  ])(
    'loads and serves exactly the states the job holds, after any mix of commits (%s)',
    (_name, mergeAfter) => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 30, maxLength: 200 }), (ops) => {
          const dir = mkdtempSync(path.join(tmpdir(), 'asof-entries-'));
          let store = OnlineStore.open(dir, { mergeAfter });
          let longLived: OnlineReader | undefined;
          try {
            let states = store.loadStates('v');
            const dirty = new Set<string>();
            let seq = 0;
            let clock = 1_750_000_000_000;
            const commit = () => {
              const batch = [...dirty].map((key) => ({
                view: 'v',
                key,
                state: states.get(key) as EntityState,
              }));
              store.commit('src', ['v'], { ...emptyCheckpoint(), nextSeq: seq }, batch, 0);
              dirty.clear();
            };
            const check = () => {
              const reader = OnlineReader.open(dir);
              const again = OnlineStore.open(dir, { mergeAfter });
              longLived ??= OnlineReader.open(dir);
              try {
                const loaded = again.loadStates('v');
                expect(loaded).toEqual(storedAll(states));
                // states so far only in the log are listed too
                const keys = [...states.keys()].sort();
                expect(again.keys('v')).toEqual(keys);
                expect(reader.keys('v')).toEqual(keys);
                expect(longLived.keys('v')).toEqual(keys);
                for (const [key, s] of states) {
                  expect(reader.getState('v', key)).toEqual(stored(s));
                  expect(longLived.getState('v', key)).toEqual(stored(s));
                }
              } finally {
                reader.close();
                again.close();
              }
            };
            for (const o of ops) {
              if (o.kind === 'event') {
                const key = `k${o.key}`;
                let s = states.get(key);
                if (!s) {
                  s = emptyState(5);
                  states.set(key, s);
                }
                clock += Math.max(0, o.dt);
                apply(s, [clock + Math.min(0, o.dt), seq++, o.amount, true, o.amount]);
                dirty.add(key);
              } else if (o.kind === 'compact') {
                const s = states.get(`k${o.key}`);
                if (!s || o.n === 0 || s.tail.length === 0) continue;
                const gone = s.tail.splice(0, o.n * s.width).length / s.width;
                s.taken += gone;
                // with an `all` feature the head changes; without one it stays {} (as compactBefore leaves it)
                s.head = o.fold ? { 1: ((s.head?.[1] as number | undefined) ?? 0) + gone } : (s.head ?? {});
                dirty.add(`k${o.key}`);
              } else if (o.kind === 'drop') {
                const s = states.get(`k${o.key}`);
                if (!s || s.tail.length === 0) continue;
                const n = s.tail.length / s.width;
                removeEntry(s, s.tail[(o.at % n) * s.width + 1] as number);
                dirty.add(`k${o.key}`);
              } else {
                commit();
                check();
              }
            }
            commit();
            check();
            // a restarted job goes on from what it loaded
            store.close();
            store = OnlineStore.open(dir, { mergeAfter });
            states = store.loadStates('v');
            for (const [key, s] of states) {
              apply(s, [clock + 1, seq++, 1.5, true, 1.5]);
              dirty.add(key);
            }
            commit();
            check();
          } finally {
            store.close();
            longLived?.close();
            rmSync(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: 40, seed: 8 },
      );
    },
  );
});

describe('online store WAL checkpoints', () => {
  it('are taken by a background thread once a store has committed a while, and lose nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asof-walck-'));
    const store = OnlineStore.open(dir);
    try {
      const states = new Map<string, EntityState>();
      let seq = 0;
      const fileSize = () => statSync(path.join(dir, 'online.sqlite')).size;
      const before = fileSize();
      for (let c = 0; c < 200; c++) {
        const batch = [];
        for (let k = 0; k < 50; k++) {
          const key = `k${(c * 50 + k) % 997}`;
          let s = states.get(key);
          if (!s) {
            s = emptyState(5);
            states.set(key, s);
          }
          apply(s, [1_750_000_000_000 + seq, seq++, seq * 0.5, true, 1]);
          batch.push({ view: 'v', key, state: s });
        }
        store.commit('src', ['v'], { ...emptyCheckpoint(), nextSeq: seq }, batch, 0);
      }
      // SQLite's own checkpoints are off after the first commits: only the worker moves pages
      // from the WAL into the database file
      const deadline = Date.now() + 10_000;
      while (fileSize() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(fileSize()).toBeGreaterThan(before);
      const reader = OnlineReader.open(dir);
      try {
        for (const [key, s] of states) expect(reader.getState('v', key)).toEqual(s);
      } finally {
        reader.close();
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('online store primary-key index', () => {
  it('keeps the last entry of each key across commits, and deletes what lies before the horizon', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asof-pklog-'));
    try {
      let store = OnlineStore.open(dir);
      const pk = (ts: number, seq: number): EntityState => ({
        tail: [ts, seq, `u${seq % 7}`],
        width: 3,
        head: null,
        first: ts,
        seq,
        taken: 0,
      });
      // one commit per instant 0..99; key p5 is seen again at instant 80 (the later entry wins)
      for (let t = 0; t < 100; t++) {
        const batch = [{ view: '__pk:s', key: `p${t}`, state: pk(t, t) }];
        if (t === 80) batch.push({ view: '__pk:s', key: 'p5', state: pk(80, 1000) });
        store.commit('s', ['v'], emptyCheckpoint(), batch, 0);
      }
      store.close();
      store = OnlineStore.open(dir);
      let index = store.loadStates('__pk:s');
      expect(index.size).toBe(100);
      expect(index.get('p5')).toEqual(pk(80, 1000));
      store.forget('__pk:s', 50);
      store.commit('s', ['v'], emptyCheckpoint(), [], 0);
      store.close();
      store = OnlineStore.open(dir);
      index = store.loadStates('__pk:s');
      // rows wholly before instant 50 are gone; p5's later entry (instant 80) stays
      expect([...index.keys()].sort()).toEqual(
        ['p5', ...Array.from({ length: 50 }, (_, i) => `p${50 + i}`)].sort(),
      );
      expect(index.get('p5')).toEqual(pk(80, 1000));
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
