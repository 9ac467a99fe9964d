// Lineage: sources -> models (raw, refined, features, ...) -> views -> features, one column per
// layer, drawn as an ECharts graph with fixed positions (the layers are the layout).

import { get, type LineageGraph } from '../api.js';
import { chart } from '../charts.js';
import { el } from '../dom.js';

const KIND_COLORS: Record<string, string> = {
  source: '#495057',
  raw: '#868e96',
  model: '#1c7ed6',
  view: '#7048e8',
  feature: '#2f9e44',
};

export async function lineagePage(root: HTMLElement): Promise<void> {
  const g = await get<LineageGraph>('/api/lineage');
  root.append(el('h1', {}, 'Lineage'));
  const heads = el('div', { class: 'layers', 'data-layers': g.layers.join(',') });
  for (const l of g.layers) {
    const n = g.nodes.filter((x) => x.layer === l).length;
    heads.append(el('div', { class: 'layer', 'data-layer': l }, `${l} (${n})`));
  }
  root.append(heads);
  // rows: each layer ordered by the mean row of its upstream nodes (fewer crossings), sources by
  // the mean row of what they feed
  const row = new Map<string, number>();
  const order = (layer: string, key: (id: string) => number) => {
    const ns = g.nodes.filter((n) => n.layer === layer);
    ns.map((n, i) => ({ n, k: key(n.id), i }))
      .sort((a, b) => a.k - b.k || a.i - b.i)
      .forEach((x, i) => {
        row.set(x.n.id, i);
      });
  };
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.MAX_VALUE);
  for (const l of g.layers.slice(1)) {
    order(l, (id) => mean(g.edges.filter((e) => e.to === id).flatMap((e) => row.get(e.from) ?? [])));
  }
  order('source', (id) => mean(g.edges.filter((e) => e.from === id).flatMap((e) => row.get(e.to) ?? [])));

  const ROW = 34;
  const maxRows = Math.max(1, ...g.layers.map((l) => g.nodes.filter((n) => n.layer === l).length));
  const host = el('div', {
    class: 'chart lineage',
    'data-nodes': g.nodes.length,
    'data-edges': g.edges.length,
  });
  host.style.height = `${Math.max(320, maxRows * ROW + 60)}px`;
  root.append(host);
  const kinds = ['source', 'raw', 'model', 'view', 'feature'];
  chart(host).setOption({
    animation: false,
    tooltip: {
      formatter: (p: {
        dataType?: string;
        data: { name?: string; description?: string; version?: string };
      }) =>
        p.dataType === 'node'
          ? [p.data.name, p.data.description, p.data.version ? `version ${p.data.version}` : '']
              .filter(Boolean)
              .join('<br>')
          : '',
    },
    legend: { data: kinds, bottom: 0 },
    series: [
      {
        type: 'graph',
        layout: 'none',
        roam: true,
        top: 20,
        bottom: 34,
        left: 60,
        right: 210,
        edgeSymbol: ['none', 'arrow'],
        edgeSymbolSize: 7,
        categories: kinds.map((k) => ({ name: k, itemStyle: { color: KIND_COLORS[k] } })),
        label: { show: true, position: 'right', fontSize: 11 },
        lineStyle: { color: '#adb5bd', curveness: 0.06, width: 1.2 },
        data: g.nodes.map((n) => {
          const col = g.layers.indexOf(n.layer);
          return {
            id: n.id,
            name: n.label,
            x: col * 220,
            // each column centred on the tallest
            y: ((row.get(n.id) ?? 0) - (g.nodes.filter((x) => x.layer === n.layer).length - 1) / 2) * ROW,
            symbolSize: n.kind === 'feature' ? 9 : 14,
            category: kinds.indexOf(n.kind),
            description: n.description,
            version: n.version,
          };
        }),
        links: g.edges.map((e) => ({ source: e.from, target: e.to })),
      },
    ],
  });
}
