// asof models plan|build: compile models/ to a graph and print what a run would rebuild, or rebuild it
// (changed models, everything downstream, in dependency order). The views reading a rebuilt model
// are listed with their partitions; rebuild them with `asof build` / `asof backfill`.

import type { Command } from 'commander';
import {
  buildModels,
  loadModelGraph,
  type ModelBuildResult,
  type ModelPlan,
  planModels,
} from '../elt/models.js';
import { warehouseName } from '../elt/warehouse.js';
import type { EngineType } from '../engines/open.js';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { modelsStateIn, readModelsState } from '../storage/meta/models.js';
import { parseIsoDate } from '../time/index.js';
import { collect, engineOption, projectOption, stderrLogger } from './common.js';

interface Opts {
  from?: string;
  to?: string;
  model?: string[];
  graph?: boolean;
  project: string;
  engine?: EngineType;
}

function range(opts: Opts) {
  if (!opts.from !== !opts.to) throw new AsofError('usage', 'give both --from and --to, or neither');
  return {
    from: opts.from ? parseIsoDate(opts.from, '--from') : undefined,
    to: opts.to ? parseIsoDate(opts.to, '--to') : undefined,
    select: opts.model,
  };
}

function span(p: string[]): string {
  if (p.length === 1 && p[0] === 'all') return 'whole relation';
  return p.length > 3
    ? `${p[0]}..${p.at(-1)} (${p.length} partitions)`
    : `${p.join(', ')} (${p.length} partitions)`;
}

export function printPlan(plan: ModelPlan, graph: boolean): string {
  const out: string[] = [];
  if (graph) {
    out.push(`models (${plan.graph.order.length}, in dependency order):`);
    for (const n of plan.graph.order) {
      const m = plan.graph.models[n];
      out.push(
        `  ${n}  ${m?.materialization}  v${m?.transformationVersion}${m?.refs.length ? `  <- ${m.refs.join(', ')}` : ''}`,
      );
    }
  }
  out.push(printModelItems(plan).trimEnd());
  if (plan.views.length > 0) out.push(`views affected (${plan.views.length}):`);
  for (const v of plan.views) {
    out.push(
      `  ${v.view} v${v.version} (reads ${v.model}): ${v.partitions.length > 0 ? span(v.partitions) : 'no published partition'}`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** The models a plan rebuilds, one line each (also the first part of `asof plan`). */
export function printModelItems(plan: ModelPlan): string {
  const out: string[] = [];
  if (plan.items.length === 0) out.push('models: nothing to rebuild');
  else out.push(`models to rebuild (${plan.items.length}):`);
  for (const i of plan.items) {
    out.push(
      `  ${i.model}  ${i.reason}  ${i.oldVersion ?? '(none)'} -> ${i.newVersion}  ${i.materialization}: ${span(i.partitions)}`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** Model build results that did not build (tests failed, blocked), as an error to exit 4 with. */
export function modelFailures(results: ModelBuildResult[]): AsofError | undefined {
  const bad = results.filter((r) => r.status !== 'built');
  if (bad.length === 0) return undefined;
  const lines = bad.map((r) =>
    r.status === 'blocked'
      ? `${r.model}: blocked by ${r.blockedBy}`
      : `${r.model}: failing tests ${r.failedTests.map((t) => `${t.name} (${t.failing} rows)`).join(', ')}`,
  );
  return new AsofError(
    'quality',
    `model tests failed:\n  ${lines.join('\n  ')}`,
    {},
    'fix the model or its data, then build again',
  );
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('SQL models under models/: plan and build');
  const common = (cmd: Command) =>
    projectOption(
      cmd
        .option('--from <date>', 'first date of incremental partitions to rebuild')
        .option('--to <date>', 'last date (included)')
        .option('--model <name>', 'rebuild this model (and its downstream) even when unchanged', collect),
    );
  common(models.command('plan').description('print what a build would rebuild, without building'))
    .option('--graph', 'also print every model in dependency order')
    .addOption(engineOption("plan for this engine's warehouse (default: the spec's engine)"))
    .action(async (opts: Opts) => {
      const project = await loadProject(opts.project);
      const graph = await loadModelGraph(project);
      const state = modelsStateIn(readModelsState(project.root), warehouseName(project, opts.engine));
      const plan = planModels(project, graph, state, range(opts));
      process.stdout.write(printPlan(plan, opts.graph ?? false));
    });
  common(models.command('build').description('rebuild changed models and their downstream, in order'))
    .addOption(engineOption("build in this engine's warehouse (default: the spec's engine)"))
    .action(async (opts: Opts) => {
      const project = await loadProject(opts.project);
      const results = await buildModels(project, { ...range(opts), log: stderrLogger, engine: opts.engine });
      const bad = results.filter((r) => r.status !== 'built');
      process.stdout.write(
        results.length === 0
          ? 'models: nothing to rebuild\n'
          : `${results.filter((r) => r.status === 'built').length} model(s) built, ${bad.length} failed or blocked\n`,
      );
      const failure = modelFailures(results);
      if (failure) throw failure;
    });
}
