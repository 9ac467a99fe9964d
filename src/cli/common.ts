// Options and output helpers shared by the commands (the --project option, the logger on stderr).

import type { Command } from 'commander';
import type { Logger } from '../pipeline/log.js';

export function projectOption(cmd: Command): Command {
  return cmd.option('-p, --project <dir>', 'project folder (or spec file)', '.');
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
