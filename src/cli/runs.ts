// asof runs [--view V] [--limit N], asof schema history [--source S], asof metrics: read the
// run history and the schema history under <offline>/_meta/.

import { type Command, Option } from 'commander';
import { prometheusMetrics } from '../pipeline/metrics.js';
import { loadProject } from '../pipeline/project.js';
import { type RunRecord, readRuns } from '../storage/meta/runs.js';
import { readSchemas } from '../storage/meta/schemas.js';
import { projectOption } from './common.js';
import { formatResult, type OutputFormat } from './format.js';

function touches(r: RunRecord, view: string): boolean {
  return (
    r.partitions.some((p) => p.view === view) ||
    (r.stages ?? []).some((s) => s.view === view) ||
    (r.checks ?? []).some((c) => c.view === view)
  );
}

function stagesText(r: RunRecord): string {
  return (r.stages ?? [])
    .map(
      (s) =>
        `${s.stage}${s.source || s.view ? `(${s.source ?? s.view})` : ''}:${s.status}:${s.duration_ms}ms`,
    )
    .join(' ');
}

const formatOption = () =>
  new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table');

export function registerRuns(program: Command): void {
  projectOption(
    program
      .command('runs')
      .description('list past runs (newest first) with their stages, outcome and timings')
      .option('--view <name>', 'only runs that touched this view')
      .option('--limit <n>', 'at most this many runs', (v) => Number.parseInt(v, 10), 20)
      .addOption(formatOption()),
  ).action(async (opts: { view?: string; limit: number; format: OutputFormat; project: string }) => {
    const project = await loadProject(opts.project);
    const runs = readRuns(project.storage.offline)
      .filter((r) => !opts.view || touches(r, opts.view))
      .reverse()
      .slice(0, Math.max(0, opts.limit));
    if (opts.format === 'json') {
      process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
      return;
    }
    const columns = [
      'run_id',
      'command',
      'as_of_date',
      'status',
      'exit',
      'started_at',
      'duration_ms',
      'partitions',
      'stages',
    ];
    const rows = runs.map((r) => [
      r.run_id,
      r.command,
      r.as_of_date ?? [...new Set(r.partitions.map((p) => p.as_of_date))].join(' '),
      r.status,
      r.exit_code ?? (r.status === 'ok' ? 0 : null),
      r.started_at,
      Date.parse(r.finished_at) - Date.parse(r.started_at),
      r.partitions.map((p) => `${p.view}=${p.rows}`).join(' '),
      stagesText(r),
    ]);
    process.stdout.write(
      formatResult({ columns: columns.map((name) => ({ name, type: 'VARCHAR' })), rows }, opts.format),
    );
  });
}

export function registerSchema(program: Command): void {
  const schema = program.command('schema').description("the sources' schemas as seen in their files");
  projectOption(
    schema
      .command('history')
      .description('each distinct schema a source has shown, and when and where it was first seen')
      .option('--source <name>', 'only this source')
      .addOption(formatOption()),
  ).action(async (opts: { source?: string; format: OutputFormat; project: string }) => {
    const project = await loadProject(opts.project);
    const recs = readSchemas(project.storage.offline).filter((s) => !opts.source || s.source === opts.source);
    if (opts.format === 'json') {
      process.stdout.write(`${JSON.stringify(recs, null, 2)}\n`);
      return;
    }
    const columns = ['source', 'schema_id', 'first_seen_at', 'columns', 'new_columns', 'first_file'];
    const rows = recs.map((s) => [
      s.source,
      s.schema_id,
      s.first_seen_at,
      s.columns.map((c) => `${c.name}:${c.type}`).join(' '),
      s.new_columns.join(' '),
      s.first_file,
    ]);
    process.stdout.write(
      formatResult({ columns: columns.map((name) => ({ name, type: 'VARCHAR' })), rows }, opts.format),
    );
  });
}

export function registerMetrics(program: Command): void {
  projectOption(
    program.command('metrics').description('print the pipeline counters in Prometheus text format'),
  ).action(async (opts: { project: string }) => {
    const project = await loadProject(opts.project);
    process.stdout.write(prometheusMetrics(readRuns(project.storage.offline)));
  });
}
