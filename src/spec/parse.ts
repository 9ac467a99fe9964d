// Turns a spec (YAML text or a defineProject object) into one validated, normalized Project.
// Every problem becomes an AsofError naming the spec path and, for YAML, the line and column.

import path from 'node:path';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { AGGREGATIONS } from '../aggregate/kinds.js';
import { AsofError } from '../errors.js';
import { canonical } from '../expr/ast.js';
import { ExprSyntaxError, parseExpr } from '../expr/parse.js';
import { ExprTypeError, inferType } from '../expr/types.js';
import { cronProblem } from '../time/cron.js';
import { formatWindow, isValidTimeZone, parseWindow } from '../time/index.js';
import type { Columns } from '../types.js';
import { cdcHistorySource, normalizeCdcSource } from './cdc.js';
import { MODEL_NAME, modelSnapshotPath, normalizeWarehouse } from './elt.js';
import { contentHash, SEMANTICS_VERSION } from './hash.js';
import type { Entity, Feature, Project, QualityCheck, Source, SourceFormat, View } from './project.js';
import { type ProjectParsed, projectSchema } from './schema.js';

type SpecPath = (string | number)[];
/** Maps a spec path to its place in the file, when the spec came from a file with positions. */
type Locate = (p: SpecPath) => { line: number; column: number } | undefined;

interface Origin {
  file: string;
  root: string;
  locate: Locate;
}

function specError(origin: Origin, p: SpecPath, message: string, hint?: string): AsofError {
  const pos = origin.locate(p);
  return new AsofError(
    'spec',
    message,
    { file: origin.file, specPath: p.join('.'), line: pos?.line, column: pos?.column },
    hint,
  );
}

/** Parses asof.yaml text. `file` is used in messages; `root` is the folder relative paths start from. */
export function parseProjectYaml(text: string, file: string, root: string): Project {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new AsofError('spec', `not valid YAML: ${first.message.split('\n')[0]}`, {
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  const locate: Locate = (p) => {
    const offset = yamlOffset(doc, p);
    if (offset === undefined) return undefined;
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col };
  };
  let input: unknown;
  try {
    // an unresolved alias or an alias bomb (more aliases than the limit) throws here
    input = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (e) {
    throw new AsofError('spec', `not valid YAML: ${(e as Error).message.split('\n')[0]}`, { file });
  }
  return normalizeProject(input, { file, root, locate });
}

/** The character offset of the deepest node of `p` that exists (the key when the value is missing). */
function yamlOffset(doc: Document, p: SpecPath): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: number[] } | null)?.range?.[0];
  for (const key of p) {
    if (!isMap(node)) break;
    const pair = node.items.find(
      (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(key),
    );
    if (!pair) break;
    const k = pair.key as { range?: number[] };
    offset = k.range?.[0] ?? offset;
    node = pair.value;
    const v = node as { range?: number[] } | null;
    if (v?.range && !isMap(node)) offset = v.range[0];
  }
  return offset;
}

/** Validates and normalizes a spec object (from YAML or from asof.config.ts). */
export function normalizeProject(input: unknown, origin: Origin): Project {
  const parsed = projectSchema.safeParse(input);
  if (!parsed.success) throw zodToError(parsed.error, origin);
  const spec = parsed.data;
  if (!isValidTimeZone(spec.timezone)) {
    throw specError(
      origin,
      ['timezone'],
      `unknown timezone '${spec.timezone}'`,
      'use an IANA name such as UTC or Europe/Paris',
    );
  }
  const sources = mapValues(spec.sources, (name, s) => normalizeSource(name, s, origin));
  const cdc = spec.cdc
    ? mapValues(spec.cdc, (n, c) => normalizeCdcSource(n, c, (p, m, h) => specError(origin, p, m, h)))
    : undefined;
  // A view may read a CDC source's history by its name, as it reads a source.
  for (const c of Object.values(cdc ?? {})) {
    if (c.name in sources) {
      throw specError(
        origin,
        ['cdc', c.name],
        `'${c.name}' names both a source and a CDC source`,
        'rename one: a view reads either by this name',
      );
    }
    sources[c.name] = cdcHistorySource(c);
  }
  const entities = mapValues(spec.entities, (name, e) => ({
    name,
    keys: typeof e.key === 'string' ? [e.key] : e.key,
    description: e.description,
  }));
  const views = mapValues(spec.views, (name, v) => normalizeView(name, v, spec, sources, entities, origin));
  const cronIssue = spec.schedule === undefined ? undefined : cronProblem(spec.schedule, spec.timezone);
  if (cronIssue) {
    throw specError(
      origin,
      ['schedule'],
      `'${spec.schedule}' is not a cron expression: ${cronIssue}`,
      "five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'",
    );
  }
  return {
    name: spec.project,
    timezone: spec.timezone,
    root: origin.root,
    specFile: origin.file,
    storage: {
      offline: path.resolve(origin.root, spec.storage.offline),
      warehouse: path.resolve(origin.root, spec.storage.warehouse),
    },
    warehouse: normalizeWarehouse(
      spec.warehouse,
      path.resolve(origin.root, spec.storage.warehouse),
      (field, message, hint) => specError(origin, ['warehouse', field], message, hint),
    ),
    sources,
    entities,
    views,
    schedule: spec.schedule,
    notify: spec.notify,
    engine: spec.engine && {
      type: spec.engine.type,
      ...(spec.engine.master !== undefined ? { master: spec.engine.master } : {}),
      ...(spec.engine.conf !== undefined ? { conf: spec.engine.conf } : {}),
      ...(spec.engine.memory_limit !== undefined ? { memoryLimit: spec.engine.memory_limit } : {}),
      ...(spec.engine.threads !== undefined ? { threads: spec.engine.threads } : {}),
    },
    cdc,
    serve: spec.serve
      ? {
          tokens: (spec.serve.tokens ?? []).map((t) => ({
            name: t.name,
            tokenEnv: t.token_env,
            scopes: t.scopes,
          })),
          readRequiresToken: spec.serve.read_requires_token ?? (spec.serve.tokens ?? []).length > 0,
          rateLimit: spec.serve.rate_limit ? { perSecond: spec.serve.rate_limit.per_second } : undefined,
        }
      : undefined,
    online:
      spec.online?.type === 'redis'
        ? {
            type: 'redis',
            url: spec.online.url,
            urlEnv: spec.online.url_env,
            prefix: spec.online.prefix ?? `asof:${spec.project}:`,
          }
        : spec.online,
  };
}

function zodToError(error: z.ZodError, origin: Origin): AsofError {
  const lines = error.issues.map((issue) => {
    const p = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    const pos = origin.locate(p);
    const where = pos ? `line ${pos.line}: ` : '';
    let message = issue.message;
    if (issue.code === 'unrecognized_keys')
      message = `unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    if (issue.code === 'invalid_value' && 'values' in issue) {
      message = `must be one of ${issue.values.map(String).join(', ')}`;
    }
    return `${where}${p.join('.') || '(top level)'}: ${message}`;
  });
  const firstPath = (error.issues[0]?.path ?? []).filter((k): k is string | number => typeof k !== 'symbol');
  const pos = origin.locate(firstPath);
  return new AsofError(
    'spec',
    lines.length === 1 ? (lines[0] ?? '') : `${lines.length} problems in the spec:\n  ${lines.join('\n  ')}`,
    { file: origin.file, line: pos?.line, column: pos?.column },
  );
}

function normalizeSource(name: string, s: ProjectParsed['sources'][string], origin: Origin): Source {
  const at: SpecPath = ['sources', name];
  const columns = s.columns as Columns;
  const known = Object.keys(columns);
  const need = (col: string, field: string) => {
    if (!(col in columns)) {
      throw specError(
        origin,
        [...at, field],
        `column '${col}' is not in the contract of source '${name}'`,
        `declared columns: ${known.join(', ')}`,
      );
    }
  };
  need(s.timestamp, 'timestamp');
  const tsType = columns[s.timestamp];
  if (tsType !== 'timestamp' && tsType !== 'date') {
    throw specError(
      origin,
      [...at, 'timestamp'],
      `the event-time column '${s.timestamp}' must be a timestamp or date, not ${tsType}`,
    );
  }
  const primaryKey =
    s.primary_key === undefined
      ? undefined
      : typeof s.primary_key === 'string'
        ? [s.primary_key]
        : s.primary_key;
  for (const k of primaryKey ?? []) need(k, 'primary_key');
  if (s.ingested_at) {
    need(s.ingested_at, 'ingested_at');
    if (columns[s.ingested_at] !== 'timestamp') {
      throw specError(
        origin,
        [...at, 'ingested_at'],
        `the arrival-time column '${s.ingested_at}' must be a timestamp`,
      );
    }
  }
  const lateness = (text: string, field = 'allowed_lateness') => {
    const w = text.trim() === '0' ? { kind: 'hours' as const, n: 0 } : parseWindow(text);
    if (!w || w.kind === 'all') {
      throw specError(
        origin,
        [...at, field],
        `'${text}' is not a ${field === 'allowed_lateness' ? 'lateness' : 'duration'}`,
        'use Nh (hours), Nd (calendar days) or 0, e.g. 2h',
      );
    }
    return w;
  };
  const files = sourceFiles(name, s, origin);
  return {
    name,
    path: files.path,
    model: files.model,
    format:
      (files.model ? 'parquet' : s.format) ??
      formatFromPath(files.path, () =>
        specError(
          origin,
          [...at, 'path'],
          `cannot tell the format of '${files.path}' from its extension`,
          "add 'format: csv | json | jsonl | parquet'",
        ),
      ),
    timestamp: s.timestamp,
    columns,
    primaryKey,
    ingestedAt: s.ingested_at,
    maxRejectRate: s.max_reject_rate ?? 0,
    allowedLateness: s.allowed_lateness === undefined ? undefined : lateness(s.allowed_lateness),
    maxClockSkew: s.max_clock_skew === undefined ? undefined : lateness(s.max_clock_skew, 'max_clock_skew'),
    description: s.description,
    owner: s.owner,
  };
}

/** A source reads files (`path`) or a model's exported snapshot (`model`, spec/elt.ts): exactly one. */
function sourceFiles(
  name: string,
  s: ProjectParsed['sources'][string],
  origin: Origin,
): { path: string; model: string | undefined } {
  if (s.model !== undefined) {
    if (s.path !== undefined || !MODEL_NAME.test(s.model)) {
      throw specError(
        origin,
        ['sources', name, 'model'],
        s.path !== undefined
          ? `source '${name}' has both 'path' and 'model'`
          : `'${s.model}' is not a model name`,
        'a source reads files (path) or a model (model: layer.name, such as refined.sessions)',
      );
    }
    return { path: modelSnapshotPath(s.model), model: s.model };
  }
  if (s.path === undefined) {
    throw specError(origin, ['sources', name], `source '${name}' needs a 'path' (or a 'model')`);
  }
  return { path: s.path, model: undefined };
}

function formatFromPath(p: string, fail: () => AsofError): SourceFormat {
  const ext = path.extname(p).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw fail();
}

function normalizeView(
  name: string,
  v: ProjectParsed['views'][string],
  spec: ProjectParsed,
  sources: Record<string, Source>,
  entities: Record<string, Entity>,
  origin: Origin,
): View {
  const at: SpecPath = ['views', name];
  const source =
    typeof v.source === 'string'
      ? sources[v.source]
      : Object.values(sources).find((x) => x.model === (v.source as { model: string }).model);
  if (!source) {
    throw specError(
      origin,
      [...at, 'source'],
      typeof v.source === 'string'
        ? `unknown source '${v.source}'`
        : `no source declares model '${v.source.model}'`,
      typeof v.source === 'string'
        ? `sources: ${Object.keys(sources).join(', ') || '(none)'}`
        : `declare it with its contract: sources: { <name>: { model: ${v.source.model}, timestamp: ..., columns: {...} } }`,
    );
  }
  const entity = entities[v.entity];
  if (!entity) {
    throw specError(
      origin,
      [...at, 'entity'],
      `unknown entity '${v.entity}'`,
      `entities: ${Object.keys(entities).join(', ') || '(none)'}`,
    );
  }
  for (const key of entity.keys) {
    if (!(key in source.columns)) {
      throw specError(
        origin,
        [...at, 'entity'],
        `entity '${entity.name}' has key '${key}', which source '${source.name}' does not declare`,
      );
    }
  }
  const where =
    v.where === undefined ? undefined : parseTyped(v.where, source.columns, [...at, 'where'], origin);
  if (where && where.type !== 'bool') {
    throw specError(
      origin,
      [...at, 'where'],
      `'where' must be a condition (true/false), but '${v.where}' is ${where.type}`,
    );
  }
  const features = Object.entries(v.features).map(([fname, f]): Feature => {
    const fat = [...at, 'features', fname];
    const info = AGGREGATIONS[f.agg];
    const windowText = f.window ?? (f.agg === 'as_of' ? 'all' : undefined);
    if (windowText === undefined) {
      throw specError(origin, fat, `aggregation '${f.agg}' needs a 'window'`, 'e.g. window: 7d (or all)');
    }
    const window = parseWindow(windowText);
    if (!window) {
      throw specError(
        origin,
        [...fat, 'window'],
        `'${windowText}' is not a window`,
        'use Nh (hours), Nd (calendar days) or all, e.g. 24h, 7d',
      );
    }
    const columnText = f.column === undefined ? undefined : String(f.column);
    if (info.needsColumn && columnText === undefined) {
      throw specError(
        origin,
        fat,
        `aggregation '${f.agg}' needs a 'column' (a column name or an expression)`,
      );
    }
    const column =
      columnText === undefined
        ? undefined
        : parseTyped(columnText, source.columns, [...fat, 'column'], origin);
    // On a CDC history a delete's row carries the deleted values: as of it, the value is NULL.
    if (column && f.agg === 'as_of' && source.cdc) {
      column.expr = parseTyped(
        `CASE WHEN op = 'd' THEN NULL ELSE (${columnText}) END`,
        source.columns,
        [...fat, 'column'],
        origin,
      ).expr;
    }
    if (column && info.accepts && !info.accepts.includes(column.type)) {
      throw specError(
        origin,
        [...fat, 'column'],
        `aggregation '${f.agg}' needs a ${info.accepts.join(' or ')} column, but '${columnText}' is ${column.type}`,
      );
    }
    return {
      name: fname,
      agg: f.agg,
      column: column?.expr,
      columnText,
      inputType: column?.type,
      type: info.resultType(column?.type),
      window,
      description: f.description,
      owner: f.owner,
    };
  });
  const transformationVersion = contentHash({
    semantics: SEMANTICS_VERSION,
    timezone: spec.timezone,
    entity: entity.keys,
    source: {
      timestamp: source.timestamp,
      columns: source.columns,
      primaryKey: source.primaryKey,
      format: source.format,
    },
    cutoff: v.cutoff,
    where: where ? canonical(where.expr) : null,
    features: features.map((f) => ({
      name: f.name,
      agg: f.agg,
      column: f.column ? canonical(f.column) : null,
      window: formatWindow(f.window),
    })),
  });
  const checks = [
    ...Object.entries(v.features).flatMap(([fname, f]) =>
      (f.checks ?? []).map((c, i) =>
        normalizeCheck(
          c,
          [...at, 'features', fname, 'checks', i],
          features.find((x) => x.name === fname),
          source,
          origin,
        ),
      ),
    ),
    ...(v.checks ?? []).map((c, i) => normalizeCheck(c, [...at, 'checks', i], undefined, source, origin)),
  ];
  return {
    name,
    entity: entity.name,
    keys: entity.keys,
    source: source.name,
    version: v.version,
    cutoff: v.cutoff,
    where: where?.expr,
    whereText: v.where,
    features,
    transformationVersion,
    checks,
    description: v.description,
    owner: v.owner,
  };
}

type CheckInput = NonNullable<ProjectParsed['views'][string]['checks']>[number];

const FEATURE_CHECKS = ['null_rate', 'range', 'drift'];

/** A check as declared -> its rule; feature checks apply to one feature, the others to the view. */
function normalizeCheck(
  c: CheckInput,
  at: SpecPath,
  feature: Feature | undefined,
  source: Source,
  origin: Origin,
): QualityCheck {
  const base = { severity: c.severity, feature: feature?.name, specPath: at.join('.') };
  const rule = ((): QualityCheck => {
    if (c.null_rate) return { ...base, kind: 'null_rate', max: c.null_rate.max };
    if (c.range) return { ...base, kind: 'range', min: c.range.min, max: c.range.max };
    if (c.unique_key) return { ...base, kind: 'unique_key' };
    if (c.row_count_change)
      return { ...base, kind: 'row_count_change', maxPercent: c.row_count_change.max_percent };
    if (c.drift) return { ...base, kind: 'drift', maxPsi: c.drift.max_psi, bins: c.drift.bins ?? 10 };
    if (c.freshness) {
      const w = parseWindow(c.freshness.max_age);
      if (!w || w.kind === 'all') {
        throw specError(
          origin,
          [...at, 'freshness', 'max_age'],
          `'${c.freshness.max_age}' is not an age`,
          'use Nh or Nd, e.g. 36h',
        );
      }
      return { ...base, kind: 'freshness', maxAge: w };
    }
    if (c.late_event_rate) {
      if (!source.ingestedAt) {
        throw specError(
          origin,
          at,
          `a late_event_rate check needs an arrival time: source '${source.name}' declares no ingested_at`,
        );
      }
      return { ...base, kind: 'late_event_rate', max: c.late_event_rate.max };
    }
    throw specError(origin, at, 'a check names no kind');
  })();
  const perFeature = FEATURE_CHECKS.includes(rule.kind);
  if (perFeature && !feature) {
    throw specError(origin, at, `a ${rule.kind} check belongs under a feature (features.<name>.checks)`);
  }
  if (!perFeature && feature) {
    throw specError(origin, at, `a ${rule.kind} check is view-wide: put it under the view's checks`);
  }
  if (
    (rule.kind === 'range' || rule.kind === 'drift') &&
    feature &&
    feature.type !== 'int' &&
    feature.type !== 'double'
  ) {
    throw specError(
      origin,
      at,
      `a ${rule.kind} check needs a numeric feature, but '${feature.name}' is ${feature.type}`,
    );
  }
  return rule;
}

function parseTyped(text: string, columns: Columns, at: SpecPath, origin: Origin) {
  try {
    const expr = parseExpr(text);
    return { expr, type: inferType(expr, columns) };
  } catch (e) {
    if (e instanceof ExprSyntaxError) {
      throw specError(origin, at, `cannot parse '${text}': ${e.message}`);
    }
    if (e instanceof ExprTypeError) throw specError(origin, at, `in '${text}': ${e.message}`);
    throw e;
  }
}

function mapValues<T, U>(rec: Record<string, T>, f: (name: string, value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, f(k, v)]));
}
