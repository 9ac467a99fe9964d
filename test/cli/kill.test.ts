// A build killed with SIGKILL at any moment leaves the previous partition intact and readable,
// and the next build completes. Real processes, real kills, at several points of the run.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { killAfter } from '../support/faults.js';
import { makeProject, runCli, spec } from '../support/project.js';

function bigCsv(rows: number, amount: number): string {
  const lines = ['user_id,event_ts,amount,status'];
  for (let i = 0; i < rows; i++) {
    const day = 1 + (i % 28);
    lines.push(
      `u${i % 5000},2025-01-${String(day).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00,${amount + (i % 7)},success`,
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('build killed mid-write', () => {
  it('keeps the old partition at every kill point, and a rerun finishes', async () => {
    const dir = makeProject({
      'asof.yaml': spec({
        features: { n: '{ agg: count, window: 7d }', s: '{ agg: sum, column: amount, window: 30d }' },
      }),
      'data/events.csv': bigCsv(20_000, 1),
    });
    const args = ['build', '--project', dir, '--as-of', '2025-01-28'];
    const show = ['show', '--project', dir, '--view', 'v', '--as-of', '2025-01-28', '--format', 'csv'];
    expect((await runCli(args)).code).toBe(0);
    const old = (await runCli(show)).stdout;
    expect(old.split('\n').length).toBeGreaterThan(5000);
    // New data: a finished build would change every sum.
    writeFileSync(path.join(dir, 'data/events.csv'), bigCsv(200_000, 100));
    for (const ms of [150, 400, 700, 1000, 1400]) {
      await killAfter(args, ms);
      const now = await runCli(show);
      expect(now.code).toBe(0);
      // Either the old partition or (if the kill came after the swap) the complete new one.
      if (now.stdout !== old) {
        const done = await runCli(args);
        expect(done.code).toBe(0);
        expect(now.stdout).toBe((await runCli(show)).stdout);
        return;
      }
    }
    expect((await runCli(args)).code).toBe(0);
    expect((await runCli(show)).stdout).not.toBe(old);
  }, 120_000);
});
