// asof demo: generates a small realistic data set into a folder it names, runs the ELT example
// (clickstream JSON landed in raw, SQL models raw -> refined -> features), builds the nightly
// features (avg_amount_7d, purchases_30d, active_24h, and a view over refined.sessions) as of one
// date and shows them.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { generate } from '../gen/index.js';
import { build } from '../pipeline/build.js';
import { buildDemoElt, type DemoEltFigures } from '../pipeline/demo.js';
import { loadProject } from '../pipeline/project.js';
import { showPartition } from '../pipeline/show.js';
import { CLICKSTREAM_MODELS } from '../scaffold/clickstream.js';
import { parseIsoDate } from '../time/index.js';
import { stderrLogger } from './common.js';
import { formatResult } from './format.js';
import { modelFailures } from './models.js';

/** Days of the incremental model features.user_active_24h the demo builds, ending on --as-of. */
const MODEL_DAYS = 7;

function writeModels(root: string): string[] {
  return Object.entries(CLICKSTREAM_MODELS).map(([rel, sql]) => {
    const file = path.join(root, 'models', rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, sql);
    return path.join('models', rel);
  });
}

function eltSummary(f: DemoEltFigures, dir: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const active = f.activeByDate.map((a) => `${a.date.slice(5)} ${a.users}`).join(', ');
  return [
    `\nELT: raw clickstream JSON -> SQL models in ${dir}/models/ (built in dependency order):`,
    `  raw.clickstream           ${n(f.rawRows)} JSON lines, each kept whole in _json`,
    `  refined.clicks            ${n(f.clicks)} clicks, typed; ${n(f.rawRows - f.clicks)} redelivered duplicates dropped`,
    `  refined.sessions          ${n(f.sessions)} sessions of ${n(f.sessionUsers)} users (a gap of more than 30 minutes starts a new one)`,
    `  features.user_active_24h  users active in the 24 hours before each day's end: ${active}`,
    '',
  ].join('\n');
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'generate a small data set, build the nightly features and show them (no server, no network)',
    )
    .option('--dir <dir>', 'where to write the demo project', 'asof-demo')
    .option('--as-of <date>', 'the as_of_date to build', '2025-03-31')
    .option('--users <n>', 'users to generate', (v) => Number.parseInt(v, 10), 500)
    .option('--events <n>', 'transactions to generate', (v) => Number.parseInt(v, 10), 50_000)
    .action(async (opts: { dir: string; asOf: string; users: number; events: number }) => {
      const asOf = parseIsoDate(opts.asOf, '--as-of');
      const out = path.resolve(opts.dir);
      process.stderr.write(
        `generating ${opts.users} users, ${opts.events} transactions over 90 days into ${out} ...\n`,
      );
      const gen = await generate({
        out,
        users: opts.users,
        events: opts.events,
        days: 90,
        endDate: asOf,
        seed: 42,
        format: 'csv',
        clickstream: true,
      });
      for (const f of gen.files)
        process.stderr.write(`  ${f.source}: ${f.rows} rows -> ${path.relative(process.cwd(), f.path)}\n`);
      for (const m of writeModels(out)) process.stderr.write(`  model -> ${path.join(opts.dir, m)}\n`);
      const project = await loadProject(out);
      process.stderr.write('landing data/clickstream.jsonl in raw.clickstream, building the models ...\n');
      const elt = await buildDemoElt(project, { asOf, days: MODEL_DAYS, log: stderrLogger });
      if (elt.landed === 0)
        process.stderr.write(
          '  raw.clickstream already holds this data/clickstream.jsonl: not landed again\n',
        );
      const failure = modelFailures(elt.models);
      if (failure) throw failure;
      const built = await build(project, { asOf, log: stderrLogger });
      process.stdout.write(
        `\nBuilt ${built.length} feature partitions as of ${asOf} (no event at or after each cutoff was read):\n`,
      );
      for (const b of built)
        process.stdout.write(
          `  ${b.view}: ${b.rowsWritten} users -> ${path.relative(process.cwd(), b.dir)}\n`,
        );
      if (elt.figures) process.stdout.write(eltSummary(elt.figures, opts.dir));
      for (const [view, features] of [
        ['user_spend', ['avg_amount_7d', 'purchases_30d']],
        ['user_activity', ['active_24h']],
        ['user_sessions', ['sessions_7d', 'clicks_7d']],
      ] as const) {
        const shown = await showPartition(project, view, asOf);
        const keep = ['user_id', 'as_of_date', ...features].map((n) =>
          shown.result.columns.findIndex((c) => c.name === n),
        );
        const sample = {
          columns: keep.map((i) => shown.result.columns[i]!),
          rows: shown.result.rows.slice(0, 5).map((r) => keep.map((i) => r[i])),
        };
        process.stdout.write(
          `\n${view} (first 5 of ${shown.result.rows.length}):\n${formatResult(sample, 'table')}`,
        );
      }
      process.stdout.write(
        `\nNext: asof show --project ${opts.dir} --view user_spend --as-of ${asOf} --format csv\n      edit ${opts.dir}/asof.yaml and run asof build --project ${opts.dir} --as-of ${asOf}\n      asof query --project ${opts.dir} "SELECT * FROM refined.sessions LIMIT 5"   # the warehouse, read-only\n      asof serve --project ${opts.dir}   # the dashboard at http://127.0.0.1:8080/\n`,
      );
    });
}
