// The http stream source: `asof serve --stream v` and POST /v1/ingest/<source>. JSON and NDJSON
// batches give the same online values and offline rows as the same events through `asof stream
// --source stdin`; reads after an answered ingest equal `asof get`; every error (400, 401, 403,
// 404, 413). Shutdown and kill -9: ingest-shutdown.test.ts.

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOnline } from '../../src/pipeline/online-read.js';
import { loadProject } from '../../src/pipeline/project.js';
import { createServer } from '../../src/serve/server.js';
import type { Project } from '../../src/spec/project.js';
import { systemClock } from '../../src/time/index.js';
import { checkpointOf, ENV, FILES, INGEST, type IngestBody, post, READ } from '../support/ingest.js';
import { makeProject, runCli } from '../support/project.js';
import { ARGS, events, offlineRows, onlineSnapshot } from '../support/stream.js';

const AT = ['2025-03-28T18:00:00Z', '2025-03-29T00:30:00Z', '2025-03-29T03:00:00Z'];

describe('POST /v1/ingest/<source> (asof serve --stream)', () => {
  let dir: string;
  let project: Project;
  let app: FastifyInstance;
  let base: string;
  const lines = events(1500, 11);
  // one line that is not JSON, at a known place of an NDJSON batch
  lines.splice(130, 0, 'this is not json');

  beforeAll(async () => {
    dir = makeProject(FILES);
    project = await loadProject(dir);
    app = await createServer(project, {
      clock: systemClock,
      env: ENV,
      stream: { views: [project.views.v as NonNullable<Project['views']['v']>] },
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
  });

  it('takes JSON and NDJSON batches, answers per-event outcomes once servable, and equals asof get', async () => {
    let total = { accepted: 0, late: 0, dead: 0 };
    for (let i = 0, b = 0; i < lines.length; i += 100, b++) {
      const chunk = lines.slice(i, i + 100);
      const ndjson = b % 2 === 1;
      const res = ndjson
        ? await post(base, `${chunk.join('\n')}\n`, 'application/x-ndjson')
        : await post(
            base,
            JSON.stringify(
              b % 4 === 0 ? chunk.map((l) => JSON.parse(l)) : { events: chunk.map((l) => JSON.parse(l)) },
            ),
            'application/json',
          );
      const body = (await res.json()) as IngestBody;
      expect(res.status, body.error).toBe(200);
      expect(body.received).toBe(chunk.length);
      expect(body.accepted + body.late + body.dead).toBe(chunk.length);
      expect(body.offsets).toEqual([i, i + chunk.length - 1]);
      if (i === 100)
        expect(body.rejected).toContainEqual({ index: 30, outcome: 'dead', reason: 'not valid JSON' });
      total = {
        accepted: total.accepted + body.accepted,
        late: total.late + body.late,
        dead: total.dead + body.dead,
      };
      // answered means committed: a read now sees this batch
      const c = checkpointOf(project);
      expect(c?.nextSeq).toBeGreaterThanOrEqual(i + chunk.length);
    }
    expect(total.dead).toBeGreaterThan(1);
    expect(total.late).toBeGreaterThan(0);
    const c = checkpointOf(project);
    expect(c?.counters).toMatchObject(total);

    for (const at of AT) {
      for (const key of ['u1', 'u7', 'u42', 'nobody']) {
        const res = await fetch(`${base}/v1/features/v/${key}?at=${at}`, {
          headers: { authorization: `Bearer ${READ}` },
        });
        const body = (await res.json()) as { values: unknown; source: string };
        expect(res.status).toBe(200);
        expect(body.values).toEqual((await getOnline(project, 'v', key, Date.parse(at))).values);
      }
    }
    // and through the CLI, as a user runs it
    const cli = await runCli([
      'get',
      '--view',
      'v',
      '--key',
      'u1',
      '--at',
      AT[1] as string,
      '--project',
      dir,
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const served = await (
      await fetch(`${base}/v1/features/v/u1?at=${AT[1]}`, { headers: { authorization: `Bearer ${READ}` } })
    ).json();
    expect((served as { values: unknown }).values).toEqual(JSON.parse(cli.stdout).values);
    expect(JSON.parse(cli.stdout).values).not.toBeNull();
  }, 120_000);

  it('refuses without a token (401), without the ingest scope (403), malformed (400), too large (413)', async () => {
    const one = '{"user_id":"u1","event_ts":"2025-03-28T00:00:00Z","amount":1,"status":"ok"}';
    expect((await post(base, one, 'application/x-ndjson', null)).status).toBe(401);
    expect((await post(base, one, 'application/x-ndjson', 'wrong')).status).toBe(401);
    const forbidden = await post(base, one, 'application/x-ndjson', READ);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ error: 'forbidden' });

    const bad = async (body: string, type: string, status: number, message: RegExp) => {
      const r = await post(base, body, type);
      expect(r.status).toBe(status);
      expect(((await r.json()) as IngestBody).error).toMatch(message);
    };
    await bad('{"evnts": []}', 'application/json', 400, /found field 'evnts'/);
    await bad('{"events": 3}', 'application/json', 400, /body\/events must be an array/);
    await bad('{"events": []}', 'application/json', 400, /body\/events: no events/);
    await bad('[{"user_id": ', 'application/json', 400, /JSON/i);
    await bad('\n\n', 'application/x-ndjson', 400, /no events/);
    await bad(one, 'application/json', 400, /expected an array of events/);
    await bad(`${one}\n`.repeat(10_001), 'application/x-ndjson', 413, /at most 10000/);
    await bad(`${one}\n`.repeat(120_000), 'application/x-ndjson', 413, /too large/);
    const unknown = await post(base, one, 'application/x-ndjson', INGEST, 'clicks');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as IngestBody).error).toMatch(/unknown source 'clicks'/);
    expect((await post(base, one, 'application/x-ndjson', INGEST, '..%2Fetc')).status).toBe(400);
    // nothing refused reached the stream
    expect(checkpointOf(project)?.nextSeq).toBe(lines.length);
  });

  it('ends gracefully with the same online values and offline rows as asof stream --source stdin', async () => {
    await app.close();
    const ref = makeProject(FILES);
    const s = await runCli([...ARGS, '--project', ref], { input: `${lines.join('\n')}\n` });
    expect(s.code, s.stderr).toBe(0);
    const ats = AT.map((a) => Date.parse(a));
    expect(await onlineSnapshot(dir, ats)).toEqual(await onlineSnapshot(ref, ats));
    const rows = await offlineRows(dir);
    expect(rows.length).toBe(checkpointOf(project)?.counters.accepted);
    expect(rows).toEqual(await offlineRows(ref));
  }, 120_000);
});
