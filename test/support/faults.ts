// Shared by the fault tests: a seeded random source (kill points are random but reproducible),
// a CLI run killed with -9 after a delay, a child that kills itself at a chosen checkpoint commit,
// and a snapshot of a folder's files (path -> sha256) to say "nothing changed".

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './project.js';

/** A small seeded generator (LCG): the same seed gives the same kill points on every run. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** Runs the CLI and kills it with SIGKILL after `ms` (null when killed, else the exit code). */
export function killAfter(args: string[], ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL' ? null : code);
    });
  });
}

/**
 * Runs the CLI in a child that SIGKILLs itself at its `n`th online-store commit, just `before` it
 * (the offline batch and logs are written, the checkpoint transaction is not) or just `after` it
 * (state and checkpoint committed, the source not yet acknowledged). See fault-child.ts.
 */
export function runWithCommitFault(
  args: string[],
  fault: { when: 'before' | 'after'; n: number },
  input = '',
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'faults', 'fault-child.ts'), ...args],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'ignore', 'pipe'],
        env: { ...process.env, ASOF_FAULT: `${fault.when}:${fault.n}` },
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      if (code !== null && code !== 0) reject(new Error(`fault child exited ${code}: ${stderr}`));
      else resolve(signal === 'SIGKILL' ? null : code);
    });
    child.stdin.end(input);
  });
}

/** Every file under `dir` (relative path -> sha256), optionally skipping paths that match. */
export function snapshotFiles(dir: string, skip?: RegExp): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const full = path.join(d, e);
      const rel = path.relative(dir, full);
      if (skip?.test(rel)) continue;
      if (statSync(full).isDirectory()) walk(full);
      else out[rel] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** Events of `users` users over January 2025 (CSV), amounts shifted by `amount`. */
export function eventsCsv(rows: number, users: number, amount = 1): string {
  const lines = ['user_id,event_ts,amount,status'];
  for (let i = 0; i < rows; i++) {
    const day = 1 + (i % 28);
    lines.push(
      `u${i % users},2025-01-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00,${amount + (i % 7)},success`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the CLI and kills it with SIGKILL `jitterMs` after `ready()` first holds (polled every
 * 5 ms): a kill tied to progress (a staging folder exists, N partitions are published) instead of
 * wall-clock time, which drifts with the machine's load. Null when killed, else the exit code.
 */
export function killWhen(args: string[], ready: () => boolean, jitterMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
      stdio: 'ignore',
    });
    let timer: NodeJS.Timeout | undefined;
    const poll = setInterval(() => {
      let ok = false;
      try {
        ok = ready();
      } catch {
        ok = false;
      }
      if (ok) {
        clearInterval(poll);
        timer = setTimeout(() => child.kill('SIGKILL'), jitterMs);
      }
    }, 5);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve(signal === 'SIGKILL' ? null : code);
    });
  });
}
