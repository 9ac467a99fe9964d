// One sliding pass per entity over a backfill chunk's partials, in TypeScript over DuckDB's vectors:
// the partials are read out of their chunks as typed arrays, every date's windows are computed per
// entity from its bucket-sorted partials, and all dates' rows go back into one table by appending
// whole data chunks. Only for count, exists, and sum / avg / min / max of DOUBLE partials; any
// other kind or type keeps the per-date SQL (backfillDateSql). BENCHMARKS.md has the numbers.

import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { BIGINT, BOOLEAN, DOUBLE, DuckDBDataChunk, INTEGER } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import { quoteIdent } from './types.js';

type SlideKind = 'count' | 'exists' | 'sum' | 'avg' | 'min' | 'max';

/** One feature of the pass: its kind, its partial columns' indexes in the read, its output type. */
interface SlideFeature {
  kind: SlideKind;
  p: number;
  q: number;
  out: 'DOUBLE' | 'BIGINT' | 'BOOLEAN';
}

/** The partial columns each kind reads, with the DuckDB types the pass handles, and its output type. */
const SHAPES: Record<SlideKind, { p: string; q?: string; out: SlideFeature['out'] }> = {
  count: { p: 'BIGINT', out: 'BIGINT' },
  exists: { p: 'BIGINT', out: 'BOOLEAN' },
  sum: { p: 'DOUBLE', out: 'DOUBLE' },
  avg: { p: 'DOUBLE', q: 'BIGINT', out: 'DOUBLE' },
  min: { p: 'DOUBLE', out: 'DOUBLE' },
  max: { p: 'DOUBLE', out: 'DOUBLE' },
};

export interface SlidePlan {
  features: SlideFeature[];
  /** The partial columns to read after "__e" and "__b", in order. */
  partials: { name: string; type: 'DOUBLE' | 'BIGINT' }[];
}

/**
 * The pass for a chunk, or undefined when a feature is of another kind or its partials or output
 * are of another type (then the per-date SQL runs). `partialTypes` and `outTypes` are DuckDB's
 * own (DESCRIBE of the partials and of a date's query), so the pass writes exactly those types.
 */
export function slidePlan(
  plan: BackfillChunkPlan,
  partialTypes: ReadonlyMap<string, string>,
  outTypes: ReadonlyMap<string, string>,
): SlidePlan | undefined {
  // The pass moves each window forward only: dates in order, their buckets too.
  if (plan.anchors.some((a, i) => i > 0 && a.bucket < plan.anchors[i - 1]!.bucket)) return undefined;
  const partials: SlidePlan['partials'] = [];
  const features: SlideFeature[] = [];
  for (const [i, f] of plan.view.features.entries()) {
    if (!(f.agg in SHAPES)) return undefined;
    const kind = f.agg as SlideKind;
    const shape = SHAPES[kind];
    if (outTypes.get(f.name) !== shape.out) return undefined;
    const col = (name: string, type: string): number => {
      if (partialTypes.get(name) !== type) return -1;
      partials.push({ name, type: type as 'DOUBLE' | 'BIGINT' });
      return partials.length - 1;
    };
    const p = col(`__p${i}`, shape.p);
    const q = shape.q === undefined ? 0 : col(`__q${i}`, shape.q);
    if (p < 0 || q < 0) return undefined;
    features.push({ kind, p, q, out: shape.out });
  }
  return { features, partials };
}

/** A chunk's partials sorted by (entity, bucket): entity e's rows are start[e]..start[e+1]-1. */
interface Partials {
  bucket: Int32Array;
  start: Int32Array;
  /** Per partial column, as doubles (counts are cast in SQL: exact below 2^53); NULL reads as 0. */
  values: Float64Array[];
  /** Per partial column whose NULLs matter (min, max): 1 where the value is not NULL. */
  valid: (Uint8Array | undefined)[];
}

/**
 * Reads the partials straight from the result's vectors into typed arrays, then sorts them by
 * (entity, bucket) with two counting sorts (ids and buckets are small dense integers). Sums and
 * counts read a NULL as 0 (coalesced in SQL: a NULL partial adds nothing to a sum, and avg divides
 * by the count of non-NULL values); min and max keep the validity.
 */
async function readPartials(
  conn: DuckDBConnection,
  sp: SlidePlan,
  from: string,
  range: readonly [number, number],
  entities: number,
  buckets: number,
): Promise<Partials> {
  const nullable = sp.partials.map((_, c) =>
    sp.features.some((f) => f.p === c && (f.kind === 'min' || f.kind === 'max')),
  );
  const cols = sp.partials.map((col, c) => {
    const name = quoteIdent(col.name);
    return nullable[c] ? `CAST(${name} AS DOUBLE)` : `CAST(coalesce(${name}, 0) AS DOUBLE)`;
  });
  const result = await conn.run(
    `SELECT "__e", CAST("__b" AS INTEGER), ${cols.join(', ')} FROM ${from} WHERE "__e" BETWEEN ${range[0]} AND ${range[1]}`,
  );
  const total = result.rowCount;
  const e = new Int32Array(total);
  const b = new Int32Array(total);
  const read = cols.map(() => new Float64Array(total));
  const readOk = nullable.map((n) => (n ? new Uint8Array(total) : undefined));
  let off = 0;
  for (let k = 0; k < result.chunkCount; k++) {
    const raw = result.getChunk(k).chunk;
    const n = duckdb.data_chunk_get_size(raw);
    const data = (c: number, width: number): Uint8Array =>
      duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, c), n * width);
    const eb = data(0, 4);
    e.set(new Int32Array(eb.buffer, eb.byteOffset, n), off);
    const bb = data(1, 4);
    b.set(new Int32Array(bb.buffer, bb.byteOffset, n), off);
    for (let c = 0; c < cols.length; c++) {
      const vector = duckdb.data_chunk_get_vector(raw, c + 2);
      const vb = duckdb.vector_get_data(vector, n * 8);
      read[c]!.set(new Float64Array(vb.buffer, vb.byteOffset, n), off);
      const ok = readOk[c];
      if (!ok) continue;
      const bits = duckdb.vector_get_validity(vector, Math.ceil(n / 64) * 8);
      if (!bits) ok.fill(1, off, off + n);
      else for (let i = 0; i < n; i++) ok[off + i] = ((bits[i >> 3] ?? 0) >> (i & 7)) & 1;
    }
    off += n;
  }
  if (off !== total) throw new Error(`read ${off} of ${total} partials`);
  // Where each read row goes: counting sort by bucket, then a stable one by entity.
  const byBucket = new Int32Array(buckets + 1);
  for (let i = 0; i < total; i++) byBucket[b[i]! + 1]!++;
  for (let k = 0; k < buckets; k++) byBucket[k + 1]! += byBucket[k]!;
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[byBucket[b[i]!]!++] = i;
  const start = new Int32Array(entities + 2);
  for (let i = 0; i < total; i++) start[e[i]! + 1]!++;
  for (let k = 0; k <= entities; k++) start[k + 1]! += start[k]!;
  const next = start.slice(0, entities + 1);
  const to = new Int32Array(total);
  for (let r = 0; r < total; r++) {
    const i = order[r]!;
    to[i] = next[e[i]!]!++;
  }
  const bucket = new Int32Array(total);
  for (let i = 0; i < total; i++) bucket[to[i]!] = b[i]!;
  const values = read.map((v) => {
    const out = new Float64Array(total);
    for (let i = 0; i < total; i++) out[to[i]!] = v[i]!;
    return out;
  });
  const valid = readOk.map((ok) => {
    if (!ok) return undefined;
    const out = new Uint8Array(total);
    for (let i = 0; i < total; i++) out[to[i]!] = ok[i]!;
    return out;
  });
  return { bucket, start, values, valid };
}

/** DuckDB orders NaN above every other double; so does this. */
function greater(a: number, b: number): boolean {
  return a > b || (Number.isNaN(a) && !Number.isNaN(b));
}

/** One output column in the bytes DuckDB's vectors hold. */
interface OutColumn {
  out: SlideFeature['out'];
  /** DOUBLE: 8 bytes a row; BIGINT: two 32-bit words a row (low first); BOOLEAN: 1 byte. */
  bytes: Float64Array | Int32Array | Uint8Array;
  /** Bit i set when row i is not NULL (avg, min, max), as DuckDB's validity masks. */
  validity?: Uint8Array;
}

/** The chunk's rows, date-major and in entity order within a date. */
interface Rows {
  count: number;
  date: Int32Array;
  entity: Int32Array;
  columns: OutColumn[];
}

/**
 * Every date's windows, entity by entity: entity e is on the dates whose bucket j >= firstBucket[e];
 * a feature's window is the buckets j - span..j (0..j for `all`) of e's sorted partials. Counts
 * slide (exact integers); double sums, min and max are summed over the window's partials in
 * bucket order, so no running double sum loses a small window to cancellation.
 */
function slide(
  plan: BackfillChunkPlan,
  sp: SlidePlan,
  p: Partials,
  firstBucket: Int32Array,
  range: readonly [number, number],
): Rows {
  const anchors = plan.anchors;
  const js = Int32Array.from(anchors, (a) => a.bucket);
  const [e0, e1] = range;
  // Each date's first row: rows are date-major, in entity order within a date.
  const first = new Int32Array(anchors.length);
  let count = 0;
  for (let d = 0; d < anchors.length; d++) {
    first[d] = count;
    for (let e = e0; e <= e1; e++) if (firstBucket[e]! <= js[d]!) count++;
  }
  const date = new Int32Array(count);
  const entity = new Int32Array(count);
  const rowOf = new Int32Array(anchors.length);
  rowOf.set(first);
  for (let e = e0; e <= e1; e++)
    for (let d = 0; d < anchors.length; d++) {
      if (firstBucket[e]! > js[d]!) continue;
      const row = rowOf[d]!++;
      date[row] = d;
      entity[row] = e;
    }
  const { bucket, start } = p;
  const columns = sp.features.map((f, fi): OutColumn => {
    const spans = Float64Array.from(anchors, (a) => a.spans[fi] ?? Number.POSITIVE_INFINITY);
    const pv = p.values[f.p]!;
    const qv = p.values[f.q]!;
    const ok = p.valid[f.p];
    const nullable = f.kind === 'avg' || f.kind === 'min' || f.kind === 'max';
    const validity = nullable ? new Uint8Array(Math.ceil(count / 8)).fill(255) : undefined;
    const doubles = f.out === 'DOUBLE' ? new Float64Array(count) : undefined;
    const words = f.out === 'BIGINT' ? new Int32Array(count * 2) : undefined;
    const bools = f.out === 'BOOLEAN' ? new Uint8Array(count) : undefined;
    const isMax = f.kind === 'max';
    rowOf.set(first);
    for (let e = e0; e <= e1; e++) {
      const s = start[e]!;
      const end = start[e + 1]!;
      const fb = firstBucket[e]!;
      let lo = s;
      let hi = s;
      let n = 0;
      let lastLo = -1;
      let lastHi = -1;
      let last = 0;
      let lastOk = false;
      for (let d = 0; d < anchors.length; d++) {
        const j = js[d]!;
        if (fb > j) continue;
        const row = rowOf[d]!++;
        const from = j - spans[d]!;
        // The window's partials are lo..hi-1 (j never decreases; a span may change, e.g. over a
        // DST change); n is their total of pv, used by count and exists, whose partials are counts.
        while (hi < end && bucket[hi]! <= j) n += pv[hi++]!;
        while (lo < hi && bucket[lo]! < from) n -= pv[lo++]!;
        while (lo > s && bucket[lo - 1]! >= from) n += pv[--lo]!;
        switch (f.kind) {
          case 'count':
            if (n < 2147483648) {
              words![2 * row] = n;
              words![2 * row + 1] = 0;
            } else {
              words![2 * row] = (n % 4294967296) | 0;
              words![2 * row + 1] = Math.floor(n / 4294967296);
            }
            break;
          case 'exists':
            bools![row] = n > 0 ? 1 : 0;
            break;
          default: {
            // Sum, avg, min, max: over the window's partials, unless they are the previous date's.
            if (lo !== lastLo || hi !== lastHi) {
              lastLo = lo;
              lastHi = hi;
              lastOk = true;
              if (f.kind === 'sum' || f.kind === 'avg') {
                let sum = 0;
                let q = 0;
                for (let k = lo; k < hi; k++) sum += pv[k]!;
                if (f.kind === 'avg') {
                  for (let k = lo; k < hi; k++) q += qv[k]!;
                  lastOk = q > 0;
                  sum /= q;
                }
                last = sum;
              } else {
                let seen = false;
                let m = 0;
                for (let k = lo; k < hi; k++) {
                  if (!ok![k]) continue;
                  const x = pv[k]!;
                  if (!seen || (isMax ? greater(x, m) : greater(m, x))) m = x;
                  seen = true;
                }
                lastOk = seen;
                last = m;
              }
            }
            if (lastOk) doubles![row] = last;
            else validity![row >> 3]! &= ~(1 << (row & 7));
          }
        }
      }
    }
    return { out: f.out, bytes: doubles ?? words ?? bools!, validity };
  });
  return { count, date, entity, columns };
}

const TYPES: Record<SlideFeature['out'], DuckDBType> = { DOUBLE, BIGINT, BOOLEAN };
const WIDTH: Record<SlideFeature['out'], number> = { DOUBLE: 8, BIGINT: 8, BOOLEAN: 1 };

/** Appends the rows to `table` ("__d" INTEGER, "__e" INTEGER, features...) one data chunk at a time. */
async function appendRows(conn: DuckDBConnection, table: string, rows: Rows): Promise<void> {
  const appender = await conn.createAppender(table);
  // A multiple of 8, so each data chunk's validity starts on a byte of the rows' masks.
  const size = duckdb.vector_size();
  const chunk = DuckDBDataChunk.create([INTEGER, INTEGER, ...rows.columns.map((c) => TYPES[c.out])]);
  const raw = chunk.chunk;
  try {
    for (let off = 0; off < rows.count; off += size) {
      const n = Math.min(size, rows.count - off);
      duckdb.data_chunk_reset(raw);
      const copy = (c: number, a: Float64Array | Int32Array | Uint8Array, width: number) =>
        duckdb.copy_data_to_vector(
          duckdb.data_chunk_get_vector(raw, c),
          0,
          a.buffer as ArrayBuffer,
          a.byteOffset + off * width,
          n * width,
        );
      copy(0, rows.date, 4);
      copy(1, rows.entity, 4);
      for (const [i, col] of rows.columns.entries()) {
        copy(i + 2, col.bytes, WIDTH[col.out]);
        if (!col.validity) continue;
        const vector = duckdb.data_chunk_get_vector(raw, i + 2);
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(
          vector,
          0,
          col.validity.buffer as ArrayBuffer,
          col.validity.byteOffset + off / 8,
          Math.ceil(n / 8),
        );
      }
      duckdb.data_chunk_set_size(raw, n);
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/**
 * Bounds the pass's own memory (typed arrays outside DuckDB's memory_limit): the entities are
 * taken in ranges of at most about this many partial rows read and output rows made at once
 * (~120 and ~50 bytes each). A test lowers them to cover several ranges.
 */
export const slideLimits = { partials: 4_000_000, rows: 8_000_000 };

/**
 * Computes every date of the chunk into `table` (made here: "__d" the anchor index, "__e" the entity
 * id, then one column per feature) from the partials table `raw` (keyed by `keys`) and the
 * `entities` table (ids "__e" 1..n in key order, first buckets "__fb"). Returns the rows per anchor.
 */
export async function slideChunk(
  conn: DuckDBConnection,
  plan: BackfillChunkPlan,
  sp: SlidePlan,
  tables: { raw: string; entities: string },
  table: string,
): Promise<number[]> {
  // Entity e's first bucket at firstBucket[e] (ids are 1..n).
  const ent = await conn.run(`SELECT "__e", CAST("__fb" AS INTEGER) FROM ${quoteIdent(tables.entities)}`);
  const entities = ent.rowCount;
  const firstBucket = new Int32Array(entities + 1);
  for (let k = 0; k < ent.chunkCount; k++) {
    const raw = ent.getChunk(k).chunk;
    const n = duckdb.data_chunk_get_size(raw);
    const ids = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 0), n * 4);
    const fbs = duckdb.vector_get_data(duckdb.data_chunk_get_vector(raw, 1), n * 4);
    const id = new Int32Array(ids.buffer, ids.byteOffset, n);
    const fb = new Int32Array(fbs.buffer, fbs.byteOffset, n);
    for (let i = 0; i < n; i++) firstBucket[id[i]!] = fb[i]!;
  }
  const counted = await conn.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(tables.raw)}`);
  const partials = Number(counted.getRows()[0]?.[0] ?? 0);
  let outRows = 0;
  for (const a of plan.anchors)
    for (let e = 1; e <= entities; e++) if (firstBucket[e]! <= a.bucket) outRows++;
  const ranges = Math.max(
    1,
    Math.ceil(partials / slideLimits.partials),
    Math.ceil(outRows / slideLimits.rows),
  );
  const step = Math.max(1, Math.ceil(entities / ranges));
  const keyList = plan.view.keys.map(quoteIdent).join(', ');
  const from = `${quoteIdent(tables.raw)} JOIN ${quoteIdent(tables.entities)} USING (${keyList})`;
  const defs = plan.view.features.map((f, i) => `${quoteIdent(f.name)} ${sp.features[i]!.out}`);
  await conn.run(
    `CREATE OR REPLACE TABLE ${quoteIdent(table)} ("__d" INTEGER, "__e" INTEGER, ${defs.join(', ')})`,
  );
  const perDate = plan.anchors.map(() => 0);
  // Each range's rows are appended date-major; a date's write orders its rows by "__e".
  for (let e0 = 1; e0 <= entities; e0 += step) {
    const range = [e0, Math.min(entities, e0 + step - 1)] as const;
    const p = await readPartials(conn, sp, from, range, entities, plan.boundaries.length + 1);
    const rows = slide(plan, sp, p, firstBucket, range);
    await appendRows(conn, table, rows);
    for (let i = 0; i < rows.count; i++) perDate[rows.date[i]!]!++;
  }
  return perDate;
}

/** One date's rows from the pass's table, with the entity keys, in key order. */
export function slideDateSql(
  plan: BackfillChunkPlan,
  anchorIndex: number,
  table: string,
  entities: string,
  dateLiteralSql: string,
): string {
  const keys = plan.view.keys.map((k) => `"__n".${quoteIdent(k)}`).join(', ');
  const features = plan.view.features.map((f) => `"__o".${quoteIdent(f.name)}`).join(', ');
  return `SELECT ${keys}, ${dateLiteralSql} AS "as_of_date", ${features} FROM ${quoteIdent(table)} "__o" JOIN ${quoteIdent(entities)} "__n" USING ("__e") WHERE "__o"."__d" = ${anchorIndex} ORDER BY "__o"."__e"`;
}
