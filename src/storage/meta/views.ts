// The views' side of the metadata store: <project>/.asof/meta/views.json holds the version each view
// was last built at and its definition lines (to diff at the next transition). Replaced by rename.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { metaDir } from './models.js';

export interface ViewState {
  version: string;
  /** The version of the model the view reads, when it reads one. */
  model_version?: string;
  /** The view's definition, one line per part (spec/hash.ts viewDefinitionLines). */
  lines: string[];
  built_at: string;
  run_id: string;
}

export interface ViewsState {
  views: Record<string, ViewState>;
}

export function readViewsState(root: string): ViewsState {
  const f = path.join(metaDir(root), 'views.json');
  if (!existsSync(f)) return { views: {} };
  return JSON.parse(readFileSync(f, 'utf8')) as ViewsState;
}

export function writeViewsState(root: string, state: ViewsState): void {
  const dir = metaDir(root);
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, 'views.json');
  const tmp = `${f}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, f);
}
