// Shared by the http ingest tests: a spec with read and ingest tokens, a POST helper, the
// checkpoint of the events source, and `asof serve --stream v` run as a child process.

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Project } from '../../src/spec/project.js';
import { OnlineStore } from '../../src/storage/online/sqlite.js';
import { onlineDir } from '../../src/stream/job.js';
import { REPO_ROOT } from './project.js';
import { SPEC } from './stream.js';

export const READ = 'read-token-1';
export const INGEST = 'ingest-token-2';
export const ENV = { ASOF_T_READ: READ, ASOF_T_INGEST: INGEST };
export const INGEST_SPEC = `${SPEC}serve:
  tokens:
    - { name: reader, token_env: ASOF_T_READ, scopes: [read] }
    - { name: feeder, token_env: ASOF_T_INGEST, scopes: [ingest] }
`;
export const FILES = { 'asof.yaml': INGEST_SPEC, 'data/events.csv': 'user_id,event_ts,amount,status\n' };

export interface IngestBody {
  received: number;
  accepted: number;
  late: number;
  dead: number;
  rejected: { index: number; outcome: string; reason: string }[];
  offsets: [number, number];
  error?: string;
}

export function post(
  base: string,
  body: string,
  type: string,
  token: string | null = INGEST,
  source = 'events',
) {
  return fetch(`${base}/v1/ingest/${source}`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

export function checkpointOf(project: Project) {
  const store = OnlineStore.open(onlineDir(project), { readonly: true });
  try {
    return store.readCheckpoint('events')?.checkpoint;
  } finally {
    store.close();
  }
}

/** `asof serve --stream v` as a child process; resolves with its base URL once it listens. */
export function startServe(
  dir: string,
): Promise<{ child: ChildProcess; base: string; exit: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'asof.js'), 'serve', '--port', '0', '--stream', 'v', '--project', dir],
    { env: { ...process.env, ...ENV }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL')
        process.stderr.write(`asof serve exited ${code ?? signal}: ${err}\n`);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, base: m[1] as string, exit });
    });
    child.on('close', () => reject(new Error(err)));
  });
}

/** Posts `batches` with at most `parallel` in flight; records what was answered 200. */
export async function feed(
  base: string,
  batches: string[],
  parallel: number,
  onAnswer?: (n: number) => void,
) {
  const acked: IngestBody[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const body = batches[next++] as string;
      try {
        const r = await post(base, body, 'application/x-ndjson');
        if (r.status === 200) {
          acked.push((await r.json()) as IngestBody);
          onAnswer?.(acked.length);
        } else {
          failed++;
          await r.body?.cancel();
        }
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { acked, failed };
}
