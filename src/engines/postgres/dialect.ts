// PostgreSQL's side of the warehouse dialect: literals, JSONB for whole documents, types mapped from
// DuckDB's (files are read by an in-process DuckDB, then inserted), and result type names.

import type { WarehouseDialect } from '../warehouse.js';

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function stringLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

export const postgresDialect: WarehouseDialect = {
  quoteIdent,
  stringLiteral,
  dateLiteral: (d) => `DATE '${d}'`,
  instantLiteral: (ms) => `TIMESTAMPTZ '${new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00')}'`,
  jsonType: 'JSONB',
  jsonText: (json, key) => `(${json} ->> ${stringLiteral(key)})`,
  // PostgreSQL refuses to drop a relation a view reads; the views downstream are rebuilt after it.
  dropRelation: (kind, q) => `DROP ${kind === 'view' ? 'VIEW' : 'TABLE'} IF EXISTS ${q} CASCADE`,
};

/** The PostgreSQL column type for a column DuckDB staged; undefined means "send as text". */
export function postgresType(duckdbType: string): string | undefined {
  switch (duckdbType) {
    case 'VARCHAR':
      return 'TEXT';
    case 'BIGINT':
    case 'INTEGER':
    case 'SMALLINT':
    case 'BOOLEAN':
    case 'DATE':
      return duckdbType;
    case 'DOUBLE':
    case 'FLOAT':
      return 'DOUBLE PRECISION';
    case 'TIMESTAMP WITH TIME ZONE':
      return 'TIMESTAMPTZ';
    case 'TIMESTAMP':
      return 'TIMESTAMP';
    case 'JSON':
      return 'JSONB';
    default:
      return undefined;
  }
}

/** Result type names like DuckDB's, so that the same printer formats both warehouses alike. */
export const RESULT_TYPE_NAMES: Record<number, string> = {
  16: 'BOOLEAN',
  20: 'BIGINT',
  21: 'SMALLINT',
  23: 'INTEGER',
  25: 'VARCHAR',
  114: 'JSON',
  700: 'FLOAT',
  701: 'DOUBLE',
  1043: 'VARCHAR',
  1082: 'DATE',
  1114: 'TIMESTAMP',
  1184: 'TIMESTAMP WITH TIME ZONE',
  1700: 'DECIMAL',
  3802: 'JSON',
};
