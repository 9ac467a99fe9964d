// The stream's offline micro-batches: events printed as CSV records (timestamps as epoch ms) into
// byte buffers, staged per event date and generation, and made into Parquet typed by the contract
// hold exactly the contract values: instants to the millisecond (before 1970 and up to 9999), text
// with quotes, commas, newlines and non-ASCII, NULL apart from the empty string, integers to 2^53,
// doubles to the last bit; several staging files read as one; records larger than the buffer.

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import {
  OfflineRecordPrinter,
  type RecordRow,
  writeEventRecordsParquet,
} from '../../src/engines/duckdb/events-writer.js';
import type { Source } from '../../src/spec/project.js';
import { OfflineStaging } from '../../src/stream/offline.js';

interface OfflineEvent {
  seq: number;
  row: RecordRow;
}

const source = {
  name: 's',
  columns: { id: 'string', ts: 'timestamp', n: 'int', x: 'double', b: 'bool', d: 'date' },
} as unknown as Source;

const printer = new OfflineRecordPrinter(source);
/** Records as the stream job prints them, as one byte buffer. */
function printed(events: OfflineEvent[]): Buffer {
  const buf = Buffer.alloc(1 << 16);
  let p = 0;
  for (const e of events) p = printer.print(buf, p, e.seq, e.row);
  return buf.subarray(0, p);
}

const events: OfflineEvent[] = [
  {
    seq: 2,
    row: {
      id: 'a"\\\n\r\n,\u2028é\u{1F600}"',
      ts: 1719705600123,
      n: 42,
      x: 0.1 + 0.2,
      b: true,
      d: '2025-01-02',
    },
  },
  { seq: 0, row: { id: '', ts: -34559999993, n: -9007199254740991, x: -1e-300, b: false, d: null } },
  {
    seq: 1,
    row: { id: null, ts: 253402300799999, n: 9007199254740991, x: 5e-324, b: null, d: '1970-01-01' },
  },
  { seq: 3, row: { id: ' NULL ', ts: 0, n: -0, x: -0, b: undefined, d: undefined } },
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

const orNull = (v: string | number | boolean | null | undefined) => (v === undefined ? null : v);
const expectedOf = (es: OfflineEvent[]) =>
  [...es]
    .sort((a, b) => a.seq - b.seq)
    .map((e) => [
      String(e.seq),
      orNull(e.row.id),
      String(e.row.ts),
      String(e.row.n === 0 ? 0 : e.row.n),
      e.row.x === 0 ? 0 : e.row.x,
      orNull(e.row.b),
      orNull(e.row.d),
    ]);

describe('offline micro-batches of the stream', () => {
  it('hold the contract values exactly, in sequence order', async () => {
    const csv = path.join(dir, 'one.csv');
    writeFileSync(csv, printed(events));
    const file = path.join(dir, 'one.parquet');
    await writeEventRecordsParquet(engine, source, csv, file);
    expect(await readBack(file)).toEqual(expectedOf(events));
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

  it('reads several staging files of printed records as one batch', async () => {
    const a = path.join(dir, 'a.csv');
    const b = path.join(dir, 'b.csv');
    writeFileSync(a, printed(events.slice(0, 1)));
    writeFileSync(b, printed(events.slice(1)));
    const file = path.join(dir, 'two.parquet');
    await writeEventRecordsParquet(engine, source, [a, b], file);
    expect(await readBack(file)).toEqual(expectedOf(events));
  });

  it('prints text as UTF-8 with quotes doubled (a lone surrogate as U+FFFD), numbers as String() does, and says when it does not fit', () => {
    const two = { ...source, columns: { id: 'string', x: 'double' } } as unknown as Source;
    const p = new OfflineRecordPrinter(two);
    const buf = Buffer.alloc(4096);
    // any text, and text made of what CSV and UTF-8 must handle (quotes, separators, surrogates)
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: fc.constantFrom('"', ',', '\n', '\r', 'a', 'é', '\u2028', '\ud83d', '\ude00') }),
    );
    const number = fc.oneof(
      fc.maxSafeInteger(),
      fc.integer({ min: -1e4, max: 1e4 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(text, fc.maxSafeInteger(), number, (s, seq, x) => {
        const end = p.print(buf, 5, seq, { id: s, x });
        const want = Buffer.from(`${seq},"${s.replaceAll('"', '""')}",${x}\n`);
        expect(buf.subarray(5, end).toString('latin1')).toBe(want.toString('latin1'));
        // one byte short of the room it needs: refused (the caller flushes or grows the buffer)
        expect(p.print(buf.subarray(0, end - 1), 5, seq, { id: s, x })).toBe(-1);
      }),
      { numRuns: 3000, seed: 3 },
    );
  });

  it('stages records per event date and generation, each generation complete at its cut', async () => {
    const stagingDir = path.join(dir, 'staging');
    mkdirSync(stagingDir);
    // a buffer of 64 bytes: most records flush it, and a long one outgrows it
    const staging = new OfflineStaging(stagingDir, source, 64);
    const long: OfflineEvent = { seq: 4, row: { ...events[0]?.row, id: 'é'.repeat(500) } };
    const first = [...events, long];
    for (const e of first) staging.add(e.seq % 2 === 0 ? '2025-01-02' : '2025-01-01', e.seq, e.row);
    const g0 = staging.cut();
    // the next generation goes to other files while the first batch reads its own
    const later: OfflineEvent[] = [{ seq: 5, row: events[1]?.row ?? {} }];
    staging.add('2025-01-02', 5, later[0]?.row ?? {});
    const g1 = staging.cut();
    expect(staging.cut()).toEqual({ generation: 2, files: [] });
    expect(g0.generation).toBe(0);
    expect(g0.files.map((f) => [f.date, path.basename(f.file)])).toEqual([
      ['2025-01-01', '2025-01-01.0.csv'],
      ['2025-01-02', '2025-01-02.0.csv'],
    ]);
    expect(g1.files.map((f) => path.basename(f.file))).toEqual(['2025-01-02.1.csv']);
    const out = path.join(dir, 'g0.parquet');
    await writeEventRecordsParquet(engine, source, g0.files[1]?.file as string, out);
    expect(await readBack(out)).toEqual(expectedOf(first.filter((e) => e.seq % 2 === 0)));
    await writeEventRecordsParquet(
      engine,
      source,
      g0.files.map((f) => f.file),
      out,
    );
    expect(await readBack(out)).toEqual(expectedOf(first));
    await writeEventRecordsParquet(engine, source, g1.files[0]?.file as string, out);
    expect(await readBack(out)).toEqual(expectedOf([{ seq: 5, row: later[0]?.row ?? {} }]));
    staging.add('2025-01-03', 6, events[1]?.row ?? {});
    staging.close();
    expect(readdirSync(stagingDir).sort()).toEqual([
      '2025-01-01.0.csv',
      '2025-01-02.0.csv',
      '2025-01-02.1.csv',
    ]);
  });

  it('keeps few dates open at once: a batch over many dates appends to the files it closed', async () => {
    const stagingDir = path.join(dir, 'many');
    mkdirSync(stagingDir);
    const staging = new OfflineStaging(stagingDir, source);
    const dates = Array.from({ length: 20 }, (_, i) => `2025-02-${String(i + 1).padStart(2, '0')}`);
    // 20 dates in turn, three rounds: each date's slot is closed and opened again in between
    const all = Array.from({ length: 60 }, (_, seq) => ({ seq, row: { ...events[0]?.row, n: seq } }));
    for (const e of all) staging.add(dates[e.seq % 20] as string, e.seq, e.row);
    const g = staging.cut();
    expect(g.files.map((f) => f.date)).toEqual(dates);
    for (const [i, f] of g.files.entries()) {
      const out = path.join(dir, `many-${i}.parquet`);
      await writeEventRecordsParquet(engine, source, f.file, out);
      expect(await readBack(out)).toEqual(expectedOf(all.filter((e) => e.seq % 20 === i)));
    }
    expect(readdirSync(stagingDir)).toHaveLength(20);
  });
});
