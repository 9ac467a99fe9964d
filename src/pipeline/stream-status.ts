// Stream health over time for the dashboard: reads the metrics each `asof stream` job writes beside
// the online store (metrics-<source>.prom, refreshed at checkpoints) and keeps a short history per
// source: events/s, event-time lag, late ratio and the ingest -> servable p50/p99 of each interval.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface StreamSample {
  /** Milliseconds since the epoch when the metrics file was written. */
  t: number;
  events_read: number;
  events_per_second: number | null;
  lag_seconds: number | null;
  late_ratio: number | null;
  /** Latency of the events made servable since the previous sample (null without any). */
  p50_ms: number | null;
  p99_ms: number | null;
  latency_count: number;
}

interface Snapshot {
  t: number;
  values: Map<string, number>;
  /** Cumulative latency buckets: upper bound in ms -> count. */
  buckets: [number, number][];
}

/** Parses one stream job's Prometheus text (one source's labels). */
export function parseStreamMetrics(text: string, t: number): Snapshot {
  const values = new Map<string, number>();
  const buckets: [number, number][] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const [, name, labels, value] = m as unknown as [string, string, string | undefined, string];
    if (name === 'asof_stream_ingest_to_servable_seconds_bucket') {
      const le = /le="([^"]+)"/.exec(labels ?? '')?.[1];
      if (le) buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le) * 1000, Number(value)]);
    } else values.set(name, Number(value));
  }
  return { t, values, buckets };
}

/** The upper bound of the bucket holding quantile q of the counts between two snapshots. */
function quantile(prev: [number, number][] | undefined, cur: [number, number][], q: number) {
  const delta = cur.map(([b, c], i) => [b, c - (prev?.[i]?.[1] ?? 0)] as const);
  const total = delta[delta.length - 1]?.[1] ?? 0;
  if (total <= 0) return { value: null, count: 0 };
  for (const [b, c] of delta)
    if (c >= q * total) return { value: Number.isFinite(b) ? b : null, count: total };
  return { value: null, count: total };
}

export class StreamHistory {
  private readonly last = new Map<string, Snapshot>();
  private readonly series = new Map<string, StreamSample[]>();

  constructor(
    private readonly dir: string,
    private readonly keep = 600,
  ) {}

  /** Reads the metrics files; a file rewritten since the last look adds a sample. */
  sample(): void {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => /^metrics-.*\.prom$/.test(f));
    } catch {
      return;
    }
    for (const f of files) {
      const source = f.slice('metrics-'.length, -'.prom'.length);
      const file = path.join(this.dir, f);
      let t: number;
      let text: string;
      try {
        t = statSync(file).mtimeMs;
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      const prev = this.last.get(source);
      if (prev && prev.t === t) continue;
      const cur = parseStreamMetrics(text, t);
      if (!cur.values.has('asof_stream_events_read_total')) continue; // caught mid-write
      const read = cur.values.get('asof_stream_events_read_total') ?? 0;
      const prevRead = prev?.values.get('asof_stream_events_read_total');
      // a new run restarts its counters: fall back to the run's own average then
      const sameRun = prev !== undefined && prevRead !== undefined && read >= prevRead;
      const rate =
        sameRun && t > prev.t
          ? ((read - (prevRead ?? 0)) * 1000) / (t - prev.t)
          : (cur.values.get('asof_stream_events_per_second') ?? null);
      const p50 = quantile(sameRun ? prev.buckets : undefined, cur.buckets, 0.5);
      const p99 = quantile(sameRun ? prev.buckets : undefined, cur.buckets, 0.99);
      const list = this.series.get(source) ?? [];
      list.push({
        t,
        events_read: read,
        events_per_second: rate,
        lag_seconds: cur.values.get('asof_stream_lag_seconds') ?? null,
        late_ratio: cur.values.get('asof_stream_late_ratio') ?? null,
        p50_ms: p50.value,
        p99_ms: p99.value,
        latency_count: p50.count,
      });
      if (list.length > this.keep) list.splice(0, list.length - this.keep);
      this.series.set(source, list);
      this.last.set(source, cur);
    }
  }

  /** Per source, its samples in time order. */
  snapshot(): Record<string, StreamSample[]> {
    return Object.fromEntries([...this.series].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
