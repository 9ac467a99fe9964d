// The SQL behind quality checks on DuckDB: counts over a materialized result table or a loaded
// source table. What the numbers mean (thresholds, verdicts) is pipeline/quality.ts's business.

import type { DuckDBConnection } from '@duckdb/node-api';
import type { Measurement, MeasureRequest } from '../measure.js';
import { instantLiteral, quoteIdent, stringLiteral } from './types.js';
import { sourceTable, TS_COLUMN } from './view-sql.js';

async function all(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

function plain(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v,
    ]),
  );
}

const num = (v: unknown) => Number(v ?? 0);

export async function measure(conn: DuckDBConnection, req: MeasureRequest): Promise<Measurement> {
  const none = { value: null, examples: [] };
  switch (req.kind) {
    case 'nulls': {
      const [r] = await all(
        conn,
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${quoteIdent(req.column)} IS NULL) AS n FROM ${quoteIdent(req.result)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
    case 'out_of_range': {
      const c = quoteIdent(req.column);
      const outside = [
        ...(req.min === undefined ? [] : [`${c} < ${req.min}`]),
        ...(req.max === undefined ? [] : [`${c} > ${req.max}`]),
      ];
      const cond = outside.length > 0 ? `(${outside.join(' OR ')})` : 'FALSE';
      const t = quoteIdent(req.result);
      const [r] = await all(conn, `SELECT count(*) AS total, count(*) FILTER (WHERE ${cond}) AS n FROM ${t}`);
      const examples = await all(
        conn,
        `SELECT ${[...req.keys, req.column].map(quoteIdent).join(', ')} FROM ${t} WHERE ${cond}
         ORDER BY ${c} DESC, ${req.keys.map(quoteIdent).join(', ')} LIMIT ${req.examples}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(plain) };
    }
    case 'duplicate_keys': {
      const keys = [...req.keys, 'as_of_date'].map(quoteIdent).join(', ');
      const t = quoteIdent(req.result);
      const dups = `SELECT ${keys}, count(*) AS copies FROM ${t} GROUP BY ${keys} HAVING count(*) > 1`;
      const [r] = await all(
        conn,
        `SELECT (SELECT count(*) FROM ${t}) AS total, (SELECT count(*) FROM (${dups})) AS n`,
      );
      const examples = await all(conn, `${dups} ORDER BY ${keys} LIMIT ${req.examples}`);
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(plain) };
    }
    case 'psi': {
      // Bins are the previous partition's quantiles; an empty bin counts as 0.0001 so that the
      // logarithm stays finite (the usual PSI convention).
      const c = quoteIdent(req.column);
      const qs = Array.from({ length: req.bins - 1 }, (_, i) => ((i + 1) / req.bins).toFixed(6));
      const [r] = await all(
        conn,
        `WITH prev AS (SELECT ${c}::DOUBLE AS v FROM read_parquet(${stringLiteral(req.previousFile)}) WHERE ${c} IS NOT NULL),
              cur AS (SELECT ${c}::DOUBLE AS v FROM ${quoteIdent(req.result)} WHERE ${c} IS NOT NULL),
              edges AS (SELECT quantile_cont(v, [${qs.join(', ')}]) AS q FROM prev),
              binned AS (
                SELECT 'prev' AS side, len(list_filter(q, e -> e < v)) AS bin FROM prev, edges
                UNION ALL SELECT 'cur', len(list_filter(q, e -> e < v)) FROM cur, edges),
              bins AS (SELECT range AS bin FROM range(${req.bins})),
              shares AS (
                SELECT bin,
                  greatest(count(*) FILTER (WHERE side = 'prev') / greatest((SELECT count(*) FROM prev), 1), 0.0001) AS p,
                  greatest(count(*) FILTER (WHERE side = 'cur') / greatest((SELECT count(*) FROM cur), 1), 0.0001) AS q
                FROM bins LEFT JOIN binned USING (bin) GROUP BY bin)
         SELECT sum((q - p) * ln(q / p)) AS psi, (SELECT count(*) FROM cur) AS total,
                (SELECT count(*) FROM prev) AS n FROM shares`,
      );
      return { count: num(r?.n), total: num(r?.total), value: Number(r?.psi ?? 0), examples: [] };
    }
    case 'latest_event': {
      const [r] = await all(
        conn,
        `SELECT epoch_ms(max(${quoteIdent(TS_COLUMN)})) AS latest, count(*) AS total FROM ${sourceTable(req.source)}
         WHERE ${quoteIdent(TS_COLUMN)} < ${instantLiteral(req.before)}`,
      );
      const latest = r?.latest === null || r?.latest === undefined ? null : Number(r.latest);
      return { count: 0, total: num(r?.total), value: latest, examples: [] };
    }
    case 'late_events': {
      const ts = quoteIdent(TS_COLUMN);
      const ing = quoteIdent(req.ingestedAt);
      const late = Number.isFinite(req.deadline) ? `${ing} > ${instantLiteral(req.deadline)}` : 'FALSE';
      const [r] = await all(
        conn,
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${late}) AS n FROM ${sourceTable(req.source)}
         WHERE ${ts} >= ${instantLiteral(req.from)} AND ${ts} < ${instantLiteral(req.to)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
  }
}
