// ECharts, tree-shaken to what the dashboard draws (lines, bars, scatter, graph) with the SVG
// renderer: crisp screenshots, and labels that are text in the page.

import { BarChart, GraphChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([
  LineChart,
  BarChart,
  ScatterChart,
  GraphChart,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  MarkPointComponent,
  TitleComponent,
  TooltipComponent,
  SVGRenderer,
]);

export type Chart = echarts.ECharts;
export type Option = echarts.EChartsCoreOption;

const live = new Set<Chart>();

/** A chart in `host` (sized by CSS); disposed when the page changes. */
export function chart(host: HTMLElement): Chart {
  const c = echarts.init(host, undefined, { renderer: 'svg' });
  live.add(c);
  return c;
}

export function disposeCharts(): void {
  for (const c of live) c.dispose();
  live.clear();
}

window.addEventListener('resize', () => {
  for (const c of live) c.resize();
});

export const COLORS = {
  published: '#2f9e44',
  failed: '#e03131',
  stale: '#f08c00',
  missing: '#dee2e6',
  line: '#1c7ed6',
  line2: '#7048e8',
  threshold: '#e03131',
};
