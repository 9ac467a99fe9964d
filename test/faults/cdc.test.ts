// Faults of CDC apply (Debezium files): kill -9 during an apply at seeded random points (the
// warehouse holds the state before the batch or after it, never a part; the rerun equals a clean
// run), the same batch replayed, a delete followed by its tombstone, and a schema change in the
// middle of the stream (an added column is ignored; a changed type stops the batch, rolled back).

import { cpSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { killAfter, seeded } from '../support/faults.js';
import { makeProject, runCli, tempDir } from '../support/project.js';

const SPEC = `project: shop
timezone: UTC
sources:
  orders:
    path: data/orders.csv
    timestamp: ts
    columns: { id: string, ts: timestamp }
entities:
  user: { key: user_id }
cdc:
  users:
    primary_key: user_id
    columns: { user_id: string, plan: string, seats: int }
`;

function ev(
  op: 'c' | 'u' | 'd',
  lsn: number,
  after: Record<string, unknown> | null,
  before: Record<string, unknown> | null = null,
): string {
  const ms = Date.UTC(2025, 2, 1) + lsn * 1000;
  return JSON.stringify({ op, before, after, source: { lsn, ts_ms: ms, txId: lsn }, ts_ms: ms + 5 });
}

/** `n` changes over `keys` users: creates, updates, and deletes each followed by its tombstone. */
function changes(n: number, keys: number, lsn0 = 1000): string[] {
  const out: string[] = [];
  const alive = new Set<number>();
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % keys;
    const lsn = lsn0 + i;
    const row = { user_id: `u${k}`, plan: ['free', 'pro', 'team'][i % 3], seats: i % 50 };
    if (!alive.has(k)) {
      out.push(ev('c', lsn, row));
      alive.add(k);
    } else if (i % 11 === 0) {
      out.push(ev('d', lsn, null, { user_id: `u${k}` }), 'null');
      alive.delete(k);
    } else out.push(ev('u', lsn, row));
  }
  return out;
}

async function tables(dir: string): Promise<unknown[][][]> {
  const inst = await DuckDBInstance.create(path.join(dir, '.asof/warehouse.duckdb'), {
    access_mode: 'READ_ONLY',
  });
  const conn = await inst.connect();
  try {
    const q = async (sql: string) => (await conn.runAndReadAll(sql)).getRowsJS() as unknown[][];
    const have = await q(
      "SELECT count(*)::INT FROM information_schema.tables WHERE table_schema = 'cdc' AND table_name = 'users'",
    );
    if (have[0]?.[0] === 0) return [];
    return [
      await q('SELECT user_id, plan, seats::INT, lsn::INT FROM cdc.users ORDER BY user_id'),
      await q(
        'SELECT user_id, plan, seats::INT, CAST(valid_from AS VARCHAR), CAST(valid_to AS VARCHAR), op, lsn::INT FROM cdc.users_history ORDER BY user_id, lsn',
      ),
    ];
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const apply = (dir: string, ...files: string[]) =>
  runCli(['cdc', 'apply', '--source', 'users', '--project', dir, ...files]);

describe('cdc faults', () => {
  it('kill -9 during an apply at random points: all of the batch or none of it; the rerun equals a clean run', async () => {
    const first = changes(2000, 300).join('\n');
    const second = changes(25_000, 3000, 10_000).join('\n');
    const base = makeProject({
      'asof.yaml': SPEC,
      'data/orders.csv': 'id,ts\n',
      'c/1.jsonl': first,
      'c/2.jsonl': second,
    });
    expect((await apply(base, path.join(base, 'c/1.jsonl'))).code).toBe(0);
    const clean = tempDir();
    cpSync(base, clean, { recursive: true });
    const beforeState = await tables(base);
    const t0 = performance.now();
    const done = await apply(clean, path.join(clean, 'c/2.jsonl'));
    expect(done.code, done.stderr).toBe(0);
    const runMs = performance.now() - t0;
    const afterState = await tables(clean);
    const rnd = seeded(42);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const dir = tempDir();
      cpSync(base, dir, { recursive: true });
      const ms = Math.floor((0.6 + rnd() * 1.0) * runMs);
      const code = await killAfter(
        ['cdc', 'apply', '--source', 'users', '--project', dir, path.join(dir, 'c/2.jsonl')],
        ms,
      );
      const now = await tables(dir);
      const state = isDeepStrictEqual(now, beforeState)
        ? 'before'
        : isDeepStrictEqual(now, afterState)
          ? 'after'
          : 'MIXED';
      seen.push(`${ms}ms:${code === null ? 'killed' : code}:${state}`);
      expect(state, seen.join(', ')).not.toBe('MIXED');
      const rerun = await apply(dir, path.join(dir, 'c/2.jsonl'));
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(await tables(dir)).toEqual(afterState);
    }
    console.log(`cdc apply kill points: ${seen.join(', ')}`);
  }, 150_000);

  it('the same batch replayed changes nothing; a delete followed by a tombstone removes the row once', async () => {
    const lines = [
      ev('c', 1, { user_id: 'a', plan: 'free', seats: 1 }),
      ev('c', 2, { user_id: 'b', plan: 'pro', seats: 2 }),
      ev('u', 3, { user_id: 'a', plan: 'pro', seats: 3 }),
      ev('d', 4, null, { user_id: 'a' }),
      'null',
    ];
    const dir = makeProject({ 'asof.yaml': SPEC, 'data/orders.csv': 'id,ts\n', 'c.jsonl': lines.join('\n') });
    const r = await apply(dir, path.join(dir, 'c.jsonl'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('4 change(s) from 1 file(s): 4 applied, 0 already applied');
    const once = await tables(dir);
    expect(once[0]).toEqual([['b', 'pro', 2, 2]]);
    expect(once[1]?.filter((h) => h[0] === 'a').map((h) => h[5])).toEqual(['c', 'u', 'd']);
    const again = await apply(dir, path.join(dir, 'c.jsonl'));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 applied, 4 already applied or stale');
    expect(await tables(dir)).toEqual(once);
  }, 60_000);

  it('a mid-stream schema change: an added column is ignored, a changed type stops the batch (exit 3) and rolls it back', async () => {
    const dir = makeProject({
      'asof.yaml': SPEC,
      'data/orders.csv': 'id,ts\n',
      'a.jsonl': [
        ev('c', 1, { user_id: 'a', plan: 'free', seats: 1 }),
        ev('c', 2, { user_id: 'b', plan: 'free', seats: 1 }),
      ].join('\n'),
      // upstream added a column: the contract does not name it, the rows still apply
      'b.jsonl': [ev('u', 3, { user_id: 'a', plan: 'pro', seats: 2, region: 'eu' })].join('\n'),
      // upstream changed seats to text: the batch stops at the bad value and nothing of it stays
      'c.jsonl': [
        ev('u', 4, { user_id: 'b', plan: 'team', seats: 5 }),
        ev('u', 5, { user_id: 'a', plan: 'team', seats: 'many' }),
      ].join('\n'),
    });
    expect((await apply(dir, path.join(dir, 'a.jsonl'))).code).toBe(0);
    const added = await apply(dir, path.join(dir, 'b.jsonl'));
    expect(added.code, added.stderr).toBe(0);
    const before = await tables(dir);
    expect(before[0]).toEqual([
      ['a', 'pro', 2, 3],
      ['b', 'free', 1, 2],
    ]);
    const changed = await apply(dir, path.join(dir, 'c.jsonl'));
    expect(changed.code).toBe(3);
    expect(changed.stderr).toContain('column seats');
    expect(changed.stderr).toContain('"many" is not a int');
    expect(changed.stderr).not.toMatch(/\n\s+at /);
    expect(await tables(dir)).toEqual(before);
  }, 60_000);
});
