// An event's primary-key text (PrimaryKeyIndex.keyOf) is JSON.stringify of the key value (the text
// a saved index holds), with or without its shortcut for plain strings: strings of any code unit,
// numbers, booleans and NULL, a number never equal to its string.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/expr/evaluate.js';
import { PrimaryKeyIndex } from '../../src/stream/dedupe.js';

describe('PrimaryKeyIndex.keyOf', () => {
  const one = new PrimaryKeyIndex('e', ['id'], new Map());
  const two = new PrimaryKeyIndex('e', ['id', 'n'], new Map());
  const value: fc.Arbitrary<Value | undefined> = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.integer({ min: 0, max: 0x2f }).map((c) => String.fromCharCode(c)) }),
    fc.constantFrom('', '"', '\\', '\u2028', '\u007f', '\u0000', '\ud800', '\udc00x', '😀', 'é', 'null', '1'),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  );

  it('is JSON.stringify of the key value (NULL for a missing one)', () => {
    fc.assert(
      fc.property(value, value, (v, w) => {
        expect(one.keyOf({ id: v as Value })).toBe(JSON.stringify(v ?? null));
        expect(two.keyOf({ id: v as Value, n: w as Value })).toBe(JSON.stringify([v ?? null, w ?? null]));
      }),
      { numRuns: 5000, seed: 3 },
    );
  });

  it('tells apart values that differ, and a number from its text', () => {
    const keys = [1, '1', null, 'null', true, 'true', '', '"', 'a"b', 'a\\"b'].map((id) => one.keyOf({ id }));
    expect(new Set(keys).size).toBe(keys.length);
    expect(one.keyOf({ id: 't122785' })).toBe('"t122785"');
    expect(one.keyOf({})).toBe('null');
  });
});
