// The spec's engine settings for DuckDB (memory_limit, threads): validated with their place, applied
// to the engine a batch run opens, and never part of a transformation_version.

import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engines/open.js';
import { isAsofError } from '../../src/errors.js';
import { parseProjectYaml } from '../../src/spec/parse.js';
import { spec } from '../support/project.js';

const base = spec({ features: { a: '{ agg: sum, column: amount, window: 7d }' } });
const load = (text: string) => parseProjectYaml(text, 'asof.yaml', '/tmp/p');

describe('engine: { memory_limit, threads }', () => {
  it('caps the DuckDB engine a batch run opens, without changing any version', async () => {
    const project = load(`${base}engine: { type: duckdb, memory_limit: 1500MB, threads: 1 }\n`);
    expect(project.engine).toEqual({ type: 'duckdb', memoryLimit: '1500MB', threads: 1 });
    expect(project.views.v?.transformationVersion).toBe(load(base).views.v?.transformationVersion);
    const engine = await openEngine(project.engine);
    try {
      const r = await engine.query("SELECT current_setting('memory_limit'), current_setting('threads')");
      // DuckDB reports the cap in its own units (1500MB = 1.3 GiB)
      expect(String(r.rows[0]?.[0])).toMatch(/^1\.3 GiB$/);
      expect(Number(r.rows[0]?.[1])).toBe(1);
    } finally {
      await engine.close();
    }
  });

  it('refuses a size that is not one, naming the field', () => {
    let caught: unknown;
    try {
      load(`${base}engine: { memory_limit: lots }\n`);
    } catch (e) {
      caught = e;
    }
    expect(isAsofError(caught)).toBe(true);
    expect(String((caught as Error).message)).toMatch(/memory_limit/);
    expect(String((caught as Error).message)).toMatch(/2GB/);
  });
});
