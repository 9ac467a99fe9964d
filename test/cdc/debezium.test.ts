// Debezium files through `asof cdc apply`: current state, SCD2 history, LSN order across files,
// idempotent replay, deletes with tombstones, key updates, unchanged TOAST values, as-of reads.

import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../support/project.js';

const SPEC = `project: shop
timezone: Europe/Paris
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
    columns: { user_id: string, plan: string, bio: string, seats: int, since: date }
`;

/** One Debezium envelope (the `{schema, payload}` form or the bare payload). */
function ev(
  op: 'c' | 'u' | 'd' | 'r',
  lsn: number,
  at: string,
  after: Record<string, unknown> | null,
  before: Record<string, unknown> | null = null,
  wrap = false,
): string {
  const payload = {
    op,
    before,
    after,
    source: { lsn, ts_ms: Date.parse(at), txId: 7 },
    ts_ms: Date.parse(at) + 5,
  };
  return JSON.stringify(wrap ? { schema: {}, payload } : payload);
}

async function rows(db: string, sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  await conn.run("SET TimeZone = 'UTC'");
  const r = (await conn.runAndReadAll(sql)).getRowsJS() as unknown[][];
  conn.closeSync();
  inst.closeSync();
  return r;
}

describe('asof cdc apply (Debezium)', () => {
  it('applies files in LSN order, keeps SCD2 history, and a replay changes nothing', async () => {
    // Two files given out of order: the second one holds the earlier changes.
    const early = [
      ev('r', 100, '2025-03-01T08:00:00Z', {
        user_id: 'u1',
        plan: 'free',
        bio: 'long text',
        seats: 1,
        since: 20000,
      }),
      ev(
        'c',
        110,
        '2025-03-02T09:00:00Z',
        { user_id: 'u2', plan: 'pro', bio: 'x', seats: 5, since: '2025-03-02' },
        null,
        true,
      ),
      ev('c', 120, '2025-03-03T10:00:00Z', {
        user_id: 'u3',
        plan: 'free',
        bio: 'y',
        seats: 1,
        since: '2025-03-03',
      }),
    ].join('\n');
    const late = [
      // u1 upgrades; bio is an unchanged TOAST value Debezium cannot see.
      ev('u', 200, '2025-03-05T12:00:00Z', {
        user_id: 'u1',
        plan: 'pro',
        bio: '__debezium_unavailable_value',
        seats: 3,
        since: 20000,
      }),
      // u2 is deleted, followed by its tombstone.
      ev('d', 210, '2025-03-06T12:00:00Z', null, { user_id: 'u2' }),
      'null',
      // u3's key changes to u4 (Debezium: a delete of the old key, a create of the new).
      ev('d', 220, '2025-03-07T12:00:00Z', null, { user_id: 'u3' }),
      ev('c', 221, '2025-03-07T12:00:00Z', {
        user_id: 'u4',
        plan: 'free',
        bio: 'y',
        seats: 1,
        since: '2025-03-03',
      }),
      ev('u', 230, '2025-03-09T12:00:00Z', {
        user_id: 'u1',
        plan: 'enterprise',
        bio: 'new bio',
        seats: 10,
        since: 20000,
      }),
    ].join('\n');
    const dir = makeProject({
      'asof.yaml': SPEC,
      'changes/b.jsonl': late,
      'changes/a.json': `[${early.split('\n').join(',')}]`,
    });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    const files = [path.join(dir, 'changes/b.jsonl'), path.join(dir, 'changes/a.json')];

    const first = await runCli(['cdc', 'apply', '--source', 'users', '--project', dir, ...files]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('8 change(s) from 2 file(s): 8 applied, 0 already applied');

    const current = await rows(
      db,
      'SELECT user_id, plan, bio, seats, CAST(since AS VARCHAR), lsn::INT FROM cdc.users ORDER BY user_id',
    );
    expect(current).toEqual([
      ['u1', 'enterprise', 'new bio', 10n, '2024-10-04', 230],
      ['u4', 'free', 'y', 1n, '2025-03-03', 221],
    ]);
    const history = await rows(
      db,
      `SELECT user_id, plan, bio, op, lsn::INT, strftime(valid_from, '%Y-%m-%d %H:%M'), CASE WHEN isinf(valid_to) THEN 'inf' ELSE strftime(valid_to, '%Y-%m-%d %H:%M') END
       FROM cdc.users_history ORDER BY user_id, lsn`,
    );
    expect(history).toEqual([
      ['u1', 'free', 'long text', 'r', 100, '2025-03-01 08:00', '2025-03-05 12:00'],
      // The unchanged TOAST value is carried from the previous version, never nulled.
      ['u1', 'pro', 'long text', 'u', 200, '2025-03-05 12:00', '2025-03-09 12:00'],
      ['u1', 'enterprise', 'new bio', 'u', 230, '2025-03-09 12:00', 'inf'],
      ['u2', 'pro', 'x', 'c', 110, '2025-03-02 09:00', '2025-03-06 12:00'],
      ['u2', 'pro', 'x', 'd', 210, '2025-03-06 12:00', 'inf'],
      ['u3', 'free', 'y', 'c', 120, '2025-03-03 10:00', '2025-03-07 12:00'],
      ['u3', 'free', 'y', 'd', 220, '2025-03-07 12:00', 'inf'],
      ['u4', 'free', 'y', 'c', 221, '2025-03-07 12:00', 'inf'],
    ]);

    // Replaying both files, and one of them alone, changes nothing.
    const again = await runCli(['cdc', 'apply', '--source', 'users', '--project', dir, ...files]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 applied, 8 already applied or stale');
    const once = await runCli(['cdc', 'apply', '--source', 'users', '--project', dir, files[1] as string]);
    expect(once.stdout).toContain('0 applied, 3 already applied');
    expect(await rows(db, 'SELECT count(*)::INT FROM cdc.users_history')).toEqual([[8]]);
    expect(await rows(db, 'SELECT count(*)::INT FROM cdc.users')).toEqual([[2]]);

    // As-of reads: the plan at each day's cutoff (end of day, Europe/Paris).
    const planAt = async (d: string) =>
      (await runCli(['cdc', 'show', '--source', 'users', '--as-of', d, '--format', 'csv', '--project', dir]))
        .stdout;
    expect(await planAt('2025-02-28')).toBe('user_id,plan,bio,seats,since\n');
    expect(await planAt('2025-03-04')).toBe(
      'user_id,plan,bio,seats,since\nu1,free,long text,1,2024-10-04\nu2,pro,x,5,2025-03-02\nu3,free,y,1,2025-03-03\n',
    );
    expect(await planAt('2025-03-06')).toBe(
      'user_id,plan,bio,seats,since\nu1,pro,long text,3,2024-10-04\nu3,free,y,1,2025-03-03\n',
    );
    expect(await planAt('2025-03-10')).toBe(
      'user_id,plan,bio,seats,since\nu1,enterprise,new bio,10,2024-10-04\nu4,free,y,1,2025-03-03\n',
    );
    // An instant exactly at a change sees the new version (valid_from <= t < valid_to).
    const at = await runCli([
      'cdc',
      'show',
      '--source',
      'users',
      '--at',
      '2025-03-05T12:00:00Z',
      '--format',
      'csv',
      '--project',
      dir,
    ]);
    expect(at.stdout).toContain('u1,pro,');

    const status = JSON.parse(
      (await runCli(['cdc', 'status', '--source', 'users', '--project', dir])).stdout,
    );
    expect(status).toMatchObject({
      position: '0/E6',
      changesApplied: 8,
      currentRows: 2,
      historyRows: 8,
      slot: null,
    });
  });

  it('a late file applies changes newer than each key, skips older ones, and one bad event rolls back the batch', async () => {
    const dir = makeProject({
      'asof.yaml': SPEC,
      'a.jsonl': ev('c', 500, '2025-03-01T00:00:00Z', { user_id: 'u1', plan: 'free', seats: 1 }),
      'b.jsonl': [
        ev('u', 400, '2025-02-01T00:00:00Z', { user_id: 'u1', plan: 'old', seats: 1 }),
        ev('c', 450, '2025-02-01T00:00:00Z', { user_id: 'u9', plan: 'pro', seats: 2 }),
      ].join('\n'),
      'bad.jsonl': [
        ev('u', 600, '2025-03-02T00:00:00Z', { user_id: 'u1', plan: 'pro', seats: 2 }),
        ev('u', 610, '2025-03-02T00:00:00Z', { user_id: 'u1', plan: 'pro', seats: 'many' }),
      ].join('\n'),
    });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    expect(
      (await runCli(['cdc', 'apply', '--source', 'users', '--project', dir, path.join(dir, 'a.jsonl')])).code,
    ).toBe(0);
    const late = await runCli([
      'cdc',
      'apply',
      '--source',
      'users',
      '--project',
      dir,
      path.join(dir, 'b.jsonl'),
    ]);
    expect(late.stdout).toContain('1 applied, 1 already applied or stale');
    expect(await rows(db, 'SELECT user_id, plan FROM cdc.users ORDER BY 1')).toEqual([
      ['u1', 'free'],
      ['u9', 'pro'],
    ]);
    const bad = await runCli([
      'cdc',
      'apply',
      '--source',
      'users',
      '--project',
      dir,
      path.join(dir, 'bad.jsonl'),
    ]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('bad.jsonl:2');
    expect(bad.stderr).toContain('seats');
    expect(await rows(db, 'SELECT user_id, plan FROM cdc.users ORDER BY 1')).toEqual([
      ['u1', 'free'],
      ['u9', 'pro'],
    ]);
    const unknown = await runCli([
      'cdc',
      'apply',
      '--source',
      'nope',
      '--project',
      dir,
      path.join(dir, 'a.jsonl'),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown CDC source 'nope'");
  });
});
