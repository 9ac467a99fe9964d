// The dashboard of `asof serve`: JSON data endpoints under /api/ (partitions, quality, streaming,
// runs, lineage, dictionary) over the pipeline's readers, and the built front end (web/, bundled by
// Vite into dist/web) at `/`. Read-only; nothing here writes to the lake or the stores.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { dictionary } from '../pipeline/dictionary.js';
import { featureQuality } from '../pipeline/feature-quality.js';
import { lineage } from '../pipeline/lineage.js';
import { partitionCalendar } from '../pipeline/partitions.js';
import { StreamHistory } from '../pipeline/stream-status.js';
import type { Project } from '../spec/project.js';
import { readRuns } from '../storage/meta/runs.js';
import { onlineDir } from '../stream/job.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** dist/web of the package this file belongs to (from dist/serve or, under tsx, src/serve). */
export function webDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web');
    dir = path.dirname(dir);
  }
  return path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web');
}

/**
 * The data routes (/api/...) take `guard`: the same token rule as the feature reads, so a project
 * whose reads need a token does not show its run history, lineage and quality to anyone. The page
 * and its assets hold no data and stay open; the page asks for a token when a route says 401.
 */
export function registerDashboard(
  app: FastifyInstance,
  project: Project,
  guard: preHandlerAsyncHookHandler,
): void {
  const history = new StreamHistory(onlineDir(project));
  history.sample();
  // sampled on a timer so that the history covers the time no page was open
  const timer = setInterval(() => history.sample(), 500);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  const web = webDir();

  app.get('/api/overview', { preHandler: guard }, async () => ({
    project: project.name,
    timezone: project.timezone,
    views: Object.values(project.views).map((v) => ({
      name: v.name,
      version: v.version,
      transformation_version: v.transformationVersion,
      features: v.features.length,
    })),
  }));
  app.get('/api/partitions', { preHandler: guard }, async () => partitionCalendar(project));
  // one view at a time: drift over every pair of dates is the costly part on a cold start
  app.get<{ Querystring: { view?: string } }>('/api/quality', { preHandler: guard }, async (req, reply) => {
    const view = req.query.view;
    if (view !== undefined && !Object.hasOwn(project.views, view)) {
      return reply.code(404).send({ error: `unknown view '${view.slice(0, 64)}'` });
    }
    return { features: await featureQuality(project, view ? { views: [view] } : {}) };
  });
  app.get('/api/streaming', { preHandler: guard }, async () => {
    history.sample();
    return { sources: history.snapshot() };
  });
  app.get('/api/runs', { preHandler: guard }, async () => ({
    runs: readRuns(project.storage.offline).reverse().slice(0, 500),
  }));
  app.get('/api/lineage', { preHandler: guard }, async () => lineage(project));
  app.get('/api/dictionary', { preHandler: guard }, async () => dictionary(project));

  const send = (file: string, reply: import('fastify').FastifyReply) => {
    if (!existsSync(file)) {
      return reply
        .code(404)
        .send({ error: `the dashboard is not built (${file} is missing): run 'npm run build'` });
    }
    reply.header('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream');
    return reply.send(readFileSync(file));
  };
  app.get('/', async (_req, reply) => send(path.join(web, 'index.html'), reply));
  app.get<{ Params: { name: string } }>('/assets/:name', async (req, reply) => {
    // only plain file names: no way out of the assets folder
    if (!/^[\w.-]+$/.test(req.params.name) || req.params.name.startsWith('.')) {
      return reply.code(404).send({ error: 'no such asset' });
    }
    return send(path.join(web, 'assets', req.params.name), reply);
  });
}
