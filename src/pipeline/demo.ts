// The ELT part of `asof demo`: land the generated clickstream JSON in raw.clickstream, build the
// example's SQL models (src/scaffold/clickstream.ts) with the models planner over the last days
// before the as_of_date, and read back the few figures the demo prints.

import { loadRaw } from '../elt/load.js';
import { buildModels, type ModelBuildResult } from '../elt/models.js';
import { openWarehouse } from '../elt/warehouse.js';
import type { Project } from '../spec/project.js';
import { addDays, type Clock, type IsoDate, systemClock } from '../time/index.js';
import type { Logger } from './log.js';

export interface DemoEltOptions {
  asOf: IsoDate;
  /** Dates of the incremental model features.user_active_24h to build, ending on `asOf`. */
  days: number;
  clock?: Clock;
  log?: Logger;
}

export interface DemoEltSummary {
  /** JSON lines landed by this run (0 when the file was already loaded). */
  landed: number;
  models: ModelBuildResult[];
  /** Read from the warehouse once every model built (undefined when one failed or was blocked). */
  figures?: DemoEltFigures;
}

export interface DemoEltFigures {
  rawRows: number;
  clicks: number;
  sessions: number;
  sessionUsers: number;
  /** features.user_active_24h: users with a session in the 24 hours before each date's end. */
  activeByDate: { date: IsoDate; users: number }[];
}

export async function buildDemoElt(project: Project, opts: DemoEltOptions): Promise<DemoEltSummary> {
  const clock = opts.clock ?? systemClock;
  const loaded = await loadRaw(project, { source: 'clickstream', files: [], clock });
  const models = await buildModels(project, {
    from: addDays(opts.asOf, -(opts.days - 1)),
    to: opts.asOf,
    clock,
    log: opts.log,
  });
  const landed = loaded.files.reduce((n, f) => n + f.rows, 0);
  if (models.some((m) => m.status !== 'built')) return { landed, models };
  const wh = await openWarehouse(project, { readOnly: true });
  try {
    const one = async (sql: string): Promise<number> => Number((await wh.query(sql)).rows[0]?.[0] ?? 0);
    const active = await wh.query(
      'SELECT CAST(as_of_date AS VARCHAR), count(*) FROM features.user_active_24h GROUP BY 1 ORDER BY 1',
    );
    const figures: DemoEltFigures = {
      rawRows: await one('SELECT count(*) FROM raw.clickstream'),
      clicks: await one('SELECT count(*) FROM refined.clicks'),
      sessions: await one('SELECT count(*) FROM refined.sessions'),
      sessionUsers: await one('SELECT count(DISTINCT user_id) FROM refined.sessions'),
      activeByDate: active.rows.map((r) => ({ date: String(r[0]), users: Number(r[1]) })),
    };
    return { landed, models, figures };
  } finally {
    await wh.close();
  }
}
