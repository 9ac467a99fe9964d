// Request metrics of `asof serve` in the Prometheus text format: a counter per route and status,
// and a latency histogram per route (finer buckets than the stream's: serving is sub-millisecond).

import { Histogram } from '../stream/metrics.js';

/** Latency buckets in milliseconds, 50 µs to 1 s. */
const SERVE_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000];

const esc = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

export class ServeMetrics {
  private readonly counts = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();

  observe(route: string, method: string, status: number, ms: number): void {
    const ck = `${method}\u0000${route}\u0000${status}`;
    this.counts.set(ck, (this.counts.get(ck) ?? 0) + 1);
    const hk = `${method}\u0000${route}`;
    let h = this.latency.get(hk);
    if (!h) {
      h = new Histogram(SERVE_BUCKETS_MS);
      this.latency.set(hk, h);
    }
    h.observe(ms);
  }

  render(): string {
    const out: string[] = [
      '# HELP asof_serve_requests_total Requests answered, per route and status code.',
      '# TYPE asof_serve_requests_total counter',
    ];
    for (const [k, n] of this.counts) {
      const [method, route, status] = k.split('\u0000') as [string, string, string];
      out.push(
        `asof_serve_requests_total{method="${esc(method)}",route="${esc(route)}",status="${status}"} ${n}`,
      );
    }
    const h = 'asof_serve_request_duration_seconds';
    out.push(`# HELP ${h} Time from request received to response sent, per route.`, `# TYPE ${h} histogram`);
    for (const [k, hist] of this.latency) {
      const [method, route] = k.split('\u0000') as [string, string];
      const l = `method="${esc(method)}",route="${esc(route)}"`;
      let cum = 0;
      hist.bounds.forEach((b, i) => {
        cum += hist.counts[i] as number;
        out.push(`${h}_bucket{${l},le="${b / 1000}"} ${cum}`);
      });
      out.push(`${h}_bucket{${l},le="+Inf"} ${hist.count}`);
      out.push(`${h}_sum{${l}} ${hist.sum / 1000}`, `${h}_count{${l}} ${hist.count}`);
    }
    return `${out.join('\n')}\n`;
  }
}
