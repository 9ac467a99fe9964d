// Views: a calendar of partitions per view and feature version, one cell per as_of_date: published,
// failed check, stale (built by another transformation_version than the spec's) or missing.

import { type Calendar, type CalendarCell, get } from '../api.js';
import { el, fmtMs, fmtNum, hover } from '../dom.js';

const LABELS = {
  published: 'published',
  failed: 'failed check',
  stale: 'stale (definition changed)',
  missing: 'missing',
};

function cellLines(view: string, version: number, c: CalendarCell): string[] {
  const lines = [`${view} v${version} as of ${c.as_of_date}: ${LABELS[c.state]}`];
  if (c.rows !== undefined) lines.push(`rows: ${fmtNum(c.rows)}`);
  if (c.duration_ms !== undefined) lines.push(`duration: ${fmtMs(c.duration_ms)}`);
  if (c.previous_rows !== undefined)
    lines.push(`the previous partition stays (${fmtNum(c.previous_rows)} rows)`);
  if (c.transformation_version) lines.push(`transformation_version: ${c.transformation_version}`);
  if (c.finished_at) lines.push(`run ${c.run_id ?? ''} at ${c.finished_at}`);
  if (c.detail) lines.push(c.detail);
  return lines;
}

export async function viewsPage(root: HTMLElement): Promise<void> {
  const cal = await get<Calendar>('/api/partitions');
  root.append(el('h1', {}, 'Views'));
  const legend = el('div', { class: 'legend' });
  for (const s of ['published', 'failed', 'stale', 'missing'] as const) {
    legend.append(
      el('span', { class: `cell ${s}` }),
      el('span', { 'data-count': s }, `${LABELS[s]} (${cal.counts[s]})`),
    );
  }
  root.append(legend);
  if (cal.rows.length === 0 || !cal.from) {
    root.append(
      el('p', { class: 'empty' }, 'No partition yet: run asof build --as-of DATE or asof backfill.'),
    );
    return;
  }
  root.append(
    el('p', { class: 'muted' }, `as_of_dates ${cal.from} to ${cal.to}; hover a cell for rows and duration`),
  );
  const grid = el('div', { class: 'calendar' });
  const n = cal.rows[0]?.cells.length ?? 0;
  const columns = `repeat(${n}, minmax(6px, 30px))`;
  // day-of-month above the cells (every day when there is room, else Mondays and the 1st)
  const days = el('div', { class: 'cells days' });
  days.style.gridTemplateColumns = columns;
  for (const c of cal.rows[0]?.cells ?? []) {
    const d = new Date(`${c.as_of_date}T00:00:00Z`);
    const show = n <= 45 || d.getUTCDay() === 1 || d.getUTCDate() === 1;
    days.append(el('span', { title: c.as_of_date }, show ? String(d.getUTCDate()) : ''));
  }
  grid.append(el('div', { class: 'row-label muted' }, cal.from.slice(0, 7)), days);
  for (const row of cal.rows) {
    const cells = el('div', { class: 'cells' });
    cells.style.gridTemplateColumns = columns;
    for (const c of row.cells) {
      const cell = el('span', {
        class: `cell ${c.state}`,
        'data-view': row.view,
        'data-version': row.version,
        'data-date': c.as_of_date,
        'data-state': c.state,
      });
      hover(cell, () => cellLines(row.view, row.version, c));
      cells.append(cell);
    }
    grid.append(
      el('div', { class: 'row-label' }, `${row.view} v${row.version}${row.current ? '' : ' (old)'}`),
      cells,
    );
  }
  root.append(grid);
}
