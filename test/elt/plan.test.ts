// One planner for models and views, on both warehouses: a model change makes `asof plan` list
// exactly the changed model, its downstream models (with their partitions) and the view partitions
// reading it; `asof backfill` rebuilds exactly those (every other file keeps its bytes and mtime);
// the view's version transition is in `asof changes`; an exported incremental model's partitions
// are swapped into the lake atomically (a failed date keeps its previous partition).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRaw } from '../../src/elt/load.js';
import { backfillRange, planRange } from '../../src/pipeline/plan-all.js';
import { loadProject } from '../../src/pipeline/project.js';
import { readModelsState } from '../../src/storage/meta/models.js';
import { copyClickstreamProject } from '../support/clickstream.js';
import { type PostgresServer, startPostgres } from '../support/postgres.js';
import { runCli, tempDir } from '../support/project.js';

const D1 = '2025-03-01';
const D2 = '2025-03-02';

let server: PostgresServer | undefined;

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

/**
 * The clickstream example plus an independent model (refined.pages), a view over the raw files
 * (page_views) and features.user_active_24h exported to the lake.
 */
async function project(warehouse: 'duckdb' | 'postgres'): Promise<string> {
  const dir = path.join(tempDir('asof-plan-'), 'clickstream');
  copyClickstreamProject(dir);
  let spec = readFileSync(path.join(dir, 'asof.yaml'), 'utf8');
  spec += [
    '  page_views:',
    '    entity: user',
    '    source: clickstream',
    '    features:',
    '      views_7d: { agg: count, window: 7d }',
    '',
  ].join('\n');
  if (warehouse === 'postgres') {
    if (!server) throw new Error('no server');
    const db = `plan_${Math.random().toString(36).slice(2, 10)}`;
    const c = new pg.Client({ connectionString: server.url });
    await c.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.end();
    spec += `warehouse: { type: postgres, url: '${server.url.replace(/\/postgres$/, `/${db}`)}' }\n`;
  }
  writeFileSync(path.join(dir, 'asof.yaml'), spec);
  writeFileSync(
    path.join(dir, 'models', 'refined', 'pages.sql'),
    "-- materialization: table\nSELECT page, CAST(count(*) AS BIGINT) AS clicks FROM ref('refined.clicks') GROUP BY page\n",
  );
  edit(
    dir,
    'models/features/user_active_24h.sql',
    '-- date_column: as_of_date',
    '-- date_column: as_of_date\n-- export: true',
  );
  return dir;
}

function edit(dir: string, rel: string, from: string, to: string): void {
  const f = path.join(dir, rel);
  const text = readFileSync(f, 'utf8');
  expect(text).toContain(from);
  writeFileSync(f, text.replace(from, to));
}

interface FileStamp {
  sha: string;
  mtimeMs: number;
}

/** Every file under `root` (relative path -> sha256 and mtime), lock files aside. */
function stamps(root: string): Record<string, FileStamp> {
  const out: Record<string, FileStamp> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (!e.name.endsWith('.lock')) {
        out[path.relative(root, full)] = {
          sha: createHash('sha256').update(readFileSync(full)).digest('hex'),
          mtimeMs: statSync(full).mtimeMs,
        };
      }
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

const manifestVersion = (dir: string) =>
  (JSON.parse(readFileSync(path.join(dir, '_manifest.json'), 'utf8')) as { transformation_version: string })
    .transformation_version;

describe.each(['duckdb', 'postgres'] as const)('plan and backfill of models and views on %s', (warehouse) => {
  let dir: string;
  let offline: string;
  const part = (view: string, date: string) => path.join(offline, view, 'v1', `as_of_date=${date}`);
  const modelPart = (date: string) =>
    path.join(offline, '_models', 'features.user_active_24h', 'v1', `as_of_date=${date}`);

  beforeAll(async () => {
    dir = await project(warehouse);
    const p = await loadProject(dir);
    offline = p.storage.offline;
    await loadRaw(p, { source: 'clickstream', files: [path.join(dir, 'data', 'clicks-*.jsonl')] });
  }, 60_000);

  it('a fresh project: plan lists every model and partition as new; backfill builds them', async () => {
    const p = await loadProject(dir);
    const plan = await planRange(p, { dates: [D1, D2] });
    expect(plan.models?.items.map((i) => [i.model, i.reason])).toEqual([
      ['refined.clicks', 'new'],
      ['refined.sessions', 'new'],
      ['features.user_active_24h', 'new'],
      ['refined.pages', 'new'],
    ]);
    expect(plan.partitions.filter((x) => x.build)).toHaveLength(4);
    const r = await backfillRange(p, { dates: [D1, D2] });
    expect(r.models.map((m) => m.status)).toEqual(['built', 'built', 'built', 'built']);
    expect(r.built.map((b) => `${b.view} ${b.asOfDate}`).sort()).toEqual([
      `page_views ${D1}`,
      `page_views ${D2}`,
      `user_sessions ${D1}`,
      `user_sessions ${D2}`,
    ]);
    // The exported incremental model: one lake partition per date, nothing left in staging.
    for (const d of [D1, D2]) expect(manifestVersion(modelPart(d))).toMatch(/^[0-9a-f]{16}$/);
    expect(stamps(path.join(path.dirname(modelPart(D1)), '.staging'))).toEqual({});
    const again = await planRange(await loadProject(dir), { dates: [D1, D2] });
    expect(again.models?.items).toEqual([]);
    expect(again.partitions.every((x) => !x.build)).toBe(true);
  }, 120_000);

  it('a model change: plan lists exactly what it affects; backfill rebuilds exactly that', async () => {
    const before = readModelsState(dir);
    const beforeView = (await loadProject(dir)).views.user_sessions?.transformationVersion;
    const lake = stamps(offline);
    const modelDirInode = statSync(modelPart(D2)).ino;
    edit(dir, 'models/refined/sessions.sql', "INTERVAL '30 minutes'", "INTERVAL '45 minutes'");
    const p = await loadProject(dir);
    // The model's version is folded into the view's: the view reading it has a new version.
    expect(p.views.user_sessions?.transformationVersion).not.toBe(beforeView);
    const plan = await runCli(['plan', '--from', D2, '--to', D2, '--project', dir], { cwd: dir });
    expect(plan.code, plan.stderr).toBe(0);
    const lines = plan.stdout.trim().split('\n');
    expect(lines[0]).toBe('models to rebuild (2):');
    expect(lines[1]).toMatch(/^ {2}refined\.sessions {2}changed {2}\w+ -> \w+ {2}table: whole relation$/);
    expect(lines[2]).toMatch(
      /^ {2}features\.user_active_24h {2}upstream {2}\w+ -> \w+ {2}incremental: 2025-03-02 \(1 partitions\)$/,
    );
    expect(lines.filter((l) => l.includes('as_of_date='))).toEqual([
      expect.stringMatching(
        /^build {2}user_sessions v1 as_of_date=2025-03-02 {2}definition changed: .* \(model refined\.sessions: changed\)$/,
      ),
      expect.stringMatching(/^skip +page_views v1 as_of_date=2025-03-02 {2}up to date/),
    ]);
    expect(plan.stdout).not.toMatch(/refined\.(clicks|pages)/);

    const b = await runCli(['backfill', '--from', D2, '--to', D2, '--project', dir], { cwd: dir });
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/rebuilt 2 model\(s\)/);
    expect(b.stdout).toMatch(/backfilled 1 partition\(s\)/);

    // Models: only the two planned were rebuilt.
    const after = readModelsState(dir);
    for (const m of ['refined.clicks', 'refined.pages']) expect(after.models[m]).toEqual(before.models[m]);
    for (const m of ['refined.sessions', 'features.user_active_24h']) {
      expect(after.models[m]?.run_id).not.toBe(before.models[m]?.run_id);
    }
    expect(after.models['features.user_active_24h']?.partitions).toEqual([D1, D2]);
    // The lake: the rebuilt partitions changed, every other file kept its bytes and mtime.
    const now = stamps(offline);
    const rebuilt = (rel: string) =>
      rel.startsWith(path.join('user_sessions', 'v1', `as_of_date=${D2}`)) ||
      rel.startsWith(path.join('_models', 'features.user_active_24h', 'v1', `as_of_date=${D2}`));
    const untouched = Object.keys(lake).filter((rel) => !rebuilt(rel) && !rel.startsWith('_meta'));
    // user_sessions D1, page_views D1 and D2, the model's D1: data file and manifest each.
    expect(untouched).toHaveLength(8);
    for (const rel of untouched) expect(now[rel], rel).toEqual(lake[rel]);
    expect(manifestVersion(part('user_sessions', D2))).toBe(p.views.user_sessions?.transformationVersion);
    expect(manifestVersion(part('user_sessions', D1))).toBe(beforeView);
    // The exported model's date was swapped in as a new folder (rename), with the new version.
    expect(statSync(modelPart(D2)).ino).not.toBe(modelDirInode);
    expect(manifestVersion(modelPart(D2))).toBe(after.models['features.user_active_24h']?.version);
    expect(manifestVersion(modelPart(D1))).toBe(before.models['features.user_active_24h']?.version);
    // Sessions with a 45-minute gap: u1's two sessions merge.
    const s = await runCli(
      ['query', 'SELECT count(*) AS n FROM refined.sessions', '--format', 'csv', '--project', dir],
      { cwd: dir },
    );
    expect(s.stdout).toBe('n\n2\n');

    // Nothing left in the range; the date outside it still says what it needs.
    const rest = await planRange(await loadProject(dir), { dates: [D1, D2] });
    expect(rest.models?.items.map((i) => [i.model, i.reason, i.partitions])).toEqual([
      ['features.user_active_24h', 'stale', [D1]],
    ]);
    expect(rest.partitions.filter((x) => x.build).map((x) => `${x.view} ${x.asOfDate} ${x.state}`)).toEqual([
      `user_sessions ${D1} definition_changed`,
    ]);
  }, 180_000);

  it('asof changes records the view transition: versions, why, diff, partitions', async () => {
    const r = await runCli(['changes', '--name', 'user_sessions', '--format', 'json', '--project', dir], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const changes = JSON.parse(r.stdout) as {
      kind: string;
      old_version: string | null;
      new_version: string;
      reason: string;
      diff: string[];
      partitions: string[];
    }[];
    expect(changes.map((c) => [c.kind, c.reason, c.partitions])).toEqual([
      ['view', 'new', [D1, D2]],
      ['view', 'upstream', [D2]],
    ]);
    const [first, second] = changes;
    expect(second?.old_version).toBe(first?.new_version);
    expect(second?.new_version).toBe((await loadProject(dir)).views.user_sessions?.transformationVersion);
    expect(second?.diff).toEqual([
      expect.stringMatching(/^- model refined\.sessions: \w+$/),
      expect.stringMatching(/^\+ model refined\.sessions: \w+$/),
    ]);
    const text = await runCli(['changes', '--project', dir], { cwd: dir });
    expect(text.stdout).toMatch(/view user_sessions {2}\w+ -> \w+ {2}upstream {2}partitions: 2025-03-02/);
  }, 60_000);

  it('an exported model date that fails keeps its previous lake partition; done dates are swapped', async () => {
    const before = stamps(path.dirname(modelPart(D1)));
    const oldVersion = manifestVersion(modelPart(D2));
    // A runtime error on the second date only (a cast of 'boom' to an integer).
    edit(
      dir,
      'models/features/user_active_24h.sql',
      'GROUP BY user_id',
      "GROUP BY user_id\nHAVING count(*) > CAST(CASE WHEN :as_of_date = DATE '2025-03-02' THEN 'boom' ELSE '0' END AS INTEGER)",
    );
    const p = await loadProject(dir);
    await expect(backfillRange(p, { dates: [D1, D2] })).rejects.toThrow(/features\.user_active_24h failed/);
    const now = stamps(path.dirname(modelPart(D1)));
    const d2 = Object.keys(before).filter((rel) => rel.startsWith(`as_of_date=${D2}`));
    expect(d2.length).toBe(2);
    for (const rel of d2) expect(now[rel]).toEqual(before[rel]);
    expect(manifestVersion(modelPart(D2))).toBe(oldVersion);
    // D1 was rebuilt and swapped in with the new version; nothing half-written is left behind.
    expect(manifestVersion(modelPart(D1))).not.toBe(oldVersion);
    expect(Object.keys(now).filter((rel) => rel.startsWith('.staging') || rel.startsWith('.trash'))).toEqual(
      [],
    );
  }, 120_000);

  it('a model failing its tests holds back the views reading it; backfill exits 4', async () => {
    const lake = stamps(path.join(offline, 'user_sessions'));
    edit(dir, 'models/refined/sessions.sql', "INTERVAL '45 minutes'", "INTERVAL '50 minutes'");
    edit(
      dir,
      'models/refined/sessions.sql',
      'WHERE session_end < session_start',
      'WHERE session_end >= session_start',
    );
    const b = await runCli(['backfill', '--from', D1, '--to', D2, '--project', dir], { cwd: dir });
    expect(b.code, b.stderr).toBe(4);
    expect(b.stdout).toMatch(/rebuilt 0 model\(s\), 2 failed or blocked/);
    expect(b.stdout).toMatch(/held back: view user_sessions \(reads refined\.sessions, not rebuilt\)/);
    expect(b.stderr).toMatch(/refined\.sessions: failing tests sql_2/);
    expect(b.stderr).toMatch(/features\.user_active_24h: blocked by refined\.sessions/);
    // The view's partitions (D1 was stale too) are untouched.
    expect(stamps(path.join(offline, 'user_sessions'))).toEqual(lake);
  }, 120_000);
});
