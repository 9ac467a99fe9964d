// Stores written before the flat tail (format-1 rows, LOG_ENTRIES records, JSON entry arrays) hold
// states whose tail is empty (every event compacted into the head, or taken out): such a row says
// nothing of its width, yet it must still load, take the events logged after it, and serve.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyCheckpoint, ONLINE_FILE, OnlineStore } from '../../../src/storage/online/sqlite.js';
import { decodeState } from '../../../src/storage/online/state-codec.js';
import { type EntityState, inLayout } from '../../../src/stream/state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A format-1 state row (as versions before the flat tail wrote it) with a head and no event. */
function formatOneEmpty(seq: number, first: number, head: object): Buffer {
  const h = Buffer.from(JSON.stringify(head));
  const b = Buffer.alloc(25 + h.length);
  b[0] = 1;
  b.writeDoubleLE(seq, 1);
  b.writeDoubleLE(first, 9);
  b.writeUInt32LE(h.length + 1, 17);
  h.copy(b, 21);
  b.writeUInt32LE(0, 21 + h.length);
  return b;
}

/** A log blob of one LOG_ENTRIES record (kind 0): format-1 entries [ts, seq, number, true]. */
function entriesRecord(view: string, key: string, entries: [number, number, number][]): Buffer {
  const payload: Buffer[] = [Buffer.alloc(4)];
  payload[0]?.writeUInt32LE(entries.length, 0);
  for (const [ts, seq, v] of entries) {
    const e = Buffer.alloc(17 + 9 + 1);
    e[0] = 4;
    e.writeDoubleLE(ts, 1);
    e.writeDoubleLE(seq, 9);
    e[17] = 3; // F64
    e.writeDoubleLE(v, 18);
    e[26] = 1; // TRUE
    payload.push(e);
  }
  const p = Buffer.concat(payload);
  const vb = Buffer.from(view);
  const kb = Buffer.from(key);
  const head = Buffer.alloc(1 + 4 + vb.length + 4 + kb.length + 4);
  let o = 0;
  head[o++] = 0;
  head.writeUInt32LE(vb.length, o);
  o += 4;
  o += vb.copy(head, o);
  head.writeUInt32LE(kb.length, o);
  o += 4;
  o += kb.copy(head, o);
  head.writeUInt32LE(p.length, o);
  return Buffer.concat([head, p]);
}

describe('states of earlier versions with an empty tail', () => {
  it('load from the embedded store with the format-1 events logged after them', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asof-empty-tail-'));
    dirs.push(dir);
    const db = new Database(path.join(dir, ONLINE_FILE));
    db.exec(`CREATE TABLE state (view TEXT NOT NULL, key TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (view, key)) WITHOUT ROWID;
      CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB NOT NULL);`);
    // the head holds the compacted events; the tail was empty when the base row was merged
    db.prepare('INSERT INTO state VALUES (?, ?, ?, ?)').run('v', 'k', 7, formatOneEmpty(7, 1000, { 0: 3 }));
    db.prepare('INSERT INTO log (data) VALUES (?)').run(entriesRecord('v', 'k', [[5000, 8, 2.5]]));
    db.close();

    const store = OnlineStore.open(dir);
    try {
      for (const s of [store.loadStates('v').get('k'), store.getState('v', 'k')]) {
        expect(s?.width).toBe(4);
        expect(s?.tail).toEqual([5000, 8, 2.5, true]);
        expect(s?.head).toEqual({ 0: 3 });
        expect(s?.seq).toBe(8);
        expect(s?.first).toBe(1000);
      }
    } finally {
      store.close();
    }
  });

  it('are put in any view layout (JSON text of Redis and format-1 rows)', () => {
    // a view of two features over one column (one slot) and a count (none): width 3, was 4
    const layout = { width: 3, at: Int32Array.from([2, -1]), slots: [0] };
    const old = { tail: [], head: { 0: 3 }, first: 1000, seq: 7 };
    for (const row of [JSON.stringify(old), formatOneEmpty(7, 1000, { 0: 3 })]) {
      const s = inLayout(decodeState(row), layout, 2);
      expect(s).toEqual({ tail: [], width: 3, head: { 0: 3 }, first: 1000, seq: 7, taken: 0 });
    }
  });
});

describe('states too wide for the binary form', () => {
  it('load from their JSON log record as any other state (taken counted from 0)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asof-wide-state-'));
    dirs.push(dir);
    const width = 300;
    const tail = [1000, 1, ...Array.from({ length: width - 2 }, (_, i) => i)];
    const s: EntityState = { tail, width, head: null, first: 1000, seq: 1, taken: 0 };
    let store = OnlineStore.open(dir);
    store.loadStates('v');
    store.commit('src', ['v'], { ...emptyCheckpoint(), nextSeq: 2 }, [{ view: 'v', key: 'k', state: s }], 0);
    store.close();
    store = OnlineStore.open(dir);
    try {
      // a compaction adds to `taken`: undefined there made it NaN, and every later write whole
      expect(store.loadStates('v').get('k')).toEqual(s);
      expect(store.getState('v', 'k')).toEqual(s);
    } finally {
      store.close();
    }
  });
});
