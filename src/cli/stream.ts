// asof stream --view V... --source stdin|file:PATH [--once]: run the streaming job into the
// online store and the lake's _events; prints a summary and the metrics file on stderr.

import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { selectViews } from '../spec/select.js';
import { runStream } from '../stream/job.js';
import { natsSource } from '../stream/nats-source.js';
import { redisSource } from '../stream/redis-source.js';
import { fileSource, type StreamSource, stdinSource } from '../stream/sources.js';
import { collect, projectOption, stderrLogger } from './common.js';

function int(v: string): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n <= 0) throw new AsofError('usage', `expected a positive integer, got '${v}'`);
  return n;
}

export function parseSourceSpec(spec: string, opts: { once: boolean; stop: () => boolean }): StreamSource {
  if (spec === 'stdin' || spec === '-') return stdinSource();
  if (spec.startsWith('file:')) return fileSource(spec.slice(5), { once: opts.once, stop: opts.stop });
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) {
    return redisSource(spec, { once: opts.once, stop: opts.stop });
  }
  if (spec.startsWith('nats://')) return natsSource(spec, { once: opts.once, stop: opts.stop });
  if (spec === 'http' || spec.startsWith('http:')) {
    throw new AsofError(
      'usage',
      'the http source runs inside the server',
      {},
      'run: asof serve --stream <view...> and POST events to /v1/ingest/<source>',
    );
  }
  throw new AsofError(
    'usage',
    `unknown stream source '${spec}'`,
    {},
    'use stdin, file:PATH, redis://host:port/key or nats://host:port/subject',
  );
}

export function registerStream(program: Command): void {
  projectOption(
    program
      .command('stream')
      .description('stream events into the online store and the lake, exactly once')
      .requiredOption('--view <name...>', 'the view(s) to maintain (one source)', collect)
      .requiredOption(
        '--source <spec>',
        'stdin | file:PATH | redis://host:port/stream-key | nats://host:port/subject',
      )
      .option(
        '--once',
        'stop at the end of a file (or of a Redis or JetStream stream) instead of following it',
        false,
      )
      .option('--checkpoint-events <n>', 'checkpoint after this many events', int, 10_000)
      .option('--checkpoint-ms <n>', 'checkpoint after this many milliseconds', int, 1_000)
      .option('--offline-events <n>', 'offline micro-batch after this many events', int, 100_000)
      .option('--offline-ms <n>', 'offline micro-batch after this many milliseconds', int, 10_000)
      .option('--fsync', 'sync every checkpoint to disk (survives power loss; slower)', false),
  ).action(
    async (opts: {
      view: string[];
      source: string;
      once: boolean;
      checkpointEvents: number;
      checkpointMs: number;
      offlineEvents: number;
      offlineMs: number;
      fsync: boolean;
      project: string;
    }) => {
      const project = await loadProject(opts.project);
      const views = selectViews(project, opts.view);
      let stop = false;
      const onSignal = () => {
        stop = true;
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      const summary = await runStream(project, {
        views,
        source: parseSourceSpec(opts.source, { once: opts.once, stop: () => stop }),
        checkpointEvents: opts.checkpointEvents,
        checkpointMs: opts.checkpointMs,
        offlineEvents: opts.offlineEvents,
        offlineMs: opts.offlineMs,
        fsync: opts.fsync,
        log: stderrLogger,
        stopRequested: () => stop,
      });
      const c = summary.checkpoint.counters;
      stderrLogger.info(
        `streamed ${summary.eventsRead} events in ${summary.seconds.toFixed(2)} s: ${c.accepted} accepted, ${c.late} late, ${c.dead} dead letters (totals); offset ${summary.checkpoint.nextSeq}`,
      );
    },
  );
}
