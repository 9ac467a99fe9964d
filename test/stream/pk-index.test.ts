// The stream's primary-key index (typed arrays and a UTF-16 arena instead of a Map of objects)
// answers exactly as a Map would: random keys (colliding hashes, empty and non-ASCII text, NULL
// entity keys), overwrites, horizons that forget old entries, the dirty set of each checkpoint,
// and a reload from what it saved.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dedupeView, type PkEntry, PrimaryKeyIndex } from '../../src/stream/dedupe.js';
import type { EntityState } from '../../src/stream/state.js';

type Op =
  | { kind: 'set'; pk: string; ts: number; keys: (string | null)[] }
  | { kind: 'advance'; by: number }
  | { kind: 'checkpoint' };

const keyText = fc.oneof(
  fc.constantFrom('', 'a', 'b', '"x"', 'é', '\u{1F600}'),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: 0, max: 40 }).map((n) => `k${n}`),
);

describe('PrimaryKeyIndex', () => {
  it('answers previous / beyondHorizon / takeDirty as a Map of the last entry per key does', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            {
              weight: 8,
              arbitrary: fc.record({
                kind: fc.constant('set' as const),
                pk: keyText,
                ts: fc.integer({ min: 0, max: 1000 }),
                keys: fc.array(fc.option(keyText, { nil: null }), { minLength: 2, maxLength: 2 }),
              }),
            },
            {
              weight: 1,
              arbitrary: fc.record({
                kind: fc.constant('advance' as const),
                by: fc.integer({ min: 0, max: 200 }),
              }),
            },
            { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const) }) },
          ),
          { maxLength: 300 },
        ),
        (ops: Op[]) => {
          const idx = new PrimaryKeyIndex('s', ['id'], new Map());
          const ref = new Map<string, PkEntry>();
          const dirty = new Set<string>();
          const saved = new Map<string, EntityState>();
          let horizon = Number.NEGATIVE_INFINITY;
          let seq = 0;
          const check = (i: PrimaryKeyIndex, pk: string) => {
            const e = ref.get(pk);
            const live = e && e.ts >= horizon ? e : undefined;
            expect(i.previous(pk)).toEqual(live);
            expect(i.beyondHorizon(pk)).toBe(e !== undefined && e.ts < horizon);
          };
          for (const op of ops) {
            if (op.kind === 'set') {
              check(idx, op.pk);
              const entry = { seq: seq++, ts: op.ts, keys: op.keys };
              idx.set(op.pk, entry);
              ref.set(op.pk, entry);
              dirty.add(op.pk);
            } else if (op.kind === 'advance') {
              const h = (horizon === Number.NEGATIVE_INFINITY ? 0 : horizon) + op.by;
              idx.advance(h);
              if (h > horizon) {
                horizon = h;
                for (const [pk, e] of ref) if (e.ts < h && !dirty.has(pk)) ref.delete(pk);
              }
            } else {
              const got = idx.takeDirty();
              expect(got.map((d) => d.key).sort()).toEqual([...dirty].sort());
              for (const d of got) {
                expect(d.view).toBe(dedupeView('s'));
                const e = ref.get(d.key) as PkEntry;
                expect(d.state).toEqual({
                  tail: [[e.ts, e.seq, ...e.keys]],
                  head: null,
                  first: e.ts,
                  seq: e.seq,
                });
                saved.set(d.key, d.state);
              }
              dirty.clear();
            }
          }
          for (const pk of ref.keys()) check(idx, pk);
          // a restart loads what was saved: every key saved answers as saved
          const reloaded = new PrimaryKeyIndex('s', ['id'], saved);
          for (const [pk, st] of saved) {
            const e = st.tail[0] as [number, number, ...(string | null)[]];
            expect(reloaded.previous(pk)).toEqual({ seq: st.seq, ts: e[0], keys: e.slice(2) });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds keys past the buckets of forgotten ones (a half-full table, long probe runs)', () => {
    const idx = new PrimaryKeyIndex('s', ['id'], new Map());
    for (let i = 0; i < 1000; i++) idx.set(`k${(i * 7919) % 1000}`, { seq: i, ts: i, keys: ['u'] });
    idx.takeDirty();
    idx.advance(500);
    for (let i = 0; i < 1000; i++) {
      const k = `k${(i * 7919) % 1000}`;
      if (i < 500) expect(idx.previous(k), k).toBeUndefined();
      else expect(idx.previous(k), k).toEqual({ seq: i, ts: i, keys: ['u'] });
    }
  });

  it('holds many keys through table growth, overwrites and arena compaction', () => {
    const idx = new PrimaryKeyIndex('s', ['id'], new Map());
    const n = 60_000;
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < n; i++) idx.set(`"t${i}"`, { seq: r * n + i, ts: i, keys: [`u${i % 97}`] });
      expect(idx.takeDirty()).toHaveLength(n);
    }
    for (let i = 0; i < n; i += 997)
      expect(idx.previous(`"t${i}"`)).toEqual({ seq: 2 * n + i, ts: i, keys: [`u${i % 97}`] });
    idx.advance(n / 2);
    expect(idx.previous('"t10"')).toBeUndefined();
    expect(idx.beyondHorizon('"t10"')).toBe(false);
    expect(idx.previous(`"t${n - 1}"`)).toEqual({ seq: 3 * n - 1, ts: n - 1, keys: [`u${(n - 1) % 97}`] });
    expect(idx.previous('"t-absent"')).toBeUndefined();
    // most entries forgotten: the slots are compacted away, the rest still answer, and keys come back
    idx.advance(n - 100);
    expect(idx.previous(`"t${n - 150}"`)).toBeUndefined();
    for (let i = n - 100; i < n; i++) expect(idx.previous(`"t${i}"`)?.seq).toBe(2 * n + i);
    for (let i = 0; i < 5000; i++) idx.set(`"t${i}"`, { seq: 4 * n + i, ts: n + i, keys: [null] });
    for (let i = 0; i < 5000; i += 7)
      expect(idx.previous(`"t${i}"`)).toEqual({ seq: 4 * n + i, ts: n + i, keys: [null] });
    expect(idx.takeDirty()).toHaveLength(5000);
  });
});
