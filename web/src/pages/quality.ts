// Quality: each feature's null rate, mean and PSI drift over as_of_dates, with the declared
// thresholds drawn as lines and breaches (failed checks, blocked attempts) marked in red.

import { type FeaturePoint, type FeatureQuality, get } from '../api.js';
import { COLORS, chart, disposeCharts } from '../charts.js';
import { el } from '../dom.js';

type Metric = 'null_rate' | 'mean' | 'psi';

function metricChart(host: HTMLElement, f: FeatureQuality, metric: Metric, title: string): void {
  const points = f.points.filter((p) => p[metric] !== null);
  const limits: { name: string; value: number }[] = [];
  const t = f.thresholds;
  if (metric === 'null_rate' && t.null_rate_max !== undefined)
    limits.push({ name: 'max', value: t.null_rate_max });
  if (metric === 'psi' && t.psi_max !== undefined) limits.push({ name: 'max', value: t.psi_max });
  if (metric === 'mean' && t.range_min !== undefined) limits.push({ name: 'range min', value: t.range_min });
  if (metric === 'mean' && t.range_max !== undefined) limits.push({ name: 'range max', value: t.range_max });
  // a point is a breach when its value passes a drawn threshold (the checks' own rule), or the
  // attempt was blocked, or (mean) a range check failed that day
  const breached = (p: FeaturePoint) => {
    const v = p[metric] as number;
    if (p.attempt === 'failed') return true;
    if (metric === 'mean') return p.breaches.some((b) => b.includes(`range(${f.feature})`));
    return limits.some((l) => v > l.value);
  };
  const bad = points.filter(breached);
  host.dataset.points = String(points.length);
  host.dataset.breaches = String(bad.length);
  chart(host).setOption({
    animation: false,
    title: { text: title, textStyle: { fontSize: 12, fontWeight: 'normal' }, left: 4, top: 0 },
    grid: { left: 48, right: 12, top: 26, bottom: 24 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', scale: metric === 'mean' },
    series: [
      {
        name: title,
        type: 'line',
        showSymbol: points.length < 40,
        color: COLORS.line,
        data: points.filter((p) => p.attempt === 'published').map((p) => [p.as_of_date, p[metric]]),
        markLine: limits.length
          ? {
              symbol: 'none',
              silent: true,
              lineStyle: { color: COLORS.threshold, type: 'dashed' },
              label: { formatter: '{b} {c}', position: 'insideEndTop' },
              data: limits.map((l) => ({ name: l.name, yAxis: l.value })),
            }
          : undefined,
      },
      {
        name: 'breach',
        type: 'scatter',
        symbolSize: 9,
        z: 5,
        color: COLORS.failed,
        data: bad.map((p) => [p.as_of_date, p[metric]]),
        tooltip: { show: true },
      },
    ],
  });
}

export async function qualityPage(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const { views } = await get<{ views: { name: string }[] }>('/api/overview');
  root.append(el('h1', {}, 'Quality'));
  if (views.length === 0) {
    root.append(el('p', { class: 'empty' }, 'No view.'));
    return;
  }
  const pick = el('select', { id: 'quality-view' });
  for (const v of views) pick.append(el('option', { value: v.name }, v.name));
  const body = el('div', { class: 'quality-body' });
  root.append(
    el('label', {}, 'View ', pick),
    el(
      'p',
      { class: 'muted' },
      'Dashed red lines: declared thresholds. Red points: breaches (a failed check, or an attempt the gate blocked).',
    ),
    body,
  );
  // one view's figures at a time (drift over every pair of dates is computed on first request)
  const draw = async () => {
    const view = pick.value;
    body.dataset.state = 'loading';
    const { features } = await get<{ features: FeatureQuality[] }>(
      `/api/quality?view=${encodeURIComponent(view)}`,
    );
    if (signal.aborted || pick.value !== view) return;
    disposeCharts();
    body.replaceChildren();
    for (const f of features) {
      const card = el('section', { class: 'card', 'data-feature': `${f.view}.${f.feature}` });
      const breaches = f.points.flatMap((p) => p.breaches.map((b) => `${p.as_of_date}: ${b}`));
      card.append(
        el('h2', {}, `${f.view}.${f.feature}`, el('span', { class: 'muted' }, ` ${f.type}, v${f.version}`)),
      );
      const row = el('div', { class: 'charts3' });
      card.append(row);
      body.append(card);
      for (const [m, title] of [
        ['null_rate', 'null rate'],
        ['mean', 'mean'],
        ['psi', 'PSI drift'],
      ] as const) {
        const host = el('div', { class: 'chart small', 'data-metric': m });
        row.append(host);
        metricChart(host, f, m, title);
      }
      if (breaches.length > 0) {
        card.append(el('ul', { class: 'breaches' }, ...breaches.slice(-5).map((b) => el('li', {}, b))));
      }
    }
    body.dataset.state = 'ready';
  };
  pick.addEventListener('change', () => {
    draw().catch((e: unknown) => {
      body.replaceChildren(el('p', { class: 'error' }, `cannot load: ${(e as Error).message}`));
    });
  });
  await draw();
}
