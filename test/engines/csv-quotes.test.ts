// Pins that an unterminated quote in a CSV source is a contract error (exit 3) naming the file, line and
// column, whether DuckDB's sniffer reads the file without quoting (the stray quote would otherwise stay
// in the entity key) or with '"' quoting (the quote is past the sniffer's sample); and that quotes which
// do close, or stand inside a value, still load.

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openQuoteColumn } from '../../src/engines/duckdb/csv-quotes.js';
import { type AsofError, isAsofError } from '../../src/errors.js';
import { build } from '../../src/pipeline/build.js';
import { loadProject } from '../../src/pipeline/project.js';
import { showPartition } from '../../src/pipeline/show.js';
import { makeProject, spec } from '../support/project.js';

const HEAD = 'user_id,event_ts,amount,status';
const FEATURES = { n: '{ agg: count, window: all }' };

async function buildCsv(lines: string[]): Promise<{ error?: AsofError; dir: string }> {
  const dir = makeProject({ 'asof.yaml': spec({ features: FEATURES }), 'data/events.csv': '' });
  writeFileSync(path.join(dir, 'data', 'events.csv'), `${lines.join('\n')}\n`);
  const project = await loadProject(dir);
  try {
    await build(project, { asOf: '2025-01-10' });
    return { dir };
  } catch (e) {
    if (!isAsofError(e)) throw e;
    return { error: e, dir };
  }
}

const good = (n: number) => Array.from({ length: n }, (_, i) => `u${i % 3},2025-01-02T10:00:00Z,${i},ok`);

describe('an unterminated quote in a CSV source', () => {
  it('is refused with file, line and column when the file has no other quotes (read without quoting)', async () => {
    const { error, dir } = await buildCsv([HEAD, ...good(3), 'u1,2025-01-02T10:00:00Z,5,"ok', ...good(2)]);
    expect(error?.code).toBe('contract');
    expect(error?.exitCode).toBe(3);
    expect(error?.place).toMatchObject({
      file: path.join(dir, 'data', 'events.csv'),
      line: 5,
      column: 27,
      dataColumn: 'status',
    });
    expect(error?.message).toMatch(/an unterminated quote at line 5, column 27/);
    expect(error?.hint).toMatch(/close the quote/);
  });

  it('is refused with file, line and column when it lies past the sniffed sample of a quoted file', async () => {
    const lines = [
      HEAD,
      '"u0, x",2025-01-02T10:00:00Z,1,ok',
      ...good(25_000),
      '"u1,2025-01-02T10:00:00Z,5,ok',
    ];
    const { error, dir } = await buildCsv([...lines, ...good(2)]);
    expect(error?.exitCode).toBe(3);
    expect(error?.place).toMatchObject({
      file: path.join(dir, 'data', 'events.csv'),
      line: 25_003,
      column: 1,
    });
    expect(error?.describe()).toMatch(/events\.csv:25003:1: .*unterminated quote/);
  }, 60_000);

  it('does not refuse quotes that close, are escaped at the start of a value, or stand inside one', async () => {
    const { error, dir } = await buildCsv([
      HEAD,
      '"u0, x",2025-01-02T10:00:00Z,1,"said ""hi"""',
      'u1,2025-01-02T10:00:00Z,2,5" screen',
      '"""u2""",2025-01-02T10:00:00Z,3,ok',
    ]);
    expect(error).toBeUndefined();
    const shown = await showPartition(await loadProject(dir), 'v', '2025-01-10');
    expect(shown.result.rows.map((r) => r[0])).toEqual(['"u2"', 'u0, x', 'u1']);
  });
});

describe('openQuoteColumn', () => {
  it('finds the quote that opens a field and does not close it', () => {
    expect(openQuoteColumn('"u1,2025,5,ok')).toBe(1);
    expect(openQuoteColumn('u1,2025,5,"ok')).toBe(11);
    expect(openQuoteColumn('"a ""b""",x,"c')).toBe(13);
    expect(openQuoteColumn('"a"b,x')).toBe(1);
    expect(openQuoteColumn('u1;"x', ';')).toBe(4);
  });
});
