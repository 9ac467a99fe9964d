// One writer per view: a lock file created exclusively, naming its holder. A lock whose process is
// gone (crashed, killed) is stale and taken over, so a crash never leaves a view stuck.

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AsofError } from '../../errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started_at: string;
}

export interface Lock {
  file: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

/** Takes the lock of `name` under `dir`, or throws an AsofError('lock') naming the holder. */
export function acquireLock(dir: string, name: string, command: string, now: Date): Lock {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.lock`);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), command, started_at: now.toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return { file, release: () => releaseIfMine(file) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(file);
      const stale = !holder || (holder.host === os.hostname() && !alive(holder.pid));
      if (stale && attempt === 0) {
        rmSync(file, { force: true });
        continue;
      }
      throw new AsofError(
        'lock',
        `'${name}' is locked by ${holder ? `pid ${holder.pid} on ${holder.host} (${holder.command}, since ${holder.started_at})` : 'another run'}`,
        { file },
        'wait for that run to finish; if it is gone from another machine, delete the lock file',
      );
    }
  }
  throw new AsofError('lock', `could not take the lock of '${name}'`, { file });
}

function releaseIfMine(file: string): void {
  if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
}
