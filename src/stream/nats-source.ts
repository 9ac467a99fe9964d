// NATS JetStream source: `nats://host:port/subject`, read through a durable pull consumer. The
// position of an event is its stream sequence: a restart re-creates the durable consumer at the
// sequence after the offline checkpoint, so it replays exactly what the checkpoint does not hold;
// messages are acknowledged (AckAll) only once the offline checkpoint covers them.

import type { JsMsg, NatsConnection } from 'nats';
import { AsofError } from '../errors.js';
import type { SourceRecord, StreamSource } from './sources.js';

export interface NatsSourceOptions {
  once: boolean;
  stop?: () => boolean;
  durable?: string;
}

export function parseNatsUrl(spec: string): { server: string; subject: string } {
  const m = /^nats:\/\/([^/]+)\/(.+)$/.exec(spec);
  if (!m) throw new AsofError('usage', `nats source '${spec}' must be nats://host:port/subject`);
  return { server: m[1] as string, subject: decodeURIComponent(m[2] as string) };
}

export function natsSource(spec: string, opts: NatsSourceOptions): StreamSource {
  const { server, subject } = parseNatsUrl(spec);
  const durable = opts.durable ?? `asof_${subject.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  let nc: NatsConnection | undefined;
  /** Sequence -> message, for the messages read and not yet acknowledged. */
  const unacked: { seq: number; msg: JsMsg }[] = [];
  return {
    description: `nats ${server} subject ${subject} durable ${durable}`,
    async *batches(from, afterPosition) {
      // The client library is loaded on use: importing it costs start-up time for every command.
      const { AckPolicy, connect, DeliverPolicy, nanos } = await import('nats');
      try {
        nc = await connect({ servers: server });
      } catch (e) {
        throw new AsofError('usage', `cannot connect to nats://${server}: ${(e as Error).message}`);
      }
      const jsm = await nc.jetstreamManager();
      let stream: string;
      try {
        stream = await jsm.streams.find(subject);
      } catch {
        throw new AsofError('usage', `no JetStream stream holds subject '${subject}' on ${server}`);
      }
      // The checkpoint, not the consumer's ack floor, says where to resume.
      try {
        await jsm.consumers.delete(stream, durable);
      } catch {
        // there was none yet
      }
      const startSeq = afterPosition === undefined ? 1 : Number(afterPosition) + 1;
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.All,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: startSeq,
        filter_subject: subject,
        max_ack_pending: -1,
        ack_wait: nanos(3_600_000),
      });
      const consumer = await nc.jetstream().consumers.get(stream, durable);
      let seq = from;
      for (;;) {
        const msgs = await consumer.fetch({ max_messages: 1000, expires: 1000 });
        const out: SourceRecord[] = [];
        const now = performance.now();
        for await (const m of msgs) {
          unacked.push({ seq, msg: m });
          out.push({ seq: seq++, text: m.string(), received: now, position: String(m.seq) });
        }
        if (out.length > 0) {
          yield out;
          continue;
        }
        if (opts.once || opts.stop?.()) return;
        yield [];
      }
    },
    async ack(upTo) {
      let n = 0;
      while (n < unacked.length && (unacked[n] as { seq: number }).seq < upTo) n++;
      if (n === 0) return;
      const last = unacked[n - 1] as { msg: JsMsg };
      unacked.splice(0, n);
      // AckAll: acknowledging the last one acknowledges everything before it
      await last.msg.ackAck();
    },
    async close() {
      if (nc) await nc.drain();
    },
  };
}
