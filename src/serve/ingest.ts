// `POST /v1/ingest/<source>`: the http stream source on the server of `asof serve`. With
// `asof serve --stream V...` each streamed source runs its stream job in this process; a batch
// (a JSON array, `{"events": [...]}`, or NDJSON) is answered 200 once a checkpoint has committed it,
// with per-event outcomes. On close, requests in flight finish, then each job checkpoints and stops.

import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../pipeline/log.js';
import { onlineDir } from '../pipeline/online-store.js';
import type { Project, View } from '../spec/project.js';
import { HttpIngestSource } from '../stream/http-source.js';
import { runStream, type StreamSummary } from '../stream/job.js';
import type { Clock } from '../time/index.js';

export const MAX_INGEST_EVENTS = 10_000;
export const DEFAULT_INGEST_BODY_LIMIT = 8 * 1024 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface IngestOptions {
  views: View[];
  clock?: Clock;
  log?: Logger;
  /** fsync the ingest log before answering and every checkpoint (survives power loss). */
  fsync?: boolean;
  /** Checkpoint (and answer waiting requests) after this many ms; small, since requests wait for it. */
  checkpointMs?: number;
  checkpointEvents?: number;
  offlineEvents?: number;
  offlineMs?: number;
  bodyLimit?: number;
  /** A stream job failed (the server keeps serving reads; ingest of that source answers 503). */
  onError?: (source: string, e: Error) => void;
}

type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

class IngestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The events of a request body as one JSON text each, or a 400 naming what is wrong. */
export function eventTexts(body: unknown): string[] {
  if (typeof body === 'string') {
    const out: string[] = [];
    for (const l of body.split('\n')) {
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      // a line that is not JSON is still an event: it goes to the dead letters with its reason
      if (line.trim() !== '') out.push(line);
    }
    if (out.length === 0) throw new IngestError(400, 'body: no events (NDJSON, one event per line)');
    return out;
  }
  let events: unknown = body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const keys = Object.keys(body);
    if (keys.length !== 1 || keys[0] !== 'events') {
      throw new IngestError(
        400,
        `body: expected an array of events or {"events": [...]}${keys.length > 0 ? `, found field '${(keys.find((k) => k !== 'events') ?? keys[0] ?? '').slice(0, 64)}'` : ''}`,
      );
    }
    events = (body as { events: unknown }).events;
    if (!Array.isArray(events)) throw new IngestError(400, 'body/events must be an array of events');
  }
  if (!Array.isArray(events))
    throw new IngestError(400, 'body: expected an array of events or {"events": [...]}');
  if (events.length === 0) throw new IngestError(400, 'body/events: no events');
  return events.map((e) => JSON.stringify(e));
}

export async function registerIngest(
  app: FastifyInstance,
  project: Project,
  guard: (scope: 'ingest') => Guard,
  opts: IngestOptions | undefined,
): Promise<void> {
  const jobs = new Map<string, { source: HttpIngestSource; done: Promise<StreamSummary | null> }>();
  let stopping = false;
  const bySource = new Map<string, View[]>();
  for (const v of opts?.views ?? []) bySource.set(v.source, [...(bySource.get(v.source) ?? []), v]);
  for (const [name, views] of bySource) {
    const source = new HttpIngestSource(name, path.join(onlineDir(project), 'ingest', name), {
      fsync: opts?.fsync ?? false,
    });
    const done = runStream(project, {
      views,
      source,
      clock: opts?.clock,
      log: opts?.log,
      fsync: opts?.fsync ?? false,
      checkpointMs: opts?.checkpointMs ?? 5,
      checkpointEvents: opts?.checkpointEvents,
      offlineEvents: opts?.offlineEvents,
      offlineMs: opts?.offlineMs,
      stopRequested: () => stopping,
    }).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      source.fail(err);
      opts?.onError?.(name, err);
      return null;
    });
    jobs.set(name, { source, done });
  }

  app.addHook('onClose', async () => {
    stopping = true;
    for (const j of jobs.values()) j.source.stop();
    await Promise.all([...jobs.values()].map((j) => j.done));
  });

  // NDJSON (and plain text) bodies arrive as one string; JSON bodies use Fastify's parser
  app.addContentTypeParser(
    ['application/x-ndjson', 'application/jsonl', 'text/plain'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  app.post<{ Params: { source: string } }>(
    '/v1/ingest/:source',
    // the token is checked before the body is read
    { onRequest: guard('ingest'), bodyLimit: opts?.bodyLimit ?? DEFAULT_INGEST_BODY_LIMIT },
    async (req, reply) => {
      try {
        const name = req.params.source;
        if (!NAME.test(name))
          throw new IngestError(400, `source name '${name.slice(0, 64)}' is not a valid name`);
        if (!Object.hasOwn(project.sources, name)) throw new IngestError(404, `unknown source '${name}'`);
        const job = jobs.get(name);
        if (!job) {
          throw new IngestError(
            404,
            `source '${name}' is not streamed by this server (start it with asof serve --stream <view of ${name}>)`,
          );
        }
        const texts = eventTexts(req.body);
        if (texts.length > MAX_INGEST_EVENTS) {
          throw new IngestError(
            413,
            `body: ${texts.length} events; at most ${MAX_INGEST_EVENTS} per request`,
          );
        }
        try {
          return await job.source.ingest(texts);
        } catch (e) {
          throw new IngestError(503, (e as Error).message);
        }
      } catch (e) {
        if (e instanceof IngestError) return reply.code(e.status).send({ error: e.message });
        throw e;
      }
    },
  );
}
