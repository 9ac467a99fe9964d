// A small metrics registry printed in the Prometheus text format: counters, gauges and one
// histogram kind (ingest -> servable latency), with quantiles estimated from the buckets.

export class Histogram {
  /**
   * Bench-only: every Histogram made while this is true keeps its raw observations in `samples`
   * (unbounded memory), e.g. for exact percentiles of a stream job's latency histogram.
   */
  static keepSamples = false;
  readonly counts: number[];
  count = 0;
  sum = 0;
  /** Every observation in order, when made with keepSamples; else undefined. */
  readonly samples: number[] | undefined;
  constructor(
    readonly bounds: number[],
    opts: { keepSamples?: boolean } = {},
  ) {
    this.counts = bounds.map(() => 0);
    this.samples = (opts.keepSamples ?? Histogram.keepSamples) ? [] : undefined;
  }

  observe(v: number): void {
    this.count++;
    this.sum += v;
    this.samples?.push(v);
    for (let i = 0; i < this.bounds.length; i++) {
      if (v <= (this.bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  /** The upper bound of the bucket holding quantile q (Prometheus' histogram_quantile, coarse). */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return this.bounds[i] as number;
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** Latency buckets in milliseconds, 0.25 ms to 30 s. */
export const LATENCY_BUCKETS_MS = [
  0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 500, 1000, 2000, 5000, 10000, 30000,
];

interface Metric {
  help: string;
  type: 'counter' | 'gauge';
  value: number;
}

export class Metrics {
  private readonly metrics = new Map<string, Metric>();
  readonly latency = new Histogram(LATENCY_BUCKETS_MS);

  set(name: string, type: 'counter' | 'gauge', help: string, value: number): void {
    this.metrics.set(name, { help, type, value });
  }

  /** The Prometheus text exposition of every metric. */
  render(labels: Record<string, string>): string {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
      .join(',');
    const out: string[] = [];
    for (const [name, m] of this.metrics) {
      out.push(`# HELP ${name} ${m.help}`, `# TYPE ${name} ${m.type}`, `${name}{${l}} ${m.value}`);
    }
    const h = 'asof_stream_ingest_to_servable_seconds';
    out.push(`# HELP ${h} From reading an event to its value being servable (checkpoint committed).`);
    out.push(`# TYPE ${h} histogram`);
    let cum = 0;
    this.latency.bounds.forEach((b, i) => {
      cum += this.latency.counts[i] as number;
      out.push(`${h}_bucket{${l},le="${b / 1000}"} ${cum}`);
    });
    out.push(`${h}_bucket{${l},le="+Inf"} ${this.latency.count}`);
    out.push(`${h}_sum{${l}} ${this.latency.sum / 1000}`, `${h}_count{${l}} ${this.latency.count}`);
    return `${out.join('\n')}\n`;
  }
}
