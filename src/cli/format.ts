// Prints query results as csv (a header, booleans true/false, NULL empty), json (one array of
// objects) or an aligned table; dates as YYYY-MM-DD, instants as ISO-8601 UTC.

import type { QueryResult } from '../engines/engine.js';

export type OutputFormat = 'csv' | 'json' | 'table';

function cellValue(v: unknown, type: string): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return type === 'DATE' ? v.toISOString().slice(0, 10) : v.toISOString();
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function formatResult(r: QueryResult, format: OutputFormat): string {
  const rows = r.rows.map((row) => row.map((v, i) => cellValue(v, r.columns[i]?.type ?? '')));
  const names = r.columns.map((c) => c.name);
  if (format === 'json') {
    return `${JSON.stringify(
      rows.map((row) => Object.fromEntries(row.map((v, i) => [names[i], v]))),
      null,
      2,
    )}\n`;
  }
  if (format === 'csv') {
    return [names.map(csvField).join(','), ...rows.map((row) => row.map(csvField).join(','))]
      .map((l) => `${l}\n`)
      .join('');
  }
  const text = [names, ...rows.map((row) => row.map((v) => (v === null ? 'NULL' : String(v))))];
  const widths = names.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(text[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...text.slice(1).map(line),
    `(${rows.length} rows)`,
  ]
    .map((l) => `${l}\n`)
    .join('');
}
