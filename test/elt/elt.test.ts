// ELT end to end on both warehouses, through the CLI: raw loads (idempotent), models built in
// dependency order, sessionization on crafted clicks, plan/build of exactly what a change affects,
// a failing model test blocking downstream, and errors naming the model file and line.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyClickstreamProject } from '../support/clickstream.js';
import { type PostgresServer, startPostgres } from '../support/postgres.js';
import { runCli, tempDir } from '../support/project.js';

let server: PostgresServer | undefined;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

async function project(warehouse: 'duckdb' | 'postgres'): Promise<string> {
  const dir = path.join(tempDir('asof-elt-'), 'clickstream');
  copyClickstreamProject(dir);
  if (warehouse === 'postgres') {
    if (!server) throw new Error('no server');
    const db = `elt_${Math.random().toString(36).slice(2, 10)}`;
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.end();
    const url = server.url.replace(/\/postgres$/, `/${db}`);
    writeFileSync(
      path.join(dir, 'asof.yaml'),
      `${readFileSync(path.join(dir, 'asof.yaml'), 'utf8')}warehouse: { type: postgres, url: '${url}' }\n`,
    );
  }
  return dir;
}

const asof = (dir: string, ...args: string[]) => runCli([...args, '--project', dir], { cwd: dir });

function edit(dir: string, rel: string, from: string, to: string): void {
  const f = path.join(dir, rel);
  const text = readFileSync(f, 'utf8');
  expect(text).toContain(from);
  writeFileSync(f, text.replace(from, to));
}

describe.each(['duckdb', 'postgres'] as const)('ELT on %s', (warehouse) => {
  let dir: string;
  beforeAll(async () => {
    dir = await project(warehouse);
  });

  it('loads each file content once (a second load is a no-op that says so)', async () => {
    const first = await asof(dir, 'load', '--source', 'clickstream', 'data/*.jsonl');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/clicks-1\.jsonl: 5 rows -> raw\.clickstream/);
    const again = await asof(
      dir,
      'load',
      '--source',
      'clickstream',
      'data/clicks-1.jsonl',
      'data/clicks-2.jsonl',
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already loaded/);
    expect(again.stdout).toMatch(/nothing to load/);
    const q = await asof(
      dir,
      'query',
      "SELECT _file LIKE '%clicks-1.jsonl' AS first_file, count(*) AS n, count(DISTINCT _load_id) AS loads, min(_row) AS r0, max(_row) AS r1 FROM raw.clickstream GROUP BY 1 ORDER BY 1",
      '--format',
      'csv',
    );
    expect(q.stdout).toBe('first_file,n,loads,r0,r1\nfalse,2,1,1,2\ntrue,5,1,1,5\n');
    const typed = await asof(
      dir,
      'query',
      "SELECT event_id, user_id, ts, _json ->> 'kind' AS kind FROM raw.clickstream WHERE _row = 4",
      '--format',
      'csv',
    );
    expect(typed.stdout).toBe('event_id,user_id,ts,kind\ne4,u1,2025-03-01T11:11:00.000Z,click\n');
  });

  it('query is read-only', async () => {
    const r = await asof(dir, 'query', 'DROP TABLE raw.clickstream');
    expect(r.code).toBe(2);
    const still = await asof(dir, 'query', 'SELECT count(*) AS n FROM raw.clickstream', '--format', 'csv');
    expect(still.stdout).toBe('n\n7\n');
  });

  it('builds the models in order and sessionizes with a 30-minute gap', async () => {
    const plan = await asof(dir, 'models', 'plan', '--from', '2025-03-01', '--to', '2025-03-02');
    expect(plan.stdout).toMatch(/models to rebuild \(3\)/);
    const b = await asof(dir, 'models', 'build', '--from', '2025-03-01', '--to', '2025-03-02');
    expect(b.stderr + b.stdout).toMatch(/3 model\(s\) built, 0 failed/);
    expect(b.code).toBe(0);
    const s = await asof(
      dir,
      'query',
      'SELECT user_id, session_no, session_start, session_end, clicks FROM refined.sessions ORDER BY user_id, session_no',
      '--format',
      'csv',
    );
    // e2 is loaded twice (deduplicated); 10:40 is exactly 30 minutes after 10:10 (same session),
    // 11:11 is 31 minutes after (new session); u2's session crosses midnight: as of 03-01 it counts
    // one session but only its click before midnight (the 00:10 click is after the cutoff).
    expect(s.stdout).toBe(
      [
        'user_id,session_no,session_start,session_end,clicks',
        'u1,1,2025-03-01T10:00:00.000Z,2025-03-01T10:40:00.000Z,3',
        'u1,2,2025-03-01T11:11:00.000Z,2025-03-01T11:11:00.000Z,1',
        'u2,1,2025-03-01T23:50:00.000Z,2025-03-02T00:10:00.000Z,2',
        '',
      ].join('\n'),
    );
    const f = await asof(
      dir,
      'query',
      'SELECT * FROM features.user_active_24h ORDER BY as_of_date, user_id',
      '--format',
      'csv',
    );
    expect(f.stdout).toBe(
      'user_id,as_of_date,sessions_24h,clicks_24h\nu1,2025-03-01,2,4\nu2,2025-03-01,1,1\nu2,2025-03-02,1,1\n',
    );
    const none = await asof(dir, 'models', 'plan');
    expect(none.stdout).toMatch(/nothing to rebuild/);
  });

  it('a feature view reads a model', async () => {
    const b = await asof(dir, 'build', '--as-of', '2025-03-02', '--view', 'user_sessions');
    expect(b.stderr).not.toMatch(/error/);
    expect(b.code).toBe(0);
    const s = await asof(dir, 'show', '--view', 'user_sessions', '--as-of', '2025-03-02', '--format', 'csv');
    expect(s.stdout).toBe('user_id,as_of_date,sessions_7d,clicks_7d\nu1,2025-03-02,2,4\nu2,2025-03-02,1,2\n');
  });

  it('a model change plans and rebuilds exactly the affected models, partitions and views', async () => {
    edit(dir, 'models/refined/sessions.sql', "INTERVAL '30 minutes'", "INTERVAL '45 minutes'");
    // Formatting and comments never change a version.
    edit(dir, 'models/refined/clicks.sql', 'FROM raw.clickstream', '-- a comment\n  FROM   raw.clickstream');
    const plan = await asof(dir, 'models', 'plan');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/models to rebuild \(2\)/);
    expect(plan.stdout).toMatch(/refined\.sessions {2}changed/);
    expect(plan.stdout).toMatch(
      /features\.user_active_24h {2}upstream .* 2025-03-01, 2025-03-02 \(2 partitions\)/,
    );
    expect(plan.stdout).not.toMatch(/refined\.clicks/);
    expect(plan.stdout).toMatch(/user_sessions v1 \(reads refined\.sessions\): 2025-03-02 \(1 partitions\)/);
    const b = await asof(dir, 'models', 'build');
    expect(b.stdout).toMatch(/2 model\(s\) built/);
    expect(b.stderr).not.toMatch(/refined\.clicks/);
    const s = await asof(dir, 'query', 'SELECT count(*) AS n FROM refined.sessions', '--format', 'csv');
    expect(s.stdout).toBe('n\n2\n');
    const changes = await asof(dir, 'changes');
    expect(changes.stdout).toMatch(/model refined\.sessions {2}\w+ -> \w+ {2}changed/);
    expect(changes.stdout).toMatch(/- .*30 minutes/);
    expect(changes.stdout).toMatch(/\+ .*45 minutes/);
    expect(changes.stdout).toMatch(
      /features\.user_active_24h .* upstream {2}partitions: 2025-03-01, 2025-03-02/,
    );
  });

  it('a failing model test blocks its downstream', async () => {
    edit(dir, 'models/refined/clicks.sql', 'values: [click, view]', 'values: [click]');
    edit(dir, 'models/refined/clicks.sql', 'WHERE rn = 1', 'WHERE rn >= 1');
    const b = await asof(dir, 'models', 'build');
    expect(b.code).toBe(4);
    expect(b.stderr).toMatch(
      /refined\.clicks: failing tests unique\(event_id\) \(1 rows\), accepted_values\(kind\) \(2 rows\)/,
    );
    expect(b.stderr).toMatch(/refined\.sessions: blocked by refined\.clicks/);
    expect(b.stderr).toMatch(/features\.user_active_24h: blocked by refined\.clicks/);
    // The blocked models kept their last good rows.
    const s = await asof(dir, 'query', 'SELECT count(*) AS n FROM refined.sessions', '--format', 'csv');
    expect(s.stdout).toBe('n\n2\n');
  });

  it('a syntax error names the model file and line; a cycle is named', async () => {
    edit(dir, 'models/features/user_active_24h.sql', 'GROUP BY user_id', 'GROUP BY BY user_id');
    const p = await asof(dir, 'models', 'plan');
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/models\/features\/user_active_24h\.sql:13: SQL syntax error/);
    edit(dir, 'models/features/user_active_24h.sql', 'GROUP BY BY user_id', 'GROUP BY user_id');
    edit(
      dir,
      'models/refined/clicks.sql',
      'FROM   raw.clickstream',
      "FROM raw.clickstream, ref('features.user_active_24h') x",
    );
    const c = await asof(dir, 'models', 'build');
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(
      /models form a cycle: features\.user_active_24h -> refined\.clicks -> features\.user_active_24h/,
    );
  });
});
