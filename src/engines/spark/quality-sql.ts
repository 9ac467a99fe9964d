// The SQL behind quality checks on Spark, the same counts as duckdb/quality-sql.ts over a
// materialized result (a temp view) or a loaded source; pipeline/quality.ts judges them.

import type { Measurement, MeasureRequest } from '../measure.js';
import { sparkIdent, sparkInstant } from './dialect.js';
import { sparkSourceTable, TS_COLUMN } from './view-sql.js';

export interface SparkQuery {
  queryObjects(sql: string): Promise<Record<string, unknown>[]>;
}

const num = (v: unknown) => Number(v ?? 0);

/** Spark answers instants as UTC wall time without a zone: written as DuckDB's ISO instants. */
function plain(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/.test(v)
        ? new Date(`${v}Z`).toISOString()
        : v,
    ]),
  );
}

export async function sparkMeasure(q: SparkQuery, req: MeasureRequest): Promise<Measurement> {
  const none = { value: null, examples: [] };
  const one = async (sql: string) => (await q.queryObjects(sql))[0];
  switch (req.kind) {
    case 'nulls': {
      const r = await one(
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${sparkIdent(req.column)} IS NULL) AS n FROM ${sparkIdent(req.result)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
    case 'out_of_range': {
      const c = sparkIdent(req.column);
      const outside = [
        ...(req.min === undefined ? [] : [`${c} < ${req.min}`]),
        ...(req.max === undefined ? [] : [`${c} > ${req.max}`]),
      ];
      const cond = outside.length > 0 ? `(${outside.join(' OR ')})` : 'FALSE';
      const t = sparkIdent(req.result);
      const r = await one(`SELECT count(*) AS total, count(*) FILTER (WHERE ${cond}) AS n FROM ${t}`);
      const examples = await q.queryObjects(
        `SELECT ${[...req.keys, req.column].map(sparkIdent).join(', ')} FROM ${t} WHERE ${cond}
         ORDER BY ${c} DESC NULLS LAST, ${req.keys.map((k) => `${sparkIdent(k)} ASC NULLS LAST`).join(', ')} LIMIT ${req.examples}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(plain) };
    }
    case 'duplicate_keys': {
      const keys = [...req.keys, 'as_of_date'].map(sparkIdent).join(', ');
      const t = sparkIdent(req.result);
      const dups = `SELECT ${keys}, count(*) AS copies FROM ${t} GROUP BY ${keys} HAVING count(*) > 1`;
      const r = await one(
        `SELECT (SELECT count(*) FROM ${t}) AS total, (SELECT count(*) FROM (${dups}) d) AS n`,
      );
      const order = [...req.keys, 'as_of_date'].map((k) => `${sparkIdent(k)} ASC NULLS LAST`).join(', ');
      const examples = await q.queryObjects(`${dups} ORDER BY ${order} LIMIT ${req.examples}`);
      return { ...none, count: num(r?.n), total: num(r?.total), examples: examples.map(plain) };
    }
    case 'psi': {
      // As on DuckDB: bins at the previous partition's quantiles (linear interpolation, which is
      // what both percentile and quantile_cont compute); an empty bin counts as 0.0001.
      const c = sparkIdent(req.column);
      const qs = Array.from({ length: req.bins - 1 }, (_, i) => ((i + 1) / req.bins).toFixed(6));
      const r = await one(
        `WITH prev AS (SELECT CAST(${c} AS DOUBLE) AS v FROM parquet.${sparkIdent(req.previousFile)} WHERE ${c} IS NOT NULL),
              cur AS (SELECT CAST(${c} AS DOUBLE) AS v FROM ${sparkIdent(req.result)} WHERE ${c} IS NOT NULL),
              edges AS (SELECT ${qs.length > 0 ? `percentile(v, array(${qs.join(', ')}))` : 'CAST(array() AS ARRAY<DOUBLE>)'} AS q FROM prev),
              binned AS (
                SELECT 'prev' AS side, size(filter(q, e -> e < v)) AS bin FROM prev CROSS JOIN edges
                UNION ALL SELECT 'cur', size(filter(q, e -> e < v)) FROM cur CROSS JOIN edges),
              bins AS (SELECT CAST(id AS INT) AS bin FROM range(${req.bins})),
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
      const ts = sparkIdent(TS_COLUMN);
      const r = await one(
        `SELECT unix_millis(max(${ts})) AS latest, count(*) AS total FROM ${sparkSourceTable(req.source)}
         WHERE ${ts} < ${sparkInstant(req.before)}`,
      );
      const latest = r?.latest === null || r?.latest === undefined ? null : Number(r.latest);
      return { count: 0, total: num(r?.total), value: latest, examples: [] };
    }
    case 'late_events': {
      const ts = sparkIdent(TS_COLUMN);
      const ing = sparkIdent(req.ingestedAt);
      const late = Number.isFinite(req.deadline) ? `${ing} > ${sparkInstant(req.deadline)}` : 'FALSE';
      const r = await one(
        `SELECT count(*) AS total, count(*) FILTER (WHERE ${late}) AS n FROM ${sparkSourceTable(req.source)}
         WHERE ${ts} >= ${sparkInstant(req.from)} AND ${ts} < ${sparkInstant(req.to)}`,
      );
      return { ...none, count: num(r?.n), total: num(r?.total) };
    }
  }
}
