// Picks the views a command works on: the named ones (an unknown name is a usage error listing
// the views), or every view when none is named.

import { AsofError } from '../errors.js';
import type { Project, View } from './project.js';

export function selectViews(project: Project, names: string[] | undefined): View[] {
  const all = Object.values(project.views);
  if (!names || names.length === 0) {
    if (all.length === 0)
      throw new AsofError('spec', 'the project declares no views', { file: project.specFile });
    return all;
  }
  return names.map((n) => {
    const v = project.views[n];
    if (!v) {
      throw new AsofError(
        'usage',
        `unknown view '${n}'`,
        { file: project.specFile },
        `views: ${Object.keys(project.views).join(', ')}`,
      );
    }
    return v;
  });
}
