// Compiles model files into a graph before anything runs: names unique, every ref known, no cycle
// (the error names it), a dependency order, and each model's transformation_version (its own
// definition hash folded with its upstream models' versions, so a change marks all downstream).

import { AsofError } from '../errors.js';
import { contentHash, SEMANTICS_VERSION } from '../spec/hash.js';
import type { ModelFile } from './model-file.js';

export interface Model extends ModelFile {
  /** Hash of this model's own definition (SQL and row-changing header fields). */
  definitionHash: string;
  /** definitionHash folded with the upstream versions: what `changes` and `plan` compare. */
  transformationVersion: string;
  /** Models that ref() this one. */
  downstream: string[];
}

export interface ModelGraph {
  models: Record<string, Model>;
  /** Every model, each after all its upstream models (ties by name, so the order is stable). */
  order: string[];
}

export function compileGraph(files: ModelFile[], timezone: string): ModelGraph {
  const byName = new Map<string, ModelFile>();
  for (const f of files) {
    const dup = byName.get(f.name);
    if (dup) {
      throw new AsofError('spec', `two models are named '${f.name}' (also ${dup.file})`, { file: f.file });
    }
    byName.set(f.name, f);
  }
  for (const f of files) {
    for (const r of f.refs) {
      if (!byName.has(r)) {
        throw new AsofError(
          'spec',
          `ref('${r}'): no model is named '${r}'`,
          { file: f.file, line: f.refLines[r] },
          `models: ${[...byName.keys()].sort().join(', ')}`,
        );
      }
    }
  }
  const order = topologicalOrder(byName);
  const models: Record<string, Model> = {};
  for (const name of order) {
    const f = byName.get(name) as ModelFile;
    const definitionHash = contentHash({
      semantics: SEMANTICS_VERSION,
      name: f.name,
      sql: f.normalizedSql,
      materialization: f.materialization,
      date_column: f.dateColumn,
      // :start and :end are instants of local days: the timezone changes an incremental model's rows.
      timezone: f.materialization === 'incremental' ? timezone : undefined,
    });
    const upstream = f.refs.map((r) => [r, models[r]?.transformationVersion]);
    models[name] = {
      ...f,
      definitionHash,
      transformationVersion: contentHash({ definition: definitionHash, upstream }),
      downstream: [],
    };
  }
  for (const name of order) for (const r of models[name]?.refs ?? []) models[r]?.downstream.push(name);
  return { models, order };
}

function topologicalOrder(byName: Map<string, ModelFile>): string[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (name: string) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      const f = byName.get(name);
      throw new AsofError(
        'spec',
        `models form a cycle: ${cycle.join(' -> ')}`,
        { file: f?.file, line: f?.refLines[cycle[1] ?? ''] },
        'a model cannot read, directly or not, from itself',
      );
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const r of [...(byName.get(name)?.refs ?? [])].sort()) visit(r);
    stack.pop();
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of [...byName.keys()].sort()) visit(name);
  return order;
}

/** The models downstream of `names` (themselves included), in dependency order. */
export function withDownstream(graph: ModelGraph, names: Iterable<string>): string[] {
  const seen = new Set<string>();
  const walk = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const d of graph.models[n]?.downstream ?? []) walk(d);
  };
  for (const n of names) walk(n);
  return graph.order.filter((n) => seen.has(n));
}

/** The models upstream of `names` (themselves included), in dependency order. */
export function withUpstream(graph: ModelGraph, names: Iterable<string>): string[] {
  const seen = new Set<string>();
  const walk = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const r of graph.models[n]?.refs ?? []) walk(r);
  };
  for (const n of names) walk(n);
  return graph.order.filter((n) => seen.has(n));
}
