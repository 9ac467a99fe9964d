// Dictionary: every feature with its definition, versions, owner, checks, lineage and latest
// quality figures (the same data as `asof docs`), filtered as you type.

import { type DictionaryEntry, get } from '../api.js';
import { el, fmtNum } from '../dom.js';

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`;

export async function dictionaryPage(root: HTMLElement): Promise<void> {
  const d = await get<{ project: string; entries: DictionaryEntry[] }>('/api/dictionary');
  root.append(el('h1', {}, 'Dictionary'));
  const search = el('input', { type: 'search', placeholder: 'filter features', id: 'dict-filter' });
  root.append(
    el(
      'p',
      {},
      search,
      el('span', { class: 'muted' }, `  ${d.entries.length} features; the same as asof docs`),
    ),
  );
  const heads = [
    'feature',
    'description',
    'type',
    'entity',
    'window',
    'aggregation',
    'source',
    'filter',
    'versions',
    'owner',
    'checks',
    'lineage',
    'latest quality',
  ];
  const table = el(
    'table',
    { class: 'dictionary' },
    el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', {}, h)))),
  );
  const tbody = el('tbody');
  for (const e of d.entries) {
    const l = e.latest;
    tbody.append(
      el(
        'tr',
        { 'data-feature': `${e.view}.${e.feature}` },
        el('td', {}, el('strong', {}, `${e.view}.${e.feature}`)),
        el('td', {}, e.description ?? ''),
        el('td', {}, e.type),
        el('td', {}, `${e.entity} (${e.keys.join(', ')})`),
        el('td', {}, e.window),
        el('td', {}, el('code', {}, e.aggregation)),
        el('td', {}, `${e.source}`, el('div', { class: 'muted' }, e.source_detail)),
        el('td', {}, e.filter ? el('code', {}, e.filter) : ''),
        el(
          'td',
          {},
          `v${e.feature_version}`,
          el('div', { class: 'muted mono' }, e.transformation_version.slice(0, 12)),
          e.versions_in_lake.length > 1
            ? el('div', { class: 'muted' }, `lake: ${e.versions_in_lake.map((v) => `v${v}`).join(', ')}`)
            : '',
        ),
        el('td', {}, e.owner ?? ''),
        el('td', {}, ...e.checks.map((c) => el('div', {}, c))),
        el('td', { class: 'muted' }, e.lineage.join(' → ')),
        el(
          'td',
          { class: 'nowrap' },
          ...(l
            ? [
                el('div', {}, `as of ${l.as_of_date}`),
                el('div', {}, `${fmtNum(l.rows)} rows`),
                el('div', {}, `nulls ${pct(l.null_rate)}`),
                el('div', {}, `mean ${fmtNum(l.mean)}`),
                el('div', {}, `PSI ${fmtNum(l.psi)}`),
              ]
            : ['not built']),
        ),
      ),
    );
  }
  table.append(tbody);
  root.append(table);
  search.addEventListener('input', () => {
    const q = search.value.toLowerCase();
    for (const tr of tbody.querySelectorAll('tr')) {
      (tr as HTMLElement).hidden = q !== '' && !(tr.textContent ?? '').toLowerCase().includes(q);
    }
  });
}
