// `primary_key` in the stream: the last event of a key wins, as in batch (engines/duckdb/sources.ts),
// even when the re-sent event changes its amount, its status (the view's `where`), its time or its
// entity. The stream's values equal `asof build` over the same events in the same order, also when
// the stream is stopped half-way and resumed (the index is saved with the states).

import { describe, expect, it } from 'vitest';
import { getOnline } from '../../src/pipeline/online-read.js';
import { loadProject } from '../../src/pipeline/project.js';
import { addDays, startOfLocalDay } from '../../src/time/index.js';
import { buildRowsIn } from '../support/build.js';
import { makeProject, runCli, spec } from '../support/project.js';

const SPEC = spec({
  columns: { id: 'string', user_id: 'string', event_ts: 'timestamp', amount: 'double', status: 'string' },
  primaryKey: 'id',
  where: "status <> 'fail'",
  features: {
    n_1d: '{ agg: count, window: 1d }',
    s_7d: '{ agg: sum, column: amount, window: 7d }',
    mx_all: '{ agg: max, column: amount, window: all }',
    last_2d: '{ agg: last, column: amount, window: 2d }',
    dsl: '{ agg: days_since_last, window: all }',
  },
}).replace('    timestamp: event_ts\n', '    timestamp: event_ts\n    allowed_lateness: 6h\n');

interface Ev {
  id: string;
  user_id: string;
  event_ts: string;
  amount: number;
  status: string;
}

/** Events over three days; a fifth re-send a recent id with another amount, status, time or user. */
function stream(n: number, seed: number): Ev[] {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: Ev[] = [];
  let t = Date.UTC(2025, 2, 10);
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 400_000);
    const resend = out.length > 10 && rnd() < 0.2 ? out[out.length - 1 - Math.floor(rnd() * 10)] : undefined;
    const ts = resend ? Math.max(Date.parse(resend.event_ts), t - 3_600_000) : t;
    out.push({
      id: resend ? resend.id : `e${i}`,
      user_id: resend && rnd() < 0.7 ? resend.user_id : `u${Math.floor(rnd() * 8)}`,
      event_ts: new Date(ts).toISOString(),
      amount: Math.round(rnd() * 10_000) / 100,
      status: rnd() < 0.15 ? 'fail' : 'ok',
    });
  }
  return out;
}

const csv = (evs: Ev[]) =>
  `id,user_id,event_ts,amount,status\n${evs.map((e) => `${e.id},${e.user_id},${e.event_ts},${e.amount},${e.status}`).join('\n')}\n`;
const jsonl = (evs: Ev[]) => `${evs.map((e) => JSON.stringify(e)).join('\n')}\n`;
const ARGS = ['stream', '--view', 'v', '--source', 'stdin', '--checkpoint-events', '50'];

async function expectBatchParity(dir: string): Promise<void> {
  const project = await loadProject(dir);
  for (const d of ['2025-03-10', '2025-03-11', '2025-03-12']) {
    const rows = await buildRowsIn(dir, d);
    expect(rows.length).toBeGreaterThan(3);
    const at = startOfLocalDay(addDays(d, 1), 'UTC');
    for (const u of Array.from({ length: 8 }, (_, i) => `u${i}`)) {
      const b = rows.find((r) => r.user_id === u);
      const o = (await getOnline(project, 'v', u, at)).values;
      if (!b) {
        expect(o, `${u} ${d}`).toBeNull();
        continue;
      }
      for (const f of ['n_1d', 's_7d', 'mx_all', 'last_2d', 'dsl']) {
        const bv = b[f] as number | null;
        const ov = o?.[f] as number | null;
        if (typeof bv === 'number') expect(ov, `${u} ${d} ${f}`).toBeCloseTo(bv, 9);
        else expect(ov, `${u} ${d} ${f}`).toBe(bv);
      }
    }
  }
}

describe('asof stream: primary_key', () => {
  const evs = stream(700, 3);

  it('keeps the last event of each key, as batch does', async () => {
    expect(new Set(evs.map((e) => e.id)).size).toBeLessThan(evs.length - 50);
    const dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': csv(evs) });
    const r = await runCli([...ARGS, '--project', dir], { input: jsonl(evs) });
    expect(r.code, r.stderr).toBe(0);
    await expectBatchParity(dir);
    // a parity check over the stream's own offline events agrees too
    const p = await runCli(['parity', '--view', 'v', '--at', '2025-03-12T12:00:00Z', '--project', dir]);
    expect(p.code, p.stdout + p.stderr).toBe(0);
  }, 180_000);

  it('keeps the index across a stop and a resume', async () => {
    const dir = makeProject({ 'asof.yaml': SPEC, 'data/events.csv': csv(evs) });
    const half = await runCli([...ARGS, '--project', dir], { input: jsonl(evs.slice(0, 400)) });
    expect(half.code, half.stderr).toBe(0);
    const rest = await runCli([...ARGS, '--project', dir], { input: jsonl(evs) });
    expect(rest.code, rest.stderr).toBe(0);
    await expectBatchParity(dir);
  }, 180_000);
});
