// A view's tail layout: features over the same column share one value per event only when they
// evaluate the same expression. On a CDC history, `as_of` reads its column as NULL at a delete
// (spec/parse.ts rewrites its expression, not its text): another feature over that column text
// keeps the deleted row's value, and as_of serves NULL once the entity is deleted, as batch does.

import { describe, expect, it } from 'vitest';
import { parseProjectYaml } from '../../src/spec/parse.js';
import { tailLayout, ViewRuntime } from '../../src/stream/state.js';

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
  account_mix:
    entity: account
    source: accounts
    features:
      tiers_seen: { agg: count_distinct, column: plan_tier, window: all }
      plan_tier: { agg: as_of, column: plan_tier }
      last_tier: { agg: last, column: plan_tier, window: 7d }
      changes: { agg: count, window: all }
`;

describe('tail layout', () => {
  it('gives features over one column text one slot only when their expressions are the same', () => {
    const project = parseProjectYaml(SPEC, 'asof.yaml', '/p');
    const view = project.views.account_mix;
    if (!view) throw new Error('no view');
    const layout = tailLayout(view);
    // count_distinct and last share plan_tier; as_of's CDC expression has its own slot; count none
    expect([...layout.at]).toEqual([2, 3, 2, -1]);
    expect(layout.width).toBe(4);

    const rt = new ViewRuntime(view, 'UTC', project);
    const s = rt.emptyState();
    const t0 = Date.parse('2025-03-01T10:00:00Z');
    const t1 = Date.parse('2025-03-04T15:00:00Z');
    const row = (op: string, at: number, lsn: number) => ({
      account_id: 'a2',
      plan_tier: 'pro',
      seats: 5,
      valid_from: at,
      valid_to: null,
      op,
      lsn,
    });
    expect(rt.apply(s, row('c', t0, 100), t0, 0)).toBe(true);
    expect(rt.apply(s, row('d', t1, 130), t1, 1)).toBe(true);
    const at = (iso: string) => rt.valuesAt(s, Date.parse(iso));
    expect(at('2025-03-02T00:00:00Z')).toEqual([1, 'pro', 'pro', 1]);
    // deleted: as_of is NULL; the other features still see the change rows' values
    expect(at('2025-03-05T00:00:00Z')).toEqual([1, null, 'pro', 2]);
  });
});
