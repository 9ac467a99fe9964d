// Opens the engine a run asks for: the command line's --engine, else the spec's `engine:`, else
// embedded DuckDB. The only place that names engines; everything after asks engine.supports.

import type { EngineSettings } from '../spec/project.js';
import { DuckDbEngine } from './duckdb/engine.js';
import type { Engine } from './engine.js';
import { SparkEngine } from './spark/engine.js';

export type EngineType = EngineSettings['type'];
export const ENGINE_TYPES: readonly EngineType[] = ['duckdb', 'spark'];

export async function openEngine(
  settings: EngineSettings | undefined,
  override?: EngineType,
): Promise<Engine> {
  const type = override ?? settings?.type ?? 'duckdb';
  if (type === 'spark') return SparkEngine.open({ master: settings?.master, conf: settings?.conf });
  return DuckDbEngine.open(duckDbOptions(settings));
}

/** The spec's DuckDB settings (memory cap, threads) for batch runs. */
export function duckDbOptions(settings: EngineSettings | undefined): {
  memoryLimit?: string;
  threads?: number;
} {
  return {
    ...(settings?.memoryLimit ? { memoryLimit: settings.memoryLimit } : {}),
    ...(settings?.threads ? { threads: settings.threads } : {}),
  };
}
