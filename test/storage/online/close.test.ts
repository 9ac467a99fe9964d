// close() must leave nothing running on the store's files: the background WAL checkpointer (started
// after a store has committed a while) is stopped and its connection closed before close() returns,
// so the caller may delete or move the folder at once (a race here failed a CI run with ENOTEMPTY).
import { existsSync, mkdtempSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyCheckpoint, OnlineStore } from '../../../src/storage/online/sqlite.js';
import type { EntityState } from '../../../src/stream/state.js';
import { stateOf } from '../../support/states.js';

const state = (seq: number): EntityState => stateOf({ tail: [[seq, seq, seq]], first: seq, seq });

describe('online store close', () => {
  it('stops the checkpointer and closes the last connection before it returns', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = mkdtempSync(path.join(tmpdir(), 'asof-close-'));
      try {
        const store = OnlineStore.open(dir);
        // enough commits for the background checkpointer to start (CHECKPOINTER_AFTER_COMMITS)
        for (let i = 0; i < 100; i++) {
          store.commit('s', ['v'], emptyCheckpoint(), [{ view: 'v', key: `k${i}`, state: state(i) }], 0);
        }
        // let the checkpointer run a few times: it now holds a connection that has read the WAL
        await new Promise((resolve) => setTimeout(resolve, 500));
        store.close();
        // nothing happens in the folder afterwards (a late checkpointer opened the database again)
        const changes: string[] = [];
        const watcher = watch(dir, (_event, file) => changes.push(String(file)));
        await new Promise((resolve) => setTimeout(resolve, 400));
        watcher.close();
        expect(changes).toEqual([]);
        // this connection was the last one: SQLite checkpointed and removed the WAL and its index
        const left = readdirSync(dir, { recursive: true }).map(String);
        expect(left.filter((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toEqual([]);
        // what was committed is all there
        const again = OnlineStore.open(dir);
        expect(again.loadStates('v').size).toBe(100);
        again.close();
        rmSync(dir, { recursive: true });
        expect(existsSync(dir)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
