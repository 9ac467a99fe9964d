// Features from a CDC source: `as_of` (the value valid at the cutoff; a change at exactly the cutoff
// is not visible, a delete ends validity) and counts over the change events, equal in `asof build`,
// `asof backfill` and `asof training-set`; a late change restales exactly the partitions it reaches.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli } from '../support/project.js';

const SPEC = `project: saas
timezone: UTC
sources: {}
entities:
  account: { key: account_id }
cdc:
  accounts:
    primary_key: account_id
    columns: { account_id: string, plan_tier: string, seats: int }
views:
  account_state:
    entity: account
    source: accounts
    features:
      plan_tier: { agg: as_of, column: plan_tier }
      seats: { agg: as_of, column: seats }
      plan_changes_30d: { agg: count, column: "CASE WHEN op = 'u' THEN 1 END", window: 30d }
      changes: { agg: count, window: all }
  # count_distinct sends a backfill through the other plan (a dense entity x bucket grid).
  account_mix:
    entity: account
    source: accounts
    features:
      plan_tier: { agg: as_of, column: plan_tier }
      tiers_seen: { agg: count_distinct, column: plan_tier, window: all }
`;

function ev(
  op: 'c' | 'u' | 'd',
  lsn: number,
  at: string,
  after: Record<string, unknown> | null,
  before: Record<string, unknown> | null = null,
): string {
  return JSON.stringify({ op, before, after, source: { lsn, ts_ms: Date.parse(at) }, ts_ms: Date.parse(at) });
}

const a1 = (plan: string, seats: number) => ({ account_id: 'a1', plan_tier: plan, seats });
const a2 = (plan: string, seats: number) => ({ account_id: 'a2', plan_tier: plan, seats });

const CHANGES = [
  ev('c', 100, '2025-03-01T10:00:00Z', a1('free', 1)),
  ev('c', 110, '2025-03-01T12:00:00Z', a2('pro', 5)),
  ev('u', 120, '2025-03-03T08:00:00Z', a1('pro', 2), a1('free', 1)),
  // a2 deleted during 2025-03-04: as of that day its values are NULL.
  ev('d', 130, '2025-03-04T15:00:00Z', null, a2('pro', 5)),
  // Exactly the cutoff of as_of_date 2025-03-04 (end_of_day): seen from 2025-03-05 on only.
  ev('u', 140, '2025-03-05T00:00:00Z', a1('enterprise', 20), a1('pro', 2)),
  // Two changes of a1 at one instant (one transaction): only the second was ever visible.
  ev('u', 150, '2025-03-06T09:00:00Z', a1('temp', 3), a1('enterprise', 20)),
  ev('u', 151, '2025-03-06T09:00:00Z', a1('team', 8), a1('temp', 3)),
].join('\n');

type Row = Record<string, unknown>;

async function query(sql: string): Promise<Row[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run("SET TimeZone = 'UTC'");
  const r = (await conn.runAndReadAll(sql)).getRowObjectsJS() as Row[];
  conn.closeSync();
  inst.closeSync();
  return r.map((x) =>
    Object.fromEntries(Object.entries(x).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])),
  );
}

function partitionFile(dir: string, date: string, view = 'account_state'): string {
  return path.join(dir, '.asof/lake', view, 'v1', `as_of_date=${date}`, 'part-0.parquet');
}

async function partition(dir: string, date: string): Promise<Row[]> {
  return query(
    `SELECT account_id, plan_tier, seats, plan_changes_30d, changes FROM read_parquet('${partitionFile(dir, date)}') ORDER BY account_id`,
  );
}

async function cli(args: string[], cwd: string) {
  const r = await runCli(args, { cwd });
  expect(r.code, `asof ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
  return r;
}

const row = (id: string, plan: string | null, seats: number | null, changes30: number, changes: number) => ({
  account_id: id,
  plan_tier: plan,
  seats,
  plan_changes_30d: changes30,
  changes,
});

const EXPECTED: Record<string, Row[]> = {
  '2025-02-28': [],
  '2025-03-01': [row('a1', 'free', 1, 0, 1), row('a2', 'pro', 5, 0, 1)],
  '2025-03-02': [row('a1', 'free', 1, 0, 1), row('a2', 'pro', 5, 0, 1)],
  '2025-03-03': [row('a1', 'pro', 2, 1, 2), row('a2', 'pro', 5, 0, 1)],
  '2025-03-04': [row('a1', 'pro', 2, 1, 2), row('a2', null, null, 0, 2)],
  '2025-03-05': [row('a1', 'enterprise', 20, 2, 3), row('a2', null, null, 0, 2)],
  '2025-03-06': [row('a1', 'team', 8, 3, 4), row('a2', null, null, 0, 2)],
};

describe('features from a CDC source', () => {
  it('as_of and change counts agree in build, backfill and training sets; late changes restale', async () => {
    const dir = makeProject({ 'asof.yaml': SPEC, 'changes.jsonl': `${CHANGES}\n` });
    await cli(['cdc', 'apply', '--source', 'accounts', 'changes.jsonl'], dir);

    // Backfill (one chunk, all dates) equals the values worked out by hand.
    await cli(['backfill', '--from', '2025-02-28', '--to', '2025-03-06'], dir);
    for (const [date, want] of Object.entries(EXPECTED)) {
      expect(await partition(dir, date), date).toEqual(want);
      const mix = await query(
        `SELECT account_id, plan_tier FROM read_parquet('${partitionFile(dir, date, 'account_mix')}') ORDER BY account_id`,
      );
      expect(mix, `account_mix ${date}`).toEqual(
        want.map((r) => ({ account_id: r.account_id, plan_tier: r.plan_tier })),
      );
    }

    // `asof build` of single dates writes the same rows.
    for (const date of ['2025-03-04', '2025-03-05']) {
      const b = await cli(['build', '--as-of', date], dir);
      // The history's TIMESTAMPTZ columns are the contract's timestamps: no widening notice.
      expect(b.stderr).not.toMatch(/warning/);
      expect(await partition(dir, date), `build ${date}`).toEqual(EXPECTED[date]);
    }

    // Training set: a label at a partition's cutoff sees that partition's values; one a moment
    // after the cutoff sees the change made exactly at it.
    const labels = [
      'account_id,t',
      'a1,2025-03-02T00:00:00Z',
      'a1,2025-03-05T00:00:00Z',
      'a1,2025-03-05T00:00:00.001Z',
      'a2,2025-03-04T15:00:00Z',
      'a2,2025-03-04T15:00:00.001Z',
      'a1,2025-03-07T00:00:00Z',
      'a3,2025-03-07T00:00:00Z',
    ];
    writeFileSync(path.join(dir, 'labels.csv'), `${labels.join('\n')}\n`);
    await cli(
      [
        'training-set',
        '--labels',
        'labels.csv',
        '--time-column',
        't',
        '--out',
        'train.parquet',
        '--views',
        'account_state',
      ],
      dir,
    );
    const train = await query(
      `SELECT account_id, plan_tier, seats, plan_changes_30d, changes FROM read_parquet('${path.join(dir, 'train.parquet')}')`,
    );
    expect(train).toEqual([
      row('a1', 'free', 1, 0, 1),
      row('a1', 'pro', 2, 1, 2),
      row('a1', 'enterprise', 20, 2, 3),
      row('a2', 'pro', 5, 0, 1),
      row('a2', null, null, 0, 2),
      row('a1', 'team', 8, 3, 4),
      { account_id: 'a3', plan_tier: null, seats: null, plan_changes_30d: 0, changes: 0 },
    ]);
    // The label at 2025-03-05T00:00 is the partition of 2025-03-04 (same cutoff), and so on.
    expect(train[1]).toEqual((EXPECTED['2025-03-04'] ?? [])[0]);
    expect(train[5]).toEqual((EXPECTED['2025-03-06'] ?? [])[0]);

    // Nothing changed: the plan builds nothing.
    const quiet = await cli(['plan', '--from', '2025-02-28', '--to', '2025-03-06'], dir);
    expect(quiet.stdout).toMatch(/^0 to build/m);

    // A change that arrives late, for 2025-03-03: that partition and the later ones are stale.
    writeFileSync(
      path.join(dir, 'late.jsonl'),
      `${ev('c', 160, '2025-03-03T05:00:00Z', { account_id: 'a3', plan_tier: 'pro', seats: 4 })}\n`,
    );
    await cli(['cdc', 'apply', '--source', 'accounts', 'late.jsonl'], dir);
    const plan = await cli(['plan', '--from', '2025-02-28', '--to', '2025-03-06'], dir);
    const stale = plan.stdout
      .split('\n')
      .filter((l) => l.startsWith('build'))
      .map((l) => /(\w+) v1 as_of_date=(\S+)/.exec(l)?.slice(1).join(' '));
    const days = ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06'];
    expect(stale).toEqual([...days.map((d) => `account_state ${d}`), ...days.map((d) => `account_mix ${d}`)]);
    expect(plan.stdout).toMatch(/source changed/);

    const before = readFileSync(partitionFile(dir, '2025-03-02'));
    await cli(['backfill', '--from', '2025-02-28', '--to', '2025-03-06'], dir);
    expect(readFileSync(partitionFile(dir, '2025-03-02')).equals(before)).toBe(true);
    for (const [date, want] of Object.entries(EXPECTED)) {
      const withA3 = date >= '2025-03-03' ? [...want, row('a3', 'pro', 4, 0, 1)] : want;
      expect(await partition(dir, date), `after the late change, ${date}`).toEqual(withA3);
    }
    const after = await cli(['plan', '--from', '2025-02-28', '--to', '2025-03-06'], dir);
    expect(after.stdout).toMatch(/^0 to build/m);
  });

  it('rejects a name used by both a source and a CDC source', async () => {
    const dir = makeProject({
      'asof.yaml': SPEC.replace(
        'sources: {}',
        'sources:\n  accounts: { path: a.csv, timestamp: ts, columns: { account_id: string, ts: timestamp } }',
      ),
    });
    const r = await runCli(['validate'], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/'accounts' names both a source and a CDC source/);
  });
});
