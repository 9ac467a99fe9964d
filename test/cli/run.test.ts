// `asof run` end to end: stage JSON lines, the webhook (a real local HTTP server) and command
// notifications, a failed notify (exit 6, the load stays), `asof runs` and `asof metrics`.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeProject, runCli, showCsv, spec } from '../support/project.js';

interface Hook {
  server: Server;
  url: string;
  bodies: Record<string, unknown>[];
  status: number;
}

async function startHook(): Promise<Hook> {
  const hook: Hook = { server: createServer(), url: '', bodies: [], status: 200 };
  hook.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      if (req.method === 'POST' && req.headers['content-type'] === 'application/json') {
        hook.bodies.push(JSON.parse(body) as Record<string, unknown>);
      }
      res.writeHead(hook.status).end();
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/hook`;
  return hook;
}

function yaml(notify: string[], check = '{ range: { min: 0, max: 100 }, severity: error }'): string {
  return spec({
    header: notify,
    columns: { user_id: 'string', event_ts: 'timestamp', amount: 'double' },
    features: { avg_amount: `{ agg: avg, column: amount, window: 7d, checks: [${check}] }` },
  });
}

const CSV = 'user_id,event_ts,amount\nu1,2025-01-09T10:00:00,10\nu2,2025-01-10T10:00:00,20\n';
const BAD = `${CSV}u3,2025-01-10T11:00:00,500\n`;

const lines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('asof run', () => {
  let hook: Hook;
  beforeAll(async () => {
    hook = await startHook();
  });
  afterAll(() => new Promise<void>((resolve) => hook.server.close(() => resolve())));

  it('logs each stage as a JSON line and posts the summary to the webhook', async () => {
    hook.bodies.length = 0;
    hook.status = 200;
    const dir = makeProject({
      'asof.yaml': yaml([`notify: { webhook: "${hook.url}" }`]),
      'data/events.csv': CSV,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code, r.stderr).toBe(0);
    const stages = lines(r.stdout);
    expect(stages.map((s) => `${s.stage}:${s.status}`)).toEqual([
      'extract:ok',
      'transform:ok',
      'validate:ok',
      'load:ok',
      'notify:ok',
    ]);
    expect(stages[0]).toMatchObject({ source: 'events', rows_in: 2, rows_out: 2, rejected: 0 });
    for (const s of stages) expect(typeof s.duration_ms).toBe('number');
    expect(hook.bodies).toHaveLength(1);
    const body = hook.bodies[0] as Record<string, unknown> & { views: Record<string, unknown>[] };
    expect(body).toMatchObject({ status: 'ok', exit_code: 0, as_of_date: '2025-01-10', project: 't' });
    expect(body.views[0]).toMatchObject({ view: 'v', status: 'published', rows: 2 });
    expect(body.views[0]?.checks).toEqual([expect.objectContaining({ check: 'range', status: 'pass' })]);
    expect(body.stages).toHaveLength(4);
  });

  it('a run blocked by a check exits 4 and the webhook hears it failed', async () => {
    hook.bodies.length = 0;
    hook.status = 200;
    const dir = makeProject({
      'asof.yaml': yaml([`notify: { webhook: "${hook.url}" }`]),
      'data/events.csv': BAD,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(4);
    expect(lines(r.stdout).map((s) => `${s.stage}:${s.status}`)).toEqual([
      'extract:ok',
      'transform:ok',
      'validate:failed',
      'load:skipped',
      'notify:ok',
    ]);
    expect(hook.bodies[0]).toMatchObject({ status: 'failed', exit_code: 4 });
  });

  it('a failed webhook is reported with exit 6; the load stays and the history says so', async () => {
    hook.bodies.length = 0;
    hook.status = 500;
    const dir = makeProject({
      'asof.yaml': yaml([`notify: { webhook: "${hook.url}" }`]),
      'data/events.csv': CSV,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('notify failed');
    expect(r.stderr).toContain('HTTP 500');
    const show = await showCsv(dir, '2025-01-10');
    expect(show.stdout).toBe('user_id,as_of_date,avg_amount\nu1,2025-01-10,10\nu2,2025-01-10,20\n');
    const runs = JSON.parse((await runCli(['runs', '--project', dir, '--format', 'json'])).stdout);
    expect(runs[0]).toMatchObject({ status: 'ok', exit_code: 6, notify: [{ ok: false }] });
  });

  it('a notify command receives the summary on stdin', async () => {
    const dir = makeProject({
      'asof.yaml': yaml(['notify: { command: "cat > notified.json" }']),
      'data/events.csv': CSV,
    });
    const r = await runCli(['run', '--project', dir, '--as-of', '2025-01-10'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(dir, 'notified.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'ok', as_of_date: '2025-01-10' });
  });

  it('runs lists the history newest first, filters by view and limits; metrics prints Prometheus text', async () => {
    const dir = makeProject({ 'asof.yaml': yaml([]), 'data/events.csv': CSV });
    expect((await runCli(['run', '--project', dir, '--as-of', '2025-01-09'])).code).toBe(0);
    expect((await runCli(['build', '--project', dir, '--as-of', '2025-01-10'])).code).toBe(0);
    const table = await runCli(['runs', '--project', dir, '--view', 'v', '--limit', '1']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('(1 rows)');
    expect(table.stdout).toMatch(/build\s+2025-01-10\s+ok/);
    const all = await runCli(['runs', '--project', dir]);
    expect(all.stdout).toContain('extract(events):ok');
    expect((await runCli(['runs', '--project', dir, '--view', 'nope'])).stdout).toContain('(0 rows)');
    const m = await runCli(['metrics', '--project', dir]);
    expect(m.stdout).toContain('# TYPE asof_runs_total counter');
    expect(m.stdout).toContain('asof_runs_total{command="run",status="ok"} 1');
    expect(m.stdout).toContain('asof_runs_total{command="build",status="ok"} 1');
    expect(m.stdout).toContain('asof_rows_written_total{view="v"} 3');
    expect(m.stdout).toContain('asof_source_rows_rejected_total{source="events"} 0');
  });
});
