// asof docs [--out DIR]: writes the data dictionary as Markdown (dictionary.md) and static HTML
// (dictionary.html): every feature's definition, versions, owner, checks, lineage and latest quality.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { dictionary, dictionaryHtml, dictionaryMarkdown } from '../pipeline/dictionary.js';
import { loadProject } from '../pipeline/project.js';
import { projectOption } from './common.js';

export function registerDocs(program: Command): void {
  projectOption(
    program
      .command('docs')
      .description('write the data dictionary (Markdown and HTML) of every feature')
      .option('--out <dir>', 'output folder (relative to the current folder)', 'asof-docs'),
  ).action(async (opts: { out: string; project: string }) => {
    const project = await loadProject(opts.project);
    const d = await dictionary(project);
    const out = path.resolve(opts.out);
    mkdirSync(out, { recursive: true });
    for (const [name, text] of [
      ['dictionary.md', dictionaryMarkdown(d)],
      ['dictionary.html', dictionaryHtml(d)],
    ] as const) {
      const file = path.join(out, name);
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
      process.stdout.write(`${path.relative(process.cwd(), file) || file}\n`);
    }
    process.stderr.write(`asof docs: ${d.entries.length} features of ${d.project}\n`);
  });
}
