// Serving's fold (src/serve/fold.ts, aggregate foldEntries): the JSON of a state's values written
// straight from its entries equals JSON.stringify of what `asof get` computes (ViewRuntime.valuesAt
// + valuesOf), text for text, for every aggregation kind and window shape, compacted heads, NULL
// values, read times before, inside and after the events; and one fold reused across entities and
// read times (its per-read-time memo) never carries a value from one read to the next.

import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valuesOf } from '../../src/pipeline/online-read.js';
import { loadProject } from '../../src/pipeline/project.js';
import { jsonValue, ViewFold } from '../../src/serve/fold.js';
import type { Project } from '../../src/spec/project.js';
import { type EntityState, ViewRuntime } from '../../src/stream/state.js';
import { makeProject } from '../support/project.js';

const SPEC = `project: f
timezone: Europe/Paris
sources:
  events:
    path: data/events.csv
    timestamp: ts
    columns: { user_id: string, ts: timestamp, amount: double, qty: int, cat: string }
entities:
  user: { key: user_id }
views:
  v:
    entity: user
    source: events
    where: "cat <> 'skip'"
    features:
      n_1h: { agg: count, window: 1h }
      n_amt_all: { agg: count, column: amount, window: all }
      any_24h: { agg: exists, window: 24h }
      sum_1d: { agg: sum, column: amount, window: 1d }
      sum_all: { agg: sum, column: qty, window: all }
      avg_all: { agg: avg, column: amount, window: all }
      avg_7d: { agg: avg, column: amount, window: 7d }
      min_all: { agg: min, column: amount, window: all }
      max_2d: { agg: max, column: cat, window: 2d }
      cd_3d: { agg: count_distinct, column: cat, window: 3d }
      last_qty: { agg: last, column: qty, window: 2d }
      first_amt: { agg: first, column: amount, window: all }
      sd_3d: { agg: stddev, column: amount, window: 3d }
      dsl: { agg: days_since_last, window: all }
      asof_cat: { agg: as_of, column: cat, window: all }
`;

// across the EU DST change of 2025-03-30
const T0 = Date.UTC(2025, 2, 20);
const SPAN = 20 * 86_400_000;

interface Ev {
  t: number;
  amount: number | null;
  qty: number | null;
  cat: string | null;
}

const event: fc.Arbitrary<Ev> = fc.record({
  t: fc.integer({ min: 0, max: SPAN }),
  amount: fc.option(
    fc.oneof(fc.integer({ min: -500, max: 500 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  ),
  qty: fc.option(fc.integer({ min: -3, max: 40 })),
  cat: fc.option(fc.constantFrom('a', 'b', 'é"\\', 'skip')),
});

describe('serving fold', () => {
  let dir: string;
  let project: Project;
  let rt: ViewRuntime;

  beforeAll(async () => {
    dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': 'user_id,ts,amount,qty,cat\n' });
    project = await loadProject(dir);
    rt = new ViewRuntime(project.views.v as NonNullable<Project['views'][string]>, project.timezone, project);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A state of these events applied in order, compacted at `horizon` when given. */
  const stateOf = (events: Ev[], horizon: number | null) => {
    const s = rt.emptyState();
    events.forEach((e, i) => {
      const row = { user_id: 'u', ...e, ts: T0 + e.t };
      if (rt.accepts(row)) rt.apply(s, row, T0 + e.t, i);
    });
    if (horizon !== null) rt.compact(s, T0 + horizon);
    return s;
  };
  const expected = (s: EntityState | null, at: number) => {
    const v = valuesOf(rt, s, at);
    return v === null ? null : JSON.stringify(v);
  };

  it('writes the JSON of what valuesAt computes, text for text', () => {
    const fold = new ViewFold(rt.view, project.timezone);
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 40 }),
        fc.option(fc.integer({ min: 0, max: SPAN })),
        fc.array(fc.integer({ min: -86_400_000, max: SPAN + 3 * 86_400_000 }), {
          minLength: 1,
          maxLength: 5,
        }),
        (events, horizon, ats) => {
          const s = stateOf(events, horizon);
          for (const t of ats) {
            // reads before the compaction horizon are refused by the server; the fold is not asked
            if (horizon !== null && t < horizon) continue;
            expect(fold.json(s, T0 + t)).toBe(expected(s, T0 + t));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers two entities read alternately, at alternating read times, each with its own values', () => {
    const fold = new ViewFold(rt.view, project.timezone);
    const a = stateOf(
      [
        { t: 0, amount: 5, qty: 1, cat: 'a' },
        { t: 3_600_000, amount: 7.5, qty: 2, cat: 'b' },
      ],
      null,
    );
    const b = stateOf([{ t: 86_400_000, amount: -2, qty: null, cat: 'b' }], null);
    const ats = [T0 + 2 * 3_600_000, T0 + 2 * 86_400_000];
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      for (const [s, at] of [
        [a, ats[i % 2]],
        [b, ats[(i + 1) % 2]],
        [null, ats[i % 2]],
      ] as [EntityState | null, number][]) {
        const got = fold.json(s, at);
        expect(got).toBe(expected(s, at));
        if (got) seen.add(got);
      }
    }
    // a at both times, b only at the later one (absent before its first event): three answers
    expect(seen.size).toBe(3);
  });

  it('writes values as JSON.stringify does', () => {
    for (const v of [
      0,
      -0,
      1.5,
      -1e21,
      1e-7,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      true,
      false,
      null,
      'a"\\\n\u2028é',
    ]) {
      expect(jsonValue(v)).toBe(JSON.stringify({ v }).slice(5, -1));
    }
  });
});
