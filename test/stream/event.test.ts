// Stream events against the contract: the fast timestamp path gives exactly parseTimestamp's
// instant (or null) for random texts, and invalid events get a reason naming the column.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Source } from '../../src/spec/project.js';
import { checkEvent } from '../../src/stream/event.js';
import { parseTimestamp } from '../../src/time/index.js';
import { parseEventTimestamp } from '../../src/time/read-time.js';

const SOURCE: Source = {
  name: 'e',
  path: 'x',
  format: 'jsonl',
  timestamp: 'ts',
  columns: { k: 'string', ts: 'timestamp', n: 'int', d: 'double', b: 'bool' },
  primaryKey: undefined,
  ingestedAt: undefined,
  description: undefined,
  owner: undefined,
};

describe('stream events', () => {
  it('parses timestamps exactly as the batch rule does', () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const text = fc
      .tuple(
        fc.integer({ min: 1990, max: 2040 }),
        two(13),
        two(32),
        fc.constantFrom('T', ' '),
        two(24),
        two(59),
        two(60),
        fc.constantFrom('', '.5', '.25', '.123', '.123456', '.000000001'),
        fc.constantFrom('', 'Z', '+02:00'),
      )
      .map(([y, mo, d, sep, h, mi, s, f, z]) => `${y}-${mo}-${d}${sep}${h}:${mi}:${s}${f}${z}`);
    fc.assert(
      fc.property(text, fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York'), (t, tz) => {
        expect(parseEventTimestamp(t, tz)).toBe(parseTimestamp(t, tz));
      }),
      { numRuns: 2000, seed: 4 },
    );
  });

  it('types values by the contract and names the column of a bad one', () => {
    const ok = checkEvent(
      { k: 'a', ts: '2025-01-01 10:00:00', n: '12', d: 1.5, b: 'true' },
      SOURCE,
      ['k'],
      'UTC',
    );
    expect(ok).toEqual({
      ok: true,
      ts: Date.UTC(2025, 0, 1, 10),
      row: { k: 'a', ts: Date.UTC(2025, 0, 1, 10), n: 12, d: 1.5, b: true },
    });
    expect(checkEvent({ k: 'a', ts: '2025-01-01', n: 1.5 }, SOURCE, ['k'], 'UTC')).toEqual({
      ok: false,
      reason: 'column n: cannot read 1.5 as int',
    });
    expect(checkEvent({ k: null, ts: '2025-01-01T00:00:00Z' }, SOURCE, ['k'], 'UTC')).toEqual({
      ok: false,
      reason: 'column k: the entity key is empty',
    });
    expect(checkEvent({ k: 'a' }, SOURCE, ['k'], 'UTC')).toMatchObject({
      ok: false,
      reason: /event time is empty/,
    });
    expect(checkEvent([1], SOURCE, ['k'], 'UTC')).toMatchObject({ ok: false });
  });
});
