// Backfills gate each partition on the view's quality checks, as build does: dates go in order,
// an error-severity failure stops the backfill with exit 4 and that date is not published.

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AsofError } from '../../src/errors.js';
import { backfill } from '../../src/pipeline/backfill.js';
import { loadProject } from '../../src/pipeline/project.js';
import { partitionDir } from '../../src/storage/lake/paths.js';
import { makeProject, spec } from '../support/project.js';

describe('backfill quality gate', () => {
  it('publishes the dates that pass and stops with exit 4 at the first that fails', async () => {
    const dir = makeProject({
      'asof.yaml': spec({
        features: {
          a: '{ agg: avg, column: amount, window: 1d, checks: [ { null_rate: { max: 0 }, severity: error } ] }',
        },
      }),
      'data/events.csv': [
        'user_id,event_ts,amount,status',
        'u1,2025-01-01T10:00:00,1,success',
        'u2,2025-01-01T10:00:00,1,success',
        'u1,2025-01-02T10:00:00,1,success', // u2 has no event on 01-02: its avg_1d is NULL there
        'u1,2025-01-03T10:00:00,1,success',
        '',
      ].join('\n'),
    });
    const project = await loadProject(dir);
    const err = await backfill(project, { dates: ['2025-01-01', '2025-01-02', '2025-01-03'] }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(AsofError);
    expect((err as AsofError).exitCode).toBe(4);
    const at = (d: string) => partitionDir(project.storage.offline, 'v', 1, d);
    expect(existsSync(at('2025-01-01'))).toBe(true);
    expect(existsSync(at('2025-01-02'))).toBe(false);
    expect(existsSync(at('2025-01-03'))).toBe(false);
  });
});
