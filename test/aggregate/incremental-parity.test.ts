// Batch/online parity: random event streams (out of order), random features of every kind and
// window, random read times: the streaming state's values equal DuckDB's batch SQL for a cutoff at
// the read time (`asof build` semantics) within 1e-9, in several timezones across DST changes.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGG_KINDS } from '../../src/aggregate/kinds.js';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { loadProject } from '../../src/pipeline/project.js';
import { planViewAt } from '../../src/plan/view-at.js';
import { checkEvent } from '../../src/stream/event.js';
import { type EntityState, ViewRuntime } from '../../src/stream/state.js';
import { makeProject } from '../support/project.js';

const TIMEZONES = ['UTC', 'Europe/Paris', 'America/New_York'];
const WINDOWS = ['1h', '5h', '25h', '1d', '2d', '7d', 'all'];
const COLUMN_FOR: Record<string, string | undefined> = {
  count: undefined,
  exists: undefined,
  days_since_last: undefined,
  sum: 'amount',
  avg: 'amount',
  min: 'amount',
  max: 'qty',
  count_distinct: 'status',
  last: 'qty',
  first: 'amount',
  stddev: 'amount',
  as_of: 'status',
};

// 2024-03-07 .. 2024-04-02 local: both the US (Mar 10) and the EU (Mar 31) DST changes.
const T0 = Date.UTC(2024, 2, 7);
const SPAN = 26 * 86_400_000;

const event = fc.record({
  user: fc.constantFrom('a', 'b', 'c', 'd'),
  t: fc.integer({ min: 0, max: SPAN }),
  // whole minutes often, so that events sit on window edges
  snap: fc.boolean(),
  amount: fc.option(fc.constantFrom(0, 1.5, -2.25, 10, 3.1, 100.125, 7), { nil: null }),
  qty: fc.option(fc.integer({ min: -3, max: 5 }), { nil: null }),
  status: fc.option(fc.constantFrom('success', 'fail', 'é'), { nil: null }),
  local: fc.boolean(),
});

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function close(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

function norm(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  return v;
}

let engine: DuckDbEngine;
beforeAll(async () => {
  engine = await DuckDbEngine.open({ threads: 1 });
});
afterAll(async () => {
  await engine.close();
});

describe('incremental aggregation == DuckDB batch at the read time', () => {
  it('holds for random streams, features, windows, read times and timezones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(...TIMEZONES),
        fc.array(fc.tuple(fc.constantFrom(...AGG_KINDS), fc.constantFrom(...WINDOWS)), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.boolean(),
        fc.constantFrom('end_of_day', 'start_of_day'),
        fc.array(fc.integer({ min: 0, max: SPAN + 3 * 86_400_000 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        async (events, tz, feats, withWhere, cutoff, reads, snapReads) => {
          const features = feats.map(([agg, w], i) => {
            const col = COLUMN_FOR[agg];
            return `      f${i}: { agg: ${agg}, window: ${w}${col ? `, column: ${col}` : ''} }`;
          });
          const yaml = [
            'project: p',
            `timezone: ${tz}`,
            'sources:',
            '  events:',
            '    path: data/events.csv',
            '    timestamp: event_ts',
            '    columns: { user_id: string, event_ts: timestamp, amount: double, qty: int, status: string }',
            'entities:',
            '  user: { key: user_id }',
            'views:',
            '  v:',
            '    entity: user',
            '    source: events',
            `    cutoff: ${cutoff}`,
            ...(withWhere ? ['    where: "status IS NULL OR status <> \'fail\'"'] : []),
            '    features:',
            ...features,
            '',
          ].join('\n');
          const rows = events.map((e) => {
            const ms = T0 + (e.snap ? Math.floor(e.t / 60_000) * 60_000 : e.t);
            // local wall-clock text (no offset) or an instant with Z: both parse the batch way
            const ts = e.local ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : iso(ms);
            return { user_id: e.user, event_ts: ts, amount: e.amount, qty: e.qty, status: e.status };
          });
          const csv = [
            'user_id,event_ts,amount,qty,status',
            ...rows.map((r) =>
              [r.user_id, r.event_ts, r.amount ?? '', r.qty ?? '', r.status ?? ''].join(','),
            ),
          ].join('\n');
          const dir = makeProject({ 'asof.yaml': yaml, 'data/events.csv': `${csv}\n` });
          const project = await loadProject(dir);
          const view = project.views.v;
          const source = project.sources.events;
          if (!view || !source) throw new Error('spec');
          engine.nonNullKeys.events = ['user_id'];
          await engine.loadSource(
            source,
            [{ path: path.join(dir, 'data/events.csv'), size: 0, mtimeMs: 0 }],
            tz,
          );

          // the stream: the same events, out of order (reversed in pairs), applied incrementally
          const rt = new ViewRuntime(view, tz, project);
          const states = new Map<string, EntityState>();
          const order = rows.map((_, i) => i).sort((a, b) => (a % 3) - (b % 3) || a - b);
          for (const [seq, i] of order.entries()) {
            const raw = { ...rows[i], amount: rows[i]?.amount ?? null };
            const c = checkEvent(raw, source, ['user_id'], tz);
            if (!c.ok) throw new Error(c.reason);
            const key = rt.keyOf(c.row) as string;
            const st = states.get(key) ?? rt.emptyState();
            states.set(key, st);
            if (rt.accepts(c.row)) rt.apply(st, c.row, c.ts, seq);
          }
          const ats = reads.map((r) => T0 + (snapReads ? Math.floor(r / 3_600_000) * 3_600_000 : r));
          // compacted state (bounded memory) serves the same values for reads at or after its horizon
          const horizon = Math.min(...ats);
          const compacted = new Map<string, EntityState>();
          for (const [k, st] of states) {
            const c = structuredClone(st);
            rt.compact(c, horizon);
            compacted.set(k, c);
          }
          for (const at of ats) {
            for (const [k, st] of states) {
              expect(rt.valuesAt(compacted.get(k) ?? rt.emptyState(), at), 'compaction').toEqual(
                rt.valuesAt(st, at),
              );
            }
            const sql = engine.compileViewBuild(planViewAt(project, view, at));
            const batch = await engine.query(sql);
            const names = batch.columns.map((c) => c.name);
            const batchByKey = new Map(batch.rows.map((row) => [String(row[0]), row]));
            const online = new Map<string, unknown[]>();
            for (const [k, st] of states) {
              const vals = rt.valuesAt(st, at);
              if (vals) online.set(k, vals);
            }
            expect([...online.keys()].sort(), `population at ${iso(at)}`).toEqual(
              [...batchByKey.keys()].sort(),
            );
            for (const [k, vals] of online) {
              const b = batchByKey.get(k) ?? [];
              view.features.forEach((f, i) => {
                const bv = norm(b[names.indexOf(f.name)]);
                if (!close(vals[i], bv)) {
                  throw new Error(
                    `${f.name} (${f.agg} ${JSON.stringify(f.window)}) key ${k} at ${iso(at)}: online ${vals[i]} batch ${bv}`,
                  );
                }
              });
            }
          }
          writeFileSync(path.join(dir, 'ok'), '');
        },
      ),
      { numRuns: 80, seed: 8 },
    );
  });
});
