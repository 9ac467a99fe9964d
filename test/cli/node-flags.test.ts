// The installed command's node flags live on bin/asof.js's #! line (env -S); the benchmarks read
// them from there (src/cli/node-flags.ts), and the line must still start the CLI when executed.

import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFlags } from '../../src/cli/node-flags.js';
import { REPO_ROOT, tempDir } from '../support/project.js';

describe('node flags of the asof command', () => {
  it('are read from the #! line of bin/asof.js, which runs the CLI when executed', () => {
    expect(nodeFlags()).toEqual(['--max-semi-space-size=64']);
    const out = execFileSync(path.join(REPO_ROOT, 'bin', 'asof.js'), ['--version'], { encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('name the file when its first line is not a node #! line', () => {
    const dir = tempDir('asof-flags-');
    try {
      const bad = path.join(dir, 'asof.js');
      writeFileSync(bad, '#!/bin/sh\necho hi\n');
      expect(() => nodeFlags(bad)).toThrow(/asof\.js: the first line is not/);
      writeFileSync(bad, '#!/usr/bin/env node\n');
      expect(nodeFlags(bad)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
