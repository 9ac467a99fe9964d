// asof gen: the deterministic synthetic data generator (transactions, support tickets, clicks)
// writing Parquet or CSV plus a ready asof.yaml; the same options always give the same data.

import path from 'node:path';
import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { generate } from '../gen/index.js';
import { parseIsoDate } from '../time/index.js';

function count(name: string) {
  return (v: string): number => {
    const n = Number(v.replaceAll('_', ''));
    if (!/^[\d_]+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
      throw new AsofError('usage', `${name} '${v}' is not a whole number`);
    }
    return n;
  };
}

export function registerGen(program: Command): void {
  program
    .command('gen')
    .description('generate a deterministic synthetic data set and its asof.yaml')
    .requiredOption('--out <dir>', 'project folder to write (data/ and asof.yaml)')
    .option('--users <n>', 'users', count('--users'), 1000)
    .option('--events <n>', 'transactions (tickets are ~1/20 of it, clicks ~1/2)', count('--events'), 100_000)
    .option('--days <n>', 'days of events', count('--days'), 90)
    .option('--end-date <date>', 'last day of events, YYYY-MM-DD', '2025-06-30')
    .option('--seed <n>', 'random seed', count('--seed'), 1)
    .option('--format <format>', 'parquet or csv', 'parquet')
    .option('--timezone <tz>', 'IANA time zone of the project', 'UTC')
    .action(
      async (opts: {
        out: string;
        users: number;
        events: number;
        days: number;
        endDate: string;
        seed: number;
        format: string;
        timezone: string;
      }) => {
        if (opts.format !== 'parquet' && opts.format !== 'csv') {
          throw new AsofError('usage', `--format '${opts.format}' is not parquet or csv`);
        }
        const result = await generate({
          out: opts.out,
          users: opts.users,
          events: opts.events,
          days: opts.days,
          endDate: parseIsoDate(opts.endDate, '--end-date'),
          seed: opts.seed,
          format: opts.format,
          timezone: opts.timezone,
        });
        for (const f of result.files) {
          process.stderr.write(`  ${f.source}: ${f.rows} rows -> ${path.relative(process.cwd(), f.path)}\n`);
        }
        process.stdout.write(
          `generated ${result.files.reduce((n, f) => n + f.rows, 0)} rows in ${(result.durationMs / 1000).toFixed(1)} s; spec: ${path.relative(process.cwd(), result.specPath)}\n`,
        );
      },
    );
}
