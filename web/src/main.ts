// The dashboard's router: one page per hash (#/views, #/quality, ...), each drawn from /api/ data.

import './style.css';
import { get } from './api.js';
import { disposeCharts } from './charts.js';
import { el } from './dom.js';
import { dictionaryPage } from './pages/dictionary.js';
import { lineagePage } from './pages/lineage.js';
import { qualityPage } from './pages/quality.js';
import { runsPage } from './pages/runs.js';
import { streamingPage } from './pages/streaming.js';
import { viewsPage } from './pages/views.js';

const PAGES: Record<string, (root: HTMLElement, signal: AbortSignal) => Promise<void>> = {
  views: viewsPage,
  quality: qualityPage,
  streaming: streamingPage,
  runs: runsPage,
  lineage: lineagePage,
  dictionary: dictionaryPage,
};

let current: AbortController | null = null;

async function show(): Promise<void> {
  const name = /^#\/(\w+)/.exec(location.hash)?.[1] ?? 'views';
  const page = PAGES[name] ?? viewsPage;
  current?.abort();
  disposeCharts();
  (document.getElementById('tip') as HTMLElement).hidden = true;
  const ctl = new AbortController();
  current = ctl;
  const main = document.getElementById('page') as HTMLElement;
  const root = el('div', { class: 'page', 'data-page': name, 'data-state': 'loading' });
  main.replaceChildren(root);
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', (a as HTMLElement).dataset.page === name);
  }
  try {
    await page(root, ctl.signal);
    if (!ctl.signal.aborted) root.dataset.state = 'ready';
  } catch (e) {
    root.append(el('p', { class: 'error' }, `cannot load: ${(e as Error).message}`));
    root.dataset.state = 'error';
  }
}

window.addEventListener('hashchange', () => void show());
get<{ project: string; timezone: string }>('/api/overview')
  .then((o) => {
    (document.getElementById('project') as HTMLElement).textContent = `${o.project} (${o.timezone})`;
  })
  .catch(() => undefined);
void show();
