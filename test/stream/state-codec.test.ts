// The embedded store's binary state form: decode(encode(s)) is s for random states (every value
// type, any width, compacted heads), and rows stored by earlier versions (an array per event, in
// format 1 or as JSON text) still decode and are put in the view's layout.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/expr/evaluate.js';
import {
  ByteWriter,
  decodeEvents,
  decodeState,
  encodeState,
  stateJson,
  writeEventsPayload,
} from '../../src/storage/online/state-codec.js';
import { type EntityState, inLayout } from '../../src/stream/state.js';

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

const state: fc.Arbitrary<EntityState> = fc.integer({ min: 2, max: 14 }).chain((width) =>
  fc.record({
    tail: fc
      .array(
        fc.tuple(
          fc.integer({ min: 0, max: 4_102_444_800_000 }),
          fc.integer({ min: 0, max: 2 ** 50 }),
          fc.array(value, { minLength: width - 2, maxLength: width - 2 }),
        ),
        { maxLength: 20 },
      )
      .map((events) => events.flatMap(([ts, seq, vals]) => [ts, seq, ...vals])),
    width: fc.constant(width),
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
    taken: fc.constant(0),
  }),
);

/**
 * A row as versions before the flat tail stored it (format 1): an array per event, its length
 * first, a value repeated from an earlier feature of the same event as a reference.
 */
function formatOne(s: { seq: number; first: number; entries: Value[][] }): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(25);
  head[0] = 1;
  head.writeDoubleLE(s.seq, 1);
  head.writeDoubleLE(s.first, 9);
  head.writeUInt32LE(0, 17);
  head.writeUInt32LE(s.entries.length, 21);
  parts.push(head);
  for (const e of s.entries) {
    const b = Buffer.alloc(17);
    b[0] = e.length;
    b.writeDoubleLE(e[0] as number, 1);
    b.writeDoubleLE(e[1] as number, 9);
    parts.push(b);
    for (let i = 2; i < e.length; i++) {
      const v = e[i];
      const ref = e.findIndex((x, j) => j >= 2 && j < i && x === v && typeof v === 'number');
      if (ref >= 0) parts.push(Buffer.from([6, ref]));
      else if (v === true) parts.push(Buffer.from([1]));
      else {
        const f = Buffer.alloc(9);
        f[0] = 3;
        f.writeDoubleLE(v as number, 1);
        parts.push(f);
      }
    }
  }
  return Buffer.concat(parts);
}

describe('online state codec', () => {
  it('decodes what it encodes, value for value (including -0)', () => {
    fc.assert(
      fc.property(state, (s) => {
        const bytes = encodeState(s);
        // bound at once in the store: a copy here, as SQLite makes
        const stored = typeof bytes === 'string' ? bytes : Buffer.from(bytes);
        const back = decodeState(stored);
        expect(back.seq).toBe(s.seq);
        expect(back.first).toBe(s.first);
        expect(back.width).toBe(s.width);
        // heads (the partials of `all` windows) keep their JSON form, as before
        expect(back.head).toEqual(s.head === null ? null : JSON.parse(JSON.stringify(s.head)));
        expect(back.tail.length).toBe(s.tail.length);
        s.tail.forEach((v, i) => {
          expect(Object.is(back.tail[i], v)).toBe(true);
        });
      }),
      { numRuns: 500, seed: 8 },
    );
  });

  it('is smaller than the JSON text for the benchmark view, and reads rows of earlier versions', () => {
    // the benchmark view's layout: avg, sum and max over amount share one slot; count and exists have none
    const layout = { width: 3, at: Int32Array.from([2, -1, 2, 2, -1]), slots: [0] };
    const s: EntityState = {
      tail: [1749554355000, 44918, 10.66, 1749937738000, 73060, 37.29],
      width: 3,
      head: null,
      first: 1749554355000,
      seq: 73060,
      taken: 0,
    };
    const bytes = encodeState(s) as Buffer;
    expect(bytes.length).toBeLessThan(JSON.stringify(s).length * 0.7);
    expect(decodeState(Buffer.from(bytes))).toEqual(s);
    expect(decodeState(stateJson(s))).toEqual(s);
    // earlier versions: a value per feature (format 1 and JSON text of entry arrays)
    const entries = [
      [1749554355000, 44918, 10.66, true, 10.66, 10.66, true],
      [1749937738000, 73060, 37.29, true, 37.29, 37.29, true],
    ];
    const old = { tail: entries, head: null, first: 1749554355000, seq: 73060 };
    for (const row of [formatOne({ seq: 73060, first: 1749554355000, entries }), JSON.stringify(old)]) {
      const back = decodeState(row);
      expect(back.width).toBe(7);
      expect(back.tail).toEqual(entries.flat());
      expect(inLayout(back, layout, 5)).toEqual(s);
    }
    // a state already in the layout is itself
    expect(inLayout(s, layout, 5)).toBe(s);
    expect(() => inLayout({ ...s, width: 4, tail: [1, 2, 3, 4] }, layout, 5)).toThrow(
      /2 values per event where this view has 1 columns/,
    );
  });

  it('keeps the JSON text for states too wide for the binary form', () => {
    const wide = [1, 2, ...Array.from({ length: 300 }, (_, i) => i)];
    const s: EntityState = { tail: wide, width: wide.length, head: null, first: 1, seq: 2, taken: 0 };
    const out = encodeState(s);
    expect(typeof out).toBe('string');
    expect(decodeState(out)).toEqual(s);
  });

  it('writes chosen events of a tail as one log payload', () => {
    const tail = [10, 1, 'a', 20, 2, null, 30, 3, -0];
    /** A payload of the first `n` of `offsets`, copied out of a fresh writer. */
    const payload = (offsets: number[], n = offsets.length) => {
      const w = new ByteWriter();
      writeEventsPayload(w, tail, 3, offsets, n);
      return Buffer.from(w.take());
    };
    const bytes = payload([6, 0, 3], 2);
    const back = decodeEvents(bytes, 0);
    expect(back.width).toBe(3);
    expect(back.values).toEqual([30, 3, -0, 10, 1, 'a']);
    expect(Object.is(back.values[2], -0)).toBe(true);
    expect(decodeEvents(payload([0, 3, 6]), 0).values).toEqual(tail);
  });
});
