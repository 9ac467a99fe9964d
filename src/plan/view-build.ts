// The engine-independent plan of one view partition: which source, which cutoff, which window
// starts, which reference date. `asof plan` can print it; engines compile it to SQL.

import type { Project, Source, View } from '../spec/project.js';
import { cutoffInstant, type Instant, type IsoDate, windowStart } from '../time/index.js';

export interface ViewBuildPlan {
  view: View;
  source: Source;
  timezone: string;
  asOfDate: IsoDate;
  /** Events strictly before this instant are visible. */
  cutoff: Instant;
  /** Per feature (same order as view.features): the inclusive window start, null for `all`. */
  windowStarts: (Instant | null)[];
  /** The date days_since_last counts to. */
  referenceDate: IsoDate;
}

export function planViewBuild(project: Project, view: View, asOfDate: IsoDate): ViewBuildPlan {
  const source = project.sources[view.source];
  if (!source) throw new Error(`view ${view.name} names unknown source ${view.source}`);
  const cutoff = cutoffInstant(asOfDate, view.cutoff, project.timezone);
  return {
    view,
    source,
    timezone: project.timezone,
    asOfDate,
    cutoff,
    windowStarts: view.features.map((f) => windowStart(cutoff, f.window, project.timezone)),
    referenceDate: asOfDate,
  };
}
