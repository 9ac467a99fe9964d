// Decodes PostgreSQL's built-in logical replication protocol (pgoutput, proto_version 1) as read
// with pg_logical_slot_peek_binary_changes: Relation messages say which columns a row carries (by
// name, so a mid-stream ADD COLUMN never misaligns values); an incompatible type change fails fast.

import { AsofError } from '../errors.js';
import type { CdcSource } from '../spec/cdc.js';
import type { ColumnType } from '../types.js';
import { type CdcOp, type CdcRow, coerceRow } from './events.js';
import { type PolledBatch, TransactionReader, truncateError } from './transactions.js';

/** PostgreSQL type OIDs a contract type reads without loss (text values; `string` takes any). */
const ACCEPTS: Record<Exclude<ColumnType, 'string'>, number[]> = {
  int: [20, 21, 23],
  double: [20, 21, 23, 700, 701, 1700],
  bool: [16],
  timestamp: [1114, 1184],
  date: [1082],
};

/** Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MS = 946_684_800_000;

interface Relation {
  schema: string;
  table: string;
  columns: { name: string; type: number }[];
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): string {
    return String.fromCharCode(this.buf.readUInt8(this.at++));
  }
  int8(): number {
    return this.buf.readInt8(this.at++);
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }
  string(): string {
    const end = this.buf.indexOf(0, this.at);
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }
  bytes(n: number): string {
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
}

/**
 * Relations seen so far, by id. PostgreSQL sends a Relation message before the first change of a
 * relation in each decoding session and after every change of its definition, so one decoder is
 * kept per peek (each peek is a new decoding session).
 */
export function decodePgoutput(
  rows: [string, Buffer][],
  source: CdcSource,
  target: { schema: string; table: string; slot: string },
  timezone: string,
): PolledBatch {
  const relations = new Map<number, Relation>();
  const txs = new TransactionReader();
  const mine = (r: Relation | undefined) => r?.schema === target.schema && r.table === target.table;

  for (const [lsnText, data] of rows) {
    const origin = `slot ${target.slot} at ${lsnText}`;
    const m = new Reader(data);
    // A key tuple ('K') carries the key columns only: the others are sent as NULL but unknown.
    const tuple = (rel: Relation, keyOnly = false): CdcRow => {
      const n = m.int16();
      const raw: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const kind = m.byte();
        const name = rel.columns[i]?.name ?? `#${i}`;
        // 'u': an unchanged TOASTed value the log does not carry: left undefined, so kept.
        if (kind === 'n' && !keyOnly) raw[name] = null;
        else if (kind === 't') raw[name] = m.bytes(m.int32());
      }
      return coerceRow(raw, source, origin, timezone);
    };
    const relationOf = (id: number): Relation => {
      const rel = relations.get(id);
      if (!rel)
        throw new AsofError(
          'unexpected',
          `${origin}: a change of relation ${id} before its Relation message`,
        );
      return rel;
    };
    const push = (op: CdcOp, before: CdcRow | null, after: CdcRow | null) =>
      txs.change(op, before, after, origin);
    switch (m.byte()) {
      case 'B': {
        m.int64();
        const ts = Number(m.int64() / 1000n) + PG_EPOCH_MS;
        txs.begin(String(m.int32()), ts);
        break;
      }
      case 'C': {
        m.int8();
        m.int64();
        m.int64();
        txs.commit(lsnText, Number(m.int64() / 1000n) + PG_EPOCH_MS, origin);
        break;
      }
      case 'R': {
        const id = m.int32();
        const rel: Relation = { schema: m.string(), table: m.string(), columns: [] };
        m.int8();
        const n = m.int16();
        for (let i = 0; i < n; i++) {
          m.int8();
          rel.columns.push({ name: m.string(), type: m.int32() });
          m.int32();
        }
        relations.set(id, rel);
        if (mine(rel)) checkRelation(rel, source, origin);
        break;
      }
      case 'I': {
        const rel = relationOf(m.int32());
        m.byte();
        const after = tuple(rel);
        if (mine(rel)) push('c', null, after);
        break;
      }
      case 'U': {
        const rel = relationOf(m.int32());
        let kind = m.byte();
        let before: CdcRow | null = null;
        if (kind === 'K' || kind === 'O') {
          before = tuple(rel, kind === 'K');
          kind = m.byte();
        }
        const after = tuple(rel);
        if (mine(rel)) push('u', before, after);
        break;
      }
      case 'D': {
        const rel = relationOf(m.int32());
        const before = tuple(rel, m.byte() === 'K');
        if (mine(rel)) push('d', before, null);
        break;
      }
      case 'T':
        throw truncateError(origin, target, source);
      default:
        // Type ('Y'), Origin ('O') and logical Messages ('M') carry no row.
        break;
    }
  }
  return txs.result();
}

/** A contract column whose PostgreSQL type can no longer be read as declared stops the capture. */
function checkRelation(rel: Relation, source: CdcSource, origin: string): void {
  for (const [name, type] of Object.entries(source.columns)) {
    const col = rel.columns.find((c) => c.name === name);
    if (!col || type === 'string') continue;
    if (!ACCEPTS[type].includes(col.type)) {
      throw new AsofError(
        'contract',
        `${origin}: column '${name}' of ${rel.schema}.${rel.table} is now of PostgreSQL type oid ${col.type}, which the contract type ${type} cannot read`,
        { dataColumn: name },
        `an incompatible type change: change cdc.${source.name}.columns, drop the capture ('asof cdc drop --source ${source.name}') and run again`,
      );
    }
  }
}
