// Whole transactions out of a PostgreSQL replication slot, whichever decoder read them (wal2json
// or pgoutput): changes wait for their commit, then take its LSN and time; a TRUNCATE stops the capture.

import { AsofError } from '../errors.js';
import type { CdcSource } from '../spec/cdc.js';
import { type CdcChange, type CdcRow, parseLsn } from './events.js';

export interface PolledBatch {
  changes: CdcChange[];
  /** The end of the last whole transaction read: what to acknowledge once applied. */
  commitLsn: bigint | undefined;
  transactions: number;
}

/**
 * Collects the changes of one peek. Each change carries its transaction's commit LSN: PostgreSQL
 * applies a transaction at its commit, and a change inside it may have an LSN before the
 * snapshot's consistent point. A transaction without its commit in the peek is left out.
 */
export class TransactionReader {
  private readonly batch: PolledBatch = { changes: [], commitLsn: undefined, transactions: 0 };
  private pending: CdcChange[] = [];
  private txTs = 0;
  private txId: string | undefined;

  /** A transaction starts: `tsMs` is its time where the decoder says it at the start (else 0). */
  begin(txId: string | undefined, tsMs: number): void {
    this.pending = [];
    this.txId = txId;
    this.txTs = tsMs;
  }

  change(op: CdcChange['op'], before: CdcRow | null, after: CdcRow | null, origin: string): void {
    this.pending.push({ op, lsn: 0n, tsMs: this.txTs, txId: this.txId, before, after, origin });
  }

  /** The transaction commits at `lsnText`, at `tsMs` when known (else the time of its start). */
  commit(lsnText: string, tsMs: number | null, origin: string): void {
    const lsn = parseLsn(lsnText);
    if (lsn === undefined) throw new AsofError('unexpected', `${origin}: not an LSN`);
    for (const c of this.pending) this.batch.changes.push({ ...c, lsn, tsMs: tsMs || c.tsMs });
    this.pending = [];
    this.batch.commitLsn = lsn;
    this.batch.transactions++;
  }

  /** The whole transactions read so far. */
  result(): PolledBatch {
    return this.batch;
  }
}

export function truncateError(
  origin: string,
  table: { schema: string; table: string },
  source: CdcSource,
): AsofError {
  return new AsofError(
    'contract',
    `${origin}: TRUNCATE of ${table.schema}.${table.table} is not captured`,
    {},
    `drop the capture ('asof cdc drop --source ${source.name}') and run again to take a new snapshot`,
  );
}
