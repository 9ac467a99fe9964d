// The leakage audit: on the product's plan it finds no event at or after any label time; given a
// deliberately leaky plan (a fault injected here, in the test) it reports the leak.

import { describe, expect, it } from 'vitest';
import { exactFeatureQuery, type FeatureQueryBuilder } from '../../src/engines/duckdb/training-set-sql.js';
import { loadProject } from '../../src/pipeline/project.js';
import { audit } from '../../src/pipeline/training-set.js';
import { makeProject, spec } from '../support/project.js';

const files = () =>
  makeProject({
    'asof.yaml': spec({
      features: {
        n: '{ agg: count, window: 7d }',
        mx: '{ agg: max, column: amount, window: 30d }',
        l: '{ agg: last, column: amount, window: all }',
      },
    }),
    'data/events.csv': [
      'user_id,event_ts,amount,status',
      'u1,2025-01-08T10:00:00,1,success',
      'u1,2025-01-10T12:00:00,99,success', // exactly at u1's label time
      'u1,2025-01-11T00:00:00,7,success',
      'u2,2025-01-02T00:00:00,3,success',
    ].join('\n'),
    'labels.csv': [
      'user_id,label_ts',
      'u1,2025-01-10T12:00:00',
      'u2,2025-01-05T00:00:00',
      'u3,2025-01-05T00:00:00',
    ].join('\n'),
  });

/** The fault: events up to one day after t are visible (a `<=`-and-off-by-a-day bug). */
const leaky: FeatureQueryBuilder = (vp, tz, points, opts) => {
  const q = exactFeatureQuery(vp, tz, points, opts);
  const leak = (s: string) =>
    s
      .replaceAll('e."__ts" < p."__t"', `e."__ts" < p."__t" + INTERVAL 1 DAY`)
      .replaceAll('p."__t" > a.__at', `p."__t" + INTERVAL 1 DAY > a.__at`)
      .replaceAll('"__ts" < (SELECT max("__t")', `"__ts" < INTERVAL 1 DAY + (SELECT max("__t")`);
  return { setup: q.setup.map(leak), select: leak(q.select) };
};

describe('asof audit', () => {
  it('reports the latest event each feature used, before every label time, on the product plan', async () => {
    const dir = files();
    const project = await loadProject(dir);
    const report = await audit(project, { labels: `${dir}/labels.csv`, timeColumn: 'label_ts', sample: 10 });
    expect(report.sampled).toBe(3);
    expect(report.leaks).toBe(0);
    const u1 = report.findings.filter((f) => f.row === 1);
    expect(u1.map((f) => [f.feature, f.latestEvent, f.leak])).toEqual([
      ['n', '2025-01-08T10:00:00.000Z', false],
      ['mx', '2025-01-08T10:00:00.000Z', false],
      ['l', '2025-01-08T10:00:00.000Z', false],
    ]);
    expect(report.findings.filter((f) => f.row === 3).every((f) => f.latestEvent === null)).toBe(true);
  });

  it('catches a deliberately leaky plan (count and max via the range join, as a view with non-prefix kinds is computed)', async () => {
    const dir = files();
    const project = await loadProject(dir);
    const report = await audit(
      project,
      { labels: `${dir}/labels.csv`, timeColumn: 'label_ts', sample: 10 },
      leaky,
    );
    const leaks = report.findings.filter((f) => f.leak);
    expect(leaks.map((f) => [f.row, f.feature, f.latestEvent])).toEqual([
      [1, 'n', '2025-01-11T00:00:00.000Z'],
      [1, 'mx', '2025-01-11T00:00:00.000Z'],
      [1, 'l', '2025-01-11T00:00:00.000Z'],
    ]);
  });

  it('samples deterministically: the same rows each run, at most N', async () => {
    const dir = files();
    const project = await loadProject(dir);
    const a = await audit(project, { labels: `${dir}/labels.csv`, timeColumn: 'label_ts', sample: 2 });
    const b = await audit(project, { labels: `${dir}/labels.csv`, timeColumn: 'label_ts', sample: 2 });
    expect(a.sampled).toBe(2);
    expect(a.findings.map((f) => f.row)).toEqual(b.findings.map((f) => f.row));
  });
});
