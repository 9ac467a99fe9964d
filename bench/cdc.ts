// CDC apply throughput: `asof cdc apply` of one generated Debezium file (JSON lines) into an empty
// warehouse, then the same file again (a replay: every change skipped). Prints changes/s and where
// the time goes (reading and parsing the file vs the warehouse transaction).
// Run: npm run bench -- cdc [--changes N] [--keys N]

import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readDebeziumFile } from '../src/cdc/events.js';
import { applyCdcFiles } from '../src/pipeline/cdc.js';
import { loadProject } from '../src/pipeline/project.js';
import { systemClock } from '../src/time/index.js';

const { values } = parseArgs({
  options: { changes: { type: 'string', default: '1000000' }, keys: { type: 'string', default: '100000' } },
});
const changes = Number(values.changes);
const keys = Number(values.keys);

/** A seeded generator (mulberry32): the same file on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TIERS = ['free', 'starter', 'pro', 'team', 'enterprise'];

/** Each key is created first; then updates (90%) and deletes (2%, recreated by a later change). */
async function writeChanges(file: string): Promise<void> {
  const rand = rng(11);
  const out = createWriteStream(file);
  const live = new Map<number, { tier: string; seats: number }>();
  const t0 = Date.UTC(2025, 0, 1);
  for (let i = 0; i < changes; i++) {
    const k = i < keys ? i : Math.floor(rand() * keys);
    const id = `acct_${k}`;
    const prev = live.get(k);
    const at = t0 + i * 1000;
    let line: string;
    if (prev && rand() < 0.02) {
      line = JSON.stringify({
        op: 'd',
        before: { account_id: id, plan_tier: prev.tier, seats: prev.seats, updated_at: at - 1000 },
        after: null,
        source: { lsn: 1000 + i, ts_ms: at },
        ts_ms: at,
      });
      live.delete(k);
    } else {
      const next = {
        tier: TIERS[Math.floor(rand() * TIERS.length)] as string,
        seats: 1 + Math.floor(rand() * 50),
      };
      line = JSON.stringify({
        op: prev ? 'u' : 'c',
        before: prev ? { account_id: id, plan_tier: prev.tier, seats: prev.seats } : null,
        after: { account_id: id, plan_tier: next.tier, seats: next.seats, updated_at: at },
        source: { lsn: 1000 + i, ts_ms: at },
        ts_ms: at,
      });
      live.set(k, next);
    }
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

const dir = await mkdtemp(join(tmpdir(), 'asof-bench-cdc-'));
try {
  await writeFile(
    join(dir, 'asof.yaml'),
    [
      'project: bench',
      'sources: {}',
      'entities: {}',
      'cdc:',
      '  accounts:',
      '    primary_key: account_id',
      '    columns: { account_id: string, plan_tier: string, seats: int, updated_at: timestamp }',
      '',
    ].join('\n'),
  );
  const file = join(dir, 'changes.jsonl');
  await writeChanges(file);
  const project = await loadProject(dir);
  const source = project.cdc?.accounts;
  if (!source) throw new Error('spec');
  console.log(
    `${changes} Debezium changes over ${keys} keys (JSON lines); 2 cores shared with other sessions`,
  );

  // Wall time depends on what else runs on the machine; CPU time (user + system, DuckDB's threads
  // included) much less so: both are printed.
  const cpu = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1e6;
  };
  let t = performance.now();
  let c0 = process.cpuUsage();
  const parsed = readDebeziumFile(file, source, project.timezone).length;
  const parseMs = performance.now() - t;
  const parseCpu = cpu(c0);
  console.log(
    `read + parse only:  ${parsed} changes in ${(parseMs / 1000).toFixed(2)} s wall, ${parseCpu.toFixed(2)} s CPU`,
  );

  for (const label of ['apply (empty)', 'replay (skipped)']) {
    t = performance.now();
    c0 = process.cpuUsage();
    const r = await applyCdcFiles(project, 'accounts', [file], systemClock);
    const s = (performance.now() - t) / 1000;
    const c = cpu(c0);
    console.log(
      `${label.padEnd(19)} ${r.received} changes (${r.applied} applied, ${r.skipped} skipped) in ${s.toFixed(2)} s wall (${Math.round(r.received / s)} changes/s), ${c.toFixed(2)} s CPU (${Math.round(r.received / c)} changes per CPU second; parsing ${((100 * parseCpu) / c).toFixed(0)}% of it)`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
