// Stable content hashes (transformation_version): canonical JSON of what changes rows, nothing else.
// Descriptions, owners, YAML formatting and key order never change a version.

import { createHash } from 'node:crypto';
import { formatWindow } from '../time/index.js';
import type { Project, View } from './project.js';

/**
 * Bumped when asof's own semantics change (a window rule, a null rule), so that every partition
 * built under the old rules is reported as changed.
 */
export const SEMANTICS_VERSION = 1;

/** JSON with object keys sorted at every level, so equal values always print the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * Folds the version of the model each view reads (`source: { model }`) into the view's
 * transformation_version, so a change of the model (or anything upstream of it) marks the view's
 * partitions "definition changed". Views over files keep their version unchanged.
 */
export function foldModelVersions(project: Project, modelVersions: Record<string, string>): Project {
  const views: Record<string, View> = {};
  for (const [name, v] of Object.entries(project.views)) {
    const model = project.sources[v.source]?.model;
    const version = model === undefined ? undefined : modelVersions[model];
    views[name] =
      model === undefined || version === undefined
        ? v
        : {
            ...v,
            model: { name: model, version },
            transformationVersion: contentHash({ view: v.transformationVersion, model, version }),
          };
  }
  return { ...project, views };
}

/**
 * A readable form of what a view's version hashes, one line per part: the change log diffs two of
 * these (an upstream model's version shows as its own line).
 */
export function viewDefinitionLines(project: Project, view: View): string[] {
  const source = project.sources[view.source];
  return [
    `timezone: ${project.timezone}`,
    `keys: ${view.keys.join(', ')}`,
    `source: ${view.source} ${canonicalJson({
      timestamp: source?.timestamp,
      columns: source?.columns,
      primaryKey: source?.primaryKey,
      format: source?.format,
    })}`,
    `cutoff: ${view.cutoff}`,
    ...(view.whereText !== undefined ? [`where: ${view.whereText}`] : []),
    ...view.features.map(
      (f) => `feature ${f.name}: ${f.agg}(${f.columnText ?? ''}) over ${formatWindow(f.window)}`,
    ),
    ...(view.model ? [`model ${view.model.name}: ${view.model.version}`] : []),
  ];
}
