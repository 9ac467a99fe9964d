// `asof run`: the nightly pipeline, extract -> transform -> validate -> load -> notify, for one
// as_of_date. Each stage is reported as a record (rows in/out, duration, rejects, late-event
// rate); the run, its stages and the notify outcome go to the run history. Validate gates the
// load exactly as in `asof build` (buildPartition); a view failing its gate does not stop the
// others. A failed notify is reported and recorded; the load it follows is not undone.

import { randomUUID } from 'node:crypto';
import { DuckDbEngine } from '../engines/duckdb/engine.js';
import type { LoadedSource } from '../engines/engine.js';
import { AsofError, EXIT_CODES, isAsofError } from '../errors.js';
import type { Project, View } from '../spec/project.js';
import { selectViews } from '../spec/select.js';
import { recover } from '../storage/lake/partition.js';
import { appendRun, type RunRecord, type StageRecord } from '../storage/meta/runs.js';
import { type Clock, formatInstant, type IsoDate, systemClock } from '../time/index.js';
import { type BuiltPartition, buildPartition, loadSources, lockViews, partitionRecord } from './build.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { type NotifyResult, notify } from './notify.js';
import { type CheckResult, QualityGateError } from './quality.js';
import { recordViewChanges } from './view-changes.js';

export interface RunOptions {
  asOf: IsoDate;
  views?: string[];
  clock?: Clock;
  /** Readable messages (notices, warnings). */
  log?: Logger;
  /** Called once per stage as it ends (the CLI logs each as a JSON line). */
  onStage?: (stage: StageRecord & { run_id: string }) => void;
  /** Send the summary to the spec's notify targets (default true; `build` is a run without it). */
  notify?: boolean;
  /** The command recorded in the history (run, schedule). */
  command?: string;
  notifyTimeoutMs?: number;
}

/** What a run did: the JSON a webhook receives and `asof runs` lists. */
export interface RunSummary {
  run_id: string;
  project: string;
  command: string;
  as_of_date: IsoDate;
  status: 'ok' | 'failed';
  exit_code: number;
  error?: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  sources: { source: string; rows_in: number; rows_out: number; rejected: number; quarantine?: string }[];
  views: {
    view: string;
    version: number;
    status: 'published' | 'blocked' | 'failed' | 'not_run';
    rows: number | null;
    duration_ms: number;
    late_event_rate: number | null;
    checks: CheckResult[];
  }[];
  stages: StageRecord[];
  notify: NotifyResult[];
}

export interface RunOutcome {
  summary: RunSummary;
  /** The error that decided the exit code (the first one; quality failures of several views combined). */
  error: unknown;
}

function newRunId(clock: Clock): string {
  return `${new Date(clock.now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
}

export async function runPipeline(project: Project, opts: RunOptions): Promise<RunOutcome> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const command = opts.command ?? 'run';
  const runId = newRunId(clock);
  const started = clock.now();
  const stages: StageRecord[] = [];
  const stage = (s: StageRecord) => {
    stages.push(s);
    opts.onStage?.({ run_id: runId, ...s });
  };
  const summary: RunSummary = {
    run_id: runId,
    project: project.name,
    command,
    as_of_date: opts.asOf,
    status: 'ok',
    exit_code: EXIT_CODES.ok,
    started_at: formatInstant(started),
    finished_at: '',
    duration_ms: 0,
    sources: [],
    views: [],
    stages,
    notify: [],
  };
  let error: unknown;
  const built: BuiltPartition[] = [];
  try {
    const views = selectViews(project, opts.views);
    summary.views = views.map((v) => ({
      view: v.name,
      version: v.version,
      status: 'not_run',
      rows: null,
      duration_ms: 0,
      late_event_rate: null,
      checks: [],
    }));
    const locks = lockViews(project, views, `${command} --as-of ${opts.asOf}`, clock);
    let engine: DuckDbEngine | undefined;
    try {
      for (const v of views) recover(project.storage.offline, v.name, v.version);
      engine = await DuckDbEngine.open();
      const sources = await extract(project, views, engine, runId, clock, log, stage, summary);
      const blocked: QualityGateError[] = [];
      for (const view of views) {
        const loaded = sources.get(view.source);
        if (!loaded) throw new Error(`source ${view.source} was not loaded`);
        const entry = summary.views.find((v) => v.view === view.name);
        const t0 = clock.now();
        try {
          const b = await buildPartition(project, view, opts.asOf, loaded, engine, runId, clock);
          built.push(b);
          const late = b.lateEvents?.rate;
          const warned = (b.checks ?? []).some((c) => c.status === 'fail');
          stage({
            stage: 'transform',
            view: view.name,
            status: 'ok',
            rows_in: loaded.rows,
            rows_out: b.rowsWritten,
            duration_ms: b.stageMs?.transform ?? 0,
          });
          stage({
            stage: 'validate',
            view: view.name,
            status: warned ? 'warn' : 'ok',
            rows_in: b.rowsWritten,
            rows_out: b.rowsWritten,
            ...(late === undefined ? {} : { late_event_rate: late }),
            duration_ms: b.stageMs?.validate ?? 0,
            detail: checksLine(b.checks ?? []),
          });
          stage({
            stage: 'load',
            view: view.name,
            status: 'ok',
            rows_in: b.rowsWritten,
            rows_out: b.rowsWritten,
            duration_ms: b.stageMs?.load ?? 0,
            detail: b.dir,
          });
          for (const c of b.checks ?? []) if (c.status === 'fail') log.warn(`${view.name}: ${c.message}`);
          Object.assign(entry ?? {}, {
            status: 'published',
            rows: b.rowsWritten,
            duration_ms: b.durationMs,
            late_event_rate: late ?? null,
            checks: b.checks ?? [],
          });
        } catch (e) {
          if (!(e instanceof QualityGateError)) throw e;
          blocked.push(e);
          const late = e.results.find((c) => c.check === 'late_event_rate');
          stage({ stage: 'transform', view: view.name, status: 'ok', rows_in: loaded.rows, duration_ms: 0 });
          stage({
            stage: 'validate',
            view: view.name,
            status: 'failed',
            ...(late?.value === null || late === undefined ? {} : { late_event_rate: late.value }),
            duration_ms: clock.now() - t0,
            detail: checksLine(e.results),
          });
          stage({
            stage: 'load',
            view: view.name,
            status: 'skipped',
            duration_ms: 0,
            detail: 'blocked by an error-severity check; the previous partition stays',
          });
          Object.assign(entry ?? {}, { status: 'blocked', duration_ms: clock.now() - t0, checks: e.results });
        }
      }
      if (blocked.length === 1) error = blocked[0];
      else if (blocked.length > 1) {
        error = new AsofError('quality', blocked.map((b) => b.message).join('\n'), {}, blocked[0]?.hint);
      }
    } finally {
      await engine?.close();
      for (const l of locks) l.release();
    }
  } catch (e) {
    error = e;
  }
  summary.status = error ? 'failed' : 'ok';
  summary.exit_code = error ? (isAsofError(error) ? error.exitCode : EXIT_CODES.unexpected) : EXIT_CODES.ok;
  if (error) {
    summary.error = error instanceof Error ? error.message : String(error);
    for (const v of summary.views) if (v.status === 'not_run') v.status = 'failed';
  }
  if (opts.notify !== false && project.notify) {
    const t0 = clock.now();
    summary.finished_at = formatInstant(t0);
    summary.duration_ms = t0 - started;
    summary.notify = await notify(project.notify, summary, opts.notifyTimeoutMs);
    const failed = summary.notify.filter((n) => !n.ok);
    for (const f of failed) log.warn(`notify failed: ${f.target}: ${f.error}`);
    stage({
      stage: 'notify',
      status: failed.length > 0 ? 'failed' : 'ok',
      duration_ms: clock.now() - t0,
      detail: summary.notify.map((n) => `${n.target}: ${n.ok ? 'ok' : n.error}`).join('; '),
    });
    if (failed.length > 0 && !error) {
      error = new AsofError(
        'notify',
        `the run succeeded and its partitions are published, but ${failed.length} notification(s) failed: ${failed.map((f) => `${f.target}: ${f.error}`).join('; ')}`,
        { file: project.specFile, specPath: 'notify' },
        'check the notify target; the load is not undone, rerunning rewrites the same partitions',
      );
      summary.exit_code = EXIT_CODES.notify;
    }
  }
  const finished = clock.now();
  summary.finished_at = formatInstant(finished);
  summary.duration_ms = finished - started;
  recordRun(project, summary, built, log, clock);
  return { summary, error };
}

/** Extract: each source once, with its row counts and rejects as one stage record. */
async function extract(
  project: Project,
  views: View[],
  engine: DuckDbEngine,
  runId: string,
  clock: Clock,
  log: Logger,
  stage: (s: StageRecord) => void,
  summary: RunSummary,
): Promise<Map<string, LoadedSource>> {
  const all = new Map<string, LoadedSource>();
  for (const name of new Set(views.map((v) => v.source))) {
    const t0 = clock.now();
    try {
      const one = await loadSources(
        project,
        views.filter((v) => v.source === name),
        engine,
        [],
        { runId, clock, log },
      );
      for (const [k, l] of one) {
        all.set(k, l);
        const c = l.contract;
        summary.sources.push({
          source: k,
          rows_in: c?.rowsIn ?? l.rows,
          rows_out: l.rows,
          rejected: c?.rejected ?? 0,
          ...(c?.quarantineFile ? { quarantine: c.quarantineFile } : {}),
        });
        const notices = c?.notices.length ?? 0;
        stage({
          stage: 'extract',
          source: k,
          status: (c?.rejected ?? 0) > 0 || notices > 0 ? 'warn' : 'ok',
          rows_in: c?.rowsIn ?? l.rows,
          rows_out: l.rows,
          rejected: c?.rejected ?? 0,
          duration_ms: clock.now() - t0,
          ...(notices > 0 ? { detail: `${notices} accepted schema change(s)` } : {}),
        });
      }
    } catch (e) {
      stage({
        stage: 'extract',
        source: name,
        status: 'failed',
        duration_ms: clock.now() - t0,
        detail: e instanceof Error ? e.message.split('\n')[0] : String(e),
      });
      throw e;
    }
  }
  return all;
}

function checksLine(checks: CheckResult[]): string {
  if (checks.length === 0) return 'no checks';
  const n = (s: string) => checks.filter((c) => c.status === s).length;
  const failed = checks.filter((c) => c.status === 'fail');
  return `${n('pass')} passed, ${failed.length} failed, ${n('skipped')} skipped${failed.length ? `: ${failed.map((c) => `${c.check}${c.feature ? `(${c.feature})` : ''} ${c.severity}`).join(', ')}` : ''}`;
}

function recordRun(
  project: Project,
  s: RunSummary,
  built: BuiltPartition[],
  log: Logger,
  clock: Clock,
): void {
  const run: RunRecord = {
    run_id: s.run_id,
    command: s.command,
    started_at: s.started_at,
    finished_at: s.finished_at,
    status: s.status,
    ...(s.error ? { error: s.error } : {}),
    partitions: built.map(partitionRecord),
    checks: s.views
      .filter((v) => v.status === 'blocked')
      .flatMap((v) => v.checks.map((c) => ({ view: v.view, ...c }))),
    as_of_date: s.as_of_date,
    exit_code: s.exit_code,
    stages: s.stages,
    notify: s.notify,
  };
  try {
    appendRun(project.storage.offline, run);
    recordViewChanges(project, s.run_id, clock, built);
  } catch (e) {
    // The run's own outcome is what must be reported; say that its history line is missing.
    log.warn(`cannot append to the run history: ${(e as Error).message}`);
  }
}
