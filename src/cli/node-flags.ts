// The node flags the installed `asof` command runs with: those of bin/asof.js's `#!` line, so that
// the benchmarks, which start node themselves, run the jobs as a user's command does.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/asof.js in this package (from src/cli or dist/cli). */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'asof.js');

/** The flags after `node` on the `#!` line of bin/asof.js (`#!/usr/bin/env -S node FLAGS`). */
export function nodeFlags(bin = BIN): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env(?:\s+-S)?\s+node((?:\s+--\S+)*)\s*$/.exec(first);
  if (!m) throw new Error(`${bin}: the first line is not '#!/usr/bin/env [-S] node [--flags]'`);
  return (m[1] ?? '').split(/\s+/).filter((f) => f !== '');
}
