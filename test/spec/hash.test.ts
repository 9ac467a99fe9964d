// transformation_version: a content hash of what changes rows; formatting, comments, key order,
// descriptions and owners never change it.

import { describe, expect, it } from 'vitest';
import { parseProjectYaml } from '../../src/spec/parse.js';
import { spec } from '../support/project.js';

const load = (text: string) => parseProjectYaml(text, 'asof.yaml', '/tmp/p').views.v!.transformationVersion;

describe('transformation_version', () => {
  const base = spec({
    where: "status = 'success'",
    features: { a: '{ agg: avg, column: amount, window: 7d }' },
  });

  it('is unchanged by whitespace, comments, key order, descriptions and owners', () => {
    const reformatted = base
      .replace("status = 'success'", "status   =  'success'")
      .replace(
        '{ agg: avg, column: amount, window: 7d }',
        '{ window: 7d, column: amount, agg: avg, description: "avg spend", owner: ml-team }',
      )
      .replace('project: t', '# a comment\nproject: t');
    expect(load(reformatted)).toBe(load(base));
  });

  it('changes with the filter, a window, an aggregation, the cutoff, the timezone or the contract', () => {
    const v = load(base);
    expect(load(base.replace("'success'", "'failed'"))).not.toBe(v);
    expect(load(base.replace('window: 7d', 'window: 8d'))).not.toBe(v);
    expect(load(base.replace('agg: avg', 'agg: sum'))).not.toBe(v);
    expect(load(base.replace('cutoff: end_of_day', 'cutoff: start_of_day'))).not.toBe(v);
    expect(load(base.replace('timezone: UTC', 'timezone: Europe/Paris'))).not.toBe(v);
    expect(load(base.replace('amount: double', 'amount: int'))).not.toBe(v);
  });

  it('is not changed by the feature_version (that is the path, not the logic)', () => {
    expect(load(base.replace('version: 1', 'version: 2'))).toBe(load(base));
  });
});
