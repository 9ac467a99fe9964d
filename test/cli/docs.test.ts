// `asof docs`: the data dictionary as Markdown and static HTML, with every field the issue names
// (description, type, entity, window, aggregation, source, filter, versions, owner, checks,
// lineage, latest quality), read from a real build of the starter project.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_TRANSACTIONS_CSV, STARTER_SPEC } from '../../src/scaffold/starter.js';
import { makeProject, runCli, tempDir } from '../support/project.js';

const SPEC = STARTER_SPEC.replace(
  'avg_amount_7d: { agg: avg, column: amount, window: 7d, description: Average successful payment over 7 days }',
  'avg_amount_7d: { agg: avg, column: amount, window: 7d, description: Average successful payment over 7 days, owner: risk-team, checks: [{ null_rate: { max: 0.5 } }, { range: { min: 0, max: 1000 } }] }',
).replace(
  '  user_spend:\n    entity: user\n',
  '  user_spend:\n    entity: user\n    owner: payments <team@example.com>\n',
);

let md: string;
let html: string;

beforeAll(async () => {
  expect(SPEC).toContain('owner: risk-team');
  const dir = makeProject({ 'asof.yaml': SPEC, 'data/transactions.csv': SAMPLE_TRANSACTIONS_CSV });
  const built = await runCli(['build', '--project', dir, '--as-of', '2025-01-10']);
  expect(built.code, built.stderr).toBe(0);
  const out = path.join(tempDir(), 'docs');
  const r = await runCli(['docs', '--project', dir, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/dictionary\.md/);
  md = readFileSync(path.join(out, 'dictionary.md'), 'utf8');
  html = readFileSync(path.join(out, 'dictionary.html'), 'utf8');
}, 60_000);

describe('asof docs', () => {
  it('writes one Markdown section per feature with every field', () => {
    for (const f of ['avg_amount_7d', 'purchases_30d', 'max_amount_all', 'days_since_purchase']) {
      expect(md).toContain(`## user_spend.${f}`);
    }
    const section = md.slice(
      md.indexOf('## user_spend.avg_amount_7d'),
      md.indexOf('## user_spend.purchases_30d'),
    );
    expect(section).toContain('| Description | Average successful payment over 7 days |');
    expect(section).toContain('| Type | double |');
    expect(section).toContain('| Entity | user (user_id) |');
    expect(section).toContain('| Window | 7d |');
    expect(section).toContain('| Aggregation | avg(amount) |');
    expect(section).toContain('| Source | transactions (data/transactions.csv) |');
    expect(section).toContain("| Filter | status = 'success' |");
    expect(section).toMatch(
      /\| Versions \| feature_version 1, transformation_version [0-9a-f]{16}; in the lake: v1 \|/,
    );
    // the feature's owner wins over the view's
    expect(section).toContain('| Owner | risk-team |');
    expect(section).toContain('| Checks | null_rate <= 0.5 (error); range [0, 1000] (error) |');
    expect(section).toContain('| Lineage | source transactions -> user_spend v1 |');
    // 7 days back from the end of 2025-01-10: u1 avg(10, 30) = 20, u2 15, u3 99.9: mean 44.966667
    expect(section).toMatch(
      /\| Latest quality \| as of 2025-01-10: 3 rows, null rate 0\.00%, mean 44\.966667, PSI - \|/,
    );
    // a view-wide owner is what a feature without its own shows
    const other = md.slice(md.indexOf('## user_spend.purchases_30d'));
    expect(other).toContain('| Owner | payments <team@example.com> |');
  });

  it('writes the same facts as a static HTML page, escaped', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(html).toContain('<section id="user_spend.avg_amount_7d">');
    expect(html).toContain('<dt>Owner</dt><dd>payments &lt;team@example.com&gt;</dd>');
    expect(html).toContain("<dt>Filter</dt><dd>status = 'success'</dd>");
    expect(html).toContain('<dt>Aggregation</dt><dd>avg(amount)</dd>');
  });
});
