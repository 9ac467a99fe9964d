// DuckDB's physical type for each contract type. Timestamps are instants (TIMESTAMPTZ, session in UTC).

import type { ColumnType } from '../../types.js';

export function duckdbType(t: ColumnType): string {
  switch (t) {
    case 'string':
      return 'VARCHAR';
    case 'int':
      return 'BIGINT';
    case 'double':
      return 'DOUBLE';
    case 'bool':
      return 'BOOLEAN';
    case 'timestamp':
      return 'TIMESTAMPTZ';
    case 'date':
      return 'DATE';
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function stringLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** An instant (epoch ms) as a TIMESTAMPTZ literal. */
export function instantLiteral(ms: number): string {
  return `TIMESTAMPTZ '${new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00')}'`;
}

export function dateLiteral(d: string): string {
  return `DATE '${d}'`;
}
