// Checks a model's SQL with DuckDB's parser before anything runs (no database needed), so that a
// syntax error names the model file and its line.

import { DuckDBInstance } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';

export interface SqlToCheck {
  file: string;
  sql: string;
}

export async function checkSyntax(items: SqlToCheck[]): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
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
