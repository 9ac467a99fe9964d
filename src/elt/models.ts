// Models end to end: read models/ (layers by folder), compile the graph, check the SQL, plan what a
// change affects (models, their partitions, the views reading them), and build it in dependency
// order: views and tables replaced in a transaction, incremental models delete-then-insert per date.

import { randomUUID } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { checkSyntax } from '../engines/duckdb/model-syntax.js';
import { duckdbWarehouseDialect } from '../engines/duckdb/warehouse.js';
import type { EngineType } from '../engines/open.js';
import type { Warehouse } from '../engines/warehouse.js';
import { AsofError } from '../errors.js';
import type { Logger } from '../pipeline/log.js';
import { silentLogger } from '../pipeline/log.js';
import type { Project } from '../spec/project.js';
import { listPartitions, recover, writePartition } from '../storage/lake/partition.js';
import { DATA_FILE } from '../storage/lake/paths.js';
import {
  appendChange,
  type ModelsState,
  modelsStateIn,
  readModelsState,
  shortDiff,
  writeModelsState,
} from '../storage/meta/models.js';
import {
  addDays,
  type Clock,
  dateRange,
  formatInstant,
  type IsoDate,
  startOfLocalDay,
  systemClock,
} from '../time/index.js';
import { TOOL_VERSION } from '../version.js';
import { type ModelGraph, withDownstream, withUpstream } from './graph.js';
import { readModelGraph } from './read-graph.js';
import { parseableSql, partitionParams, qualified, renderModelSql, testQueries } from './render.js';
import { openWarehouse } from './warehouse.js';

export { MODELS_DIR } from './read-graph.js';

/** Reads and compiles every models/**\/*.sql; syntax is checked with DuckDB's parser. */
export async function loadModelGraph(
  project: Project,
  opts: { checkSql?: boolean } = {},
): Promise<ModelGraph> {
  const graph = readModelGraph(project);
  if (opts.checkSql !== false && graph.order.length > 0) {
    const models = graph.order.map((n) => {
      const m = graph.models[n];
      if (!m) throw new Error(`model ${n} missing`);
      return m;
    });
    const empty = models.find((m) => m.normalizedSql === '');
    if (empty) {
      throw new AsofError('spec', 'a model holds exactly one SELECT statement, found 0', {
        file: empty.file,
      });
    }
    await checkSyntax(
      models.map((m) => ({ file: m.file, sql: parseableSql(m, duckdbWarehouseDialect) })),
      { batch: true },
    );
  }
  return graph;
}

/**
 * Why a model is rebuilt: its version moved (new, changed, upstream), its last build failed its
 * tests, it was selected, or (incremental) some dates were built at an older version (stale) or,
 * with --from/--to, dates of the range have no partition (missing).
 */
export type RebuildReason =
  | 'new'
  | 'changed'
  | 'upstream'
  | 'tests_failed'
  | 'selected'
  | 'stale'
  | 'missing';

export interface ModelPlanItem {
  model: string;
  reason: RebuildReason;
  materialization: string;
  oldVersion: string | null;
  newVersion: string;
  /** Incremental: the dates to rebuild; others: ['all']. */
  partitions: string[];
}

export interface AffectedView {
  view: string;
  model: string;
  version: number;
  /** Published partitions to rebuild (within --from/--to when given). */
  partitions: IsoDate[];
}

export interface ModelPlan {
  graph: ModelGraph;
  items: ModelPlanItem[];
  views: AffectedView[];
  unchanged: string[];
}

export interface PlanOptions {
  from?: IsoDate;
  to?: IsoDate;
  /** Models to rebuild even when unchanged (with their downstream). */
  select?: string[];
  /**
   * Only these models and their upstream (the models some selected views read): the rest of the
   * graph is left as it is, even when stale.
   */
  within?: string[];
}

export function planModels(
  project: Project,
  graph: ModelGraph,
  state: ModelsState,
  opts: PlanOptions = {},
): ModelPlan {
  for (const s of opts.select ?? []) {
    if (!graph.models[s]) {
      throw new AsofError('usage', `unknown model '${s}'`, {}, `models: ${graph.order.join(', ')}`);
    }
  }
  const reasons = new Map<string, RebuildReason>();
  const range = opts.from && opts.to ? dateRange(opts.from, opts.to) : undefined;
  const partial = new Map<string, string[]>();
  for (const name of graph.order) {
    const m = graph.models[name];
    const st = state.models[name];
    if (!m) continue;
    if (!st) reasons.set(name, 'new');
    else if (st.definition_hash !== m.definitionHash) reasons.set(name, 'changed');
    else if (st.version !== m.transformationVersion) reasons.set(name, 'upstream');
    else if (st.status !== 'ok') reasons.set(name, 'tests_failed');
    else if (opts.select?.includes(name)) reasons.set(name, 'selected');
    else if (m.materialization === 'incremental') {
      // A partial rebuild (a narrower --from/--to) leaves dates built at an older version.
      const built = new Set(st.partitions);
      const versionOf = (d: string) => st.partition_versions?.[d] ?? st.version;
      const stale = (range ?? st.partitions).filter(
        (d) => built.has(d) && versionOf(d) !== m.transformationVersion,
      );
      const absent = (range ?? []).filter((d) => !built.has(d));
      if (stale.length + absent.length > 0) {
        reasons.set(name, stale.length > 0 ? 'stale' : 'missing');
        partial.set(name, [...stale, ...absent].sort());
      }
    }
  }
  const scope = opts.within ? new Set(withUpstream(graph, opts.within)) : undefined;
  const rebuild = withDownstream(graph, reasons.keys()).filter((n) => !scope || scope.has(n));
  const items = rebuild.map((name): ModelPlanItem => {
    const m = graph.models[name];
    if (!m) throw new Error(`model ${name} missing`);
    const st = state.models[name];
    let partitions = ['all'];
    if (m.materialization === 'incremental') {
      partitions = partial.get(name) ?? range ?? st?.partitions ?? [];
      if (partitions.length === 0) {
        throw new AsofError(
          'usage',
          `incremental model '${name}' has no partition yet: say which dates to build`,
          { file: m.file },
          'pass --from YYYY-MM-DD --to YYYY-MM-DD',
        );
      }
    }
    return {
      model: name,
      reason: reasons.get(name) ?? 'upstream',
      materialization: m.materialization,
      oldVersion: st?.version ?? null,
      newVersion: m.transformationVersion,
      partitions,
    };
  });
  const rebuilt = new Set(rebuild);
  const views: AffectedView[] = [];
  for (const v of Object.values(project.views)) {
    const model = project.sources[v.source]?.model;
    if (!model || !rebuilt.has(model)) continue;
    const published = listPartitions(project.storage.offline, v.name, v.version);
    views.push({
      view: v.name,
      model,
      version: v.version,
      partitions: published.filter((d) => !opts.from || !opts.to || (d >= opts.from && d <= opts.to)),
    });
  }
  return { graph, items, views, unchanged: graph.order.filter((n) => !rebuilt.has(n)) };
}

export interface ModelBuildResult {
  model: string;
  status: 'built' | 'tests_failed' | 'blocked';
  partitions: string[];
  rows: number;
  failedTests: { name: string; failing: number }[];
  blockedBy?: string;
}

export interface BuildModelsOptions extends PlanOptions {
  clock?: Clock;
  log?: Logger;
  /** Build against this open warehouse instead of opening the project's. */
  warehouse?: Warehouse;
  /** The engine whose warehouse to build in (Spark keeps its own); the spec's engine otherwise. */
  engine?: EngineType;
}

/**
 * Builds the plan's models in dependency order. A model whose tests fail keeps its new data but
 * blocks everything downstream (reported, exit 4 from the CLI); independent branches still build.
 */
export async function buildModels(
  project: Project,
  opts: BuildModelsOptions = {},
): Promise<ModelBuildResult[]> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const graph = await loadModelGraph(project);
  const state = readModelsState(project.root);
  const runId = `${new Date(clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
  const wh = opts.warehouse ?? (await openWarehouse(project, { engine: opts.engine }));
  const results: ModelBuildResult[] = [];
  const failed = new Map<string, string>();
  const modelsReadByViews = new Set(
    Object.values(project.sources).flatMap((s) => (s.model ? [s.model] : [])),
  );
  try {
    const here = modelsStateIn(state, wh.name);
    const plan = planModels(project, graph, here, opts);
    for (const item of plan.items) {
      const m = graph.models[item.model];
      if (!m) continue;
      const blocker = m.refs.map((r) => failed.get(r)).find((b) => b !== undefined);
      if (blocker) {
        failed.set(m.name, blocker);
        results.push({
          model: m.name,
          status: 'blocked',
          partitions: [],
          rows: 0,
          failedTests: [],
          blockedBy: blocker,
        });
        log.warn(`${m.name}: not built, blocked by the failing tests of ${blocker}`);
        continue;
      }
      const t0 = clock.now();
      let rows: number;
      try {
        const exportDate = m.export
          ? (date: string) => exportPartition(project, wh, m, date, runId, clock)
          : undefined;
        if (exportDate) recover(project.storage.offline, modelLakeName(m.name), 1);
        rows = await materialize(wh, m, item.partitions, project.timezone, exportDate);
      } catch (e) {
        if (e instanceof AsofError) throw e;
        throw new AsofError(
          'spec',
          `model ${m.name} failed in the ${wh.name} warehouse: ${(e as Error).message.split('\n')[0]}`,
          { file: m.file },
          'models built before it in this run are kept; fix the SQL and run again',
        );
      }
      const failing: { name: string; failing: number }[] = [];
      for (const t of testQueries(m, wh.dialect)) {
        const n = Number((await wh.query(t.sql)).rows[0]?.[0] ?? 0);
        if (n > 0) failing.push({ name: t.name, failing: n });
      }
      const prev = here.models[m.name];
      const partitions =
        m.materialization === 'incremental'
          ? [
              ...new Set([
                ...(prev?.materialization === 'incremental' ? prev.partitions : []),
                ...item.partitions,
              ]),
            ].sort()
          : [];
      state.models[m.name] = {
        version: m.transformationVersion,
        definition_hash: m.definitionHash,
        materialization: m.materialization,
        status: failing.length > 0 ? 'tests_failed' : 'ok',
        built_at: formatInstant(clock.now()),
        run_id: runId,
        partitions,
        ...(m.materialization === 'incremental'
          ? {
              partition_versions: {
                ...(prev?.materialization === 'incremental'
                  ? (prev.partition_versions ??
                    Object.fromEntries(prev.partitions.map((d) => [d, prev.version])))
                  : {}),
                ...Object.fromEntries(item.partitions.map((d) => [d, m.transformationVersion])),
              },
            }
          : {}),
        text: m.text,
        warehouse: wh.name,
      };
      if (!prev || prev.version !== m.transformationVersion) {
        appendChange(project.root, {
          at: formatInstant(clock.now()),
          kind: 'model',
          name: m.name,
          old_version: prev?.version ?? null,
          new_version: m.transformationVersion,
          reason: !prev ? 'new' : prev.definition_hash !== m.definitionHash ? 'changed' : 'upstream',
          diff: prev && prev.definition_hash !== m.definitionHash ? shortDiff(prev.text, m.text) : [],
          partitions: item.partitions,
          run_id: runId,
        });
      }
      writeModelsState(project.root, state);
      if (failing.length > 0) {
        failed.set(m.name, m.name);
        results.push({
          model: m.name,
          status: 'tests_failed',
          partitions: item.partitions,
          rows,
          failedTests: failing,
        });
        log.warn(
          `${m.name}: tests failed: ${failing.map((f) => `${f.name} (${f.failing} rows)`).join(', ')}`,
        );
        continue;
      }
      if (modelsReadByViews.has(m.name)) await exportSnapshot(project, wh, m.name);
      results.push({ model: m.name, status: 'built', partitions: item.partitions, rows, failedTests: [] });
      log.info(`${m.name} (${m.materialization}): ${rows} rows in ${clock.now() - t0} ms`);
    }
    return results;
  } finally {
    if (!opts.warehouse) await wh.close();
  }
}

/** Creates or replaces the model's relation; returns its row count (of the rebuilt partitions). */
async function materialize(
  wh: Warehouse,
  m: ModelGraph['models'][string],
  partitions: string[],
  timezone: string,
  exportDate?: (date: string) => Promise<unknown>,
): Promise<number> {
  const d = wh.dialect;
  const target = qualified(d, m.name);
  await wh.run(`CREATE SCHEMA IF NOT EXISTS ${d.quoteIdent(m.schema)}`);
  if (writesModels(wh)) return writeModel(wh, m, partitions, timezone, exportDate);
  const existing = await wh.relationKind(m.schema, m.relation);
  if (m.materialization === 'view' || m.materialization === 'table') {
    const sql = renderModelSql(m, d);
    return wh.transaction(async () => {
      if (existing) await wh.run(d.dropRelation(existing, target));
      await wh.run(`CREATE ${m.materialization === 'view' ? 'VIEW' : 'TABLE'} ${target} AS ${sql}`);
      return Number((await wh.query(`SELECT count(*) FROM ${target}`)).rows[0]?.[0] ?? 0);
    });
  }
  const dateCol = d.quoteIdent(m.dateColumn ?? '');
  let rows = 0;
  for (const [i, date] of partitions.entries()) {
    const sql = renderModelSql(m, d, partitionParams(d, date, timezone));
    rows += await wh.transaction(async () => {
      if (i === 0 && existing === 'view') await wh.run(d.dropRelation('view', target));
      if (i === 0 && existing !== 'table') {
        await wh.run(`CREATE TABLE ${target} AS SELECT * FROM (${sql}) q WHERE false`);
      }
      await wh.run(`DELETE FROM ${target} WHERE ${dateCol} = ${d.dateLiteral(date)}`);
      // Only the partition's own rows land: a date partition never writes into another date.
      await wh.run(
        `INSERT INTO ${target} SELECT * FROM (${sql}) q WHERE q.${dateCol} = ${d.dateLiteral(date)}`,
      );
      return Number(
        (await wh.query(`SELECT count(*) FROM ${target} WHERE ${dateCol} = ${d.dateLiteral(date)}`))
          .rows[0]?.[0] ?? 0,
      );
    });
    // After the commit: killed before the swap, the lake keeps the date's previous partition and
    // the model's state its previous version, so the next run rebuilds and exports the date again.
    await exportDate?.(date);
  }
  return rows;
}

/** Dates written per job by a warehouse that writes models itself (a month of partitions). */
const DATES_PER_WRITE = 31;

/** A warehouse that writes model relations itself (Spark). */
type ModelWriter = Warehouse & Required<Pick<Warehouse, 'writeModel'>>;

function writesModels(wh: Warehouse): wh is ModelWriter {
  return wh.writeModel !== undefined;
}

/** materialize() for warehouses with writeModel (Spark): no transaction, one write per relation or batch of dates. */
async function writeModel(
  wh: ModelWriter,
  m: ModelGraph['models'][string],
  partitions: string[],
  timezone: string,
  exportDate?: (date: string) => Promise<unknown>,
): Promise<number> {
  const d = wh.dialect;
  const at = { schema: m.schema, relation: m.relation };
  if (m.materialization === 'view' || m.materialization === 'table') {
    const rows = await wh.writeModel({
      ...at,
      materialization: m.materialization,
      sql: renderModelSql(m, d),
    });
    return rows.get('all') ?? 0;
  }
  const dateCol = d.quoteIdent(m.dateColumn ?? '');
  let total = 0;
  for (let i = 0; i < partitions.length; i += DATES_PER_WRITE) {
    const batch = partitions.slice(i, i + DATES_PER_WRITE);
    const rows = await wh.writeModel({
      ...at,
      materialization: 'incremental',
      dateColumn: m.dateColumn ?? '',
      // Only the partition's own rows land: a date partition never writes into another date.
      dates: batch.map((date) => ({
        date,
        sql: `SELECT * FROM (${renderModelSql(m, d, partitionParams(d, date, timezone))}) q WHERE q.${dateCol} = ${d.dateLiteral(date)}`,
      })),
    });
    for (const date of batch) {
      total += rows.get(date) ?? 0;
      // After the write: killed before the swap, the lake keeps the date's previous partition.
      await exportDate?.(date);
    }
  }
  return total;
}

/** Where an exported model's partitions live in the lake: <offline>/_models/<layer.name>/v1/. */
export function modelLakeName(model: string): string {
  return `_models/${model}`;
}

/**
 * Writes one date of an exported incremental model to the lake with the lake's atomic swap
 * (staging folder, manifest last, rename): readers see the old partition or the new one.
 */
async function exportPartition(
  project: Project,
  wh: Warehouse,
  m: ModelGraph['models'][string],
  date: string,
  runId: string,
  clock: Clock,
): Promise<string> {
  const d = wh.dialect;
  const t0 = clock.now();
  const rows = `(SELECT * FROM ${qualified(d, m.name)} WHERE ${d.quoteIdent(m.dateColumn ?? '')} = ${d.dateLiteral(date)}) AS p`;
  const columns = (await wh.query(`SELECT * FROM ${rows} LIMIT 0`)).columns;
  let written = 0;
  return writePartition(
    { offline: project.storage.offline, view: modelLakeName(m.name), version: 1, asOfDate: date },
    runId,
    async (staging) => {
      written = await wh.exportParquet(rows, path.join(staging, DATA_FILE));
      return [DATA_FILE];
    },
    (dataFiles) => ({
      view: m.name,
      feature_version: 1,
      transformation_version: m.transformationVersion,
      as_of_date: date,
      cutoff: formatInstant(startOfLocalDay(addDays(date, 1), project.timezone)),
      timezone: project.timezone,
      rows_read: written,
      rows_written: written,
      columns,
      source: { name: m.name, files: [], fingerprint: m.transformationVersion },
      data_files: dataFiles,
      run_id: runId,
      started_at: formatInstant(t0),
      finished_at: formatInstant(clock.now()),
      duration_ms: clock.now() - t0,
      engine: wh.name,
      engine_version: '',
      tool_version: TOOL_VERSION,
    }),
  );
}

/** Writes the model's rows to its snapshot (spec/elt.ts), replaced by rename, for views to read. */
async function exportSnapshot(project: Project, wh: Warehouse, model: string): Promise<void> {
  const source = Object.values(project.sources).find((s) => s.model === model);
  if (!source) return;
  const file = path.resolve(project.root, source.path);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  await wh.exportParquet(qualified(wh.dialect, model), tmp);
  renameSync(tmp, file);
}
