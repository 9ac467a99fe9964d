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
  /** The final value over the date's frame; `w` is the window name. */
  final: (w: string) => string;
}

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
      const total = (w: string) => `coalesce(sum(${p}) OVER ${w}, 0)`;
      return f.agg === 'count'
        ? { partials: [partial], final: (w) => `CAST(${total(w)} AS BIGINT)` }
        : { partials: [partial], final: (w) => `(${total(w)} > 0)` };
    }
    case 'sum':
      return {
        partials: [`sum(${v}) AS ${p}`],
        final: (w) => `CAST(coalesce(sum(${p}) OVER ${w}, 0) AS ${out})`,
      };
    case 'avg':
      return {
        partials: [`sum(${v}) AS ${p}`, `count(${v}) AS ${q}`],
        final: (w) => `CAST(sum(${p}) OVER ${w} / nullif(sum(${q}) OVER ${w}, 0) AS DOUBLE)`,
      };
    case 'min':
    case 'max':
      return {
        partials: [`${f.agg}(${v}) AS ${p}`],
        final: (w) => `CAST(${f.agg}(${p}) OVER ${w} AS ${out})`,
      };
    // Buckets are disjoint time intervals in order, so the latest (earliest) value of the frame is
    // the latest (earliest) value of its last (first) non-empty bucket; ties within a bucket are
    // broken as `asof build` breaks them (the greater value wins).
    case 'last':
      return {
        partials: [`first(${v} ORDER BY ${ts} DESC, ${v} DESC)${nonNull} AS ${p}`],
        final: (w) => `CAST(last_value(${p} IGNORE NULLS) OVER ${w} AS ${out})`,
      };
    case 'first':
      return {
        partials: [`first(${v} ORDER BY ${ts} ASC, ${v} DESC)${nonNull} AS ${p}`],
        final: (w) => `CAST(first_value(${p} IGNORE NULLS) OVER ${w} AS ${out})`,
      };
    case 'days_since_last':
      return {
        partials: [`max("__ld")${nonNull} AS ${p}`],
        final: (w) => `CAST("as_of_date" - max(${p}) OVER ${w} AS BIGINT)`,
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
  const windows = features.flatMap((f, i) => {
    if (!bucketed[i]) return [];
    const frame =
      f.window.kind === 'all'
        ? 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW'
        : `ROWS BETWEEN coalesce(${spanCols[i]}, 0) PRECEDING AND CURRENT ROW`;
    return [`${quoteIdent(`__w${i}`)} AS (PARTITION BY ${keyList} ORDER BY "__b" ${frame})`];
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
    // Population: an entity is on every date from the first bucket in which it has a visible row.
    `"__grid" AS (SELECT ${keyList}, unnest(range(min("__b"), ${lastBucket + 1})) AS "__b" FROM "__eb" GROUP BY ${keyList})`,
    `"__dense" AS (SELECT * FROM "__grid" LEFT JOIN "__eb" USING (${keyList}, "__b") LEFT JOIN "__anchors" USING ("__b"))`,
    `"__win" AS (SELECT ${keyList}, "as_of_date"${features
      .map((f, i) => {
        const b = bucketed[i];
        return b ? `, ${b.final(quoteIdent(`__w${i}`))} AS ${quoteIdent(f.name)}` : '';
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
  return [
    `WITH ${ctes.join(',\n')}`,
    `SELECT ${keys.map((k) => `"__win".${k}`).join(', ')}, "__win"."as_of_date", ${select.join(', ')}`,
    `FROM "__win" ${joins.join(' ')}`,
    `ORDER BY "__win"."as_of_date", ${keys.map((k) => `"__win".${k}`).join(', ')}`,
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
  const rows = [
    `SELECT ${keyList}, ${ts}, ${duckdbDialect.localDate(ts, timezone)} AS "__ld"${valueCols.map((c) => `, ${c}`).join('')}`,
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

/** One date of a chunk from its partials table: the date's window is a filter on the bucket. */
export function backfillDateSql(plan: BackfillChunkPlan, anchorIndex: number, table: string): string {
  const a = plan.anchors[anchorIndex];
  if (!a) throw new Error(`no anchor ${anchorIndex}`);
  const keys = plan.view.keys.map(quoteIdent);
  const keyList = keys.join(', ');
  const date = dateLiteral(a.asOfDate);
  const cols = plan.view.features.map((f, i) => {
    const p = quoteIdent(`__p${i}`);
    const q = quoteIdent(`__q${i}`);
    const span = a.spans[i];
    const inWindow = span === null || span === undefined ? '' : `"__b" >= ${a.bucket - span}`;
    const filter = (extra?: string) => {
      const c = [inWindow, extra ?? ''].filter((x) => x !== '');
      return c.length === 0 ? '' : ` FILTER (WHERE ${c.join(' AND ')})`;
    };
    const out = duckdbType(f.type);
    let e: string;
    switch (f.agg) {
      case 'count':
        e = `CAST(coalesce(sum(${p})${filter()}, 0) AS BIGINT)`;
        break;
      case 'exists':
        e = `(coalesce(sum(${p})${filter()}, 0) > 0)`;
        break;
      case 'sum':
        e = `CAST(coalesce(sum(${p})${filter()}, 0) AS ${out})`;
        break;
      case 'avg':
        e = `CAST(sum(${p})${filter()} / nullif(sum(${q})${filter()}, 0) AS DOUBLE)`;
        break;
      case 'min':
      case 'max':
        e = `CAST(${f.agg}(${p})${filter()} AS ${out})`;
        break;
      // Buckets are disjoint and in time order, one row per entity and bucket: the latest
      // (earliest) non-empty bucket's partial is the window's last (first) value.
      case 'last':
        e = `CAST(arg_max(${p}, "__b")${filter(`${p} IS NOT NULL`)} AS ${out})`;
        break;
      case 'first':
        e = `CAST(arg_min(${p}, "__b")${filter(`${p} IS NOT NULL`)} AS ${out})`;
        break;
      case 'days_since_last':
        e = `CAST(${date} - max(${p})${filter()} AS BIGINT)`;
        break;
      case 'count_distinct':
      case 'stddev':
        throw new Error(`${f.agg} is computed by a range join`);
    }
    return `${e} AS ${quoteIdent(f.name)}`;
  });
  // Population: every entity with a visible row before the cutoff (a partial in buckets 0..j).
  return `SELECT ${keyList}, ${date} AS "as_of_date"${cols.map((c) => `, ${c}`).join('')} FROM ${quoteIdent(table)} WHERE "__b" <= ${a.bucket} GROUP BY ${keyList} ORDER BY ${keyList}`;
}
