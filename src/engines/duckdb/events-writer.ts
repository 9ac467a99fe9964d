// Writes one micro-batch of accepted stream events as a Parquet file typed by the source contract
// (timestamps as TIMESTAMPTZ instants), via a JSON-lines file beside it, then renames it in place:
// a reader sees the whole file or none, and a replay writing the same name replaces it.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Source } from '../../spec/project.js';
import type { DuckDbEngine } from './engine.js';
import { duckdbType, quoteIdent, stringLiteral } from './types.js';

/** One accepted event: its contract values (timestamps as epoch ms) and its source sequence. */
export interface OfflineEvent {
  seq: number;
  /** The event instant (epoch ms): which event_date folder the event lands in. */
  ts: number;
  row: Readonly<Record<string, string | number | boolean | null | undefined>>;
}

export const OFFSET_COLUMN = '_offset';

export async function writeEventsParquet(
  engine: DuckDbEngine,
  source: Source,
  events: OfflineEvent[],
  file: string,
): Promise<void> {
  const cols = Object.entries(source.columns);
  const jsonl = `${file}.jsonl.tmp`;
  const staged = `${file}.tmp`;
  // each line printed directly (the text JSON.stringify of the object would give), no object per event
  const names = cols.map(([c]) => `,${JSON.stringify(c)}:`);
  const stamps = cols.map(([, t]) => t === 'timestamp');
  const lines = events.map((e) => {
    let line = `{"${OFFSET_COLUMN}":${e.seq}`;
    for (let i = 0; i < cols.length; i++) {
      const v = e.row[(cols[i] as [string, string])[0]] ?? null;
      line += names[i];
      line +=
        v === null
          ? 'null'
          : stamps[i] && typeof v === 'number'
            ? `"${new Date(v).toISOString()}"`
            : JSON.stringify(v);
    }
    return `${line}}`;
  });
  writeFileSync(jsonl, `${lines.join('\n')}\n`);
  try {
    const spec = [[OFFSET_COLUMN, 'VARCHAR'], ...cols.map(([c]) => [c, 'VARCHAR'])]
      .map(([c, t]) => `${stringLiteral(c as string)}: '${t}'`)
      .join(', ');
    const select = [
      `CAST(${quoteIdent(OFFSET_COLUMN)} AS BIGINT) AS ${quoteIdent(OFFSET_COLUMN)}`,
      ...cols.map(([c, t]) => `CAST(${quoteIdent(c)} AS ${duckdbType(t)}) AS ${quoteIdent(c)}`),
    ];
    await engine.conn.run(
      `COPY (SELECT ${select.join(', ')} FROM read_json(${stringLiteral(jsonl)}, format = 'newline_delimited', columns = {${spec}}) ORDER BY ${quoteIdent(OFFSET_COLUMN)})
       TO ${stringLiteral(staged)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    renameSync(staged, file);
  } finally {
    rmSync(jsonl, { force: true });
    rmSync(staged, { force: true });
  }
}
