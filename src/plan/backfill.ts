// The engine-independent plan of a backfill chunk: many as_of_dates of one view computed together.
// Every cutoff and window start of the chunk is a boundary; the boundaries cut time into buckets,
// so each date's window is a contiguous run of buckets (DST, Nh windows and start_of_day included).

import type { Project, View } from '../spec/project.js';
import type { Instant, IsoDate } from '../time/index.js';
import { planViewBuild, type ViewBuildPlan } from './view-build.js';

/** One as_of_date of a chunk, in bucket terms. */
export interface BackfillAnchor {
  asOfDate: IsoDate;
  cutoff: Instant;
  /** The last bucket before the cutoff: buckets 0..bucket are visible on this date. */
  bucket: number;
  /** Per feature: buckets (bucket - span)..bucket are in the window; null for `all`. */
  spans: (number | null)[];
  /** The per-date plan `asof build` would run for this date (same cutoff, same window starts). */
  build: ViewBuildPlan;
}

export interface BackfillChunkPlan {
  view: View;
  timezone: string;
  /**
   * Sorted distinct instants. Bucket k holds events with boundaries[k-1] <= ts < boundaries[k]
   * (bucket 0 has no lower bound): an event's bucket is the number of boundaries <= its time.
   */
  boundaries: Instant[];
  /** One per date, sorted by date. */
  anchors: BackfillAnchor[];
  /** Events at or after this instant are seen by no date of the chunk. */
  maxCutoff: Instant;
}

export function planBackfillChunk(project: Project, view: View, dates: IsoDate[]): BackfillChunkPlan {
  if (dates.length === 0) throw new Error('a backfill chunk needs at least one date');
  const builds = [...dates].sort().map((d) => planViewBuild(project, view, d));
  const set = new Set<Instant>();
  for (const b of builds) {
    set.add(b.cutoff);
    for (const s of b.windowStarts) if (s !== null) set.add(s);
  }
  const boundaries = [...set].sort((a, b) => a - b);
  const index = new Map(boundaries.map((t, i) => [t, i]));
  const at = (t: Instant): number => {
    const i = index.get(t);
    if (i === undefined) throw new Error(`instant ${t} is not a boundary`);
    return i;
  };
  const anchors = builds.map((b): BackfillAnchor => {
    // The cutoff is boundaries[j]: events before it have at most j boundaries <= ts, so buckets 0..j.
    const j = at(b.cutoff);
    // A window [boundaries[i], cutoff) holds buckets i+1..j.
    const spans = b.windowStarts.map((s) => (s === null ? null : j - at(s) - 1));
    return { asOfDate: b.asOfDate, cutoff: b.cutoff, bucket: j, spans, build: b };
  });
  return {
    view,
    timezone: project.timezone,
    boundaries,
    anchors,
    maxCutoff: Math.max(...builds.map((b) => b.cutoff)),
  };
}

/** Splits sorted dates into chunks of at most `size` dates (each chunk is one query). */
export function chunkDates(dates: IsoDate[], size: number): IsoDate[][] {
  const n = Math.max(1, Math.floor(size));
  const out: IsoDate[][] = [];
  for (let i = 0; i < dates.length; i += n) out.push(dates.slice(i, i + n));
  return out;
}
