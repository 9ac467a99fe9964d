// asof.config.ts (defineProject) and asof.yaml go through one schema and give the same project.

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../src/pipeline/project.js';
import { makeProject, REPO_ROOT, spec } from '../support/project.js';

describe('asof.config.ts', () => {
  it('loads a defineProject config and normalizes it exactly like the same YAML', async () => {
    const index = path.join(REPO_ROOT, 'src', 'index.ts');
    const ts = makeProject({
      'asof.config.ts': `import { defineProject } from ${JSON.stringify(index)};
export default defineProject({
  project: 't',
  timezone: 'UTC',
  sources: { events: { path: 'data/events.csv', timestamp: 'event_ts', columns: { user_id: 'string', event_ts: 'timestamp', amount: 'double', status: 'string' } } },
  entities: { user: { key: 'user_id' } },
  views: { v: { entity: 'user', source: 'events', version: 1, cutoff: 'end_of_day', features: { n: { agg: 'count', window: '7d' } } } },
});
`,
    });
    const yaml = makeProject({ 'asof.yaml': spec({ features: { n: '{ agg: count, window: 7d }' } }) });
    const a = await loadProject(ts);
    const b = await loadProject(yaml);
    expect(a.views.v?.transformationVersion).toBe(b.views.v?.transformationVersion);
    expect(a.views.v?.features).toEqual(b.views.v?.features);
  });

  it('reports a schema error from a config file with its spec path', async () => {
    const dir = makeProject({
      'asof.config.ts': `export default { project: 't', sources: {}, entities: {}, views: { v: { entity: 'user', source: 'x', features: { n: { agg: 'median', window: '7d' } } } } };\n`,
    });
    await expect(loadProject(dir)).rejects.toThrow(/views\.v\.features\.n\.agg/);
  });
});
