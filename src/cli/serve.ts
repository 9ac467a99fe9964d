// asof serve [--port N] [--host H]: the online feature API over the online store (streamed views)
// and published batch partitions; stops gracefully on SIGINT/SIGTERM (requests in flight finish).

import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { loadProject } from '../pipeline/project.js';
import { createServer } from '../serve/server.js';
import { systemClock } from '../time/index.js';
import { projectOption } from './common.js';

export function registerServe(program: Command): void {
  projectOption(
    program
      .command('serve')
      .description('serve features over HTTP: GET /v1/features/<view>/<key>, POST /v1/features')
      .option('--port <n>', 'port (0 picks a free one)', '8080')
      .option('--host <host>', 'interface to listen on', '127.0.0.1'),
  ).action(async (opts: { port: string; host: string; project: string }) => {
    const port = Number.parseInt(opts.port, 10);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new AsofError('usage', `--port '${opts.port}' is not a port number`);
    }
    const project = await loadProject(opts.project);
    const app = await createServer(project, { clock: systemClock, env: process.env });
    const address = await app.listen({ port, host: opts.host });
    process.stderr.write(`asof serve: listening on ${address}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        app.close().then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.stderr.write('asof serve: stopped\n');
  });
}
