// The public TypeScript API: define a project in code (asof.config.ts) and run its pipelines.

import type { ProjectInput } from './spec/schema.js';

/**
 * Declares a project in TypeScript with autocompletion; the same schema validates it as asof.yaml.
 *
 *     export default defineProject({ project: 'shop', sources: {...}, entities: {...}, views: {...} });
 */
export function defineProject(spec: ProjectInput): ProjectInput {
  return spec;
}

export { AsofError, EXIT_CODES } from './errors.js';
export { type BuildOptions, type BuiltPartition, build } from './pipeline/build.js';
export { loadProject } from './pipeline/project.js';
export { showPartition } from './pipeline/show.js';
export { validateProject } from './pipeline/validate.js';
export type { Entity, Feature, Project, Source, View } from './spec/project.js';
export type { ProjectInput } from './spec/schema.js';
