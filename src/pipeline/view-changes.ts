// Records the views' version transitions in the change log (`asof changes`), beside the models':
// when a build or backfill writes partitions of a view at a version other than the one last
// recorded, one line says old -> new, why (its own definition, or only an upstream model), a short
// diff of the definition, and the partitions written in that run.

import { viewDefinitionLines } from '../spec/hash.js';
import type { Project } from '../spec/project.js';
import { appendChange, shortDiff } from '../storage/meta/models.js';
import { readViewsState, writeViewsState } from '../storage/meta/views.js';
import { type Clock, formatInstant } from '../time/index.js';

export function recordViewChanges(
  project: Project,
  runId: string,
  clock: Clock,
  built: { view: string; asOfDate: string }[],
): void {
  if (built.length === 0) return;
  const state = readViewsState(project.root);
  let dirty = false;
  for (const name of [...new Set(built.map((b) => b.view))].sort()) {
    const view = project.views[name];
    if (!view) continue;
    const prev = state.views[name];
    if (prev?.version === view.transformationVersion) continue;
    const lines = viewDefinitionLines(project, view);
    const own = (l: string[]) => l.filter((x) => !x.startsWith('model ')).join('\n');
    const reason = !prev ? 'new' : own(prev.lines) === own(lines) ? 'upstream' : 'changed';
    const at = formatInstant(clock.now());
    appendChange(project.root, {
      at,
      kind: 'view',
      name,
      old_version: prev?.version ?? null,
      new_version: view.transformationVersion,
      reason,
      diff: prev ? shortDiff(prev.lines.join('\n'), lines.join('\n')) : [],
      partitions: built
        .filter((b) => b.view === name)
        .map((b) => b.asOfDate)
        .sort(),
      run_id: runId,
    });
    state.views[name] = {
      version: view.transformationVersion,
      ...(view.model ? { model_version: view.model.version } : {}),
      lines,
      built_at: at,
      run_id: runId,
    };
    dirty = true;
  }
  if (dirty) writeViewsState(project.root, state);
}
