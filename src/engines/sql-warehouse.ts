// What the SQL warehouses (DuckDB, PostgreSQL) do the same way: a transaction around a function, the
// landing loop of Warehouse.land (skip a file whose content was landed before, widen raw.<source> with
// new columns, record each landed file in raw._loads) and relationKind from information_schema.
// How a file's rows get into the table is the engine's part.

import {
  type LandedFile,
  type LandFile,
  type LandRequest,
  LOADS_TABLE,
  type RelationKind,
  type Warehouse,
  type WarehouseDialect,
} from './warehouse.js';

/** Runs `fn` between BEGIN and COMMIT on a connection; ROLLBACK and rethrow when it throws. */
export async function inTransaction<T>(
  run: (sql: string) => Promise<unknown>,
  fn: () => Promise<T>,
): Promise<T> {
  await run('BEGIN TRANSACTION');
  try {
    const out = await fn();
    await run('COMMIT');
    return out;
  } catch (e) {
    await run('ROLLBACK');
    throw e;
  }
}

export interface LandingSteps {
  /** The type of the text columns of raw._loads (VARCHAR, TEXT). */
  textType: string;
  /** Runs first inside the transaction (PostgreSQL locks raw._loads so concurrent loads wait). */
  lock?: string;
  /**
   * Reads one file and inserts its rows into `target` (raw.<source>), creating the table or adding
   * columns with addMissingColumns; returns the number of rows.
   */
  landFile(file: LandFile, target: string): Promise<number>;
}

function loadsTable(d: WarehouseDialect): string {
  return `${d.quoteIdent(LOADS_TABLE.schema)}.${d.quoteIdent(LOADS_TABLE.name)}`;
}

/**
 * Warehouse.land over `steps`: in one transaction, each file whose content (sha256) this source
 * already landed is skipped, the others are landed and recorded in raw._loads.
 */
export async function landFiles(wh: Warehouse, req: LandRequest, steps: LandingSteps): Promise<LandedFile[]> {
  const d = wh.dialect;
  const loads = loadsTable(d);
  const text = steps.textType;
  await wh.run(`CREATE SCHEMA IF NOT EXISTS ${d.quoteIdent(LOADS_TABLE.schema)}`);
  await wh.run(`CREATE TABLE IF NOT EXISTS ${loads} (load_id ${text}, source ${text}, file ${text},
      sha256 ${text}, rows BIGINT, loaded_at TIMESTAMPTZ)`);
  const target = `${d.quoteIdent('raw')}.${d.quoteIdent(req.source)}`;
  return wh.transaction(async () => {
    if (steps.lock) await wh.run(steps.lock);
    const out: LandedFile[] = [];
    for (const file of req.files) {
      const prev = await wh.query(
        `SELECT load_id FROM ${loads} WHERE source = ${d.stringLiteral(req.source)} AND sha256 = ${d.stringLiteral(file.sha256)} LIMIT 1`,
      );
      const prevId = prev.rows[0]?.[0];
      if (prevId !== undefined) {
        out.push({
          file: file.path,
          sha256: file.sha256,
          rows: 0,
          skipped: true,
          previousLoadId: String(prevId),
        });
        continue;
      }
      const rows = await steps.landFile(file, target);
      const values = [req.loadId, req.source, file.path, file.sha256].map((v) => d.stringLiteral(v));
      await wh.run(
        `INSERT INTO ${loads} VALUES (${values.join(', ')}, ${rows}, ${d.instantLiteral(req.loadedAt)})`,
      );
      out.push({ file: file.path, sha256: file.sha256, rows, skipped: false });
    }
    return out;
  });
}

/** Adds to raw.<source> (`target`) the columns it does not have yet. */
export async function addMissingColumns(
  wh: Warehouse,
  source: string,
  target: string,
  columns: { name: string; type: string }[],
): Promise<void> {
  const d = wh.dialect;
  const have = new Set(
    (
      await wh.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ${d.stringLiteral(source)}`,
      )
    ).rows.map((r) => String(r[0])),
  );
  for (const c of columns) {
    if (!have.has(c.name)) await wh.run(`ALTER TABLE ${target} ADD COLUMN ${d.quoteIdent(c.name)} ${c.type}`);
  }
}

/** Warehouse.relationKind from information_schema: 'view', 'table', or undefined when absent. */
export async function relationKindOf(
  wh: Warehouse,
  schema: string,
  name: string,
): Promise<RelationKind | undefined> {
  const d = wh.dialect;
  const r = await wh.query(
    `SELECT table_type FROM information_schema.tables WHERE table_schema = ${d.stringLiteral(schema)} AND table_name = ${d.stringLiteral(name)}`,
  );
  const t = r.rows[0]?.[0];
  if (t === undefined) return undefined;
  return String(t) === 'VIEW' ? 'view' : 'table';
}
