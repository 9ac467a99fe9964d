// `asof load`: lands files as they are into raw.<source>, one transaction per load, idempotent by
// content (a file whose sha256 was already landed for the source is skipped and said so).

import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import type { EngineType } from '../engines/open.js';
import type { LandedFile, LandFile, Warehouse } from '../engines/warehouse.js';
import { AsofError } from '../errors.js';
import type { Project, SourceFormat } from '../spec/project.js';
import { type Clock, systemClock } from '../time/index.js';
import { openWarehouse } from './warehouse.js';

export interface LoadOptions {
  source: string;
  /** Files or globs, relative to the current folder. */
  files: string[];
  format?: SourceFormat;
  clock?: Clock;
  /** The engine whose warehouse to land in (Spark keeps its own); the spec's engine otherwise. */
  engine?: EngineType;
  /** Land into this open warehouse instead of opening the project's. */
  warehouse?: Warehouse;
}

export interface LoadResult {
  loadId: string;
  table: string;
  files: LandedFile[];
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function formatOf(file: string): SourceFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  return undefined;
}

export function resolveLoadFiles(patterns: string[], cwd: string): string[] {
  const out: string[] = [];
  for (const p of patterns) {
    const found = isDynamicPattern(p)
      ? globSync(p, { cwd, absolute: true, onlyFiles: true }).sort()
      : [path.resolve(cwd, p)];
    if (found.length === 0) throw new AsofError('usage', `no file matches '${p}'`);
    for (const f of found) {
      try {
        if (!statSync(f).isFile()) throw new Error('not a file');
      } catch {
        throw new AsofError('usage', `file not found: ${f}`, { file: f });
      }
      if (!out.includes(f)) out.push(f);
    }
  }
  return out;
}

export async function loadRaw(project: Project, opts: LoadOptions): Promise<LoadResult> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(opts.source) || opts.source.startsWith('_')) {
    throw new AsofError(
      'usage',
      `'${opts.source}' cannot name a raw table`,
      {},
      'use letters, digits and _, not starting with _',
    );
  }
  const declared = project.sources[opts.source];
  const clock = opts.clock ?? systemClock;
  const paths = resolveLoadFiles(
    opts.files.length > 0
      ? opts.files
      : declared && !declared.model
        ? [path.resolve(project.root, declared.path)]
        : [],
    process.cwd(),
  );
  if (paths.length === 0) throw new AsofError('usage', 'name the files to load (FILE or GLOB)');
  const files: LandFile[] = [];
  for (const p of paths) {
    const format = opts.format ?? formatOf(p) ?? declared?.format;
    if (!format) {
      throw new AsofError(
        'usage',
        'cannot tell the format from the extension',
        { file: p },
        'pass --format csv|json|jsonl|parquet',
      );
    }
    files.push({ path: p, sha256: await sha256(p), format });
  }
  // The same content twice in one command lands once.
  const unique = files.filter((f, i) => files.findIndex((g) => g.sha256 === f.sha256) === i);
  const now = clock.now();
  const loadId = `${new Date(now).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
  const warehouse = opts.warehouse ?? (await openWarehouse(project, { engine: opts.engine }));
  try {
    const landed = await warehouse.land({
      source: opts.source,
      files: unique,
      contract: declared?.columns ?? {},
      timezone: project.timezone,
      loadId,
      loadedAt: now,
    });
    const dups = files
      .filter((f) => !unique.includes(f))
      .map(
        (f): LandedFile => ({
          file: f.path,
          sha256: f.sha256,
          rows: 0,
          skipped: true,
          previousLoadId: loadId,
        }),
      );
    return { loadId, table: `raw.${opts.source}`, files: [...landed, ...dups] };
  } finally {
    if (!opts.warehouse) await warehouse.close();
  }
}
