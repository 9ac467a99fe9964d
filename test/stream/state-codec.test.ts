// The embedded store's binary state form: decode(encode(s)) is s for random states (every value
// type, shared feature columns, compacted heads), and rows stored as JSON text by earlier versions
// still decode.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState } from '../../src/storage/online/state-codec.js';
import type { EntityState, TailEntry } from '../../src/stream/state.js';

const value = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 2147483647, -2147483648, 2147483648, 0.1),
  fc.string(),
  fc.string({ unit: 'grapheme' }),
);

const entry = (features: number) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.integer({ min: 0, max: 2 ** 50 }),
      fc.array(value, { minLength: features, maxLength: features }),
      fc.array(fc.nat({ max: Math.max(0, features - 1) }), { maxLength: features }),
    )
    .map(([ts, seq, vals, copies]) => {
      // features over one column hold the same value: copy some earlier values forward
      for (const [i, c] of copies.entries()) if (c < i && i < vals.length) vals[i] = vals[c] ?? null;
      return [ts, seq, ...vals] as TailEntry;
    });

const state: fc.Arbitrary<EntityState> = fc.integer({ min: 0, max: 12 }).chain((features) =>
  fc.record({
    tail: fc.array(entry(features), { maxLength: 20 }),
    head: fc.option(
      fc.dictionary(
        fc.nat({ max: 11 }).map(String),
        fc.oneof(
          fc.integer(),
          fc.constant(null),
          fc.tuple(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        ),
      ),
      { nil: null },
    ),
    first: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }), { nil: null }),
    seq: fc.integer({ min: -1, max: 2 ** 50 }),
  }),
);

describe('online state codec', () => {
  it('decodes what it encodes, value for value (including -0 and shared columns)', () => {
    fc.assert(
      fc.property(state, (s) => {
        const bytes = encodeState(s);
        // bound at once in the store: a copy here, as SQLite makes
        const stored = typeof bytes === 'string' ? bytes : Buffer.from(bytes);
        const back = decodeState(stored);
        expect(back.seq).toBe(s.seq);
        expect(back.first).toBe(s.first);
        // heads (the partials of `all` windows) keep their JSON form, as before
        expect(back.head).toEqual(s.head === null ? null : JSON.parse(JSON.stringify(s.head)));
        expect(back.tail.length).toBe(s.tail.length);
        s.tail.forEach((e, k) => {
          const b = back.tail[k] as TailEntry;
          expect(b.length).toBe(e.length);
          e.forEach((v, i) => {
            expect(Object.is(b[i], v)).toBe(true);
          });
        });
      }),
      { numRuns: 500, seed: 8 },
    );
  });

  it('is smaller than the JSON text for the benchmark view, and reads JSON rows of earlier versions', () => {
    const s: EntityState = {
      tail: [
        [1749554355000, 44918, 10.66, true, 10.66, 10.66, true],
        [1749937738000, 73060, 37.29, true, 37.29, 37.29, true],
      ],
      head: null,
      first: 1749554355000,
      seq: 73060,
    };
    const bytes = encodeState(s) as Buffer;
    expect(bytes.length).toBeLessThan(JSON.stringify(s).length * 0.7);
    expect(decodeState(Buffer.from(bytes))).toEqual(s);
    expect(decodeState(JSON.stringify(s))).toEqual(s);
  });

  it('keeps the JSON text for entries too wide for the binary form', () => {
    const wide = [1, 2, ...Array.from({ length: 300 }, (_, i) => i)] as TailEntry;
    const s: EntityState = { tail: [wide], head: null, first: 1, seq: 2 };
    const out = encodeState(s);
    expect(typeof out).toBe('string');
    expect(decodeState(out)).toEqual(s);
  });
});
