// Prints a model's SQL for one warehouse: ref('layer.name') becomes the quoted relation,
// json_text(doc, 'key') the engine's JSON field access (DuckDB/PostgreSQL ->>, Spark
// get_json_object), and an incremental model's :as_of_date, :start and :end literals of its date.
// Also the SQL of the model tests (not_null, unique, accepted_values, custom).

import type { WarehouseDialect } from '../engines/warehouse.js';
import { AsofError } from '../errors.js';
import { addDays, type IsoDate, startOfLocalDay } from '../time/index.js';
import type { Model } from './graph.js';
import { type ModelTest, REF_PATTERN } from './model-file.js';

const PARAM = /(?<![:\w]):(as_of_date|start|end)\b/g;

export function qualified(d: WarehouseDialect, name: string): string {
  const [schema = '', relation = ''] = name.split('.');
  return `${d.quoteIdent(schema)}.${d.quoteIdent(relation)}`;
}

/** json_text(<column or qualified column>, '<top-level key>'): the one JSON access no SQL standard spells. */
const JSON_TEXT =
  /\bjson_text\(\s*((?:[A-Za-z_][\w$]*|"[^"]+"|`[^`]+`)(?:\.(?:[A-Za-z_][\w$]*|"[^"]+"|`[^`]+`))*)\s*,\s*'((?:[^']|'')*)'\s*\)/g;

function replaceRefs(sql: string, d: WarehouseDialect): string {
  return sql
    .replace(REF_PATTERN, (_m, name: string) => qualified(d, name))
    .replace(JSON_TEXT, (_m, json: string, key: string) => d.jsonText(json, key.replaceAll("''", "'")));
}

/** The partition parameters: the date, and its local day as [start, end) instants. */
export function partitionParams(
  d: WarehouseDialect,
  date: IsoDate,
  timezone: string,
): Record<string, string> {
  return {
    as_of_date: d.dateLiteral(date),
    start: d.instantLiteral(startOfLocalDay(date, timezone)),
    end: d.instantLiteral(startOfLocalDay(addDays(date, 1), timezone)),
  };
}

/** The model's SELECT for the warehouse; `params` for one partition of an incremental model. */
export function renderModelSql(m: Model, d: WarehouseDialect, params?: Record<string, string>): string {
  const lineOf = (index: number) => m.text.slice(0, index).split('\n').length;
  const sql = m.text.replace(PARAM, (match, p: string, index: number) => {
    const v = params?.[p];
    if (v === undefined) {
      throw new AsofError(
        'spec',
        `${match} is only for incremental models (one partition per date)`,
        { file: m.file, line: lineOf(index) },
        'add "-- materialization: incremental" and "-- date_column: ..." to the header',
      );
    }
    return v;
  });
  return replaceRefs(sql, d).replace(/;\s*$/, '');
}

/** The SQL of the model's text with placeholders for parsing only (same lines, same columns-ish). */
export function parseableSql(m: Model, d: WarehouseDialect): string {
  return replaceRefs(m.text.replace(PARAM, "DATE '2000-01-01'"), d);
}

export interface TestQuery {
  name: string;
  /** Returns one row, one column: the number of failing rows. */
  sql: string;
}

export function testQueries(m: Model, d: WarehouseDialect): TestQuery[] {
  const t = qualified(d, m.name);
  const q = d.quoteIdent;
  // biome-ignore lint/suspicious/useIterableCallbackReturn: the switch is exhaustive over ModelTest
  return m.tests.map((test: ModelTest): TestQuery => {
    switch (test.kind) {
      case 'not_null':
        return {
          name: `not_null(${test.columns.join(', ')})`,
          sql: `SELECT count(*) FROM ${t} WHERE ${test.columns.map((c) => `${q(c)} IS NULL`).join(' OR ')}`,
        };
      case 'unique': {
        const cols = test.columns.map(q).join(', ');
        return {
          name: `unique(${test.columns.join(', ')})`,
          sql: `SELECT count(*) FROM (SELECT ${cols} FROM ${t} GROUP BY ${cols} HAVING count(*) > 1) dup`,
        };
      }
      case 'accepted_values': {
        const values = test.values.map((v) =>
          typeof v === 'string'
            ? d.stringLiteral(v)
            : typeof v === 'boolean'
              ? v
                ? 'TRUE'
                : 'FALSE'
              : String(v),
        );
        return {
          name: `accepted_values(${test.column})`,
          sql: `SELECT count(*) FROM ${t} WHERE ${q(test.column)} IS NOT NULL AND ${q(test.column)} NOT IN (${values.join(', ')})`,
        };
      }
      case 'sql':
        return {
          name: test.name,
          sql: `SELECT count(*) FROM (${replaceRefs(test.sql, d).replace(/;\s*$/, '')}) failing`,
        };
    }
  });
}
