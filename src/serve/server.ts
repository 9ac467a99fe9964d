// `asof serve`: the online feature API (Fastify). Reads streamed views through the same read path
// as `asof get` (pipeline/online-read.ts) and batch-only views from `asof publish`, says per view
// when a value is stale, and enforces tokens, a rate limit and strict request schemas.

import { timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AsofError, isAsofError } from '../errors.js';
import type { Value } from '../expr/evaluate.js';
import { readEntity } from '../pipeline/online-read.js';
import { OnlineStoreGoneError, onlineDir, openReadStore } from '../pipeline/online-store.js';
import type { Project, View } from '../spec/project.js';
import type { PublishedMeta } from '../storage/online/published.js';
import type { OnlineReadStore } from '../storage/online/store.js';
import { ViewRuntime } from '../stream/state.js';
import { type Clock, formatInstant, type Instant, windowStart } from '../time/index.js';
import { parseReadTime } from '../time/read-time.js';
import { registerDashboard } from './dashboard.js';
import { type IngestOptions, registerIngest } from './ingest.js';
import { ServeMetrics } from './metrics.js';

export const MAX_BATCH_KEYS = 1000;
export const MAX_KEY_LENGTH = 256;
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ServeOptions {
  clock: Clock;
  /** Where token values are read from (token_env names). */
  env: Record<string, string | undefined>;
  bodyLimit?: number;
  /** Views to stream in-process from `POST /v1/ingest/<source>` (one job per source). */
  stream?: IngestOptions;
}

/** One view's answer for one entity. */
export interface ViewAnswer {
  view: string;
  key: string;
  at: string;
  feature_version: number;
  transformation_version: string;
  values: Record<string, Value> | null;
  /** Where the values come from: the stream's online state or a published batch partition. */
  source: 'stream' | 'batch' | 'none';
  as_of_date?: string;
  /** The time of the latest event applied (stream) or the partition's cutoff (batch). */
  freshness: string | null;
  age_seconds: number | null;
  stale: boolean;
  stale_reason?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads of the online store (embedded or Redis), kept open across requests. */
class Reader {
  private readonly runtimes = new Map<string, ViewRuntime>();

  constructor(
    private readonly project: Project,
    private readonly store: OnlineReadStore,
  ) {}

  runtime(view: View): ViewRuntime {
    let rt = this.runtimes.get(view.name);
    if (!rt) {
      rt = new ViewRuntime(view, this.project.timezone, this.project);
      this.runtimes.set(view.name, rt);
    }
    return rt;
  }

  async answer(view: View, key: string, at: Instant): Promise<ViewAnswer> {
    const base = {
      view: view.name,
      key,
      at: formatInstant(at),
      feature_version: view.version,
      transformation_version: view.transformationVersion,
    };
    const bound = view.checks?.find((c) => c.kind === 'freshness' && c.feature === undefined);
    const judge = (latest: number) => {
      const age = Math.max(0, at - latest);
      const tooOld =
        bound?.kind === 'freshness' && latest < (windowStart(at, bound.maxAge, this.project.timezone) ?? 0);
      return { freshness: formatInstant(latest), age_seconds: age / 1000, tooOld };
    };
    const store = this.store;
    const checkpoints = await store.checkpointsOf(view.name);
    const streamed = checkpoints.length > 0;
    let meta: PublishedMeta | null | undefined;
    if (streamed) {
      const r = await readEntity(store, this.runtime(view), key, at, checkpoints);
      let latest = Number.NEGATIVE_INFINITY;
      for (const c of checkpoints) if (c.maxTs !== null && c.maxTs > latest) latest = c.maxTs;
      // an entity absent from the stream state may still have a published batch value
      if (r.values === null) meta = await store.publishedMeta(view.name);
      if (r.values !== null || !meta) {
        const j = Number.isFinite(latest) ? judge(latest) : null;
        return {
          ...base,
          values: r.values,
          source: 'stream',
          freshness: j?.freshness ?? null,
          age_seconds: j?.age_seconds ?? null,
          stale: j?.tooOld ?? false,
          ...(j?.tooOld ? { stale_reason: 'the stream lags beyond the freshness bound' } : {}),
        };
      }
    }
    if (meta === undefined) meta = await store.publishedMeta(view.name);
    if (meta) {
      const current =
        meta.featureVersion === view.version && meta.transformationVersion === view.transformationVersion;
      const values = current ? await store.publishedValues(view.name, key) : null;
      const j = judge(Date.parse(meta.cutoff));
      const reason = streamed
        ? 'only a batch value exists for this streamed view'
        : !current
          ? 'the published partition is of another feature or transformation version'
          : j.tooOld
            ? 'the published partition is older than the freshness bound'
            : undefined;
      return {
        ...base,
        values,
        source: 'batch',
        as_of_date: meta.asOfDate,
        freshness: j.freshness,
        age_seconds: j.age_seconds,
        stale: reason !== undefined,
        ...(reason ? { stale_reason: reason } : {}),
      };
    }
    return {
      ...base,
      values: null,
      source: 'none',
      freshness: null,
      age_seconds: null,
      stale: true,
      stale_reason: `nothing online: run 'asof stream --view ${view.name}' or 'asof publish --view ${view.name}'`,
    };
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The Prometheus text of the stream jobs (written next to the store), without repeated HELP/TYPE. */
function streamMetrics(dir: string): string {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /^metrics-.*\.prom$/.test(f));
  } catch {
    return '';
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of files.sort()) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        if (seen.has(line)) continue;
        seen.add(line);
      }
      out.push(line);
    }
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

export async function createServer(project: Project, opts: ServeOptions): Promise<FastifyInstance> {
  const dir = onlineDir(project);
  const store = await openReadStore(project, { strict: false, env: opts.env });
  const reader = new Reader(project, store);
  const metrics = new ServeMetrics();
  const settings = project.serve;
  const tokens = (settings?.tokens ?? []).flatMap((t) => {
    const value = opts.env[t.tokenEnv];
    return value ? [{ name: t.name, value, scopes: t.scopes }] : [];
  });
  if (settings && settings.tokens.length > 0 && tokens.length === 0) {
    throw new AsofError(
      'usage',
      `none of the serve tokens' environment variables is set (${settings.tokens.map((t) => t.tokenEnv).join(', ')})`,
      { file: project.specFile, specPath: 'serve.tokens' },
      'export the token values before starting the server',
    );
  }
  const rate = settings?.rateLimit?.perSecond;
  const buckets = new Map<string, { tokens: number; last: number }>();

  // a long parameter reaches the handler so that it is refused as a 400 naming the field
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logger: false,
    routerOptions: { maxParamLength: 2048 },
    // strict schemas: no silently dropped fields, no coercion of a string into an array
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // a malformed URL (bad percent-encoding) gets the same JSON error shape as every other 400
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).send({ error: err.message });
    },
  });
  const started = new WeakMap<FastifyRequest, bigint>();

  app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint());
  });
  app.addHook('onResponse', async (req, reply) => {
    const t0 = started.get(req);
    const ms = t0 === undefined ? 0 : Number(process.hrtime.bigint() - t0) / 1e6;
    metrics.observe(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, ms);
  });
  app.addHook('onClose', async () => {
    await store.close();
  });

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).send({ error: err.message });
    if (err instanceof OnlineStoreGoneError) {
      return reply.code(503).send({ error: `${err.message}: ${err.hint}` });
    }
    if (isAsofError(err)) return reply.code(400).send({ error: err.message });
    const e = err as { statusCode?: number; validation?: unknown; message?: string; code?: string };
    if (e.validation) return reply.code(400).send({ error: e.message ?? 'invalid request' });
    if (e.statusCode === 413 || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: 'request body too large' });
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: e.message ?? 'bad request' });
    }
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  /** Token and rate checks; 401 without a valid token, 403 without the scope, 429 over the rate. */
  const guard =
    (scope: 'read' | 'ingest' | 'admin' | null) => async (req: FastifyRequest, reply: FastifyReply) => {
      let who = req.ip;
      if (scope && (scope !== 'read' || settings?.readRequiresToken)) {
        const h = req.headers.authorization;
        const m = typeof h === 'string' ? /^Bearer (\S+)$/.exec(h) : null;
        const tok = m ? tokens.find((t) => safeEqual(t.value, m[1] as string)) : undefined;
        if (!tok) {
          reply.header('www-authenticate', 'Bearer');
          throw new HttpError(401, 'unauthorized');
        }
        if (!tok.scopes.includes(scope)) throw new HttpError(403, 'forbidden');
        who = `token:${tok.name}`;
      }
      if (rate !== undefined) {
        const now = opts.clock.now();
        const b = buckets.get(who) ?? { tokens: rate, last: now };
        b.tokens = Math.min(rate, b.tokens + ((now - b.last) / 1000) * rate);
        b.last = now;
        buckets.set(who, b);
        if (b.tokens < 1) {
          reply.header('retry-after', String(Math.max(1, Math.ceil((1 - b.tokens) / rate))));
          throw new HttpError(429, 'rate limit exceeded');
        }
        b.tokens -= 1;
      }
    };

  const viewOf = (name: string): View => {
    if (!NAME.test(name)) throw new HttpError(400, `view name '${name.slice(0, 64)}' is not a valid name`);
    const v = Object.hasOwn(project.views, name) ? project.views[name] : undefined;
    if (!v) throw new HttpError(404, `unknown view '${name}'`);
    return v;
  };
  const checkKey = (key: string, field: string) => {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new HttpError(400, `${field} must be 1 to ${MAX_KEY_LENGTH} characters`);
    }
  };
  const readTime = (text: string | undefined, field: string): Instant => {
    if (text === undefined) return opts.clock.now();
    const at = text.length <= 64 ? parseReadTime(text, project.timezone) : null;
    if (at === null || !Number.isFinite(at)) {
      throw new HttpError(
        400,
        `${field} '${text.slice(0, 64)}' is not a timestamp (e.g. 2025-03-31T12:00:00Z)`,
      );
    }
    return at;
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  // with tokens declared, metrics need the admin scope; without, they are open like the reads
  app.get('/metrics', { preHandler: guard(tokens.length > 0 ? 'admin' : null) }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4');
    return metrics.render() + streamMetrics(dir);
  });

  app.get<{ Params: { view: string; key: string }; Querystring: { at?: string } }>(
    '/v1/features/:view/:key',
    {
      preHandler: guard('read'),
      schema: {
        querystring: {
          type: 'object',
          properties: { at: { type: 'string' } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const view = viewOf(req.params.view);
      checkKey(req.params.key, 'key');
      return reader.answer(view, req.params.key, readTime(req.query.at, 'at'));
    },
  );

  app.post<{ Body: { entities: string[]; features: string[]; at?: string } }>(
    '/v1/features',
    {
      preHandler: guard('read'),
      schema: {
        body: {
          type: 'object',
          required: ['entities', 'features'],
          additionalProperties: false,
          properties: {
            entities: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_BATCH_KEYS,
              items: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
            },
            features: {
              type: 'array',
              minItems: 1,
              maxItems: 1000,
              items: { type: 'string', minLength: 3, maxLength: 200 },
            },
            at: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const at = readTime(req.body.at, 'body/at');
      const wanted = new Map<string, { view: View; features: string[] }>();
      for (const ref of req.body.features) {
        const [vn, fn, ...rest] = ref.split(':');
        if (vn === undefined || fn === undefined || rest.length > 0) {
          throw new HttpError(400, `body/features: '${ref.slice(0, 64)}' is not 'view:feature'`);
        }
        const view = viewOf(vn);
        if (!view.features.some((f) => f.name === fn)) {
          throw new HttpError(404, `unknown feature '${fn.slice(0, 64)}' of view '${view.name}'`);
        }
        const w = wanted.get(view.name) ?? { view, features: [] };
        w.features.push(fn);
        wanted.set(view.name, w);
      }
      const views = Object.fromEntries(
        [...wanted.values()].map((w) => [
          w.view.name,
          { feature_version: w.view.version, transformation_version: w.view.transformationVersion },
        ]),
      );
      const entities = [];
      for (const key of req.body.entities) {
        const values: Record<string, Value> = {};
        const status: Record<string, Omit<ViewAnswer, 'values' | 'view' | 'key' | 'at'>> = {};
        for (const w of wanted.values()) {
          const a = await reader.answer(w.view, key, at);
          for (const f of w.features) values[`${w.view.name}:${f}`] = a.values ? (a.values[f] ?? null) : null;
          const { values: _v, view: _n, key: _k, at: _a, ...rest } = a;
          status[w.view.name] = rest;
        }
        entities.push({ key, values, views: status });
      }
      return { at: formatInstant(at), views, entities };
    },
  );

  await registerIngest(app, project, guard, opts.stream);

  registerDashboard(app, project, guard('read'));
  return app;
}
