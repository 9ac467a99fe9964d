// Reads of the embedded online store skip the log query while nothing was committed, yet see every
// commit: another connection's (PRAGMA data_version) and their own connection's (which
// data_version does not report). The merge sweep sorts its keys a bounded share per commit.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  emptyCheckpoint,
  ONLINE_FILE,
  OnlineStore,
  StateRows,
  StepSort,
} from '../../../src/storage/online/sqlite.js';
import { type EntityState, emptyState } from '../../../src/stream/state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'asof-state-rows-'));
  dirs.push(d);
  return d;
}

function add(s: EntityState, ts: number, seq: number): void {
  s.tail.push(ts, seq, seq * 1.5, true, seq);
  s.seq = seq;
  if (s.first === null) s.first = ts;
}

/** Adds an event to the state of `key` in `states` (made empty first if absent); returns that state. */
function addTo(states: Map<string, EntityState>, key: string, ts: number, seq: number): EntityState {
  let s = states.get(key);
  if (!s) {
    s = emptyState(5);
    states.set(key, s);
  }
  add(s, ts, seq);
  return s;
}

describe('StateRows', () => {
  it('sees commits of another connection and of its own, and skips the log query in between', () => {
    const dir = tmp();
    const store = OnlineStore.open(dir);
    const states = store.loadStates('v');
    const s = emptyState(5);
    states.set('k', s);
    let seq = 0;
    const commit = () =>
      store.commit(
        'src',
        ['v'],
        { ...emptyCheckpoint(), nextSeq: seq },
        [{ view: 'v', key: 'k', state: s }],
        0,
      );
    add(s, 1000, seq++);
    commit(); // the first write: a base row
    const db = new Database(path.join(dir, ONLINE_FILE), { readonly: true });
    try {
      const other = new StateRows(db);
      expect(other.get('v', 'k')).toEqual(s);
      for (let round = 0; round < 5; round++) {
        add(s, 2000 + round, seq++);
        commit(); // a log record (the state was written before)
        // the job's own connection: data_version does not move for its own commits
        expect(store.getState('v', 'k')).toEqual(s);
        // another connection
        const before = other.logSyncs;
        expect(other.get('v', 'k')).toEqual(s);
        expect(other.logSyncs).toBe(before + 1);
        // nothing committed since: no log query, same answer
        expect(other.get('v', 'k')).toEqual(s);
        expect(other.get('v', 'absent')).toBeNull();
        expect(other.logSyncs).toBe(before + 1);
      }
      expect(s.tail).toHaveLength(6 * s.width);
    } finally {
      db.close();
      store.close();
    }
  });

  it('on the job connection: a read after each commit sees it, with merge sweeps deleting log rows', () => {
    const dir = tmp();
    const store = OnlineStore.open(dir, { mergeAfter: 5 });
    const states = store.loadStates('v');
    let seq = 0;
    for (let round = 0; round < 40; round++) {
      const batch = [];
      for (let k = 0; k < 7; k++) {
        const key = `k${(round * 3 + k) % 11}`;
        batch.push({ view: 'v', key, state: addTo(states, key, 1000 + seq, seq++) });
      }
      store.commit('src', ['v'], { ...emptyCheckpoint(), nextSeq: seq }, batch, 0);
      for (const [key, s] of states) expect(store.getState('v', key), `${round} ${key}`).toEqual(s);
    }
    store.close();
    const again = OnlineStore.open(dir);
    expect(again.loadStates('v')).toEqual(states);
    again.close();
  });
  it('merges a sweep of many keys whose sort spans several commits, and loses no log record', () => {
    const dir = tmp();
    // 20k keys pending at a sweep's start: collecting and sorting them takes tens of commits
    const store = OnlineStore.open(dir, { mergeAfter: 15_000 });
    const states = store.loadStates('v');
    const reader = new Database(path.join(dir, ONLINE_FILE), { readonly: true });
    const rows = new StateRows(reader);
    let seq = 0;
    const keys = 20_000;
    const logCount = () => reader.prepare('SELECT count(*) FROM log').pluck().get() as number;
    let maxLog = 0;
    let minLogAfterMax = Number.POSITIVE_INFINITY;
    try {
      for (let round = 0; round < 600; round++) {
        const batch = [];
        for (let k = 0; k < 100; k++) {
          const key = `k${(((round * 100 + k) * 7919) % keys).toString().padStart(5, '0')}`;
          batch.push({ view: 'v', key, state: addTo(states, key, 1000 + seq, seq++) });
        }
        store.commit('src', ['v'], { ...emptyCheckpoint(), nextSeq: seq }, batch, 0);
        const n = logCount();
        if (n > maxLog) maxLog = n;
        else minLogAfterMax = Math.min(minLogAfterMax, n);
        if (round % 100 === 99) for (const [key, s] of states) expect(rows.get('v', key)).toEqual(s);
      }
      // sweeps ended and deleted log rows
      expect(minLogAfterMax).toBeLessThan(maxLog);
    } finally {
      reader.close();
      store.close();
    }
    const again = OnlineStore.open(dir);
    expect(again.loadStates('v')).toEqual(states);
    again.close();
  });
});

describe('StepSort', () => {
  it('sorts as Array.prototype.sort does, whatever the work per step', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('v\u0000a', 'v\u0000b', 'v2\u0000a', 'é')),
          {
            maxLength: 300,
          },
        ),
        fc.integer({ min: 1, max: 200 }),
        (items, budget) => {
          const want = [...items].sort();
          const sort = new StepSort([...items]);
          let steps = 0;
          while (!sort.step(budget)) steps++;
          expect(sort.result).toEqual(want);
          // bounded work per step: a long input takes many steps
          if (items.length > 64 && budget < 20) expect(steps).toBeGreaterThan(items.length / 20);
        },
      ),
      { numRuns: 300 },
    );
  });
});
