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
export { type CheckResult, QualityGateError } from './pipeline/quality.js';
export { type RunOptions, type RunOutcome, type RunSummary, runPipeline } from './pipeline/run.js';
export { runScheduler } from './pipeline/schedule.js';
export { showPartition } from './pipeline/show.js';
export {
  type AuditReport,
  audit,
  type TrainingSetOptions,
  type TrainingSetResult,
  trainingSet,
} from './pipeline/training-set.js';
export { validateProject } from './pipeline/validate.js';
export type { Entity, Feature, Project, QualityCheck, Source, View } from './spec/project.js';
export type { ProjectInput } from './spec/schema.js';
