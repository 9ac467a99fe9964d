// `asof training-set` and `asof audit` end to end, as a user runs them: outputs, exit codes and
// error messages that name the file and the column.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, spec } from '../support/project.js';

const project = () =>
  makeProject({
    'asof.yaml': spec({
      where: "status = 'success'",
      features: { n7: '{ agg: count, window: 7d }', avg7: '{ agg: avg, column: amount, window: 7d }' },
    }),
    'data/events.csv': [
      'user_id,event_ts,amount,status',
      'u1,2025-01-08T10:00:00,10,success',
      'u1,2025-01-09T10:00:00,20,success',
      'u1,2025-01-09T11:00:00,999,failed',
      'u1,2025-01-10T12:00:00,30,success',
    ].join('\n'),
    'labels.csv': [
      'user_id,label_ts,churned',
      'u1,2025-01-10T12:00:00,1',
      'u2,2025-01-10T12:00:00,0',
      'u1,2025-01-10T12:00:00,1',
      'u1,2025-01-11T00:00:00,0',
    ].join('\n'),
    'bad-time.csv': 'user_id,label_ts\nu1,2025-01-10T12:00:00\nu1,yesterday\n',
    'no-key.csv': 'customer,label_ts\nu1,2025-01-10T12:00:00\n',
  });

describe('asof training-set (CLI)', () => {
  it('writes every label row in order with its features, as csv and parquet', async () => {
    const dir = project();
    const r = await runCli([
      'training-set',
      '--project',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'label_ts',
      '--out',
      path.join(dir, 'out.csv'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote 4 rows x 5 columns/);
    const lines = readFileSync(path.join(dir, 'out.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('user_id,label_ts,churned,n7,avg7');
    expect(lines.slice(1).map((l) => l.split(',').slice(2))).toEqual([
      ['1', '2', '15.0'],
      ['0', '0', ''],
      ['1', '2', '15.0'],
      ['0', '3', '20.0'],
    ]);
    const p = await runCli([
      'training-set',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'label_ts',
      '--out',
      path.join(dir, 'out.parquet'),
    ]);
    expect(p.code).toBe(0);
  });

  it('exits 2 naming the column when the time column is missing, 3 for a missing entity key or an unreadable time', async () => {
    const dir = project();
    const missingTime = await runCli([
      'training-set',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'ts',
      '--out',
      path.join(dir, 'o.csv'),
    ]);
    expect(missingTime.code).toBe(2);
    expect(missingTime.stderr).toMatch(/labels\.csv: column ts: the labels have no time column 'ts'/);
    const noKey = await runCli([
      'training-set',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'no-key.csv'),
      '--time-column',
      'label_ts',
      '--out',
      path.join(dir, 'o.csv'),
    ]);
    expect(noKey.code).toBe(3);
    expect(noKey.stderr).toMatch(/no-key\.csv: column user_id: .*entity 'user'/);
    const badTime = await runCli([
      'training-set',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'bad-time.csv'),
      '--time-column',
      'label_ts',
      '--out',
      path.join(dir, 'o.csv'),
    ]);
    expect(badTime.code).toBe(3);
    expect(badTime.stderr).toMatch(
      /bad-time\.csv: column label_ts: 1 label row\(s\) have no readable time, e\.g\. row 2: 'yesterday'/,
    );
    const badOut = await runCli([
      'training-set',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'label_ts',
      '--out',
      path.join(dir, 'o.txt'),
    ]);
    expect(badOut.code).toBe(2);
  });

  it('asof audit prints the latest event used beside each label time and exits 0 when nothing leaks', async () => {
    const dir = project();
    const r = await runCli([
      'audit',
      '-p',
      dir,
      '--labels',
      path.join(dir, 'labels.csv'),
      '--time-column',
      'label_ts',
      '--sample',
      '3',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2025-01-10T12:00:00\.000Z\s+v\s+n7\s+2025-01-09T10:00:00\.000Z\s+ok/);
    expect(r.stdout).toMatch(/audited 3 label row\(s\), 6 feature value\(s\): 0 leak\(s\)/);
  });
});
