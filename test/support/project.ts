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

/** `asof show --format csv` of one view's partition, as the CLI prints it. */
export function showCsv(dir: string, asOf: string, view = 'v'): Promise<CliResult> {
  return runCli(['show', '--project', dir, '--view', view, '--as-of', asOf, '--format', 'csv']);
}

/** A one-source, one-entity spec with the given view features and options. */
export function spec(opts: {
  timezone?: string;
  /** Top-level lines beside project and timezone, e.g. `schedule: ...` or `notify: ...`. */
  header?: string[];
  columns?: Record<string, string>;
  /** Lines of the source beside path and timestamp, e.g. `allowed_lateness: 2h`. */
  sourceExtra?: string[];
  cutoff?: 'end_of_day' | 'start_of_day';
  where?: string;
  features: Record<string, string>;
  /** The view's own checks, one flow mapping each. */
  viewChecks?: string[];
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
    ...(opts.header ?? []),
    'sources:',
    '  events:',
    `    path: ${opts.path ?? 'data/events.csv'}`,
    '    timestamp: event_ts',
    ...(opts.primaryKey ? [`    primary_key: ${opts.primaryKey}`] : []),
    ...(opts.sourceExtra ?? []).map((l) => `    ${l}`),
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
    ...(opts.viewChecks?.length ? ['    checks:', ...opts.viewChecks.map((c) => `      - ${c}`)] : []),
    '',
  ].join('\n');
}

/**
 * The quality-check project: events with an ingestion time, view v with avg_amount (carrying the
 * feature checks) and n over `window` (7d by default), and the view checks.
 */
export function qualitySpec(opts: {
  feature?: string[];
  view?: string[];
  sourceExtra?: string[];
  window?: string;
}): string {
  const window = opts.window ?? '7d';
  const checks = opts.feature?.length ? `, checks: [${opts.feature.join(', ')}]` : '';
  return spec({
    columns: { user_id: 'string', event_ts: 'timestamp', amount: 'double', ingested_at: 'timestamp' },
    sourceExtra: opts.sourceExtra,
    features: {
      avg_amount: `{ agg: avg, column: amount, window: ${window}${checks} }`,
      n: `{ agg: count, window: ${window} }`,
    },
    viewChecks: opts.view,
  });
}
