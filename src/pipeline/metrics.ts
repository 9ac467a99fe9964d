// The pipeline's counters in Prometheus text format (exposition format 0.0.4), derived from the
// run history so that `asof metrics` and a later HTTP endpoint print the same numbers.

import type { RunRecord } from '../storage/meta/runs.js';

type Labels = Record<string, string>;

class Family {
  readonly samples = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly type: 'counter' | 'gauge',
    readonly help: string,
  ) {}
  add(labels: Labels, value: number): void {
    const key = JSON.stringify(Object.entries(labels).sort());
    const s = this.samples.get(key);
    if (s) s.value += value;
    else this.samples.set(key, { labels, value });
  }
  set(labels: Labels, value: number): void {
    this.samples.set(JSON.stringify(Object.entries(labels).sort()), { labels, value });
  }
}

const escapeLabel = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

function print(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
  const samples = [...f.samples.values()].sort((a, b) =>
    JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1,
  );
  for (const s of samples) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    lines.push(`${f.name}${labels ? `{${labels}}` : ''} ${Number.isFinite(s.value) ? s.value : 0}`);
  }
  return lines.join('\n');
}

export function prometheusMetrics(runs: RunRecord[]): string {
  const runsTotal = new Family('asof_runs_total', 'counter', 'Pipeline runs by command and outcome.');
  const lastRun = new Family(
    'asof_last_run_timestamp_seconds',
    'gauge',
    'When the last run of each command finished.',
  );
  const lastOk = new Family(
    'asof_last_success_timestamp_seconds',
    'gauge',
    'When the last successful run of each command finished.',
  );
  const rowsWritten = new Family(
    'asof_rows_written_total',
    'counter',
    'Rows written to published partitions, per view.',
  );
  const rowsIn = new Family(
    'asof_source_rows_read_total',
    'counter',
    'Rows read from source files at extract, per source.',
  );
  const rejected = new Family(
    'asof_source_rows_rejected_total',
    'counter',
    'Rows quarantined for breaking the contract, per source.',
  );
  const checks = new Family(
    'asof_checks_total',
    'counter',
    'Quality check results per view, check, severity and status.',
  );
  const late = new Family(
    'asof_late_event_rate',
    'gauge',
    'The late-event rate of the last partition published per view.',
  );
  const stageSeconds = new Family(
    'asof_stage_duration_seconds_total',
    'counter',
    'Time spent per pipeline stage.',
  );
  const notifyFail = new Family(
    'asof_notify_failures_total',
    'counter',
    'Notifications that could not be delivered.',
  );
  for (const r of runs) {
    runsTotal.add({ command: r.command, status: r.status }, 1);
    const finished = Date.parse(r.finished_at) / 1000;
    lastRun.set({ command: r.command }, finished);
    if (r.status === 'ok') lastOk.set({ command: r.command }, finished);
    for (const p of r.partitions) {
      rowsWritten.add({ view: p.view }, p.rows);
      if (p.late_events) late.set({ view: p.view }, p.late_events.rate);
      for (const c of p.checks ?? [])
        checks.add({ view: p.view, check: c.check, severity: c.severity, status: c.status }, 1);
    }
    for (const c of r.checks ?? [])
      checks.add({ view: c.view, check: c.check, severity: c.severity, status: c.status }, 1);
    for (const s of r.stages ?? []) {
      stageSeconds.add({ stage: s.stage }, s.duration_ms / 1000);
      if (s.stage === 'extract' && s.source) {
        rowsIn.add({ source: s.source }, s.rows_in ?? 0);
        rejected.add({ source: s.source }, s.rejected ?? 0);
      }
    }
    for (const n of r.notify ?? []) if (!n.ok) notifyFail.add({}, 1);
  }
  notifyFail.add({}, 0);
  return `${[runsTotal, lastRun, lastOk, rowsWritten, rowsIn, rejected, checks, late, stageSeconds, notifyFail].map(print).join('\n')}\n`;
}
