// Builds a test project in-process and reads the partition back as plain objects.

import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { makeProject } from './project.js';

export type Obj = Record<string, unknown>;

export function toObjects(columns: { name: string }[], rows: unknown[][]): Obj[] {
  return rows.map((r) =>
    Object.fromEntries(
      r.map((v, i) => [
        columns[i]?.name ?? String(i),
        typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v,
      ]),
    ),
  );
}

/** Builds view `v` of a project made of `files` as of `asOf` and returns its rows. */
export async function buildRows(files: Record<string, string>, asOf: string, view = 'v'): Promise<Obj[]> {
  const dir = makeProject(files);
  return buildRowsIn(dir, asOf, view);
}

export async function buildRowsIn(dir: string, asOf: string, view = 'v'): Promise<Obj[]> {
  const project = await loadProject(dir);
  await build(project, { asOf, views: [view] });
  const shown = await showPartition(project, view, asOf);
  return toObjects(shown.result.columns, shown.result.rows);
}
