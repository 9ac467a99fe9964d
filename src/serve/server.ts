// `asof serve`: the online feature API (Fastify). Reads streamed views through the same read path
// as `asof get` (pipeline/online-read.ts) and batch-only views from `asof publish`, says per view
// when a value is stale, and enforces tokens, a rate limit and strict request schemas.

import { timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AsofError, isAsofError } from '../errors.js';
import type { Value } from '../expr/evaluate.js';
import { checkExact, valuesOf } from '../pipeline/online-read.js';
import { OnlineStoreGoneError, onlineDir, openReadStore } from '../pipeline/online-store.js';
import type { Project, View } from '../spec/project.js';
import type { PublishedMeta } from '../storage/online/published.js';
import { stateCacheCounts } from '../storage/online/reader.js';
import type { Checkpoint } from '../storage/online/sqlite.js';
import type { OnlineReadStore } from '../storage/online/store.js';
import { type EntityState, ViewRuntime } from '../stream/state.js';
import { type Clock, formatInstant, type Instant, windowStart } from '../time/index.js';
import { parseReadTime } from '../time/read-time.js';
import { registerDashboard } from './dashboard.js';
import { ViewFold } from './fold.js';
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

/** What every entity's answer of one view at one read time shares: read once per request. */
interface ViewRead {
  view: View;
  rt: ViewRuntime;
  at: Instant;
  atText: string;
  streamed: boolean;
  /** The answer's fields after the values for an entity the stream has (built once, shared). */
  stream: Status | null;
  /** The published partition's metadata; undefined until needed. */
  meta: PublishedMeta | null | undefined;
}

/** An answer's fields but view, key, at and values: one object per view and source, shared. */
type Status = Omit<ViewAnswer, 'values' | 'view' | 'key' | 'at'>;

/** What single GETs of one view at one read time share (Reader.getMemo). */
interface GetMemo {
  cps: Checkpoint[];
  at: Instant;
  r: ViewRead;
  fold: ViewFold;
  /** The answer's text before the key, between the key and the values, and after the values. */
  head: string;
  mid: string;
  suffix: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Reads of the online store (embedded or Redis), kept open across requests. */
class Reader {
  private readonly runtimes = new Map<string, ViewRuntime>();
  private readonly folds = new Map<string, ViewFold>();
  private readonly memos = new Map<string, GetMemo>();

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

  /** Freshness of the latest event (or partition cutoff) at the read time, against the view's bound. */
  private judge(view: View, at: Instant, latest: number) {
    const bound = view.checks?.find((c) => c.kind === 'freshness' && c.feature === undefined);
    const tooOld =
      bound?.kind === 'freshness' && latest < (windowStart(at, bound.maxAge, this.project.timezone) ?? 0);
    return { freshness: formatInstant(latest), age_seconds: Math.max(0, at - latest) / 1000, tooOld };
  }

  /** The view's checkpoints (refusing a read before a compaction horizon) and its stream status. */
  async prepare(view: View, at: Instant): Promise<ViewRead> {
    return this.prepared(view, at, await this.store.checkpointsOf(view.name));
  }

  private prepared(view: View, at: Instant, checkpoints: Checkpoint[]): ViewRead {
    const streamed = checkpoints.length > 0;
    let stream: Status | null = null;
    if (streamed) {
      checkExact(checkpoints, view, at);
      let latest = Number.NEGATIVE_INFINITY;
      for (const c of checkpoints) if (c.maxTs !== null && c.maxTs > latest) latest = c.maxTs;
      const j = Number.isFinite(latest) ? this.judge(view, at, latest) : null;
      stream = {
        feature_version: view.version,
        transformation_version: view.transformationVersion,
        source: 'stream',
        freshness: j?.freshness ?? null,
        age_seconds: j?.age_seconds ?? null,
        stale: j?.tooOld ?? false,
        ...(j?.tooOld ? { stale_reason: 'the stream lags beyond the freshness bound' } : {}),
      };
    }
    return { view, rt: this.runtime(view), at, atText: formatInstant(at), streamed, stream, meta: undefined };
  }

  /**
   * One entity's answer (a single GET), as JSON text when the stream has the entity. With the
   * embedded store (synchronous) the checkpoints and the state are read in one synchronous run, so
   * the store checks for commits once, and such an entity is answered without a promise.
   */
  answer(view: View, key: string, at: Instant): string | ViewAnswer | Promise<string | ViewAnswer> {
    const cps = this.store.checkpointsOf(view.name);
    if (cps instanceof Promise) return cps.then((c) => this.answerGet(this.getMemo(view, at, c), key, false));
    return this.answerGet(this.getMemo(view, at, cps), key, true);
  }

  /**
   * What single GETs of a view at one read time share, kept while the checkpoints (the same array
   * until a commit) and the read time stay the same: the view's status and the answer's fixed text.
   */
  private getMemo(view: View, at: Instant, cps: Checkpoint[]): GetMemo {
    const m = this.memos.get(view.name);
    if (m !== undefined && m.cps === cps && m.at === at) return m;
    const r = this.prepared(view, at, cps);
    let fold = this.folds.get(view.name);
    if (!fold) {
      fold = new ViewFold(view, this.project.timezone);
      this.folds.set(view.name, fold);
    }
    let suffix = '';
    if (r.stream) {
      const { feature_version: _f, transformation_version: _t, ...rest } = r.stream;
      suffix = `,${JSON.stringify(rest).slice(1)}`;
    }
    const memo: GetMemo = {
      cps,
      at,
      r,
      fold,
      head: `{"view":${JSON.stringify(view.name)},"key":`,
      mid:
        `,"at":${JSON.stringify(r.atText)},"feature_version":${JSON.stringify(view.version)},` +
        `"transformation_version":${JSON.stringify(view.transformationVersion)},"values":`,
      suffix,
    };
    this.memos.set(view.name, memo);
    return memo;
  }

  /** A single GET's answer: JSON text straight from the state when the stream has the entity. */
  private answerGet(
    m: GetMemo,
    key: string,
    checked: boolean,
  ): string | ViewAnswer | Promise<string | ViewAnswer> {
    // the published partition's metadata is not kept across requests
    if (!m.r.streamed) return this.answerOf({ ...m.r, meta: undefined }, key, null);
    const state = this.store.getState(m.r.view.name, key, checked);
    if (state instanceof Promise) return state.then((s) => this.textOf(m, key, s));
    return this.textOf(m, key, state);
  }

  private textOf(
    m: GetMemo,
    key: string,
    state: EntityState | null,
  ): string | ViewAnswer | Promise<ViewAnswer> {
    const values = m.fold.json(state, m.at);
    if (values !== null) return m.head + JSON.stringify(key) + m.mid + values + m.suffix;
    return this.answerOf({ ...m.r, meta: undefined }, key, null);
  }

  private answerOf(r: ViewRead, key: string, state: EntityState | null): ViewAnswer | Promise<ViewAnswer> {
    const values = valuesOf(r.rt, state, r.at);
    if (r.stream && values !== null) return this.withStatus(r, key, values, r.stream);
    return this.rest(r, [key], [values]).then((a) => a[0] as ViewAnswer);
  }

  /** The answers of many entities of one view (a batch): their states read in one lookup. */
  async answerMany(
    r: ViewRead,
    keys: readonly string[],
  ): Promise<{ values: ViewAnswer['values']; status: Status }[]> {
    const states = r.streamed ? await this.store.getStates(r.view.name, keys) : null;
    const values = keys.map((_k, i) => valuesOf(r.rt, states?.[i] ?? null, r.at));
    if (r.stream && values.every((v) => v !== null)) {
      const stream = r.stream;
      return values.map((v) => ({ values: v, status: stream }));
    }
    return (await this.rest(r, keys, values)).map((a) => {
      const { values: v, view: _n, key: _k, at: _a, ...status } = a;
      return { values: v, status };
    });
  }

  private withStatus(r: ViewRead, key: string, values: ViewAnswer['values'], s: Status): ViewAnswer {
    // the versions before the values, as answers always had them (keys keep their first position)
    const versions = { feature_version: s.feature_version, transformation_version: s.transformation_version };
    return { view: r.view.name, key, at: r.atText, ...versions, values, ...s };
  }

  /** Answers given the stream's values: an entity the stream lacks may have a published batch value. */
  private async rest(
    r: ViewRead,
    keys: readonly string[],
    streamValues: (ViewAnswer['values'] | null)[],
  ): Promise<ViewAnswer[]> {
    const view = r.view;
    if (r.meta === undefined) r.meta = await this.store.publishedMeta(view.name);
    const meta = r.meta;
    const out: ViewAnswer[] = [];
    let batch: Status | undefined;
    for (const [i, key] of keys.entries()) {
      const sv = streamValues[i] ?? null;
      if (r.stream && (sv !== null || !meta)) {
        out.push(this.withStatus(r, key, sv, r.stream));
        continue;
      }
      if (!meta) {
        out.push(
          this.withStatus(r, key, null, {
            feature_version: view.version,
            transformation_version: view.transformationVersion,
            source: 'none',
            freshness: null,
            age_seconds: null,
            stale: true,
            stale_reason: `nothing online: run 'asof stream --view ${view.name}' or 'asof publish --view ${view.name}'`,
          }),
        );
        continue;
      }
      const current =
        meta.featureVersion === view.version && meta.transformationVersion === view.transformationVersion;
      if (!batch) {
        const j = this.judge(view, r.at, Date.parse(meta.cutoff));
        const reason = r.streamed
          ? 'only a batch value exists for this streamed view'
          : !current
            ? 'the published partition is of another feature or transformation version'
            : j.tooOld
              ? 'the published partition is older than the freshness bound'
              : undefined;
        batch = {
          feature_version: view.version,
          transformation_version: view.transformationVersion,
          source: 'batch',
          as_of_date: meta.asOfDate,
          freshness: j.freshness,
          age_seconds: j.age_seconds,
          stale: reason !== undefined,
          ...(reason ? { stale_reason: reason } : {}),
        };
      }
      const values = current ? await this.store.publishedValues(view.name, key) : null;
      out.push(this.withStatus(r, key, values, batch));
    }
    return out;
  }
}

/** The embedded store's state cache lookups (Prometheus text). */
function cacheMetrics(): string {
  const c = stateCacheCounts;
  return [
    '# HELP asof_serve_state_cache_hits_total Entity states answered from the decoded-state cache.',
    '# TYPE asof_serve_state_cache_hits_total counter',
    `asof_serve_state_cache_hits_total ${c.hits}`,
    '# HELP asof_serve_state_cache_misses_total Entity states read from the embedded store (not cached, or dropped after a commit).',
    '# TYPE asof_serve_state_cache_misses_total counter',
    `asof_serve_state_cache_misses_total ${c.misses}`,
    '',
  ].join('\n');
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
  // reply.elapsedTime runs from the start of routing, where an onRequest hook would have started it
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, reply.elapsedTime);
    done();
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

  /** Whether a route of this scope checks anything (a token or the rate) before its handler. */
  const checks = (scope: 'read' | 'ingest' | 'admin' | null) =>
    rate !== undefined || (scope !== null && (scope !== 'read' || settings?.readRequiresToken === true));

  /** Token and rate checks; 401 without a valid token, 403 without the scope, 429 over the rate. */
  const check = (scope: 'read' | 'ingest' | 'admin' | null, req: FastifyRequest, reply: FastifyReply) => {
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
  const guard =
    (scope: 'read' | 'ingest' | 'admin' | null) => async (req: FastifyRequest, reply: FastifyReply) =>
      check(scope, req, reply);
  /** The read routes' hooks: none when reads are open and unlimited, else a callback (no promise). */
  const readHooks = checks('read')
    ? {
        preHandler: (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
          try {
            check('read', req, reply);
          } catch (e) {
            return done(e as Error);
          }
          done();
        },
      }
    : {};

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
  // the last read time parsed: clients tend to send the same `at` in bursts
  let lastAtText: string | undefined;
  let lastAt = 0;
  const readTime = (text: string | undefined, field: string): Instant => {
    if (text === undefined) return opts.clock.now();
    if (text === lastAtText) return lastAt;
    const at = text.length <= 64 ? parseReadTime(text, project.timezone) : null;
    if (at === null || !Number.isFinite(at)) {
      throw new HttpError(
        400,
        `${field} '${text.slice(0, 64)}' is not a timestamp (e.g. 2025-03-31T12:00:00Z)`,
      );
    }
    lastAtText = text;
    lastAt = at;
    return at;
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  // with tokens declared, metrics need the admin scope; without, they are open like the reads
  app.get('/metrics', { preHandler: guard(tokens.length > 0 ? 'admin' : null) }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; version=0.0.4');
    return metrics.render() + cacheMetrics() + streamMetrics(dir);
  });

  app.get<{ Params: { view: string; key: string }; Querystring: { at?: string } }>(
    '/v1/features/:view/:key',
    {
      ...readHooks,
      schema: {
        querystring: {
          type: 'object',
          properties: { at: { type: 'string' } },
          additionalProperties: false,
        },
      },
    },
    (req, reply) => {
      const view = viewOf(req.params.view);
      checkKey(req.params.key, 'key');
      const a = reader.answer(view, req.params.key, readTime(req.query.at, 'at'));
      // JSON text already (the answer of an entity the stream has): sent as it is
      if (typeof a === 'string') reply.header('content-type', JSON_TYPE);
      else if (a instanceof Promise)
        return a.then((x) => (typeof x === 'string' ? reply.header('content-type', JSON_TYPE).send(x) : x));
      return a;
    },
  );

  app.post<{ Body: { entities: string[]; features: string[]; at?: string } }>(
    '/v1/features',
    {
      ...readHooks,
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
      const keys = req.body.entities;
      // per view: its checkpoints and status once, then every entity's state in one lookup
      const answers: {
        w: { view: View; features: string[] };
        rows: { values: ViewAnswer['values']; status: Status }[];
      }[] = [];
      for (const w of wanted.values()) {
        answers.push({ w, rows: await reader.answerMany(await reader.prepare(w.view, at), keys) });
      }
      const entities = keys.map((key, i) => {
        const values: Record<string, Value> = {};
        const status: Record<string, Status> = {};
        for (const { w, rows } of answers) {
          const a = rows[i] as (typeof rows)[number];
          for (const f of w.features) values[`${w.view.name}:${f}`] = a.values ? (a.values[f] ?? null) : null;
          status[w.view.name] = a.status;
        }
        return { key, values, views: status };
      });
      return { at: formatInstant(at), views, entities };
    },
  );

  await registerIngest(app, project, guard, opts.stream);

  registerDashboard(app, project, guard('read'));
  return app;
}
