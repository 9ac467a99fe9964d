// Runs: the run history (newest first) with each stage's duration and outcome, and a chart of
// the stage durations of recent runs.

import { get, type Run } from '../api.js';
import { COLORS, chart } from '../charts.js';
import { el, fmtMs, fmtNum } from '../dom.js';

const STAGE_COLORS: Record<string, string> = {
  extract: '#1c7ed6',
  transform: '#7048e8',
  validate: '#f08c00',
  load: '#2f9e44',
  notify: '#868e96',
};

const took = (r: Run) => Date.parse(r.finished_at) - Date.parse(r.started_at);

export async function runsPage(root: HTMLElement): Promise<void> {
  const { runs } = await get<{ runs: Run[] }>('/api/runs');
  root.append(el('h1', {}, 'Runs'));
  if (runs.length === 0) {
    root.append(el('p', { class: 'empty' }, 'No run yet.'));
    return;
  }
  // stage time of the last 30 runs, oldest left
  const recent = runs.slice(0, 30).reverse();
  const host = el('div', { class: 'chart', 'data-chart': 'stages' });
  root.append(host);
  const stages = ['extract', 'transform', 'validate', 'load', 'notify'];
  const withStages = recent.some((r) => (r.stages ?? []).length > 0);
  chart(host).setOption({
    animation: false,
    title: {
      text: withStages ? 'stage durations of recent runs (ms)' : 'duration of recent runs (ms)',
      textStyle: { fontSize: 12, fontWeight: 'normal' },
    },
    legend: { top: 0, right: 8 },
    tooltip: { trigger: 'axis' },
    grid: { left: 56, right: 12, top: 28, bottom: 40 },
    xAxis: { type: 'category', data: recent.map((r) => `${r.command} ${r.finished_at.slice(5, 16)}`) },
    yAxis: { type: 'value' },
    series: withStages
      ? stages
          .map((s) => ({
            name: s,
            type: 'bar',
            stack: 'stages',
            color: STAGE_COLORS[s],
            data: recent.map((r) =>
              (r.stages ?? []).filter((x) => x.stage === s).reduce((a, x) => a + x.duration_ms, 0),
            ),
          }))
          .concat([
            {
              // builds and backfills record no stages: their whole duration
              name: 'whole run',
              type: 'bar',
              stack: 'stages',
              color: '#ced4da',
              data: recent.map((r) => ((r.stages ?? []).length === 0 ? took(r) : 0)),
            },
          ])
      : [
          {
            name: 'duration',
            type: 'bar',
            data: recent.map((r) => ({
              value: took(r),
              itemStyle: { color: r.status === 'ok' ? COLORS.published : COLORS.failed },
            })),
          },
        ],
  });
  const table = el('table', { class: 'runs' });
  table.append(
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...['finished', 'command', 'status', 'as_of_date', 'duration', 'partitions', 'rows', 'stages'].map(
          (h) => el('th', {}, h),
        ),
      ),
    ),
  );
  const tbody = el('tbody');
  for (const r of runs.slice(0, 200)) {
    const dates = [...new Set(r.partitions.map((p) => p.as_of_date))].sort();
    const stageCell = el('td', { class: 'stages' });
    for (const s of r.stages ?? []) {
      stageCell.append(
        el(
          'span',
          {
            class: `stage ${s.status}`,
            title: `${s.stage}${s.view ? ` ${s.view}` : s.source ? ` ${s.source}` : ''}: ${s.status}, ${fmtMs(s.duration_ms)}${s.detail ? ` (${s.detail})` : ''}`,
          },
          `${s.stage} ${fmtMs(s.duration_ms)}`,
        ),
      );
    }
    // a build or backfill has no stages: its partitions say what it did
    if ((r.stages ?? []).length === 0) {
      for (const p of r.partitions.slice(0, 4)) {
        stageCell.append(
          el(
            'span',
            { class: 'stage' },
            `${p.view} ${p.as_of_date}: ${fmtNum(p.rows)} rows, ${fmtMs(p.duration_ms)}`,
          ),
        );
      }
      if (r.partitions.length > 4)
        stageCell.append(el('span', { class: 'muted' }, ` +${r.partitions.length - 4} more`));
    }
    const failedChecks = (r.checks ?? []).filter((c) => c.status === 'fail');
    tbody.append(
      el(
        'tr',
        { class: r.status, 'data-run': r.run_id },
        el('td', {}, r.finished_at.replace('T', ' ').slice(0, 19)),
        el('td', {}, r.command),
        el(
          'td',
          { title: r.error ?? '' },
          el('span', { class: `badge ${r.status}` }, r.status),
          failedChecks.length ? ` ${failedChecks.length} check(s) failed` : '',
        ),
        el(
          'td',
          {},
          r.as_of_date ??
            r.checks?.find((c) => c.as_of_date)?.as_of_date ??
            (dates.length > 1 ? `${dates[0]} .. ${dates[dates.length - 1]}` : (dates[0] ?? '')),
        ),
        el('td', {}, fmtMs(took(r))),
        el('td', {}, String(r.partitions.length)),
        el('td', {}, fmtNum(r.partitions.reduce((a, p) => a + p.rows, 0))),
        stageCell,
      ),
    );
  }
  table.append(tbody);
  root.append(table);
}
