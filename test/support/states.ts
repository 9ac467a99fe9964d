// Entity states written as one array per event, for tests: the stream keeps the tail flat
// (EntityState.width values per event), which is harder to read in a literal.

import type { Value } from '../../src/expr/evaluate.js';
import type { EntityState, TailEntry } from '../../src/stream/state.js';

/** A state of these events (each [instant, sequence, values...], all of one width). */
export function stateOf(s: {
  tail: TailEntry[] | readonly (readonly Value[])[];
  head?: EntityState['head'];
  first: number | null;
  seq: number;
  width?: number;
}): EntityState {
  const width = s.width ?? s.tail[0]?.length ?? 2;
  const tail: Value[] = [];
  for (const e of s.tail) {
    if (e.length !== width) throw new Error(`an event of ${e.length} values in a state of width ${width}`);
    tail.push(...e);
  }
  return { tail, width, head: s.head ?? null, first: s.first, seq: s.seq, taken: 0 };
}

/** The events of a state, one array each (undefined without a state). */
export function entriesOf(s: EntityState): TailEntry[];
export function entriesOf(s: EntityState | null | undefined): TailEntry[] | undefined;
export function entriesOf(s: EntityState | null | undefined): TailEntry[] | undefined {
  if (!s) return undefined;
  const out: TailEntry[] = [];
  for (let k = 0; k < s.tail.length; k += s.width) out.push(s.tail.slice(k, k + s.width) as TailEntry);
  return out;
}
