// Shared by the stream tests: a spec with every window shape, a deterministic event stream (out of
// order, late and invalid events), snapshots of the online store and the offline events, and a
// stream run that is killed with -9 once its checkpoint has passed a given offset.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { loadProject } from '../../src/pipeline/project.js';
import { OnlineStore } from '../../src/storage/online/sqlite.js';
import { eventsDir, onlineDir } from '../../src/stream/job.js';
import { ViewRuntime } from '../../src/stream/state.js';
import { REPO_ROOT } from './project.js';

export const SPEC = `project: s
timezone: Europe/Paris
sources:
  events:
    path: data/events.csv
    timestamp: event_ts
    allowed_lateness: 2h
    columns: { user_id: string, event_ts: timestamp, amount: double, status: string }
entities:
  user: { key: user_id }
views:
  v:
    entity: user
    source: events
    where: "status <> 'fail'"
    features:
      n_1h: { agg: count, window: 1h }
      sum_1d: { agg: sum, column: amount, window: 1d }
      avg_all: { agg: avg, column: amount, window: all }
      max_7d: { agg: max, column: amount, window: 7d }
      last_amt: { agg: last, column: amount, window: 2d }
      sd_3d: { agg: stddev, column: amount, window: 3d }
      dsl: { agg: days_since_last, window: all }
`;

/** A deterministic stream: mostly in order, some out of order within 2h, some late, some invalid. */
export function events(n: number, seed: number): string[] {
  let x = seed;
  const rnd = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const t0 = Date.UTC(2025, 2, 28); // across the EU DST change of 2025-03-30
  const out: string[] = [];
  let t = t0;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 60_000);
    const r = rnd();
    const user = `u${Math.floor(rnd() * 50)}`;
    const amount = Math.round(rnd() * 10_000) / 100;
    const status = rnd() < 0.1 ? 'fail' : 'ok';
    let ts = t;
    if (r < 0.1)
      ts = t - Math.floor(rnd() * 3_600_000); // out of order, within the lateness
    else if (r < 0.12) ts = t - 5 * 3_600_000; // late
    if (r > 0.99) out.push(`{"user_id":"${user}","event_ts":"yesterday","amount":1,"status":"ok"}`);
    else if (r > 0.985) out.push('{"user_id":null,"event_ts":"2025-03-28T00:00:00Z"}');
    else out.push(JSON.stringify({ user_id: user, event_ts: new Date(ts).toISOString(), amount, status }));
  }
  return out;
}

export async function onlineSnapshot(dir: string, ats: number[]): Promise<Record<string, unknown>> {
  const project = await loadProject(dir);
  const view = project.views.v;
  if (!view) throw new Error('view');
  const store = OnlineStore.open(onlineDir(project), { readonly: true });
  try {
    const rt = new ViewRuntime(view, project.timezone, project);
    const states = store.loadStates('v');
    const out: Record<string, unknown> = {};
    for (const [k, s] of [...states].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[k] = ats.map((at) => rt.valuesAt(s, at));
    }
    // positions, log sizes and the compaction horizon depend on the source and on checkpoint timing
    out.__checkpoint = {
      ...store.readCheckpoint('events')?.checkpoint,
      lateBytes: 0,
      deadBytes: 0,
      exactFrom: 0,
      offlinePosition: '',
    };
    return out;
  } finally {
    store.close();
  }
}

export async function offlineRows(dir: string): Promise<unknown[][]> {
  const project = await loadProject(dir);
  const engine = await DuckDbEngine.open({ threads: 1 });
  try {
    const r = await engine.query(
      `SELECT * FROM read_parquet('${eventsDir(project, 'events')}/*/*.parquet') ORDER BY _offset`,
    );
    return r.rows;
  } finally {
    await engine.close();
  }
}

// time-triggered offline batches: a replay cuts them elsewhere, so orphans must be cleaned up
export const ARGS = [
  'stream',
  '--view',
  'v',
  '--source',
  'stdin',
  '--checkpoint-events',
  '300',
  '--offline-events',
  '2000',
  '--offline-ms',
  '150',
];

/** Reads how far the job's last checkpoint got (0 before the first one). */
export function checkpointed(dir: string): number {
  const file = path.join(dir, '.asof', 'online', 'online.sqlite');
  if (!existsSync(file)) return 0;
  try {
    const store = OnlineStore.open(path.dirname(file), { readonly: true });
    try {
      return store.readCheckpoint('events')?.checkpoint.nextSeq ?? 0;
    } finally {
      store.close();
    }
  } catch {
    return 0;
  }
}

/**
 * Runs the stream on `input`; with `killAt`, kills it with -9 once its checkpoint has passed that
 * offset, `jitterMs` later (so that the kill lands between checkpoints, mid-batch).
 */
export function runKillable(
  dir: string,
  input: string,
  killAt?: number,
  jitterMs = 0,
  args: string[] = ARGS,
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args, '--project', dir],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    let timer: NodeJS.Timeout | undefined;
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve(signal === 'SIGKILL' ? null : code);
    });
    // feed in chunks, so that the kill lands while events are still arriving
    const chunks = input.match(/[\s\S]{1,32768}/g) ?? [];
    let i = 0;
    const feed = () => {
      if (i >= chunks.length) {
        child.stdin.end();
        return;
      }
      child.stdin.write(chunks[i++] as string, () => setTimeout(feed, 10));
    };
    feed();
    if (killAt !== undefined) {
      timer = setInterval(() => {
        if (checkpointed(dir) >= killAt) {
          clearInterval(timer);
          setTimeout(() => child.kill('SIGKILL'), jitterMs);
        }
      }, 10);
    }
  });
}
