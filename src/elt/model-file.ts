// One model file: its header (leading `--` comment lines holding YAML: materialization, date
// column, description, tests), its ref('layer.name') dependencies, and its SQL normalized for hashing.

import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { AsofError } from '../errors.js';

const ident = /^[A-Za-z_][A-Za-z0-9_]*$/;
const columns = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const testSchema = z.union([
  z.strictObject({ not_null: columns }),
  z.strictObject({ unique: columns }),
  z.strictObject({
    accepted_values: z.strictObject({
      column: z.string().min(1),
      values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1),
    }),
  }),
  /** Custom SQL returning the failing rows; ref('...') works inside, including the model itself. */
  z.strictObject({ sql: z.string().min(1), name: z.string().optional() }),
]);

const headerSchema = z.strictObject({
  name: z.string().optional(),
  materialization: z.enum(['view', 'table', 'incremental']).default('view'),
  date_column: z.string().optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
  /** Incremental models: also write each built date to the lake as a partition, swapped in atomically. */
  export: z.boolean().default(false),
  tests: z.array(testSchema).default([]),
});

export type Materialization = 'view' | 'table' | 'incremental';

export type ModelTest =
  | { kind: 'not_null'; columns: string[] }
  | { kind: 'unique'; columns: string[] }
  | { kind: 'accepted_values'; column: string; values: (string | number | boolean)[] }
  | { kind: 'sql'; sql: string; name: string };

export interface ModelFile {
  /** layer.name: the schema and the relation in the warehouse. */
  name: string;
  schema: string;
  relation: string;
  file: string;
  materialization: Materialization;
  dateColumn: string | undefined;
  description: string | undefined;
  owner: string | undefined;
  /** Each built partition is also written to the lake (incremental models only); not in the version. */
  export: boolean;
  tests: ModelTest[];
  /** The whole file (header included; the header is SQL comments, so line numbers hold). */
  text: string;
  /** Models named in ref('...'), in order of first use. */
  refs: string[];
  /** First line of each ref, for error messages. */
  refLines: Record<string, number>;
  /** The SQL with comments removed and whitespace collapsed: what the version hashes. */
  normalizedSql: string;
}

export const REF_PATTERN = /\bref\(\s*'([^']*)'\s*\)/g;

/** Parses a model file; `defaultName` is layer.stem from its place under models/. */
export function parseModelFile(text: string, file: string, defaultName: string): ModelFile {
  const lines = text.split('\n');
  const headerLines: string[] = [];
  for (const line of lines) {
    const m = /^\s*--\s?(.*)$/.exec(line);
    if (!m) break;
    headerLines.push(m[1] ?? '');
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(headerLines.join('\n'), { lineCounter });
  const yamlError = doc.errors[0];
  if (yamlError) {
    throw new AsofError('spec', `the model header is not valid YAML: ${yamlError.message.split('\n')[0]}`, {
      file,
      line: lineCounter.linePos(yamlError.pos[0]).line,
    });
  }
  const raw = doc.toJS() ?? {};
  const parsed = headerSchema.safeParse(typeof raw === 'object' ? raw : {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path[0];
    const at = typeof key === 'string' ? headerLines.findIndex((l) => l.startsWith(`${key}:`)) : -1;
    const message =
      issue?.code === 'unrecognized_keys'
        ? `unknown header field(s) ${issue.keys.join(', ')}`
        : `header ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`;
    throw new AsofError(
      'spec',
      message,
      { file, line: at >= 0 ? at + 1 : 1 },
      'header fields: name, materialization (view | table | incremental), date_column, export, description, owner, tests',
    );
  }
  const h = parsed.data;
  const name = h.name ?? defaultName;
  const [schema, relation, extra] = name.split('.');
  if (!schema || !relation || extra !== undefined || !ident.test(schema) || !ident.test(relation)) {
    throw new AsofError(
      'spec',
      `'${name}' is not a model name`,
      { file, line: 1 },
      'name models layer.name, such as refined.clicks',
    );
  }
  if (h.materialization === 'incremental' && !h.date_column) {
    throw new AsofError(
      'spec',
      'an incremental model needs a date_column (one partition per date)',
      { file, line: 1 },
      'add "-- date_column: <a DATE column of the result>"',
    );
  }
  if (h.export && h.materialization !== 'incremental') {
    const at = headerLines.findIndex((l) => l.startsWith('export:'));
    throw new AsofError(
      'spec',
      'export: true is for incremental models (one lake partition per date)',
      { file, line: at >= 0 ? at + 1 : 1 },
      'views read table and view models through a source with model: layer.name',
    );
  }
  const refs: string[] = [];
  const refLines: Record<string, number> = {};
  // The header's custom tests may ref() the model itself: only the body's refs are dependencies.
  lines.forEach((line, i) => {
    if (i < headerLines.length) return;
    for (const m of line.replace(/--.*$/, '').matchAll(REF_PATTERN)) {
      const r = m[1] ?? '';
      if (!refs.includes(r)) {
        refs.push(r);
        refLines[r] = i + 1;
      }
    }
  });
  const tests = h.tests.map((t, i): ModelTest => {
    const list = (c: string | string[]) => (typeof c === 'string' ? [c] : c);
    if ('not_null' in t) return { kind: 'not_null', columns: list(t.not_null) };
    if ('unique' in t) return { kind: 'unique', columns: list(t.unique) };
    if ('accepted_values' in t) return { kind: 'accepted_values', ...t.accepted_values };
    return { kind: 'sql', sql: t.sql, name: t.name ?? `sql_${i + 1}` };
  });
  return {
    name,
    schema,
    relation,
    file,
    materialization: h.materialization,
    dateColumn: h.date_column,
    description: h.description,
    owner: h.owner,
    export: h.export,
    tests,
    text,
    refs,
    refLines,
    normalizedSql: normalizeSql(text),
  };
}

/**
 * Removes comments and collapses whitespace outside quotes, so that reformatting a model or
 * editing its comments (the header included) never changes its version.
 */
export function normalizeSql(sql: string): string {
  let out = '';
  let i = 0;
  let space = false;
  const push = (s: string) => {
    if (space && out.length > 0) out += ' ';
    space = false;
    out += s;
  };
  while (i < sql.length) {
    const c = sql[i] ?? '';
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      space = true;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
      space = true;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      push(sql.slice(i, j + 1));
      i = j + 1;
    } else if (/\s/.test(c)) {
      space = true;
      i++;
    } else {
      push(c);
      i++;
    }
  }
  return out.replace(/\s*;\s*$/, '');
}
