// The JSON of one view's feature values for an entity state at a read time, written straight from
// the state's entries (serving's hot path): the same values as ViewRuntime.valuesAt + valuesOf
// serialized, without the per-read arrays, partials and objects (about 2 KB per read otherwise).

import { foldEntries } from '../aggregate/incremental.js';
import type { Value } from '../expr/evaluate.js';
import type { View } from '../spec/project.js';
import { type EntityState, inLayout, type TailLayout, tailLayout } from '../stream/state.js';
import { type Instant, windowStart } from '../time/index.js';
import { asOfDateAt } from '../time/read-time.js';

/** A value as JSON.stringify writes it inside an object (undefined, NaN and infinities as null). */
export function jsonValue(v: Value | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

export class ViewFold {
  /** `"name":` of each feature, JSON-escaped once. */
  private readonly names: string[];
  /** What depends only on the read time, for the last read time seen (reads share it in bursts). */
  private at = Number.NaN;
  private readonly starts: (number | null)[];
  private ctx = { referenceDate: '', timezone: '' };
  private readonly layout: TailLayout;

  constructor(
    readonly view: View,
    private readonly timezone: string,
  ) {
    this.names = view.features.map((f) => `${JSON.stringify(f.name)}:`);
    this.starts = view.features.map(() => null);
    this.layout = tailLayout(view);
  }

  private readAt(at: Instant): void {
    if (at === this.at) return;
    const fs = this.view.features;
    for (let i = 0; i < fs.length; i++) {
      this.starts[i] = windowStart(at, (fs[i] as View['features'][number]).window, this.timezone);
    }
    this.ctx = { referenceDate: asOfDateAt(at, this.view.cutoff, this.timezone), timezone: this.timezone };
    this.at = at;
  }

  /** `{"feature":value,...}` of the state at `at`, or null when the entity is absent then. */
  json(stored: EntityState | null, at: Instant): string | null {
    if (stored === null || stored.first === null || stored.first >= at) return null;
    const state = inLayout(stored, this.layout, this.view.features.length);
    this.readAt(at);
    const fs = this.view.features;
    const head = state.head;
    let out = '{';
    for (let i = 0; i < fs.length; i++) {
      const f = fs[i] as View['features'][number];
      const init = head !== null && i in head ? head[i] : undefined;
      const col = this.layout.at[i] as number;
      const v = foldEntries(f.agg, init, state.tail, state.width, col, this.starts[i] ?? null, at, this.ctx);
      out += i === 0 ? this.names[i] : `,${this.names[i]}`;
      out += jsonValue(v);
    }
    return `${out}}`;
  }
}
