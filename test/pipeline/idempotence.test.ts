// Partitions are replaced, never appended; a build that dies before the swap leaves the previous
// partition intact; a second writer of the same view is refused with the holder named.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AsofError } from '../../src/errors.js';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { acquireLock } from '../../src/storage/lake/lock.js';
import { readablePartitionDir, recover } from '../../src/storage/lake/partition.js';
import { partitionDir, trashDir, viewDir } from '../../src/storage/lake/paths.js';
import { toObjects } from '../support/build.js';
import { makeProject, spec } from '../support/project.js';

function project1() {
  return makeProject({
    'asof.yaml': spec({
      features: { n: '{ agg: count, window: 7d }', s: '{ agg: sum, column: amount, window: 7d }' },
    }),
    'data/events.csv':
      'user_id,event_ts,amount,status\nu1,2025-01-05T10:00:00,10,success\nu2,2025-01-06T10:00:00,5,success\n',
  });
}

async function rowsOf(dir: string) {
  const p = await loadProject(dir);
  const s = await showPartition(p, 'v', '2025-01-10');
  return toObjects(s.result.columns, s.result.rows);
}

describe('idempotent, atomic partitions', () => {
  it('a rerun replaces the partition: same rows, one data file, no duplicates', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    await build(p, { asOf: '2025-01-10' });
    const first = await rowsOf(dir);
    await build(p, { asOf: '2025-01-10' });
    const second = await rowsOf(dir);
    expect(second).toEqual(first);
    expect(second).toHaveLength(2);
    const part = partitionDir(p.storage.offline, 'v', 1, '2025-01-10');
    expect(readdirSync(part).sort()).toEqual(['_manifest.json', 'part-0.parquet']);
    expect(readdirSync(path.dirname(part)).filter((e) => !e.startsWith('.'))).toEqual([
      'as_of_date=2025-01-10',
    ]);
  });

  it('records what built the partition in its manifest', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    const [b] = await build(p, { asOf: '2025-01-10' });
    const m = JSON.parse(readFileSync(path.join(b!.dir, '_manifest.json'), 'utf8'));
    expect(m).toMatchObject({
      view: 'v',
      feature_version: 1,
      transformation_version: p.views.v!.transformationVersion,
      as_of_date: '2025-01-10',
      cutoff: '2025-01-11T00:00:00.000Z',
      rows_read: 2,
      rows_written: 2,
      engine: 'duckdb',
    });
    expect(m.source.files[0]).toMatchObject({ path: path.join(dir, 'data/events.csv') });
    expect(m.data_files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a build that fails after writing data but before the swap leaves the old partition as it was', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    await build(p, { asOf: '2025-01-10' });
    const before = await rowsOf(dir);
    writeFileSync(
      path.join(dir, 'data/events.csv'),
      'user_id,event_ts,amount,status\nu9,2025-01-05T10:00:00,1,success\n',
    );
    await expect(
      build(p, {
        asOf: '2025-01-10',
        beforeSwap: () => {
          throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await rowsOf(dir)).toEqual(before);
    expect(readdirSync(path.join(p.storage.offline, 'v', 'v1', '.staging'))).toEqual([]);
  });

  it('recover() puts back a partition caught between the two renames of a swap', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    await build(p, { asOf: '2025-01-10' });
    const before = await rowsOf(dir);
    const final = partitionDir(p.storage.offline, 'v', 1, '2025-01-10');
    const trash = trashDir(p.storage.offline, 'v', 1, '2025-01-10', 'deadrun');
    mkdirSync(path.dirname(trash), { recursive: true });
    renameSync(final, trash); // the crash happened right after the first rename
    expect(
      readablePartitionDir({ offline: p.storage.offline, view: 'v', version: 1, asOfDate: '2025-01-10' }),
    ).toBe(trash);
    expect(await rowsOf(dir)).toEqual(before); // readers still see the old partition
    expect(recover(p.storage.offline, 'v', 1).restored).toEqual([final]);
    expect(existsSync(final)).toBe(true);
    expect(await rowsOf(dir)).toEqual(before);
  });

  it('a second writer of the same view fails at once with the lock code, naming the holder', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    const lock = acquireLock(viewDir(p.storage.offline, 'v'), '.writer', 'backfill (test)', new Date());
    try {
      const err = await build(p, { asOf: '2025-01-10' }).catch((e) => e);
      expect(err).toBeInstanceOf(AsofError);
      expect((err as AsofError).exitCode).toBe(5);
      expect((err as AsofError).message).toContain(`pid ${process.pid}`);
    } finally {
      lock.release();
    }
    await build(p, { asOf: '2025-01-10' });
  });

  it('a lock left by a dead process is taken over', async () => {
    const dir = project1();
    const p = await loadProject(dir);
    const lockFile = path.join(viewDir(p.storage.offline, 'v'), '.writer.lock');
    mkdirSync(path.dirname(lockFile), { recursive: true });
    writeFileSync(
      lockFile,
      JSON.stringify({
        pid: 2 ** 22 + 17,
        host: (await import('node:os')).hostname(),
        command: 'build',
        started_at: '2025-01-01T00:00:00Z',
      }),
    );
    const built = await build(p, { asOf: '2025-01-10' });
    expect(built).toHaveLength(1);
    expect(existsSync(lockFile)).toBe(false);
  });
});
