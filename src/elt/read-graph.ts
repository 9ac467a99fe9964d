// Reads models/**/*.sql (the folder is the layer) and compiles the graph, without touching a
// database: what loading a project needs to fold model versions into the views that read them.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import type { Project } from '../spec/project.js';
import { compileGraph, type ModelGraph } from './graph.js';
import { parseModelFile } from './model-file.js';

export const MODELS_DIR = 'models';

/**
 * Compiled graphs by folder, reused while no model file changed (same names, sizes and mtimes):
 * loading a project and planning it read models/ once per process.
 */
const cache = new Map<string, { stamp: string; graph: ModelGraph }>();

export function readModelGraph(project: Pick<Project, 'root' | 'timezone'>): ModelGraph {
  const dir = path.join(project.root, MODELS_DIR);
  const files = existsSync(dir) ? globSync('**/*.sql', { cwd: dir, onlyFiles: true }).sort() : [];
  const stamp = [
    project.timezone,
    ...files.map((rel) => {
      const st = statSync(path.join(dir, rel), { bigint: true });
      return `${rel}:${st.size}:${st.mtimeNs}:${st.ino}`;
    }),
  ].join('\n');
  const hit = cache.get(dir);
  if (hit?.stamp === stamp) return hit.graph;
  const parsed = files.map((rel) => {
    const parts = rel.split('/');
    const layer = parts.length > 1 ? parts[0] : '';
    const stem = path.basename(rel, '.sql');
    const file = path.join(dir, rel);
    return parseModelFile(readFileSync(file, 'utf8'), file, `${layer}.${stem}`);
  });
  const graph = compileGraph(parsed, project.timezone);
  cache.set(dir, { stamp, graph });
  return graph;
}
