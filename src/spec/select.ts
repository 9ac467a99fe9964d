// Picks the views a command works on: the named ones (an unknown name is a usage error listing
// the views), or every view when none is named; selectView for commands on one view.

import { AsofError } from '../errors.js';
import type { Project, View } from './project.js';

export function selectViews(project: Project, names: string[] | undefined): View[] {
  const all = Object.values(project.views);
  if (!names || names.length === 0) {
    if (all.length === 0)
      throw new AsofError('spec', 'the project declares no views', { file: project.specFile });
    return all;
  }
  return names.map((n) => selectView(project, n));
}

/** The view called `name`; an unknown name is a usage error listing the views. */
export function selectView(project: Project, name: string): View {
  const v = project.views[name];
  if (!v) {
    throw new AsofError(
      'usage',
      `unknown view '${name}'`,
      { file: project.specFile },
      `views: ${Object.keys(project.views).join(', ')}`,
    );
  }
  return v;
}
