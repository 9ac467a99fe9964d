// Resolves a source's path or glob to the files to read, with the fingerprint (size, mtime)
// recorded in manifests; a missing file is an error naming the spec path.

import { statSync } from 'node:fs';
import path from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import type { SourceFile } from '../engines/engine.js';
import { AsofError } from '../errors.js';
import { contentHash } from '../spec/hash.js';
import type { Project, Source } from '../spec/project.js';

export function resolveSourceFiles(project: Project, source: Source): SourceFile[] {
  const pattern = path.resolve(project.root, source.path);
  const paths = isDynamicPattern(source.path)
    ? globSync(source.path, { cwd: project.root, absolute: true, onlyFiles: true }).sort()
    : [pattern];
  const files: SourceFile[] = [];
  for (const p of paths) {
    try {
      const st = statSync(p);
      if (!st.isFile()) throw new Error('not a file');
      files.push({ path: p, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
    } catch {
      throw new AsofError('spec', `source '${source.name}': file not found: ${p}`, {
        file: project.specFile,
        specPath: `sources.${source.name}.path`,
      });
    }
  }
  if (files.length === 0) {
    throw new AsofError('spec', `source '${source.name}': no file matches '${source.path}'`, {
      file: project.specFile,
      specPath: `sources.${source.name}.path`,
    });
  }
  return files;
}

/** A short hash of the files as read: changes when any file is added, removed or modified. */
export function sourceFingerprint(files: SourceFile[]): string {
  return contentHash(files.map((f) => [f.path, f.size, f.mtimeMs]));
}
