// A store written by the previous version of asof (5c0f987: format-1 base rows with REF tags and
// one value per feature, LOG_ENTRIES and format-1 whole-state log records, JSON-text rows of a view
// too wide for the binary form, a pk_log of LOG_ENTRIES, a state with an empty tail, Redis states
// with a tail of entry arrays),
// read and resumed by this version end to end through the CLI: `asof get` answers what that
// version answered and what batch computes, the primary-key index it saved still deduplicates a
// re-sent key, and a stream of more events on top (also killed with -9 and restarted) ends with
// online values equal to batch over all events. The fixture was made by that version
// (test/fixtures/upgrade/make.mjs says how).

import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOnline } from '../../src/pipeline/online-read.js';
import { loadProject } from '../../src/pipeline/project.js';
import { OnlineStore } from '../../src/storage/online/sqlite.js';
import { onlineDir } from '../../src/stream/job.js';
import { ViewRuntime } from '../../src/stream/state.js';
import { parseReadTime } from '../../src/time/read-time.js';
import { REPO_ROOT, runCli, tempDir } from '../support/project.js';
import { type RunningServer, startRedis } from '../support/redis.js';
import { checkpointed, onlineSnapshot, runKillable } from '../support/stream.js';

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'upgrade');
/** The read times make.mjs asked the old version about (after its compaction horizon). */
const OLD_READS = ['2025-03-30T15:45:00Z', '2025-03-30T18:00:00', '2025-03-30T20:00:00Z', '2025-03-31'];
const ARGS = ['stream', '--view', 'v', '--view', 'w', '--source', 'stdin', '--checkpoint-events', '40'];
const KILL_ARGS = [...ARGS, '--offline-events', '150', '--offline-ms', '150'];
/** The fixture's entities; z1's state ends with an empty tail (its events compacted or re-sent away). */
const USERS = [...Array.from({ length: 12 }, (_, i) => `u${i}`), 'z1'];
const REDIS_URL_ENV = 'ASOF_UPGRADE_TEST_REDIS';

interface Ev {
  id: string;
  user_id: string;
  event_ts: string;
  amount: number | null;
  status: string;
}

const OLD_LINES = readFileSync(path.join(FIXTURE, 'old-events.jsonl'), 'utf8').trim().split('\n');
const OLD_ANSWERS = JSON.parse(readFileSync(path.join(FIXTURE, 'old-answers.json'), 'utf8')) as Record<
  string,
  unknown
>;
/** The old events that parse (the others were dead letters), in stream order. */
const OLD_EVENTS = OLD_LINES.map((l) => JSON.parse(l) as Ev).filter(
  (e) => !Number.isNaN(Date.parse(e.event_ts)),
);
const OLD_MAX_TS = Math.max(...OLD_EVENTS.map((e) => Date.parse(e.event_ts)));

const iso = (ms: number) => new Date(ms).toISOString();

/** The last event of each id in the old stream, latest instant first. */
function lastOfEachId(): Ev[] {
  const last = new Map<string, Ev>();
  for (const e of OLD_EVENTS) last.set(e.id, e);
  return [...last.values()].sort((a, b) => Date.parse(b.event_ts) - Date.parse(a.event_ts));
}

/**
 * Events after the old ones (~60 h, across no DST change): the first five re-send the last old ids
 * with other amounts, then one for z1 (whose old state has no event left in its tail), then new
 * ids, a tenth re-sending a recent one, some out of order within the lateness, some late, some
 * invalid.
 */
function newEvents(n: number, seed: number): string[] {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: string[] = [];
  const sent: Ev[] = [];
  for (const e of lastOfEachId().slice(0, 5)) {
    out.push(JSON.stringify({ ...e, amount: Math.round(rnd() * 10_000) / 100 }));
  }
  out.push(JSON.stringify({ id: 'z-c', user_id: 'z1', event_ts: iso(OLD_MAX_TS), amount: 20, status: 'ok' }));
  let t = OLD_MAX_TS;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 600_000);
    const r = rnd();
    if (r > 0.99) {
      out.push(`{"id":"y${i}","user_id":"u2","event_ts":"soon","amount":1,"status":"ok"}`);
      continue;
    }
    const resend = sent.length > 10 && r < 0.1 ? sent[sent.length - 1 - Math.floor(rnd() * 10)] : undefined;
    let ts = resend ? Math.max(Date.parse(resend.event_ts), t - 3_600_000) : t;
    if (!resend && r < 0.2) ts = t - Math.floor(rnd() * 3_600_000);
    else if (!resend && r < 0.22) ts = t - 5 * 3_600_000;
    const e: Ev = {
      id: resend ? resend.id : `n${i}`,
      user_id: resend && rnd() < 0.7 ? resend.user_id : `u${Math.floor(rnd() * 12)}`,
      event_ts: new Date(ts).toISOString(),
      amount: rnd() < 0.05 ? null : Math.round(rnd() * 10_000) / 100,
      status: rnd() < 0.1 ? 'fail' : rnd() < 0.2 ? 'hold' : 'ok',
    };
    sent.push(e);
    out.push(JSON.stringify(e));
  }
  return out;
}

/** A project folder as the old version left it: spec, lake, late and dead-letter logs, and (unless Redis) its store. */
function oldProject(online?: string): string {
  const dir = tempDir('asof-upgrade-');
  writeFileSync(
    path.join(dir, 'asof.yaml'),
    readFileSync(path.join(FIXTURE, 'asof.yaml'), 'utf8') + (online ?? ''),
  );
  for (const f of ['data', 'lake']) cpSync(path.join(FIXTURE, f), path.join(dir, f), { recursive: true });
  const od = path.join(dir, '.asof', 'online');
  mkdirSync(od, { recursive: true });
  for (const f of ['late', 'dead-letters']) {
    cpSync(path.join(FIXTURE, 'online', f), path.join(od, f), { recursive: true });
  }
  if (online === undefined) {
    const gz = readFileSync(path.join(FIXTURE, 'online', 'online.sqlite.gz'));
    writeFileSync(path.join(od, 'online.sqlite'), gunzipSync(gz));
  }
  return dir;
}

async function cliGet(dir: string, view: string, key: string, at: string, env?: Record<string, string>) {
  const r = await runCli(['get', '--view', view, '--key', key, '--at', at, '--project', dir], { env });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { values: Record<string, unknown> | null };
}

async function expectParity(dir: string, ats: string[], env?: Record<string, string>): Promise<void> {
  for (const view of ['v', 'w']) {
    for (const at of ats) {
      const p = await runCli(['parity', '--view', view, '--at', at, '--project', dir], { env });
      expect(p.code, `${view} at ${at}: ${p.stdout}${p.stderr}`).toBe(0);
      expect(p.stdout).toMatch(/ [1-9]\d* entities compared, 0 mismatches/);
    }
  }
}

/** Every answer make.mjs recorded from the old version, asked of this version in-process. */
async function expectOldAnswers(dir: string): Promise<void> {
  const project = await loadProject(dir);
  let wide = 0;
  for (const [k, want] of Object.entries(OLD_ANSWERS)) {
    const [view, key, at] = k.split(' ') as [string, string, string];
    const got = (await getOnline(project, view, key, parseReadTime(at, project.timezone) as number)).values;
    if (view === 'w') {
      wide++;
      expect(got && Object.values(got), k).toEqual(want);
    } else expect(got, k).toEqual(want);
  }
  expect(wide).toBeGreaterThan(0);
}

/** The read times after the new events: past the new compaction horizon, a local date among them. */
function newReads(lines: string[]): string[] {
  const max = Math.max(
    ...lines.map((l) => Date.parse((JSON.parse(l) as Ev).event_ts)).filter((t) => !Number.isNaN(t)),
  );
  return [iso(max + 60_000), iso(max + 7 * 3_600_000), iso(max + 26 * 3_600_000).slice(0, 10)];
}

describe('a store written by the previous version (5c0f987)', () => {
  let dir: string;
  const resend = lastOfEachId().find((e) => e.status !== 'fail' && e.amount !== null) as Ev;
  const resendLine = JSON.stringify({ ...resend, amount: 999.5 });
  const fresh = newEvents(2000, 5);
  const input = (...more: string[]) => `${[...OLD_LINES, ...more].join('\n')}\n`;

  beforeAll(() => {
    dir = oldProject();
  });

  it('is answered by `asof get` as the old version answered, and as batch computes', async () => {
    // the fixture holds what this test is about (else it would pass on a store of this version)
    const db = new Database(path.join(dir, '.asof', 'online', 'online.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT view, state FROM state').all() as {
        view: string;
        state: Buffer | string;
      }[];
      expect(
        rows.filter((r) => r.view === 'v').every((r) => Buffer.isBuffer(r.state) && r.state[0] === 1),
      ).toBe(true);
      expect(rows.some((r) => r.view === 'w' && typeof r.state === 'string')).toBe(true);
      const kinds = (table: string) => {
        const out = new Set<number>();
        for (const { data } of db.prepare(`SELECT data FROM ${table}`).all() as { data: Buffer }[]) {
          // a record: kind, view and key (length-prefixed), payload (length-prefixed)
          for (let p = 0; p < data.length; ) {
            out.add(data[p] as number);
            p += 5 + data.readUInt32LE(p + 1);
            p += 4 + data.readUInt32LE(p);
            p += 4 + data.readUInt32LE(p);
          }
        }
        return [...out].sort();
      };
      expect(kinds('log')).toEqual([0, 1, 2]); // LOG_ENTRIES, format-1 LOG_STATE, LOG_JSON
      expect(kinds('pk_log')).toEqual([0]);
    } finally {
      db.close();
    }
    for (const [i, at] of OLD_READS.entries()) {
      const key = USERS[(3 * i + 1) % USERS.length] as string;
      expect((await cliGet(dir, 'v', key, at)).values, `${key} ${at}`).toEqual(OLD_ANSWERS[`v ${key} ${at}`]);
    }
    await expectOldAnswers(dir);
    await expectParity(dir, OLD_READS);
  }, 150_000);

  it('deduplicates a key re-sent after the restart with the primary-key index of the old pk_log', async () => {
    const at = iso(Date.parse(resend.event_ts) + 60_000);
    const before = (await cliGet(dir, 'v', resend.user_id, at)).values as Record<string, number>;
    expect(before.max_12h).toBeLessThan(999.5);
    const r = await runCli([...ARGS, '--project', dir], { input: input(resendLine) });
    expect(r.code, r.stderr).toBe(0);
    const after = (await cliGet(dir, 'v', resend.user_id, at)).values as Record<string, number>;
    // the re-sent event took the old one's place: counted once, with its new amount
    expect(after.n_1h).toBe(before.n_1h);
    expect(after.nn_1d).toBe(before.nn_1d);
    expect(after.max_12h).toBe(999.5);
    expect(after.sum_1d).toBeCloseTo((before.sum_1d as number) - (resend.amount as number) + 999.5, 9);
    await expectParity(dir, [at]);
  }, 150_000);

  it('streams more events on top into values equal to batch over all, also killed with -9 and restarted', async () => {
    const all = input(resendLine, ...fresh);
    const total = OLD_LINES.length + 1 + fresh.length;
    const whole = oldProject();
    const killed = oldProject();
    expect(await runKillable(whole, all, undefined, 0, KILL_ARGS)).toBe(0);
    expect(checkpointed(whole)).toBe(total);

    const partial: number[] = [];
    let code: number | null = null;
    const kills = [OLD_LINES.length + 60, OLD_LINES.length + 250];
    for (let attempt = 0; attempt < 8 && code !== 0; attempt++) {
      const target = kills[attempt];
      code = await runKillable(killed, all, target, target === undefined ? 0 : 5 * attempt, KILL_ARGS);
      if (code === null) partial.push(checkpointed(killed));
    }
    expect(code).toBe(0);
    expect(
      partial.some((n) => n > OLD_LINES.length && n < total),
      `checkpoints at the kills: ${partial}`,
    ).toBe(true);

    const reads = newReads(fresh);
    await expectParity(whole, reads);
    await expectParity(killed, reads);
    const ats = reads.map((t) => parseReadTime(t, 'Europe/Paris') as number);
    expect(await onlineSnapshot(killed, ats)).toEqual(await onlineSnapshot(whole, ats));

    // the job's first writes rewrote the old states it touched in this version's layout (every
    // entity of v; of the wide view, those with a new event over its `where`: the rest stay as they were)
    const project = await loadProject(whole);
    const store = OnlineStore.open(onlineDir(project), { readonly: true });
    try {
      for (const view of ['v', 'w']) {
        const spec = project.views[view];
        if (!spec) throw new Error(`no view ${view}`);
        const rt = new ViewRuntime(spec, project.timezone, project);
        const widths = [...store.loadStates(view).values()].map((s) => s.width);
        if (view === 'v') expect(widths).toEqual(USERS.map(() => rt.layout.width));
        else {
          expect(widths).toContain(rt.layout.width);
          expect(new Set(widths)).toEqual(new Set([rt.layout.width, 2 + spec.features.length]));
        }
      }
    } finally {
      store.close();
    }
  }, 300_000);
});

describe('Redis states written by the previous version (a tail of entry arrays)', () => {
  let redis: RunningServer;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    redis = await startRedis();
    env = { [REDIS_URL_ENV]: redis.url };
    process.env[REDIS_URL_ENV] = redis.url;
    const dump = JSON.parse(readFileSync(path.join(FIXTURE, 'redis-states.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    const client = createClient({ url: redis.url });
    await client.connect();
    for (const [key, fields] of Object.entries(dump)) await client.hSet(key, fields);
    await client.quit();
    dir = oldProject(`online: { type: redis, url_env: ${REDIS_URL_ENV} }\n`);
  });
  afterAll(async () => {
    delete process.env[REDIS_URL_ENV];
    await redis?.stop();
  });

  it('are answered by `asof get` as the old version answered, and resumed into values equal to batch', async () => {
    expect(existsSync(path.join(dir, '.asof', 'online', 'online.sqlite'))).toBe(false);
    const key = 'u5';
    expect((await cliGet(dir, 'v', key, OLD_READS[2] as string, env)).values).toEqual(
      OLD_ANSWERS[`v ${key} ${OLD_READS[2]}`],
    );
    await expectOldAnswers(dir);
    await expectParity(dir, OLD_READS, env);

    const fresh = newEvents(300, 9);
    const r = await runCli([...ARGS, '--project', dir], {
      input: `${[...OLD_LINES, ...fresh].join('\n')}\n`,
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    await expectParity(dir, newReads(fresh), env);
  }, 150_000);
});
