// asof serve [--port N] [--host H] [--stream V...]: the online feature API over the online store
// (streamed views) and published batch partitions; with --stream, the named views are streamed in
// this process from POST /v1/ingest/<source>. SIGINT/SIGTERM stop gracefully: requests in flight
// finish, then each stream job writes its final checkpoint.

import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { createServer } from '../serve/server.js';
import { selectViews } from '../spec/select.js';
import { systemClock } from '../time/index.js';
import { collect, projectOption, stderrLogger } from './common.js';

export function registerServe(program: Command): void {
  projectOption(
    program
      .command('serve')
      .description(
        'serve features over HTTP: GET /v1/features/<view>/<key>, POST /v1/features, POST /v1/ingest/<source>',
      )
      .option('--port <n>', 'port (0 picks a free one)', '8080')
      .option('--host <host>', 'interface to listen on', '127.0.0.1')
      .option('--stream <view...>', 'stream these views in-process from POST /v1/ingest/<source>', collect)
      .option('--fsync', 'sync the ingest log and checkpoints to disk (survives power loss; slower)', false),
  ).action(
    async (opts: { port: string; host: string; stream?: string[]; fsync: boolean; project: string }) => {
      const port = Number.parseInt(opts.port, 10);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new AsofError('usage', `--port '${opts.port}' is not a port number`);
      }
      const project = await loadProject(opts.project);
      let failure: Error | undefined;
      let stop: () => void = () => {};
      const app = await createServer(project, {
        clock: systemClock,
        env: process.env,
        stream: opts.stream
          ? {
              views: selectViews(project, opts.stream),
              fsync: opts.fsync,
              log: stderrLogger,
              onError: (source, e) => {
                failure = new AsofError(
                  'usage',
                  `the stream job of source '${source}' stopped: ${e.message}`,
                );
                stop();
              },
            }
          : undefined,
      });
      // the handlers are in place before anyone can learn the address: a signal right after is graceful too
      const stopped = new Promise<void>((resolve) => {
        stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          app.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const address = await app.listen({ port, host: opts.host });
      process.stderr.write(`asof serve: listening on ${address}\n`);
      process.stderr.write(`asof serve: dashboard at ${address}/\n`);
      await stopped;
      if (failure) throw failure;
      process.stderr.write('asof serve: stopped\n');
    },
  );
}
