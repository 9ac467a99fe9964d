// Live capture from PostgreSQL logical replication (wal2json format-version 2, or pgoutput): a named
// slot, an initial snapshot at the slot's consistent point, then whole transactions polled from the
// slot, applied, and only then acknowledged (pg_replication_slot_advance) — at-least-once in, exactly-once effect.

import type pg from 'pg';
import { AsofError } from '../errors.js';
import type { CdcSource } from '../spec/cdc.js';
import type { Clock } from '../time/index.js';
import { parseTimestamp } from '../time/index.js';
import { type CdcChange, coerceRow, formatLsn, parseLsn } from './events.js';
import { decodePgoutput } from './pgoutput.js';
import { type PolledBatch, TransactionReader, truncateError } from './transactions.js';

export interface PgTarget {
  url: string;
  schema: string;
  table: string;
  slot: string;
  decoder: 'wal2json' | 'pgoutput';
  publication: string;
}

export function pgTarget(source: CdcSource, env: NodeJS.ProcessEnv): PgTarget {
  const p = source.postgres;
  if (!p) {
    throw new AsofError(
      'usage',
      `CDC source '${source.name}' has no 'postgres' settings`,
      { specPath: `cdc.${source.name}.postgres` },
      'add postgres: { url_env: PG_URL, table: public.users }',
    );
  }
  const url = p.url ?? (p.urlEnv ? env[p.urlEnv] : undefined);
  if (!url) {
    throw new AsofError(
      'usage',
      p.urlEnv
        ? `environment variable ${p.urlEnv} is not set`
        : `CDC source '${source.name}' has no PostgreSQL url`,
      { specPath: `cdc.${source.name}.postgres` },
    );
  }
  return {
    url,
    schema: p.schema,
    table: p.table,
    slot: p.slot,
    decoder: p.decoder,
    publication: p.publication,
  };
}

const qi = (s: string) => `"${s.replaceAll('"', '""')}"`;

export async function connect(url: string, replication = false): Promise<pg.Client> {
  const config: pg.ClientConfig & { replication?: string } = { connectionString: url };
  if (replication) config.replication = 'database';
  // The client library is loaded on use: importing it costs start-up time for every command.
  const { default: pgLib } = await import('pg');
  const client = new pgLib.Client(config);
  try {
    await client.connect();
  } catch (e) {
    throw new AsofError(
      'usage',
      `cannot connect to PostgreSQL: ${(e as Error).message}`,
      {},
      'check the url',
    );
  }
  return client;
}

export async function slotExists(client: pg.Client, slot: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  return r.rowCount === 1;
}

/** pgoutput reads the tables of a publication: one for the captured table, created when missing. */
async function ensurePublication(t: PgTarget): Promise<void> {
  const client = await connect(t.url);
  try {
    const r = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [t.publication]);
    if (r.rowCount === 0) {
      await client.query(`CREATE PUBLICATION ${qi(t.publication)} FOR TABLE ${qi(t.schema)}.${qi(t.table)}`);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops the publication `asof cdc run` created for a pgoutput capture (`asof cdc drop`). */
export async function dropPublication(client: pg.Client, publication: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (r.rowCount === 0) return false;
  await client.query(`DROP PUBLICATION ${qi(publication)}`);
  return true;
}

export async function dropSlot(client: pg.Client, slot: string): Promise<boolean> {
  if (!(await slotExists(client, slot))) return false;
  await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
  return true;
}

/**
 * Creates the slot and reads the table in the slot's exported snapshot, in one transaction of a
 * replication connection, so the rows are exactly the state at the consistent point: streaming from
 * there has no gap and no overlap.
 */
export async function snapshot(
  t: PgTarget,
  source: CdcSource,
  timezone: string,
  clock: Clock,
): Promise<{ lsn: bigint; changes: CdcChange[] }> {
  if (t.decoder === 'pgoutput') await ensurePublication(t);
  const repl = await connect(t.url, true);
  try {
    await repl.query('BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ');
    const created = await repl.query(
      `CREATE_REPLICATION_SLOT ${qi(t.slot)} LOGICAL ${t.decoder} USE_SNAPSHOT`,
    );
    const lsn = parseLsn(created.rows[0]?.consistent_point);
    if (lsn === undefined) throw new AsofError('unexpected', 'the slot reported no consistent point');
    await repl.query("SET LOCAL TimeZone = 'UTC'");
    const cols = Object.keys(source.columns);
    const r = await repl.query({
      text: `SELECT ${cols.map((c) => `${qi(c)}::text AS ${qi(c)}`).join(', ')} FROM ${qi(t.schema)}.${qi(t.table)}`,
      rowMode: 'array',
    });
    await repl.query('COMMIT');
    const now = clock.now();
    const changes = (r.rows as (string | null)[][]).map((row, i): CdcChange => {
      const raw = Object.fromEntries(cols.map((c, j) => [c, row[j] ?? null]));
      return {
        op: 'r',
        lsn,
        tsMs: now,
        txId: undefined,
        before: null,
        after: coerceRow(raw, source, `snapshot of ${t.schema}.${t.table} row ${i + 1}`, timezone),
        origin: 'snapshot',
      };
    });
    return { lsn, changes };
  } finally {
    await repl.end().catch(() => undefined);
  }
}

/** One wal2json format-version 2 object. */
interface Wal2JsonRow {
  action: 'B' | 'C' | 'I' | 'U' | 'D' | 'T' | 'M';
  xid?: number;
  timestamp?: string;
  schema?: string;
  table?: string;
  columns?: { name: string; value: unknown }[];
  identity?: { name: string; value: unknown }[];
}

/** The time of a B or C record (include-timestamp), as epoch ms. */
function time(row: Wal2JsonRow): number | null {
  return row.timestamp ? parseTimestamp(row.timestamp, 'UTC') : null;
}

/**
 * Reads (without consuming) up to about `limit` changes of whole transactions from the slot, each
 * with its transaction's commit LSN (see TransactionReader).
 */
export async function peek(
  client: pg.Client,
  t: PgTarget,
  source: CdcSource,
  timezone: string,
  limit: number,
): Promise<PolledBatch> {
  if (t.decoder === 'pgoutput') {
    const b = await client.query({
      text: `SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2,
        'proto_version', '1', 'publication_names', $3)`,
      values: [t.slot, limit, t.publication],
      rowMode: 'array',
    });
    return decodePgoutput(b.rows as [string, Buffer][], source, t, timezone);
  }
  const r = await client.query({
    text: `SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, $2,
      'format-version', '2', 'include-transaction', 'true', 'include-timestamp', 'true', 'include-xids', 'true',
      'add-tables', $3)`,
    values: [t.slot, limit, `${t.schema}.${t.table}`],
    rowMode: 'array',
  });
  const txs = new TransactionReader();
  for (const [lsnText, data] of r.rows as [string, string][]) {
    const row = JSON.parse(data) as Wal2JsonRow;
    const origin = `slot ${t.slot} at ${lsnText}`;
    const image = (cols: { name: string; value: unknown }[] | undefined) =>
      cols
        ? coerceRow(Object.fromEntries(cols.map((c) => [c.name, c.value])), source, origin, timezone)
        : null;
    switch (row.action) {
      case 'B':
        txs.begin(row.xid === undefined ? undefined : String(row.xid), time(row) ?? 0);
        break;
      case 'C':
        txs.commit(lsnText, time(row), origin);
        break;
      case 'I':
      case 'U':
      case 'D': {
        const after = row.action === 'D' ? null : image(row.columns);
        const before = row.action === 'I' ? null : image(row.identity);
        if (row.action === 'D' && !before) {
          throw new AsofError(
            'contract',
            `${origin}: a delete without its key`,
            {},
            `give ${t.schema}.${t.table} a primary key or REPLICA IDENTITY FULL`,
          );
        }
        txs.change(row.action === 'I' ? 'c' : row.action === 'U' ? 'u' : 'd', before, after, origin);
        break;
      }
      case 'T':
        throw truncateError(origin, t, source);
      default:
        break;
    }
  }
  return txs.result();
}

/**
 * The heartbeat of an idle capture: when the slot has no transaction to decode up to the flushed
 * end of WAL (only other databases, or vacuum and checkpoints, wrote since), it moves the slot
 * there, so WAL that holds nothing for this capture is released. Returns the new position, or
 * undefined when a transaction is waiting (the next poll reads it). Decoding reads only flushed
 * WAL, so a commit after the flushed end is decoded later, never skipped.
 */
export async function heartbeat(client: pg.Client, t: PgTarget): Promise<bigint | undefined> {
  const end = (await client.query({ text: 'SELECT pg_current_wal_flush_lsn()::text', rowMode: 'array' }))
    .rows[0]?.[0] as string | undefined;
  const target = parseLsn(end ?? null);
  if (target === undefined) return undefined;
  const waiting = await client.query({
    text:
      t.decoder === 'pgoutput'
        ? `SELECT count(*) FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, 1,
            'proto_version', '1', 'publication_names', $3)`
        : `SELECT count(*) FROM pg_logical_slot_peek_changes($1, $2::pg_lsn, 1,
            'format-version', '2', 'include-transaction', 'true', 'add-tables', $3)`,
    values: [t.slot, formatLsn(target), t.decoder === 'pgoutput' ? t.publication : `${t.schema}.${t.table}`],
    rowMode: 'array',
  });
  if (Number(waiting.rows[0]?.[0] ?? 0) > 0) return undefined;
  await acknowledge(client, t.slot, target);
  return target;
}

/** Acknowledges everything up to `lsn`: the slot may release WAL before it. */
export async function acknowledge(client: pg.Client, slot: string, lsn: bigint): Promise<void> {
  await client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, formatLsn(lsn)]);
}

export interface SlotStatus {
  exists: boolean;
  confirmedLsn: bigint | undefined;
  lagBytes: number | undefined;
  active: boolean;
}

export async function slotStatus(client: pg.Client, slot: string): Promise<SlotStatus> {
  const r = await client.query({
    text: `SELECT confirmed_flush_lsn::text, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint::text, active
           FROM pg_replication_slots WHERE slot_name = $1`,
    values: [slot],
    rowMode: 'array',
  });
  const row = r.rows[0] as [string | null, string | null, boolean] | undefined;
  if (!row) return { exists: false, confirmedLsn: undefined, lagBytes: undefined, active: false };
  return {
    exists: true,
    confirmedLsn: parseLsn(row[0]),
    lagBytes: row[1] === null ? undefined : Number(row[1]),
    active: row[2],
  };
}
