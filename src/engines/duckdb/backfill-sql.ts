// Prints the DuckDB SQL that computes every as_of_date of a backfill chunk in one query: visible
// rows are bucketed by the chunk's boundaries and pre-aggregated per entity and bucket, then each
// date's window is a frame of buckets (window functions over a dense entity x bucket grid).
// count_distinct and stddev do not merge exactly from bucket partials: they use a range join of
// the rows against the dates instead, so every kind equals `asof build` for every date.
// Without those two kinds the faster form runs: the partials alone per chunk, then per date one
// grouped scan of them (backfillPartialsSql / backfillDateSql); BENCHMARKS.md has the numbers.

import type { AggKind } from '../../aggregate/kinds.js';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import type { Feature } from '../../spec/project.js';
import { printExpr } from '../sql/expr-printer.js';
import { duckdbDialect } from './dialect.js';
import { dateLiteral, duckdbType, instantLiteral, quoteIdent } from './types.js';
import { sourceTable, TS_COLUMN } from './view-sql.js';

/** Kinds computed by a range join of rows against dates rather than from bucket partials. */
const RANGE_JOIN_KINDS: ReadonlySet<AggKind> = new Set(['count_distinct', 'stddev']);

export function usesRangeJoin(kind: AggKind): boolean {
  return RANGE_JOIN_KINDS.has(kind);
}

interface FeatureSql {
  /** Partial aggregates per (entity, bucket), `expr AS name`. */
  partials: string[];
  /**
   * The final value over the date's frame: `over(fn, arg)` prints the windowed aggregate (or just
   * `arg` when the frame is the current bucket alone).
   */
  final: (over: Over) => string;
}

/** Prints `fn(arg) OVER w`, or `arg` itself when every date's frame is its own bucket. */
type Over = (fn: 'sum' | 'min' | 'max' | 'last_value' | 'first_value', arg: string) => string;

function bucketFeature(f: Feature, i: number): FeatureSql {
  const v = f.column ? quoteIdent(`__v${i}`) : undefined;
  const p = quoteIdent(`__p${i}`);
  const q = quoteIdent(`__q${i}`);
  const out = duckdbType(f.type);
  const nonNull = v === undefined ? '' : ` FILTER (WHERE ${v} IS NOT NULL)`;
  const ts = quoteIdent(TS_COLUMN);
  switch (f.agg) {
    case 'count':
    case 'exists': {
      const partial = `count(${v ?? '*'}) AS ${p}`;
      const total = (over: Over) => `coalesce(${over('sum', p)}, 0)`;
      return f.agg === 'count'
        ? { partials: [partial], final: (over) => `CAST(${total(over)} AS BIGINT)` }
        : { partials: [partial], final: (over) => `(${total(over)} > 0)` };
    }
    case 'sum':
      return {
        partials: [`sum(${v}) AS ${p}`],
        final: (over) => `CAST(coalesce(${over('sum', p)}, 0) AS ${out})`,
      };
    case 'avg':
      return {
        partials: [`sum(${v}) AS ${p}`, `count(${v}) AS ${q}`],
        final: (over) => `CAST(${over('sum', p)} / nullif(${over('sum', q)}, 0) AS DOUBLE)`,
      };
    case 'min':
    case 'max':
      return {
        partials: [`${f.agg}(${v}) AS ${p}`],
        final: (over) => `CAST(${over(f.agg as 'min' | 'max', p)} AS ${out})`,
      };
    // Buckets are disjoint time intervals in order, so the latest (earliest) value of the frame is
    // the latest (earliest) value of its last (first) non-empty bucket; ties within a bucket are
    // broken as `asof build` breaks them (the greater value wins).
    case 'last':
      return {
        partials: [`first(${v} ORDER BY ${ts} DESC, ${v} DESC)${nonNull} AS ${p}`],
        final: (over) => `CAST(${over('last_value', p)} AS ${out})`,
      };
    case 'first':
      return {
        partials: [`first(${v} ORDER BY ${ts} ASC, ${v} DESC)${nonNull} AS ${p}`],
        final: (over) => `CAST(${over('first_value', p)} AS ${out})`,
      };
    // A struct keeps a NULL value apart from an empty bucket (whose partial is NULL).
    case 'as_of':
      return {
        partials: [`first({'v': ${v}} ORDER BY ${ts} DESC, ${v} DESC NULLS LAST) AS ${p}`],
        final: (over) => `CAST(struct_extract(${over('last_value', p)}, 'v') AS ${out})`,
      };
    case 'days_since_last':
      return {
        partials: [`max("__ld")${nonNull} AS ${p}`],
        final: (over) => `CAST("as_of_date" - ${over('max', p)} AS BIGINT)`,
      };
    case 'count_distinct':
    case 'stddev':
      throw new Error(`${f.agg} is computed by a range join`);
  }
}

function values(rows: string[][]): string {
  return `VALUES ${rows.map((r) => `(${r.join(', ')})`).join(', ')}`;
}

export function backfillChunkSql(plan: BackfillChunkPlan): string {
  const { view } = plan;
  const keys = view.keys.map(quoteIdent);
  const keyList = keys.join(', ');
  const features = view.features;
  const spanCols = features.map((_, i) => quoteIdent(`__s${i}`));

  const anchors = values(
    plan.anchors.map((a) => [
      String(a.bucket),
      dateLiteral(a.asOfDate),
      ...a.spans.map((s) => (s === null ? 'NULL::BIGINT' : String(s))),
    ]),
  );

  const bucketed = features.map((f, i) => (usesRangeJoin(f.agg) ? undefined : bucketFeature(f, i)));
  // A frame of the same length on every date of the chunk (the usual case) is a constant frame;
  // a frame of one bucket needs no window at all. Otherwise each anchor row carries its span.
  const windows: string[] = [];
  const overs = features.map((f, i): Over | undefined => {
    if (!bucketed[i]) return undefined;
    const spans = new Set(plan.anchors.map((a) => a.spans[i] ?? null));
    const only = spans.size === 1 ? [...spans][0] : undefined;
    if (f.window.kind !== 'all' && only === 0) return (_fn, arg) => arg;
    const w = quoteIdent(`__w${i}`);
    const start =
      f.window.kind === 'all'
        ? 'UNBOUNDED'
        : typeof only === 'number'
          ? String(only)
          : `coalesce(${spanCols[i]}, 0)`;
    windows.push(
      `${w} AS (PARTITION BY "__e" ORDER BY "__b" ROWS BETWEEN ${start} PRECEDING AND CURRENT ROW)`,
    );
    return (fn, arg) =>
      fn === 'last_value' || fn === 'first_value'
        ? `${fn}(${arg} IGNORE NULLS) OVER ${w}`
        : `${fn}(${arg}) OVER ${w}`;
  });
  // Without a window function DuckDB refuses QUALIFY; the anchor rows are then kept by WHERE.
  const keepAnchors =
    windows.length > 0
      ? `WINDOW ${windows.join(', ')} QUALIFY "as_of_date" IS NOT NULL`
      : 'WHERE "as_of_date" IS NOT NULL';
  const lastBucket = plan.boundaries.length - 1;

  const ctes = [
    `"__anchors"("__b", "as_of_date"${spanCols.map((c) => `, ${c}`).join('')}) AS (${anchors})`,
    ...partialCtes(plan, bucketed),
    // Entities get integer ids in key order: windows partition and the result sorts by an
    // integer (4x faster than by a string key at 10M rows), and the id order is the key order.
    `"__ent" AS (SELECT ${keyList}, row_number() OVER (ORDER BY ${keyList}) AS "__e" FROM (SELECT DISTINCT ${keyList} FROM "__eb"))`,
    `"__ebi" AS (SELECT * EXCLUDE (${keyList}) FROM "__eb" JOIN "__ent" USING (${keyList}))`,
    // Population: an entity is on every date from the first bucket in which it has a visible row.
    `"__grid" AS (SELECT "__e", unnest(range(min("__b"), ${lastBucket + 1})) AS "__b" FROM "__ebi" GROUP BY "__e")`,
    `"__dense" AS (SELECT * FROM "__grid" LEFT JOIN "__ebi" USING ("__e", "__b") LEFT JOIN "__anchors" USING ("__b"))`,
    `"__win" AS (SELECT "__e", "as_of_date"${features
      .map((f, i) => {
        const b = bucketed[i];
        const over = overs[i];
        return b && over ? `, ${b.final(over)} AS ${quoteIdent(f.name)}` : '';
      })
      .join('')} FROM "__dense" ${keepAnchors})`,
  ];

  // Range-join kinds: each (entity, date) pair sees exactly the rows of its window.
  const joins: string[] = [];
  features.forEach((f, i) => {
    if (!usesRangeJoin(f.agg)) return;
    const v = quoteIdent(`__v${i}`);
    const from =
      f.agg === 'count_distinct'
        ? `(SELECT DISTINCT ${keyList}, "__b", ${v} FROM "__rows" WHERE ${v} IS NOT NULL)`
        : `"__rows"`;
    const lower = f.window.kind === 'all' ? '' : ` AND "__x"."__b" >= "__a"."__b" - "__a".${spanCols[i]}`;
    const agg = f.agg === 'count_distinct' ? `count(DISTINCT "__x".${v})` : `stddev_samp("__x".${v})`;
    const name = quoteIdent(`__rj${i}`);
    ctes.push(
      `${name} AS (SELECT ${keys.map((k) => `"__x".${k}`).join(', ')}, "__a"."as_of_date", ${agg} AS "__r" FROM ${from} "__x" JOIN "__anchors" "__a" ON "__x"."__b" <= "__a"."__b"${lower} GROUP BY ALL)`,
    );
    joins.push(`LEFT JOIN ${name} USING (${keyList}, "as_of_date")`);
  });

  const select = features.map((f, i) => {
    if (!usesRangeJoin(f.agg)) return `"__win".${quoteIdent(f.name)}`;
    const r = `${quoteIdent(`__rj${i}`)}."__r"`;
    const value = f.agg === 'count_distinct' ? `coalesce(${r}, 0)` : r;
    return `CAST(${value} AS ${duckdbType(f.type)}) AS ${quoteIdent(f.name)}`;
  });
  // "__e" stays in the result (last) so that each date's write sorts by it; writes drop it.
  return [
    `WITH ${ctes.join(',\n')}`,
    `SELECT ${keys.map((k) => `"__ent".${k}`).join(', ')}, "__win"."as_of_date", ${select.join(', ')}, "__win"."__e"`,
    `FROM "__win" JOIN "__ent" USING ("__e") ${joins.join(' ')}`,
    `ORDER BY "__win"."as_of_date", "__win"."__e"`,
  ].join('\n');
}

/** The CTEs "__bounds", "__rows" (visible rows with their bucket) and "__eb" (partials per entity and bucket). */
function partialCtes(plan: BackfillChunkPlan, bucketed: (FeatureSql | undefined)[]): string[] {
  const { view, timezone } = plan;
  const ctx = { timezone };
  const keyList = view.keys.map(quoteIdent).join(', ');
  const ts = quoteIdent(TS_COLUMN);
  const features = view.features;
  const bounds = values(plan.boundaries.map((t, i) => [String(i), instantLiteral(t)]));
  const conditions = [`${ts} < ${instantLiteral(plan.maxCutoff)}`];
  if (view.where) conditions.push(`(${printExpr(view.where, duckdbDialect, ctx)}) IS TRUE`);
  const valueCols = features.flatMap((f, i) =>
    f.column ? [`(${printExpr(f.column, duckdbDialect, ctx)}) AS ${quoteIdent(`__v${i}`)}`] : [],
  );
  // The local date (a time zone conversion per row) only when days_since_last needs it.
  const localDate = features.some((f) => f.agg === 'days_since_last')
    ? `, ${duckdbDialect.localDate(ts, timezone)} AS "__ld"`
    : '';
  const rows = [
    `SELECT ${keyList}, ${ts}${localDate}${valueCols.map((c) => `, ${c}`).join('')}`,
    `FROM ${sourceTable(view.source)}`,
    `WHERE ${conditions.join(' AND ')}`,
  ].join(' ');

  const partials = bucketed.flatMap((b) => b?.partials ?? []);
  return [
    `"__bounds"("__i", "__t") AS (${bounds})`,
    // An event's bucket is the number of boundaries at or before it (0 before the first).
    `"__rows" AS (SELECT "__r".*, coalesce("__bounds"."__i" + 1, 0) AS "__b" FROM (${rows}) "__r" ASOF LEFT JOIN "__bounds" ON "__r".${ts} >= "__bounds"."__t")`,
    `"__eb" AS (SELECT ${keyList}, "__b"${partials.map((p) => `, ${p}`).join('')} FROM "__rows" GROUP BY ${keyList}, "__b")`,
  ];
}

/** Whether every feature of the chunk merges from bucket partials (no range-join kind). */
export function partialsOnly(plan: BackfillChunkPlan): boolean {
  return plan.view.features.every((f) => !usesRangeJoin(f.agg));
}

/**
 * The per-(entity, bucket) partials of a chunk ("__eb"), materialized once per chunk; each date
 * is then one grouped scan of them (backfillDateSql), fused with that date's Parquet write: no
 * dense grid, no window operator, no chunk-sized result table. Only when partialsOnly(plan).
 */
export function backfillPartialsSql(plan: BackfillChunkPlan): string {
  const bucketed = plan.view.features.map((f, i) => bucketFeature(f, i));
  return `WITH ${partialCtes(plan, bucketed).join(',\n')}\nSELECT * FROM "__eb"`;
}

/**
 * The chunk's entities from its partials table: an integer id in key order ("__e": grouping and
 * sorting by it is much cheaper than by string keys, and its order is the key order) and the
 * first bucket with a visible row ("__fb": the entity is on every date from that bucket on).
 */
export function backfillEntitiesSql(plan: BackfillChunkPlan, partials: string): string {
  const keyList = plan.view.keys.map(quoteIdent).join(', ');
  return `SELECT ${keyList}, CAST(row_number() OVER (ORDER BY ${keyList}) AS INTEGER) AS "__e", "__fb" FROM (SELECT ${keyList}, min("__b") AS "__fb" FROM ${quoteIdent(partials)} GROUP BY ${keyList})`;
}

/**
 * The partials keyed by entity id instead of keys, sorted by bucket: a date reads only the row
 * groups of its window's buckets (zone maps on "__b").
 */
export function backfillIndexedPartialsSql(
  plan: BackfillChunkPlan,
  partials: string,
  entities: string,
): string {
  const keyList = plan.view.keys.map(quoteIdent).join(', ');
  return `SELECT * EXCLUDE (${keyList}, "__fb") FROM ${quoteIdent(partials)} JOIN ${quoteIdent(entities)} USING (${keyList}) ORDER BY "__b", "__e"`;
}

/**
 * One date of a chunk: the partials of the buckets in the date's widest window, grouped by entity
 * (each feature FILTERs its own window), joined to the date's population (entities whose first
 * bucket is visible); an entity with no row in any window gets every feature's empty value.
 */
export function backfillDateSql(
  plan: BackfillChunkPlan,
  anchorIndex: number,
  table: string,
  entities: string,
): string {
  const a = plan.anchors[anchorIndex];
  if (!a) throw new Error(`no anchor ${anchorIndex}`);
  const keys = plan.view.keys.map(quoteIdent);
  const date = dateLiteral(a.asOfDate);
  const raws: string[] = [];
  const raw = (agg: string, extra?: string, span?: number | null): string => {
    const c = [span === null || span === undefined ? '' : `"__b" >= ${a.bucket - span}`, extra ?? ''];
    const where = c.filter((x) => x !== '');
    const name = quoteIdent(`__a${raws.length}`);
    raws.push(`${agg}${where.length === 0 ? '' : ` FILTER (WHERE ${where.join(' AND ')})`} AS ${name}`);
    return name;
  };
  const cols = plan.view.features.map((f, i) => {
    const p = quoteIdent(`__p${i}`);
    const q = quoteIdent(`__q${i}`);
    const span = a.spans[i];
    const out = duckdbType(f.type);
    let e: string;
    switch (f.agg) {
      case 'count':
        e = `CAST(coalesce(${raw(`sum(${p})`, undefined, span)}, 0) AS BIGINT)`;
        break;
      case 'exists':
        e = `(coalesce(${raw(`sum(${p})`, undefined, span)}, 0) > 0)`;
        break;
      case 'sum':
        e = `CAST(coalesce(${raw(`sum(${p})`, undefined, span)}, 0) AS ${out})`;
        break;
      case 'avg':
        e = `CAST(${raw(`sum(${p})`, undefined, span)} / nullif(${raw(`sum(${q})`, undefined, span)}, 0) AS DOUBLE)`;
        break;
      case 'min':
      case 'max':
        e = `CAST(${raw(`${f.agg}(${p})`, undefined, span)} AS ${out})`;
        break;
      // Buckets are disjoint and in time order, one row per entity and bucket: the latest
      // (earliest) non-empty bucket's partial is the window's last (first) value.
      case 'last':
        e = `CAST(${raw(`arg_max(${p}, "__b")`, `${p} IS NOT NULL`, span)} AS ${out})`;
        break;
      case 'first':
        e = `CAST(${raw(`arg_min(${p}, "__b")`, `${p} IS NOT NULL`, span)} AS ${out})`;
        break;
      case 'as_of':
        e = `CAST(struct_extract(${raw(`arg_max(${p}, "__b")`, `${p} IS NOT NULL`, span)}, 'v') AS ${out})`;
        break;
      case 'days_since_last':
        e = `CAST(${date} - ${raw(`max(${p})`, undefined, span)} AS BIGINT)`;
        break;
      case 'count_distinct':
      case 'stddev':
        throw new Error(`${f.agg} is computed by a range join`);
    }
    return `${e} AS ${quoteIdent(f.name)}`;
  });
  // The widest window of the date (every bucket when a window is `all`).
  const lowest = a.spans.some((s) => s === null || s === undefined)
    ? 0
    : a.bucket - Math.max(...a.spans.map((s) => s ?? 0));
  const agg = `SELECT "__e", ${raws.join(', ')} FROM ${quoteIdent(table)} WHERE "__b" BETWEEN ${lowest} AND ${a.bucket} GROUP BY "__e"`;
  return `SELECT ${keys.map((k) => `"__n".${k}`).join(', ')}, ${date} AS "as_of_date"${cols.map((c) => `, ${c}`).join('')} FROM ${quoteIdent(entities)} "__n" LEFT JOIN (${agg}) "__g" USING ("__e") WHERE "__n"."__fb" <= ${a.bucket} ORDER BY "__n"."__e"`;
}
