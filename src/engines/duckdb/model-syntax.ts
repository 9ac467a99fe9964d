// Checks a model's SQL with DuckDB's parser before anything runs (no database needed), so that a
// syntax error names the model file and its line.

import { DuckDBInstance } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';

export interface SqlToCheck {
  file: string;
  sql: string;
}

/**
 * With `batch`, all the SQL is parsed at once first (one call instead of one per model: planning a
 * large project stays fast); only when that fails or the statement count is off are the models
 * parsed one by one, to name the file. The caller must have ruled out models with no statement.
 */
export async function checkSyntax(items: SqlToCheck[], opts: { batch?: boolean } = {}): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    if (opts.batch && items.length > 1) {
      const all = items.map((i) => i.sql.replace(/;\s*$/, '')).join('\n;\n');
      const count = await conn.extractStatements(all).then(
        (s) => s.count,
        () => -1,
      );
      if (count === items.length) return;
    }
    for (const item of items) {
      let count: number;
      try {
        count = (await conn.extractStatements(item.sql)).count;
      } catch (e) {
        const message = (e as Error).message.replace(/^Failed to extract statements: /, '');
        const line = /LINE (\d+):/.exec(message)?.[1];
        throw new AsofError(
          'spec',
          `SQL syntax error: ${message.split('\n')[0]?.replace(/^Parser Error: /, '')}`,
          {
            file: item.file,
            line: line ? Number(line) : undefined,
          },
        );
      }
      if (count !== 1) {
        throw new AsofError('spec', `a model holds exactly one SELECT statement, found ${count}`, {
          file: item.file,
        });
      }
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
