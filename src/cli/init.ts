// asof init [DIR]: scaffolds a commented asof.yaml and a small data file a newcomer can edit.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { AsofError } from '../errors.js';
import { SAMPLE_TRANSACTIONS_CSV, STARTER_SPEC } from '../scaffold/starter.js';

export function registerInit(program: Command): void {
  program
    .command('init [dir]')
    .description('create a starter project (asof.yaml, data/) in DIR (default: the current folder)')
    .option('--force', 'overwrite an existing asof.yaml')
    .action((dir: string | undefined, opts: { force?: boolean }) => {
      const root = path.resolve(dir ?? '.');
      const spec = path.join(root, 'asof.yaml');
      if (existsSync(spec) && !opts.force) {
        throw new AsofError('usage', `${spec} already exists`, { file: spec }, 'use --force to overwrite it');
      }
      mkdirSync(path.join(root, 'data'), { recursive: true });
      writeFileSync(spec, STARTER_SPEC);
      const data = path.join(root, 'data', 'transactions.csv');
      if (!existsSync(data)) writeFileSync(data, SAMPLE_TRANSACTIONS_CSV);
      process.stdout.write(
        `created ${path.relative(process.cwd(), spec) || spec} and data/transactions.csv\nnext: asof validate --project ${dir ?? '.'} && asof build --project ${dir ?? '.'} --as-of 2025-01-10\n`,
      );
    });
}
