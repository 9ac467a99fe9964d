// The dashboard's stream history: each rewrite of a stream job's metrics file adds a sample whose
// events/s and latency quantiles cover only the interval since the previous one; a new run (its
// counters restart) falls back to the run's own figures instead of a negative rate.

import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamHistory } from '../../src/pipeline/stream-status.js';
import { Metrics } from '../../src/stream/metrics.js';
import { tempDir } from '../support/project.js';

function write(dir: string, t: number, read: number, latencies: number[], m = new Metrics()): Metrics {
  for (const l of latencies) m.latency.observe(l);
  m.set('asof_stream_events_read_total', 'counter', 'read', read);
  m.set('asof_stream_events_per_second', 'gauge', 'rate', 123);
  m.set('asof_stream_lag_seconds', 'gauge', 'lag', 2.5);
  m.set('asof_stream_late_ratio', 'gauge', 'late', 0.25);
  const file = path.join(dir, 'metrics-clicks.prom');
  writeFileSync(file, m.render({ source: 'clicks' }));
  utimesSync(file, t / 1000, t / 1000);
  return m;
}

describe('stream history', () => {
  it('turns cumulative metrics into per-interval rates and latency quantiles', () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const h = new StreamHistory(dir);
    const t0 = Date.UTC(2026, 0, 1);
    const m = write(dir, t0, 1000, Array(100).fill(4));
    h.sample();
    h.sample(); // unchanged file: no new sample
    // the next second: 500 more events, all slow
    write(dir, t0 + 1000, 1500, Array(100).fill(400), m);
    h.sample();
    const s = h.snapshot().clicks ?? [];
    expect(s).toHaveLength(2);
    // first sample: no previous one, the run's own average
    expect(s[0]).toMatchObject({ events_per_second: 123, p50_ms: 5, p99_ms: 5, latency_count: 100 });
    // second: only the interval's events and latencies (the cumulative p50 would be 5 ms)
    expect(s[1]).toMatchObject({ events_read: 1500, events_per_second: 500, p50_ms: 500, p99_ms: 500 });
    expect(s[1]).toMatchObject({ lag_seconds: 2.5, late_ratio: 0.25, latency_count: 100 });

    // a new run restarts its counters: no negative rate, its own figures
    write(dir, t0 + 2000, 10, [1]);
    h.sample();
    const r = (h.snapshot().clicks ?? [])[2];
    expect(r).toMatchObject({ events_read: 10, events_per_second: 123, p50_ms: 1, latency_count: 1 });
  });
});
