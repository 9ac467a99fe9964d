// The `cdc:` spec section: normalized, checked with places, and never part of a view's version.

import { describe, expect, it } from 'vitest';
import { parseProjectYaml } from '../../src/spec/parse.js';

const BASE = `project: shop
sources:
  tx:
    path: data/tx.csv
    timestamp: ts
    columns: { user_id: string, ts: timestamp, amount: double }
entities:
  user: { key: user_id }
views:
  spend:
    entity: user
    source: tx
    features:
      n_7d: { agg: count, window: 7d }
`;

describe('cdc spec', () => {
  it('normalizes a CDC source and leaves every transformation_version unchanged', () => {
    const without = parseProjectYaml(BASE, 'asof.yaml', '/p');
    const withCdc = parseProjectYaml(
      `${BASE}cdc:\n  users:\n    primary_key: user_id\n    columns: { user_id: string, plan: string }\n    postgres: { url_env: PG_URL, table: app.users, batch_size: 50 }\n`,
      'asof.yaml',
      '/p',
    );
    expect(withCdc.views.spend?.transformationVersion).toBe(without.views.spend?.transformationVersion);
    expect(withCdc.cdc?.users).toMatchObject({
      primaryKey: ['user_id'],
      postgres: { schema: 'app', table: 'users', slot: 'asof_users', batchSize: 50, urlEnv: 'PG_URL' },
    });
  });

  it('rejects a key outside the contract and reserved history columns, with their place', () => {
    expect(() =>
      parseProjectYaml(
        `${BASE}cdc:\n  users:\n    primary_key: id\n    columns: { user_id: string }\n`,
        'asof.yaml',
        '/p',
      ),
    ).toThrow(/primary key column 'id' is not in the contract/);
    try {
      parseProjectYaml(
        `${BASE}cdc:\n  users:\n    primary_key: user_id\n    columns: { user_id: string, op: string }\n`,
        'asof.yaml',
        '/p',
      );
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain("column 'op' is reserved");
      expect((e as { place: { line?: number } }).place.line).toBe(18);
    }
  });

  const CDC_VIEW = `${BASE}  account:
    entity: user
    source: users
    features:
      plan: { agg: as_of, column: plan }
cdc:
  users:
    primary_key: user_id
    columns: { user_id: string, plan: string }
    postgres: { url_env: PG_URL, decoder: pgoutput }
`;

  it('a view reads a CDC source as its history: as_of hides deleted values and needs no window', () => {
    const p = parseProjectYaml(CDC_VIEW, 'asof.yaml', '/p');
    expect(p.sources.users).toMatchObject({
      cdc: 'users',
      format: 'parquet',
      path: '.asof/cdc/users_history.parquet',
      timestamp: 'valid_from',
      columns: {
        user_id: 'string',
        plan: 'string',
        valid_from: 'timestamp',
        valid_to: 'timestamp',
        op: 'string',
        lsn: 'int',
      },
    });
    const f = p.views.account?.features[0];
    expect(f).toMatchObject({ agg: 'as_of', columnText: 'plan', type: 'string', window: { kind: 'all' } });
    // The value of a delete's row (which carries the deleted values) is NULL.
    expect(f?.column).toMatchObject({ kind: 'case' });
    expect(p.cdc?.users?.postgres).toMatchObject({
      decoder: 'pgoutput',
      publication: 'asof_users',
      heartbeatMs: 10_000,
    });
    expect(() =>
      parseProjectYaml(CDC_VIEW.replace('{ agg: as_of, column: plan }', '{ agg: count }'), 'asof.yaml', '/p'),
    ).toThrow(/aggregation 'count' needs a 'window'/);
  });
});
