// Starts a real nats-server (the Debian package) with JetStream on a free 127.0.0.1 port and a
// private store folder, for one test file; stop() ends it.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { tempDir } from './project.js';
import { freePort, type RunningServer } from './redis.js';

export async function startNats(): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(
    'nats-server',
    ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', tempDir('asof-nats-')],
    {
      stdio: 'ignore',
    },
  );
  const until = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > until) throw new Error('nats-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
