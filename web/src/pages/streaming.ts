// Streaming: per source, events/s, event-time lag, late ratio and the ingest -> servable latency
// (p50 and p99 of each interval), polled every second while the page is open.

import { get, type StreamSample } from '../api.js';
import { type Chart, COLORS, chart } from '../charts.js';
import { el } from '../dom.js';

const POLL_MS = 1000;

interface Panel {
  host: HTMLElement;
  chart: Chart;
  series: { name: string; pick: (s: StreamSample) => number | null; color: string }[];
}

function panel(parent: HTMLElement, id: string, title: string, unit: string, series: Panel['series']): Panel {
  const host = el('div', { class: 'chart', 'data-chart': id });
  parent.append(host);
  const c = chart(host);
  c.setOption({
    animation: false,
    title: { text: `${title} (${unit})`, textStyle: { fontSize: 12, fontWeight: 'normal' }, left: 4 },
    legend: { top: 0, right: 8 },
    grid: { left: 56, right: 12, top: 28, bottom: 24 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'time' },
    yAxis: { type: 'value' },
    series: series.map((s) => ({ name: s.name, type: 'line', showSymbol: false, color: s.color, data: [] })),
  });
  return { host, chart: c, series };
}

function update(p: Panel, samples: StreamSample[]): void {
  const data = p.series.map((s) =>
    samples.flatMap((x) => {
      const v = s.pick(x);
      return v === null ? [] : [[x.t, v]];
    }),
  );
  p.chart.setOption({ series: data.map((d) => ({ data: d })) });
  p.host.dataset.samples = String(Math.max(0, ...data.map((d) => d.length)));
  p.host.dataset.last = String(samples[samples.length - 1]?.t ?? '');
}

export async function streamingPage(root: HTMLElement, signal: AbortSignal): Promise<void> {
  root.append(el('h1', {}, 'Streaming'));
  const status = el('p', { class: 'muted', id: 'stream-status' }, 'waiting for stream metrics ...');
  const body = el('div');
  root.append(status, body);
  const panels = new Map<string, Panel[]>();
  const tick = async () => {
    const { sources } = await get<{ sources: Record<string, StreamSample[]> }>('/api/streaming');
    for (const [source, samples] of Object.entries(sources)) {
      let ps = panels.get(source);
      if (!ps) {
        const section = el('section', { class: 'card', 'data-source': source });
        section.append(el('h2', {}, `source ${source}`));
        const grid = el('div', { class: 'charts2' });
        section.append(grid);
        body.append(section);
        ps = [
          panel(grid, 'throughput', 'events per second', 'events/s', [
            { name: 'events/s', pick: (s) => s.events_per_second, color: COLORS.line },
          ]),
          panel(grid, 'lag', 'event-time lag', 's', [
            { name: 'lag', pick: (s) => s.lag_seconds, color: COLORS.line2 },
          ]),
          panel(grid, 'late', 'late ratio', 'late / all', [
            { name: 'late ratio', pick: (s) => s.late_ratio, color: COLORS.stale },
          ]),
          panel(grid, 'latency', 'ingest -> servable latency', 'ms', [
            { name: 'p50', pick: (s) => s.p50_ms, color: COLORS.line },
            { name: 'p99', pick: (s) => s.p99_ms, color: COLORS.failed },
          ]),
        ];
        panels.set(source, ps);
      }
      for (const p of ps) update(p, samples);
      const last = samples[samples.length - 1];
      if (last) {
        status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC; ${source}: ${last.events_read.toLocaleString('en')} events read by its latest run`;
      }
    }
    if (Object.keys(sources).length === 0)
      status.textContent = 'no stream has written metrics yet: run asof stream';
  };
  await tick();
  const timer = setInterval(() => {
    tick().catch((e: unknown) => {
      status.textContent = `cannot read /api/streaming: ${(e as Error).message}`;
    });
  }, POLL_MS);
  signal.addEventListener('abort', () => clearInterval(timer));
}
