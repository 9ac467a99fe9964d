// The embedded store writes a touched state as its new entry rows (or a new base row after a
// compaction, a taken-out entry or many rows): for random applies, out-of-order events, compactions,
// primary-key removals and commits, what a reopened store loads, and what a serving reader
// reads, equals the job's states in memory.

import { mkdtempSync, rmSync } from 'node:fs';
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
  while (i > 0 && (s.tail[i - 1] as TailEntry)[0] > e[0]) i--;
  s.tail.splice(i, 0, e);
}

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

describe('online store entry rows', () => {
  it('loads and serves exactly the states the job holds, after any mix of commits', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 30, maxLength: 200 }), (ops) => {
        const dir = mkdtempSync(path.join(tmpdir(), 'asof-entries-'));
        let store = OnlineStore.open(dir);
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
            const again = OnlineStore.open(dir);
            try {
              const loaded = again.loadStates('v');
              expect(loaded).toEqual(states);
              for (const [key, s] of states) expect(reader.getState('v', key)).toEqual(s);
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
                s = emptyState();
                states.set(key, s);
              }
              clock += Math.max(0, o.dt);
              apply(s, [clock + Math.min(0, o.dt), seq++, o.amount, true, o.amount]);
              dirty.add(key);
            } else if (o.kind === 'compact') {
              const s = states.get(`k${o.key}`);
              if (!s || o.n === 0 || s.tail.length === 0) continue;
              const gone = s.tail.splice(0, o.n);
              // with an `all` feature the head changes; without one it stays {} (as compactBefore leaves it)
              s.head = o.fold
                ? { 1: ((s.head?.[1] as number | undefined) ?? 0) + gone.length }
                : (s.head ?? {});
              dirty.add(`k${o.key}`);
            } else if (o.kind === 'drop') {
              const s = states.get(`k${o.key}`);
              if (!s || s.tail.length === 0) continue;
              removeEntry(s, (s.tail[o.at % s.tail.length] as TailEntry)[1]);
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
          store = OnlineStore.open(dir);
          states = store.loadStates('v');
          for (const [key, s] of states) {
            apply(s, [clock + 1, seq++, 1.5, true, 1.5]);
            dirty.add(key);
          }
          commit();
          check();
        } finally {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40, seed: 8 },
    );
  });
});
