// The lineage graph: sources -> models (by layer: raw, refined, features, ...) -> views -> features,
// from the spec and the compiled model graph (no SQL is run). Each node says its column (layer) so
// the dashboard and the data dictionary draw and describe it the same way.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadModelGraph, MODELS_DIR } from '../elt/models.js';
import type { Project } from '../spec/project.js';

export type LineageKind = 'source' | 'raw' | 'model' | 'view' | 'feature';

export interface LineageNode {
  id: string;
  kind: LineageKind;
  label: string;
  /**
   * The column it is drawn in: source, raw (the tables `asof load` lands, and raw/ models), the
   * other model layers (refined, features, ...), view, feature.
   */
  layer: string;
  description?: string;
  version?: string;
}

export interface LineageGraph {
  /** Columns left to right. */
  layers: string[];
  nodes: LineageNode[];
  edges: { from: string; to: string }[];
}

const LAYER_ORDER = ['raw', 'staging', 'refined', 'features'];

export async function lineage(project: Project): Promise<LineageGraph> {
  const nodes = new Map<string, LineageNode>();
  const edges: { from: string; to: string }[] = [];
  const add = (n: LineageNode) => {
    if (!nodes.has(n.id)) nodes.set(n.id, n);
  };
  for (const s of Object.values(project.sources)) {
    if (s.model) continue;
    add({
      id: `source:${s.name}`,
      kind: 'source',
      label: s.name,
      layer: 'source',
      description: s.description ?? `${s.format} ${s.path}`,
    });
  }
  const hasModels = existsSync(path.join(project.root, MODELS_DIR));
  const graph = hasModels ? await loadModelGraph(project, { checkSql: false }) : { models: {}, order: [] };
  for (const name of graph.order) {
    const m = graph.models[name];
    if (!m) continue;
    add({
      id: `model:${name}`,
      kind: 'model',
      label: name,
      layer: m.schema,
      description: m.description ?? `${m.materialization} model`,
      version: m.transformationVersion,
    });
    for (const r of m.refs) edges.push({ from: `model:${r}`, to: `model:${name}` });
    // raw.<table> is where `asof load` lands a source as it is: the raw layer, fed by that source
    for (const match of m.normalizedSql.matchAll(/\braw\.([A-Za-z_][A-Za-z0-9_]*)\b/g)) {
      const table = match[1] as string;
      if (graph.models[`raw.${table}`]) continue;
      const id = `raw:${table}`;
      if (!nodes.has(id)) {
        add({
          id,
          kind: 'raw',
          label: `raw.${table}`,
          layer: 'raw',
          description: `landed by asof load --source ${table}`,
        });
        if (project.sources[table]) edges.push({ from: `source:${table}`, to: id });
      }
      if (!edges.some((e) => e.from === id && e.to === `model:${name}`))
        edges.push({ from: id, to: `model:${name}` });
    }
  }
  for (const v of Object.values(project.views).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    add({
      id: `view:${v.name}`,
      kind: 'view',
      label: `${v.name} v${v.version}`,
      layer: 'view',
      description: v.description ?? `${v.entity} features from ${v.source}`,
      version: v.transformationVersion,
    });
    const src = project.sources[v.source];
    edges.push({
      from: src?.model ? `model:${src.model}` : `source:${v.source}`,
      to: `view:${v.name}`,
    });
    for (const f of v.features) {
      add({
        id: `feature:${v.name}.${f.name}`,
        kind: 'feature',
        label: `${v.name}.${f.name}`,
        layer: 'feature',
        ...(f.description ? { description: f.description } : {}),
      });
      edges.push({ from: `view:${v.name}`, to: `feature:${v.name}.${f.name}` });
    }
  }
  const modelLayers = [
    ...new Set([...nodes.values()].filter((n) => n.kind === 'model' || n.kind === 'raw').map((n) => n.layer)),
  ];
  modelLayers.sort((a, b) => {
    const ia = LAYER_ORDER.indexOf(a);
    const ib = LAYER_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : 1);
  });
  return {
    layers: ['source', ...modelLayers, 'view', 'feature'],
    nodes: [...nodes.values()],
    edges: edges.filter((e) => nodes.has(e.from) && nodes.has(e.to)),
  };
}
