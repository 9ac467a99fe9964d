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
                  tail: [e.ts, e.seq, ...e.keys],
                  width: 2 + e.keys.length,
                  head: null,
                  first: e.ts,
                  seq: e.seq,
                  taken: 0,
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
            expect(reloaded.previous(pk)).toEqual({ seq: st.seq, ts: st.tail[0], keys: st.tail.slice(2) });
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

/** A seeded generator (mulberry32): the long run below is the same every time. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PrimaryKeyIndex over a long run', () => {
  it('answers as a Map through many incremental rehashes, slot and arena growth, forgetting and reclaiming', () => {
    const rand = rng(8);
    const idx = new PrimaryKeyIndex('s', ['id'], new Map());
    const ref = new Map<string, PkEntry>();
    const dirty = new Set<string>();
    const everSeen: string[] = [];
    let horizon = Number.NEGATIVE_INFINITY;
    let next = 0;
    let clock = 0;
    let rehashingSeen = 0;
    let maxChunks = 0;
    let maxInUse = 0;
    const long = 'L'.repeat(70_000);
    const keyFor = (): string => {
      const r = rand();
      // mostly new keys; some repeats of recent or old ones (forgotten keys come back too)
      if (r < 0.75 || everSeen.length === 0) {
        const n = next++;
        const pk = n % 5003 === 0 ? `"${long}${n}"` : n % 7 === 0 ? `["é${n}",null]` : `"t${n.toString(36)}"`;
        everSeen.push(pk);
        return pk;
      }
      const span = r < 0.95 ? Math.min(everSeen.length, 2000) : everSeen.length;
      return everSeen[everSeen.length - 1 - Math.floor(rand() * span)] as string;
    };
    // compared by hand (an expect per lookup would be most of the test's time); mismatches listed at the end
    const wrong: string[] = [];
    const check = (pk: string) => {
      const e = ref.get(pk);
      const want = e && e.ts >= horizon ? e : undefined;
      const got = idx.previous(pk);
      const same =
        got === undefined || want === undefined
          ? got === want
          : got.seq === want.seq &&
            got.ts === want.ts &&
            JSON.stringify(got.keys) === JSON.stringify(want.keys);
      if (!same || idx.beyondHorizon(pk) !== (e !== undefined && e.ts < horizon)) wrong.push(pk.slice(0, 40));
    };
    const ops = 200_000;
    for (let op = 0; op < ops; op++) {
      const pk = keyFor();
      check(pk);
      // instants mostly in order, a tenth of them up to 50 behind
      clock = op;
      const ts = rand() < 0.9 ? op : op - Math.floor(rand() * 50);
      const entry = { seq: op, ts, keys: [rand() < 0.1 ? null : `u${op % 977}`, `v${op % 13}`] };
      idx.set(pk, entry);
      ref.set(pk, entry);
      dirty.add(pk);
      const fp = idx.footprint();
      if (fp.rehashing) rehashingSeen++;
      maxChunks = Math.max(maxChunks, fp.arenaChunks);
      maxInUse = Math.max(maxInUse, fp.inUse);
      if (op % 1000 === 999) {
        const got = idx.takeDirty();
        expect(got.length).toBe(dirty.size);
        for (const d of got) expect(d.state.seq).toBe((ref.get(d.key) as PkEntry).seq);
        dirty.clear();
        for (let i = 0; i < 20; i++) check(everSeen[Math.floor(rand() * everSeen.length)] as string);
      }
      // the horizon trails the clock by a window that shrinks after a while: more and more is forgotten
      if (op % 2500 === 1249) {
        const h = clock - (op < ops / 2 ? 40_000 : 5_000);
        idx.advance(h);
        if (h > horizon) {
          horizon = h;
          for (const [k, e] of ref) if (e.ts < h && !dirty.has(k)) ref.delete(k);
        }
      }
    }
    for (const pk of everSeen) check(pk);
    expect(wrong).toEqual([]);
    // the table was rehashed a little at a time (the old one answered beside the new for many sets)
    expect(rehashingSeen).toBeGreaterThan(1000);
    // forgotten slots were reused and mostly-garbage arena chunks released: far below the keys seen
    expect(maxInUse).toBeLessThan(everSeen.length / 3);
    // everything is forgotten once saved and passed: the reclaiming passes free all of it
    idx.takeDirty();
    dirty.clear();
    horizon = clock + 1_000_000;
    idx.advance(horizon);
    for (let i = 0; i < 200; i++) idx.takeDirty();
    const end = idx.footprint();
    expect(end.inUse).toBe(0);
    expect(end.arenaChunks).toBeLessThanOrEqual(1);
    expect(end.slots).toBeLessThanOrEqual(maxInUse + 16384);
    for (const pk of everSeen.slice(-3000)) {
      expect(idx.previous(pk)).toBeUndefined();
      expect(idx.beyondHorizon(pk)).toBe(false);
    }
    // and keys come back
    idx.set('"again"', { seq: 1, ts: horizon, keys: ['u', null] });
    expect(idx.previous('"again"')).toEqual({ seq: 1, ts: horizon, keys: ['u', null] });
    expect(maxChunks).toBeGreaterThan(10);
  });

  it('moves the table a share of buckets per set: lookups answer from both tables meanwhile', () => {
    const idx = new PrimaryKeyIndex('s', ['id'], new Map());
    let during = 0;
    for (let i = 0; i < 200_000; i++) {
      idx.set(`k${i}`, { seq: i, ts: i, keys: [`u${i}`] });
      if (idx.footprint().rehashing && i % 97 === 0) {
        during++;
        for (const j of [0, i >> 1, i - 1, i]) expect(idx.previous(`k${j}`)?.seq).toBe(j);
        expect(idx.previous(`k${i + 1}`)).toBeUndefined();
      }
    }
    expect(during).toBeGreaterThan(50);
    expect(idx.footprint().buckets).toBeGreaterThanOrEqual((4 * 200_000) / 2);
  });
});
