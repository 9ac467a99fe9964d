#!/usr/bin/env node
// Builds the dashboard (web/, Vite) into dist/web: written beside (dist/.web-<pid>) and renamed into
// place, so that a running `asof serve` never finds the folder empty or half written during a build.
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const final = path.join(root, 'dist', 'web');
const fresh = path.join(root, 'dist', `.web-${process.pid}`);
const old = path.join(root, 'dist', `.web-old-${process.pid}`);
try {
  await build({
    configFile: path.join(root, 'web', 'vite.config.ts'),
    build: { outDir: fresh, emptyOutDir: true },
  });
  // two builds at once (several checkouts' tools): the later rename wins, a few tries each
  for (let attempt = 1; ; attempt++) {
    try {
      if (existsSync(final)) renameSync(final, old);
      renameSync(fresh, final);
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
      rmSync(old, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
  rmSync(old, { recursive: true, force: true });
}
