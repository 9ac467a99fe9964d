#!/usr/bin/env node
// Installs what the test suite needs where it is missing (Debian packages via apt-get), so that
// `npm test` works on a fresh machine. Each entry: a binary the tests run -> the package with it.
import { execFileSync, spawnSync } from 'node:child_process';

const NEEDED = [
  { bin: '/usr/lib/postgresql/15/bin/initdb', pkg: 'postgresql-15' }, // ELT warehouse tests (test/support/postgres.ts)
  { bin: '/usr/lib/postgresql/15/lib/wal2json.so', pkg: 'postgresql-15-wal2json' }, // CDC tests (logical decoding)
  { bin: 'java', pkg: 'openjdk-17-jre-headless' }, // Spark engine tests (pyspark runs on a JVM)
  { bin: 'redis-server', pkg: 'redis-server' }, // stream tests: Redis Streams source (test/support/redis.ts)
  { bin: 'nats-server', pkg: 'nats-server' }, // stream tests: NATS JetStream source (test/support/nats.ts)
  { bin: '/usr/bin/chromium', pkg: 'chromium' }, // dashboard tests: headless Chromium driven by playwright-core (test/web)
];

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const missing = NEEDED.filter((n) => !has(n.bin));
if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (!has('apt-get')) {
    console.error(`test setup: missing ${pkgs.join(', ')} and no apt-get to install them`);
    process.exit(1);
  }
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  console.error(`test setup: installing ${pkgs.join(', ')} ...`);
  const run = (args) =>
    execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', ...pkgs]);
}

// pyspark for the Spark engine tests, in a venv under the repository (gitignored): the engine finds
// .venv-spark/bin/python by itself (the version the Spark tests were written against). A first install takes about a minute (~520 MB); once present,
// this is one import check.
{
  const { existsSync } = await import('node:fs');
  const venv = new URL('../.venv-spark/', import.meta.url).pathname;
  const python = `${venv}bin/python`;
  const ok = () => existsSync(python) && spawnSync(python, ['-c', 'import pyspark']).status === 0;
  if (!ok()) {
    console.error('test setup: installing pyspark into .venv-spark ...');
    if (!existsSync(python)) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(python, ['-m', 'pip', 'install', '-q', 'pyspark==4.3.0'], { stdio: 'inherit' });
  }
}
