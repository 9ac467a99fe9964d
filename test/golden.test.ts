// The golden projects of ../shared/golden, run as they are through the CLI: build + show must
// print exactly their expected.csv.

import { cpSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, SHARED_DIR, tempDir } from './support/project.js';

const GOLDEN = path.join(SHARED_DIR, 'golden');
const CASES: Record<string, { view: string; asOf: string }> = {
  exercise1: { view: 'user_txn', asOf: '2025-01-10' },
  exercise2: { view: 'user_support', asOf: '2025-03-01' },
};

describe('golden projects', () => {
  it('has every golden folder listed here', () => {
    const folders = readdirSync(GOLDEN, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    expect(folders.sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [name, { view, asOf }] of Object.entries(CASES)) {
    it(`${name}: build + show --format csv prints expected.csv exactly`, async () => {
      // shared/ is read-only: build in a copy so the lake can be written beside the spec.
      const dir = path.join(tempDir(), name);
      cpSync(path.join(GOLDEN, name), dir, { recursive: true });
      const b = await runCli(['build', '--project', dir, '--as-of', asOf]);
      expect(b.stderr).not.toMatch(/error/);
      expect(b.code).toBe(0);
      const s = await runCli(['show', '--project', dir, '--view', view, '--as-of', asOf, '--format', 'csv']);
      expect(s.code).toBe(0);
      expect(s.stdout).toBe(readFileSync(path.join(dir, 'expected.csv'), 'utf8'));
    });
  }
});
