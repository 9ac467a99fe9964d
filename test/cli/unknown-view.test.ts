// Every command on one named view answers an unknown name the same way (spec/select.ts selectView):
// a usage error (exit 2) that names the view and lists the views there are.

import { describe, expect, it } from 'vitest';
import { makeProject, runCli, spec } from '../support/project.js';

const dir = makeProject({
  'asof.yaml': spec({ features: { n: '{ agg: count, window: 7d }' } }),
  'data/events.csv': 'user_id,event_ts,amount,status\nu1,2025-01-05T10:00:00,10,success\n',
});

describe('an unknown view', () => {
  it.each([
    ['show', ['--as-of', '2025-01-10']],
    ['publish', []],
    ['get', ['--key', 'u1', '--at', '2025-01-10T00:00:00Z']],
    ['parity', ['--at', '2025-01-10T00:00:00Z']],
  ])('asof %s: exit 2, names it and lists the views', async (command, args) => {
    const r = await runCli([command, '--project', dir, '--view', 'nope', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown view 'nope'");
    expect(r.stderr).toContain('views: v');
    expect(r.stdout).toBe('');
  });
});
