// Applies change events to a CDC source's current state and SCD2 history: per primary key, in LSN
// order, skipping any change at or below the key's last applied LSN (so a replay changes nothing).

import type { CdcStore, HistoryRow, KeyState, StoredRow, StoredValue } from '../engines/duckdb/cdc.js';
import { keyString } from '../engines/duckdb/cdc.js';
import type { CdcSource } from '../spec/cdc.js';
import { formatInstant } from '../time/index.js';
import { type CdcChange, type CdcRow, sortByLsn, UNCHANGED } from './events.js';

export interface ApplyResult {
  /** Changes in the batch. */
  received: number;
  /** Changes written (history rows). */
  applied: number;
  /** Changes at or below their key's last applied LSN: already applied (a replay) or stale. */
  skipped: number;
  /** The position recorded with the batch. */
  position: bigint;
}

export interface ApplyOptions {
  /** A position to record even when it is past every change (a commit with no captured change). */
  position?: bigint;
  /** Recorded with the position by `asof cdc run`. */
  slot?: string | null;
  snapshotLsn?: bigint | null;
  nowMs: number;
}

/** The plan of one batch, computed in memory from the batch and the keys' stored state. */
interface Pending {
  closes: { key: StoredValue[]; validTo: string }[];
  history: HistoryRow[];
  touched: Map<string, StoredValue[]>;
  current: Map<string, { row: StoredRow | null; lsn: bigint }>;
}

/**
 * Applies `changes` in one warehouse transaction that also records the position, so the data and
 * the position commit together (exactly-once effect over an at-least-once log). The caller opens
 * and commits the transaction (`transaction`).
 */
export async function applyChanges(
  store: CdcStore,
  source: CdcSource,
  changes: CdcChange[],
  opts: ApplyOptions,
  transaction: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<ApplyResult> {
  const sorted = sortByLsn(changes);
  await store.ensureTables(source);
  return transaction(async () => {
    const before = await store.position(source);
    // Each change's keys, computed once: [before key, its string, after key, its string].
    const keys = new Map<string, StoredValue[]>();
    const changeKeys: ChangeKeys[] = new Array(sorted.length);
    for (let i = 0; i < sorted.length; i++) {
      const c = sorted[i] as CdcChange;
      const bk = c.before ? keyOf(source, c.before) : undefined;
      const ak = c.after ? keyOf(source, c.after) : undefined;
      const bs = bk ? keyString(bk) : undefined;
      const as = ak ? keyString(ak) : undefined;
      if (bk && bs !== undefined && !keys.has(bs)) keys.set(bs, bk);
      if (ak && as !== undefined && !keys.has(as)) keys.set(as, ak);
      changeKeys[i] = { bk, bs, ak, as };
    }
    const states = await store.keyStates(source, [...keys.values()]);
    // Current rows are read only for keys a change of the batch may apply to (a change below its
    // key's stored LSN is skipped): on a replay, none.
    const live = new Map<string, StoredValue[]>();
    for (let i = 0; i < sorted.length; i++) {
      const lsn = (sorted[i] as CdcChange).lsn;
      const { bs, as } = changeKeys[i] as ChangeKeys;
      for (const ks of [bs, as]) {
        if (ks === undefined || live.has(ks)) continue;
        const st = states.get(ks);
        if (!st || lsn > st.lastLsn) live.set(ks, keys.get(ks) as StoredValue[]);
      }
    }
    const rows = await store.currentRows(source, [...live.values()]);
    const p: Pending = { closes: [], history: [], touched: new Map(), current: new Map() };
    const openInBatch = new Map<string, HistoryRow>();
    const inBatch = new Set<string>();
    let applied = 0;
    let skipped = 0;

    const record = (
      key: StoredValue[],
      ks: string,
      op: CdcChange['op'],
      image: CdcRow | null,
      c: CdcChange,
    ): boolean => {
      const st: KeyState | undefined = states.get(ks);
      // Equal positions: several changes of one transaction share its commit LSN (PostgreSQL), so an
      // equal LSN is a replay only when it was stored by an earlier batch.
      if (st && (c.lsn < st.lastLsn || (c.lsn === st.lastLsn && !inBatch.has(ks)))) return false;
      const validFromMs = Math.max(c.tsMs, st?.lastValidFromMs ?? c.tsMs);
      const validFrom = formatInstant(validFromMs);
      const inCurrent = p.current.get(ks);
      const prev = inCurrent ? inCurrent.row : (rows.get(ks) ?? null);
      const row = merge(source, image, prev);
      const open = openInBatch.get(ks);
      if (open) open.validTo = validFrom;
      else if (st) p.closes.push({ key, validTo: validFrom });
      const h: HistoryRow = { row, validFrom, validTo: null, op, lsn: c.lsn };
      p.history.push(h);
      openInBatch.set(ks, h);
      p.touched.set(ks, key);
      p.current.set(ks, { row: op === 'd' ? null : row, lsn: c.lsn });
      states.set(ks, { lastLsn: c.lsn, lastValidFromMs: validFromMs });
      inBatch.add(ks);
      return true;
    };

    for (let i = 0; i < sorted.length; i++) {
      const c = sorted[i] as CdcChange;
      const { bk, bs, ak, as } = changeKeys[i] as ChangeKeys;
      let done: boolean;
      if (c.op === 'd') {
        done = record(bk as StoredValue[], bs as string, 'd', c.before, c);
      } else {
        // An update of the primary key: the old key ends (a delete), the new key starts.
        if (c.op === 'u' && bk && bs !== as) {
          const old = rows.get(bs as string) ?? null;
          record(bk, bs as string, 'd', c.before ?? toCells(old), c);
        }
        done = record(ak as StoredValue[], as as string, c.op, c.after, c);
      }
      if (done) applied++;
      else skipped++;
    }

    await store.write(source, {
      closes: p.closes,
      history: p.history,
      touched: [...p.touched.values()],
      current: [...p.current.values()].flatMap((v) => (v.row ? [{ row: v.row, lsn: v.lsn }] : [])),
    });
    let position = before?.lsn ?? 0n;
    for (const c of sorted) if (c.lsn > position) position = c.lsn;
    if (opts.position !== undefined && opts.position > position) position = opts.position;
    await store.setPosition(source, {
      lsn: position,
      changes: (before?.changes ?? 0) + applied,
      updatedAtMs: opts.nowMs,
      snapshotLsn: opts.snapshotLsn !== undefined ? opts.snapshotLsn : (before?.snapshotLsn ?? null),
      slot: opts.slot !== undefined ? opts.slot : (before?.slot ?? null),
    });
    return { received: sorted.length, applied, skipped, position };
  });
}

interface ChangeKeys {
  bk: StoredValue[] | undefined;
  bs: string | undefined;
  ak: StoredValue[] | undefined;
  as: string | undefined;
}

/** The key values of an image, or undefined when a key column is missing from it. */
function keyOf(source: CdcSource, img: CdcRow): StoredValue[] | undefined {
  const out: StoredValue[] = [];
  for (const k of source.primaryKey) {
    const v = img[k];
    if (v === undefined || v === UNCHANGED || v === null) return undefined;
    out.push(v);
  }
  return out;
}

/** The full row: values the log left out (unchanged TOAST) come from the previous version. */
function merge(source: CdcSource, image: CdcRow | null, prev: StoredRow | null): StoredRow {
  const row: StoredRow = {};
  for (const c of Object.keys(source.columns)) {
    const v = image?.[c];
    row[c] = v === undefined || v === UNCHANGED ? (prev?.[c] ?? null) : v;
  }
  return row;
}

function toCells(row: StoredRow | null): CdcRow | null {
  return row ? { ...row } : null;
}
