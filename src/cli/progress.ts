// Backfill progress for people: a bar redrawn in place on a terminal (partitions done/total,
// rows/s, ETA), one plain line per partition otherwise (logs, CI, pipes).

import type { BackfillProgress } from '../pipeline/backfill.js';
import type { Logger } from '../pipeline/log.js';

export interface Progress {
  /** The logger to hand the pipeline: silent about partitions while a bar is drawn. */
  log: Logger;
  update(p: BackfillProgress): void;
  finish(): void;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

export function progressFor(stream: NodeJS.WriteStream, now: () => number): Progress {
  const started = now();
  const plain: Logger = {
    info: (m) => stream.write(`${m}\n`),
    warn: (m) => stream.write(`warning: ${m}\n`),
  };
  if (!stream.isTTY) return { log: plain, update: () => {}, finish: () => {} };
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    log: {
      info: () => {},
      warn: (m) => {
        clear();
        stream.write(`warning: ${m}\n`);
      },
    },
    update(p) {
      const secs = Math.max(0.001, (now() - started) / 1000);
      const width = 30;
      const filled = p.total === 0 ? width : Math.round((p.done / p.total) * width);
      const eta = p.done === 0 ? Number.NaN : (secs / p.done) * (p.total - p.done);
      clear();
      stream.write(
        `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${p.done}/${p.total} partitions  ${Math.round(p.rows / secs)} rows/s  ETA ${duration(eta)}  ${p.view} ${p.asOfDate}`,
      );
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
