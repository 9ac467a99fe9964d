// `npm run bench -- <name> [args]`: runs one benchmark from bench/<name>.ts (each prints its
// figures and says how to record them in BENCHMARKS.md).

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeFlags } from '../src/cli/node-flags.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [args]\n`);
  process.exit(2);
}
const file = path.join(here, `${name}.ts`);
if (!existsSync(file)) process.exit(2);
// the installed command's node flags (bin/asof.js): a benchmark measures what a user's run gets
const missing = nodeFlags().filter((f) => !process.execArgv.includes(f));
if (missing.length > 0) {
  // NODE_OPTIONS too: the node processes a benchmark starts (a served `asof`, a backfill child)
  // get them as the installed command would; flags on their own command line still win
  const env = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', ...missing].join(' ').trim() };
  const r = spawnSync(process.execPath, [...process.execArgv, ...missing, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env,
  });
  process.exit(r.status ?? 1);
}
process.argv.splice(2, 1);
await import(pathToFileURL(file).href);
