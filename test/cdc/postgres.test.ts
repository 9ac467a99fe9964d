// `asof cdc run` against a real PostgreSQL 15 (wal2json): snapshot then stream, inserts, updates,
// deletes, a multi-row transaction, a key update, an unchanged TOASTed column, SIGTERM, a snapshot
// killed halfway (started again), and a consumer killed with SIGKILL mid-stream that resumes with
// nothing lost and nothing duplicated.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../support/postgres.js';
import { makeProject, REPO_ROOT, runCli } from '../support/project.js';

let server: PostgresServer;
const consumers: ChildProcess[] = [];

/** Logical decoding with wal2json; commits flushed at once (decoding reads only flushed WAL). */
function cdcSettings(): Record<string, string> {
  const s: Record<string, string> = {
    wal_level: 'logical',
    max_replication_slots: '10',
    max_wal_senders: '10',
    synchronous_commit: 'on',
  };
  // Some PostgreSQL builds only allow listed output plugins (output_plugin_libraries).
  const conf = spawnSync('runuser', [
    '-u',
    'postgres',
    '--',
    '/usr/lib/postgresql/15/bin/postgres',
    '--describe-config',
  ]);
  if (String(conf.stdout).includes('output_plugin_libraries'))
    s.output_plugin_libraries = 'pgoutput,test_decoding,wal2json';
  return s;
}
let sql: pg.Client;

beforeAll(async () => {
  server = await startPostgres({ settings: cdcSettings() });
  sql = new pg.Client({ connectionString: server.url });
  await sql.connect();
}, 60_000);

afterAll(async () => {
  // A failed test may leave a consumer running: it would hold a session and delay the shutdown.
  for (const c of consumers) if (c.exitCode === null) c.kill('SIGKILL');
  await sql?.end();
  await server?.stop();
});

function spec(url: string, table: string): string {
  return `project: shop
timezone: UTC
sources:
  orders:
    path: data/orders.csv
    timestamp: ts
    columns: { id: string, ts: timestamp }
entities:
  user: { key: user_id }
cdc:
  users:
    primary_key: user_id
    columns: { user_id: string, plan: string, bio: string, seats: int, updated_at: timestamp }
    postgres: { url: '${url}', table: public.${table}, slot: slot_${table}, batch_size: 5, poll_ms: 20 }
`;
}

interface Consumer {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function consume(dir: string): Consumer {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/asof.js'), 'cdc', 'run', '--source', 'users', '--project', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  consumers.push(child);
  let err = '';
  let out = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, stdout: () => out, exited };
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until the slot acknowledged everything written so far (a heartbeat commit moves it past). */
async function caughtUp(slot: string): Promise<void> {
  const target = (await sql.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
  await sql.query('CREATE TABLE IF NOT EXISTS heartbeat (n int)');
  await sql.query('INSERT INTO heartbeat VALUES (1)');
  await waitFor(`slot ${slot} at ${target}`, async () => {
    const r = await sql.query(
      'SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1',
      [slot, target],
    );
    return r.rows[0]?.ok === true;
  });
}

async function rows(db: string, q: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  const conn = await inst.connect();
  const r = (await conn.runAndReadAll(q)).getRowsJS() as unknown[][];
  conn.closeSync();
  inst.closeSync();
  return r;
}

describe('asof cdc run (PostgreSQL logical replication)', () => {
  it('snapshots, then streams inserts, updates, deletes, key updates and TOAST into state and history', async () => {
    const longBio = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join(
      '',
    );
    await sql.query(
      'CREATE TABLE users (user_id text PRIMARY KEY, plan text, bio text, seats int, updated_at timestamptz)',
    );
    await sql.query('ALTER TABLE users ALTER COLUMN bio SET STORAGE EXTERNAL');
    await sql.query(
      "INSERT INTO users VALUES ('u1', 'free', $1, 1, '2025-03-01T00:00:00Z'), ('u2', 'free', 'short', 1, '2025-03-01T00:00:00Z')",
      [longBio],
    );
    const dir = makeProject({ 'asof.yaml': spec(server.url, 'users') });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    const c = consume(dir);
    await waitFor('the snapshot', () => c.stderr().includes('snapshot of 2 row(s)'));

    // One transaction of three changes; then a plan change leaving the TOASTed bio untouched; a delete; a key update.
    await sql.query('BEGIN');
    await sql.query(
      "INSERT INTO users VALUES ('u3', 'pro', 'three', 2, now()), ('u4', 'free', 'four', 1, now())",
    );
    await sql.query("UPDATE users SET seats = 9 WHERE user_id = 'u2'");
    await sql.query('COMMIT');
    await sql.query("UPDATE users SET plan = 'pro' WHERE user_id = 'u1'");
    await sql.query("DELETE FROM users WHERE user_id = 'u4'");
    await sql.query("UPDATE users SET user_id = 'u5' WHERE user_id = 'u3'");
    await caughtUp('slot_users');
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.stderr()).toContain('stopped at');

    expect(
      await rows(
        db,
        'SELECT user_id, plan, length(bio)::INT, bio = bio, seats::INT FROM cdc.users ORDER BY 1',
      ),
    ).toEqual([
      ['u1', 'pro', 3000, true, 1],
      ['u2', 'free', 5, true, 9],
      ['u5', 'pro', 5, true, 2],
    ]);
    // The TOASTed bio was carried over by the update that did not send it.
    expect(
      await rows(
        db,
        "SELECT bio = (SELECT bio FROM cdc.users_history WHERE op = 'r' AND user_id = 'u1') FROM cdc.users WHERE user_id = 'u1'",
      ),
    ).toEqual([[true]]);
    const hist = await rows(
      db,
      'SELECT user_id, op, plan, isinf(valid_to) FROM cdc.users_history ORDER BY user_id, lsn, op DESC',
    );
    expect(hist).toEqual([
      ['u1', 'r', 'free', false],
      ['u1', 'u', 'pro', true],
      ['u2', 'r', 'free', false],
      ['u2', 'u', 'free', true],
      ['u3', 'c', 'pro', false],
      ['u3', 'd', 'pro', true],
      ['u4', 'c', 'free', false],
      ['u4', 'd', 'free', true],
      ['u5', 'u', 'pro', true],
    ]);
    // The three changes of one transaction share its commit LSN.
    const tx = await rows(
      db,
      "SELECT count(DISTINCT lsn)::INT FROM cdc.users_history WHERE op <> 'r' AND user_id IN ('u2', 'u3', 'u4') AND op IN ('c', 'u') ",
    );
    expect(tx).toEqual([[1]]);

    const st = await runCli(['cdc', 'status', '--source', 'users', '--project', dir]);
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.slot).toMatchObject({ name: 'slot_users', exists: true, active: false });
    expect(status.changesApplied).toBe(2 + 6);
    expect(status.currentRows).toBe(3);

    const dropped = await runCli(['cdc', 'drop', '--source', 'users', '--project', dir]);
    expect(dropped.code).toBe(0);
    expect(
      (await sql.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'slot_users'")).rowCount,
    ).toBe(0);
  }, 90_000);

  it('a consumer killed with SIGKILL mid-stream resumes without losing or duplicating a change', async () => {
    await sql.query(
      'CREATE TABLE accounts (user_id text PRIMARY KEY, plan text, bio text, seats int, updated_at timestamptz)',
    );
    await sql.query("INSERT INTO accounts VALUES ('counter', 'free', '', 0, now())");
    const dir = makeProject({ 'asof.yaml': spec(server.url, 'accounts') });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    const N = 100;
    let first = consume(dir);
    await waitFor('the snapshot', () => first.stderr().includes('snapshot of 1 row(s)'));
    const writer = (async () => {
      for (let i = 1; i <= N; i++) {
        await sql.query('BEGIN');
        await sql.query("INSERT INTO accounts VALUES ($1, 'free', '', $2, now())", [`a${i}`, i]);
        await sql.query("UPDATE accounts SET seats = $1 WHERE user_id = 'counter'", [i]);
        await sql.query('COMMIT');
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 15));
      }
    })();
    // Kill it hard twice while transactions keep coming, and restart it each time.
    for (let k = 0; k < 2; k++) {
      const seen = (first.stderr().match(/applied/g) ?? []).length;
      await waitFor('a batch', () => (first.stderr().match(/applied/g) ?? []).length >= seen + 2);
      first.child.kill('SIGKILL');
      await first.exited;
      first = consume(dir);
    }
    await writer;
    await caughtUp('slot_accounts');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).not.toContain('snapshot of');

    expect(await rows(db, "SELECT count(*)::INT FROM cdc.users WHERE user_id <> 'counter'")).toEqual([[N]]);
    expect(await rows(db, "SELECT seats::INT FROM cdc.users WHERE user_id = 'counter'")).toEqual([[N]]);
    // Every version of the counter exactly once, in order, each closing where the next starts.
    const versions = await rows(
      db,
      "SELECT seats::INT, lsn::VARCHAR, valid_to = lead(valid_from) OVER (ORDER BY lsn) OR isinf(valid_to) FROM cdc.users_history WHERE user_id = 'counter' ORDER BY lsn",
    );
    expect(versions.map((v) => v[0])).toEqual(Array.from({ length: N + 1 }, (_, i) => i));
    expect(new Set(versions.map((v) => v[1])).size).toBe(N + 1);
    expect(versions.every((v) => v[2] === true)).toBe(true);
    expect(await rows(db, 'SELECT count(*)::INT FROM cdc.users_history')).toEqual([[2 * N + 1]]);
  }, 120_000);

  it('a snapshot killed halfway starts again from scratch, then streams from the new snapshot with no gap and no overlap', async () => {
    await sql.query(
      'CREATE TABLE snaps (user_id text PRIMARY KEY, plan text, bio text, seats int, updated_at timestamptz)',
    );
    const N = 50_000;
    await sql.query(
      "INSERT INTO snaps SELECT 'u' || g, 'free', '', g, now() FROM generate_series(1, $1::int) g",
      [N],
    );
    const dir = makeProject({ 'asof.yaml': spec(server.url, 'snaps') });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    const slotExists = async () =>
      (await sql.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'slot_snaps'")).rowCount === 1;
    const first = consume(dir);
    await waitFor('the snapshot slot', slotExists, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    // The kill landed inside the snapshot: had it finished, this test would prove nothing.
    expect(first.stderr()).not.toContain('snapshot of');
    // Changes made while no consumer runs: the new snapshot must hold them exactly once.
    await sql.query("INSERT INTO snaps VALUES ('late', 'pro', '', 0, now())");
    await sql.query("UPDATE snaps SET plan = 'team' WHERE user_id = 'u1'");
    const second = consume(dir);
    await waitFor(
      'the second snapshot',
      () => second.stderr().includes(`snapshot of ${N + 1} row(s)`),
      90_000,
    );
    expect(second.stderr()).toContain('dropped slot slot_snaps of an unfinished snapshot');
    await sql.query("INSERT INTO snaps VALUES ('after', 'free', '', 1, now())");
    await sql.query("UPDATE snaps SET seats = -1 WHERE user_id = 'u2'");
    await caughtUp('slot_snaps');
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    expect(await rows(db, 'SELECT count(*)::INT, count(DISTINCT user_id)::INT FROM cdc.users')).toEqual([
      [N + 2, N + 2],
    ]);
    expect(
      await rows(
        db,
        "SELECT user_id, plan, seats::INT FROM cdc.users WHERE user_id IN ('u1', 'u2', 'late', 'after') ORDER BY 1",
      ),
    ).toEqual([
      ['after', 'free', 1],
      ['late', 'pro', 0],
      ['u1', 'team', 1],
      ['u2', 'free', -1],
    ]);
    // One version per row from the snapshot, plus one per streamed change: nothing twice, nothing lost.
    expect(await rows(db, 'SELECT count(*)::INT FROM cdc.users_history')).toEqual([[N + 1 + 2]]);
    expect(await rows(db, "SELECT count(*)::INT FROM cdc.users_history WHERE user_id = 'u1'")).toEqual([[1]]);
  }, 180_000);

  it('pgoutput: streams changes (TOAST, key update, one transaction), a mid-stream ADD COLUMN, then stops on a type change', async () => {
    const longBio = 'z'.repeat(5000);
    await sql.query(
      'CREATE TABLE pg_users (user_id text PRIMARY KEY, plan text, bio text, seats int, updated_at timestamptz)',
    );
    await sql.query('ALTER TABLE pg_users ALTER COLUMN bio SET STORAGE EXTERNAL');
    await sql.query("INSERT INTO pg_users VALUES ('u1', 'free', $1, 1, '2025-03-01T00:00:00Z')", [longBio]);
    const dir = makeProject({
      'asof.yaml': spec(server.url, 'pg_users').replace('poll_ms: 20 }', 'poll_ms: 20, decoder: pgoutput }'),
    });
    const db = path.join(dir, '.asof/warehouse.duckdb');
    const c = consume(dir);
    await waitFor('the snapshot', () => c.stderr().includes('snapshot of 1 row(s)'));
    await sql.query('BEGIN');
    await sql.query("INSERT INTO pg_users VALUES ('u2', 'pro', 'two', 2, '2025-03-02T10:00:00+02:00')");
    await sql.query("UPDATE pg_users SET seats = 5 WHERE user_id = 'u1'");
    await sql.query('COMMIT');
    // A column the contract does not name is added mid-stream: values stay aligned by name.
    await sql.query('ALTER TABLE pg_users ADD COLUMN note text');
    await sql.query("UPDATE pg_users SET note = 'n', plan = 'team' WHERE user_id = 'u2'");
    await sql.query("UPDATE pg_users SET user_id = 'u3' WHERE user_id = 'u2'");
    await sql.query("DELETE FROM pg_users WHERE user_id = 'u3'");
    await caughtUp('slot_pg_users');
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(
      await rows(db, 'SELECT user_id, plan, length(bio)::INT, seats::INT FROM cdc.users ORDER BY 1'),
    ).toEqual([['u1', 'free', 5000, 5]]);
    expect(
      await rows(
        db,
        'SELECT user_id, op, plan, seats::INT, valid_from > now() - INTERVAL 1 HOUR FROM cdc.users_history ORDER BY lsn, user_id, op DESC',
      ),
    ).toEqual([
      ['u1', 'r', 'free', 1, true],
      ['u1', 'u', 'free', 5, true],
      ['u2', 'c', 'pro', 2, true],
      ['u2', 'u', 'team', 2, true],
      ['u2', 'd', 'team', 2, true],
      ['u3', 'u', 'team', 2, true],
      ['u3', 'd', 'team', 2, true],
    ]);
    expect(
      await rows(
        db,
        "SELECT strftime(updated_at, '%Y-%m-%dT%H:%M') FROM cdc.users_history WHERE user_id = 'u2' AND op = 'c'",
      ),
    ).toEqual([['2025-03-02T08:00']]);
    // The contract says seats is an int: a change to text stops the capture (exit 3), nothing applied.
    await sql.query('ALTER TABLE pg_users ALTER COLUMN seats TYPE text');
    await sql.query("UPDATE pg_users SET seats = 'many' WHERE user_id = 'u1'");
    const again = consume(dir);
    expect(await again.exited).toBe(3);
    expect(again.stderr()).toMatch(/column 'seats' of public\.pg_users is now of PostgreSQL type oid 25/);
    expect(await rows(db, "SELECT seats::INT FROM cdc.users WHERE user_id = 'u1'")).toEqual([[5]]);
    const dropped = await runCli(['cdc', 'drop', '--source', 'users', '--project', dir]);
    expect(dropped.code).toBe(0);
    expect((await sql.query("SELECT 1 FROM pg_publication WHERE pubname = 'asof_users'")).rowCount).toBe(0);
  }, 90_000);

  it('an idle capture sends heartbeats: WAL written only for another database does not pile up behind the slot', async () => {
    await sql.query(
      'CREATE TABLE quiet (user_id text PRIMARY KEY, plan text, bio text, seats int, updated_at timestamptz)',
    );
    await sql.query('CREATE DATABASE elsewhere');
    const dir = makeProject({
      'asof.yaml': spec(server.url, 'quiet').replace('poll_ms: 20 }', 'poll_ms: 20, heartbeat_ms: 200 }'),
    });
    const c = consume(dir);
    await waitFor('the snapshot', () => c.stderr().includes('snapshot of 0 row(s)'));
    // Writes in another database: nothing this slot can decode, so no commit would acknowledge them.
    const other = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, '/elsewhere') });
    await other.connect();
    await other.query(
      'CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 20000) g',
    );
    await other.end();
    const target = (await sql.query('SELECT pg_current_wal_flush_lsn()::text AS l')).rows[0].l as string;
    await waitFor(
      'the slot to move past WAL of another database',
      async () =>
        (
          await sql.query(
            'SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $2',
            [target, 'slot_quiet'],
          )
        ).rows[0]?.ok === true,
      15_000,
    );
    // A change after the heartbeat is still captured (the heartbeat never skips a commit).
    await sql.query("INSERT INTO quiet VALUES ('q1', 'pro', '', 3, now())");
    await waitFor('the insert', () => c.stderr().includes('applied 1 change(s)'));
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(
      await rows(path.join(dir, '.asof/warehouse.duckdb'), 'SELECT user_id, plan FROM cdc.users'),
    ).toEqual([['q1', 'pro']]);
  }, 90_000);
});
