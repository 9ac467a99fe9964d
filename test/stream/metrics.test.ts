// The latency histogram: bucket counts and coarse quantiles always; raw samples only when asked for
// (benchmarks), per histogram or for every histogram made while Histogram.keepSamples is on.

import { afterEach, describe, expect, it } from 'vitest';
import { Histogram, Metrics } from '../../src/stream/metrics.js';

describe('Histogram', () => {
  afterEach(() => {
    Histogram.keepSamples = false;
  });

  it('counts observations per bucket and answers quantiles as bucket upper bounds, keeping no samples by default', () => {
    const h = new Histogram([1, 5, 10]);
    for (const v of [0.5, 2, 3, 7, 50]) h.observe(v);
    expect(h.counts).toEqual([1, 2, 1]);
    expect(h.count).toBe(5);
    expect(h.sum).toBe(62.5);
    expect(h.quantile(0.5)).toBe(5);
    expect(h.quantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(h.samples).toBeUndefined();
  });

  it('keeps every raw observation in order when made with keepSamples, buckets unchanged', () => {
    const h = new Histogram([1, 5, 10], { keepSamples: true });
    for (const v of [7, 0.5, 50, 2]) h.observe(v);
    expect(h.samples).toEqual([7, 0.5, 50, 2]);
    expect(h.counts).toEqual([1, 1, 1]);
    expect(h.count).toBe(4);
  });

  it("Histogram.keepSamples applies to histograms made while it is on (a stream job's Metrics too)", () => {
    Histogram.keepSamples = true;
    const m = new Metrics();
    const explicitOff = new Histogram([1], { keepSamples: false });
    Histogram.keepSamples = false;
    const after = new Metrics();
    m.latency.observe(3);
    after.latency.observe(3);
    explicitOff.observe(3);
    expect(m.latency.samples).toEqual([3]);
    expect(after.latency.samples).toBeUndefined();
    expect(explicitOff.samples).toBeUndefined();
  });
});
