// An offline micro-batch holding an event with a long text value (longer than read_csv's default
// 2 MB line) is made into Parquet as any other: a failed batch fails again on every replay.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../../src/engines/duckdb/engine.js';
import { writeEventRecordsParquet } from '../../../src/engines/duckdb/events-writer.js';
import type { Source } from '../../../src/spec/project.js';
import { OfflineStaging } from '../../../src/stream/offline.js';

const source = { name: 's', columns: { id: 'string', ts: 'timestamp', note: 'string' } } as unknown as Source;

let engine: DuckDbEngine;
let dir: string;
beforeAll(async () => {
  engine = await DuckDbEngine.open({ threads: 1 });
  dir = mkdtempSync(path.join(tmpdir(), 'asof-long-record-'));
});
afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('offline records', () => {
  it('of an event with a text value of several MB are written to Parquet', async () => {
    const staging = new OfflineStaging(dir, source);
    const long = `${'x'.repeat(3_000_000)}"é`;
    staging.add('2025-01-01', 0, { id: 'a', ts: 1735689600000, note: long });
    staging.add('2025-01-01', 1, { id: 'b', ts: 1735689600001, note: 'short' });
    const { files } = staging.cut();
    expect(files.map((f) => f.date)).toEqual(['2025-01-01']);
    const out = path.join(dir, 'out.parquet');
    await writeEventRecordsParquet(engine, source, files[0]?.file as string, out);
    const r = await engine.query(
      `SELECT _offset::VARCHAR AS o, id, length(note)::VARCHAR AS n, note = 'short' AS s FROM read_parquet('${out}') ORDER BY _offset`,
    );
    expect(r.rows).toEqual([
      ['0', 'a', String(long.length), false],
      ['1', 'b', '5', true],
    ]);
  });
});
