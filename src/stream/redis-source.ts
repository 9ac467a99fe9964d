// Redis Streams source: `redis://host:port/stream-key`, read through a consumer group. Entries are
// acknowledged (XACK) only once the offline checkpoint covers them, so after a crash the consumer's
// pending entries (re-read from id 0, in id order) replay exactly what the checkpoint does not hold.
// An entry's event is its `data` field (JSON text), or else its fields as a JSON object.

import type { createClient } from 'redis';
import { AsofError } from '../errors.js';
import type { SourceRecord, StreamSource } from './sources.js';

export interface RedisSourceOptions {
  once: boolean;
  stop?: () => boolean;
  group?: string;
  consumer?: string;
  blockMs?: number;
}

export function parseRedisUrl(spec: string): { url: string; key: string } {
  const m = /^(rediss?:\/\/[^/]+)\/(.+)$/.exec(spec);
  if (!m) throw new AsofError('usage', `redis source '${spec}' must be redis://host:port/stream-key`);
  return { url: m[1] as string, key: decodeURIComponent(m[2] as string) };
}

export function redisSource(spec: string, opts: RedisSourceOptions): StreamSource {
  const { url, key } = parseRedisUrl(spec);
  const group = opts.group ?? 'asof';
  const consumer = opts.consumer ?? 'asof-stream';
  // The client library is loaded on use: importing it costs start-up time for every command.
  let client: ReturnType<typeof createClient> | undefined;
  /** Sequence -> entry id, for the entries read and not yet acknowledged. */
  const ids: { seq: number; id: string }[] = [];
  let ackedUpTo = 0;
  return {
    description: `redis ${url} stream ${key} group ${group}`,
    async *batches(from, afterPosition) {
      client = (await import('redis')).createClient({ url });
      client.on('error', () => {});
      try {
        await client.connect();
      } catch (e) {
        throw new AsofError('usage', `cannot connect to ${url}: ${(e as Error).message}`);
      }
      try {
        await client.xGroupCreate(key, group, '0', { MKSTREAM: true });
      } catch (e) {
        if (!String((e as Error).message).includes('BUSYGROUP')) throw e;
      }
      let seq = from;
      ackedUpTo = from;
      // First the entries delivered before and never acknowledged, then new ones.
      let cursor = '0';
      let pendingPhase = true;
      for (;;) {
        const res = await client.xReadGroup(
          group,
          consumer,
          { key, id: cursor },
          {
            COUNT: 1000,
            ...(!pendingPhase && !opts.once ? { BLOCK: opts.blockMs ?? 100 } : {}),
          },
        );
        const messages =
          (res as { messages: { id: string; message: Record<string, string> }[] }[] | null)?.[0]?.messages ??
          [];
        if (messages.length === 0) {
          if (pendingPhase) {
            pendingPhase = false;
            cursor = '>';
            continue;
          }
          if (opts.once || opts.stop?.()) return;
          yield [];
          continue;
        }
        const now = performance.now();
        const out: SourceRecord[] = [];
        const stale: string[] = [];
        for (const m of messages) {
          // acknowledged in spirit: the checkpoint holds it, only the XACK was lost in a crash
          if (afterPosition !== undefined && compareIds(m.id, afterPosition) <= 0) {
            stale.push(m.id);
            continue;
          }
          const text = m.message.data ?? JSON.stringify(m.message);
          ids.push({ seq, id: m.id });
          out.push({ seq: seq++, text, received: now, position: m.id });
        }
        if (stale.length > 0) await client.xAck(key, group, stale);
        if (pendingPhase) cursor = messages[messages.length - 1]?.id ?? cursor;
        yield out;
      }
    },
    async ack(upTo) {
      if (upTo <= ackedUpTo) return;
      let n = 0;
      while (n < ids.length && (ids[n] as { seq: number }).seq < upTo) n++;
      const done = ids.splice(0, n).map((x) => x.id);
      if (done.length > 0) await client?.xAck(key, group, done);
      ackedUpTo = upTo;
    },
    async close() {
      if (client?.isOpen) await client.quit();
    },
  };
}

/** Order of two stream entry ids `ms-seq`. */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
