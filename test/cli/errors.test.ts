// Bad input gets one clear message naming the file, column or spec path, a documented exit code,
// and leaves the lake as it was.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeProject, runCli, showCsv, spec } from '../support/project.js';

const GOOD_CSV = 'user_id,event_ts,amount,status\nu1,2025-01-05T10:00:00,10,success\n';

function project(yaml: string, csv = GOOD_CSV) {
  return makeProject({ 'asof.yaml': yaml, 'data/events.csv': csv });
}

const good = spec({ features: { n: '{ agg: count, window: 7d }' } });

async function lakeSnapshot(dir: string): Promise<string> {
  const s = await showCsv(dir, '2025-01-10');
  return s.stdout;
}

describe('bad input', () => {
  it('a missing source file: exit 2, names the file and the spec path', async () => {
    const dir = project(spec({ path: 'data/nope.csv', features: { n: '{ agg: count, window: 7d }' } }));
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('data/nope.csv');
    expect(r.stderr).toContain('sources.events.path');
  });

  it('a contract column absent from the data: exit 3, names the column and the file; the lake is unchanged', async () => {
    const dir = project(good);
    expect((await runCli(['build', '--project', dir, '--as-of', '2025-01-10'])).code).toBe(0);
    const before = await lakeSnapshot(dir);
    writeFileSync(
      path.join(dir, 'data/events.csv'),
      'user_id,event_ts,status\nu1,2025-01-05T10:00:00,success\n',
    );
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/'amount'/);
    expect(r.stderr).toContain('events.csv');
    expect(await lakeSnapshot(dir)).toBe(before);
  });

  it('an unparsable timestamp: exit 3, names the column, the line and the value', async () => {
    const dir = project(
      good,
      'user_id,event_ts,amount,status\nu1,2025-01-05T10:00:00,10,success\nu1,2025-13-45 10:00,10,success\n',
    );
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('line 3');
    expect(r.stderr).toContain('event_ts');
    expect(r.stderr).toContain('2025-13-45 10:00');
  });

  it('an unparsable number: exit 3, names the column', async () => {
    const dir = project(good, 'user_id,event_ts,amount,status\nu1,2025-01-05T10:00:00,ten,success\n');
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("column amount: cannot read 'ten' as double");
  });

  it('a null entity key: exit 3, names the key column', async () => {
    const dir = project(good, 'user_id,event_ts,amount,status\n,2025-01-05T10:00:00,10,success\n');
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('column user_id: the entity key is empty');
  });

  it('an unknown aggregation: exit 2, names the spec path and line', async () => {
    const dir = project(spec({ features: { n: '{ agg: median, column: amount, window: 7d }' } }));
    const r = await runCli(['validate', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('views.v.features.n.agg');
    expect(r.stderr).toMatch(/line \d+/);
    expect(r.stderr).toContain('count, sum, avg');
  });

  it('an unknown window: exit 2, names the spec path', async () => {
    const dir = project(spec({ features: { n: '{ agg: count, window: 7w }' } }));
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('views.v.features.n.window');
    expect(r.stderr).toContain("'7w' is not a window");
  });

  it('a where that does not parse: exit 2, with the position', async () => {
    const dir = project(
      spec({ where: "status = 'success' AND", features: { n: '{ agg: count, window: 7d }' } }),
    );
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('views.v.where');
    expect(r.stderr).toMatch(/position \d+/);
  });

  it('a where naming an unknown column: exit 2, lists the known columns', async () => {
    const dir = project(spec({ where: "state = 'x'", features: { n: '{ agg: count, window: 7d }' } }));
    const r = await runCli(['validate', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('state');
    expect(r.stderr).toContain('status');
  });

  it('a date that does not parse: exit 2', async () => {
    const dir = project(good);
    const r = await runCli(['build', '--project', dir, '--as-of', '2025-02-30']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--as-of '2025-02-30' is not a date");
  });

  it('invalid YAML: exit 2 with the line', async () => {
    const dir = project('project: t\nsources: [\n');
    const r = await runCli(['validate', '--project', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/asof\.yaml:\d+/);
  });

  it('an unknown option: exit 2 with the usage', async () => {
    const r = await runCli(['build', '--frobnicate']);
    expect(r.code).toBe(2);
  });
});

describe('init, validate', () => {
  it('init scaffolds a project that validates and builds', async () => {
    const dir = makeProject({});
    const target = path.join(dir, 'proj');
    expect((await runCli(['init', target])).code).toBe(0);
    expect(readFileSync(path.join(target, 'asof.yaml'), 'utf8')).toContain('# asof project');
    const v = await runCli(['validate', '--project', target]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('transactions (1 file(s), 8 rows)');
    expect((await runCli(['build', '--project', target, '--as-of', '2025-01-10'])).code).toBe(0);
    const s = await showCsv(target, '2025-01-10', 'user_spend');
    expect(s.stdout.split('\n')[0]).toBe(
      'user_id,as_of_date,avg_amount_7d,purchases_30d,max_amount_all,days_since_purchase',
    );
    expect(s.stdout).toContain('u3,2025-01-10,99.9,1,99.9,0');
    expect(readdirSync(path.join(target, '.asof/lake/user_spend/v1'))).toContain('as_of_date=2025-01-10');
    expect((await runCli(['init', target])).code).toBe(2);
  });
});
