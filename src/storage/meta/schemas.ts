// Schema history: each distinct file schema a source has shown, with when and where it was
// first seen, one JSON line each under <offline>/_meta/schemas.jsonl (append-only).

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { contentHash } from '../../spec/hash.js';

export interface SchemaRecord {
  source: string;
  /** Hash of the column names and types, in file order. */
  schema_id: string;
  columns: { name: string; type: string }[];
  first_seen_at: string;
  first_file: string;
  run_id: string;
  /** Columns the contract does not name (ignored until it does). */
  new_columns: string[];
}

export function schemasFile(offline: string): string {
  return path.join(offline, '_meta', 'schemas.jsonl');
}

export function readSchemas(offline: string): SchemaRecord[] {
  let text: string;
  try {
    text = readFileSync(schemasFile(offline), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SchemaRecord);
}

export function schemaId(columns: { name: string; type: string }[]): string {
  return contentHash(columns.map((c) => [c.name, c.type]));
}

/** Appends the schemas not seen before for their source; returns the ones appended. */
export function recordSchemas(offline: string, seen: Omit<SchemaRecord, 'schema_id'>[]): SchemaRecord[] {
  const known = new Set(readSchemas(offline).map((r) => `${r.source}/${r.schema_id}`));
  const added: SchemaRecord[] = [];
  for (const s of seen) {
    const rec = { ...s, schema_id: schemaId(s.columns) };
    const key = `${rec.source}/${rec.schema_id}`;
    if (known.has(key)) continue;
    known.add(key);
    added.push(rec);
  }
  if (added.length > 0) {
    mkdirSync(path.dirname(schemasFile(offline)), { recursive: true });
    appendFileSync(schemasFile(offline), added.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
  return added;
}
