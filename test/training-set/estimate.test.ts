// The statistics behind the plan's choices: the rows-per-point estimate (running totals or the
// range join), where counting the entities in a sample of a large source gives about the same
// estimate as counting them all; and the perfect hash setting, bounded by its table's size.

import { describe, expect, it } from 'vitest';
import { perfectHashSql } from '../../src/engines/duckdb/aggregates.js';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { rowsPerPointSql } from '../../src/engines/duckdb/training-set-sql.js';
import { loadProject } from '../../src/pipeline/project.js';
import { planTrainingSet } from '../../src/plan/training-set.js';
import { makeProject, spec } from '../support/project.js';

describe('rows per point estimate', () => {
  it('from a 10% sample of 2M rows (2,000 entities, 1,000 rows each over 100 days), within 5% of the exact one', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features: { n: '{ agg: count, window: 10d }' } }),
      'data/events.csv': 'user_id,event_ts,amount,status\n',
    });
    const project = await loadProject(dir);
    const plan = planTrainingSet(project, {
      labelsFile: 'labels.csv',
      labelColumns: ['user_id', 'label_ts'],
      timeColumn: 'label_ts',
    });
    const vp = plan.views[0];
    if (!vp) throw new Error('no view');
    const engine = await DuckDbEngine.open({ threads: 2 });
    try {
      // Rows in time order (as sources usually are), entities interleaved.
      await engine.query(`CREATE TEMP TABLE src_events AS
        SELECT 'u' || (i % 2000) AS user_id, make_timestamptz(1735689600000000 + i * 4320000) AS __ts
        FROM range(2000000) r(i)`);
      const exact = Number((await engine.query(rowsPerPointSql(vp))).rows[0]?.[0]);
      const sampled = Number((await engine.query(rowsPerPointSql(vp, true))).rows[0]?.[0]);
      // 1,000 rows per entity, a tenth of them in a 10-day window of the 100 days.
      expect(exact).toBeCloseTo(100, 0);
      expect(Math.abs(sampled - exact) / exact).toBeLessThan(0.05);
    } finally {
      await engine.close();
    }
  });
});

describe('perfect hash setting', () => {
  it('addresses 1M label rows directly for a few features, and keeps the default when the table would be too large', () => {
    expect(perfectHashSql(1_000_000, 5)).toBe('SET perfect_ht_threshold = 20');
    expect(perfectHashSql(2_000_000, 3)).toBe('SET perfect_ht_threshold = 21');
    expect(perfectHashSql(1_000_000, 100)).toBe('RESET perfect_ht_threshold');
    expect(perfectHashSql(100_000_000, 1)).toBe('RESET perfect_ht_threshold');
    expect(perfectHashSql(1_000, 5)).toBe('RESET perfect_ht_threshold');
  });
});
