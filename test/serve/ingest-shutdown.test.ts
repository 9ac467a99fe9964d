// No answered ingest is lost: `asof serve --stream v` stopped with SIGTERM while batches are in
// flight answers each batch it logged and ends with all of them applied; killed with -9 and
// restarted, it replays its ingest log and ends with every answered event online and offline.

import { describe, expect, it } from 'vitest';
import { DuckDbEngine } from '../../src/engines/duckdb/engine.js';
import { loadProject } from '../../src/pipeline/project.js';
import { eventsDir } from '../../src/stream/job.js';
import { checkpointOf, FILES, feed, type IngestBody, startServe } from '../support/ingest.js';
import { makeProject } from '../support/project.js';
import { events, offlineRows } from '../support/stream.js';

function batchesOf(lines: string[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += size) out.push(`${lines.slice(i, i + size).join('\n')}\n`);
  return out;
}

/** Each answered batch's accepted events are in the offline rows, under the offsets it was given. */
async function expectAllAnsweredOffline(dir: string, acked: IngestBody[]): Promise<void> {
  const project = await loadProject(dir);
  const engine = await DuckDbEngine.open({ threads: 1 });
  let offsets: number[];
  try {
    const r = await engine.query(
      `SELECT _offset FROM read_parquet('${eventsDir(project, 'events')}/*/*.parquet')`,
    );
    offsets = r.rows.map((row) => Number(row[0]));
  } finally {
    await engine.close();
  }
  for (const a of acked) {
    const [from, to] = a.offsets;
    expect(offsets.filter((o) => o >= from && o <= to).length, `batch ${from}-${to}`).toBe(a.accepted);
  }
}

describe('asof serve --stream: shutdown', () => {
  it('on SIGTERM answers every batch it took and loses none of them', async () => {
    const dir = makeProject(FILES);
    const { child, base, exit } = await startServe(dir);
    const batches = batchesOf(events(4000, 3), 50);
    let signalled = false;
    const { acked } = await feed(base, batches, 8, (n) => {
      if (n >= 20 && !signalled) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    expect(await exit).toBe(0);
    expect(acked.length).toBeGreaterThanOrEqual(20);
    const c = checkpointOf(await loadProject(dir));
    // everything logged was answered, and everything answered is applied
    expect(c?.nextSeq).toBe(acked.reduce((n, a) => n + a.received, 0));
    expect(c?.counters.accepted).toBe(acked.reduce((n, a) => n + a.accepted, 0));
    expect(c?.counters.dead).toBe(acked.reduce((n, a) => n + a.dead, 0));
    expect((await offlineRows(dir)).length).toBe(c?.counters.accepted);
    await expectAllAnsweredOffline(dir, acked);
  }, 120_000);

  it('killed with -9 and restarted, has every answered event online and offline', async () => {
    const dir = makeProject(FILES);
    const first = await startServe(dir);
    const batches = batchesOf(events(4000, 5), 50);
    let killed = false;
    const { acked } = await feed(first.base, batches, 8, (n) => {
      if (n >= 20 && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    });
    await first.exit;
    expect(acked.length).toBeGreaterThanOrEqual(20);
    const before = checkpointOf(await loadProject(dir));
    // answered means committed: the checkpoint left by the killed process covers every answer
    const lastAnswered = Math.max(...acked.map((a) => a.offsets[1]));
    expect(before?.nextSeq).toBeGreaterThan(lastAnswered);

    const second = await startServe(dir);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    const c = checkpointOf(await loadProject(dir));
    expect(c?.nextSeq).toBeGreaterThanOrEqual(before?.nextSeq ?? Number.POSITIVE_INFINITY);
    expect((await offlineRows(dir)).length).toBe(c?.counters.accepted);
    await expectAllAnsweredOffline(dir, acked);
  }, 120_000);
});
