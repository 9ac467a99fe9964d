#!/usr/bin/env node
// The asof command line: one file per command; this file wires them and maps errors to exit codes.

import { Command, CommanderError } from 'commander';
import { diskFullError, EXIT_CODES, isAsofError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import { registerAudit } from './audit.js';
import { registerBackfill } from './backfill.js';
import { registerBuild } from './build.js';
import { registerCdc } from './cdc.js';
import { registerChanges } from './changes.js';
import { registerDemo } from './demo.js';
import { registerDocs } from './docs.js';
import { registerGen } from './gen.js';
import { registerGet } from './get.js';
import { registerInit } from './init.js';
import { registerLoad } from './load.js';
import { registerModels } from './models.js';
import { registerParity } from './parity.js';
import { registerPublish } from './publish.js';
import { registerQuery } from './query.js';
import { registerRun } from './run.js';
import { registerMetrics, registerRuns, registerSchema } from './runs.js';
import { registerSchedule } from './schedule.js';
import { registerServe } from './serve.js';
import { registerShow } from './show.js';
import { registerStream } from './stream.js';
import { registerTrainingSet } from './training-set.js';
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
  registerBackfill(program);
  registerShow(program);
  registerTrainingSet(program);
  registerAudit(program);
  registerDemo(program);
  registerStream(program);
  registerGet(program);
  registerParity(program);
  registerServe(program);
  registerPublish(program);
  registerRun(program);
  registerRuns(program);
  registerSchema(program);
  registerMetrics(program);
  registerSchedule(program);
  registerGen(program);
  registerCdc(program);
  registerLoad(program);
  registerQuery(program);
  registerModels(program);
  registerChanges(program);
  registerDocs(program);
  program.addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 unexpected, 2 usage or spec error, 3 contract violation, 4 quality gate failed, 5 lock held, 6 notify failed (the load stays).',
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
    const known = isAsofError(e) ? e : diskFullError(e);
    if (known) {
      process.stderr.write(`error: ${known.describe()}\n`);
      return known.exitCode;
    }
    process.stderr.write(`unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_CODES.unexpected;
  }
}

process.exitCode = await main(process.argv);
