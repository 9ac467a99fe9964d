// Stable content hashes (transformation_version): canonical JSON of what changes rows, nothing else.
// Descriptions, owners, YAML formatting and key order never change a version.

import { createHash } from 'node:crypto';

/**
 * Bumped when asof's own semantics change (a window rule, a null rule), so that every partition
 * built under the old rules is reported as changed.
 */
export const SEMANTICS_VERSION = 1;

/** JSON with object keys sorted at every level, so equal values always print the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}
