// The SQL behind quality checks, printed once for every engine: counts over a materialized result
// or a loaded source. A QualityDialect spells what differs; what the numbers mean (thresholds,
// verdicts) is pipeline/quality.ts's business.

import type { Measurement, MeasureRequest } from '../measure.js';
import type { SqlDialect } from './expr-printer.js';

export type Row = Record<string, unknown>;

/** What differs between engines in the quality SQL, beside the expression dialect's quoting. */
export interface QualityDialect {
  readonly sql: SqlDialect;
  /** The hidden column of a loaded source holding each row's event instant. */
  readonly eventTimeColumn: string;
  /** An instant (epoch ms) as a timestamp literal. */
  instant(ms: number): string;
  /** The table a loaded source is read from. */
  sourceTable(source: string): string;
  /** A Parquet file read as a relation. */
  parquetFile(path: string): string;
  /** The quantiles `qs` (printed fractions, maybe none) of `v` by linear interpolation, as an array of doubles. */
  quantiles(v: string, qs: readonly string[]): string;
  /** How many elements of the array `edges` are below `v`. */
  countBelow(edges: string, v: string): string;
  /** A query with one column `bin`: the integers 0 .. n - 1. */
  binNumbers(n: number): string;
  /** Epoch milliseconds of a timestamp. */
  epochMillis(ts: string): string;
  /** An example row as printable values (the driver's instants and big integers). */
  printable(row: Row): Row;
}

/** Runs one query and returns its rows as objects. */
export type QueryRows = (sql: string) => Promise<Row[]>;

const num = (v: unknown) => Number(v ?? 0);

export async function measure(
  d: QualityDialect,
  query: QueryRows,
  req: MeasureRequest,
): Promise<Measurement> {
  const q = (name: string) => d.sql.quoteIdent(name);
  const none = { value: null, examples: [] };
  const one = async (sql: string) => (await query(sql))[0];
  // Explicit, so that every engine orders NULLs the same way (DuckDB's default; Spark's differs).
  const ascending = (names: readonly string[]) => names.map((k) => `${q(k)} ASC NULLS LAST`).join(', ');
  switch (req.kind) {
    case 'nulls': {
      const r = await one(
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${q(req.column)} IS NULL) AS n FROM ${q(req.result)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
    case 'out_of_range': {
      const c = q(req.column);
      const outside = [
        ...(req.min === undefined ? [] : [`${c} < ${req.min}`]),
        ...(req.max === undefined ? [] : [`${c} > ${req.max}`]),
      ];
      const cond = outside.length > 0 ? `(${outside.join(' OR ')})` : 'FALSE';
      const t = q(req.result);
      const r = await one(`SELECT count(*) AS total, count(*) FILTER (WHERE ${cond}) AS n FROM ${t}`);
      const examples = await query(
        `SELECT ${[...req.keys, req.column].map(q).join(', ')} FROM ${t} WHERE ${cond}
         ORDER BY ${c} DESC NULLS LAST, ${ascending(req.keys)} LIMIT ${req.examples}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(d.printable) };
    }
    case 'duplicate_keys': {
      const keyNames = [...req.keys, 'as_of_date'];
      const keys = keyNames.map(q).join(', ');
      const t = q(req.result);
      const dups = `SELECT ${keys}, count(*) AS copies FROM ${t} GROUP BY ${keys} HAVING count(*) > 1`;
      const r = await one(
        `SELECT (SELECT count(*) FROM ${t}) AS total, (SELECT count(*) FROM (${dups}) d) AS n`,
      );
      const examples = await query(`${dups} ORDER BY ${ascending(keyNames)} LIMIT ${req.examples}`);
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(d.printable) };
    }
    case 'psi': {
      // Bins are the previous partition's quantiles (linear interpolation on every engine); an
      // empty bin counts as 0.0001 so that the logarithm stays finite (the usual PSI convention).
      const c = q(req.column);
      const qs = Array.from({ length: req.bins - 1 }, (_, i) => ((i + 1) / req.bins).toFixed(6));
      const r = await one(
        `WITH prev AS (SELECT CAST(${c} AS DOUBLE) AS v FROM ${d.parquetFile(req.previousFile)} WHERE ${c} IS NOT NULL),
              cur AS (SELECT CAST(${c} AS DOUBLE) AS v FROM ${q(req.result)} WHERE ${c} IS NOT NULL),
              edges AS (SELECT ${d.quantiles('v', qs)} AS q FROM prev),
              binned AS (
                SELECT 'prev' AS side, ${d.countBelow('q', 'v')} AS bin FROM prev CROSS JOIN edges
                UNION ALL SELECT 'cur', ${d.countBelow('q', 'v')} FROM cur CROSS JOIN edges),
              bins AS (${d.binNumbers(req.bins)}),
              counts AS (SELECT (SELECT count(*) FROM prev) AS np, (SELECT count(*) FROM cur) AS nc),
              shares AS (
                SELECT b.bin,
                  greatest(count(*) FILTER (WHERE side = 'prev') / greatest(max(np), 1), 0.0001) AS p,
                  greatest(count(*) FILTER (WHERE side = 'cur') / greatest(max(nc), 1), 0.0001) AS q
                FROM bins b LEFT JOIN binned x ON x.bin = b.bin CROSS JOIN counts GROUP BY b.bin)
         SELECT sum((q - p) * ln(q / p)) AS psi, (SELECT nc FROM counts) AS total,
                (SELECT np FROM counts) AS n FROM shares`,
      );
      return { count: num(r?.n), total: num(r?.total), value: Number(r?.psi ?? 0), examples: [] };
    }
    case 'latest_event': {
      const ts = q(d.eventTimeColumn);
      const r = await one(
        `SELECT ${d.epochMillis(`max(${ts})`)} AS latest, count(*) AS total FROM ${d.sourceTable(req.source)}
         WHERE ${ts} < ${d.instant(req.before)}`,
      );
      const latest = r?.latest === null || r?.latest === undefined ? null : Number(r.latest);
      return { count: 0, total: num(r?.total), value: latest, examples: [] };
    }
    case 'late_events': {
      const ts = q(d.eventTimeColumn);
      const ing = q(req.ingestedAt);
      const late = Number.isFinite(req.deadline) ? `${ing} > ${d.instant(req.deadline)}` : 'FALSE';
      const r = await one(
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${late}) AS n FROM ${d.sourceTable(req.source)}
         WHERE ${ts} >= ${d.instant(req.from)} AND ${ts} < ${d.instant(req.to)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
  }
}
