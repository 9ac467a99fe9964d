// Quality checks gate the load: an error-severity failure leaves the previous partition
// byte-for-byte and exits 4 with the failing values; a warning publishes and reports; checks never
// change the transformation_version; the late-event rate matches a hand count.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { makeProject, qualitySpec, runCli } from '../support/project.js';

const HEAD = 'user_id,event_ts,amount,ingested_at';
const GOOD = [
  HEAD,
  'u1,2025-01-08T10:00:00,10,2025-01-08T10:00:00',
  'u2,2025-01-09T10:00:00,20,2025-01-09T10:00:00',
  'u3,2025-01-10T10:00:00,30,2025-01-10T10:00:00',
  '',
].join('\n');

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const full = path.join(e.parentPath, e.name);
      out[path.relative(dir, full)] = readFileSync(full).toString('base64');
    }
  }
  return out;
}

const PART = '.asof/lake/v/v1/as_of_date=2025-01-10';

describe('quality gates', () => {
  it('a failing error-severity check exits 4, prints the failing values, and leaves the previous partition byte-for-byte', async () => {
    const dir = makeProject({
      'asof.yaml': qualitySpec({ feature: ['{ range: { min: 0, max: 100 }, severity: error }'] }),
      'data/events.csv': GOOD,
    });
    expect((await runCli(['build', '--project', dir, '--as-of', '2025-01-10'])).code).toBe(0);
    const before = files(path.join(dir, PART));
    writeFileSync(
      path.join(dir, 'data/events.csv'),
      `${GOOD}u4,2025-01-10T11:00:00,5000,2025-01-10T11:00:00\n`,
    );
    for (const cmd of ['build', 'run']) {
      const r = await runCli(
        [cmd, '--project', dir, '--as-of', '2025-01-10', '--log-format', 'json'].slice(
          0,
          cmd === 'run' ? 7 : 5,
        ),
      );
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain('range(avg_amount): 1 of 4 values outside [0, 100]');
      expect(r.stderr).toContain('{"user_id":"u4","avg_amount":5000}');
      expect(r.stderr).toContain('views.v.features.avg_amount.checks.0');
      expect(files(path.join(dir, PART))).toEqual(before);
    }
    // Nothing is left half-written beside the partition either.
    expect(readdirSync(path.join(dir, '.asof/lake/v/v1')).filter((e) => !e.startsWith('.'))).toEqual([
      'as_of_date=2025-01-10',
    ]);
    const runs = JSON.parse((await runCli(['runs', '--project', dir, '--format', 'json'])).stdout) as {
      command: string;
      status: string;
      exit_code?: number;
      checks?: { view: string; check: string; status: string }[];
    }[];
    expect(runs[0]).toMatchObject({ command: 'run', status: 'failed', exit_code: 4 });
    expect(runs[0]?.checks).toContainEqual(
      expect.objectContaining({ view: 'v', check: 'range', status: 'fail' }),
    );
  });

  it('a failing warn check publishes, reports, and records the result in the manifest', async () => {
    const dir = makeProject({
      'asof.yaml': qualitySpec({
        feature: ['{ range: { max: 25 }, severity: warn }', '{ null_rate: { max: 0 } }'],
      }),
      'data/events.csv': GOOD,
    });
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('range(avg_amount): 1 of 3 values outside [-inf, 25]');
    const manifest = JSON.parse(readFileSync(path.join(dir, PART, '_manifest.json'), 'utf8'));
    expect(manifest.checks).toEqual([
      expect.objectContaining({ check: 'range', severity: 'warn', status: 'fail', value: 1 }),
      expect.objectContaining({ check: 'null_rate', severity: 'error', status: 'pass', value: 0 }),
    ]);
  });

  it('row_count_change and drift compare with the previous partition', async () => {
    const dir = makeProject({
      'asof.yaml': qualitySpec({
        feature: ['{ drift: { max_psi: 0.2 }, severity: warn }'],
        view: ['{ row_count_change: { max_percent: 50 } }'],
      }),
      'data/events.csv': GOOD,
    });
    expect((await runCli(['build', '--project', dir, '--as-of', '2025-01-10'])).code).toBe(0);
    // Three new users the next day with far larger amounts: +100% rows and a shifted distribution.
    writeFileSync(
      path.join(dir, 'data/events.csv'),
      `${GOOD}u4,2025-01-11T10:00:00,900,2025-01-11T10:00:00\nu5,2025-01-11T10:00:00,950,2025-01-11T10:00:00\nu6,2025-01-11T10:00:00,990,2025-01-11T10:00:00\n`,
    );
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-11']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('row_count_change: 6 rows against 3 on 2025-01-10 (100% change, max 50%)');
    // By hand: ten bins on the previous values' deciles; previous shares 1/3 in bins 0, 4, 9;
    // current 1/6, 1/6, 4/6: PSI = 2 * (1/6) ln 2 + (1/3) ln 2 = 0.462098.
    expect(r.stderr).toContain('WARN drift(avg_amount): PSI 0.462098 against 2025-01-10 (max 0.2)');
  });

  it('checks are metadata: adding them does not change the transformation_version', async () => {
    const plain = await loadProject(makeProject({ 'asof.yaml': qualitySpec({}), 'data/events.csv': GOOD }));
    const checked = await loadProject(
      makeProject({
        'asof.yaml': qualitySpec({
          feature: ['{ null_rate: { max: 0.1 } }'],
          view: ['{ unique_key: {} }', '{ freshness: { max_age: 2d } }'],
          sourceExtra: ['max_reject_rate: 0.1', 'allowed_lateness: 2h'],
        }),
        'data/events.csv': GOOD,
      }),
    );
    expect(checked.views.v?.checks).toHaveLength(3);
    expect(checked.views.v?.transformationVersion).toBe(plain.views.v?.transformationVersion);
  });

  it('a check in the wrong place or of an unknown kind is a spec error with its path', async () => {
    const dir = makeProject({
      'asof.yaml': qualitySpec({ view: ['{ null_rate: { max: 0.1 } }'] }),
      'data/events.csv': GOOD,
    });
    const r = await runCli(['validate', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('views.v.checks.0');
    const dir2 = makeProject({
      'asof.yaml': qualitySpec({ view: ['{ median: {} }'] }),
      'data/events.csv': GOOD,
    });
    expect((await runCli(['validate', '--project', dir2])).code).toBe(2);
  });
});

describe('late events', () => {
  it('the late-event rate matches a hand count: events of the day that arrived after cutoff + allowed_lateness', async () => {
    // as_of_date 2025-01-10 (UTC, end_of_day): the day is [01-10 00:00, 01-11 00:00); the deadline
    // is 01-11 00:00 + 1h = 01:00.
    const csv = [
      HEAD,
      'u1,2025-01-10T01:00:00,1,2025-01-10T01:05:00', // on time
      'u1,2025-01-10T12:00:00,1,2025-01-11T00:30:00', // after the cutoff but within the lateness
      'u2,2025-01-10T23:59:00,1,2025-01-11T01:00:00', // exactly at the deadline: not late
      'u2,2025-01-10T08:00:00,1,2025-01-11T01:00:01', // late
      'u3,2025-01-10T09:00:00,1,2025-01-12T09:00:00', // late
      'u3,2025-01-10T10:00:00,1,', // no arrival time: not late
      'u4,2025-01-09T10:00:00,1,2025-01-20T00:00:00', // another day: not counted
      'u4,2025-01-11T10:00:00,1,2025-01-20T00:00:00', // after the cutoff: not counted
      '',
    ].join('\n');
    const dir = makeProject({
      'asof.yaml': qualitySpec({
        view: ['{ late_event_rate: { max: 0.2 }, severity: warn }'],
        sourceExtra: ['ingested_at: ingested_at', 'allowed_lateness: 1h'],
      }),
      'data/events.csv': csv,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10', '--log-format', 'json']);
    expect(r.code).toBe(0);
    const validate = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.stage === 'validate');
    expect(validate?.late_event_rate).toBeCloseTo(2 / 6, 10);
    expect(validate?.status).toBe('warn');
    const manifest = JSON.parse(readFileSync(path.join(dir, PART, '_manifest.json'), 'utf8'));
    expect(manifest.late_events).toEqual({ late: 2, total: 6, rate: 2 / 6 });
    expect(r.stderr).toContain('late_event_rate: 2 of 6 events of 2025-01-10 arrived after the cutoff');
  });
});
