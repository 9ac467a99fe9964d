// `asof demo` as a newcomer runs it: the ELT example it ships (clickstream JSON landed in raw,
// refined.clicks deduplicated, refined.sessions with a 30-minute inactivity gap, the incremental
// features.user_active_24h) and the view over refined.sessions, checked against the JSON it wrote,
// crafted clicks at the gap's edge, and the fixture the ELT tests use.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/gen/index.js';
import { CLICKSTREAM_MODELS } from '../../src/scaffold/clickstream.js';
import { runCli, tempDir } from '../support/project.js';

let dir: string;
let demoOut: string;

const asof = (...args: string[]) => runCli([...args, '--project', dir], { cwd: dir });

async function query(sql: string): Promise<string> {
  const r = await asof('query', sql, '--format', 'csv');
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

interface Click {
  event_id: string;
  user_id: string;
  ts: string;
}

/** The sessions rule written out plainly: per user, a click more than 30 minutes after the previous one starts a session. */
function sessionsOf(clicks: Click[]): Map<string, { sessions: number; clicks: number }> {
  const byUser = new Map<string, number[]>();
  for (const c of clicks) {
    const list = byUser.get(c.user_id) ?? [];
    list.push(Date.parse(`${c.ts}Z`));
    byUser.set(c.user_id, list);
  }
  const out = new Map<string, { sessions: number; clicks: number }>();
  for (const [user, times] of byUser) {
    times.sort((a, b) => a - b);
    let sessions = 0;
    times.forEach((t, i) => {
      if (i === 0 || t - (times[i - 1] as number) > 30 * 60_000) sessions++;
    });
    out.set(user, { sessions, clicks: times.length });
  }
  return out;
}

beforeAll(async () => {
  dir = path.join(tempDir('asof-demo-'), 'demo');
  const demo = await runCli(['demo', '--dir', dir, '--users', '60', '--events', '4000']);
  expect(demo.code, demo.stderr).toBe(0);
  demoOut = demo.stdout;
}, 120_000);

describe('asof demo', () => {
  it('lands the clickstream JSON in raw and builds the three models, every test passing', async () => {
    const lines = readFileSync(path.join(dir, 'data', 'clickstream.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const events = lines.map((l) => JSON.parse(l) as Click & { kind: string; props: { ab: string } });
    const distinct = new Set(events.map((e) => e.event_id)).size;
    expect(distinct).toBe(2000); // one event per generated click (events / 2)
    expect(lines.length).toBeGreaterThan(distinct); // some redelivered twice
    expect(events[0]?.props.ab).toMatch(/^[ab]$/);

    expect(await query('SELECT count(*) AS n FROM raw.clickstream')).toBe(`n\n${lines.length}\n`);
    expect(await query("SELECT count(*) AS n FROM raw.clickstream WHERE _json ->> 'kind' IS NULL")).toBe(
      'n\n0\n',
    );
    expect(await query('SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM refined.clicks')).toBe(
      `n,d\n${distinct},${distinct}\n`,
    );
    expect(await query('SELECT count(*) AS n FROM refined.sessions')).toMatch(/^n\n[1-9]\d*\n$/);
    expect(
      await query(
        'SELECT min(as_of_date) AS first, max(as_of_date) AS last, count(DISTINCT as_of_date) AS days FROM features.user_active_24h',
      ),
    ).toBe('first,last,days\n2025-03-25,2025-03-31,7\n');
    expect(demoOut).toContain(`raw.clickstream           ${lines.length.toLocaleString('en-US')} JSON lines`);
    expect(demoOut).toContain(
      `${(lines.length - distinct).toLocaleString('en-US')} redelivered duplicates dropped`,
    );
    expect(demoOut).toMatch(/features\.user_active_24h {2}users active .*: 03-25 \d+, .*03-31 \d+\n/);
    // the models are recorded as built: nothing left to rebuild, all tests passed
    const plan = await asof('models', 'plan', '--from', '2025-03-25', '--to', '2025-03-31');
    expect(plan.stdout).toBe('models: nothing to rebuild\n');
    const state = JSON.parse(readFileSync(path.join(dir, '.asof', 'meta', 'models.json'), 'utf8'));
    for (const m of ['refined.clicks', 'refined.sessions', 'features.user_active_24h']) {
      expect(state.models[m].status, m).toBe('ok');
    }
  });

  it('sessionizes every generated user as the 30-minute rule says', async () => {
    const lines = readFileSync(path.join(dir, 'data', 'clickstream.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const unique = new Map<string, Click>();
    for (const l of lines) {
      const e = JSON.parse(l) as Click;
      unique.set(e.event_id, e);
    }
    const expected = sessionsOf([...unique.values()]);
    const rows = (
      await query(
        'SELECT user_id, count(*) AS sessions, sum(clicks) AS clicks FROM refined.sessions GROUP BY user_id ORDER BY user_id',
      )
    )
      .trim()
      .split('\n')
      .slice(1);
    const want = [...expected.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([u, s]) => `${u},${s.sessions},${s.clicks}`);
    expect(rows).toEqual(want);
    // the data has users with more than one session a day, or the rule would go untested
    expect([...expected.values()].some((s) => s.sessions > 1)).toBe(true);
  });

  it('builds the view over refined.sessions, and shows it', async () => {
    expect(demoOut).toMatch(/user_sessions: \d+ users -> .*user_sessions\/v1\/as_of_date=2025-03-31/);
    expect(demoOut).toMatch(/user_sessions \(first 5 of \d+\):\nuser_id +as_of_date +sessions_7d +clicks_7d/);
    const s = await asof('show', '--view', 'user_sessions', '--as-of', '2025-03-31', '--format', 'csv');
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout.split('\n')[0]).toBe('user_id,as_of_date,sessions_7d,clicks_7d');
  });

  it('crafted clicks: exactly 30 minutes apart is one session, 30 minutes and 1 second two', async () => {
    const crafted = [
      // za: 10:30:00 is exactly 30 minutes after 10:00:00 (same session, and redelivered: one
      // click), 11:00:01 is 30 minutes and 1 second after it (a new session)
      ['x1', 'za', '2025-03-31T10:00:00'],
      ['x2', 'za', '2025-03-31T10:30:00'],
      ['x2', 'za', '2025-03-31T10:30:00'],
      ['x3', 'za', '2025-03-31T11:00:01'],
      // zb: a session across midnight (25 minutes), then one 31 minutes later
      ['x4', 'zb', '2025-03-30T23:45:00'],
      ['x5', 'zb', '2025-03-31T00:10:00'],
      ['x6', 'zb', '2025-03-31T00:41:00'],
    ]
      .map(([e, u, ts]) => JSON.stringify({ event_id: e, user_id: u, ts, page: '/home', kind: 'click' }))
      .join('\n');
    writeFileSync(path.join(dir, 'data', 'crafted.jsonl'), `${crafted}\n`);
    const load = await asof('load', '--source', 'clickstream', 'data/crafted.jsonl');
    expect(load.stdout).toMatch(/crafted\.jsonl: 7 rows -> raw\.clickstream/);
    // new raw rows do not change a model's version: rebuild refined.clicks and its downstream
    const b = await asof(
      'models',
      'build',
      '--model',
      'refined.clicks',
      '--from',
      '2025-03-30',
      '--to',
      '2025-03-31',
    );
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toBe('3 model(s) built, 0 failed or blocked\n');
    expect(
      await query(
        "SELECT user_id, session_no, session_start, session_end, clicks FROM refined.sessions WHERE user_id IN ('za', 'zb') ORDER BY 1, 2",
      ),
    ).toBe(
      [
        'user_id,session_no,session_start,session_end,clicks',
        'za,1,2025-03-31T10:00:00.000Z,2025-03-31T10:30:00.000Z,2',
        'za,2,2025-03-31T11:00:01.000Z,2025-03-31T11:00:01.000Z,1',
        'zb,1,2025-03-30T23:45:00.000Z,2025-03-31T00:10:00.000Z,2',
        'zb,2,2025-03-31T00:41:00.000Z,2025-03-31T00:41:00.000Z,1',
        '',
      ].join('\n'),
    );
    expect(
      await query(
        "SELECT user_id, as_of_date, sessions_24h FROM features.user_active_24h WHERE user_id IN ('za', 'zb') ORDER BY 2, 1",
      ),
    ).toBe('user_id,as_of_date,sessions_24h\nzb,2025-03-30,1\nza,2025-03-31,2\nzb,2025-03-31,2\n');

    // the view counts a session from its last click: zb's first session ends after 2025-03-30
    for (const asOf of ['2025-03-30', '2025-03-31']) {
      const r = await asof('build', '--as-of', asOf, '--view', 'user_sessions');
      expect(r.code, r.stderr).toBe(0);
    }
    const show = async (asOf: string) =>
      (await asof('show', '--view', 'user_sessions', '--as-of', asOf, '--format', 'csv')).stdout
        .split('\n')
        .filter((l) => /^z[ab],/.test(l));
    expect(await show('2025-03-31')).toEqual(['za,2025-03-31,2,3', 'zb,2025-03-31,2,3']);
    expect(await show('2025-03-30')).toEqual([]);
  });

  it('ships the models the ELT tests run (src/scaffold/clickstream.ts, the one copy)', () => {
    expect(Object.keys(CLICKSTREAM_MODELS).sort()).toEqual([
      'features/user_active_24h.sql',
      'refined/clicks.sql',
      'refined/sessions.sql',
    ]);
    for (const [rel, sql] of Object.entries(CLICKSTREAM_MODELS)) {
      expect(readFileSync(path.join(dir, 'models', rel), 'utf8'), rel).toBe(sql);
    }
  });

  it('writes the same clickstream JSON for the same seed', async () => {
    const root = tempDir('asof-demo-gen-');
    const opts = { users: 30, events: 600, days: 5, endDate: '2025-03-31', seed: 7, format: 'csv' as const };
    const a = await generate({ ...opts, out: path.join(root, 'a'), clickstream: true });
    const b = await generate({ ...opts, out: path.join(root, 'b'), clickstream: true });
    const file = (r: typeof a) =>
      readFileSync(r.files.find((f) => f.source === 'clickstream')?.path ?? '', 'utf8');
    expect(file(a)).toBe(file(b));
    expect(file(a).split('\n').length).toBeGreaterThan(300);
  });

  it('runs again on its own folder: nothing landed twice, nothing rebuilt needlessly', async () => {
    const again = await runCli(['demo', '--dir', dir, '--users', '60', '--events', '4000']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(
      /raw\.clickstream already holds this data\/clickstream\.jsonl: not landed again/,
    );
    expect(again.stderr).not.toMatch(/refined\.sessions \(table\)/);
  });
});
