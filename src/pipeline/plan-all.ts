// One planner for models and views over a date range (`asof plan`, `asof backfill`): the models
// whose version moved (or whose range dates have no partition) and everything downstream of them,
// then every view partition of the range that is stale by its manifest or reads a rebuilt model.
// The backfill rebuilds the models in dependency order, then those view partitions; nothing else.

import {
  buildModels,
  loadModelGraph,
  type ModelBuildResult,
  type ModelPlan,
  planModels,
} from '../elt/models.js';
import { warehouseName } from '../elt/warehouse.js';
import type { Project } from '../spec/project.js';
import { selectViews } from '../spec/select.js';
import { modelsStateIn, readModelsState } from '../storage/meta/models.js';
import {
  type BackfillOptions,
  type BackfillResult,
  backfill,
  type PlannedPartition,
  planBackfill,
} from './backfill.js';

export interface RangePlan {
  /** Undefined when the project has no models/. */
  models: ModelPlan | undefined;
  /** Every view partition of the range, in the order of `planBackfill`. */
  partitions: PlannedPartition[];
}

export interface RangeBackfillResult extends BackfillResult {
  models: ModelBuildResult[];
  /** Views left alone because a model they read failed its tests or was blocked. */
  heldBack: { view: string; model: string }[];
}

type RangeOptions = Pick<BackfillOptions, 'dates' | 'views' | 'force' | 'engine'>;

/** Everything a backfill of `dates` would do, read from models/, the metadata store and manifests. */
export async function planRange(project: Project, opts: RangeOptions): Promise<RangePlan> {
  const models = await planRangeModels(project, opts);
  const rebuilt = new Map((models?.items ?? []).map((i) => [i.model, i.reason]));
  // A project of models alone has no view partition to plan.
  const viewless = models !== undefined && Object.keys(project.views).length === 0;
  const partitions = (viewless ? [] : planBackfill(project, opts)).map((p): PlannedPartition => {
    const model = project.views[p.view]?.model?.name;
    const why = model === undefined ? undefined : rebuilt.get(model);
    if (!model || why === undefined) return p;
    if (p.state === 'definition_changed') return { ...p, reason: `${p.reason} (model ${model}: ${why})` };
    if (p.state !== 'up_to_date') return p;
    // The model's snapshot is exported again by the rebuild, so the view's input changes.
    return { ...p, state: 'source_changed', build: true, reason: `model ${model} is rebuilt (${why})` };
  });
  return { models, partitions };
}

async function planRangeModels(project: Project, opts: RangeOptions): Promise<ModelPlan | undefined> {
  const graph = await loadModelGraph(project);
  if (graph.order.length === 0) return undefined;
  const within = opts.views
    ? selectViews(project, opts.views).flatMap((v) => (v.model ? [v.model.name] : []))
    : undefined;
  const state = modelsStateIn(readModelsState(project.root), warehouseName(project, opts.engine));
  return planModels(project, graph, state, {
    from: opts.dates[0],
    to: opts.dates[opts.dates.length - 1],
    within,
  });
}

/**
 * Rebuilds what `planRange` lists: the models first (dependency order; a model failing its tests
 * blocks its downstream, and the views reading a failed or blocked model are held back), then the
 * view partitions, as `asof backfill` always did.
 */
export async function backfillRange(project: Project, opts: BackfillOptions): Promise<RangeBackfillResult> {
  const plan = await planRangeModels(project, opts);
  let models: ModelBuildResult[] = [];
  if (plan && plan.items.length > 0) {
    models = await buildModels(project, {
      from: opts.dates[0],
      to: opts.dates[opts.dates.length - 1],
      within: opts.views
        ? selectViews(project, opts.views).flatMap((v) => (v.model ? [v.model.name] : []))
        : undefined,
      clock: opts.clock,
      log: opts.log,
      // The models go to the warehouse of the backfill's engine (Spark keeps its own).
      engine: opts.engine,
    });
  }
  const bad = new Set(models.filter((m) => m.status !== 'built').map((m) => m.model));
  const heldBack: RangeBackfillResult['heldBack'] = [];
  if (plan !== undefined && Object.keys(project.views).length === 0) {
    return { planned: [], built: [], skipped: 0, models, heldBack: [] };
  }
  const views = selectViews(project, opts.views).filter((v) => {
    if (!v.model || !bad.has(v.model.name)) return true;
    heldBack.push({ view: v.name, model: v.model.name });
    return false;
  });
  const result =
    views.length > 0
      ? await backfill(project, {
          ...opts,
          views: heldBack.length > 0 ? views.map((v) => v.name) : opts.views,
        })
      : { planned: [], built: [], skipped: 0 };
  return { ...result, models, heldBack };
}
