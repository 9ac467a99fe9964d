// Finds and loads a project from a folder: asof.yaml (or .yml), or asof.config.ts via defineProject.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MODELS_DIR, readModelGraph } from '../elt/read-graph.js';
import { AsofError } from '../errors.js';
import { foldModelVersions } from '../spec/hash.js';
import { normalizeProject, parseProjectYaml } from '../spec/parse.js';
import type { Project } from '../spec/project.js';

const SPEC_FILES = ['asof.yaml', 'asof.yml', 'asof.config.ts', 'asof.config.js', 'asof.config.mjs'];

export function findSpecFile(dirOrFile: string): string {
  const abs = path.resolve(dirOrFile);
  if (!existsSync(abs)) throw new AsofError('usage', `project folder not found: ${abs}`);
  if (statSync(abs).isFile()) return abs;
  for (const name of SPEC_FILES) {
    const f = path.join(abs, name);
    if (existsSync(f)) return f;
  }
  throw new AsofError(
    'usage',
    `no asof.yaml or asof.config.ts in ${abs}`,
    { file: abs },
    "run 'asof init' to create one",
  );
}

export async function loadProject(dirOrFile = '.'): Promise<Project> {
  return withModelVersions(await loadSpec(dirOrFile));
}

/**
 * Views reading a model fold the model's version (from models/, compiled without a database) into
 * their transformation_version; a source naming a model that models/ lacks is an error.
 */
function withModelVersions(project: Project): Project {
  const sources = Object.values(project.sources).filter((s) => s.model !== undefined);
  if (sources.length === 0) return project;
  const graph = readModelGraph(project);
  for (const s of sources) {
    if (s.model && !graph.models[s.model]) {
      throw new AsofError(
        'spec',
        `source '${s.name}' reads model '${s.model}', but no model has that name`,
        { file: project.specFile, specPath: `sources.${s.name}.model` },
        `models under ${MODELS_DIR}/: ${graph.order.join(', ') || '(none)'}`,
      );
    }
  }
  const versions: Record<string, string> = {};
  for (const [name, m] of Object.entries(graph.models)) versions[name] = m.transformationVersion;
  return foldModelVersions(project, versions);
}

async function loadSpec(dirOrFile: string): Promise<Project> {
  const file = findSpecFile(dirOrFile);
  const root = path.dirname(file);
  if (/\.(ya?ml)$/.test(file)) return parseProjectYaml(readFileSync(file, 'utf8'), file, root);
  let mod: { default?: unknown };
  try {
    if (file.endsWith('.ts')) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { default?: unknown };
    } else {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    }
  } catch (e) {
    throw new AsofError('spec', `cannot load: ${(e as Error).message}`, { file });
  }
  const value = (mod.default as { default?: unknown } | undefined)?.default ?? mod.default;
  if (value === undefined) {
    throw new AsofError(
      'spec',
      'the config file has no default export',
      { file },
      'export default defineProject({ ... })',
    );
  }
  return normalizeProject(value, { file, root, locate: () => undefined });
}
