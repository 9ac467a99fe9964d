// The dashboard end to end in headless Chromium (Debian's chromium driven by playwright-core): the
// demo project (with its ELT layers: clickstream JSON in raw, SQL models, a view over a model) built
// over a week, one build blocked by a failing quality check, `asof serve` and `asof stream` run as a
// user runs them.
// Screenshots of every page go to test-output/screenshots/.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { REPO_ROOT, runCli, tempDir } from '../support/project.js';

const SHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';

let dir: string;
let browser: Browser;
let page: Page;
let serve: ChildProcess;
let url: string;
let serveLog = '';

/** Starts `asof serve` on a free port and resolves its address once it listens. */
function startServe(project: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'bin', 'asof.js'), 'serve', '--port', '0', '--project', project],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      err += d;
      serveLog = err.slice(-4000);
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1] as string });
    });
    child.on('close', (code) => reject(new Error(`asof serve exited ${code}: ${err}`)));
  });
}

async function open(name: string): Promise<void> {
  const target = `${url}/#/${name}`;
  // the same hash again is no navigation: reload to read the data anew
  if (page.url() === target) await page.reload();
  else await page.goto(target);
  try {
    await page.waitForSelector(`.page[data-page="${name}"][data-state="ready"]`, { timeout: 20_000 });
  } catch (e) {
    const state = await page.evaluate('document.getElementById("page")?.innerText ?? ""');
    throw new Error(`page ${name} not ready: ${(e as Error).message}\npage: ${state}\nserve: ${serveLog}`);
  }
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = path.join(tempDir('asof-dashboard-'), 'demo');
  const demo = await runCli(['demo', '--dir', dir, '--users', '60', '--events', '4000']);
  expect(demo.code, demo.stderr).toBe(0);
  const back = await runCli(['backfill', '--project', dir, '--from', '2025-03-24', '--to', '2025-03-30']);
  expect(back.code, back.stderr).toBe(0);
  // one earlier date of one view only: the other views miss it
  const early = await runCli(['build', '--project', dir, '--as-of', '2025-03-20', '--view', 'user_activity']);
  expect(early.code, early.stderr).toBe(0);

  // a null-rate check that the data breaks: the build of 2025-03-27 is blocked (exit code 4)
  const spec = parse(readFileSync(path.join(dir, 'asof.yaml'), 'utf8'));
  spec.views.user_spend.features.avg_amount_7d.checks = [{ null_rate: { max: 0.01 } }];
  writeFileSync(path.join(dir, 'asof.yaml'), stringify(spec));
  const blocked = await runCli(['build', '--project', dir, '--as-of', '2025-03-27']);
  expect(blocked.code, blocked.stderr).toBe(4);

  // a definition change without a version bump: user_support's partitions are stale
  spec.views.user_support.cutoff = 'end_of_day';
  writeFileSync(path.join(dir, 'asof.yaml'), stringify(spec));

  // the demo's own ELT layers (issue 6): raw.clickstream landed, its models built, a view over one
  for (const m of ['refined/clicks.sql', 'refined/sessions.sql', 'features/user_active_24h.sql'])
    expect(existsSync(path.join(dir, 'models', m)), m).toBe(true);

  ({ child: serve, url } = await startServe(dir));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  serve?.kill('SIGTERM');
});

describe('dashboard', () => {
  it('loads on the demo project: every view has its published partitions with rows on hover', async () => {
    await open('views');
    for (const view of ['user_spend', 'user_activity']) {
      const cells = page.locator(`.cell[data-view="${view}"][data-state="published"]`);
      expect(await cells.count()).toBeGreaterThanOrEqual(7);
    }
    expect(await page.textContent('#project')).toContain('UTC');
    await page.hover('.cell[data-view="user_activity"][data-date="2025-03-31"]');
    const tip = await page.textContent('#tip');
    expect(tip).toMatch(/user_activity v1 as of 2025-03-31: published/);
    expect(tip).toMatch(/rows: \d+/);
    expect(tip).toMatch(/duration: \d+/);
    await shot('views');
  });

  it('marks partitions built by another definition stale and dates without a partition missing', async () => {
    await open('views');
    const support = page.locator('.cell[data-view="user_support"][data-state="stale"]');
    expect(await support.count()).toBe(8); // 2025-03-24 .. 2025-03-31
    await support.first().hover();
    expect(await page.textContent('#tip')).toMatch(
      /stale.*transformation_version [0-9a-f]{16}; the spec is now/s,
    );
    expect(
      await page.getAttribute('.cell[data-view="user_activity"][data-date="2025-03-20"]', 'data-state'),
    ).toBe('published');
    for (const d of ['2025-03-20', '2025-03-21', '2025-03-22', '2025-03-23']) {
      expect(await page.getAttribute(`.cell[data-view="user_spend"][data-date="${d}"]`, 'data-state')).toBe(
        'missing',
      );
    }
    // 2025-03-20 .. 2025-03-31: user_activity 3, user_spend 4, user_support 4, user_sessions 4
    expect(await page.textContent('[data-count="missing"]')).toMatch(/missing \(15\)/);
  });

  it('serves only the built assets', async () => {
    expect((await fetch(`${url}/`)).headers.get('content-type')).toMatch(/text\/html/);
    const html = await (await fetch(`${url}/`)).text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    expect((await fetch(`${url}${js}`)).headers.get('content-type')).toMatch(/javascript/);
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN
    for (const bad of [
      '/assets/..%2Fpackage.json',
      '/assets/.hidden',
      '/assets/%2E%2E%2F%2E%2E%2Fpackage.json',
    ]) {
      expect((await fetch(`${url}${bad}`)).status).toBe(404);
    }
  });

  it('shows a build blocked by a failing quality check as a failed partition, and the breach on Quality', async () => {
    await open('views');
    const failed = page.locator('.cell[data-state="failed"]');
    expect(await failed.count()).toBe(1);
    expect(await failed.getAttribute('data-view')).toBe('user_spend');
    expect(await failed.getAttribute('data-date')).toBe('2025-03-27');
    await failed.hover();
    expect(await page.textContent('#tip')).toMatch(/failed check.*null_rate\(avg_amount_7d\)/s);
    // the same date of another view stays published
    expect(
      await page.getAttribute('.cell[data-view="user_activity"][data-date="2025-03-27"]', 'data-state'),
    ).toBe('published');

    await open('quality');
    await page.selectOption('#quality-view', 'user_spend');
    await page.waitForSelector('.quality-body[data-state="ready"] [data-feature^="user_spend."]');
    const nullChart = page.locator(
      '[data-feature="user_spend.avg_amount_7d"] .chart[data-metric="null_rate"]',
    );
    await nullChart.waitFor();
    expect(Number(await nullChart.getAttribute('data-breaches'))).toBeGreaterThanOrEqual(1);
    // the threshold line is drawn with its value
    expect(await nullChart.locator('svg').textContent()).toContain('0.01');
    expect(await page.textContent('[data-feature="user_spend.avg_amount_7d"] .breaches')).toMatch(
      /2025-03-27: FAILED null_rate/,
    );
    await shot('quality');
  });

  it('shows the run history with the blocked build', async () => {
    await open('runs');
    const rows = page.locator('table.runs tbody tr');
    expect(await rows.count()).toBe(4); // demo build, backfill, one early build, the blocked build
    expect(await rows.first().textContent()).toMatch(/build.*failed.*1 check\(s\) failed.*2025-03-27/);
    expect(await page.locator('table.runs tbody tr.ok').count()).toBe(3);
    // a build's partitions stand in for its stages
    expect(await rows.nth(1).textContent()).toMatch(/user_activity 2025-03-20: \d+ rows, \d+(\.\d+)? m?s/);

    // the nightly pipeline records stages: each shows with its outcome and duration
    const run = await runCli([
      'run',
      '--project',
      dir,
      '--as-of',
      '2025-03-31',
      '--view',
      'user_activity',
      '--no-notify',
    ]);
    expect(run.code, run.stderr).toBe(0);
    await open('runs');
    expect(await rows.count()).toBe(5);
    const stages = page.locator('table.runs tbody tr').first().locator('.stage');
    const titles = await stages.evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''));
    for (const stage of [
      'extract clicks',
      'transform user_activity',
      'validate user_activity',
      'load user_activity',
    ]) {
      expect(
        titles.some((t) => new RegExp(`^${stage}: ok, \\d+(\\.\\d+)? m?s`).test(t)),
        titles.join('\n'),
      ).toBe(true);
    }
    await shot('runs');
  });

  it("draws the lineage of the demo's layers: sources -> raw -> refined -> features models -> views -> features", async () => {
    await open('lineage');
    const layers = (await page.getAttribute('.layers', 'data-layers'))?.split(',');
    expect(layers).toEqual(['source', 'raw', 'refined', 'features', 'view', 'feature']);
    const svg = (await page.locator('.chart.lineage svg').textContent()) ?? '';
    for (const label of [
      'clickstream',
      'raw.clickstream',
      'refined.clicks',
      'refined.sessions',
      'features.user_active_24h',
      'user_sessions v1',
      'user_spend v1',
      'user_spend.avg_amount_7d',
    ]) {
      expect(svg).toContain(label);
    }
    const graph = (await (await fetch(`${url}/api/lineage`)).json()) as {
      edges: { from: string; to: string }[];
    };
    const edges = new Set(graph.edges.map((e) => `${e.from} -> ${e.to}`));
    for (const e of [
      'source:clickstream -> raw:clickstream',
      'raw:clickstream -> model:refined.clicks',
      'model:refined.clicks -> model:refined.sessions',
      'model:refined.sessions -> model:features.user_active_24h',
      'model:refined.sessions -> view:user_sessions',
      'source:transactions -> view:user_spend',
      'view:user_spend -> feature:user_spend.avg_amount_7d',
    ]) {
      expect(edges).toContain(e);
    }
    await shot('lineage');
  });

  it('lists every feature in the dictionary', async () => {
    await open('dictionary');
    expect(await page.locator('table.dictionary tbody tr').count()).toBe(9);
    const row = await page.textContent('tr[data-feature="user_spend.avg_amount_7d"]');
    expect(row).toMatch(/Average successful payment/);
    expect(row).toMatch(/avg\(amount\)/);
    expect(row).toMatch(/null_rate <= 0.01 \(error\)/);
    expect(row).toMatch(/status = 'success'/);
    expect(await page.textContent('tr[data-feature="user_sessions.sessions_7d"]')).toContain(
      'source clickstream → raw.clickstream → model refined.clicks → model refined.sessions → user_sessions v1',
    );
    await shot('dictionary');
  });

  it('updates the latency chart while a stream runs', async () => {
    await open('streaming');
    const stream = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'bin', 'asof.js'),
        'stream',
        '--project',
        dir,
        '--view',
        'user_activity',
        '--source',
        'stdin',
        '--checkpoint-ms',
        '100',
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let err = '';
    stream.stderr?.on('data', (d) => {
      err += d;
    });
    let n = 0;
    const feed = setInterval(() => {
      const lines: string[] = [];
      for (let i = 0; i < 50; i++, n++) {
        const ts = new Date(Date.UTC(2025, 3, 1) + n * 1000).toISOString();
        lines.push(JSON.stringify({ user_id: `u${n % 40}`, event_ts: ts, page: '/p', session_id: `s${n}` }));
      }
      stream.stdin?.write(`${lines.join('\n')}\n`);
    }, 100);
    try {
      const latency = page.locator('[data-source="clicks"] .chart[data-chart="latency"]');
      await latency.waitFor({ timeout: 20_000 });
      const samples = async () => Number(await latency.getAttribute('data-samples'));
      await expect.poll(samples, { timeout: 20_000, interval: 200 }).toBeGreaterThanOrEqual(2);
      const first = Number(await latency.getAttribute('data-samples'));
      const firstLast = await latency.getAttribute('data-last');
      // the page polls: more samples arrive without a reload while events keep coming
      await expect.poll(samples, { timeout: 20_000, interval: 200 }).toBeGreaterThanOrEqual(first + 2);
      expect(await latency.getAttribute('data-last')).not.toBe(firstLast);
      const data = (await (await fetch(`${url}/api/streaming`)).json()) as {
        sources: Record<string, unknown>;
      };
      const series = data.sources.clicks as { p50_ms: number | null; p99_ms: number | null }[];
      const withLatency = series.filter((s) => s.p50_ms !== null);
      expect(withLatency.length).toBeGreaterThanOrEqual(2);
      for (const s of withLatency) expect(s.p99_ms as number).toBeGreaterThanOrEqual(s.p50_ms as number);
      expect(await page.locator('[data-chart="latency"] svg').textContent()).toMatch(/p50.*p99/s);
      await shot('streaming');
    } finally {
      clearInterval(feed);
      stream.stdin?.end();
      const code = await new Promise<number | null>((resolve) => stream.on('close', resolve));
      expect(code, err).toBe(0);
    }
  });
});
