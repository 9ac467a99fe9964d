// The stream's offline micro-batches: events printed as JSON lines (timestamps as epoch ms) and
// made into Parquet typed by the contract hold exactly the contract values: instants to the
// millisecond (before 1970 and up to 9999), text with quotes, newlines and non-ASCII, NULL apart
// from the empty string, integers to 2^53, doubles to the last bit; several staging files read as one.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { offlineLinePrinter, writeEventLinesParquet } from '../../src/engines/duckdb/events-writer.js';
import type { Source } from '../../src/spec/project.js';

interface OfflineEvent {
  seq: number;
  ts: number;
  row: Readonly<Record<string, string | number | boolean | null | undefined>>;
}

/** The events printed as the stream job prints them, into one staging file, then one micro-batch. */
async function writeEventsParquet(
  engine: DuckDbEngine,
  source: Source,
  events: OfflineEvent[],
  file: string,
): Promise<void> {
  const print = offlineLinePrinter(source);
  const jsonl = `${file}.jsonl`;
  writeFileSync(jsonl, `${events.map((e) => print(e.seq, e.row)).join('\n')}\n`);
  await writeEventLinesParquet(engine, source, jsonl, file);
}

const source = {
  name: 's',
  columns: { id: 'string', ts: 'timestamp', n: 'int', x: 'double', b: 'bool', d: 'date' },
} as unknown as Source;

const events: OfflineEvent[] = [
  {
    seq: 2,
    ts: 0,
    row: { id: 'a"\\\n\u2028é\u{1F600}', ts: 1719705600123, n: 42, x: 0.1 + 0.2, b: true, d: '2025-01-02' },
  },
  { seq: 0, ts: 0, row: { id: '', ts: -34559999993, n: -9007199254740991, x: -1e-300, b: false, d: null } },
  {
    seq: 1,
    ts: 0,
    row: { id: null, ts: 253402300799999, n: 9007199254740991, x: 5e-324, b: null, d: '1970-01-01' },
  },
];

let engine: DuckDbEngine;
let dir: string;
beforeAll(async () => {
  engine = await DuckDbEngine.open({ threads: 1 });
  dir = mkdtempSync(path.join(tmpdir(), 'asof-offline-lines-'));
});
afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

async function readBack(file: string) {
  const r = await engine.query(
    `SELECT _offset::VARCHAR, id, epoch_ms(ts)::VARCHAR, n::VARCHAR, x, b, d::VARCHAR FROM read_parquet('${file}')`,
  );
  return r.rows;
}

const expected = [...events]
  .sort((a, b) => a.seq - b.seq)
  .map((e) => [String(e.seq), e.row.id, String(e.row.ts), String(e.row.n), e.row.x, e.row.b, e.row.d]);

describe('offline micro-batches of the stream', () => {
  it('hold the contract values exactly, in sequence order', async () => {
    const file = path.join(dir, 'one.parquet');
    await writeEventsParquet(engine, source, events, file);
    expect(await readBack(file)).toEqual(expected);
    const types = await engine.query(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
    expect(types.rows.map((r) => `${r[0]} ${r[1]}`)).toEqual([
      '_offset BIGINT',
      'id VARCHAR',
      'ts TIMESTAMP WITH TIME ZONE',
      'n BIGINT',
      'x DOUBLE',
      'b BOOLEAN',
      'd DATE',
    ]);
  });

  it('reads several staging files of printed lines as one batch', async () => {
    const print = offlineLinePrinter(source);
    const a = path.join(dir, 'a.jsonl');
    const b = path.join(dir, 'b.jsonl');
    writeFileSync(a, `${print(events[0]?.seq as number, events[0]?.row ?? {})}\n`);
    writeFileSync(
      b,
      `${events
        .slice(1)
        .map((e) => print(e.seq, e.row))
        .join('\n')}\n`,
    );
    const file = path.join(dir, 'two.parquet');
    await writeEventLinesParquet(engine, source, [a, b], file);
    expect(await readBack(file)).toEqual(expected);
  });
});
