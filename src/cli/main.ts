#!/usr/bin/env node
// The asof command line: one file per command; this file wires them and maps errors to exit codes.

import { Command, CommanderError } from 'commander';
import { EXIT_CODES, isAsofError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { registerBuild } from './build.js';
import { registerDemo } from './demo.js';
import { registerInit } from './init.js';
import { registerShow } from './show.js';
import { registerValidate } from './validate.js';

export function createProgram(): Command {
  const program = new Command('asof')
    .description(
      'Time-correct machine-learning features: declare once, build as of any date, no future data.',
    )
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerValidate(program);
  registerBuild(program);
  registerShow(program);
  registerDemo(program);
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 unexpected, 2 usage or spec error, 3 contract violation, 4 quality gate failed, 5 lock held.',
  );
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return EXIT_CODES.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    if (isAsofError(e)) {
      process.stderr.write(`error: ${e.describe()}\n`);
      return e.exitCode;
    }
    process.stderr.write(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_CODES.unexpected;
  }
}

process.exitCode = await main(process.argv);
