// The plan of a view read at an arbitrary instant (online parity, `asof parity`): the batch
// computation whose cutoff is the read time itself, with the as_of_date that read stands for.

import type { Project, View } from '../spec/project.js';
import { type Instant, windowStart } from '../time/index.js';
import { asOfDateAt } from '../time/read-time.js';
import type { ViewBuildPlan } from './view-build.js';

export function planViewAt(project: Project, view: View, at: Instant): ViewBuildPlan {
  const source = project.sources[view.source];
  if (!source) throw new Error(`view ${view.name} names unknown source ${view.source}`);
  const asOfDate = asOfDateAt(at, view.cutoff, project.timezone);
  return {
    view,
    source,
    timezone: project.timezone,
    asOfDate,
    cutoff: at,
    windowStarts: view.features.map((f) => windowStart(at, f.window, project.timezone)),
    referenceDate: asOfDate,
  };
}
