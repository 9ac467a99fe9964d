// The data dictionary: for every feature its description, type, entity, window, aggregation, source,
// filter, versions, owner, checks, lineage and latest quality figures; as data (for the dashboard)
// and rendered as Markdown and as one static HTML page (`asof docs`).

import type { Project, QualityCheck, View } from '../spec/project.js';
import { formatWindow } from '../time/index.js';
import { type FeaturePoint, type FeatureQuality, featureQuality } from './feature-quality.js';
import { type LineageGraph, lineage } from './lineage.js';
import { versionsOf } from './partitions.js';

export interface DictionaryEntry {
  view: string;
  feature: string;
  description: string | null;
  type: string;
  entity: string;
  keys: string[];
  window: string;
  aggregation: string;
  source: string;
  /** The file path of the source, or the model it reads. */
  source_detail: string;
  filter: string | null;
  cutoff: string;
  feature_version: number;
  transformation_version: string;
  /** Feature versions with partitions in the lake. */
  versions_in_lake: number[];
  owner: string | null;
  checks: string[];
  /** Upstream chain, farthest first: source or models, then the view. */
  lineage: string[];
  latest: (FeaturePoint & { as_of_date: string }) | null;
}

export interface Dictionary {
  project: string;
  timezone: string;
  entries: DictionaryEntry[];
}

export function describeCheck(c: QualityCheck): string {
  const what = (() => {
    switch (c.kind) {
      case 'null_rate':
        return `null_rate <= ${c.max}`;
      case 'range':
        return `range [${c.min ?? '-inf'}, ${c.max ?? '+inf'}]`;
      case 'unique_key':
        return 'unique_key';
      case 'row_count_change':
        return `row_count_change <= ${c.maxPercent}%`;
      case 'drift':
        return `drift PSI <= ${c.maxPsi} (${c.bins} bins)`;
      case 'freshness':
        return `freshness within ${formatWindow(c.maxAge)}`;
      case 'late_event_rate':
        return `late_event_rate <= ${c.max}`;
    }
  })();
  return `${what} (${c.severity})`;
}

/** Upstream names of a view, farthest first (source -> models -> view). */
function upstream(graph: LineageGraph, view: View): string[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const chain: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const e of graph.edges) if (e.to === id) visit(e.from);
    const n = byId.get(id);
    if (n) chain.push(n.kind === 'view' || n.kind === 'raw' ? n.label : `${n.kind} ${n.label}`);
  };
  visit(`view:${view.name}`);
  return chain;
}

export async function dictionary(project: Project, quality?: FeatureQuality[]): Promise<Dictionary> {
  const graph = await lineage(project);
  const q = quality ?? (await featureQuality(project, { psi: 'latest' }));
  const entries: DictionaryEntry[] = [];
  for (const view of Object.values(project.views).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const source = project.sources[view.source];
    const entity = project.entities[view.entity];
    const chain = upstream(graph, view);
    const inLake = versionsOf(project, view.name);
    for (const f of view.features) {
      const points = q.find((x) => x.view === view.name && x.feature === f.name)?.points ?? [];
      const latest = [...points].reverse().find((p) => p.attempt === 'published') ?? null;
      entries.push({
        view: view.name,
        feature: f.name,
        description: f.description ?? null,
        type: f.type,
        entity: view.entity,
        keys: entity?.keys ?? view.keys,
        window: formatWindow(f.window),
        aggregation: f.columnText ? `${f.agg}(${f.columnText})` : f.agg,
        source: view.source,
        source_detail: source?.model ? `model ${source.model}` : (source?.path ?? ''),
        filter: view.whereText ?? null,
        cutoff: view.cutoff,
        feature_version: view.version,
        transformation_version: view.transformationVersion,
        versions_in_lake: inLake,
        owner: f.owner ?? view.owner ?? null,
        checks: (view.checks ?? [])
          .filter((c) => c.feature === f.name || c.feature === undefined)
          .map((c) => (c.feature === undefined ? `view: ${describeCheck(c)}` : describeCheck(c))),
        lineage: chain,
        latest,
      });
    }
  }
  return { project: project.name, timezone: project.timezone, entries };
}

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;
const num = (x: number | null | undefined) => (x === null || x === undefined ? '-' : String(x));

function latestText(e: DictionaryEntry): string {
  const l = e.latest;
  if (!l) return 'no published partition yet';
  return `as of ${l.as_of_date}: ${num(l.rows)} rows, null rate ${pct(l.null_rate)}, mean ${num(l.mean)}, PSI ${num(l.psi)}${l.breaches.length ? `; breaches: ${l.breaches.join('; ')}` : ''}`;
}

/** The facts of one entry as label/value pairs, in the order both renderings print them. */
function facts(e: DictionaryEntry): [string, string][] {
  return [
    ['Description', e.description ?? '(none)'],
    ['Type', e.type],
    ['Entity', `${e.entity} (${e.keys.join(', ')})`],
    ['Window', e.window],
    ['Aggregation', e.aggregation],
    ['Source', `${e.source} (${e.source_detail})`],
    ['Filter', e.filter ?? '(none)'],
    ['Cutoff', e.cutoff],
    [
      'Versions',
      `feature_version ${e.feature_version}, transformation_version ${e.transformation_version}; in the lake: ${e.versions_in_lake.map((v) => `v${v}`).join(', ') || 'none'}`,
    ],
    ['Owner', e.owner ?? '(none)'],
    ['Checks', e.checks.join('; ') || '(none)'],
    ['Lineage', e.lineage.join(' -> ')],
    ['Latest quality', latestText(e)],
  ];
}

const mdEscape = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function dictionaryMarkdown(d: Dictionary): string {
  const out = [
    `# Data dictionary: ${d.project}`,
    '',
    `Timezone ${d.timezone}. ${d.entries.length} features.`,
    '',
  ];
  out.push('| Feature | Type | Window | Aggregation | Description |', '| --- | --- | --- | --- | --- |');
  for (const e of d.entries) {
    out.push(
      `| [${e.view}.${e.feature}](#${e.view}${e.feature}) | ${e.type} | ${e.window} | ${mdEscape(e.aggregation)} | ${mdEscape(e.description ?? '')} |`,
    );
  }
  for (const e of d.entries) {
    out.push('', `## ${e.view}.${e.feature}`, '', '| | |', '| --- | --- |');
    for (const [k, v] of facts(e)) out.push(`| ${k} | ${mdEscape(v)} |`);
  }
  return `${out.join('\n')}\n`;
}

const html = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

export function dictionaryHtml(d: Dictionary): string {
  const rows = d.entries
    .map(
      (e) =>
        `<tr><td><a href="#${html(`${e.view}.${e.feature}`)}">${html(`${e.view}.${e.feature}`)}</a></td><td>${html(e.type)}</td><td>${html(e.window)}</td><td>${html(e.aggregation)}</td><td>${html(e.description ?? '')}</td></tr>`,
    )
    .join('\n');
  const sections = d.entries
    .map(
      (e) =>
        `<section id="${html(`${e.view}.${e.feature}`)}"><h2>${html(`${e.view}.${e.feature}`)}</h2><dl>${facts(
          e,
        )
          .map(([k, v]) => `<dt>${html(k)}</dt><dd>${html(v)}</dd>`)
          .join('')}</dl></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data dictionary: ${html(d.project)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2433}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
dl{display:grid;grid-template-columns:10rem 1fr;gap:2px 12px}dt{color:#667;font-weight:600}dd{margin:0}
section{border-top:1px solid #dde;margin-top:1.5rem}code{background:#f3f4f8}
</style></head><body>
<h1>Data dictionary: ${html(d.project)}</h1>
<p>Timezone ${html(d.timezone)}. ${d.entries.length} features.</p>
<table><thead><tr><th>Feature</th><th>Type</th><th>Window</th><th>Aggregation</th><th>Description</th></tr></thead><tbody>
${rows}
</tbody></table>
${sections}
</body></html>
`;
}
