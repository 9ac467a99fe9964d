// The SQL of CDC in the DuckDB warehouse: cdc.<source> (current state), cdc.<source>_history
// (SCD2: valid_from <= t < valid_to), cdc._position (applied position, written in the batch's transaction).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { AsofError } from '../../errors.js';
import type { CdcSource } from '../../spec/cdc.js';
import { formatInstant } from '../../time/index.js';
import type { Columns, ColumnType } from '../../types.js';
import { duckdbType, instantLiteral, quoteIdent, stringLiteral } from './types.js';

export const CDC_SCHEMA = 'cdc';

/** A value as stored and compared in TypeScript: timestamps ISO instants, dates YYYY-MM-DD. */
export type StoredValue = string | number | boolean | null;
export type StoredRow = Record<string, StoredValue>;

export interface HistoryRow {
  row: StoredRow;
  validFrom: string;
  /** null: still valid (stored as 'infinity'). */
  validTo: string | null;
  op: string;
  lsn: bigint;
}

export interface KeyState {
  lastLsn: bigint;
  lastValidFromMs: number;
}

export interface CdcBatchWrite {
  /** Open history rows (valid_to infinity) of these keys close at the given instant. */
  closes: { key: StoredValue[]; validTo: string }[];
  history: HistoryRow[];
  /** Keys whose current row is replaced or removed. */
  touched: StoredValue[][];
  /** The new current rows (deleted keys are absent). */
  current: { row: StoredRow; lsn: bigint }[];
}

export interface CdcPosition {
  lsn: bigint;
  changes: number;
  updatedAtMs: number;
  snapshotLsn: bigint | null;
  slot: string | null;
}

const cur = (s: CdcSource) => `${quoteIdent(CDC_SCHEMA)}.${quoteIdent(s.name)}`;
const hist = (s: CdcSource) => `${quoteIdent(CDC_SCHEMA)}.${quoteIdent(`${s.name}_history`)}`;
const positionTable = `${quoteIdent(CDC_SCHEMA)}.${quoteIdent('_position')}`;

export function cdcTableNames(s: CdcSource): { current: string; history: string } {
  return { current: `${CDC_SCHEMA}.${s.name}`, history: `${CDC_SCHEMA}.${s.name}_history` };
}

/** Batches travel to DuckDB as newline-delimited JSON read with declared types (no string-glued values). */
export class CdcStore {
  private readonly tmp = mkdtempSync(path.join(os.tmpdir(), 'asof-cdc-'));
  private seq = 0;

  constructor(private readonly conn: DuckDBConnection) {}

  close(): void {
    rmSync(this.tmp, { recursive: true, force: true });
  }

  private async rows(sql: string): Promise<unknown[][]> {
    const r = await this.conn.runAndReadAll(sql);
    return r.getRowsJS() as unknown[][];
  }

  private jsonl(records: Record<string, unknown>[]): string {
    const file = path.join(this.tmp, `b${this.seq++}.jsonl`);
    // Callers pass bigints as strings: a replacer function would run once per value.
    let text = '';
    for (const r of records) text += `${JSON.stringify(r)}\n`;
    writeFileSync(file, text);
    return file;
  }

  /** Writes prebuilt JSON lines (one per record) to a batch file. */
  private jsonText(text: string): string {
    const file = path.join(this.tmp, `b${this.seq++}.jsonl`);
    writeFileSync(file, text);
    return file;
  }

  private readJson(file: string, columns: Record<string, string>): string {
    const spec = Object.entries(columns)
      .map(([c, t]) => `${stringLiteral(c)}: ${stringLiteral(t)}`)
      .join(', ');
    return `read_json(${stringLiteral(file)}, format = 'newline_delimited', columns = {${spec}})`;
  }

  /** Creates the schema and tables; adds contract columns that are new; fails on a changed type. */
  async ensureTables(s: CdcSource): Promise<void> {
    await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(CDC_SCHEMA)}`);
    const cols = Object.entries(s.columns).map(([c, t]) => `${quoteIdent(c)} ${duckdbType(t)}`);
    await this.conn.run(`CREATE TABLE IF NOT EXISTS ${cur(s)} (${[...cols, 'lsn UBIGINT'].join(', ')})`);
    await this.conn.run(
      `CREATE TABLE IF NOT EXISTS ${hist(s)} (${[...cols, 'valid_from TIMESTAMPTZ', 'valid_to TIMESTAMPTZ', 'op VARCHAR', 'lsn UBIGINT'].join(', ')})`,
    );
    await this.conn.run(
      `CREATE TABLE IF NOT EXISTS ${positionTable} (source VARCHAR, lsn UBIGINT, changes BIGINT, updated_at TIMESTAMPTZ, snapshot_lsn UBIGINT, slot VARCHAR)`,
    );
    for (const table of [s.name, `${s.name}_history`]) {
      const have = new Map(
        (
          await this.rows(
            `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ${stringLiteral(CDC_SCHEMA)} AND table_name = ${stringLiteral(table)}`,
          )
        ).map((r) => [String(r[0]), String(r[1])]),
      );
      for (const [c, t] of Object.entries(s.columns)) {
        const want = duckdbType(t);
        const got = have.get(c);
        if (got === undefined) {
          await this.conn.run(
            `ALTER TABLE ${quoteIdent(CDC_SCHEMA)}.${quoteIdent(table)} ADD COLUMN ${quoteIdent(c)} ${want}`,
          );
        } else if (got !== want && !(want === 'TIMESTAMPTZ' && got === 'TIMESTAMP WITH TIME ZONE')) {
          throw new AsofError(
            'contract',
            `column '${c}' of ${CDC_SCHEMA}.${table} is ${got} but the contract now says ${t}`,
            { dataColumn: c },
            `an incompatible type change: drop the CDC tables ('asof cdc drop --source ${s.name}') and capture again`,
          );
        }
      }
    }
  }

  /** The last applied position per key (from the history, so deleted keys keep theirs). */
  async keyStates(s: CdcSource, keys: StoredValue[][]): Promise<Map<string, KeyState>> {
    const out = new Map<string, KeyState>();
    if (keys.length === 0) return out;
    await this.loadKeys(s, keys);
    const k = s.primaryKey.map(quoteIdent).join(', ');
    const rows = await this.rows(
      `SELECT ${s.primaryKey.map((c) => readable(c, s.columns)).join(', ')}, max(h.lsn)::VARCHAR, epoch_ms(max(h.valid_from))
       FROM ${hist(s)} h JOIN __cdc_keys USING (${k}) GROUP BY ALL`,
    );
    for (const r of rows) {
      const key = s.primaryKey.map((c, i) => fromDb(r[i], s.columns[c] as ColumnType));
      out.set(keyString(key), {
        lastLsn: BigInt(String(r[s.primaryKey.length])),
        lastValidFromMs: Number(r[s.primaryKey.length + 1]),
      });
    }
    return out;
  }

  /** The current rows of these keys. */
  async currentRows(s: CdcSource, keys: StoredValue[][]): Promise<Map<string, StoredRow>> {
    const out = new Map<string, StoredRow>();
    if (keys.length === 0) return out;
    await this.loadKeys(s, keys);
    const names = Object.keys(s.columns);
    const rows = await this.rows(
      `SELECT ${names.map((c) => readable(c, s.columns)).join(', ')} FROM ${cur(s)} JOIN __cdc_keys USING (${s.primaryKey.map(quoteIdent).join(', ')})`,
    );
    for (const r of rows) {
      const row: StoredRow = {};
      names.forEach((c, i) => {
        row[c] = fromDb(r[i], s.columns[c] as ColumnType);
      });
      out.set(keyString(s.primaryKey.map((c) => row[c] ?? null)), row);
    }
    return out;
  }

  private async loadKeys(s: CdcSource, keys: StoredValue[][]): Promise<void> {
    const file = this.jsonl(keys.map((k) => Object.fromEntries(s.primaryKey.map((c, i) => [c, k[i]]))));
    const types = Object.fromEntries(s.primaryKey.map((c) => [c, duckdbType(s.columns[c] as ColumnType)]));
    await this.conn.run(
      `CREATE OR REPLACE TEMP TABLE __cdc_keys AS SELECT DISTINCT * FROM ${this.readJson(file, types)}`,
    );
  }

  /** Writes one batch; the caller holds the transaction. */
  async write(s: CdcSource, w: CdcBatchWrite): Promise<void> {
    const names = Object.keys(s.columns);
    const typed = Object.fromEntries(names.map((c) => [c, duckdbType(s.columns[c] as ColumnType)]));
    const keyTypes = Object.fromEntries(s.primaryKey.map((c) => [c, typed[c] as string]));
    const keyMatch = (a: string, b: string) =>
      s.primaryKey.map((c) => `${a}.${quoteIdent(c)} = ${b}.${quoteIdent(c)}`).join(' AND ');
    if (w.closes.length > 0) {
      const file = this.jsonl(
        w.closes.map((c) => ({
          ...Object.fromEntries(s.primaryKey.map((k, i) => [k, c.key[i]])),
          __valid_to: c.validTo,
        })),
      );
      await this.conn.run(
        `UPDATE ${hist(s)} AS h SET valid_to = c.__valid_to FROM ${this.readJson(file, { ...keyTypes, __valid_to: 'TIMESTAMPTZ' })} AS c
         WHERE ${keyMatch('h', 'c')} AND h.valid_to = 'infinity'::TIMESTAMPTZ`,
      );
    }
    // The batch files are built as text (no intermediate objects): the rows of a large batch.
    const fields = names.map((c) => `${JSON.stringify(c)}:`);
    const rowJson = (row: StoredRow): string => {
      let t = '{';
      for (let i = 0; i < names.length; i++) {
        t += `${fields[i]}${JSON.stringify(row[names[i] as string] ?? null)},`;
      }
      return t;
    };
    if (w.history.length > 0) {
      let text = '';
      for (const h of w.history) {
        text += `${rowJson(h.row)}"__valid_from":${JSON.stringify(h.validFrom)},"__valid_to":${JSON.stringify(h.validTo)},"__op":${JSON.stringify(h.op)},"__lsn":"${h.lsn.toString()}"}\n`;
      }
      const file = this.jsonText(text);
      const src = this.readJson(file, {
        ...typed,
        __valid_from: 'TIMESTAMPTZ',
        __valid_to: 'TIMESTAMPTZ',
        __op: 'VARCHAR',
        __lsn: 'VARCHAR',
      });
      await this.conn.run(
        `INSERT INTO ${hist(s)} (${[...names.map(quoteIdent), 'valid_from', 'valid_to', 'op', 'lsn'].join(', ')})
         SELECT ${names.map(quoteIdent).join(', ')}, __valid_from, coalesce(__valid_to, 'infinity'::TIMESTAMPTZ), __op, CAST(__lsn AS UBIGINT) FROM ${src}`,
      );
    }
    if (w.touched.length > 0) {
      await this.loadKeys(s, w.touched);
      await this.conn.run(
        `DELETE FROM ${cur(s)} AS t WHERE EXISTS (SELECT 1 FROM __cdc_keys k WHERE ${keyMatch('t', 'k')})`,
      );
    }
    if (w.current.length > 0) {
      let text = '';
      for (const c of w.current) text += `${rowJson(c.row)}"__lsn":"${c.lsn.toString()}"}\n`;
      const file = this.jsonText(text);
      await this.conn.run(
        `INSERT INTO ${cur(s)} (${[...names.map(quoteIdent), 'lsn'].join(', ')})
         SELECT ${names.map(quoteIdent).join(', ')}, CAST(__lsn AS UBIGINT) FROM ${this.readJson(file, { ...typed, __lsn: 'VARCHAR' })}`,
      );
    }
  }

  async position(s: CdcSource): Promise<CdcPosition | undefined> {
    const exists = await this.rows(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = ${stringLiteral(CDC_SCHEMA)} AND table_name = '_position'`,
    );
    if (exists.length === 0) return undefined;
    const r = (
      await this.rows(
        `SELECT lsn::VARCHAR, changes, epoch_ms(updated_at), snapshot_lsn::VARCHAR, slot FROM ${positionTable} WHERE source = ${stringLiteral(s.name)}`,
      )
    )[0];
    if (!r) return undefined;
    return {
      lsn: BigInt(String(r[0])),
      changes: Number(r[1]),
      updatedAtMs: Number(r[2]),
      snapshotLsn: r[3] === null ? null : BigInt(String(r[3])),
      slot: r[4] === null ? null : String(r[4]),
    };
  }

  /** Records the applied position (inside the batch's transaction, so data and position commit together). */
  async setPosition(s: CdcSource, p: CdcPosition): Promise<void> {
    await this.conn.run(`DELETE FROM ${positionTable} WHERE source = ${stringLiteral(s.name)}`);
    await this.conn.run(
      `INSERT INTO ${positionTable} VALUES (${stringLiteral(s.name)}, ${p.lsn.toString()}::UBIGINT, ${p.changes}, ${instantLiteral(p.updatedAtMs)},
       ${p.snapshotLsn === null ? 'NULL' : `${p.snapshotLsn.toString()}::UBIGINT`}, ${p.slot === null ? 'NULL' : stringLiteral(p.slot)})`,
    );
  }

  async counts(s: CdcSource): Promise<{ current: number; history: number }> {
    const r = (
      await this.rows(`SELECT (SELECT count(*) FROM ${cur(s)}), (SELECT count(*) FROM ${hist(s)})`)
    )[0];
    return { current: Number(r?.[0] ?? 0), history: Number(r?.[1] ?? 0) };
  }

  /** Removes the source's tables and position (`asof cdc drop`, or a snapshot that restarts). */
  async drop(s: CdcSource): Promise<void> {
    await this.conn.run(`DROP TABLE IF EXISTS ${cur(s)}`);
    await this.conn.run(`DROP TABLE IF EXISTS ${hist(s)}`);
    const exists = await this.rows(
      `SELECT 1 FROM information_schema.tables WHERE table_schema = ${stringLiteral(CDC_SCHEMA)} AND table_name = '_position'`,
    );
    if (exists.length > 0)
      await this.conn.run(`DELETE FROM ${positionTable} WHERE source = ${stringLiteral(s.name)}`);
  }
}

/**
 * The rows of a CDC source as they were at an instant: the history version with
 * valid_from <= t < valid_to, deleted keys left out. Ordered by key.
 */
export function historyAsOfSql(s: CdcSource, instantMs: number): string {
  const cols = Object.keys(s.columns).map(quoteIdent).join(', ');
  const t = instantLiteral(instantMs);
  return `SELECT ${cols} FROM ${hist(s)} WHERE valid_from <= ${t} AND ${t} < valid_to AND op <> 'd' ORDER BY ${s.primaryKey.map(quoteIdent).join(', ')}`;
}

function readable(c: string, columns: Columns): string {
  const t = columns[c];
  if (t === 'timestamp') return `epoch_ms(${quoteIdent(c)})`;
  if (t === 'date') return `CAST(${quoteIdent(c)} AS VARCHAR)`;
  return quoteIdent(c);
}

function fromDb(v: unknown, t: ColumnType): StoredValue {
  if (v === null || v === undefined) return null;
  if (t === 'timestamp') return formatInstant(Number(v));
  if (t === 'int' || t === 'double') return Number(v);
  if (t === 'bool') return Boolean(v);
  return String(v);
}

/**
 * A map key for a primary key. A one-column string key is itself: a source's key columns have one
 * type, so it never meets the JSON form of another key of the same source.
 */
export function keyString(key: StoredValue[]): string {
  const v = key[0];
  return key.length === 1 && typeof v === 'string' ? v : JSON.stringify(key);
}

/**
 * The history as views read it (spec/cdc.ts cdcHistorySource): versions replaced at the instant
 * they began left out, valid_to NULL while current, lsn as BIGINT; and per local day of
 * valid_from the number of rows, the highest lsn and an order-free hash of their identity.
 * Without a history table yet, the same columns and no rows.
 */
export function historyExportSql(
  s: CdcSource,
  timezone: string,
  tableExists: boolean,
): { rows: string; days: string } {
  const names = Object.keys(s.columns);
  const cols = names.map(quoteIdent).join(', ');
  const rows = tableExists
    ? `SELECT ${cols}, valid_from, CASE WHEN valid_to = 'infinity'::TIMESTAMPTZ THEN NULL ELSE valid_to END AS valid_to, op, CAST(lsn AS BIGINT) AS lsn
       FROM ${hist(s)} WHERE valid_to > valid_from ORDER BY ${s.primaryKey.map(quoteIdent).join(', ')}, valid_from`
    : `SELECT ${names.map((c) => `CAST(NULL AS ${duckdbType(s.columns[c] as ColumnType)}) AS ${quoteIdent(c)}`).join(', ')},
       CAST(NULL AS TIMESTAMPTZ) AS valid_from, CAST(NULL AS TIMESTAMPTZ) AS valid_to, CAST(NULL AS VARCHAR) AS op, CAST(NULL AS BIGINT) AS lsn WHERE FALSE`;
  const identity = ['lsn', 'valid_from', 'op', ...s.primaryKey.map(quoteIdent)].join(', ');
  const days = `SELECT strftime(valid_from AT TIME ZONE ${stringLiteral(timezone)}, '%Y-%m-%d') AS day, count(*), max(lsn), bit_xor(hash(${identity}))
    FROM (${rows}) GROUP BY 1 ORDER BY 1`;
  return { rows, days };
}
