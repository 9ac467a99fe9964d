// Prints the Spark SQL that computes every as_of_date of a backfill chunk (plan/backfill.ts) in one
// job: visible rows are bucketed by the chunk's boundaries and pre-aggregated per entity and bucket;
// each date then aggregates the partials of its windows' buckets (a join with the small dates
// table), and its population is the entities whose first bucket it sees, exactly as `asof build`.
// count_distinct and stddev do not merge from bucket partials: they join the rows to the dates.

import type { AggKind } from '../../aggregate/kinds.js';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import type { Feature } from '../../spec/project.js';
import { printExpr } from '../sql/expr-printer.js';
import { SPARK_TYPES, sparkDialect, sparkIdent, sparkInstant } from './dialect.js';
import { sparkSourceTable, TS_COLUMN } from './view-sql.js';

const RANGE_JOIN_KINDS: ReadonlySet<AggKind> = new Set(['count_distinct', 'stddev']);

const q = sparkIdent;

/** The feature's bucket partials and its final value from the aggregated partials. */
interface FeatureSql {
  partials: string[];
  /** `raw(agg)` prints `agg FILTER (window)` in the per-date aggregation and returns its column. */
  final: (raw: (agg: string, extra?: string) => string) => string;
}

function bucketFeature(f: Feature, i: number): FeatureSql {
  const v = f.column ? q(`__v${i}`) : undefined;
  const p = q(`__p${i}`);
  const pc = q(`__q${i}`);
  const out = SPARK_TYPES[f.type];
  const nonNull = v === undefined ? '' : ` FILTER (WHERE ${v} IS NOT NULL)`;
  const ts = q(TS_COLUMN);
  switch (f.agg) {
    case 'count':
      return {
        partials: [`count(${v ?? '*'}) AS ${p}`],
        final: (raw) => `CAST(coalesce(${raw(`sum(${p})`)}, 0) AS BIGINT)`,
      };
    case 'exists':
      return {
        partials: [`count(${v ?? '*'}) AS ${p}`],
        final: (raw) => `(coalesce(${raw(`sum(${p})`)}, 0) > 0)`,
      };
    case 'sum':
      return {
        partials: [`sum(${v}) AS ${p}`],
        final: (raw) => `CAST(coalesce(${raw(`sum(${p})`)}, 0) AS ${out})`,
      };
    case 'avg':
      return {
        partials: [`sum(${v}) AS ${p}`, `count(${v}) AS ${pc}`],
        final: (raw) =>
          `CAST(CAST(${raw(`sum(${p})`)} AS DOUBLE) / NULLIF(CAST(${raw(`sum(${pc})`)} AS DOUBLE), 0) AS DOUBLE)`,
      };
    case 'min':
    case 'max':
      return {
        partials: [`${f.agg}(${v}) AS ${p}`],
        final: (raw) => raw(`${f.agg}(${p})`),
      };
    // Buckets are disjoint time intervals in order: the window's latest (earliest) value is the
    // latest (earliest) non-empty bucket's; within a bucket ties go to the greater value, as in build.
    case 'last':
      return {
        partials: [`max_by(${v}, struct(${ts}, ${v}))${nonNull} AS ${p}`],
        final: (raw) => raw(`max_by(${p}, ${q('__b')})`, `${p} IS NOT NULL`),
      };
    case 'first':
      return {
        partials: [`max_by(${v}, struct(- unix_micros(${ts}), ${v}))${nonNull} AS ${p}`],
        final: (raw) => raw(`min_by(${p}, ${q('__b')})`, `${p} IS NOT NULL`),
      };
    // A struct keeps a NULL value apart from an empty bucket (whose partial is NULL).
    case 'as_of':
      return {
        partials: [`max_by(struct(${v} AS v), struct(${ts}, ${v})) AS ${p}`],
        final: (raw) => `(${raw(`max_by(${p}, ${q('__b')})`, `${p} IS NOT NULL`)}).v`,
      };
    case 'days_since_last':
      return {
        partials: [`max(${q('__ld')})${nonNull} AS ${p}`],
        final: (raw) => `CAST(datediff(${q('__ref')}, ${raw(`max(${p})`)}) AS BIGINT)`,
      };
    case 'count_distinct':
    case 'stddev':
      throw new Error(`${f.agg} is computed by a range join`);
  }
}

/**
 * The chunk's rows: keys, as_of_date, then the features (the columns and types `asof build`
 * writes), every date of the chunk, ordered by date and keys.
 */
export function sparkBackfillChunkSql(plan: BackfillChunkPlan): string {
  const { view, timezone } = plan;
  const ctx = { timezone };
  const keys = view.keys.map(q);
  const keyList = keys.join(', ');
  const ts = q(TS_COLUMN);
  const features = view.features;
  const rangeJoin = features.map((f) => RANGE_JOIN_KINDS.has(f.agg));

  // The dates: bucket, as_of_date, reference date (days_since_last), lowest bucket any partial
  // window needs and each feature's span (NULL for `all`).
  const lowest = (idx: number[]) => (a: (typeof plan.anchors)[number]) =>
    idx.some((i) => a.spans[i] === null || a.spans[i] === undefined)
      ? 'CAST(NULL AS BIGINT)'
      : `CAST(${idx.length === 0 ? a.bucket : a.bucket - Math.max(...idx.map((i) => a.spans[i] ?? 0))} AS BIGINT)`;
  const partialIdx = features.flatMap((_, i) => (rangeJoin[i] ? [] : [i]));
  const joinIdx = features.flatMap((_, i) => (rangeJoin[i] ? [i] : []));
  const spanCols = features.map((_, i) => q(`__s${i}`));
  const anchorRows = plan.anchors.map((a) =>
    [
      `CAST(${a.bucket} AS BIGINT)`,
      `DATE '${a.asOfDate}'`,
      `DATE '${a.build.referenceDate}'`,
      lowest(partialIdx)(a),
      lowest(joinIdx)(a),
      ...a.spans.map((s) => (s === null ? 'CAST(NULL AS BIGINT)' : `CAST(${s} AS BIGINT)`)),
    ].join(', '),
  );
  const anchorCols = ['__ab', 'as_of_date', '__ref', '__lo', '__rlo', ...features.map((_, i) => `__s${i}`)];
  const anchors = `SELECT * FROM VALUES ${anchorRows.map((r) => `(${r})`).join(', ')} AS ${q('__a')}(${anchorCols.map(q).join(', ')})`;

  // An event's bucket is the number of boundaries at or before it.
  const bucket = `CASE ${plan.boundaries.map((t, i) => `WHEN ${ts} < ${sparkInstant(t)} THEN ${i}`).join(' ')} ELSE ${plan.boundaries.length} END`;
  const conditions = [`${ts} < ${sparkInstant(plan.maxCutoff)}`];
  if (view.where) conditions.push(`coalesce(${printExpr(view.where, sparkDialect, ctx)}, FALSE)`);
  // Values pinned to the contract type, as the per-date build does.
  const valueCols = features.flatMap((f, i) => {
    if (!f.column) return [];
    const printed = printExpr(f.column, sparkDialect, ctx);
    const value = f.inputType ? `CAST(${printed} AS ${SPARK_TYPES[f.inputType]})` : printed;
    return [`${value} AS ${q(`__v${i}`)}`];
  });
  const localDate = features.some((f) => f.agg === 'days_since_last')
    ? `, ${sparkDialect.localDate(ts, timezone)} AS ${q('__ld')}`
    : '';
  const rows = `SELECT ${keyList}, ${ts}${localDate}${valueCols.map((c) => `, ${c}`).join('')}, CAST(${bucket} AS BIGINT) AS ${q('__b')} FROM ${sparkSourceTable(view.source)} WHERE ${conditions.join(' AND ')}`;

  const bucketed = features.map((f, i) => (rangeJoin[i] ? undefined : bucketFeature(f, i)));
  const partials = bucketed.flatMap((b) => b?.partials ?? []);
  const ctes = [
    `${q('__anchors')} AS (${anchors})`,
    `${q('__rows')} AS (${rows})`,
    `${q('__eb')} AS (SELECT ${keyList}, ${q('__b')}${partials.map((p) => `, ${p}`).join('')} FROM ${q('__rows')} GROUP BY ${keyList}, ${q('__b')})`,
    // Population: an entity is on every date from its first bucket with a visible row.
    `${q('__ent')} AS (SELECT ${keyList}, min(${q('__b')}) AS ${q('__fb')} FROM ${q('__eb')} GROUP BY ${keyList})`,
    `${q('__pop')} AS (SELECT ${keys.map((k) => `${q('__n')}.${k}`).join(', ')}, ${q('__a')}.${q('as_of_date')}, ${q('__a')}.${q('__ref')} FROM ${q('__ent')} ${q('__n')} JOIN ${q('__anchors')} ${q('__a')} ON ${q('__n')}.${q('__fb')} <= ${q('__a')}.${q('__ab')})`,
  ];

  // Per date: the partials of the buckets of its widest window, each feature FILTERed to its own.
  const raws: string[] = [];
  const inSpan = (i: number) =>
    `(${q('__a')}.${spanCols[i]} IS NULL OR ${q('__x')}.${q('__b')} >= ${q('__a')}.${q('__ab')} - ${q('__a')}.${spanCols[i]})`;
  const finals = features.map((f, i) => {
    const b = bucketed[i];
    if (!b) {
      const r = `${q(`__rj`)}.${q(`__r${i}`)}`;
      return f.agg === 'count_distinct' ? `coalesce(${r}, CAST(0 AS BIGINT))` : r;
    }
    return b.final((agg, extra) => {
      const name = q(`__g${raws.length}`);
      const cond = [inSpan(i), ...(extra ? [extra] : [])].join(' AND ');
      raws.push(`${agg} FILTER (WHERE ${cond}) AS ${name}`);
      return `${q('__g')}.${name}`;
    });
  });
  const joinOn = (lo: string) =>
    `${q('__x')}.${q('__b')} <= ${q('__a')}.${q('__ab')} AND (${q('__a')}.${q(lo)} IS NULL OR ${q('__x')}.${q('__b')} >= ${q('__a')}.${q(lo)})`;
  const groupKeys = `${keys.map((k) => `${q('__x')}.${k}`).join(', ')}, ${q('__a')}.${q('as_of_date')}`;
  const joins: string[] = [];
  if (raws.length > 0) {
    ctes.push(
      `${q('__g')} AS (SELECT ${groupKeys}, ${raws.join(', ')} FROM ${q('__eb')} ${q('__x')} JOIN ${q('__anchors')} ${q('__a')} ON ${joinOn('__lo')} GROUP BY ${groupKeys})`,
    );
    joins.push(`LEFT JOIN ${q('__g')} USING (${keyList}, ${q('as_of_date')})`);
  }
  if (joinIdx.length > 0) {
    const aggs = joinIdx.map((i) => {
      const v = `${q('__x')}.${q(`__v${i}`)}`;
      const agg =
        features[i]?.agg === 'count_distinct'
          ? `count(DISTINCT ${v}) FILTER (WHERE ${inSpan(i)})`
          : `stddev_samp(${v}) FILTER (WHERE ${inSpan(i)})`;
      return `${agg} AS ${q(`__r${i}`)}`;
    });
    ctes.push(
      `${q('__rj')} AS (SELECT ${groupKeys}, ${aggs.join(', ')} FROM ${q('__rows')} ${q('__x')} JOIN ${q('__anchors')} ${q('__a')} ON ${joinOn('__rlo')} GROUP BY ${groupKeys})`,
    );
    joins.push(`LEFT JOIN ${q('__rj')} USING (${keyList}, ${q('as_of_date')})`);
  }
  const select = features.map((f, i) => `${finals[i]} AS ${q(f.name)}`);
  return [
    `WITH ${ctes.join(',\n')}`,
    `SELECT ${keys.map((k) => `${q('__pop')}.${k}`).join(', ')}, ${q('__pop')}.${q('as_of_date')}, ${select.join(', ')}`,
    `FROM ${q('__pop')} ${joins.join(' ')}`,
  ].join('\n');
}
