// `asof schedule` with an injected clock: each fire runs yesterday's date; after downtime the
// missed dates are caught up in order; a spec without a schedule, or with a bad one, is an error.

import { describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { datesDue, runScheduler } from '../../src/pipeline/schedule.js';
import { listPartitions } from '../../src/storage/lake/partition.js';
import { readRuns } from '../../src/storage/meta/runs.js';
import { makeProject, runCli, spec } from '../support/project.js';

function scheduled(schedule?: string): string {
  return spec({
    timezone: 'Europe/Paris',
    header: schedule ? [`schedule: "${schedule}"`] : [],
    columns: { user_id: 'string', event_ts: 'timestamp', amount: 'double' },
    features: { n: '{ agg: count, window: all }' },
  });
}

const CSV = 'user_id,event_ts,amount\nu1,2025-01-01T10:00:00,1\n';

/** A clock that only moves when the scheduler sleeps. */
function fakeTime(startIso: string) {
  let now = Date.parse(startIso);
  const sleeps: number[] = [];
  return {
    clock: { now: () => now },
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
    set: (iso: string) => {
      now = Date.parse(iso);
    },
    sleeps,
  };
}

describe('asof schedule', () => {
  it('runs yesterday at each fire, then catches up the dates missed during downtime', async () => {
    const dir = makeProject({ 'asof.yaml': scheduled('0 2 * * *'), 'data/events.csv': CSV });
    const project = await loadProject(dir);
    // 03:00 Paris on 01-12: the 02:00 fire of 01-12 is due -> 2025-01-11. Then it sleeps until
    // 02:00 Paris on 01-13 (01:00Z), wakes, and runs 2025-01-12.
    const t = fakeTime('2025-01-12T02:00:00Z');
    const ran = await runScheduler(project, { clock: t.clock, sleep: t.sleep, maxWakeups: 2 });
    expect(ran).toEqual(['2025-01-11', '2025-01-12']);
    expect(t.sleeps[0]).toBe(Date.parse('2025-01-13T01:00:00Z') - Date.parse('2025-01-12T02:00:00Z'));
    // Down for three days: restarted on 01-16 at 09:00 Paris, it catches up 01-13, 01-14, 01-15.
    t.set('2025-01-16T08:00:00Z');
    const caught = await runScheduler(project, { clock: t.clock, sleep: t.sleep, maxWakeups: 1 });
    expect(caught).toEqual(['2025-01-13', '2025-01-14', '2025-01-15']);
    expect(listPartitions(project.storage.offline, 'v', 1)).toEqual([
      '2025-01-11',
      '2025-01-12',
      '2025-01-13',
      '2025-01-14',
      '2025-01-15',
    ]);
    const runs = readRuns(project.storage.offline);
    expect(runs.map((r) => `${r.command} ${r.as_of_date} ${r.status}`)).toEqual([
      'schedule 2025-01-11 ok',
      'schedule 2025-01-12 ok',
      'schedule 2025-01-13 ok',
      'schedule 2025-01-14 ok',
      'schedule 2025-01-15 ok',
    ]);
    // Nothing is due again before the next fire.
    expect(datesDue(project, '0 2 * * *', Date.parse('2025-01-16T09:00:00Z'))).toEqual([]);
  });

  it('at most max_catch_up dates are caught up', async () => {
    const dir = makeProject({ 'asof.yaml': scheduled('0 2 * * *'), 'data/events.csv': CSV });
    const project = await loadProject(dir);
    const t = fakeTime('2025-01-02T02:00:00Z');
    await runScheduler(project, { clock: t.clock, sleep: t.sleep, maxWakeups: 1 });
    expect(datesDue(project, '0 2 * * *', Date.parse('2025-02-20T02:00:00Z'), 5)).toEqual([
      '2025-02-15',
      '2025-02-16',
      '2025-02-17',
      '2025-02-18',
      '2025-02-19',
    ]);
  });

  it('a bad cron expression is a spec error; no schedule is an error of its own', async () => {
    const bad = makeProject({ 'asof.yaml': scheduled('every night'), 'data/events.csv': CSV });
    const r = await runCli(['validate', '--project', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('schedule');
    const none = makeProject({ 'asof.yaml': scheduled(), 'data/events.csv': CSV });
    const s = await runCli(['schedule', '--project', none]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('the project has no schedule');
  });
});
