// Models' state is per warehouse: a model last built in another warehouse (`--engine spark`, then
// the DuckDB default) is new to this one, for `models build` and for every plan that prints it.

import { describe, expect, it } from 'vitest';
import { warehouseName } from '../../src/elt/warehouse.js';
import type { Project } from '../../src/spec/project.js';
import { type ModelState, modelsStateIn } from '../../src/storage/meta/models.js';

const built = (warehouse?: string): ModelState => ({
  version: 'v1',
  definition_hash: 'h',
  materialization: 'table',
  status: 'ok',
  built_at: '2026-12-04T00:00:00Z',
  run_id: 'r',
  partitions: [],
  text: 'select 1',
  ...(warehouse ? { warehouse } : {}),
});

describe('models state per warehouse', () => {
  it('keeps the models built in the warehouse asked for, and those of states written before warehouses were recorded', () => {
    const state = { models: { a: built('duckdb'), b: built('spark'), c: built() } };
    expect(Object.keys(modelsStateIn(state, 'duckdb').models).sort()).toEqual(['a', 'c']);
    expect(Object.keys(modelsStateIn(state, 'spark').models).sort()).toEqual(['b', 'c']);
    expect(Object.keys(modelsStateIn(state, 'postgres').models)).toEqual(['c']);
  });

  it('names the warehouse a run would use: PostgreSQL when declared, else Spark for a Spark run, else DuckDB', () => {
    const p = (o: Partial<Project>) => o as Project;
    expect(warehouseName(p({}))).toBe('duckdb');
    expect(warehouseName(p({}), 'spark')).toBe('spark');
    expect(warehouseName(p({ engine: { type: 'spark' } } as Partial<Project>))).toBe('spark');
    expect(warehouseName(p({ engine: { type: 'spark' } } as Partial<Project>), 'duckdb')).toBe('duckdb');
    expect(
      warehouseName(p({ warehouse: { type: 'postgres', url: 'postgres://x' } } as Partial<Project>), 'spark'),
    ).toBe('postgres');
  });
});
