// Options and output helpers shared by the commands (the --project option, the logger on stderr).

import { type Command, Option } from 'commander';
import { ENGINE_TYPES } from '../engines/open.js';
import type { Logger } from '../pipeline/log.js';

export function projectOption(cmd: Command): Command {
  return cmd.option('-p, --project <dir>', 'project folder (or spec file)', '.');
}

/** --engine, restricted to the engines there are; `description` says what it picks for this command. */
export function engineOption(description: string): Option {
  return new Option('--engine <engine>', description).choices(ENGINE_TYPES);
}

/** Repeatable option collector: --view a --view b, or --view a,b. */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

export const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
};
