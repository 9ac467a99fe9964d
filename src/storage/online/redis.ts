// The online store in Redis (`online: { type: redis, url }`): per view a hash of entity states and
// a hash of their sequences, one hash of checkpoints, and the published batch values. A Lua script
// writes a state only over an older sequence, so replays and cut-short commits never move a value
// back; states and checkpoint are written in one MULTI/EXEC transaction.

import type { createClient } from 'redis';
import { AsofError } from '../../errors.js';
import type { Value } from '../../expr/evaluate.js';
import type { EntityState } from '../../stream/state.js';
import type { PublishedMeta } from './published.js';
import type { Checkpoint, DirtyState } from './sqlite.js';
import { decodeState, stateJson } from './state-codec.js';
import type { OnlineReadStore, PublishStore, StreamStateStore } from './store.js';

type Client = ReturnType<typeof createClient>;

/** KEYS[1] states, KEYS[2] sequences; ARGV: key, seq, state triplets. Idempotent and monotone. */
const UPSERT = `local n = 0
for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[2], ARGV[i])
  if (not cur) or tonumber(cur) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    n = n + 1
  end
end
return n`;

const CHUNK = 1000;
/** Readers re-read the checkpoints at most this often (they only carry freshness and exactness). */
const CHECKPOINT_TTL_MS = 200;

export class RedisOnline implements StreamStateStore, OnlineReadStore, PublishStore {
  private cachedAt = Number.NEGATIVE_INFINITY;
  private cached: { views: string[]; checkpoint: Checkpoint }[] = [];

  private constructor(
    private readonly client: Client,
    private readonly prefix: string,
  ) {}

  static async open(url: string, prefix: string): Promise<RedisOnline> {
    // The client library is loaded on use: importing it costs start-up time for every command.
    const { createClient } = await import('redis');
    const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 5000 } });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (e) {
      throw new AsofError(
        'usage',
        `cannot connect to the Redis online store at ${redact(url)}: ${(e as Error).message}`,
        { specPath: 'online.url' },
        'start Redis, or fix online.url in the spec',
      );
    }
    return new RedisOnline(client, prefix);
  }

  private key(...parts: string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  async readCheckpoint(source: string): Promise<{ views: string[]; checkpoint: Checkpoint } | null> {
    const v = await this.client.hGet(this.key('checkpoint'), source);
    return v ? (JSON.parse(v) as { views: string[]; checkpoint: Checkpoint }) : null;
  }

  async loadStates(view: string): Promise<Map<string, EntityState>> {
    const out = new Map<string, EntityState>();
    let cursor = '0';
    do {
      const r = await this.client.hScan(this.key('state', view), cursor, { COUNT: 1000 });
      for (const e of r.entries) out.set(e.field, decodeState(e.value));
      cursor = String(r.cursor);
    } while (cursor !== '0');
    return out;
  }

  async commit(
    source: string,
    views: string[],
    checkpoint: Checkpoint,
    dirty: DirtyState[],
    now: number,
  ): Promise<void> {
    const byView = new Map<string, DirtyState[]>();
    for (const d of dirty) {
      const list = byView.get(d.view) ?? [];
      list.push(d);
      byView.set(d.view, list);
    }
    // one MULTI/EXEC: Redis applies all of it or, if the job dies before EXEC, none of it, so the
    // counters of a restart (which replays from the checkpoint) match an uninterrupted run
    const tx = this.client.multi();
    for (const [view, list] of byView) {
      for (let i = 0; i < list.length; i += CHUNK) {
        const args: string[] = [];
        for (const d of list.slice(i, i + CHUNK)) args.push(d.key, String(d.state.seq), stateJson(d.state));
        tx.eval(UPSERT, { keys: [this.key('state', view), this.key('seq', view)], arguments: args });
      }
    }
    tx.hSet(this.key('checkpoint'), source, JSON.stringify({ views, checkpoint, updated_at: now }));
    await tx.exec();
  }

  async getState(view: string, key: string): Promise<EntityState | null> {
    const v = await this.client.hGet(this.key('state', view), key);
    return v ? decodeState(v) : null;
  }

  async getStates(view: string, keys: readonly string[]): Promise<(EntityState | null)[]> {
    if (keys.length === 0) return [];
    const vs = await this.client.hmGet(this.key('state', view), [...keys]);
    return vs.map((v) => (v ? decodeState(v) : null));
  }

  async checkpointsOf(view: string): Promise<Checkpoint[]> {
    if (performance.now() - this.cachedAt > CHECKPOINT_TTL_MS) {
      const all = await this.client.hGetAll(this.key('checkpoint'));
      this.cached = Object.values(all).map(
        (v) => JSON.parse(v) as { views: string[]; checkpoint: Checkpoint },
      );
      this.cachedAt = performance.now();
    }
    return this.cached.filter((c) => c.views.includes(view)).map((c) => c.checkpoint);
  }

  async keys(view: string): Promise<string[]> {
    return (await this.client.hKeys(this.key('state', view))).sort();
  }

  async publishedMeta(view: string): Promise<PublishedMeta | null> {
    const v = await this.client.hGet(this.key('published_meta'), view);
    return v ? (JSON.parse(v) as PublishedMeta) : null;
  }

  async publishedValues(view: string, key: string): Promise<Record<string, Value> | null> {
    const v = await this.client.hGet(this.key('published', view), key);
    return v ? (JSON.parse(v) as Record<string, Value>) : null;
  }

  /** Fills a side hash, then swaps it in with the metadata in one transaction (readers see old or new). */
  async writePublished(
    meta: PublishedMeta,
    rows: Iterable<[string, Record<string, Value>]>,
  ): Promise<boolean> {
    const cur = await this.publishedMeta(meta.view);
    if (
      cur &&
      cur.asOfDate === meta.asOfDate &&
      cur.featureVersion === meta.featureVersion &&
      cur.transformationVersion === meta.transformationVersion &&
      cur.fingerprint === meta.fingerprint
    ) {
      return false;
    }
    const side = this.key('published', meta.view, 'next');
    await this.client.del(side);
    let fields: Record<string, string> = {};
    let n = 0;
    let any = false;
    for (const [key, vals] of rows) {
      fields[key] = JSON.stringify(vals);
      any = true;
      if (++n >= CHUNK) {
        await this.client.hSet(side, fields);
        fields = {};
        n = 0;
      }
    }
    if (n > 0) await this.client.hSet(side, fields);
    const tx = this.client.multi();
    if (any) tx.rename(side, this.key('published', meta.view));
    else tx.del(this.key('published', meta.view));
    tx.hSet(this.key('published_meta'), meta.view, JSON.stringify(meta));
    await tx.exec();
    return true;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.quit();
  }
}

/** A Redis URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
