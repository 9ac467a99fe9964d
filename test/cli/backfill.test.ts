// Pins the backfill CLI: plan states from manifests (new, definition changed, source changed,
// up to date), --force, resume after SIGKILL with every partition equal to build's and none
// doubled, one writer per view (exit 5), usage errors (exit 2), and `asof gen`.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { acquireLock } from '../../src/storage/lake/lock.js';
import { makeProject, REPO_ROOT, runCli, spec, tempDir } from '../support/project.js';

function events(rows: number, amount: number): string {
  const lines = ['user_id,event_ts,amount,status'];
  for (let i = 0; i < rows; i++) {
    const day = 1 + (i % 28);
    lines.push(
      `u${i % 3000},2025-01-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00,${amount + (i % 7)},success`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const FEATURES = {
  n: '{ agg: count, window: 7d }',
  s: '{ agg: sum, column: amount, window: 30d }',
  last_amount: '{ agg: last, column: amount, window: all }',
};

function project(rows = 2000): string {
  return makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': events(rows, 1) });
}

const lake = (dir: string) => path.join(dir, '.asof', 'lake', 'v', 'v1');

function planLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.includes('as_of_date='));
}

describe('asof plan / backfill', () => {
  it('plan says new, then up to date; a definition change and a source change are named', async () => {
    const dir = project();
    const range = ['--project', dir, '--from', '2025-01-10', '--to', '2025-01-14'];
    const first = await runCli(['plan', ...range]);
    expect(first.code).toBe(0);
    expect(planLines(first.stdout)).toHaveLength(5);
    expect(planLines(first.stdout).every((l) => l.startsWith('build') && l.includes('new'))).toBe(true);
    // plan is a dry run: nothing written.
    expect(existsSync(lake(dir))).toBe(false);

    const done = await runCli(['backfill', ...range]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('backfilled 5 partition(s)');
    const again = await runCli(['plan', ...range]);
    expect(planLines(again.stdout).every((l) => l.startsWith('skip') && l.includes('up to date'))).toBe(true);
    const rerun = await runCli(['backfill', ...range]);
    expect(rerun.stdout).toContain('backfilled 0 partition(s)');
    expect(rerun.stdout).toContain('5 up to date skipped');

    // A new feature changes the transformation_version: every partition is stale.
    const specFile = path.join(dir, 'asof.yaml');
    writeFileSync(
      specFile,
      spec({ features: { ...FEATURES, mx: '{ agg: max, column: amount, window: 7d }' } }),
    );
    const changed = await runCli(['plan', ...range]);
    expect(planLines(changed.stdout).every((l) => l.includes('definition changed'))).toBe(true);
    expect((await runCli(['backfill', ...range, '--jobs', '3'])).code).toBe(0);

    // A description is metadata: no rebuild.
    writeFileSync(
      specFile,
      spec({
        features: {
          ...FEATURES,
          mx: '{ agg: max, column: amount, window: 7d, description: "largest payment" }',
        },
      }),
    );
    expect(planLines((await runCli(['plan', ...range])).stdout).every((l) => l.includes('up to date'))).toBe(
      true,
    );

    writeFileSync(path.join(dir, 'data/events.csv'), events(2100, 1));
    const src = await runCli(['plan', ...range, '--from', '2025-01-12']);
    expect(planLines(src.stdout)).toHaveLength(3);
    expect(planLines(src.stdout).every((l) => l.includes('source changed'))).toBe(true);

    const forced = await runCli(['plan', ...range, '--force']);
    expect(planLines(forced.stdout).every((l) => l.startsWith('build'))).toBe(true);
  }, 60_000);

  it('resumes after SIGKILL: every partition equals build, none partial or doubled', async () => {
    const dir = project(30_000);
    const range = ['--project', dir, '--from', '2025-01-01', '--to', '2025-01-28'];
    const args = ['backfill', ...range, '--chunk-days', '2'];
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
      stdio: 'ignore',
    });
    // Kill once a few partitions are published, well before the 28th.
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const done = existsSync(lake(dir))
          ? readdirSync(lake(dir)).filter((e) => e.startsWith('as_of_date=')).length
          : 0;
        if (done >= 2) {
          clearInterval(timer);
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('close', () => {
        clearInterval(timer);
        resolve();
      });
    });
    const published = readdirSync(lake(dir)).filter((e) => e.startsWith('as_of_date='));
    expect(published.length).toBeGreaterThan(0);
    expect(published.length).toBeLessThan(28);

    const plan = await runCli(['plan', ...range]);
    expect(plan.code, plan.stderr).toBe(0);
    const skipped = planLines(plan.stdout).filter((l) => l.startsWith('skip')).length;
    expect(skipped).toBe(published.length);
    const resumed = await runCli(['backfill', ...range]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`backfilled ${28 - skipped} partition(s)`);

    // Checked in-process (spawning a CLI per date is slow on a shared 2-core machine).
    const filled = await loadProject(dir);
    const other = await loadProject(
      makeProject({ 'asof.yaml': spec({ features: FEATURES, path: path.join(dir, 'data/events.csv') }) }),
    );
    for (let d = 1; d <= 28; d++) {
      const date = `2025-01-${String(d).padStart(2, '0')}`;
      const files = readdirSync(path.join(lake(dir), `as_of_date=${date}`)).sort();
      expect(files).toEqual(['_manifest.json', 'part-0.parquet']);
      const got = (await showPartition(filled, 'v', date)).result.rows;
      const keys = got.map((r) => r[0]);
      expect(new Set(keys).size).toBe(keys.length);
      // What build writes for the date, in a separate lake over the same data.
      await build(other, { asOf: date });
      expect(got).toEqual((await showPartition(other, 'v', date)).result.rows);
    }
    const lines = readFileSync(path.join(dir, '.asof/lake/_meta/runs.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1] ?? '{}').status).toBe('ok');
  }, 120_000);

  it('a second writer of the same view fails at once with exit 5 naming the holder', async () => {
    const dir = project();
    const lock = acquireLock(path.join(dir, '.asof/lake/v'), '.writer', 'test holder', new Date());
    try {
      const r = await runCli(['backfill', '--project', dir, '--from', '2025-01-10', '--to', '2025-01-11']);
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect(r.stderr).toContain('test holder');
    } finally {
      lock.release();
    }
    expect(
      (await runCli(['backfill', '--project', dir, '--from', '2025-01-10', '--to', '2025-01-11'])).code,
    ).toBe(0);
  }, 30_000);

  it.each([
    [['--from', '2025-01-14', '--to', '2025-01-10'], 'is after --to'],
    [['--from', '2025-02-30', '--to', '2025-03-10'], "--from '2025-02-30' is not a date"],
    [['--from', '2025-01-01', '--to', 'yesterday'], "--to 'yesterday' is not a date"],
    [['--from', '2015-01-01', '--to', '2025-12-31'], 'more than 3660'],
    [['--from', '2025-01-01', '--to', '2025-01-02', '--jobs', '0'], '--jobs'],
  ])('usage error %j exits 2', async (args, message) => {
    const dir = project(10);
    for (const cmd of ['backfill', 'plan']) {
      if (cmd === 'plan' && args.includes('--jobs')) continue;
      const r = await runCli([cmd, '--project', dir, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(existsSync(path.join(dir, '.asof'))).toBe(false);
  });

  it('asof gen writes deterministic data and a spec that backfills', async () => {
    const out = path.join(tempDir(), 'g');
    const args = [
      'gen',
      '--users',
      '50',
      '--events',
      '2000',
      '--days',
      '20',
      '--out',
      out,
      '--format',
      'csv',
    ];
    const r = await runCli([...args, '--seed', '7']);
    expect(r.code, r.stderr).toBe(0);
    const first = readFileSync(path.join(out, 'data/transactions.csv'), 'utf8');
    expect(first.split('\n').length).toBeGreaterThan(1000);
    expect((await runCli([...args, '--seed', '7'])).code).toBe(0);
    expect(readFileSync(path.join(out, 'data/transactions.csv'), 'utf8')).toBe(first);
    const b = await runCli(['backfill', '--project', out, '--from', '2025-06-25', '--to', '2025-06-30']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain('backfilled 18 partition(s)');
    expect((await runCli(['gen', '--users', 'many', '--out', out])).code).toBe(2);
  }, 60_000);
});
