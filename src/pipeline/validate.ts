// `asof validate`: the spec is already checked by loading it; this reads every source against its
// contract (columns present, values parsable, keys not null) without writing anything.

import { DuckDbEngine } from '../engines/duckdb/engine.js';
import type { Project } from '../spec/project.js';
import { loadSources } from './build.js';
import type { Logger } from './log.js';

export interface ValidationReport {
  views: number;
  sources: { name: string; files: number; rows: number }[];
}

export async function validateProject(project: Project, log: Logger): Promise<ValidationReport> {
  const views = Object.values(project.views);
  const used = new Set(views.map((v) => v.source));
  for (const name of Object.keys(project.sources)) {
    if (!used.has(name)) log.warn(`source '${name}' is not used by any view`);
  }
  const engine = await DuckDbEngine.open();
  try {
    const loaded = await loadSources(project, views, engine, Object.keys(project.sources), { log });
    return {
      views: views.length,
      sources: [...loaded.values()].map((l) => ({
        name: l.source.name,
        files: l.files.length,
        rows: l.rows,
      })),
    };
  } finally {
    await engine.close();
  }
}
