// The Spark engine: a long-running Python driver (pyspark, one SparkSession) fed SQL jobs as JSON
// lines; master `local[*]` by default or the cluster URL of the spec. asof prints every SQL here.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AsofError } from '../../errors.js';
import type { BackfillChunkPlan } from '../../plan/backfill.js';
import type { TrainingViewPlan } from '../../plan/training-set.js';
import type { ViewBuildPlan } from '../../plan/view-build.js';
import type { Source } from '../../spec/project.js';
import type { BackfillChunkOutput, Engine, LoadedSource, QueryResult, SourceFile } from '../engine.js';
import type { Measurement, MeasureRequest } from '../measure.js';
import { sparkBackfillChunkSql } from './backfill-sql.js';
import { sparkIdent } from './dialect.js';
import { DRIVER_PY } from './driver-py.js';
import { sparkMeasure } from './quality-sql.js';
import { loadSparkSource, type SparkJobs } from './sources.js';
import { sparkTrainingFeaturesSql } from './training-set-sql.js';
import { sparkViewBuildSql } from './view-sql.js';

export interface SparkOptions {
  /** Spark master URL; `local[*]` when omitted. */
  master?: string;
  /** Extra Spark configuration (the spec's engine.conf), applied after asof's defaults. */
  conf?: Record<string, string | number | boolean>;
  /** The Python with pyspark; see sparkPython(). */
  python?: string;
}

/** asof's session settings: instants in UTC, ANSI errors, microsecond Parquet timestamps, no UI. */
const DEFAULT_CONF: Record<string, string> = {
  'spark.sql.session.timeZone': 'UTC',
  'spark.sql.ansi.enabled': 'true',
  'spark.sql.parquet.outputTimestampType': 'TIMESTAMP_MICROS',
  'spark.sql.shuffle.partitions': '8',
  'spark.ui.enabled': 'false',
  'spark.ui.showConsoleProgress': 'false',
  'spark.driver.extraJavaOptions': '-Duser.timezone=UTC',
  'spark.executor.extraJavaOptions': '-Duser.timezone=UTC',
};

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** ASOF_PYTHON, else the repository's .venv-spark (made by the test setup), else python3. */
export function sparkPython(): string {
  if (process.env.ASOF_PYTHON) return process.env.ASOF_PYTHON;
  const venv = path.join(REPO_ROOT, '.venv-spark', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

interface Reply {
  id: number;
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

/** Spark's type names as DuckDB spells them, so manifests read the same whichever engine wrote them. */
export const MANIFEST_TYPES: Record<string, string> = {
  string: 'VARCHAR',
  bigint: 'BIGINT',
  int: 'INTEGER',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
};

export class SparkEngine implements Engine, SparkJobs {
  readonly name = 'spark';
  readonly supports = { compileOffline: true, backfillChunks: true, trainingSets: true };
  nonNullKeys: Record<string, string[]> = {};
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private stderrTail = '';
  private exited: string | undefined;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly version: string,
  ) {}

  static async open(opts: SparkOptions = {}): Promise<SparkEngine> {
    const conf = {
      ...DEFAULT_CONF,
      ...Object.fromEntries(Object.entries(opts.conf ?? {}).map(([k, v]) => [k, String(v)])),
    };
    const python = opts.python ?? sparkPython();
    const child = spawn(
      python,
      ['-u', '-c', DRIVER_PY, JSON.stringify({ master: opts.master ?? 'local[*]', conf })],
      {
        env: { ...process.env, TZ: 'UTC', PYSPARK_PYTHON: python, PYTHONIOENCODING: 'utf-8' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderrTail = '';
    child.stderr.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-4000);
    });
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<Reply>((resolve, reject) => {
      child.once('error', (e) =>
        reject(
          new AsofError(
            'usage',
            `cannot start the Spark driver with '${python}': ${e.message}`,
            {},
            'install pyspark (pip install pyspark) or set ASOF_PYTHON',
          ),
        ),
      );
      child.once('exit', (code) =>
        reject(
          new AsofError(
            'usage',
            `the Spark driver exited (code ${code}) before its session started: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
            {},
            'check that pyspark and Java 17 are installed (pip install pyspark), or set ASOF_PYTHON',
          ),
        ),
      );
      lines.once('line', (l) => resolve(JSON.parse(l) as Reply));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    const engine = new SparkEngine(child, String(first.version));
    engine.stderrTail = stderrTail;
    child.stderr.on('data', (d: Buffer) => {
      engine.stderrTail = (engine.stderrTail + d.toString()).slice(-4000);
    });
    lines.on('line', (l) => {
      const reply = JSON.parse(l) as Reply;
      const done = engine.pending.get(reply.id);
      engine.pending.delete(reply.id);
      done?.(reply);
    });
    child.on('exit', (code) => {
      engine.exited = `the Spark driver exited (code ${code}): ${engine.stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
      for (const [, done] of engine.pending) done({ id: -1, ok: false, error: engine.exited });
      engine.pending.clear();
    });
    return engine;
  }

  /** Sends one job to the driver and waits for its answer; a failed job is an Error with Spark's message. */
  async job(op: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.exited) throw new Error(this.exited);
    const id = this.nextId++;
    const reply = await new Promise<Reply>((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
    if (!reply.ok) throw new Error(`Spark ${op} failed: ${reply.error}`);
    return reply;
  }

  loadSource(source: Source, files: SourceFile[], timezone: string): Promise<LoadedSource> {
    return loadSparkSource(this, source, files, timezone, this.nonNullKeys[source.name] ?? []);
  }

  compileViewBuild(plan: ViewBuildPlan): string {
    return sparkViewBuildSql(plan);
  }

  async materialize(name: string, sql: string): Promise<number> {
    return Number((await this.job('materialize', { name, sql })).rows);
  }

  async writeParquet(name: string, file: string): Promise<void> {
    await this.job('write', { name, file });
  }

  async dropResult(name: string): Promise<void> {
    await this.job('drop', { name });
  }

  async describe(name: string): Promise<{ name: string; type: string }[]> {
    const r = await this.job('describe', { name });
    return (r.columns as { name: string; type: string }[]).map((c) => ({
      name: c.name,
      type: MANIFEST_TYPES[c.type] ?? c.type.toUpperCase(),
    }));
  }

  async query(sql: string): Promise<QueryResult> {
    const r = await this.job('query', { sql });
    return { columns: r.columns as QueryResult['columns'], rows: r.rows as unknown[][] };
  }

  async queryObjects(sql: string): Promise<Record<string, unknown>[]> {
    const r = await this.query(sql);
    return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c.name, row[i]])));
  }

  /** Quality checks' counts, in Spark SQL (quality-sql.ts). */
  measure(request: MeasureRequest): Promise<Measurement> {
    return sparkMeasure(this, request);
  }

  readParquet(pathOrGlob: string, orderBy: string[]): Promise<QueryResult> {
    const order = orderBy.length > 0 ? ` ORDER BY ${orderBy.map(sparkIdent).join(', ')}` : '';
    return this.query(`SELECT * FROM parquet.${sparkIdent(pathOrGlob)}${order}`);
  }

  /**
   * One Spark job computes every date of the chunk and writes it partitioned by date (one file per
   * date under `dir`, rows sorted by the keys); the pipeline swaps each into the lake by rename.
   */
  async backfillChunk(plan: BackfillChunkPlan, dir: string): Promise<BackfillChunkOutput> {
    const r = await this.job('backfill_chunk', {
      sql: sparkBackfillChunkSql(plan),
      dir,
      keys: plan.view.keys,
      dates: plan.anchors.map((a) => a.asOfDate),
    });
    return {
      columns: (r.columns as { name: string; type: string }[]).map((c) => ({
        name: c.name,
        type: MANIFEST_TYPES[c.type] ?? c.type.toUpperCase(),
      })),
      files: new Map(Object.entries(r.files as Record<string, string>)),
      rows: new Map(Object.entries(r.rows as Record<string, number>).map(([d, n]) => [d, Number(n)])),
    };
  }

  /** One Spark job per view: the points file range-joined to the view's rows, written under dir. */
  async trainingFeatures(
    view: TrainingViewPlan,
    timezone: string,
    pointsFile: string,
    dir: string,
  ): Promise<string[]> {
    const points = '__points';
    const r = await this.job('training_features', {
      points: pointsFile,
      view: points,
      sql: sparkTrainingFeaturesSql(view, timezone, points),
      dir,
    });
    return r.files as string[];
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
  }
}
