// Data contracts at extract: accepted schema changes (new column, widening) pass with a notice and
// land in the schema history; breaking ones (missing column, lossy type change) fail with exit 3
// before anything is written; rows breaking the contract are quarantined and counted.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, showCsv, spec } from '../support/project.js';

/** Writes a real Parquet file from a DuckDB SELECT. */
async function parquet(file: string, select: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (${select}) TO '${file}' (FORMAT parquet)`);
  conn.closeSync();
  db.closeSync();
}

function yaml(opts: { path: string; columns: Record<string, string>; extra?: string[] }): string {
  return spec({
    path: opts.path,
    columns: opts.columns,
    sourceExtra: opts.extra,
    features: { n: '{ agg: count, window: 7d }', total: '{ agg: sum, column: amount, window: 7d }' },
  });
}

const COLS = { user_id: 'string', event_ts: 'timestamp', amount: 'double' };
const ROWS = `SELECT * FROM (VALUES ('u1', TIMESTAMP '2025-01-05 10:00:00', 10.5), ('u2', TIMESTAMP '2025-01-06 11:00:00', 3.0)) t(user_id, event_ts, amount)`;

/** Every file under a folder with its bytes, to prove nothing changed (the run history, which
 * records the failed run, aside). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && e.name !== 'runs.jsonl') {
      const full = path.join(e.parentPath, e.name);
      out[path.relative(dir, full)] = readFileSync(full).toString('base64');
    }
  }
  return out;
}

const build = (dir: string, date = '2025-01-10') => runCli(['build', '--project', dir, '--as-of', date]);

describe('schema evolution at extract', () => {
  it('a new column in a Parquet file passes with a notice and is recorded in the schema history', async () => {
    const dir = makeProject({ 'asof.yaml': yaml({ path: 'data/*.parquet', columns: COLS }) });
    await parquet(path.join(dir, 'data/a.parquet'), ROWS);
    expect((await build(dir)).code).toBe(0);
    await parquet(path.join(dir, 'data/b.parquet'), `SELECT *, 'web' AS channel FROM (${ROWS})`);
    const r = await build(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("new column 'channel' (VARCHAR)");
    expect(r.stderr).toContain('b.parquet');
    const h = await runCli(['schema', 'history', '--project', dir, '--source', 'events', '--format', 'json']);
    const recs = JSON.parse(h.stdout) as {
      columns: { name: string }[];
      new_columns: string[];
      first_file: string;
    }[];
    expect(recs).toHaveLength(2);
    expect(recs[0]?.new_columns).toEqual([]);
    expect(recs[1]?.new_columns).toEqual(['channel']);
    expect(recs[1]?.first_file).toContain('b.parquet');
    // The same schemas seen again are not recorded twice.
    expect((await build(dir)).code).toBe(0);
    const again = await runCli(['schema', 'history', '--project', dir, '--format', 'json']);
    expect(JSON.parse(again.stdout)).toHaveLength(2);
  });

  it('an int column widened to double passes; whole values read, a fractional one is rejected', async () => {
    const dir = makeProject({
      'asof.yaml': yaml({ path: 'data/e.parquet', columns: { ...COLS, qty: 'int' } }),
    });
    await parquet(path.join(dir, 'data/e.parquet'), `SELECT *, 2.0::DOUBLE AS qty FROM (${ROWS})`);
    const r = await build(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("column 'qty' widened from int to DOUBLE");
    await parquet(path.join(dir, 'data/e.parquet'), `SELECT *, 2.5::DOUBLE AS qty FROM (${ROWS})`);
    const bad = await build(dir);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain("column qty: cannot read '2.5' as int");
  });

  it('a dropped column fails with exit 3 before anything is written, naming column, expected, found, file and the fix', async () => {
    const dir = makeProject({ 'asof.yaml': yaml({ path: 'data/e.parquet', columns: COLS }) });
    await parquet(
      path.join(dir, 'data/e.parquet'),
      "SELECT 'u1' AS user_id, TIMESTAMP '2025-01-05 10:00:00' AS event_ts",
    );
    const r = await build(dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("column 'amount': expected double, found nothing (missing)");
    expect(r.stderr).toContain('e.parquet');
    expect(r.stderr).toContain('sources.events.columns');
    expect(r.stderr).toContain('transformation_version');
    expect(Object.keys(snapshot(path.join(dir, '.asof')))).toEqual([]);
  });

  it('lossy type changes (double -> string, timestamp -> string) fail with exit 3 in one message; the lake stays byte-for-byte', async () => {
    const dir = makeProject({ 'asof.yaml': yaml({ path: 'data/e.parquet', columns: COLS }) });
    await parquet(path.join(dir, 'data/e.parquet'), ROWS);
    expect((await build(dir)).code).toBe(0);
    const lake = path.join(dir, '.asof/lake');
    const before = snapshot(lake);
    await parquet(
      path.join(dir, 'data/e.parquet'),
      `SELECT user_id, event_ts::VARCHAR AS event_ts, amount::VARCHAR AS amount FROM (${ROWS})`,
    );
    const r = await build(dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('2 difference(s)');
    expect(r.stderr).toContain("column 'event_ts': expected timestamp, found VARCHAR");
    expect(r.stderr).toContain("column 'amount': expected double, found VARCHAR");
    expect(snapshot(lake)).toEqual(before);
  });

  it('a renamed column is reported as missing, with the likely new name', async () => {
    const dir = makeProject({ 'asof.yaml': yaml({ path: 'data/e.csv', columns: COLS }) });
    mkdirSync(path.join(dir, 'data'));
    writeFileSync(path.join(dir, 'data/e.csv'), 'user_id,event_ts,amt\nu1,2025-01-05T10:00:00,1\n');
    const r = await build(dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      "column 'amount': expected double, found nothing (missing) (renamed to 'amt'?)",
    );
  });
});

describe('row quarantine', () => {
  // 10 rows, 3 breaking the contract: an unparsable timestamp, an unparsable number, a null key.
  const CSV = [
    'user_id,event_ts,amount',
    'u1,2025-01-05T10:00:00,1',
    'u1,2025-01-06T10:00:00,2',
    'u2,not a time,3',
    'u2,2025-01-07T10:00:00,4',
    'u3,2025-01-07T11:00:00,five',
    ',2025-01-07T12:00:00,6',
    'u3,2025-01-08T10:00:00,7',
    'u4,2025-01-08T11:00:00,8',
    'u4,2025-01-09T10:00:00,9',
    'u5,2025-01-09T11:00:00,10',
    '',
  ].join('\n');

  it('under max_reject_rate, bad rows go to _rejected/<source>/ with their reason and are counted; the rest is built', async () => {
    const dir = makeProject({
      'asof.yaml': yaml({ path: 'data/e.csv', columns: COLS, extra: ['max_reject_rate: 0.3'] }),
      'data/e.csv': CSV,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10', '--log-format', 'json']);
    expect(r.stderr).toContain('3 of 10 row(s) quarantined');
    expect(r.code).toBe(0);
    const qdir = path.join(dir, '.asof/lake/_rejected/events');
    const files = readdirSync(qdir);
    expect(files).toHaveLength(1);
    const lines = readFileSync(path.join(qdir, files[0] ?? ''), 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe('file,line,reason,user_id,event_ts,amount');
    expect(lines.slice(1).map((l) => l.split(',').slice(1, 3).join(','))).toEqual([
      "4,column event_ts: cannot read 'not a time' as timestamp",
      "6,column amount: cannot read 'five' as double",
      '7,column user_id: the entity key is empty',
    ]);
    const extract = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.stage === 'extract');
    expect(extract).toMatchObject({ rows_in: 10, rows_out: 7, rejected: 3 });
    const s = await showCsv(dir, '2025-01-10');
    expect(s.stdout).toBe(
      'user_id,as_of_date,n,total\nu1,2025-01-10,2,3\nu2,2025-01-10,1,4\nu3,2025-01-10,1,7\nu4,2025-01-10,2,17\nu5,2025-01-10,1,10\n',
    );
  });

  it('above max_reject_rate the run fails with exit 3, nothing is published, the rejects are still kept for inspection', async () => {
    const dir = makeProject({
      'asof.yaml': yaml({ path: 'data/e.csv', columns: COLS, extra: ['max_reject_rate: 0.2'] }),
      'data/e.csv': CSV,
    });
    const r = await build(dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('3 of 10 rows (30.00%) > max_reject_rate 0.2');
    expect(existsSync(path.join(dir, '.asof/lake/v/v1'))).toBe(false);
    const q = path.join(dir, '.asof/lake/_rejected/events');
    expect(
      readFileSync(path.join(q, readdirSync(q)[0] ?? ''), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(4);
  });
});
