// A view reading a model folds the model's version into its transformation_version; a view over
// files keeps its version (so existing partitions are not marked changed by the fold itself).

import { describe, expect, it } from 'vitest';
import { foldModelVersions, viewDefinitionLines } from '../../src/spec/hash.js';
import { parseProjectYaml } from '../../src/spec/parse.js';

const yaml = `
project: p
timezone: UTC
sources:
  events: { path: data/e.csv, timestamp: ts, columns: { user_id: string, ts: timestamp } }
  sessions:
    model: refined.sessions
    timestamp: session_start
    columns: { user_id: string, session_start: timestamp, clicks: int }
entities:
  user: { key: user_id }
views:
  over_files: { entity: user, source: events, features: { n: { agg: count, window: 7d } } }
  over_model:
    entity: user
    source: { model: refined.sessions }
    features: { clicks_7d: { agg: sum, column: clicks, window: 7d } }
`;

describe('foldModelVersions', () => {
  const project = parseProjectYaml(yaml, '/p/asof.yaml', '/p');

  it('changes the version of a view over a model when, and only when, the model version changes', () => {
    const a = foldModelVersions(project, { 'refined.sessions': 'aaaa' });
    const a2 = foldModelVersions(project, { 'refined.sessions': 'aaaa' });
    const b = foldModelVersions(project, { 'refined.sessions': 'bbbb' });
    expect(a.views.over_model?.transformationVersion).toBe(a2.views.over_model?.transformationVersion);
    expect(a.views.over_model?.transformationVersion).not.toBe(b.views.over_model?.transformationVersion);
    expect(a.views.over_model?.transformationVersion).not.toBe(
      project.views.over_model?.transformationVersion,
    );
    expect(a.views.over_model?.model).toEqual({ name: 'refined.sessions', version: 'aaaa' });
  });

  it('leaves a view over files as it is', () => {
    const a = foldModelVersions(project, { 'refined.sessions': 'aaaa' });
    expect(a.views.over_files).toBe(project.views.over_files);
  });

  it('names the model version in the definition lines the change log diffs', () => {
    const a = foldModelVersions(project, { 'refined.sessions': 'aaaa' });
    const view = a.views.over_model;
    if (!view) throw new Error('no view');
    expect(viewDefinitionLines(a, view)).toContain('model refined.sessions: aaaa');
    expect(viewDefinitionLines(a, view)).toContain('feature clicks_7d: sum(clicks) over 7d');
  });
});
