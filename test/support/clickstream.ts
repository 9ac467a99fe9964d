// The ELT tests' clickstream project: the fixture's spec and raw files plus the demo's own models
// (src/scaffold/clickstream.ts), so the models exist once.

import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLICKSTREAM_MODELS } from '../../src/scaffold/clickstream.js';
import { REPO_ROOT } from './project.js';

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'clickstream');

/** Copies the clickstream project into `dir` (created if missing). */
export function copyClickstreamProject(dir: string): void {
  cpSync(FIXTURE, dir, { recursive: true });
  for (const [rel, sql] of Object.entries(CLICKSTREAM_MODELS)) {
    const file = path.join(dir, 'models', rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, sql);
  }
}
