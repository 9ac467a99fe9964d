// A CLI run that kills itself with SIGKILL around its Nth online-store commit (ASOF_FAULT=
// before:N or after:N), so a fault lands at an exact point of a checkpoint instead of a lucky
// moment. Patches the class method, then runs the real CLI entry point with the given arguments.

import { OnlineStore } from '../../src/storage/online/sqlite.js';

const [when, nText] = (process.env.ASOF_FAULT ?? '').split(':');
const n = Number(nText);
let commits = 0;
const commit = OnlineStore.prototype.commit;
OnlineStore.prototype.commit = function (this: OnlineStore, ...args: Parameters<typeof commit>) {
  commits++;
  if (when === 'before' && commits === n) process.kill(process.pid, 'SIGKILL');
  commit.apply(this, args);
  if (when === 'after' && commits === n) process.kill(process.pid, 'SIGKILL');
};
process.argv = [process.argv[0] as string, 'asof', ...process.argv.slice(2)];
await import('../../src/cli/main.js');
