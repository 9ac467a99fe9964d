// Faults of the batch lake: kill -9 during build and backfill at seeded random points (the lake
// then equals the before-state or a clean run, never a mix), a rerun that changes nothing, two
// backfills at once, a stale lock, a full disk (a small tmpfs) during a partition write, and a
// corrupted Parquet file (detected by the manifest's sha256, reported, rebuilt by backfill).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { eventsCsv, killWhen, seeded, snapshotFiles } from '../support/faults.js';
import { makeProject, REPO_ROOT, runCli, spec, tempDir } from '../support/project.js';

const FEATURES = {
  n: '{ agg: count, window: 7d }',
  s: '{ agg: sum, column: amount, window: 30d }',
  last_amount: '{ agg: last, column: amount, window: all }',
};
const lake = (dir: string) => path.join(dir, '.asof', 'lake', 'v', 'v1');
const dates = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `2025-01-${String(from + i).padStart(2, '0')}`);

/** Every published partition's rows (in-process reads: a CLI per date is slow on 2 cores). */
async function lakeRows(dir: string, ds: string[]): Promise<Record<string, unknown[][] | null>> {
  const project = await loadProject(dir);
  const out: Record<string, unknown[][] | null> = {};
  for (const d of ds) {
    out[d] = existsSync(path.join(lake(dir), `as_of_date=${d}`))
      ? (await showPartition(project, 'v', d)).result.rows
      : null;
  }
  return out;
}

/**
 * No half-written partition is published: only complete partition folders. A killed writer may
 * leave its staging folder (never read); the next writer's recovery removes it (`clean`).
 */
function onlyCompletePartitions(dir: string, clean = true): void {
  if (!existsSync(lake(dir))) return;
  for (const e of readdirSync(lake(dir))) {
    if (e === '.staging' || e === '.trash') {
      if (clean) expect(readdirSync(path.join(lake(dir), e)), `${e} is empty`).toEqual([]);
      continue;
    }
    expect(readdirSync(path.join(lake(dir), e)).sort()).toEqual(['_manifest.json', 'part-0.parquet']);
  }
}

describe('lake faults', () => {
  it('kill -9 during build at random points: the partition is the old one or the clean new one', async () => {
    const rnd = seeded(12);
    const small = eventsCsv(20_000, 4000);
    const dir = makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': small });
    const args = ['build', '--project', dir, '--as-of', '2025-01-28'];
    expect((await runCli(args)).code).toBe(0);
    const before = await lakeRows(dir, ['2025-01-28']);
    const bigger = eventsCsv(150_000, 4000, 100);
    const clean = makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': bigger });
    expect((await runCli(['build', '--project', clean, '--as-of', '2025-01-28'])).code).toBe(0);
    const after = await lakeRows(clean, ['2025-01-28']);
    writeFileSync(path.join(dir, 'data/events.csv'), bigger);
    const seen = new Set<string>();
    const staging = path.join(lake(dir), '.staging');
    for (let i = 0; i < 3; i++) {
      // once the new partition is being written (its staging folder exists), 0-60 ms later
      const ms = Math.floor(rnd() * 60);
      const code = await killWhen(args, () => readdirSync(staging).length > 0, ms);
      const now = await lakeRows(dir, ['2025-01-28']);
      const state = isDeepStrictEqual(now, before) ? 'before' : 'after';
      if (state === 'after') expect(now).toEqual(after);
      seen.add(`staging+${ms}ms:${code === null ? 'killed' : code}:${state}`);
      onlyCompletePartitions(dir, false);
      if (state === 'after') {
        // back to the old partition, so that the next kill point starts from it again
        writeFileSync(path.join(dir, 'data/events.csv'), small);
        expect((await runCli(args)).code).toBe(0);
        expect(await lakeRows(dir, ['2025-01-28'])).toEqual(before);
        writeFileSync(path.join(dir, 'data/events.csv'), bigger);
      }
    }
    expect((await runCli(args)).code).toBe(0);
    expect(await lakeRows(dir, ['2025-01-28'])).toEqual(after);
    console.log(`build kill points: ${[...seen].join(', ')}`);
  }, 150_000);

  it('kill -9 during backfill at random points: published partitions equal a clean run, the rerun completes it', async () => {
    const rnd = seeded(34);
    const csv = eventsCsv(40_000, 3000);
    const dir = makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': csv });
    const clean = makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': csv });
    const range = ['--from', '2025-01-01', '--to', '2025-01-28', '--chunk-days', '3'];
    expect((await runCli(['backfill', '--project', clean, ...range])).code).toBe(0);
    const all = dates(1, 28);
    const want = await lakeRows(clean, all);
    const points: string[] = [];
    const published = () =>
      existsSync(lake(dir)) ? readdirSync(lake(dir)).filter((e) => e.startsWith('as_of_date=')).length : 0;
    for (let i = 0; i < 3; i++) {
      // once k more partitions are published (k seeded in 1..8), 0-50 ms later
      const k = published() + 1 + Math.floor(rnd() * 8);
      const ms = Math.floor(rnd() * 50);
      const code = await killWhen(['backfill', '--project', dir, ...range], () => published() >= k, ms);
      const got = await lakeRows(dir, all);
      const done = all.filter((d) => got[d] !== null);
      points.push(`${k}+${ms}ms:${code === null ? 'killed' : code}:${done.length} published`);
      for (const d of done) expect(got[d], d).toEqual(want[d]);
      onlyCompletePartitions(dir, false);
    }
    const rerun = await runCli(['backfill', '--project', dir, ...range]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await lakeRows(dir, all)).toEqual(want);
    onlyCompletePartitions(dir);
    console.log(`backfill kill points: ${points.join(', ')}`);
  }, 150_000);

  it('a rerun with the same version changes nothing (files, manifests and bytes)', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features: FEATURES }),
      'data/events.csv': eventsCsv(5000, 300),
    });
    const range = ['backfill', '--project', dir, '--from', '2025-01-10', '--to', '2025-01-14'];
    expect((await runCli(range)).code).toBe(0);
    const before = snapshotFiles(lake(dir));
    const again = await runCli(range);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('backfilled 0 partition(s)');
    expect(snapshotFiles(lake(dir))).toEqual(before);
    expect((await runCli(['build', '--project', dir, '--as-of', '2025-01-12'])).code).toBe(0);
    // a build rewrites its partition, with the same rows
    const rebuilt = snapshotFiles(lake(dir));
    expect(rebuilt['as_of_date=2025-01-12/part-0.parquet']).toBe(
      before['as_of_date=2025-01-12/part-0.parquet'],
    );
  }, 60_000);

  it('two backfills of one view at once: one commits, the other exits 5; files never mix', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features: FEATURES }),
      'data/events.csv': eventsCsv(60_000, 3000),
    });
    const args = ['backfill', '--project', dir, '--from', '2025-01-01', '--to', '2025-01-28'];
    const run = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        c.stderr.on('data', (d) => {
          stderr += d;
        });
        c.on('close', (code) => resolve({ code, stderr }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 5]);
    const loser = a.code === 5 ? a : b;
    expect(loser.stderr).toMatch(/is locked by pid \d+/);
    expect(loser.stderr).not.toMatch(/\n\s+at /); // no stack trace
    onlyCompletePartitions(dir);
    expect(readdirSync(lake(dir)).filter((e) => e.startsWith('as_of_date='))).toHaveLength(28);
    const v = await runCli(['validate', '--project', dir]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain('28 partition(s) match their manifest');
  }, 120_000);

  it('a lock left by a killed process is taken over; one held on another host is reported (exit 5)', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features: FEATURES }),
      'data/events.csv': eventsCsv(2000, 100),
    });
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid as number;
    const lockFile = path.join(dir, '.asof', 'lake', 'v', '.writer.lock');
    mkdirSync(path.dirname(lockFile), { recursive: true });
    const host = readFileSync('/proc/sys/kernel/hostname', 'utf8').trim();
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: dead, host, command: 'backfill (killed)', started_at: '2025-01-01T00:00:00Z' }),
    );
    const args = ['backfill', '--project', dir, '--from', '2025-01-10', '--to', '2025-01-11'];
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: 1, host: 'elsewhere', command: 'backfill', started_at: '2025-01-01T00:00:00Z' }),
    );
    const held = await runCli([...args, '--force']);
    expect(held.code).toBe(5);
    expect(held.stderr).toContain('locked by pid 1 on elsewhere');
    expect(held.stderr).toContain('delete the lock file');
  }, 60_000);

  describe('a full disk during a partition write (tmpfs)', () => {
    const mnt = path.join(tempDir(), 'small-disk');
    mkdirSync(mnt);
    afterAll(() => {
      spawnSync('umount', [mnt]);
    });
    it('fails with a clear error, keeps the old partition and leaves no staging behind', async () => {
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
      expect(m.status, `mount a small tmpfs (the fault suite runs as root): ${m.stderr}`).toBe(0);
      const dir = makeProject({
        'asof.yaml': `${spec({ features: FEATURES })}storage:\n  offline: ${mnt}/lake\n`,
        'data/events.csv': eventsCsv(3000, 200),
      });
      const args = ['build', '--project', dir, '--as-of', '2025-01-28'];
      expect((await runCli(args)).code).toBe(0);
      const project = await loadProject(dir);
      const before = (await showPartition(project, 'v', '2025-01-28')).result.rows;
      writeFileSync(path.join(dir, 'data/events.csv'), eventsCsv(300_000, 300_000, 50));
      const full = await runCli(args);
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(/^error: .*part-0\.parquet: no space left on device\n\s+hint: free space/);
      expect(full.stderr).not.toMatch(/\n\s+at /);
      expect(full.stderr).not.toMatch(/unexpected error/);
      expect((await showPartition(project, 'v', '2025-01-28')).result.rows).toEqual(before);
      const vdir = path.join(mnt, 'lake', 'v', 'v1');
      for (const e of readdirSync(vdir)) {
        if (e.startsWith('.')) expect(readdirSync(path.join(vdir, e))).toEqual([]);
      }
    }, 60_000);
  });

  it('a corrupted Parquet file: plan, show and validate name it (exit 3), backfill rebuilds it', async () => {
    const dir = makeProject({
      'asof.yaml': spec({ features: FEATURES }),
      'data/events.csv': eventsCsv(5000, 300),
    });
    const range = ['--project', dir, '--from', '2025-01-10', '--to', '2025-01-12'];
    expect((await runCli(['backfill', ...range])).code).toBe(0);
    const want = await lakeRows(dir, dates(10, 12));
    const file = path.join(lake(dir), 'as_of_date=2025-01-11', 'part-0.parquet');
    const bytes = readFileSync(file);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff; // one flipped byte, same size
    writeFileSync(file, bytes);

    const plan = await runCli(['plan', ...range]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(
      /build\s+v v1 as_of_date=2025-01-11\s+corrupt \(checksum mismatch\): data file part-0.parquet: sha256/,
    );
    expect(plan.stdout).toContain('1 to build');
    const show = await runCli(['show', '--project', dir, '--view', 'v', '--as-of', '2025-01-11']);
    expect(show.code).toBe(3);
    expect(show.stderr).toContain(file);
    expect(show.stderr).toContain('is corrupt');
    expect(show.stderr).toContain('asof backfill --from 2025-01-11 --to 2025-01-11 --view v');
    const val = await runCli(['validate', '--project', dir]);
    expect(val.code).toBe(3);
    expect(val.stderr).toContain('as of 2025-01-11 is corrupt');
    // a truncated file is named too
    writeFileSync(path.join(lake(dir), 'as_of_date=2025-01-12', 'part-0.parquet'), bytes.subarray(0, 100));
    expect((await runCli(['plan', ...range])).stdout).toMatch(
      /2025-01-12\s+corrupt.*100 bytes, the manifest says/,
    );

    const fixed = await runCli(['backfill', ...range]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain('backfilled 2 partition(s)');
    expect(await lakeRows(dir, dates(10, 12))).toEqual(want);
    expect((await runCli(['validate', '--project', dir])).code).toBe(0);
  }, 150_000);
});
