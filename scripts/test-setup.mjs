#!/usr/bin/env node
// Installs what the test suite needs where it is missing (Debian packages via apt-get), so that
// `npm test` works on a fresh machine. Each entry: a binary the tests run -> the package with it.
import { execFileSync, spawnSync } from 'node:child_process';

const NEEDED = [
  // { bin: 'redis-server', pkg: 'redis-server' },  (added by the issues that start servers)
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
