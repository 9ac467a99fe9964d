// A lean open-loop HTTP/1.1 load generator for the serving benchmark: requests are sent at a fixed
// rate whatever the server does (no coordinated omission), over a pool of keep-alive sockets with
// one request in flight each, written as raw bytes and answered by a minimal response parser. It
// shares the machine's cores with the server, so it avoids node:http's per-request cost (an
// http.request and its parser objects cost several times the parsing done here).

import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface LoadResult {
  rate: number;
  requests: number;
  /** Requests answered per second over the step (sent at the asked rate, answered as fast as served). */
  achieved: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Non-200 answers, transport errors and requests unanswered at the deadline. */
  errors: number;
  /** The largest delay of a send behind its schedule (the generator's own lateness), ms. */
  lagMs: number;
  /** CPU time of this process per request, µs (user + system). */
  clientCpuUs: number;
  /** CPU time of the server process per request, µs, when its pid is given (Linux /proc). */
  serverCpuUs: number | null;
}

export interface LoadOptions {
  port: number;
  rate: number;
  seconds: number;
  /** The i-th request's bytes (a whole HTTP/1.1 request; see httpGet and httpPost). */
  request: (i: number) => Buffer;
  /** The server's pid, to report its CPU time per request. */
  serverPid?: number;
  maxConnections?: number;
}

export function httpGet(path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`, 'latin1');
}

export function httpPost(path: string, json: string): Buffer {
  const body = Buffer.from(json);
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** User + system CPU of a process in µs (Linux), from /proc/<pid>/stat; null elsewhere. */
export function processCpuUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 of stat (utime, stime), in clock ticks of 10 ms (USER_HZ is 100 on Linux)
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return null;
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

/** One keep-alive socket with at most one request in flight. */
class Conn {
  busy = false;
  dead = false;
  private start = 0;
  private buf: Buffer | null = null;
  /** Bytes of the whole response once its head is parsed (-1: chunked, -2: head not parsed yet). */
  private need = -2;
  private status = 0;
  private done: (ok: boolean, ms: number) => void = () => {};

  constructor(
    readonly socket: Socket,
    onIdle: (c: Conn) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
      if (this.need === -2) {
        const end = this.buf.indexOf(HEADER_END);
        if (end < 0) return;
        const head = this.buf.toString('latin1', 0, end);
        this.status = Number(head.slice(9, 12));
        const m = /\r\ncontent-length: *(\d+)/i.exec(head);
        this.need = m ? end + 4 + Number(m[1]) : /\r\ntransfer-encoding: *chunked/i.test(head) ? -1 : end + 4;
      }
      const complete =
        this.need === -1
          ? this.buf.length >= 5 && this.buf.subarray(this.buf.length - 5).equals(CHUNKED_END)
          : this.buf.length >= this.need;
      if (!complete) return;
      const ms = performance.now() - this.start;
      this.buf = null;
      this.need = -2;
      this.busy = false;
      this.done(this.status === 200, ms);
      onIdle(this);
    });
    const fail = () => {
      if (this.dead) return;
      this.dead = true;
      if (this.busy) this.done(false, performance.now() - this.start);
    };
    socket.on('error', fail);
    socket.on('close', fail);
  }

  send(bytes: Buffer, start: number, done: (ok: boolean, ms: number) => void): void {
    this.busy = true;
    this.start = start;
    this.done = done;
    this.socket.write(bytes);
  }
}

function opened(port: number, onIdle: (c: Conn) => void): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(new Conn(s, onIdle)));
    s.once('error', reject);
  });
}

const pct = (xs: Float64Array, n: number, q: number) =>
  n === 0 ? Number.NaN : (xs[Math.min(n - 1, Math.floor(q * n))] as number);

/**
 * Sends `rate * seconds` requests at a fixed rate (a timer tick sends every request due by then).
 * Latency runs from the send (or, with every socket busy, from when the request was due and
 * queued) to the last byte of the response.
 */
export async function openLoop(o: LoadOptions): Promise<LoadResult> {
  const max = o.maxConnections ?? 64;
  const total = Math.round(o.rate * o.seconds);
  const lat = new Float64Array(total);
  let answered = 0;
  let errors = 0;
  let finished = 0;
  let lag = 0;
  const queue: { bytes: Buffer; start: number }[] = [];
  const idle: Conn[] = [];
  const pool: Conn[] = [];
  let connecting = 0;
  let allDone: () => void = () => {};
  const allAnswered = new Promise<void>((r) => {
    allDone = r;
  });
  const done = (ok: boolean, ms: number) => {
    if (ok) lat[answered++] = ms;
    else errors++;
    if (++finished === total) allDone();
  };
  const onIdle = (c: Conn) => {
    const q = queue.shift();
    if (q) c.send(q.bytes, q.start, done);
    else idle.push(c);
  };
  const grow = () => {
    connecting++;
    opened(o.port, onIdle).then(
      (c) => {
        connecting--;
        pool.push(c);
        onIdle(c);
      },
      () => {
        connecting--;
        const q = queue.shift();
        if (q) done(false, 0);
      },
    );
  };
  for (const c of await Promise.all(
    Array.from({ length: Math.min(16, max) }, () => opened(o.port, onIdle)),
  )) {
    pool.push(c);
    idle.push(c);
  }
  const send = (i: number, now: number) => {
    const bytes = o.request(i);
    let c = idle.pop();
    while (c?.dead) c = idle.pop();
    if (c) c.send(bytes, now, done);
    else {
      queue.push({ bytes, start: now });
      if (pool.filter((p) => !p.dead).length + connecting < max) grow();
    }
  };

  const cpu0 = process.cpuUsage();
  const server0 = o.serverPid !== undefined ? processCpuUs(o.serverPid) : null;
  const t0 = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - t0) * o.rate) / 1000) + 1);
      while (next < due) {
        const late = now - (t0 + (next * 1000) / o.rate);
        if (late > lag) lag = late;
        send(next++, now);
      }
      if (next >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + (next * 1000) / o.rate - performance.now()));
    };
    tick();
  });
  // every request answered, or at most 30 s more; the unanswered count as errors
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([allAnswered, new Promise<void>((r) => (timer = setTimeout(r, 30_000)))]);
  clearTimeout(timer);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = o.serverPid !== undefined ? processCpuUs(o.serverPid) : null;
  for (const c of pool) c.socket.destroy();
  errors += total - finished;
  const sorted = lat.subarray(0, answered).sort();
  return {
    rate: o.rate,
    requests: total,
    achieved: finished / elapsed,
    p50: pct(sorted, answered, 0.5),
    p99: pct(sorted, answered, 0.99),
    p999: pct(sorted, answered, 0.999),
    max: answered > 0 ? (sorted[answered - 1] as number) : Number.NaN,
    errors,
    lagMs: lag,
    clientCpuUs: (cpu.user + cpu.system) / total,
    serverCpuUs: server0 !== null && server1 !== null ? (server1 - server0) / total : null,
  };
}

export function formatLoad(r: LoadResult): string {
  const server = r.serverCpuUs === null ? '' : `, server CPU ${r.serverCpuUs.toFixed(0)} µs/req`;
  return (
    `p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, p99.9 ${r.p999.toFixed(3)} ms, max ${r.max.toFixed(1)} ms ` +
    `(${r.requests} requests, achieved ${Math.round(r.achieved)}/s, ${r.errors} errors${server}, ` +
    `generator CPU ${r.clientCpuUs.toFixed(0)} µs/req, lag ≤${r.lagMs.toFixed(1)} ms)`
  );
}
