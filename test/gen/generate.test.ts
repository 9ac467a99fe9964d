// Pins the synthetic data generator: same seed gives the same bytes, the documented shapes and
// domains hold, and the asof.yaml it writes parses and points at the files it wrote.

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AsofError } from '../../src/errors.js';
import { type GenOptions, type GenResult, generate } from '../../src/gen/index.js';

const base: Omit<GenOptions, 'out'> = {
  users: 200,
  events: 20_000,
  days: 10,
  endDate: '2025-01-31',
  seed: 42,
  format: 'csv',
};
const FIRST_DAY = '2025-01-22';
const SOURCES = ['transactions', 'support_tickets', 'clicks'] as const;

let root: string;
let csvA: GenResult;
let csvB: GenResult;
let csvOtherSeed: GenResult;
let parquet: GenResult;
let db: DuckDBInstance;
let conn: DuckDBConnection;

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjectsJS() as Record<string, unknown>[];
}

function fileOf(result: GenResult, source: string): string {
  const f = result.files.find((x) => x.source === source);
  if (!f) throw new Error(`no ${source} file`);
  return f.path;
}

function csv(result: GenResult, source: string): string {
  return `read_csv('${fileOf(result, source)}', header = true, timestampformat = '%Y-%m-%dT%H:%M:%S')`;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'asof-gen-test-'));
  csvA = await generate({ ...base, out: join(root, 'a') });
  csvB = await generate({ ...base, out: join(root, 'b') });
  csvOtherSeed = await generate({ ...base, seed: 43, out: join(root, 'c') });
  parquet = await generate({ ...base, format: 'parquet', out: join(root, 'p') });
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
}, 60_000);

afterAll(async () => {
  conn?.closeSync();
  db?.closeSync();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('generate: determinism', () => {
  it('writes byte-identical CSV files for the same seed', async () => {
    for (const source of SOURCES) {
      const a = await readFile(fileOf(csvA, source));
      const b = await readFile(fileOf(csvB, source));
      expect(a.equals(b), source).toBe(true);
    }
  });

  it('writes different data for a different seed', async () => {
    for (const source of SOURCES) {
      const a = await readFile(fileOf(csvA, source), 'utf8');
      const c = await readFile(fileOf(csvOtherSeed, source), 'utf8');
      expect(a === c, source).toBe(false);
    }
  });

  it('writes the same rows to Parquet as to CSV', async () => {
    const [diff] = await rows(
      `SELECT count(*) AS n FROM (
         (SELECT * FROM ${csv(csvA, 'transactions')} EXCEPT ALL SELECT * FROM '${fileOf(parquet, 'transactions')}')
         UNION ALL
         (SELECT * FROM '${fileOf(parquet, 'transactions')}' EXCEPT ALL SELECT * FROM ${csv(csvA, 'transactions')}))`,
    );
    expect(diff?.n).toBe(0n);
  });
});

describe('generate: files and row counts', () => {
  it('writes the three sources under data/ with the requested sizes', async () => {
    expect(csvA.files.map((f) => [f.source, f.rows])).toEqual([
      ['transactions', 20_000],
      ['support_tickets', 1_000],
      ['clicks', 10_000],
    ]);
    for (const f of csvA.files) {
      expect(f.path).toBe(join(root, 'a', 'data', `${f.source}.csv`));
      const [count] = await rows(`SELECT count(*) AS n FROM ${csv(csvA, f.source)}`);
      expect(count?.n).toBe(BigInt(f.rows));
    }
    expect(csvA.specPath).toBe(join(root, 'a', 'asof.yaml'));
    expect(existsSync(join(root, 'a', 'data', 'transactions.csv.tmp-' + process.pid))).toBe(false);
  });

  it('writes timestamps as YYYY-MM-DDTHH:MM:SS local time without offset', async () => {
    const text = await readFile(fileOf(csvA, 'transactions'), 'utf8');
    const [header, first] = text.split('\n');
    expect(header).toBe('txn_id,user_id,event_ts,amount,status,category,ingested_at');
    const cells = (first ?? '').split(',');
    expect(cells[2]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(cells[6]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  });
});

describe('generate: value domains', () => {
  it('keeps transactions within their documented domains', async () => {
    const [t] = await rows(`
      SELECT count(*) AS n,
        count(DISTINCT txn_id) AS ids,
        count(*) FILTER (WHERE status NOT IN ('success', 'failed', 'refunded')) AS bad_status,
        count(*) FILTER (WHERE status = 'success') AS success,
        count(*) FILTER (WHERE amount < 0) AS negative,
        count(*) FILTER (WHERE amount IS NULL) AS null_amount,
        count(*) FILTER (WHERE amount <> round(amount, 2)) AS unrounded,
        min(event_ts)::DATE::VARCHAR AS first_day, max(event_ts)::DATE::VARCHAR AS last_day,
        count(*) FILTER (WHERE ingested_at < event_ts) AS ingested_before_event,
        count(*) FILTER (WHERE ingested_at >= event_ts + INTERVAL 1 DAY) AS late,
        count(*) FILTER (WHERE ingested_at > event_ts + INTERVAL 3 DAY) AS too_late,
        count(DISTINCT category) AS categories,
        count(*) FILTER (WHERE NOT regexp_full_match(user_id, 'u[0-9]{3}')
          OR user_id[2:]::INT NOT BETWEEN 1 AND ${base.users}) AS bad_user
      FROM ${csv(csvA, 'transactions')}`);
    expect(t).toMatchObject({
      n: 20_000n,
      ids: 20_000n,
      bad_status: 0n,
      negative: 0n,
      unrounded: 0n,
      first_day: FIRST_DAY,
      last_day: base.endDate,
      ingested_before_event: 0n,
      too_late: 0n,
      categories: 8n,
      bad_user: 0n,
    });
    // Rates with generous margins: ~90% success, ~0.5% NULL amounts, ~2% late arrivals.
    expect(Number(t?.success)).toBeGreaterThan(17_600);
    expect(Number(t?.success)).toBeLessThan(18_400);
    expect(Number(t?.null_amount)).toBeGreaterThan(50);
    expect(Number(t?.null_amount)).toBeLessThan(160);
    expect(Number(t?.late)).toBeGreaterThan(300);
    expect(Number(t?.late)).toBeLessThan(520);
  });

  it('skews activity: the busiest users make far more transactions than the median user', async () => {
    const [s] = await rows(`
      SELECT max(n) AS top, median(n) AS mid FROM (
        SELECT user_id, count(*) AS n FROM ${csv(csvA, 'transactions')} GROUP BY user_id)`);
    expect(Number(s?.top)).toBeGreaterThan(5 * Number(s?.mid));
  });

  it('keeps every source inside the requested days, in time order', async () => {
    for (const source of SOURCES) {
      const [d] = await rows(`
        SELECT min(event_ts)::DATE::VARCHAR AS first_day, max(event_ts)::DATE::VARCHAR AS last_day,
          count(*) FILTER (WHERE event_ts < prev) AS out_of_order
        FROM (SELECT event_ts, lag(event_ts) OVER () AS prev FROM ${csv(csvA, source)})`);
      expect(d, source).toEqual({ first_day: FIRST_DAY, last_day: base.endDate, out_of_order: 0n });
    }
  });

  it('keeps tickets and clicks within their domains', async () => {
    const [k] = await rows(`
      SELECT count(DISTINCT ticket_id) AS ids,
        list(DISTINCT priority ORDER BY priority) AS priorities,
        list(DISTINCT channel ORDER BY channel) AS channels
      FROM ${csv(csvA, 'support_tickets')}`);
    expect(k).toEqual({
      ids: 1_000n,
      priorities: ['high', 'low', 'medium'],
      channels: ['chat', 'email', 'phone', 'web'],
    });
    const [c] = await rows(`
      SELECT sum(bad_pages) AS bad_page, max(users) AS max_users_per_session, max(span) AS max_session_span
      FROM (SELECT count(*) FILTER (WHERE NOT starts_with(page, '/')) AS bad_pages,
              count(DISTINCT user_id) AS users, date_diff('second', min(event_ts), max(event_ts)) AS span
            FROM ${csv(csvA, 'clicks')} GROUP BY session_id)`);
    expect(Number(c?.bad_page)).toBe(0);
    expect(c?.max_users_per_session).toBe(1n);
    expect(Number(c?.max_session_span)).toBeLessThan(600);
  });
});

describe('generate: Parquet output', () => {
  it('writes typed columns with naive TIMESTAMPs', async () => {
    const described = await rows(`DESCRIBE SELECT * FROM '${fileOf(parquet, 'transactions')}'`);
    expect(described.map((r) => [r.column_name, r.column_type])).toEqual([
      ['txn_id', 'VARCHAR'],
      ['user_id', 'VARCHAR'],
      ['event_ts', 'TIMESTAMP'],
      ['amount', 'DOUBLE'],
      ['status', 'VARCHAR'],
      ['category', 'VARCHAR'],
      ['ingested_at', 'TIMESTAMP'],
    ]);
    const clicks = await rows(`DESCRIBE SELECT * FROM '${fileOf(parquet, 'clicks')}'`);
    expect(clicks.map((r) => r.column_type)).toEqual(['VARCHAR', 'TIMESTAMP', 'VARCHAR', 'VARCHAR']);
  });
});

describe('generate: asof.yaml', () => {
  it('parses and names the files that were written, with their columns', async () => {
    for (const result of [csvA, parquet]) {
      const spec = parse(await readFile(result.specPath, 'utf8')) as {
        project: string;
        timezone: string;
        sources: Record<string, { path: string; timestamp: string; columns: Record<string, string> }>;
        views: Record<string, { source: string; entity: string; features: Record<string, { agg: string }> }>;
        entities: Record<string, { key: string }>;
      };
      expect(spec.timezone).toBe('UTC');
      expect(Object.keys(spec.sources)).toEqual([...SOURCES]);
      for (const f of result.files) {
        const source = spec.sources[f.source];
        expect(source && join(result.specPath, '..', source.path)).toBe(f.path);
        const described = await rows(`DESCRIBE SELECT * FROM '${f.path}'`);
        expect(Object.keys(source?.columns ?? {})).toEqual(described.map((r) => r.column_name));
      }
      for (const view of Object.values(spec.views)) {
        expect(Object.keys(spec.sources)).toContain(view.source);
        expect(Object.keys(spec.entities)).toContain(view.entity);
      }
      expect(Object.keys(spec.views.user_spend?.features ?? {})).toContain('avg_amount_7d');
    }
    expect(parse(await readFile(csvA.specPath, 'utf8')).project).toBe('a');
  });
});

describe('generate: options', () => {
  it.each([
    ['an impossible end date', { endDate: '2025-02-30' }],
    ['a malformed end date', { endDate: '31/01/2025' }],
    ['zero users', { users: 0 }],
    ['fractional events', { events: 1.5 }],
    ['an unknown time zone', { timezone: 'Mars/Olympus' }],
  ])('rejects %s with a usage error', async (_name, bad) => {
    const err = await generate({ ...base, ...bad, out: join(root, 'bad') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AsofError);
    expect((err as AsofError).code).toBe('usage');
    expect(existsSync(join(root, 'bad'))).toBe(false);
  });
});
