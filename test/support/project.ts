// Test projects in temporary folders, and the CLI run as a user runs it (node bin/asof.js).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_DIR = path.resolve(REPO_ROOT, '..', 'shared');

export function tempDir(prefix = 'asof-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `files` (relative path -> content) into a fresh folder and returns it. */
export function makeProject(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(dir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the installed CLI in a child process, as a user would. */
export function runCli(
  args: string[],
  opts: { cwd?: string; input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'asof.js'), ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A one-source, one-entity spec with the given view features and options. */
export function spec(opts: {
  timezone?: string;
  columns?: Record<string, string>;
  cutoff?: 'end_of_day' | 'start_of_day';
  where?: string;
  features: Record<string, string>;
  primaryKey?: string;
  path?: string;
}): string {
  const columns = opts.columns ?? {
    user_id: 'string',
    event_ts: 'timestamp',
    amount: 'double',
    status: 'string',
  };
  return [
    'project: t',
    `timezone: ${opts.timezone ?? 'UTC'}`,
    'sources:',
    '  events:',
    `    path: ${opts.path ?? 'data/events.csv'}`,
    '    timestamp: event_ts',
    ...(opts.primaryKey ? [`    primary_key: ${opts.primaryKey}`] : []),
    '    columns:',
    ...Object.entries(columns).map(([k, v]) => `      ${k}: ${v}`),
    'entities:',
    '  user:',
    '    key: user_id',
    'views:',
    '  v:',
    '    entity: user',
    '    source: events',
    '    version: 1',
    `    cutoff: ${opts.cutoff ?? 'end_of_day'}`,
    ...(opts.where ? [`    where: ${JSON.stringify(opts.where)}`] : []),
    '    features:',
    ...Object.entries(opts.features).map(([k, v]) => `      ${k}: ${v}`),
    '',
  ].join('\n');
}
